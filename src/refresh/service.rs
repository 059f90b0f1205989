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
    /// Parses an RFC 6749 §6 token request
    /// (`grant_type=refresh_token&refresh_token=…`, form-encoded, as OAuth
    /// clients send it): `grant_type` must be `refresh_token`, and neither
    /// it nor `refresh_token` may appear twice; other parameters (a public
    /// client's `client_id`, `scope`) are ignored.
    pub fn parse_form(body: &[u8]) -> Result<Self, BodyError> {
        let pairs = crate::introspect::form::decode_pairs(body).ok_or(BodyError::NotJson)?;
        let named = |name: &str| -> Result<Option<&str>, BodyError> {
            let mut values = pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
            match (values.next(), values.next()) {
                (value, None) => Ok(value.map(String::as_str)),
                _ => Err(BodyError::WrongShape),
            }
        };
        if named("grant_type")? != Some("refresh_token") {
            return Err(BodyError::WrongShape);
        }
        let refresh_token = named("refresh_token")?.ok_or(BodyError::WrongShape)?;
        Ok(Self {
            refresh_token: refresh_token.to_owned(),
        })
    }

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

/// `application/x-www-form-urlencoded` (parameters ignored).
fn is_form(value: Option<&HeaderValue>) -> bool {
    value
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
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

/// Reads a whole body, up to `limit` bytes. Read before any refusal that
/// does not need it, too: hyper keeps an HTTP/1.1 connection open only when
/// the request body was read, and a pooling client sees the connection
/// closed under its next request instead.
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

/// A leaf service answering `POST {"refresh_token": "..."}` (or the
/// form-encoded `grant_type=refresh_token&refresh_token=…` of RFC 6749 §6,
/// as OAuth clients send it) with the next [`TokenPair`](crate::TokenPair)
/// (200, `Cache-Control: no-store`).
///
/// | request | answer |
/// |---|---|
/// | not `POST` | 405, `Allow: POST` |
/// | declared `content-type` not JSON | 415 |
/// | body over the cap ([`DEFAULT_MAX_BODY_LEN`]) | 413 |
/// | not JSON / no string `refresh_token` | 400 / 422 |
/// | invalid, expired, access, revoked or replayed token | 401, `WWW-Authenticate: Bearer error="invalid_token"` |
/// | store unavailable | 503, `Retry-After` |
/// | with [`SessionManager::dpop`]: a bad `DPoP` proof, or a bound session's refresh without a proof of its key | 400 `invalid_dpop_proof` (RFC 9449 §5) |
/// | … a proof without the server nonce | 400 `use_dpop_nonce`, `DPoP-Nonce` |
///
/// A valid proof binds the next access token to its key (`token_type`
/// `DPoP`); a bound session's refresh token stays bound to its key.
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
        let content_type = parts.headers.get(header::CONTENT_TYPE);
        if is_form(content_type) {
            return RefreshRequest::parse_form(&read_body(body, limit).await?);
        }
        // Read even when the type is refused (see `read_body`).
        let read = read_body(body, limit).await;
        check_json_content_type(content_type)?;
        RefreshRequest::parse(&read?)
    };
    let refresh_request = match parsed.await {
        Ok(parsed) => parsed,
        Err(error) => {
            tracing::info!(outcome = "rejected", reason = %error, "refresh request body refused");
            return json_error(error.status(), error.code());
        }
    };
    let key = match sessions
        .token_request_proof(&parts.method, &parts.uri, &parts.headers)
        .await
    {
        Ok(key) => key,
        Err(error) => return session_error_response(&error),
    };
    match sessions
        .refresh_bound(&refresh_request.refresh_token, key.as_ref())
        .await
    {
        Ok(pair) => {
            let mut response = json_response(StatusCode::OK, &pair);
            if let Some(nonce) = key.as_ref().and_then(|key| key.fresh_nonce()) {
                with_dpop_nonce(&mut response, nonce);
            }
            response
        }
        Err(error) => session_error_response(&error),
    }
}

/// Adds `DPoP-Nonce` (readable by browser clients) to a token response.
pub fn with_dpop_nonce<B>(response: &mut Response<B>, nonce: &str) {
    if let Some(value) = super::dpop::nonce_header(nonce) {
        let headers = response.headers_mut();
        headers.insert("dpop-nonce", value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("DPoP-Nonce"),
        );
    }
}

/// The response for a failed session operation: 401 with the RFC 6750
/// challenge, 503 with `Retry-After`, 400 `invalid_dpop_proof` /
/// `use_dpop_nonce` (with `DPoP-Nonce`) for a refused DPoP proof, or 500; a
/// JSON body naming only the category.
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
        SessionError::Proof(refused) => {
            let mut response = json_error(error.status(), refused.code());
            if let Some(nonce) = refused.nonce() {
                with_dpop_nonce(&mut response, nonce);
            }
            if error.status() == StatusCode::SERVICE_UNAVAILABLE {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                );
            }
            response
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
    fn a_form_request_needs_the_refresh_token_grant_once() {
        let request = RefreshRequest::parse_form(
            b"grant_type=refresh_token&refresh_token=a.b%2Ec&client_id=x",
        )
        .unwrap();
        assert_eq!(request.refresh_token, "a.b.c");
        for body in [
            &b"refresh_token=a.b.c"[..],
            b"grant_type=password&refresh_token=a.b.c",
            b"grant_type=refresh_token",
            b"grant_type=refresh_token&refresh_token=a&refresh_token=b",
            b"grant_type=refresh_token&grant_type=refresh_token&refresh_token=a",
        ] {
            assert_eq!(
                RefreshRequest::parse_form(body).err(),
                Some(BodyError::WrongShape),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(is_form(Some(&HeaderValue::from_static(
            "Application/X-WWW-Form-Urlencoded;charset=UTF-8"
        ))));
        assert!(!is_form(Some(&HeaderValue::from_static(
            "application/json"
        ))));
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
