//! The published JWK Set round-trips: through `VerifyingKey::from_jwk`, and
//! through PyJWT (an independent verifier), for RS256, PS256, ES256, ES384
//! and EdDSA; it is served with cache validators; an HS* issuer publishes
//! nothing.

#[path = "../resource_server/support.rs"]
#[allow(dead_code)]
mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::publish::{IssuerMetadata, JwkSet};
use tower_jwt_auth::{
    Algorithm, Jwk, JwtConfig, NoCustomClaims, SigningKey, TokenIssuer, TokenType, Verifier,
    VerifyingKey,
};

const RSA: &[u8] = include_bytes!("../keys/rs256_private.pem");
const ES256: &[u8] = include_bytes!("../keys/es256_private.pem");
const ES384: &[u8] = include_bytes!("../keys/es384_private.pem");
const ED25519: &[u8] = include_bytes!("../keys/ed25519_private.pem");

fn config() -> JwtConfig {
    JwtConfig::new().issuer("https://auth.test").audience("api")
}

fn cases() -> Vec<(Algorithm, SigningKey)> {
    [
        (Algorithm::RS256, RSA),
        (Algorithm::PS256, RSA),
        (Algorithm::ES256, ES256),
        (Algorithm::ES384, ES384),
        (Algorithm::EdDSA, ED25519),
    ]
    .into_iter()
    .map(|(alg, pem)| (alg, SigningKey::from_pem(alg, pem).unwrap()))
    .collect()
}

fn alg_name(alg: Algorithm) -> String {
    serde_json::to_value(alg)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

fn document(set: &JwkSet) -> Value {
    serde_json::from_slice(set.document()).unwrap()
}

#[test]
fn each_published_key_verifies_its_tokens_through_from_jwk() {
    for (alg, key) in cases() {
        let token = TokenIssuer::new(key.clone(), config())
            .access_token("alice", &NoCustomClaims {})
            .unwrap();
        let set = JwkSet::new(&key, [], Duration::from_secs(300)).unwrap();
        let published = &document(&set)["keys"][0];
        assert_eq!(published["alg"], alg_name(alg));
        assert_eq!(published["use"], "sig");
        assert_eq!(published["kid"], key.thumbprint().unwrap());
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                published.get(private).is_none(),
                "{alg:?} publishes {private}"
            );
        }
        let jwk: Jwk = serde_json::from_value(published.clone()).unwrap();
        let verifying = VerifyingKey::from_jwk(alg, &jwk).unwrap();
        let claims = Verifier::new(verifying, config())
            .verify::<NoCustomClaims>(&token, TokenType::Access)
            .unwrap();
        assert_eq!(claims.sub, "alice", "{alg:?}");
    }
}

#[test]
fn pyjwt_verifies_our_tokens_with_our_published_jwk_set() {
    let Some(python) = support::python(&["jwt", "cryptography"]) else {
        return;
    };
    let mut keys = Vec::new();
    let mut tokens = Vec::new();
    for (alg, key) in cases() {
        // PS256 and RS256 share the RSA key: name them apart.
        let key = key.with_kid(format!("{}-key", alg_name(alg)));
        let set = JwkSet::new(&key, [], Duration::from_secs(300)).unwrap();
        keys.push(document(&set)["keys"][0].clone());
        let token = TokenIssuer::new(key, config())
            .access_token(&format!("sub-{}", alg_name(alg)), &NoCustomClaims {})
            .unwrap();
        tokens.push(json!({ "token": token, "alg": alg_name(alg) }));
    }
    let request = json!({
        "jwks": { "keys": keys }, "audience": "api", "issuer": "https://auth.test",
        "tokens": tokens,
    });
    let mut child = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/publish/verify_with_pyjwt.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for ((alg, _), result) in cases().into_iter().zip(results) {
        assert_eq!(result["ok"], true, "{alg:?}: {result}");
        assert_eq!(result["sub"], format!("sub-{}", alg_name(alg)));
    }
}

#[tokio::test]
async fn the_jwk_set_service_answers_get_with_cache_headers_and_304_for_its_etag() {
    let key = SigningKey::from_pem(Algorithm::ES256, ES256).unwrap();
    let set = JwkSet::new(&key, [], Duration::from_secs(300)).unwrap();
    let app = axum::Router::new().route_service("/.well-known/jwks.json", set.service());
    let get = |etag: Option<String>| {
        let mut request = Request::get("/.well-known/jwks.json");
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        app.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    let response = get(None).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/jwk-set+json"
    );
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "public, max-age=300"
    );
    let etag = response.headers()[header::ETAG]
        .to_str()
        .unwrap()
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(&body[..], set.document());
    let again = get(Some(etag)).await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[test]
fn an_hmac_issuer_has_no_jwk_set() {
    let key =
        SigningKey::hmac(Algorithm::HS256, b"a secret of at least thirty-two bytes!").unwrap();
    assert!(JwkSet::new(&key, [], Duration::from_secs(300)).is_none());
    assert!(key.public_jwk().is_none());
}

#[test]
fn metadata_names_only_what_holds() {
    let metadata = IssuerMetadata::new(
        "https://auth.test",
        "https://auth.test/.well-known/jwks.json",
    );
    let document: Value = serde_json::from_slice(metadata.document()).unwrap();
    assert_eq!(
        document,
        json!({"issuer": "https://auth.test", "jwks_uri": "https://auth.test/.well-known/jwks.json"})
    );
}
