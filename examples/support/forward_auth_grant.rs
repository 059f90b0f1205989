//! `forward_auth`'s yes: 200 with the verified subject, scopes and mapped
//! claims as `X-Auth-*` headers, each value safe to copy into a request.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::Value;
use tower_jwt_auth::Claims;

use super::forward_auth_settings::ClaimHeader;

/// The verified payload, whole.
pub type Payload = serde_json::Map<String, Value>;

/// The longest value answered in a header, in bytes. Longer values are not
/// cut (a cut value could equal another user's): they are answered empty.
pub const MAX_VALUE_LEN: usize = 1024;

/// `text` as a header value, or `None` when it is empty, longer than
/// [`MAX_VALUE_LEN`] or holds a control character (CR, LF, NUL, DEL, C1…):
/// such a value could split or smuggle headers on the way upstream, and
/// changing it silently could make it someone else's.
pub fn header_value(text: &str) -> Option<HeaderValue> {
    if text.is_empty() || text.len() > MAX_VALUE_LEN || text.chars().any(char::is_control) {
        return None;
    }
    HeaderValue::from_str(text).ok()
}

/// A claim as header text: strings as they are, numbers and booleans as
/// JSON writes them, arrays and objects as compact JSON.
pub fn claim_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// The granted scopes, space-separated: `scope` (RFC 9068), else `scp` (an
/// array, as Okta sends it, or a string, as Entra ID does).
pub fn scopes(payload: &Payload) -> Option<String> {
    match (payload.get("scope"), payload.get("scp")) {
        (Some(Value::String(scope)), _) => Some(scope.clone()),
        (_, Some(Value::String(scp))) => Some(scp.clone()),
        (_, Some(Value::Array(scp))) => {
            let names: Vec<&str> = scp.iter().filter_map(Value::as_str).collect();
            Some(names.join(" "))
        }
        _ => None,
    }
}

/// 200 for `claims`: `X-Auth-Subject`, `X-Auth-Scopes` and one header per
/// `CLAIM_HEADERS` entry, empty where the token has no safe value. A
/// subject that cannot be a header value is refused (401) rather than
/// altered.
pub fn answer(claims: &Claims<Payload>, mapped: &[ClaimHeader]) -> Response<Body> {
    let Some(subject) = header_value(&claims.sub) else {
        tracing::warn!(
            jti = %claims.jti,
            "refused: the subject is empty, too long or holds control characters"
        );
        let mut refused = Response::new(Body::empty());
        *refused.status_mut() = StatusCode::UNAUTHORIZED;
        refused.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        return refused;
    };
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert("x-auth-subject", subject);
    // Every other output is answered, empty when the token has no safe
    // value for it: a proxy that copies the header then overwrites the
    // client's with nothing (Caddy before 2.10 would otherwise send its
    // own placeholder text, or the client's value, upstream).
    let scopes = scopes(&claims.custom).unwrap_or_default();
    headers.insert(
        "x-auth-scopes",
        safe_or_empty(&scopes, "x-auth-scopes", &claims.sub),
    );
    for ClaimHeader { claim, header } in mapped {
        let text = claims
            .custom
            .get(claim)
            .and_then(claim_text)
            .unwrap_or_default();
        headers.insert(
            header.clone(),
            safe_or_empty(&text, header.as_str(), &claims.sub),
        );
    }
    response
}

/// `text` as a header value, or the empty value (logged when `text` was
/// not empty but unsafe).
fn safe_or_empty(text: &str, header: &str, sub: &str) -> HeaderValue {
    header_value(text).unwrap_or_else(|| {
        if !text.is_empty() {
            tracing::warn!(
                sub,
                header,
                "answered empty: the value is too long or holds control characters"
            );
        }
        HeaderValue::from_static("")
    })
}

/// The service under the auth layer (and the scope guard): answers for the
/// claims the layer put into the request.
pub fn service(
    mapped: Arc<[ClaimHeader]>,
) -> impl tower::Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = std::future::Ready<Result<Response<Body>, Infallible>>,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |request: Request<Body>| {
        let response = match request.extensions().get::<Arc<Claims<Payload>>>() {
            Some(claims) => answer(claims, &mapped),
            // The layer runs first and always inserts claims (it is not
            // optional): this is unreachable, and refused if not.
            None => {
                let mut refused = Response::new(Body::empty());
                *refused.status_mut() = StatusCode::UNAUTHORIZED;
                refused
            }
        };
        std::future::ready(Ok(response))
    })
}
