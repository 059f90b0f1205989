//! The proof-`jti` replay store on the real Redis: shared by instances,
//! atomic, and an unreachable Redis is an error, never a replay or a pass.

use std::time::Duration;

use tower_jwt_auth::dpop::{JtiUse, RedisReplayStore, ReplayStore};

use crate::redis_server::shared_redis_url;

/// A key no other test run uses.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

#[tokio::test]
async fn two_instances_on_one_redis_refuse_a_jti_seen_by_the_other() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let one = RedisReplayStore::connect(&url).unwrap();
    let two = RedisReplayStore::connect(&url).unwrap();
    let key = unique("shared");
    let ttl = Duration::from_secs(61);
    assert_eq!(one.mark(&key, ttl).resolve().await, Ok(JtiUse::Fresh));
    assert_eq!(two.mark(&key, ttl).resolve().await, Ok(JtiUse::Replayed));
    assert_eq!(one.mark(&key, ttl).resolve().await, Ok(JtiUse::Replayed));
    let other = unique("other");
    assert_eq!(two.mark(&other, ttl).resolve().await, Ok(JtiUse::Fresh));
}

#[tokio::test]
async fn concurrent_marks_of_one_jti_find_exactly_one_fresh() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let stores: Vec<RedisReplayStore> = (0..4)
        .map(|_| RedisReplayStore::connect(&url).unwrap())
        .collect();
    let key = unique("race");
    let answers = futures_util::future::join_all(
        (0..32).map(|i| stores[i % 4].mark(&key, Duration::from_secs(61)).resolve()),
    )
    .await;
    let fresh = answers.iter().filter(|a| **a == Ok(JtiUse::Fresh)).count();
    let replayed = answers
        .iter()
        .filter(|a| **a == Ok(JtiUse::Replayed))
        .count();
    assert_eq!((fresh, replayed), (1, 31));
}

#[tokio::test]
async fn the_entry_expires_with_its_ttl_in_redis() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let store = RedisReplayStore::connect(&url)
        .unwrap()
        .prefix("dpop-ttl-test:");
    let key = unique("ttl");
    assert_eq!(
        store.mark(&key, Duration::from_secs(61)).resolve().await,
        Ok(JtiUse::Fresh)
    );
    let client = deadpool_redis::redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = deadpool_redis::redis::cmd("PTTL")
        .arg(format!("dpop-ttl-test:{key}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((60_000..=61_000).contains(&ttl), "PTTL {ttl}");
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_not_a_replay() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = RedisReplayStore::connect(&format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .command_timeout(Duration::from_secs(5));
    let answer = store.mark("k", Duration::from_secs(61)).resolve().await;
    assert!(answer.is_err(), "{answer:?}");
}
