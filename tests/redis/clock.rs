//! Whether an entry is still live is judged by the instances' clock, never
//! by Redis's: a Redis clock ahead of the instances must not drop live
//! revocations.

use deadpool_redis::redis;
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{Clock, ManualClock, RedisStore, SystemClock};

use super::instances::until_revoked;
use super::redis_layout::shard_key;
use super::redis_server::shared_redis_url;
use super::suite::{token, unique};

#[tokio::test]
async fn a_redis_clock_an_hour_ahead_still_stores_and_feeds_every_revocation() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = unique("clock-ahead");
    // The instances' clock an hour behind Redis's: Redis's clock is an hour
    // ahead of theirs.
    let behind = ManualClock::at_secs(SystemClock.now_secs() - 3600);
    let connect = || {
        RedisStore::builder(url.as_str())
            .prefix(prefix.as_str())
            .clock(behind.clone())
            .connect()
    };
    let (a, b) = (connect().await.unwrap(), connect().await.unwrap());
    // Live for half an hour by the instances; past by Redis's clock.
    let expires = behind.now_secs() + 1800;
    a.revoke_token("ahead-jti", expires).await.unwrap();
    a.revoke_subject("ahead-user", 5_000_000, expires)
        .await
        .unwrap();
    a.revoke_family("ahead-family", expires).await.unwrap();
    let revoked = [
        token("ahead-jti", "s", None, 1),
        token("x", "ahead-user", None, 1),
        token("x", "s", Some("ahead-family"), 1),
    ];
    for token in &revoked {
        until_revoked(&b, *token).await;
    }
    // Stored, not only fed: an instance started later loads all of it, and
    // Redis keeps each set as long as its entry is live.
    let late = connect().await.unwrap();
    for token in &revoked {
        assert!(late.is_revoked(token).unwrap());
    }
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(shard_key(&prefix, "ahead-jti", "j"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        ttl > 1700,
        "the deny set lives as long as its entry: {ttl} s"
    );
}

#[tokio::test]
async fn a_redis_clock_an_hour_ahead_keeps_a_new_session_for_its_whole_life() {
    use tower_jwt_auth::revocation::{NewSession, Rotation, RotationRequest};

    let Some(url) = shared_redis_url() else {
        return;
    };
    let behind = ManualClock::at_secs(SystemClock.now_secs() - 3600);
    let store = RedisStore::builder(url.as_str())
        .prefix(unique("clock-ahead").as_str())
        .clock(behind.clone())
        .connect()
        .await
        .unwrap();
    let now = behind.now_secs();
    // Live for half an hour by the instance; past by Redis's clock.
    let expires_at = now + 1800;
    store
        .start_session(NewSession {
            family: "ahead-session",
            subject: "ahead-owner",
            jti: "r0",
            created_at: now,
            ends_at: expires_at,
            expires_at,
            jkt: None,
        })
        .await
        .unwrap();
    let rotated = store
        .rotate_session(RotationRequest {
            family: "ahead-session",
            presented: "r0",
            next: "r1",
            now,
            reuse_grace_secs: 0,
            revoke_until: expires_at,
            jkt: None,
        })
        .await
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated, "the session was kept");
    let listed = store.sessions("ahead-owner").await.unwrap();
    assert_eq!(listed.len(), 1, "and is listed under its subject");
}
