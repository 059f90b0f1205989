//! The CSRF proof the auth layer demands when the credential is a cookie.
//!
//! A cookie is *ambient authority*: the browser attaches it to every request
//! for its site, whichever page made it. So when the token came from a cookie
//! and the method is unsafe (anything but `GET`, `HEAD`, `OPTIONS`), the
//! request must also prove it came from one of our own pages:
//!
//! 1. **Where the browser says it came from.** When the browser sends
//!    `Sec-Fetch-Site`, only `same-origin` (and `none`, a user's own
//!    navigation) pass, unless the `Origin` is one the application trusts.
//!    When it sends only `Origin`, that must be the request's own host or a
//!    trusted origin; `Origin: null` never passes.
//! 2. **A double-submit token bound to the session.** The session side sets
//!    a readable `csrf_token` cookie; the page echoes it in an `X-CSRF-Token`
//!    header, which no other origin can set on our requests (a form cannot,
//!    and a script's `fetch` with a custom header needs a CORS preflight we
//!    never grant). The header must equal the cookie, and the token must be
//!    one minted for the *session of the presented access token*: it is
//!    `random.HMAC(key, sid, random)`, so a token planted by a sibling
//!    subdomain, or taken from another session, does not match. Both
//!    comparisons are constant-time.
//!
//! A WebSocket upgrade (a `GET` with `Upgrade: websocket`, see
//! [`is_websocket_upgrade`]) is not a
//! safe method for this rule: it opens a channel that acts with the
//! credential. A browser's WebSocket cannot set the double-submit header, but
//! it always sends `Origin` (RFC 6455 §4.1), so a cookie upgrade must pass
//! step 1, the origin check, even without a [`CsrfProtection`] configured
//! (then only the request's own host passes).
//!
//! A failure is a 403 with an empty body ([`AuthErrorKind::CsrfRejected`]
//! through the layer's rejection builder); the handler is never called. A
//! bearer token in `Authorization` (or a custom header, or the query string)
//! is not ambient and needs no proof. A layer reading cookies without a
//! [`CsrfProtection`] refuses every unsafe cookie request.
//!
//! ```
//! use http::{Method, Request};
//! use tower_jwt_auth::csrf::{CsrfError, CsrfProtection};
//!
//! let csrf = CsrfProtection::new(b"another secret, of at least 32 bytes")?;
//! let token = csrf.mint("session-1")?;
//! let request = Request::post("https://app.example/notes")
//!     .header("cookie", format!("{}={token}", csrf.cookie()))
//!     .header("x-csrf-token", &token)
//!     .body(())?;
//! let (parts, ()) = request.into_parts();
//! assert_eq!(csrf.check(&parts.method, &parts.uri, &parts.headers, Some("session-1")), Ok(()));
//! // The same proof does not fit another session.
//! assert_eq!(
//!     csrf.check(&parts.method, &parts.uri, &parts.headers, Some("session-2")),
//!     Err(CsrfError::WrongSession)
//! );
//! // Safe methods need none.
//! assert_eq!(csrf.check(&Method::GET, &parts.uri, &Default::default(), None), Ok(()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`AuthErrorKind::CsrfRejected`]: crate::AuthErrorKind::CsrfRejected

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use http::header::{self, HeaderMap, HeaderName};
use http::{Method, Uri};

use crate::issue::{IssueError, random_id};
use crate::jws::B64;
use crate::keys::{Algorithm, KeyError, SigningKey};
use crate::source::{from_cookies, is_cookie_name};
use crate::websocket::is_websocket_upgrade;

/// The default name of the readable cookie holding the CSRF token. The
/// `__Host-` prefix makes browsers refuse it unless it is `Secure`, `Path=/`
/// and host-only (no sibling subdomain can plant one); a CSRF cookie written
/// with a `Domain` or without `Secure` needs another name.
pub const DEFAULT_CSRF_COOKIE: &str = "__Host-csrf_token";

/// The default request header the page echoes the token in.
pub const DEFAULT_CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

/// Domain separation for the HMAC: these tags are never JWT signatures.
const TAG_CONTEXT: &[u8] = b"tower-jwt-auth csrf v1\0";

/// Why an unsafe request with an ambient credential was refused (403).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrfError {
    /// The layer reads a cookie but was given no [`CsrfProtection`], so no
    /// unsafe cookie request can prove anything.
    NotConfigured,
    /// `Sec-Fetch-Site` or `Origin` says another origin made the request.
    CrossOrigin,
    /// The CSRF header or the CSRF cookie is missing (or present twice).
    MissingToken,
    /// The header does not equal the cookie.
    TokenMismatch,
    /// The token was not minted for this session (another session's, a
    /// planted one, or not a token at all).
    WrongSession,
    /// The credential carries no session id to bind a token to.
    NoSession,
}

impl fmt::Display for CsrfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotConfigured => {
                "cookie credential on an unsafe method, and no CSRF protection configured"
            }
            Self::CrossOrigin => "request made by another origin (Sec-Fetch-Site / Origin)",
            Self::MissingToken => "CSRF header or cookie missing",
            Self::TokenMismatch => "CSRF header does not match the CSRF cookie",
            Self::WrongSession => "CSRF token not minted for this session",
            Self::NoSession => "credential has no session to bind a CSRF token to",
        })
    }
}

impl std::error::Error for CsrfError {}

/// The CSRF policy: the key CSRF tokens are minted with, the cookie and
/// header they travel in, and the origins trusted besides the request's own.
///
/// Give the same value to [`JwtAuthLayer::csrf`](crate::JwtAuthLayer::csrf)
/// and to [`SessionCookies`](crate::cookies::SessionCookies), which mints the
/// cookie. Cheap to clone; `Debug` never shows the key.
#[derive(Clone)]
pub struct CsrfProtection {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    key: Arc<SigningKey>,
    cookie: String,
    header: HeaderName,
    trusted_origins: Vec<String>,
}

impl fmt::Debug for CsrfProtection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfProtection")
            .field("cookie", &self.inner.cookie)
            .field("header", &self.inner.header)
            .field("trusted_origins", &self.inner.trusted_origins)
            .finish_non_exhaustive()
    }
}

impl CsrfProtection {
    /// A policy minting tokens with `secret` (at least 32 bytes; every
    /// instance of the service needs the same one), cookie
    /// [`DEFAULT_CSRF_COOKIE`], header [`DEFAULT_CSRF_HEADER`], no trusted
    /// origins besides the request's own.
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        Ok(Self {
            inner: Arc::new(Inner {
                key: Arc::new(SigningKey::hmac(Algorithm::HS256, secret)?),
                cookie: DEFAULT_CSRF_COOKIE.to_owned(),
                header: DEFAULT_CSRF_HEADER,
                trusted_origins: Vec::new(),
            }),
        })
    }

    /// The name of the CSRF cookie.
    ///
    /// # Panics
    ///
    /// When `name` is not an RFC 6265 cookie name (an HTTP token).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        assert!(is_cookie_name(&name), "not a cookie name: {name:?}");
        Arc::make_mut(&mut self.inner).cookie = name;
        self
    }

    /// The request header the page echoes the token in.
    pub fn header_name(mut self, name: HeaderName) -> Self {
        Arc::make_mut(&mut self.inner).header = name;
        self
    }

    /// Also accept unsafe requests made by pages of `origin`
    /// (`scheme://host[:port]`, as browsers send it in `Origin`), for a front
    /// end served from another origin than the API. The token is still
    /// required.
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into().trim_end_matches('/').to_ascii_lowercase();
        Arc::make_mut(&mut self.inner).trusted_origins.push(origin);
        self
    }

    /// The CSRF cookie's name.
    pub fn cookie(&self) -> &str {
        &self.inner.cookie
    }

    /// The CSRF header's name.
    pub fn header(&self) -> &HeaderName {
        &self.inner.header
    }

    /// A fresh token for the session `session_id`: 128 random bits and their
    /// HMAC with the session id, `random.tag`, both base64url.
    pub fn mint(&self, session_id: &str) -> Result<String, IssueError> {
        let nonce = random_id()?;
        let tag = self.tag(session_id, nonce.as_bytes())?;
        Ok(format!("{nonce}.{tag}"))
    }

    fn tag(&self, session_id: &str, nonce: &[u8]) -> Result<String, IssueError> {
        let mut message =
            Vec::with_capacity(TAG_CONTEXT.len() + session_id.len() + 1 + nonce.len());
        message.extend_from_slice(TAG_CONTEXT);
        message.extend_from_slice(session_id.as_bytes());
        message.push(0);
        message.extend_from_slice(nonce);
        let tag = self.inner.key.sign(&message).ok_or(IssueError::Signing)?;
        Ok(B64.encode(tag))
    }

    /// True when `token` was minted by [`mint`](Self::mint) for `session_id`.
    fn is_minted_for(&self, token: &[u8], session_id: &str) -> bool {
        let Some(dot) = token.iter().position(|b| *b == b'.') else {
            return false;
        };
        let (nonce, given) = (&token[..dot], &token[dot + 1..]);
        match self.tag(session_id, nonce) {
            Ok(expected) => constant_time_eq(expected.as_bytes(), given),
            Err(_) => false,
        }
    }

    /// The whole decision for one request whose credential is ambient (a
    /// cookie) and belongs to the session `session_id`: the origin check
    /// alone for a WebSocket upgrade, `Ok` for other safe methods, else the
    /// origin check and the session-bound double-submit token. The layer calls this; a handler that authenticates a cookie
    /// itself (refresh, logout) calls it with the cookie's session.
    pub fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        session_id: Option<&str>,
    ) -> Result<(), CsrfError> {
        if is_websocket_upgrade(method, headers) {
            return self.check_origin(uri, headers);
        }
        if is_safe(method) {
            return Ok(());
        }
        self.check_origin(uri, headers)?;
        let single = |name: &HeaderName| {
            let mut values = headers.get_all(name).iter();
            match (values.next(), values.next()) {
                (Some(value), None) => Some(value.as_bytes()),
                _ => None,
            }
        };
        let header = single(&self.inner.header).ok_or(CsrfError::MissingToken)?;
        let cookie = from_cookies(headers, &self.inner.cookie)
            .ok()
            .flatten()
            .ok_or(CsrfError::MissingToken)?;
        if header.is_empty() {
            return Err(CsrfError::MissingToken);
        }
        if !constant_time_eq(header, cookie) {
            return Err(CsrfError::TokenMismatch);
        }
        let session_id = session_id.ok_or(CsrfError::NoSession)?;
        if !self.is_minted_for(header, session_id) {
            return Err(CsrfError::WrongSession);
        }
        Ok(())
    }

    /// Only the origin half of [`check`](Self::check), for an unsafe request
    /// that has no session yet (a login form: it stops a page elsewhere from
    /// logging the browser into the attacker's account). Requests from
    /// clients that send neither header (curl, servers) pass.
    pub fn check_origin(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), CsrfError> {
        origin_check(&self.inner.trusted_origins, uri, headers)
    }
}

/// The origin check against `trusted_origins` besides the request's own host.
fn origin_check(
    trusted_origins: &[String],
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), CsrfError> {
    let origin = headers.get(header::ORIGIN).map(|v| v.as_bytes());
    let trusted = origin.is_some_and(|o| {
        trusted_origins
            .iter()
            .any(|t| t.as_bytes().eq_ignore_ascii_case(o))
    });
    match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
        Some(b"same-origin" | b"none") => {}
        Some(_) if trusted => return Ok(()),
        Some(_) => return Err(CsrfError::CrossOrigin),
        None => {}
    }
    match origin {
        None => Ok(()),
        Some(_) if trusted => Ok(()),
        Some(origin) if is_own_origin(origin, uri, headers) => Ok(()),
        Some(_) => Err(CsrfError::CrossOrigin),
    }
}

/// `GET`, `HEAD`, `OPTIONS`: methods that must not change state (RFC 9110
/// §9.2.1), so need no proof. Every other method does, `TRACE` and unknown
/// extension methods included.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The layer's call for an ambient credential (see [`crate::auth`]).
pub(crate) fn check_ambient(
    csrf: Option<&CsrfProtection>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    session_id: Option<&str>,
) -> Result<(), CsrfError> {
    match csrf {
        Some(csrf) => csrf.check(method, uri, headers, session_id),
        // An upgrade is not safe: with no policy, only the request's own
        // origin may open a socket with a cookie.
        None if is_websocket_upgrade(method, headers) => origin_check(&[], uri, headers),
        None if is_safe(method) => Ok(()),
        None => Err(CsrfError::NotConfigured),
    }
}

/// True when `origin` (`scheme://host[:port]`) names the host the request was
/// sent to (the `Host` header, or the URI's authority under HTTP/2). The
/// scheme is not compared: behind a TLS-terminating proxy the server cannot
/// know it, and the host is what another site cannot share.
fn is_own_origin(origin: &[u8], uri: &Uri, headers: &HeaderMap) -> bool {
    let Some(sep) = origin.windows(3).position(|w| w == b"://") else {
        return false;
    };
    let origin_host = &origin[sep + 3..];
    let host = headers
        .get(header::HOST)
        .map(|h| h.as_bytes())
        .or_else(|| uri.authority().map(|a| a.as_str().as_bytes()));
    host.is_some_and(|host| !host.is_empty() && host.eq_ignore_ascii_case(origin_host))
}

/// Equal lengths and equal bytes, in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const SECRET: &[u8] = b"csrf unit-test secret, 32 bytes or more";

    fn csrf() -> CsrfProtection {
        CsrfProtection::new(SECRET).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn uri() -> Uri {
        Uri::from_static("/notes")
    }

    fn post(csrf: &CsrfProtection, pairs: &[(&str, &str)], sid: &str) -> Result<(), CsrfError> {
        csrf.check(&Method::POST, &uri(), &headers(pairs), Some(sid))
    }

    #[test]
    fn a_minted_token_in_header_and_cookie_passes() {
        let csrf = csrf();
        let token = csrf.mint("s1").unwrap();
        let cookie = format!("a=b; __Host-csrf_token={token}");
        let pairs = [("cookie", cookie.as_str()), ("x-csrf-token", &token)];
        assert_eq!(post(&csrf, &pairs, "s1"), Ok(()));
    }

    #[test]
    fn missing_header_or_cookie_is_refused() {
        let csrf = csrf();
        let token = csrf.mint("s1").unwrap();
        let cookie = format!("__Host-csrf_token={token}");
        assert_eq!(
            post(&csrf, &[("cookie", &cookie)], "s1"),
            Err(CsrfError::MissingToken)
        );
        assert_eq!(
            post(&csrf, &[("x-csrf-token", &token)], "s1"),
            Err(CsrfError::MissingToken)
        );
        assert_eq!(
            post(
                &csrf,
                &[("cookie", "__Host-csrf_token="), ("x-csrf-token", "")],
                "s1"
            ),
            Err(CsrfError::MissingToken)
        );
    }

    #[test]
    fn two_csrf_headers_are_refused() {
        let csrf = csrf();
        let token = csrf.mint("s1").unwrap();
        let cookie = format!("__Host-csrf_token={token}");
        let pairs = [
            ("cookie", cookie.as_str()),
            ("x-csrf-token", &token),
            ("x-csrf-token", &token),
        ];
        assert_eq!(post(&csrf, &pairs, "s1"), Err(CsrfError::MissingToken));
    }

    #[test]
    fn header_differing_from_cookie_is_refused() {
        let csrf = csrf();
        let token = csrf.mint("s1").unwrap();
        let other = csrf.mint("s1").unwrap();
        let cookie = format!("__Host-csrf_token={token}");
        assert_eq!(
            post(
                &csrf,
                &[("cookie", &cookie), ("x-csrf-token", &other)],
                "s1"
            ),
            Err(CsrfError::TokenMismatch)
        );
    }

    #[test]
    fn another_sessions_token_is_refused() {
        let csrf = csrf();
        let theirs = csrf.mint("s2").unwrap();
        let cookie = format!("__Host-csrf_token={theirs}");
        assert_eq!(
            post(
                &csrf,
                &[("cookie", &cookie), ("x-csrf-token", &theirs)],
                "s1"
            ),
            Err(CsrfError::WrongSession)
        );
    }

    #[test]
    fn a_planted_token_that_was_never_minted_is_refused() {
        let csrf = csrf();
        for planted in ["abc", "abc.def", ".", "x.", &csrf.mint("s1").unwrap()[..22]] {
            let cookie = format!("__Host-csrf_token={planted}");
            assert_eq!(
                post(
                    &csrf,
                    &[("cookie", &cookie), ("x-csrf-token", planted)],
                    "s1"
                ),
                Err(CsrfError::WrongSession),
                "{planted:?}"
            );
        }
    }

    #[test]
    fn a_token_minted_under_another_key_is_refused() {
        let ours = csrf();
        let theirs = CsrfProtection::new(b"some other secret of at least 32 bytes").unwrap();
        let token = theirs.mint("s1").unwrap();
        let cookie = format!("__Host-csrf_token={token}");
        assert_eq!(
            post(
                &ours,
                &[("cookie", &cookie), ("x-csrf-token", &token)],
                "s1"
            ),
            Err(CsrfError::WrongSession)
        );
    }

    #[test]
    fn a_credential_without_session_is_refused() {
        let csrf = csrf();
        let token = csrf.mint("s1").unwrap();
        let h = headers(&[
            ("cookie", &format!("__Host-csrf_token={token}")),
            ("x-csrf-token", &token),
        ]);
        assert_eq!(
            csrf.check(&Method::POST, &uri(), &h, None),
            Err(CsrfError::NoSession)
        );
    }

    #[test]
    fn safe_methods_need_no_token() {
        let csrf = csrf();
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert_eq!(csrf.check(&method, &uri(), &HeaderMap::new(), None), Ok(()));
            assert_eq!(
                check_ambient(None, &method, &uri(), &HeaderMap::new(), None),
                Ok(())
            );
        }
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert_eq!(
                csrf.check(&method, &uri(), &HeaderMap::new(), Some("s1")),
                Err(CsrfError::MissingToken),
                "{method}"
            );
        }
    }

    #[test]
    fn a_websocket_upgrade_is_not_safe_its_origin_is_checked() {
        let csrf = csrf();
        let upgrade = |origin: &str| {
            headers(&[
                ("host", "app.example"),
                ("upgrade", "websocket"),
                ("origin", origin),
            ])
        };
        for policy in [Some(&csrf), None] {
            assert_eq!(
                check_ambient(
                    policy,
                    &Method::GET,
                    &uri(),
                    &upgrade("https://evil.example"),
                    Some("s1")
                ),
                Err(CsrfError::CrossOrigin)
            );
            // The own origin passes without the double-submit header, which
            // a browser's WebSocket cannot send.
            assert_eq!(
                check_ambient(
                    policy,
                    &Method::GET,
                    &uri(),
                    &upgrade("https://app.example"),
                    Some("s1")
                ),
                Ok(())
            );
        }
        // The same foreign Origin on a plain GET is a safe method: no check.
        let plain = headers(&[("host", "app.example"), ("origin", "https://evil.example")]);
        assert_eq!(csrf.check(&Method::GET, &uri(), &plain, None), Ok(()));
        // A trusted origin may open one.
        let csrf = csrf.trusted_origin("https://front.example");
        assert_eq!(
            csrf.check(
                &Method::GET,
                &uri(),
                &upgrade("https://front.example"),
                None
            ),
            Ok(())
        );
    }

    #[test]
    fn no_protection_configured_refuses_unsafe_methods() {
        assert_eq!(
            check_ambient(None, &Method::POST, &uri(), &HeaderMap::new(), Some("s1")),
            Err(CsrfError::NotConfigured)
        );
    }

    #[test]
    fn cross_site_fetch_metadata_is_refused_even_with_a_good_token() {
        let csrf = csrf();
        let token = csrf.mint("s1").unwrap();
        let cookie = format!("__Host-csrf_token={token}");
        for site in ["cross-site", "same-site"] {
            let pairs = [
                ("cookie", cookie.as_str()),
                ("x-csrf-token", &token),
                ("sec-fetch-site", site),
            ];
            assert_eq!(
                post(&csrf, &pairs, "s1"),
                Err(CsrfError::CrossOrigin),
                "{site}"
            );
        }
        for site in ["same-origin", "none"] {
            let pairs = [
                ("cookie", cookie.as_str()),
                ("x-csrf-token", &token),
                ("sec-fetch-site", site),
            ];
            assert_eq!(post(&csrf, &pairs, "s1"), Ok(()), "{site}");
        }
    }

    #[test]
    fn origin_must_be_the_request_host() {
        let csrf = csrf();
        let h = |origin: &str| headers(&[("host", "app.example:8443"), ("origin", origin)]);
        assert_eq!(
            csrf.check_origin(&uri(), &h("https://app.example:8443")),
            Ok(())
        );
        for origin in [
            "https://app.example:9000",
            "https://evil.example",
            "https://sub.app.example:8443",
            "null",
            "app.example:8443",
        ] {
            assert_eq!(
                csrf.check_origin(&uri(), &h(origin)),
                Err(CsrfError::CrossOrigin),
                "{origin}"
            );
        }
        // No Host header: the URI's authority (HTTP/2).
        let absolute = Uri::from_static("https://app.example/notes");
        let only_origin = headers(&[("origin", "https://app.example")]);
        assert_eq!(csrf.check_origin(&absolute, &only_origin), Ok(()));
        // Neither header: a non-browser client.
        assert_eq!(csrf.check_origin(&uri(), &HeaderMap::new()), Ok(()));
    }

    #[test]
    fn a_trusted_origin_passes_the_origin_check_only() {
        let csrf = csrf().trusted_origin("https://front.example/");
        let h = headers(&[
            ("host", "api.example"),
            ("origin", "https://front.example"),
            ("sec-fetch-site", "same-site"),
        ]);
        assert_eq!(csrf.check_origin(&uri(), &h), Ok(()));
        assert_eq!(
            csrf.check(&Method::POST, &uri(), &h, Some("s1")),
            Err(CsrfError::MissingToken)
        );
    }

    #[test]
    fn names_are_configurable() {
        let csrf = csrf()
            .cookie_name("__Host-xsrf")
            .header_name(HeaderName::from_static("x-xsrf"));
        let token = csrf.mint("s1").unwrap();
        let cookie = format!("__Host-xsrf={token}");
        assert_eq!(
            post(&csrf, &[("cookie", &cookie), ("x-xsrf", &token)], "s1"),
            Ok(())
        );
        let default_names = format!("__Host-csrf_token={token}");
        assert_eq!(
            post(
                &csrf,
                &[("cookie", &default_names), ("x-csrf-token", &token)],
                "s1"
            ),
            Err(CsrfError::MissingToken)
        );
    }

    #[test]
    fn short_secret_is_refused_and_debug_hides_the_key() {
        assert!(CsrfProtection::new(b"short").is_err());
        let debug = format!("{:?}", csrf());
        assert!(debug.contains("csrf_token"));
        assert!(!debug.contains("secret"));
    }

    #[test]
    fn constant_time_eq_compares_bytes_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
