//! [`RefreshService`]: the refresh operation behind HTTP.

use std::borrow::Cow;
use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::{SessionError, SessionManager};
use crate::jws::{JsonStr, Skip};
use crate::rejection::{AuthErrorKind, RETRY_AFTER_SECS, challenge_value};

/// The default cap on a refresh request body: far above any token we mint.
pub const DEFAULT_MAX_BODY_LEN: usize = 16 * 1024;

/// The refresh request body: `{"refresh_token": "..."}`. Other members are
/// ignored; the body must be a UTF-8 JSON object with no member twice.
pub struct RefreshRequest {
    /// The refresh token.
    pub refresh_token: String,
}

impl fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

/// Why a request body was refused before any token was looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// Not valid JSON, or empty: 400 `invalid_request`.
    NotJson,
    /// JSON of the wrong shape (no string `refresh_token`): 422 `invalid_request`.
    WrongShape,
    /// A declared `content-type` other than JSON: 415.
    UnsupportedMediaType,
    /// Longer than the cap: 413.
    TooLarge,
    /// The body could not be read: 400.
    Unreadable,
}

impl BodyError {
    /// The HTTP status.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::NotJson | Self::Unreadable => StatusCode::BAD_REQUEST,
            Self::WrongShape => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// The `error` code of the JSON body.
    pub const fn code(self) -> &'static str {
        match self {
            Self::NotJson | Self::WrongShape | Self::Unreadable => "invalid_request",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooLarge => "request_too_large",
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotJson => "body is not JSON",
            Self::WrongShape => "body has no string `refresh_token`",
            Self::UnsupportedMediaType => "content-type is not JSON",
            Self::TooLarge => "body exceeds the size cap",
            Self::Unreadable => "body could not be read",
        })
    }
}

impl std::error::Error for BodyError {}

impl<'de> Deserialize<'de> for RefreshRequest {
    /// Only a JSON object (a derived impl would also read `["token"]`), with
    /// no member named twice and every value within serde_json's limits.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RequestVisitor;
        impl<'de> Visitor<'de> for RequestVisitor {
            type Value = RefreshRequest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"{"refresh_token": "..."}"#)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RefreshRequest, A::Error> {
                let mut refresh_token = None;
                let mut seen: HashSet<Cow<'de, str>> = HashSet::new();
                while let Some(JsonStr(name)) = map.next_key::<JsonStr<'de>>()? {
                    if !seen.insert(name.clone()) {
                        return Err(de::Error::custom("duplicate member"));
                    }
                    if name == "refresh_token" {
                        refresh_token = Some(map.next_value::<String>()?);
                    } else {
                        map.next_value::<Skip>()?;
                    }
                }
                let refresh_token =
                    refresh_token.ok_or_else(|| de::Error::missing_field("refresh_token"))?;
                Ok(RefreshRequest { refresh_token })
            }
        }
        deserializer.deserialize_map(RequestVisitor)
    }
}

impl RefreshRequest {
    /// Parses a JSON body.
    pub fn parse(body: &[u8]) -> Result<Self, BodyError> {
        // UTF-8 first: serde_json does not validate strings it skips.
        let body = std::str::from_utf8(body).map_err(|_| BodyError::NotJson)?;
        serde_json::from_str(body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => BodyError::WrongShape,
            _ => BodyError::NotJson,
        })
    }
}

/// Accepts a missing `content-type` (clients that send JSON without saying
/// so) and any JSON type (`application/json`, `…+json`, with parameters).
pub(crate) fn check_json_content_type(value: Option<&HeaderValue>) -> Result<(), BodyError> {
    let Some(value) = value else { return Ok(()) };
    let essence = value
        .to_str()
        .map_err(|_| BodyError::UnsupportedMediaType)?
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(BodyError::UnsupportedMediaType)
    }
}

/// Reads a whole body, up to `limit` bytes.
pub(crate) async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Unreadable),
    }
}

/// A leaf service answering `POST {"refresh_token": "..."}` with the next
/// [`TokenPair`](crate::TokenPair) (200, `Cache-Control: no-store`).
///
/// | request | answer |
/// |---|---|
/// | not `POST` | 405, `Allow: POST` |
/// | declared `content-type` not JSON | 415 |
/// | body over the cap ([`DEFAULT_MAX_BODY_LEN`]) | 413 |
/// | not JSON / no string `refresh_token` | 400 / 422 |
/// | invalid, expired, access, revoked or replayed token | 401, `WWW-Authenticate: Bearer error="invalid_token"` |
/// | store unavailable | 503, `Retry-After` |
///
/// Error bodies are `{"error": "<code>"}` and never say more.
///
/// ```
/// use std::sync::Arc;
/// use axum::Router;
/// use tower_jwt_auth::{
///     Algorithm, JwtConfig, MemoryStore, SessionManager, SigningKey, TokenIssuer, Verifier,
///     VerifyingKey,
/// };
///
/// let secret = b"an example secret of at least 32 bytes!";
/// let sessions: SessionManager = SessionManager::new(
///     TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, JwtConfig::new()),
///     Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, JwtConfig::new()),
///     Arc::new(MemoryStore::new()),
/// );
/// let app: Router = Router::new().route_service("/auth/refresh", sessions.refresh_service());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct RefreshService<T> {
    sessions: SessionManager<T>,
    max_body_len: usize,
}

impl<T> Clone for RefreshService<T> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
            max_body_len: self.max_body_len,
        }
    }
}

impl<T> fmt::Debug for RefreshService<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshService")
            .field("sessions", &self.sessions)
            .field("max_body_len", &self.max_body_len)
            .finish()
    }
}

// ===== impl RefreshService =====

impl<T> RefreshService<T> {
    /// A service over `sessions`.
    pub fn new(sessions: SessionManager<T>) -> Self {
        Self {
            sessions,
            max_body_len: DEFAULT_MAX_BODY_LEN,
        }
    }

    /// Caps the request body (default [`DEFAULT_MAX_BODY_LEN`]).
    pub fn max_body_len(mut self, bytes: usize) -> Self {
        self.max_body_len = bytes;
        self
    }
}

impl<T, B> tower_service::Service<Request<B>> for RefreshService<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let sessions = self.sessions.clone();
        let limit = self.max_body_len;
        Box::pin(async move { Ok(handle(sessions, limit, request).await) })
    }
}

async fn handle<T, B>(
    sessions: SessionManager<T>,
    limit: usize,
    request: Request<B>,
) -> Response<Full<Bytes>>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if request.method() != Method::POST {
        let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let (parts, body) = request.into_parts();
    let parsed = async {
        check_json_content_type(parts.headers.get(header::CONTENT_TYPE))?;
        RefreshRequest::parse(&read_body(body, limit).await?)
    };
    let refresh_request = match parsed.await {
        Ok(parsed) => parsed,
        Err(error) => {
            tracing::info!(outcome = "rejected", reason = %error, "refresh request body refused");
            return json_error(error.status(), error.code());
        }
    };
    match sessions.refresh(&refresh_request.refresh_token).await {
        Ok(pair) => json_response(StatusCode::OK, &pair),
        Err(error) => session_error_response(&error),
    }
}

/// The response for a failed session operation: 401 with the RFC 6750
/// challenge, 503 with `Retry-After`, or 500; a JSON body naming only the
/// category.
pub fn session_error_response(error: &SessionError) -> Response<Full<Bytes>> {
    match error {
        SessionError::Rejected(auth) if auth.kind() == AuthErrorKind::StoreUnavailable => {
            let mut response =
                json_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
            response.extensions_mut().insert(auth.clone());
            response
        }
        SessionError::Rejected(auth) => {
            let mut response = json_error(StatusCode::UNAUTHORIZED, "invalid_token");
            if let Some(challenge) = challenge_value(auth, None, None) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge);
            }
            response.extensions_mut().insert(auth.clone());
            response
        }
        SessionError::Issue(issue) => {
            tracing::error!(error = %issue, "minting failed");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    }
}

fn json_error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    json_response(status, &serde_json::json!({ "error": code }))
}

fn json_response(status: StatusCode, value: &impl Serialize) -> Response<Full<Bytes>> {
    // Serializing a TokenPair or a json! value cannot fail.
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_request_reads_the_token_and_ignores_other_members() {
        let request = RefreshRequest::parse(
            br#"{"grant_type":"refresh_token","refresh_token":"a.b\u002ec"}"#,
        )
        .unwrap();
        assert_eq!(request.refresh_token, "a.b.c");
    }

    // Regression (found by the `refresh_body` fuzz target): invalid UTF-8 in
    // a member nobody reads was accepted, because serde_json does not
    // validate strings it skips.
    #[test]
    fn refresh_request_with_invalid_utf8_anywhere_is_not_json() {
        let body = b"{\"refresh_token\":\"a.b.c\",\"x\":[{\"y\xff\":null}]}";
        assert_eq!(RefreshRequest::parse(body).err(), Some(BodyError::NotJson));
    }

    #[test]
    fn refresh_request_must_be_an_object_without_duplicates() {
        for body in [
            &br#"["a.b.c"]"#[..],
            br#"{"refresh_token":"a","refresh_token":"b"}"#,
            br#"{"refresh_token":"a","x":1,"x":2}"#,
            br#"{"refresh_token":null}"#,
            br#"{}"#,
        ] {
            assert_eq!(
                RefreshRequest::parse(body).err(),
                Some(BodyError::WrongShape),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            RefreshRequest::parse(br#"{"refresh_token":"a","x":1e400}"#).err(),
            Some(BodyError::NotJson)
        );
    }
}
