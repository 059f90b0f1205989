//! The store-conformance suite: what every `RevocationStore` must do, written
//! once and run against each store (`MemoryStore` here, `RedisStore` in
//! `tests/redis`). Include it with
//! `#[path = "../conformance/suite.rs"] #[macro_use] mod suite;` and call
//! `store_conformance_tests!(async_expression_making_a_store)`.
//!
//! Every check uses fresh random ids, so the suite can run against a store
//! that other tests share.

#![allow(dead_code)]

use std::sync::Arc;

use tower_jwt_auth::revocation::{RevocationStore, Rotation, TokenRef};

/// A fresh id, unique across runs and processes.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An expiry comfortably in the future.
pub fn later() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600
}

pub fn token<'a>(
    jti: &'a str,
    subject: &'a str,
    session: Option<&'a str>,
    issued_at_micros: u64,
) -> TokenRef<'a> {
    TokenRef {
        jti,
        subject,
        session,
        issued_at_micros,
    }
}

pub async fn revoked_jti_is_revoked_and_others_are_not<S: RevocationStore>(store: &S) {
    let (jti, other, sub) = (unique("jti"), unique("jti"), unique("sub"));
    assert!(!store.is_revoked(&token(&jti, &sub, None, 1)).unwrap());
    store.revoke_token(&jti, later()).await.unwrap();
    assert!(store.is_revoked(&token(&jti, &sub, None, 1)).unwrap());
    assert!(!store.is_revoked(&token(&other, &sub, None, 1)).unwrap());
}

pub async fn subject_cutoff_revokes_only_tokens_issued_before_it<S: RevocationStore>(store: &S) {
    let sub = unique("sub");
    let other_sub = unique("sub");
    store
        .revoke_subject(&sub, 5_000_000, later())
        .await
        .unwrap();
    assert!(
        store
            .is_revoked(&token("a", &sub, None, 4_999_999))
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(&token("b", &sub, None, 5_000_000))
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(&token("c", &sub, None, 5_000_001))
            .unwrap()
    );
    assert!(!store.is_revoked(&token("d", &other_sub, None, 1)).unwrap());
}

pub async fn later_cutoff_replaces_earlier_and_earlier_never_lowers_it<S: RevocationStore>(
    store: &S,
) {
    let sub = unique("sub");
    store
        .revoke_subject(&sub, 5_000_000, later())
        .await
        .unwrap();
    store
        .revoke_subject(&sub, 9_000_000, later())
        .await
        .unwrap();
    assert!(
        store
            .is_revoked(&token("a", &sub, None, 8_000_000))
            .unwrap()
    );
    store
        .revoke_subject(&sub, 1_000_000, later())
        .await
        .unwrap();
    assert!(
        store
            .is_revoked(&token("a", &sub, None, 8_000_000))
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(&token("a", &sub, None, 9_000_000))
            .unwrap()
    );
}

pub async fn rotation_moves_the_family_forward<S: RevocationStore>(store: &S) {
    let family = unique("fam");
    store.start_family(&family, "r1", later()).await.unwrap();
    assert_eq!(
        store
            .rotate_family(&family, "r1", "r2", later())
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        store
            .rotate_family(&family, "r2", "r3", later())
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        store
            .rotate_family(&family, "r3", "r4", later())
            .await
            .unwrap(),
        Rotation::Rotated
    );
}

pub async fn presenting_a_retired_jti_revokes_the_family<S: RevocationStore>(store: &S) {
    let family = unique("fam");
    store.start_family(&family, "r1", later()).await.unwrap();
    assert_eq!(
        store
            .rotate_family(&family, "r1", "r2", later())
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        store
            .rotate_family(&family, "r1", "rX", later())
            .await
            .unwrap(),
        Rotation::Reused
    );
    // The newest token of the family is dead too.
    assert_eq!(
        store
            .rotate_family(&family, "r2", "r3", later())
            .await
            .unwrap(),
        Rotation::Unknown
    );
    // And the family's access tokens are revoked.
    let sub = unique("sub");
    assert!(
        store
            .is_revoked(&token("access", &sub, Some(&family), u64::MAX))
            .unwrap()
    );
}

pub async fn unknown_family_never_rotates<S: RevocationStore>(store: &S) {
    let family = unique("fam");
    assert_eq!(
        store
            .rotate_family(&family, "r1", "r2", later())
            .await
            .unwrap(),
        Rotation::Unknown
    );
    // Asking did not create it.
    assert_eq!(
        store
            .rotate_family(&family, "r2", "r3", later())
            .await
            .unwrap(),
        Rotation::Unknown
    );
}

pub async fn revoked_family_stops_rotating_and_revokes_its_access_tokens<S: RevocationStore>(
    store: &S,
) {
    let (family, other, sub) = (unique("fam"), unique("fam"), unique("sub"));
    store.start_family(&family, "r1", later()).await.unwrap();
    store.start_family(&other, "o1", later()).await.unwrap();
    store.revoke_family(&family, later()).await.unwrap();
    assert_eq!(
        store
            .rotate_family(&family, "r1", "r2", later())
            .await
            .unwrap(),
        Rotation::Unknown
    );
    assert!(
        store
            .is_revoked(&token("a", &sub, Some(&family), u64::MAX))
            .unwrap()
    );
    // Other families are untouched.
    assert!(
        !store
            .is_revoked(&token("b", &sub, Some(&other), u64::MAX))
            .unwrap()
    );
    assert_eq!(
        store
            .rotate_family(&other, "o1", "o2", later())
            .await
            .unwrap(),
        Rotation::Rotated
    );
}

pub async fn revoking_an_unknown_family_still_revokes_it<S: RevocationStore>(store: &S) {
    let (family, sub) = (unique("fam"), unique("sub"));
    store.revoke_family(&family, later()).await.unwrap();
    assert!(
        store
            .is_revoked(&token("a", &sub, Some(&family), u64::MAX))
            .unwrap()
    );
    store.start_family(&family, "r1", later()).await.unwrap();
    assert_eq!(
        store
            .rotate_family(&family, "r1", "r2", later())
            .await
            .unwrap(),
        Rotation::Unknown
    );
}

/// Many tasks present the same refresh token at once: exactly one rotates.
/// Repeated over several families.
pub async fn concurrent_rotation_has_exactly_one_winner<S: RevocationStore>(store: Arc<S>) {
    const TASKS: usize = 32;
    const ROUNDS: usize = 10;
    for _ in 0..ROUNDS {
        let family = unique("fam");
        store.start_family(&family, "r0", later()).await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let mut tasks = Vec::with_capacity(TASKS);
        for i in 0..TASKS {
            let (store, barrier, family) =
                (Arc::clone(&store), Arc::clone(&barrier), family.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let next = format!("r1-{i}");
                store
                    .rotate_family(&family, "r0", &next, later())
                    .await
                    .unwrap()
            }));
        }
        let mut rotated = 0;
        for task in tasks {
            if task.await.unwrap() == Rotation::Rotated {
                rotated += 1;
            }
        }
        assert_eq!(rotated, 1, "exactly one concurrent rotation must win");
    }
}

/// Generates one `#[tokio::test]` per conformance check; `$make` is an async
/// expression evaluating to a fresh store. With `optional:`, it evaluates to
/// `Option<store>`, and `None` (a server the tests may not need) skips.
#[macro_export]
macro_rules! store_conformance_tests {
    (@all $make:expr) => {
        $crate::store_conformance_tests!(@each $make;
            revoked_jti_is_revoked_and_others_are_not,
            subject_cutoff_revokes_only_tokens_issued_before_it,
            later_cutoff_replaces_earlier_and_earlier_never_lowers_it,
            rotation_moves_the_family_forward,
            presenting_a_retired_jti_revokes_the_family,
            unknown_family_never_rotates,
            revoked_family_stops_rotating_and_revokes_its_access_tokens,
            revoking_an_unknown_family_still_revokes_it,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_rotation_has_exactly_one_winner() {
            let Some(store) = $make.await else { return };
            let store = std::sync::Arc::new(store);
            suite::concurrent_rotation_has_exactly_one_winner(store).await;
        }
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(store) = $make.await else { return };
                suite::$name(&store).await;
            }
        )*
    };
    (optional: $make:expr) => {
        $crate::store_conformance_tests!(@all $make);
    };
    ($make:expr) => {
        $crate::store_conformance_tests!(@all async { Some($make.await) });
    };
}
