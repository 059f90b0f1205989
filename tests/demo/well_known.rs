//! The demo as an issuer: its JWK Set and discovery document with an
//! asymmetric key (404 with HS*), and a restart onto a new key with the old
//! one in `JWT_PREVIOUS_PUBLIC_KEY_FILES` that logs nobody out.

use std::sync::Arc;

use axum::Router;
use base64::Engine as _;
use http::{Request, StatusCode};
use serde_json::Value;
use tower_jwt_auth::{Algorithm, JwtConfig, MemoryStore, SigningKey, VerifyingKey};

use super::{app, demo, field, get, json, login, refresh, send};

const OLD_PRIVATE: &[u8] = include_bytes!("../keys/es256_private.pem");
const OLD_PUBLIC: &[u8] = include_bytes!("../keys/es256_public.pem");
const NEW_PRIVATE: &[u8] = include_bytes!("../keys/es256_next_private.pem");
const NEW_PUBLIC: &[u8] = include_bytes!("../keys/es256_next_public.pem");

fn es256_app(
    private: &[u8],
    public: &[u8],
    previous: &[&[u8]],
    store: &Arc<MemoryStore>,
) -> Router {
    demo::app_with_store(
        demo::Settings {
            bind: "127.0.0.1:3000".parse().unwrap(),
            signing: SigningKey::from_pem(Algorithm::ES256, private).unwrap(),
            verifying: VerifyingKey::from_pem(Algorithm::ES256, public).unwrap(),
            config: JwtConfig::new()
                .issuer("http://127.0.0.1:3000")
                .audience("demo-api"),
            previous: previous
                .iter()
                .map(|pem| VerifyingKey::from_pem(Algorithm::ES256, pem).unwrap())
                .collect(),
        },
        store.clone(),
    )
}

async fn fetch(app: &Router, path: &str) -> (StatusCode, Value) {
    let response = send(
        app,
        Request::get(path).body(axum::body::Body::empty()).unwrap(),
    )
    .await;
    let status = response.status();
    if status != StatusCode::OK {
        return (status, Value::Null);
    }
    (status, json(response).await)
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

fn published_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_asymmetric_demo_publishes_its_jwk_set_and_discovery_document() {
    let app = es256_app(OLD_PRIVATE, OLD_PUBLIC, &[], &Arc::new(MemoryStore::new()));
    let token = field(&login(&app, "alice").await, "access_token");
    let (status, jwks) = fetch(&app, "/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(published_kids(&jwks), vec![kid_of(&token)]);
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    assert!(jwks["keys"][0].get("d").is_none());
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let (status, metadata) = fetch(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(metadata["issuer"], "http://127.0.0.1:3000");
        assert_eq!(
            metadata["jwks_uri"],
            "http://127.0.0.1:3000/.well-known/jwks.json"
        );
        assert_eq!(
            metadata["token_endpoint"],
            "http://127.0.0.1:3000/auth/refresh"
        );
        assert!(
            metadata
                .get("id_token_signing_alg_values_supported")
                .is_none()
        );
    }
}

#[tokio::test]
async fn an_hmac_demo_publishes_nothing() {
    let app = app();
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        assert_eq!(fetch(&app, path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_restart_onto_a_new_key_keeps_the_old_tokens_working() {
    let store = Arc::new(MemoryStore::new());
    let before = es256_app(OLD_PRIVATE, OLD_PUBLIC, &[], &store);
    let pair = login(&before, "alice").await;
    let (old_access, old_refresh) = (field(&pair, "access_token"), field(&pair, "refresh_token"));
    let old_kid = kid_of(&old_access);

    // The restart: the new key is current, the old one listed as previous.
    let after = es256_app(NEW_PRIVATE, NEW_PUBLIC, &[OLD_PUBLIC], &store);
    assert_eq!(
        send(&after, get("/me", &old_access)).await.status(),
        StatusCode::OK
    );
    let rotated = refresh(&after, &old_refresh).await;
    assert_eq!(
        rotated.status(),
        StatusCode::OK,
        "the old refresh token rotates"
    );
    let rotated = json(rotated).await;
    let new_access = field(&rotated, "access_token");
    let new_kid = kid_of(&new_access);
    assert_ne!(new_kid, old_kid);
    assert_eq!(kid_of(&field(&rotated, "refresh_token")), new_kid);
    assert_eq!(
        send(&after, get("/me", &new_access)).await.status(),
        StatusCode::OK
    );
    let fresh = field(&login(&after, "bob").await, "access_token");
    assert_eq!(kid_of(&fresh), new_kid);

    let (_, jwks) = fetch(&after, "/.well-known/jwks.json").await;
    assert_eq!(published_kids(&jwks), vec![new_kid, old_kid]);

    // Without the old key listed, its tokens stop working.
    let forgetful = es256_app(NEW_PRIVATE, NEW_PUBLIC, &[], &store);
    assert_eq!(
        send(&forgetful, get("/me", &old_access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
