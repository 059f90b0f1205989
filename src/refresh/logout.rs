//! Ending sessions: logout, an admin's revocation of one session, the
//! subject's session list, and logout everywhere.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{SessionError, SessionManager};
use crate::claims::{Claims, NoCustomClaims, TokenType};
use crate::revocation::SessionRecord;

impl<T> SessionManager<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Logs out: ends the access token's whole session — the access token
    /// itself (its `jti`, until it would expire), and its `sid` family: every
    /// other access token of the session and its refresh token.
    ///
    /// `refresh_token`, when given and valid for the same subject, has its
    /// own session ended too (a client that kept a refresh token of another
    /// session). One that does not verify, or belongs to another subject, is
    /// ignored (and logged): it never stops the access token's session from
    /// ending.
    pub async fn logout<U>(
        &self,
        access: &Claims<U>,
        refresh_token: Option<&str>,
    ) -> Result<(), SessionError> {
        let leeway = self.leeway();
        self.inner
            .store
            .revoke_token(&access.jti, access.exp.saturating_add(leeway))
            .await?;
        if let Some(sid) = &access.sid {
            let until = self.family_revocation_expiry(access.auth_time);
            self.inner.store.revoke_family(sid, until).await?;
        }
        if let Some(token) = refresh_token {
            match self
                .inner
                .verifier
                .verify::<NoCustomClaims>(token, TokenType::Refresh)
            {
                Ok(refresh) if refresh.sub != access.sub => {
                    tracing::info!(reason = "refresh token of another subject", sub = %access.sub, "logout ignores the refresh token");
                }
                Ok(refresh) => {
                    if let Some(sid) = refresh.sid.filter(|sid| Some(sid) != access.sid.as_ref()) {
                        let until = self.family_revocation_expiry(refresh.auth_time);
                        self.inner.store.revoke_family(&sid, until).await?;
                    }
                }
                Err(error) => {
                    tracing::info!(reason = %error, sub = %access.sub, "logout ignores a refresh token that does not verify");
                }
            }
        }
        tracing::info!(sub = %access.sub, jti = %access.jti, sid = access.sid.as_deref().unwrap_or("-"), "logged out");
        Ok(())
    }

    /// Revokes a whole session by its id (for an admin "sign out this
    /// device"), until its last token would have expired.
    pub async fn revoke_session(&self, session_id: &str) -> Result<(), SessionError> {
        let until = self.family_revocation_expiry(None);
        self.inner.store.revoke_family(session_id, until).await?;
        Ok(())
    }

    /// The live sessions of `subject`, oldest first: each with its id
    /// (`sid`), when it began, when it was last refreshed and when it ends.
    /// At most [`MAX_LISTED_SESSIONS`](crate::revocation::MAX_LISTED_SESSIONS)
    /// (the ones ending last), so one call's work is bounded.
    pub async fn sessions(&self, subject: &str) -> Result<Vec<SessionRecord>, SessionError> {
        Ok(self.inner.store.sessions(subject).await?)
    }

    /// Ends `subject`'s session `session_id`: its refresh token can no longer
    /// rotate and its access tokens are refused, until the last of them
    /// would have expired. `Ok(false)` — and nothing changes — when it is
    /// not a live session of `subject` (another subject's, unknown, ended).
    pub async fn end_session(&self, subject: &str, session_id: &str) -> Result<bool, SessionError> {
        let until = self.family_revocation_expiry(None);
        let ended = self
            .inner
            .store
            .end_session(subject, session_id, until)
            .await?;
        if ended {
            tracing::info!(sub = %subject, sid = %session_id, "session ended");
        } else {
            tracing::info!(sub = %subject, "no such session to end");
        }
        Ok(ended)
    }

    /// Logs `subject` out everywhere: every access and refresh token issued
    /// before this call is rejected, by the layer and by refresh. Tokens minted
    /// after it — even in the same second — by a new login work.
    ///
    /// Besides the cutoff, every live session of the subject is ended. A
    /// refresh that passed its checks just before the cutoff was stored (and
    /// so mints a pair stamped after it) rotates a family this call then
    /// revokes, or finds it revoked: no session that existed when the call
    /// began outlives it.
    pub async fn logout_all(&self, subject: &str) -> Result<(), SessionError> {
        let cutoff = self.inner.issuer.next_stamp();
        let config = self.inner.issuer.config();
        // The newest token minted before the cutoff expires within the longer
        // lifetime from now; the cutoff is needed until then.
        let until = (cutoff / 1_000_000 + 1)
            .saturating_add(config.access_ttl_secs().max(config.refresh_ttl_secs()))
            .saturating_add(self.leeway());
        self.inner
            .store
            .revoke_subject(subject, cutoff, until)
            .await?;
        let family_until = self.family_revocation_expiry(None);
        // Page through the sessions begun before the cutoff: each listing is
        // bounded, and the ones ended drop out of the next.
        let cutoff_secs = cutoff / 1_000_000;
        let mut ended = 0;
        loop {
            let listed = self.inner.store.sessions(subject).await?;
            let older: Vec<_> = listed
                .iter()
                .filter(|session| session.created_at <= cutoff_secs)
                .collect();
            if older.is_empty() {
                break;
            }
            let ending = older.iter().map(|session| {
                self.inner
                    .store
                    .end_session(subject, &session.id, family_until)
            });
            futures_util::future::try_join_all(ending).await?;
            ended += older.len();
        }
        tracing::info!(sub = %subject, sessions = ended, "logged out everywhere");
        Ok(())
    }
}
