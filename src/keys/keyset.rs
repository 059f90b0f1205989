//! Key sets: the local keys a verifier accepts, chosen by `kid`.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::Algorithm;

use super::error::KeyError;
use super::verifying::VerifyingKey;

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
