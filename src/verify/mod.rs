//! `Verifier`: the whole token check, pure and without I/O.
//!
//! Order of checks (each refuses before the next runs):
//! 1. raw length ≤ the cap, before any decoding;
//! 2. three base64url segments; the header is a UTF-8 JSON object;
//! 3. no `crit`, an accepted `typ` (the RFC 9068 profile: `at+jwt` only);
//! 4. with several trusted issuers, the payload's `iss` picks one; then the
//!    key, from that issuer's keys only: by `kid`, or the primary key when
//!    there is none;
//! 5. header `alg` equals the key's algorithm — the algorithm comes from the key;
//! 6. the signature, before the payload is decoded;
//! 7. claims (a UTF-8 JSON object): `exp` (required, a number), `nbf` and `iat` not in the future,
//!    `iss` when configured, `aud` (must name us when present; required when
//!    configured), the token type, the subject and what else the
//!    [`TokenProfile`](crate::TokenProfile) requires, no claim name twice.

mod cached;
mod checks;
mod issuers;
mod registered;
mod signature;

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::cache::{DEFAULT_VERIFIED_CACHE_CAPACITY, VerifiedCache};
use crate::claims::{Claims, TokenType};
use crate::config::JwtConfig;
use crate::keys::KeySource;
use crate::rejection::AuthError;

pub use issuers::IssuersError;

/// Verifies tokens against a [`KeySet`](crate::KeySet) (or a remote key set)
/// and a [`JwtConfig`], or against several trusted issuers
/// ([`any_of`](Self::any_of)). Cheap to clone.
///
/// ```
/// use tower_jwt_auth::{Algorithm, JwtConfig, SigningKey, TokenIssuer, TokenType, Verifier, VerifyingKey};
///
/// let secret = b"an example secret of at least 32 bytes!";
/// let config = JwtConfig::new().audience("api");
/// let issuer = TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, config.clone());
/// let verifier = Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, config);
///
/// let token = issuer.access_token("alice", &tower_jwt_auth::NoCustomClaims {})?;
/// let claims = verifier.verify::<tower_jwt_auth::NoCustomClaims>(&token, TokenType::Access)?;
/// assert_eq!(claims.sub, "alice");
/// assert!(verifier.verify::<tower_jwt_auth::NoCustomClaims>(&token, TokenType::Refresh).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # The verified-token cache
///
/// The verifier remembers up to [`DEFAULT_VERIFIED_CACHE_CAPACITY`] tokens
/// that passed every check, keyed by the whole token: presented again, such a
/// token skips the signature math (tens of microseconds for RS256, ES256,
/// EdDSA) and, through the auth layer, the payload parsing (a few
/// microseconds, which is why HMAC keys gain from it too), while its `exp`,
/// `nbf` and token type are checked again at the current time and the auth
/// layer still asks the revocation store. A token that differs in any byte
/// misses the cache. [`verified_cache`](Self::verified_cache) sets the
/// capacity, `0` turns it off.
#[derive(Clone, Debug)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The trusted issuers, each with its own keys and rules. With one, a
    /// token is checked against it alone (its `iss` only when configured);
    /// with several, the token's `iss` picks exactly one of them.
    issuers: Box<[Trusted]>,
    cache: Option<VerifiedCache>,
}

/// One trusted issuer: where its keys come from and what its tokens carry.
#[derive(Debug, Clone)]
struct Trusted {
    keys: KeySource,
    config: JwtConfig,
}

impl Verifier {
    /// A verifier for tokens signed by any key of `keys` (a [`KeySet`](crate::KeySet), one
    /// [`VerifyingKey`](crate::VerifyingKey), or a remote key set), with the
    /// verified-token cache on. With remote keys, prefer
    /// [`try_new`](Self::try_new): it refuses a configuration without an
    /// issuer, which checks no `iss` at all.
    pub fn new(keys: impl Into<KeySource>, config: JwtConfig) -> Self {
        Self::from_issuers(
            Box::new([Trusted {
                keys: keys.into(),
                config,
            }]),
            DEFAULT_VERIFIED_CACHE_CAPACITY,
        )
    }

    fn from_issuers(issuers: Box<[Trusted]>, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                issuers,
                cache: (capacity > 0).then(|| VerifiedCache::new(capacity)),
            }),
        }
    }

    /// Remember up to `capacity` verified tokens (see [the
    /// cache](Self#the-verified-token-cache)); `0` turns the cache off, so
    /// every token is verified in full. Call it before cloning the verifier:
    /// it replaces the cache of this handle only.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, JwtConfig, Verifier, VerifyingKey};
    ///
    /// let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
    /// let verifier = Verifier::new(key, JwtConfig::new()).verified_cache(10_000);
    /// assert_eq!(verifier.verified_cache_capacity(), 10_000);
    /// let verifier = verifier.verified_cache(0);
    /// assert_eq!(verifier.verified_cache_capacity(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verified_cache(self, capacity: usize) -> Self {
        Self::from_issuers(self.inner.issuers.clone(), capacity)
    }

    /// The most tokens the verified-token cache holds; `0` when it is off.
    pub fn verified_cache_capacity(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, VerifiedCache::capacity)
    }

    /// The verified-token cache's entries and weight in bytes now; `None`
    /// when it is off.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn verified_cache_size(&self) -> Option<(usize, u64)> {
        self.inner
            .cache
            .as_ref()
            .map(|cache| (cache.len(), cache.weight()))
    }

    /// How many tokens the verified-token cache holds now.
    #[cfg(test)]
    pub(crate) fn verified_cache_len(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, VerifiedCache::len)
    }

    /// The configuration tokens are checked against (the first issuer's,
    /// when there are several).
    pub fn config(&self) -> &JwtConfig {
        &self.inner.issuers[0].config
    }

    /// Each trusted issuer's name (when configured) with the issuer its keys
    /// were discovered from (when they were): what an OpenAPI security
    /// scheme describes.
    pub(crate) fn key_origins(&self) -> impl Iterator<Item = (Option<&str>, Option<&str>)> {
        self.inner
            .issuers
            .iter()
            .map(|issuer| (issuer.config.issuer_name(), issuer.keys.discovered_issuer()))
    }

    /// The largest leeway of any trusted issuer: how long past `exp` this
    /// verifier may accept a token, so how long a revocation must be kept.
    pub(crate) fn max_leeway_secs(&self) -> u64 {
        self.inner
            .issuers
            .iter()
            .map(|issuer| issuer.config.leeway_secs())
            .max()
            .unwrap_or(0)
    }

    /// Verifies `token` completely (except revocation, which needs a store)
    /// as a token of type `expected`, at the configured clock's time.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        expected: TokenType,
    ) -> Result<Claims<T>, AuthError> {
        self.verify_at(token, expected, self.config().clock.now_secs())
    }

    /// Checks only the JWS layer (steps 1–6: size, structure, header, key,
    /// `alg`, signature) and returns the decoded payload, which need not be
    /// JSON. For signed objects that are not claims; tokens go through
    /// [`verify`](Self::verify).
    pub fn verify_jws(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        self.verify_signed(token, None)
            .map(|(payload, _, _)| payload)
    }
}
