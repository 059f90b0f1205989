//! Staleness is judged by the reader: `is_revoked` compares the time the
//! view last heard from Redis with `max_staleness` itself, so a background
//! task that cannot run (starved, or stuck on a frozen Redis) cannot keep a
//! silent view vouched for.

use std::time::Instant;

use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::RevocationStore;

use super::HANG_GUARD;
use super::redis_server::RedisServer;
use super::suite::{token, unique};

use super::{COMMAND_TIMEOUT, MAX_STALENESS};

// One thread: while the test body runs without awaiting, the store's
// background task cannot run at all, exactly the starved case.
#[tokio::test(flavor = "current_thread")]
async fn a_frozen_redis_fails_reads_closed_even_while_the_background_task_is_starved() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let store = RedisStore::builder(server.url())
        .prefix(unique("starved"))
        .command_timeout(COMMAND_TIMEOUT)
        .max_staleness(MAX_STALENESS)
        .connect()
        .await
        .unwrap();
    let probe = token("j", "s", None, 1);
    assert!(!store.is_revoked(&probe).unwrap());

    server.freeze();
    let frozen = Instant::now();
    // Never yields to the runtime: no ping, no timer, no flag can change.
    loop {
        match store.is_revoked(&probe) {
            Ok(false) => {}
            Ok(true) => panic!("nothing was revoked"),
            Err(_) => break,
        }
        assert!(
            frozen.elapsed() < HANG_GUARD,
            "the view was vouched for forever"
        );
        std::thread::yield_now();
    }
    assert!(
        store.status().current,
        "the background task had no chance to report it: the reader judged alone"
    );

    server.thaw();
    let mut status = store.watch();
    tokio::time::timeout(HANG_GUARD, status.wait_for(|s| s.resumes >= 1 && s.current))
        .await
        .expect("the view resynchronized after the thaw")
        .unwrap();
    assert_eq!(
        store.status().reloads,
        1,
        "caught up from the feed, not reloaded"
    );
    assert!(!store.is_revoked(&probe).unwrap());
}
