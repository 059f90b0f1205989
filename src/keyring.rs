//! `KeyRing`: signing-key rotation without logging anyone out.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use crate::config::JwtConfig;
use crate::keys::{Jwk, KeyError, KeySet, SigningKey, VerifyingKey, parse_algorithm};
use crate::publish::JwkSet;

/// Why the ring refused a change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRingError {
    /// [`KeyRing::rotate`] with no staged key.
    NothingStaged,
    /// A key could not be turned into a verifying key.
    Key(KeyError),
}

impl fmt::Display for KeyRingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NothingStaged => f.write_str("no next key is staged"),
            Self::Key(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for KeyRingError {}

/// `KeyRing`: signing-key rotation without logging anyone out.
///
/// One current signing key, optionally a next key that is published but does
/// not sign yet, and retired keys that still verify until the last token they
/// signed would have expired. The schedule, and why:
///
/// 1. **Stage** the next key ([`KeyRing::stage`]): it appears in the JWK Set
///    at once. Verifiers that cache the set for `max-age` (the
///    `Cache-Control` the set is served with) learn it within that time.
/// 2. **Rotate** ([`KeyRing::rotate`]) no sooner than `max-age` after
///    staging: the next key signs from now on, so every verifier already
///    knows it (ours would also refetch once on the unknown `kid`).
/// 3. The old key is **retired**: it still verifies, and stays published,
///    until `rotation time + longest token lifetime + leeway` — the longest
///    lifetime being the session lifetime, since a refresh token minted just
///    before the rotation may be rotated up to the session's end.
/// 4. [`KeyRing::prune`] drops retired keys past that time from the ring,
///    the key set and the JWK Set.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Algorithm, JwtConfig, KeyRing, SigningKey};
///
/// # let (old_pem, new_pem) = (
/// #     include_bytes!("../tests/keys/es256_private.pem"),
/// #     include_bytes!("../tests/keys/es256_next_private.pem"),
/// # );
/// let config = JwtConfig::new()
///     .refresh_ttl(Duration::from_secs(1800))
///     .session_lifetime(Duration::from_secs(3600));
/// let mut ring = KeyRing::new(SigningKey::from_pem(Algorithm::ES256, old_pem)?, &config);
/// ring.stage(SigningKey::from_pem(Algorithm::ES256, new_pem)?);
/// let old_kid = ring.signing_key().thumbprint();
/// ring.rotate(1_000)?;
/// assert_ne!(ring.signing_key().thumbprint(), old_kid);
/// assert_eq!(ring.retired_until(), vec![1_000 + 3600 + 5]);
/// ring.prune(1_000 + 3600 + 5);
/// assert!(ring.retired_until().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyRing {
    current: SigningKey,
    next: Option<SigningKey>,
    retired: Vec<Retired>,
    /// How long a retired key keeps verifying after it stopped signing.
    keep_secs: u64,
}

struct Retired {
    jwk: Jwk,
    until: u64,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current)
            .field("next", &self.next)
            .field("retired_until", &self.retired_until())
            .finish()
    }
}

impl KeyRing {
    /// A ring signing with `current`; retired keys keep verifying for the
    /// longest lifetime `config` gives a token, plus its leeway.
    pub fn new(current: SigningKey, config: &JwtConfig) -> Self {
        let longest = config
            .session_lifetime_secs()
            .max(config.refresh_ttl_secs())
            .max(config.access_ttl_secs());
        Self {
            current,
            next: None,
            retired: Vec::new(),
            keep_secs: longest.saturating_add(config.leeway_secs()),
        }
    }

    /// Publishes `next` without signing with it yet.
    pub fn stage(&mut self, next: SigningKey) {
        self.next = Some(next);
    }

    /// The staged key signs from `now` on; the current one is retired until
    /// `now` + the longest token lifetime + leeway.
    pub fn rotate(&mut self, now: u64) -> Result<(), KeyRingError> {
        let next = self.next.take().ok_or(KeyRingError::NothingStaged)?;
        let old = std::mem::replace(&mut self.current, next);
        if let Some(jwk) = old.public_jwk() {
            self.retired.push(Retired {
                jwk,
                until: now.saturating_add(self.keep_secs),
            });
        }
        Ok(())
    }

    /// Keeps verifying (and publishing) `key`, which signed tokens until
    /// `retired_at`, as [`rotate`](Self::rotate) would have: for keys known
    /// from before a restart.
    pub fn retire(&mut self, key: &VerifyingKey, retired_at: u64) {
        if let Some(jwk) = key.public_jwk() {
            self.retired.push(Retired {
                jwk,
                until: retired_at.saturating_add(self.keep_secs),
            });
        }
    }

    /// Drops the retired keys whose last token has expired by `now`.
    pub fn prune(&mut self, now: u64) {
        self.retired.retain(|r| r.until > now);
    }

    /// The key that signs.
    pub fn signing_key(&self) -> &SigningKey {
        &self.current
    }

    /// When each retired key leaves the ring (seconds since the epoch).
    pub fn retired_until(&self) -> Vec<u64> {
        self.retired.iter().map(|r| r.until).collect()
    }

    /// The keys that verify: the current, the staged and the retired ones,
    /// each named by its `kid` (the thumbprint unless named). `None` for an
    /// HMAC ring (its secret verifies; build the `KeySet` from it directly).
    pub fn key_set(&self) -> Option<Result<KeySet, KeyRingError>> {
        let mut keys = match self.verifying_keys()? {
            Ok(keys) => keys.into_iter(),
            Err(e) => return Some(Err(e)),
        };
        let mut set = KeySet::new(keys.next()?);
        for key in keys {
            set = match set.with_key(key) {
                Ok(set) => set,
                Err(e) => return Some(Err(KeyRingError::Key(e))),
            };
        }
        Some(Ok(set))
    }

    /// The JWK Set of every key that verifies, for verifiers that cache it
    /// up to `max_age`; `None` for HMAC keys.
    pub fn jwk_set(&self, max_age: Duration) -> Option<JwkSet> {
        let keys = self.verifying_keys()?.ok()?;
        JwkSet::new(&self.current, &keys[1..], max_age)
    }

    /// The public keys, current first, one per `kid`.
    fn verifying_keys(&self) -> Option<Result<Vec<VerifyingKey>, KeyRingError>> {
        let public = |key: &SigningKey| key.public_jwk().map(|jwk| (jwk, key.algorithm()));
        let current = public(&self.current)?;
        let retired = self.retired.iter().filter_map(|r| {
            let alg = parse_algorithm(&r.jwk.common.key_algorithm?.to_string()).ok()?;
            Some((r.jwk.clone(), alg))
        });
        let mut kids = HashSet::new();
        let mut keys = Vec::new();
        for (jwk, alg) in std::iter::once(current)
            .chain(self.next.iter().filter_map(public))
            .chain(retired)
        {
            match VerifyingKey::from_jwk(alg, &jwk) {
                Ok(key) if kids.insert(key.kid().map(str::to_owned)) => keys.push(key),
                Ok(_) => {}
                Err(e) => return Some(Err(KeyRingError::Key(e))),
            }
        }
        Some(Ok(keys))
    }
}
