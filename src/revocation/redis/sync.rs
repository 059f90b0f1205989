//! The background task that keeps a [`RedisStore`](super::RedisStore)'s local
//! view current: subscribe, then load everything, then apply each published
//! change; ping the subscription's connection to prove it alive;
//! on any loss, mark the view stale once the bound passes and start over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::redis;
use futures_util::StreamExt;
use tokio::time::MissedTickBehavior;

use super::backend::{self, within};
use super::endpoint::Endpoint;
use super::keys::{Event, Kind};
use super::{Shared, StoreError};

/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

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
        })
    }

    /// The first subscription and load; its failure fails `connect`.
    pub(super) async fn first_sync(self) -> Result<Synced, StoreError> {
        self.sync().await.map_err(|(_, e)| e)
    }

    /// Subscribes, then loads every key, then marks the view current.
    /// Subscribing first means nothing published during the load is missed.
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
        if let Err(e) = self.load().await {
            return Err((self, e));
        }
        // After a reconnect Redis may have restarted empty: give it back
        // what this instance still enforces.
        let reconnect = self.shared.status.borrow().reloads > 0;
        if reconnect {
            match self.shared.write_back().await {
                Ok(entries) => tracing::info!(entries, "revocations written back to redis"),
                Err(e) => return Err((self, e)),
            }
        }
        self.shared.status.send_modify(|s| s.reloads += 1);
        crate::metrics::redis_view_reloaded(reconnect);
        self.shared.freshness.heard_at(Instant::now());
        self.shared.mark_current();
        let (sink, stream) = pubsub.split();
        Ok(Synced {
            subscriber: self,
            sink,
            stream,
        })
    }

    /// Reads every key of the prefix (on every master of a cluster) into the
    /// view. The bound is generous: a large deny-list takes several round trips.
    async fn load(&self) -> Result<(), StoreError> {
        let timeout = self.shared.command_timeout * 20;
        within(timeout, async {
            for client in self.scan_targets().await? {
                let mut conn = backend::connect(&client, self.shared.command_timeout).await?;
                let entries = backend::scan_node(&mut conn, self.shared.names.pattern())
                    .await
                    .map_err(backend::command_error)?;
                for (key, value, expiry) in entries {
                    self.apply_loaded(&key, value.as_deref(), expiry).await;
                }
            }
            Ok(())
        })
        .await
    }

    /// The nodes to scan: the one Redis, or each master of the cluster that
    /// serves slots (failing, if one is flagged failing or a slot is
    /// unserved: a view without that shard is not current).
    async fn scan_targets(&self) -> Result<Vec<redis::Client>, StoreError> {
        if !self.cluster {
            return Ok(self.clients[..1].to_vec());
        }
        #[cfg(feature = "redis-cluster")]
        {
            let mut last_error = StoreError::new("no cluster node reachable");
            for (client, endpoint) in self.clients.iter().zip(&self.endpoints) {
                let masters = async {
                    let mut conn = backend::connect(client, self.shared.command_timeout).await?;
                    backend::cluster_masters(&mut conn).await
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

    async fn apply_loaded(&self, key: &str, value: Option<&str>, expiry: i64) {
        let Some((kind, id)) = self.shared.names.parse(key) else {
            return;
        };
        // Keys expire at `expires_at + 1`; a key without a TTL (or one that
        // vanished between SCAN and EXPIRETIME) is skipped.
        let Some(expires_at) = u64::try_from(expiry).ok().and_then(|e| e.checked_sub(1)) else {
            return;
        };
        let event = match kind {
            Kind::Jti => Event::Jti {
                jti: id,
                expires_at,
            },
            Kind::RevokedFamily => Event::RevokedFamily {
                family: id,
                expires_at,
            },
            Kind::Cutoff => match value.and_then(|v| v.parse().ok()) {
                Some(cutoff_micros) => Event::Cutoff {
                    subject: id,
                    cutoff_micros,
                    expires_at,
                },
                None => return,
            },
            Kind::Family => return,
        };
        self.shared.apply(event).await;
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

    /// Applies published changes until the subscription is lost, or silent
    /// (no change and no answer to a `PING` on it) for longer than the
    /// staleness bound. The ping goes over the subscription's own connection,
    /// so it proves exactly that connection alive, whatever the pool does.
    /// Each change, and each answer, records the moment in the shared
    /// [`Freshness`](super::freshness::Freshness) the readers judge by.
    async fn follow(self) -> Subscriber {
        let Synced {
            subscriber,
            sink,
            mut stream,
        } = self;
        // Each pong carries the moment its ping was sent: the answer proves
        // every change published before then delivered, not more.
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<Instant>(4);
        let shared = &subscriber.shared;
        let bound = shared.max_staleness;
        let mut ping = tokio::time::interval(ping_period(bound));
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // A change that reached the connection before a pong is in
                // the stream by the time the pong is: read the stream first,
                // so a pong never vouches for a change not yet applied.
                biased;
                message = stream.next() => {
                    let Some(message) = message else {
                        tracing::warn!("redis subscription lost");
                        break;
                    };
                    let payload = message.get_payload_bytes();
                    match std::str::from_utf8(payload).ok().and_then(Event::parse) {
                        Some(event) => {
                            shared.apply(event).await;
                            shared.status.send_modify(|s| s.events_applied += 1);
                            crate::metrics::redis_view_event();
                        }
                        None => tracing::warn!("ignoring a malformed revocation event"),
                    }
                    shared.freshness.heard_at(Instant::now());
                }
                Some(sent) = pong_rx.recv() => shared.freshness.heard_at(sent),
                _ = ping.tick() => {
                    if shared.freshness.expired() {
                        shared.mark_stale("redis subscription silent");
                        break;
                    }
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
                }
            }
        }
        subscriber
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
