//! A JWK Set document as fetched, read as `RemoteJwks` reads it.
//!
//! Input: the response body. Every key kept must be one of the first
//! `MAX_JWKS_KEYS` entries of the `keys` array, an asymmetric signature key
//! (no `oct`, `use` absent or `sig`), under its own `kid` (or "" when it has
//! none and is the only key kept); checked with a plain `serde_json::Value` reading.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_jwt_auth::__fuzz::{MAX_JWKS_KEYS, jwk_set};

fuzz_target!(|data: &[u8]| {
    let Ok(kept) = jwk_set(data) else {
        return;
    };
    let document: Value = serde_json::from_slice(data).expect("accepted body is JSON");
    let entries = document["keys"].as_array().expect("a `keys` array");
    let read = &entries[..entries.len().min(MAX_JWKS_KEYS)];
    assert!(!kept.is_empty());
    for (identity, text) in &kept {
        let key: Value = serde_json::from_str(text).expect("kept JWK text is JSON");
        assert!(read.contains(&key), "{text} is not among the entries read");
        let key = key.as_object().expect("a JWK is an object");
        assert_ne!(key.get("kty").and_then(Value::as_str), Some("oct"));
        assert!(
            key.get("use").is_none_or(|u| u == "sig"),
            "use: {:?}",
            key.get("use")
        );
        match key.get("kid") {
            Some(kid) => assert_eq!(kid.as_str(), Some(identity.as_str())),
            None => {
                assert!(identity.is_empty());
                assert_eq!(kept.len(), 1, "an unnamed key beside others");
            }
        }
    }
});
