//! The store's own connection pools, which do not `PING` before handing out
//! every connection.
//!
//! deadpool-redis checks each connection with a `PING` round trip on every
//! `get`, which doubles the Redis time of each script (refresh paid it on
//! every rotation). Here a connection is handed out without a round trip
//! when it answered a command within [`ALIVE_WINDOW`]; otherwise it is
//! pinged first, as before. A connection whose last command failed at the
//! connection level (I/O, dropped, timed out), or was abandoned mid-command
//! (the caller's timeout dropped the future), is never handed out again.

use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_redis::redis::{self, RedisError, RedisFuture, Value, aio};

/// How recently a connection must have answered to be handed out unchecked.
/// Loss of a connection within it shows as one failed command (503), never
/// as a wrong answer; after it, the connection is pinged before use.
pub(super) const ALIVE_WINDOW: Duration = Duration::from_secs(1);

/// A pooled connection with what is known of its health.
pub(super) struct Tracked<C> {
    conn: C,
    /// Set while a command is in flight; stays set if it failed at the
    /// connection level or its future was dropped.
    suspect: bool,
    last_ok: Instant,
}

impl<C: aio::ConnectionLike + Send> Tracked<C> {
    fn new(conn: C) -> Self {
        Self {
            conn,
            suspect: false,
            last_ok: Instant::now(),
        }
    }

    /// Records how a command ended (see [`Tracked::suspect`]).
    fn settle<T>(&mut self, result: &Result<T, RedisError>) {
        match result {
            Err(e) if breaks_connection(e) => {}
            _ => {
                self.suspect = false;
                self.last_ok = Instant::now();
            }
        }
    }

    async fn recycle(&mut self) -> RecycleResult<RedisError> {
        if self.suspect {
            return Err(RecycleError::message(
                "the connection's last command failed or was abandoned",
            ));
        }
        if self.last_ok.elapsed() < ALIVE_WINDOW {
            return Ok(());
        }
        let _: String = redis::cmd("PING").query_async(&mut self.conn).await?;
        self.last_ok = Instant::now();
        Ok(())
    }
}

/// Every command, pipeline or script sent through a pooled connection is
/// tracked, so any future use of the pool (pipelines included) keeps the
/// rule: a connection that failed or was abandoned is not handed out again.
impl<C: aio::ConnectionLike + Send> aio::ConnectionLike for Tracked<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            self.suspect = true;
            let result = self.conn.req_packed_command(cmd).await;
            self.settle(&result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            self.suspect = true;
            let result = self.conn.req_packed_commands(pipeline, offset, count).await;
            self.settle(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

/// An error after which the connection cannot be trusted to be in sync.
fn breaks_connection(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

/// Connections to one Redis.
pub(super) struct SingleManager {
    pub(super) client: redis::Client,
}

impl managed::Manager for SingleManager {
    type Type = Tracked<aio::MultiplexedConnection>;
    type Error = RedisError;

    async fn create(&self) -> Result<Self::Type, RedisError> {
        Ok(Tracked::new(
            self.client.get_multiplexed_async_connection().await?,
        ))
    }

    async fn recycle(&self, conn: &mut Self::Type, _: &Metrics) -> RecycleResult<RedisError> {
        conn.recycle().await
    }
}

/// Connections to a Redis Cluster (each routes to every node itself).
#[cfg(feature = "redis-cluster")]
pub(super) struct ClusterManager {
    pub(super) client: redis::cluster::ClusterClient,
}

#[cfg(feature = "redis-cluster")]
impl managed::Manager for ClusterManager {
    type Type = Tracked<redis::cluster_async::ClusterConnection>;
    type Error = RedisError;

    async fn create(&self) -> Result<Self::Type, RedisError> {
        Ok(Tracked::new(self.client.get_async_connection().await?))
    }

    async fn recycle(&self, conn: &mut Self::Type, _: &Metrics) -> RecycleResult<RedisError> {
        conn.recycle().await
    }
}
