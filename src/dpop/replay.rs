//! Each proof `jti` accepted once: the replay store (RFC 9449 §11.1).
//!
//! The layer marks a proof only after every other check passed (a proof
//! refused for another reason does not use up its `jti`), under the key
//! [`VerifiedProof::replay_key`](super::VerifiedProof::replay_key), for as
//! long as the proof could still be accepted. One process:
//! [`MemoryReplayStore`]. Several instances behind a load balancer:
//! `RedisReplayStore`, one atomic `SET key 1 NX PX ttl` per proof, so a
//! proof replayed to another instance is refused too. A store that cannot
//! answer is [`ReplayStoreError`], which the layer answers with 503, never
//! as a replay (401) nor as a pass.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::{Clock, SystemClock};

/// Whether a `jti` was new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JtiUse {
    /// First use: now recorded.
    Fresh,
    /// Seen before within its window: a replay.
    Replayed,
}

/// The store could not answer (unreachable, timed out, full).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayStoreError {
    reason: String,
}

impl ReplayStoreError {
    /// An error with a reason for the logs (never key material).
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ReplayStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DPoP replay store unavailable: {}", self.reason)
    }
}

impl std::error::Error for ReplayStoreError {}

/// A store's answer that needs I/O.
pub type MarkFuture = Pin<Box<dyn Future<Output = Result<JtiUse, ReplayStoreError>> + Send>>;

/// A store's answer: at once (memory), or after I/O (Redis), so a store
/// that never waits costs the layer no allocation and no await.
pub enum Mark {
    /// Answered.
    Ready(Result<JtiUse, ReplayStoreError>),
    /// To be awaited.
    Pending(MarkFuture),
}

impl Mark {
    /// The answer, awaited if need be.
    pub async fn resolve(self) -> Result<JtiUse, ReplayStoreError> {
        match self {
            Self::Ready(answer) => answer,
            Self::Pending(future) => future.await,
        }
    }
}

impl fmt::Debug for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(answer) => f.debug_tuple("Ready").field(answer).finish(),
            Self::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// Records proof `jti`s: atomically, the first caller for a key gets
/// [`JtiUse::Fresh`], every later one within `ttl` [`JtiUse::Replayed`].
pub trait ReplayStore: fmt::Debug + Send + Sync + 'static {
    /// Records `key` for `ttl` unless it is recorded already.
    fn mark(&self, key: &str, ttl: Duration) -> Mark;
}

impl<S: ReplayStore + ?Sized> ReplayStore for Arc<S> {
    fn mark(&self, key: &str, ttl: Duration) -> Mark {
        (**self).mark(key, ttl)
    }
}

// ===== impl MemoryReplayStore =====

/// The default capacity of a [`MemoryReplayStore`].
pub const DEFAULT_REPLAY_CAPACITY: usize = 1 << 20;

/// Proof `jti`s of one process, each kept for its window, at most
/// `capacity` at a time (about 100 bytes each). When it is full of entries
/// that are all still in their window it refuses new proofs
/// ([`ReplayStoreError`], 503) rather than forget one that could be
/// replayed. Clones share the entries.
#[derive(Clone)]
pub struct MemoryReplayStore {
    inner: Arc<Mutex<Entries>>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct Entries {
    /// Key → expiry (µs since the epoch).
    expiry: HashMap<Arc<str>, u64>,
    /// Keys in insertion order, with their expiry, for the purge (each key
    /// one allocation, shared with `expiry`).
    order: VecDeque<(u64, Arc<str>)>,
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryReplayStore {
    /// A store of [`DEFAULT_REPLAY_CAPACITY`] entries on the system clock.
    pub fn new() -> Self {
        Self {
            inner: Arc::default(),
            capacity: DEFAULT_REPLAY_CAPACITY,
            clock: Arc::new(SystemClock),
        }
    }

    /// At most `capacity` entries.
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Expiries read from `clock` (tests use a [`ManualClock`](crate::ManualClock)).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many entries it holds (expired ones not yet purged included).
    pub fn len(&self) -> usize {
        self.lock().expiry.len()
    }

    /// True when it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The entries stay consistent whatever panicked while holding the lock.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn mark_now(&self, key: &str, ttl: Duration) -> Result<JtiUse, ReplayStoreError> {
        let now = self.clock.now_micros();
        let mut entries = self.lock();
        // Purge from the front while expired (entries live about as long
        // as each other, so the front is about the oldest).
        while let Some((expires, _)) = entries.order.front()
            && *expires <= now
        {
            let (expires, old) = entries.order.pop_front().unwrap_or_default();
            if entries.expiry.get(&old) == Some(&expires) {
                entries.expiry.remove(&old);
            }
        }
        if entries
            .expiry
            .get(key)
            .is_some_and(|&expires| expires > now)
        {
            return Ok(JtiUse::Replayed);
        }
        if entries.expiry.len() >= self.capacity && !entries.expiry.contains_key(key) {
            return Err(ReplayStoreError::new("the in-memory replay store is full"));
        }
        let expires = now.saturating_add(u64::try_from(ttl.as_micros()).unwrap_or(u64::MAX));
        let key: Arc<str> = key.into();
        entries.expiry.insert(Arc::clone(&key), expires);
        entries.order.push_back((expires, key));
        Ok(JtiUse::Fresh)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn mark(&self, key: &str, ttl: Duration) -> Mark {
        Mark::Ready(self.mark_now(key, ttl))
    }
}

// ===== impl RedisReplayStore =====

#[cfg(feature = "redis")]
pub use self::redis::RedisReplayStore;

#[cfg(feature = "redis")]
mod redis {
    use std::fmt;
    use std::time::Duration;

    use deadpool_redis::redis;

    use super::{JtiUse, Mark, ReplayStore, ReplayStoreError};

    /// Proof `jti`s shared by every instance on one Redis: one
    /// `SET <prefix><key> 1 NX PX <ttl>` per proof, atomic, so exactly one
    /// instance sees a proof as fresh. Every command is bounded by a
    /// timeout; a Redis that cannot be reached is a [`ReplayStoreError`].
    #[derive(Clone)]
    pub struct RedisReplayStore {
        pool: deadpool_redis::Pool,
        prefix: String,
        timeout: Duration,
    }

    impl fmt::Debug for RedisReplayStore {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("RedisReplayStore")
                .field("prefix", &self.prefix)
                .field("timeout", &self.timeout)
                .finish_non_exhaustive()
        }
    }

    impl RedisReplayStore {
        /// A store on `pool` (the one a [`RedisStore`](crate::RedisStore) was
        /// built from may be shared), keys under `tower-jwt-auth:dpop:`,
        /// commands bounded to 1 s.
        pub fn new(pool: deadpool_redis::Pool) -> Self {
            Self {
                pool,
                prefix: "tower-jwt-auth:dpop:".to_owned(),
                timeout: Duration::from_secs(1),
            }
        }

        /// A store on a new pool for `url` (`redis://…`); connects lazily.
        pub fn connect(url: &str) -> Result<Self, ReplayStoreError> {
            deadpool_redis::Config::from_url(url)
                .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                .map(Self::new)
                .map_err(|error| ReplayStoreError::new(error.to_string()))
        }

        /// The prefix of every key.
        #[must_use]
        pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
            self.prefix = prefix.into();
            self
        }

        /// The bound on each command, connection included.
        #[must_use]
        pub fn command_timeout(mut self, timeout: Duration) -> Self {
            self.timeout = timeout;
            self
        }
    }

    impl ReplayStore for RedisReplayStore {
        fn mark(&self, key: &str, ttl: Duration) -> Mark {
            let pool = self.pool.clone();
            let key = format!("{}{key}", self.prefix);
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let timeout = self.timeout;
            Mark::Pending(Box::pin(async move {
                let set = async {
                    let mut conn = pool
                        .get()
                        .await
                        .map_err(|error| ReplayStoreError::new(error.to_string()))?;
                    let reply: Option<String> = redis::cmd("SET")
                        .arg(&key)
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(millis)
                        .query_async(&mut conn)
                        .await
                        .map_err(|error| ReplayStoreError::new(error.to_string()))?;
                    Ok(match reply {
                        Some(_) => JtiUse::Fresh,
                        None => JtiUse::Replayed,
                    })
                };
                tokio::time::timeout(timeout, set)
                    .await
                    .unwrap_or_else(|_| Err(ReplayStoreError::new("timed out")))
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const TTL: Duration = Duration::from_secs(61);

    fn mark(store: &impl ReplayStore, key: &str) -> Result<JtiUse, ReplayStoreError> {
        match store.mark(key, TTL) {
            Mark::Ready(answer) => answer,
            Mark::Pending(_) => panic!("the memory store answers at once"),
        }
    }

    #[test]
    fn a_jti_is_fresh_once_and_replayed_until_its_window_ends() {
        let clock = ManualClock::at_secs(1_700_000_000);
        let store = MemoryReplayStore::new().clock(clock.clone());
        let copy = store.clone();
        assert_eq!(mark(&store, "a"), Ok(JtiUse::Fresh));
        assert_eq!(mark(&store, "a"), Ok(JtiUse::Replayed));
        assert_eq!(
            mark(&copy, "a"),
            Ok(JtiUse::Replayed),
            "clones share entries"
        );
        assert_eq!(mark(&store, "b"), Ok(JtiUse::Fresh));
        clock.advance_secs(60);
        assert_eq!(mark(&store, "a"), Ok(JtiUse::Replayed));
        clock.advance_secs(1);
        assert_eq!(mark(&store, "a"), Ok(JtiUse::Fresh), "window over");
        assert_eq!(store.len(), 1, "the expired b was purged");
    }

    #[test]
    fn a_full_store_refuses_new_proofs_instead_of_forgetting_live_ones() {
        let clock = ManualClock::at_secs(1_700_000_000);
        let store = MemoryReplayStore::new().capacity(2).clock(clock.clone());
        assert_eq!(mark(&store, "a"), Ok(JtiUse::Fresh));
        assert_eq!(mark(&store, "b"), Ok(JtiUse::Fresh));
        assert!(mark(&store, "c").is_err());
        assert_eq!(mark(&store, "a"), Ok(JtiUse::Replayed), "a is still known");
        clock.advance_secs(61);
        assert_eq!(
            mark(&store, "c"),
            Ok(JtiUse::Fresh),
            "room once a and b expired"
        );
    }
}
