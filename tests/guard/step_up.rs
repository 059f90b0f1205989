//! The step-up guard (RFC 9470) through a real router: a recent login
//! passes; an older one, a token without `auth_time`, or no claims at all
//! are refused with the right challenge, and gRPC gets UNAUTHENTICATED.

use std::time::Duration;

use super::*;
use tower_jwt_auth::{ManualClock, RequireRecentLoginLayer};

const NOW: u64 = 1_800_000_000;

fn config(clock: &ManualClock) -> JwtConfig {
    JwtConfig::new()
        .access_ttl(Duration::from_secs(3600))
        .clock(clock.clone())
}

fn step_up_app(clock: &ManualClock, layer: RequireRecentLoginLayer<User>) -> Router {
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config(clock),
    );
    Router::new()
        .route("/sensitive", get(|| async { "sensitive" }))
        .route_layer(layer.clock(clock.clone()))
        .route_layer(JwtAuthLayer::new(verifier).claims::<User>())
}

fn bearer(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

async fn session_token(clock: &ManualClock) -> String {
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config(clock),
    );
    issuer.pair("alice", &User::default()).unwrap().access_token
}

#[tokio::test]
async fn a_login_within_max_age_passes_and_an_older_one_gets_the_step_up_challenge() {
    let clock = ManualClock::at_secs(NOW);
    let app = step_up_app(
        &clock,
        RequireRecentLoginLayer::new(Duration::from_secs(60)),
    );
    let token = session_token(&clock).await;
    clock.advance_secs(60);
    assert_eq!(
        app.clone()
            .oneshot(bearer("/sensitive", &token))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    clock.advance_secs(1);
    let refused = app.oneshot(bearer("/sensitive", &token)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_user_authentication", max_age=60"#
    );
    assert_eq!(
        refused
            .extensions()
            .get::<tower_jwt_auth::AuthError>()
            .unwrap()
            .kind(),
        tower_jwt_auth::AuthErrorKind::InsufficientUserAuthentication
    );
}

#[tokio::test]
async fn a_token_without_auth_time_never_passes() {
    let clock = ManualClock::at_secs(NOW);
    let app = step_up_app(
        &clock,
        RequireRecentLoginLayer::new(Duration::from_secs(60)),
    );
    // A stand-alone access token carries no `auth_time`.
    let token = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config(&clock),
    )
    .access_token("alice", &User::default())
    .unwrap();
    let refused = app.oneshot(bearer("/sensitive", &token)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_user_authentication", max_age=60"#
    );
}

#[tokio::test]
async fn the_challenge_carries_the_realm() {
    let clock = ManualClock::at_secs(NOW);
    let app = step_up_app(
        &clock,
        RequireRecentLoginLayer::new(Duration::from_secs(5)).realm("bank"),
    );
    let token = session_token(&clock).await;
    clock.advance_secs(6);
    let refused = app.oneshot(bearer("/sensitive", &token)).await.unwrap();
    assert_eq!(
        refused.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="bank", error="insufficient_user_authentication", max_age=5"#
    );
}

#[tokio::test]
async fn without_the_auth_layer_there_are_no_claims_and_the_answer_is_a_bare_401() {
    let clock = ManualClock::at_secs(NOW);
    let app: Router = Router::new()
        .route("/sensitive", get(|| async { "sensitive" }))
        .route_layer(RequireRecentLoginLayer::<User>::new(Duration::from_secs(60)).clock(clock));
    let response = app
        .oneshot(Request::get("/sensitive").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
}

#[tokio::test]
async fn a_grpc_request_with_an_old_login_is_unauthenticated() {
    let clock = ManualClock::at_secs(NOW);
    let token = session_token(&clock).await;
    clock.advance_secs(61);
    let request = Request::post("/sensitive")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/grpc")
        .body(Body::empty())
        .unwrap();
    // gRPC calls are POSTs.
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config(&clock),
    );
    let app_post: Router = Router::new()
        .route("/sensitive", axum::routing::post(|| async { "sensitive" }))
        .route_layer(
            RequireRecentLoginLayer::<User>::new(Duration::from_secs(60)).clock(clock.clone()),
        )
        .route_layer(JwtAuthLayer::new(verifier).claims::<User>());
    let response = app_post.oneshot(request).await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "16");
    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
}

/// A token signed with the test key whose login time is `auth_time` (its
/// `iat` now, so the verifier takes it).
fn token_with_auth_time(auth_time: u64) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({
            "sub": "alice", "exp": NOW + 600, "iat": NOW, "jti": "j-future",
            "token_type": "access", "sid": "s-1", "auth_time": auth_time, "roles": [],
        }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

#[tokio::test]
async fn a_login_time_in_the_future_beyond_the_leeway_gets_the_step_up_challenge() {
    let clock = ManualClock::at_secs(NOW);
    let app = step_up_app(
        &clock,
        RequireRecentLoginLayer::new(Duration::from_secs(60)),
    );
    let refused = app
        .oneshot(bearer("/sensitive", &token_with_auth_time(NOW + 3600)))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_user_authentication", max_age=60"#
    );
}

#[tokio::test]
async fn a_login_time_ahead_by_less_than_the_leeway_passes() {
    let clock = ManualClock::at_secs(NOW);
    let app = step_up_app(
        &clock,
        RequireRecentLoginLayer::new(Duration::from_secs(60)),
    );
    let response = app
        .oneshot(bearer("/sensitive", &token_with_auth_time(NOW + 3)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
