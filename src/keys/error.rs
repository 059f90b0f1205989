//! Why a key could not be built.

use std::fmt;

use jsonwebtoken::Algorithm;

/// Why a key could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// An HMAC secret shorter than [`min_hmac_secret_len`](super::min_hmac_secret_len).
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
