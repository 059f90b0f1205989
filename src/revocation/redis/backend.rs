//! Where commands go: a deadpool pool of one Redis, or of a Redis Cluster.
//! Subscriptions and the start-up scan use plain connections of their own,
//! because a pooled connection cannot be parked in `SUBSCRIBE`.

use std::time::Duration;

use deadpool::managed;
use deadpool_redis::redis::{self, FromRedisValue, ScriptInvocation};

use super::StoreError;
use super::endpoint::Endpoint;
#[cfg(feature = "redis-cluster")]
use super::pool::ClusterManager;
use super::pool::SingleManager;

/// The pool the write path and the refresh compare-and-swap use.
#[derive(Clone)]
pub(super) enum Backend {
    /// A pool the application handed in ([`RedisStore::from_pool`](super::RedisStore::from_pool)).
    Given(deadpool_redis::Pool),
    Single(managed::Pool<SingleManager>),
    #[cfg(feature = "redis-cluster")]
    Cluster(managed::Pool<ClusterManager>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Given(pool) => f.debug_tuple("Given").field(&pool.status()).finish(),
            Backend::Single(pool) => f.debug_tuple("Single").field(&pool.status()).finish(),
            #[cfg(feature = "redis-cluster")]
            Backend::Cluster(pool) => f.debug_tuple("Cluster").field(&pool.status()).finish(),
        }
    }
}

impl Backend {
    /// A pool for one Redis whose waits, connects and recycles all give up
    /// after `timeout`, so pool exhaustion answers instead of queueing forever.
    pub(super) fn single(endpoint: &Endpoint, timeout: Duration) -> Result<Self, StoreError> {
        let manager = SingleManager {
            client: endpoint.client()?,
        };
        managed::Pool::builder(manager)
            .config(pool_config(timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map(Backend::Single)
            .map_err(|e| StoreError::new(format!("cannot create the redis pool: {e}")))
    }

    /// A pool of cluster connections; every node is reached with the
    /// credentials and TLS settings of the first URL.
    #[cfg(feature = "redis-cluster")]
    pub(super) fn cluster(endpoints: &[Endpoint], timeout: Duration) -> Result<Self, StoreError> {
        let nodes: Vec<redis::ConnectionInfo> =
            endpoints.iter().map(|e| e.info().clone()).collect();
        #[allow(unused_mut)]
        let mut builder = redis::cluster::ClusterClientBuilder::new(nodes);
        #[cfg(feature = "redis-tls")]
        if let Some(first) = endpoints.first()
            && first.roots().0.is_some()
        {
            builder = builder.certs(super::endpoint::tls::certificates(first.roots()));
        }
        let client = builder.build().map_err(|e| {
            StoreError::new(format!("cannot configure the redis cluster client: {e}"))
        })?;
        managed::Pool::builder(ClusterManager { client })
            .config(pool_config(timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
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
                Backend::Given(pool) => {
                    let mut conn = pool.get().await.map_err(pool_error)?;
                    run_script(invocation, &mut conn).await
                }
                Backend::Single(pool) => {
                    let mut conn = pool.get().await.map_err(pool_error)?;
                    run_script(invocation, &mut *conn).await
                }
                #[cfg(feature = "redis-cluster")]
                Backend::Cluster(pool) => {
                    let mut conn = pool.get().await.map_err(pool_error)?;
                    run_script(invocation, &mut *conn).await
                }
            }
        };
        within(timeout, run).await
    }
}

/// One multiplexed connection for bulk work (loading, resuming, writing
/// back, migrating): many scripts in flight over it at once, pipelined,
/// instead of one pooled connection each. The pool keeps the few it needs
/// for the request path, so a Redis restart costs that path at most one
/// failed command, as before.
#[derive(Clone)]
pub(super) enum Bulk {
    Pool(deadpool_redis::Pool),
    Single(redis::aio::MultiplexedConnection),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Backend {
    /// A connection for bulk work, within `timeout`.
    pub(super) async fn bulk(&self, timeout: Duration) -> Result<Bulk, StoreError> {
        match self {
            Backend::Given(pool) => Ok(Bulk::Pool(pool.clone())),
            Backend::Single(pool) => connect(&pool.manager().client, timeout)
                .await
                .map(Bulk::Single),
            #[cfg(feature = "redis-cluster")]
            Backend::Cluster(pool) => {
                within(timeout, async {
                    pool.manager()
                        .client
                        .get_async_connection()
                        .await
                        .map(Bulk::Cluster)
                        .map_err(command_error)
                })
                .await
            }
        }
    }
}

impl Backend {
    /// Drops the idle pooled connections: after the subscription was lost
    /// and found again, those made before may be broken (a Redis restart),
    /// and the request path should not be the one to find out.
    pub(super) fn drop_idle(&self) {
        match self {
            Backend::Given(_) => {}
            Backend::Single(pool) => drop(pool.retain(|_, _| false)),
            #[cfg(feature = "redis-cluster")]
            Backend::Cluster(pool) => drop(pool.retain(|_, _| false)),
        }
    }
}

impl Bulk {
    /// Sends a pipeline (every key of one slot), within `timeout`; each
    /// command's reply, unparsed.
    pub(super) async fn pipeline(
        &self,
        pipe: &redis::Pipeline,
        timeout: Duration,
    ) -> Result<Vec<redis::Value>, StoreError> {
        let run = async {
            match self {
                Bulk::Pool(pool) => {
                    let mut conn = pool.get().await.map_err(pool_error)?;
                    pipe.query_async(&mut conn).await.map_err(command_error)
                }
                Bulk::Single(conn) => pipe
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(command_error),
                #[cfg(feature = "redis-cluster")]
                Bulk::Cluster(conn) => pipe
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(command_error),
            }
        };
        within(timeout, run).await
    }

    /// Runs a script, within `timeout`.
    pub(super) async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
        timeout: Duration,
    ) -> Result<T, StoreError> {
        let run = async {
            match self {
                Bulk::Pool(pool) => {
                    let mut conn = pool.get().await.map_err(pool_error)?;
                    run_script(invocation, &mut conn).await
                }
                Bulk::Single(conn) => run_script(invocation, &mut conn.clone()).await,
                #[cfg(feature = "redis-cluster")]
                Bulk::Cluster(conn) => run_script(invocation, &mut conn.clone()).await,
            }
        };
        within(timeout, run).await
    }
}

/// Runs a script on `conn`.
async fn run_script<T: FromRedisValue>(
    invocation: &ScriptInvocation<'_>,
    conn: &mut (impl redis::aio::ConnectionLike + Send),
) -> Result<T, StoreError> {
    invocation.invoke_async(conn).await.map_err(command_error)
}

fn pool_config(timeout: Duration) -> deadpool::managed::PoolConfig {
    let mut config = deadpool::managed::PoolConfig::default();
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
    // No response timeout of the client's own (500 ms by default): every
    // command on these connections is bounded by its caller, a bulk one
    // (a shard's load, a migration page) by more than one command's bound.
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(None);
    within(timeout, async {
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(command_error)
    })
    .await
}

pub(super) fn command_error(e: redis::RedisError) -> StoreError {
    // A pipeline's error lists every command that failed, often the same
    // error thousands of times: the first is named, the others counted.
    if let Some(errors) = e.clone().into_server_errors()
        && let [(index, first), _, ..] = &errors[..]
    {
        return StoreError::new(format!(
            "redis command failed: {first} (command {index} of a pipeline; {} more of its \
             commands failed too)",
            errors.len() - 1
        ));
    }
    StoreError::new(format!("redis command failed: {e}"))
}

fn pool_error(e: managed::PoolError<redis::RedisError>) -> StoreError {
    StoreError::new(format!("no redis connection: {e}"))
}

/// The `(host, port)` of every master that serves slots, from
/// `CLUSTER NODES` on the node `conn` is connected to. Fails (the view
/// cannot be current) when such a master is flagged `fail` or `fail?`, or
/// when some slot has no master: a load that skipped it would leave out
/// every revocation of its shard. A failed master without slots is one whose
/// replica took over: the promoted node serves its slots and is read instead.
#[cfg(feature = "redis-cluster")]
pub(super) async fn cluster_masters(
    conn: &mut redis::aio::MultiplexedConnection,
) -> Result<Vec<(String, u16)>, StoreError> {
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(conn)
        .await
        .map_err(command_error)?;
    masters_serving_every_slot(&nodes)
}

/// Slots of a Redis Cluster.
#[cfg(feature = "redis-cluster")]
const SLOTS: usize = 16384;

/// See [`cluster_masters`]; parses the text of `CLUSTER NODES`.
#[cfg(feature = "redis-cluster")]
fn masters_serving_every_slot(nodes: &str) -> Result<Vec<(String, u16)>, StoreError> {
    let mut masters = Vec::new();
    let mut covered = vec![false; SLOTS];
    for line in nodes.lines().filter(|l| !l.trim().is_empty()) {
        // <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(address), Some(flags)) = (fields.get(1), fields.get(2)) else {
            return Err(StoreError::new("unreadable CLUSTER NODES line"));
        };
        let flags: Vec<&str> = flags.split(',').collect();
        let slots = fields.get(8..).unwrap_or_default();
        if !flags.contains(&"master") || slots.is_empty() {
            continue;
        }
        let failing = flags.iter().any(|f| *f == "fail" || *f == "fail?");
        if failing {
            return Err(StoreError::new(format!(
                "cluster master {address} is flagged failing: the view would miss its shard"
            )));
        }
        for range in slots.iter().filter(|s| !s.starts_with('[')) {
            // `[slot->-id]` entries are slots being migrated, still served here.
            let (low, high) = range.split_once('-').unwrap_or((range, range));
            let (Ok(low), Ok(high)) = (low.parse::<usize>(), high.parse::<usize>()) else {
                return Err(StoreError::new("unreadable slot range in CLUSTER NODES"));
            };
            for slot in covered.iter_mut().take(high.min(SLOTS - 1) + 1).skip(low) {
                *slot = true;
            }
        }
        let host_port = address.split(['@', ',']).next().unwrap_or_default();
        let Some((host, port)) = host_port
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .filter(|(host, port)| !host.is_empty() && *port != 0)
        else {
            return Err(StoreError::new(format!(
                "cluster master {address} has no address: the view would miss its shard"
            )));
        };
        masters.push((host.trim_matches(['[', ']']).to_owned(), port));
    }
    if let Some(slot) = covered.iter().position(|c| !c) {
        return Err(StoreError::new(format!(
            "cluster slot {slot} has no serving master: the view would miss it"
        )));
    }
    Ok(masters)
}

#[cfg(all(test, feature = "redis-cluster"))]
mod tests {
    use super::masters_serving_every_slot;

    const HEALTHY: &str = "\
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7002@17002 master - 0 1 2 connected 5461-10922
c3 127.0.0.1:7003@17003,node-c master - 0 1 3 connected 10923-16383
d4 127.0.0.1:7004@17004 slave a1 0 1 1 connected
";

    #[test]
    fn every_slot_serving_master_is_listed_with_its_address() {
        let masters = masters_serving_every_slot(HEALTHY).unwrap();
        assert_eq!(
            masters,
            [7001, 7002, 7003].map(|port| ("127.0.0.1".to_owned(), port))
        );
    }

    #[test]
    fn a_failing_master_with_slots_makes_the_view_not_current() {
        for flag in ["master,fail", "master,fail?"] {
            let nodes = HEALTHY.replace(
                "b2 127.0.0.1:7002@17002 master",
                &format!("b2 127.0.0.1:7002@17002 {flag}"),
            );
            let error = masters_serving_every_slot(&nodes).unwrap_err();
            assert!(error.to_string().contains("7002"), "{flag}: {error}");
        }
    }

    #[test]
    fn after_a_failover_the_promoted_replica_is_read_and_the_failed_master_is_not() {
        let nodes = "\
a1 127.0.0.1:7001@17001 master,fail - 0 0 1 disconnected
b2 127.0.0.1:7002@17002 master - 0 1 2 connected 5461-10922
c3 127.0.0.1:7003@17003 master - 0 1 3 connected 10923-16383
d4 127.0.0.1:7004@17004 myself,master - 0 1 4 connected 0-5460
";
        let masters = masters_serving_every_slot(nodes).unwrap();
        assert_eq!(
            masters,
            [7002, 7003, 7004].map(|port| ("127.0.0.1".to_owned(), port))
        );
    }

    #[test]
    fn uncovered_slots_make_the_view_not_current() {
        let nodes = HEALTHY.replace(" 5461-10922", "");
        let error = masters_serving_every_slot(&nodes).unwrap_err();
        assert!(error.to_string().contains("5461"), "{error}");
    }
}
