//! From a JWK Set document to the keys a verifier may use.
//!
//! Only signature keys of an asymmetric type are taken: a published `oct`
//! key is no secret, and a key for encryption must not verify tokens. A JWK's
//! `alg` binds it; without one, the algorithm is inferred only where the key
//! type decides it, and RSA keys get the configured default (RS256). Every
//! key goes through [`VerifyingKey::from_jwk`], so a remote key obeys the same
//! rules (`use`, `key_ops`, curve, 2048-bit RSA) as a local one.

use std::collections::{BTreeMap, HashSet};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use serde_json::Value;

use crate::keys::{Algorithm, KeySet, Snapshot, VerifyingKey, parse_algorithm};

/// At most this many entries of a JWK Set are looked at; the rest are
/// ignored (no issuer needs more, and each costs a key parse).
pub(crate) const MAX_JWKS_KEYS: usize = 100;

/// Why a document yielded no key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySetError {
    /// Not a JSON object with a `keys` array.
    Malformed,
    /// Well formed, but not one key in it can verify tokens.
    NoUsableKey,
}

impl std::fmt::Display for KeySetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "not a JWK Set (a JSON object with a `keys` array)",
            Self::NoUsableKey => "no key in the JWK Set can verify tokens",
        })
    }
}

/// Parses a JWK Set and keeps the keys that can verify tokens.
pub(crate) fn parse_key_set(body: &[u8], rsa_default: Algorithm) -> Result<Snapshot, KeySetError> {
    let document: Value = serde_json::from_slice(body).map_err(|_| KeySetError::Malformed)?;
    let Some(entries) = document.get("keys").and_then(Value::as_array) else {
        return Err(KeySetError::Malformed);
    };
    if entries.len() > MAX_JWKS_KEYS {
        tracing::warn!(
            keys = entries.len(),
            kept = MAX_JWKS_KEYS,
            "JWK Set has more keys than are read; the rest are ignored"
        );
    }
    let mut keys: Vec<(VerifyingKey, String)> = Vec::new();
    let mut seen_kids = HashSet::new();
    for (index, entry) in entries.iter().take(MAX_JWKS_KEYS).enumerate() {
        match usable_key(entry, rsa_default) {
            Ok(key) => {
                if let Some(kid) = key.kid()
                    && !seen_kids.insert(kid.to_owned())
                {
                    tracing::warn!(index, "JWK Set lists a kid twice; the later key is ignored");
                    continue;
                }
                keys.push((key, entry.to_string()));
            }
            Err(reason) => tracing::debug!(index, reason, "JWK ignored"),
        }
    }
    let lone = keys.len() == 1;
    let mut fingerprints = BTreeMap::new();
    let mut set: Option<KeySet> = None;
    for (key, text) in keys {
        let identity = match key.kid() {
            Some(kid) => kid.to_owned(),
            None if lone => String::new(),
            None => {
                tracing::warn!("JWK without a kid in a set of several keys ignored");
                continue;
            }
        };
        set = Some(match set {
            None => KeySet::new(key),
            Some(set) => match set.with_key(key) {
                Ok(set) => set,
                Err(_) => return Err(KeySetError::Malformed),
            },
        });
        fingerprints.insert(identity, text);
    }
    let keys = set.ok_or(KeySetError::NoUsableKey)?;
    Ok(Snapshot {
        keys,
        epoch: 0,
        fingerprints,
    })
}

/// One JWK as a verifying key, or why it is not taken.
fn usable_key(entry: &Value, rsa_default: Algorithm) -> Result<VerifyingKey, &'static str> {
    let object = entry.as_object().ok_or("not a JSON object")?;
    match object.get("use") {
        None => {}
        Some(Value::String(key_use)) if key_use == "sig" => {}
        Some(_) => return Err("its `use` is not `sig`"),
    }
    if object.get("kty").and_then(Value::as_str) == Some("oct") {
        return Err("a symmetric (`oct`) key is never taken from a published set");
    }
    let jwk: Jwk =
        serde_json::from_value(entry.clone()).map_err(|_| "not a JWK this crate reads")?;
    let algorithm = match object.get("alg") {
        Some(Value::String(alg)) => parse_algorithm(alg).map_err(|_| "unknown `alg`")?,
        Some(_) => return Err("`alg` is not a string"),
        None => match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => Algorithm::ES256,
                EllipticCurve::P384 => Algorithm::ES384,
                _ => return Err("unsupported curve"),
            },
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                Algorithm::EdDSA
            }
            AlgorithmParameters::RSA(_) => rsa_default,
            _ => return Err("no `alg`, and the key type does not decide one"),
        },
    };
    if matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err("an HMAC algorithm is never taken from a published set");
    }
    VerifyingKey::from_jwk(algorithm, &jwk).map_err(|_| "the key does not suit its algorithm")
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7517 Appendix A.1: an EC P-256 key and an RSA key.
    const RFC7517_A1: &str = r#"{"keys":[
      {"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
       "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"enc","kid":"1"},
      {"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
       "e":"AQAB","alg":"RS256","kid":"2011-04-29"}
    ]}"#;

    #[test]
    fn encryption_keys_are_ignored_and_signature_keys_kept() {
        let snapshot = parse_key_set(RFC7517_A1.as_bytes(), Algorithm::RS256).unwrap();
        assert_eq!(snapshot.keys.len(), 1);
        assert!(snapshot.keys.select(Some("2011-04-29")).is_some());
        assert!(snapshot.keys.select(Some("1")).is_none());
    }

    #[test]
    fn oct_keys_are_never_taken() {
        let body = br#"{"keys":[{"kty":"oct","kid":"s","k":"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg","alg":"HS256"}]}"#;
        assert_eq!(
            parse_key_set(body, Algorithm::RS256).unwrap_err(),
            KeySetError::NoUsableKey
        );
    }

    #[test]
    fn algorithm_is_inferred_only_where_the_key_type_decides_it() {
        let body = br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"e","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;
        let snapshot = parse_key_set(body, Algorithm::RS256).unwrap();
        assert_eq!(
            snapshot.keys.select(Some("e")).unwrap().algorithm(),
            Algorithm::ES256
        );
    }

    #[test]
    fn documents_that_are_not_key_sets_are_malformed() {
        for body in [&b"[]"[..], b"{}", b"{\"keys\":{}}", b"not json"] {
            assert_eq!(
                parse_key_set(body, Algorithm::RS256).unwrap_err(),
                KeySetError::Malformed
            );
        }
    }

    #[test]
    fn a_replaced_key_under_the_same_kid_counts_as_lost() {
        let a = parse_key_set(RFC7517_A1.as_bytes(), Algorithm::RS256).unwrap();
        let b = parse_key_set(RFC7517_A1.as_bytes(), Algorithm::RS256).unwrap();
        assert!(!a.loses_keys_in(&b));
        let mut c = parse_key_set(RFC7517_A1.as_bytes(), Algorithm::RS256).unwrap();
        c.fingerprints.insert("2011-04-29".into(), "other".into());
        assert!(a.loses_keys_in(&c));
    }
}
