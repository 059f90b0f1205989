//! The request a proxy asks `forward_auth` about, rebuilt from what the
//! proxy forwards: its method and URI from `X-Forwarded-*` (Caddy, Traefik)
//! or `X-Original-*` (nginx), its credentials from the headers it carried.

use axum::body::Body;
use http::{HeaderMap, HeaderName, Method, Request, Uri, header};

/// The headers copied from the proxy's call into the rebuilt request: the
/// credentials and what the DPoP `htu` origin is read from. Nothing else
/// reaches the layer, so no other client header can sway the decision.
const COPIED: [HeaderName; 5] = [
    header::AUTHORIZATION,
    HeaderName::from_static("dpop"),
    header::HOST,
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-forwarded-host"),
];

/// The only value of `name`, `Ok(None)` when absent; several values (or one
/// that is not text) is an error: which one would the proxy have meant?
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, &'static str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => value
            .to_str()
            .map(|v| Some(v.trim()))
            .map_err(|_| "a forwarded header is not text"),
        (Some(_), Some(_)) => Err("a forwarded header appears twice"),
    }
}

/// The value the two header families agree on. A proxy sets its own family
/// and passes the client's others along: when both are present and differ,
/// one came from the client, so the request is refused rather than guessed.
fn agreed<'a>(
    headers: &'a HeaderMap,
    forwarded: &str,
    original: &str,
) -> Result<Option<&'a str>, &'static str> {
    match (single(headers, forwarded)?, single(headers, original)?) {
        (Some(a), Some(b)) if a != b => Err("X-Forwarded-* and X-Original-* disagree"),
        (a, b) => Ok(a.or(b)),
    }
}

/// The original request's method and URI (origin form: path and query).
#[derive(Clone, Debug)]
pub struct Original {
    /// `X-Forwarded-Method` / `X-Original-Method`, else the call's own.
    pub method: Method,
    /// `X-Forwarded-Uri` / `X-Original-URI` (required).
    pub uri: Uri,
}

impl Original {
    /// Reads the original request from the proxy's call; the error says why
    /// it cannot be (for the log, never the client).
    pub fn from_headers(headers: &HeaderMap, own: &Method) -> Result<Self, &'static str> {
        let method = match agreed(headers, "x-forwarded-method", "x-original-method")? {
            Some(method) => Method::from_bytes(method.as_bytes()).map_err(|_| "bad method")?,
            None => own.clone(),
        };
        let uri = agreed(headers, "x-forwarded-uri", "x-original-uri")?
            .ok_or("no X-Forwarded-Uri or X-Original-URI: the proxy must send one")?;
        if !uri.starts_with('/') {
            return Err("the forwarded URI is not a path");
        }
        let uri = Uri::try_from(uri).map_err(|_| "the forwarded URI does not parse")?;
        Ok(Self { method, uri })
    }

    /// The request the auth layer decides on: this method and URI with the
    /// call's credential and origin headers (every value, so duplicates are
    /// still seen and refused by the layer).
    pub fn rebuild(&self, headers: &HeaderMap) -> Request<Body> {
        let mut request = Request::new(Body::empty());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        for name in &COPIED {
            for value in headers.get_all(name) {
                request.headers_mut().append(name.clone(), value.clone());
            }
        }
        request
    }

    /// The path read three ways, for `REQUIRE_SCOPES`: as sent; in RFC 3986
    /// normal form (unreserved characters decoded, dot segments removed);
    /// and as the most lenient backends read it (everything decoded, `\` as
    /// `/`, `;params` dropped, `//` merged, dot segments removed). The rules
    /// of all three apply, so no spelling of a path reaches a backend
    /// under a prefix whose scopes were not checked.
    pub fn path_readings(&self) -> Result<Vec<String>, &'static str> {
        let raw = self.uri.path();
        let normal = tower_jwt_auth::dpop::normalize_htu(&format!("http://h{raw}"))
            .map_err(|_| "the forwarded path does not normalise")?;
        let normal = normal.strip_prefix("http://h").unwrap_or("/").to_owned();
        Ok(vec![raw.to_owned(), normal, lenient(raw)?])
    }
}

/// The path as the most forgiving server would read it.
fn lenient(path: &str) -> Result<String, &'static str> {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or("a bad %-escape")?;
            let hex = std::str::from_utf8(hex).map_err(|_| "a bad %-escape")?;
            decoded.push(u8::from_str_radix(hex, 16).map_err(|_| "a bad %-escape")?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8_lossy(&decoded);
    if decoded.chars().any(char::is_control) {
        return Err("a control character in the path");
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split(['/', '\\']) {
        let segment = segment.split(';').next().unwrap_or_default();
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    Ok(format!("/{}", segments.join("/")))
}
