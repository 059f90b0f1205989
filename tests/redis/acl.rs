//! The Redis user `docs/redis.md` recommends: its prefix's keys, its
//! channel and the commands listed there, nothing else, serves every
//! operation of the store.

use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::{RevocationStore, Rotation};

use super::instances::until_revoked;
use super::redis_server::RedisServer;
use super::suite::{later, token, unique};

const PASSWORD: &str = "acl-test-password-long-enough";
const PREFIX: &str = "my-api";

/// The ACL of `docs/redis.md`, for the user `svc`, word by word.
const ACL: &[&str] = &[
    "--user",
    "svc",
    "on",
    ">acl-test-password-long-enough",
    "resetkeys",
    "resetchannels",
    "-@all",
    "~my-api:*",
    "&my-api:events",
    "+evalsha",
    "+xadd",
    "+zadd",
    "+zrem",
    "+zremrangebyscore",
    "+zscore",
    "+hset",
    "+hget",
    "+hmget",
    "+hdel",
    "+del",
    "+exists",
    "+expireat",
    "+set",
    "+time",
    "+publish",
    "+eval",
    "+script|load",
    "+xrange",
    "+xrevrange",
    "+xinfo|stream",
    "+zrange",
    "+hgetall",
    "+get",
    "+scan",
    "+type",
    "+expiretime",
    "+unlink",
    "+select",
    "+subscribe",
    "+unsubscribe",
    "+ping",
    "+cluster|nodes",
    "+cluster|slots",
    "+cluster|shards",
    "+hello",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_acl_user_serves_every_operation_across_instances() {
    let Some(server) = RedisServer::start_with(ACL) else {
        return;
    };
    let url = server.url_with("svc", PASSWORD, 0);
    let connect = || RedisStore::builder(url.as_str()).prefix(PREFIX).connect();
    let a = connect()
        .await
        .expect("the first start (migration check) works");
    let b = connect().await.expect("a second instance loads");
    let (jti, subject, family) = (unique("jti"), unique("sub"), unique("fam"));

    a.revoke_token(&jti, later()).await.unwrap();
    until_revoked(&b, token(&jti, "s", None, 1)).await;
    a.revoke_subject(&subject, 5_000, later()).await.unwrap();
    until_revoked(&b, token("x", &subject, None, 4_999)).await;
    a.start_family(&family, "r0", later()).await.unwrap();
    assert_eq!(
        b.rotate_family(&family, "r0", "r1", later()).await.unwrap(),
        Rotation::Rotated
    );
    a.revoke_family(&family, later()).await.unwrap();
    until_revoked(&b, token("x", "s", Some(&family), 1)).await;
    let late = connect().await.expect("a late instance loads everything");
    assert!(late.is_revoked(&token(&jti, "s", None, 1)).unwrap());
}
