//! Where commands go: a deadpool pool of one Redis, or of a Redis Cluster.
//! Subscriptions and the start-up scan use plain connections of their own,
//! because a pooled connection cannot be parked in `SUBSCRIBE`.

use std::time::Duration;

use deadpool_redis::redis::{self, FromRedisValue, RedisResult, ScriptInvocation};

use super::StoreError;

/// The pool the write path and the refresh compare-and-swap use.
#[derive(Clone)]
pub(super) enum Backend {
    Single(deadpool_redis::Pool),
    #[cfg(feature = "redis-cluster")]
    Cluster(deadpool_redis::cluster::Pool),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Single(pool) => f.debug_tuple("Single").field(&pool.status()).finish(),
            #[cfg(feature = "redis-cluster")]
            Backend::Cluster(pool) => f.debug_tuple("Cluster").field(&pool.status()).finish(),
        }
    }
}

impl Backend {
    /// A pool for one Redis whose waits, connects and recycles all give up
    /// after `timeout`, so pool exhaustion answers instead of queueing forever.
    pub(super) fn single(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let mut config = deadpool_redis::Config::from_url(url);
        config.pool = Some(pool_config(timeout));
        config
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map(Backend::Single)
            .map_err(|e| StoreError::new(format!("cannot create the redis pool: {e}")))
    }

    #[cfg(feature = "redis-cluster")]
    pub(super) fn cluster(urls: &[String], timeout: Duration) -> Result<Self, StoreError> {
        let mut config = deadpool_redis::cluster::Config::from_urls(urls.to_vec());
        config.pool = Some(pool_config(timeout));
        config
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map(Backend::Cluster)
            .map_err(|e| StoreError::new(format!("cannot create the redis cluster pool: {e}")))
    }

    /// Runs a script on a pooled connection, within `timeout` in all.
    pub(super) async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
        timeout: Duration,
    ) -> Result<T, StoreError> {
        let run = async {
            match self {
                Backend::Single(pool) => {
                    let mut conn = pool.get().await.map_err(pool_error)?;
                    invocation
                        .invoke_async(&mut conn)
                        .await
                        .map_err(command_error)
                }
                #[cfg(feature = "redis-cluster")]
                Backend::Cluster(pool) => {
                    let mut conn = pool.get().await.map_err(cluster_pool_error)?;
                    invocation
                        .invoke_async(&mut conn)
                        .await
                        .map_err(command_error)
                }
            }
        };
        within(timeout, run).await
    }
}

fn pool_config(timeout: Duration) -> deadpool_redis::PoolConfig {
    let mut config = deadpool_redis::PoolConfig::default();
    config.timeouts.wait = Some(timeout);
    config.timeouts.create = Some(timeout);
    config.timeouts.recycle = Some(timeout);
    config
}

/// Awaits `run`, or fails with a timeout error after `timeout`.
pub(super) async fn within<T>(
    timeout: Duration,
    run: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, run)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::new(format!(
                "redis did not answer within {timeout:?}"
            )))
        })
}

/// A plain (non-pooled) multiplexed connection, within `timeout`.
pub(super) async fn connect(
    client: &redis::Client,
    timeout: Duration,
) -> Result<redis::aio::MultiplexedConnection, StoreError> {
    within(timeout, async {
        client
            .get_multiplexed_async_connection()
            .await
            .map_err(command_error)
    })
    .await
}

pub(super) fn command_error(e: redis::RedisError) -> StoreError {
    StoreError::new(format!("redis command failed: {e}"))
}

fn pool_error(e: deadpool_redis::PoolError) -> StoreError {
    StoreError::new(format!("no redis connection: {e}"))
}

#[cfg(feature = "redis-cluster")]
fn cluster_pool_error(e: deadpool_redis::cluster::PoolError) -> StoreError {
    StoreError::new(format!("no redis cluster connection: {e}"))
}

/// Every key matching `pattern` with its value and its expiry (seconds since
/// the epoch), read with `SCAN` from one node.
pub(super) async fn scan_node(
    conn: &mut redis::aio::MultiplexedConnection,
    pattern: &str,
) -> RedisResult<Vec<(String, Option<String>, i64)>> {
    let mut found = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.cmd("GET").arg(key).cmd("EXPIRETIME").arg(key);
            }
            let values: Vec<(Option<String>, i64)> = pipe.query_async(conn).await?;
            found.extend(
                keys.into_iter()
                    .zip(values)
                    .map(|(key, (value, expiry))| (key, value, expiry)),
            );
        }
        if next == 0 {
            return Ok(found);
        }
        cursor = next;
    }
}

/// The `host:port` of every master of the cluster `conn` belongs to, from
/// `CLUSTER NODES`.
#[cfg(feature = "redis-cluster")]
pub(super) async fn cluster_masters(
    conn: &mut redis::aio::MultiplexedConnection,
) -> RedisResult<Vec<String>> {
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query_async(conn).await?;
    Ok(nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let flags = fields.get(2)?;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                return None;
            }
            let address = fields.get(1)?.split('@').next()?;
            Some(address.to_owned())
        })
        .collect())
}
