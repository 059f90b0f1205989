//! Verifying keys: a public key (or HMAC secret) bound to one algorithm,
//! parsed once for the backend where it can be.

use std::fmt;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};

use super::algorithm::{check_secret, is_hmac, is_rsa};
use super::backend::{PROVIDER, install_provider};
use super::der::rsa_modulus_bits;
use super::error::KeyError;
use super::thumbprint::{named_public, thumbprint};

/// A public key (or HMAC secret) bound to one algorithm, used to verify tokens.
///
/// `Debug` shows the algorithm and `kid`, never key material.
pub struct VerifyingKey {
    algorithm: Algorithm,
    kid: Option<String>,
    key: DecodingKey,
    /// The key parsed once for the backend, when it can be (see [`prepared`]).
    #[cfg(feature = "aws_lc_rs")]
    prepared: Option<prepared::Prepared>,
}

impl VerifyingKey {
    /// An HMAC key (HS256/384/512) from a secret of at least
    /// [`min_hmac_secret_len`](super::min_hmac_secret_len) bytes.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        check_secret(algorithm, secret)?;
        Self::build(algorithm, DecodingKey::from_secret(secret))
    }

    /// A public key in PEM form (SPKI, or PKCS#1 for RSA) for an RS*, PS*, ES*
    /// or EdDSA algorithm. An EC key must lie on the algorithm's curve; an RSA
    /// key must have at least 2048 bits (RFC 7518 §3.3).
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let invalid = |_| KeyError::InvalidPem(algorithm);
        let key = match algorithm {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => DecodingKey::from_rsa_pem(pem).map_err(invalid)?,
            Algorithm::ES256 | Algorithm::ES384 => {
                let key = DecodingKey::from_ec_pem(pem).map_err(invalid)?;
                // An uncompressed point: 1 + 2 × the field size of the curve.
                let expected = if algorithm == Algorithm::ES256 {
                    65
                } else {
                    97
                };
                match key.try_get_as_bytes() {
                    Ok(point) if point.len() == expected => key,
                    _ => return Err(KeyError::InvalidPem(algorithm)),
                }
            }
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem).map_err(invalid)?,
            _ => return Err(KeyError::WrongKeyType(algorithm)),
        };
        Self::build(algorithm, key)
    }

    /// A key from a `jsonwebtoken` [`DecodingKey`] the caller built (from a JWK,
    /// DER or raw components). The caller vouches that `key` suits `algorithm`;
    /// HMAC secrets are still held to [`min_hmac_secret_len`](super::min_hmac_secret_len), RSA keys to
    /// 2048 bits.
    pub fn from_decoding_key(algorithm: Algorithm, key: &DecodingKey) -> Result<Self, KeyError> {
        if is_hmac(algorithm) {
            let secret = key
                .try_get_as_bytes()
                .map_err(|_| KeyError::WrongKeyType(algorithm))?;
            check_secret(algorithm, secret)?;
        }
        Self::build(algorithm, key.clone())
    }

    fn build(algorithm: Algorithm, key: DecodingKey) -> Result<Self, KeyError> {
        // Building the backend's verifier once proves the key suits the algorithm.
        (PROVIDER.verifier_factory)(&algorithm, &key)
            .map_err(|_| KeyError::WrongKeyType(algorithm))?;
        // RFC 7518 §3.3: RSA keys of at least 2048 bits. aws-lc-rs refuses
        // shorter ones only when verifying, RustCrypto not at all.
        if is_rsa(algorithm) {
            let bits = rsa_modulus_bits(&key).ok_or(KeyError::WrongKeyType(algorithm))?;
            if bits < 2048 {
                return Err(KeyError::WeakRsaKey { bits });
            }
        }
        Ok(Self {
            algorithm,
            kid: None,
            #[cfg(feature = "aws_lc_rs")]
            prepared: prepared::Prepared::new(algorithm, &key),
            key,
        })
    }

    /// Names this key, so tokens whose header carries this `kid` find it.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm this key verifies.
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public key as a JWK (`alg`, `use: "sig"`, and `kid`: this key's,
    /// or its RFC 7638 thumbprint); `None` for an HMAC secret.
    pub fn public_jwk(&self) -> Option<Jwk> {
        if is_hmac(self.algorithm) {
            return None;
        }
        install_provider();
        let jwk = Jwk::from_decoding_key(&self.key, Some(self.algorithm)).ok()?;
        Some(named_public(jwk, self.kid.as_deref()))
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key (base64url): the
    /// `kid` an unnamed signing key mints. `None` for HMAC.
    pub fn thumbprint(&self) -> Option<String> {
        if is_hmac(self.algorithm) {
            return None;
        }
        install_provider();
        Jwk::from_decoding_key(&self.key, Some(self.algorithm))
            .ok()
            .and_then(|jwk| thumbprint(&jwk))
    }

    /// Names this key by its thumbprint (unless it is named already), so it
    /// is found by the `kid` an unnamed signing key mints.
    #[must_use]
    pub fn with_thumbprint_kid(self) -> Self {
        match (self.kid.is_some(), self.thumbprint()) {
            (false, Some(kid)) => self.with_kid(kid),
            _ => self,
        }
    }

    /// True when `signature` is a valid signature of `message` under this key.
    /// HMAC comparison is constant-time in both backends.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        #[cfg(feature = "aws_lc_rs")]
        if let Some(prepared) = &self.prepared {
            return prepared.verify(message, signature);
        }
        match (PROVIDER.verifier_factory)(&self.algorithm, &self.key) {
            Ok(verifier) => verifier.verify(message, &signature.to_vec()).is_ok(),
            Err(_) => false,
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Verifying keys parsed once, for the aws-lc-rs backend.
///
/// jsonwebtoken's verifiers rebuild the key on every check: an HMAC key
/// schedule, a boxed verifier, and for RSA, EC and Ed25519 a parse (and
/// curve check) of the public key. Here the key is parsed when the
/// `VerifyingKey` is built, with the same aws-lc-rs algorithms jsonwebtoken
/// uses, so each check runs only the signature math. Keys jsonwebtoken holds
/// in another form (RSA modulus and exponent from a JWK) keep its path.
#[cfg(feature = "aws_lc_rs")]
mod prepared {
    use aws_lc_rs::{hmac, signature};
    use jsonwebtoken::{Algorithm, DecodingKey};

    pub(super) enum Prepared {
        Hmac(Box<hmac::Key>),
        Public(signature::ParsedPublicKey),
    }

    impl Prepared {
        pub(super) fn new(algorithm: Algorithm, key: &DecodingKey) -> Option<Self> {
            let bytes = key.try_get_as_bytes().ok()?;
            let hmac = |alg| Some(Self::Hmac(Box::new(hmac::Key::new(alg, bytes))));
            let public = |alg: &'static dyn signature::VerificationAlgorithm| {
                signature::ParsedPublicKey::new(alg, bytes)
                    .ok()
                    .map(Self::Public)
            };
            match algorithm {
                Algorithm::HS256 => hmac(hmac::HMAC_SHA256),
                Algorithm::HS384 => hmac(hmac::HMAC_SHA384),
                Algorithm::HS512 => hmac(hmac::HMAC_SHA512),
                Algorithm::RS256 => public(&signature::RSA_PKCS1_2048_8192_SHA256),
                Algorithm::RS384 => public(&signature::RSA_PKCS1_2048_8192_SHA384),
                Algorithm::RS512 => public(&signature::RSA_PKCS1_2048_8192_SHA512),
                Algorithm::PS256 => public(&signature::RSA_PSS_2048_8192_SHA256),
                Algorithm::PS384 => public(&signature::RSA_PSS_2048_8192_SHA384),
                Algorithm::PS512 => public(&signature::RSA_PSS_2048_8192_SHA512),
                Algorithm::ES256 => public(&signature::ECDSA_P256_SHA256_FIXED),
                Algorithm::ES384 => public(&signature::ECDSA_P384_SHA384_FIXED),
                Algorithm::EdDSA => public(&signature::ED25519),
                _ => None,
            }
        }

        /// HMAC tags are compared in constant time by aws-lc-rs.
        pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
            match self {
                Self::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
                Self::Public(key) => key.verify_sig(message, signature).is_ok(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;

    #[test]
    fn secret_cannot_be_used_with_an_asymmetric_algorithm() {
        let err = VerifyingKey::hmac(Algorithm::RS256, &[7; 64]).unwrap_err();
        assert_eq!(err, KeyError::WrongKeyType(Algorithm::RS256));
    }

    #[test]
    fn rsa_pem_under_2048_bits_is_refused() {
        // `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 | openssl pkey -pubout`
        let pem = b"-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC3w7suAWv6MSadi4WV4+o2UP58
b+xpIz+Z7xw4ZBJPcarQXuUP8kdqy3zhq17etZKdOr8lpaig+v1yo2PIjx/7WCLp
iQ+gJLss2bp0NhbJoADI+zWR9FRAUbsEJk7BuNOUmK60T0CtSPwFoQ7fdSohb64Z
1M+ejPdRX7LTihxm1wIDAQAB
-----END PUBLIC KEY-----
";
        for alg in [Algorithm::RS256, Algorithm::PS512] {
            assert_eq!(
                VerifyingKey::from_pem(alg, pem).unwrap_err(),
                KeyError::WeakRsaKey { bits: 1024 }
            );
        }
    }

    /// The keys parsed once (aws-lc-rs) answer exactly as jsonwebtoken's
    /// per-check verifiers do, for valid and damaged signatures.
    #[cfg(feature = "aws_lc_rs")]
    #[test]
    fn prepared_keys_agree_with_the_backend() {
        const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/keys/");
        let pem = |name: &str| std::fs::read(format!("{KEYS}{name}")).unwrap();
        let secret = [7u8; 64];
        let mut pairs = vec![
            (
                SigningKey::hmac(Algorithm::HS256, &secret).unwrap(),
                VerifyingKey::hmac(Algorithm::HS256, &secret).unwrap(),
            ),
            (
                SigningKey::hmac(Algorithm::HS512, &secret).unwrap(),
                VerifyingKey::hmac(Algorithm::HS512, &secret).unwrap(),
            ),
        ];
        for (alg, private, public) in [
            (Algorithm::RS256, "rs256-private.pem", "rs256-public.pem"),
            (Algorithm::PS256, "rs256-private.pem", "rs256-public.pem"),
            (Algorithm::ES256, "es256-private.pem", "es256-public.pem"),
            (Algorithm::EdDSA, "eddsa-private.pem", "eddsa-public.pem"),
        ] {
            pairs.push((
                SigningKey::from_pem(alg, &pem(private)).unwrap(),
                VerifyingKey::from_pem(alg, &pem(public)).unwrap(),
            ));
        }
        for (signing, verifying) in pairs {
            assert!(verifying.prepared.is_some(), "{:?}", verifying.algorithm);
            let backend = |message: &[u8], signature: &Vec<u8>| {
                (PROVIDER.verifier_factory)(&verifying.algorithm, &verifying.key)
                    .unwrap()
                    .verify(message, signature)
                    .is_ok()
            };
            let good = signing.sign(b"message").unwrap();
            let mut flipped = good.clone();
            flipped[0] ^= 1;
            let short = good[..good.len() - 1].to_vec();
            for (message, signature, valid) in [
                (&b"message"[..], &good, true),
                (&b"messagf"[..], &good, false),
                (&b"message"[..], &flipped, false),
                (&b"message"[..], &short, false),
                (&b"message"[..], &Vec::new(), false),
            ] {
                assert_eq!(verifying.verify(message, signature), valid);
                assert_eq!(backend(message, signature), valid);
            }
        }
    }
}
