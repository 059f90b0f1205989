//! The examples' `GET /openapi.json` (no auth): an OpenAPI 3.1 document whose
//! security schemes and per-route requirements come from the auth layer and
//! the guards the routes use (`tower_jwt_auth::openapi`). Built as JSON, so
//! the demo serves it with default features; an application on utoipa or
//! aide would use `openapi::utoipa` / `openapi::aide` instead.

use axum::Router;
use axum::routing::get;
use serde_json::{Map, Value, json};
use tower_jwt_auth::openapi::{Requirements, SecurityDescription};
use tower_jwt_auth::{Guard, JwtAuthLayer};

/// One operation of the document.
struct Operation {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    /// `None`: public.
    security: Option<Requirements>,
}

fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    security: Option<Requirements>,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        security,
    }
}

/// The document: `info`, the paths, `components.securitySchemes`.
fn document(title: &str, security: &SecurityDescription, operations: Vec<Operation>) -> Value {
    let mut paths = Map::new();
    for operation in operations {
        let mut responses = Map::new();
        responses.insert("200".to_owned(), json!({ "description": "success" }));
        let mut object = Map::new();
        object.insert("summary".to_owned(), json!(operation.summary));
        if let Some(requirements) = &operation.security {
            object.insert("security".to_owned(), requirements.to_json());
            responses.insert(
                "401".to_owned(),
                json!({ "description": "no valid token (RFC 6750 challenge)" }),
            );
            if requirements
                .alternatives()
                .iter()
                .any(|alternative| alternative.values().any(|scopes| !scopes.is_empty()))
            {
                responses.insert(
                    "403".to_owned(),
                    json!({ "description": "insufficient_scope" }),
                );
            }
        } else {
            // Public: an empty requirement list overrides any default.
            object.insert("security".to_owned(), json!([]));
        }
        object.insert("responses".to_owned(), Value::Object(responses));
        let item = paths
            .entry(operation.path.to_owned())
            .or_insert_with(|| json!({}));
        item[operation.method] = Value::Object(object);
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": title, "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": { "securitySchemes": security.security_schemes() },
    })
}

/// `GET /openapi.json` serving `document`.
fn route<S: Clone + Send + Sync + 'static>(document: Value) -> Router<S> {
    let body = document.to_string();
    Router::new().route(
        "/openapi.json",
        get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }
        }),
    )
}

/// The demo's document: its bearer layer, the `admin` role guard (a role is
/// no scope: the requirement names none), optional `/hello`.
#[allow(dead_code)]
pub fn demo<S, T, R: Clone>(auth: &JwtAuthLayer<T, R>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let security = SecurityDescription::from_layer(auth);
    let optional = SecurityDescription::from_layer(&auth.clone().optional(true));
    let user = || Some(security.requirements());
    let operations = vec![
        op("get", "/health", "liveness", None),
        op("post", "/auth/login", "log in: a token pair", None),
        op("post", "/auth/refresh", "rotate a refresh token", None),
        op("post", "/auth/logout", "end the token's session", user()),
        op(
            "post",
            "/auth/logout-all",
            "end every session of the user",
            user(),
        ),
        op("get", "/auth/sessions", "the user's sessions", user()),
        op("get", "/me", "the verified claims", user()),
        op("get", "/protected/ping", "pong", user()),
        op("get", "/admin", "role admin", user()),
        op("get", "/account/sensitive", "a recent login", user()),
        op(
            "get",
            "/hello",
            "optional authentication",
            Some(optional.requirements()),
        ),
        op("get", "/openapi.json", "this document", None),
    ];
    route(document("tower-jwt-auth demo", &security, operations))
}

/// The resource server's document: its trusted issuers (`openIdConnect` for
/// a discovered one), `/scoped` behind `scoped`'s scopes.
#[allow(dead_code)]
pub fn resource_server<S, T, R>(auth: &JwtAuthLayer<T, R>, scoped: &Guard<T>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let security = SecurityDescription::from_layer(auth).guard(scoped);
    let user = || Some(security.requirements());
    let operations = vec![
        op("get", "/health", "liveness", None),
        op("get", "/me", "the verified payload", user()),
        op("get", "/protected/ping", "pong", user()),
        op(
            "get",
            "/scoped",
            "needs scope read:ping",
            Some(security.requirements_for(scoped)),
        ),
        op("get", "/openapi.json", "this document", None),
    ];
    route(document(
        "tower-jwt-auth resource server",
        &security,
        operations,
    ))
}
