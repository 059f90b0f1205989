//! The example's opaque tokens (issue 23), checked from outside: the
//! `INTROSPECTION_*` contract against a test RFC 7662 endpoint on loopback.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::endpoint::{Endpoint, Mode, basic};
use crate::support::Server;

const ISSUER: &str = "https://idp.introspection.test";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn active(issuer: &str, scope: &str) -> Value {
    json!({
        "active": true,
        "client_id": "svc",
        "scope": scope,
        "iss": issuer,
        "aud": "api",
        "exp": now() + 3600,
        "token_type": "Bearer",
    })
}

async fn server(endpoint: &Endpoint, cache_secs: &str) -> Server {
    let url = endpoint.url();
    Server::start(&[
        ("JWT_SECRET", "a resource server secret of 32 bytes!!"),
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", "api"),
        ("INTROSPECTION_URL", &url),
        ("INTROSPECTION_CLIENT_ID", "rs"),
        ("INTROSPECTION_CLIENT_SECRET", "rs-secret"),
        ("INTROSPECTION_CACHE_SECS", cache_secs),
    ])
    .await
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_behave_as_jwts_on_every_route() {
    let endpoint = Endpoint::start();
    endpoint.answer("opaque-read", active(ISSUER, "read:ping"));
    endpoint.answer("opaque-other", active(ISSUER, "other"));
    let server = server(&endpoint, "60").await;

    let me = server.get("/me", Some("opaque-read")).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let me = me.json();
    assert_eq!(me["client_id"], "svc");
    assert_eq!(me["scope"], "read:ping");
    assert!(me.get("active").is_none(), "{me}");
    assert_eq!(
        basic(endpoint.last_call().authorization.as_deref().unwrap()),
        ("rs".into(), "rs-secret".into())
    );
    assert_eq!(server.get("/scoped", Some("opaque-read")).await.status, 200);
    assert_eq!(
        server
            .get("/protected/ping", Some("opaque-read"))
            .await
            .status,
        200
    );
    let refused = server.get("/scoped", Some("opaque-other")).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .header("www-authenticate")
            .contains("insufficient_scope")
    );
    server
        .get("/me", Some("unknown"))
        .await
        .assert_invalid_token();
    assert_eq!(
        endpoint.calls(),
        3,
        "one call per token, the rest cache hits"
    );

    endpoint.set_mode(Mode::Status(500));
    let down = server.get("/me", Some("new-token")).await;
    assert_eq!(down.status, 503);
    assert_eq!(down.header("retry-after"), "1");
    // Its own reason, not the keys' (the keys are fine here).
    let metrics = server.get("/metrics", None).await.body;
    let line = r#"tower_jwt_auth_decisions_total{outcome="unavailable",reason="introspection_unavailable"} 1"#;
    assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    assert!(!metrics.contains("keys_unavailable"), "{metrics}");
}

#[tokio::test]
async fn with_the_cache_off_a_revocation_at_the_provider_takes_effect_at_once() {
    let endpoint = Endpoint::start();
    endpoint.answer("opaque", active(ISSUER, "read:ping"));
    let server = server(&endpoint, "0").await;
    assert_eq!(server.get("/me", Some("opaque")).await.status, 200);
    endpoint.answer("opaque", json!({"active": false}));
    server
        .get("/me", Some("opaque"))
        .await
        .assert_invalid_token();
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test]
async fn the_endpoint_is_discovered_from_oidc_issuer() {
    let endpoint = Endpoint::start();
    let issuer = endpoint.issuer();
    endpoint.answer("opaque", active(&issuer, "read:ping"));
    let server = Server::start(&[
        ("OIDC_ISSUER", &issuer),
        ("JWT_AUDIENCE", "api"),
        ("INTROSPECTION_CLIENT_ID", "rs"),
        ("INTROSPECTION_CLIENT_SECRET", "rs-secret"),
    ])
    .await;
    let me = server.get("/me", Some("opaque")).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["iss"], issuer.as_str());
}

#[tokio::test]
async fn a_client_id_without_a_secret_is_a_configuration_error() {
    let (status, output) = Server::run_to_exit(&[
        ("INTROSPECTION_URL", "http://127.0.0.1:9/introspect"),
        ("INTROSPECTION_CLIENT_ID", "rs"),
    ])
    .await;
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(output.contains("INTROSPECTION_CLIENT_SECRET"), "{output}");
}
