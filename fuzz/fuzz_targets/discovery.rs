//! An issuer's metadata document as fetched, read as discovery reads it.
//!
//! Input: the first byte picks the configured issuer (and whether plain
//! http is allowed), the rest is the response body. An accepted document is
//! a JSON object naming exactly that issuer, whose `jwks_uri` is no weaker
//! than the issuer (https for an https issuer, loopback only for a loopback
//! issuer); checked with a plain `serde_json::Value` reading.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_jwt_auth::__fuzz::discovery;
use tower_jwt_auth::jwks::DiscoveryError;

const ISSUERS: [(&str, bool); 4] = [
    ("https://id.example.com", false),
    ("https://id.example.com/tenant/", false),
    ("http://127.0.0.1:8080", false),
    ("https://id.example.com/realms/a", true),
];

/// The crate's own reading of a loopback host (`localhost`, or an IP
/// literal `std` calls loopback), through `http::Uri`.
fn is_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    uri.host().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let (issuer, allow_http) = ISSUERS[usize::from(mode) % ISSUERS.len()];
    let result = discovery(body, issuer, allow_http);
    let value = if matches!(result, Ok(_) | Err(DiscoveryError::IssuerMismatch { .. })) {
        reference(body)
    } else {
        None
    };
    match result {
        Ok(metadata) => {
            let Some(value) = value else {
                return;
            };
            assert_eq!(metadata.issuer, issuer);
            assert_eq!(field(&value, "issuer", 0), Some(issuer));
            assert_eq!(
                field(&value, "jwks_uri", 1),
                Some(metadata.jwks_uri.as_str())
            );
            let uri = metadata.jwks_uri.to_ascii_lowercase();
            if issuer.starts_with("https://") {
                assert!(uri.starts_with("https://"), "{uri}");
            }
            if !is_loopback(issuer) {
                assert!(!is_loopback(&uri), "{uri}");
            }
            assert!(uri.starts_with("https://") || uri.starts_with("http://"));
        }
        Err(DiscoveryError::IssuerMismatch {
            configured,
            document,
        }) => {
            assert_eq!(configured, issuer);
            assert_ne!(document, issuer);
            let Some(value) = value else {
                return;
            };
            assert_eq!(field(&value, "issuer", 0), Some(document.as_str()));
        }
        Err(_) => {}
    }
});

/// A member of the document, which is an object (an array is refused).
fn field<'v>(value: &'v Value, name: &str, _index: usize) -> Option<&'v str> {
    assert!(value.is_object(), "a document that is no object was accepted");
    value[name].as_str()
}

/// The reference reading of a body the reader accepted: `serde_json::Value`.
/// `None` when `Value` refuses a number out of `f64` range (RFC 8259 §6), a
/// malformed `\u` escape (lone surrogate, short hex) or bytes that are not
/// UTF-8 inside a string: serde_json skips a member the reader does not read
/// without checking these. Any other refusal is a bug.
fn reference(body: &[u8]) -> Option<Value> {
    match serde_json::from_slice(body) {
        Ok(value) => Some(value),
        Err(error)
            if error.to_string().starts_with("number out of range")
                || error.to_string().contains("escape")
                || std::str::from_utf8(body).is_err() =>
        {
            None
        }
        Err(error) => panic!("accepted, yet not JSON: {error}"),
    }
}
