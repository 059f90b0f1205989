//! Every cache rule, each with a test that fails without it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tower_jwt_auth::introspect::{IntrospectErrorKind, IntrospectionCache, Unavailable};
use tower_jwt_auth::{AuthErrorKind, ManualClock};

use crate::endpoint::{Endpoint, Mode};
use crate::{START, active, client};

fn cache(endpoint: &Endpoint, clock: &ManualClock) -> IntrospectionCache {
    IntrospectionCache::new(client(&endpoint.url(), clock))
}

async fn kind(cache: &IntrospectionCache, token: &str) -> Result<String, IntrospectErrorKind> {
    cache
        .claims::<Value>(token)
        .await
        .map(|claims| claims.sub.clone())
        .map_err(|e| e.kind())
}

#[tokio::test]
async fn an_active_answer_is_kept_for_the_ttl_then_asked_again() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("t", active(START + 3600));
    let cache = cache(&endpoint, &clock).ttl(Duration::from_secs(60));
    for _ in 0..3 {
        assert_eq!(kind(&cache, "t").await.unwrap(), "svc");
    }
    assert_eq!(endpoint.calls(), 1);
    clock.advance_secs(59);
    kind(&cache, "t").await.unwrap();
    assert_eq!(endpoint.calls(), 1, "still within the ttl");
    // Revoked at the provider: seen once the entry ends.
    endpoint.answer("t", json!({"active": false}));
    clock.advance_secs(1);
    assert_eq!(kind(&cache, "t").await, Err(IntrospectErrorKind::Inactive));
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test]
async fn an_active_answer_is_kept_no_longer_than_its_exp_and_a_late_hit_is_refused() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("t", active(START + 10));
    let cache = cache(&endpoint, &clock).ttl(Duration::from_secs(60));
    kind(&cache, "t").await.unwrap();
    clock.advance_secs(9);
    kind(&cache, "t").await.unwrap();
    assert_eq!(endpoint.calls(), 1);
    clock.advance_secs(1);
    // The endpoint still (wrongly) calls it active: the answer's own `exp` refuses it.
    assert_eq!(
        kind(&cache, "t").await,
        Err(IntrospectErrorKind::Refused(AuthErrorKind::Expired))
    );
    assert_eq!(endpoint.calls(), 2, "the entry ended at exp");
}

#[tokio::test]
async fn every_hit_runs_the_decision_again_never_an_old_verdict() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    // An answer for another audience is kept (it is an answer), and refused
    // on every use, as is the accepted one once the clock passes its `exp`
    // with leeway zero (entry and refusal at the same second).
    let mut other = active(START + 3600);
    other["aud"] = json!("billing");
    endpoint.answer("other", other);
    let cache = cache(&endpoint, &clock);
    for _ in 0..2 {
        assert_eq!(
            kind(&cache, "other").await,
            Err(IntrospectErrorKind::Refused(AuthErrorKind::InvalidAudience))
        );
    }
    assert_eq!(endpoint.calls(), 1);
    // Typed claims decoded on the first hit serve a second type too.
    let first = cache.claims::<Value>("ok").await;
    assert!(first.is_err());
    endpoint.answer("ok2", active(START + 3600));
    let value = cache.claims::<Value>("ok2").await.unwrap();
    let none = cache
        .claims::<tower_jwt_auth::NoCustomClaims>("ok2")
        .await
        .unwrap();
    assert_eq!(value.sub, none.sub);
}

#[tokio::test]
async fn an_inactive_or_failed_answer_is_kept_briefly() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    let cache = cache(&endpoint, &clock).inactive_ttl(Duration::from_secs(5));
    for _ in 0..10 {
        assert_eq!(
            kind(&cache, "garbage").await,
            Err(IntrospectErrorKind::Inactive)
        );
    }
    assert_eq!(
        endpoint.calls(),
        1,
        "a flood of one bad token costs one call"
    );
    clock.advance_secs(5);
    kind(&cache, "garbage").await.unwrap_err();
    assert_eq!(endpoint.calls(), 2, "kept 5 s, not longer");

    endpoint.set_mode(Mode::Status(502));
    endpoint.answer("good", active(START + 3600));
    for _ in 0..3 {
        assert_eq!(
            kind(&cache, "good").await,
            Err(IntrospectErrorKind::Unavailable(Unavailable::Status(502)))
        );
    }
    assert_eq!(endpoint.calls(), 3);
    endpoint.set_mode(Mode::Answer);
    clock.advance_secs(5);
    assert_eq!(kind(&cache, "good").await.unwrap(), "svc");
    assert_eq!(endpoint.calls(), 4);
}

#[tokio::test]
async fn the_negative_ttl_is_bounded_whatever_is_configured() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    let cache = cache(&endpoint, &clock).inactive_ttl(Duration::from_secs(3600));
    kind(&cache, "soon-active").await.unwrap_err();
    endpoint.answer("soon-active", active(START + 3600));
    clock.advance_secs(60);
    assert_eq!(kind(&cache, "soon-active").await.unwrap(), "svc");
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test]
async fn a_ttl_of_zero_turns_the_cache_off() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("t", active(START + 3600));
    let cache = cache(&endpoint, &clock).ttl(Duration::ZERO);
    for _ in 0..3 {
        kind(&cache, "t").await.unwrap();
    }
    assert_eq!(endpoint.calls(), 3);
    assert!(cache.is_empty());
}

/// Waits until every task spawned before it on this current-thread runtime
/// has been polled (and so is parked on the call or on the one caller).
async fn let_spawned_tasks_park() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_thousand_concurrent_lookups_of_a_new_token_cost_one_call() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("new", active(START + 3600));
    let cache = cache(&endpoint, &clock);
    endpoint.close();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { kind(&cache, "new").await })
        })
        .collect();
    endpoint.wait_for_calls(1).await;
    let_spawned_tasks_park().await;
    endpoint.open();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "svc");
    }
    assert_eq!(endpoint.calls(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_call_is_shared_too_and_the_next_one_is_made_after_it() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.set_mode(Mode::Status(500));
    let cache = cache(&endpoint, &clock);
    endpoint.close();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { kind(&cache, "t").await })
        })
        .collect();
    endpoint.wait_for_calls(1).await;
    let_spawned_tasks_park().await;
    endpoint.open();
    for task in tasks {
        assert_eq!(
            task.await.unwrap(),
            Err(IntrospectErrorKind::Unavailable(Unavailable::Status(500)))
        );
    }
    assert_eq!(endpoint.calls(), 1);
}

#[tokio::test]
async fn calls_in_flight_are_bounded_and_a_caller_beyond_waits_a_bounded_time() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    for token in ["a", "b", "c"] {
        endpoint.answer(token, active(START + 3600));
    }
    let cache = cache(&endpoint, &clock)
        .max_in_flight(2)
        .max_wait(Duration::from_millis(200));
    endpoint.close();
    let held: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|token| {
            let cache = cache.clone();
            tokio::spawn(async move { kind(&cache, token).await })
        })
        .collect();
    endpoint.wait_for_calls(2).await;
    assert_eq!(
        kind(&cache, "c").await,
        Err(IntrospectErrorKind::Unavailable(Unavailable::Busy))
    );
    assert_eq!(endpoint.calls(), 2, "the third call was never made");
    endpoint.open();
    for task in held {
        assert_eq!(task.await.unwrap().unwrap(), "svc");
    }
    // "Busy" is never kept: the same token goes through now.
    assert_eq!(kind(&cache, "c").await.unwrap(), "svc");
    assert_eq!(endpoint.calls(), 3);
}

#[tokio::test]
async fn the_cache_is_bounded_in_entries() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    let cache = Arc::new(cache(&endpoint, &clock).capacity(100));
    for i in 0..1000 {
        let token = format!("t{i}");
        endpoint.answer(&token, active(START + 3600));
        kind(&cache, &token).await.unwrap();
    }
    assert!(cache.len() <= 100, "{} entries", cache.len());
    assert!(cache.len() >= 50, "{} entries", cache.len());
}

#[tokio::test]
async fn debug_shows_no_token_and_no_secret() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("a-token-to-hide", active(START + 3600));
    let cache = cache(&endpoint, &clock);
    kind(&cache, "a-token-to-hide").await.unwrap();
    let debug = format!("{cache:?}");
    assert!(
        !debug.contains("a-token-to-hide") && !debug.contains("rs-secret"),
        "{debug}"
    );
}
