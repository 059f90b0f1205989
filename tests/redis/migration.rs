//! Data written by the previous release (one key per entry,
//! `<prefix>:<j|c|r|f>:{<id>}`) is migrated once, at the first start, and
//! every revocation and live session in it still holds.

use deadpool_redis::redis;
use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::{RevocationStore, Rotation, RotationRequest};

use super::HANG_GUARD;
use super::redis_server::{RedisServer, shared_redis_url};
use super::suite::{later, token, unique};

#[tokio::test]
async fn a_store_started_on_the_previous_releases_data_enforces_all_of_it_and_migrates_it_once() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = unique("legacy");
    let until = later();
    let now = until - 3600;
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // Exactly what the previous release wrote: keys expiring one second
    // after the token they concern.
    let legacy = [
        (format!("{prefix}:j:{{old-jti}}"), "1"),
        (format!("{prefix}:c:{{old-subject}}"), "5000000"),
        (format!("{prefix}:r:{{old-revoked}}"), "1"),
    ];
    for (key, value) in &legacy {
        let () = redis::cmd("SET")
            .arg(key)
            .arg(*value)
            .arg("EXAT")
            .arg(until + 1)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let family = format!("{prefix}:f:{{old-live}}");
    let () = redis::pipe()
        .cmd("HSET")
        .arg(&family)
        .arg(&["cur", "r0", "sub", "old-user", "created"])
        .arg(now)
        .arg("refreshed")
        .arg(now)
        .arg("ends")
        .arg(until)
        .ignore()
        .cmd("EXPIREAT")
        .arg(&family)
        .arg(until + 1)
        .ignore()
        .cmd("ZADD")
        .arg(format!("{prefix}:s:{{old-user}}"))
        .arg(until)
        .arg("old-live")
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();

    let store = RedisStore::builder(url.as_str())
        .prefix(prefix.as_str())
        .connect()
        .await
        .unwrap();
    assert!(store.is_revoked(&token("old-jti", "s", None, 1)).unwrap());
    assert!(
        store
            .is_revoked(&token("x", "old-subject", None, 4_999_999))
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(&token("x", "old-subject", None, 5_000_000))
            .unwrap()
    );
    assert!(
        store
            .is_revoked(&token("x", "s", Some("old-revoked"), 1))
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(&token("x", "s", Some("old-live"), 1))
            .unwrap()
    );

    // The live session kept its place: listed, and it still rotates.
    let listed = store.sessions("old-user").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].created_at),
        ("old-live", now)
    );
    let rotated = store
        .rotate_session(RotationRequest {
            family: "old-live",
            presented: "r0",
            next: "r1",
            now,
            reuse_grace_secs: 0,
            revoke_until: until,
            jkt: None,
        })
        .await
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated);

    // Migrated once: the old keys are gone, the layout is marked.
    for key in legacy.iter().map(|(key, _)| key).chain([&family]) {
        let exists: i64 = redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(exists, 0, "{key}");
    }
    let layout: Option<String> = redis::cmd("GET")
        .arg(format!("{prefix}:layout"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(layout.as_deref(), Some("2"));

    // An instance started later finds all of it in the new layout.
    let late = RedisStore::builder(url.as_str())
        .prefix(prefix.as_str())
        .connect()
        .await
        .unwrap();
    assert!(late.is_revoked(&token("old-jti", "s", None, 1)).unwrap());
    assert!(
        late.is_revoked(&token("x", "old-subject", None, 1))
            .unwrap()
    );
    assert!(
        late.is_revoked(&token("x", "s", Some("old-revoked"), 1))
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrated_revocations_are_written_back_when_redis_later_loses_them() {
    let Some(mut server) = RedisServer::start(false) else {
        return;
    };
    let prefix = unique("legacy-lost");
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("SET")
        .arg(format!("{prefix}:j:{{old-jti}}"))
        .arg("1")
        .arg("EXAT")
        .arg(later() + 1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let running = RedisStore::builder(server.url())
        .prefix(prefix.as_str())
        .connect()
        .await
        .unwrap();
    assert!(running.is_revoked(&token("old-jti", "s", None, 1)).unwrap());

    server.restart(); // no persistence: the migrated data is gone
    let mut status = running.watch();
    tokio::time::timeout(
        HANG_GUARD,
        status.wait_for(|s| s.reloads >= 2 && s.current && s.write_backs >= 1),
    )
    .await
    .expect("the loss was noticed and what the instance enforces written back")
    .unwrap();
    let late = RedisStore::builder(server.url())
        .prefix(prefix.as_str())
        .connect()
        .await
        .unwrap();
    assert!(late.is_revoked(&token("old-jti", "s", None, 1)).unwrap());
}
