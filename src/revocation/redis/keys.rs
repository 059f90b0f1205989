//! Key names, pub/sub messages and the Lua scripts behind [`super::RedisStore`].
//!
//! Every key of one id is hash-tagged on that id (`{...}`), so each script
//! touches a single Redis Cluster slot. Every write script also publishes the
//! change, in the same atomic step, so no instance can see the write without
//! the event or the event without the write.

use deadpool_redis::redis::Script;

/// Which kind of entry a key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A denied `jti`; value unused.
    Jti,
    /// A subject cutoff; value is the cutoff in microseconds.
    Cutoff,
    /// A live refresh family: a hash of its current and retired `jti`, its
    /// subject and times. Not in the local view.
    Family,
    /// A revoked family; value unused.
    RevokedFamily,
}

impl Kind {
    const fn tag(self) -> &'static str {
        match self {
            Kind::Jti => "j",
            Kind::Cutoff => "c",
            Kind::Family => "f",
            Kind::RevokedFamily => "r",
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        Some(match tag {
            "j" => Kind::Jti,
            "c" => Kind::Cutoff,
            "f" => Kind::Family,
            "r" => Kind::RevokedFamily,
            _ => return None,
        })
    }
}

/// Builds and parses the names under one prefix.
#[derive(Clone, Debug)]
pub(super) struct Names {
    prefix: String,
    channel: String,
    pattern: String,
}

impl Names {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            channel: format!("{prefix}:events"),
            // Only the kinds the view loads: a family or a session list is
            // a hash or a sorted set, which the loader's `GET` cannot read.
            pattern: format!("{}:[jcr]:*", escape_glob(prefix)),
        }
    }

    /// `<prefix>:s:{<subject>}`: the sorted set of a subject's live families
    /// (scored by their end), outside the pattern the view loads.
    pub(super) fn sessions_key(&self, subject: &str) -> String {
        format!("{}:s:{{{subject}}}", self.prefix)
    }

    /// `<prefix>:<kind>:{<id>}`.
    pub(super) fn key(&self, kind: Kind, id: &str) -> String {
        format!("{}:{}:{{{id}}}", self.prefix, kind.tag())
    }

    /// The inverse of [`Names::key`]; `None` for keys that are not ours.
    pub(super) fn parse<'k>(&self, key: &'k str) -> Option<(Kind, &'k str)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix(':')?;
        let (tag, id) = rest.split_once(':')?;
        let id = id.strip_prefix('{')?.strip_suffix('}')?;
        Some((Kind::from_tag(tag)?, id))
    }

    /// The channel every change is published on.
    pub(super) fn channel(&self) -> &str {
        &self.channel
    }

    /// The `SCAN MATCH` pattern for every key of this prefix the view loads.
    pub(super) fn pattern(&self) -> &str {
        &self.pattern
    }
}

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

/// A change published on the channel, as every instance applies it to its view.
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

/// `KEYS[1]` the entry; `ARGV`: expires_at, channel, message. Sets the key
/// until `expires_at` (inclusive), never shortening a later expiry, and
/// publishes. Returns the expiry kept.
pub(super) fn deny_script() -> Script {
    Script::new(
        r"
local want = tonumber(ARGV[1]) + 1
local current = redis.call('EXPIRETIME', KEYS[1])
if current > want then want = current end
redis.call('SET', KEYS[1], '1', 'EXAT', want)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return want - 1
",
    )
}

/// `KEYS[1]` the cutoff; `ARGV`: cutoff_micros, expires_at, channel, message.
/// The cutoff only moves forward and its expiry only grows. The cutoff stays
/// a string: Lua numbers would print microseconds in exponent notation.
pub(super) fn cutoff_script() -> Script {
    Script::new(
        r"
local cutoff = ARGV[1]
local stored = redis.call('GET', KEYS[1])
if stored and tonumber(stored) > tonumber(cutoff) then cutoff = stored end
local want = tonumber(ARGV[2]) + 1
local current = redis.call('EXPIRETIME', KEYS[1])
if current > want then want = current end
redis.call('SET', KEYS[1], cutoff, 'EXAT', want)
redis.call('PUBLISH', ARGV[3], ARGV[4])
return want - 1
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

/// `KEYS`: family, revoked-family. The family's subject, created, refreshed
/// and ends fields; nothing when it is revoked or gone.
pub(super) fn session_record_script() -> Script {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HMGET', KEYS[1], 'sub', 'created', 'refreshed', 'ends')
",
    )
}

/// `KEYS`: family, revoked-family; `ARGV`: presented, next, now, reuse
/// grace (s), revoke_until, channel, family id. Returns 1 rotated, 3 rotated
/// again within the reuse grace, 2 reused (family revoked and published),
/// 0 unknown. The retired `jti` and its deadline live in the family (`old`,
/// `old_until`); a retry within the grace keeps both, so retrying never
/// extends the window.
pub(super) fn rotate_script() -> Script {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local current = redis.call('HGET', KEYS[1], 'cur')
if not current then return 0 end
local now = tonumber(ARGV[3])
local grace = tonumber(ARGV[4])
if current == ARGV[1] then
  if grace > 0 then
    redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'old', ARGV[1],
      'old_until', string.format('%d', now + grace), 'refreshed', ARGV[3])
  else
    redis.call('HDEL', KEYS[1], 'old', 'old_until')
    redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'refreshed', ARGV[3])
  end
  return 1
end
local old = redis.call('HMGET', KEYS[1], 'old', 'old_until')
if old[1] == ARGV[1] and now <= tonumber(old[2]) then
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'refreshed', ARGV[3])
  return 3
end
local want = tonumber(ARGV[5]) + 1
local family_expiry = redis.call('EXPIRETIME', KEYS[1])
if family_expiry > want then want = family_expiry end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'EXAT', want)
redis.call('PUBLISH', ARGV[6], 'f ' .. string.format('%d', want - 1) .. ' ' .. ARGV[7])
return 2
",
    )
}

/// `KEYS`: family, revoked-family; `ARGV`: subject, revoke_until, channel,
/// family id. Revokes the family as [`revoke_family_script`] does, only if
/// it is a live family of `subject`; returns the expiry kept, or -1 (and
/// changes nothing) when it is not.
pub(super) fn end_session_script() -> Script {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'sub') ~= ARGV[1] then return -1 end
local want = tonumber(ARGV[2]) + 1
local family_expiry = redis.call('EXPIRETIME', KEYS[1])
if family_expiry > want then want = family_expiry end
local revoked_expiry = redis.call('EXPIRETIME', KEYS[2])
if revoked_expiry > want then want = revoked_expiry end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'EXAT', want)
redis.call('PUBLISH', ARGV[3], 'f ' .. string.format('%d', want - 1) .. ' ' .. ARGV[4])
return want - 1
",
    )
}

/// `KEYS`: family, revoked-family; `ARGV`: expires_at, channel, family id.
/// Revokes until the latest of the request, the family's own end and an
/// earlier revocation; publishes. Returns the expiry kept.
pub(super) fn revoke_family_script() -> Script {
    Script::new(
        r"
local want = tonumber(ARGV[1]) + 1
local family_expiry = redis.call('EXPIRETIME', KEYS[1])
if family_expiry > want then want = family_expiry end
local revoked_expiry = redis.call('EXPIRETIME', KEYS[2])
if revoked_expiry > want then want = revoked_expiry end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'EXAT', want)
redis.call('PUBLISH', ARGV[2], 'f ' .. string.format('%d', want - 1) .. ' ' .. ARGV[3])
return want - 1
",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_are_hash_tagged_on_the_id() {
        let names = Names::new("app");
        let key = names.key(Kind::Family, "fam 1");
        assert_eq!(key, "app:f:{fam 1}");
        assert_eq!(names.parse(&key), Some((Kind::Family, "fam 1")));
        assert_eq!(names.parse("other:f:{x}"), None);
        assert_eq!(names.parse("app:events"), None);
        assert_eq!(names.parse("app:z:{x}"), None);
    }

    #[test]
    fn glob_characters_in_the_prefix_are_escaped_for_scan() {
        assert_eq!(Names::new("a*b[1]").pattern(), r"a\*b\[1\]:[jcr]:*");
    }

    #[test]
    fn events_parse_with_spaces_in_ids_and_reject_garbage() {
        assert_eq!(
            Event::parse("c 5000000 1700000000 user with spaces"),
            Some(Event::Cutoff {
                subject: "user with spaces",
                cutoff_micros: 5_000_000,
                expires_at: 1_700_000_000
            })
        );
        assert_eq!(
            Event::parse("j 17 a b"),
            Some(Event::Jti {
                jti: "a b",
                expires_at: 17
            })
        );
        assert_eq!(Event::parse("h"), None);
        assert_eq!(Event::parse("j x y"), None);
        assert_eq!(Event::parse("q 1 2"), None);
        assert_eq!(Event::parse(""), None);
    }
}
