//! The `Cookie` header and the CSRF decision on arbitrary headers, through
//! the public API (`SessionCookies`, `CsrfProtection`).
//!
//! Input: the first byte picks the mode (bit 0: plant a real token minted
//! for session `s` as both the CSRF header and cookie), then lines: the first
//! byte of a line picks the header (`c` Cookie, `h` the CSRF header, `o`
//! Origin, `f` Sec-Fetch-Site, `H` Host, anything else an unrelated header),
//! the rest is its value.

#![no_main]

use std::sync::OnceLock;

use http::header::{COOKIE, HOST, ORIGIN};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::cookies::SessionCookies;
use tower_jwt_auth::csrf::{CsrfError, CsrfProtection};

fn csrf() -> &'static CsrfProtection {
    static CSRF: OnceLock<CsrfProtection> = OnceLock::new();
    CSRF.get_or_init(|| {
        CsrfProtection::new(&[0x24; 32])
            .unwrap()
            .trusted_origin("https://app.test")
    })
}

fn cookies() -> &'static SessionCookies {
    static COOKIES: OnceLock<SessionCookies> = OnceLock::new();
    COOKIES.get_or_init(|| SessionCookies::new(csrf().clone()))
}

/// A cookie value found is non-empty and taken verbatim from a `Cookie`
/// header (whose other bytes may be anything a header value allows).
fn check_found(found: Option<&str>, headers: &HeaderMap) {
    if let Some(token) = found {
        assert!(!token.is_empty());
        assert!(
            headers.get_all(COOKIE).iter().any(|v| v
                .as_bytes()
                .windows(token.len())
                .any(|w| w == token.as_bytes())),
            "{token:?} not in a Cookie header"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let csrf = csrf();
    let mut headers = HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        let Some((&selector, value)) = line.split_first() else {
            continue;
        };
        let name = match selector {
            b'c' => COOKIE,
            b'h' => csrf.header().clone(),
            b'o' => ORIGIN,
            b'f' => HeaderName::from_static("sec-fetch-site"),
            b'H' => HOST,
            _ => HeaderName::from_static("x-other"),
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    let planted = mode & 1 == 1;
    if planted {
        let token = csrf.mint("s").unwrap();
        headers.insert(
            csrf.header().clone(),
            HeaderValue::from_str(&token).unwrap(),
        );
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("{}={token}", csrf.cookie())).unwrap(),
        );
    }

    // The Cookie header parser, for the access and refresh cookies.
    for read in [SessionCookies::access_token, SessionCookies::refresh_token] {
        if let Ok(found) = read(cookies(), &headers) {
            check_found(found, &headers);
        }
    }

    // Safe methods never need a proof.
    let uri: Uri = "/notes".parse().unwrap();
    assert_eq!(csrf.check(&Method::GET, &uri, &headers, None), Ok(()));
    // An unsafe request passes only with the origin check and the real
    // token for its own session: never with a fuzzed token.
    let origin = csrf.check_origin(&uri, &headers);
    let own = csrf.check(&Method::POST, &uri, &headers, Some("s"));
    let other = csrf.check(&Method::POST, &uri, &headers, Some("t"));
    if planted {
        assert_eq!(own, origin, "a real token decides by the origin alone");
        assert!(other.is_err(), "another session's token");
        if origin.is_ok() {
            assert_eq!(other, Err(CsrfError::WrongSession));
        }
    } else {
        assert!(own.is_err(), "a fuzzed CSRF token passed");
        assert!(other.is_err(), "a fuzzed CSRF token passed");
    }
    if origin.is_err() {
        assert_eq!(own, origin);
    }
});
