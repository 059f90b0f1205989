//! The channel only wakes an instance up: what it applies comes from the
//! shard's stream, read from the instance's own position. A lost message
//! costs a read, never a revocation; a message nobody wrote to the stream
//! changes nothing.

use std::time::Duration;

use deadpool_redis::redis;
use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::RevocationStore;

use super::instances::until_revoked;
use super::redis_server::{RedisServer, shared_redis_url};
use super::{HANG_GUARD, redis_layout, suite};
use suite::{later, token, unique};

async fn connect(url: &str, prefix: &str) -> RedisStore {
    RedisStore::builder(url)
        .prefix(prefix)
        .connect()
        .await
        .expect("connect to the test redis")
}

/// `count` ids (`<stem>-<n>`) of the shard `of` belongs to.
fn same_shard(prefix: &str, of: &str, stem: &str, count: usize) -> Vec<String> {
    let stream = redis_layout::shard_key(prefix, of, "x");
    (0..)
        .map(|n| format!("{stem}-{n}"))
        .filter(|id| redis_layout::shard_key(prefix, id, "x") == stream)
        .take(count)
        .collect()
}

#[tokio::test]
async fn a_change_whose_message_never_arrived_is_applied_with_the_next_change_of_its_shard() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = unique("lost");
    let follower = connect(&url, &prefix).await;
    let writer = connect(&url, &prefix).await;
    let published = unique("published");
    let lost = same_shard(&prefix, &published, &unique("lost"), 1).remove(0);

    // The change reaches the stream, as a revocation script writes it, but
    // its message is lost (no PUBLISH): a cluster-bus link was down.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: String = redis::cmd("XADD")
        .arg(redis_layout::shard_key(&prefix, &lost, "x"))
        .arg("*")
        .arg("e")
        .arg(format!("j {} {lost}", later()))
        .query_async(&mut conn)
        .await
        .unwrap();
    // The next change of the same shard is published as usual.
    writer.revoke_token(&published, later()).await.unwrap();
    until_revoked(&follower, token(&published, "s", None, 1)).await;

    assert!(
        follower.is_revoked(&token(&lost, "s", None, 1)).unwrap(),
        "the change before it in the stream is enforced too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_message_on_the_channel_is_neither_enforced_nor_written_back() {
    // Its own server: the test drops the subscription to force a reload.
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let prefix = unique("forged");
    let follower = connect(&server.url(), &prefix).await;
    let writer = connect(&server.url(), &prefix).await;
    let victim = unique("victim");
    let shard_stream = redis_layout::shard_key(&prefix, &victim, "x");
    let shard: usize = (0..64)
        .find(|shard| {
            // The shard index the crate publishes: CRC-16 of the id mod 64,
            // as the layout's stream name encodes it (`{v<shard>.<n>}`).
            shard_stream.contains(&format!("{{v{shard}."))
        })
        .unwrap();

    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (secs, _): (String, String) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let forged = format!(
        "{shard} {secs}000-0 c {} {} {victim}",
        u64::MAX / 2,
        later()
    );
    let _: i64 = redis::cmd("PUBLISH")
        .arg(format!("{prefix}:events"))
        .arg(&forged)
        .query_async(&mut conn)
        .await
        .unwrap();
    // A genuine change of the same shard published after it: once it is
    // applied, the forged message (earlier on the same subscription) has
    // been handled, and the shard has a position to resume from.
    let genuine = same_shard(&prefix, &victim, &unique("genuine"), 1).remove(0);
    writer.revoke_token(&genuine, later()).await.unwrap();
    until_revoked(&follower, token(&genuine, "s", None, 1)).await;
    assert!(
        !follower
            .is_revoked(&token("x", &victim, None, 1_000))
            .unwrap(),
        "a forged cutoff is not enforced"
    );

    // Redis loses the shard's feed and the follower reconnects: it reloads
    // that shard and writes back what it enforces there.
    let _: i64 = redis::cmd("DEL")
        .arg(&shard_stream)
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut status = follower.watch();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(killed, 2, "both stores' subscriptions");
    tokio::time::timeout(HANG_GUARD, status.wait_for(|s| s.write_backs >= 1))
        .await
        .expect("the reloaded shard was written back")
        .unwrap();
    let stored: Option<String> = redis::cmd("HGET")
        .arg(redis_layout::shard_key(&prefix, &victim, "cm"))
        .arg(&victim)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, None, "the forged cutoff was not made durable");
    let late = RedisStore::builder(server.url())
        .prefix(prefix.as_str())
        .max_staleness(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    assert!(!late.is_revoked(&token("x", &victim, None, 1_000)).unwrap());
}
