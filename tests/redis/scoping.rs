//! Issue 26 item 9 in Redis: another issuer's revocations are kept under
//! issuer-scoped ids, and the cutoffs written before this release (when every
//! issuer's `sub` shared one id) stay enforced for those tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use deadpool_redis::redis;
use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::{RevocationStore, issuer_scoped};

use super::redis_server::shared_redis_url;
use super::suite::{later, token, unique};

const PARTNER: &str = "https://partner.test";

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn cutoffs_written_before_scoping_began_still_apply_to_other_issuers_tokens() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = unique("scoping");
    let now = now_micros();
    // Scoping began ten seconds ago: an instance of this release started then.
    let since = now - 10_000_000;
    let mut conn = raw(&url).await;
    let () = redis::cmd("SET")
        .arg(format!("{prefix}:scoped-since"))
        .arg(since)
        .query_async(&mut conn)
        .await
        .unwrap();
    let store = RedisStore::builder(url)
        .prefix(&prefix)
        .connect()
        .await
        .unwrap();
    // One cutoff from before scoping (for every issuer's "early"), one after
    // (this service's own "late" only).
    store
        .revoke_subject("early", since - 5_000_000, later())
        .await
        .unwrap();
    store
        .revoke_subject("late", now - 1_000_000, later())
        .await
        .unwrap();
    let issued = now - 100_000_000;
    let (jti, early, late) = (
        issuer_scoped(PARTNER, "j"),
        issuer_scoped(PARTNER, "early"),
        issuer_scoped(PARTNER, "late"),
    );
    assert!(
        store
            .is_revoked(&token(&jti, &early, None, issued))
            .unwrap(),
        "the partner's token answers to the cutoff written before scoping"
    );
    assert!(
        !store.is_revoked(&token(&jti, &late, None, issued)).unwrap(),
        "a cutoff written since scoping is this service's own user's only"
    );
    assert!(store.is_revoked(&token("j", "late", None, issued)).unwrap());
    // The partner's own cutoff, under its scoped id, reaches its tokens only.
    store
        .revoke_subject(&late, now - 1_000_000, later())
        .await
        .unwrap();
    assert!(store.is_revoked(&token(&jti, &late, None, issued)).unwrap());
}

#[tokio::test]
async fn the_first_instance_sets_the_scoping_time_and_later_ones_keep_it() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = unique("scoping");
    let key = format!("{prefix}:scoped-since");
    let before = now_micros();
    let _first = RedisStore::builder(url.clone())
        .prefix(&prefix)
        .connect()
        .await
        .unwrap();
    let mut conn = raw(&url).await;
    let set: u64 = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        set >= before && set <= now_micros(),
        "set to the start: {set}"
    );
    let _second = RedisStore::builder(url)
        .prefix(&prefix)
        .connect()
        .await
        .unwrap();
    let kept: u64 = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, set, "a later instance does not move it");
    let () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
}
