//! DPoP on the issuing side (RFC 9449 §5): a login or refresh request's
//! proof, checked like the layer checks one (no `ath`: there is no access
//! token yet), binds the session to its key.
//!
//! A session started with a proof is bound: its access tokens carry
//! `cnf.jkt`, its refresh tokens too, and its family in the store records
//! the key, so a refresh needs a proof of that key whatever the store (the
//! signed claim and the stored key must both agree). A session started
//! without one stays a bearer session; a refresh of it that comes with a
//! proof gets a DPoP-bound access token and an unbound refresh token, as
//! RFC 9449 §5 allows.

use std::fmt;

use http::{HeaderMap, HeaderValue, Method, Uri};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{SessionError, SessionManager};
use crate::dpop::{
    DPOP_HEADER, DpopError, DpopMode, DpopPolicy, JtiUse, ProofRequest, check_proof,
};
use crate::issue::{PairBinding, TokenPair};
use crate::revocation::NewSession;

/// The key of a token request's verified DPoP proof: what a session is
/// bound to. Only [`SessionManager::token_request_proof`] makes one.
#[derive(Clone, PartialEq, Eq)]
pub struct DpopKey {
    jkt: String,
    fresh_nonce: Option<String>,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.jkt)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// The RFC 7638 thumbprint of the proof key (the tokens' `cnf.jkt`).
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// A fresh server nonce for the response's `DPoP-Nonce` header, when
    /// the proof's nonce is about to expire.
    pub fn fresh_nonce(&self) -> Option<&str> {
        self.fresh_nonce.as_deref()
    }
}

/// A token request's DPoP proof refused: `invalid_dpop_proof`, or
/// `use_dpop_nonce` with a nonce to retry with (400, RFC 9449 §5, §8), or a
/// replay store that could not answer (503).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofRefused {
    error: DpopError,
    nonce: Option<String>,
}

impl ProofRefused {
    pub(super) fn new(error: DpopError) -> Self {
        Self { error, nonce: None }
    }

    /// Why, for logs.
    pub const fn error(&self) -> DpopError {
        self.error
    }

    /// The `error` code of the response body: `use_dpop_nonce`,
    /// `temporarily_unavailable` (the replay store), else
    /// `invalid_dpop_proof`.
    pub const fn code(&self) -> &'static str {
        match self.error {
            DpopError::UseNonce => "use_dpop_nonce",
            DpopError::ReplayStoreUnavailable => "temporarily_unavailable",
            _ => "invalid_dpop_proof",
        }
    }

    /// The nonce the client must put in its next proof (`DPoP-Nonce`).
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }
}

impl fmt::Display for ProofRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

// ===== impl SessionManager =====

impl<T> SessionManager<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Issues DPoP-bound sessions for login and refresh requests that carry
    /// a proof, under `policy` (its origin names the token endpoints' URIs;
    /// its nonces, replay store and proof rules apply as in the layer; give
    /// both the same replay store). [`DpopMode::Required`] refuses token
    /// requests without a proof; [`DpopMode::Off`] ignores proofs (and
    /// refuses to refresh a bound session).
    #[must_use]
    pub fn dpop(self, policy: DpopPolicy) -> Self {
        self.with_inner(|inner| inner.dpop = Some(policy))
    }

    /// The DPoP policy of token requests, if any.
    pub fn dpop_policy(&self) -> Option<&DpopPolicy> {
        self.inner.dpop.as_ref()
    }

    /// Checks the `DPoP` proof of a token request (a login or a refresh,
    /// `method` and `uri` as received) — RFC 9449 §4.3 without `ath`, its
    /// `jti` marked in the replay store — and returns its key. `Ok(None)`
    /// when the request has no proof (refused in required mode), when no
    /// policy is set, or DPoP is off.
    pub async fn token_request_proof(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Option<DpopKey>, SessionError> {
        let Some(policy) = self.inner.dpop.as_ref().filter(|p| p.mode != DpopMode::Off) else {
            return Ok(None);
        };
        let refuse = |error: DpopError| {
            tracing::info!(outcome = "rejected", reason = %error, "token request's DPoP proof refused");
            SessionError::Proof(ProofRefused::new(error))
        };
        let mut proofs = headers.get_all(DPOP_HEADER).iter();
        let proof = match (proofs.next(), proofs.next()) {
            (None, _) if policy.mode == DpopMode::Required => {
                return Err(refuse(DpopError::MissingProof));
            }
            (None, _) => return Ok(None),
            (Some(proof), None) => proof
                .to_str()
                .map_err(|_| refuse(DpopError::MalformedProof))?,
            (Some(_), Some(_)) => return Err(refuse(DpopError::MultipleProofs)),
        };
        let Some(origin) = &policy.origin else {
            tracing::warn!(
                "DPoP proof at a token endpoint, and no origin is configured (DpopPolicy::origin)"
            );
            return Err(refuse(DpopError::UriMismatch));
        };
        let htu = origin
            .request_htu(uri, headers)
            .map_err(|_| refuse(DpopError::UriMismatch))?;
        let now = policy.clock.now_secs();
        let mut request = ProofRequest::new(method, &htu, now);
        if let Some(nonces) = &policy.nonces {
            request = request.nonces(nonces);
        }
        let verified = check_proof(&policy.config, proof, &request).map_err(|error| {
            let mut refused = refuse(error);
            if let (SessionError::Proof(refused), Some(nonces)) = (&mut refused, &policy.nonces)
                && error == DpopError::UseNonce
            {
                refused.nonce = Some(nonces.issue(now));
            }
            refused
        })?;
        let mark = policy
            .replay
            .mark(verified.replay_key(), verified.replay_ttl())
            .resolve()
            .await;
        match mark {
            Ok(JtiUse::Fresh) => {}
            Ok(JtiUse::Replayed) => return Err(refuse(DpopError::Replayed)),
            Err(error) => {
                tracing::warn!(%error, "DPoP replay store unavailable at a token endpoint");
                return Err(refuse(DpopError::ReplayStoreUnavailable));
            }
        }
        let fresh_nonce = match &policy.nonces {
            Some(nonces) if verified.renew_nonce() => Some(nonces.issue(now)),
            _ => None,
        };
        Ok(Some(DpopKey {
            jkt: verified.jkt().to_owned(),
            fresh_nonce,
        }))
    }

    /// [`login`](Self::login), the session bound to `key` when given: both
    /// tokens carry `cnf.jkt`, the family records the key, and the pair's
    /// `token_type` is `DPoP`.
    pub async fn login_bound(
        &self,
        subject: &str,
        custom: &T,
        key: Option<&DpopKey>,
    ) -> Result<TokenPair, SessionError> {
        let jkt = key.map(DpopKey::jkt);
        let binding = PairBinding {
            access: jkt,
            refresh: jkt,
        };
        let pair = self.inner.issuer.pair_bound(subject, custom, binding)?;
        let session = pair.session();
        self.inner
            .store
            .start_session(NewSession {
                family: &session.id,
                subject,
                jti: &session.refresh_jti,
                created_at: session.auth_time,
                ends_at: session.session_expires_at,
                expires_at: session.session_expires_at.saturating_add(self.leeway()),
                jkt,
            })
            .await?;
        tracing::debug!(sub = %subject, sid = %session.id, dpop = jkt.is_some(), "session started");
        Ok(pair)
    }

    /// [`refresh`](Self::refresh) with the key of the request's DPoP proof:
    /// a bound session needs it to be its key (else
    /// [`SessionError::Proof`], `invalid_dpop_proof`); an unbound one gets
    /// a DPoP-bound access token when a key is given.
    pub async fn refresh_bound(
        &self,
        refresh_token: &str,
        key: Option<&DpopKey>,
    ) -> Result<TokenPair, SessionError> {
        self.refresh_with(refresh_token, key.map(DpopKey::jkt))
            .await
    }
}

/// The pair's binding on a refresh: the refresh token's own `cnf.jkt` must
/// be the proof's key; the next access token is bound to the proof's key.
pub(super) fn refresh_binding<'a>(
    bound: Option<&'a str>,
    presented: Option<&'a str>,
) -> Result<PairBinding<'a>, SessionError> {
    match (bound, presented) {
        (Some(bound), Some(presented)) if bound != presented => {
            tracing::info!(outcome = "rejected", reason = %DpopError::KeyNotBound, "refresh of a DPoP-bound session");
            Err(SessionError::Proof(ProofRefused::new(
                DpopError::KeyNotBound,
            )))
        }
        (Some(_), None) => {
            tracing::info!(
                outcome = "rejected",
                reason = "no DPoP proof",
                "refresh of a DPoP-bound session"
            );
            Err(SessionError::Proof(ProofRefused::new(
                DpopError::MissingProof,
            )))
        }
        (bound, presented) => Ok(PairBinding {
            access: presented,
            refresh: bound,
        }),
    }
}

/// The `DPoP-Nonce` header value of a nonce.
pub(super) fn nonce_header(nonce: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(nonce).ok()
}
