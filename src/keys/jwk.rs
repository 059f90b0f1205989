//! JWK import: a verifying key from a JSON Web Key (RFC 7517), every
//! statement the JWK makes about its purpose enforced.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::algorithm::{algorithm_name, is_hmac, is_rsa};
use super::error::KeyError;
use super::verifying::VerifyingKey;

impl VerifyingKey {
    /// A key from a JSON Web Key (RFC 7517), for `algorithm`: `oct` for HS*,
    /// `RSA` for RS*/PS*, `EC` on P-256/P-384 for ES256/ES384, `OKP` Ed25519
    /// for EdDSA. The JWK's `kid`, when present, becomes this key's `kid`.
    ///
    /// Everything the JWK says about its purpose is enforced, so a key
    /// published for something else cannot be turned to verifying tokens:
    /// an `alg` other than `algorithm`, a `use` other than `sig`, or
    /// `key_ops` without `verify` is refused (RFC 7517 §4.2–4.4). So are an
    /// RSA modulus under 2048 bits, EC coordinates of the wrong size for the
    /// curve, and HMAC secrets shorter than [`min_hmac_secret_len`](super::min_hmac_secret_len). Private
    /// members (`d`, …) are ignored.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, Jwk, VerifyingKey};
    ///
    /// // RFC 7520 §3.5: a symmetric key for HS256.
    /// let jwk: Jwk = serde_json::from_str(r#"{
    ///     "kty": "oct", "kid": "018c0ae5-4d9b-471b-bfd6-eef314bc7037", "use": "sig",
    ///     "alg": "HS256", "k": "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"
    /// }"#)?;
    /// let key = VerifyingKey::from_jwk(Algorithm::HS256, &jwk)?;
    /// assert_eq!(key.kid(), Some("018c0ae5-4d9b-471b-bfd6-eef314bc7037"));
    /// assert!(VerifyingKey::from_jwk(Algorithm::HS512, &jwk).is_err(), "alg is HS256");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_jwk(algorithm: Algorithm, jwk: &Jwk) -> Result<Self, KeyError> {
        let unsuitable = |reason| KeyError::UnsuitableJwk { algorithm, reason };
        let common = &jwk.common;
        if let Some(alg) = common.key_algorithm
            && Some(alg.to_string().as_str()) != algorithm_name(algorithm)
        {
            return Err(unsuitable("its `alg` names another algorithm"));
        }
        if common
            .public_key_use
            .as_ref()
            .is_some_and(|key_use| *key_use != PublicKeyUse::Signature)
        {
            return Err(unsuitable("its `use` is not `sig`"));
        }
        if common
            .key_operations
            .as_ref()
            .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
        {
            return Err(unsuitable("its `key_ops` lack `verify`"));
        }
        let undecodable = |_| unsuitable("a component is not base64url");
        let key = match (&jwk.algorithm, algorithm) {
            (AlgorithmParameters::OctetKey(_), _) if is_hmac(algorithm) => {
                DecodingKey::from_jwk(jwk).map_err(undecodable)?
            }
            (AlgorithmParameters::RSA(rsa), _) if is_rsa(algorithm) => {
                DecodingKey::from_rsa_components(&rsa.n, &rsa.e).map_err(undecodable)?
            }
            (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256 | Algorithm::ES384) => {
                let (curve, field_len) = if algorithm == Algorithm::ES256 {
                    (EllipticCurve::P256, 32)
                } else {
                    (EllipticCurve::P384, 48)
                };
                if ec.curve != curve {
                    return Err(unsuitable("its curve does not match the algorithm"));
                }
                let key = DecodingKey::from_ec_components(&ec.x, &ec.y).map_err(undecodable)?;
                match key.try_get_as_bytes() {
                    Ok(point) if point.len() == 1 + 2 * field_len => key,
                    _ => return Err(unsuitable("its coordinates do not fit the curve")),
                }
            }
            (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA)
                if okp.curve == EllipticCurve::Ed25519 =>
            {
                // RFC 8037 §2: `x` is the 32-byte public key. (jsonwebtoken's
                // RustCrypto verifier slices its first 32 bytes, and panics
                // on a shorter one.)
                let key = DecodingKey::from_ed_components(&okp.x).map_err(undecodable)?;
                match key.try_get_as_bytes() {
                    Ok(x) if x.len() == 32 => key,
                    _ => return Err(unsuitable("its `x` is not a 32-byte Ed25519 key")),
                }
            }
            _ => return Err(unsuitable("its `kty` or curve does not suit the algorithm")),
        };
        let key = Self::from_decoding_key(algorithm, &key)?;
        Ok(match &common.key_id {
            Some(kid) => key.with_kid(kid.clone()),
            None => key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use crate::keys::der::modulus_bits;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64_URL;

    fn jwk(json: &str) -> Jwk {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn jwk_keys_verify_what_their_pem_twins_sign() {
        // The P-256 key of `sec1_ec_private_key_is_accepted…`, as a JWK.
        let private = b"-----BEGIN EC PRIVATE KEY-----
MHcCAQEEINRkpvZnrtqeM81jkqJtEDDE60rRCTmd3GwIGUC1nmRtoAoGCCqGSM49
AwEHoUQDQgAEv96ueJ8IPcJEqUPPdBS7IMUY34CptjTPPU5fbr2+9gDg5Otg0I+j
9SoFUlCNAzvKy4VBJ0ScPYrkh5vz9CaB5g==
-----END EC PRIVATE KEY-----
";
        let signing = SigningKey::from_pem(Algorithm::ES256, private).unwrap();
        let public = jwk(
            r#"{"kty":"EC","crv":"P-256","kid":"k1","use":"sig","key_ops":["verify"],
            "x":"v96ueJ8IPcJEqUPPdBS7IMUY34CptjTPPU5fbr2-9gA",
            "y":"4OTrYNCPo_UqBVJQjQM7ysuFQSdEnD2K5Ieb8_QmgeY"}"#,
        );
        let verifying = VerifyingKey::from_jwk(Algorithm::ES256, &public).unwrap();
        assert_eq!(verifying.kid(), Some("k1"));
        let signature = signing.sign(b"message").unwrap();
        assert!(verifying.verify(b"message", &signature));
        assert!(!verifying.verify(b"other", &signature));

        let secret = jwk(r#"{"kty":"oct","k":"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}"#);
        let hmac = VerifyingKey::from_jwk(Algorithm::HS256, &secret).unwrap();
        let signature = SigningKey::hmac(
            Algorithm::HS256,
            &B64_URL
                .decode("hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg")
                .unwrap(),
        )
        .unwrap()
        .sign(b"message")
        .unwrap();
        assert!(hmac.verify(b"message", &signature));
    }

    #[test]
    fn jwk_meant_for_something_else_is_refused() {
        let ec = r#""kty":"EC","crv":"P-256",
            "x":"v96ueJ8IPcJEqUPPdBS7IMUY34CptjTPPU5fbr2-9gA",
            "y":"4OTrYNCPo_UqBVJQjQM7ysuFQSdEnD2K5Ieb8_QmgeY""#;
        for (json, alg) in [
            (format!(r#"{{{ec},"alg":"ES384"}}"#), Algorithm::ES256),
            (format!(r#"{{{ec},"use":"enc"}}"#), Algorithm::ES256),
            (
                format!(r#"{{{ec},"key_ops":["encrypt"]}}"#),
                Algorithm::ES256,
            ),
            (format!(r#"{{{ec}}}"#), Algorithm::ES384),
            (format!(r#"{{{ec}}}"#), Algorithm::RS256),
            (format!(r#"{{{ec}}}"#), Algorithm::HS256),
        ] {
            let err = VerifyingKey::from_jwk(alg, &jwk(&json)).unwrap_err();
            assert!(
                matches!(err, KeyError::UnsuitableJwk { .. }),
                "{json} {alg:?}: {err}"
            );
        }
    }

    /// Found by the `jwk_set` fuzz target: a 27-byte `x` made the RustCrypto
    /// backend panic while building the key, from a fetched JWK Set or a
    /// DPoP proof's header.
    #[test]
    fn jwk_ed25519_key_of_another_length_is_refused() {
        for len in [0, 27, 31, 33, 64] {
            let json = format!(
                r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
                B64_URL.encode(vec![0x42; len])
            );
            let err = VerifyingKey::from_jwk(Algorithm::EdDSA, &jwk(&json)).unwrap_err();
            assert!(
                matches!(err, KeyError::UnsuitableJwk { .. }),
                "{len} bytes: {err}"
            );
        }
    }

    #[test]
    fn jwk_rsa_modulus_under_2048_bits_and_short_secrets_are_refused() {
        // A 2047-bit modulus: 0x7f followed by 255 bytes.
        let n = B64_URL.encode([&[0x7f][..], &[0xab; 255]].concat());
        let short = jwk(&format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#));
        assert_eq!(
            VerifyingKey::from_jwk(Algorithm::RS256, &short).unwrap_err(),
            KeyError::WeakRsaKey { bits: 2047 }
        );
        assert_eq!(modulus_bits(&[0, 0x7f, 0xff]), 15);
        assert_eq!(modulus_bits(&[0x80; 256]), 2048);

        let secret = jwk(r#"{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg"}"#);
        assert!(matches!(
            VerifyingKey::from_jwk(Algorithm::HS256, &secret),
            Err(KeyError::SecretTooShort { .. })
        ));
    }
}
