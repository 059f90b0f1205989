//! DPoP (RFC 9449): sender-constrained access tokens, verified.
//!
//! A DPoP-bound access token carries `cnf.jkt`, the RFC 7638 thumbprint of a
//! key only the client holds; each request comes with a fresh *proof*, a JWT
//! signed with that key naming the request's method and URI, a unique `jti`
//! and the hash of the token. A copied token is useless without the key.
//!
//! - [`check_proof`]: the whole proof check of RFC 9449 §4.3, pure.
//! - [`normalize_htu`], [`HtuOrigin`]: the request URI in RFC 3986 normal
//!   form, built from a configured external origin.
//! - [`ReplayStore`]: each proof `jti` accepted once, in memory
//!   ([`MemoryReplayStore`]) or shared through Redis (`RedisReplayStore`).
//! - [`NonceIssuer`]: stateless server nonces (RFC 9449 §8–9).
//!
//! ```
//! use std::time::Duration;
//! use tower_jwt_auth::Algorithm;
//! use tower_jwt_auth::dpop::DpopConfig;
//!
//! let config = DpopConfig::new()
//!     .algorithms([Algorithm::ES256, Algorithm::EdDSA])?
//!     .max_age(Duration::from_secs(30));
//! assert_eq!(config.algs_value(), "ES256 EdDSA");
//! // Symmetric algorithms cannot sign a proof anyone else could verify.
//! assert!(DpopConfig::new().algorithms([Algorithm::HS256]).is_err());
//! # Ok::<(), tower_jwt_auth::KeyError>(())
//! ```

mod htu;
mod nonce;
mod policy;
mod proof;
mod replay;

pub use htu::{HtuError, HtuOrigin, htu_matches, normalize_htu};
pub use nonce::{DEFAULT_NONCE_LIFETIME, NonceIssuer, NonceStatus};
pub use policy::{DpopMode, DpopPolicy};
pub use proof::{ProofRequest, VerifiedProof, access_token_hash, check_proof};
#[cfg(feature = "redis")]
pub use replay::RedisReplayStore;
pub use replay::{
    DEFAULT_REPLAY_CAPACITY, JtiUse, Mark, MarkFuture, MemoryReplayStore, ReplayStore,
    ReplayStoreError,
};

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, StatusCode};

use crate::keys::{Algorithm, KeyError, algorithm_name};

/// How long after its `iat` a proof is accepted by default (RFC 9449 §11.1).
pub const DEFAULT_PROOF_MAX_AGE: Duration = Duration::from_secs(60);
/// How far ahead of the server's clock a proof's `iat` may lie by default.
pub const DEFAULT_PROOF_FUTURE_LEEWAY: Duration = Duration::from_secs(5);
/// The longest proof `jti` accepted by default (RFC 9449 asks for at least
/// 96 random bits: 16 base64url characters, 36 for a UUID).
pub const DEFAULT_MAX_JTI_LEN: usize = 128;
/// The largest proof (bytes) decoded by default.
pub const DEFAULT_MAX_PROOF_LEN: usize = 8 * 1024;

/// The `DPoP` request header, named once (a name looked up by `&str` is
/// parsed on every lookup).
pub(crate) const DPOP_HEADER: HeaderName = HeaderName::from_static("dpop");

/// What a proof must look like: accepted algorithms, the `iat` window, the
/// bounds on its size and `jti`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpopConfig {
    algorithms: Arc<[Algorithm]>,
    max_age_secs: u64,
    future_leeway_secs: u64,
    max_jti_len: usize,
    max_proof_len: usize,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl DpopConfig {
    /// ES256, ES384, EdDSA, PS256/384/512 and RS256/384/512; proofs up to
    /// 60 s old and 5 s ahead; `jti` up to 128 bytes; proofs up to 8 KiB.
    pub fn new() -> Self {
        use Algorithm::{ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512};
        Self {
            algorithms: Arc::from([
                ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512,
            ]),
            max_age_secs: DEFAULT_PROOF_MAX_AGE.as_secs(),
            future_leeway_secs: DEFAULT_PROOF_FUTURE_LEEWAY.as_secs(),
            max_jti_len: DEFAULT_MAX_JTI_LEN,
            max_proof_len: DEFAULT_MAX_PROOF_LEN,
        }
    }

    /// The algorithms a proof may be signed with, in the order the
    /// challenge lists them. Asymmetric only: an HMAC algorithm is
    /// [`KeyError::WrongKeyType`].
    pub fn algorithms(
        mut self,
        algorithms: impl IntoIterator<Item = Algorithm>,
    ) -> Result<Self, KeyError> {
        let algorithms: Vec<Algorithm> = algorithms.into_iter().collect();
        if let Some(&alg) = algorithms.iter().find(|&&alg| {
            matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
                || algorithm_name(alg).is_none()
        }) {
            return Err(KeyError::WrongKeyType(alg));
        }
        self.algorithms = algorithms.into();
        Ok(self)
    }

    /// How long after its `iat` a proof is accepted (default 60 s); the
    /// replay store keeps each `jti` that long.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age_secs = max_age.as_secs();
        self
    }

    /// How far ahead of this server's clock a proof's `iat` may be (default 5 s).
    pub fn future_leeway(mut self, leeway: Duration) -> Self {
        self.future_leeway_secs = leeway.as_secs();
        self
    }

    /// The longest `jti` accepted, in bytes (default 128).
    pub fn max_jti_len(mut self, len: usize) -> Self {
        self.max_jti_len = len;
        self
    }

    /// The accepted algorithms.
    pub fn accepted_algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The accepted algorithms, space-separated, for `algs="…"` in a
    /// `WWW-Authenticate: DPoP` challenge and for
    /// `dpop_signing_alg_values_supported`.
    pub fn algs_value(&self) -> String {
        let names: Vec<&str> = self
            .algorithms
            .iter()
            .filter_map(|&alg| algorithm_name(alg))
            .collect();
        names.join(" ")
    }
}

/// Why a DPoP request was refused. The client sees only
/// [`error_code`](Self::error_code); this detail is for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopError {
    /// No `DPoP` header where one is needed (400 `invalid_request`).
    MissingProof,
    /// More than one `DPoP` header, or one that is not visible ASCII
    /// (400 `invalid_request`).
    MultipleProofs,
    /// Longer than the configured cap; nothing was decoded.
    ProofTooLarge,
    /// Not a compact JWS with JSON-object header and claims, or a required
    /// claim (`htm`, `htu`, `iat`) missing or mistyped.
    MalformedProof,
    /// `typ` is not `dpop+jwt`, or the header carries `crit`.
    WrongType,
    /// `alg` is not one of the configured algorithms.
    UnsupportedAlgorithm,
    /// `jwk` is missing, or is not a key for `alg` (type, curve, size).
    UnsuitableKey,
    /// `jwk` carries private key material.
    PrivateKey,
    /// The signature does not verify under `jwk`.
    InvalidSignature,
    /// `jti` missing, empty or longer than the configured cap.
    InvalidJti,
    /// `htm` is not the request's method.
    MethodMismatch,
    /// `htu` is not the request's URI.
    UriMismatch,
    /// `iat` is older than the max age, or too far in the future.
    IssuedAtOutOfWindow,
    /// `ath` is missing or is not the hash of the presented access token.
    AccessTokenHashMismatch,
    /// This proof's `jti` was used before.
    Replayed,
    /// A server nonce is required and the proof has none, an expired one or
    /// a forged one (401 `use_dpop_nonce` with a fresh `DPoP-Nonce`).
    UseNonce,
    /// The proof key is not the key the token is bound to (`cnf.jkt`).
    KeyNotBound,
    /// The `DPoP` scheme was used with a token bound to no key.
    TokenNotBound,
    /// A DPoP-bound token was presented with the `Bearer` scheme (RFC 9449 §7.2).
    BoundTokenAsBearer,
    /// The replay store could not answer (503).
    ReplayStoreUnavailable,
}

impl DpopError {
    /// The error code the client sees: `invalid_request`,
    /// `invalid_dpop_proof`, `use_dpop_nonce` or `invalid_token`; none for a
    /// store that could not answer.
    pub const fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingProof | Self::MultipleProofs => Some("invalid_request"),
            Self::UseNonce => Some("use_dpop_nonce"),
            Self::KeyNotBound | Self::TokenNotBound | Self::BoundTokenAsBearer => {
                Some("invalid_token")
            }
            Self::ReplayStoreUnavailable => None,
            _ => Some("invalid_dpop_proof"),
        }
    }

    /// 400 for `invalid_request`, 503 for an unavailable store, else 401.
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::MissingProof | Self::MultipleProofs => StatusCode::BAD_REQUEST,
            Self::ReplayStoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl fmt::Display for DpopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingProof => "no DPoP proof",
            Self::MultipleProofs => "more than one DPoP header",
            Self::ProofTooLarge => "DPoP proof exceeds the size cap",
            Self::MalformedProof => "DPoP proof is not a well-formed JWT with htm, htu and iat",
            Self::WrongType => "DPoP proof typ is not dpop+jwt, or it carries crit",
            Self::UnsupportedAlgorithm => "DPoP proof alg is not accepted",
            Self::UnsuitableKey => "DPoP proof jwk is missing or does not suit its alg",
            Self::PrivateKey => "DPoP proof jwk carries private key material",
            Self::InvalidSignature => "DPoP proof signature does not verify",
            Self::InvalidJti => "DPoP proof jti missing, empty or too long",
            Self::MethodMismatch => "DPoP proof htm is not the request method",
            Self::UriMismatch => "DPoP proof htu is not the request URI",
            Self::IssuedAtOutOfWindow => "DPoP proof iat outside the accepted window",
            Self::AccessTokenHashMismatch => "DPoP proof ath missing or not the token's hash",
            Self::Replayed => "DPoP proof jti used before",
            Self::UseNonce => "DPoP proof lacks a valid server nonce",
            Self::KeyNotBound => "DPoP proof key is not the key the token is bound to",
            Self::TokenNotBound => "DPoP scheme with a token bound to no key",
            Self::BoundTokenAsBearer => "DPoP-bound token presented as Bearer",
            Self::ReplayStoreUnavailable => "DPoP replay store unavailable",
        })
    }
}

impl std::error::Error for DpopError {}
