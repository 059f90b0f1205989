//! Several instances (stores) sharing one Redis: propagation, late starters,
//! and the refresh race across instances.

use std::sync::Arc;

use tokio::sync::Barrier;
use tower_jwt_auth::revocation::{RevocationStore, TokenRef};
use tower_jwt_auth::{
    Algorithm, JwtConfig, RedisStore, SessionManager, SigningKey, TokenIssuer, Verifier,
    VerifyingKey,
};

use super::{HANG_GUARD, redis_server::shared_redis_url, suite};
use suite::{later, token, unique};

/// Two instances of one service: same Redis, same prefix.
async fn two_instances() -> Option<(RedisStore, RedisStore, String)> {
    let url = shared_redis_url()?;
    let prefix = unique("pair");
    let connect = || {
        RedisStore::builder(url.as_str())
            .prefix(prefix.as_str())
            .connect()
    };
    let a = connect().await.unwrap();
    let b = connect().await.unwrap();
    Some((a, b, prefix))
}

/// Waits until `store` sees `token` revoked, re-checking each time it applies
/// a change from the channel.
pub(crate) async fn until_revoked(store: &RedisStore, token: TokenRef<'_>) {
    let mut status = store.watch();
    tokio::time::timeout(
        HANG_GUARD,
        status.wait_for(|_| store.is_revoked(&token).unwrap()),
    )
    .await
    .expect("the change reached the other instance")
    .unwrap();
}

#[tokio::test]
async fn a_revocation_on_one_instance_is_enforced_by_the_other() {
    let Some((a, b, _)) = two_instances().await else {
        return;
    };
    let (jti, sub, family) = (unique("jti"), unique("sub"), unique("fam"));
    assert!(!b.is_revoked(&token(&jti, &sub, None, 1)).unwrap());

    a.revoke_token(&jti, later()).await.unwrap();
    until_revoked(&b, token(&jti, "x", None, 1)).await;

    a.revoke_subject(&sub, 1_000, later()).await.unwrap();
    until_revoked(&b, token("other", &sub, None, 999)).await;
    assert!(!b.is_revoked(&token("other", &sub, None, 1_000)).unwrap());

    a.start_family(&family, "r0", later()).await.unwrap();
    a.revoke_family(&family, later()).await.unwrap();
    until_revoked(&b, token("acc", "x", Some(&family), 1)).await;
}

#[tokio::test]
async fn a_replay_detected_on_one_instance_revokes_the_family_on_the_other() {
    let Some((a, b, _)) = two_instances().await else {
        return;
    };
    let family = unique("fam");
    a.start_family(&family, "r0", later()).await.unwrap();
    assert_eq!(
        b.rotate_family(&family, "r0", "r1", later()).await.unwrap(),
        tower_jwt_auth::revocation::Rotation::Rotated
    );
    assert_eq!(
        b.rotate_family(&family, "r0", "r2", later()).await.unwrap(),
        tower_jwt_auth::revocation::Rotation::Reused
    );
    until_revoked(&a, token("acc", "x", Some(&family), 1)).await;
}

#[tokio::test]
async fn an_instance_started_later_rejects_everything_revoked_before() {
    let Some((a, _, prefix)) = two_instances().await else {
        return;
    };
    let (jti, sub, family) = (unique("jti"), unique("sub"), unique("fam"));
    a.revoke_token(&jti, later()).await.unwrap();
    a.revoke_subject(&sub, 5_000, later()).await.unwrap();
    a.revoke_family(&family, later()).await.unwrap();

    let url = shared_redis_url().unwrap();
    let late = RedisStore::builder(url)
        .prefix(prefix)
        .connect()
        .await
        .unwrap();
    assert!(late.is_revoked(&token(&jti, "x", None, 1)).unwrap());
    assert!(late.is_revoked(&token("y", &sub, None, 4_999)).unwrap());
    assert!(late.is_revoked(&token("z", "x", Some(&family), 1)).unwrap());
    assert!(!late.is_revoked(&token("w", &sub, None, 5_000)).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refresh_across_instances_has_exactly_one_winner() {
    let Some((a, b, _)) = two_instances().await else {
        return;
    };
    const SECRET: &[u8] = b"a test secret that is long enough!!";
    let config = JwtConfig::new().issuer("redis-test");
    let manager = |store: RedisStore| {
        SessionManager::<tower_jwt_auth::NoCustomClaims>::new(
            TokenIssuer::new(
                SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
                config.clone(),
            ),
            Verifier::new(
                VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
                config.clone(),
            ),
            Arc::new(store),
        )
    };
    let managers = [manager(a), manager(b)];
    const TASKS: usize = 16;
    for _round in 0..5 {
        let pair = managers[0]
            .login(&unique("user"), &Default::default())
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(TASKS));
        let mut tasks = Vec::new();
        for i in 0..TASKS {
            let manager = managers[i % 2].clone();
            let refresh = pair.refresh_token.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                manager.refresh(&refresh).await.is_ok()
            }));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "exactly one refresh wins across instances");
    }
}
