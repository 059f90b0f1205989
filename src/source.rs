//! Where a token is read from: the `Authorization` header (default), a
//! cookie, a custom header, the WebSocket protocol list, or (on `GET` only)
//! the query string, tried in the configured order.
//!
//! The first source that holds *anything* decides: a malformed credential
//! there is an error, never a fall-through to the next source. So "no token"
//! and "bad token" cannot be confused.
//!
//! A cookie is *ambient*: the browser attaches it to requests other sites
//! make. The layer knows which source a credential came from and demands a
//! CSRF proof for cookie credentials on unsafe methods (see [`crate::csrf`]).

use http::header::{self, HeaderMap, HeaderName};
use http::{Method, Uri};

use crate::rejection::AuthErrorKind;
use crate::websocket::protocol::{is_protocol_name, offered_token};

/// One place a token may be presented.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: <scheme> <token>`, the scheme compared
    /// case-insensitively (RFC 7235). Exactly one such header, exactly one
    /// space, no other whitespace; anything else is a malformed credential
    /// (401). A credential of another scheme is no bearer token (as if absent).
    Authorization {
        /// The scheme, `Bearer` by default.
        scheme: String,
    },
    /// A cookie with this name.
    Cookie(String),
    /// The whole value of this header is the token.
    Header(HeaderName),
    /// The query parameter with this name, read on `GET` requests only (a
    /// browser's WebSocket upgrade cannot carry an `Authorization` header).
    /// On any other method the query string is not looked at.
    ///
    /// URLs end up in access logs, proxy logs and browser history, so a token
    /// there must be short-lived: keep the access lifetime in minutes, and
    /// prefer a header or a cookie wherever the client can send one.
    Query(String),
    /// The protocol offered right after this marker in
    /// `Sec-WebSocket-Protocol`, read on `GET` and `CONNECT` (the methods
    /// of a WebSocket handshake): a browser cannot set `Authorization` on a
    /// WebSocket, but it offers the protocols a page names. A marker that is
    /// not offered means no credential here; a malformed list, the marker
    /// last, too many protocols or too many bytes are a malformed credential
    /// (see [`crate::websocket`], which also says what to answer: never the
    /// token). Not ambient: a page offers it on purpose.
    WebSocketProtocol {
        /// The marker protocol, [`DEFAULT_PROTOCOL_MARKER`] by default.
        ///
        /// [`DEFAULT_PROTOCOL_MARKER`]: crate::websocket::DEFAULT_PROTOCOL_MARKER
        marker: String,
    },
}

impl TokenSource {
    /// `Authorization: Bearer <token>`.
    pub fn bearer() -> Self {
        Self::Authorization {
            scheme: "Bearer".to_owned(),
        }
    }

    /// A cookie named `name`.
    pub fn cookie(name: impl Into<String>) -> Self {
        Self::Cookie(name.into())
    }

    /// The custom header `name`.
    pub fn header(name: HeaderName) -> Self {
        Self::Header(name)
    }

    /// The query parameter `name` (for example `access_token`), on `GET`
    /// requests only; see [`TokenSource::Query`] for why such tokens must be
    /// short-lived.
    pub fn query(name: impl Into<String>) -> Self {
        Self::Query(name.into())
    }

    /// The protocol offered after `marker` in `Sec-WebSocket-Protocol`
    /// (`bearer` is the usual marker: [`DEFAULT_PROTOCOL_MARKER`]); see
    /// [`TokenSource::WebSocketProtocol`].
    ///
    /// # Panics
    ///
    /// When `marker` is not a protocol name (a non-empty HTTP token).
    ///
    /// [`DEFAULT_PROTOCOL_MARKER`]: crate::websocket::DEFAULT_PROTOCOL_MARKER
    pub fn websocket_protocol(marker: impl Into<String>) -> Self {
        let marker = marker.into();
        assert!(
            is_protocol_name(&marker),
            "not a WebSocket protocol name: {marker:?}"
        );
        Self::WebSocketProtocol { marker }
    }

    /// `Ok(None)` when this source holds nothing; `Err` when it holds
    /// something that is not a single credential of its kind. The credential
    /// is not yet checked to be a well-formed token.
    fn extract<'h>(&self, request: Head<'h>) -> Result<Option<Credential<'h>>, AuthErrorKind> {
        let headers = request.headers;
        match self {
            Self::Authorization { scheme } => from_authorization(headers, scheme),
            Self::Cookie(name) => Ok(from_cookies(headers, name)?.map(Credential::ambient)),
            Self::Header(name) => from_header(headers, name),
            Self::Query(name) if request.method == Method::GET => from_query(request.uri, name),
            Self::Query(_) => Ok(None),
            Self::WebSocketProtocol { marker }
                if matches!(*request.method, Method::GET | Method::CONNECT) =>
            {
                Ok(offered_token(headers, marker)?.map(Credential::presented))
            }
            Self::WebSocketProtocol { .. } => Ok(None),
        }
    }
}

/// What a source may read: the request's method, URI and headers.
#[derive(Clone, Copy)]
pub(crate) struct Head<'h> {
    pub(crate) method: &'h Method,
    pub(crate) uri: &'h Uri,
    pub(crate) headers: &'h HeaderMap,
}

impl Default for TokenSource {
    fn default() -> Self {
        Self::bearer()
    }
}

/// The credential a source held: the bytes where a token should be, not yet
/// checked to be one. The auth layer first looks these exact bytes up in the
/// verified-token cache, where a hit proves them a token that passed every
/// check, and checks them with [`token`](Self::token) only on a miss.
/// No `Debug`: the bytes are a credential.
#[derive(Clone, Copy)]
pub(crate) struct Credential<'h> {
    bytes: &'h [u8],
    ambient: bool,
}

impl<'h> Credential<'h> {
    /// A credential the client chose to send (a header, the query string).
    const fn presented(bytes: &'h [u8]) -> Self {
        Self {
            bytes,
            ambient: false,
        }
    }

    /// A credential the browser attaches by itself (a cookie), so it proves
    /// nothing about which page made the request.
    const fn ambient(bytes: &'h [u8]) -> Self {
        Self {
            bytes,
            ambient: true,
        }
    }

    pub(crate) fn as_bytes(self) -> &'h [u8] {
        self.bytes
    }

    /// True for a cookie: an unsafe request needs a CSRF proof beside it.
    pub(crate) fn is_ambient(self) -> bool {
        self.ambient
    }

    /// The token, if the credential is one: non-empty visible ASCII without
    /// spaces (the verifier judges the rest); else a malformed credential.
    pub(crate) fn token(self) -> Result<&'h str, AuthErrorKind> {
        checked_token(self.bytes)
    }
}

/// Reads the credential of the first of `sources` that holds one.
pub(crate) fn extract_credential<'h>(
    sources: &[TokenSource],
    request: Head<'h>,
) -> Result<Option<Credential<'h>>, AuthErrorKind> {
    for source in sources {
        if let Some(credential) = source.extract(request)? {
            return Ok(Some(credential));
        }
    }
    Ok(None)
}

/// Reads a token from the first of `sources` that holds one, checked, as
/// for a `GET /` request with these headers.
#[cfg_attr(not(any(test, fuzzing)), allow(dead_code))]
pub(crate) fn extract_token<'h>(
    sources: &[TokenSource],
    headers: &'h HeaderMap,
) -> Result<Option<&'h str>, AuthErrorKind> {
    static ROOT: std::sync::LazyLock<Uri> = std::sync::LazyLock::new(|| Uri::from_static("/"));
    let request = Head {
        method: &Method::GET,
        uri: &ROOT,
        headers,
    };
    extract_credential(sources, request)?
        .map(Credential::token)
        .transpose()
}

/// The raw bytes of the one `name` header, if there is one; two or more
/// are a malformed credential.
fn single<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h [u8]>, AuthErrorKind> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthErrorKind::MalformedCredentials);
    }
    Ok(Some(value.as_bytes()))
}

/// What `HeaderValue::to_str` accepts: visible ASCII and tabs.
fn visible_ascii(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| {
        ok & ((0x20..0x7f).contains(&b) | (b == b'\t'))
    })
}

fn from_authorization<'h>(
    headers: &'h HeaderMap,
    scheme: &str,
) -> Result<Option<Credential<'h>>, AuthErrorKind> {
    let Some(value) = single(headers, &header::AUTHORIZATION)? else {
        return Ok(None);
    };
    // Exactly `<scheme> <token>`: one space, no other whitespace. A
    // credential of another scheme (`Basic …`) is not a bearer credential at
    // all: RFC 6750 §3.1 treats an unsupported method like a missing one
    // (401 without an error code; anonymous in optional mode), provided the
    // header is well-formed (visible ASCII).
    let malformed = AuthErrorKind::MalformedCredentials;
    let space = value.iter().position(|b| *b == b' ').ok_or(malformed)?;
    let (given_scheme, token) = (&value[..space], &value[space + 1..]);
    if given_scheme.is_empty() || !visible_ascii(given_scheme) {
        return Err(malformed);
    }
    if !given_scheme.eq_ignore_ascii_case(scheme.as_bytes()) {
        return if visible_ascii(token) {
            Ok(None)
        } else {
            Err(malformed)
        };
    }
    Ok(Some(Credential::presented(token)))
}

fn from_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<Credential<'h>>, AuthErrorKind> {
    Ok(single(headers, name)?.map(Credential::presented))
}

/// The one `name=value` pair of the query string; two are a malformed
/// credential. The value is taken as is: a JWT needs no percent-encoding,
/// and an encoded one fails verification.
fn from_query<'h>(uri: &'h Uri, name: &str) -> Result<Option<Credential<'h>>, AuthErrorKind> {
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    let mut found = None;
    for pair in query.as_bytes().split(|b| *b == b'&') {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        if key != name.as_bytes() {
            continue;
        }
        if found.is_some() {
            return Err(AuthErrorKind::MalformedCredentials);
        }
        found = Some(Credential::presented(value));
    }
    Ok(found)
}

/// An RFC 6265 cookie name: an HTTP token (visible ASCII but separators).
pub(crate) fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// The value of the one cookie `name` among the `Cookie` headers; two are a
/// malformed credential. Also read by [`crate::cookies`] and [`crate::csrf`].
pub(crate) fn from_cookies<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<Option<&'h [u8]>, AuthErrorKind> {
    // Bytes, not `to_str`: a non-ASCII byte in some other cookie must not
    // hide ours (which would read as "no token").
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        for pair in value.as_bytes().split(|b| *b == b';') {
            let pair = pair.trim_ascii();
            let Some(eq) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            if &pair[..eq] != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return Err(AuthErrorKind::MalformedCredentials);
            }
            found = Some(&pair[eq + 1..]);
        }
    }
    Ok(found)
}

/// A token is non-empty and made of visible ASCII without spaces; the
/// verifier judges the rest.
fn checked_token(token: &[u8]) -> Result<&str, AuthErrorKind> {
    if token.is_empty() || !all_graphic(token) {
        return Err(AuthErrorKind::MalformedCredentials);
    }
    std::str::from_utf8(token).map_err(|_| AuthErrorKind::MalformedCredentials)
}

/// Every byte is in `0x21..=0x7e`. A token is hundreds of bytes, read on
/// every request: one subtraction and one comparison per byte, with no early
/// exit, which the compiler turns into vector instructions (an early-exit
/// loop was the largest single cost of a cached request).
fn all_graphic(bytes: &[u8]) -> bool {
    let outside = bytes.iter().fold(0u8, |acc, &b| {
        acc | u8::from(b.wrapping_sub(0x21) > 0x7e - 0x21)
    });
    outside == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn checked<'h>(
        source: &TokenSource,
        headers: &'h HeaderMap,
    ) -> Result<Option<&'h str>, AuthErrorKind> {
        extract_token(std::slice::from_ref(source), headers)
    }

    fn from_request<'h>(
        source: &TokenSource,
        method: &'h Method,
        uri: &'h Uri,
        headers: &'h HeaderMap,
    ) -> Result<Option<(&'h str, bool)>, AuthErrorKind> {
        let head = Head {
            method,
            uri,
            headers,
        };
        match source.extract(head)? {
            Some(credential) => Ok(Some((credential.token()?, credential.is_ambient()))),
            None => Ok(None),
        }
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

    #[test]
    fn all_graphic_agrees_with_the_byte_by_byte_rule() {
        for len in [1, 15, 16, 17, 33, 300] {
            for bad in 0..=255u8 {
                for at in [0, len / 2, len - 1] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = bad;
                    assert_eq!(
                        all_graphic(&bytes),
                        bytes.iter().all(u8::is_ascii_graphic),
                        "byte {bad:#x} at {at} of {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let bearer = TokenSource::bearer();
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let h = headers(&[("authorization", &format!("{scheme} a.b.c"))]);
            assert_eq!(checked(&bearer, &h), Ok(Some("a.b.c")));
        }
    }

    #[test]
    fn other_scheme_means_no_bearer_token() {
        let h = headers(&[("authorization", "Basic YWxpY2U6cHc=")]);
        assert_eq!(checked(&TokenSource::bearer(), &h), Ok(None));
    }

    #[test]
    fn malformed_authorization_is_an_error() {
        for value in [
            "Bearer",
            "Bearer ",
            "Bearer  a.b.c",
            "Bearer a.b.c d",
            "Bearer a\tb",
            "Bearer\ta.b.c",
            "Bearer,a.b.c",
            "a.b.c",
            "",
            " Bearer a.b.c",
            "Bearer a.b.c ",
        ] {
            let h = headers(&[("authorization", value)]);
            assert_eq!(
                checked(&TokenSource::bearer(), &h),
                Err(AuthErrorKind::MalformedCredentials),
                "{value:?}"
            );
        }
    }

    #[test]
    fn two_authorization_headers_are_an_error() {
        let h = headers(&[
            ("authorization", "Bearer a.b.c"),
            ("authorization", "Bearer d.e.f"),
        ]);
        assert_eq!(
            checked(&TokenSource::bearer(), &h),
            Err(AuthErrorKind::MalformedCredentials)
        );
    }

    #[test]
    fn cookie_source_finds_its_cookie_among_others() {
        let h = headers(&[("cookie", "theme=dark; access_token=a.b.c; lang=en")]);
        assert_eq!(
            checked(&TokenSource::cookie("access_token"), &h),
            Ok(Some("a.b.c"))
        );
        assert_eq!(checked(&TokenSource::cookie("other"), &h), Ok(None));
    }

    #[test]
    fn non_ascii_bytes_in_another_cookie_do_not_hide_ours() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_bytes(b"name=caf\xc3\xa9; at=a.b.c").unwrap(),
        );
        assert_eq!(checked(&TokenSource::cookie("at"), &h), Ok(Some("a.b.c")));
    }

    #[test]
    fn duplicate_cookie_is_an_error() {
        let h = headers(&[("cookie", "at=a.b.c"), ("cookie", "at=d.e.f")]);
        assert_eq!(
            checked(&TokenSource::cookie("at"), &h),
            Err(AuthErrorKind::MalformedCredentials)
        );
    }

    #[test]
    fn first_source_holding_something_decides() {
        let sources = [TokenSource::bearer(), TokenSource::cookie("at")];
        let h = headers(&[("authorization", "Bearer"), ("cookie", "at=a.b.c")]);
        assert_eq!(
            extract_token(&sources, &h),
            Err(AuthErrorKind::MalformedCredentials)
        );
        let h = headers(&[("cookie", "at=a.b.c")]);
        assert_eq!(extract_token(&sources, &h), Ok(Some("a.b.c")));
    }

    #[test]
    fn query_source_reads_its_parameter_on_get() {
        let uri = Uri::from_static("/ws?room=1&access_token=a.b.c&x");
        let source = TokenSource::query("access_token");
        let h = HeaderMap::new();
        assert_eq!(
            from_request(&source, &Method::GET, &uri, &h),
            Ok(Some(("a.b.c", false)))
        );
        let none = Uri::from_static("/ws?room=1");
        assert_eq!(from_request(&source, &Method::GET, &none, &h), Ok(None));
        let bare = Uri::from_static("/ws");
        assert_eq!(from_request(&source, &Method::GET, &bare, &h), Ok(None));
    }

    #[test]
    fn query_source_is_not_read_on_other_methods() {
        let uri = Uri::from_static("/notes?access_token=a.b.c");
        let source = TokenSource::query("access_token");
        let h = HeaderMap::new();
        for method in [Method::POST, Method::HEAD, Method::PUT, Method::DELETE] {
            assert_eq!(
                from_request(&source, &method, &uri, &h),
                Ok(None),
                "{method}"
            );
        }
    }

    #[test]
    fn query_source_refuses_two_tokens_and_empty_ones() {
        let source = TokenSource::query("access_token");
        let h = HeaderMap::new();
        let two = Uri::from_static("/ws?access_token=a.b.c&access_token=d.e.f");
        assert_eq!(
            from_request(&source, &Method::GET, &two, &h),
            Err(AuthErrorKind::MalformedCredentials)
        );
        let empty = Uri::from_static("/ws?access_token=");
        assert_eq!(
            from_request(&source, &Method::GET, &empty, &h),
            Err(AuthErrorKind::MalformedCredentials)
        );
    }

    #[test]
    fn websocket_protocol_source_reads_the_token_after_its_marker() {
        let source = TokenSource::websocket_protocol("bearer");
        let uri = Uri::from_static("/ws");
        let h = headers(&[("sec-websocket-protocol", "chat, bearer, a.b.c")]);
        for method in [Method::GET, Method::CONNECT] {
            assert_eq!(
                from_request(&source, &method, &uri, &h),
                Ok(Some(("a.b.c", false)))
            );
        }
        assert_eq!(from_request(&source, &Method::POST, &uri, &h), Ok(None));
        let h = headers(&[("sec-websocket-protocol", "chat")]);
        assert_eq!(from_request(&source, &Method::GET, &uri, &h), Ok(None));
        let h = headers(&[("sec-websocket-protocol", "chat, bearer")]);
        assert_eq!(
            from_request(&source, &Method::GET, &uri, &h),
            Err(AuthErrorKind::MalformedCredentials)
        );
    }

    #[test]
    #[should_panic(expected = "not a WebSocket protocol name")]
    fn websocket_protocol_marker_must_be_a_protocol_name() {
        let _ = TokenSource::websocket_protocol("bear er");
    }

    #[test]
    fn only_cookie_credentials_are_ambient() {
        let h = headers(&[
            ("authorization", "Bearer a.b.c"),
            ("x-token", "a.b.c"),
            ("cookie", "at=a.b.c"),
        ]);
        let uri = Uri::from_static("/?t=a.b.c");
        let get = Method::GET;
        let ambient =
            |source: TokenSource| from_request(&source, &get, &uri, &h).unwrap().unwrap().1;
        assert!(!ambient(TokenSource::bearer()));
        assert!(!ambient(TokenSource::header(HeaderName::from_static(
            "x-token"
        ))));
        assert!(!ambient(TokenSource::query("t")));
        assert!(ambient(TokenSource::cookie("at")));
    }
}
