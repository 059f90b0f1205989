//! The background task that keeps a [`RedisStore`](super::RedisStore)'s local
//! view current.
//!
//! Subscribe, then load each shard's revocations together with its stream
//! position. Then follow the channel as a wake-up only: a message names a
//! shard, and the view reads that shard's stream from its own position
//! ([`wake`](super::wake)); a message's content is never applied. Ping the
//! subscription's connection to prove it alive. On any loss:
//! subscribe again and *resume*, reading each shard's stream from the last
//! id seen. Only a shard whose stream no longer holds everything since then
//! (trimmed past it, or lost with a Redis that restarted empty) is reloaded,
//! and only then is what this instance enforces in that shard written back,
//! in batches, after the view is trusted again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::redis;
use futures_util::{FutureExt, StreamExt};
use tokio::time::MissedTickBehavior;

use super::backend::Bulk;
use super::backend::{self, within};
use super::endpoint::Endpoint;
use super::feed::StreamId;
use super::layout::SHARDS;
use super::loader::load_shard;
use super::wake::{self, Caught, SHARD_CONCURRENCY, WakeUps, catch_up_shard};

use super::{Shared, StoreError, StoreFuture};

/// Longest pause between reconnection attempts: a Redis back from a restart
/// is noticed within it.
const MAX_BACKOFF: Duration = Duration::from_millis(250);

/// Messages gathered into one round of reads at most: under a burst, a shard
/// woken many times is read once.
const WAKE_UPS_PER_ROUND: usize = 1024;

pub(super) struct Subscriber {
    shared: Arc<Shared>,
    /// The configured nodes; cluster masters found later are reached with
    /// their credentials, TLS settings and database.
    #[cfg_attr(not(feature = "redis-cluster"), allow(dead_code))]
    endpoints: Vec<Endpoint>,
    clients: Vec<redis::Client>,
    cluster: bool,
    /// Which client the next subscription uses (cluster: rotate on failure).
    next_client: usize,
    /// The last stream id applied, per shard; `None` before the first load.
    positions: Option<Vec<StreamId>>,
}

/// A subscribed, loaded view, ready to follow the channel.
pub(super) struct Synced {
    subscriber: Subscriber,
    sink: redis::aio::PubSubSink,
    stream: redis::aio::PubSubStream,
}

impl Subscriber {
    pub(super) fn new(
        shared: Arc<Shared>,
        endpoints: Vec<Endpoint>,
        cluster: bool,
    ) -> Result<Self, StoreError> {
        let clients = endpoints
            .iter()
            .map(Endpoint::client)
            .collect::<Result<Vec<_>, _>>()?;
        if clients.is_empty() {
            return Err(StoreError::new("no redis url given"));
        }
        Ok(Self {
            shared,
            endpoints,
            clients,
            cluster,
            next_client: 0,
            positions: None,
        })
    }

    /// The first subscription and load; its failure fails `connect`.
    pub(super) async fn first_sync(self) -> Result<Synced, StoreError> {
        self.sync().await.map_err(|(_, e)| e)
    }

    /// Subscribes, then brings every shard up to date, then marks the view
    /// current. Subscribing first means nothing published meanwhile is missed.
    async fn sync(mut self) -> Result<Synced, (Self, StoreError)> {
        let timeout = self.shared.command_timeout;
        let client = &self.clients[self.next_client % self.clients.len()];
        let subscribed = within(timeout, async {
            let mut pubsub = client
                .get_async_pubsub()
                .await
                .map_err(backend::command_error)?;
            pubsub
                .subscribe(self.shared.names.channel())
                .await
                .map_err(backend::command_error)?;
            Ok(pubsub)
        })
        .await;
        let pubsub = match subscribed {
            Ok(pubsub) => pubsub,
            Err(e) => {
                self.next_client += 1;
                return Err((self, e));
            }
        };
        let first = self.positions.is_none();
        // No bound on the whole: each of its calls is bounded, and a large
        // view takes as many as it needs. Boxed as `Send` here, where its
        // lifetimes are concrete.
        let catch_up: StoreFuture<'_, Vec<usize>> = Box::pin(self.catch_up());
        let caught = catch_up.await;
        let reloaded = match caught {
            Ok(reloaded) => reloaded,
            Err(e) => return Err((self, e)),
        };
        if !first {
            self.shared.backend.drop_idle();
        }
        if first || !reloaded.is_empty() {
            // A bulk load leaves spare capacity behind.
            self.shared.view.shrink_to_fit();
            self.shared.status.send_modify(|s| s.reloads += 1);
            crate::metrics::redis_view_reloaded(false);
        } else {
            self.shared.status.send_modify(|s| s.resumes += 1);
            crate::metrics::redis_view_reloaded(true);
        }
        self.shared.freshness.heard_at(Instant::now());
        self.shared.mark_current();
        // The view is complete (what Redis holds, plus what it held): it is
        // trusted now. Redis may lack some of it (it restarted empty, or
        // lost its last writes): give those back, off the access path.
        if !first && !reloaded.is_empty() {
            tokio::spawn(super::write_back::write_back(self.shared.clone(), reloaded));
        }
        let (sink, stream) = pubsub.split();
        Ok(Synced {
            subscriber: self,
            sink,
            stream,
        })
    }

    /// Loads every shard (the first time, after migrating a previous
    /// layout), or resumes each from its position. Returns the shards that
    /// had to be reloaded after the first load.
    async fn catch_up(&mut self) -> Result<Vec<usize>, StoreError> {
        self.check_cluster().await?;
        let shared = &self.shared;
        let bulk = &shared.backend.bulk(shared.command_timeout).await?;
        let Some(positions) = self.positions.clone() else {
            super::scoping::read_marker(shared).await?;
            let nodes = self.scan_targets().await?;
            let migrate: StoreFuture<'_, ()> =
                Box::pin(super::migrate::migrate_once(shared, bulk, &nodes));
            migrate.await?;
            let loads: Vec<StoreFuture<'_, StreamId>> = shared
                .names
                .shards()
                .iter()
                .map(|shard| Box::pin(load_shard(shared, bulk, shard)) as StoreFuture<'_, StreamId>)
                .collect();
            let positions = futures_util::stream::iter(loads)
                .buffered(SHARD_CONCURRENCY)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?;
            self.positions = Some(positions);
            return Ok(Vec::new());
        };
        let resumes: Vec<StoreFuture<'_, Caught>> = shared
            .names
            .shards()
            .iter()
            .zip(positions)
            .map(|(shard, at)| {
                Box::pin(catch_up_shard(shared, bulk, shard, at)) as StoreFuture<'_, Caught>
            })
            .collect();
        let caught = futures_util::stream::iter(resumes)
            .buffered(SHARD_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let mut reloaded = Vec::new();
        let mut positions = Vec::with_capacity(SHARDS);
        for (index, caught) in caught.into_iter().enumerate() {
            positions.push(match caught {
                Caught::Resumed(at) => at,
                Caught::Reloaded(at) => {
                    reloaded.push(index);
                    at
                }
            });
        }
        if !reloaded.is_empty() {
            tracing::info!(
                shards = reloaded.len(),
                "redis change feed did not reach back far enough: those shards were reloaded"
            );
        }
        self.positions = Some(positions);
        Ok(reloaded)
    }

    /// On a cluster, fails (the view cannot be current) when a master that
    /// serves slots is flagged failing or some slot has no master.
    async fn check_cluster(&self) -> Result<(), StoreError> {
        if self.cluster {
            self.scan_targets().await?;
        }
        Ok(())
    }

    /// The nodes holding keys: the one Redis, or each master of the cluster
    /// that serves slots (failing, if one is flagged failing or a slot is
    /// unserved: a view without that shard is not current).
    async fn scan_targets(&self) -> Result<Vec<redis::Client>, StoreError> {
        if !self.cluster {
            return Ok(self.clients[..1].to_vec());
        }
        #[cfg(feature = "redis-cluster")]
        {
            let mut last_error = StoreError::new("no cluster node reachable");
            for (client, endpoint) in self.clients.iter().zip(&self.endpoints) {
                let timeout = self.shared.command_timeout;
                let masters = async {
                    let mut conn = backend::connect(client, timeout).await?;
                    within(timeout, backend::cluster_masters(&mut conn)).await
                };
                match masters.await {
                    Ok(masters) => {
                        return masters
                            .iter()
                            .map(|(host, port)| endpoint.client_at(host, *port))
                            .collect();
                    }
                    Err(e) => last_error = e,
                }
            }
            Err(last_error)
        }
        #[cfg(not(feature = "redis-cluster"))]
        unreachable!("cluster stores exist only with the redis-cluster feature")
    }
}

impl Synced {
    /// Follows the channel forever, resynchronizing after every loss.
    pub(super) async fn run(self) {
        let mut synced = self;
        loop {
            let subscriber = synced.follow().await;
            synced = subscriber.resync().await;
        }
    }

    /// Reads the shards the channel wakes until the subscription is lost, or
    /// silent (no message and no answer to a `PING` on it) for longer than
    /// the staleness bound, or a read fails. The ping goes over the
    /// subscription's own connection, so it proves exactly that connection
    /// alive, whatever the pool does. Each message, once the reads it asked
    /// for are done, and each answer record the moment in the shared
    /// [`Freshness`](super::freshness::Freshness) the readers judge by.
    async fn follow(self) -> Subscriber {
        let Synced {
            mut subscriber,
            sink,
            mut stream,
        } = self;
        let shared = subscriber.shared.clone();
        // The reads' own connection, held while following.
        let bulk = match shared.backend.bulk(shared.command_timeout).await {
            Ok(bulk) => bulk,
            Err(error) => {
                tracing::warn!(%error, "redis change feed unreachable");
                return subscriber;
            }
        };
        let mut wake_ups = WakeUps::new();
        // Each pong carries the moment its ping was sent: the answer proves
        // every change published before then delivered, not more.
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<Instant>(4);
        let bound = shared.max_staleness;
        let mut ping = tokio::time::interval(ping_period(bound));
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // A change that reached the connection before a pong is in
                // the stream by the time the pong is: read the messages
                // (and the shards they wake) first, so a pong never vouches
                // for a change not yet applied.
                biased;
                message = stream.next() => {
                    let Some(message) = message else {
                        tracing::warn!("redis subscription lost");
                        break;
                    };
                    let heard = Instant::now();
                    wake_ups.note(message.get_payload_bytes());
                    // What else has arrived joins this round.
                    let mut lost = false;
                    for _ in 1..WAKE_UPS_PER_ROUND {
                        match stream.next().now_or_never() {
                            Some(Some(message)) => wake_ups.note(message.get_payload_bytes()),
                            Some(None) => {
                                lost = true;
                                break;
                            }
                            None => break,
                        }
                    }
                    if let Err(error) = subscriber.read_woken(&bulk, &mut wake_ups).await {
                        tracing::warn!(%error, "redis change feed unreadable");
                        break;
                    }
                    shared.freshness.heard_at(heard);
                    if lost {
                        tracing::warn!("redis subscription lost");
                        break;
                    }
                }
                Some(sent) = pong_rx.recv() => shared.freshness.heard_at(sent),
                _ = ping.tick() => {
                    if shared.freshness.expired() {
                        shared.mark_stale("redis subscription silent");
                        break;
                    }
                    shared.view.prune();
                    let (mut sink, pong_tx) = (sink.clone(), pong_tx.clone());
                    let timeout = shared.command_timeout;
                    // Off the select loop, so a slow Redis cannot delay events.
                    tokio::spawn(async move {
                        let sent = Instant::now();
                        let pong = tokio::time::timeout(timeout, sink.ping::<redis::Value>()).await;
                        if matches!(pong, Ok(Ok(_))) {
                            let _ = pong_tx.try_send(sent);
                        }
                    });
                    // One shard in turn, woken or not: a change whose
                    // message was lost, with none after it on its shard, is
                    // read within one round of the shards.
                    wake_ups.sweep();
                    if let Err(error) = subscriber.read_woken(&bulk, &mut wake_ups).await {
                        tracing::warn!(%error, "redis change feed unreadable");
                        break;
                    }
                }
            }
        }
        subscriber
    }
}

impl Subscriber {
    /// Reads the shards due from the view's positions. A shard whose
    /// stream no longer reaches back to its position is reloaded, and what
    /// the view enforces there written back, as after a reconnect.
    async fn read_woken(&mut self, bulk: &Bulk, wake_ups: &mut WakeUps) -> Result<(), StoreError> {
        let Some(positions) = self.positions.as_mut() else {
            return Ok(());
        };
        let shards = wake_ups.take(positions);
        if shards.is_empty() {
            return Ok(());
        }
        let shared = &self.shared;
        let read: StoreFuture<'_, Vec<usize>> =
            Box::pin(wake::read_shards(shared, bulk, &shards, positions));
        let reloaded = read.await?;
        if !reloaded.is_empty() {
            tracing::info!(
                shards = reloaded.len(),
                "redis change feed no longer reached back to the last change read: \
                 those shards were reloaded"
            );
            shared.status.send_modify(|s| s.reloads += 1);
            crate::metrics::redis_view_reloaded(false);
            tokio::spawn(super::write_back::write_back(shared.clone(), reloaded));
        }
        Ok(())
    }
}

impl Subscriber {
    /// Retries [`Subscriber::sync`] with backoff. Readers stop trusting the
    /// view once the bound has passed since it was last known good, by
    /// themselves; this reports it (logs, [`ViewStatus`](super::ViewStatus))
    /// at that moment, even while an attempt is still waiting on a hung Redis.
    async fn resync(self) -> Synced {
        let shared = self.shared.clone();
        let last_heard = shared.freshness.last_heard().unwrap_or_else(Instant::now);
        let stale_at = tokio::time::Instant::from_std(last_heard + shared.max_staleness);
        let mut backoff = Duration::from_millis(25);
        let mut subscriber = self;
        loop {
            let attempt = subscriber.sync();
            tokio::pin!(attempt);
            let mut watching = true;
            let result = loop {
                tokio::select! {
                    result = &mut attempt => break result,
                    () = tokio::time::sleep_until(stale_at), if watching => {
                        shared.mark_stale("redis unreachable");
                        watching = false;
                    }
                }
            };
            match result {
                Ok(synced) => return synced,
                Err((again, e)) => {
                    tracing::warn!(error = %e, "redis resynchronization failed; retrying");
                    subscriber = again;
                }
            }
            if shared.freshness.expired() {
                shared.mark_stale("redis unreachable");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Pings often enough that a few may go unanswered within the bound.
fn ping_period(bound: Duration) -> Duration {
    (bound / 4).max(Duration::from_millis(10))
}
