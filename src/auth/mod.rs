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
mod sender;
mod service;

pub use future::ResponseFuture;
pub use layer::JwtAuthLayer;
pub use service::JwtAuth;

use std::fmt;
use std::sync::Arc;

use http::{Extensions, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;

use crate::binding::{BindingError, Confirmation, token_confirmation};
use crate::claims::{Claims, TokenType};
use crate::dpop::MarkFuture;
use crate::keys::KeysRefetch;
use crate::rejection::{AuthError, AuthErrorKind, Rejection, is_grpc};
use crate::revocation::{MemoryStore, RevocationStore, with_token_ref};
use crate::source::{Credential, Head, TokenSource, extract_credential};
use crate::verify::Verifier;

/// The layer's answer for one request.
pub(crate) enum Decision<T> {
    /// Pass it on, with its claims (none: anonymous, in optional mode), and
    /// a fresh DPoP nonce for the response.
    Accepted(Option<Arc<Claims<T>>>, Option<HeaderValue>),
    /// Answer with this rejection.
    Rejected(Rejection),
    /// Wait for the issuer's keys to be refetched, then decide again.
    Refetch(KeysRefetch),
    /// Accepted once the DPoP replay store says the proof is fresh.
    Replay(Box<PendingReplay<T>>),
    /// Ask the introspection endpoint (or its cache) about this token, then
    /// finish the decision ([`Shared::introspected`]).
    #[cfg(feature = "introspection")]
    Introspect(String),
}

/// A request waiting for the replay store, with what each answer leads to.
pub(crate) struct PendingReplay<T> {
    pub(crate) claims: Arc<Claims<T>>,
    pub(crate) mark: MarkFuture,
    pub(crate) nonce: Option<HeaderValue>,
    /// The rejection for a replayed `jti` and for a store that cannot answer.
    pub(crate) replayed: Rejection,
    pub(crate) unavailable: Rejection,
}

/// The claims to pass on (none: anonymous) and a fresh DPoP nonce.
type Accepted<T> = (Option<Arc<Claims<T>>>, Option<HeaderValue>);

enum Undecided<T> {
    Rejected(Rejection),
    Refetch(KeysRefetch),
    Replay(Box<PendingReplay<T>>),
    #[cfg(feature = "introspection")]
    Introspect(String),
}

impl<T> From<Result<Accepted<T>, Undecided<T>>> for Decision<T> {
    fn from(result: Result<Accepted<T>, Undecided<T>>) -> Self {
        match result {
            Ok((claims, nonce)) => Self::Accepted(claims, nonce),
            Err(Undecided::Rejected(rejection)) => Self::Rejected(rejection),
            Err(Undecided::Refetch(wait)) => Self::Refetch(wait),
            Err(Undecided::Replay(pending)) => Self::Replay(pending),
            #[cfg(feature = "introspection")]
            Err(Undecided::Introspect(token)) => Self::Introspect(token),
        }
    }
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
    pub(crate) senders: sender::SenderConstraints,
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
            .field("senders", &self.senders)
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
            senders: sender::SenderConstraints::default(),
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
        extensions: &Extensions,
        may_refetch: bool,
    ) -> Decision<T> {
        self.decide(request, extensions, may_refetch).into()
    }

    /// The credential of a request: `Authorization: DPoP <token>` first
    /// (unless DPoP is off), then the configured sources; and whether it came
    /// with the DPoP scheme.
    fn credential<'h>(
        &self,
        request: Head<'h>,
    ) -> (Result<Option<Credential<'h>>, AuthErrorKind>, bool) {
        match self.senders.dpop_credential(request) {
            Ok(Some(credential)) => (Ok(Some(credential)), true),
            Ok(None) => (extract_credential(&self.sources, request), false),
            Err(kind) => (Err(kind), false),
        }
    }

    /// The refusal of this request for `kind`, with the challenges the
    /// accepted schemes call for.
    fn rejection(
        &self,
        headers: &HeaderMap,
        dpop_scheme: bool,
        kind: AuthErrorKind,
        nonce: Option<HeaderValue>,
    ) -> Rejection {
        Rejection::new(AuthError::new(kind), is_grpc(headers), self.realm.clone())
            .with_resource_metadata(self.resource_metadata.clone())
            .with_dpop(self.senders.challenge(dpop_scheme, nonce))
    }

    /// The refusal of this request for `kind`, counted.
    fn reject<T>(
        &self,
        headers: &HeaderMap,
        dpop_scheme: bool,
        kind: AuthErrorKind,
    ) -> Undecided<T> {
        crate::metrics::refused(kind);
        Undecided::Rejected(self.rejection(headers, dpop_scheme, kind, None))
    }

    fn decide<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        request: Head<'_>,
        extensions: &Extensions,
        may_refetch: bool,
    ) -> Result<Accepted<T>, Undecided<T>> {
        let headers: &HeaderMap = request.headers;
        // Every event below carries `outcome` and, for refusals, `reason`;
        // `sub` and `jti` once the token verified. Never the token or a key.
        let _span = tracing::debug_span!("jwt_auth").entered();
        let (credential, dpop_scheme) = self.credential(request);
        let reject = |kind: AuthErrorKind| self.reject(headers, dpop_scheme, kind);
        let credential = match credential {
            Ok(Some(credential)) => credential,
            Ok(None) if self.optional => {
                tracing::trace!(
                    outcome = "anonymous",
                    "no credentials; optional authentication"
                );
                crate::metrics::anonymous();
                return Ok((None, None));
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
        if let Some(introspection) = &self.introspection
            && let Ok(token) = credential.token()
            && introspection.applies_to(token)
        {
            let timer = crate::metrics::Timer::start();
            let Some(answer) = self.introspected_at_once::<T>(token) else {
                return Err(Undecided::Introspect(token.to_owned()));
            };
            if answer.is_ok() {
                timer.cached();
            }
            return self.decide_on_answer(request, extensions, credential, dpop_scheme, answer);
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
        let (claims, confirmation) = claims.into_parts();
        self.accept(
            request,
            extensions,
            credential,
            dpop_scheme,
            claims,
            confirmation.get(),
        )
    }

    /// The rest of the decision on verified claims, whatever the token kind
    /// (a JWT or an introspected token): the revocation store, the CSRF proof
    /// of an ambient credential, the sender constraints (DPoP, mTLS), the
    /// fail-open policy. `confirmation`: the token's `cnf` when it is known
    /// already (an introspection answer's, or the verified-token cache's,
    /// read once when the JWT entered); `None`: read from the JWT's payload.
    fn accept<T>(
        &self,
        request: Head<'_>,
        extensions: &Extensions,
        credential: Credential<'_>,
        dpop_scheme: bool,
        claims: Arc<Claims<T>>,
        confirmation: Option<Result<&Confirmation, BindingError>>,
    ) -> Result<Accepted<T>, Undecided<T>> {
        let headers: &HeaderMap = request.headers;
        let reject = |kind: AuthErrorKind| self.reject(headers, dpop_scheme, kind);
        // Another issuer's token is revoked under ids scoped by its issuer:
        // the same `sub` there is another person (crate::RevocationScope).
        let scope = self.verifier.revocation_scope(claims.iss.as_deref());
        let revoked = with_token_ref(&*claims, scope, |token| self.store.is_revoked(token));
        // A fail-open acceptance is logged only once the request is accepted
        // (the CSRF check below may still refuse it).
        let mut fail_open = None;
        match revoked {
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
        if credential.is_ambient() {
            let (method, uri, sid) = (request.method, request.uri, claims.sid.as_deref());
            if let Err(error) =
                crate::csrf::check_ambient(self.csrf.as_ref(), method, uri, headers, sid)
            {
                tracing::info!(outcome = "rejected", reason = %error, sub = %claims.sub, jti = %claims.jti);
                return Err(reject(AuthErrorKind::CsrfRejected));
            }
        }
        // ----- end CSRF -----
        // ----- sender constraints (DPoP, mTLS), the replay mark last -----
        // A bearer token known to be unbound has nothing to check (and its
        // text need not be read again).
        let known_unbound = matches!(confirmation, Some(Ok(cnf)) if !cnf.is_bound());
        let checked = self.senders.scheme_allowed(dpop_scheme).and_then(|()| {
            if known_unbound && !dpop_scheme {
                return Ok(sender::Checked::Done(None));
            }
            match credential.token() {
                Ok(token) => {
                    // Read from the token only when neither the cache nor an
                    // introspection answer knew it.
                    let read;
                    let cnf = match confirmation {
                        Some(known) => known,
                        None => {
                            read = token_confirmation(token);
                            read.as_ref().map_err(|error| *error)
                        }
                    };
                    self.senders
                        .check(request, extensions, token, cnf, dpop_scheme)
                }
                Err(kind) => Err(sender::Refusal {
                    kind,
                    reason: AuthError::new(kind).to_string(),
                    nonce: None,
                }),
            }
        });
        let nonce = match checked {
            Ok(sender::Checked::Done(nonce)) => nonce,
            Ok(sender::Checked::Pending(mark, nonce)) => {
                if let Some(error) = fail_open {
                    tracing::error!(outcome = "accepted", reason = "fail-open", %error, sub = %claims.sub, jti = %claims.jti,
                        "FAIL-OPEN: revocation store unavailable; accepting a token that may be revoked");
                    crate::metrics::fail_open();
                }
                return Err(Undecided::Replay(Box::new(PendingReplay {
                    claims,
                    mark,
                    nonce,
                    replayed: self.rejection(
                        headers,
                        dpop_scheme,
                        AuthErrorKind::InvalidDpopProof,
                        None,
                    ),
                    unavailable: self.rejection(
                        headers,
                        dpop_scheme,
                        AuthErrorKind::ReplayStoreUnavailable,
                        None,
                    ),
                })));
            }
            Err(refusal) => {
                tracing::info!(outcome = "rejected", reason = %refusal.reason, sub = %claims.sub, jti = %claims.jti);
                crate::metrics::refused(refusal.kind);
                return Err(Undecided::Rejected(self.rejection(
                    headers,
                    dpop_scheme,
                    refusal.kind,
                    refusal.nonce,
                )));
            }
        };
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
        Ok((Some(claims), nonce))
    }
}
