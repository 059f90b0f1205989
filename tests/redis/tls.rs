//! `rediss://`: TLS (with the test's own CA) plus AUTH, on one Redis and on
//! a three-master cluster whose nodes the store discovers by itself.

use deadpool_redis::redis;
use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::RevocationStore;

use super::instances::until_revoked;
use super::redis_server::{RedisServer, TestCaFiles};
use super::suite::{later, token, unique};
use super::test_ca::TestCa;

const PASSWORD: &str = "tls-hunter2-password";
/// The command timeout (and so the pool's connection timeout) of the stores
/// that must connect over TLS.
const TLS_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

fn files(ca: &TestCa) -> TestCaFiles {
    TestCaFiles {
        ca: ca.ca_file(),
        cert: ca.cert_file(),
        key: ca.key_file(),
    }
}

/// Users: `default` off, `alice` with [`PASSWORD`] on every key and channel.
const ACL: [&str; 10] = [
    "--user",
    "default",
    "off",
    "--user",
    "alice",
    "on",
    ">tls-hunter2-password",
    "~*",
    "&*",
    "+@all",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_an_acl_user_reaches_one_redis_and_keeps_the_configured_database() {
    let ca = TestCa::generate();
    let Some(server) = RedisServer::start_tls(&files(&ca), &ACL) else {
        return;
    };
    let url = server.url_with("alice", PASSWORD, 3);
    assert!(url.starts_with("rediss://"));
    let prefix = unique("tls");
    let connect = || {
        RedisStore::builder(url.as_str())
            .prefix(prefix.as_str())
            .tls_root_certificates(ca.ca_pem())
            .command_timeout(TLS_COMMAND_TIMEOUT)
            .connect()
    };
    let (a, b) = (connect().await.unwrap(), connect().await.unwrap());
    let jti = unique("jti");
    a.revoke_token(&jti, later()).await.unwrap();
    until_revoked(&b, token(&jti, "s", None, 1)).await;
    let late = connect().await.unwrap();
    assert!(late.is_revoked(&token(&jti, "s", None, 1)).unwrap());
    assert!(!format!("{a:?}").contains(PASSWORD));

    // The key is in database 3, where the URL said, and not in 0.
    let key = super::redis_layout::shard_key(&prefix, &jti, "j");
    for (db, want) in [(3, 1), (0, 0)] {
        let client = redis::Client::build_with_tls(
            server.url_with("alice", PASSWORD, db),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.ca_pem().to_vec()),
            },
        )
        .unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let exists: i64 = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(exists, want, "database {db}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_redis_is_refused_without_its_ca_without_tls_or_with_a_wrong_password() {
    let ca = TestCa::generate();
    let other_ca = TestCa::generate();
    let Some(server) = RedisServer::start_tls(&files(&ca), &ACL) else {
        return;
    };
    let good = server.url_with("alice", PASSWORD, 0);
    let attempts = [
        // The system trust store does not know the test CA.
        RedisStore::builder(good.as_str()),
        // Another CA did not sign the server's certificate.
        RedisStore::builder(good.as_str()).tls_root_certificates(other_ca.ca_pem()),
        // Plain text to a TLS port.
        RedisStore::builder(good.replace("rediss://", "redis://"))
            .tls_root_certificates(ca.ca_pem()),
        RedisStore::builder(server.url_with("alice", "wrong-password", 0))
            .tls_root_certificates(ca.ca_pem()),
        RedisStore::builder(server.url()).tls_root_certificates(ca.ca_pem()),
    ];
    for (i, builder) in attempts.into_iter().enumerate() {
        let error = builder
            .prefix(unique("refused"))
            .command_timeout(std::time::Duration::from_millis(500))
            .connect()
            .await
            .expect_err("refused");
        let text = format!("{error} {error:?}");
        assert!(!text.contains(PASSWORD), "attempt {i}: {text}");
        assert!(!text.contains("wrong-password"), "attempt {i}: {text}");
    }
}

#[cfg(feature = "redis-cluster")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_with_an_acl_user_is_loaded_from_masters_the_store_discovered() {
    use super::cluster::Cluster;

    let ca = TestCa::generate();
    let tls = files(&ca);
    let Some(cluster) = tokio::task::spawn_blocking(move || {
        Cluster::start_with(&ACL, Some(tls), &["--user", "alice", "--pass", PASSWORD])
    })
    .await
    .unwrap() else {
        return;
    };
    let prefix = unique("tls-cluster");
    // Each instance is given one node; the others come from CLUSTER NODES,
    // and must be reached with the same TLS roots and credentials.
    let connect = |node: usize| {
        RedisStore::cluster([cluster.nodes[node].url_with("alice", PASSWORD, 0)])
            .prefix(prefix.as_str())
            .tls_root_certificates(ca.ca_pem())
            // A TLS handshake (debug build) and AUTH per connection: the
            // default 500 ms let a pool creation time out twice in 20 runs
            // under load.
            .command_timeout(TLS_COMMAND_TIMEOUT)
            .connect()
    };
    let a = connect(0).await.expect("connect to the TLS cluster");
    let b = connect(2).await.expect("connect to the TLS cluster");
    let jtis: Vec<String> = (0..64).map(|_| unique("spread")).collect();
    for jti in &jtis {
        a.revoke_token(jti, later()).await.unwrap();
    }
    until_revoked(&b, token(&jtis[63], "s", None, 1)).await;
    let late = connect(1).await.expect("connect to the TLS cluster");
    for jti in &jtis {
        assert!(late.is_revoked(&token(jti, "s", None, 1)).unwrap(), "{jti}");
    }
    drop(cluster);
}
