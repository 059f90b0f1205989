//! [`RedisStoreBuilder`]: the store's settings, and `connect`, which builds
//! the shared state, loads the view and starts the background task.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::watch;

use super::backend::Backend;
use super::endpoint::{Endpoint, RedisUrl, TlsRoots};
use super::freshness::Freshness;
use super::layout::Names;
use super::scripts::Scripts;
use super::view::View;
use super::{
    DEFAULT_COMMAND_TIMEOUT, DEFAULT_HISTORY, DEFAULT_MAX_STALENESS, DEFAULT_PREFIX, Inner,
    RedisStore, Shared, StoreError, ViewStatus, sync,
};
use crate::clock::{Clock, SystemClock};

/// The longest history kept: a year.
const MAX_HISTORY: Duration = Duration::from_secs(365 * 24 * 3600);

/// Builds a [`RedisStore`]; see [`RedisStore::builder`].
#[derive(Debug)]
#[must_use]
pub struct RedisStoreBuilder {
    /// `Debug` shows them with passwords redacted.
    urls: Vec<RedisUrl>,
    tls_roots: TlsRoots,
    pool: Option<Backend>,
    cluster: bool,
    prefix: String,
    command_timeout: Duration,
    max_staleness: Duration,
    history: Duration,
    fail_open: bool,
    clock: std::sync::Arc<dyn Clock>,
    leeway: u64,
}

impl RedisStore {
    /// Connects to the Redis at `url` with the defaults.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// A builder for the Redis at `url` (`redis://host:port/db`; with a
    /// password `redis://:password@…`, an ACL user `redis://user:password@…`,
    /// TLS `rediss://…` with the `redis-tls` feature).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            urls: vec![RedisUrl::new(url.into())],
            tls_roots: TlsRoots::default(),
            pool: None,
            cluster: false,
            prefix: DEFAULT_PREFIX.to_owned(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            max_staleness: DEFAULT_MAX_STALENESS,
            history: DEFAULT_HISTORY,
            fail_open: false,
            clock: Arc::new(SystemClock),
            leeway: 0,
        }
    }

    /// A builder that sends commands through an existing pool. `url` names
    /// the same Redis: the store opens one extra connection there for its
    /// subscription, which a pooled connection cannot serve.
    pub fn from_pool(pool: deadpool_redis::Pool, url: impl Into<String>) -> RedisStoreBuilder {
        let mut builder = Self::builder(url);
        builder.pool = Some(Backend::Given(pool));
        builder
    }

    /// A builder for a Redis Cluster, given some of its nodes. Subscriptions
    /// go to one node (cluster pub/sub reaches every node); the start-up load
    /// checks that every slot has a healthy master and reads each shard
    /// where it lives. Nodes must accept the same connection settings.
    #[cfg(feature = "redis-cluster")]
    pub fn cluster(urls: impl IntoIterator<Item = impl Into<String>>) -> RedisStoreBuilder {
        let urls: Vec<RedisUrl> = urls
            .into_iter()
            .map(|url| RedisUrl::new(url.into()))
            .collect();
        let mut builder = Self::builder(String::new());
        builder.urls = urls;
        builder.cluster = true;
        builder
    }
}

impl RedisStoreBuilder {
    /// Prefix of every key and of the channel, so several applications can
    /// share one Redis. Default [`DEFAULT_PREFIX`]. Avoid `{` and `}`: they
    /// would break the hash tags.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bound on each Redis operation, waiting for a pooled connection
    /// included. Default [`DEFAULT_COMMAND_TIMEOUT`].
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// How long the view may go without hearing from Redis before the store
    /// stops vouching for it. Default [`DEFAULT_MAX_STALENESS`].
    pub fn max_staleness(mut self, bound: Duration) -> Self {
        self.max_staleness = bound;
        self
    }

    /// Answer from a stale view instead of failing closed. Revocations made
    /// while this instance cannot hear Redis are then not enforced here
    /// until it reconnects; the store logs an error each time the view goes
    /// stale. Writes still fail (503) while Redis is unreachable.
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    /// Trust these PEM root certificates (one or more) for `rediss://`
    /// servers, instead of the system's trust store: a private CA.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_jwt_auth::StoreError> {
    /// use tower_jwt_auth::revocation::RedisStore;
    ///
    /// let ca = std::fs::read("/etc/redis/ca.pem").expect("the CA certificate");
    /// let store = RedisStore::builder("rediss://app:secret@redis.internal:6380/0")
    ///     .tls_root_certificates(ca)
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "redis-tls")]
    pub fn tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_roots = TlsRoots(Some(pem.into()));
        self
    }

    /// The largest leeway of any verifier, in any process, that reads this
    /// Redis (default: only the leeways noted in this process). Every
    /// revocation is kept that long past its token's expiry, so a verifier
    /// with a larger leeway than the one that revoked never accepts the
    /// token again. Set it where the processes sharing Redis use different
    /// leeways.
    pub fn max_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = self.leeway.max(leeway.as_secs());
        self
    }

    /// How long each shard's change feed keeps its history (default
    /// [`DEFAULT_HISTORY`]). An instance cut off from Redis for less than
    /// this catches up from the feed; after longer it reloads. Redis holds
    /// about 100 bytes per revocation of that window. At most a year.
    pub fn history(mut self, history: Duration) -> Self {
        self.history = history;
        self
    }

    /// The clock the local view prunes expired entries by (tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Creates the pool, subscribes, loads the view and starts the
    /// background task. Fails if Redis cannot be reached within the command
    /// timeout: an instance that cannot see revocations does not start.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let endpoints = self
            .urls
            .iter()
            .map(|url| Endpoint::parse(url, &self.tls_roots))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = endpoints.first() else {
            return Err(StoreError::new("no redis url given"));
        };
        let backend = match self.pool {
            Some(backend) => backend,
            #[cfg(feature = "redis-cluster")]
            None if self.cluster => Backend::cluster(&endpoints, self.command_timeout)?,
            None => Backend::single(first, self.command_timeout)?,
        };
        let view = View::new(self.clock);
        view.note_leeway(self.leeway);
        let shared = Arc::new(Shared {
            backend,
            names: Names::new(&self.prefix),
            view,
            // Bounded so the script's `now - history` stays a plain integer.
            history_ms: u64::try_from(self.history.min(MAX_HISTORY).as_millis())
                .unwrap_or(u64::MAX),
            freshness: Freshness::new(self.max_staleness),
            stale: AtomicBool::new(true),
            fail_open: self.fail_open,
            command_timeout: self.command_timeout,
            max_staleness: self.max_staleness,
            status: watch::Sender::new(ViewStatus::default()),
            scripts: Scripts::new(),
        });
        let first_sync = sync::Subscriber::new(shared.clone(), endpoints, self.cluster)?
            .first_sync()
            .await?;
        let task = tokio::spawn(first_sync.run()).abort_handle();
        Ok(RedisStore {
            inner: Arc::new(Inner { shared, task }),
        })
    }
}
