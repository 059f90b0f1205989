//! `GET /openapi.json` of the built resource server, over HTTP: with
//! `OIDC_ISSUER` an `openIdConnect` scheme at the issuer's discovery URL
//! (whether discovery answered at startup or not), `read:ping` on `/scoped`;
//! with local keys an HTTP bearer JWT scheme. Each document passes Python's
//! `openapi-spec-validator`.

#[path = "../support/openapi_validator.rs"]
mod validator;

use serde_json::{Value, json};

use crate::support::{self, Issuer, Server, in_ci};

/// The served document, fetched without a token, checked by the validator.
async fn document(server: &Server) -> Value {
    let reply = server.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200, "no token needed: {reply:?}");
    let document = reply.json();
    validator::assert_requirements_declared(&document);
    validator::assert_valid(&document);
    document
}

/// The one scheme's name and object.
fn only_scheme(document: &Value) -> (String, Value) {
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    assert_eq!(schemes.len(), 1, "{schemes:?}");
    let (name, scheme) = schemes.iter().next().unwrap();
    (name.clone(), scheme.clone())
}

fn assert_routes(document: &Value, name: &str) {
    let security = |path: &str| document["paths"][path]["get"]["security"].clone();
    assert_eq!(security("/scoped"), json!([{ name: ["read:ping"] }]));
    assert_eq!(security("/me"), json!([{ name: [] }]));
    assert_eq!(security("/protected/ping"), json!([{ name: [] }]));
    assert_eq!(security("/health"), json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_oidc_issuer_the_document_has_an_open_id_connect_scheme_at_its_discovery_url() {
    let issuer = Issuer::start(Vec::new()).await;
    let server = Server::start(&[("OIDC_ISSUER", &issuer.url), ("JWT_AUDIENCE", "api")]).await;
    let document = document(&server).await;
    let (name, scheme) = only_scheme(&document);
    assert_eq!(scheme["type"], "openIdConnect", "{scheme}");
    assert_eq!(
        scheme["openIdConnectUrl"],
        format!("{}/.well-known/openid-configuration", issuer.url)
    );
    assert_routes(&document, &name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_unreachable_at_startup_is_still_an_open_id_connect_scheme() {
    let issuer = format!("http://127.0.0.1:{}", support::free_port());
    let server = Server::start(&[("OIDC_ISSUER", &issuer), ("JWT_AUDIENCE", "api")]).await;
    let document = document(&server).await;
    let (name, scheme) = only_scheme(&document);
    assert_eq!(scheme["type"], "openIdConnect", "{scheme}");
    assert_eq!(
        scheme["openIdConnectUrl"],
        format!("{issuer}/.well-known/openid-configuration")
    );
    assert_routes(&document, &name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_local_keys_the_document_has_an_http_bearer_jwt_scheme() {
    let server = Server::start(&[("JWT_SECRET", "a-test-secret-of-at-least-32-bytes-long")]).await;
    let document = document(&server).await;
    let (name, scheme) = only_scheme(&document);
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    assert_routes(&document, &name);
}
