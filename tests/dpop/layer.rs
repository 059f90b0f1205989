//! DPoP and mTLS-bound tokens through the real layer (`oneshot` on an axum
//! `Router`): each rule of RFC 9449 §4.3 / §7 and RFC 8705 §3 as the client
//! sees it (status, challenges, nonce headers).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::{HeaderValue, Request, Response, StatusCode, header};
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::dpop::{
    DpopConfig, DpopPolicy, HtuOrigin, MemoryReplayStore, NonceIssuer, RedisReplayStore,
    access_token_hash,
};
use tower_jwt_auth::mtls::{CertificateSource, ClientCertificate};
use tower_jwt_auth::{
    Algorithm, AuthError, AuthErrorKind, Claims, DEFAULT_VERIFIED_CACHE_CAPACITY, JwtAuthLayer,
    JwtConfig, ManualClock, SigningKey, Verifier, VerifyingKey, certificate_thumbprint,
};

use crate::redis_server::shared_redis_url;

const SECRET: &[u8] = b"dpop-layer-test-secret-long-enough-for-hs256";
const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "api";
const ORIGIN: &str = "https://api.example.test";
const ES256_PRIVATE: &[u8] = include_bytes!("../keys/es256_private.pem");
pub(crate) const ES256_NEXT_PRIVATE: &[u8] = include_bytes!("../keys/es256_next_private.pem");
pub(crate) const ED25519_PRIVATE: &[u8] = include_bytes!("../keys/ed25519_private.pem");

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ===== tokens and proofs =====

/// An access token (HS256, the layer's key) with `cnf` when given.
fn access_token(cnf: Option<Value>) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now() + 600,
        "jti": format!("at-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        "token_type": "access",
    });
    if let Some(cnf) = cnf {
        claims["cnf"] = cnf;
    }
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET),
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims,
    )
}

pub(crate) fn sign(alg: Algorithm, key: &EncodingKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

/// A client's DPoP key.
pub(crate) struct ProofKey {
    pub(crate) alg: Algorithm,
    pub(crate) name: &'static str,
    pub(crate) encoding: EncodingKey,
    pub(crate) jwk: Value,
    pub(crate) jkt: String,
}

impl ProofKey {
    pub(crate) fn new(alg: Algorithm, pem: &[u8]) -> Self {
        let signing = SigningKey::from_pem(alg, pem).unwrap();
        let encoding = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem).unwrap(),
            _ => EncodingKey::from_ec_pem(pem).unwrap(),
        };
        let name = if alg == Algorithm::EdDSA {
            "EdDSA"
        } else {
            "ES256"
        };
        Self {
            alg,
            name,
            encoding,
            jwk: serde_json::to_value(signing.public_jwk().unwrap()).unwrap(),
            jkt: signing.thumbprint().unwrap(),
        }
    }

    pub(crate) fn es256() -> Self {
        Self::new(Algorithm::ES256, ES256_PRIVATE)
    }

    /// A token bound to this key.
    fn bound_token(&self) -> String {
        access_token(Some(json!({"jkt": self.jkt})))
    }

    /// A proof for `method` `htu` carrying the hash of `token`.
    fn proof(&self, method: &str, htu: &str, token: &str, iat: u64, nonce: Option<&str>) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let mut claims = json!({
            "jti": format!("proof-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)),
            "htm": method, "htu": htu, "iat": iat, "ath": access_token_hash(token),
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        let header = json!({"typ": "dpop+jwt", "alg": self.name, "jwk": self.jwk});
        sign(self.alg, &self.encoding, &header, &claims)
    }
}

// ===== the app =====

fn layer() -> JwtAuthLayer {
    let key = VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap();
    JwtAuthLayer::new(Verifier::new(
        key,
        JwtConfig::new().issuer(ISSUER).audience(AUDIENCE),
    ))
}

fn allowed() -> DpopPolicy {
    DpopPolicy::allowed().origin(HtuOrigin::external(ORIGIN).unwrap())
}

fn app(layer: JwtAuthLayer) -> Router {
    let me = |claims: Claims| async move { claims.sub };
    Router::new()
        .route("/me", get(me))
        .route("/notes", post(me))
        .layer(layer)
}

fn request(method: &str, path: &str, authorization: &str, proofs: &[&str]) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "internal.example:8080")
        .header(header::AUTHORIZATION, authorization);
    for proof in proofs {
        builder = builder.header("dpop", *proof);
    }
    builder.body(Body::empty()).unwrap()
}

/// `GET /me` with `Authorization: DPoP <token>` and `proof`.
fn dpop_get(token: &str, proof: &str) -> Request<Body> {
    request("GET", "/me", &format!("DPoP {token}"), &[proof])
}

async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

fn challenges(response: &Response<Body>) -> Vec<String> {
    response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn kind(response: &Response<Body>) -> Option<AuthErrorKind> {
    response
        .extensions()
        .get::<AuthError>()
        .map(AuthError::kind)
}

const HTU: &str = "https://api.example.test/me";
const ALGS: &str = "algs=\"ES256 ES384 EdDSA PS256 PS384 PS512 RS256 RS384 RS512\"";

// ===== DPoP =====

#[tokio::test]
async fn a_bound_token_with_a_valid_proof_is_accepted_for_es256_and_eddsa() {
    let app = app(layer().dpop(allowed()));
    for key in [
        ProofKey::es256(),
        ProofKey::new(Algorithm::EdDSA, ED25519_PRIVATE),
    ] {
        let token = key.bound_token();
        let proof = key.proof("GET", HTU, &token, now(), None);
        let response = send(&app, dpop_get(&token, &proof)).await;
        assert_eq!(response.status(), StatusCode::OK, "{:?}", kind(&response));
        let post_proof = key.proof(
            "POST",
            "https://API.example.test:443/notes",
            &token,
            now(),
            None,
        );
        let response = send(
            &app,
            request("POST", "/notes", &format!("dpop {token}"), &[&post_proof]),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{:?}", kind(&response));
    }
}

/// The layer learns a token's `cnf` from the verified-token cache once the
/// token is in it, and from the token itself without a cache: either way a
/// bound token accepted once is refused the next time without its key or
/// certificate, and an unbound one stays a bearer token.
#[tokio::test]
async fn a_bound_token_seen_before_still_needs_its_key_and_certificate() {
    let key = ProofKey::es256();
    let certificate = certificate("client-a");
    for capacity in [DEFAULT_VERIFIED_CACHE_CAPACITY, 0] {
        let verifier = Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            JwtConfig::new().issuer(ISSUER).audience(AUDIENCE),
        )
        .verified_cache(capacity);
        let app = app(JwtAuthLayer::new(verifier).dpop(allowed()));
        let dpop_bound = key.bound_token();
        let fresh_proof = || key.proof("GET", HTU, &dpop_bound, now(), None);
        for _ in 0..2 {
            let response = send(&app, dpop_get(&dpop_bound, &fresh_proof())).await;
            assert_eq!(response.status(), StatusCode::OK, "{capacity}");
        }
        let as_bearer = request("GET", "/me", &format!("Bearer {dpop_bound}"), &[]);
        let response = send(&app, as_bearer).await;
        assert_eq!(kind(&response), Some(AuthErrorKind::SenderConstraintFailed));
        let thief = ProofKey::new(Algorithm::ES256, ES256_NEXT_PRIVATE);
        let stolen = thief.proof("GET", HTU, &dpop_bound, now(), None);
        let response = send(&app, dpop_get(&dpop_bound, &stolen)).await;
        assert_eq!(kind(&response), Some(AuthErrorKind::SenderConstraintFailed));

        let certificate_bound = access_token(Some(json!({"x5t#S256": certificate.thumbprint()})));
        let bearer = || request("GET", "/me", &format!("Bearer {certificate_bound}"), &[]);
        for _ in 0..2 {
            let response = send(&app, with_certificate(bearer(), Some(&certificate))).await;
            assert_eq!(response.status(), StatusCode::OK, "{capacity}");
        }
        let response = send(&app, with_certificate(bearer(), None)).await;
        assert_eq!(kind(&response), Some(AuthErrorKind::SenderConstraintFailed));

        let unbound = access_token(None);
        for _ in 0..2 {
            let response = send(
                &app,
                request("GET", "/me", &format!("Bearer {unbound}"), &[]),
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK, "{capacity}");
        }
    }
}

#[tokio::test]
async fn a_replayed_proof_is_refused_with_invalid_dpop_proof() {
    let app = app(layer().dpop(allowed()));
    let key = ProofKey::es256();
    let token = key.bound_token();
    let proof = key.proof("GET", HTU, &token, now(), None);
    assert_eq!(
        send(&app, dpop_get(&token, &proof)).await.status(),
        StatusCode::OK
    );
    let replay = send(&app, dpop_get(&token, &proof)).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&replay), Some(AuthErrorKind::InvalidDpopProof));
    assert_eq!(
        challenges(&replay),
        [
            "Bearer".to_owned(),
            format!("DPoP {ALGS}, error=\"invalid_dpop_proof\"")
        ]
    );
}

#[tokio::test]
async fn a_proof_replayed_to_a_second_instance_on_one_redis_is_refused() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let instance = || {
        let store = RedisReplayStore::connect(&url).unwrap();
        app(layer().dpop(allowed().replay_store(store)))
    };
    let (one, two) = (instance(), instance());
    let key = ProofKey::es256();
    let token = key.bound_token();
    let proof = key.proof("GET", HTU, &token, now(), None);
    assert_eq!(
        send(&one, dpop_get(&token, &proof)).await.status(),
        StatusCode::OK
    );
    let replay = send(&two, dpop_get(&token, &proof)).await;
    assert_eq!(kind(&replay), Some(AuthErrorKind::InvalidDpopProof));
    let fresh = key.proof("GET", HTU, &token, now(), None);
    assert_eq!(
        send(&two, dpop_get(&token, &fresh)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unreachable_replay_store_is_503_not_401() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = RedisReplayStore::connect(&format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .command_timeout(Duration::from_secs(5));
    let app = app(layer().dpop(allowed().replay_store(store)));
    let key = ProofKey::es256();
    let token = key.bound_token();
    let response = send(
        &app,
        dpop_get(&token, &key.proof("GET", HTU, &token, now(), None)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(kind(&response), Some(AuthErrorKind::ReplayStoreUnavailable));
}

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_refused_in_every_mode() {
    let key = ProofKey::es256();
    let token = key.bound_token();
    for policy in [allowed(), DpopPolicy::off(), DpopPolicy::required()] {
        let app = app(layer().dpop(policy.clone()));
        let response = send(&app, request("GET", "/me", &format!("Bearer {token}"), &[])).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{policy:?}");
        assert_eq!(
            kind(&response),
            Some(AuthErrorKind::SenderConstraintFailed),
            "{policy:?}"
        );
        // Even with a valid proof beside it: the scheme says bearer.
        let proof = key.proof("GET", HTU, &token, now(), None);
        let response = send(
            &app,
            request("GET", "/me", &format!("Bearer {token}"), &[&proof]),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{policy:?}");
    }
    let app = app(layer().dpop(allowed()));
    let response = send(&app, request("GET", "/me", &format!("Bearer {token}"), &[])).await;
    assert_eq!(
        challenges(&response),
        [
            "Bearer error=\"invalid_token\"".to_owned(),
            format!("DPoP {ALGS}")
        ]
    );
}

#[tokio::test]
async fn a_proof_for_another_token_or_by_another_key_is_refused() {
    let app = app(layer().dpop(allowed()));
    let key = ProofKey::es256();
    let token = key.bound_token();
    // ath: the proof names another token of the same key.
    let other_token = key.bound_token();
    let proof = key.proof("GET", HTU, &other_token, now(), None);
    let response = send(&app, dpop_get(&token, &proof)).await;
    assert_eq!(kind(&response), Some(AuthErrorKind::InvalidDpopProof));
    // cnf.jkt: a valid proof by another key (the thief's).
    let thief = ProofKey::new(Algorithm::ES256, ES256_NEXT_PRIVATE);
    let proof = thief.proof("GET", HTU, &token, now(), None);
    let response = send(&app, dpop_get(&token, &proof)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(AuthErrorKind::SenderConstraintFailed));
    assert_eq!(
        challenges(&response),
        [
            "Bearer".to_owned(),
            format!("DPoP {ALGS}, error=\"invalid_token\"")
        ]
    );
}

#[tokio::test]
async fn the_dpop_scheme_with_an_unbound_token_is_refused() {
    let app = app(layer().dpop(allowed()));
    let key = ProofKey::es256();
    let token = access_token(None);
    let proof = key.proof("GET", HTU, &token, now(), None);
    let response = send(&app, dpop_get(&token, &proof)).await;
    assert_eq!(kind(&response), Some(AuthErrorKind::SenderConstraintFailed));
    // The same token as Bearer is fine in the default mode.
    let response = send(&app, request("GET", "/me", &format!("Bearer {token}"), &[])).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn no_or_two_dpop_headers_are_400_invalid_request() {
    let app = app(layer().dpop(allowed()));
    let key = ProofKey::es256();
    let token = key.bound_token();
    let (a, b) = (
        key.proof("GET", HTU, &token, now(), None),
        key.proof("GET", HTU, &token, now(), None),
    );
    for proofs in [&[][..], &[a.as_str(), b.as_str()][..]] {
        let response = send(
            &app,
            request("GET", "/me", &format!("DPoP {token}"), proofs),
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{} proofs",
            proofs.len()
        );
        assert_eq!(
            challenges(&response),
            [
                "Bearer".to_owned(),
                format!("DPoP {ALGS}, error=\"invalid_request\"")
            ]
        );
    }
    // Neither proof was used up.
    assert_eq!(
        send(&app, dpop_get(&token, &a)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn each_proof_check_refuses_through_the_layer() {
    let app = app(layer().dpop(allowed()));
    let key = ProofKey::es256();
    let token = key.bound_token();
    let cases = [
        ("htm", key.proof("POST", HTU, &token, now(), None)),
        (
            "htu path",
            key.proof("GET", "https://api.example.test/other", &token, now(), None),
        ),
        // The Host header (internal.example:8080) never chooses the origin.
        (
            "htu host",
            key.proof(
                "GET",
                "http://internal.example:8080/me",
                &token,
                now(),
                None,
            ),
        ),
        ("iat old", key.proof("GET", HTU, &token, now() - 120, None)),
        (
            "iat future",
            key.proof("GET", HTU, &token, now() + 120, None),
        ),
        ("not a jwt", "not.a.jwt".to_owned()),
    ];
    for (name, proof) in cases {
        let response = send(&app, dpop_get(&token, &proof)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            kind(&response),
            Some(AuthErrorKind::InvalidDpopProof),
            "{name}"
        );
    }
    // An ES256-only list refuses an EdDSA proof.
    let es_only = DpopConfig::new().algorithms([Algorithm::ES256]).unwrap();
    let strict = app_with(allowed().config(es_only));
    let ed = ProofKey::new(Algorithm::EdDSA, ED25519_PRIVATE);
    let ed_token = ed.bound_token();
    let response = send(
        &strict,
        dpop_get(&ed_token, &ed.proof("GET", HTU, &ed_token, now(), None)),
    )
    .await;
    assert_eq!(kind(&response), Some(AuthErrorKind::InvalidDpopProof));
    assert_eq!(
        challenges(&response)[1],
        "DPoP algs=\"ES256\", error=\"invalid_dpop_proof\""
    );
}

fn app_with(policy: DpopPolicy) -> Router {
    app(layer().dpop(policy))
}

#[tokio::test]
async fn host_headers_choose_the_origin_only_when_trusted() {
    let app = app_with(DpopPolicy::allowed().origin(HtuOrigin::trust_host_header(false)));
    let key = ProofKey::es256();
    let token = key.bound_token();
    let proof = key.proof(
        "GET",
        "http://internal.example:8080/me",
        &token,
        now(),
        None,
    );
    assert_eq!(
        send(&app, dpop_get(&token, &proof)).await.status(),
        StatusCode::OK
    );
    // Without an origin, DPoP requests cannot be checked and are refused.
    let unconfigured = app_with(DpopPolicy::allowed());
    let proof = key.proof("GET", HTU, &token, now(), None);
    let response = send(&unconfigured, dpop_get(&token, &proof)).await;
    assert_eq!(kind(&response), Some(AuthErrorKind::InvalidDpopProof));
}

#[tokio::test]
async fn mode_off_reads_no_dpop_scheme_and_advertises_none() {
    let app = app_with(DpopPolicy::off());
    let key = ProofKey::es256();
    let token = key.bound_token();
    let response = send(
        &app,
        dpop_get(&token, &key.proof("GET", HTU, &token, now(), None)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(AuthErrorKind::MissingCredentials));
    assert_eq!(challenges(&response), ["Bearer"]);
    let bearer = access_token(None);
    let response = send(
        &app,
        request("GET", "/me", &format!("Bearer {bearer}"), &[]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn mode_required_refuses_bearer_tokens_and_challenges_only_dpop() {
    let app = app_with(DpopPolicy::required().origin(HtuOrigin::external(ORIGIN).unwrap()));
    let bearer = access_token(None);
    let response = send(
        &app,
        request("GET", "/me", &format!("Bearer {bearer}"), &[]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(AuthErrorKind::SenderConstraintFailed));
    assert_eq!(
        challenges(&response),
        [format!("DPoP {ALGS}, error=\"invalid_token\"")]
    );
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS],
        "WWW-Authenticate, DPoP-Nonce"
    );
    let key = ProofKey::es256();
    let token = key.bound_token();
    let response = send(
        &app,
        dpop_get(&token, &key.proof("GET", HTU, &token, now(), None)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn allowed_mode_challenges_both_schemes_and_keeps_bearer_tokens() {
    let app = app(layer().dpop(allowed()));
    let response = send(&app, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(
        challenges(&response),
        ["Bearer".to_owned(), format!("DPoP {ALGS}")]
    );
    let bearer = access_token(None);
    let response = send(
        &app,
        request("GET", "/me", &format!("Bearer {bearer}"), &[]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    // The default layer (no origin yet) advertises no DPoP.
    let default = app_with(DpopPolicy::default());
    let response = send(&default, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(challenges(&response), ["Bearer"]);
}

#[tokio::test]
async fn server_nonces_issue_retry_renewal_and_expiry() {
    let clock = ManualClock::at_secs(now());
    let nonces = NonceIssuer::new(&[9; 32])
        .unwrap()
        .lifetime(Duration::from_secs(100));
    let app = app_with(allowed().nonces(nonces).clock(clock.clone()));
    let key = ProofKey::es256();
    let token = key.bound_token();
    let t = clock.now_secs_for_test();
    // No nonce: 401 use_dpop_nonce with one to use.
    let response = send(
        &app,
        dpop_get(&token, &key.proof("GET", HTU, &token, t, None)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&response), Some(AuthErrorKind::UseDpopNonce));
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS],
        "WWW-Authenticate, DPoP-Nonce"
    );
    assert_eq!(
        challenges(&response),
        [
            "Bearer".to_owned(),
            format!("DPoP {ALGS}, error=\"use_dpop_nonce\"")
        ]
    );
    let nonce = nonce_of(&response);
    // The retry with it passes, without a new nonce (it is fresh).
    let response = send(
        &app,
        dpop_get(&token, &key.proof("GET", HTU, &token, t, Some(&nonce))),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("dpop-nonce").is_none());
    // In its last quarter: accepted, with a fresh nonce for next time.
    clock.advance_secs(80);
    let t = t + 80;
    let response = send(
        &app,
        dpop_get(&token, &key.proof("GET", HTU, &token, t, Some(&nonce))),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let renewed = nonce_of(&response);
    assert_ne!(renewed, nonce);
    // Expired: use_dpop_nonce again; the renewed one works.
    clock.advance_secs(20);
    let t = t + 20;
    let response = send(
        &app,
        dpop_get(&token, &key.proof("GET", HTU, &token, t, Some(&nonce))),
    )
    .await;
    assert_eq!(kind(&response), Some(AuthErrorKind::UseDpopNonce));
    let response = send(
        &app,
        dpop_get(&token, &key.proof("GET", HTU, &token, t, Some(&renewed))),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

fn nonce_of(response: &Response<Body>) -> String {
    response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned()
}

trait NowSecs {
    fn now_secs_for_test(&self) -> u64;
}

impl NowSecs for ManualClock {
    fn now_secs_for_test(&self) -> u64 {
        tower_jwt_auth::Clock::now_secs(self)
    }
}

#[tokio::test]
async fn a_grpc_request_gets_status_16_for_a_dpop_refusal() {
    let app = app(layer().dpop(allowed()));
    let key = ProofKey::es256();
    let token = key.bound_token();
    let mut request = dpop_get(&token, &key.proof("POST", HTU, &token, now(), None));
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    let response = send(&app, request).await;
    assert_eq!(response.headers()["grpc-status"], "16");
    assert_eq!(kind(&response), Some(AuthErrorKind::InvalidDpopProof));
}

// ===== mTLS =====

fn certificate(name: &str) -> ClientCertificate {
    let cert = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    ClientCertificate::from_der(cert.cert.der().to_vec())
}

fn with_certificate(
    mut request: Request<Body>,
    certificate: Option<&ClientCertificate>,
) -> Request<Body> {
    if let Some(certificate) = certificate {
        request.extensions_mut().insert(certificate.clone());
    }
    request
}

#[tokio::test]
async fn a_certificate_bound_token_needs_its_certificate_from_the_connection() {
    let app = app(layer());
    let (mine, other) = (certificate("client-a"), certificate("client-b"));
    let token = access_token(Some(json!({"x5t#S256": mine.thumbprint()})));
    assert_eq!(mine.thumbprint(), certificate_thumbprint(mine.der()));
    let bearer = || request("GET", "/me", &format!("Bearer {token}"), &[]);
    let response = send(&app, with_certificate(bearer(), Some(&mine))).await;
    assert_eq!(response.status(), StatusCode::OK);
    for (name, presented) in [("another", Some(&other)), ("none", None)] {
        let response = send(&app, with_certificate(bearer(), presented)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            kind(&response),
            Some(AuthErrorKind::SenderConstraintFailed),
            "{name}"
        );
        assert_eq!(
            challenges(&response),
            ["Bearer error=\"invalid_token\""],
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_proxy_header_source_reads_url_encoded_pem_and_only_when_configured() {
    let cert = rcgen::generate_simple_self_signed(vec!["client-a".to_owned()]).unwrap();
    let der = cert.cert.der().to_vec();
    let escaped: String = cert
        .cert
        .pem()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let token = access_token(Some(json!({"x5t#S256": certificate_thumbprint(&der)})));
    let with_header = || {
        let mut request = request("GET", "/me", &format!("Bearer {token}"), &[]);
        request.headers_mut().insert(
            "x-ssl-client-cert",
            HeaderValue::from_str(&escaped).unwrap(),
        );
        request
    };
    let proxied = app(layer().client_certificates(CertificateSource::proxy_header(
        http::HeaderName::from_static("x-ssl-client-cert"),
    )));
    assert_eq!(send(&proxied, with_header()).await.status(), StatusCode::OK);
    // Without the configuration, the header is a client's say-so and is ignored.
    let direct = app(layer());
    assert_eq!(
        send(&direct, with_header()).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_proof_refused_after_its_check_does_not_use_up_its_jti() {
    // Bound to a key and a certificate: the first request lacks the
    // certificate, so it is refused after the proof check, before the mark.
    let store = MemoryReplayStore::new();
    let app = app(layer().dpop(allowed().replay_store(store.clone())));
    let key = ProofKey::es256();
    let cert = certificate("client-a");
    let token = access_token(Some(json!({"jkt": key.jkt, "x5t#S256": cert.thumbprint()})));
    let proof = key.proof("GET", HTU, &token, now(), None);
    let response = send(&app, dpop_get(&token, &proof)).await;
    assert_eq!(kind(&response), Some(AuthErrorKind::SenderConstraintFailed));
    assert!(store.is_empty());
    let response = send(
        &app,
        with_certificate(dpop_get(&token, &proof), Some(&cert)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn resource_metadata_is_named_in_both_challenges() {
    let app = app(layer()
        .dpop(allowed())
        .resource_metadata("https://api.example.test/.well-known/oauth-protected-resource"));
    let response = send(&app, Request::get("/me").body(Body::empty()).unwrap()).await;
    let url = "resource_metadata=\"https://api.example.test/.well-known/oauth-protected-resource\"";
    assert_eq!(
        challenges(&response),
        [format!("Bearer {url}"), format!("DPoP {ALGS}, {url}")]
    );
}
