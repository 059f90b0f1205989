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

use tower_jwt_auth::revocation::{
    NewSession, RevocationStore, Rotation, RotationRequest, SessionRecord, TokenRef,
};

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

/// An expiry comfortably in the future: an hour after the first call, the
/// same for the whole test process, so a value a store kept compares equal
/// to one computed later even across a second's boundary.
pub fn later() -> u64 {
    static LATER: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LATER.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600
    })
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

/// A token without `jti` (or `sid`) has an empty one: revoking the empty id
/// must not refuse every such token of every user. The store writes nothing
/// (or refuses); either way nothing is revoked by it.
pub async fn an_empty_id_is_never_revoked<S: RevocationStore>(store: &S) {
    let sub = unique("sub");
    let _ = store.revoke_token("", later()).await;
    let _ = store.revoke_family("", later()).await;
    assert!(!store.is_revoked(&token("", &sub, None, 1)).unwrap());
    assert!(!store.is_revoked(&token("", &sub, Some(""), 1)).unwrap());
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

/// Now, in seconds since the epoch.
pub fn now() -> u64 {
    later() - 3600
}

/// Starts `family` for `subject` with first refresh `jti`, created at
/// `created_at` and ending an hour from now.
pub async fn start<S: RevocationStore>(
    store: &S,
    family: &str,
    subject: &str,
    jti: &str,
    created_at: u64,
) {
    store
        .start_session(NewSession {
            family,
            subject,
            jti,
            created_at,
            ends_at: later(),
            expires_at: later() + 5,
            jkt: None,
        })
        .await
        .unwrap();
}

/// One rotation at `now` with a reuse grace of `grace` seconds.
pub async fn rotate<S: RevocationStore>(
    store: &S,
    family: &str,
    presented: &str,
    next: &str,
    now: u64,
    grace: u64,
) -> Rotation {
    store
        .rotate_session(RotationRequest {
            family,
            presented,
            next,
            now,
            reuse_grace_secs: grace,
            revoke_until: later(),
            jkt: None,
        })
        .await
        .unwrap()
}

/// RFC 9449 §5: a family started bound to a DPoP key rotates only with a
/// proof of that key; another key or none changes nothing (not even the
/// replay state); an unbound family (as every family stored before the
/// binding existed) rotates with or without one.
pub async fn a_key_bound_family_rotates_only_with_its_key<S: RevocationStore>(store: &S) {
    let (family, sub, t) = (unique("fam"), unique("sub"), now());
    store
        .start_session(NewSession {
            family: &family,
            subject: &sub,
            jti: "r1",
            created_at: t,
            ends_at: later(),
            expires_at: later() + 5,
            jkt: Some("key-a"),
        })
        .await
        .unwrap();
    let with = |jkt: Option<&'static str>, presented: &'static str, next: &'static str| {
        store.rotate_session(RotationRequest {
            family: &family,
            presented,
            next,
            now: t,
            reuse_grace_secs: 0,
            revoke_until: later(),
            jkt,
        })
    };
    assert_eq!(with(None, "r1", "x").await.unwrap(), Rotation::KeyMismatch);
    assert_eq!(
        with(Some("key-b"), "r1", "x").await.unwrap(),
        Rotation::KeyMismatch
    );
    // Not even a replay is judged without the key: r0 never was current.
    assert_eq!(
        with(Some("key-b"), "r0", "x").await.unwrap(),
        Rotation::KeyMismatch
    );
    assert_eq!(
        with(Some("key-a"), "r1", "r2").await.unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        with(Some("key-a"), "r2", "r3").await.unwrap(),
        Rotation::Rotated
    );

    let unbound = unique("fam");
    start(store, &unbound, &sub, "u1", t).await;
    assert_eq!(
        rotate(store, &unbound, "u1", "u2", t, 0).await,
        Rotation::Rotated
    );
    let proof = store
        .rotate_session(RotationRequest {
            family: &unbound,
            presented: "u2",
            next: "u3",
            now: t,
            reuse_grace_secs: 0,
            revoke_until: later(),
            jkt: Some("key-a"),
        })
        .await
        .unwrap();
    assert_eq!(proof, Rotation::Rotated);
}

pub async fn retired_token_within_the_grace_rotates_again_and_retires_the_newer_pair<
    S: RevocationStore,
>(
    store: &S,
) {
    let (family, sub, t) = (unique("fam"), unique("sub"), now());
    start(store, &family, &sub, "r1", t).await;
    assert_eq!(
        rotate(store, &family, "r1", "r2", t, 10).await,
        Rotation::Rotated
    );
    // The response carrying r2 was lost: the client retries with r1.
    assert_eq!(
        rotate(store, &family, "r1", "r3", t + 5, 10).await,
        Rotation::Retried
    );
    // r3 is current; r2, never delivered, is retired: presenting it is a replay.
    let other = unique("fam");
    start(store, &other, &sub, "o1", t).await;
    assert_eq!(
        rotate(store, &other, "o1", "o2", t, 10).await,
        Rotation::Rotated
    );
    assert_eq!(
        rotate(store, &other, "o1", "o3", t + 1, 10).await,
        Rotation::Retried
    );
    assert_eq!(
        rotate(store, &other, "o2", "o4", t + 2, 10).await,
        Rotation::Reused
    );
    assert!(
        store
            .is_revoked(&token("a", &sub, Some(&other), u64::MAX))
            .unwrap()
    );
    // The first family goes on from r3, and is not revoked.
    assert_eq!(
        rotate(store, &family, "r3", "r4", t + 6, 10).await,
        Rotation::Rotated
    );
    assert!(
        !store
            .is_revoked(&token("a", &sub, Some(&family), u64::MAX))
            .unwrap()
    );
}

pub async fn retired_token_after_the_grace_is_a_replay<S: RevocationStore>(store: &S) {
    let (family, sub, t) = (unique("fam"), unique("sub"), now());
    start(store, &family, &sub, "r1", t).await;
    assert_eq!(
        rotate(store, &family, "r1", "r2", t, 10).await,
        Rotation::Rotated
    );
    assert_eq!(
        rotate(store, &family, "r1", "r3", t + 11, 10).await,
        Rotation::Reused
    );
    assert_eq!(
        rotate(store, &family, "r2", "r3", t + 11, 10).await,
        Rotation::Unknown
    );
}

pub async fn retrying_never_extends_the_grace<S: RevocationStore>(store: &S) {
    let (family, sub, t) = (unique("fam"), unique("sub"), now());
    start(store, &family, &sub, "r1", t).await;
    assert_eq!(
        rotate(store, &family, "r1", "r2", t, 10).await,
        Rotation::Rotated
    );
    assert_eq!(
        rotate(store, &family, "r1", "r3", t + 8, 10).await,
        Rotation::Retried
    );
    assert_eq!(
        rotate(store, &family, "r1", "r4", t + 11, 10).await,
        Rotation::Reused
    );
}

pub async fn without_grace_the_retired_token_is_a_replay_at_once<S: RevocationStore>(store: &S) {
    let (family, sub, t) = (unique("fam"), unique("sub"), now());
    start(store, &family, &sub, "r1", t).await;
    assert_eq!(
        rotate(store, &family, "r1", "r2", t, 0).await,
        Rotation::Rotated
    );
    assert_eq!(
        rotate(store, &family, "r1", "r3", t, 0).await,
        Rotation::Reused
    );
}

fn ids(listed: &[SessionRecord]) -> Vec<&str> {
    listed.iter().map(|s| s.id.as_str()).collect()
}

pub async fn sessions_lists_the_subjects_live_sessions_with_their_times<S: RevocationStore>(
    store: &S,
) {
    let (sub, other_sub, t) = (unique("sub"), unique("sub"), now());
    let (a, b, c) = (unique("fam"), unique("fam"), unique("fam"));
    start(store, &a, &sub, "a1", t - 20).await;
    start(store, &b, &sub, "b1", t - 10).await;
    start(store, &c, &other_sub, "c1", t - 5).await;
    assert_eq!(
        rotate(store, &b, "b1", "b2", t - 3, 0).await,
        Rotation::Rotated
    );

    let listed = store.sessions(&sub).await.unwrap();
    assert_eq!(
        ids(&listed),
        [a.as_str(), b.as_str()],
        "oldest first, own only"
    );
    assert_eq!(
        listed[0],
        SessionRecord {
            id: a.clone(),
            created_at: t - 20,
            last_refreshed_at: t - 20,
            expires_at: later(),
        }
    );
    assert_eq!(listed[1].created_at, t - 10);
    assert_eq!(listed[1].last_refreshed_at, t - 3);
    assert_eq!(
        ids(&store.sessions(&other_sub).await.unwrap()),
        [c.as_str()]
    );
    assert!(store.sessions(&unique("sub")).await.unwrap().is_empty());
}

pub async fn revoked_replayed_and_ended_sessions_are_not_listed<S: RevocationStore>(store: &S) {
    let (sub, t) = (unique("sub"), now());
    let (kept, revoked, replayed, over) =
        (unique("fam"), unique("fam"), unique("fam"), unique("fam"));
    for family in [&kept, &revoked, &replayed] {
        start(store, family, &sub, "x1", t).await;
    }
    store
        .start_session(NewSession {
            family: &over,
            subject: &sub,
            jti: "x1",
            created_at: t - 100,
            ends_at: t - 1,
            expires_at: later(),
            jkt: None,
        })
        .await
        .unwrap();
    store.revoke_family(&revoked, later()).await.unwrap();
    assert_eq!(
        rotate(store, &replayed, "x1", "x2", t, 0).await,
        Rotation::Rotated
    );
    assert_eq!(
        rotate(store, &replayed, "x1", "x3", t, 0).await,
        Rotation::Reused
    );
    assert_eq!(ids(&store.sessions(&sub).await.unwrap()), [kept.as_str()]);
}

pub async fn end_session_revokes_the_family_and_its_access_tokens<S: RevocationStore>(store: &S) {
    let (sub, t) = (unique("sub"), now());
    let (ended, other) = (unique("fam"), unique("fam"));
    start(store, &ended, &sub, "e1", t).await;
    start(store, &other, &sub, "o1", t).await;
    assert!(store.end_session(&sub, &ended, later()).await.unwrap());
    assert_eq!(
        rotate(store, &ended, "e1", "e2", t, 0).await,
        Rotation::Unknown
    );
    assert!(
        store
            .is_revoked(&token("a", &sub, Some(&ended), u64::MAX))
            .unwrap()
    );
    assert_eq!(ids(&store.sessions(&sub).await.unwrap()), [other.as_str()]);
    // Ending it again: it is no longer a live session.
    assert!(!store.end_session(&sub, &ended, later()).await.unwrap());
    assert_eq!(
        rotate(store, &other, "o1", "o2", t, 0).await,
        Rotation::Rotated
    );
}

pub async fn ending_another_subjects_session_is_not_found_and_changes_nothing<
    S: RevocationStore,
>(
    store: &S,
) {
    let (owner, intruder, t) = (unique("sub"), unique("sub"), now());
    let family = unique("fam");
    start(store, &family, &owner, "r1", t).await;
    assert!(
        !store
            .end_session(&intruder, &family, later())
            .await
            .unwrap()
    );
    assert!(
        !store
            .end_session(&intruder, &unique("fam"), later())
            .await
            .unwrap()
    );
    assert!(!store.end_session("", &family, later()).await.unwrap());
    assert!(
        !store
            .is_revoked(&token("a", &owner, Some(&family), u64::MAX))
            .unwrap()
    );
    assert_eq!(
        ids(&store.sessions(&owner).await.unwrap()),
        [family.as_str()]
    );
    assert_eq!(
        rotate(store, &family, "r1", "r2", t, 0).await,
        Rotation::Rotated
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
            an_empty_id_is_never_revoked,
            subject_cutoff_revokes_only_tokens_issued_before_it,
            later_cutoff_replaces_earlier_and_earlier_never_lowers_it,
            rotation_moves_the_family_forward,
            presenting_a_retired_jti_revokes_the_family,
            unknown_family_never_rotates,
            revoked_family_stops_rotating_and_revokes_its_access_tokens,
            revoking_an_unknown_family_still_revokes_it,
            retired_token_within_the_grace_rotates_again_and_retires_the_newer_pair,
            a_key_bound_family_rotates_only_with_its_key,
            retired_token_after_the_grace_is_a_replay,
            retrying_never_extends_the_grace,
            without_grace_the_retired_token_is_a_replay_at_once,
            sessions_lists_the_subjects_live_sessions_with_their_times,
            revoked_replayed_and_ended_sessions_are_not_listed,
            end_session_revokes_the_family_and_its_access_tokens,
            ending_another_subjects_session_is_not_found_and_changes_nothing,
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

        /// Every check above, in order, on one store: for a store a test
        /// builds once (a cluster), from the same list as the tests.
        #[allow(dead_code)]
        pub(crate) async fn every_conformance_check<
            S: ::tower_jwt_auth::revocation::RevocationStore,
        >(
            store: &S,
        ) {
            $(suite::$name(store).await;)*
        }
    };
    (optional: $make:expr) => {
        $crate::store_conformance_tests!(@all $make);
    };
    ($make:expr) => {
        $crate::store_conformance_tests!(@all async { Some($make.await) });
    };
}
