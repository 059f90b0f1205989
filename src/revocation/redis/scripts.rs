//! The Lua scripts behind [`super::RedisStore`]: every write, the rotation's
//! compare-and-swap, the batch merge and the feed's resume read.

use deadpool_redis::redis::Script;

/// Every script the store runs, hashed once.
pub(super) struct Scripts {
    pub(super) deny: Script,
    pub(super) cutoff: Script,
    pub(super) rotate: Script,
    pub(super) revoke_family: Script,
    pub(super) start_session: Script,
    pub(super) list_session: Script,
    pub(super) listed_sessions: Script,
    pub(super) unlist_sessions: Script,
    pub(super) session_record: Script,
    pub(super) end_session: Script,
    pub(super) write_back: Script,
    pub(super) resume: Script,
    pub(super) migrate_families: Script,
    pub(super) get: Script,
    pub(super) set: Script,
    pub(super) set_once: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            deny: deny_script(),
            cutoff: cutoff_script(),
            rotate: rotate_script(),
            revoke_family: revoke_family_script(),
            start_session: start_session_script(),
            list_session: list_session_script(),
            listed_sessions: listed_sessions_script(),
            unlist_sessions: unlist_sessions_script(),
            session_record: session_record_script(),
            end_session: end_session_script(),
            write_back: write_back_script(),
            resume: resume_script(),
            migrate_families: migrate_families_script(),
            get: get_script(),
            set: set_script(),
            set_once: set_once_script(),
        }
    }
}

/// Shared by every revocation script. `KEYS[1]` is the shard's stream;
/// `ARGV[1]` the channel, `ARGV[2]` the shard, `ARGV[3]` the history to keep
/// (ms), `ARGV[4]` now by the instance's clock (s). Expiry is judged by the
/// instance's clock, never Redis's (a Redis clock ahead would drop live
/// revocations); a key's own expiry is set on Redis's clock, as far ahead of
/// it as the entry is of the instance's (`expire_at`); the feed's stream ids
/// and its trimming stay on Redis's clock. `append` adds an event to the stream and trims entries older than
/// the history; `feed` appends and publishes `<shard> <id> <event>`. `keep` adds `member` to the
/// sorted set `key` until `expires` (never lowering a later expiry), drops
/// the set's expired members, keeps the set alive as long as its last member,
/// and returns the expiry kept. An entry already expired is neither kept nor
/// fed: the token it concerns cannot be valid any more.
const PRELUDE: &str = r"
local clock = redis.call('TIME')
local now = tonumber(ARGV[4])
local skew = tonumber(clock[1]) - now
local function fmt(n) return string.format('%d', n) end
local function expire_at(key, at)
  local want = at + 1 + skew
  if redis.call('EXPIRETIME', key) < want then redis.call('EXPIREAT', key, want) end
end
local function append(event)
  local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
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
  expire_at(key, kept)
  return kept
end
local function family_end(key, floor)
  local family_expiry = redis.call('EXPIRETIME', key) - skew - 1
  if family_expiry > floor then return family_expiry end
  return floor
end
";

fn revocation_script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// `KEYS`: stream, jti set; `ARGV` 5..: jti, expires_at. Returns the expiry kept.
pub(super) fn deny_script() -> Script {
    revocation_script(
        r"
local kept = keep(KEYS[2], ARGV[5], tonumber(ARGV[6]))
if kept >= now then feed('j ' .. fmt(kept) .. ' ' .. ARGV[5]) end
return kept
",
    )
}

/// `KEYS`: stream, cutoff set, cutoff hash; `ARGV` 5..: subject,
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
local kept = keep(KEYS[2], ARGV[5], tonumber(ARGV[7]))
if kept < now then return kept end
local cutoff = ARGV[6]
local stored = redis.call('HGET', KEYS[3], ARGV[5])
if stored and tonumber(stored) > tonumber(cutoff) then cutoff = stored end
redis.call('HSET', KEYS[3], ARGV[5], cutoff)
expire_at(KEYS[3], kept)
feed('c ' .. cutoff .. ' ' .. fmt(kept) .. ' ' .. ARGV[5])
return kept
",
    )
}

/// `KEYS`: stream, revoked-family set, family; `ARGV` 5..: family id,
/// expires_at. Revokes until the latest of the request, the family's own
/// end and an earlier revocation; drops the family. Returns the expiry kept.
pub(super) fn revoke_family_script() -> Script {
    revocation_script(
        r"
local kept = keep(KEYS[2], ARGV[5], family_end(KEYS[3], tonumber(ARGV[6])))
redis.call('DEL', KEYS[3])
if kept >= now then feed('f ' .. fmt(kept) .. ' ' .. ARGV[5]) end
return kept
",
    )
}

/// `KEYS`: stream, revoked-family set, family; `ARGV` 5..: family id,
/// revoke_until, subject. Revokes the family as [`revoke_family_script`]
/// does, only if it is a live family of `subject`; returns the expiry kept,
/// or -1 (and changes nothing) when it is not.
pub(super) fn end_session_script() -> Script {
    revocation_script(
        r"
if redis.call('HGET', KEYS[3], 'sub') ~= ARGV[7] then return -1 end
local kept = keep(KEYS[2], ARGV[5], family_end(KEYS[3], tonumber(ARGV[6])))
redis.call('DEL', KEYS[3])
if kept >= now then feed('f ' .. fmt(kept) .. ' ' .. ARGV[5]) end
return kept
",
    )
}

/// `KEYS`: stream, revoked-family set, family; `ARGV` 5..: family id,
/// presented, next, now, reuse grace (s), revoke_until, the thumbprint of
/// the request's DPoP proof key (empty: none). Returns 1 rotated,
/// 3 rotated again within the reuse grace, 2 reused (family revoked and
/// fed), 0 unknown, 4 a family bound to another DPoP key (its `jkt`
/// field; a family without one, as every family stored before the field
/// existed, is unbound) and nothing changed. The retired `jti` and its deadline live in the family
/// (`old`, `old_until`); a retry within the grace keeps both, so retrying
/// never extends the window.
pub(super) fn rotate_script() -> Script {
    revocation_script(
        r"
if redis.call('ZSCORE', KEYS[2], ARGV[5]) then return 0 end
local current = redis.call('HGET', KEYS[3], 'cur')
if not current then return 0 end
local jkt = redis.call('HGET', KEYS[3], 'jkt')
if jkt and jkt ~= (ARGV[11] or '') then return 4 end
local at = tonumber(ARGV[8])
local grace = tonumber(ARGV[9])
if current == ARGV[6] then
  if grace > 0 then
    redis.call('HSET', KEYS[3], 'cur', ARGV[7], 'old', ARGV[6],
      'old_until', fmt(at + grace), 'refreshed', ARGV[8])
  else
    redis.call('HDEL', KEYS[3], 'old', 'old_until')
    redis.call('HSET', KEYS[3], 'cur', ARGV[7], 'refreshed', ARGV[8])
  end
  return 1
end
local old = redis.call('HMGET', KEYS[3], 'old', 'old_until')
if old[1] == ARGV[6] and at <= tonumber(old[2]) then
  redis.call('HSET', KEYS[3], 'cur', ARGV[7], 'refreshed', ARGV[8])
  return 3
end
local kept = keep(KEYS[2], ARGV[5], family_end(KEYS[3], tonumber(ARGV[10])))
redis.call('DEL', KEYS[3])
if kept >= now then feed('f ' .. fmt(kept) .. ' ' .. ARGV[5]) end
return 2
",
    )
}

/// `KEYS`: stream, jti set, revoked-family set, cutoff set, cutoff hash;
/// `ARGV[5]`: `1` to feed the changes, `0` to keep quiet (a migration,
/// which every instance completes before it loads: then one [`MIGRATED`](super::feed::MIGRATED)
/// marker is appended instead, so the shard has a position to resume from
/// and a later loss of what was merged is noticed); `ARGV` 6..: entries as `j <expires> <jti>`, `f <expires> <family>` or
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
local loud = ARGV[5] == '1'
local i = 6
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
  if latest[kind] > 0 then
    expire_at(key, latest[kind])
    if kind == 'c' then expire_at(KEYS[5], latest[kind]) end
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
/// ends_at, expires_at, now by the instance's clock, and the DPoP key
/// thumbprint it is bound to (empty or absent: unbound, no `jkt` field).
/// Every write goes through a script, so one code path reaches a pool or a
/// cluster. The expiry is the instance's, moved onto Redis's clock (a Redis
/// clock ahead would otherwise end the session early, or at once).
pub(super) fn start_session_script() -> Script {
    Script::new(
        r"
local skew = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[6])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'sub', ARGV[2], 'created', ARGV[3],
  'refreshed', ARGV[3], 'ends', ARGV[4])
if ARGV[7] and ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'jkt', ARGV[7]) end
redis.call('EXPIREAT', KEYS[1], tonumber(ARGV[5]) + skew + 1)
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
/// expires_at (the instance's clock). Drops the ended entries, adds the
/// family, and keeps the list as long as its longest-lived entry, on Redis's
/// clock.
pub(super) fn list_session_script() -> Script {
    Script::new(
        r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local skew = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[3])
local want = tonumber(ARGV[4]) + skew + 1
local current = redis.call('EXPIRETIME', KEYS[1])
if current > want then want = current end
redis.call('EXPIREAT', KEYS[1], want)
",
    )
}

/// `KEYS[1]` a subject's session list; `ARGV`: now, limit, skip. Drops the
/// ended entries and returns the family ids of the `limit` ending last after
/// the `skip` ending last of all.
pub(super) fn listed_sessions_script() -> Script {
    Script::new(
        r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local skip = tonumber(ARGV[3])
return redis.call('ZRANGE', KEYS[1], -(skip + tonumber(ARGV[2])), -(skip + 1))
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

/// `KEYS[1]` a key; `ARGV[1]` its value if it has none yet. Returns the value
/// it holds: the first writer's, whoever calls.
pub(super) fn set_once_script() -> Script {
    Script::new("redis.call('SET', KEYS[1], ARGV[1], 'NX') return redis.call('GET', KEYS[1])")
}
