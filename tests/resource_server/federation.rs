//! Our own services federating like any identity provider's: the demo (an
//! ES256 issuer) publishes its JWK Set and discovery document, and the
//! resource server, given only the demo's URL, verifies its access tokens
//! (and refuses its refresh tokens). With `RESOURCE_METADATA=1` it serves
//! RFC 9728 metadata naming the demo and points its challenges at it.

use serde_json::Value;
use tower_jwt_auth::{Algorithm, JwtConfig, SigningKey, VerifyingKey};

use crate::demo;
use crate::support::{self, Server};

const PRIVATE: &[u8] = include_bytes!("../keys/es256_private.pem");
const PUBLIC: &[u8] = include_bytes!("../keys/es256_public.pem");

/// The demo on a loopback port with `JWT_ISSUER` unset: with an ES256 key
/// its issuer is its own URL (`Settings::with_default_issuer`, as
/// `from_env` applies it).
async fn start_demo() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = demo::Settings {
        bind: addr,
        signing: SigningKey::from_pem(Algorithm::ES256, PRIVATE).unwrap(),
        verifying: VerifyingKey::from_pem(Algorithm::ES256, PUBLIC).unwrap(),
        config: JwtConfig::new().audience("demo-api"),
        previous: Vec::new(),
    }
    .with_default_issuer();
    let base = format!("http://{addr}");
    assert_eq!(settings.config.issuer_name(), Some(base.as_str()));
    let app = demo::app(settings);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn login(demo: &str) -> Value {
    let response = support::client()
        .post(format!("{demo}/auth/login"))
        .json(&serde_json::json!({"username": "alice", "password": "alice-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_server_verifies_the_demos_tokens_through_its_discovery() {
    let demo = start_demo().await;
    let server = Server::start(&[
        ("OIDC_ISSUER", &demo),
        ("JWT_AUDIENCE", "demo-api"),
        ("JWT_TYPE_CLAIM", "token_type"),
        ("JWT_TYPE_ACCESS", "access"),
    ])
    .await;
    let pair = login(&demo).await;
    let me = server.get("/me", pair["access_token"].as_str()).await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    assert_eq!(me.json()["sub"], "alice");
    assert_eq!(me.json()["iss"], demo);
    let refresh = server
        .get("/protected/ping", pair["refresh_token"].as_str())
        .await;
    refresh.assert_invalid_token();
}

/// Given only the demo's URL and the audience (no type claim configured, so
/// the generic profile), the resource server still refuses the demo's refresh
/// token: its header `typ` and its `token_type` both say what it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_refresh_token_is_refused_by_a_resource_server_given_only_its_url() {
    let demo = start_demo().await;
    let server = Server::start(&[("OIDC_ISSUER", &demo), ("JWT_AUDIENCE", "demo-api")]).await;
    let pair = login(&demo).await;
    let me = server.get("/me", pair["access_token"].as_str()).await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    let refresh = server.get("/me", pair["refresh_token"].as_str()).await;
    refresh.assert_invalid_token();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_metadata_names_the_issuer_and_the_challenges_point_at_it() {
    let demo = start_demo().await;
    let server = Server::start(&[
        ("OIDC_ISSUER", &demo),
        ("JWT_AUDIENCE", "demo-api"),
        ("RESOURCE_METADATA", "1"),
    ])
    .await;
    let metadata = server
        .get("/.well-known/oauth-protected-resource", None)
        .await;
    assert_eq!(metadata.status, 200);
    let document = metadata.json();
    assert_eq!(document["resource"], server.base);
    assert_eq!(document["authorization_servers"], serde_json::json!([demo]));
    assert_eq!(
        document["scopes_supported"],
        serde_json::json!(["read:ping"])
    );
    assert_eq!(
        document["bearer_methods_supported"],
        serde_json::json!(["header"])
    );

    let anonymous = server.get("/me", None).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        format!(
            r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource""#,
            server.base
        )
    );
    let forged = server.get("/me", Some("not.a.token")).await;
    assert_eq!(forged.status, 401);
    assert!(
        forged
            .header("www-authenticate")
            .starts_with(r#"Bearer error="invalid_token", resource_metadata=""#)
    );
}
