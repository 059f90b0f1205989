//! The key layout of the Redis store: shards, their hash tags and key
//! names, and the names of the previous layout's keys.
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
//! (`XADD`, trimmed by age with `MINID`) and publishes `<shard> <id> <event>`
//! in the same atomic step. The message only wakes the followers: each reads
//! that shard's stream from the last entry it read itself and applies what
//! the stream holds (never what a message says); after any disconnect it
//! reads each stream from there instead of reloading.

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

    /// The prefix of every key.
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The channel every change is published on.
    pub(super) fn channel(&self) -> &str {
        &self.channel
    }

    /// `<prefix>:layout`: set once the previous layout's keys are migrated.
    pub(super) fn layout_marker(&self) -> String {
        format!("{}:layout", self.prefix)
    }

    /// `<prefix>:scoped-since`: when this store first kept another issuer's
    /// revocations under issuer-scoped ids (microseconds); a cutoff older
    /// than that was written for every issuer's tokens alike.
    pub(super) fn scoping_marker(&self) -> String {
        format!("{}:scoped-since", self.prefix)
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
}
