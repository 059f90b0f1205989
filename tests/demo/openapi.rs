//! `GET /openapi.json` of the built demo, over HTTP: no token needed, an HTTP
//! bearer JWT scheme, per-route requirements from its layers, and a document
//! Python's `openapi-spec-validator` accepts.

#[path = "../support/openapi_validator.rs"]
mod validator;

// One `ci.rs` per test binary: the demo's comes with its Redis server helper.
use super::dpop::redis_server::ci::in_ci;

use serde_json::{Value, json};

use super::public::example_process::Client;
use super::public::serving;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_an_openapi_document_naming_an_http_bearer_jwt_scheme() {
    let (demo, base) = serving(&[]).await;
    let reply = Client::new()
        .send("GET", &format!("{base}/openapi.json"), None)
        .await;
    assert_eq!(reply.status, 200, "no token needed: {reply:?}");
    assert_eq!(reply.header("content-type"), "application/json");
    let document: Value = serde_json::from_str(&reply.body).expect("JSON");

    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    assert_eq!(schemes.len(), 1, "{schemes:?}");
    let (name, scheme) = schemes.iter().next().unwrap();
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");

    let security = |method: &str, path: &str| document["paths"][path][method]["security"].clone();
    assert_eq!(security("get", "/me"), json!([{ name.as_str(): [] }]));
    assert_eq!(security("get", "/admin"), json!([{ name.as_str(): [] }]));
    // Optional authentication: anonymous is an alternative.
    assert_eq!(
        security("get", "/hello"),
        json!([{ name.as_str(): [] }, {}])
    );
    assert_eq!(security("get", "/health"), json!([]));
    assert_eq!(security("get", "/openapi.json"), json!([]));

    validator::assert_requirements_declared(&document);
    validator::assert_valid(&document);
    demo.terminate().await;
}
