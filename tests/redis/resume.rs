//! The change feed: after a lost subscription, a network blip or a Redis
//! restart (with its append-only file), instances catch up from the streams
//! instead of reloading, and reload a shard only when its stream no longer
//! reaches back to the last change they saw.

use std::time::Duration;

use deadpool_redis::redis;
use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::RevocationStore;

use super::instances::until_revoked;
use super::redis_server::RedisServer;
use super::tcp_proxy::TcpProxy;
use super::{COMMAND_TIMEOUT, HANG_GUARD, MAX_STALENESS, redis_layout, suite};
use suite::{later, token, unique};

async fn store_at(url: &str, prefix: &str) -> RedisStore {
    RedisStore::builder(url)
        .prefix(prefix)
        .command_timeout(COMMAND_TIMEOUT)
        .max_staleness(MAX_STALENESS)
        .connect()
        .await
        .expect("connect to the test redis")
}

/// Waits until the view is current again after a loss, by either way.
async fn caught_up(store: &RedisStore, syncs_before: u64) {
    let mut status = store.watch();
    tokio::time::timeout(
        HANG_GUARD,
        status.wait_for(|s| s.current && s.reloads + s.resumes > syncs_before),
    )
    .await
    .expect("the view caught up")
    .unwrap();
}

async fn went_stale(store: &RedisStore) {
    let mut status = store.watch();
    tokio::time::timeout(HANG_GUARD, status.wait_for(|s| !s.current))
        .await
        .expect("the view went stale")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_redis_is_killed_and_restarted_with_its_append_only_file_instances_resume_without_reloading()
 {
    let Some(mut server) = RedisServer::start(true) else {
        return;
    };
    let prefix = unique("aof");
    let (a, b) = (
        store_at(&server.url(), &prefix).await,
        store_at(&server.url(), &prefix).await,
    );
    let before = unique("before");
    b.revoke_token(&before, later()).await.unwrap();
    until_revoked(&a, token(&before, "s", None, 1)).await;

    server.kill();
    went_stale(&a).await;
    assert!(
        a.is_revoked(&token(&before, "s", None, 1)).is_err(),
        "fails closed"
    );
    server.restart();
    caught_up(&a, 1).await;
    caught_up(&b, 1).await;

    let status = a.status();
    assert_eq!(
        (status.reloads, status.resumes),
        (1, 1),
        "resumed from the feed, nothing reloaded"
    );
    assert!(a.is_revoked(&token(&before, "s", None, 1)).unwrap());
    let after = unique("after");
    b.revoke_token(&after, later()).await.unwrap();
    until_revoked(&a, token(&after, "s", None, 1)).await;
    assert_eq!(
        a.status().write_backs,
        0,
        "Redis lost nothing: nothing written back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_subscription_resumes_from_the_feed_without_a_reload() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let prefix = unique("dropped");
    let store = store_at(&server.url(), &prefix).await;
    store.revoke_token("held", later()).await.unwrap();

    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(killed, 1, "the store's one subscription");
    caught_up(&store, 1).await;
    let status = store.status();
    assert_eq!((status.reloads, status.resumes), (1, 1));
    assert!(store.is_revoked(&token("held", "s", None, 1)).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_made_while_an_instance_was_cut_off_is_applied_when_it_reconnects() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let prefix = unique("blip");
    let proxy = TcpProxy::start(([127, 0, 0, 1], server.port()).into()).await;
    let cut_off = store_at(&proxy.redis_url(), &prefix).await;
    let writer = store_at(&server.url(), &prefix).await;
    let (jti, subject, family) = (unique("jti"), unique("sub"), unique("fam"));
    writer.start_family(&family, "r0", later()).await.unwrap();
    let events_before = cut_off.status().events_applied;

    proxy.cut();
    went_stale(&cut_off).await;
    // Published while it could not hear: its pub/sub message is lost to it.
    writer.revoke_token(&jti, later()).await.unwrap();
    writer
        .revoke_subject(&subject, 5_000, later())
        .await
        .unwrap();
    writer.revoke_family(&family, later()).await.unwrap();
    proxy.restore();
    caught_up(&cut_off, 1).await;

    let status = cut_off.status();
    assert_eq!((status.reloads, status.resumes), (1, 1), "nothing reloaded");
    assert!(
        status.events_applied >= events_before + 3,
        "read from the feed"
    );
    assert!(cut_off.is_revoked(&token(&jti, "s", None, 1)).unwrap());
    assert!(
        cut_off
            .is_revoked(&token("x", &subject, None, 4_999))
            .unwrap()
    );
    assert!(
        !cut_off
            .is_revoked(&token("x", &subject, None, 5_000))
            .unwrap()
    );
    assert!(
        cut_off
            .is_revoked(&token("x", "s", Some(&family), 1))
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_whose_feed_was_trimmed_past_the_last_change_seen_is_reloaded() {
    // Small stream nodes, so trimming by age removes exactly what it should.
    let Some(server) = RedisServer::start_with(&["--stream-node-max-entries", "2"]) else {
        return;
    };
    let prefix = unique("trimmed");
    let proxy = TcpProxy::start(([127, 0, 0, 1], server.port()).into()).await;
    let connect = |url: String| {
        RedisStore::builder(url)
            .prefix(prefix.as_str())
            .command_timeout(COMMAND_TIMEOUT)
            .max_staleness(MAX_STALENESS)
            .history(Duration::from_millis(1))
            .connect()
    };
    let cut_off = connect(proxy.redis_url()).await.unwrap();
    let writer = connect(server.url()).await.unwrap();
    // Ids of one shard, so its stream is the one trimmed.
    let shard = redis_layout::shard_key(&prefix, "seen", "x");
    let same_shard: Vec<String> = (0..)
        .map(|i| format!("jti-{i}"))
        .filter(|id| redis_layout::shard_key(&prefix, id, "x") == shard)
        .take(8)
        .collect();
    writer.revoke_token("seen", later()).await.unwrap();
    until_revoked(&cut_off, token("seen", "s", None, 1)).await;

    proxy.cut();
    went_stale(&cut_off).await;
    for jti in &same_shard {
        writer.revoke_token(jti, later()).await.unwrap();
        // Each later entry trims the ones older than a millisecond.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let first: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(&shard)
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        !first[0].1.iter().any(|field| field.ends_with(" seen")),
        "the test needs the feed trimmed past the change seen"
    );
    proxy.restore();
    caught_up(&cut_off, 1).await;

    assert_eq!(
        cut_off.status().reloads,
        2,
        "the trimmed shard was reloaded"
    );
    for jti in &same_shard {
        assert!(
            cut_off.is_revoked(&token(jti, "s", None, 1)).unwrap(),
            "{jti}"
        );
    }
}
