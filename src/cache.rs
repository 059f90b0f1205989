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
//! The bound: at most `capacity` entries, held in two generations of
//! `capacity / 2`. Inserts go to the current generation; when it is full it
//! becomes the previous one and the old previous one is dropped whole. A hit
//! in the previous generation moves the entry to the current one, so tokens in
//! use stay while expired ones age out. Each entry holds a token (at most the
//! configured `max_token_len`) and its payload.

use std::any::Any;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, OnceLock, RwLock};

/// Default capacity of the verified-token cache: enough for the live access
/// tokens of a few thousand clients (each entry is about two tokens' size).
pub const DEFAULT_VERIFIED_CACHE_CAPACITY: usize = 4096;

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
}

impl Verified {
    pub(crate) fn new(payload: Box<[u8]>, issuer: usize, key_epoch: u64) -> Arc<Self> {
        Arc::new(Self {
            payload,
            claims: OnceLock::new(),
            issuer,
            key_epoch,
        })
    }
}

type Generation = HashMap<Box<[u8]>, Arc<Verified>, TailHash>;

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

pub(crate) struct VerifiedCache {
    /// Entries per generation.
    generation_len: usize,
    generations: RwLock<Generations>,
}

#[derive(Default)]
struct Generations {
    current: Generation,
    previous: Generation,
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens, rounded down to an even number
    /// (two generations), and at least 2.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            generation_len: (capacity / 2).max(1),
            generations: RwLock::default(),
        }
    }

    /// What is remembered of exactly `token`, if anything.
    pub(crate) fn get(&self, token: &[u8]) -> Option<Arc<Verified>> {
        let previous = {
            let generations = self.read();
            if let Some(payload) = generations.current.get(token) {
                return Some(Arc::clone(payload));
            }
            Arc::clone(generations.previous.get(token)?)
        };
        // Still in use: keep it past the next generation change.
        self.insert(token, Arc::clone(&previous));
        Some(previous)
    }

    /// Remembers `token` as verified. Call only after the token passed
    /// every check.
    pub(crate) fn insert(&self, token: &[u8], payload: Arc<Verified>) {
        let mut generations = self.write();
        if generations.current.len() >= self.generation_len {
            generations.previous = std::mem::take(&mut generations.current);
        }
        generations.previous.remove(token);
        generations.current.insert(Box::from(token), payload);
    }

    /// How many tokens are remembered.
    pub(crate) fn len(&self) -> usize {
        let generations = self.read();
        generations.current.len() + generations.previous.len()
    }

    /// The most tokens it remembers at once.
    pub(crate) fn capacity(&self) -> usize {
        self.generation_len * 2
    }

    // A panic while holding the lock cannot leave a map half-updated in a
    // way that matters (entries are only ever whole), so poisoning is ignored.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Generations> {
        self.generations
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Generations> {
        self.generations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
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
    fn a_token_in_use_survives_generation_changes() {
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
