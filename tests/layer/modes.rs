//! The auth layer's optional mode, token sources and custom rejections,
//! through real axum routers driven with `oneshot`.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::get;
use http::header::{self, HeaderName};
use http::{Request, Response, StatusCode};
use tower::ServiceExt;
use tower_jwt_auth::{
    Algorithm, AuthError, AuthErrorKind, Claims, JwtAuthLayer, JwtConfig, ManualClock,
    NoCustomClaims, Rejection, SigningKey, TokenIssuer, TokenSource, Verifier, VerifyingKey,
};

const SECRET: &[u8] = b"layer-test-secret-of-at-least-32-bytes!";

fn issuer() -> TokenIssuer {
    TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    )
}

fn token(sub: &str) -> String {
    issuer().access_token(sub, &NoCustomClaims {}).unwrap()
}

/// A token that expired long ago (issued by a clock stopped in 2001).
fn expired_token() -> String {
    let config = JwtConfig::new().clock(ManualClock::at_secs(1_000_000_000));
    TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(), config)
        .access_token("alice", &NoCustomClaims {})
        .unwrap()
}

fn auth() -> JwtAuthLayer {
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    );
    JwtAuthLayer::new(verifier)
}

async fn hello(claims: Option<Claims>) -> String {
    match claims {
        Some(claims) => format!("hello, {}", claims.sub),
        None => "hello, anonymous".to_owned(),
    }
}

fn app(layer: JwtAuthLayer) -> Router {
    Router::new().route("/hello", get(hello)).layer(layer)
}

async fn send(app: &Router, headers: &[(&str, &str)]) -> Response<Body> {
    let mut request = Request::get("/hello");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn text(response: Response<Body>) -> String {
    String::from_utf8(to_bytes(response.into_body(), 1024).await.unwrap().to_vec()).unwrap()
}

fn challenge(response: &Response<Body>) -> &str {
    response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

// ===== optional mode =====

#[tokio::test]
async fn optional_mode_without_a_token_passes_as_anonymous() {
    let app = app(auth().optional(true));
    let response = send(&app, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "hello, anonymous");
}

#[tokio::test]
async fn optional_mode_with_a_good_token_has_the_claims() {
    let app = app(auth().optional(true));
    let response = send(&app, &[("authorization", &bearer(&token("alice")))]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "hello, alice");
}

#[tokio::test]
async fn optional_mode_with_a_bad_token_is_401() {
    let app = app(auth().optional(true));
    let mut forged = token("alice");
    forged.push('A');
    for value in [bearer(&forged), bearer("not-a-jwt"), "Bearer".to_owned()] {
        let response = send(&app, &[("authorization", &value)]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value}");
        assert_eq!(challenge(&response), r#"Bearer error="invalid_token""#);
    }
}

#[tokio::test]
async fn optional_mode_with_an_expired_token_is_401() {
    let app = app(auth().optional(true));
    let response = send(&app, &[("authorization", &bearer(&expired_token()))]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&response), r#"Bearer error="invalid_token""#);
}

#[tokio::test]
async fn required_mode_without_a_token_is_401_without_error_code() {
    let app = app(auth());
    let response = send(&app, &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&response), "Bearer");
}

// ===== token sources =====

#[tokio::test]
async fn cookie_source_reads_the_named_cookie() {
    let app = app(auth().sources([TokenSource::cookie("access_token")]));
    let cookie = format!("theme=dark; access_token={}", token("alice"));
    let response = send(&app, &[("cookie", &cookie)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "hello, alice");
    // Only the cookie is configured: a bearer header is not read.
    let header_only = send(&app, &[("authorization", &bearer(&token("bob")))]).await;
    assert_eq!(header_only.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&header_only), "Bearer");
}

#[tokio::test]
async fn custom_header_source_reads_the_whole_value() {
    let app = app(auth().sources([TokenSource::header(HeaderName::from_static("x-api-token"))]));
    let response = send(&app, &[("x-api-token", &token("alice"))]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "hello, alice");
    let with_scheme = send(&app, &[("x-api-token", &bearer(&token("alice")))]).await;
    assert_eq!(with_scheme.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sources_are_tried_in_the_configured_order() {
    let sources = || [TokenSource::cookie("at"), TokenSource::bearer()];
    let app = app(auth().sources(sources()));
    let both = [
        ("cookie", format!("at={}", token("from-cookie"))),
        ("authorization", bearer(&token("from-header"))),
    ];
    let both: Vec<(&str, &str)> = both.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(text(send(&app, &both).await).await, "hello, from-cookie");
    // Without the cookie, the next source is used.
    let header_only = send(&app, &both[1..]).await;
    assert_eq!(text(header_only).await, "hello, from-header");
    // The other order.
    let app = app_reversed();
    assert_eq!(text(send(&app, &both).await).await, "hello, from-header");
}

fn app_reversed() -> Router {
    app(auth().sources([TokenSource::bearer(), TokenSource::cookie("at")]))
}

#[tokio::test]
async fn a_malformed_first_source_is_401_not_a_fall_through() {
    let app = app_reversed();
    let cookie = format!("at={}", token("alice"));
    let response = send(&app, &[("authorization", "Bearer"), ("cookie", &cookie)]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn several_authorization_headers_are_401() {
    for optional in [false, true] {
        let app = app(auth().optional(optional));
        let good = bearer(&token("alice"));
        let response = send(&app, &[("authorization", &good), ("authorization", &good)]).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "optional={optional}"
        );
        assert_eq!(challenge(&response), r#"Bearer error="invalid_token""#);
    }
}

#[tokio::test]
async fn authorization_not_exactly_scheme_space_token_is_401_even_when_the_token_is_cached() {
    let token = token("alice");
    let values = [
        format!("Bearer  {token}"),
        format!("Bearer\t{token}"),
        format!("Bearer {token} extra"),
        format!("Bearer {token} "),
        format!(" Bearer {token}"),
        token.clone(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
    ];
    for optional in [false, true] {
        let app = app(auth().optional(optional));
        // The token itself is good and now in the verified-token cache, which
        // the layer asks before it checks the credential's form: the variants
        // must still be refused.
        let response = send(&app, &[("authorization", &bearer(&token))]).await;
        assert_eq!(response.status(), StatusCode::OK);
        for value in &values {
            let response = send(&app, &[("authorization", value)]).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "optional={optional} {value:?}"
            );
        }
    }
}

#[tokio::test]
async fn another_scheme_is_no_bearer_credential_as_rfc_6750_says() {
    let basic = [("authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")];
    let response = send(&app(auth()), &basic).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&response),
        "Bearer",
        "no error code: nothing bearer was sent"
    );
    let response = send(&app(auth().optional(true)), &basic).await;
    assert_eq!(response.status(), StatusCode::OK, "optional: anonymous");
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let app = app(auth());
    let response = send(
        &app,
        &[("authorization", &format!("bEaReR {}", token("alice")))],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

// ===== custom rejection =====

fn problem(rejection: &Rejection) -> Response<Body> {
    let error = rejection.error();
    let body = serde_json::json!({
        "type": "about:blank",
        "title": error.public_message(),
        "status": error.status().as_u16(),
    });
    crate::problem_json::problem_json(error.status(), body)
}

#[tokio::test]
async fn custom_rejection_answers_problem_json_with_the_typed_error_attached() {
    let app = app_with_rejection();
    let response = send(&app, &[("authorization", &bearer(&expired_token()))]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(
        response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::kind),
        Some(AuthErrorKind::Expired)
    );
    let body: serde_json::Value =
        serde_json::from_slice(&to_bytes(response.into_body(), 1024).await.unwrap()).unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["title"], "invalid token");

    let missing = send(&app, &[]).await;
    assert_eq!(
        missing.extensions().get::<AuthError>().map(AuthError::kind),
        Some(AuthErrorKind::MissingCredentials)
    );
}

fn app_with_rejection() -> Router {
    Router::new()
        .route("/hello", get(hello))
        .layer(auth().on_rejection(problem))
}

#[tokio::test]
async fn default_rejection_attaches_the_typed_error_too() {
    let app = app(auth());
    let response = send(&app, &[("authorization", &bearer(&expired_token()))]).await;
    assert_eq!(
        response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::kind),
        Some(AuthErrorKind::Expired)
    );
}

// ===== observability =====

#[tokio::test]
async fn decisions_are_logged_with_outcome_reason_sub_and_jti_never_the_token() {
    let (captured, _capturing) = super::log_capture::capture();

    let app = app(auth());
    let good = token("alice");
    let expired = expired_token();
    let response = send(&app, &[("authorization", &bearer(&good))]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(&app, &[("authorization", &bearer(&expired))]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = send(&app, &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let log = captured.text();
    let jti = verifier_claims(&good).jti;
    assert!(
        log.contains(r#"outcome="accepted""#) && log.contains("sub=alice"),
        "{log}"
    );
    assert!(log.contains(&format!("jti={jti}")), "{log}");
    assert!(
        log.contains(r#"outcome="rejected" reason=token expired"#),
        "{log}"
    );
    assert!(log.contains("reason=\"no credentials presented\""), "{log}");
    assert!(log.contains("jwt_auth"), "span missing: {log}");
    for secret in [good.as_str(), expired.as_str()] {
        assert!(!log.contains(secret), "a token reached the log: {log}");
        // Not even the signature segment.
        assert!(!log.contains(secret.rsplit('.').next().unwrap()), "{log}");
    }
    assert!(!log.contains(std::str::from_utf8(SECRET).unwrap()), "{log}");
}

fn verifier_claims(token: &str) -> Claims {
    Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    )
    .verify::<NoCustomClaims>(token, tower_jwt_auth::TokenType::Access)
    .unwrap()
}
