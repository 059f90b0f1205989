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
    DEFAULT_COMMAND_TIMEOUT, DEFAULT_HISTORY, DEFAULT_MAX_STALENESS, DEFAULT_PREFIX, RedisStore,
    RedisStoreBuilder, ViewStatus,
};
// For the fuzz targets only (`crate::__fuzz`, built by `cargo fuzz`).
#[cfg(all(fuzzing, feature = "redis"))]
pub(crate) use redis::parse_feed_message;

/// Logs that an empty `jti` or session id was not revoked: it is what every
/// token without one carries, so revoking it would refuse them all.
pub(crate) fn refuse_empty_id(what: &str) {
    tracing::warn!(
        what,
        "not revoking an empty id: every token without one carries it"
    );
}

/// What opens an issuer-scoped id, and ends the issuer's length in it.
const SCOPE_MARK: char = '\u{1f}';

/// The id under which a revocation of an issuer-scoped token is kept
/// ([`RevocationScope::Issuer`](crate::RevocationScope::Issuer)): its `sub`,
/// `jti` or `sid`, scoped by its `iss` (`U+001F`, the issuer's length,
/// `U+001F`, the issuer, the id: no two pairs give the same id). Revoke
/// another issuer's tokens under these ids; an empty id (a token without
/// `jti` or `sid`) stays empty, never revoked.
///
/// ```
/// use tower_jwt_auth::revocation::issuer_scoped;
///
/// let partner = issuer_scoped("https://partner.example.org", "alice");
/// assert_ne!(partner, "alice");
/// assert_ne!(partner, issuer_scoped("https://other.example.org", "alice"));
/// assert_eq!(issuer_scoped("https://partner.example.org", ""), "");
/// ```
pub fn issuer_scoped(issuer: &str, id: &str) -> String {
    if id.is_empty() {
        return String::new();
    }
    format!("{SCOPE_MARK}{}{SCOPE_MARK}{issuer}{id}", issuer.len())
}

/// The token's own id inside an issuer-scoped one; `None` for an unscoped id.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn unscoped(id: &str) -> Option<&str> {
    let (len, rest) = id.strip_prefix(SCOPE_MARK)?.split_once(SCOPE_MARK)?;
    rest.get(len.parse::<usize>().ok()?..)
}

/// Runs `f` on the ids a verified token is revoked under: its own, or,
/// for an issuer-scoped token (`scope` = its issuer), those scoped by it.
pub(crate) fn with_token_ref<T, R>(
    claims: &crate::Claims<T>,
    scope: Option<&str>,
    f: impl FnOnce(&TokenRef<'_>) -> R,
) -> R {
    let issued_at_micros = claims.issued_at_micros();
    let Some(issuer) = scope else {
        return f(&TokenRef {
            jti: &claims.jti,
            subject: &claims.sub,
            session: claims.sid.as_deref(),
            issued_at_micros,
        });
    };
    let session = claims.sid.as_deref().map(|sid| issuer_scoped(issuer, sid));
    f(&TokenRef {
        jti: &issuer_scoped(issuer, &claims.jti),
        subject: &issuer_scoped(issuer, &claims.sub),
        session: session.as_deref(),
        issued_at_micros,
    })
}

/// The most sessions [`RevocationStore::sessions`] answers with in one call:
/// the subject's newest. Bounds the work of one call, whatever a subject
/// accumulated.
pub const MAX_LISTED_SESSIONS: usize = 256;

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

/// The outcome of [`RevocationStore::rotate_session`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The presented `jti` was the family's current one; the new one replaced it.
    Rotated,
    /// The presented `jti` was the one the last rotation retired, presented
    /// again within the reuse grace (a client retrying after a lost
    /// response): the new one replaced the current one, which is now retired.
    Retried,
    /// The presented `jti` was retired earlier: a replay. The store has revoked
    /// the whole family.
    Reused,
    /// The family is revoked, expired, or was never started.
    Unknown,
    /// The family is bound to a DPoP key (RFC 9449 §5) and the request's
    /// proof was signed by another key, or there was none. Nothing changed.
    KeyMismatch,
}

/// A new session (refresh family), as [`RevocationStore::start_session`]
/// records it.
#[derive(Clone, Copy, Debug)]
pub struct NewSession<'a> {
    /// The family id (the tokens' `sid`).
    pub family: &'a str,
    /// Whose session it is; [`RevocationStore::sessions`] lists it under
    /// this subject. Empty: not listed.
    pub subject: &'a str,
    /// The `jti` of its first refresh token.
    pub jti: &'a str,
    /// When it began (the login), seconds since the epoch.
    pub created_at: u64,
    /// Its absolute end, seconds since the epoch (as listed).
    pub ends_at: u64,
    /// When the store may forget it (its end plus the leeway).
    pub expires_at: u64,
    /// The RFC 7638 thumbprint of the DPoP key the session is bound to:
    /// every rotation must then present a proof of that key. `None`: a
    /// bearer session (as every session stored before this field was).
    pub jkt: Option<&'a str>,
}

/// One refresh of a family, as [`RevocationStore::rotate_session`] decides it.
#[derive(Clone, Copy, Debug)]
pub struct RotationRequest<'a> {
    /// The family id.
    pub family: &'a str,
    /// The `jti` of the refresh token presented.
    pub presented: &'a str,
    /// The `jti` of the refresh token just minted.
    pub next: &'a str,
    /// Now, seconds since the epoch (the session's clock, not the store's).
    pub now: u64,
    /// How long after a rotation the token it retired may be presented again
    /// and rotate once more instead of counting as a replay. 0: never.
    pub reuse_grace_secs: u64,
    /// On a replay, how long the family's revocation is kept: until the last
    /// token the family minted could expire.
    pub revoke_until: u64,
    /// The thumbprint of the key of the request's verified DPoP proof, if
    /// any: a family bound to a key rotates only with a proof of that key
    /// ([`Rotation::KeyMismatch`] otherwise).
    pub jkt: Option<&'a str>,
}

/// A live session, as [`RevocationStore::sessions`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session id (`sid`).
    pub id: String,
    /// When it began (the login), seconds since the epoch.
    pub created_at: u64,
    /// When it was last refreshed (its start if never), seconds since the epoch.
    pub last_refreshed_at: u64,
    /// Its absolute end, seconds since the epoch.
    pub expires_at: u64,
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

    /// Denies `jti` until `expires_at`. An empty `jti` (what a token without
    /// one carries) must never be denied: the crate's stores write nothing.
    fn revoke_token<'a>(&'a self, jti: &'a str, expires_at: u64) -> StoreFuture<'a, ()>;

    /// Revokes every token of `subject` issued before `cutoff_micros`; the
    /// cutoff is kept until `expires_at`. A later cutoff replaces an earlier one.
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff_micros: u64,
        expires_at: u64,
    ) -> StoreFuture<'a, ()>;

    /// Records a new session (refresh family) whose current refresh token
    /// is `session.jti`, and lists it under its subject.
    fn start_session<'a>(&'a self, session: NewSession<'a>) -> StoreFuture<'a, ()>;

    /// Shorthand for [`start_session`](Self::start_session) with no subject
    /// (the family is not listed by [`sessions`](Self::sessions)).
    fn start_family<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: u64,
    ) -> StoreFuture<'a, ()> {
        self.start_session(NewSession {
            family,
            subject: "",
            jti,
            created_at: 0,
            ends_at: expires_at,
            expires_at,
            jkt: None,
        })
    }

    /// Atomically: if `presented` is the family's current `jti`, make `next`
    /// current ([`Rotation::Rotated`]); if it is the `jti` the last rotation
    /// retired and that rotation is at most `reuse_grace_secs` old, make
    /// `next` current and retire the current one ([`Rotation::Retried`]);
    /// if the family exists with another current `jti`, revoke the family
    /// until `revoke_until` ([`Rotation::Reused`]); otherwise
    /// [`Rotation::Unknown`]. A family started with a `jkt` answers
    /// [`Rotation::KeyMismatch`], before anything else and changing nothing,
    /// unless `rotation.jkt` is that key. With no grace, of many concurrent calls with
    /// the same `presented`, exactly one rotates.
    fn rotate_session<'a>(&'a self, rotation: RotationRequest<'a>) -> StoreFuture<'a, Rotation>;

    /// Shorthand for [`rotate_session`](Self::rotate_session) with no reuse
    /// grace, now on the system clock, revoking until `expires_at` on a replay.
    fn rotate_family<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        expires_at: u64,
    ) -> StoreFuture<'a, Rotation> {
        use crate::clock::{Clock, SystemClock};
        self.rotate_session(RotationRequest {
            family,
            presented,
            next,
            now: SystemClock.now_secs(),
            reuse_grace_secs: 0,
            revoke_until: expires_at,
            jkt: None,
        })
    }

    /// Revokes a family: its refresh tokens can no longer rotate, and its
    /// access tokens are revoked. Kept until `expires_at`. An empty id is
    /// never revoked (the crate's stores write nothing).
    fn revoke_family<'a>(&'a self, family: &'a str, expires_at: u64) -> StoreFuture<'a, ()>;

    /// The live sessions of `subject` (not revoked, not past their end),
    /// oldest first: at most [`MAX_LISTED_SESSIONS`], the ones ending last.
    /// Ended entries are dropped on the way.
    fn sessions<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Vec<SessionRecord>>;

    /// Ends `subject`'s session `family`: revokes the family (its refresh
    /// and access tokens) until `revoke_until`, and answers `true`. A family
    /// that is not a live session of `subject` (another subject's, unknown,
    /// already ended) is left as it is: `false`.
    fn end_session<'a>(
        &'a self,
        subject: &'a str,
        family: &'a str,
        revoke_until: u64,
    ) -> StoreFuture<'a, bool>;

    /// Records that a verifier with this leeway (seconds) reads the store:
    /// revocations must then be kept `leeway_secs` past the expiry of the
    /// tokens they concern. [`JwtAuthLayer`](crate::JwtAuthLayer) and
    /// [`SessionManager`](crate::SessionManager) call it when given the store.
    fn note_leeway(&self, leeway_secs: u64) {
        let _ = leeway_secs;
    }

    /// The largest leeway [`note_leeway`](Self::note_leeway) recorded (or
    /// the store was configured with): what every revocation is kept past
    /// its token's expiry.
    fn max_leeway(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod scope_tests {
    use super::{issuer_scoped, unscoped};

    #[test]
    fn a_scoped_id_gives_back_the_tokens_own_and_a_plain_one_gives_none() {
        let scoped = issuer_scoped("https://b.test", "alice");
        assert_eq!(unscoped(&scoped), Some("alice"));
        assert_eq!(unscoped("alice"), None);
        // No issuer and id give another pair's scoped id.
        assert_ne!(
            issuer_scoped("https://b.test", "x\u{1f}y"),
            issuer_scoped("https://b.test\u{1f}x", "y")
        );
        assert_eq!(unscoped(&issuer_scoped("i\u{1f}9\u{1f}", "id")), Some("id"));
    }
}
