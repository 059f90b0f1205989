//! `IntrospectionService`: RFC 7662 answers about the tokens this crate
//! minted, for the other services that hold them.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde_json::{Map, Value};

use super::form;
use super::limit::{CallerAddress, DEFAULT_FAILURE_BURST, DEFAULT_FAILURE_INTERVAL, FailureLimit};
use crate::claims::{Claims, TokenType};
use crate::keys::{Algorithm, SigningKey};
use crate::rejection::AuthErrorKind;
use crate::revocation::{MemoryStore, RevocationStore, with_token_ref};
use crate::verify::Verifier;

/// The default cap on a request body: a token of the verifier's largest size
/// and the form around it fit.
pub const DEFAULT_MAX_REQUEST_LEN: usize = 16 * 1024;

/// A leaf service answering RFC 7662 introspection requests about this
/// crate's own tokens.
///
/// | request | answer |
/// |---|---|
/// | not `POST` | 405, `Allow: POST` |
/// | no or wrong HTTP Basic credentials of a configured client | 401, `WWW-Authenticate: Basic`, `{"error":"invalid_client"}` |
/// | any request from a caller whose failed authentications are spent ([`failure_limit`](Self::failure_limit)) | 429, `Retry-After`, `{"error":"slow_down"}` |
/// | body over the cap, or not a form with a `token` | 413 / 400 `invalid_request` |
/// | a token that verifies ([`Verifier`]) and is not revoked ([`RevocationStore`]) | 200, `active: true` and its members |
/// | any other token: foreign, malformed, expired, revoked (at once) | 200, `{"active":false}` and nothing else |
/// | the revocation store cannot answer | 503, `Retry-After` |
///
/// The active answer carries `active`, `token_type` (`Bearer`, `DPoP` for a
/// token bound by `cnf.jkt`, `refresh_token` for a refresh token), `sub`,
/// `exp`, `iat`, `nbf`, `iss`, `aud`, `jti`, and from the token's own claims
/// `scope`, `client_id` and `cnf` when it carries them. Answers are
/// `Cache-Control: no-store`.
///
/// ```
/// use tower_jwt_auth::introspect::IntrospectionService;
/// use tower_jwt_auth::{Algorithm, JwtConfig, MemoryStore, Verifier, VerifyingKey};
///
/// let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
/// let store = MemoryStore::new();
/// let service = IntrospectionService::new(Verifier::new(key, JwtConfig::new()))
///     .store(store)
///     .client("billing", "a secret for the billing service");
/// # let _ = service;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct IntrospectionService {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    verifier: Verifier,
    store: Arc<dyn RevocationStore>,
    /// Client ids with the MAC of their secret, compared in constant time.
    clients: Vec<(String, Vec<u8>)>,
    /// A random key per service: secrets are compared as MACs under it.
    mac: SigningKey,
    max_body_len: usize,
    /// The budget of failed client authentications, per caller.
    failures: Arc<FailureLimit>,
    /// How to read a caller's address from the request, if the application
    /// said so; without it every caller shares one budget.
    caller_address: Option<CallerAddress>,
}

impl fmt::Debug for IntrospectionService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clients: Vec<&str> = self
            .inner
            .clients
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        f.debug_struct("IntrospectionService")
            .field("verifier", &self.inner.verifier)
            .field("store", &self.inner.store)
            .field("clients", &clients)
            .field("max_body_len", &self.inner.max_body_len)
            .field("failures", &self.inner.failures)
            .finish_non_exhaustive()
    }
}

impl IntrospectionService {
    /// A service answering about the tokens `verifier` accepts, with an empty
    /// in-memory revocation store and no client (so every caller gets 401
    /// until [`client`](Self::client) adds one).
    pub fn new(verifier: Verifier) -> Self {
        let mut secret = [0_u8; 32];
        getrandom::fill(&mut secret).expect("the system's random source");
        Self {
            inner: Arc::new(Inner {
                verifier,
                store: Arc::new(MemoryStore::new()),
                clients: Vec::new(),
                mac: SigningKey::hmac(Algorithm::HS256, &secret).expect("a 32-byte HMAC key"),
                max_body_len: DEFAULT_MAX_REQUEST_LEN,
                failures: Arc::new(FailureLimit::new(
                    DEFAULT_FAILURE_BURST,
                    DEFAULT_FAILURE_INTERVAL,
                )),
                caller_address: None,
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        change(Arc::make_mut(&mut self.inner));
        self
    }

    /// The revocation store whose revocations make a token inactive (the
    /// layer's).
    pub fn store(self, store: impl RevocationStore) -> Self {
        self.shared_store(Arc::new(store))
    }

    /// As [`store`](Self::store), for a store already shared.
    pub fn shared_store(self, store: Arc<dyn RevocationStore>) -> Self {
        self.with(|inner| inner.store = store)
    }

    /// Lets `client_id` call with HTTP Basic and `secret`
    /// (`client_secret_basic`); the secret is kept only as a MAC.
    pub fn client(self, client_id: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.with(|inner| {
            let mac = inner.mac.sign(secret.as_ref()).unwrap_or_default();
            let id = client_id.into();
            inner.clients.retain(|(known, _)| *known != id);
            inner.clients.push((id, mac));
        })
    }

    /// Caps the request body (default [`DEFAULT_MAX_REQUEST_LEN`]).
    pub fn max_body_len(self, bytes: usize) -> Self {
        self.with(|inner| inner.max_body_len = bytes)
    }

    /// Bounds failed client authentications (RFC 7662 §4: the endpoint
    /// must resist guessing): each caller may fail `burst` times at once,
    /// then once more every `interval` (defaults 10 and 1 s). Once its budget
    /// is spent, every request of that caller — the right secret too, or the
    /// limit would only hide which guess was right — is answered 429 with
    /// `Retry-After` until it refills; a successful authentication spends
    /// nothing. Callers are told apart by
    /// [`caller_address`](Self::caller_address); without it they share one
    /// budget (then a flood of bad callers delays good ones by at most the
    /// `Retry-After`).
    pub fn failure_limit(self, burst: u32, interval: std::time::Duration) -> Self {
        self.with(|inner| inner.failures = Arc::new(FailureLimit::new(burst, interval)))
    }

    /// How to read the caller's address from a request's extensions, so
    /// each address (IPv6: each /64) gets its own budget of failed
    /// authentications. With axum:
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use axum::extract::ConnectInfo;
    /// use tower_jwt_auth::introspect::IntrospectionService;
    /// use tower_jwt_auth::{Algorithm, JwtConfig, Verifier, VerifyingKey};
    ///
    /// let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
    /// let service = IntrospectionService::new(Verifier::new(key, JwtConfig::new()))
    ///     .client("billing", "a secret for the billing service")
    ///     .caller_address(|extensions| {
    ///         extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())
    ///     });
    /// # let _ = service;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn caller_address(
        self,
        address: fn(&http::Extensions) -> Option<std::net::IpAddr>,
    ) -> Self {
        self.with(|inner| inner.caller_address = Some(address))
    }

    /// The id of the configured client these `Authorization` credentials
    /// prove, if any. Every configured client is compared, in constant time.
    fn authenticate(&self, authorization: Option<&HeaderValue>) -> Option<&str> {
        let (id, secret) = basic_credentials(authorization?)?;
        let presented = self.inner.mac.sign(secret.as_bytes())?;
        let mut found = None;
        for (known, mac) in &self.inner.clients {
            let same_secret = mac.len() == presented.len()
                && mac
                    .iter()
                    .zip(&presented)
                    .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
                    == 0;
            if same_secret && *known == id {
                found = Some(known.as_str());
            }
        }
        found
    }

    /// The answer about `token`; `Err` when the store cannot say.
    fn answer(&self, token: &str, hint: Option<&str>) -> Result<Value, ()> {
        let verifier = &self.inner.verifier;
        let (first, second) = match hint {
            Some("refresh_token") => (TokenType::Refresh, TokenType::Access),
            _ => (TokenType::Access, TokenType::Refresh),
        };
        let claims = match verifier.verify::<Map<String, Value>>(token, first) {
            Err(error) if error.kind() == AuthErrorKind::WrongTokenType => {
                verifier.verify::<Map<String, Value>>(token, second)
            }
            other => other,
        };
        let Ok(claims) = claims else {
            return Ok(inactive());
        };
        let scope = verifier.revocation_scope(claims.iss.as_deref());
        match with_token_ref(&claims, scope, |token| self.inner.store.is_revoked(token)) {
            Ok(false) => Ok(active(claims)),
            Ok(true) => Ok(inactive()),
            Err(error) => {
                tracing::warn!(%error, "introspection: revocation store unavailable");
                Err(())
            }
        }
    }
}

/// `(client_id, secret)` of an HTTP Basic credential, form-decoded (RFC 6749
/// §2.3.1).
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((
        form::decode(&decoded[..colon])?,
        form::decode(&decoded[colon + 1..])?,
    ))
}

fn inactive() -> Value {
    serde_json::json!({ "active": false })
}

fn active(claims: Claims<Map<String, Value>>) -> Value {
    let Claims {
        iss,
        sub,
        aud,
        exp,
        nbf,
        iat,
        jti,
        token_type,
        mut custom,
        ..
    } = claims;
    let mut answer = Map::new();
    answer.insert("active".into(), Value::Bool(true));
    let cnf = custom.remove("cnf").filter(Value::is_object);
    let bound_by_key = cnf.as_ref().is_some_and(|cnf| cnf.get("jkt").is_some());
    let token_type = match token_type {
        TokenType::Refresh => "refresh_token",
        TokenType::Access if bound_by_key => "DPoP",
        TokenType::Access => "Bearer",
    };
    answer.insert("token_type".into(), Value::from(token_type));
    for name in ["scope", "client_id"] {
        if let Some(value) = custom.remove(name).filter(Value::is_string) {
            answer.insert(name.into(), value);
        }
    }
    answer.insert("sub".into(), Value::from(sub));
    answer.insert("exp".into(), Value::from(exp));
    let optional = [("iat", iat), ("nbf", nbf)];
    for (name, value) in optional {
        if let Some(value) = value {
            answer.insert(name.into(), Value::from(value));
        }
    }
    if let Some(iss) = iss {
        answer.insert("iss".into(), Value::from(iss));
    }
    if let Some(aud) = aud {
        answer.insert(
            "aud".into(),
            serde_json::to_value(aud).unwrap_or(Value::Null),
        );
    }
    if !jti.is_empty() {
        answer.insert("jti".into(), Value::from(jti));
    }
    if let Some(cnf) = cnf {
        answer.insert("cnf".into(), cnf);
    }
    Value::Object(answer)
}

/// Reads a refused request's body to its end (up to `cap`) and drops it.
///
/// hyper keeps an HTTP/1.1 connection open only when the request body was
/// read; answered before its body arrived, the connection is closed under
/// the client's next request, which a pooling client (Python `requests`)
/// sees as a dropped connection instead of this answer's successor.
async fn discard<B>(body: B, cap: usize)
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let _ = Limited::new(body, cap).collect().await;
}

fn json(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error(status: StatusCode, code: &'static str) -> Response<Full<Bytes>> {
    json(status, &serde_json::json!({ "error": code }))
}

// ===== impl Service =====

impl<B> tower_service::Service<Request<B>> for IntrospectionService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move { Ok(service.respond(request).await) })
    }
}

impl IntrospectionService {
    async fn respond<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if request.method() != Method::POST {
            let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        let address = self
            .inner
            .caller_address
            .and_then(|read| read(request.extensions()));
        let now = std::time::Instant::now();
        if let Some(wait) = self.inner.failures.exhausted(address, now) {
            tracing::info!(
                outcome = "rejected",
                reason = "too many failed client authentications",
                "introspection"
            );
            discard(request.into_body(), self.inner.max_body_len).await;
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "slow_down");
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            return response;
        }
        let Some(client) = self.authenticate(request.headers().get(header::AUTHORIZATION)) else {
            self.inner.failures.failed(address, now);
            tracing::info!(
                outcome = "rejected",
                reason = "caller not authenticated",
                "introspection"
            );
            discard(request.into_body(), self.inner.max_body_len).await;
            let mut response = error(StatusCode::UNAUTHORIZED, "invalid_client");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="introspection""#),
            );
            return response;
        };
        let client = client.to_owned();
        let body = match Limited::new(request.into_body(), self.inner.max_body_len)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                return error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request");
            }
            Err(_) => return error(StatusCode::BAD_REQUEST, "invalid_request"),
        };
        let Some(pairs) = form::decode_pairs(&body) else {
            return error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        let field = |name: &str| {
            let mut values = pairs.iter().filter(|(n, _)| n == name);
            match (values.next(), values.next()) {
                (Some((_, value)), None) => Ok(Some(value.as_str())),
                (None, _) => Ok(None),
                (Some(_), Some(_)) => Err(()),
            }
        };
        let (Ok(Some(token)), Ok(hint)) = (field("token"), field("token_type_hint")) else {
            return error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        match self.answer(token, hint) {
            Ok(answer) => {
                tracing::debug!(
                    client = %client,
                    active = answer["active"].as_bool().unwrap_or(false),
                    "introspection answered"
                );
                json(StatusCode::OK, &answer)
            }
            Err(()) => {
                let mut response =
                    error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let value = |raw: &str| {
            HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            ))
            .unwrap()
        };
        assert_eq!(
            basic_credentials(&value("my%3Aid:p%40ss+word")),
            Some(("my:id".into(), "p@ss word".into()))
        );
        assert_eq!(basic_credentials(&value("no-colon")), None);
        assert_eq!(
            basic_credentials(&HeaderValue::from_static("Bearer x")),
            None
        );
    }
}
