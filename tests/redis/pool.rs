//! The store's own pool hands out recently used connections without a
//! `PING`; a connection that broke (Redis restarted under it) or was
//! abandoned mid-command (a timeout on a frozen Redis) is replaced, never
//! reused, so at most the one command that met the break fails (503).

use deadpool_redis::redis;
use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::RevocationStore;

use super::redis_server::RedisServer;
use super::suite::{later, token, unique};

async fn store(server: &RedisServer) -> RedisStore {
    RedisStore::builder(server.url())
        .prefix(unique("pool"))
        .command_timeout(super::COMMAND_TIMEOUT)
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_broken_by_a_restart_is_replaced_after_at_most_one_failed_write() {
    let Some(mut server) = RedisServer::start(true) else {
        return;
    };
    let store = store(&server).await;
    store
        .revoke_token(&unique("before"), later())
        .await
        .unwrap();

    // Within the window in which the pooled connection is not pinged.
    server.restart();
    let first = store.revoke_token(&unique("first"), later()).await;
    let jti = unique("after");
    store
        .revoke_token(&jti, later())
        .await
        .unwrap_or_else(|e| panic!("the broken connection was reused ({first:?}): {e}"));
    assert!(store.is_revoked(&token(&jti, "s", None, 1)).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_abandoned_by_a_timeout_is_not_handed_out_again() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let store = store(&server).await;
    store
        .revoke_token(&unique("before"), later())
        .await
        .unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut observer = client.get_multiplexed_async_connection().await.unwrap();
    let connections_before = connections_received(&mut observer).await;

    server.freeze();
    let abandoned = store.revoke_token(&unique("frozen"), later()).await;
    assert!(abandoned.is_err(), "a frozen redis times out (503)");
    server.thaw();
    let jti = unique("after");
    store.revoke_token(&jti, later()).await.unwrap();
    assert!(store.is_revoked(&token(&jti, "s", None, 1)).unwrap());
    // The write after the thaw went over a new connection.
    assert!(
        connections_received(&mut observer).await > connections_before,
        "the abandoned connection was handed out again"
    );
}

/// Connections the server accepted since it started (`INFO stats`).
async fn connections_received(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("total_connections_received in INFO stats")
}
