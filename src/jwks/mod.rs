//! Remote key sets (feature `jwks`): an issuer's JWK Set fetched over HTTP(S)
//! and kept current, found directly or through OpenID Connect / RFC 8414
//! discovery.
//!
//! The rules, and why:
//!
//! * **The request path never waits on the network**, with one exception:
//!   a token whose `kid` is not in the current set triggers one refetch and
//!   waits for it, so a key the issuer has just added works at once. Such
//!   refetches are coalesced (a thousand concurrent requests cost one fetch)
//!   and rate-limited to one per [`min_refresh`](RemoteJwksBuilder::min_refresh)
//!   (a flood of random `kid`s costs at most one fetch per interval; the rest
//!   are refused at once).
//! * **Background refresh** at least every [`max_age`](RemoteJwksBuilder::max_age)
//!   (default 5 min), sooner when the issuer's `Cache-Control: max-age` says
//!   so, never sooner than `min_refresh` (default 10 s).
//! * **A bad fetch never removes good keys.** A failed, slow (over the
//!   deadline, default 5 s), malformed, oversized (over 1 MiB) or empty
//!   answer keeps the last good set. A key the issuer removed stops
//!   verifying once a fetch succeeds without it — including tokens the
//!   verified-token cache holds.
//! * **No keys yet is not a bad token.** Until a first set has been fetched,
//!   requests with a credential get 503 with `Retry-After`; the source keeps
//!   retrying with backoff, and the process starts anyway.
//! * **Only configured URLs are fetched**: never one a token names (`jku`,
//!   `x5u` are not read at all); https, or http on a loopback host unless
//!   [`allow_http`](RemoteJwksBuilder::allow_http) says otherwise; no
//!   redirects with the default client.
//! * **Only signature keys of asymmetric types** are taken (RSA, EC P-256 /
//!   P-384, Ed25519); `oct` keys of a published set are ignored.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_jwt_auth::jwks::RemoteJwks;
//! use tower_jwt_auth::{JwtAuthLayer, JwtConfig, TokenProfile, Verifier};
//!
//! let issuer = "https://id.example.com/realms/app";
//! let keys = RemoteJwks::discover(issuer).build()?;
//! let config = JwtConfig::new()
//!     .issuer(issuer)
//!     .audience("api")
//!     .profile(TokenProfile::generic());
//! let layer = JwtAuthLayer::new(Verifier::new(keys, config));
//! # let _ = layer;
//! # Ok(()) }
//! ```

mod discovery;
mod fetch;
mod keyset;

pub use discovery::{DiscoveryError, ProviderMetadata};

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use self::keyset::parse_key_set;
use crate::keys::{Algorithm, KeySource, KeysRefetch, RemoteKeys, Snapshot};

/// Default longest time between two fetches: 5 minutes.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// Default shortest time between two fetches, and between two refetches for
/// unknown `kid`s: 10 seconds.
pub const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(10);
/// Default deadline of one fetch, connection and body included: 5 seconds.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Default cap on a fetched document: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The first retry after a failed fetch; doubled per failure up to
/// `max_age` (and at most [`MAX_BACKOFF`]).
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Why a remote key set could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// Built outside a Tokio runtime: the refresh task needs one.
    NoRuntime,
    /// The URL is not one this crate fetches (https, or http on loopback).
    UnsupportedUrl(String),
    /// The HTTP client could not be built.
    Client(String),
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRuntime => f.write_str("a remote key set needs a Tokio runtime"),
            Self::UnsupportedUrl(url) => {
                write!(f, "`{url}` is not an https URL (or http on loopback)")
            }
            Self::Client(e) => write!(f, "HTTP client: {e}"),
        }
    }
}

impl std::error::Error for JwksError {}

/// Where the JWK Set is: a URL, or found through the issuer's metadata.
#[derive(Clone, Debug)]
enum Location {
    Url(String),
    Discover(String),
}

/// Builds a [`RemoteJwks`]; every setting has a documented default.
#[must_use]
pub struct RemoteJwksBuilder {
    location: Location,
    min_refresh: Duration,
    max_age: Duration,
    fetch_timeout: Duration,
    max_body: usize,
    rsa_algorithm: Algorithm,
    allow_http: bool,
    client: Option<reqwest::Client>,
}

impl fmt::Debug for RemoteJwksBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwksBuilder")
            .field("location", &self.location)
            .field("min_refresh", &self.min_refresh)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl RemoteJwksBuilder {
    fn new(location: Location) -> Self {
        Self {
            location,
            min_refresh: DEFAULT_MIN_REFRESH,
            max_age: DEFAULT_MAX_AGE,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            rsa_algorithm: Algorithm::RS256,
            allow_http: false,
            client: None,
        }
    }

    /// Shortest time between fetches, and between two refetches for unknown
    /// `kid`s (default [`DEFAULT_MIN_REFRESH`]).
    pub fn min_refresh(mut self, interval: Duration) -> Self {
        self.min_refresh = interval;
        self
    }

    /// Longest time between fetches (default [`DEFAULT_MAX_AGE`]); a shorter
    /// `Cache-Control: max-age` is honoured down to `min_refresh`.
    pub fn max_age(mut self, interval: Duration) -> Self {
        self.max_age = interval;
        self
    }

    /// Deadline of one fetch (default [`DEFAULT_FETCH_TIMEOUT`]).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Largest document read (default [`DEFAULT_MAX_BODY`]).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The algorithm of RSA keys whose JWK names none (default RS256).
    pub fn rsa_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.rsa_algorithm = algorithm;
        self
    }

    /// Fetch plain `http://` URLs on any host, not only loopback ones.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Fetch with this client (proxies, root certificates, …). The deadline
    /// and body cap apply on top of its own settings.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Starts the refresh task (in the current Tokio runtime) and returns at
    /// once: requests get 503 until the first key set has been fetched
    /// ([`RemoteJwks::ready`] waits for it).
    pub fn build(self) -> Result<RemoteJwks, JwksError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| JwksError::NoRuntime)?;
        let (Location::Url(url) | Location::Discover(url)) = &self.location;
        check_url(url, self.allow_http).map_err(JwksError::UnsupportedUrl)?;
        let client = match self.client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(self.fetch_timeout)
                .build()
                .map_err(|e| JwksError::Client(e.to_string()))?,
        };
        let (fetched, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            keys: ArcSwapOption::empty(),
            epoch: AtomicU64::new(0),
            refetch: Mutex::new(RefetchState::default()),
            wake: Notify::new(),
            fetched,
            stats: Stats::default(),
            settings: Settings {
                location: self.location,
                min_refresh: self.min_refresh,
                max_age: self.max_age.max(self.min_refresh),
                fetch_timeout: self.fetch_timeout,
                max_body: self.max_body,
                rsa_algorithm: self.rsa_algorithm,
                allow_http: self.allow_http,
            },
            client,
        });
        let task = runtime.spawn(refresh_loop(Arc::downgrade(&shared)));
        Ok(RemoteJwks {
            inner: Arc::new(Inner {
                shared,
                task: task.abort_handle(),
            }),
        })
    }
}

/// A JWK Set fetched from an issuer and kept current; see the
/// [module docs](self) for the rules. Cheap to clone: clones share one set
/// and one refresh task, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct RemoteJwks {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    task: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    keys: ArcSwapOption<Snapshot>,
    epoch: AtomicU64,
    refetch: Mutex<RefetchState>,
    wake: Notify,
    /// Counts the refetches made for unknown `kid`s; waiters watch it.
    fetched: watch::Sender<u64>,
    stats: Stats,
    settings: Settings,
    client: reqwest::Client,
}

struct Settings {
    location: Location,
    min_refresh: Duration,
    max_age: Duration,
    fetch_timeout: Duration,
    max_body: usize,
    rsa_algorithm: Algorithm,
    allow_http: bool,
}

#[derive(Default)]
struct RefetchState {
    /// When the last refetch for an unknown `kid` was asked for.
    last: Option<Instant>,
    /// One is asked for and not finished: later askers wait for it.
    pending: bool,
}

#[derive(Default)]
struct Stats {
    fetches: AtomicU64,
    failures: AtomicU64,
    refetches: AtomicU64,
}

/// What a [`RemoteJwks`] holds and has done, for health checks and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwksStatus {
    /// Whether a key set has been fetched yet.
    pub loaded: bool,
    /// How many keys the current set holds.
    pub keys: usize,
    /// Fetches that yielded a key set.
    pub fetches: u64,
    /// Fetches that failed (the last good set was kept).
    pub failures: u64,
    /// Refetches made for unknown `kid`s.
    pub unknown_kid_refetches: u64,
}

impl RemoteJwks {
    /// A key set fetched from `url`.
    pub fn builder(url: impl Into<String>) -> RemoteJwksBuilder {
        RemoteJwksBuilder::new(Location::Url(url.into()))
    }

    /// A key set found through `issuer`'s metadata: OpenID Connect discovery
    /// (`/.well-known/openid-configuration`), else RFC 8414
    /// (`/.well-known/oauth-authorization-server`). The document's `issuer`
    /// must be exactly `issuer`; a mismatch is logged as a configuration
    /// error and no keys are taken (use [`discover`] to check it at startup).
    pub fn discover(issuer: impl Into<String>) -> RemoteJwksBuilder {
        RemoteJwksBuilder::new(Location::Discover(issuer.into()))
    }

    /// Waits until a first key set has been fetched, or `timeout` passed;
    /// true when keys are there.
    pub async fn ready(&self, timeout: Duration) -> bool {
        let mut fetched = self.inner.shared.fetched.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            if self.inner.shared.keys.load().is_some() {
                return true;
            }
            // The refresh task signals every fetch before the first success.
            if tokio::time::timeout_at(deadline, fetched.changed())
                .await
                .is_err()
            {
                return self.inner.shared.keys.load().is_some();
            }
        }
    }

    /// What the set holds and how its fetches went.
    pub fn status(&self) -> JwksStatus {
        self.inner.shared.status()
    }
}

impl Shared {
    fn status(&self) -> JwksStatus {
        let shared = self;
        JwksStatus {
            loaded: shared.keys.load().is_some(),
            keys: shared.keys.load().as_ref().map_or(0, |s| s.keys.len()),
            fetches: shared.stats.fetches.load(Ordering::Relaxed),
            failures: shared.stats.failures.load(Ordering::Relaxed),
            unknown_kid_refetches: shared.stats.refetches.load(Ordering::Relaxed),
        }
    }
}

impl RemoteKeys for Inner {
    fn current(&self) -> arc_swap::Guard<Option<Arc<Snapshot>>> {
        self.shared.keys.load()
    }

    fn epoch(&self) -> u64 {
        self.shared.epoch.load(Ordering::Acquire)
    }

    /// Asks for a refetch for an unknown `kid`: joins the one in flight, or
    /// starts one unless one was started less than `min_refresh` ago.
    fn refetch_for_unknown_kid(&self) -> Option<KeysRefetch> {
        let shared = &self.shared;
        if shared.keys.load().is_none() {
            // No set yet: the refresh task is already retrying.
            return None;
        }
        let mut fetched = shared.fetched.subscribe();
        {
            let mut state = shared
                .refetch
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !state.pending {
                let now = Instant::now();
                if state
                    .last
                    .is_some_and(|last| now.duration_since(last) < shared.settings.min_refresh)
                {
                    return None;
                }
                state.last = Some(now);
                state.pending = true;
                shared.stats.refetches.fetch_add(1, Ordering::Relaxed);
                crate::metrics::jwks_unknown_kid_refetch();
                shared.wake.notify_one();
            }
        }
        // A little past the fetch deadline: the task always signals, this is
        // only a bound should it have gone.
        let bound = shared.settings.fetch_timeout * 2 + Duration::from_secs(1);
        Some(Box::pin(async move {
            let _ = tokio::time::timeout(bound, fetched.changed()).await;
        }))
    }
}

impl From<RemoteJwks> for KeySource {
    fn from(remote: RemoteJwks) -> Self {
        KeySource::remote(remote.inner)
    }
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Shown as the handle (a [`KeySource`] holds the inner part).
impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("location", &self.shared.settings.location)
            .field("status", &self.shared.status())
            .finish()
    }
}

/// Fetches `issuer`'s metadata once (OpenID Connect discovery, then
/// RFC 8414) and checks that it names exactly `issuer`: for a startup check
/// that turns a mix-up into an error message instead of a stream of 503s.
pub async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    timeout: Duration,
) -> Result<ProviderMetadata, DiscoveryError> {
    discovery::discover(client, issuer, timeout, DEFAULT_MAX_BODY, false).await
}

/// `url` is fetched only over https, or http on a loopback host.
pub(crate) fn check_url(url: &str, allow_http: bool) -> Result<(), String> {
    let parsed: http::Uri = url.parse().map_err(|_| url.to_owned())?;
    let host = parsed.host().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if !host.is_empty() && (loopback || allow_http) => Ok(()),
        _ => Err(url.to_owned()),
    }
}

// ===== the refresh task =====

/// Fetches at start, then on schedule or when asked; ends when the last
/// handle is dropped.
async fn refresh_loop(shared: std::sync::Weak<Shared>) {
    let mut jwks_url: Option<String> = None;
    let mut backoff = FIRST_BACKOFF;
    let mut forced = false;
    loop {
        let Some(state) = shared.upgrade() else {
            return;
        };
        let was_loaded = state.keys.load().is_some();
        let outcome = fetch_once(&state, &mut jwks_url).await;
        crate::metrics::jwks_fetch(outcome.is_ok());
        let next = match outcome {
            Ok(max_age) => {
                backoff = FIRST_BACKOFF;
                max_age
                    .unwrap_or(state.settings.max_age)
                    .clamp(state.settings.min_refresh, state.settings.max_age)
            }
            Err(()) => {
                state.stats.failures.fetch_add(1, Ordering::Relaxed);
                let wait = backoff;
                backoff = (backoff * 2).min(state.settings.max_age).min(MAX_BACKOFF);
                wait
            }
        };
        // Waiters for a refetch, and for the first key set, hear of every
        // attempt that concerns them.
        if forced || !was_loaded {
            if forced {
                state
                    .refetch
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pending = false;
            }
            state.fetched.send_modify(|n| *n += 1);
        }
        let wake = async {
            state.wake.notified().await;
        };
        forced = tokio::select! {
            () = tokio::time::sleep(next) => false,
            () = wake => true,
        };
    }
}

/// One fetch (after discovery, when the URL is not known yet); `Ok` with the
/// issuer's `max-age` when a key set was taken.
async fn fetch_once(state: &Shared, jwks_url: &mut Option<String>) -> Result<Option<Duration>, ()> {
    let settings = &state.settings;
    let url = match (&settings.location, &*jwks_url) {
        (Location::Url(url), _) => url.clone(),
        (Location::Discover(_), Some(url)) => url.clone(),
        (Location::Discover(issuer), None) => {
            match discovery::discover(
                &state.client,
                issuer,
                settings.fetch_timeout,
                settings.max_body,
                settings.allow_http,
            )
            .await
            {
                Ok(metadata) => {
                    tracing::info!(issuer = %issuer, jwks_uri = %metadata.jwks_uri, "issuer discovered");
                    jwks_url.insert(metadata.jwks_uri).clone()
                }
                Err(error @ DiscoveryError::IssuerMismatch { .. }) => {
                    tracing::error!(%error, "configuration error: no keys are taken from this issuer");
                    return Err(());
                }
                Err(error) => {
                    tracing::warn!(issuer = %issuer, %error, "issuer discovery failed; retrying");
                    return Err(());
                }
            }
        }
    };
    let fetched = match fetch::get(
        &state.client,
        &url,
        settings.fetch_timeout,
        settings.max_body,
    )
    .await
    {
        Ok(fetched) => fetched,
        Err(error) => {
            tracing::warn!(%url, %error, "JWK Set fetch failed; keeping the last good set");
            return Err(());
        }
    };
    let next = match parse_key_set(&fetched.body, settings.rsa_algorithm) {
        Ok(next) => next,
        Err(error) => {
            tracing::warn!(%url, %error, "JWK Set refused; keeping the last good set");
            return Err(());
        }
    };
    let previous = state.keys.load_full();
    if previous.as_ref().is_some_and(|p| p.loses_keys_in(&next)) {
        // Cached tokens verified by a key that has gone must be verified
        // again: the epoch tells the verified-token cache.
        state.epoch.fetch_add(1, Ordering::AcqRel);
    }
    tracing::debug!(%url, keys = next.keys.len(), "JWK Set fetched");
    state.keys.store(Some(Arc::new(next)));
    state.stats.fetches.fetch_add(1, Ordering::Relaxed);
    Ok(fetched.max_age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_fetched() {
        assert!(check_url("https://id.example.com/jwks", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks", false).is_ok());
        assert!(check_url("http://[::1]:8080/jwks", false).is_ok());
        assert!(check_url("http://localhost/jwks", false).is_ok());
        assert!(check_url("http://id.example.com/jwks", false).is_err());
        assert!(check_url("http://id.example.com/jwks", true).is_ok());
        assert!(check_url("file:///etc/passwd", true).is_err());
        assert!(check_url("not a url", false).is_err());
    }
}
