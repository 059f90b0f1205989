//! (b) Tokens minted by other libraries verify under the matching profile:
//! PyJWT for RS256 / PS256 / ES256 / EdDSA through a served JWK Set, and the
//! tokens of djangorestframework-simplejwt, AuthX and fastapi-users, made by
//! those libraries themselves (`mint.py`), through local keys.

use serde_json::{Value, json};

use crate::support::{self, Issuer, Server};

const ISSUER: &str = "https://issuer.example.com";
const AUDIENCE: &str = "api";

/// The four asymmetric algorithms, one key each (kid = the algorithm).
const ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

fn pyjwt_token(name: &str, key: &str, claims: Value, headers: Value) -> Value {
    json!({ "name": name, "key": key, "claims": claims, "headers": headers,
            "exp_in": 300, "iat_now": true })
}

/// PyJWT tokens (and a few refused ones) for every algorithm, and the
/// issuer serving their public keys.
async fn pyjwt_fixture(python: &std::path::Path) -> (Value, Issuer) {
    let claims = |sub: &str| json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": sub });
    let mut tokens: Vec<Value> = ALGORITHMS
        .iter()
        .map(|alg| pyjwt_token(alg, alg, claims(&format!("user-{alg}")), json!({})))
        .collect();
    tokens.extend([
        // RFC 9068-shaped, with and without the `at+jwt` type.
        pyjwt_token(
            "at+jwt",
            "ES256",
            json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "svc", "client_id": "svc",
                    "jti": "j1", "scope": "read:ping" }),
            json!({ "typ": "at+jwt" }),
        ),
        pyjwt_token(
            "plain-jwt",
            "ES256",
            json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "svc", "client_id": "svc",
                    "jti": "j2", "scope": "read:ping" }),
            json!({ "typ": "JWT" }),
        ),
        pyjwt_token(
            "at+jwt-no-client-id",
            "ES256",
            json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "svc", "jti": "j3" }),
            json!({ "typ": "at+jwt" }),
        ),
        // Okta's `scp` array and Entra ID's `scp` string.
        pyjwt_token(
            "scp-array",
            "RS256",
            json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "okta", "scp": ["profile", "read:ping"] }),
            json!({}),
        ),
        pyjwt_token(
            "scp-string",
            "RS256",
            json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "entra", "scp": "profile read:ping" }),
            json!({}),
        ),
        pyjwt_token(
            "scp-other",
            "RS256",
            json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "entra", "scp": "read:pingx" }),
            json!({}),
        ),
        // The RS256 key used as PS256: the key's algorithm decides.
        json!({ "name": "wrong-alg", "key": "RS256", "alg": "PS256",
                "claims": claims("mallory"), "exp_in": 300 }),
        json!({ "name": "expired", "key": "ES256", "claims": claims("late"), "exp_in": -600 }),
        pyjwt_token(
            "wrong-issuer",
            "ES256",
            json!({ "iss": "https://evil.example.com", "aud": AUDIENCE, "sub": "x" }),
            json!({}),
        ),
    ]);
    let keys: Vec<Value> = ALGORITHMS
        .iter()
        .map(|alg| json!({ "kid": alg, "alg": alg }))
        .collect();
    let minted = support::mint(python, json!({ "keys": keys, "tokens": tokens }));
    let jwks = ALGORITHMS
        .iter()
        .map(|alg| minted["jwks"][alg].clone())
        .collect();
    (minted["tokens"].clone(), Issuer::start(jwks).await)
}

fn token<'a>(tokens: &'a Value, name: &str) -> &'a str {
    tokens[name]
        .as_str()
        .unwrap_or_else(|| panic!("no token {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_tokens_of_every_algorithm_verify_through_a_jwks_url() {
    let Some(python) = support::python(&["jwt", "cryptography"]) else {
        return;
    };
    let (tokens, issuer) = pyjwt_fixture(&python).await;
    let server = Server::start(&[
        ("JWKS_URL", &issuer.jwks_url()),
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
    ])
    .await;

    for alg in ALGORITHMS {
        let me = server.get("/me", Some(token(&tokens, alg))).await;
        assert_eq!(me.status, 200, "{alg}: {me:?}\n{}", server.output());
        assert_eq!(me.json()["sub"], format!("user-{alg}"), "{alg}");
        // The generic profile needs no `jti`, and PyJWT wrote none.
        assert!(me.json().get("jti").is_none());
    }
    for refused in ["wrong-alg", "expired", "wrong-issuer"] {
        let reply = server
            .get("/protected/ping", Some(token(&tokens, refused)))
            .await;
        assert_eq!(reply.status, 401, "{refused}: {reply:?}");
    }
    // No scope claim, or not this scope: authenticated, but not for /scoped.
    for name in ["ES256", "scp-other"] {
        let scoped = server.get("/scoped", Some(token(&tokens, name))).await;
        assert_eq!(scoped.status, 403, "{name}: {scoped:?}");
    }
    for name in ["scp-array", "scp-string"] {
        let scoped = server.get("/scoped", Some(token(&tokens, name))).await;
        assert_eq!(scoped.status, 200, "{name}: {scoped:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9068_profile_takes_at_jwt_tokens_and_refuses_plain_jwts() {
    let Some(python) = support::python(&["jwt", "cryptography"]) else {
        return;
    };
    let (tokens, issuer) = pyjwt_fixture(&python).await;
    let server = Server::start(&[
        ("JWKS_URL", &issuer.jwks_url()),
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
        ("JWT_PROFILE", "rfc9068"),
    ])
    .await;

    let me = server.get("/me", Some(token(&tokens, "at+jwt"))).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.json()["client_id"], "svc");
    assert_eq!(
        server
            .get("/scoped", Some(token(&tokens, "at+jwt")))
            .await
            .status,
        200
    );
    for refused in ["plain-jwt", "at+jwt-no-client-id", "ES256"] {
        server
            .get("/me", Some(token(&tokens, refused)))
            .await
            .assert_invalid_token();
    }
}

const SIMPLEJWT_SECRET: &str = "simplejwt-test-secret-of-at-least-32-bytes";
const FASTAPI_SECRET: &str = "fastapi-users-test-secret-of-at-least-32-bytes";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simplejwt_access_tokens_verify_and_its_refresh_tokens_do_not() {
    let Some(python) = support::python(&["jwt", "django", "rest_framework_simplejwt"]) else {
        return;
    };
    // simplejwt's defaults: HS256 with the Django secret, `user_id`,
    // `token_type`, `jti`; no `iss` or `aud`.
    let minted = support::mint(
        &python,
        json!({
            "keys": [{ "kid": "django", "alg": "HS256", "secret": SIMPLEJWT_SECRET }],
            "tokens": [
                { "name": "access", "lib": "simplejwt_access", "key": "django" },
                { "name": "refresh", "lib": "simplejwt_refresh", "key": "django" },
            ],
        }),
    );
    let server = Server::start(&[
        ("JWT_ALGORITHM", "HS256"),
        ("JWT_SECRET", SIMPLEJWT_SECRET),
        ("JWT_SUBJECT_CLAIM", "user_id"),
        ("JWT_TYPE_CLAIM", "token_type"),
        ("JWT_TYPE_ACCESS", "access"),
    ])
    .await;

    let me = server
        .get("/me", Some(token(&minted["tokens"], "access")))
        .await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    assert_eq!(me.json()["user_id"], 42);
    assert_eq!(me.json()["token_type"], "access");
    assert!(me.json()["jti"].is_string());
    server
        .get("/me", Some(token(&minted["tokens"], "refresh")))
        .await
        .assert_invalid_token();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authx_access_tokens_with_fractional_exp_verify_and_its_refresh_tokens_do_not() {
    let Some(python) = support::python(&["jwt", "authx"]) else {
        return;
    };
    let minted = support::mint(
        &python,
        json!({
            "keys": [{ "kid": "authx", "alg": "RS256" }],
            "tokens": [
                { "name": "access", "lib": "authx_access", "key": "authx" },
                { "name": "refresh", "lib": "authx_refresh", "key": "authx" },
            ],
        }),
    );
    let dir = std::env::temp_dir().join(format!("tja-authx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("public.pem");
    std::fs::write(&pem, minted["pems"]["authx"].as_str().unwrap()).unwrap();
    let server = Server::start(&[
        ("JWT_ALGORITHM", "RS256"),
        ("JWT_PUBLIC_KEY_FILE", pem.to_str().unwrap()),
        ("JWT_TYPE_CLAIM", "type"),
        ("JWT_TYPE_ACCESS", "access"),
    ])
    .await;

    let me = server
        .get("/me", Some(token(&minted["tokens"], "access")))
        .await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    let me = me.json();
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["type"], "access");
    // AuthX writes `exp` as a fraction; the payload is echoed as written.
    assert!(me["exp"].is_f64(), "{me}");
    server
        .get("/me", Some(token(&minted["tokens"], "refresh")))
        .await
        .assert_invalid_token();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastapi_users_tokens_verify_with_their_audience_only() {
    let Some(python) = support::python(&["jwt", "fastapi_users"]) else {
        return;
    };
    let minted = support::mint(
        &python,
        json!({
            "keys": [{ "kid": "fastapi", "alg": "HS256", "secret": FASTAPI_SECRET }],
            "tokens": [{ "name": "access", "lib": "fastapi_users", "key": "fastapi" }],
        }),
    );
    let access = token(&minted["tokens"], "access");
    let vars = |audience| [("JWT_SECRET", FASTAPI_SECRET), ("JWT_AUDIENCE", audience)];
    let server = Server::start(&vars("fastapi-users:auth")).await;
    let me = server.get("/me", Some(access)).await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    assert_eq!(me.json()["sub"], "6f1c2a8e-3d4b-4e5f-9a7b-1c2d3e4f5a6b");
    assert_eq!(me.json()["aud"], json!(["fastapi-users:auth"]));

    let elsewhere = Server::start(&vars("another-api")).await;
    elsewhere
        .get("/me", Some(access))
        .await
        .assert_invalid_token();
}
