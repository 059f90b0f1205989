//! Why a session operation failed, and the answer a refresh hook gives
//! when it refuses to continue a session.

use std::fmt;

use super::ProofRefused;
use crate::dpop::DpopError;
use crate::issue::IssueError;
use crate::rejection::{AuthError, AuthErrorKind};
use crate::revocation::StoreError;

/// Why a session operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The token was refused (401), or the store could not answer (503, kind
    /// [`AuthErrorKind::StoreUnavailable`]).
    Rejected(AuthError),
    /// A token could not be minted (500).
    Issue(IssueError),
    /// A token request's DPoP proof was refused, or a bound session was
    /// refreshed without a proof of its key: 400 `invalid_dpop_proof` or
    /// `use_dpop_nonce` (RFC 9449 §5), 503 when the replay store could not
    /// answer.
    Proof(ProofRefused),
}

impl SessionError {
    /// The HTTP status this error maps to.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::Rejected(error) => error.status(),
            Self::Issue(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
            Self::Proof(refused) if refused.error() == DpopError::ReplayStoreUnavailable => {
                http::StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Proof(_) => http::StatusCode::BAD_REQUEST,
        }
    }

    /// The rejection reason, when the token was refused.
    pub fn auth_error(&self) -> Option<&AuthError> {
        match self {
            Self::Rejected(error) => Some(error),
            Self::Issue(_) | Self::Proof(_) => None,
        }
    }

    pub(super) fn kind(kind: AuthErrorKind) -> Self {
        Self::Rejected(AuthError::new(kind))
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(error) => write!(f, "session refused: {error}"),
            Self::Issue(error) => write!(f, "minting failed: {error}"),
            Self::Proof(refused) => write!(f, "DPoP proof refused: {refused}"),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<AuthError> for SessionError {
    fn from(error: AuthError) -> Self {
        Self::Rejected(error)
    }
}

impl From<IssueError> for SessionError {
    fn from(error: IssueError) -> Self {
        Self::Issue(error)
    }
}

impl From<StoreError> for SessionError {
    fn from(error: StoreError) -> Self {
        tracing::warn!(%error, "revocation store unavailable on the session path");
        Self::kind(AuthErrorKind::StoreUnavailable)
    }
}

/// The application's answer when a refresh hook refuses to continue a session.
#[derive(Debug, Clone)]
pub struct RefreshRefused {
    pub(super) unavailable: bool,
    pub(super) reason: String,
}

impl RefreshRefused {
    /// The session must end (account disabled, password changed): 401.
    pub fn denied(reason: impl Into<String>) -> Self {
        Self {
            unavailable: false,
            reason: reason.into(),
        }
    }

    /// The hook could not decide now (its database is down): 503.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self {
            unavailable: true,
            reason: reason.into(),
        }
    }
}
