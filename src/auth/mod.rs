//! The authenticating middleware: [`JwtAuthLayer`] → [`JwtAuth`] →
//! [`ResponseFuture`].
//!
//! For each request it reads a token from the configured sources, verifies it
//! as an **access** token, asks the revocation store, and either inserts the
//! [`Arc<Claims<T>>`](crate::Claims) into the request extensions and calls the inner
//! service, or answers with a rejection (401, 503; gRPC statuses for gRPC).
//! All of that is synchronous: the inner service is called in `call` itself,
//! and no future is boxed.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower_jwt_auth::{Algorithm, JwtAuthLayer, JwtConfig, Verifier, VerifyingKey};
//!
//! let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
//! let verifier = Verifier::new(key, JwtConfig::new());
//! let app: Router = Router::new()
//!     .route("/ping", get(|| async { "pong" }))
//!     .layer(JwtAuthLayer::new(verifier));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Optional authentication, with a custom claims type and a cookie as a
//! second source:
//!
//! ```
//! use serde::Deserialize;
//! use tower_jwt_auth::{Algorithm, JwtAuthLayer, JwtConfig, TokenSource, Verifier, VerifyingKey};
//!
//! #[derive(Clone, Deserialize)]
//! struct User { roles: Vec<String> }
//!
//! let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
//! let layer = JwtAuthLayer::new(Verifier::new(key, JwtConfig::new()))
//!     .claims::<User>()
//!     .sources([TokenSource::bearer(), TokenSource::cookie("access_token")])
//!     .optional(true);
//! # let _ = layer;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod future;
#[cfg(feature = "introspection")]
mod introspect;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::JwtAuthLayer;
pub use service::JwtAuth;

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::claims::{Claims, TokenType};
use crate::keys::KeysRefetch;
use crate::rejection::{AuthError, AuthErrorKind, Rejection, is_grpc};
use crate::revocation::{MemoryStore, RevocationStore, TokenRef};
use crate::source::{Head, TokenSource, extract_credential};
use crate::verify::Verifier;

/// The layer's answer for one request.
pub(crate) enum Decision<T> {
    /// Pass it on, with its claims (none: anonymous, in optional mode).
    Accepted(Option<Arc<Claims<T>>>),
    /// Answer with this rejection.
    Rejected(Rejection),
    /// Wait for the issuer's keys to be refetched, then decide again.
    Refetch(KeysRefetch),
    /// Ask the introspection endpoint (or its cache) about this token, then
    /// finish the decision ([`Shared::introspected`]).
    #[cfg(feature = "introspection")]
    Introspect(String),
}

impl<T> From<Result<Option<Arc<Claims<T>>>, Undecided>> for Decision<T> {
    fn from(result: Result<Option<Arc<Claims<T>>>, Undecided>) -> Self {
        match result {
            Ok(claims) => Self::Accepted(claims),
            Err(Undecided::Rejected(rejection)) => Self::Rejected(rejection),
            Err(Undecided::Refetch(wait)) => Self::Refetch(wait),
            #[cfg(feature = "introspection")]
            Err(Undecided::Introspect(token)) => Self::Introspect(token),
        }
    }
}

enum Undecided {
    Rejected(Rejection),
    Refetch(KeysRefetch),
    #[cfg(feature = "introspection")]
    Introspect(String),
}

/// What every clone of the layer and its services shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) verifier: Verifier,
    pub(crate) store: Arc<dyn RevocationStore>,
    pub(crate) sources: Arc<[TokenSource]>,
    pub(crate) realm: Option<Arc<str>>,
    pub(crate) resource_metadata: Option<Arc<str>>,
    pub(crate) optional: bool,
    pub(crate) fail_open: bool,
    pub(crate) csrf: Option<crate::csrf::CsrfProtection>,
    /// Opaque tokens (or every token) checked by RFC 7662 introspection.
    #[cfg(feature = "introspection")]
    pub(crate) introspection: Option<introspect::Introspection>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("verifier", &self.verifier)
            .field("store", &self.store)
            .field("sources", &self.sources)
            .field("realm", &self.realm)
            .field("resource_metadata", &self.resource_metadata)
            .field("optional", &self.optional)
            .field("fail_open", &self.fail_open)
            .field("csrf", &self.csrf)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            store: Arc::new(MemoryStore::new()),
            sources: Arc::from([TokenSource::bearer()]),
            realm: None,
            resource_metadata: None,
            optional: false,
            fail_open: false,
            csrf: None,
            #[cfg(feature = "introspection")]
            introspection: None,
        }
    }

    /// The whole decision for one request: `Accepted(None)` only in optional
    /// mode when no credential was presented at all; `Refetch` when the
    /// token's `kid` is unknown to a remote key set that may be refetched
    /// now (only when `may_refetch`): the caller awaits it and decides again.
    pub(crate) fn authenticate<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        request: Head<'_>,
        may_refetch: bool,
    ) -> Decision<T> {
        self.decide(request, may_refetch).into()
    }

    /// The refusal of this request for `kind`, counted.
    fn reject(&self, headers: &HeaderMap, kind: AuthErrorKind) -> Undecided {
        crate::metrics::refused(kind);
        Undecided::Rejected(
            Rejection::new(AuthError::new(kind), is_grpc(headers), self.realm.clone())
                .with_resource_metadata(self.resource_metadata.clone()),
        )
    }

    fn decide<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        request: Head<'_>,
        may_refetch: bool,
    ) -> Result<Option<Arc<Claims<T>>>, Undecided> {
        let headers: &HeaderMap = request.headers;
        // Every event below carries `outcome` and, for refusals, `reason`;
        // `sub` and `jti` once the token verified. Never the token or a key.
        let _span = tracing::debug_span!("jwt_auth").entered();
        let reject = |kind: AuthErrorKind| self.reject(headers, kind);
        let credential = match extract_credential(&self.sources, request) {
            Ok(Some(credential)) => credential,
            Ok(None) if self.optional => {
                tracing::trace!(
                    outcome = "anonymous",
                    "no credentials; optional authentication"
                );
                crate::metrics::anonymous();
                return Ok(None);
            }
            Ok(None) => {
                tracing::debug!(outcome = "rejected", reason = "no credentials presented");
                return Err(reject(AuthErrorKind::MissingCredentials));
            }
            Err(kind) => {
                tracing::info!(outcome = "rejected", reason = %AuthError::new(kind));
                return Err(reject(kind));
            }
        };
        // An opaque token (or, configured so, any token) is introspected.
        #[cfg(feature = "introspection")]
        if let (Some(introspection), Ok(token)) = (&self.introspection, credential.token())
            && introspection.applies_to(token)
        {
            return Err(Undecided::Introspect(token.to_owned()));
        }
        // A repeated token: the cache knows these exact bytes.
        let timer = crate::metrics::Timer::start();
        let verified = match self
            .verifier
            .kept_claims::<T>(credential.as_bytes(), TokenType::Access)
        {
            Some(verified) => {
                timer.cached();
                verified
            }
            None => match credential.token() {
                Ok(token) => {
                    let verified = self.verifier.verify_keeping::<T>(token, TokenType::Access);
                    timer.first_seen();
                    if verified.is_ok() {
                        crate::metrics::cache_size(|| self.verifier.verified_cache_size());
                    }
                    verified
                }
                Err(kind) => {
                    tracing::info!(outcome = "rejected", reason = %AuthError::new(kind));
                    return Err(reject(kind));
                }
            },
        };
        let claims = match verified {
            Ok(claims) => claims,
            Err(error) if error.kind() == AuthErrorKind::UnknownKey && may_refetch => {
                // A key the issuer may just have added: refetch (coalesced,
                // rate-limited) and decide again once it is in.
                match credential
                    .token()
                    .ok()
                    .and_then(|token| self.verifier.refetch_for_unknown_key(token))
                {
                    Some(wait) => {
                        tracing::debug!(reason = %error, "refetching the issuer's keys");
                        return Err(Undecided::Refetch(wait));
                    }
                    None => {
                        tracing::info!(outcome = "rejected", reason = %error);
                        return Err(reject(error.kind()));
                    }
                }
            }
            Err(error) => {
                tracing::info!(outcome = "rejected", reason = %error);
                return Err(reject(error.kind()));
            }
        };
        self.accept(request, credential.is_ambient(), claims)
    }

    /// The rest of the decision on verified claims, whatever the token kind:
    /// the revocation store, the CSRF proof of an ambient credential, the
    /// fail-open policy.
    fn accept<T>(
        &self,
        request: Head<'_>,
        ambient: bool,
        claims: Arc<Claims<T>>,
    ) -> Result<Option<Arc<Claims<T>>>, Undecided> {
        let headers: &HeaderMap = request.headers;
        let reject = |kind: AuthErrorKind| self.reject(headers, kind);
        let token_ref = TokenRef {
            jti: &claims.jti,
            subject: &claims.sub,
            session: claims.sid.as_deref(),
            issued_at_micros: claims.issued_at_micros(),
        };
        // A fail-open acceptance is logged only once the request is accepted
        // (the CSRF check below may still refuse it).
        let mut fail_open = None;
        match self.store.is_revoked(&token_ref) {
            Ok(false) => {}
            Ok(true) => {
                tracing::info!(outcome = "rejected", reason = "token revoked", sub = %claims.sub, jti = %claims.jti);
                return Err(reject(AuthErrorKind::Revoked));
            }
            Err(error) if self.fail_open => fail_open = Some(error),
            Err(error) => {
                tracing::warn!(
                    outcome = "rejected",
                    reason = "revocation store unavailable",
                    %error,
                    sub = %claims.sub,
                    jti = %claims.jti,
                );
                return Err(reject(AuthErrorKind::StoreUnavailable));
            }
        }
        // ----- CSRF: a cookie is ambient authority (crate::csrf decides) -----
        if ambient {
            let (method, uri, sid) = (request.method, request.uri, claims.sid.as_deref());
            if let Err(error) =
                crate::csrf::check_ambient(self.csrf.as_ref(), method, uri, headers, sid)
            {
                tracing::info!(outcome = "rejected", reason = %error, sub = %claims.sub, jti = %claims.jti);
                return Err(reject(AuthErrorKind::CsrfRejected));
            }
        }
        // ----- end CSRF -----
        match fail_open {
            Some(error) => {
                tracing::error!(
                    outcome = "accepted",
                    reason = "fail-open",
                    %error,
                    sub = %claims.sub,
                    jti = %claims.jti,
                    "FAIL-OPEN: revocation store unavailable; accepting a token that may be revoked"
                );
                crate::metrics::fail_open();
            }
            None => {
                tracing::debug!(outcome = "accepted", sub = %claims.sub, jti = %claims.jti);
                crate::metrics::accepted();
            }
        }
        Ok(Some(claims))
    }
}
