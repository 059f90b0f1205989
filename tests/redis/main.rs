//! `RedisStore` against real `redis-server`s: the store-conformance suite,
//! TTLs, propagation between instances, outages and recovery.

#[path = "../conformance/suite.rs"]
#[macro_use]
mod suite;
#[allow(dead_code)]
#[path = "../../examples/demo.rs"]
mod demo;
#[path = "../support/log_capture.rs"]
mod log_capture;
#[path = "../support/redis_layout.rs"]
mod redis_layout;
#[path = "../support/redis_server.rs"]
mod redis_server;
#[path = "../support/tcp_proxy.rs"]
mod tcp_proxy;
#[cfg(feature = "redis-tls")]
#[path = "../support/test_ca.rs"]
mod test_ca;

mod acl;
mod clock;
#[cfg(feature = "redis-cluster")]
mod cluster;
mod credentials;
mod first_release;
mod instances;
mod migration;
mod outage;
mod pool;
mod resume;
mod scoping;
mod sessions;
mod staleness;
mod test_server;
#[cfg(feature = "redis-tls")]
mod tls;
mod wake_up;

use std::time::Duration;

use deadpool_redis::redis;
use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::RevocationStore;

use redis_server::shared_redis_url;
use suite::{later, token, unique};

/// A store on the shared Redis under a prefix of its own.
async fn store_on_shared_redis() -> Option<RedisStore> {
    let url = shared_redis_url()?;
    Some(
        RedisStore::builder(url)
            .prefix(unique("test"))
            .connect()
            .await
            .expect("connect to the shared redis"),
    )
}

store_conformance_tests!(optional: store_on_shared_redis());

/// Guards against a hang; not a timing assertion.
const HANG_GUARD: Duration = Duration::from_secs(20);
/// The command timeout of the tests that kill, freeze or restart Redis:
/// short enough to see an outage answered without a hang, long enough that
/// a command to a healthy Redis on a loaded machine is not taken for one.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// Their staleness bound: a test that waits for the view to be current and
/// then reads from it is never preempted past it between the two (it was
/// 300-600 ms, and a read after `wait_current` could find the view stale).
const MAX_STALENESS: Duration = Duration::from_secs(3);

#[tokio::test]
async fn every_key_expires_when_the_token_it_concerns_could_no_longer_be_valid() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = unique("ttl");
    let store = RedisStore::builder(url.as_str())
        .prefix(prefix.as_str())
        .connect()
        .await
        .unwrap();
    let expires_at = later();
    store.revoke_token("j1", expires_at).await.unwrap();
    store
        .revoke_subject("s1", 42, expires_at + 10)
        .await
        .unwrap();
    store
        .start_family("f1", "r0", expires_at + 20)
        .await
        .unwrap();
    store.revoke_family("f2", expires_at + 30).await.unwrap();

    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // Each revocation sits in its shard's set, scored by its expiry, and
    // the set lives at least as long.
    for (id, set, want) in [
        ("j1", "j", expires_at),
        ("s1", "c", expires_at + 10),
        ("f2", "r", expires_at + 30),
    ] {
        let key = redis_layout::shard_key(&prefix, id, set);
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(&key)
            .arg(id)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(score, Some(want as f64), "{key} {id}");
        let expiry: i64 = redis::cmd("EXPIRETIME")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(expiry > want as i64, "{key} expires at {expiry}");
    }
    let cutoff: Option<String> = redis::cmd("HGET")
        .arg(redis_layout::shard_key(&prefix, "s1", "cm"))
        .arg("s1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(cutoff.as_deref(), Some("42"));
    let family_expiry: i64 = redis::cmd("EXPIRETIME")
        .arg(redis_layout::family_key(&prefix, "f1"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(family_expiry, expires_at as i64 + 21);
    // Entries already expired are not written at all.
    store.revoke_token("gone", 1).await.unwrap();
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(redis_layout::shard_key(&prefix, "gone", "j"))
        .arg("gone")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(score, None);
}

#[tokio::test]
async fn a_revoked_family_outlives_the_family_when_asked_to() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = unique("outlives");
    let connect = || {
        RedisStore::builder(url.as_str())
            .prefix(prefix.as_str())
            .connect()
    };
    let store = connect().await.expect("connect to the shared redis");
    let family = unique("fam");
    store.start_family(&family, "r0", later()).await.unwrap();
    store.revoke_family(&family, later() + 100).await.unwrap();
    assert!(
        store
            .is_revoked(&token("a", "s", Some(&family), 0))
            .unwrap()
    );

    // Redis keeps the revocation until the later moment asked for, past the
    // family's own end, and its set lives at least as long.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = redis_layout::shard_key(&prefix, &family, "r");
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(&key)
        .arg(&family)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(score, Some((later() + 100) as f64), "{key}");
    let expiry: i64 = redis::cmd("EXPIRETIME")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(expiry == -1 || expiry >= (later() + 100) as i64, "{expiry}");
    // An instance started now, which knows only what Redis holds, refuses
    // the family's tokens too.
    let fresh = connect().await.expect("connect to the shared redis");
    assert!(
        fresh
            .is_revoked(&token("b", "s", Some(&family), 0))
            .unwrap()
    );
}

#[tokio::test]
async fn keys_of_other_prefixes_are_invisible() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let (prefix_a, prefix_b) = (unique("app-a"), unique("app-b"));
    let connect = |prefix: String| RedisStore::builder(url.as_str()).prefix(prefix).connect();
    let a = connect(prefix_a.clone()).await.unwrap();
    let b = connect(prefix_b.clone()).await.unwrap();
    a.revoke_token("shared-jti", later()).await.unwrap();
    // A fresh instance of each loads everything its prefix holds.
    let a_later = connect(prefix_a).await.unwrap();
    let b_later = connect(prefix_b).await.unwrap();
    assert!(
        a_later
            .is_revoked(&token("shared-jti", "s", None, 0))
            .unwrap()
    );
    assert!(!b.is_revoked(&token("shared-jti", "s", None, 0)).unwrap());
    assert!(
        !b_later
            .is_revoked(&token("shared-jti", "s", None, 0))
            .unwrap()
    );
}

#[tokio::test]
async fn an_exhausted_pool_answers_an_error_within_the_timeout_instead_of_queueing() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let mut config = deadpool_redis::Config::from_url(url.as_str());
    config.pool = Some(deadpool_redis::PoolConfig::new(1));
    let pool = config
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap();
    let store = RedisStore::from_pool(pool.clone(), url)
        .prefix(unique("pool"))
        .command_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let jti = unique("jti");

    let held = pool.get().await.unwrap();
    let answer = tokio::time::timeout(HANG_GUARD, store.revoke_token(&jti, later()))
        .await
        .expect("answered, not queued forever");
    assert!(answer.is_err(), "no connection: the write fails (503)");
    assert!(!store.is_revoked(&token(&jti, "s", None, 0)).unwrap());

    drop(held);
    store.revoke_token(&jti, later()).await.unwrap();
    assert!(store.is_revoked(&token(&jti, "s", None, 0)).unwrap());
}
