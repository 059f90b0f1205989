//! Introspection (RFC 7662) through real HTTP on loopback: the client and
//! its answer checks (`client.rs`), RFC 9701 signed answers (`signed.rs`),
//! every cache rule (`cache.rs`), and `IntrospectionService` for our own
//! tokens (`server.rs`), each against a test endpoint (`endpoint.rs`) or our
//! own service served by axum.

mod cache;
mod client;
mod endpoint;
mod layer;
mod server;
mod signed;
#[path = "../support/watched_body.rs"]
mod watched_body;

use std::time::Duration;

use serde_json::{Value, json};
use tower_jwt_auth::introspect::{ClientAuth, IntrospectionClient};
use tower_jwt_auth::{JwtConfig, ManualClock};

pub(crate) const START: u64 = 1_800_000_000;
pub(crate) const ISSUER: &str = "https://idp.test";
pub(crate) const AUDIENCE: &str = "api";

pub(crate) fn config(clock: &ManualClock) -> JwtConfig {
    JwtConfig::new()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .leeway(Duration::ZERO)
        .clock(clock.clone())
}

pub(crate) fn client(url: &str, clock: &ManualClock) -> IntrospectionClient {
    IntrospectionClient::new(
        url,
        "rs",
        ClientAuth::client_secret_basic("rs-secret"),
        config(clock),
    )
    .timeout(Duration::from_secs(2))
}

/// An active answer for a `client_credentials`-style token expiring at
/// `exp` (no `sub`).
pub(crate) fn active(exp: u64) -> Value {
    json!({
        "active": true,
        "client_id": "svc",
        "scope": "read write",
        "iss": ISSUER,
        "aud": [AUDIENCE],
        "exp": exp,
        "iat": START,
        "token_type": "Bearer",
    })
}
