//! Signing keys: a private key (or HMAC secret) bound to one algorithm.

use std::fmt;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};

use super::algorithm::{check_secret, is_hmac, is_rsa};
use super::backend::{PROVIDER, install_provider};
use super::der::{rsa_private_modulus_bits, sec1_to_pkcs8};
use super::error::KeyError;
use super::thumbprint::{named_public, thumbprint};

/// A private key (or HMAC secret) bound to one algorithm, used to sign tokens.
///
/// `Debug` shows the algorithm and `kid`, never key material. `Clone` copies
/// the key (a [`KeyRing`](crate::KeyRing) hands its current key to a
/// [`TokenIssuer`](crate::TokenIssuer)).
#[derive(Clone)]
pub struct SigningKey {
    algorithm: Algorithm,
    kid: Option<String>,
    key: EncodingKey,
}

impl SigningKey {
    /// An HMAC key (HS256/384/512) from a secret of at least
    /// [`min_hmac_secret_len`](super::min_hmac_secret_len) bytes.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        check_secret(algorithm, secret)?;
        Self::build(algorithm, EncodingKey::from_secret(secret))
    }

    /// A private key in PEM form for an RS*, PS*, ES* or EdDSA algorithm:
    /// PKCS#8 (`PRIVATE KEY`) for all, also PKCS#1 (`RSA PRIVATE KEY`) for RSA
    /// and SEC1 (`EC PRIVATE KEY`, as `openssl ecparam -genkey` writes) for EC.
    /// RSA keys must have at least 2048 bits (RFC 7518 §3.3).
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let invalid = |_| KeyError::InvalidPem(algorithm);
        let key = match algorithm {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => EncodingKey::from_rsa_pem(pem).map_err(invalid)?,
            Algorithm::ES256 | Algorithm::ES384 => match sec1_to_pkcs8(algorithm, pem) {
                Some(pkcs8) => EncodingKey::from_ec_der(&pkcs8),
                None => EncodingKey::from_ec_pem(pem).map_err(invalid)?,
            },
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem).map_err(invalid)?,
            _ => return Err(KeyError::WrongKeyType(algorithm)),
        };
        Self::build(algorithm, key)
    }

    fn build(algorithm: Algorithm, key: EncodingKey) -> Result<Self, KeyError> {
        // Building the backend's signer once proves the key suits the algorithm.
        (PROVIDER.signer_factory)(&algorithm, &key).map_err(|_| KeyError::InvalidPem(algorithm))?;
        // RFC 7518 §3.3, as for verifying keys: a PKCS#1 `RSAPrivateKey ::=
        // SEQUENCE { version INTEGER, modulus INTEGER, … }`.
        if is_rsa(algorithm) {
            let bits =
                rsa_private_modulus_bits(key.as_bytes()).ok_or(KeyError::InvalidPem(algorithm))?;
            if bits < 2048 {
                return Err(KeyError::WeakRsaKey { bits });
            }
        }
        Ok(Self {
            algorithm,
            kid: None,
            key,
        })
    }

    /// Names this key; the `kid` is written into every token it signs.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm this key signs with.
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public half as a JWK (`alg`, `use: "sig"`, and `kid`: this key's,
    /// or its RFC 7638 thumbprint); `None` for an HMAC secret, which is never
    /// published.
    pub fn public_jwk(&self) -> Option<Jwk> {
        if is_hmac(self.algorithm) {
            return None;
        }
        install_provider();
        let jwk = Jwk::from_encoding_key(&self.key, self.algorithm).ok()?;
        Some(named_public(jwk, self.kid.as_deref()))
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key (base64url); `None`
    /// for HMAC. It is the `kid` minted into tokens when the key is unnamed.
    pub fn thumbprint(&self) -> Option<String> {
        if is_hmac(self.algorithm) {
            return None;
        }
        install_provider();
        Jwk::from_encoding_key(&self.key, self.algorithm)
            .ok()
            .and_then(|jwk| thumbprint(&jwk))
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let signer = (PROVIDER.signer_factory)(&self.algorithm, &self.key).ok()?;
        signer.try_sign(message).ok()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::VerifyingKey;

    #[test]
    fn hmac_secret_shorter_than_hash_is_refused() {
        let err = SigningKey::hmac(Algorithm::HS256, &[7; 31]).unwrap_err();
        assert_eq!(
            err,
            KeyError::SecretTooShort {
                algorithm: Algorithm::HS256,
                min_len: 32
            }
        );
        assert!(VerifyingKey::hmac(Algorithm::HS512, &[7; 63]).is_err());
        assert!(VerifyingKey::hmac(Algorithm::HS512, &[7; 64]).is_ok());
    }

    #[test]
    fn debug_never_shows_key_material() {
        let secret = b"0123456789abcdef0123456789abcdef-very-secret";
        let key = SigningKey::hmac(Algorithm::HS256, secret).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        let shown = format!(
            "{:?}",
            VerifyingKey::hmac(Algorithm::HS256, secret).unwrap()
        );
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn sec1_ec_private_key_is_accepted_and_matches_its_public_key() {
        // `openssl ecparam -genkey -name prime256v1 -noout` and `openssl ec -pubout`.
        let private = b"-----BEGIN EC PRIVATE KEY-----
MHcCAQEEINRkpvZnrtqeM81jkqJtEDDE60rRCTmd3GwIGUC1nmRtoAoGCCqGSM49
AwEHoUQDQgAEv96ueJ8IPcJEqUPPdBS7IMUY34CptjTPPU5fbr2+9gDg5Otg0I+j
9SoFUlCNAzvKy4VBJ0ScPYrkh5vz9CaB5g==
-----END EC PRIVATE KEY-----
";
        let public = b"-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEv96ueJ8IPcJEqUPPdBS7IMUY34Cp
tjTPPU5fbr2+9gDg5Otg0I+j9SoFUlCNAzvKy4VBJ0ScPYrkh5vz9CaB5g==
-----END PUBLIC KEY-----
";
        let signing = SigningKey::from_pem(Algorithm::ES256, private).unwrap();
        let verifying = VerifyingKey::from_pem(Algorithm::ES256, public).unwrap();
        let signature = signing.sign(b"message").unwrap();
        assert!(verifying.verify(b"message", &signature));
        assert!(!verifying.verify(b"other", &signature));
        assert!(
            SigningKey::from_pem(Algorithm::ES384, private).is_err(),
            "wrong curve"
        );
    }

    #[test]
    fn rsa_private_pem_under_2048_bits_is_refused() {
        // `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024`
        let pem = b"-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAMQPe4jVYKT70MJ7
tLHpVcM9D5nUI4nzOBMKhZipX6F8I16OceW73Us0eiOeCuaULxaQYTic/wi7hHuV
Q/Cl3McNEKUxpMdEfzGQwzvDkX9F1VfGhJrrzV8VhHsnFhLRg+PPBfN+D1rr28GY
ZzKHpHnV3OoyfP4Q71w2sgT5B07hAgMBAAECgYB+y8SI6fZmvLR2Eqr5pH3ilkrQ
oXGadcF+Dv/3ixJdzXrSXC0s9iJX0Mhs4HkMRilt3lIB2wbVDvDPO+mEaMAumOyc
bbVOb5RJ1qS03ziaAG2NB48Sg1lG/MoSbVfKjpzEgPW+PlmT6R9u0oPz4PDLD94C
EoVR+SQV2zGzi+WQAQJBAO2cXQoJSa4Wljt6d+mvPa1pljM1KwQZTGiap/8a2ULS
8NffUXStuTBhDI+F1XUMRRETxOHfL0bdCZrNjkaYK7ECQQDTO+iD42oJZOCnoWlG
hc/9Ew5G5DPHvayu77mAcSzDH2Pa3rzIAV1Lc/2yRh7nRYGX/Ivxkw22IIjs1NDH
vJIxAkBwkF3HLmU4UrzzCm6aRwl6CIY+Vha9x1paR8IEaWy5aoLsUYAePVp439D6
gRWBcMGbeHkR5BBaisZNDsozCU3RAkB9ukrLNbEHpmORYyGmOD90AsOcrneji+Ic
vdNMABEEksp8m9cBtM4y+vcmBVafkV9xd4BUaZLftL3LOWCLglIBAkEAoTbK7QtO
0my/1iglMg9LAf8gkSUOU4x/+Xva0zWIS3MWFESrCz05MHuPKKJKiHOvTGuy9Ikv
ryhkCxFeMfIlUA==
-----END PRIVATE KEY-----
";
        assert_eq!(
            SigningKey::from_pem(Algorithm::RS256, pem).unwrap_err(),
            KeyError::WeakRsaKey { bits: 1024 }
        );
    }
}
