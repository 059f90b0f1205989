//! `IntrospectionService` for our own tokens: caller authentication, every
//! kind of token, revocation at once, and our client against it over HTTP.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use base64::Engine as _;
use http::{Request, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::introspect::{
    ClientAuth, IntrospectErrorKind, IntrospectionClient, IntrospectionService,
};
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{
    Algorithm, AuthErrorKind, JwtConfig, ManualClock, MemoryStore, SigningKey, TokenIssuer,
    Verifier, VerifyingKey,
};

use crate::START;

const SECRET: &[u8] = b"the introspection test key, 32 bytes+";
const OURS: &str = "https://us.test";

#[derive(Serialize)]
struct Custom {
    scope: &'static str,
    client_id: &'static str,
    cnf: Value,
    roles: Vec<&'static str>,
}

struct Setup {
    issuer: TokenIssuer,
    store: Arc<MemoryStore>,
    service: IntrospectionService,
    clock: ManualClock,
}

fn setup() -> Setup {
    let clock = ManualClock::at_secs(START);
    let config = JwtConfig::new()
        .issuer(OURS)
        .audience("api")
        .leeway(Duration::ZERO)
        .access_ttl(Duration::from_secs(300))
        .clock(clock.clone());
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config.clone(),
    );
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config,
    );
    let store = Arc::new(MemoryStore::new());
    let service = IntrospectionService::new(verifier)
        .shared_store(Arc::clone(&store) as Arc<dyn RevocationStore>)
        .client("billing", "billing-secret");
    Setup {
        issuer,
        store,
        service,
        clock,
    }
}

fn custom() -> Custom {
    Custom {
        scope: "orders:read",
        client_id: "web",
        cnf: json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        roles: vec!["admin"],
    }
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

async fn ask(
    service: &IntrospectionService,
    authorization: Option<&str>,
    body: &str,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut request = Request::post("/oauth/introspect")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    let response = service
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(Body::new(response.into_body()), 1 << 20)
        .await
        .unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_caller_without_valid_client_credentials_gets_401() {
    let Setup {
        issuer, service, ..
    } = setup();
    let token = issuer.access_token("alice", &custom()).unwrap();
    let body = format!("token={token}");
    for authorization in [
        None,
        Some(basic("billing", "wrong")),
        Some(basic("nobody", "billing-secret")),
        Some(format!("Bearer {token}")),
    ] {
        let (status, headers, answer) = ask(&service, authorization.as_deref(), &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            r#"Basic realm="introspection""#
        );
        assert_eq!(answer, json!({"error": "invalid_client"}));
    }
}

#[tokio::test]
async fn an_active_access_token_is_answered_with_its_members() {
    let Setup {
        issuer, service, ..
    } = setup();
    let token = issuer.access_token("alice", &custom()).unwrap();
    let (status, headers, answer) = ask(
        &service,
        Some(&basic("billing", "billing-secret")),
        &format!("token={token}&token_type_hint=access_token"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], "alice");
    assert_eq!(answer["scope"], "orders:read");
    assert_eq!(answer["client_id"], "web");
    assert_eq!(answer["iss"], OURS);
    assert_eq!(answer["aud"], "api");
    assert_eq!(answer["exp"], START + 300);
    assert_eq!(answer["iat"], START);
    assert!(answer["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(answer["token_type"], "DPoP", "bound by cnf.jkt");
    assert_eq!(answer["cnf"]["jkt"], custom().cnf["jkt"]);
    assert!(answer.get("roles").is_none(), "only RFC 7662 members");
}

#[tokio::test]
async fn a_refresh_token_is_answered_as_such_whatever_the_hint() {
    let Setup {
        issuer, service, ..
    } = setup();
    let pair = issuer.pair("alice", &custom()).unwrap();
    for hint in [
        "",
        "&token_type_hint=access_token",
        "&token_type_hint=refresh_token",
    ] {
        let (_, _, answer) = ask(
            &service,
            Some(&basic("billing", "billing-secret")),
            &format!("token={}{hint}", pair.refresh_token),
        )
        .await;
        assert_eq!(answer["active"], true, "{hint}");
        assert_eq!(answer["token_type"], "refresh_token", "{hint}");
    }
}

#[tokio::test]
async fn foreign_malformed_expired_and_revoked_tokens_are_inactive_and_nothing_else() {
    let Setup {
        issuer,
        store,
        service,
        clock,
    } = setup();
    let foreign = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new()
            .issuer("https://other.test")
            .audience("api"),
    )
    .access_token("alice", &custom())
    .unwrap();
    let revoked = issuer.access_token("bob", &custom()).unwrap();
    let revoked_jti = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        issuer.config().clone(),
    )
    .verify::<Value>(&revoked, tower_jwt_auth::TokenType::Access)
    .unwrap()
    .jti;
    store.revoke_token(&revoked_jti, START + 300).await.unwrap();
    let expiring = issuer.access_token("carol", &custom()).unwrap();
    clock.advance_secs(300);
    for token in [foreign.as_str(), "not-a-jwt", "a.b.c", &revoked, &expiring] {
        let (status, _, answer) = ask(
            &service,
            Some(&basic("billing", "billing-secret")),
            &format!("token={token}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer, json!({"active": false}), "{token}");
    }
}

#[tokio::test]
async fn a_logged_out_token_is_inactive_at_once() {
    let Setup {
        issuer,
        store,
        service,
        ..
    } = setup();
    let token = issuer.access_token("alice", &custom()).unwrap();
    let auth = basic("billing", "billing-secret");
    let body = format!("token={token}");
    assert_eq!(ask(&service, Some(&auth), &body).await.2["active"], true);
    store
        .revoke_subject("alice", issuer.next_stamp(), START + 600)
        .await
        .unwrap();
    assert_eq!(
        ask(&service, Some(&auth), &body).await.2,
        json!({"active": false})
    );
}

#[tokio::test]
async fn requests_that_are_not_introspection_requests_are_refused() {
    let Setup { service, .. } = setup();
    let auth = basic("billing", "billing-secret");
    let (status, _, answer) = ask(&service, Some(&auth), "token_type_hint=access_token").await;
    assert_eq!(
        (status, answer),
        (StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}))
    );
    let (status, _, _) = ask(&service, Some(&auth), "token=a&token=b").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = ask(
        &service,
        Some(&auth),
        &format!("token={}", "x".repeat(20_000)),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let response = service
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
}

#[tokio::test]
async fn our_client_introspects_our_service_over_http() {
    let Setup {
        issuer,
        service,
        clock,
        ..
    } = setup();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route_service("/oauth/introspect", service);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = IntrospectionClient::new(
        format!("http://{addr}/oauth/introspect"),
        "billing",
        ClientAuth::client_secret_basic("billing-secret"),
        JwtConfig::new()
            .issuer(OURS)
            .audience("api")
            .leeway(Duration::ZERO)
            .clock(clock),
    );
    let pair = issuer.pair("alice", &custom()).unwrap();
    let claims = client
        .introspect::<Value>(&pair.access_token)
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.custom["scope"], "orders:read");
    assert_eq!(
        client
            .introspect::<Value>(&pair.refresh_token)
            .await
            .unwrap_err()
            .kind(),
        IntrospectErrorKind::Refused(AuthErrorKind::WrongTokenType)
    );
    let wrong = IntrospectionClient::new(
        format!("http://{addr}/oauth/introspect"),
        "billing",
        ClientAuth::client_secret_basic("nope"),
        JwtConfig::new(),
    );
    assert!(
        wrong
            .introspect::<Value>(&pair.access_token)
            .await
            .unwrap_err()
            .is_unavailable(),
        "our 401 is the endpoint failing, not the token"
    );
}

/// `ask` from `address` (as the extension `caller_address` reads).
async fn ask_from(
    service: &IntrospectionService,
    address: [u8; 4],
    authorization: &str,
    body: &str,
) -> (StatusCode, http::HeaderMap) {
    let mut request = Request::post("/oauth/introspect")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, authorization)
        .body(Body::from(body.to_owned()))
        .unwrap();
    request
        .extensions_mut()
        .insert(std::net::SocketAddr::from((address, 40_000)));
    let response = service.clone().oneshot(request).await.unwrap();
    (response.status(), response.headers().clone())
}

#[tokio::test]
async fn failed_client_authentications_are_bounded_per_caller_then_429() {
    let Setup {
        issuer, service, ..
    } = setup();
    let service = service
        .failure_limit(3, Duration::from_secs(3600))
        .caller_address(|extensions| {
            extensions
                .get::<std::net::SocketAddr>()
                .map(std::net::SocketAddr::ip)
        });
    let token = issuer.access_token("alice", &custom()).unwrap();
    let body = format!("token={token}");
    let guess = basic("billing", "guess");
    let right = basic("billing", "billing-secret");
    let attacker = [10, 0, 0, 66];
    for _ in 0..3 {
        let (status, _) = ask_from(&service, attacker, &guess, &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, headers) = ask_from(&service, attacker, &guess, &body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "3600");
    // The right secret from the spent caller is refused too: the limit must
    // not tell which guess was right.
    let (status, _) = ask_from(&service, attacker, &right, &body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another caller is not affected, and its successes spend nothing.
    for _ in 0..5 {
        let (status, _) = ask_from(&service, [10, 0, 0, 7], &right, &body).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = ask_from(&service, [10, 0, 0, 7], &guess, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_a_caller_address_failures_share_one_budget() {
    let Setup {
        issuer, service, ..
    } = setup();
    let service = service.failure_limit(2, Duration::from_secs(60));
    let token = issuer.access_token("alice", &custom()).unwrap();
    let body = format!("token={token}");
    let guess = basic("billing", "guess");
    assert_eq!(
        ask_from(&service, [10, 0, 0, 1], &guess, &body).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ask_from(&service, [10, 0, 0, 2], &guess, &body).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, headers) = ask_from(&service, [10, 0, 0, 3], &guess, &body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "60");
}

/// A refused caller's body is read all the same: hyper keeps an HTTP/1.1
/// connection only when the request body was read, and Python `requests`,
/// pooling it, met a closed connection instead of the next answer.
#[tokio::test]
async fn refused_callers_bodies_are_read_so_their_connection_carries_the_next_request() {
    let Setup {
        issuer, service, ..
    } = setup();
    let service = service.failure_limit(1, Duration::from_secs(60));
    let token = issuer.access_token("alice", &custom()).unwrap();
    for expected in [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS] {
        let (body, ended) = crate::watched_body::watched_body(format!("token={token}"));
        let request = Request::post("/oauth/introspect")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, basic("billing", "guess"))
            .body(body)
            .unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), expected);
        assert!(
            crate::watched_body::was_read(&ended),
            "{expected}: body left unread"
        );
    }
}
