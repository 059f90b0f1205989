//! Introspection as the layer's strategy, through real axum routers
//! (`oneshot`): opaque tokens introspected, JWTs still verified by keys, the
//! same decision on every cache hit (scopes, `exp`, our revocations), and
//! every failure of the endpoint a 503 with `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::get;
use http::{Request, StatusCode, header};
use serde_json::{Map, Value};
use tower::ServiceExt;
use tower_jwt_auth::introspect::{IntrospectionCache, IntrospectionMode};
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{
    Algorithm, Claims, Guard, JwtAuthLayer, ManualClock, MemoryStore, NoCustomClaims,
    RequireClaimsLayer, SigningKey, TokenIssuer, Verifier, VerifyingKey,
};

use crate::endpoint::{Endpoint, Mode};
use crate::{START, active, client, config};

type Custom = Map<String, Value>;

const KEY: &[u8] = b"the layer test key of at least 32 bytes";

struct Setup {
    endpoint: Endpoint,
    clock: ManualClock,
    store: Arc<MemoryStore>,
    cache: IntrospectionCache,
    issuer: TokenIssuer,
}

fn setup() -> Setup {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    let cache = IntrospectionCache::new(client(&endpoint.url(), &clock))
        .max_wait(Duration::from_millis(200));
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, KEY).unwrap(),
        config(&clock),
    );
    Setup {
        endpoint,
        clock,
        store: Arc::new(MemoryStore::new()),
        cache,
        issuer,
    }
}

impl Setup {
    fn layer(&self, mode: IntrospectionMode) -> JwtAuthLayer<Custom> {
        let verifier = Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, KEY).unwrap(),
            config(&self.clock),
        );
        JwtAuthLayer::new(verifier)
            .claims::<Custom>()
            .shared_store(Arc::clone(&self.store) as Arc<dyn RevocationStore>)
            .introspection(self.cache.clone(), mode)
    }

    /// `/me` (the claims as JSON) and `/admin` (needs scope `admin`).
    fn app(&self, mode: IntrospectionMode) -> Router {
        let me = Router::new().route(
            "/me",
            get(|claims: Claims<Custom>| async move { axum::Json(claims.custom.clone()) }),
        );
        let admin = Router::new()
            .route("/admin", get(|| async { "admin" }))
            .route_layer(RequireClaimsLayer::new(Guard::<Custom>::scopes(["admin"])));
        me.merge(admin).layer(self.layer(mode))
    }
}

async fn get_with(app: &Router, path: &str, token: &str) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let response = app
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn an_opaque_token_is_introspected_and_handlers_see_claims_like_a_jwt() {
    let s = setup();
    s.endpoint.answer("opaque", active(START + 3600));
    let app = s.app(IntrospectionMode::OpaqueTokens);
    let (status, _, body) = get_with(&app, "/me", "opaque").await;
    assert_eq!(status, StatusCode::OK);
    let me: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(me["scope"], "read write");
    assert_eq!(me["client_id"], "svc");
    assert!(me.get("active").is_none());
    assert_eq!(
        me["token_type"], "Bearer",
        "the members as the provider sent them"
    );
    assert_eq!(
        me["sub"], "svc",
        "no sub: the client is the subject, in the payload too"
    );
    assert!(me.get("jti").is_none());
    assert_eq!(get_with(&app, "/me", "opaque").await.0, StatusCode::OK);
    assert_eq!(s.endpoint.calls(), 1, "the second request was a cache hit");

    // A JWT is verified by the keys: no call.
    let jwt = s.issuer.access_token("alice", &NoCustomClaims {}).unwrap();
    assert_eq!(get_with(&app, "/me", &jwt).await.0, StatusCode::OK);
    assert_eq!(s.endpoint.calls(), 1);
}

#[tokio::test]
async fn with_always_every_token_is_introspected_jwts_too() {
    let s = setup();
    let jwt = s.issuer.access_token("alice", &NoCustomClaims {}).unwrap();
    let app = s.app(IntrospectionMode::Always);
    // The issuer does not know it: refused, though its signature is fine.
    let (status, headers, _) = get_with(&app, "/me", &jwt).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(s.endpoint.calls(), 1);
}

#[tokio::test]
async fn an_inactive_token_is_401_invalid_token() {
    let s = setup();
    let app = s.app(IntrospectionMode::OpaqueTokens);
    let (status, headers, _) = get_with(&app, "/me", "unknown").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
}

#[tokio::test]
async fn a_cache_hit_meets_the_guards_of_the_route_it_asks_for() {
    let s = setup();
    s.endpoint.answer("opaque", active(START + 3600));
    let app = s.app(IntrospectionMode::OpaqueTokens);
    assert_eq!(get_with(&app, "/me", "opaque").await.0, StatusCode::OK);
    let (status, headers, _) = get_with(&app, "/admin", "opaque").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    assert_eq!(s.endpoint.calls(), 1, "the refusal came from a hit");
}

#[tokio::test]
async fn a_cache_hit_past_exp_is_refused() {
    let s = setup();
    s.endpoint.answer("opaque", active(START + 30));
    let app = s.app(IntrospectionMode::OpaqueTokens);
    assert_eq!(get_with(&app, "/me", "opaque").await.0, StatusCode::OK);
    s.clock.advance_secs(30);
    assert_eq!(
        get_with(&app, "/me", "opaque").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn our_own_revocation_applies_to_a_cached_introspected_token() {
    let s = setup();
    s.endpoint.answer("opaque", active(START + 3600));
    let app = s.app(IntrospectionMode::OpaqueTokens);
    assert_eq!(get_with(&app, "/me", "opaque").await.0, StatusCode::OK);
    // "Log out everywhere" for the subject (the client: the answer has no sub).
    s.store
        .revoke_subject("svc", (START + 1) * 1_000_000, START + 3600)
        .await
        .unwrap();
    assert_eq!(
        get_with(&app, "/me", "opaque").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.endpoint.calls(), 1, "refused on a hit, by our store");
}

#[tokio::test]
async fn every_failure_of_the_endpoint_is_503_with_retry_after_never_401() {
    let s = setup();
    s.endpoint.answer("t", active(START + 3600));
    let cache = IntrospectionCache::new(
        client(&s.endpoint.url(), &s.clock).timeout(Duration::from_millis(300)),
    )
    .inactive_ttl(Duration::ZERO);
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, KEY).unwrap(),
        config(&s.clock),
    );
    let app = Router::new()
        .route("/me", get(|| async { "me" }))
        .layer(JwtAuthLayer::new(verifier).introspection(cache, IntrospectionMode::OpaqueTokens));
    for mode in [
        Mode::Status(500),
        Mode::Status(401),
        Mode::Junk,
        Mode::Oversized,
        Mode::Hang,
    ] {
        s.endpoint.set_mode(mode.clone());
        let (status, headers, _) = get_with(&app, "/me", "t").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{mode:?}");
        assert_eq!(headers[header::RETRY_AFTER], "1", "{mode:?}");
        assert!(headers.get(header::WWW_AUTHENTICATE).is_none(), "{mode:?}");
    }
    s.endpoint.set_mode(Mode::Answer);
    assert_eq!(
        get_with(&app, "/me", "t").await.0,
        StatusCode::OK,
        "back once it answers"
    );
}

#[tokio::test]
async fn too_many_calls_in_flight_is_503() {
    let s = setup();
    let cache = s
        .cache
        .clone()
        .max_in_flight(1)
        .max_wait(Duration::from_millis(100));
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, KEY).unwrap(),
        config(&s.clock),
    );
    let app = Router::new()
        .route("/me", get(|| async { "me" }))
        .layer(JwtAuthLayer::new(verifier).introspection(cache, IntrospectionMode::OpaqueTokens));
    s.endpoint.answer("a", active(START + 3600));
    s.endpoint.answer("b", active(START + 3600));
    s.endpoint.close();
    let held = tokio::spawn({
        let app = app.clone();
        async move { get_with(&app, "/me", "a").await.0 }
    });
    s.endpoint.wait_for_calls(1).await;
    let (status, headers, _) = get_with(&app, "/me", "b").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    s.endpoint.open();
    assert_eq!(held.await.unwrap(), StatusCode::OK);
}

/// `GET /me` with `token` as a bearer token and, when given, the client
/// certificate the TLS acceptor would have inserted.
async fn status_with_certificate(app: &Router, token: &str, der: Option<&[u8]>) -> StatusCode {
    let mut request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    if let Some(der) = der {
        request
            .extensions_mut()
            .insert(tower_jwt_auth::mtls::ClientCertificate::from_der(
                der.to_vec(),
            ));
    }
    app.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn an_introspected_token_bound_to_a_certificate_needs_that_certificate() {
    let s = setup();
    let (ours, theirs): (&[u8], &[u8]) = (b"the client's certificate", b"another certificate");
    let mut answer = active(START + 3600);
    answer["cnf"] = serde_json::json!({
        "x5t#S256": tower_jwt_auth::certificate_thumbprint(ours)
    });
    s.endpoint.answer("mtls-bound", answer);
    let app = s.app(IntrospectionMode::OpaqueTokens);
    assert_eq!(
        status_with_certificate(&app, "mtls-bound", Some(ours)).await,
        StatusCode::OK
    );
    assert_eq!(
        status_with_certificate(&app, "mtls-bound", None).await,
        StatusCode::UNAUTHORIZED,
        "the binding is the answer's, not the (opaque) token's"
    );
    assert_eq!(
        status_with_certificate(&app, "mtls-bound", Some(theirs)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_introspected_token_bound_to_a_dpop_key_is_refused_as_a_bearer_token() {
    let s = setup();
    let mut answer = active(START + 3600);
    answer["cnf"] = serde_json::json!({ "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" });
    s.endpoint.answer("dpop-bound", answer);
    let mut malformed = active(START + 3600);
    malformed["cnf"] = serde_json::json!({ "jkt": 42 });
    s.endpoint.answer("malformed-cnf", malformed);
    let app = s.app(IntrospectionMode::OpaqueTokens);
    // Asked, then remembered: the binding holds on the cache's hit too.
    for _ in ["asked", "from the cache"] {
        let (status, headers, _) = get_with(&app, "/me", "dpop-bound").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .contains("invalid_token"),
            "{headers:?}"
        );
        assert_eq!(
            get_with(&app, "/me", "malformed-cnf").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(s.endpoint.calls(), 2, "one call per token");
}

#[tokio::test]
async fn under_always_a_jwt_is_asked_about_at_the_endpoint_of_the_issuer_it_names() {
    const OTHER: &str = "https://b.test";
    let s = setup();
    let b = Endpoint::start();
    let b_config = || {
        tower_jwt_auth::JwtConfig::new()
            .issuer(OTHER)
            .audience(crate::AUDIENCE)
            .leeway(Duration::ZERO)
            .clock(s.clock.clone())
    };
    let b_client = tower_jwt_auth::introspect::IntrospectionClient::new(
        b.url(),
        "rs",
        tower_jwt_auth::introspect::ClientAuth::client_secret_basic("rs-secret"),
        b_config(),
    );
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, KEY).unwrap(),
        config(&s.clock),
    );
    let app = Router::new().route("/me", get(|| async { "me" })).layer(
        JwtAuthLayer::new(verifier)
            .introspection(s.cache.clone(), IntrospectionMode::Always)
            .introspection_for_issuer(IntrospectionCache::new(b_client)),
    );
    let signer = || SigningKey::hmac(Algorithm::HS256, KEY).unwrap();
    let b_jwt = TokenIssuer::new(signer(), b_config())
        .access_token("bob", &NoCustomClaims {})
        .unwrap();
    let mut b_answer = active(START + 3600);
    b_answer["iss"] = OTHER.into();
    b.answer(&b_jwt, b_answer);
    assert_eq!(get_with(&app, "/me", &b_jwt).await.0, StatusCode::OK);
    assert_eq!((s.endpoint.calls(), b.calls()), (0, 1), "asked at b only");

    // Our own issuer's JWT, and an opaque token (no issuer): the first one.
    let a_jwt = s.issuer.access_token("alice", &NoCustomClaims {}).unwrap();
    s.endpoint.answer(&a_jwt, active(START + 3600));
    s.endpoint.answer("opaque", active(START + 3600));
    assert_eq!(get_with(&app, "/me", &a_jwt).await.0, StatusCode::OK);
    assert_eq!(get_with(&app, "/me", "opaque").await.0, StatusCode::OK);
    assert_eq!((s.endpoint.calls(), b.calls()), (2, 1));

    // A JWT naming an issuer with no endpoint here is asked about nowhere.
    let stranger = TokenIssuer::new(
        signer(),
        tower_jwt_auth::JwtConfig::new()
            .issuer("https://stranger.test")
            .clock(s.clock.clone()),
    )
    .access_token("eve", &NoCustomClaims {})
    .unwrap();
    let (status, headers, _) = get_with(&app, "/me", &stranger).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!((s.endpoint.calls(), b.calls()), (2, 1), "no call for it");
}
