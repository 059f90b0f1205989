//! The introspection cache: answers remembered by a keyed hash of the token,
//! the decision re-run on every hit, one call per new token however many ask
//! at once, and a bound on the calls in flight.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::{
    IntrospectError, IntrospectionClient, Unavailable, check_claims, claims_of, record_lookup,
};
use crate::binding::Confirmation;
use crate::claims::Claims;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Default time an active answer is kept (at most until the token's `exp`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// Default time an inactive, refused or failed answer is kept.
pub const DEFAULT_INACTIVE_TTL: Duration = Duration::from_secs(5);

/// The longest an inactive or failed answer is kept, whatever is configured:
/// a token that becomes active is not refused for long.
pub const MAX_INACTIVE_TTL: Duration = Duration::from_secs(60);

/// Default bound on the entries kept.
pub const DEFAULT_CACHE_ENTRIES: usize = 10_000;

/// Default bound on introspection calls in flight at once.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// Default longest wait for a call to start when the bound is reached.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(1);

/// The bytes one entry of capacity stands for; no entry is charged less.
pub const SLOT_BYTES: u64 = 1024;

/// The fixed charge of an entry besides its answer: the key, the record,
/// the claims kept decoded, the table slot.
const ENTRY_OVERHEAD: u64 = 256;

type Key = [u8; 32];

/// An answer decided now: the claims and the binding (`cnf`), or why not.
pub(crate) type BoundClaims<T> = Result<(Arc<Claims<T>>, Arc<Confirmation>), IntrospectError>;

/// One remembered answer.
struct Entry {
    /// When it stops counting (seconds since the epoch, the config's clock).
    expires_at: u64,
    /// The normalized answer, or why there is none.
    answer: Result<Value, IntrospectError>,
    /// The answer's size in bytes, as received (its charge).
    bytes: u64,
    /// The claims as the first caller decoded them, so a hit skips parsing.
    kept: OnceLock<Box<dyn Any + Send + Sync>>,
    /// The answer's `cnf`, read once and shared with every hit (`Err`:
    /// present but no confirmation).
    confirmation: Result<Arc<Confirmation>, ()>,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Key, Arc<Entry>> for ByBytes {
    fn weight(&self, _: &Key, entry: &Arc<Entry>) -> u64 {
        entry
            .bytes
            .saturating_mul(2)
            .saturating_add(ENTRY_OVERHEAD)
            .max(SLOT_BYTES)
    }
}

/// An [`IntrospectionClient`] with a cache in front of it (feature
/// `introspection`). Cheap to clone; clones share the entries, the bound on
/// calls and the hashing key.
///
/// The rules (each has a test in `tests/introspect`):
///
/// - the key is HMAC-SHA256 of the token under a random per-cache key: no
///   token is stored, and a memory dump does not let one test guesses;
/// - an active answer is kept until `min(now + ttl, exp)` ([`DEFAULT_TTL`]);
///   what is kept is the *answer*, never a verdict: each hit checks `exp`,
///   `nbf`, the issuer, the audience and the type again at the current time,
///   and the auth layer then asks the revocation store and runs the guards;
/// - an inactive, refused or failed answer is kept [`DEFAULT_INACTIVE_TTL`]
///   by default, never longer than [`MAX_INACTIVE_TTL`], so a flood of one bad token costs a call every few seconds; "too many
///   calls in flight" is never kept;
/// - concurrent lookups of one new token wait for the one call made for it;
/// - at most [`DEFAULT_MAX_IN_FLIGHT`] calls at once; a call that cannot
///   start within the wait ([`DEFAULT_MAX_WAIT`]) is
///   [`Unavailable::Busy`](crate::introspect::Unavailable::Busy) (503);
/// - bounded in entries and bytes: each entry is charged its answer's size
///   plus a fixed overhead, and at least one slot of [`SLOT_BYTES`].
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::JwtConfig;
/// use tower_jwt_auth::introspect::{ClientAuth, IntrospectionCache, IntrospectionClient};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = IntrospectionClient::new(
///     "https://idp.example/oauth2/introspect",
///     "resource-server",
///     ClientAuth::client_secret_basic("s3cret"),
///     JwtConfig::new().issuer("https://idp.example").audience("api"),
/// );
/// let cache = IntrospectionCache::new(client).ttl(Duration::from_secs(30));
/// let claims = cache.claims::<serde_json::Value>("an-opaque-token").await?;
/// # let _ = claims;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct IntrospectionCache {
    inner: Arc<Inner>,
}

struct Inner {
    client: IntrospectionClient,
    entries: Option<Cache<Key, Arc<Entry>, ByBytes>>,
    capacity: usize,
    /// HMAC-SHA256 keyed once with a random key; each token's MAC starts
    /// from a copy of it (no key schedule per request).
    hasher: Hmac<Sha256>,
    ttl: u64,
    inactive_ttl: u64,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    max_wait: Duration,
}

impl fmt::Debug for IntrospectionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("IntrospectionCache")
            .field("client", &inner.client)
            .field("capacity", &inner.capacity)
            .field("ttl", &inner.ttl)
            .field("inactive_ttl", &inner.inactive_ttl)
            .field("max_in_flight", &inner.max_in_flight)
            .field("max_wait", &inner.max_wait)
            .finish_non_exhaustive()
    }
}

impl IntrospectionCache {
    /// A cache with the defaults in front of `client`.
    pub fn new(client: IntrospectionClient) -> Self {
        Self::build(
            client,
            DEFAULT_CACHE_ENTRIES,
            DEFAULT_TTL.as_secs(),
            DEFAULT_INACTIVE_TTL.as_secs(),
            DEFAULT_MAX_IN_FLIGHT,
            DEFAULT_MAX_WAIT,
        )
    }

    fn build(
        client: IntrospectionClient,
        capacity: usize,
        ttl: u64,
        inactive_ttl: u64,
        max_in_flight: usize,
        max_wait: Duration,
    ) -> Self {
        let mut secret = [0_u8; 32];
        getrandom::fill(&mut secret).expect("the system's random source");
        let hasher = <Hmac<Sha256> as Mac>::new_from_slice(&secret).expect("HMAC takes any key");
        let entries = (capacity > 0 && ttl > 0).then(|| {
            let options = quick_cache::OptionsBuilder::new()
                .estimated_items_capacity(capacity)
                .weight_capacity((capacity as u64).saturating_mul(SLOT_BYTES))
                .build()
                .expect("valid cache options");
            Cache::with_options(options, ByBytes, Default::default(), Default::default())
        });
        Self {
            inner: Arc::new(Inner {
                client,
                entries,
                capacity,
                hasher,
                ttl,
                inactive_ttl: inactive_ttl.min(MAX_INACTIVE_TTL.as_secs()),
                in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
                max_in_flight: max_in_flight.max(1),
                max_wait,
            }),
        }
    }

    fn rebuild(self, change: impl FnOnce(&mut (usize, u64, u64, usize, Duration))) -> Self {
        let inner = &*self.inner;
        let mut settings = (
            inner.capacity,
            inner.ttl,
            inner.inactive_ttl,
            inner.max_in_flight,
            inner.max_wait,
        );
        change(&mut settings);
        let (capacity, ttl, inactive_ttl, max_in_flight, max_wait) = settings;
        Self::build(
            inner.client.clone(),
            capacity,
            ttl,
            inactive_ttl,
            max_in_flight,
            max_wait,
        )
    }

    /// How long an active answer is kept at most (default [`DEFAULT_TTL`],
    /// whole seconds); `0` turns the cache off (every lookup is a call).
    /// Each builder starts a new, empty cache.
    pub fn ttl(self, ttl: Duration) -> Self {
        self.rebuild(|s| s.1 = ttl.as_secs())
    }

    /// How long an inactive, refused or failed answer is kept (default
    /// [`DEFAULT_INACTIVE_TTL`], at most [`MAX_INACTIVE_TTL`]).
    pub fn inactive_ttl(self, ttl: Duration) -> Self {
        self.rebuild(|s| s.2 = ttl.as_secs())
    }

    /// The most entries kept, and so about `entries ×` [`SLOT_BYTES`] bytes
    /// (default [`DEFAULT_CACHE_ENTRIES`]); `0` turns the cache off.
    pub fn capacity(self, entries: usize) -> Self {
        self.rebuild(|s| s.0 = entries)
    }

    /// The most calls in flight at once (default [`DEFAULT_MAX_IN_FLIGHT`]).
    pub fn max_in_flight(self, calls: usize) -> Self {
        self.rebuild(|s| s.3 = calls)
    }

    /// How long a call waits to start when the bound on calls in flight is
    /// reached (default [`DEFAULT_MAX_WAIT`]); then it is `Busy` (503).
    pub fn max_wait(self, wait: Duration) -> Self {
        self.rebuild(|s| s.4 = wait)
    }

    /// The client behind the cache.
    pub fn client(&self) -> &IntrospectionClient {
        &self.inner.client
    }

    /// Entries held now (expired ones count until they are looked up or
    /// evicted).
    pub fn len(&self) -> usize {
        self.inner.entries.as_ref().map_or(0, Cache::len)
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The claims of `token`, from a remembered answer or a call, checked
    /// against the client's config at the current time.
    pub async fn claims<T>(&self, token: &str) -> Result<Arc<Claims<T>>, IntrospectError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let entry = self.entry(token).await?;
        self.decide(&entry)
    }

    /// As [`claims`](Self::claims), with the answer's `cnf` (RFC 7662 §2.2,
    /// RFC 8705 §2 / RFC 9449 §6.2): the binding the layer then checks, as
    /// it checks a JWT's. A `cnf` that is not a confirmation refuses it.
    pub(crate) async fn claims_bound<T>(&self, token: &str) -> BoundClaims<T>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let entry = self.entry(token).await?;
        self.decide_bound(&entry)
    }

    /// A live remembered answer for `token`, decided now, or `None` when
    /// there is none yet (ask [`claims_bound`](Self::claims_bound)): the
    /// auth layer's hit path, which then needs no await and no copy of the
    /// token.
    pub(crate) fn cached_bound<T>(&self, token: &str) -> Option<BoundClaims<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let entry = self.inner.entries.as_ref()?.get(&self.key(token))?;
        if entry.expires_at <= self.now() {
            return None;
        }
        record_lookup("hit");
        Some(self.decide_bound(&entry))
    }

    fn decide_bound<T>(&self, entry: &Entry) -> BoundClaims<T>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let claims = self.decide(entry)?;
        let confirmation = entry.confirmation.clone().map_err(|()| {
            IntrospectError::refused(crate::rejection::AuthErrorKind::InvalidClaims)
        })?;
        Ok((claims, confirmation))
    }

    /// The decision on a remembered (or fresh) answer, now.
    fn decide<T>(&self, entry: &Entry) -> Result<Arc<Claims<T>>, IntrospectError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let answer = entry.answer.as_ref().map_err(Clone::clone)?;
        let kept = entry
            .kept
            .get()
            .and_then(|kept| kept.downcast_ref::<Arc<Claims<T>>>())
            .cloned();
        let claims = match kept {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(claims_of::<T>(answer)?);
                // First come, first kept: another `T` decodes the answer.
                let _ = entry.kept.set(Box::new(Arc::clone(&claims)));
                claims
            }
        };
        let config = self.inner.client.config();
        check_claims(&claims, config, config.clock.now_secs()).map_err(IntrospectError::refused)?;
        Ok(claims)
    }

    fn now(&self) -> u64 {
        self.inner.client.config().clock.now_secs()
    }

    /// The entry for `token`: a live one, or one made by a call now (the
    /// only call for this token, however many ask at once).
    async fn entry(&self, token: &str) -> Result<Arc<Entry>, IntrospectError> {
        let Some(entries) = &self.inner.entries else {
            return self.call(token).await;
        };
        let key = self.key(token);
        let mut waited = false;
        loop {
            match entries.get_value_or_guard_async(&key).await {
                Ok(entry) if entry.expires_at > self.now() => {
                    record_lookup(if waited { "coalesced" } else { "hit" });
                    return Ok(entry);
                }
                Ok(_) => {
                    // Expired: gone, then asked again (by one caller).
                    entries.remove_if(&key, |entry| entry.expires_at <= self.now());
                    waited = true;
                }
                Err(guard) => {
                    record_lookup("miss");
                    let entry = self.call(token).await?;
                    if entry.expires_at > self.now() {
                        let _ = guard.insert(Arc::clone(&entry));
                    }
                    return Ok(entry);
                }
            }
        }
    }

    /// One call, within the bound on calls in flight, as an entry.
    async fn call(&self, token: &str) -> Result<Arc<Entry>, IntrospectError> {
        let inner = &*self.inner;
        let permit = tokio::time::timeout(inner.max_wait, inner.in_flight.acquire()).await;
        let Ok(Ok(_permit)) = permit else {
            tracing::warn!("introspection: too many calls in flight");
            return Err(IntrospectError::unavailable(Unavailable::Busy));
        };
        let answer = inner.client.ask(token).await;
        let now = self.now();
        let (expires_at, bytes) = match &answer {
            Ok(answer) => {
                let exp = answer.get("exp").and_then(Value::as_u64).unwrap_or(now);
                let bytes = serde_json::to_vec(answer).map_or(0, |b| b.len() as u64);
                (now.saturating_add(inner.ttl).min(exp), bytes)
            }
            Err(_) => (now.saturating_add(inner.inactive_ttl), 0),
        };
        let confirmation = match &answer {
            Ok(answer) => confirmation_of(answer).map(Arc::new),
            Err(_) => Ok(Arc::default()),
        };
        Ok(Arc::new(Entry {
            expires_at,
            answer,
            bytes,
            kept: OnceLock::new(),
            confirmation,
        }))
    }

    /// HMAC-SHA256 of the token under this cache's random key: no one who
    /// does not know the key can make two tokens share an entry.
    fn key(&self, token: &str) -> Key {
        let mut mac = self.inner.hasher.clone();
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// An answer's `cnf` (RFC 7662 §2.2, RFC 8705 §2 / RFC 9449 §6.2): absent
/// or null is no binding; anything that is not a confirmation is `Err`.
fn confirmation_of(answer: &Value) -> Result<Confirmation, ()> {
    match answer.get("cnf") {
        None | Some(Value::Null) => Ok(Confirmation::default()),
        Some(cnf) => Confirmation::deserialize(cnf).map_err(drop),
    }
}
