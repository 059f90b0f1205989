//! Data written by the first release (one string key per entry,
//! `<prefix>:<j|c|r|f>:{<id>}`, a live family a string holding its current
//! refresh `jti`) is migrated at the first start like the second release's:
//! nothing revoked is forgotten, every live session still rotates, and a key
//! of a shape the migration does not know is logged and left alone.

use deadpool_redis::redis;
use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::{RevocationStore, Rotation, RotationRequest};

use super::log_capture;
use super::redis_layout::shard_key;
use super::redis_server::{RedisServer, shared_redis_url};
use super::suite::{later, token, unique};

const SESSIONS: usize = 1_000;
const DENIED: usize = 1_000;
const CUT_OFF: usize = 10;
const REVOKED: usize = 10;

/// Exactly what the first release's scripts wrote: `SET key value EXAT
/// expires_at + 1` (`deny_script`: `1`; `cutoff_script`: the cutoff in µs;
/// `start_family_script`: the family's first refresh `jti`;
/// `revoke_family_script`: `1`).
fn first_release_keys(prefix: &str, until: u64) -> redis::Pipeline {
    first_release_range(prefix, until, 0..DENIED, 0..SESSIONS, CUT_OFF, REVOKED)
}

fn first_release_range(
    prefix: &str,
    until: u64,
    denied: std::ops::Range<usize>,
    sessions: std::ops::Range<usize>,
    cut_off: usize,
    revoked: usize,
) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    let mut set = |key: String, value: String| {
        pipe.cmd("SET")
            .arg(key)
            .arg(value)
            .arg("EXAT")
            .arg(until + 1)
            .ignore();
    };
    for i in denied {
        set(format!("{prefix}:j:{{jti-{i}}}"), "1".to_owned());
    }
    for i in sessions {
        set(format!("{prefix}:f:{{sid-{i}}}"), format!("r0-{i}"));
    }
    for i in 0..cut_off {
        set(format!("{prefix}:c:{{user-{i}}}"), "5000000".to_owned());
    }
    for i in 0..revoked {
        set(format!("{prefix}:r:{{gone-{i}}}"), "1".to_owned());
    }
    pipe
}

fn rotation<'a>(
    family: &'a str,
    presented: &'a str,
    next: &'a str,
    now: u64,
) -> RotationRequest<'a> {
    RotationRequest {
        family,
        presented,
        next,
        now,
        reuse_grace_secs: 0,
        revoke_until: now + 3600,
        jkt: None,
    }
}

#[tokio::test]
async fn a_store_started_on_the_first_releases_sessions_starts_and_keeps_every_revocation_and_session()
 {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = unique("first-release");
    let until = later();
    let now = until - 3600;
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = first_release_keys(&prefix, until)
        .query_async(&mut conn)
        .await
        .unwrap();
    // Keys of this prefix and pattern the migration cannot know.
    let odd_list = format!("{prefix}:j:{{odd-list}}");
    let odd_set = format!("{prefix}:f:{{odd-set}}");
    let () = redis::pipe()
        .cmd("RPUSH")
        .arg(&odd_list)
        .arg("x")
        .ignore()
        .cmd("SADD")
        .arg(&odd_set)
        .arg("x")
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();

    let (logs, guard) = log_capture::capture();
    let store = RedisStore::builder(url.as_str())
        .prefix(prefix.as_str())
        .connect()
        .await;
    drop(guard);
    let store = match store {
        Ok(store) => store,
        Err(error) => {
            let message = error.to_string();
            panic!(
                "the first start on the first release's data failed ({} bytes): {}",
                message.len(),
                message.chars().take(400).collect::<String>()
            );
        }
    };
    let logs = logs.text();
    for key in [&odd_list, &odd_set] {
        assert!(
            logs.lines()
                .any(|l| l.contains(key.as_str()) && l.contains("skipped")),
            "{key} is named in the log as skipped:\n{logs}"
        );
    }

    for i in 0..DENIED {
        assert!(
            store
                .is_revoked(&token(&format!("jti-{i}"), "s", None, 1))
                .unwrap(),
            "jti-{i} is still denied"
        );
    }
    for i in 0..CUT_OFF {
        let user = format!("user-{i}");
        assert!(
            store
                .is_revoked(&token("x", &user, None, 4_999_999))
                .unwrap()
        );
        assert!(
            !store
                .is_revoked(&token("x", &user, None, 5_000_000))
                .unwrap()
        );
    }
    for i in 0..REVOKED {
        let gone = format!("gone-{i}");
        assert!(store.is_revoked(&token("x", "s", Some(&gone), 1)).unwrap());
    }
    // Every first-release session lives on: not revoked, and it rotates.
    for i in 0..SESSIONS {
        let (sid, r0, r1) = (format!("sid-{i}"), format!("r0-{i}"), format!("r1-{i}"));
        assert!(!store.is_revoked(&token("x", "s", Some(&sid), 1)).unwrap());
        let rotated = store
            .rotate_session(rotation(&sid, &r0, &r1, now))
            .await
            .unwrap();
        assert_eq!(rotated, Rotation::Rotated, "{sid} rotates");
    }
    // The retired token is a replay: the session is revoked, everywhere.
    let replayed = store
        .rotate_session(rotation("sid-0", "r0-0", "r2-0", now))
        .await
        .unwrap();
    assert_eq!(replayed, Rotation::Reused);
    assert!(
        store
            .is_revoked(&token("x", "s", Some("sid-0"), 1))
            .unwrap()
    );
    // Logout (revoking the family) ends a migrated session.
    store.revoke_family("sid-1", until).await.unwrap();
    let after_logout = store
        .rotate_session(rotation("sid-1", "r1-1", "r2-1", now))
        .await
        .unwrap();
    assert_eq!(after_logout, Rotation::Unknown);
    // Logout-everywhere (the subject's cutoff, which `SessionManager::logout_all`
    // writes and `RefreshService` checks before it rotates) ends a migrated
    // session too, though the first release never listed it under its subject.
    let issued = (now - 60) * 1_000_000;
    assert!(
        !store
            .is_revoked(&token("r1-2", "owner", Some("sid-2"), issued))
            .unwrap()
    );
    store
        .revoke_subject("owner", now * 1_000_000, until)
        .await
        .unwrap();
    assert!(
        store
            .is_revoked(&token("r1-2", "owner", Some("sid-2"), issued))
            .unwrap(),
        "a first-release session ends with its subject's logout-everywhere"
    );

    // The old keys are gone, the odd ones left alone, the layout marked.
    for key in [
        format!("{prefix}:j:{{jti-0}}"),
        format!("{prefix}:f:{{sid-2}}"),
        format!("{prefix}:c:{{user-0}}"),
        format!("{prefix}:r:{{gone-0}}"),
    ] {
        let exists: i64 = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(exists, 0, "{key} migrated");
    }
    for key in [&odd_list, &odd_set] {
        let exists: i64 = redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(exists, 1, "{key} left as it was");
    }
    let layout: Option<String> = redis::cmd("GET")
        .arg(format!("{prefix}:layout"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(layout.as_deref(), Some("2"));

    // An instance started later reads the new layout only, and agrees.
    let late = RedisStore::builder(url.as_str())
        .prefix(prefix.as_str())
        .connect()
        .await
        .unwrap();
    assert!(late.is_revoked(&token("jti-999", "s", None, 1)).unwrap());
    assert!(late.is_revoked(&token("x", "s", Some("sid-0"), 1)).unwrap());
    assert!(late.is_revoked(&token("x", "user-9", None, 1)).unwrap());
    let rotated = late
        .rotate_session(rotation("sid-999", "r1-999", "r2-999", now))
        .await
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated);
}

#[tokio::test]
async fn a_shard_key_of_another_type_fails_the_start_with_one_message_naming_the_key() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = unique("foreign-shard");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // Another program's string where this release keeps a sorted set.
    let key = shard_key(&prefix, "any", "j");
    let () = redis::cmd("SET")
        .arg(&key)
        .arg("not ours")
        .query_async(&mut conn)
        .await
        .unwrap();
    let error = RedisStore::builder(url.as_str())
        .prefix(prefix.as_str())
        .connect()
        .await
        .expect_err("a shard the store cannot read fails the start");
    let message = error.to_string();
    assert!(message.contains(key.as_str()), "names the key: {message}");
    assert!(
        message.contains("sorted set"),
        "says what was expected: {message}"
    );
    assert!(message.contains("prefix"), "says what to do: {message}");
    assert_eq!(message.matches("WRONGTYPE").count(), 1, "once: {message}");
}

/// The migration's time at scale, by hand (not in CI):
/// `SESSIONS=1000000 cargo test --release --features full --test redis
/// first_release::migration_time -- --ignored --nocapture`. Its own
/// `redis-server`; prints how long the first start (migration and load) and
/// a second start (the layout marker only) took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a timing by hand: 1 M first-release sessions and revocations"]
async fn migration_time() {
    let count = |name: &str| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000)
    };
    let (sessions, denied) = (count("SESSIONS"), count("DENIED"));
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let prefix = "scale";
    let until = later();
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let seeding = std::time::Instant::now();
    const CHUNK: usize = 10_000;
    for start in (0..sessions.max(denied)).step_by(CHUNK) {
        let () = first_release_range(
            prefix,
            until,
            start.min(denied)..(start + CHUNK).min(denied),
            start.min(sessions)..(start + CHUNK).min(sessions),
            0,
            0,
        )
        .query_async(&mut conn)
        .await
        .unwrap();
    }
    println!(
        "seeded {sessions} first-release sessions and {denied} deny entries in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let connect = || RedisStore::builder(server.url()).prefix(prefix).connect();
    let started = std::time::Instant::now();
    let first = connect().await.unwrap();
    let first_start = started.elapsed();
    let started = std::time::Instant::now();
    let second = connect().await.unwrap();
    let second_start = started.elapsed();
    println!(
        "first start (migration + load): {:.2} s; second start (marker only + load): {:.2} s; \
         view: {} entries",
        first_start.as_secs_f64(),
        second_start.as_secs_f64(),
        second.view_len()
    );
    assert!(first.is_revoked(&token("jti-0", "s", None, 1)).unwrap());
    let now = until - 3600;
    let last = sessions - 1;
    let (sid, r0, r1) = (
        format!("sid-{last}"),
        format!("r0-{last}"),
        format!("r1-{last}"),
    );
    let rotated = second
        .rotate_session(rotation(&sid, &r0, &r1, now))
        .await
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated);
}
