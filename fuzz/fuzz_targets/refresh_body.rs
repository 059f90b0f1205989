//! The refresh request body: `RefreshRequest::parse` on arbitrary bytes,
//! checked against a plain `serde_json::Value` reading, and the whole
//! `RefreshService` on the same bytes as a POST body.

#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{Request, StatusCode, header};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::ServiceExt as _;
use tower_jwt_auth::refresh::RefreshRequest;
use tower_jwt_auth::{
    Algorithm, JwtConfig, ManualClock, MemoryStore, RefreshService, SessionManager, SigningKey,
    TokenIssuer, Verifier, VerifyingKey,
};

const SECRET: &[u8] = b"fuzz-refresh-secret-of-at-least-32-bytes";

fn service() -> &'static RefreshService<tower_jwt_auth::NoCustomClaims> {
    static SERVICE: OnceLock<RefreshService<tower_jwt_auth::NoCustomClaims>> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let clock = ManualClock::at_secs(1_800_000_000);
        let config = JwtConfig::new().clock(clock.clone());
        let sessions: SessionManager = SessionManager::new(
            TokenIssuer::new(
                SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
                config.clone(),
            ),
            Verifier::new(VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(), config),
            Arc::new(MemoryStore::with_clock(clock)),
        );
        sessions.refresh_service()
    })
}

fuzz_target!(|data: &[u8]| {
    let parsed = RefreshRequest::parse(data);
    if let Ok(request) = &parsed {
        let value: Value = serde_json::from_slice(data).expect("accepted body is JSON");
        assert_eq!(
            value["refresh_token"].as_str(),
            Some(request.refresh_token.as_str())
        );
    }

    let request = Request::post("/auth/refresh")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::copy_from_slice(data)))
        .unwrap();
    let response = service()
        .clone()
        .oneshot(request)
        .now_or_never()
        .expect("the memory store never waits")
        .unwrap();
    // No token the fuzzer writes is signed by SECRET: never 200, never 500.
    let expected = match parsed {
        Ok(_) => StatusCode::UNAUTHORIZED,
        Err(error) => error.status(),
    };
    assert_eq!(response.status(), expected);
});
