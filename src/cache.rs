//! The verified-token cache: remembers tokens whose signature checked out, so
//! a client that presents the same access token on every request pays for
//! the signature math once.
//!
//! An RS256/ES256/EdDSA signature check costs tens of microseconds, and a
//! client reuses one access token for minutes. The cache maps the **whole
//! token**, compared byte for byte, to its decoded payload. Only a token that
//! passed every check of [`Verifier::verify`](crate::Verifier::verify) is
//! inserted, so a token that differs in any byte — a forged signature, an
//! edited payload — is a different key and goes through the full check.
//! On a hit only the JWS layer is skipped (header, key, `alg`, signature):
//! the claims, `exp` and `nbf` included, are checked again at the current time,
//! and the auth layer still asks the revocation store.
//!
//! # Eviction and the bound
//!
//! The entries live in a [`quick_cache`] cache: S3-FIFO-style eviction (a
//! small probation queue for new entries, a main one for entries that were
//! used again, and a ghost list of recently evicted hashes), so
//!
//! - it holds its whole capacity under any access order: thousands of
//!   clients, each presenting its own token in turn, all stay cached as long
//!   as they fit (a cache that drops whole generations forgets all of them
//!   as soon as they outnumber one generation);
//! - a flood of tokens seen once (a scan, or clients that come once) passes
//!   through the probation queue and does not push out the tokens in steady
//!   use;
//! - it is split into shards, each behind its own lock, and a hit takes only
//!   a shared (read) lock and bumps an atomic counter, so threads serving
//!   different clients do not wait for one another.
//!
//! The bound is in bytes. Each entry is charged its token, its payload and
//! the claims kept decoded from it, plus a fixed overhead
//! ([`entry_cost`]), and at least one *slot* of [`SLOT_BYTES`]: a cache of
//! capacity `n` holds at most `n` tokens, `n` of typical size (up to about
//! 530 bytes), and fewer larger ones, so its memory stays near
//! `n × SLOT_BYTES` whatever the tokens (at most the configured
//! `max_token_len` each) look like.

use std::any::Any;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, OnceLock};

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{OptionsBuilder, Weighter};

use crate::binding::{BindingError, Confirmation, payload_confirmation};

/// Default capacity of the verified-token cache, in tokens of typical size
/// (up to about 530 bytes; larger ones count as several): 20 480, so the live
/// access tokens of 16 000 clients take less than 80 % of it, and a full
/// cache stays within 32 MiB. Each unit stands for 1.5 KiB; measured by
/// `benches/alloc.rs`, a cached ES256 token of 488 bytes keeps 1.3 KiB of
/// heap in 10 allocations (token, payload, decoded claims, tables), and a
/// full default cache 27 MiB.
pub const DEFAULT_VERIFIED_CACHE_CAPACITY: usize = 20_480;

/// The bytes one unit of capacity stands for: a token of typical size (about
/// 500 bytes, with its payload and the claims kept decoded) costs about as
/// much, and no entry is charged less, so a capacity also bounds the count.
const SLOT_BYTES: u64 = 1536;

/// A fixed charge per entry besides its bytes: the shared record and its
/// reference count, the kept claims' struct and box, the table slot and the
/// eviction queue's links.
const ENTRY_OVERHEAD: u64 = 384;

/// What an entry of `token_len` bytes with a payload of `payload_len` bytes
/// is charged: the token (the key), the payload, as much again for the
/// claims kept decoded from it (their strings, and the `cnf`'s, are copies
/// of the payload's),
/// and [`ENTRY_OVERHEAD`]; at least one [`SLOT_BYTES`].
fn entry_cost(token_len: usize, payload_len: usize) -> u64 {
    let bytes = (token_len as u64)
        .saturating_add((payload_len as u64).saturating_mul(2))
        .saturating_add(ENTRY_OVERHEAD);
    bytes.max(SLOT_BYTES)
}

/// Below this many slots a shard's main queue takes all of it (see
/// [`VerifiedCache::with_shards`]): scan resistance needs room to matter.
const SMALL_SHARD_SLOTS: usize = 64;

/// How many entries a shard should have room for at least: shards much
/// smaller than this fill unevenly (one overflows while others have room),
/// which would lose hits below the nominal capacity.
const MIN_SHARD_SLOTS: usize = 1024;

/// What is remembered of a verified token.
pub(crate) struct Verified {
    /// The decoded payload, whose signature checked out.
    pub(crate) payload: Box<[u8]>,
    /// The claims as the first caller that could keep them decoded them
    /// (a `Claims<T>` for the auth layer's `T`), so a hit need not parse the
    /// payload again. Their time-dependent checks are still made per call.
    pub(crate) claims: OnceLock<Box<dyn Any + Send + Sync>>,
    /// Which of the verifier's trusted issuers verified it.
    pub(crate) issuer: usize,
    /// That issuer's key-set epoch then: once a key may have left the set,
    /// the entry no longer vouches for the token.
    pub(crate) key_epoch: u64,
    /// The payload's `cnf` (RFC 7800), read once here so a hit does not
    /// decode the payload again to learn whether the token is bound.
    pub(crate) confirmation: Result<Confirmation, BindingError>,
}

impl Verified {
    pub(crate) fn new(payload: Box<[u8]>, issuer: usize, key_epoch: u64) -> Arc<Self> {
        Arc::new(Self {
            confirmation: payload_confirmation(&payload),
            payload,
            claims: OnceLock::new(),
            issuer,
            key_epoch,
        })
    }
}

/// How many trailing bytes of a token are hashed.
const HASHED_TAIL: usize = 16;

/// Hashes a token by its length and its last [`HASHED_TAIL`] bytes, which lie
/// in the signature, mixed with a random per-cache seed. The hash only places
/// entries in the table; a lookup always compares the whole token. Hashing the
/// hundreds of bytes of header and claims with SipHash on every request cost
/// more than the rest of a cache hit, and is not needed here: only tokens that
/// passed verification are ever inserted, and their signature bytes cannot be
/// chosen without the key, so no client can crowd entries into one bucket.
#[derive(Clone)]
struct TailHash {
    seed: u64,
}

impl TailHash {
    /// A fixed seed, so a test places entries the same way on every run.
    #[cfg(test)]
    fn seeded(seed: u64) -> Self {
        Self { seed }
    }
}

impl Default for TailHash {
    fn default() -> Self {
        Self {
            seed: RandomState::new().hash_one(0x5eed_u64),
        }
    }
}

impl BuildHasher for TailHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.seed)
    }
}

struct TailHasher(u64);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        let tail = &bytes[bytes.len().saturating_sub(HASHED_TAIL)..];
        let mut block = [0u8; HASHED_TAIL];
        block[HASHED_TAIL - tail.len()..].copy_from_slice(tail);
        let (high, low) = block.split_at(8);
        let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
        self.0 = mix(mix(self.0 ^ word(high)) ^ word(low));
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = mix(self.0 ^ n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The SplitMix64 finalizer: every input bit affects every output bit.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Charges each entry [`entry_cost`].
#[derive(Clone)]
struct EntryWeight;

impl Weighter<Box<[u8]>, Arc<Verified>> for EntryWeight {
    fn weight(&self, token: &Box<[u8]>, verified: &Arc<Verified>) -> u64 {
        entry_cost(token.len(), verified.payload.len())
    }
}

pub(crate) struct VerifiedCache {
    /// Its capacity in slots, as asked for.
    capacity: usize,
    entries: Cache<Box<[u8]>, Arc<Verified>, EntryWeight, TailHash>,
}

impl VerifiedCache {
    /// A cache of `capacity` slots (at least 1): at most `capacity` tokens,
    /// and `capacity × SLOT_BYTES` bytes as [`entry_cost`] counts them.
    pub(crate) fn new(capacity: usize) -> Self {
        Self::with_shards(capacity, shards(capacity), TailHash::default())
    }

    /// As [`new`](Self::new), in `shards` shards (rounded up to a power of
    /// two) hashed with `hasher`: the tests fix both, so they run alike on
    /// every machine.
    fn with_shards(capacity: usize, shards: usize, hasher: TailHash) -> Self {
        let capacity = capacity.max(1);
        let mut options = OptionsBuilder::new();
        options
            .estimated_items_capacity(capacity)
            .weight_capacity((capacity as u64).saturating_mul(SLOT_BYTES))
            .shards(shards);
        if capacity / shards.max(1) < SMALL_SHARD_SLOTS {
            // quick_cache admits an entry only if it fits its main queue (97 %
            // of the shard by default), which for a shard of one slot is none.
            options.hot_allocation(1.0);
        }
        let options = options.build().expect("both capacities are set");
        Self {
            capacity,
            entries: Cache::with_options(options, EntryWeight, hasher, DefaultLifecycle::default()),
        }
    }

    /// What is remembered of exactly `token`, if anything.
    pub(crate) fn get(&self, token: &[u8]) -> Option<Arc<Verified>> {
        self.entries.get(token)
    }

    /// Remembers `token` as verified. Call only after the token passed
    /// every check.
    pub(crate) fn insert(&self, token: &[u8], payload: Arc<Verified>) {
        self.entries.insert(Box::from(token), payload);
    }

    /// How many tokens are remembered.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The bytes it accounts for now ([`entry_cost`] of every entry).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn weight(&self) -> u64 {
        self.entries.weight()
    }

    /// The most tokens it remembers at once (its capacity in slots).
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

/// How many shards (independently locked parts) a cache of `capacity`
/// slots gets: four per core (`quick_cache`'s default), but no more than
/// leaves each shard [`MIN_SHARD_SLOTS`], and a power of two.
fn shards(capacity: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let most = (capacity / MIN_SHARD_SLOTS).max(1);
    let wanted = cores.saturating_mul(4).min(most);
    // The largest power of two not above `wanted` (quick_cache rounds up).
    1 << wanted.ilog2()
}

impl fmt::Debug for VerifiedCache {
    // Tokens are credentials: only the sizes are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod hit_ratio;

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(n: u8) -> Arc<Verified> {
        Verified::new(Box::from([n]), 0, 0)
    }

    #[test]
    fn lookup_is_by_the_exact_token() {
        let cache = VerifiedCache::new(8);
        cache.insert(b"a.b.c", payload(1));
        assert_eq!(cache.get(b"a.b.c").unwrap().payload[..], [1]);
        assert!(cache.get(b"a.b.d").is_none());
        assert!(cache.get(b"a.b.c ").is_none());
        assert!(cache.get(b"a.b").is_none());
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let cache = VerifiedCache::new(10);
        for i in 0..1000u32 {
            cache.insert(format!("token-{i}").as_bytes(), payload(0));
            assert!(cache.len() <= 10, "{} entries after {i}", cache.len());
        }
        assert_eq!(cache.capacity(), 10);
    }

    #[test]
    fn a_token_in_use_survives_a_flood_of_new_ones() {
        let cache = VerifiedCache::new(4);
        cache.insert(b"hot", payload(7));
        for i in 0..100u32 {
            cache.insert(format!("cold-{i}").as_bytes(), payload(0));
            assert!(cache.get(b"hot").is_some(), "evicted after {i} inserts");
        }
        assert!(cache.len() <= 4);
    }

    #[test]
    fn tokens_differing_only_before_the_tail_are_distinct() {
        let cache = VerifiedCache::new(8);
        let tail = "s".repeat(HASHED_TAIL);
        cache.insert(format!("a.b.{tail}").as_bytes(), payload(1));
        cache.insert(format!("a.c.{tail}").as_bytes(), payload(2));
        assert_eq!(
            cache.get(format!("a.b.{tail}").as_bytes()).unwrap().payload[..],
            [1]
        );
        assert_eq!(
            cache.get(format!("a.c.{tail}").as_bytes()).unwrap().payload[..],
            [2]
        );
        assert!(cache.get(format!("a.d.{tail}").as_bytes()).is_none());
        assert!(cache.get(tail.as_bytes()).is_none());
    }

    #[test]
    fn the_smallest_caches_hold_as_many_tokens_as_their_capacity() {
        for capacity in 1..=4 {
            let cache = VerifiedCache::new(capacity);
            for i in 0..capacity {
                cache.insert(format!("token-{i}").as_bytes(), payload(1));
            }
            assert_eq!(cache.len(), capacity, "capacity {capacity}");
            let last = format!("token-{}", capacity - 1);
            assert!(cache.get(last.as_bytes()).is_some(), "capacity {capacity}");
        }
    }

    #[test]
    fn a_huge_capacity_allocates_nothing_up_front() {
        let cache = VerifiedCache::new(usize::MAX);
        assert_eq!(cache.capacity(), usize::MAX);
        cache.insert(b"a.b.c", payload(1));
        assert_eq!(cache.get(b"a.b.c").unwrap().payload[..], [1]);
    }

    #[test]
    fn tokens_sharing_one_hash_are_told_apart_by_their_bytes() {
        // Same length and tail: one hash for all, so only the byte-for-byte
        // comparison tells them apart.
        let cache = VerifiedCache::new(64);
        let tail = "s".repeat(HASHED_TAIL);
        let token = |i: u8| format!("h.{i:03}.{tail}");
        for i in 0..32 {
            cache.insert(token(i).as_bytes(), payload(i));
        }
        for i in 0..32 {
            assert_eq!(cache.get(token(i).as_bytes()).unwrap().payload[..], [i]);
        }
        for i in 32..64 {
            assert!(cache.get(token(i).as_bytes()).is_none(), "{i}");
        }
    }

    #[test]
    fn a_prefix_or_an_extension_of_a_cached_token_misses() {
        let cache = VerifiedCache::new(8);
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
        cache.insert(token.as_bytes(), payload(1));
        for len in 0..token.len() {
            assert!(cache.get(&token.as_bytes()[..len]).is_none(), "{len}");
        }
        assert!(cache.get(format!("{token}=").as_bytes()).is_none());
        assert!(cache.get(format!(" {token}").as_bytes()).is_none());
        assert!(cache.get(token.as_bytes()).is_some());
    }

    #[test]
    fn the_hash_depends_on_the_tail_and_the_length() {
        let hash = TailHash::default();
        let tail = "x".repeat(HASHED_TAIL);
        let h = |s: &str| hash.hash_one(s.as_bytes());
        assert_eq!(h(&format!("a.{tail}")), h(&format!("b.{tail}")));
        assert_ne!(h(&format!("a.{tail}")), h(&format!("aa.{tail}")));
        assert_ne!(h(&format!("a.{tail}")), h(&format!("a.{tail}y")));
        // Each cache has its own seed.
        assert_ne!(
            TailHash::default().hash_one(b"t".as_slice()),
            TailHash::default().hash_one(b"t".as_slice())
        );
    }

    #[test]
    fn debug_shows_no_token() {
        let cache = VerifiedCache::new(4);
        cache.insert(b"eyJ-secret-token", payload(1));
        let shown = format!("{cache:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
