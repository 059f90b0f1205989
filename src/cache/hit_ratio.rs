//! The cache's hit ratio under the access orders real traffic has, in
//! deterministic runs (fixed hash seed, fixed shard count, a seeded
//! generator): many clients in turn (cyclic), at random (uniform), a few
//! busy ones and many quiet ones (skewed), and clients in steady use while a
//! flood of tokens seen once passes (a scan). These are behaviour, not
//! timing: the ratios are asserted.
//!
//! Each access is what the verifier does with a token: a lookup, and on a
//! miss (the full check passed) an insert. Tokens are ~500 bytes with a
//! ~280-byte payload, the size of a typical ES256 access token, so the
//! byte-weighted bound is exercised as in production.

use super::*;

/// A token of about 500 bytes, unique by its last 16 bytes (which lie in
/// the signature of a real token, and which the hash reads).
fn token(id: u64) -> Vec<u8> {
    let mut token = b"eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.".to_vec();
    token.resize(484, b'x');
    token.extend_from_slice(format!("{id:016}").as_bytes());
    token
}

fn verified() -> Arc<Verified> {
    Verified::new(vec![b'p'; 280].into_boxed_slice(), 0, 0)
}

/// A small deterministic generator (xorshift64*), so the "random" orders
/// are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}

/// Counts hits and misses of accesses as the verifier makes them.
struct Traffic {
    cache: VerifiedCache,
    hits: u64,
    accesses: u64,
}

impl Traffic {
    /// The default capacity split in the most shards it is ever given
    /// (the smallest shards, so the most uneven filling).
    fn default_capacity() -> Self {
        let capacity = DEFAULT_VERIFIED_CACHE_CAPACITY;
        let shards = (capacity / MIN_SHARD_SLOTS).next_power_of_two() / 2;
        Self::new(capacity, shards.max(1))
    }

    fn new(capacity: usize, shards: usize) -> Self {
        Self {
            cache: VerifiedCache::with_shards(capacity, shards, TailHash::seeded(0x5eed)),
            hits: 0,
            accesses: 0,
        }
    }

    fn access(&mut self, token: &[u8]) -> bool {
        self.accesses += 1;
        if self.cache.get(token).is_some() {
            self.hits += 1;
            true
        } else {
            self.cache.insert(token, verified());
            false
        }
    }

    /// Every token of `tokens` once, in order.
    fn pass(&mut self, tokens: &[Vec<u8>]) {
        for token in tokens {
            self.access(token);
        }
    }

    /// Forgets the counts (not the entries): the ratio from here on.
    fn reset_counts(&mut self) {
        self.hits = 0;
        self.accesses = 0;
    }

    fn hit_ratio(&self) -> f64 {
        self.hits as f64 / self.accesses as f64
    }
}

/// Live tokens at 90 % of the capacity.
fn live(traffic: &Traffic) -> Vec<Vec<u8>> {
    let n = traffic.cache.capacity() * 9 / 10;
    (0..n as u64).map(token).collect()
}

#[test]
fn cyclic_order_at_90_percent_of_capacity_hits_at_least_95_percent() {
    let mut traffic = Traffic::default_capacity();
    let live = live(&traffic);
    // First sight of each token is a miss whatever the cache does.
    traffic.pass(&live);
    traffic.reset_counts();
    for _ in 0..10 {
        traffic.pass(&live);
    }
    let ratio = traffic.hit_ratio();
    println!("hit ratio {ratio:.4}");
    assert!(ratio >= 0.95, "hit ratio {ratio:.4}");
    assert!(traffic.cache.len() >= live.len() * 95 / 100);
}

#[test]
fn uniform_random_order_at_90_percent_of_capacity_hits_at_least_95_percent() {
    let mut traffic = Traffic::default_capacity();
    let live = live(&traffic);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    traffic.pass(&live);
    traffic.reset_counts();
    for _ in 0..10 * live.len() {
        traffic.access(&live[rng.below(live.len())]);
    }
    let ratio = traffic.hit_ratio();
    println!("hit ratio {ratio:.4}");
    assert!(ratio >= 0.95, "hit ratio {ratio:.4}");
}

#[test]
fn skewed_order_at_90_percent_of_capacity_hits_at_least_95_percent() {
    let mut traffic = Traffic::default_capacity();
    let live = live(&traffic);
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    traffic.pass(&live);
    traffic.reset_counts();
    // u³ puts half the accesses on the first eighth of the clients, and
    // the quietest clients are seen about once a pass.
    for _ in 0..10 * live.len() {
        let u = rng.unit();
        traffic.access(&live[(u * u * u * live.len() as f64) as usize]);
    }
    let ratio = traffic.hit_ratio();
    println!("hit ratio {ratio:.4}");
    assert!(ratio >= 0.95, "hit ratio {ratio:.4}");
}

#[test]
fn a_cyclic_order_over_more_tokens_than_fit_still_hits_the_part_that_fits() {
    // A cache that evicts in insertion order misses every access when a
    // cycle is longer than it; this one keeps a large part resident.
    let mut traffic = Traffic::new(4096, 4);
    let tokens: Vec<_> = (0..4096 * 5 / 4).map(token).collect();
    for _ in 0..3 {
        traffic.pass(&tokens);
    }
    traffic.reset_counts();
    for _ in 0..10 {
        traffic.pass(&tokens);
    }
    let ratio = traffic.hit_ratio();
    println!("hit ratio {ratio:.4}");
    assert!(ratio >= 0.5, "hit ratio {ratio:.4}");
}

#[test]
fn tokens_in_steady_use_stay_cached_through_a_scan() {
    let mut traffic = Traffic::new(4096, 4);
    // A quarter of the capacity in steady use...
    let steady: Vec<_> = (0..1024).map(token).collect();
    for _ in 0..3 {
        traffic.pass(&steady);
    }
    traffic.reset_counts();
    // ...while four tokens seen once arrive per request of theirs: ten
    // times the capacity in all, so between two uses of a steady token the
    // whole capacity of new tokens passes.
    let mut scan = 1_000_000u64..;
    let mut steady_hits = 0u64;
    let mut steady_accesses = 0u64;
    for _ in 0..10 {
        for t in &steady {
            steady_accesses += 1;
            steady_hits += u64::from(traffic.access(t));
            for id in scan.by_ref().take(4) {
                traffic.access(&token(id));
            }
        }
    }
    let ratio = steady_hits as f64 / steady_accesses as f64;
    println!("steady tokens' hit ratio {ratio:.4}");
    assert!(ratio >= 0.95, "steady tokens' hit ratio {ratio:.4}");
    assert!(traffic.cache.len() <= 4096);
}

#[test]
fn the_default_capacity_holds_16384_typical_tokens_within_its_byte_budget() {
    let cache = VerifiedCache::new(DEFAULT_VERIFIED_CACHE_CAPACITY);
    assert!(cache.capacity() >= 16_384);
    // A typical token is charged one slot, so the byte budget is the count.
    assert_eq!(entry_cost(token(0).len(), 280), SLOT_BYTES);
    let budget = DEFAULT_VERIFIED_CACHE_CAPACITY as u64 * SLOT_BYTES;
    assert!(budget <= 32 << 20, "{budget} bytes");
    for id in 0..16_384 {
        cache.insert(&token(id), verified());
    }
    assert_eq!(cache.len(), 16_384);
    assert!(cache.entries.weight() <= budget);
}

#[test]
fn large_tokens_count_as_several_slots() {
    let cache = VerifiedCache::with_shards(100, 1, TailHash::seeded(1));
    let large = |id: u64| {
        let mut t = vec![b'x'; 8 * 1024 - 16];
        t.extend_from_slice(format!("{id:016}").as_bytes());
        t
    };
    let cost = entry_cost(8 * 1024, 6 * 1024);
    assert!(cost > 10 * SLOT_BYTES);
    for id in 0..1000 {
        cache.insert(
            &large(id),
            Verified::new(vec![0; 6 * 1024].into_boxed_slice(), 0, 0),
        );
        assert!(cache.entries.weight() <= 100 * SLOT_BYTES);
        assert!(cache.len() as u64 <= 100 * SLOT_BYTES / cost);
    }
    assert!(cache.len() > 0, "large tokens are cached too");
}

#[test]
fn threads_on_distinct_tokens_each_find_their_own() {
    let cache = VerifiedCache::new(4096);
    std::thread::scope(|scope| {
        for thread in 0..4u8 {
            let cache = &cache;
            scope.spawn(move || {
                let mine = |i: u64| token(u64::from(thread) * 10_000 + i);
                for i in 0..500 {
                    cache.insert(&mine(i), Verified::new(Box::from([thread]), 0, 0));
                }
                for _ in 0..3 {
                    for i in 0..500 {
                        let found = cache.get(&mine(i)).expect("cached");
                        assert_eq!(found.payload[..], [thread]);
                    }
                }
            });
        }
    });
    assert_eq!(cache.len(), 2000);
}
