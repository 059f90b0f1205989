//! [`CredentialWatch`]: the moment an open WebSocket's credential stops
//! being good — its `exp`, or its revocation seen in the store.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::claims::Claims;
use crate::revocation::{RevocationStore, TokenRef};

/// How often [`CredentialWatch`] asks the revocation store by default: a
/// revoked token's socket closes at most this long after the store knows
/// (plus the store's own delay: none for [`MemoryStore`](crate::MemoryStore);
/// for [`RedisStore`](crate::RedisStore) the change feed's, normally
/// milliseconds).
pub const DEFAULT_REVOCATION_CHECK: Duration = Duration::from_secs(1);

/// The shortest interval [`CredentialWatch::check_every`] accepts; shorter
/// ones are raised to it.
pub const MIN_REVOCATION_CHECK: Duration = Duration::from_millis(10);

/// Why a credential stopped being good, and the close frame it calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialEnd {
    /// Its `exp` has passed.
    Expired,
    /// The revocation store says it is revoked (its `jti`, its session, or
    /// a cutoff on its subject: a logout).
    Revoked,
    /// The store could not answer: the watch fails closed, as the layer
    /// does (503), rather than keep a possibly revoked socket open.
    StoreUnavailable,
}

impl CredentialEnd {
    /// The WebSocket close code (RFC 6455 §7.4.1): 1008 (policy violation)
    /// for an expired or revoked credential, 1013 (try again later) when the
    /// store could not answer.
    pub const fn close_code(self) -> u16 {
        match self {
            Self::Expired | Self::Revoked => 1008,
            Self::StoreUnavailable => 1013,
        }
    }

    /// A short close reason for the client (no detail beyond the kind).
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Expired => "token expired",
            Self::Revoked => "token revoked",
            Self::StoreUnavailable => "try again later",
        }
    }
}

impl fmt::Display for CredentialEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// Watches the credential a WebSocket was opened with: [`ended`](Self::ended)
/// resolves at the token's `exp`, or within the check interval of the store
/// knowing it revoked, whichever comes first.
///
/// The store interface has no notification, and [`RevocationStore::is_revoked`]
/// is a local lookup with no I/O, so the watch asks it every
/// [`DEFAULT_REVOCATION_CHECK`] (configurable): the bound between a logout and
/// the socket's end is that interval plus the store's own propagation delay.
/// The expiry needs no polling: the watch sleeps until `exp`.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tower_jwt_auth::revocation::RevocationStore;
/// use tower_jwt_auth::websocket::{CredentialEnd, CredentialWatch};
/// use tower_jwt_auth::{
///     Algorithm, JwtConfig, MemoryStore, NoCustomClaims, SigningKey, TokenIssuer, TokenType,
///     Verifier, VerifyingKey,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = b"an example secret of at least 32 bytes!";
/// let issuer = TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, JwtConfig::new());
/// let verifier = Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, JwtConfig::new());
/// let token = issuer.access_token("alice", &NoCustomClaims {})?;
/// let claims = verifier.verify::<NoCustomClaims>(&token, TokenType::Access)?;
///
/// let store = Arc::new(MemoryStore::new());
/// let watch = CredentialWatch::new(&claims, store.clone()).check_every(Duration::from_millis(50));
/// assert_eq!(watch.check_now(), None);
/// // A logout revokes the token; the watch sees it at its next check.
/// store.revoke_token(&claims.jti, claims.exp).await?;
/// assert_eq!(watch.ended().await, CredentialEnd::Revoked);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct CredentialWatch {
    store: Arc<dyn RevocationStore>,
    jti: String,
    subject: String,
    session: Option<String>,
    issued_at_micros: u64,
    expires_at: u64,
    interval: Duration,
}

impl fmt::Debug for CredentialWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialWatch")
            .field("subject", &self.subject)
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl CredentialWatch {
    /// Watches the credential these verified claims came from, against the
    /// store the auth layer checks (the same one, or revocations go unseen).
    pub fn new<T>(claims: &Claims<T>, store: Arc<dyn RevocationStore>) -> Self {
        Self {
            store,
            jti: claims.jti.clone(),
            subject: claims.sub.clone(),
            session: claims.sid.clone(),
            issued_at_micros: claims.issued_at_micros(),
            expires_at: claims.exp,
            interval: DEFAULT_REVOCATION_CHECK,
        }
    }

    /// Asks the store every `interval` (at least [`MIN_REVOCATION_CHECK`]):
    /// the bound on how long a revoked token's socket stays open.
    pub fn check_every(mut self, interval: Duration) -> Self {
        self.interval = interval.max(MIN_REVOCATION_CHECK);
        self
    }

    /// The credential's `exp`, seconds since the epoch.
    pub const fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The interval between two revocation checks.
    pub const fn interval(&self) -> Duration {
        self.interval
    }

    /// Whether the credential has ended, now: `None` while it is good.
    pub fn check_now(&self) -> Option<CredentialEnd> {
        if self.until_expiry().is_zero() {
            return Some(CredentialEnd::Expired);
        }
        let token = TokenRef {
            jti: &self.jti,
            subject: &self.subject,
            session: self.session.as_deref(),
            issued_at_micros: self.issued_at_micros,
        };
        match self.store.is_revoked(&token) {
            Ok(false) => None,
            Ok(true) => Some(CredentialEnd::Revoked),
            Err(error) => {
                tracing::warn!(%error, sub = %self.subject, jti = %self.jti, "revocation store unavailable; closing the socket");
                Some(CredentialEnd::StoreUnavailable)
            }
        }
    }

    /// Resolves when the credential ends: at `exp`, or at the first check
    /// that finds it revoked (or the store unable to answer). Needs a tokio
    /// runtime with the timer enabled.
    pub async fn ended(self) -> CredentialEnd {
        loop {
            if let Some(end) = self.check_now() {
                tracing::debug!(reason = %end, sub = %self.subject, jti = %self.jti, "credential ended");
                return end;
            }
            tokio::time::sleep(self.interval.min(self.until_expiry())).await;
        }
    }

    /// Time left until `exp` on the system clock (zero once it has passed).
    fn until_expiry(&self) -> Duration {
        let expiry = UNIX_EPOCH + Duration::from_secs(self.expires_at);
        expiry
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use crate::claims::NoCustomClaims;

    fn claims(exp: u64) -> Claims<NoCustomClaims> {
        serde_json::from_value(serde_json::json!({
            "sub": "alice", "exp": exp, "jti": "j1", "sid": "s1", "token_type": "access",
        }))
        .unwrap()
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn close_codes_follow_rfc_6455() {
        assert_eq!(CredentialEnd::Expired.close_code(), 1008);
        assert_eq!(CredentialEnd::Revoked.close_code(), 1008);
        assert_eq!(CredentialEnd::StoreUnavailable.close_code(), 1013);
        for end in [
            CredentialEnd::Expired,
            CredentialEnd::Revoked,
            CredentialEnd::StoreUnavailable,
        ] {
            assert!(
                end.reason().len() <= 123,
                "a close reason fits a control frame"
            );
        }
    }

    #[test]
    fn a_past_exp_has_ended_and_a_good_token_has_not() {
        let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
        let past = CredentialWatch::new(&claims(now() - 1), store.clone());
        assert_eq!(past.check_now(), Some(CredentialEnd::Expired));
        let good = CredentialWatch::new(&claims(now() + 600), store);
        assert_eq!(good.check_now(), None);
    }

    #[tokio::test]
    async fn a_revoked_session_ends_the_watch() {
        let store = Arc::new(MemoryStore::new());
        let watch = CredentialWatch::new(&claims(now() + 600), store.clone())
            .check_every(Duration::from_millis(20));
        let ended = tokio::spawn(watch.ended());
        store.revoke_family("s1", now() + 600).await.unwrap();
        assert_eq!(ended.await.unwrap(), CredentialEnd::Revoked);
    }

    #[tokio::test]
    async fn the_watch_ends_at_exp() {
        let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
        // An hour between checks: only the expiry can end it.
        let watch =
            CredentialWatch::new(&claims(now() + 1), store).check_every(Duration::from_secs(3600));
        assert_eq!(watch.ended().await, CredentialEnd::Expired);
    }

    #[test]
    fn the_interval_has_a_floor() {
        let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
        let watch = CredentialWatch::new(&claims(now() + 60), store).check_every(Duration::ZERO);
        assert_eq!(watch.interval(), MIN_REVOCATION_CHECK);
    }
}
