//! DPoP behind a proxy: the proof's `htm` and `htu` are checked against the
//! forwarded method and URI, under `PUBLIC_URL` or the forwarded origin.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::StatusCode;
use serde_json::json;
use tower_jwt_auth::dpop::access_token_hash;
use tower_jwt_auth::{Algorithm, SigningKey};

use crate::support::{SECRET, ask, ask_for, header, now, service, token, token_with};

const ES256_PRIVATE: &[u8] = include_bytes!("../keys/es256_private.pem");

/// A DPoP proof by the ES256 test key for `htm` `htu` over `token`.
fn proof(htm: &str, htu: &str, token: &str) -> String {
    let key = SigningKey::from_pem(Algorithm::ES256, ES256_PRIVATE).unwrap();
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk().unwrap()});
    let claims = json!({
        "jti": format!("proof-{}", rand()),
        "htm": htm, "htu": htu, "iat": now(), "ath": access_token_hash(token),
    });
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let encoding = jsonwebtoken::EncodingKey::from_ec_pem(ES256_PRIVATE).unwrap();
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &encoding, jsonwebtoken::Algorithm::ES256)
            .unwrap();
    format!("{input}.{signature}")
}

fn rand() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes)
}

fn bound_token() -> String {
    let key = SigningKey::from_pem(Algorithm::ES256, ES256_PRIVATE).unwrap();
    token_with(
        SECRET,
        "alice",
        now() + 600,
        json!({"scope": "read:ping", "cnf": {"jkt": key.thumbprint().unwrap()}}),
    )
}

#[tokio::test]
async fn dpop_proofs_are_checked_against_the_forwarded_method_and_uri() {
    let app = service(&[("DPOP", "required")]).await;
    let bound = bound_token();
    let dpop = format!("DPoP {bound}");
    let ask_with = |method: &'static str, proof: String| {
        let app = app.clone();
        let dpop = dpop.clone();
        async move {
            ask(
                &app,
                &[
                    ("authorization", &dpop),
                    ("dpop", &proof),
                    ("x-forwarded-method", method),
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-host", "app.example.test"),
                    ("x-forwarded-uri", "/notes/1?edit=yes"),
                    ("host", "127.0.0.1:3003"),
                ],
            )
            .await
        }
    };
    let granted = ask_with(
        "POST",
        proof("POST", "https://app.example.test/notes/1", &bound),
    )
    .await;
    assert_eq!(granted.status(), StatusCode::OK, "{granted:?}");
    assert_eq!(header(&granted, "x-auth-subject"), ["alice"]);
    for (what, proof) in [
        (
            "method",
            proof("GET", "https://app.example.test/notes/1", &bound),
        ),
        (
            "host",
            proof("POST", "https://127.0.0.1:3003/notes/1", &bound),
        ),
        (
            "path",
            proof("POST", "https://app.example.test/notes/2", &bound),
        ),
        (
            "scheme",
            proof("POST", "http://app.example.test/notes/1", &bound),
        ),
    ] {
        let refused = ask_with("POST", proof).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{what}");
        let challenge = header(&refused, "www-authenticate").join(" ");
        assert!(challenge.contains("DPoP"), "{what}: {challenge}");
    }
    // DPOP=required: a bearer token is not enough.
    let bearer = ask_for(&app, "/notes", &token("alice", "read:ping")).await;
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);

    // PUBLIC_URL fixes the origin, whatever the proxy says.
    let app = service(&[
        ("DPOP", "required"),
        ("PUBLIC_URL", "https://api.example.test"),
    ])
    .await;
    let proof = proof("GET", "https://api.example.test/notes", &bound);
    let response = ask(
        &app,
        &[
            ("authorization", &dpop),
            ("dpop", &proof),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "elsewhere.test"),
            ("x-forwarded-uri", "/notes"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{response:?}");
}
