//! Issue 26 item 9: the same `sub` or `jti` at two trusted issuers names two
//! different things, so revocations of another issuer's tokens are kept under
//! ids scoped by that issuer. A logout-everywhere at one issuer no longer
//! logs out the other issuer's user of the same name.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::revocation::{RevocationStore, issuer_scoped};
use tower_jwt_auth::{
    Algorithm, JwtAuthLayer, JwtConfig, MemoryStore, RevocationScope, TokenProfile, Verifier,
    VerifyingKey,
};

use super::{ES256_PUBLIC, NOW, SECRET_A, clock, hs256, sign_es, sign_hs};

const OURS: &str = "https://a.test";
const PARTNER: &str = "https://b.test";
const LATER: u64 = NOW + 3_600;

fn app(store: Arc<MemoryStore>, partner_scope: Option<RevocationScope>) -> Router {
    let ours = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET_A).unwrap(),
        JwtConfig::new()
            .issuer(OURS)
            .audience("api")
            .profile(TokenProfile::generic())
            .clock(clock()),
    );
    let mut partner_config = JwtConfig::new()
        .issuer(PARTNER)
        .audience("api")
        .profile(TokenProfile::generic())
        .clock(clock());
    if let Some(scope) = partner_scope {
        partner_config = partner_config.revocation_scope(scope);
    }
    let partner = Verifier::new(
        VerifyingKey::from_pem(Algorithm::ES256, ES256_PUBLIC).unwrap(),
        partner_config,
    );
    Router::new()
        .route("/me", get(|| async { "ok" }))
        .layer(JwtAuthLayer::new(Verifier::any_of([ours, partner]).unwrap()).shared_store(store))
}

fn claims(iss: &str, sub: &str, jti: &str) -> Value {
    json!({"iss": iss, "sub": sub, "jti": jti, "aud": "api", "iat": NOW - 60, "exp": NOW + 600})
}

fn ours(sub: &str, jti: &str) -> String {
    sign_hs(SECRET_A, hs256(), &claims(OURS, sub, jti))
}

fn partners(sub: &str, jti: &str) -> String {
    let mut es = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    es.typ = None;
    sign_es(es, &claims(PARTNER, sub, jti))
}

async fn status(app: &Router, token: &str) -> StatusCode {
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

fn store() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::with_clock(clock()))
}

#[tokio::test]
async fn logout_everywhere_at_our_issuer_leaves_the_other_issuers_user_of_that_name_in() {
    let store = store();
    let app = app(store.clone(), Some(RevocationScope::Issuer));
    let (our_alice, partner_alice) = (ours("alice", "j1"), partners("alice", "j2"));
    assert_eq!(status(&app, &our_alice).await, StatusCode::OK);
    assert_eq!(status(&app, &partner_alice).await, StatusCode::OK);
    // Our logout-everywhere writes the plain subject, as SessionManager does.
    store
        .revoke_subject("alice", NOW * 1_000_000, LATER)
        .await
        .unwrap();
    assert_eq!(status(&app, &our_alice).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&app, &partner_alice).await, StatusCode::OK);
    // The partner's alice is revoked under her scoped id, and only she is.
    let (bob, partner_bob) = (ours("bob", "j3"), partners("bob", "j4"));
    store
        .revoke_subject(&issuer_scoped(PARTNER, "bob"), NOW * 1_000_000, LATER)
        .await
        .unwrap();
    assert_eq!(status(&app, &partner_bob).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&app, &bob).await, StatusCode::OK);
}

#[tokio::test]
async fn a_denied_jti_of_the_other_issuer_does_not_deny_ours_of_the_same_value() {
    let store = store();
    let app = app(store.clone(), Some(RevocationScope::Issuer));
    let (our_token, partner_token) = (ours("carol", "same"), partners("dave", "same"));
    store
        .revoke_token(&issuer_scoped(PARTNER, "same"), LATER)
        .await
        .unwrap();
    assert_eq!(status(&app, &partner_token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&app, &our_token).await, StatusCode::OK);
}

#[tokio::test]
async fn an_issuer_left_shared_keeps_the_plain_ids_as_before() {
    let store = store();
    // Local keys and no scope set: the partner is taken for our own issuer.
    let app = app(store.clone(), None);
    let partner_erin = partners("erin", "j5");
    store
        .revoke_subject("erin", NOW * 1_000_000, LATER)
        .await
        .unwrap();
    assert_eq!(status(&app, &partner_erin).await, StatusCode::UNAUTHORIZED);
}
