//! Issuer routing: one verifier for several trusted issuers, the payload's
//! `iss` picking the one whose keys and rules a token is checked against.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;

use super::{Trusted, Verifier};
use crate::cache::DEFAULT_VERIFIED_CACHE_CAPACITY;
use crate::config::{JwtConfig, RevocationScope};
use crate::jws::{CompactJws, decode_segment};
use crate::keys::{KeySource, KeysRefetch};
use crate::rejection::AuthErrorKind;

/// Why [`Verifier::any_of`] refused a set of verifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuersError {
    /// No verifier was given.
    Empty,
    /// A verifier has no issuer configured, so no token's `iss` could pick it.
    MissingIssuer,
    /// Two verifiers trust the same issuer.
    DuplicateIssuer(String),
    /// A verifier's keys are fetched (a JWK Set URL or discovery) and no
    /// issuer is configured: a key set may sign for many issuers (a
    /// multi-tenant one, such as Entra ID's `common` keys, signs every
    /// tenant's tokens), so without an `iss` check any of them would pass.
    /// Set [`JwtConfig::issuer`].
    RemoteKeysWithoutIssuer,
}

impl fmt::Display for IssuersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no issuer to trust"),
            Self::MissingIssuer => {
                f.write_str("every verifier of several issuers needs its issuer configured")
            }
            Self::DuplicateIssuer(iss) => write!(f, "the issuer `{iss}` is trusted twice"),
            Self::RemoteKeysWithoutIssuer => f.write_str(
                "remote keys need an issuer configured: a key set may sign for many issuers",
            ),
        }
    }
}

impl std::error::Error for IssuersError {}

impl Verifier {
    /// One verifier for several issuers: each of `verifiers` must have its
    /// issuer configured ([`JwtConfig::issuer`]), and the token's `iss` picks
    /// the one it is checked against — only that issuer's keys, audience and
    /// profile. A token naming no trusted issuer, or naming one but signed by
    /// another's key, is refused; keys are never tried one after another.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, JwtConfig, TokenProfile, Verifier, VerifyingKey};
    ///
    /// let ours = Verifier::new(
    ///     VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?,
    ///     JwtConfig::new().issuer("https://auth.example.com").audience("api"),
    /// );
    /// let partner = Verifier::new(
    ///     VerifyingKey::hmac(Algorithm::HS256, b"the partner's secret of at least 32 bytes")?,
    ///     JwtConfig::new()
    ///         .issuer("https://partner.example.org")
    ///         .audience("api")
    ///         .profile(TokenProfile::generic()),
    /// );
    /// let verifier = Verifier::any_of([ours, partner])?;
    /// assert_eq!(verifier.issuer_names().count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn any_of(verifiers: impl IntoIterator<Item = Verifier>) -> Result<Self, IssuersError> {
        let mut issuers: Vec<Trusted> = Vec::new();
        for verifier in verifiers {
            for trusted in verifier.inner.issuers.iter() {
                let Some(name) = trusted.config.issuer.as_deref() else {
                    return Err(if trusted.keys.is_remote() {
                        IssuersError::RemoteKeysWithoutIssuer
                    } else {
                        IssuersError::MissingIssuer
                    });
                };
                if issuers
                    .iter()
                    .any(|t| t.config.issuer.as_deref() == Some(name))
                {
                    return Err(IssuersError::DuplicateIssuer(name.to_owned()));
                }
                let mut trusted = trusted.clone();
                // Fetched keys are another issuer's: this service signs its
                // own tokens with keys it holds (see `RevocationScope`).
                trusted
                    .config
                    .revocation_scope
                    .get_or_insert(if trusted.keys.is_remote() {
                        RevocationScope::Issuer
                    } else {
                        RevocationScope::Shared
                    });
                issuers.push(trusted);
            }
        }
        if issuers.is_empty() {
            return Err(IssuersError::Empty);
        }
        Ok(Self::from_issuers(
            issuers.into(),
            DEFAULT_VERIFIED_CACHE_CAPACITY,
        ))
    }

    /// As [`new`](Self::new), refusing remote keys without an issuer: a key
    /// set fetched from a URL or through discovery may sign for many issuers
    /// (a multi-tenant one signs every tenant's tokens), and [`new`](Self::new)
    /// would then check no `iss` at all. Local keys (a secret, a key file)
    /// may go without one.
    ///
    /// ```no_run
    /// # #[cfg(feature = "jwks")]
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_jwt_auth::jwks::RemoteJwks;
    /// use tower_jwt_auth::{IssuersError, JwtConfig, Verifier};
    ///
    /// let keys = || RemoteJwks::discover("https://login.example.com/common/v2.0").build();
    /// let unchecked = Verifier::try_new(keys()?, JwtConfig::new().audience("api"));
    /// assert_eq!(unchecked.unwrap_err(), IssuersError::RemoteKeysWithoutIssuer);
    ///
    /// let config = JwtConfig::new()
    ///     .issuer("https://login.example.com/my-tenant/v2.0")
    ///     .audience("api");
    /// let verifier = Verifier::try_new(keys()?, config)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_new(keys: impl Into<KeySource>, config: JwtConfig) -> Result<Self, IssuersError> {
        let keys = keys.into();
        if keys.is_remote() && config.issuer.is_none() {
            return Err(IssuersError::RemoteKeysWithoutIssuer);
        }
        Ok(Self::new(keys, config))
    }

    /// The issuers this verifier trusts by name (none for a single verifier
    /// with no issuer configured).
    pub fn issuer_names(&self) -> impl Iterator<Item = &str> {
        self.inner
            .issuers
            .iter()
            .filter_map(|t| t.config.issuer.as_deref())
    }

    /// The issuer that revocations of a token from `iss` are scoped by:
    /// `Some(iss)` when that issuer's [`RevocationScope`] is
    /// [`Issuer`](RevocationScope::Issuer), `None` when they are kept under
    /// the token's own ids. `iss` is the verified token's.
    pub(crate) fn revocation_scope<'a>(&self, iss: Option<&'a str>) -> Option<&'a str> {
        let iss = iss?;
        self.inner
            .issuers
            .iter()
            .find(|t| t.config.issuer.as_deref() == Some(iss))
            .filter(|t| t.config.revocation_scope == Some(RevocationScope::Issuer))
            .map(|_| iss)
    }

    /// The issuer a token names, among several trusted ones.
    pub(super) fn issuer_of(&self, payload: &[u8]) -> Result<usize, AuthErrorKind> {
        #[derive(Deserialize)]
        struct Iss<'a> {
            #[serde(borrow)]
            iss: Option<Cow<'a, str>>,
        }
        let iss = serde_json::from_slice::<Iss<'_>>(payload)
            .map_err(|_| AuthErrorKind::MalformedToken)?
            .iss
            .ok_or(AuthErrorKind::InvalidIssuer)?;
        self.inner
            .issuers
            .iter()
            .position(|t| t.config.issuer.as_deref() == Some(iss.as_ref()))
            .ok_or(AuthErrorKind::InvalidIssuer)
    }

    /// When `token` was refused for an unknown `kid` by an issuer whose keys
    /// are fetched, a future that completes once a refetch (coalesced and
    /// rate-limited by the key source) has finished; `None` when no refetch
    /// may be made now. The auth layer awaits it and verifies again.
    pub(crate) fn refetch_for_unknown_key(&self, token: &str) -> Option<KeysRefetch> {
        let issuer = match self.inner.issuers.len() {
            1 => 0,
            _ => {
                let jws = CompactJws::split(token).ok()?;
                self.issuer_of(&decode_segment(jws.payload).ok()?).ok()?
            }
        };
        self.inner.issuers[issuer].keys.refetch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, VerifyingKey};

    fn local(issuer: &str) -> Verifier {
        let key = VerifyingKey::hmac(Algorithm::HS256, b"a test secret of at least 32 bytes long")
            .unwrap();
        Verifier::new(key, JwtConfig::new().issuer(issuer))
    }

    #[test]
    fn revocations_keep_plain_ids_for_one_issuer_and_for_local_keys() {
        let single = local("https://a.test");
        assert_eq!(single.revocation_scope(Some("https://a.test")), None);
        let several = Verifier::any_of([local("https://a.test"), local("https://b.test")]).unwrap();
        assert_eq!(several.revocation_scope(Some("https://b.test")), None);
        assert_eq!(several.revocation_scope(None), None);
    }

    #[cfg(feature = "jwks")]
    #[tokio::test]
    async fn an_issuer_of_fetched_keys_is_scoped_among_several_unless_told_otherwise() {
        let remote = || {
            crate::jwks::RemoteJwks::builder("http://127.0.0.1:9/jwks")
                .allow_http(true)
                .build()
                .unwrap()
        };
        let partner = Verifier::new(remote(), JwtConfig::new().issuer("https://b.test"));
        let shared = Verifier::new(
            remote(),
            JwtConfig::new()
                .issuer("https://c.test")
                .revocation_scope(RevocationScope::Shared),
        );
        let verifier = Verifier::any_of([local("https://a.test"), partner, shared]).unwrap();
        assert_eq!(verifier.revocation_scope(Some("https://a.test")), None);
        assert_eq!(
            verifier.revocation_scope(Some("https://b.test")),
            Some("https://b.test")
        );
        assert_eq!(verifier.revocation_scope(Some("https://c.test")), None);
    }
}
