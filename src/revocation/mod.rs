//! Revocation state: a `jti` deny-list, per-subject cutoffs, and refresh-token
//! families.
//!
//! [`RevocationStore::is_revoked`] is synchronous on purpose: it runs on every
//! request, and the access path never waits on I/O. A store whose truth lives
//! elsewhere (Redis) keeps a local view current in the background and answers
//! from it, or answers [`StoreError`] when it cannot vouch for that view. The
//! writes and the family compare-and-swap are async: they may cross a network,
//! and a logout returns only once its revocation is durable.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{
    DEFAULT_COMMAND_TIMEOUT, DEFAULT_MAX_STALENESS, DEFAULT_PREFIX, RedisStore, RedisStoreBuilder,
    ViewStatus,
};

/// A boxed, `Send` future, as the store's async methods return.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The parts of a verified token that revocation is decided on.
#[derive(Clone, Copy, Debug)]
pub struct TokenRef<'a> {
    /// The token's `jti`.
    pub jti: &'a str,
    /// The token's subject.
    pub subject: &'a str,
    /// The session (refresh family) the token belongs to, if any.
    pub session: Option<&'a str>,
    /// When the token was issued, in microseconds (see
    /// [`Claims::issued_at_micros`](crate::Claims::issued_at_micros)).
    pub issued_at_micros: u64,
}

/// The outcome of [`RevocationStore::rotate_family`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The presented `jti` was the family's current one; the new one replaced it.
    Rotated,
    /// The presented `jti` was retired earlier: a replay. The store has revoked
    /// the whole family.
    Reused,
    /// The family is revoked, expired, or was never started.
    Unknown,
}

/// The store could not answer (unreachable, timed out, or unsure its view is
/// current). The layer answers 503 when it fails closed.
#[derive(Debug)]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// An error with a description for logs. Never put a token in it.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revocation store unavailable: {}", self.message)
    }
}

impl std::error::Error for StoreError {}

/// Where revocations and refresh-token families live.
///
/// Every entry carries the time (seconds since the epoch) after which it can
/// be forgotten: the latest moment a token it concerns could still be valid.
/// Stores keep each entry until then, and no longer.
pub trait RevocationStore: fmt::Debug + Send + Sync + 'static {
    /// Is this token revoked — by its `jti`, by its session's family, or by a
    /// cutoff on its subject later than its issuance? No I/O.
    fn is_revoked(&self, token: &TokenRef<'_>) -> Result<bool, StoreError>;

    /// Denies `jti` until `expires_at`.
    fn revoke_token<'a>(&'a self, jti: &'a str, expires_at: u64) -> StoreFuture<'a, ()>;

    /// Revokes every token of `subject` issued before `cutoff_micros`; the
    /// cutoff is kept until `expires_at`. A later cutoff replaces an earlier one.
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff_micros: u64,
        expires_at: u64,
    ) -> StoreFuture<'a, ()>;

    /// Records a new family whose current refresh token is `jti`, kept until
    /// `expires_at` (the session's absolute end).
    fn start_family<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: u64,
    ) -> StoreFuture<'a, ()>;

    /// Atomically: if `presented` is the family's current `jti`, make `next`
    /// current ([`Rotation::Rotated`]); if the family exists with another
    /// current `jti`, revoke the family ([`Rotation::Reused`]); otherwise
    /// [`Rotation::Unknown`]. Of many concurrent calls with the same
    /// `presented`, exactly one rotates.
    fn rotate_family<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        expires_at: u64,
    ) -> StoreFuture<'a, Rotation>;

    /// Revokes a family: its refresh tokens can no longer rotate, and its
    /// access tokens are revoked. Kept until `expires_at`.
    fn revoke_family<'a>(&'a self, family: &'a str, expires_at: u64) -> StoreFuture<'a, ()>;
}
