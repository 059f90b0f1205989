//! The demo's real router with an HS256 key, and `Bearer <token>` for an
//! access token from its own `POST /auth/login`: what `benches/demo.rs` and
//! `benches/instructions.rs` send `GET /health` and `GET /protected/ping`
//! through in-process. Include with
//! `#[path = "support/demo_app.rs"] mod demo_app;`.

#[allow(dead_code)]
#[path = "../../examples/demo.rs"]
mod demo;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use tower::ServiceExt as _;
use tower_jwt_auth::{Algorithm, JwtConfig, SigningKey, VerifyingKey};

const SECRET: &[u8] = b"bench-demo-secret-of-at-least-32-bytes!";

/// The demo app, and the `Authorization` value of a day-long access token
/// for alice that it issued.
pub fn app_and_bearer(rt: &tokio::runtime::Runtime) -> (Router, HeaderValue) {
    let app = demo::app(demo::Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        signing: SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        verifying: VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config: JwtConfig::new().access_ttl(Duration::from_secs(86_400)),
    });
    let bearer = login(rt, &app);
    (app, bearer)
}

/// `Bearer <token>` for a fresh access token from the app's own
/// `POST /auth/login` (a new session, so a new token, at every call).
pub fn login(rt: &tokio::runtime::Runtime, app: &Router) -> HeaderValue {
    let login = Request::post("/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"username":"alice","password":"alice-password"}"#,
        ))
        .unwrap();
    let response = rt.block_on(app.clone().oneshot(login)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = rt
        .block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
        .unwrap();
    let pair: serde_json::Value = serde_json::from_slice(&body).unwrap();
    HeaderValue::from_str(&format!(
        "Bearer {}",
        pair["access_token"].as_str().unwrap()
    ))
    .unwrap()
}
