//! The demo's session endpoints (issue 14), checked over HTTP as an outside
//! client would: listing and ending sessions (from another session too), a
//! retry after a lost refresh response, and the step-up route.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use tower_jwt_auth::{ManualClock, MemoryStore};

fn settings(config: JwtConfig) -> demo::Settings {
    demo::Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        signing: SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        verifying: VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config,
        previous: Vec::new(),
    }
}

fn app_with(options: demo::SessionOptions) -> Router {
    demo::app_with(
        settings(JwtConfig::new().issuer("demo").audience("demo-api")),
        Arc::new(MemoryStore::new()),
        options,
    )
}

fn delete(uri: &str, token: &str) -> Request<Body> {
    Request::delete(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

async fn sessions_of(app: &Router, access: &str) -> Vec<Value> {
    let response = send(app, get("/auth/sessions", access)).await;
    assert_eq!(response.status(), StatusCode::OK);
    json(response).await["sessions"].as_array().unwrap().clone()
}

fn sid_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn sessions_lists_the_callers_sessions_and_marks_the_current_one() {
    let app = app();
    let phone = login(&app, "alice").await;
    let laptop = login(&app, "alice").await;
    let _bob = login(&app, "bob").await;

    let listed = sessions_of(&app, &field(&laptop, "access_token")).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let phone_sid = sid_of(&field(&phone, "access_token"));
    let laptop_sid = sid_of(&field(&laptop, "access_token"));
    for session in &listed {
        let sid = session["sid"].as_str().unwrap();
        assert!(sid == phone_sid || sid == laptop_sid, "{session}");
        assert_eq!(session["current"], sid == laptop_sid, "{session}");
        let created = session["created_at"].as_u64().unwrap();
        assert_eq!(session["last_refreshed_at"].as_u64().unwrap(), created);
        // The default absolute session lifetime: 7 days.
        assert_eq!(
            session["expires_at"].as_u64().unwrap(),
            created + 7 * 24 * 3600
        );
    }
}

#[tokio::test]
async fn a_refresh_shows_as_the_sessions_last_refresh() {
    // A clock of the test's own: the refresh happens a known time after the
    // login, so the listing must show exactly that moment (with the real
    // clock both fall in the same second and a refresh that changed nothing
    // would pass).
    let clock = ManualClock::at_secs(1_800_000_000);
    let config = JwtConfig::new()
        .issuer("demo")
        .audience("demo-api")
        .access_ttl(Duration::from_secs(3600))
        .clock(clock.clone());
    let app = demo::app_with(
        settings(config),
        Arc::new(MemoryStore::with_clock(clock.clone())),
        demo::SessionOptions::default(),
    );
    let first = login(&app, "alice").await;
    let before = sessions_of(&app, &field(&first, "access_token")).await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["created_at"], 1_800_000_000);
    assert_eq!(before[0]["last_refreshed_at"], 1_800_000_000);

    clock.advance_secs(42);
    let response = refresh(&app, &field(&first, "refresh_token")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = json(response).await;
    let listed = sessions_of(&app, &field(&second, "access_token")).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["current"], true);
    assert_eq!(listed[0]["sid"], before[0]["sid"], "the same session");
    assert_eq!(listed[0]["created_at"], 1_800_000_000, "{listed:?}");
    assert_eq!(listed[0]["last_refreshed_at"], 1_800_000_042, "{listed:?}");
}

#[tokio::test]
async fn ending_a_session_from_another_session_refuses_its_tokens() {
    let app = app();
    let phone = login(&app, "alice").await;
    let laptop = login(&app, "alice").await;
    let laptop_access = field(&laptop, "access_token");
    let phone_sid = sid_of(&field(&phone, "access_token"));

    let response = send(
        &app,
        delete(&format!("/auth/sessions/{phone_sid}"), &laptop_access),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        send(&app, get("/me", &field(&phone, "access_token")))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&app, &field(&phone, "refresh_token"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // The laptop goes on, and no longer lists the phone.
    assert_eq!(
        send(&app, get("/me", &laptop_access)).await.status(),
        StatusCode::OK
    );
    let listed = sessions_of(&app, &laptop_access).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["current"], true);
    assert_eq!(
        refresh(&app, &field(&laptop, "refresh_token"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn ending_a_sid_that_is_not_the_callers_is_404_and_changes_nothing() {
    let app = app();
    let alice = login(&app, "alice").await;
    let bob = login(&app, "bob").await;
    let alice_access = field(&alice, "access_token");
    let bob_sid = sid_of(&field(&bob, "access_token"));
    for sid in [bob_sid.as_str(), "no-such-session"] {
        let response = send(
            &app,
            delete(&format!("/auth/sessions/{sid}"), &alice_access),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{sid}");
        assert_eq!(json(response).await["error"], "not_found");
    }
    assert_eq!(
        send(&app, get("/me", &field(&bob, "access_token")))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        refresh(&app, &field(&bob, "refresh_token")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn session_endpoints_need_an_access_token() {
    let app = app();
    let anonymous = send(
        &app,
        Request::get("/auth/sessions").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let refresh_token = field(&login(&app, "alice").await, "refresh_token");
    let response = send(&app, delete("/auth/sessions/x", &refresh_token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_retry_after_a_lost_refresh_response_gets_a_working_pair_within_the_grace() {
    let app = app_with(demo::SessionOptions {
        reuse_grace: Duration::from_secs(60),
        ..Default::default()
    });
    let first = login(&app, "alice").await;
    // The client never sees this response.
    let lost = refresh(&app, &field(&first, "refresh_token")).await;
    assert_eq!(lost.status(), StatusCode::OK);
    // It retries with the same refresh token.
    let retry = refresh(&app, &field(&first, "refresh_token")).await;
    assert_eq!(retry.status(), StatusCode::OK);
    let pair = json(retry).await;
    assert_eq!(
        send(&app, get("/me", &field(&pair, "access_token")))
            .await
            .status(),
        StatusCode::OK
    );
    let next = refresh(&app, &field(&pair, "refresh_token")).await;
    assert_eq!(next.status(), StatusCode::OK);
    let next = json(next).await;
    assert_eq!(
        send(&app, get("/me", &field(&next, "access_token")))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_a_grace_a_retry_after_a_lost_response_is_a_replay() {
    let app = app(); // REFRESH_REUSE_GRACE_SECS defaults to 0
    let first = login(&app, "alice").await;
    let lost = json(refresh(&app, &field(&first, "refresh_token")).await).await;
    let retry = refresh(&app, &field(&first, "refresh_token")).await;
    assert_eq!(retry.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&app, get("/me", &field(&lost, "access_token")))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "the replay revoked the session"
    );
}

#[tokio::test]
async fn sensitive_route_wants_a_login_at_most_fresh_max_age_old() {
    let clock = ManualClock::at_secs(1_800_000_000);
    let config = JwtConfig::new()
        .issuer("demo")
        .audience("demo-api")
        .access_ttl(Duration::from_secs(3600))
        .clock(clock.clone());
    let app = demo::app_with(
        settings(config),
        Arc::new(MemoryStore::with_clock(clock.clone())),
        demo::SessionOptions::default(), // FRESH_MAX_AGE_SECS: 300
    );
    let pair = login(&app, "alice").await;
    let access = field(&pair, "access_token");
    assert_eq!(
        send(&app, get("/account/sensitive", &access))
            .await
            .status(),
        StatusCode::OK
    );
    clock.advance_secs(300);
    assert_eq!(
        send(&app, get("/account/sensitive", &access))
            .await
            .status(),
        StatusCode::OK,
        "exactly max_age old is recent enough"
    );

    clock.advance_secs(1);
    let refused = send(&app, get("/account/sensitive", &access)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_user_authentication", max_age=300"#
    );
    // The token itself is fine elsewhere.
    assert_eq!(
        send(&app, get("/me", &access)).await.status(),
        StatusCode::OK
    );
    // A refresh keeps the login's time: still refused.
    let refreshed = json(refresh(&app, &field(&pair, "refresh_token")).await).await;
    assert_eq!(
        send(
            &app,
            get("/account/sensitive", &field(&refreshed, "access_token"))
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    // A new login satisfies it.
    let again = login(&app, "alice").await;
    assert_eq!(
        send(
            &app,
            get("/account/sensitive", &field(&again, "access_token"))
        )
        .await
        .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn fresh_max_age_is_configurable() {
    let clock = ManualClock::at_secs(1_800_000_000);
    let config = JwtConfig::new().clock(clock.clone());
    let app = demo::app_with(
        settings(config),
        Arc::new(MemoryStore::with_clock(clock.clone())),
        demo::SessionOptions {
            fresh_max_age: Duration::from_secs(10),
            ..Default::default()
        },
    );
    let access = field(&login(&app, "bob").await, "access_token");
    clock.advance_secs(11);
    let refused = send(&app, get("/account/sensitive", &access)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_user_authentication", max_age=10"#
    );
}
