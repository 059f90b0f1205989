//! Why a request was refused, and how that becomes a response.
//!
//! The client only ever learns the RFC 6750 category (`invalid_token`,
//! `insufficient_scope`, or none when no credentials were sent); the precise
//! [`AuthErrorKind`] goes to `tracing` and into the rejection response's
//! extensions, where application code (not the client) can read it.

use std::fmt;
use std::sync::Arc;

use http::{HeaderValue, Response, StatusCode, header};

mod dpop;

pub(crate) use dpop::{DpopChallenge, EXPOSE as DPOP_EXPOSE_HEADERS};

/// Why authentication or authorization failed.
///
/// Opaque on purpose: match on [`AuthError::kind`], which is `#[non_exhaustive]`,
/// so new reasons can be added without breaking callers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
}

/// The precise reason behind an [`AuthError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No token was presented at all.
    MissingCredentials,
    /// A credential was presented but not in the expected `<scheme> <token>` form,
    /// or more than one was presented.
    MalformedCredentials,
    /// The raw token is longer than the configured cap; nothing was decoded.
    TokenTooLarge,
    /// Not a compact JWS: wrong segment count, bad base64url, or bad JSON.
    MalformedToken,
    /// The header's `alg` is not the algorithm of the key that would verify it.
    AlgorithmMismatch,
    /// The header names a `kid` this key set does not hold.
    UnknownKey,
    /// The header carries something this crate refuses: a `crit` extension, a
    /// foreign `typ`.
    UnsupportedHeader,
    /// The signature does not verify.
    InvalidSignature,
    /// A required claim (`exp`, `sub`, `jti`, the token type) is missing or has
    /// the wrong JSON type, or a claim appears twice.
    InvalidClaims,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` lies in the future (beyond the leeway).
    NotYetValid,
    /// `iss` is not the configured issuer.
    InvalidIssuer,
    /// `aud` does not contain the configured audience.
    InvalidAudience,
    /// An access token was presented where a refresh token was expected, or
    /// the reverse.
    WrongTokenType,
    /// The token, its subject, or its refresh family has been revoked.
    Revoked,
    /// A retired refresh token was presented again; its family is now revoked.
    RefreshTokenReused,
    /// The application refused to continue the session (for example, the
    /// account was disabled).
    SessionRefused,
    /// The claims are valid but lack a permission the route requires.
    InsufficientScope,
    /// The login behind the token is older than the route allows (RFC 9470
    /// step-up): 401 `insufficient_user_authentication` with `max_age`; only
    /// a new login satisfies it.
    InsufficientUserAuthentication,
    /// The revocation store could not answer and the policy is to fail closed.
    StoreUnavailable,
    /// The credential was a cookie and the unsafe request lacked a valid CSRF
    /// proof, or came from another origin (403, see [`crate::csrf`]).
    CsrfRejected,
    /// The issuer's keys could not be had yet (no key set fetched so far):
    /// the token may well be valid, so this is 503, not 401.
    KeysUnavailable,
    /// The DPoP proof failed a check of RFC 9449 §4.3, or was used before
    /// (401 `invalid_dpop_proof`; the log names the check).
    InvalidDpopProof,
    /// A server nonce is required and the proof lacks a valid one (401
    /// `use_dpop_nonce`, a fresh `DPoP-Nonce` in the response).
    UseDpopNonce,
    /// No `DPoP` header, or more than one, with the `DPoP` scheme (400
    /// `invalid_request`).
    InvalidDpopRequest,
    /// A sender constraint was not met: a DPoP-bound token presented as
    /// `Bearer`, a proof by another key than `cnf.jkt`, the `DPoP` scheme
    /// with a token bound to no key, a bearer token where DPoP is required,
    /// or a certificate-bound token without its certificate (401 `invalid_token`).
    SenderConstraintFailed,
    /// The DPoP replay store could not answer (503).
    ReplayStoreUnavailable,
    /// The issuer's introspection endpoint gave no usable answer (down,
    /// slow, junk, too large, too busy, an unverifiable signed answer): the
    /// token may well be valid, so this is 503, not 401.
    IntrospectionUnavailable,
}

impl AuthError {
    /// An error of the given kind.
    pub const fn new(kind: AuthErrorKind) -> Self {
        Self { kind }
    }

    /// The precise reason.
    pub const fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The HTTP status this error maps to: 401, 403 or 503.
    pub const fn status(&self) -> StatusCode {
        match self.kind {
            AuthErrorKind::InsufficientScope | AuthErrorKind::CsrfRejected => StatusCode::FORBIDDEN,
            AuthErrorKind::StoreUnavailable
            | AuthErrorKind::KeysUnavailable
            | AuthErrorKind::IntrospectionUnavailable
            | AuthErrorKind::ReplayStoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            AuthErrorKind::InvalidDpopRequest => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 `error` code the client may see, if any.
    ///
    /// A request without credentials gets no error code (RFC 6750 §3.1).
    pub const fn rfc6750_code(&self) -> Option<&'static str> {
        match self.kind {
            AuthErrorKind::MissingCredentials
            | AuthErrorKind::StoreUnavailable
            | AuthErrorKind::KeysUnavailable
            | AuthErrorKind::IntrospectionUnavailable
            | AuthErrorKind::ReplayStoreUnavailable
            | AuthErrorKind::CsrfRejected => None,
            AuthErrorKind::InvalidDpopProof => Some("invalid_dpop_proof"),
            AuthErrorKind::UseDpopNonce => Some("use_dpop_nonce"),
            AuthErrorKind::InvalidDpopRequest => Some("invalid_request"),
            AuthErrorKind::InsufficientScope => Some("insufficient_scope"),
            AuthErrorKind::InsufficientUserAuthentication => {
                Some("insufficient_user_authentication")
            }
            _ => Some("invalid_token"),
        }
    }

    /// The gRPC status code for this error: 16 UNAUTHENTICATED,
    /// 7 PERMISSION_DENIED or 14 UNAVAILABLE.
    pub const fn grpc_code(&self) -> u8 {
        match self.kind {
            AuthErrorKind::InsufficientScope | AuthErrorKind::CsrfRejected => 7,
            AuthErrorKind::StoreUnavailable
            | AuthErrorKind::KeysUnavailable
            | AuthErrorKind::IntrospectionUnavailable
            | AuthErrorKind::ReplayStoreUnavailable => 14,
            _ => 16,
        }
    }

    /// A short, safe description that names the category, never the detail.
    pub const fn public_message(&self) -> &'static str {
        match self.kind {
            AuthErrorKind::MissingCredentials => "authentication required",
            AuthErrorKind::InsufficientScope => "insufficient permissions",
            AuthErrorKind::InsufficientUserAuthentication => "a more recent login is required",
            AuthErrorKind::StoreUnavailable
            | AuthErrorKind::KeysUnavailable
            | AuthErrorKind::IntrospectionUnavailable
            | AuthErrorKind::ReplayStoreUnavailable => "authentication temporarily unavailable",
            AuthErrorKind::CsrfRejected => "cross-site request refused",
            AuthErrorKind::MalformedCredentials => "malformed credentials",
            AuthErrorKind::InvalidDpopProof => "invalid DPoP proof",
            AuthErrorKind::UseDpopNonce => "DPoP nonce required",
            AuthErrorKind::InvalidDpopRequest => "invalid request",
            _ => "invalid token",
        }
    }
}

impl From<AuthErrorKind> for AuthError {
    fn from(kind: AuthErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self.kind {
            AuthErrorKind::MissingCredentials => "no credentials presented",
            AuthErrorKind::MalformedCredentials => "credentials not in `<scheme> <token>` form",
            AuthErrorKind::TokenTooLarge => "token exceeds the size cap",
            AuthErrorKind::MalformedToken => "token is not a well-formed compact JWS",
            AuthErrorKind::AlgorithmMismatch => "header alg does not match the key",
            AuthErrorKind::UnknownKey => "header kid names no known key",
            AuthErrorKind::UnsupportedHeader => "header carries an unsupported crit or typ",
            AuthErrorKind::InvalidSignature => "signature does not verify",
            AuthErrorKind::InvalidClaims => "required claims missing, mistyped or duplicated",
            AuthErrorKind::Expired => "token expired",
            AuthErrorKind::NotYetValid => "token not yet valid",
            AuthErrorKind::InvalidIssuer => "issuer not accepted",
            AuthErrorKind::InvalidAudience => "audience not accepted",
            AuthErrorKind::WrongTokenType => "wrong token type",
            AuthErrorKind::Revoked => "token revoked",
            AuthErrorKind::RefreshTokenReused => "refresh token reused; family revoked",
            AuthErrorKind::SessionRefused => "session refused by the application",
            AuthErrorKind::InsufficientScope => "insufficient scope",
            AuthErrorKind::InsufficientUserAuthentication => "login older than the route's max_age",
            AuthErrorKind::StoreUnavailable => "revocation store unavailable",
            AuthErrorKind::KeysUnavailable => "the issuer's keys are not available yet",
            AuthErrorKind::CsrfRejected => "CSRF proof missing or wrong",
            AuthErrorKind::InvalidDpopProof => "DPoP proof invalid or replayed",
            AuthErrorKind::UseDpopNonce => "DPoP proof lacks a valid server nonce",
            AuthErrorKind::InvalidDpopRequest => "no single DPoP header with the DPoP scheme",
            AuthErrorKind::SenderConstraintFailed => "token's key or certificate binding not met",
            AuthErrorKind::ReplayStoreUnavailable => "DPoP replay store unavailable",
            AuthErrorKind::IntrospectionUnavailable => "introspection endpoint unavailable",
        };
        f.write_str(reason)
    }
}

impl std::error::Error for AuthError {}

/// A refusal about to become a response: the error plus what the response
/// needs to describe it. Custom rejection builders receive one.
#[derive(Clone, Debug)]
pub struct Rejection {
    error: AuthError,
    grpc: bool,
    realm: Option<Arc<str>>,
    required_scope: Option<Arc<str>>,
    resource_metadata: Option<Arc<str>>,
    max_age: Option<u64>,
    dpop: Option<Box<DpopChallenge>>,
}

impl Rejection {
    pub(crate) fn new(error: AuthError, grpc: bool, realm: Option<Arc<str>>) -> Self {
        Self {
            error,
            grpc,
            realm,
            required_scope: None,
            max_age: None,
            resource_metadata: None,
            dpop: None,
        }
    }

    pub(crate) fn with_dpop(mut self, dpop: Option<DpopChallenge>) -> Self {
        self.dpop = dpop.map(Box::new);
        self
    }

    /// The fresh server nonce (`DPoP-Nonce`) this refusal hands the client,
    /// if any.
    pub fn dpop_nonce(&self) -> Option<&HeaderValue> {
        self.dpop.as_ref().and_then(|dpop| dpop.nonce.as_ref())
    }

    /// The algorithms a DPoP proof may use (`ES256 EdDSA …`), when the
    /// layer takes DPoP-bound tokens.
    pub fn dpop_algs(&self) -> Option<&str> {
        self.dpop.as_deref().map(|dpop| &*dpop.algs)
    }

    pub(crate) fn with_resource_metadata(mut self, url: Option<Arc<str>>) -> Self {
        self.resource_metadata = url;
        self
    }

    /// The URL of the resource's RFC 9728 metadata, when the layer names it
    /// in its challenges.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.resource_metadata.as_deref()
    }

    pub(crate) fn with_max_age(mut self, max_age_secs: u64) -> Self {
        self.max_age = Some(max_age_secs);
        self
    }

    /// The largest age (seconds) of a login the route accepts, when a
    /// step-up check refused the request (RFC 9470 `max_age`).
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    pub(crate) fn with_required_scope(mut self, scope: Option<Arc<str>>) -> Self {
        self.required_scope = scope;
        self
    }

    /// The error.
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// True when the request was gRPC (`content-type: application/grpc…`).
    pub fn is_grpc(&self) -> bool {
        self.grpc
    }

    /// The configured realm, if any.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The scope a guard required, if the refusal came from a scope check.
    pub fn required_scope(&self) -> Option<&str> {
        self.required_scope.as_deref()
    }

    /// The default response: RFC 6750 for HTTP, trailers-only for gRPC. The
    /// [`AuthError`] is in its extensions.
    pub fn default_response<B: Default>(&self) -> Response<B> {
        if self.grpc {
            grpc_response(&self.error)
        } else {
            let mut response = rfc6750_response(
                &self.error,
                self.realm.as_deref(),
                self.required_scope.as_deref(),
                B::default(),
            );
            if let Some(max_age) = self.max_age
                && let Some(value) = challenge_value(&self.error, self.realm.as_deref(), None)
                && let Ok(value) = HeaderValue::from_str(&format!(
                    "{}, max_age={max_age}",
                    value.to_str().unwrap_or("Bearer")
                ))
            {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            if let Some(dpop) = &self.dpop {
                dpop::apply(&mut response, dpop, &self.error, self.realm.as_deref());
            }
            with_resource_metadata(response, self.resource_metadata.as_deref())
        }
    }
}

/// Adds RFC 9728's `resource_metadata="<url>"` to a 401 challenge, so a
/// client finds the authorization servers this resource trusts.
fn with_resource_metadata<B>(mut response: Response<B>, url: Option<&str>) -> Response<B> {
    let Some(url) = url else {
        return response;
    };
    if response.status() != http::StatusCode::UNAUTHORIZED {
        return response;
    }
    // Every challenge names it (a DPoP-aware layer sends two).
    let challenges: Vec<HeaderValue> = response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|challenge| {
            let Ok(text) = challenge.to_str() else {
                return challenge.clone();
            };
            let separator = if text.contains(' ') { ", " } else { " " };
            let value = format!("{text}{separator}resource_metadata=\"{}\"", quote_safe(url));
            HeaderValue::from_str(&value).unwrap_or_else(|_| challenge.clone())
        })
        .collect();
    let headers = response.headers_mut();
    headers.remove(header::WWW_AUTHENTICATE);
    for challenge in challenges {
        headers.append(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// Turns a [`Rejection`] into a response of body type `B`.
///
/// Implemented by [`DefaultRejection`] and by every
/// `Fn(&Rejection) -> Response<B>` closure, so a custom body (for example
/// `application/problem+json`) is one closure away. The layers attach the
/// [`AuthError`] to the response's extensions after the builder ran, so an
/// implementation need not.
pub trait OnRejection<B>: Clone + Send + Sync + 'static {
    /// The response for `rejection`.
    fn on_rejection(&self, rejection: &Rejection) -> Response<B>;
}

/// The RFC 6750 (HTTP) and trailers-only (gRPC) responses, with empty bodies.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultRejection;

impl<B: Default> OnRejection<B> for DefaultRejection {
    fn on_rejection(&self, rejection: &Rejection) -> Response<B> {
        rejection.default_response()
    }
}

impl<B, F> OnRejection<B> for F
where
    F: Fn(&Rejection) -> Response<B> + Clone + Send + Sync + 'static,
{
    fn on_rejection(&self, rejection: &Rejection) -> Response<B> {
        let mut response = self(rejection);
        response.extensions_mut().insert(rejection.error.clone());
        response
    }
}

/// Builds the response for `rejection` with `builder`, and attaches the
/// [`AuthError`] to its extensions whatever the builder did, so layers above
/// can always read it.
pub(crate) fn respond<B, R: OnRejection<B>>(builder: &R, rejection: &Rejection) -> Response<B> {
    let mut response = builder.on_rejection(rejection);
    response.extensions_mut().insert(rejection.error.clone());
    response
}

/// True for `content-type: application/grpc` and its `+proto`/`+json` forms.
pub(crate) fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"))
}

/// A trailers-only gRPC response: HTTP 200 whose headers carry `grpc-status`
/// and a short `grpc-message`.
pub(crate) fn grpc_response<B: Default>(error: &AuthError) -> Response<B> {
    let mut response = Response::new(B::default());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(
        "grpc-status",
        HeaderValue::from(u16::from(error.grpc_code())),
    );
    // The public messages are plain ASCII without `%`, so need no percent-encoding.
    headers.insert(
        "grpc-message",
        HeaderValue::from_static(error.public_message()),
    );
    response.extensions_mut().insert(error.clone());
    response
}

/// Seconds a client is told to wait after a 503.
pub(crate) const RETRY_AFTER_SECS: &str = "1";

/// Builds the default RFC 6750 response for `error`, with `body` as its body.
///
/// The [`AuthError`] is attached to the response's extensions.
pub(crate) fn rfc6750_response<B>(
    error: &AuthError,
    realm: Option<&str>,
    required_scope: Option<&str>,
    body: B,
) -> Response<B> {
    let mut response = Response::new(body);
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    if matches!(
        error.kind(),
        AuthErrorKind::StoreUnavailable
            | AuthErrorKind::KeysUnavailable
            | AuthErrorKind::IntrospectionUnavailable
            | AuthErrorKind::ReplayStoreUnavailable
    ) {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    } else if error.kind() == AuthErrorKind::CsrfRejected {
        // Not a token problem: no challenge, the token itself was fine.
    } else if let Some(value) = challenge_value(error, realm, required_scope) {
        headers.insert(header::WWW_AUTHENTICATE, value);
    }
    response.extensions_mut().insert(error.clone());
    response
}

/// `Bearer realm="…", error="…", scope="…"`, quoting per RFC 6750 §3.
pub(crate) fn challenge_value(
    error: &AuthError,
    realm: Option<&str>,
    required_scope: Option<&str>,
) -> Option<HeaderValue> {
    let mut params: Vec<String> = Vec::with_capacity(3);
    if let Some(realm) = realm {
        params.push(format!("realm=\"{}\"", quote_safe(realm)));
    }
    if let Some(code) = error.rfc6750_code() {
        params.push(format!("error=\"{code}\""));
    }
    if let Some(scope) = required_scope {
        params.push(format!("scope=\"{}\"", quote_safe(scope)));
    }
    let value = if params.is_empty() {
        "Bearer".to_owned()
    } else {
        format!("Bearer {}", params.join(", "))
    };
    HeaderValue::from_str(&value).ok()
}

/// Drops characters that cannot appear in an RFC 7230 quoted-string we build.
fn quote_safe(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && (' '..='~').contains(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credentials_challenge_has_no_error_code() {
        let error = AuthError::new(AuthErrorKind::MissingCredentials);
        let value = challenge_value(&error, Some("api"), None).unwrap();
        assert_eq!(value, "Bearer realm=\"api\"");
        let bare = challenge_value(&error, None, None).unwrap();
        assert_eq!(bare, "Bearer");
    }

    #[test]
    fn invalid_token_challenge_names_invalid_token_only() {
        let error = AuthError::new(AuthErrorKind::Expired);
        let value = challenge_value(&error, None, None).unwrap();
        assert_eq!(value, "Bearer error=\"invalid_token\"");
    }

    #[test]
    fn insufficient_scope_is_403_with_scope() {
        let error = AuthError::new(AuthErrorKind::InsufficientScope);
        assert_eq!(error.status(), StatusCode::FORBIDDEN);
        let value = challenge_value(&error, None, Some("read write")).unwrap();
        assert_eq!(
            value,
            "Bearer error=\"insufficient_scope\", scope=\"read write\""
        );
    }

    #[test]
    fn store_unavailable_is_503_with_retry_after() {
        let error = AuthError::new(AuthErrorKind::StoreUnavailable);
        let response = rfc6750_response(&error, None, None, ());
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_AFTER_SECS);
        assert_eq!(response.extensions().get::<AuthError>(), Some(&error));
    }
}
