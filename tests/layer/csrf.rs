//! The CSRF decision of the auth layer: a cookie credential on an unsafe
//! method needs the session's CSRF proof; a bearer header, a query token and
//! safe methods need none. Through a real axum router with `oneshot`, counting
//! the handler's calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::any;
use http::{Method, Request, Response, StatusCode, header};
use serde_json::json;
use tower::ServiceExt;
use tower_jwt_auth::csrf::CsrfProtection;
use tower_jwt_auth::{
    Algorithm, AuthError, AuthErrorKind, JwtAuthLayer, JwtConfig, NoCustomClaims, Rejection,
    SigningKey, TokenIssuer, TokenPair, TokenSource, Verifier, VerifyingKey,
};

const SECRET: &[u8] = b"csrf-layer-test-secret-of-32-bytes-or-more";
const CSRF_SECRET: &[u8] = b"csrf-layer-test-csrf-secret-32-bytes!!";

fn issuer() -> TokenIssuer {
    TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    )
}

fn csrf() -> CsrfProtection {
    CsrfProtection::new(CSRF_SECRET).unwrap()
}

fn layer() -> JwtAuthLayer {
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    );
    JwtAuthLayer::new(verifier)
        .sources([TokenSource::bearer(), TokenSource::cookie("access_token")])
}

/// A router whose one handler counts its calls.
struct App {
    router: Router,
    calls: Arc<AtomicUsize>,
}

impl App {
    fn new(layer: JwtAuthLayer) -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let router = Router::new()
            .route(
                "/notes",
                any(move || {
                    let counter = Arc::clone(&counter);
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        "handled"
                    }
                }),
            )
            .layer(layer);
        Self { router, calls }
    }

    async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// A logged-in browser: the access token and the session's CSRF token.
struct Browser {
    pair: TokenPair,
    csrf: String,
}

fn browser() -> Browser {
    let pair = issuer().pair("alice", &NoCustomClaims {}).unwrap();
    let csrf = csrf().mint(&pair.session().id).unwrap();
    Browser { pair, csrf }
}

fn request(method: Method, pairs: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri("/notes");
    for (name, value) in pairs {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

impl Browser {
    fn cookie(&self) -> String {
        format!(
            "access_token={}; {}={}",
            self.pair.access_token,
            csrf().cookie(),
            self.csrf
        )
    }
}

async fn assert_csrf_refused(app: &App, request: Request<Body>) {
    let before = app.calls();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    assert_eq!(
        response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::kind),
        Some(AuthErrorKind::CsrfRejected)
    );
    let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
    assert!(body.is_empty());
    assert_eq!(app.calls(), before, "the handler was not called");
}

async fn assert_handled(app: &App, request: Request<Body>) {
    let before = app.calls();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.calls(), before + 1);
}

#[tokio::test]
async fn a_cookie_post_with_the_sessions_csrf_token_reaches_the_handler() {
    let app = App::new(layer().csrf(csrf()));
    let b = browser();
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let request = request(
            method,
            &[("cookie", &b.cookie()), ("x-csrf-token", &b.csrf)],
        );
        assert_handled(&app, request).await;
    }
}

#[tokio::test]
async fn a_cookie_post_without_a_csrf_token_is_403() {
    let app = App::new(layer().csrf(csrf()));
    let b = browser();
    let only_access = format!("access_token={}", b.pair.access_token);
    // Neither header nor cookie; the cookie without the header; the header
    // without the cookie.
    assert_csrf_refused(&app, request(Method::POST, &[("cookie", &only_access)])).await;
    assert_csrf_refused(&app, request(Method::POST, &[("cookie", &b.cookie())])).await;
    let header_only = [("cookie", only_access.as_str()), ("x-csrf-token", &b.csrf)];
    assert_csrf_refused(&app, request(Method::POST, &header_only)).await;
}

#[tokio::test]
async fn a_cookie_post_with_a_wrong_csrf_token_is_403() {
    let app = App::new(layer().csrf(csrf()));
    let b = browser();
    let forged = format!("{}A", b.csrf);
    let request = request(
        Method::POST,
        &[("cookie", &b.cookie()), ("x-csrf-token", &forged)],
    );
    assert_csrf_refused(&app, request).await;
}

#[tokio::test]
async fn another_sessions_csrf_token_is_403() {
    let app = App::new(layer().csrf(csrf()));
    let ours = browser();
    let theirs = browser();
    // Cookie and header agree, and were minted by us, for another session.
    let cookie = format!(
        "access_token={}; {}={}",
        ours.pair.access_token,
        csrf().cookie(),
        theirs.csrf
    );
    let request = request(
        Method::POST,
        &[("cookie", &cookie), ("x-csrf-token", &theirs.csrf)],
    );
    assert_csrf_refused(&app, request).await;
}

#[tokio::test]
async fn a_token_minted_under_another_csrf_key_is_403() {
    let app = App::new(layer().csrf(csrf()));
    let b = browser();
    let other = CsrfProtection::new(b"a different csrf secret, 32 bytes long")
        .unwrap()
        .mint(&b.pair.session().id)
        .unwrap();
    let cookie = format!(
        "access_token={}; {}={other}",
        b.pair.access_token,
        csrf().cookie()
    );
    let request = request(
        Method::POST,
        &[("cookie", &cookie), ("x-csrf-token", &other)],
    );
    assert_csrf_refused(&app, request).await;
}

#[tokio::test]
async fn a_bearer_post_needs_no_csrf_token() {
    let app = App::new(layer().csrf(csrf()));
    let b = browser();
    let bearer = format!("Bearer {}", b.pair.access_token);
    let request = request(
        Method::POST,
        &[
            ("authorization", &bearer),
            ("origin", "https://elsewhere.example"),
        ],
    );
    assert_handled(&app, request).await;
}

#[tokio::test]
async fn a_bearer_header_wins_over_a_cookie_and_needs_no_csrf_token() {
    let app = App::new(layer().csrf(csrf()));
    let b = browser();
    let bearer = format!("Bearer {}", b.pair.access_token);
    let request = request(
        Method::POST,
        &[("authorization", &bearer), ("cookie", &b.cookie())],
    );
    assert_handled(&app, request).await;
}

#[tokio::test]
async fn safe_methods_with_a_cookie_need_no_csrf_token() {
    let app = App::new(layer().csrf(csrf()));
    let b = browser();
    let only_access = format!("access_token={}", b.pair.access_token);
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        let request = request(
            method,
            &[("cookie", &only_access), ("sec-fetch-site", "cross-site")],
        );
        assert_handled(&app, request).await;
    }
}

#[tokio::test]
async fn a_cookie_post_from_another_origin_is_403_even_with_the_token() {
    let app = App::new(layer().csrf(csrf()));
    let b = browser();
    let proof = [("cookie", b.cookie()), ("x-csrf-token", b.csrf.clone())];
    let with = |extra: &[(&str, &str)]| {
        let mut pairs: Vec<(&str, &str)> = proof.iter().map(|(k, v)| (*k, v.as_str())).collect();
        pairs.extend_from_slice(extra);
        request(Method::POST, &pairs)
    };
    assert_csrf_refused(&app, with(&[("sec-fetch-site", "cross-site")])).await;
    assert_csrf_refused(&app, with(&[("sec-fetch-site", "same-site")])).await;
    assert_csrf_refused(
        &app,
        with(&[("host", "app.example"), ("origin", "http://app.example:81")]),
    )
    .await;
    assert_csrf_refused(&app, with(&[("origin", "null")])).await;
    // The request's own origin passes.
    assert_handled(
        &app,
        with(&[("host", "app.example"), ("origin", "https://app.example")]),
    )
    .await;
    assert_handled(&app, with(&[("sec-fetch-site", "same-origin")])).await;
}

#[tokio::test]
async fn a_trusted_origin_passes_with_the_token() {
    let app = App::new(layer().csrf(csrf().trusted_origin("https://front.example")));
    let b = browser();
    let request = request(
        Method::POST,
        &[
            ("cookie", &b.cookie()),
            ("x-csrf-token", &b.csrf),
            ("host", "api.example"),
            ("origin", "https://front.example"),
            ("sec-fetch-site", "same-site"),
        ],
    );
    assert_handled(&app, request).await;
}

#[tokio::test]
async fn without_csrf_protection_a_cookie_never_authorizes_a_post() {
    let app = App::new(layer());
    let b = browser();
    let request = request(
        Method::POST,
        &[("cookie", &b.cookie()), ("x-csrf-token", &b.csrf)],
    );
    assert_csrf_refused(&app, request).await;
    let get = request_get(&b);
    assert_handled(&app, get).await;
}

fn request_get(b: &Browser) -> Request<Body> {
    request(Method::GET, &[("cookie", &b.cookie())])
}

#[tokio::test]
async fn a_cookie_token_without_a_session_cannot_post() {
    let app = App::new(layer().csrf(csrf()));
    let token = issuer().access_token("alice", &NoCustomClaims {}).unwrap();
    let csrf = csrf().mint("").unwrap();
    let cookie = format!("access_token={token}; {}={csrf}", self::csrf().cookie());
    let request = request(
        Method::POST,
        &[("cookie", &cookie), ("x-csrf-token", &csrf)],
    );
    assert_csrf_refused(&app, request).await;
}

#[tokio::test]
async fn a_bad_cookie_token_is_401_before_any_csrf_question() {
    let app = App::new(layer().csrf(csrf()));
    let response = app
        .send(request(
            Method::POST,
            &[("cookie", "access_token=not.a.token")],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn a_custom_rejection_can_answer_csrf_failures_with_json() {
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    );
    let router = Router::new()
        .route("/notes", any(|| async { "handled" }))
        .layer(
            JwtAuthLayer::new(verifier)
                .sources([TokenSource::cookie("access_token")])
                .csrf(csrf())
                .on_rejection(|rejection: &Rejection| {
                    let body = json!({ "error": rejection.error().public_message() });
                    Response::builder()
                        .status(rejection.error().status())
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(body.to_string()))
                        .unwrap()
                }),
        );
    let b = browser();
    let response = router
        .oneshot(request(Method::POST, &[("cookie", &b.cookie())]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        json!({ "error": "cross-site request refused" })
    );
}

#[tokio::test]
async fn a_grpc_csrf_failure_is_permission_denied() {
    let app = App::new(layer().csrf(csrf()));
    let b = browser();
    let response = app
        .send(request(
            Method::POST,
            &[
                ("cookie", &b.cookie()),
                ("content-type", "application/grpc"),
            ],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "7");
    assert_eq!(app.calls(), 0);
}

// ===== the query-string source =====

fn query_app() -> App {
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    );
    App::new(
        JwtAuthLayer::new(verifier)
            .sources([TokenSource::bearer(), TokenSource::query("access_token")]),
    )
}

fn with_query(method: Method, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(format!("/notes?room=1&access_token={token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_query_token_is_accepted_on_get() {
    let app = query_app();
    let token = issuer().access_token("alice", &NoCustomClaims {}).unwrap();
    assert_handled(&app, with_query(Method::GET, &token)).await;
}

#[tokio::test]
async fn a_query_token_is_not_read_on_other_methods() {
    let app = query_app();
    let token = issuer().access_token("alice", &NoCustomClaims {}).unwrap();
    for method in [Method::POST, Method::HEAD, Method::DELETE] {
        let response = app.send(with_query(method.clone(), &token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method}");
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer",
            "as if absent"
        );
    }
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn a_bad_query_token_is_401() {
    let app = query_app();
    let response = app.send(with_query(Method::GET, "not.a.token")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
}
