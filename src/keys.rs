//! Keys, each bound to exactly one algorithm.
//!
//! The algorithm a token is verified with comes from the key that verifies it,
//! never from the token's header: a header whose `alg` differs from the key's
//! is rejected before any cryptography runs. There is no way to build a key
//! for `none`, so unsigned tokens cannot be accepted.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyOperations, PublicKeyUse};
use jsonwebtoken::{DecodingKey, EncodingKey};

use crate::rejection::AuthErrorKind;

// With both backends enabled (as `--all-features` does), aws-lc-rs is used.
#[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
compile_error!("enable one crypto backend: `aws_lc_rs` (default) or `rust_crypto`");

#[cfg(feature = "aws_lc_rs")]
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER as PROVIDER;
#[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as PROVIDER;

/// The shortest HMAC secret accepted for `alg`: the hash's output size
/// (RFC 7518 §3.2) — 32 bytes for HS256, 48 for HS384, 64 for HS512.
pub const fn min_hmac_secret_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

/// Why a key could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// An HMAC secret shorter than [`min_hmac_secret_len`].
    SecretTooShort {
        /// The algorithm the secret was meant for.
        algorithm: Algorithm,
        /// The minimum length in bytes.
        min_len: usize,
    },
    /// The algorithm needs a different kind of key (a secret for HS*, a PEM for
    /// the others).
    WrongKeyType(Algorithm),
    /// The PEM could not be parsed as a key for this algorithm.
    InvalidPem(Algorithm),
    /// No algorithm has this name.
    UnknownAlgorithm(String),
    /// Two verifying keys share one `kid`.
    DuplicateKid(String),
    /// An RSA key whose modulus is shorter than the 2048 bits RFC 7518 §3.3
    /// requires.
    WeakRsaKey {
        /// The modulus size in bits.
        bits: usize,
    },
    /// The JWK cannot verify `algorithm`: its `alg`, `use`, `key_ops`, `kty`
    /// or curve says otherwise, or its components do not decode.
    UnsuitableJwk {
        /// The algorithm the key was meant for.
        algorithm: Algorithm,
        /// What is wrong with it (for logs; names no key material).
        reason: &'static str,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretTooShort { algorithm, min_len } => write!(
                f,
                "{algorithm:?} needs a secret of at least {min_len} bytes"
            ),
            Self::WrongKeyType(alg) => write!(f, "{alg:?} cannot use this kind of key"),
            Self::InvalidPem(alg) => write!(f, "the PEM is not a valid {alg:?} key"),
            Self::UnknownAlgorithm(name) => write!(f, "unknown algorithm `{name}`"),
            Self::DuplicateKid(kid) => write!(f, "two keys share the kid `{kid}`"),
            Self::WeakRsaKey { bits } => {
                write!(f, "a {bits}-bit RSA key is too short (at least 2048 bits)")
            }
            Self::UnsuitableJwk { algorithm, reason } => {
                write!(f, "the JWK cannot verify {algorithm:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for KeyError {}

/// Parses an algorithm name as it appears in a JWS header (`"HS256"`, `"EdDSA"`…).
pub fn parse_algorithm(name: &str) -> Result<Algorithm, KeyError> {
    name.parse()
        .map_err(|_| KeyError::UnknownAlgorithm(name.to_owned()))
}

/// The `alg` header value of `alg`; `None` for an algorithm this crate
/// does not know (jsonwebtoken's enum is non-exhaustive).
pub(crate) const fn algorithm_name(alg: Algorithm) -> Option<&'static str> {
    Some(match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        _ => return None,
    })
}

const fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

const fn is_rsa(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
    )
}

/// The modulus size of an RSA public key: from its components, or from the
/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, … }` a PEM yields.
fn rsa_modulus_bits(key: &DecodingKey) -> Option<usize> {
    match key.kind() {
        jsonwebtoken::DecodingKeyKind::RsaModulusExponent { n, .. } => Some(modulus_bits(n)),
        jsonwebtoken::DecodingKeyKind::SecretOrDer(der) => {
            let (0x30, sequence, _) = read_tlv(der)? else {
                return None;
            };
            let (0x02, n, _) = read_tlv(sequence)? else {
                return None;
            };
            Some(modulus_bits(n))
        }
    }
}

/// The modulus size of a PKCS#1 `RSAPrivateKey` in DER.
fn rsa_private_modulus_bits(der: &[u8]) -> Option<usize> {
    let (0x30, sequence, _) = read_tlv(der)? else {
        return None;
    };
    let (0x02, _version, rest) = read_tlv(sequence)? else {
        return None;
    };
    let (0x02, n, _) = read_tlv(rest)? else {
        return None;
    };
    Some(modulus_bits(n))
}

/// The size in bits of a big-endian unsigned integer (an RSA modulus).
fn modulus_bits(n: &[u8]) -> usize {
    match n.iter().position(|&b| b != 0) {
        Some(first) => (n.len() - first - 1) * 8 + (8 - n[first].leading_zeros() as usize),
        None => 0,
    }
}

fn check_secret(alg: Algorithm, secret: &[u8]) -> Result<(), KeyError> {
    if !is_hmac(alg) {
        return Err(KeyError::WrongKeyType(alg));
    }
    let min_len = min_hmac_secret_len(alg);
    if secret.len() < min_len {
        return Err(KeyError::SecretTooShort {
            algorithm: alg,
            min_len,
        });
    }
    Ok(())
}

/// jsonwebtoken's JWK helpers use its process-wide provider, which it
/// cannot choose itself when both backends are compiled in: make it ours.
fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = PROVIDER.install_default();
    });
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url.
fn thumbprint(jwk: &Jwk) -> Option<String> {
    jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .ok()
}

/// A public JWK for publishing: `use: "sig"` and a `kid` (the given one, or
/// the thumbprint), nothing private.
fn named_public(mut jwk: Jwk, kid: Option<&str>) -> Jwk {
    let kid = kid.map(str::to_owned).or_else(|| thumbprint(&jwk));
    jwk.common.key_id = kid;
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk
}

// ===== impl SigningKey =====

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
    /// [`min_hmac_secret_len`] bytes.
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

/// Wraps a SEC1 `EC PRIVATE KEY` PEM (RFC 5915) into PKCS#8 DER (RFC 5208),
/// the only EC private-key form the crypto backends read. `None` when `pem`
/// is not a SEC1 PEM; the caller then parses it as PKCS#8.
fn sec1_to_pkcs8(algorithm: Algorithm, pem: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

    let text = std::str::from_utf8(pem).ok()?;
    let body = text
        .split("-----BEGIN EC PRIVATE KEY-----")
        .nth(1)?
        .split("-----END EC PRIVATE KEY-----")
        .next()?;
    let body: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let sec1 = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let sec1 = without_curve_parameters(&sec1)?;
    let curve = if algorithm == Algorithm::ES256 {
        P256
    } else {
        P384
    };

    let algorithm_id = der(0x30, &[EC_PUBLIC_KEY, curve].concat());
    let content = [&[0x02, 0x01, 0x00][..], &algorithm_id, &der(0x04, &sec1)].concat();
    Some(der(0x30, &content))
}

/// The SEC1 `ECPrivateKey` without its optional `[0]` curve parameters, which
/// PKCS#8 carries in the algorithm identifier instead (and backends refuse twice).
fn without_curve_parameters(sec1: &[u8]) -> Option<Vec<u8>> {
    let (tag, mut content, rest) = read_tlv(sec1)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let mut kept = Vec::with_capacity(content.len());
    while !content.is_empty() {
        let (tag, _, rest) = read_tlv(content)?;
        let whole = &content[..content.len() - rest.len()];
        if tag != 0xa0 {
            kept.extend_from_slice(whole);
        }
        content = rest;
    }
    Some(der(0x30, &kept))
}

/// Splits one DER TLV (definite length up to 2 bytes) off `input`:
/// `(tag, content, rest)`.
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, input) = input.split_first()?;
    let (len, input) = match first {
        0..=0x7f => (usize::from(first), input),
        0x81 => (usize::from(*input.first()?), &input[1..]),
        0x82 => (
            usize::from(*input.first()?) << 8 | usize::from(*input.get(1)?),
            input.get(2..)?,
        ),
        _ => return None,
    };
    let content = input.get(..len)?;
    Some((tag, content, &input[len..]))
}

/// One DER TLV with a definite length.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 4);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

// ===== impl VerifyingKey =====

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
    /// [`min_hmac_secret_len`] bytes.
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
    /// HMAC secrets are still held to [`min_hmac_secret_len`], RSA keys to
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

    /// A key from a JSON Web Key (RFC 7517), for `algorithm`: `oct` for HS*,
    /// `RSA` for RS*/PS*, `EC` on P-256/P-384 for ES256/ES384, `OKP` Ed25519
    /// for EdDSA. The JWK's `kid`, when present, becomes this key's `kid`.
    ///
    /// Everything the JWK says about its purpose is enforced, so a key
    /// published for something else cannot be turned to verifying tokens:
    /// an `alg` other than `algorithm`, a `use` other than `sig`, or
    /// `key_ops` without `verify` is refused (RFC 7517 §4.2–4.4). So are an
    /// RSA modulus under 2048 bits, EC coordinates of the wrong size for the
    /// curve, and HMAC secrets shorter than [`min_hmac_secret_len`]. Private
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
                DecodingKey::from_ed_components(&okp.x).map_err(undecodable)?
            }
            _ => return Err(unsuitable("its `kty` or curve does not suit the algorithm")),
        };
        let key = Self::from_decoding_key(algorithm, &key)?;
        Ok(match &common.key_id {
            Some(kid) => key.with_kid(kid.clone()),
            None => key,
        })
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

// ===== impl KeySet =====

/// The keys a [`Verifier`](crate::Verifier) accepts.
///
/// Rotation: sign with the new key, and list the new and the old verifying
/// keys here, each with its `kid`, until the old tokens have expired. A token
/// with a `kid` is checked only against the key of that `kid` (an unknown
/// `kid` is refused); a token without one only against the primary (first)
/// key. When no key has a `kid`, the header's `kid` is ignored.
#[derive(Debug, Clone)]
pub struct KeySet {
    primary: Arc<VerifyingKey>,
    by_kid: HashMap<String, Arc<VerifyingKey>>,
}

impl KeySet {
    /// A set whose primary key is `key`.
    pub fn new(key: VerifyingKey) -> Self {
        let primary = Arc::new(key);
        let mut by_kid = HashMap::new();
        if let Some(kid) = primary.kid() {
            by_kid.insert(kid.to_owned(), Arc::clone(&primary));
        }
        Self { primary, by_kid }
    }

    /// Adds a key that tokens select by its `kid`. A key without a `kid`, or
    /// whose `kid` is already taken, is refused.
    pub fn with_key(mut self, key: VerifyingKey) -> Result<Self, KeyError> {
        let Some(kid) = key.kid().map(str::to_owned) else {
            return Err(KeyError::DuplicateKid(String::new()));
        };
        if self.by_kid.contains_key(&kid) {
            return Err(KeyError::DuplicateKid(kid));
        }
        self.by_kid.insert(kid, Arc::new(key));
        Ok(self)
    }

    /// The key a token with header `kid` must be verified with, if any.
    ///
    /// A set of one unnamed key ignores the header's `kid`: there is nothing
    /// to choose between, and the signature check still decides.
    pub(crate) fn select(&self, kid: Option<&str>) -> Option<&VerifyingKey> {
        match kid {
            Some(kid) if !self.by_kid.is_empty() => self.by_kid.get(kid).map(Arc::as_ref),
            _ => Some(&self.primary),
        }
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.by_kid.len() + usize::from(self.primary.kid().is_none())
    }

    /// Never true: a set holds at least its primary key.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The primary key's algorithm.
    pub fn primary_algorithm(&self) -> Algorithm {
        self.primary.algorithm()
    }
}

impl From<VerifyingKey> for KeySet {
    fn from(key: VerifyingKey) -> Self {
        Self::new(key)
    }
}

// ===== impl KeySource =====

/// A future that completes when a refetch of remote keys has finished.
pub(crate) type KeysRefetch = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where a [`Verifier`](crate::Verifier)'s keys come from: a [`KeySet`] (or
/// one [`VerifyingKey`]) held in memory, or, with the `jwks` feature, a
/// [`RemoteJwks`](crate::jwks::RemoteJwks) kept current from an issuer.
#[derive(Clone, Debug)]
pub struct KeySource(Source);

#[derive(Clone, Debug)]
enum Source {
    Local(KeySet),
    #[cfg(feature = "jwks")]
    Remote(crate::jwks::RemoteJwks),
}

impl KeySource {
    /// Runs `f` with the key a token with header `kid` must be verified with.
    pub(crate) fn with_key<R>(
        &self,
        kid: Option<&str>,
        f: impl FnOnce(&VerifyingKey) -> R,
    ) -> Result<R, AuthErrorKind> {
        match &self.0 {
            Source::Local(keys) => keys.select(kid).map(f).ok_or(AuthErrorKind::UnknownKey),
            #[cfg(feature = "jwks")]
            Source::Remote(remote) => remote.with_key(kid, f),
        }
    }

    /// Changes whenever a key may have left the set (never, for local keys).
    pub(crate) fn epoch(&self) -> u64 {
        match &self.0 {
            Source::Local(_) => 0,
            #[cfg(feature = "jwks")]
            Source::Remote(remote) => remote.epoch(),
        }
    }

    /// A refetch for a token whose `kid` is unknown, when one may be made now.
    pub(crate) fn refetch(&self) -> Option<KeysRefetch> {
        match &self.0 {
            Source::Local(_) => None,
            #[cfg(feature = "jwks")]
            Source::Remote(remote) => remote.refetch_for_unknown_kid(),
        }
    }
}

impl From<KeySet> for KeySource {
    fn from(keys: KeySet) -> Self {
        Self(Source::Local(keys))
    }
}

impl From<VerifyingKey> for KeySource {
    fn from(key: VerifyingKey) -> Self {
        Self(Source::Local(KeySet::new(key)))
    }
}

#[cfg(feature = "jwks")]
impl From<crate::jwks::RemoteJwks> for KeySource {
    fn from(remote: crate::jwks::RemoteJwks) -> Self {
        Self(Source::Remote(remote))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64_URL;

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
    fn secret_cannot_be_used_with_an_asymmetric_algorithm() {
        let err = VerifyingKey::hmac(Algorithm::RS256, &[7; 64]).unwrap_err();
        assert_eq!(err, KeyError::WrongKeyType(Algorithm::RS256));
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

    #[test]
    fn unknown_algorithm_name_is_an_error() {
        assert!(parse_algorithm("none").is_err());
        assert!(parse_algorithm("hs256").is_err());
        assert_eq!(parse_algorithm("EdDSA").unwrap(), Algorithm::EdDSA);
    }
}
