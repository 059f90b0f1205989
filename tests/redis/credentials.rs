//! Passwords reach Redis and nothing else: `Debug` of the builder and the
//! store redacts them, AUTH with a password or an ACL user works, and a
//! wrong password fails the start (503) without repeating it.

use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::RevocationStore;

use super::instances::until_revoked;
use super::redis_server::RedisServer;
use super::suite::{later, token, unique};

const PASSWORD: &str = "hunter2-redis-password";

#[test]
fn debug_of_every_builder_redacts_the_password() {
    let single = format!("{:?}", RedisStore::builder("redis://:hunter2@h"));
    assert!(!single.contains("hunter2"), "{single}");
    assert!(single.contains("redis://:***@h"), "{single}");

    let acl = format!(
        "{:?}",
        RedisStore::builder(format!("rediss://alice:{PASSWORD}@redis.internal:6380/2"))
    );
    assert!(!acl.contains(PASSWORD), "{acl}");
    assert!(
        acl.contains("rediss://alice:***@redis.internal:6380/2"),
        "{acl}"
    );

    let unix = format!(
        "{:?}",
        RedisStore::builder(format!("redis+unix:///run/redis.sock?pass={PASSWORD}"))
    );
    assert!(!unix.contains(PASSWORD), "{unix}");

    let mut config = deadpool_redis::Config::from_url("redis://127.0.0.1:1");
    config.pool = Some(deadpool_redis::PoolConfig::new(1));
    let pool = config
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap();
    let from_pool = format!(
        "{:?}",
        RedisStore::from_pool(pool, format!("redis://:{PASSWORD}@127.0.0.1:1"))
    );
    assert!(!from_pool.contains(PASSWORD), "{from_pool}");
}

#[cfg(feature = "redis-cluster")]
#[test]
fn debug_of_a_cluster_builder_redacts_every_password() {
    let cluster = format!(
        "{:?}",
        RedisStore::cluster([
            format!("redis://alice:{PASSWORD}@n1:7000"),
            format!("redis://alice:{PASSWORD}@n2:7000"),
        ])
    );
    assert!(!cluster.contains(PASSWORD), "{cluster}");
    assert_eq!(cluster.matches("alice:***@").count(), 2, "{cluster}");
}

/// A Redis whose default user needs `PASSWORD` and which knows the ACL user
/// `alice` (same password, every key and channel).
fn redis_with_auth() -> Option<RedisServer> {
    // Each word of a config line is an argument of its own.
    let alice_password = format!(">{PASSWORD}");
    RedisServer::start_with(&[
        "--requirepass",
        PASSWORD,
        "--user",
        "alice",
        "on",
        &alice_password,
        "~*",
        "&*",
        "+@all",
    ])
}

#[tokio::test]
async fn a_password_and_an_acl_user_authenticate_the_pool_and_the_subscription() {
    let Some(server) = redis_with_auth() else {
        return;
    };
    let prefix = unique("auth");
    for (writer_url, reader_url) in [
        (
            server.url_with("", PASSWORD, 0),
            server.url_with("alice", PASSWORD, 0),
        ),
        (
            server.url_with("alice", PASSWORD, 0),
            server.url_with("", PASSWORD, 0),
        ),
    ] {
        let writer = RedisStore::builder(writer_url)
            .prefix(prefix.as_str())
            .connect()
            .await
            .expect("authenticated");
        let reader = RedisStore::builder(reader_url)
            .prefix(prefix.as_str())
            .connect()
            .await
            .expect("authenticated");
        let jti = unique("jti");
        writer.revoke_token(&jti, later()).await.unwrap();
        until_revoked(&reader, token(&jti, "s", None, 1)).await;
        assert!(!format!("{writer:?}").contains(PASSWORD));
    }
}

#[tokio::test]
async fn a_wrong_or_missing_password_fails_the_start_without_repeating_it() {
    let Some(server) = redis_with_auth() else {
        return;
    };
    for url in [
        server.url(),
        server.url_with("", "not-the-password", 0),
        server.url_with("alice", "not-the-password", 0),
        server.url_with("mallory", PASSWORD, 0),
    ] {
        let error = RedisStore::builder(url.as_str())
            .prefix(unique("noauth"))
            .connect()
            .await
            .expect_err("refused by redis");
        let text = format!("{error} {error:?}");
        assert!(!text.contains("not-the-password"), "{text}");
        assert!(!text.contains(PASSWORD), "{text}");
    }
}
