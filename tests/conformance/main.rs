//! The store-conformance suite against `MemoryStore`, plus what only the
//! memory store can show with a controlled clock: expired entries are pruned.

#[path = "suite.rs"]
#[macro_use]
mod suite;

use tower_jwt_auth::revocation::{RevocationStore, Rotation};
use tower_jwt_auth::{ManualClock, MemoryStore};

store_conformance_tests!(async { MemoryStore::new() });

#[tokio::test]
async fn expired_entries_are_pruned_so_memory_tracks_live_revocations() {
    let clock = ManualClock::at_secs(1_000);
    let store = MemoryStore::with_clock(clock.clone());
    for i in 0..100 {
        store
            .revoke_token(&format!("jti-{i}"), 1_100)
            .await
            .unwrap();
    }
    store.revoke_subject("alice", 5, 1_200).await.unwrap();
    store.start_family("fam", "r1", 1_300).await.unwrap();
    assert_eq!(store.len(), 102);

    clock.set_secs(1_150);
    store.revoke_token("late", 2_000).await.unwrap();
    assert_eq!(store.len(), 3, "the 100 expired jti entries are gone");
    assert!(
        !store
            .is_revoked(&suite::token("jti-1", "bob", None, 0))
            .unwrap()
    );

    clock.set_secs(1_400);
    store.revoke_token("later", 2_000).await.unwrap();
    assert_eq!(store.len(), 2, "cutoff and family expired too");
    assert_eq!(
        store.rotate_family("fam", "r1", "r2", 3_000).await.unwrap(),
        Rotation::Unknown
    );
}

#[tokio::test]
async fn an_entry_lives_until_its_expiry_inclusive() {
    let clock = ManualClock::at_secs(1_000);
    let store = MemoryStore::with_clock(clock.clone());
    store.revoke_token("j", 1_100).await.unwrap();
    clock.set_secs(1_100);
    store.revoke_token("other", 2_000).await.unwrap();
    assert!(store.is_revoked(&suite::token("j", "s", None, 0)).unwrap());
}

#[tokio::test]
async fn extending_an_entry_keeps_it_past_its_first_expiry() {
    let clock = ManualClock::at_secs(1_000);
    let store = MemoryStore::with_clock(clock.clone());
    store.revoke_token("j", 1_100).await.unwrap();
    store.revoke_token("j", 1_500).await.unwrap();
    clock.set_secs(1_200);
    store.revoke_token("other", 2_000).await.unwrap();
    assert!(store.is_revoked(&suite::token("j", "s", None, 0)).unwrap());
}
