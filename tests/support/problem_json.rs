//! An RFC 9457 `application/problem+json` response, for the tests of custom
//! rejections (`tests/layer`, `tests/guard`). Include with
//! `#[path = "../support/problem_json.rs"] mod problem_json;`.

use axum::body::Body;
use http::{Response, StatusCode, header};

/// `body` (the problem's fields) as `application/problem+json` with `status`.
pub fn problem_json(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/problem+json".parse().unwrap(),
    );
    response
}
