//! The demo app's HTTP contract (`examples/demo.rs`), driven through its real
//! router with `oneshot`.

#[allow(dead_code)]
#[path = "../../examples/demo.rs"]
mod demo;
mod well_known;

mod browser_api;

use axum::Router;
use axum::body::{Body, to_bytes};
use http::{Request, Response, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::{Algorithm, JwtConfig, SigningKey, VerifyingKey};

mod dpop;
mod introspection;
mod lifecycle;
mod openapi;
mod public;
mod sessions;

const SECRET: &[u8] = b"demo-test-secret-of-at-least-32-bytes!!";

fn app() -> Router {
    demo::app(demo::Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        signing: SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        verifying: VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config: JwtConfig::new().issuer("demo").audience("demo-api"),
        previous: Vec::new(),
    })
}

async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

async fn json(response: Response<Body>) -> Value {
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn post(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn get(uri: &str, token: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

async fn login(app: &Router, user: &str) -> Value {
    let response = send(
        app,
        post(
            "/auth/login",
            &format!(r#"{{"username":"{user}","password":"{user}-password"}}"#),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    json(response).await
}

#[tokio::test]
async fn login_returns_a_token_pair() {
    let app = app();
    let pair = login(&app, "alice").await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 300);
    assert!(pair["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(pair["refresh_token"].is_string());
}

#[tokio::test]
async fn login_with_wrong_credentials_is_401() {
    let app = app();
    let response = send(
        &app,
        post("/auth/login", r#"{"username":"alice","password":"nope"}"#),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_login_body_is_400_or_422_with_json_error() {
    let app = app();
    for body in [
        "{not json",
        "",
        r#"{"username":"alice"}"#,
        r#"{"username":1,"password":2}"#,
        "[]",
    ] {
        let response = send(&app, post("/auth/login", body)).await;
        let status = response.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body:?}: {status}"
        );
        assert!(json(response).await["error"].is_string(), "{body:?}");
    }
}

#[tokio::test]
async fn me_returns_the_claims_of_the_contract() {
    let app = app();
    let token = login(&app, "alice").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = send(&app, get("/me", &token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let claims = json(response).await;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["roles"], serde_json::json!(["admin"]));
    assert_eq!(claims["iss"], "demo");
    assert_eq!(claims["aud"], "demo-api");
    assert_eq!(claims["token_type"], "access");
    for claim in ["iat", "exp", "jti"] {
        assert!(!claims[claim].is_null(), "{claim}");
    }
}

#[tokio::test]
async fn protected_ping_needs_a_token() {
    let app = app();
    let token = login(&app, "bob").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = send(&app, get("/protected/ping", &token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = to_bytes(response.into_body(), 64).await.unwrap();
    assert_eq!(&body[..], b"pong");

    let anonymous = send(
        &app,
        Request::get("/protected/ping").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()[header::WWW_AUTHENTICATE], "Bearer");
}

#[tokio::test]
async fn admin_is_for_the_admin_role_only() {
    let app = app();
    let alice = login(&app, "alice").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = login(&app, "bob").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        send(&app, get("/admin", &alice)).await.status(),
        StatusCode::OK
    );
    let refused = send(&app, get("/admin", &bob)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let challenge = refused.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn health_needs_no_auth() {
    let app = app();
    let response = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_revokes_the_access_token() {
    let app = app();
    let token = login(&app, "bob").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut logout = get("/auth/logout", &token);
    *logout.method_mut() = http::Method::POST;
    assert_eq!(send(&app, logout).await.status(), StatusCode::NO_CONTENT);
    let after = send(&app, get("/me", &token)).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    let challenge = after.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn refresh_token_is_refused_as_an_access_token() {
    let app = app();
    let token = login(&app, "bob").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        send(&app, get("/me", &token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

fn authed_post(uri: &str, token: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn field(pair: &Value, name: &str) -> String {
    pair[name].as_str().unwrap().to_owned()
}

async fn refresh(app: &Router, refresh_token: &str) -> Response<Body> {
    let body = serde_json::json!({ "refresh_token": refresh_token }).to_string();
    send(app, post("/auth/refresh", &body)).await
}

#[tokio::test]
async fn refresh_endpoint_rotates_the_pair() {
    let app = app();
    let first = login(&app, "alice").await;
    let response = refresh(&app, &field(&first, "refresh_token")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = json(response).await;
    assert_eq!(second["token_type"], "Bearer");
    let access = field(&second, "access_token");
    assert_eq!(
        send(&app, get("/me", &access)).await.status(),
        StatusCode::OK
    );
    // The first refresh token is retired; presenting it again ends the session.
    let replay = refresh(&app, &field(&first, "refresh_token")).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&app, get("/me", &access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn refresh_endpoint_rejects_bad_bodies_with_json_errors() {
    let app = app();
    for (body, status) in [
        ("", StatusCode::BAD_REQUEST),
        ("{", StatusCode::BAD_REQUEST),
        ("{}", StatusCode::UNPROCESSABLE_ENTITY),
        (r#"{"refresh_token":"junk"}"#, StatusCode::UNAUTHORIZED),
    ] {
        let response = send(&app, post("/auth/refresh", body)).await;
        assert_eq!(response.status(), status, "{body:?}");
        assert!(json(response).await["error"].is_string(), "{body:?}");
    }
}

#[tokio::test]
async fn logout_with_a_refresh_token_ends_the_session() {
    let app = app();
    let pair = login(&app, "alice").await;
    let access = field(&pair, "access_token");
    let body = serde_json::json!({ "refresh_token": field(&pair, "refresh_token") }).to_string();
    let response = send(&app, authed_post("/auth/logout", &access, &body)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        send(&app, get("/me", &access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&app, &field(&pair, "refresh_token")).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_all_ends_every_session_and_a_new_login_works() {
    let app = app();
    let phone = login(&app, "alice").await;
    let laptop = login(&app, "alice").await;
    let bob = login(&app, "bob").await;
    let response = send(
        &app,
        authed_post("/auth/logout-all", &field(&phone, "access_token"), ""),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for pair in [&phone, &laptop] {
        assert_eq!(
            send(&app, get("/me", &field(pair, "access_token")))
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            refresh(&app, &field(pair, "refresh_token")).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        send(&app, get("/me", &field(&bob, "access_token")))
            .await
            .status(),
        StatusCode::OK
    );
    let again = login(&app, "alice").await;
    assert_eq!(
        send(&app, get("/me", &field(&again, "access_token")))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        refresh(&app, &field(&again, "refresh_token"))
            .await
            .status(),
        StatusCode::OK
    );
}

/// The contract's core — login, `/me`, `/admin`, logout — with each key type
/// the demo can be started with (PEMs from `tests/keys`, as
/// `JWT_PRIVATE_KEY_FILE` / `JWT_PUBLIC_KEY_FILE` would load them).
#[tokio::test]
async fn every_key_type_serves_the_contract() {
    let keys: [(Algorithm, &[u8], &[u8]); 3] = [
        (
            Algorithm::RS256,
            include_bytes!("../keys/rs256_private.pem"),
            include_bytes!("../keys/rs256_public.pem"),
        ),
        (
            Algorithm::ES256,
            include_bytes!("../keys/es256_private.pem"),
            include_bytes!("../keys/es256_public.pem"),
        ),
        (
            Algorithm::EdDSA,
            include_bytes!("../keys/ed25519_private.pem"),
            include_bytes!("../keys/ed25519_public.pem"),
        ),
    ];
    for (alg, private, public) in keys {
        let app = demo::app(demo::Settings {
            bind: "127.0.0.1:0".parse().unwrap(),
            signing: SigningKey::from_pem(alg, private).unwrap(),
            verifying: VerifyingKey::from_pem(alg, public).unwrap(),
            config: JwtConfig::new().issuer("demo").audience("demo-api"),
            previous: Vec::new(),
        });
        let field = |pair: &Value, name: &str| pair[name].as_str().unwrap().to_owned();
        let alice = field(&login(&app, "alice").await, "access_token");
        let bob = field(&login(&app, "bob").await, "access_token");

        let me = send(&app, get("/me", &alice)).await;
        assert_eq!(me.status(), StatusCode::OK, "{alg:?}");
        assert_eq!(json(me).await["roles"], serde_json::json!(["admin"]));
        assert_eq!(
            send(&app, get("/admin", &alice)).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            send(&app, get("/admin", &bob)).await.status(),
            StatusCode::FORBIDDEN,
            "{alg:?}"
        );

        let mut logout = get("/auth/logout", &alice);
        *logout.method_mut() = http::Method::POST;
        assert_eq!(send(&app, logout).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            send(&app, get("/me", &alice)).await.status(),
            StatusCode::UNAUTHORIZED,
            "{alg:?}"
        );
    }
}

async fn body_text(response: Response<Body>) -> String {
    String::from_utf8(to_bytes(response.into_body(), 1024).await.unwrap().to_vec()).unwrap()
}

#[tokio::test]
async fn admin_refusal_comes_from_the_role_guard() {
    let app = app();
    let bob = field(&login(&app, "bob").await, "access_token");
    let refused = send(&app, get("/admin", &bob)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_scope""#
    );
    let alice = field(&login(&app, "alice").await, "access_token");
    let allowed = send(&app, get("/admin", &alice)).await;
    assert_eq!(body_text(allowed).await, "hello, admin alice");
    let anonymous = send(&app, Request::get("/admin").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn hello_without_a_token_greets_anonymous() {
    let app = app();
    let response = send(&app, Request::get("/hello").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "hello, anonymous");
}

#[tokio::test]
async fn hello_with_a_good_token_greets_the_subject() {
    let app = app();
    let token = field(&login(&app, "bob").await, "access_token");
    let response = send(&app, get("/hello", &token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "hello, bob");
}

#[tokio::test]
async fn hello_with_a_bad_token_is_401() {
    let app = app();
    let token = field(&login(&app, "bob").await, "access_token");
    let refresh_token = field(&login(&app, "bob").await, "refresh_token");
    for value in [
        format!("Bearer {token}x"),
        "Bearer junk".to_owned(),
        format!("Bearer {refresh_token}"),
        "Bearer".to_owned(),
    ] {
        let request = Request::get("/hello")
            .header(header::AUTHORIZATION, &value)
            .body(Body::empty())
            .unwrap();
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value}");
        assert!(
            response.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .contains(r#"error="invalid_token""#)
        );
    }
}

#[tokio::test]
async fn hello_with_a_revoked_token_is_401() {
    let app = app();
    let token = field(&login(&app, "bob").await, "access_token");
    let response = send(&app, authed_post("/auth/logout", &token, "")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        send(&app, get("/hello", &token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Without the `metrics` feature the demo records nothing and has no
/// `/metrics` (tests/metrics checks it with the feature on).
#[cfg(not(feature = "metrics"))]
#[tokio::test]
async fn without_the_metrics_feature_there_is_no_metrics_endpoint() {
    let app = app();
    let response = send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
