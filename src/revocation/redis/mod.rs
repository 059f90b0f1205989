//! `RedisStore`: revocations and refresh families shared by every instance
//! through Redis, with a local view so the access path never waits on it.

mod backend;
mod endpoint;
mod freshness;
mod keys;
mod migrate;
mod pool;
mod sync;
mod view;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_redis::redis;
use tokio::sync::watch;

use self::backend::Backend;
use self::endpoint::{Endpoint, RedisUrl, TlsRoots};
use self::freshness::Freshness;
use self::keys::{Event, Names, ShardKeys};
use self::view::View;
use super::{
    MAX_LISTED_SESSIONS, NewSession, RevocationStore, Rotation, RotationRequest, SessionRecord,
    StoreError, StoreFuture, TokenRef,
};
use futures_util::StreamExt;

use crate::clock::{Clock, SystemClock};

/// Default key prefix: `tower-jwt-auth`.
pub const DEFAULT_PREFIX: &str = "tower-jwt-auth";
/// Default bound on one Redis operation, pool wait included: 500 ms.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// Default bound on how long the local view may go without hearing from
/// Redis before the store stops vouching for it: 2 s.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(2);
/// The longest history kept: a year.
const MAX_HISTORY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Default age of the change feed's history: 10 minutes. An instance cut
/// off from Redis for less than this resumes from the feed; after longer,
/// it reloads.
pub const DEFAULT_HISTORY: Duration = Duration::from_secs(600);

/// Revocations in Redis, for several instances of one service.
///
/// * **Access path without Redis.** Each instance keeps a compact local view
///   of the denied `jti`s, revoked families and subject cutoffs (about 60
///   bytes per revocation; live sessions cost it nothing): loaded at start
///   from per-shard sorted sets scored by expiry, in a few round trips, then
///   kept current from a pub/sub channel.
///   [`is_revoked`](RevocationStore::is_revoked) reads only that view (a
///   hash lookup and an atomic load).
/// * **A change feed that survives disconnects.** Every revocation is also
///   appended to its shard's Redis stream, in the same script: after a lost
///   connection, a network blip or a Redis restart (with persistence) an
///   instance reads each stream from the last change it saw instead of
///   reloading; it reloads a shard only when its stream no longer reaches
///   back that far ([`RedisStoreBuilder::history`]).
/// * **Writes are durable before they return.** Each write is one Lua script
///   that merges the entry into its shard (with an expiry: nothing outlives
///   the token it concerns), appends it to the stream and publishes it in
///   the same atomic step; the writing instance applies it to its own view
///   at once, the others within the pub/sub hop.
/// * **Rotation is atomic in Redis**: one script compares and swaps the
///   family's current `jti`, so of any number of instances exactly one
///   concurrent refresh wins. A shard's keys share one hash tag, so each
///   script touches one Redis Cluster slot. The layout is described in
///   [the Redis guide](crate::guides::redis); data written by the previous
///   release is migrated once, at the first start.
/// * **Fails closed.** Every Redis operation is bounded by a timeout
///   ([`DEFAULT_COMMAND_TIMEOUT`]); if the view goes without hearing from
///   Redis for longer than [`DEFAULT_MAX_STALENESS`] (its subscription connection is
///   pinged several times within that bound), `is_revoked` answers [`StoreError`] — 503 — until the
///   subscription is back and the view caught up, which happens by itself.
///   `is_revoked` judges that itself, from the moment the view last heard
///   from Redis, so a background task that cannot run cannot vouch for a
///   silent view. On a cluster, a master that serves slots and is flagged
///   failing or cannot be reached fails the load: the view is never
///   "current" without one of its shards.
///   [`RedisStoreBuilder::fail_open`] opts out, loudly.
/// * **TLS and AUTH** come from the URL: `rediss://user:password@host:port/db`
///   (feature `redis-tls`); cluster nodes discovered later are reached with
///   the same settings. `Debug` redacts the password.
///
/// Clones share one view and one background task; the task stops when the
/// last clone is dropped. Needs a Tokio runtime.
///
/// ```no_run
/// # async fn run() -> Result<(), tower_jwt_auth::StoreError> {
/// use tower_jwt_auth::revocation::RedisStore;
///
/// let store = RedisStore::builder("redis://127.0.0.1:6379")
///     .prefix("my-api")
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
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

/// What the store and its background task share.
struct Shared {
    backend: Backend,
    names: Names,
    view: View,
    /// How long the change feed keeps its history, in milliseconds.
    history_ms: u64,
    /// When the view was last known current: what `is_revoked` judges by.
    freshness: Freshness,
    /// What the background task last reported (logs, [`ViewStatus`]); the
    /// access path does not wait for it to be set.
    stale: AtomicBool,
    fail_open: bool,
    command_timeout: Duration,
    max_staleness: Duration,
    status: watch::Sender<ViewStatus>,
    scripts: Scripts,
}

struct Scripts {
    deny: redis::Script,
    cutoff: redis::Script,
    rotate: redis::Script,
    revoke_family: redis::Script,
    start_session: redis::Script,
    list_session: redis::Script,
    listed_sessions: redis::Script,
    unlist_sessions: redis::Script,
    session_record: redis::Script,
    end_session: redis::Script,
    write_back: redis::Script,
    resume: redis::Script,
    migrate_families: redis::Script,
    get: redis::Script,
    set: redis::Script,
}

/// The local view's state, as [`RedisStore::watch`] reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViewStatus {
    /// The view is loaded and its subscription heard from within the
    /// staleness bound, as the background task last reported it (logs and
    /// health checks). `is_revoked` does not wait for this report: it judges
    /// the bound itself, so it fails closed on time even when the task that
    /// would report it cannot run.
    pub current: bool,
    /// Changes from other instances (and this one) applied so far, from
    /// the channel or, after a reconnect, from the change feed.
    pub events_applied: u64,
    /// Loads from Redis' sets: the first, then one per reconnect that found
    /// a shard's change feed no longer reaching back to the last change seen.
    pub reloads: u64,
    /// Reconnects that caught up from the change feed alone, reloading nothing.
    pub resumes: u64,
    /// Write-backs finished: after a reload that followed a reconnect, what
    /// this instance enforces in the reloaded shards is written back to
    /// Redis (which may have lost it), in the background.
    pub write_backs: u64,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("RedisStore")
            .field("backend", &shared.backend)
            .field("prefix", &shared.names)
            .field("status", &*shared.status.borrow())
            .field("fail_open", &shared.fail_open)
            .finish_non_exhaustive()
    }
}

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

    /// The view's state now and as it changes: lets tests and health checks
    /// await "current again" or "this revocation arrived" instead of polling.
    pub fn watch(&self) -> watch::Receiver<ViewStatus> {
        self.inner.shared.status.subscribe()
    }

    /// The view's state now.
    pub fn status(&self) -> ViewStatus {
        *self.inner.shared.status.borrow()
    }

    /// Revocations the local view holds (expired ones not yet pruned
    /// included).
    pub fn view_len(&self) -> usize {
        self.inner.shared.view.len()
    }

    /// Heap bytes the local view holds, capacity included: what the
    /// revocations cost this process.
    pub fn view_heap_bytes(&self) -> usize {
        self.inner.shared.view.heap_bytes()
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
            scripts: Scripts {
                deny: keys::deny_script(),
                cutoff: keys::cutoff_script(),
                rotate: keys::rotate_script(),
                revoke_family: keys::revoke_family_script(),
                start_session: keys::start_session_script(),
                list_session: keys::list_session_script(),
                listed_sessions: keys::listed_sessions_script(),
                unlist_sessions: keys::unlist_sessions_script(),
                session_record: keys::session_record_script(),
                end_session: keys::end_session_script(),
                write_back: keys::write_back_script(),
                resume: keys::resume_script(),
                migrate_families: keys::migrate_families_script(),
                get: keys::get_script(),
                set: keys::set_script(),
            },
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

impl Shared {
    /// Applies one change to the view. Every change is a max-merge, so
    /// applying it twice, or out of order, is harmless.
    fn apply(&self, event: Event<'_>) {
        match event {
            Event::Jti { jti, expires_at } => self.view.deny_jti(jti, expires_at),
            Event::Cutoff {
                subject,
                cutoff_micros,
                expires_at,
            } => self.view.cut_off(subject, cutoff_micros, expires_at),
            Event::RevokedFamily { family, expires_at } => {
                self.view.revoke_family(family, expires_at);
            }
        }
    }

    /// A revocation script's invocation on `shard`, with the arguments
    /// every one of them takes first: the stream, the channel, the shard
    /// and the feed's history.
    fn revocation<'s>(
        &'s self,
        script: &'s redis::Script,
        shard: &'s ShardKeys,
    ) -> redis::ScriptInvocation<'s> {
        let mut call = script.key(&shard.stream);
        call.arg(self.names.channel())
            .arg(shard.index)
            .arg(self.history_ms);
        call
    }

    fn mark_stale(&self, reason: &str) {
        if !self.stale.swap(true, Ordering::AcqRel) {
            if self.fail_open {
                tracing::error!(
                    reason,
                    "revocation view is stale and the store FAILS OPEN: revocations made \
                     elsewhere are not enforced here until redis is back"
                );
            } else {
                tracing::warn!(
                    reason,
                    "revocation view is stale: failing closed (503) until redis is back"
                );
            }
            self.status.send_modify(|s| s.current = false);
            crate::metrics::redis_view_current(false);
        }
    }

    fn mark_current(&self) {
        if self.stale.swap(false, Ordering::AcqRel) {
            tracing::info!("revocation view is current");
        }
        self.status.send_modify(|s| s.current = true);
        crate::metrics::redis_view_current(true);
    }
}

impl Shared {
    /// Denies `jti` in Redis and feeds it; returns the expiry kept.
    async fn write_jti(&self, jti: &str, expires_at: u64) -> Result<u64, StoreError> {
        let shard = self.names.shard(jti);
        let kept = self
            .backend
            .invoke(
                self.revocation(&self.scripts.deny, shard)
                    .key(&shard.jtis)
                    .arg(jti)
                    .arg(expires_at),
                self.command_timeout,
            )
            .await?;
        self.apply(Event::Jti {
            jti,
            expires_at: kept,
        });
        Ok(kept)
    }

    /// Raises `subject`'s cutoff in Redis and feeds it.
    async fn write_cutoff(
        &self,
        subject: &str,
        cutoff_micros: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let shard = self.names.shard(subject);
        let kept = self
            .backend
            .invoke(
                self.revocation(&self.scripts.cutoff, shard)
                    .key(&shard.cutoffs)
                    .key(&shard.cutoff_values)
                    .arg(subject)
                    .arg(cutoff_micros)
                    .arg(expires_at),
                self.command_timeout,
            )
            .await?;
        self.apply(Event::Cutoff {
            subject,
            cutoff_micros,
            expires_at: kept,
        });
        Ok(())
    }

    /// Revokes `family` in Redis (dropping the family itself) and feeds it.
    async fn write_revoked_family(&self, family: &str, expires_at: u64) -> Result<(), StoreError> {
        let shard = self.names.shard(family);
        let kept = self
            .backend
            .invoke(
                self.revocation(&self.scripts.revoke_family, shard)
                    .key(&shard.families)
                    .key(shard.family(family))
                    .arg(family)
                    .arg(expires_at),
                self.command_timeout,
            )
            .await?;
        self.apply(Event::RevokedFamily {
            family,
            expires_at: kept,
        });
        Ok(())
    }
}

impl Shared {
    fn now(&self) -> u64 {
        SystemClock.now_secs()
    }

    /// A subject's live sessions: its list (pruned of ended entries), then
    /// each listed family's record, read concurrently. Families revoked or
    /// gone since are dropped from the list.
    async fn sessions(&self, subject: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let list_key = self.names.sessions_key(subject);
        let listed: Vec<String> = self
            .backend
            .invoke(
                self.scripts
                    .listed_sessions
                    .key(&list_key)
                    .arg(self.now())
                    .arg(MAX_LISTED_SESSIONS),
                self.command_timeout,
            )
            .await?;
        let reads = listed.into_iter().map(|family| async move {
            let shard = self.names.shard(&family);
            let fields: Option<Vec<Option<String>>> = self
                .backend
                .invoke(
                    self.scripts
                        .session_record
                        .key(&shard.families)
                        .key(shard.family(&family))
                        .arg(&family),
                    self.command_timeout,
                )
                .await?;
            Ok::<_, StoreError>((family, fields))
        });
        let mut pending = futures_util::stream::iter(reads).buffer_unordered(SESSION_READS);
        let mut live = Vec::new();
        let mut gone = Vec::new();
        while let Some(read) = pending.next().await {
            let (family, fields) = read?;
            match fields
                .as_deref()
                .and_then(|f| session_record(&family, subject, f))
            {
                Some(record) => live.push(record),
                None => gone.push(family),
            }
        }
        drop(pending);
        if !gone.is_empty() {
            let mut unlist = self.scripts.unlist_sessions.key(&list_key);
            for family in &gone {
                unlist.arg(family);
            }
            // Only tidies the list: listing skips these families anyway.
            if let Err(error) = self
                .backend
                .invoke::<i64>(&unlist, self.command_timeout)
                .await
            {
                tracing::debug!(%error, "could not drop ended sessions from the list");
            }
        }
        live.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(live)
    }

    /// Revokes `family` if it is a live family of `subject`.
    async fn end_session(
        &self,
        subject: &str,
        family: &str,
        revoke_until: u64,
    ) -> Result<bool, StoreError> {
        if subject.is_empty() {
            return Ok(false);
        }
        let shard = self.names.shard(family);
        let kept: i64 = self
            .backend
            .invoke(
                self.revocation(&self.scripts.end_session, shard)
                    .key(&shard.families)
                    .key(shard.family(family))
                    .arg(family)
                    .arg(revoke_until)
                    .arg(subject),
                self.command_timeout,
            )
            .await?;
        let Ok(kept) = u64::try_from(kept) else {
            return Ok(false);
        };
        self.apply(Event::RevokedFamily {
            family,
            expires_at: kept,
        });
        let unlisted = self
            .backend
            .invoke::<i64>(
                self.scripts
                    .unlist_sessions
                    .key(self.names.sessions_key(subject))
                    .arg(family),
                self.command_timeout,
            )
            .await;
        if let Err(error) = unlisted {
            tracing::debug!(%error, "could not drop an ended session from the list");
        }
        Ok(true)
    }
}

/// A session from its family's `sub`, `created`, `refreshed`, `ends`
/// fields, if it is `subject`'s and complete.
fn session_record(family: &str, subject: &str, fields: &[Option<String>]) -> Option<SessionRecord> {
    let [Some(sub), Some(created), Some(refreshed), Some(ends)] = fields else {
        return None;
    };
    (sub == subject).then_some(())?;
    Some(SessionRecord {
        id: family.to_owned(),
        created_at: created.parse().ok()?,
        last_refreshed_at: refreshed.parse().ok()?,
        expires_at: ends.parse().ok()?,
    })
}

/// Family records read at once while listing a subject's sessions.
const SESSION_READS: usize = 32;

impl RevocationStore for RedisStore {
    fn is_revoked(&self, token: &TokenRef<'_>) -> Result<bool, StoreError> {
        let shared = &self.inner.shared;
        // Judged here, on this clock: a background task too starved to mark
        // the view stale cannot keep it vouched for.
        if !shared.fail_open && !shared.freshness.is_current() {
            return Err(StoreError::new(
                "the redis revocation view is stale (redis not heard from within max_staleness)",
            ));
        }
        Ok(shared.view.is_revoked(token))
    }

    fn revoke_token<'a>(&'a self, jti: &'a str, expires_at: u64) -> StoreFuture<'a, ()> {
        if jti.is_empty() {
            super::refuse_empty_id("jti");
            return Box::pin(std::future::ready(Ok(())));
        }
        Box::pin(async move { self.inner.shared.write_jti(jti, expires_at).await.map(drop) })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff_micros: u64,
        expires_at: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(
            self.inner
                .shared
                .write_cutoff(subject, cutoff_micros, expires_at),
        )
    }

    fn start_session<'a>(&'a self, session: NewSession<'a>) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let shared = &self.inner.shared;
            // The list first: a listed family that never started is skipped
            // when listing, while a started one missing from the list could
            // not be found by its subject.
            if !session.subject.is_empty() {
                let now = shared.now();
                let () = shared
                    .backend
                    .invoke(
                        shared
                            .scripts
                            .list_session
                            .key(shared.names.sessions_key(session.subject))
                            .arg(session.family)
                            .arg(session.ends_at)
                            .arg(now)
                            .arg(session.expires_at),
                        shared.command_timeout,
                    )
                    .await?;
            }
            shared
                .backend
                .invoke(
                    shared
                        .scripts
                        .start_session
                        .key(shared.names.family(session.family))
                        .arg(session.jti)
                        .arg(session.subject)
                        .arg(session.created_at)
                        .arg(session.ends_at)
                        .arg(session.expires_at),
                    shared.command_timeout,
                )
                .await
        })
    }

    fn rotate_session<'a>(&'a self, rotation: RotationRequest<'a>) -> StoreFuture<'a, Rotation> {
        Box::pin(async move {
            let shared = &self.inner.shared;
            let family = rotation.family;
            let shard = shared.names.shard(family);
            let outcome: u8 = shared
                .backend
                .invoke(
                    shared
                        .revocation(&shared.scripts.rotate, shard)
                        .key(&shard.families)
                        .key(shard.family(family))
                        .arg(family)
                        .arg(rotation.presented)
                        .arg(rotation.next)
                        .arg(rotation.now)
                        .arg(rotation.reuse_grace_secs)
                        .arg(rotation.revoke_until),
                    shared.command_timeout,
                )
                .await?;
            Ok(match outcome {
                1 => Rotation::Rotated,
                3 => Rotation::Retried,
                2 => {
                    // The published event carries the exact expiry; this
                    // makes the revocation visible here before it arrives.
                    shared.apply(Event::RevokedFamily {
                        family,
                        expires_at: rotation.revoke_until,
                    });
                    Rotation::Reused
                }
                _ => Rotation::Unknown,
            })
        })
    }

    fn sessions<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Vec<SessionRecord>> {
        Box::pin(self.inner.shared.sessions(subject))
    }

    fn end_session<'a>(
        &'a self,
        subject: &'a str,
        family: &'a str,
        revoke_until: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(self.inner.shared.end_session(subject, family, revoke_until))
    }

    fn note_leeway(&self, leeway_secs: u64) {
        self.inner.shared.view.note_leeway(leeway_secs);
    }

    fn max_leeway(&self) -> u64 {
        self.inner.shared.view.max_leeway()
    }

    fn revoke_family<'a>(&'a self, family: &'a str, expires_at: u64) -> StoreFuture<'a, ()> {
        if family.is_empty() {
            super::refuse_empty_id("session");
            return Box::pin(std::future::ready(Ok(())));
        }
        Box::pin(self.inner.shared.write_revoked_family(family, expires_at))
    }
}
