//! The `Sec-WebSocket-Protocol` convention for carrying a token through a
//! browser's WebSocket handshake: reading the offered list, finding the
//! token after its marker, and choosing the protocol to answer.
//!
//! A browser cannot set `Authorization` on `new WebSocket(url, protocols)`,
//! but it sends `protocols` as `Sec-WebSocket-Protocol`. The client offers a
//! marker (`bearer` by default) and the token right after it, plus any
//! protocol of the application's own:
//!
//! ```text
//! Sec-WebSocket-Protocol: bearer, eyJhbGciOi…, chat.v2
//! ```
//!
//! The server must answer with one of the offered protocols (RFC 6455
//! §4.2.2; a browser fails the connection otherwise), and must never answer
//! with the token: the answer is the application's protocol when one it
//! speaks was offered, else the marker ([`answer_protocol`]).

use http::Method;
use http::header::{self, HeaderMap, HeaderName};

use crate::rejection::AuthErrorKind;

/// The marker protocol offered just before the token, unless configured
/// otherwise ([`TokenSource::websocket_protocol`](crate::TokenSource::websocket_protocol)).
pub const DEFAULT_PROTOCOL_MARKER: &str = "bearer";

/// The most protocols a client may offer in one handshake. Browsers offer
/// a handful; more is a malformed credential (401), never a long scan.
pub const MAX_OFFERED_PROTOCOLS: usize = 16;

/// The most bytes all `Sec-WebSocket-Protocol` values may hold together: a
/// token of [`DEFAULT_MAX_TOKEN_LEN`](crate::DEFAULT_MAX_TOKEN_LEN) and the
/// application's protocols. More is a malformed credential (401).
pub const MAX_PROTOCOL_HEADER_LEN: usize = 16 * 1024;

const SEC_WEBSOCKET_PROTOCOL: HeaderName = header::SEC_WEBSOCKET_PROTOCOL;

/// The protocols offered, in the client's order, with their count (at most
/// [`MAX_OFFERED_PROTOCOLS`]); `Err` when the list is malformed: an empty
/// element, a byte that is not an HTTP token character (RFC 6455 §4.1: each
/// protocol is a token), too many elements, too many bytes, or a repeated
/// protocol (RFC 6455 requires them unique).
fn offered(headers: &HeaderMap) -> Result<Offered<'_>, AuthErrorKind> {
    let malformed = AuthErrorKind::MalformedCredentials;
    let mut list = Offered {
        items: [""; MAX_OFFERED_PROTOCOLS],
        len: 0,
    };
    let mut total = 0usize;
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        let bytes = value.as_bytes();
        total = total.saturating_add(bytes.len());
        if total > MAX_PROTOCOL_HEADER_LEN {
            return Err(malformed);
        }
        for item in bytes.split(|b| *b == b',') {
            let item = trim_ows(item);
            if item.is_empty() || !item.iter().all(|b| is_tchar(*b)) {
                return Err(malformed);
            }
            // Token characters are ASCII: always UTF-8.
            let item = std::str::from_utf8(item).map_err(|_| malformed)?;
            if list.len == MAX_OFFERED_PROTOCOLS || list.as_slice().contains(&item) {
                return Err(malformed);
            }
            list.items[list.len] = item;
            list.len += 1;
        }
    }
    Ok(list)
}

/// The offered protocols, without an allocation.
struct Offered<'h> {
    items: [&'h str; MAX_OFFERED_PROTOCOLS],
    len: usize,
}

impl<'h> Offered<'h> {
    fn as_slice(&self) -> &[&'h str] {
        &self.items[..self.len]
    }

    /// Where the marker is: `Ok(None)` when not offered; `Err` when it is
    /// the last protocol (no token follows it).
    fn marker_at(&self, marker: &str) -> Result<Option<usize>, AuthErrorKind> {
        match self.as_slice().iter().position(|p| *p == marker) {
            Some(at) if at + 1 < self.len => Ok(Some(at)),
            Some(_) => Err(AuthErrorKind::MalformedCredentials),
            None => Ok(None),
        }
    }
}

/// Optional whitespace around list elements (RFC 9110 §5.6.1).
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |end| end + 1);
    &bytes[start..end]
}

/// An HTTP token character (RFC 9110 §5.6.2): visible ASCII but delimiters.
/// A JWT's alphabet (base64url and `.`) is all token characters.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// [`is_tchar`] as a table: a token's hundreds of bytes are one load each.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// True for a protocol name: a non-empty HTTP token.
pub(crate) fn is_protocol_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_tchar)
}

/// The bytes offered right after `marker`: `Ok(None)` when the marker is
/// not offered (the request holds no credential of this kind); `Err` when
/// the list is malformed or the marker is the last protocol offered.
pub(crate) fn offered_token<'h>(
    headers: &'h HeaderMap,
    marker: &str,
) -> Result<Option<&'h [u8]>, AuthErrorKind> {
    if !headers.contains_key(SEC_WEBSOCKET_PROTOCOL) {
        return Ok(None);
    }
    let list = offered(headers)?;
    Ok(list
        .marker_at(marker)?
        .map(|at| list.as_slice()[at + 1].as_bytes()))
}

/// The protocol to answer a WebSocket handshake with, under the convention
/// that the client offers `marker` and its token right after it: the first
/// offered protocol the application `supports` (in the client's order),
/// else `marker` when it was offered, else none (answer without the header).
/// The protocol offered in the token's place is never the answer, even when
/// it is also named in `supports`, and neither is `marker` taken as an
/// application protocol. A malformed list gets no answer (the auth layer
/// refuses such a request before a handler runs).
///
/// With axum, give the answer to `WebSocketUpgrade::protocols`, which then
/// writes it into the response; with anything else, set the response's
/// `Sec-WebSocket-Protocol` header to it.
///
/// ```
/// use http::HeaderMap;
/// use tower_jwt_auth::websocket::{DEFAULT_PROTOCOL_MARKER, answer_protocol};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("sec-websocket-protocol", "bearer, eyJ0eXAi.eyJzdWIi.c2ln, chat.v2".parse()?);
/// // The application speaks chat.v2: that is the answer.
/// assert_eq!(answer_protocol(&headers, DEFAULT_PROTOCOL_MARKER, &["chat.v2"]), Some("chat.v2"));
/// // It speaks none of those offered: the marker, never the token.
/// assert_eq!(answer_protocol(&headers, DEFAULT_PROTOCOL_MARKER, &["chat.v3"]), Some("bearer"));
/// // A list without the marker (a cookie session): the application's protocol or nothing.
/// headers.insert("sec-websocket-protocol", "chat.v2".parse()?);
/// assert_eq!(answer_protocol(&headers, DEFAULT_PROTOCOL_MARKER, &[]), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn answer_protocol<'h>(
    headers: &'h HeaderMap,
    marker: &str,
    supports: &[&str],
) -> Option<&'h str> {
    let list = offered(headers).ok()?;
    let token_at = list.marker_at(marker).ok()?.map(|at| at + 1);
    let own = list
        .as_slice()
        .iter()
        .enumerate()
        .filter(|(i, p)| Some(*i) != token_at && **p != marker)
        .find(|(_, p)| supports.contains(p))
        .map(|(_, p)| *p);
    own.or_else(|| token_at.map(|at| list.as_slice()[at - 1]))
}

/// True when the request opens a WebSocket: a `GET` with `Upgrade:
/// websocket` (RFC 6455), or an extended `CONNECT` carrying
/// `Sec-WebSocket-Version` (RFC 8441, HTTP/2). Such a request is not *safe*
/// for the CSRF rule whatever its method: it opens a channel that acts with
/// the credential (see [`crate::csrf`]).
pub fn is_websocket_upgrade(method: &Method, headers: &HeaderMap) -> bool {
    if *method == Method::CONNECT {
        return headers.contains_key(header::SEC_WEBSOCKET_VERSION);
    }
    *method == Method::GET
        && headers.get_all(header::UPGRADE).iter().any(|value| {
            value
                .as_bytes()
                .split(|b| *b == b',')
                .any(|item| trim_ows(item).eq_ignore_ascii_case(b"websocket"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

    fn offering(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn token_of(values: &[&str]) -> Result<Option<&'static str>, AuthErrorKind> {
        let headers = offering(values);
        offered_token(&headers, DEFAULT_PROTOCOL_MARKER)
            .map(|t| t.map(|t| &*String::from_utf8(t.to_vec()).unwrap().leak()))
    }

    #[test]
    fn the_token_is_the_protocol_after_the_marker() {
        let list = format!("bearer, {TOKEN}");
        assert_eq!(token_of(&[&list]), Ok(Some(TOKEN)));
        let list = format!("chat.v2,bearer,\t{TOKEN} , x");
        assert_eq!(token_of(&[&list]), Ok(Some(TOKEN)));
        // Split over two header lines, as a proxy may.
        assert_eq!(token_of(&["chat.v2, bearer", TOKEN]), Ok(Some(TOKEN)));
    }

    #[test]
    fn no_header_or_no_marker_holds_no_credential() {
        assert_eq!(token_of(&[]), Ok(None));
        assert_eq!(token_of(&["chat.v2, graphql-ws"]), Ok(None));
        // The marker is compared exactly (protocol names are case-sensitive).
        assert_eq!(token_of(&[&format!("Bearer, {TOKEN}")]), Ok(None));
    }

    #[test]
    fn malformed_lists_are_malformed_credentials() {
        let bad = Err(AuthErrorKind::MalformedCredentials);
        for list in [
            "bearer".to_owned(),                   // no token after the marker
            format!("chat, {TOKEN}, bearer"),      // the marker last
            format!("bearer,, {TOKEN}"),           // an empty element
            format!("bearer, {TOKEN},"),           // a trailing comma
            format!(",bearer, {TOKEN}"),           // a leading comma
            format!("bearer, \"{TOKEN}\""),        // a quoted string is no token
            format!("bearer, {TOKEN} x"),          // a space inside an element
            "bearer, a/b".to_owned(),              // a delimiter
            format!("bearer, {TOKEN}, bearer, x"), // the marker twice
            format!("bearer, {TOKEN}, {TOKEN}"),   // a repeated protocol
            " ".to_owned(),                        // nothing but whitespace
        ] {
            assert_eq!(token_of(&[&list]), bad, "{list:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_bytes(b"bearer, caf\xc3\xa9").unwrap(),
        );
        assert_eq!(
            offered_token(&headers, "bearer"),
            Err(AuthErrorKind::MalformedCredentials)
        );
    }

    #[test]
    fn the_marker_offered_as_the_token_is_malformed() {
        // `bearer, bearer`: the marker repeated, never a token "bearer".
        assert_eq!(
            token_of(&["bearer, bearer"]),
            Err(AuthErrorKind::MalformedCredentials)
        );
    }

    #[test]
    fn a_token_looking_marker_is_only_a_marker() {
        // A marker configured to look like a JWT still marks the next item.
        let marker = "a.b.c";
        let headers = offering(&[&format!("a.b.c, {TOKEN}")]);
        assert_eq!(offered_token(&headers, marker), Ok(Some(TOKEN.as_bytes())));
        assert_eq!(answer_protocol(&headers, marker, &[TOKEN]), Some(marker));
        // A token-looking protocol before the marker is not read as the token.
        let headers = offering(&[&format!("x.y.z, bearer, {TOKEN}")]);
        assert_eq!(
            offered_token(&headers, "bearer"),
            Ok(Some(TOKEN.as_bytes()))
        );
    }

    #[test]
    fn too_many_protocols_or_bytes_are_refused() {
        let many: Vec<String> = (0..MAX_OFFERED_PROTOCOLS)
            .map(|i| format!("p{i}"))
            .collect();
        let at_cap = format!("bearer, {TOKEN}, {}", many[2..].join(", "));
        assert_eq!(token_of(&[&at_cap]), Ok(Some(TOKEN)));
        let over = format!("bearer, {TOKEN}, {}", many[1..].join(", "));
        assert_eq!(token_of(&[&over]), Err(AuthErrorKind::MalformedCredentials));

        let long = "a".repeat(MAX_PROTOCOL_HEADER_LEN - "bearer, ".len());
        assert_eq!(
            token_of(&[&format!("bearer, {long}")]).map(|t| t.map(str::len)),
            Ok(Some(long.len()))
        );
        let longer = format!("bearer, {long}a");
        assert_eq!(
            token_of(&[&longer]),
            Err(AuthErrorKind::MalformedCredentials)
        );
        // The cap counts every header line together.
        let half = "b".repeat(MAX_PROTOCOL_HEADER_LEN / 2);
        assert_eq!(
            token_of(&["bearer", &half, &format!("{half}c")]),
            Err(AuthErrorKind::MalformedCredentials)
        );
    }

    #[test]
    fn the_answer_is_the_applications_protocol_else_the_marker() {
        let headers = offering(&[&format!("chat.v1, bearer, {TOKEN}, chat.v2")]);
        assert_eq!(
            answer_protocol(&headers, "bearer", &["chat.v2", "chat.v1"]),
            Some("chat.v1")
        );
        assert_eq!(
            answer_protocol(&headers, "bearer", &["chat.v2"]),
            Some("chat.v2")
        );
        assert_eq!(
            answer_protocol(&headers, "bearer", &["chat.v9"]),
            Some("bearer")
        );
        assert_eq!(answer_protocol(&headers, "bearer", &[]), Some("bearer"));
    }

    #[test]
    fn the_answer_is_never_the_token() {
        let headers = offering(&[&format!("bearer, {TOKEN}")]);
        // Even an application that names the token among its protocols.
        assert_eq!(
            answer_protocol(&headers, "bearer", &[TOKEN]),
            Some("bearer")
        );
        // The marker is not an application protocol of its own.
        let headers = offering(&["bearer, chat.v1"]);
        assert_eq!(
            answer_protocol(&headers, "bearer", &["chat.v1"]),
            Some("bearer")
        );
    }

    #[test]
    fn without_the_marker_the_answer_is_the_applications_or_none() {
        let headers = offering(&["chat.v1, chat.v2"]);
        assert_eq!(
            answer_protocol(&headers, "bearer", &["chat.v2"]),
            Some("chat.v2")
        );
        assert_eq!(answer_protocol(&headers, "bearer", &["x"]), None);
        assert_eq!(answer_protocol(&HeaderMap::new(), "bearer", &["x"]), None);
        // A malformed list gets no answer at all.
        let headers = offering(&["bearer"]);
        assert_eq!(answer_protocol(&headers, "bearer", &[]), None);
        let headers = offering(&["chat.v1,,x"]);
        assert_eq!(answer_protocol(&headers, "bearer", &["chat.v1"]), None);
    }

    #[test]
    fn the_tchar_table_is_rfc_9110s_token_alphabet() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), expected, "{b:#x}");
        }
    }

    #[test]
    fn upgrades_are_recognised() {
        let mut headers = HeaderMap::new();
        assert!(!is_websocket_upgrade(&Method::GET, &headers));
        headers.insert(header::UPGRADE, HeaderValue::from_static("WebSocket"));
        assert!(is_websocket_upgrade(&Method::GET, &headers));
        assert!(!is_websocket_upgrade(&Method::POST, &headers));
        headers.insert(header::UPGRADE, HeaderValue::from_static("h2c, websocket"));
        assert!(is_websocket_upgrade(&Method::GET, &headers));
        headers.insert(header::UPGRADE, HeaderValue::from_static("h2c"));
        assert!(!is_websocket_upgrade(&Method::GET, &headers));
        let mut h2 = HeaderMap::new();
        assert!(!is_websocket_upgrade(&Method::CONNECT, &h2));
        h2.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        assert!(is_websocket_upgrade(&Method::CONNECT, &h2));
    }
}
