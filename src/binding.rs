//! Sender constraints (RFC 7800 `cnf`), the one check every token kind goes
//! through: `cnf.jkt` (RFC 9449 §6) against the thumbprint of the key that
//! signed the request's DPoP proof, `cnf["x5t#S256"]` (RFC 8705 §3.1)
//! against the SHA-256 thumbprint of the client certificate of the request.
//!
//! A token bound one way or the other is worthless without its key or its
//! certificate: no proof, another key, no certificate or another certificate
//! all refuse it. A DPoP proof presented with a token bound to no key is
//! refused too: there is nothing to bind the proof to.

use std::fmt;

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::jws::B64;

/// The members of a token's `cnf` claim (RFC 7800) this crate acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Confirmation {
    /// RFC 9449 §6.1: the RFC 7638 SHA-256 thumbprint of the DPoP key.
    #[serde(default)]
    pub jkt: Option<String>,
    /// RFC 8705 §3.1: the SHA-256 thumbprint of the client certificate (DER).
    #[serde(default, rename = "x5t#S256")]
    pub x5t_s256: Option<String>,
}

/// Why a bound token was refused (all `invalid_token` to the client).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindingError {
    /// `cnf` is not an object, or `jkt` / `x5t#S256` is not a string.
    MalformedConfirmation,
    /// The token is bound to a DPoP key and the request has no proof.
    ProofRequired,
    /// The proof was signed by another key than the token's `cnf.jkt`.
    KeyMismatch,
    /// A proof came with a token bound to no DPoP key.
    NotDpopBound,
    /// The token is bound to a certificate and the request has none.
    CertificateRequired,
    /// The request's client certificate is not the token's.
    CertificateMismatch,
}

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MalformedConfirmation => "the token's cnf claim is malformed",
            Self::ProofRequired => "the token is DPoP-bound and no proof was presented",
            Self::KeyMismatch => "the proof key is not the key the token is bound to",
            Self::NotDpopBound => "a DPoP proof came with a token bound to no key",
            Self::CertificateRequired => {
                "the token is certificate-bound and no certificate was presented"
            }
            Self::CertificateMismatch => {
                "the client certificate is not the one the token is bound to"
            }
        })
    }
}

impl std::error::Error for BindingError {}

impl Confirmation {
    /// The `cnf` claim of a token's payload (its JSON, already verified);
    /// an absent or `null` `cnf` is an unbound token.
    pub fn from_claims_json(payload: &[u8]) -> Result<Self, BindingError> {
        #[derive(Deserialize)]
        struct Outer {
            #[serde(default)]
            cnf: Option<Confirmation>,
        }
        serde_json::from_slice::<Outer>(payload)
            .map(|outer| outer.cnf.unwrap_or_default())
            .map_err(|_| BindingError::MalformedConfirmation)
    }

    /// True when the token is bound to a DPoP key or a certificate.
    pub fn is_bound(&self) -> bool {
        self.jkt.is_some() || self.x5t_s256.is_some()
    }
}

/// The `cnf` of a verified token, read from its payload segment (see
/// [`payload_confirmation`]).
pub(crate) fn token_confirmation(token: &str) -> Result<Confirmation, BindingError> {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let payload = crate::jws::decode_segment_inline::<1024>(payload)
        .map_err(|_| BindingError::MalformedConfirmation)?;
    payload_confirmation(&payload)
}

/// The `cnf` of a verified token's decoded payload. Most tokens carry no
/// `cnf`: when the payload holds neither `cnf` nor a JSON escape (`\u…`
/// could spell it), it is not parsed at all.
pub(crate) fn payload_confirmation(payload: &[u8]) -> Result<Confirmation, BindingError> {
    let may_name_cnf = payload
        .windows(3)
        .any(|w| matches!(w, [b'c', b'n', b'f'] | [b'\\', b'u', _]));
    if !may_name_cnf {
        return Ok(Confirmation::default());
    }
    Confirmation::from_claims_json(payload)
}

/// The sender-constraint decision: every binding `cnf` names must be met
/// (`proof_jkt`: the thumbprint of the request's verified DPoP proof key;
/// `certificate_der`: the request's client certificate), and a proof needs
/// a `cnf.jkt` to be checked against.
pub fn check_binding(
    cnf: &Confirmation,
    proof_jkt: Option<&str>,
    certificate_der: Option<&[u8]>,
) -> Result<(), BindingError> {
    match (&cnf.jkt, proof_jkt) {
        (Some(_), None) => return Err(BindingError::ProofRequired),
        (None, Some(_)) => return Err(BindingError::NotDpopBound),
        (Some(bound), Some(presented)) if bound != presented => {
            return Err(BindingError::KeyMismatch);
        }
        _ => {}
    }
    if let Some(bound) = &cnf.x5t_s256 {
        let certificate = certificate_der.ok_or(BindingError::CertificateRequired)?;
        if *bound != certificate_thumbprint(certificate) {
            return Err(BindingError::CertificateMismatch);
        }
    }
    Ok(())
}

/// The RFC 8705 §3.1 thumbprint of a certificate: base64url(SHA-256(DER)).
pub fn certificate_thumbprint(der: &[u8]) -> String {
    B64.encode(Sha256::digest(der))
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK (base64url) from its
/// required members in lexicographic order; `None` for a symmetric key.
pub fn jwk_thumbprint(jwk: &Jwk) -> Option<String> {
    // The canonical JSON is written into one buffer: literal text and the
    // members as JSON strings, in the order RFC 7638 §3.2 gives.
    let mut canonical = Vec::with_capacity(160);
    let out = &mut canonical;
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) => {
            push_member(out, r#"{"crv":"#, &ec.curve)?;
            push_member(out, r#","kty":"EC","x":"#, &ec.x)?;
            push_member(out, r#","y":"#, &ec.y)?;
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            push_member(out, r#"{"crv":"#, &okp.curve)?;
            push_member(out, r#","kty":"OKP","x":"#, &okp.x)?;
        }
        AlgorithmParameters::RSA(rsa) => {
            push_member(out, r#"{"e":"#, &rsa.e)?;
            push_member(out, r#","kty":"RSA","n":"#, &rsa.n)?;
        }
        _ => return None,
    }
    canonical.push(b'}');
    Some(B64.encode(Sha256::digest(&canonical)))
}

/// `text`, then `value` as JSON.
fn push_member(out: &mut Vec<u8>, text: &str, value: &impl serde::Serialize) -> Option<()> {
    out.extend_from_slice(text.as_bytes());
    serde_json::to_writer(out, value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, VerifyingKey};

    fn bound(jkt: Option<&str>, x5t: Option<&str>) -> Confirmation {
        Confirmation {
            jkt: jkt.map(str::to_owned),
            x5t_s256: x5t.map(str::to_owned),
        }
    }

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk: Jwk = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(
            jwk_thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn jwk_thumbprint_is_the_verifying_keys_thumbprint() {
        for (alg, pem) in [
            (
                Algorithm::ES256,
                &include_bytes!("../tests/keys/es256_public.pem")[..],
            ),
            (
                Algorithm::EdDSA,
                &include_bytes!("../tests/keys/ed25519_public.pem")[..],
            ),
        ] {
            let key = VerifyingKey::from_pem(alg, pem).unwrap();
            let jwk = key.public_jwk().unwrap();
            assert_eq!(jwk_thumbprint(&jwk), key.thumbprint(), "{alg:?}");
        }
        let secret: Jwk = serde_json::from_str(r#"{"kty":"oct","k":"c2VjcmV0"}"#).unwrap();
        assert_eq!(jwk_thumbprint(&secret), None);
    }

    #[test]
    fn a_dpop_bound_token_needs_a_proof_from_its_key() {
        let cnf = bound(Some("key-a"), None);
        assert_eq!(check_binding(&cnf, Some("key-a"), None), Ok(()));
        assert_eq!(
            check_binding(&cnf, Some("key-b"), None),
            Err(BindingError::KeyMismatch)
        );
        assert_eq!(
            check_binding(&cnf, None, None),
            Err(BindingError::ProofRequired)
        );
    }

    #[test]
    fn a_proof_with_an_unbound_token_is_refused_and_no_proof_is_fine() {
        let unbound = Confirmation::default();
        assert_eq!(
            check_binding(&unbound, Some("k"), None),
            Err(BindingError::NotDpopBound)
        );
        assert_eq!(check_binding(&unbound, None, Some(b"cert")), Ok(()));
    }

    #[test]
    fn a_certificate_bound_token_needs_its_certificate() {
        let cnf = bound(None, Some(&certificate_thumbprint(b"the certificate")));
        assert_eq!(check_binding(&cnf, None, Some(b"the certificate")), Ok(()));
        assert_eq!(
            check_binding(&cnf, None, Some(b"another certificate")),
            Err(BindingError::CertificateMismatch)
        );
        assert_eq!(
            check_binding(&cnf, None, None),
            Err(BindingError::CertificateRequired)
        );
        // Bound both ways: both are needed.
        let both = bound(Some("k"), Some(&certificate_thumbprint(b"c")));
        assert_eq!(check_binding(&both, Some("k"), Some(b"c")), Ok(()));
        assert_eq!(
            check_binding(&both, Some("k"), None),
            Err(BindingError::CertificateRequired)
        );
        assert_eq!(
            check_binding(&both, None, Some(b"c")),
            Err(BindingError::ProofRequired)
        );
    }

    #[test]
    fn cnf_is_read_from_a_token_even_when_escaped() {
        let token = |claims: &str| format!("e30.{}.sig", B64.encode(claims));
        let plain = token(r#"{"cnf":{"jkt":"abc"}}"#);
        assert_eq!(
            token_confirmation(&plain).unwrap(),
            bound(Some("abc"), None)
        );
        let escaped = token(r#"{"\u0063nf":{"jkt":"abc"}}"#);
        assert_eq!(
            token_confirmation(&escaped).unwrap(),
            bound(Some("abc"), None)
        );
        let unbound = token(r#"{"sub":"a"}"#);
        assert_eq!(
            token_confirmation(&unbound).unwrap(),
            Confirmation::default()
        );
    }

    #[test]
    fn cnf_is_read_from_the_claims() {
        let cnf = Confirmation::from_claims_json(
            br#"{"sub":"a","cnf":{"jkt":"abc","x5t#S256":"def","other":1}}"#,
        )
        .unwrap();
        assert_eq!(cnf, bound(Some("abc"), Some("def")));
        assert!(
            !Confirmation::from_claims_json(br#"{"sub":"a"}"#)
                .unwrap()
                .is_bound()
        );
        assert!(
            !Confirmation::from_claims_json(br#"{"cnf":null}"#)
                .unwrap()
                .is_bound()
        );
        for bad in [&br#"{"cnf":"x"}"#[..], br#"{"cnf":{"jkt":1}}"#, b"not json"] {
            assert_eq!(
                Confirmation::from_claims_json(bad),
                Err(BindingError::MalformedConfirmation)
            );
        }
    }
}
