//! The key layout, the change-feed messages and the Lua scripts behind
//! [`super::RedisStore`].
//!
//! # Layout (version 2)
//!
//! Every id (a `jti`, a family, a subject) belongs to one of [`SHARDS`]
//! shards, chosen by a stable hash of the id. A shard's keys share one hash
//! tag, so every script touches a single Redis Cluster slot, and the tags
//! are chosen so the shards spread evenly over the slot space (hence over a
//! cluster's masters):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<prefix>:{<tag>}:j` | sorted set | denied `jti`s, scored by expiry |
//! | `<prefix>:{<tag>}:r` | sorted set | revoked families, scored by expiry |
//! | `<prefix>:{<tag>}:c` | sorted set | subjects with a cutoff, scored by expiry |
//! | `<prefix>:{<tag>}:cm` | hash | subject → cutoff (µs) |
//! | `<prefix>:{<tag>}:x` | stream | the change feed: every revocation, in order |
//! | `<prefix>:{<tag>}:f:<family>` | hash | a live refresh family (not in the view) |
//! | `<prefix>:s:{<subject>}` | sorted set | a subject's live families (not in the view) |
//! | `<prefix>:layout` | string | `2` once data of the previous layout is migrated |
//!
//! Loading reads only the three sorted sets of each shard (and the cutoff
//! hash), never the live families: the view costs what is revoked. Each
//! write script drops the expired members of the set it writes
//! (`ZREMRANGEBYSCORE`), so nothing is scanned to expire entries.
//!
//! Every revocation script appends the change to its shard's stream
//! (`XADD`, trimmed by age with `MINID`) and publishes it, stream id
//! included, in the same atomic step: followers apply it at once from the
//! channel and remember the id, and after any disconnect read each stream
//! from the last id they saw instead of reloading.

use deadpool_redis::redis::Script;

/// Shards of the view's keys. Part of the layout: every instance sharing
/// one Redis must agree on it.
pub(super) const SHARDS: usize = 64;

/// Slots of a Redis Cluster.
const SLOTS: u16 = 16384;

/// Redis Cluster's key hash (CRC-16/XMODEM).
pub(super) fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The shard an id belongs to. Stable across processes and releases.
pub(super) fn shard_of(id: &str) -> usize {
    usize::from(crc16(id.as_bytes())) % SHARDS
}

/// The hash tag of `shard`: the first `v<shard>.<n>` whose cluster slot
/// falls in the shard's share of the slot range.
fn shard_tag(shard: usize) -> String {
    let per_shard = usize::from(SLOTS) / SHARDS;
    (0u32..)
        .map(|n| format!("v{shard}.{n}"))
        .find(|tag| usize::from(crc16(tag.as_bytes()) % SLOTS) / per_shard == shard)
        .unwrap_or_else(|| unreachable!("CRC-16 reaches every slot range"))
}

/// The keys of one shard.
#[derive(Clone, Debug)]
pub(super) struct ShardKeys {
    pub(super) index: usize,
    /// `<prefix>:{<tag>}:`, the start of every key of the shard.
    base: String,
    pub(super) stream: String,
    pub(super) jtis: String,
    pub(super) families: String,
    pub(super) cutoffs: String,
    pub(super) cutoff_values: String,
}

impl ShardKeys {
    /// `<prefix>:{<tag>}:f:<family>`: a live family, in its shard's slot.
    pub(super) fn family(&self, family: &str) -> String {
        format!("{}f:{family}", self.base)
    }
}

/// Builds the names under one prefix.
#[derive(Clone)]
pub(super) struct Names {
    prefix: String,
    channel: String,
    shards: Vec<ShardKeys>,
    /// Match patterns of the previous layout's keys.
    legacy: String,
}

/// The prefix alone: the 64 shards' names would drown a `Debug` of the store.
impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.prefix.fmt(f)
    }
}

impl Names {
    pub(super) fn new(prefix: &str) -> Self {
        let shards = (0..SHARDS)
            .map(|index| {
                let base = format!("{prefix}:{{{}}}:", shard_tag(index));
                ShardKeys {
                    index,
                    stream: format!("{base}x"),
                    jtis: format!("{base}j"),
                    families: format!("{base}r"),
                    cutoffs: format!("{base}c"),
                    cutoff_values: format!("{base}cm"),
                    base,
                }
            })
            .collect();
        Self {
            prefix: prefix.to_owned(),
            channel: format!("{prefix}:events"),
            shards,
            legacy: format!("{}:[jcrf]:{{*}}", escape_glob(prefix)),
        }
    }

    /// The shard `id` belongs to.
    pub(super) fn shard(&self, id: &str) -> &ShardKeys {
        &self.shards[shard_of(id)]
    }

    pub(super) fn shards(&self) -> &[ShardKeys] {
        &self.shards
    }

    /// `<prefix>:{<tag>}:f:<family>`.
    pub(super) fn family(&self, family: &str) -> String {
        self.shard(family).family(family)
    }

    /// `<prefix>:s:{<subject>}`: the sorted set of a subject's live families
    /// (scored by their end).
    pub(super) fn sessions_key(&self, subject: &str) -> String {
        format!("{}:s:{{{subject}}}", self.prefix)
    }

    /// The channel every change is published on.
    pub(super) fn channel(&self) -> &str {
        &self.channel
    }

    /// `<prefix>:layout`: set once the previous layout's keys are migrated.
    pub(super) fn layout_marker(&self) -> String {
        format!("{}:layout", self.prefix)
    }

    /// The `SCAN MATCH` pattern of the previous layout's keys
    /// (`<prefix>:<j|c|r|f>:{<id>}`).
    pub(super) fn legacy_pattern(&self) -> &str {
        &self.legacy
    }

    /// The kind and id of a previous-layout key; `'f'` for a live family.
    pub(super) fn parse_legacy<'k>(&self, key: &'k str) -> Option<(char, &'k str)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix(':')?;
        let (tag, id) = rest.split_once(':')?;
        let id = id.strip_prefix('{')?.strip_suffix('}')?;
        let kind = match tag {
            "j" => 'j',
            "c" => 'c',
            "r" => 'r',
            "f" => 'f',
            _ => return None,
        };
        Some((kind, id))
    }
}

/// A feed entry that changes nothing: written where a migration merged
/// entries quietly, so the shard has a position to resume from.
pub(super) const MIGRATED: &str = "m";

/// The value of [`Names::layout_marker`] once migrated.
pub(super) const LAYOUT_VERSION: &str = "2";

fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A change, as the stream holds it and every instance applies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Event<'a> {
    /// `j <expires_at> <jti>`
    Jti { jti: &'a str, expires_at: u64 },
    /// `c <cutoff_micros> <expires_at> <subject>`
    Cutoff {
        subject: &'a str,
        cutoff_micros: u64,
        expires_at: u64,
    },
    /// `f <expires_at> <family>`
    RevokedFamily { family: &'a str, expires_at: u64 },
}

impl<'a> Event<'a> {
    /// Ids go last, so they may contain spaces.
    pub(super) fn parse(message: &'a str) -> Option<Self> {
        let (tag, rest) = message.split_once(' ').unwrap_or((message, ""));
        match tag {
            "j" => {
                let (expires_at, jti) = rest.split_once(' ')?;
                Some(Event::Jti {
                    jti,
                    expires_at: expires_at.parse().ok()?,
                })
            }
            "f" => {
                let (expires_at, family) = rest.split_once(' ')?;
                Some(Event::RevokedFamily {
                    family,
                    expires_at: expires_at.parse().ok()?,
                })
            }
            "c" => {
                let mut parts = rest.splitn(3, ' ');
                let cutoff_micros = parts.next()?.parse().ok()?;
                let expires_at = parts.next()?.parse().ok()?;
                Some(Event::Cutoff {
                    subject: parts.next()?,
                    cutoff_micros,
                    expires_at,
                })
            }
            _ => None,
        }
    }
}

/// A stream entry id, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct StreamId {
    pub(super) ms: u64,
    pub(super) seq: u64,
}

impl StreamId {
    pub(super) fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A published message: `<shard> <stream id> <event>`.
pub(super) fn parse_message(message: &str) -> Option<(usize, StreamId, Event<'_>)> {
    let (shard, rest) = message.split_once(' ')?;
    let (id, event) = rest.split_once(' ')?;
    let shard = shard.parse().ok().filter(|s| *s < SHARDS)?;
    Some((shard, StreamId::parse(id)?, Event::parse(event)?))
}

/// Shared by every revocation script. `KEYS[1]` is the shard's stream;
/// `ARGV[1]` the channel, `ARGV[2]` the shard, `ARGV[3]` the history to keep
/// (ms). `append` adds an event to the stream and trims entries older than
/// the history; `feed` appends and publishes `<shard> <id> <event>`. `keep` adds `member` to the
/// sorted set `key` until `expires` (never lowering a later expiry), drops
/// the set's expired members, keeps the set alive as long as its last member,
/// and returns the expiry kept. An entry already expired is neither kept nor
/// fed: the token it concerns cannot be valid any more.
const PRELUDE: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1])
local function fmt(n) return string.format('%d', n) end
local function append(event)
  local now_ms = now * 1000 + math.floor(tonumber(clock[2]) / 1000)
  return redis.call('XADD', KEYS[1], 'MINID', '~', fmt(now_ms - tonumber(ARGV[3])), '*', 'e', event)
end
local function feed(event)
  redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. append(event) .. ' ' .. event)
end
local function keep(key, member, expires)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. now)
  if expires >= now then redis.call('ZADD', key, 'GT', fmt(expires), member) end
  local score = redis.call('ZSCORE', key, member)
  if not score then return expires end
  local kept = tonumber(score)
  if redis.call('EXPIRETIME', key) < kept + 1 then redis.call('EXPIREAT', key, kept + 1) end
  return kept
end
local function family_end(key, floor)
  local family_expiry = redis.call('EXPIRETIME', key) - 1
  if family_expiry > floor then return family_expiry end
  return floor
end
";

fn revocation_script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// `KEYS`: stream, jti set; `ARGV` 4..: jti, expires_at. Returns the expiry kept.
pub(super) fn deny_script() -> Script {
    revocation_script(
        r"
local kept = keep(KEYS[2], ARGV[4], tonumber(ARGV[5]))
if kept >= now then feed('j ' .. fmt(kept) .. ' ' .. ARGV[4]) end
return kept
",
    )
}

/// `KEYS`: stream, cutoff set, cutoff hash; `ARGV` 4..: subject,
/// cutoff_micros, expires_at. The cutoff only moves forward and its expiry
/// only grows; expired subjects leave the hash with the set. The cutoff
/// stays a string: Lua would print microseconds in exponent notation.
pub(super) fn cutoff_script() -> Script {
    revocation_script(
        r"
local gone = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. now, 'BYSCORE', 'LIMIT', 0, 64)
if #gone > 0 then
  redis.call('ZREM', KEYS[2], unpack(gone))
  redis.call('HDEL', KEYS[3], unpack(gone))
end
local kept = keep(KEYS[2], ARGV[4], tonumber(ARGV[6]))
if kept < now then return kept end
local cutoff = ARGV[5]
local stored = redis.call('HGET', KEYS[3], ARGV[4])
if stored and tonumber(stored) > tonumber(cutoff) then cutoff = stored end
redis.call('HSET', KEYS[3], ARGV[4], cutoff)
if redis.call('EXPIRETIME', KEYS[3]) < kept + 1 then redis.call('EXPIREAT', KEYS[3], kept + 1) end
feed('c ' .. cutoff .. ' ' .. fmt(kept) .. ' ' .. ARGV[4])
return kept
",
    )
}

/// `KEYS`: stream, revoked-family set, family; `ARGV` 4..: family id,
/// expires_at. Revokes until the latest of the request, the family's own
/// end and an earlier revocation; drops the family. Returns the expiry kept.
pub(super) fn revoke_family_script() -> Script {
    revocation_script(
        r"
local kept = keep(KEYS[2], ARGV[4], family_end(KEYS[3], tonumber(ARGV[5])))
redis.call('DEL', KEYS[3])
if kept >= now then feed('f ' .. fmt(kept) .. ' ' .. ARGV[4]) end
return kept
",
    )
}

/// `KEYS`: stream, revoked-family set, family; `ARGV` 4..: family id,
/// revoke_until, subject. Revokes the family as [`revoke_family_script`]
/// does, only if it is a live family of `subject`; returns the expiry kept,
/// or -1 (and changes nothing) when it is not.
pub(super) fn end_session_script() -> Script {
    revocation_script(
        r"
if redis.call('HGET', KEYS[3], 'sub') ~= ARGV[6] then return -1 end
local kept = keep(KEYS[2], ARGV[4], family_end(KEYS[3], tonumber(ARGV[5])))
redis.call('DEL', KEYS[3])
if kept >= now then feed('f ' .. fmt(kept) .. ' ' .. ARGV[4]) end
return kept
",
    )
}

/// `KEYS`: stream, revoked-family set, family; `ARGV` 4..: family id,
/// presented, next, now, reuse grace (s), revoke_until. Returns 1 rotated,
/// 3 rotated again within the reuse grace, 2 reused (family revoked and
/// fed), 0 unknown. The retired `jti` and its deadline live in the family
/// (`old`, `old_until`); a retry within the grace keeps both, so retrying
/// never extends the window.
pub(super) fn rotate_script() -> Script {
    revocation_script(
        r"
if redis.call('ZSCORE', KEYS[2], ARGV[4]) then return 0 end
local current = redis.call('HGET', KEYS[3], 'cur')
if not current then return 0 end
local at = tonumber(ARGV[7])
local grace = tonumber(ARGV[8])
if current == ARGV[5] then
  if grace > 0 then
    redis.call('HSET', KEYS[3], 'cur', ARGV[6], 'old', ARGV[5],
      'old_until', fmt(at + grace), 'refreshed', ARGV[7])
  else
    redis.call('HDEL', KEYS[3], 'old', 'old_until')
    redis.call('HSET', KEYS[3], 'cur', ARGV[6], 'refreshed', ARGV[7])
  end
  return 1
end
local old = redis.call('HMGET', KEYS[3], 'old', 'old_until')
if old[1] == ARGV[5] and at <= tonumber(old[2]) then
  redis.call('HSET', KEYS[3], 'cur', ARGV[6], 'refreshed', ARGV[7])
  return 3
end
local kept = keep(KEYS[2], ARGV[4], family_end(KEYS[3], tonumber(ARGV[9])))
redis.call('DEL', KEYS[3])
if kept >= now then feed('f ' .. fmt(kept) .. ' ' .. ARGV[4]) end
return 2
",
    )
}

/// `KEYS`: stream, jti set, revoked-family set, cutoff set, cutoff hash;
/// `ARGV[4]`: `1` to feed the changes, `0` to keep quiet (a migration,
/// which every instance completes before it loads: then one [`MIGRATED`]
/// marker is appended instead, so the shard has a position to resume from
/// and a later loss of what was merged is noticed); `ARGV` 5..: entries as `j <expires> <jti>`, `f <expires> <family>` or
/// `c <expires> <subject> <cutoff>` (four, three or three values). Merges
/// each into the shard as the single-entry scripts do, and feeds only the
/// ones that changed something: writing back what Redis kept costs no
/// events. Returns how many changed.
pub(super) fn write_back_script() -> Script {
    revocation_script(
        r"
-- Each set's upkeep once per batch, not once per entry: expired members
-- dropped first, the set's own expiry raised to its latest member last.
local sets = {j = KEYS[2], f = KEYS[3], c = KEYS[4]}
local latest = {}
for kind, key in pairs(sets) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. now)
  latest[kind] = 0
end
local changed = 0
local loud = ARGV[4] == '1'
local i = 5
while i <= #ARGV do
  local kind, expires, id = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local width = 3
  if kind == 'c' then width = 4 end
  local key = sets[kind]
  if key and expires >= now then
    local score = redis.call('ZSCORE', key, id)
    local kept = expires
    local later = not score or tonumber(score) < expires
    if not later then kept = tonumber(score) end
    local raised = later
    local cutoff
    if kind == 'c' then
      cutoff = ARGV[i + 3]
      local stored = redis.call('HGET', KEYS[5], id)
      if stored and tonumber(stored) >= tonumber(cutoff) then
        cutoff = stored
      else
        raised = true
        redis.call('HSET', KEYS[5], id, cutoff)
      end
    end
    if later then redis.call('ZADD', key, fmt(expires), id) end
    if raised then
      if kept > latest[kind] then latest[kind] = kept end
      -- A family Redis kept alive while losing its revocation is dropped
      -- (same shard, hence same slot, as the sets).
      if kind == 'f' then redis.call('DEL', string.sub(KEYS[2], 1, -2) .. 'f:' .. id) end
      if loud then
        if kind == 'c' then
          feed('c ' .. cutoff .. ' ' .. fmt(kept) .. ' ' .. id)
        else
          feed(kind .. ' ' .. fmt(kept) .. ' ' .. id)
        end
      end
      changed = changed + 1
    end
  end
  i = i + width
end
for kind, key in pairs(sets) do
  local want = latest[kind] + 1
  if latest[kind] > 0 and redis.call('EXPIRETIME', key) < want then
    redis.call('EXPIREAT', key, want)
    if kind == 'c' and redis.call('EXPIRETIME', KEYS[5]) < want then
      redis.call('EXPIREAT', KEYS[5], want)
    end
  end
end
if not loud and changed > 0 then append('m') end
return changed
",
    )
}

/// `KEYS`: stream; `ARGV`: the last id seen (`0-0`: the stream did not
/// exist), count. The entries after it, `{1, {{id, {'e', event}}, ...}}`, if
/// the stream still holds everything since; `{0}` when entries since were
/// trimmed or lost (a Redis that restarted empty): the shard must be
/// reloaded.
pub(super) fn resume_script() -> Script {
    Script::new(
        r"
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[1] == '0-0' then
  if not exists then return {1, {}} end
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  local added, length
  for i = 1, #info, 2 do
    if info[i] == 'entries-added' then added = info[i + 1] end
    if info[i] == 'length' then length = info[i + 1] end
  end
  if added ~= length then return {0} end
elseif not exists or #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then
  return {0}
end
return {1, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}
",
    )
}

/// `KEYS[1]` the family; `ARGV`: its first `jti`, subject, created_at,
/// ends_at, expires_at. Every write goes through a script, so one code path
/// reaches a pool or a cluster.
pub(super) fn start_session_script() -> Script {
    Script::new(
        r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'sub', ARGV[2], 'created', ARGV[3],
  'refreshed', ARGV[3], 'ends', ARGV[4])
redis.call('EXPIREAT', KEYS[1], tonumber(ARGV[5]) + 1)
",
    )
}

/// `KEYS[1]` a key; returns its string value.
pub(super) fn get_script() -> Script {
    Script::new("return redis.call('GET', KEYS[1])")
}

/// `KEYS[1]` a key; `ARGV[1]` its new value.
pub(super) fn set_script() -> Script {
    Script::new("return redis.call('SET', KEYS[1], ARGV[1])")
}

/// `KEYS`: families in the current layout, all of one shard; `ARGV`, for
/// each in turn: expire-at (the previous layout's `EXPIRETIME`), the count
/// of values that follow, then field, value pairs. Copies each
/// previous-layout family unless it exists already; returns how many.
pub(super) fn migrate_families_script() -> Script {
    Script::new(
        r"
local copied = 0
local i = 1
for k = 1, #KEYS do
  local expire_at, n = ARGV[i], tonumber(ARGV[i + 1])
  if n > 0 and redis.call('EXISTS', KEYS[k]) == 0 then
    redis.call('HSET', KEYS[k], unpack(ARGV, i + 2, i + 1 + n))
    redis.call('EXPIREAT', KEYS[k], expire_at)
    copied = copied + 1
  end
  i = i + 2 + n
end
return copied
",
    )
}

/// `KEYS[1]` a subject's session list; `ARGV`: family, ends_at, now,
/// expires_at. Drops the ended entries, adds the family, and keeps the list
/// as long as its longest-lived entry.
pub(super) fn list_session_script() -> Script {
    Script::new(
        r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local want = tonumber(ARGV[4]) + 1
local current = redis.call('EXPIRETIME', KEYS[1])
if current > want then want = current end
redis.call('EXPIREAT', KEYS[1], want)
",
    )
}

/// `KEYS[1]` a subject's session list; `ARGV`: now, limit. Drops the ended
/// entries and returns the family ids of the `limit` ending last.
pub(super) fn listed_sessions_script() -> Script {
    Script::new(
        r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return redis.call('ZRANGE', KEYS[1], -tonumber(ARGV[2]), -1)
",
    )
}

/// `KEYS[1]` a subject's session list; `ARGV`: family ids to drop from it.
pub(super) fn unlist_sessions_script() -> Script {
    Script::new(
        r"
return redis.call('ZREM', KEYS[1], unpack(ARGV))
",
    )
}

/// `KEYS`: revoked-family set, family; `ARGV`: family id. The family's
/// subject, created, refreshed and ends fields; nothing when it is revoked
/// or gone.
pub(super) fn session_record_script() -> Script {
    Script::new(
        r"
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return false end
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
return redis.call('HMGET', KEYS[2], 'sub', 'created', 'refreshed', 'ends')
",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_is_redis_clusters_key_hash() {
        // The check value of CRC-16/XMODEM, and Redis' own example.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b"foo") % SLOTS, 12182);
    }

    #[test]
    fn shards_spread_evenly_over_the_cluster_slots() {
        let per_shard = SLOTS / SHARDS as u16;
        for shard in 0..SHARDS {
            let slot = crc16(shard_tag(shard).as_bytes()) % SLOTS;
            assert_eq!(usize::from(slot / per_shard), shard, "shard {shard}");
        }
    }

    #[test]
    fn every_key_of_a_shard_and_its_families_share_one_hash_tag() {
        let names = Names::new("app");
        let shard = names.shard("fam 1");
        let tag = format!("{{{}}}", shard_tag(shard.index));
        for key in [
            &shard.stream,
            &shard.jtis,
            &shard.families,
            &shard.cutoffs,
            &shard.cutoff_values,
            &names.family("fam 1"),
        ] {
            assert!(key.starts_with(&format!("app:{tag}:")), "{key}");
        }
        assert_eq!(names.family("fam 1"), format!("app:{tag}:f:fam 1"));
        assert_eq!(names.sessions_key("u"), "app:s:{u}");
    }

    #[test]
    fn debug_shows_the_prefix_not_every_shard() {
        assert_eq!(format!("{:?}", Names::new("app")), r#""app""#);
    }

    #[test]
    fn previous_layout_keys_parse_and_glob_characters_are_escaped() {
        let names = Names::new("a*b[1]");
        assert_eq!(names.legacy_pattern(), r"a\*b\[1\]:[jcrf]:{*}");
        assert_eq!(names.parse_legacy("a*b[1]:j:{x y}"), Some(('j', "x y")));
        assert_eq!(names.parse_legacy("a*b[1]:f:{fam}"), Some(('f', "fam")));
        assert_eq!(names.parse_legacy("a*b[1]:s:{u}"), None);
        assert_eq!(names.parse_legacy("other:j:{x}"), None);
    }

    #[test]
    fn events_and_messages_parse_with_spaces_in_ids_and_reject_garbage() {
        assert_eq!(
            Event::parse("c 5000000 1700000000 user with spaces"),
            Some(Event::Cutoff {
                subject: "user with spaces",
                cutoff_micros: 5_000_000,
                expires_at: 1_700_000_000
            })
        );
        assert_eq!(
            parse_message("7 1700000000123-4 j 17 a b"),
            Some((
                7,
                StreamId {
                    ms: 1_700_000_000_123,
                    seq: 4
                },
                Event::Jti {
                    jti: "a b",
                    expires_at: 17
                }
            ))
        );
        assert_eq!(parse_message("64 1-0 j 17 a"), None, "no such shard");
        assert_eq!(parse_message("1 x j 17 a"), None);
        assert_eq!(Event::parse("h"), None);
        assert_eq!(Event::parse("j x y"), None);
        assert_eq!(Event::parse(""), None);
    }

    #[test]
    fn stream_ids_order_as_redis_orders_them() {
        let a = StreamId::parse("9-10").unwrap();
        let b = StreamId::parse("10-0").unwrap();
        assert!(a < b);
        assert_eq!(StreamId::parse("0-0"), Some(StreamId::default()));
        assert_eq!(b.to_string(), "10-0");
    }
}
