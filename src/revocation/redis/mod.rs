//! `RedisStore`: revocations and refresh families shared by every instance
//! through Redis, with a local view so the access path never waits on it.

mod backend;
mod builder;
mod endpoint;
mod feed;
mod freshness;
mod layout;
mod loader;
mod migrate;
mod pool;
mod scoping;
mod scripts;
mod sessions;
mod sync;
mod view;
mod wake;
mod write_back;

pub use self::builder::RedisStoreBuilder;
// For the fuzz targets only (`crate::__fuzz`, built by `cargo fuzz`).
#[cfg(fuzzing)]
pub(crate) use self::feed::parse_for_fuzzing as parse_feed_message;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_redis::redis;
use tokio::sync::watch;

use self::backend::Backend;
use self::feed::Event;
use self::freshness::Freshness;
use self::layout::{Names, ShardKeys};
use self::scripts::Scripts;
use self::view::View;
use super::{
    MAX_LISTED_SESSIONS, NewSession, RevocationStore, Rotation, RotationRequest, SessionRecord,
    StoreError, StoreFuture, TokenRef,
};

/// Default key prefix: `tower-jwt-auth`.
pub const DEFAULT_PREFIX: &str = "tower-jwt-auth";
/// Default bound on one Redis operation, pool wait included: 500 ms.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// Default bound on how long the local view may go without hearing from
/// Redis before the store stops vouching for it: 2 s.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(2);
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
///   kept current from each shard's change feed, read whenever a pub/sub
///   message names the shard (a message is a wake-up: what it says is never
///   applied, so a lost one costs a read and a forged one changes nothing).
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

impl RedisStore {
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
    /// every one of them takes first: the stream, the channel, the shard,
    /// the feed's history and now, by this instance's clock.
    fn revocation<'s>(
        &'s self,
        script: &'s redis::Script,
        shard: &'s ShardKeys,
    ) -> redis::ScriptInvocation<'s> {
        let mut call = script.key(&shard.stream);
        call.arg(self.names.channel())
            .arg(shard.index)
            .arg(self.history_ms)
            .arg(self.view.now_secs());
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
            let now = shared.now();
            if !session.subject.is_empty() {
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
                        .arg(session.expires_at)
                        .arg(now)
                        .arg(session.jkt.unwrap_or_default()),
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
                        .arg(rotation.revoke_until)
                        .arg(rotation.jkt.unwrap_or_default()),
                    shared.command_timeout,
                )
                .await?;
            Ok(match outcome {
                1 => Rotation::Rotated,
                3 => Rotation::Retried,
                4 => Rotation::KeyMismatch,
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
