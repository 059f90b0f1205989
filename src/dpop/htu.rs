//! The `htu` of a DPoP proof against the request's URI (RFC 9449 §4.3 step 9).
//!
//! Both sides are put in the normal form of RFC 3986 §6.2.2–6.2.3 before they
//! are compared: scheme and host in lower case, the scheme's default port
//! dropped, percent-encoding normalised (unreserved characters decoded, hex
//! digits upper case), dot segments removed, an empty path made `/`; query
//! and fragment are dropped (RFC 9449 §4.2). Anything that is not an
//! absolute `http` or `https` URI without user information is refused.
//!
//! The request's side is built from a configured external origin
//! ([`HtuOrigin::external`]): the origin clients see, which a proxy in front
//! cannot make the server believe otherwise. Reading it from `Host` or
//! `X-Forwarded-*` is possible but must be asked for, because whoever can
//! set those headers chooses the URI the proof is checked against.

use std::fmt;

use http::{HeaderMap, Uri};

/// Why a URI could not be put in normal form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HtuError {
    /// Not an absolute `http`/`https` URI (`scheme://host/path`).
    NotAbsoluteHttp,
    /// It carries user information (`user@host`).
    UserInfo,
    /// The host is empty or not a valid host.
    BadHost,
    /// The port is not a number from 0 to 65535.
    BadPort,
    /// A `%` not followed by two hex digits.
    BadPercentEncoding,
    /// A byte that no URI may contain (space, control, non-ASCII…).
    BadCharacter,
    /// The origin to build request URIs from has a query or fragment.
    OriginWithQuery,
    /// The request's origin headers are missing or unusable (only when
    /// reading them was asked for).
    NoRequestOrigin,
}

impl fmt::Display for HtuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAbsoluteHttp => "not an absolute http(s) URI",
            Self::UserInfo => "the URI carries user information",
            Self::BadHost => "the URI's host is empty or invalid",
            Self::BadPort => "the URI's port is invalid",
            Self::BadPercentEncoding => "a % not followed by two hex digits",
            Self::BadCharacter => "a character no URI may contain",
            Self::OriginWithQuery => "the external origin has a query or fragment",
            Self::NoRequestOrigin => "the request names no usable origin",
        })
    }
}

impl std::error::Error for HtuError {}

/// `uri` in normal form, without query and fragment: the form in which a
/// proof's `htu` and the request's URI are compared.
///
/// ```
/// use tower_jwt_auth::dpop::normalize_htu;
/// assert_eq!(
///     normalize_htu("HTTPS://API.Example.com:443/a/./b/../%7euser?q=1#f")?,
///     "https://api.example.com/a/~user"
/// );
/// # Ok::<(), tower_jwt_auth::dpop::HtuError>(())
/// ```
pub fn normalize_htu(uri: &str) -> Result<String, HtuError> {
    if !uri.bytes().all(is_uri_byte) {
        return Err(HtuError::BadCharacter);
    }
    let uri = uri.split('#').next().unwrap_or_default();
    let uri = uri.split('?').next().unwrap_or_default();
    let (scheme, rest) = uri.split_once(':').ok_or(HtuError::NotAbsoluteHttp)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(HtuError::NotAbsoluteHttp),
    };
    let rest = rest.strip_prefix("//").ok_or(HtuError::NotAbsoluteHttp)?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    if authority.contains('@') {
        return Err(HtuError::UserInfo);
    }
    let (host, port) = split_host_port(authority)?;
    let host = percent_normalize(host)?.to_ascii_lowercase();
    if host.is_empty() || host.contains('%') {
        return Err(HtuError::BadHost);
    }
    let mut out = String::with_capacity(uri.len());
    out.push_str(&scheme);
    out.push_str("://");
    out.push_str(&host);
    if let Some(port) = port.filter(|&port| port != default_port) {
        out.push(':');
        out.push_str(&port.to_string());
    }
    let path = remove_dot_segments(&percent_normalize(path)?);
    if path.is_empty() {
        out.push('/');
    } else {
        out.push_str(&path);
    }
    Ok(out)
}

/// Host and port of an authority; an empty port (`host:`) is no port.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), HtuError> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or(HtuError::BadHost)?;
        let (host, tail) = authority.split_at(end + 1);
        match tail {
            "" => (host, None),
            _ => (host, Some(tail.strip_prefix(':').ok_or(HtuError::BadHost)?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.contains(['[', ']']) && !host.starts_with('[') {
        return Err(HtuError::BadHost);
    }
    let port = match port {
        None | Some("") => None,
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
            let digits = digits.trim_start_matches('0');
            Some(match digits {
                "" => 0,
                _ if digits.len() > 5 => return Err(HtuError::BadPort),
                _ => u16::try_from(digits.parse::<u32>().map_err(|_| HtuError::BadPort)?)
                    .map_err(|_| HtuError::BadPort)?,
            })
        }
        Some(_) => return Err(HtuError::BadPort),
    };
    Ok((host, port))
}

/// RFC 3986 §6.2.2.1–2: percent-encoded unreserved characters decoded, the
/// hex digits of every other triplet in upper case.
fn percent_normalize(input: &str) -> Result<String, HtuError> {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(char::from(bytes[i]));
            i += 1;
            continue;
        }
        let hex = |b: u8| char::from(b).to_digit(16);
        let (Some(high), Some(low)) = (
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) else {
            return Err(HtuError::BadPercentEncoding);
        };
        let byte = u8::try_from(high * 16 + low).unwrap_or_default();
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push_str(&format!("{byte:02X}"));
        }
        i += 3;
    }
    Ok(out)
}

/// RFC 3986 §5.2.4 `remove_dot_segments`.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut output: Vec<&str> = Vec::new();
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." { "/" } else { &input[3..] };
            output.pop();
        } else if input == "." || input == ".." {
            input = "";
        } else {
            // Move the first segment (with its leading `/`) to the output.
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push(&input[..end]);
            input = &input[end..];
        }
    }
    output.concat()
}

// ===== impl HtuOrigin =====

/// Where the scheme, host and port of the request's URI come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HtuOrigin(Origin);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Origin {
    /// Normalised `scheme://host[:port]` plus a path prefix without its
    /// trailing `/`.
    External(String),
    Host {
        scheme: &'static str,
    },
    Forwarded,
}

impl HtuOrigin {
    /// The external origin clients send requests to, as they see it
    /// (`https://api.example.com`), optionally with the path prefix a proxy
    /// strips before the request reaches this service
    /// (`https://example.com/api`). The request's path is appended to it.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::HtuOrigin;
    /// let origin = HtuOrigin::external("https://Example.com:443/api/")?;
    /// let uri = "/notes/1?page=2".parse().unwrap();
    /// assert_eq!(
    ///     origin.request_htu(&uri, &http::HeaderMap::new())?,
    ///     "https://example.com/api/notes/1"
    /// );
    /// # Ok::<(), tower_jwt_auth::dpop::HtuError>(())
    /// ```
    pub fn external(origin: &str) -> Result<Self, HtuError> {
        if origin.contains(['?', '#']) {
            return Err(HtuError::OriginWithQuery);
        }
        let normal = normalize_htu(origin)?;
        Ok(Self(Origin::External(
            normal.trim_end_matches('/').to_owned(),
        )))
    }

    /// Opt-in: the request's `Host` header (or, in HTTP/2, its
    /// `:authority`) with the given scheme. Only safe when every request
    /// reaches this service through a proxy that sets `Host` itself, or
    /// when the service is reachable under exactly one name.
    pub fn trust_host_header(https: bool) -> Self {
        Self(Origin::Host {
            scheme: if https { "https" } else { "http" },
        })
    }

    /// Opt-in: `X-Forwarded-Proto` and `X-Forwarded-Host` (each its first
    /// value), falling back to `Host` and `http`. Only safe behind a proxy
    /// that overwrites both headers on every request: a client who can set
    /// them chooses the URI its proofs are checked against.
    pub fn trust_forwarded_headers() -> Self {
        Self(Origin::Forwarded)
    }

    /// The normalised URI (without query) a proof for this request must
    /// name in its `htu`.
    pub fn request_htu(&self, uri: &Uri, headers: &HeaderMap) -> Result<String, HtuError> {
        let path = uri.path();
        let path = if path.starts_with('/') { path } else { "/" };
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(',').next())
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        let host = || {
            header("host")
                .or_else(|| uri.authority().map(http::uri::Authority::as_str))
                .ok_or(HtuError::NoRequestOrigin)
        };
        match &self.0 {
            Origin::External(origin) if is_normal_path(path) => {
                let mut htu = String::with_capacity(origin.len() + path.len());
                htu.push_str(origin);
                htu.push_str(path);
                Ok(htu)
            }
            Origin::External(origin) => normalize_htu(&format!("{origin}{path}")),
            Origin::Host { scheme } => normalize_htu(&format!("{scheme}://{}{path}", host()?)),
            Origin::Forwarded => {
                let scheme = match header("x-forwarded-proto") {
                    Some(scheme) if scheme.eq_ignore_ascii_case("https") => "https",
                    Some(scheme) if scheme.eq_ignore_ascii_case("http") => "http",
                    Some(_) => return Err(HtuError::NoRequestOrigin),
                    None => "http",
                };
                let host = match header("x-forwarded-host") {
                    Some(host) => host,
                    None => host()?,
                };
                normalize_htu(&format!("{scheme}://{host}{path}"))
            }
        }
    }
}

/// True when the proof's `htu` names the same URI as `expected` (already in
/// normal form, as [`HtuOrigin::request_htu`] returns it). A normal form is
/// its own normal form, so the same text needs no second pass.
pub fn htu_matches(proof_htu: &str, expected: &str) -> bool {
    proof_htu == expected || normalize_htu(proof_htu).is_ok_and(|normal| normal == expected)
}

/// A request path that [`normalize_htu`] would leave as it is: absolute, no
/// percent-encoding, nothing that could be a dot segment, and only bytes a
/// URI may hold. Appended to a normal origin, it needs no normalising.
fn is_normal_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.contains("/.")
        && path.bytes().all(|b| b != b'%' && is_uri_byte(b))
}

/// A byte a URI may hold: visible ASCII, except the characters RFC 3986
/// never allows unencoded.
fn is_uri_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && !b"\"<>\\^`{|}".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(uri: &str) -> String {
        normalize_htu(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
    }

    #[test]
    fn scheme_and_host_case_is_normalised_but_path_case_is_not() {
        assert_eq!(
            n("HTTPS://Api.EXAMPLE.com/Notes"),
            "https://api.example.com/Notes"
        );
        assert!(!htu_matches(
            "https://api.example.com/notes",
            &n("https://api.example.com/Notes")
        ));
    }

    #[test]
    fn default_ports_are_dropped_and_other_ports_kept() {
        assert_eq!(n("https://a.example:443/x"), "https://a.example/x");
        assert_eq!(n("http://a.example:80/x"), "http://a.example/x");
        assert_eq!(n("http://a.example:/x"), "http://a.example/x");
        assert_eq!(n("https://a.example:0443/x"), "https://a.example/x");
        assert_eq!(n("https://a.example:80/x"), "https://a.example:80/x");
        assert_eq!(n("http://a.example:443/x"), "http://a.example:443/x");
        assert_eq!(n("https://[::1]:443/x"), "https://[::1]/x");
        assert_eq!(n("https://[::1]:8443/x"), "https://[::1]:8443/x");
        assert!(!htu_matches(
            "https://a.example:8443/x",
            &n("https://a.example/x")
        ));
    }

    #[test]
    fn bad_ports_are_refused() {
        for uri in [
            "https://a:65536/",
            "https://a:-1/",
            "https://a:8o/",
            "https://a:1234567/",
        ] {
            assert_eq!(normalize_htu(uri), Err(HtuError::BadPort), "{uri}");
        }
    }

    #[test]
    fn percent_encoding_is_normalised() {
        // Unreserved characters decoded, others kept with upper-case hex.
        assert_eq!(
            n("https://a.example/%7euser/%41"),
            "https://a.example/~user/A"
        );
        assert_eq!(n("https://a.example/a%2fb"), "https://a.example/a%2Fb");
        assert_eq!(
            n("https://a.example/%e2%82%ac"),
            "https://a.example/%E2%82%AC"
        );
        // `%2F` is a reserved character: not the same path as `/`.
        assert!(!htu_matches(
            "https://a.example/a%2Fb",
            &n("https://a.example/a/b")
        ));
        assert!(htu_matches(
            "https://a.example/%61",
            &n("https://a.example/a")
        ));
        for uri in [
            "https://a.example/%",
            "https://a.example/%4",
            "https://a.example/%zz",
        ] {
            assert_eq!(
                normalize_htu(uri),
                Err(HtuError::BadPercentEncoding),
                "{uri}"
            );
        }
    }

    #[test]
    fn dot_segments_are_removed() {
        assert_eq!(
            n("https://a.example/a/b/c/./../../g"),
            "https://a.example/a/g"
        );
        assert_eq!(n("https://a.example/../x"), "https://a.example/x");
        assert_eq!(n("https://a.example/a/.."), "https://a.example/");
        assert_eq!(n("https://a.example/a/%2E%2E/b"), "https://a.example/b");
        assert_eq!(
            n("https://a.example/a/..b/.c"),
            "https://a.example/a/..b/.c"
        );
        assert!(htu_matches(
            "https://a.example/x/../admin",
            &n("https://a.example/admin")
        ));
        assert!(!htu_matches(
            "https://a.example/admin/../x",
            &n("https://a.example/admin")
        ));
    }

    #[test]
    fn empty_path_is_slash_and_query_and_fragment_are_dropped() {
        assert_eq!(n("https://a.example"), "https://a.example/");
        assert_eq!(n("https://a.example?x=1"), "https://a.example/");
        assert_eq!(n("https://a.example/p?x=1#frag"), "https://a.example/p");
        assert!(htu_matches(
            "https://a.example/p?other",
            &n("https://a.example/p")
        ));
    }

    #[test]
    fn non_http_relative_userinfo_and_bad_characters_are_refused() {
        assert_eq!(
            normalize_htu("ftp://a.example/"),
            Err(HtuError::NotAbsoluteHttp)
        );
        assert_eq!(normalize_htu("/relative"), Err(HtuError::NotAbsoluteHttp));
        assert_eq!(
            normalize_htu("https:a.example/"),
            Err(HtuError::NotAbsoluteHttp)
        );
        assert_eq!(
            normalize_htu("https://u:p@a.example/"),
            Err(HtuError::UserInfo)
        );
        assert_eq!(normalize_htu("https:///x"), Err(HtuError::BadHost));
        assert_eq!(
            normalize_htu("https://a.example/a b"),
            Err(HtuError::BadCharacter)
        );
        assert_eq!(
            normalize_htu("https://a.example/é"),
            Err(HtuError::BadCharacter)
        );
        assert_eq!(normalize_htu("https://a%2Fb/"), Err(HtuError::BadHost));
        assert!(!htu_matches(
            "https://evil.example/p",
            &n("https://a.example/p")
        ));
        assert!(!htu_matches("not a uri", &n("https://a.example/p")));
    }

    #[test]
    fn the_request_uri_comes_from_the_external_origin_not_from_host() {
        let origin = HtuOrigin::external("https://API.example.com:443").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", "evil.example".parse().unwrap());
        headers.insert("x-forwarded-host", "evil.example".parse().unwrap());
        let uri: Uri = "/notes/./1?x=y".parse().unwrap();
        assert_eq!(
            origin.request_htu(&uri, &headers).unwrap(),
            "https://api.example.com/notes/1"
        );
        // An absolute-form (or HTTP/2) request URI does not choose the origin either.
        let uri: Uri = "http://evil.example/notes".parse().unwrap();
        assert_eq!(
            origin.request_htu(&uri, &headers).unwrap(),
            "https://api.example.com/notes"
        );
        let prefixed = HtuOrigin::external("https://example.com/api/").unwrap();
        assert_eq!(
            prefixed
                .request_htu(&"/x".parse().unwrap(), &headers)
                .unwrap(),
            "https://example.com/api/x"
        );
        assert_eq!(
            HtuOrigin::external("https://example.com/?q"),
            Err(HtuError::OriginWithQuery)
        );
    }

    /// The request paths and `htu`s the shortcuts see, plain and tricky.
    const PATHS: &[&str] = &[
        "/",
        "/notes",
        "/notes/1",
        "//double",
        "/a./b",
        "/.well-known/x",
        "/a/./b",
        "/a/../b",
        "/..",
        "/%7euser",
        "/%2f",
        "/%2F",
        "/a%20b",
        "/~user",
        "/a:b@c",
        "/{x}",
        "/a|b",
        "/a\"b",
        "/a^b",
        "/a`b",
        "/a<b>",
    ];

    #[test]
    fn a_normal_form_is_its_own_normal_form() {
        for path in PATHS {
            for origin in ["https://a.example", "HTTP://A.example:80/pre%7efix/"] {
                let Ok(normal) = normalize_htu(&format!("{origin}{path}")) else {
                    continue;
                };
                assert_eq!(n(&normal), normal, "{origin}{path}");
                assert!(htu_matches(&normal, &normal));
            }
        }
    }

    #[test]
    fn the_plain_path_shortcut_answers_as_the_full_normalisation() {
        for origin in [
            "https://a.example",
            "https://a.example/api/",
            "http://a.example:8080/p.q",
        ] {
            let external = HtuOrigin::external(origin).unwrap();
            let base = normalize_htu(origin).unwrap();
            for path in PATHS {
                let Ok(uri) = path.parse::<Uri>() else {
                    continue;
                };
                let full = normalize_htu(&format!("{}{path}", base.trim_end_matches('/')));
                assert_eq!(
                    external.request_htu(&uri, &HeaderMap::new()),
                    full,
                    "{origin} + {path}"
                );
            }
        }
    }

    #[test]
    fn host_and_forwarded_headers_are_read_only_when_asked_for() {
        let uri: Uri = "/p".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", "Svc.Example:443".parse().unwrap());
        let host = HtuOrigin::trust_host_header(true);
        assert_eq!(
            host.request_htu(&uri, &headers).unwrap(),
            "https://svc.example/p"
        );
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        headers.insert("x-forwarded-host", "public.example, inner".parse().unwrap());
        let forwarded = HtuOrigin::trust_forwarded_headers();
        assert_eq!(
            forwarded.request_htu(&uri, &headers).unwrap(),
            "https://public.example/p"
        );
        assert_eq!(
            host.request_htu(&uri, &HeaderMap::new()),
            Err(HtuError::NoRequestOrigin)
        );
        headers.insert("x-forwarded-proto", "gopher".parse().unwrap());
        assert_eq!(
            forwarded.request_htu(&uri, &headers),
            Err(HtuError::NoRequestOrigin)
        );
    }
}
