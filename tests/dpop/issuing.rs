//! DPoP on the issuing side (RFC 9449 §5): `SessionManager` binds a session
//! to the key of the login's proof, `RefreshService` refreshes a bound
//! session only with a proof of that key, and the token-endpoint errors
//! (400 `invalid_dpop_proof`, `use_dpop_nonce` with `DPoP-Nonce`). Through
//! the real services (`oneshot`), in memory and on a real Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, to_bytes};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::{Method, Request, Response, StatusCode, Uri, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::dpop::{DpopPolicy, HtuOrigin, NonceIssuer, RedisReplayStore};
use tower_jwt_auth::revocation::{
    NewSession, RevocationStore, Rotation, RotationRequest, SessionRecord, StoreFuture,
};
use tower_jwt_auth::{
    Algorithm, JwtConfig, MemoryStore, RedisStore, SessionError, SessionManager, SigningKey,
    TokenIssuer, Verifier, VerifyingKey,
};

use crate::layer::{ED25519_PRIVATE, ProofKey, now, sign};
use crate::redis_server::shared_redis_url;

const SECRET: &[u8] = b"dpop-layer-test-secret-long-enough-for-hs256";
const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "api";
const ORIGIN: &str = "https://api.example.test";
const LOGIN: &str = "https://api.example.test/auth/login";
const REFRESH: &str = "https://api.example.test/auth/refresh";

fn config() -> JwtConfig {
    JwtConfig::new().issuer(ISSUER).audience(AUDIENCE)
}

fn manager_on(store: Arc<dyn RevocationStore>) -> SessionManager {
    SessionManager::new(
        TokenIssuer::new(
            SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config(),
        ),
        Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config(),
        ),
        store,
    )
}

fn allowed() -> DpopPolicy {
    DpopPolicy::allowed().origin(HtuOrigin::external(ORIGIN).unwrap())
}

fn manager(policy: DpopPolicy) -> SessionManager {
    manager_on(Arc::new(MemoryStore::new())).dpop(policy)
}

/// A token-request proof (no `ath`) for `method` `htu`.
fn token_proof(key: &ProofKey, method: &str, htu: &str, nonce: Option<&str>) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut claims = json!({
        "jti": format!("tp-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)),
        "htm": method, "htu": htu, "iat": now(),
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = nonce.into();
    }
    let header = json!({"typ": "dpop+jwt", "alg": key.name, "jwk": key.jwk});
    sign(key.alg, &key.encoding, &header, &claims)
}

fn headers_with(proofs: &[&str]) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for proof in proofs {
        headers.append("dpop", proof.parse().unwrap());
    }
    headers
}

/// What the login handler does: the proof, then the (bound) session.
async fn login(
    sessions: &SessionManager,
    proofs: &[&str],
) -> Result<tower_jwt_auth::TokenPair, SessionError> {
    let uri: Uri = "/auth/login".parse().unwrap();
    let key = sessions
        .token_request_proof(&Method::POST, &uri, &headers_with(proofs))
        .await?;
    sessions
        .login_bound("alice", &Default::default(), key.as_ref())
        .await
}

fn claims(token: &str) -> Value {
    serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn refresh_app(sessions: &SessionManager) -> Router {
    Router::new().route_service("/auth/refresh", sessions.refresh_service())
}

async fn refresh(app: &Router, refresh_token: &str, proofs: &[&str]) -> (Response<Body>, Value) {
    let mut builder =
        Request::post("/auth/refresh").header(header::CONTENT_TYPE, "application/json");
    for proof in proofs {
        builder = builder.header("dpop", *proof);
    }
    let body = json!({ "refresh_token": refresh_token }).to_string();
    let response = app
        .clone()
        .oneshot(builder.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (Response::from_parts(parts, Body::empty()), json)
}

fn proof_refused(result: Result<tower_jwt_auth::TokenPair, SessionError>) -> &'static str {
    match result {
        Err(SessionError::Proof(refused)) => refused.code(),
        other => panic!(
            "expected a refused proof, got {:?}",
            other.map(|p| p.token_type)
        ),
    }
}

#[tokio::test]
async fn a_login_with_a_proof_binds_both_tokens_to_its_key() {
    let sessions = manager(allowed());
    let key = ProofKey::es256();
    let pair = login(&sessions, &[&token_proof(&key, "POST", LOGIN, None)])
        .await
        .unwrap();
    assert_eq!(pair.token_type, "DPoP");
    assert_eq!(claims(&pair.access_token)["cnf"]["jkt"], key.jkt.as_str());
    assert_eq!(claims(&pair.refresh_token)["cnf"]["jkt"], key.jkt.as_str());
    assert_eq!(pair.session().jkt.as_deref(), Some(key.jkt.as_str()));
    let body: Value = serde_json::to_value(&pair).unwrap();
    assert_eq!(body["token_type"], "DPoP");
}

#[tokio::test]
async fn a_login_without_a_proof_is_a_bearer_session_as_before() {
    let sessions = manager(allowed());
    let pair = login(&sessions, &[]).await.unwrap();
    assert_eq!(pair.token_type, "Bearer");
    assert!(claims(&pair.access_token).get("cnf").is_none());
    assert!(claims(&pair.refresh_token).get("cnf").is_none());
    // And one that is refreshed without a proof stays one.
    let (response, body) = refresh(&refresh_app(&sessions), &pair.refresh_token, &[]).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn a_bound_session_refreshes_only_with_a_proof_of_its_key() {
    let sessions = manager(allowed());
    let app = refresh_app(&sessions);
    let key = ProofKey::es256();
    let other = ProofKey::new(Algorithm::EdDSA, ED25519_PRIVATE);
    let pair = login(&sessions, &[&token_proof(&key, "POST", LOGIN, None)])
        .await
        .unwrap();

    let (response, body) = refresh(&app, &pair.refresh_token, &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "invalid_dpop_proof"}));
    let wrong = token_proof(&other, "POST", REFRESH, None);
    let (response, body) = refresh(&app, &pair.refresh_token, &[&wrong]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "invalid_dpop_proof"}));

    // Neither attempt rotated nor revoked anything: the key still refreshes.
    let right = token_proof(&key, "POST", REFRESH, None);
    let (response, next) = refresh(&app, &pair.refresh_token, &[&right]).await;
    assert_eq!(response.status(), StatusCode::OK, "{next}");
    assert_eq!(next["token_type"], "DPoP");
    for token in ["access_token", "refresh_token"] {
        let token = next[token].as_str().unwrap();
        assert_eq!(claims(token)["cnf"]["jkt"], key.jkt.as_str());
    }
    // The retired refresh token is a replay, even with the key.
    let again = token_proof(&key, "POST", REFRESH, None);
    let (response, _) = refresh(&app, &pair.refresh_token, &[&again]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bad_token_request_proof_is_400_invalid_dpop_proof() {
    let sessions = manager(allowed());
    let key = ProofKey::es256();
    let cases = [
        ("another URI", token_proof(&key, "POST", REFRESH, None)),
        ("another method", token_proof(&key, "GET", LOGIN, None)),
        ("not a JWT", "not.a.proof".to_owned()),
    ];
    for (what, proof) in cases {
        assert_eq!(
            proof_refused(login(&sessions, &[&proof]).await),
            "invalid_dpop_proof",
            "{what}"
        );
    }
    let proof = token_proof(&key, "POST", LOGIN, None);
    let second = token_proof(&key, "POST", LOGIN, None);
    assert_eq!(
        proof_refused(login(&sessions, &[&proof, &second]).await),
        "invalid_dpop_proof",
        "two DPoP headers"
    );
    login(&sessions, &[&proof]).await.unwrap();
    assert_eq!(
        proof_refused(login(&sessions, &[&proof]).await),
        "invalid_dpop_proof",
        "a replayed proof"
    );
}

#[tokio::test]
async fn the_token_endpoint_asks_for_a_nonce_and_the_retry_with_it_succeeds() {
    let nonces = NonceIssuer::new(&[9; 32]).unwrap();
    let sessions = manager(allowed().nonces(nonces));
    let app = refresh_app(&sessions);
    let key = ProofKey::es256();
    let refused = login(&sessions, &[&token_proof(&key, "POST", LOGIN, None)]).await;
    let Err(SessionError::Proof(refused)) = refused else {
        panic!("a proof without a nonce was accepted");
    };
    assert_eq!(refused.code(), "use_dpop_nonce");
    let nonce = refused.nonce().unwrap().to_owned();
    let pair = login(
        &sessions,
        &[&token_proof(&key, "POST", LOGIN, Some(&nonce))],
    )
    .await
    .unwrap();

    // Over HTTP: 400 use_dpop_nonce, the nonce in `DPoP-Nonce`, no-store.
    let (response, body) = refresh(
        &app,
        &pair.refresh_token,
        &[&token_proof(&key, "POST", REFRESH, None)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "use_dpop_nonce"}));
    let headers = response.headers();
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(
        headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap()
            .contains("DPoP-Nonce")
    );
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_owned();
    let retry = token_proof(&key, "POST", REFRESH, Some(&nonce));
    let (response, body) = refresh(&app, &pair.refresh_token, &[&retry]).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
}

#[tokio::test]
async fn required_mode_refuses_token_requests_without_a_proof() {
    let sessions = manager(DpopPolicy::required().origin(HtuOrigin::external(ORIGIN).unwrap()));
    assert_eq!(
        proof_refused(login(&sessions, &[]).await),
        "invalid_dpop_proof"
    );
    let key = ProofKey::es256();
    let pair = login(&sessions, &[&token_proof(&key, "POST", LOGIN, None)])
        .await
        .unwrap();
    let (response, _) = refresh(&refresh_app(&sessions), &pair.refresh_token, &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_unbound_session_refreshed_with_a_proof_gets_a_bound_access_token_only() {
    let sessions = manager(allowed());
    let key = ProofKey::es256();
    let pair = login(&sessions, &[]).await.unwrap();
    let proof = token_proof(&key, "POST", REFRESH, None);
    let (response, next) = refresh(&refresh_app(&sessions), &pair.refresh_token, &[&proof]).await;
    assert_eq!(response.status(), StatusCode::OK, "{next}");
    assert_eq!(next["token_type"], "DPoP");
    let access = claims(next["access_token"].as_str().unwrap());
    assert_eq!(access["cnf"]["jkt"], key.jkt.as_str());
    let refresh_claims = claims(next["refresh_token"].as_str().unwrap());
    assert!(refresh_claims.get("cnf").is_none(), "{refresh_claims}");
}

#[tokio::test]
async fn without_dpop_proofs_are_ignored_and_a_bound_session_does_not_refresh() {
    let bound = manager(allowed());
    let key = ProofKey::es256();
    let pair = login(&bound, &[&token_proof(&key, "POST", LOGIN, None)])
        .await
        .unwrap();
    // The same store and keys, DPoP now off: no downgrade to bearer.
    let off = manager_on(Arc::clone(bound.store())).dpop(DpopPolicy::off());
    let proof = token_proof(&key, "POST", REFRESH, None);
    let (response, body) = refresh(&refresh_app(&off), &pair.refresh_token, &[&proof]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    let plain = manager_on(Arc::new(MemoryStore::new()));
    let pair = login(&plain, &[&token_proof(&key, "POST", LOGIN, None)])
        .await
        .unwrap();
    assert_eq!(pair.token_type, "Bearer");
}

#[tokio::test]
async fn a_login_proof_replayed_to_a_second_instance_on_one_redis_is_refused() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let instance = || manager(allowed().replay_store(RedisReplayStore::connect(&url).unwrap()));
    let (one, two) = (instance(), instance());
    let key = ProofKey::es256();
    let proof = token_proof(&key, "POST", LOGIN, None);
    login(&one, &[&proof]).await.unwrap();
    assert_eq!(
        proof_refused(login(&two, &[&proof]).await),
        "invalid_dpop_proof"
    );
}

#[tokio::test]
async fn a_bound_session_kept_in_redis_refreshes_only_with_its_key_on_another_instance() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = format!("dpop-issuing-{}-{}", std::process::id(), now());
    let instance = || async {
        let store = RedisStore::builder(url.clone())
            .prefix(prefix.clone())
            .connect()
            .await
            .unwrap();
        manager_on(Arc::new(store)).dpop(allowed())
    };
    let (one, two) = (instance().await, instance().await);
    let key = ProofKey::es256();
    let other = ProofKey::new(Algorithm::EdDSA, ED25519_PRIVATE);
    let pair = login(&one, &[&token_proof(&key, "POST", LOGIN, None)])
        .await
        .unwrap();
    let app = refresh_app(&two);
    let wrong = token_proof(&other, "POST", REFRESH, None);
    let (response, _) = refresh(&app, &pair.refresh_token, &[&wrong]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let right = token_proof(&key, "POST", REFRESH, None);
    let (response, body) = refresh(&app, &pair.refresh_token, &[&right]).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
}

/// A store that forgets every session's binding (as a store written before
/// `NewSession::jkt` existed would): the signed `cnf.jkt` of the refresh
/// token still refuses another key.
#[derive(Debug)]
struct Forgetful(MemoryStore);

impl RevocationStore for Forgetful {
    fn is_revoked(
        &self,
        token: &tower_jwt_auth::revocation::TokenRef<'_>,
    ) -> Result<bool, tower_jwt_auth::revocation::StoreError> {
        self.0.is_revoked(token)
    }
    fn revoke_token<'a>(&'a self, jti: &'a str, expires_at: u64) -> StoreFuture<'a, ()> {
        self.0.revoke_token(jti, expires_at)
    }
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: u64,
        expires_at: u64,
    ) -> StoreFuture<'a, ()> {
        self.0.revoke_subject(subject, cutoff, expires_at)
    }
    fn start_session<'a>(&'a self, session: NewSession<'a>) -> StoreFuture<'a, ()> {
        self.0.start_session(NewSession {
            jkt: None,
            ..session
        })
    }
    fn rotate_session<'a>(&'a self, rotation: RotationRequest<'a>) -> StoreFuture<'a, Rotation> {
        self.0.rotate_session(rotation)
    }
    fn revoke_family<'a>(&'a self, family: &'a str, expires_at: u64) -> StoreFuture<'a, ()> {
        self.0.revoke_family(family, expires_at)
    }
    fn sessions<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Vec<SessionRecord>> {
        self.0.sessions(subject)
    }
    fn end_session<'a>(
        &'a self,
        subject: &'a str,
        family: &'a str,
        until: u64,
    ) -> StoreFuture<'a, bool> {
        self.0.end_session(subject, family, until)
    }
}

#[tokio::test]
async fn the_refresh_tokens_signed_binding_refuses_another_key_whatever_the_store_kept() {
    let sessions = manager_on(Arc::new(Forgetful(MemoryStore::new()))).dpop(allowed());
    let app = refresh_app(&sessions);
    let key = ProofKey::es256();
    let pair = login(&sessions, &[&token_proof(&key, "POST", LOGIN, None)])
        .await
        .unwrap();
    let other = ProofKey::new(Algorithm::EdDSA, ED25519_PRIVATE);
    for proofs in [vec![], vec![token_proof(&other, "POST", REFRESH, None)]] {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let (response, body) = refresh(&app, &pair.refresh_token, &proofs).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let (response, _) = refresh(
        &app,
        &pair.refresh_token,
        &[&token_proof(&key, "POST", REFRESH, None)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}
