//! Per-route guards through real axum routers (`route_layer`), driven with
//! `oneshot`.

#[path = "../support/log_capture.rs"]
mod log_capture;
#[path = "../support/problem_json.rs"]
mod problem_json;

mod step_up;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, Response, StatusCode, header};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use tower_jwt_auth::{
    Algorithm, Claims, Guard, JwtAuthLayer, JwtConfig, Permissions, RequireClaimsLayer, SigningKey,
    TokenIssuer, Verifier, VerifyingKey,
};

const SECRET: &[u8] = b"guard-test-secret-of-at-least-32-bytes!";

#[derive(Clone, Default, Serialize, Deserialize)]
struct User {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

impl Permissions for User {
    fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
}

fn issuer() -> TokenIssuer {
    TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    )
}

fn auth() -> JwtAuthLayer<User> {
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    );
    JwtAuthLayer::new(verifier).claims::<User>()
}

/// `/guarded` behind `guard`, `/open` behind the auth layer only.
fn app(guard: Guard<User>) -> Router {
    Router::new()
        .route(
            "/guarded",
            get(|claims: Claims<User>| async move { format!("hello, {}", claims.sub) }),
        )
        .route_layer(RequireClaimsLayer::new(guard))
        .route_layer(auth())
}

fn token(roles: &[&str], scope: Option<&str>) -> String {
    let user = User {
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        scope: scope.map(str::to_owned),
    };
    issuer().access_token("alice", &user).unwrap()
}

async fn get_with(app: &Router, uri: &str, token: Option<&str>) -> Response<Body> {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

fn challenge(response: &Response<Body>) -> &str {
    response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn role_guard_admits_the_role_and_refuses_others_with_403() {
    let app = app(Guard::role("admin"));
    let ok = get_with(&app, "/guarded", Some(&token(&["admin"], None))).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = get_with(&app, "/guarded", Some(&token(&["user"], None))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(challenge(&refused), r#"Bearer error="insufficient_scope""#);
}

#[tokio::test]
async fn all_of_roles_needs_every_role() {
    let app = app(Guard::all([Guard::role("admin"), Guard::role("billing")]));
    let both = get_with(&app, "/guarded", Some(&token(&["billing", "admin"], None))).await;
    assert_eq!(both.status(), StatusCode::OK);
    let one = get_with(&app, "/guarded", Some(&token(&["admin"], None))).await;
    assert_eq!(one.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn any_of_roles_needs_one_role() {
    let app = app(Guard::role("admin").or(Guard::role("support")));
    let support = get_with(&app, "/guarded", Some(&token(&["support"], None))).await;
    assert_eq!(support.status(), StatusCode::OK);
    let neither = get_with(&app, "/guarded", Some(&token(&["user"], None))).await;
    assert_eq!(neither.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn scope_guard_refusal_names_the_required_scopes() {
    let app = app(Guard::scopes(["orders:read", "orders:write"]));
    let ok = get_with(
        &app,
        "/guarded",
        Some(&token(&[], Some("profile orders:write orders:read"))),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = get_with(&app, "/guarded", Some(&token(&[], Some("orders:read")))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&refused),
        r#"Bearer error="insufficient_scope", scope="orders:read orders:write""#
    );
    let no_scope_claim = get_with(&app, "/guarded", Some(&token(&[], None))).await;
    assert_eq!(no_scope_claim.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn scope_values_match_whole_words_only() {
    let app = app(Guard::scope("orders"));
    let prefix = get_with(&app, "/guarded", Some(&token(&[], Some("orders:read")))).await;
    assert_eq!(prefix.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn predicate_guard_decides_on_the_claims() {
    let app = app(Guard::predicate(|claims: &Claims<User>| {
        claims.sub == "alice"
    }));
    assert_eq!(
        get_with(&app, "/guarded", Some(&token(&[], None)))
            .await
            .status(),
        StatusCode::OK
    );
    let mallory = issuer().access_token("mallory", &User::default()).unwrap();
    let refused = get_with(&app, "/guarded", Some(&mallory)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(challenge(&refused), r#"Bearer error="insufficient_scope""#);
}

#[tokio::test]
async fn unknown_routes_stay_404_under_route_layer() {
    let app = app(Guard::role("admin"));
    assert_eq!(
        get_with(&app, "/nowhere", None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_with(&app, "/nowhere", Some(&token(&["user"], None)))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn guard_without_the_auth_layer_is_401_not_403() {
    let app: Router = Router::new()
        .route("/guarded", get(|| async { "unreachable" }))
        .route_layer(RequireClaimsLayer::new(Guard::<User>::role("admin")).realm("api"));
    let response = get_with(&app, "/guarded", Some(&token(&["admin"], None))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&response), r#"Bearer realm="api""#);
}

#[tokio::test]
async fn guard_on_an_optional_layer_turns_anonymous_away_with_401() {
    let app: Router = Router::new()
        .route("/guarded", get(|| async { "members only" }))
        .route_layer(RequireClaimsLayer::new(Guard::<User>::authenticated()))
        .route_layer(auth().optional(true));
    assert_eq!(
        get_with(&app, "/guarded", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_with(&app, "/guarded", Some(&token(&[], None)))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn grpc_request_refused_by_a_guard_gets_grpc_status_7() {
    let app: Router = Router::new()
        .route("/pkg.Svc/Call", axum::routing::post(|| async { "" }))
        .route_layer(RequireClaimsLayer::new(Guard::<User>::role("admin")))
        .route_layer(auth());
    let request = Request::post("/pkg.Svc/Call")
        .header(header::CONTENT_TYPE, "application/grpc")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", token(&["user"], None)),
        )
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "7");
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/grpc");
}

/// A rejection builder as a type (not a closure), tower-http style: it does
/// not attach the error itself; the layer does.
#[derive(Clone)]
struct Problem;

impl tower_jwt_auth::OnRejection<Body> for Problem {
    fn on_rejection(&self, rejection: &tower_jwt_auth::Rejection) -> Response<Body> {
        let error = rejection.error();
        let body = serde_json::json!({
            "type": "about:blank",
            "title": error.public_message(),
            "status": error.status().as_u16(),
            "required_scope": rejection.required_scope(),
        });
        problem_json::problem_json(error.status(), body)
    }
}

#[tokio::test]
async fn guard_custom_rejection_gets_the_typed_error_and_required_scope() {
    let app: Router = Router::new()
        .route("/guarded", get(|| async { "ok" }))
        .route_layer(
            RequireClaimsLayer::new(Guard::<User>::scope("orders:write")).on_rejection(Problem),
        )
        .route_layer(auth().on_rejection(Problem));
    let refused = get_with(&app, "/guarded", Some(&token(&[], Some("orders:read")))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(
        refused
            .extensions()
            .get::<tower_jwt_auth::AuthError>()
            .map(tower_jwt_auth::AuthError::kind),
        Some(tower_jwt_auth::AuthErrorKind::InsufficientScope)
    );
    let body: serde_json::Value = serde_json::from_slice(
        &axum::body::to_bytes(refused.into_body(), 1024)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["status"], 403);
    assert_eq!(body["required_scope"], "orders:write");

    let anonymous = get_with(&app, "/guarded", None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous
            .extensions()
            .get::<tower_jwt_auth::AuthError>()
            .map(tower_jwt_auth::AuthError::kind),
        Some(tower_jwt_auth::AuthErrorKind::MissingCredentials)
    );
}

#[tokio::test]
async fn guard_decisions_are_logged_with_outcome_sub_and_jti() {
    let (captured, _capturing) = log_capture::capture();
    let app = app(Guard::role("admin"));
    let bob = token(&["user"], None);
    assert_eq!(
        get_with(&app, "/guarded", Some(&bob)).await.status(),
        StatusCode::FORBIDDEN
    );
    let log = captured.text();
    assert!(
        log.contains(r#"outcome="denied" reason="insufficient scope" guard=role admin sub=alice"#),
        "{log}"
    );
    assert!(log.contains("jwt_guard"), "{log}");
    assert!(!log.contains(&bob), "{log}");
}
