//! The auth layer through real requests (`oneshot` on an axum `Router`, and
//! on a plain `tower` service with another body type): every rejection the
//! core issue lists, for HS256, RS256, ES256 and EdDSA keys, and the positive
//! cases — `aud` arrays, a lowercase scheme, custom claims, key rotation by
//! `kid`, every other algorithm, leeway.
//!
//! Tokens that `TokenIssuer` would never mint (a string `exp`, a `crit`
//! header, `alg: none`…) are forged with jsonwebtoken's signing primitive, so
//! each is correctly signed and fails only for the reason its test names.

#[path = "../support/down_store.rs"]
mod down_store;
#[path = "../support/problem_json.rs"]
mod problem_json;

use down_store::DownStore;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::EncodingKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{
    Algorithm, AuthError, AuthErrorKind, Claims, JwtAuthLayer, JwtConfig, KeySet, ManualClock,
    MemoryStore, SigningKey, TokenIssuer, TokenType, Verifier, VerifyingKey,
};

const START: u64 = 1_800_000_000;
const SECRET: &[u8] = b"layer-test-secret-long-enough-for-hs512-0123456789-0123456789-ab";
const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "api";

const RSA_PRIVATE: &[u8] = include_bytes!("../keys/rs256_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../keys/rs256_public.pem");
const ES256_PRIVATE: &[u8] = include_bytes!("../keys/es256_private.pem");
const ES256_PUBLIC: &[u8] = include_bytes!("../keys/es256_public.pem");
const ES256_NEXT_PRIVATE: &[u8] = include_bytes!("../keys/es256_next_private.pem");
const ES256_NEXT_PUBLIC: &[u8] = include_bytes!("../keys/es256_next_public.pem");
const ES384_PRIVATE: &[u8] = include_bytes!("../keys/es384_private.pem");
const ES384_PUBLIC: &[u8] = include_bytes!("../keys/es384_public.pem");
const ED25519_PRIVATE: &[u8] = include_bytes!("../keys/ed25519_private.pem");
const ED25519_PUBLIC: &[u8] = include_bytes!("../keys/ed25519_public.pem");

/// The application's claims; both fields are optional so forged tokens
/// without them still decode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct User {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    tenant: Option<String>,
}

// ===== keys =====

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The (private, public) PEMs for an asymmetric algorithm. One 2048-bit RSA
/// key serves every RS* and PS* algorithm.
fn pems(alg: Algorithm) -> (&'static [u8], &'static [u8]) {
    match alg {
        Algorithm::ES256 => (ES256_PRIVATE, ES256_PUBLIC),
        Algorithm::ES384 => (ES384_PRIVATE, ES384_PUBLIC),
        Algorithm::EdDSA => (ED25519_PRIVATE, ED25519_PUBLIC),
        _ => (RSA_PRIVATE, RSA_PUBLIC),
    }
}

fn signing_key(alg: Algorithm) -> SigningKey {
    if is_hmac(alg) {
        SigningKey::hmac(alg, SECRET).unwrap()
    } else {
        SigningKey::from_pem(alg, pems(alg).0).unwrap()
    }
}

fn verifying_key(alg: Algorithm) -> VerifyingKey {
    if is_hmac(alg) {
        VerifyingKey::hmac(alg, SECRET).unwrap()
    } else {
        VerifyingKey::from_pem(alg, pems(alg).1).unwrap()
    }
}

/// jsonwebtoken's key for forging tokens with `alg`.
fn encoding_key(alg: Algorithm) -> EncodingKey {
    let pem = pems(alg).0;
    match alg {
        _ if is_hmac(alg) => EncodingKey::from_secret(SECRET),
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem).unwrap(),
        _ => EncodingKey::from_rsa_pem(pem).unwrap(),
    }
}

/// A compact JWS of `header` and `claims`, signed with `key` under `alg`.
fn sign(alg: Algorithm, key: &EncodingKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

fn alg_name(alg: Algorithm) -> String {
    serde_json::to_value(alg)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

// ===== the fixture =====

struct Fixture {
    alg: Algorithm,
    clock: ManualClock,
    config: JwtConfig,
    issuer: TokenIssuer,
    store: MemoryStore,
    app: Router,
}

fn config(clock: &ManualClock) -> JwtConfig {
    JwtConfig::new()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .access_ttl(Duration::from_secs(60))
        .clock(clock.clone())
}

async fn me(claims: Claims<User>) -> axum::Json<Value> {
    axum::Json(json!({ "sub": claims.sub, "custom": claims.custom }))
}

fn app(layer: JwtAuthLayer<User>) -> Router {
    Router::new().route("/me", get(me)).layer(layer)
}

fn fixture(alg: Algorithm) -> Fixture {
    fixture_with(alg, |layer| layer)
}

/// A fixture whose layer `tweak` adjusts (realm, store…).
fn fixture_with(
    alg: Algorithm,
    tweak: impl FnOnce(JwtAuthLayer<User>) -> JwtAuthLayer<User>,
) -> Fixture {
    let clock = ManualClock::at_secs(START);
    let config = config(&clock);
    let store = MemoryStore::with_clock(clock.clone());
    let verifier = Verifier::new(verifying_key(alg), config.clone());
    let layer = JwtAuthLayer::new(verifier)
        .claims::<User>()
        .store(store.clone());
    Fixture {
        alg,
        issuer: TokenIssuer::new(signing_key(alg), config.clone()),
        config,
        clock,
        store,
        app: app(tweak(layer)),
    }
}

impl Fixture {
    /// Claims that pass every check; tests change one thing.
    fn claims(&self) -> Value {
        json!({
            "iss": ISSUER,
            "sub": "alice",
            "aud": AUDIENCE,
            "iat": START,
            "exp": START + 60,
            "jti": "forged-jti",
            "token_type": "access",
        })
    }

    fn header(&self) -> Value {
        json!({ "alg": alg_name(self.alg), "typ": "JWT" })
    }

    /// A token signed with the fixture's key.
    fn forge(&self, header: &Value, claims: &Value) -> String {
        sign(self.alg, &encoding_key(self.alg), header, claims)
    }

    fn forge_claims(&self, claims: &Value) -> String {
        self.forge(&self.header(), claims)
    }

    fn access_token(&self) -> String {
        self.issuer.access_token("alice", &user("admin")).unwrap()
    }

    async fn get(&self, token: &str) -> Response<Body> {
        self.send(authorization(&format!("Bearer {token}"))).await
    }

    async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.app.clone().oneshot(request).await.unwrap()
    }
}

fn user(role: &str) -> User {
    User {
        roles: vec![role.to_owned()],
        tenant: Some("acme".to_owned()),
    }
}

fn authorization(value: &str) -> Request<Body> {
    Request::get("/me")
        .header(header::AUTHORIZATION, value)
        .body(Body::empty())
        .unwrap()
}

async fn body_bytes(response: Response<Body>) -> Bytes {
    to_bytes(response.into_body(), 1 << 20).await.unwrap()
}

async fn assert_ok_for(response: Response<Body>, sub: &str) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let json: Value = serde_json::from_slice(&body_bytes(response).await).unwrap();
    assert_eq!(json["sub"], sub);
    json
}

/// 401, the bare `invalid_token` challenge, an empty body, and `kind` as the
/// reason the application (not the client) can read.
async fn assert_invalid_token(response: Response<Body>, kind: AuthErrorKind) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(
        response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::kind),
        Some(kind)
    );
    assert!(
        body_bytes(response).await.is_empty(),
        "the body says nothing"
    );
}

// ===== every rejection, per key type =====

async fn a_valid_token_reaches_the_handler(alg: Algorithm) {
    let f = fixture(alg);
    assert_ok_for(f.get(&f.access_token()).await, "alice").await;
    // The forging used by the other tests yields tokens the layer accepts.
    assert_ok_for(f.get(&f.forge_claims(&f.claims())).await, "alice").await;
}

async fn no_credentials_is_401_with_a_bare_challenge(alg: Algorithm) {
    let f = fixture(alg);
    let response = f
        .send(Request::get("/me").body(Body::empty()).unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert!(body_bytes(response).await.is_empty());

    let f = fixture_with(alg, |layer| layer.realm("example"));
    let response = f
        .send(Request::get("/me").body(Body::empty()).unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"example\""
    );
    let response = f.get("not-a-token").await;
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"example\", error=\"invalid_token\""
    );
}

async fn bad_signature_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let token = f.access_token();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut signature = B64.decode(signature).unwrap();
    signature[0] ^= 0x01;
    let tampered = format!("{input}.{}", B64.encode(&signature));
    assert_invalid_token(f.get(&tampered).await, AuthErrorKind::InvalidSignature).await;

    // Claims changed under a valid signature of other claims.
    let mut claims = f.claims();
    let honest = f.forge_claims(&claims);
    claims["sub"] = json!("mallory");
    let swapped = format!(
        "{}.{}.{}",
        honest.split('.').next().unwrap(),
        B64.encode(claims.to_string()),
        honest.rsplit('.').next().unwrap()
    );
    assert_invalid_token(f.get(&swapped).await, AuthErrorKind::InvalidSignature).await;
}

async fn wrong_alg_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let claims = f.claims();
    // `alg: none`, unsigned.
    let none = format!(
        "{}.{}.",
        B64.encode(json!({ "alg": "none" }).to_string()),
        B64.encode(claims.to_string())
    );
    assert_invalid_token(f.get(&none).await, AuthErrorKind::AlgorithmMismatch).await;

    // Key confusion: for a public key, HS256 keyed with the public key's
    // bytes; for a secret, the same secret under another HMAC algorithm.
    let (confused_alg, confused_key) = if is_hmac(alg) {
        (Algorithm::HS512, EncodingKey::from_secret(SECRET))
    } else {
        (Algorithm::HS256, EncodingKey::from_secret(pems(alg).1))
    };
    let header = json!({ "alg": alg_name(confused_alg), "typ": "JWT" });
    let confused = sign(confused_alg, &confused_key, &header, &claims);
    assert_invalid_token(f.get(&confused).await, AuthErrorKind::AlgorithmMismatch).await;
}

async fn expired_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let token = f.access_token();
    f.clock.advance_secs(60 + f.config.leeway_secs());
    assert_invalid_token(f.get(&token).await, AuthErrorKind::Expired).await;
}

async fn not_yet_valid_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let mut claims = f.claims();
    claims["nbf"] = json!(START + 30);
    assert_invalid_token(
        f.get(&f.forge_claims(&claims)).await,
        AuthErrorKind::NotYetValid,
    )
    .await;
}

async fn wrong_issuer_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let mut claims = f.claims();
    claims["iss"] = json!("https://evil.example.test");
    assert_invalid_token(
        f.get(&f.forge_claims(&claims)).await,
        AuthErrorKind::InvalidIssuer,
    )
    .await;
    claims.as_object_mut().unwrap().remove("iss");
    assert_invalid_token(
        f.get(&f.forge_claims(&claims)).await,
        AuthErrorKind::InvalidIssuer,
    )
    .await;
}

async fn wrong_audience_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let mut claims = f.claims();
    for aud in [json!("billing"), json!(["billing", "admin"]), json!([])] {
        claims["aud"] = aud;
        assert_invalid_token(
            f.get(&f.forge_claims(&claims)).await,
            AuthErrorKind::InvalidAudience,
        )
        .await;
    }
}

async fn refresh_token_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let pair = f.issuer.pair("alice", &user("admin")).unwrap();
    assert_invalid_token(
        f.get(&pair.refresh_token).await,
        AuthErrorKind::WrongTokenType,
    )
    .await;
    assert_ok_for(f.get(&pair.access_token).await, "alice").await;
}

async fn exp_as_a_string_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let mut claims = f.claims();
    claims["exp"] = json!((START + 60).to_string());
    assert_invalid_token(
        f.get(&f.forge_claims(&claims)).await,
        AuthErrorKind::InvalidClaims,
    )
    .await;
}

async fn missing_exp_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let mut claims = f.claims();
    claims.as_object_mut().unwrap().remove("exp");
    assert_invalid_token(
        f.get(&f.forge_claims(&claims)).await,
        AuthErrorKind::InvalidClaims,
    )
    .await;
}

async fn unknown_crit_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let mut header = f.header();
    header["crit"] = json!(["urn:example:must-understand"]);
    header["urn:example:must-understand"] = json!(true);
    assert_invalid_token(
        f.get(&f.forge(&header, &f.claims())).await,
        AuthErrorKind::UnsupportedHeader,
    )
    .await;
}

async fn oversized_token_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let mut claims = f.claims();
    claims["padding"] = json!("x".repeat(tower_jwt_auth::DEFAULT_MAX_TOKEN_LEN));
    let token = f.forge_claims(&claims);
    assert!(token.len() > tower_jwt_auth::DEFAULT_MAX_TOKEN_LEN);
    assert_invalid_token(f.get(&token).await, AuthErrorKind::TokenTooLarge).await;

    // Size is its only fault: under a larger cap it verifies.
    let roomy = Verifier::new(
        verifying_key(alg),
        f.config.clone().max_token_len(64 * 1024),
    );
    assert!(roomy.verify::<User>(&token, TokenType::Access).is_ok());
}

async fn revoked_jti_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let token = f.access_token();
    let other = f.access_token();
    let claims = f.issuer_claims(&token);
    f.store.revoke_token(&claims.jti, claims.exp).await.unwrap();
    assert_invalid_token(f.get(&token).await, AuthErrorKind::Revoked).await;
    assert_ok_for(f.get(&other).await, "alice").await;
}

async fn subject_cutoff_is_invalid_token(alg: Algorithm) {
    let f = fixture(alg);
    let before = f.access_token();
    let bob = f.issuer.access_token("bob", &user("user")).unwrap();
    let cutoff = f.issuer.next_stamp();
    let after = f.access_token();
    f.store
        .revoke_subject("alice", cutoff, START + 3600)
        .await
        .unwrap();
    assert_invalid_token(f.get(&before).await, AuthErrorKind::Revoked).await;
    assert_ok_for(f.get(&after).await, "alice").await;
    assert_ok_for(f.get(&bob).await, "bob").await;
}

async fn store_unavailable_is_503_with_retry_after(alg: Algorithm) {
    let f = fixture_with(alg, |layer| layer.store(DownStore));
    let response = f.get(&f.access_token()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(
        response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::kind),
        Some(AuthErrorKind::StoreUnavailable)
    );
    assert!(body_bytes(response).await.is_empty());

    // Failing open accepts the otherwise valid token.
    let f = fixture_with(alg, |layer| layer.store(DownStore).fail_open(true));
    assert_ok_for(f.get(&f.access_token()).await, "alice").await;
}

impl Fixture {
    fn issuer_claims(&self, token: &str) -> Claims<User> {
        Verifier::new(verifying_key(self.alg), self.config.clone())
            .verify(token, TokenType::Access)
            .unwrap()
    }
}

macro_rules! every_rejection {
    ($($module:ident => $alg:expr;)*) => {$(
        mod $module {
            use super::*;

            every_rejection!(@tests $alg;
                a_valid_token_reaches_the_handler,
                no_credentials_is_401_with_a_bare_challenge,
                bad_signature_is_invalid_token,
                wrong_alg_is_invalid_token,
                expired_is_invalid_token,
                not_yet_valid_is_invalid_token,
                wrong_issuer_is_invalid_token,
                wrong_audience_is_invalid_token,
                refresh_token_is_invalid_token,
                exp_as_a_string_is_invalid_token,
                missing_exp_is_invalid_token,
                unknown_crit_is_invalid_token,
                oversized_token_is_invalid_token,
                revoked_jti_is_invalid_token,
                subject_cutoff_is_invalid_token,
                store_unavailable_is_503_with_retry_after,
            );
        }
    )*};
    (@tests $alg:expr; $($name:ident,)*) => {$(
        #[tokio::test]
        async fn $name() {
            super::$name($alg).await;
        }
    )*};
}

every_rejection! {
    hs256 => Algorithm::HS256;
    rs256 => Algorithm::RS256;
    es256 => Algorithm::ES256;
    eddsa => Algorithm::EdDSA;
}

// ===== positive cases =====

#[tokio::test]
async fn aud_array_containing_ours_is_accepted() {
    let f = fixture(Algorithm::ES256);
    let mut claims = f.claims();
    claims["aud"] = json!(["billing", AUDIENCE, "admin"]);
    assert_ok_for(f.get(&f.forge_claims(&claims)).await, "alice").await;
    claims["aud"] = json!([AUDIENCE]);
    assert_ok_for(f.get(&f.forge_claims(&claims)).await, "alice").await;
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let f = fixture(Algorithm::HS256);
    let token = f.access_token();
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let response = f.send(authorization(&format!("{scheme} {token}"))).await;
        assert_ok_for(response, "alice").await;
    }
}

#[tokio::test]
async fn custom_claims_reach_the_handler() {
    let f = fixture(Algorithm::EdDSA);
    let json = assert_ok_for(f.get(&f.access_token()).await, "alice").await;
    assert_eq!(
        serde_json::from_value::<User>(json["custom"].clone()).unwrap(),
        user("admin")
    );
}

#[tokio::test]
async fn every_other_algorithm_round_trips_through_the_layer() {
    for alg in [
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES384,
    ] {
        let f = fixture(alg);
        let token = f.access_token();
        let header: Value =
            serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], alg_name(alg), "{alg:?}");
        let json = assert_ok_for(f.get(&token).await, "alice").await;
        assert_eq!(json["custom"]["roles"], json!(["admin"]), "{alg:?}");

        // And the key refuses the same claims under any other algorithm.
        let other = if alg == Algorithm::PS256 {
            Algorithm::RS256
        } else {
            Algorithm::PS256
        };
        let claims = f.claims();
        let header = json!({ "alg": alg_name(other) });
        let forged = sign(other, &encoding_key(other), &header, &claims);
        assert_invalid_token(f.get(&forged).await, AuthErrorKind::AlgorithmMismatch).await;
    }
}

#[tokio::test]
async fn key_set_rotation_verifies_old_and_new_keys_by_kid() {
    let clock = ManualClock::at_secs(START);
    let config = config(&clock);
    let old = || SigningKey::from_pem(Algorithm::ES256, ES256_PRIVATE).unwrap();
    let new = || SigningKey::from_pem(Algorithm::ES256, ES256_NEXT_PRIVATE).unwrap();
    let keys = KeySet::new(
        VerifyingKey::from_pem(Algorithm::ES256, ES256_PUBLIC)
            .unwrap()
            .with_kid("2025"),
    )
    .with_key(
        VerifyingKey::from_pem(Algorithm::ES256, ES256_NEXT_PUBLIC)
            .unwrap()
            .with_kid("2026"),
    )
    .unwrap();
    let app = app(JwtAuthLayer::new(Verifier::new(keys, config.clone())).claims::<User>());
    let get = |token: String| {
        let app = app.clone();
        async move {
            app.oneshot(authorization(&format!("Bearer {token}")))
                .await
                .unwrap()
        }
    };
    let mint = |key: SigningKey| {
        TokenIssuer::new(key, config.clone())
            .access_token("alice", &user("admin"))
            .unwrap()
    };

    assert_ok_for(get(mint(old().with_kid("2025"))).await, "alice").await;
    assert_ok_for(get(mint(new().with_kid("2026"))).await, "alice").await;
    // A kid the set does not hold is refused, whoever signed.
    assert_invalid_token(
        get(mint(new().with_kid("2027"))).await,
        AuthErrorKind::UnknownKey,
    )
    .await;
    // A kid names exactly one key: the old key's token under the new kid fails.
    assert_invalid_token(
        get(mint(old().with_kid("2026"))).await,
        AuthErrorKind::InvalidSignature,
    )
    .await;
    // An unnamed key mints its RFC 7638 thumbprint as the kid: unknown to
    // a set that names its keys otherwise.
    assert_invalid_token(get(mint(old())).await, AuthErrorKind::UnknownKey).await;
    // Without a kid only the primary (old) key is tried.
    let unnamed = |pem: &[u8]| {
        let claims = serde_json::json!({
            "sub": "alice", "exp": START + 60, "iat": START, "jti": "j", "token_type": "access",
            "iss": config.issuer_name(), "aud": config.audience_name(), "roles": ["admin"],
        });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::ES256),
            &claims,
            &EncodingKey::from_ec_pem(pem).unwrap(),
        )
        .unwrap()
    };
    assert_ok_for(get(unnamed(ES256_PRIVATE)).await, "alice").await;
    assert_invalid_token(
        get(unnamed(ES256_NEXT_PRIVATE)).await,
        AuthErrorKind::InvalidSignature,
    )
    .await;
}

#[tokio::test]
async fn leeway_tolerates_small_clock_skew_and_no_more() {
    let f = fixture(Algorithm::HS256);
    let leeway = f.config.leeway_secs();
    assert_eq!(leeway, 5, "the documented default");

    let token = f.access_token(); // exp = START + 60
    f.clock.set_secs(START + 60 + leeway - 1);
    assert_ok_for(f.get(&token).await, "alice").await;
    f.clock.set_secs(START + 60 + leeway);
    assert_invalid_token(f.get(&token).await, AuthErrorKind::Expired).await;

    f.clock.set_secs(START);
    let mut claims = f.claims();
    claims["nbf"] = json!(START + leeway);
    assert_ok_for(f.get(&f.forge_claims(&claims)).await, "alice").await;
    claims["nbf"] = json!(START + leeway + 1);
    assert_invalid_token(
        f.get(&f.forge_claims(&claims)).await,
        AuthErrorKind::NotYetValid,
    )
    .await;
}

#[tokio::test]
async fn zero_leeway_refuses_a_token_at_its_exp() {
    let clock = ManualClock::at_secs(START);
    let config = config(&clock).leeway(Duration::ZERO);
    let issuer = TokenIssuer::new(signing_key(Algorithm::HS256), config.clone());
    let app = app(
        JwtAuthLayer::new(Verifier::new(verifying_key(Algorithm::HS256), config)).claims::<User>(),
    );
    let token = issuer.access_token("alice", &user("admin")).unwrap();
    clock.set_secs(START + 59);
    let response = app
        .clone()
        .oneshot(authorization(&format!("Bearer {token}")))
        .await;
    assert_ok_for(response.unwrap(), "alice").await;
    clock.set_secs(START + 60);
    let response = app.oneshot(authorization(&format!("Bearer {token}"))).await;
    assert_invalid_token(response.unwrap(), AuthErrorKind::Expired).await;
}

// ===== any body type =====

#[tokio::test]
async fn layer_works_with_a_non_axum_body_type() {
    let f = fixture(Algorithm::RS256);
    let verifier = Verifier::new(verifying_key(Algorithm::RS256), f.config.clone());
    let service = JwtAuthLayer::new(verifier)
        .claims::<User>()
        .layer(service_fn(|request: Request<Full<Bytes>>| async move {
            let claims = request.extensions().get::<Arc<Claims<User>>>().cloned();
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let text = format!(
                "{} sent {}",
                claims.map(|c| c.sub.clone()).unwrap_or_default(),
                String::from_utf8_lossy(&body)
            );
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
        }));
    let request = |authorization: Option<String>| {
        let mut builder = Request::post("/upload");
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder
            .body(Full::new(Bytes::from_static(b"hello")))
            .unwrap()
    };

    let response = service
        .clone()
        .oneshot(request(Some(format!("Bearer {}", f.access_token()))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "alice sent hello");

    let response = service.clone().oneshot(request(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert!(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );

    let response = service
        .oneshot(request(Some("Bearer a.b.c".to_owned())))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
}

#[tokio::test]
async fn layer_works_with_unit_requests_and_string_responses() {
    let f = fixture(Algorithm::HS256);
    let verifier = Verifier::new(verifying_key(Algorithm::HS256), f.config.clone());
    let store: Arc<dyn RevocationStore> = Arc::new(f.store.clone());
    let service = JwtAuthLayer::new(verifier)
        .claims::<User>()
        .shared_store(store)
        .layer(service_fn(|request: Request<()>| async move {
            let sub = request
                .extensions()
                .get::<Arc<Claims<User>>>()
                .unwrap()
                .sub
                .clone();
            Ok::<_, Infallible>(Response::new(sub))
        }));
    let request = |token: &str| {
        Request::get("/")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .unwrap()
    };
    let token = f.access_token();
    let response = service.clone().oneshot(request(&token)).await.unwrap();
    assert_eq!(response.into_body(), "alice");

    let jti = f.issuer_claims(&token).jti;
    f.store.revoke_token(&jti, START + 60).await.unwrap();
    let response = service.oneshot(request(&token)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.into_body(),
        "",
        "String::default(), saying nothing"
    );
}

/// Optional mode, token sources, custom rejections, decision logs.
#[path = "../support/log_capture.rs"]
mod log_capture;
mod modes;
