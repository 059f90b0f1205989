//! Where a verifier's keys come from: a key set held in memory, or a remote
//! source (`jwks`) reached through the [`RemoteKeys`] trait defined here.

#[cfg(feature = "jwks")]
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
#[cfg(feature = "jwks")]
use std::sync::Arc;

use super::keyset::KeySet;
use super::verifying::VerifyingKey;
use crate::rejection::AuthErrorKind;

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
    Remote(Arc<dyn RemoteKeys>),
}

/// A key source kept current from elsewhere (a [`RemoteJwks`](crate::jwks::RemoteJwks)):
/// what a verifier asks of it. Defined here so that `keys` needs nothing of
/// `jwks`, which implements it.
#[cfg(feature = "jwks")]
pub(crate) trait RemoteKeys: std::fmt::Debug + Send + Sync {
    /// The set in force now; `None` until a first one has been fetched.
    fn current(&self) -> arc_swap::Guard<Option<Arc<Snapshot>>>;

    /// What a token whose `kid` is unknown waits for before it is decided once
    /// more: a refetch when one may be made now, else nothing (a refetch may
    /// have finished since the token was checked); `None`: refuse it now.
    fn refetch_for_unknown_kid(&self) -> Option<KeysRefetch>;

    /// The issuer whose metadata names these keys, when they were found by
    /// discovery (not given as a JWK Set URL): what an OpenAPI document
    /// points clients at.
    fn discovered_issuer(&self) -> Option<&str> {
        None
    }
}

/// The usable keys of one fetched JWK Set, with their epoch: whatever is
/// verified against a snapshot is tagged with the epoch of that snapshot,
/// never with one read later.
#[cfg(feature = "jwks")]
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) keys: KeySet,
    /// Raised by each snapshot that lost a key of the one before it.
    pub(crate) epoch: u64,
    /// Each key's identity (its `kid`, or "" for a lone unnamed key) with its
    /// JWK text: the set "lost a key" when one of these disappears.
    pub(crate) fingerprints: BTreeMap<String, String>,
}

#[cfg(feature = "jwks")]
impl Snapshot {
    /// True when some key of `self` is not in `next` (removed or replaced).
    pub(crate) fn loses_keys_in(&self, next: &Snapshot) -> bool {
        self.fingerprints
            .iter()
            .any(|(kid, jwk)| next.fingerprints.get(kid) != Some(jwk))
    }
}

impl KeySource {
    /// A source kept current by `remote`.
    #[cfg(feature = "jwks")]
    pub(crate) fn remote(remote: Arc<dyn RemoteKeys>) -> Self {
        Self(Source::Remote(remote))
    }

    /// Runs `f` with the key a token with header `kid` must be verified
    /// with, and gives the epoch of the set that key was taken from.
    pub(crate) fn with_key<R>(
        &self,
        kid: Option<&str>,
        f: impl FnOnce(&VerifyingKey) -> R,
    ) -> Result<(R, u64), AuthErrorKind> {
        match &self.0 {
            Source::Local(keys) => keys
                .select(kid)
                .map(|key| (f(key), 0))
                .ok_or(AuthErrorKind::UnknownKey),
            #[cfg(feature = "jwks")]
            Source::Remote(remote) => {
                let snapshot = remote.current();
                let snapshot = snapshot.as_ref().ok_or(AuthErrorKind::KeysUnavailable)?;
                snapshot
                    .keys
                    .select(kid)
                    .map(|key| (f(key), snapshot.epoch))
                    .ok_or(AuthErrorKind::UnknownKey)
            }
        }
    }

    /// Whether the keys are fetched from elsewhere (a remote key set): such a
    /// set may sign for many issuers, so the keys alone do not say whose
    /// tokens they verify.
    pub(crate) fn is_remote(&self) -> bool {
        match &self.0 {
            Source::Local(_) => false,
            #[cfg(feature = "jwks")]
            Source::Remote(_) => true,
        }
    }

    /// The issuer these keys were discovered from (see
    /// [`RemoteKeys::discovered_issuer`]); `None` for local keys and a JWK
    /// Set URL.
    pub(crate) fn discovered_issuer(&self) -> Option<&str> {
        match &self.0 {
            Source::Local(_) => None,
            #[cfg(feature = "jwks")]
            Source::Remote(remote) => remote.discovered_issuer(),
        }
    }

    /// The epoch of the set in force now: it changes whenever a key may
    /// have left the set (never, for local keys).
    pub(crate) fn epoch(&self) -> u64 {
        match &self.0 {
            Source::Local(_) => 0,
            #[cfg(feature = "jwks")]
            Source::Remote(remote) => remote.current().as_ref().map_or(0, |s| s.epoch),
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
