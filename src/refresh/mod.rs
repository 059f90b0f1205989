//! Sessions: login, refresh with rotation and replay detection, logout, and
//! logout everywhere.
//!
//! [`SessionManager`] holds the three parts a session needs — the
//! [`TokenIssuer`], the [`Verifier`] and the [`RevocationStore`] the auth layer
//! also reads — and [`RefreshService`] puts its refresh operation behind HTTP.
//!
//! * **Login** ([`SessionManager::login`]) mints a pair and starts a *family*
//!   in the store: the session id (`sid`, carried in both tokens) with its
//!   current refresh `jti`.
//! * **Refresh** ([`SessionManager::refresh`]) verifies a *refresh* token,
//!   mints the next pair and swaps the family's current `jti` atomically. Of
//!   many requests presenting the same refresh token, exactly one succeeds.
//! * **Replay**: a retired refresh token presented again (whether later or in
//!   a race with its own rotation) revokes the whole family — the newest
//!   refresh token and every access token of the session stop working — and
//!   logs a warning naming the subject and the family, never the token.
//! * **Absolute lifetime**: rotation keeps the login's `auth_time`; no refresh
//!   token expires after `auth_time +`
//!   [`session_lifetime`](crate::JwtConfig::session_lifetime), and no refresh
//!   succeeds after it.
//! * **Retry after a lost response**: with a
//!   [`reuse_grace`](SessionManager::reuse_grace), the refresh token the last
//!   rotation retired may be presented again within the grace and rotates
//!   once more instead of counting as a replay.
//! * **Logout** ends the access token's whole session (its `sid` family);
//!   **logout everywhere** sets a per-subject cutoff in microseconds, so a
//!   login in the same second right after it gets tokens that work, and ends
//!   every live session of the subject, so no refresh racing it keeps one
//!   alive.
//! * **Session management**: [`sessions`](SessionManager::sessions) lists a
//!   subject's live sessions, [`end_session`](SessionManager::end_session)
//!   ends one of them.
//!
//! Every revocation is kept until the last token it concerns would have
//! expired anyway (plus the largest leeway of any verifier reading the
//! store), and no longer.
//!
//! ```
//! use std::sync::Arc;
//! use tower_jwt_auth::revocation::RevocationStore;
//! use tower_jwt_auth::{
//!     Algorithm, JwtConfig, MemoryStore, SessionManager, SigningKey, TokenIssuer, Verifier,
//!     VerifyingKey,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = b"an example secret of at least 32 bytes!";
//! let config = JwtConfig::new();
//! let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
//! let sessions: SessionManager = SessionManager::new(
//!     TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, config.clone()),
//!     Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, config),
//!     store.clone(),
//! );
//!
//! let first = sessions.login("alice", &Default::default()).await?;
//! let second = sessions.refresh(&first.refresh_token).await?;
//! // The first refresh token is retired: presenting it again is a replay,
//! // which revokes the whole session.
//! assert!(sessions.refresh(&first.refresh_token).await.is_err());
//! assert!(sessions.refresh(&second.refresh_token).await.is_err());
//! # Ok(())
//! # }
//! ```

mod dpop;
mod error;
mod logout;
mod service;

pub use dpop::{DpopKey, ProofRefused};
pub use error::{RefreshRefused, SessionError};

pub use service::{
    BodyError, DEFAULT_MAX_BODY_LEN, RefreshRequest, RefreshService, session_error_response,
    with_dpop_nonce,
};

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::binding::token_confirmation;
use crate::claims::{Claims, NoCustomClaims, TokenType};
use crate::dpop::{DpopError, DpopPolicy};
use crate::issue::{TokenIssuer, TokenPair};
use crate::rejection::AuthErrorKind;
use crate::revocation::{RevocationStore, Rotation, RotationRequest, TokenRef};
use crate::verify::Verifier;

type ReloadHook<T> =
    Arc<dyn Fn(Claims<T>) -> BoxFuture<'static, Result<T, RefreshRefused>> + Send + Sync>;

/// Login, refresh, logout and logout everywhere over one issuer, verifier
/// and store. Cheap to clone.
///
/// `T` is the application's custom claims type, carried from the refresh
/// token into the next pair unless a [`reload_claims`](Self::reload_claims)
/// hook supplies fresh ones.
pub struct SessionManager<T = NoCustomClaims> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    issuer: TokenIssuer,
    verifier: Verifier,
    store: Arc<dyn RevocationStore>,
    reload: Option<ReloadHook<T>>,
    reuse_grace_secs: u64,
    dpop: Option<DpopPolicy>,
}

impl<T> Clone for SessionManager<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> fmt::Debug for SessionManager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("issuer", &self.inner.issuer)
            .field("verifier", &self.inner.verifier)
            .field("store", &self.inner.store)
            .field("reload_hook", &self.inner.reload.is_some())
            .field("reuse_grace_secs", &self.inner.reuse_grace_secs)
            .field("dpop", &self.inner.dpop)
            .finish()
    }
}

// ===== impl SessionManager =====

impl<T> SessionManager<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// A manager minting with `issuer`, verifying with `verifier`, and
    /// keeping families and revocations in `store` — the same store the
    /// [`JwtAuthLayer`](crate::JwtAuthLayer) reads.
    pub fn new(issuer: TokenIssuer, verifier: Verifier, store: Arc<dyn RevocationStore>) -> Self {
        store.note_leeway(verifier.max_leeway_secs());
        Self {
            inner: Arc::new(Inner {
                issuer,
                verifier,
                store,
                reload: None,
                reuse_grace_secs: 0,
                dpop: None,
            }),
        }
    }

    /// This manager with `edit` applied to a copy of its parts.
    fn with_inner(self, edit: impl FnOnce(&mut Inner<T>)) -> Self {
        let mut inner = Inner {
            issuer: self.inner.issuer.clone(),
            verifier: self.inner.verifier.clone(),
            store: Arc::clone(&self.inner.store),
            reload: self.inner.reload.clone(),
            reuse_grace_secs: self.inner.reuse_grace_secs,
            dpop: self.inner.dpop.clone(),
        };
        edit(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Lets a client whose refresh response was lost (a timeout, a mobile
    /// network) retry with the same refresh token for `grace` after it was
    /// rotated: within it, the refresh token that was current just before
    /// the last rotation rotates again (a new pair; the pair minted before
    /// becomes the retired one) instead of counting as a replay. After it,
    /// a replay revokes the family as always. Default: zero, no grace.
    ///
    /// The trade-off: for `grace` after each refresh, a thief holding the
    /// previous refresh token can refresh too, without revoking the session
    /// (the victim's next refresh then does, as a replay). Keep it to the
    /// seconds a retry takes. The window belongs to the rotation that
    /// retired the token; retrying never extends it.
    #[must_use]
    pub fn reuse_grace(self, grace: Duration) -> Self {
        self.with_inner(|inner| inner.reuse_grace_secs = grace.as_secs())
    }

    /// An async hook run on every refresh: it receives the verified refresh
    /// token's claims and returns the custom claims for the next pair (roles
    /// may have changed), or refuses the refresh.
    #[must_use]
    pub fn reload_claims<F, Fut>(self, hook: F) -> Self
    where
        F: Fn(Claims<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, RefreshRefused>> + Send + 'static,
    {
        let hook: ReloadHook<T> = Arc::new(move |claims| Box::pin(hook(claims)));
        self.with_inner(|inner| inner.reload = Some(hook))
    }

    /// The issuer.
    pub fn issuer(&self) -> &TokenIssuer {
        &self.inner.issuer
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn RevocationStore> {
        &self.inner.store
    }

    /// An HTTP [`RefreshService`] over this manager.
    pub fn refresh_service(&self) -> RefreshService<T> {
        RefreshService::new(self.clone())
    }

    /// How long past a token's expiry its revocation is kept: the largest
    /// leeway of any verifier reading the store (this manager's own, every
    /// [`JwtAuthLayer`](crate::JwtAuthLayer) given the store, and what the
    /// store was configured with), so none accepts a revoked token again.
    pub(super) fn leeway(&self) -> u64 {
        self.inner
            .verifier
            .config()
            .leeway_secs()
            .max(self.inner.store.max_leeway())
    }

    pub(super) fn now(&self) -> u64 {
        self.inner.issuer.config().clock_ref().now_secs()
    }

    /// Starts a session for `subject`: mints a pair and registers its family.
    /// Returns only once the store holds the family.
    pub async fn login(&self, subject: &str, custom: &T) -> Result<TokenPair, SessionError> {
        self.login_bound(subject, custom, None).await
    }

    /// Verifies `refresh_token` as a *refresh* token and rotates it: returns
    /// the next pair and retires the presented token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, SessionError> {
        self.refresh_with(refresh_token, None).await
    }

    /// [`refresh`](Self::refresh) with the thumbprint of the request's
    /// verified DPoP proof key.
    async fn refresh_with(
        &self,
        refresh_token: &str,
        jkt: Option<&str>,
    ) -> Result<TokenPair, SessionError> {
        let outcome = self.rotate(refresh_token, jkt).await;
        crate::metrics::refresh(match &outcome {
            Ok((_, Rotation::Retried)) => "retried",
            Ok(_) => "rotated",
            Err(SessionError::Rejected(error)) => match error.kind() {
                AuthErrorKind::RefreshTokenReused => "reused_family_revoked",
                AuthErrorKind::Revoked => "unknown",
                AuthErrorKind::SessionRefused => "denied",
                AuthErrorKind::StoreUnavailable => "unavailable",
                _ => "rejected",
            },
            Err(SessionError::Issue(_)) => "error",
            Err(SessionError::Proof(_)) => "rejected",
        });
        outcome.map(|(pair, _)| pair)
    }

    /// [`refresh`](Self::refresh), telling which rotation it was.
    async fn rotate(
        &self,
        refresh_token: &str,
        jkt: Option<&str>,
    ) -> Result<(TokenPair, Rotation), SessionError> {
        let claims = self.verify_refresh(refresh_token)?;
        let bound = token_confirmation(refresh_token)
            .map_err(|_| SessionError::kind(AuthErrorKind::InvalidClaims))?
            .jkt;
        let binding = dpop::refresh_binding(bound.as_deref(), jkt)?;
        let Some(family) = claims.sid.clone() else {
            tracing::info!(outcome = "rejected", reason = "refresh token carries no session", sub = %claims.sub);
            return Err(SessionError::kind(AuthErrorKind::InvalidClaims));
        };
        let session_ends = claims
            .auth_time
            .unwrap_or(claims.iat.unwrap_or(0))
            .saturating_add(self.inner.issuer.config().session_lifetime_secs());
        if self.now() >= session_ends {
            tracing::info!(outcome = "rejected", reason = "session lifetime over", sub = %claims.sub, sid = %family);
            return Err(SessionError::kind(AuthErrorKind::Expired));
        }

        let custom = match &self.inner.reload {
            None => claims.custom.clone(),
            Some(hook) => match hook(claims.clone()).await {
                Ok(custom) => custom,
                Err(refused) => {
                    tracing::info!(
                        outcome = "rejected",
                        reason = %refused.reason,
                        sub = %claims.sub,
                        sid = %family,
                        "refresh refused by the application"
                    );
                    let kind = if refused.unavailable {
                        AuthErrorKind::StoreUnavailable
                    } else {
                        AuthErrorKind::SessionRefused
                    };
                    return Err(SessionError::kind(kind));
                }
            },
        };

        let pair = self.inner.issuer.rotate_bound(&claims, &custom, binding)?;
        let next = pair.session();
        let rotation = self
            .inner
            .store
            .rotate_session(RotationRequest {
                family: &family,
                presented: &claims.jti,
                next: &next.refresh_jti,
                now: self.now(),
                reuse_grace_secs: self.inner.reuse_grace_secs,
                revoke_until: self.family_revocation_expiry(Some(next.auth_time)),
                jkt,
            })
            .await?;
        match rotation {
            Rotation::Rotated => {
                tracing::debug!(outcome = "rotated", sub = %claims.sub, sid = %family);
                Ok((pair, rotation))
            }
            Rotation::Retried => {
                tracing::info!(
                    outcome = "rotated",
                    sub = %claims.sub,
                    sid = %family,
                    "retired refresh token presented again within the reuse grace: rotated again"
                );
                Ok((pair, rotation))
            }
            Rotation::Reused => {
                tracing::warn!(
                    outcome = "rejected",
                    sub = %claims.sub,
                    sid = %family,
                    "refresh token reused: the whole session is revoked"
                );
                Err(SessionError::kind(AuthErrorKind::RefreshTokenReused))
            }
            Rotation::KeyMismatch => {
                tracing::info!(outcome = "rejected", reason = %DpopError::KeyNotBound, sub = %claims.sub, sid = %family, "the session is bound to another DPoP key");
                Err(SessionError::Proof(ProofRefused::new(
                    DpopError::KeyNotBound,
                )))
            }
            Rotation::Unknown => {
                tracing::info!(outcome = "rejected", reason = "session revoked or unknown", sub = %claims.sub, sid = %family);
                Err(SessionError::kind(AuthErrorKind::Revoked))
            }
        }
    }

    /// A verified, unrevoked refresh token's claims.
    fn verify_refresh(&self, token: &str) -> Result<Claims<T>, SessionError> {
        let claims = self
            .inner
            .verifier
            .verify::<T>(token, TokenType::Refresh)
            .inspect_err(|error| tracing::info!(outcome = "rejected", reason = %error, "refresh token refused"))?;
        let revoked = self.inner.store.is_revoked(&TokenRef {
            jti: &claims.jti,
            subject: &claims.sub,
            session: claims.sid.as_deref(),
            issued_at_micros: claims.issued_at_micros(),
        })?;
        if revoked {
            tracing::info!(outcome = "rejected", reason = "refresh token revoked", sub = %claims.sub, jti = %claims.jti);
            return Err(SessionError::kind(AuthErrorKind::Revoked));
        }
        Ok(claims)
    }

    /// When a revoked family can be forgotten: once its newest tokens have
    /// expired (no new ones are minted once it is revoked). Refresh tokens
    /// end with the session, but an access token minted just before the
    /// session's end lives an access lifetime past it, so the revocation is
    /// kept until then (plus the leeway), never shorter.
    pub(super) fn family_revocation_expiry(&self, auth_time: Option<u64>) -> u64 {
        let config = self.inner.issuer.config();
        let newest_expiry = self
            .now()
            .saturating_add(config.access_ttl_secs().max(config.refresh_ttl_secs()));
        let expiry = match auth_time {
            Some(auth_time) => newest_expiry.min(
                auth_time
                    .saturating_add(config.session_lifetime_secs())
                    .saturating_add(config.access_ttl_secs()),
            ),
            None => newest_expiry,
        };
        expiry.saturating_add(self.leeway())
    }
}
