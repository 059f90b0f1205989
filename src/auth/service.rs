//! [`JwtAuth`]: the service the layer wraps around an inner service; its
//! `call` runs the authentication decision before the inner call.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::sender::{replay_answer, with_nonce};
use super::{Decision, PendingReplay, ResponseFuture, Shared};
use crate::rejection::{AuthErrorKind, OnRejection, respond};
use crate::source::Head;

/// The service [`JwtAuthLayer`](super::JwtAuthLayer) wraps around `S`.
#[must_use]
pub struct JwtAuth<S, T, R> {
    inner: S,
    shared: Arc<Shared>,
    rejection: R,
    _claims: PhantomData<fn() -> T>,
}

impl<S, T, R> JwtAuth<S, T, R> {
    pub(crate) fn from_parts(inner: S, shared: Arc<Shared>, rejection: R) -> Self {
        Self {
            inner,
            shared,
            rejection,
            _claims: PhantomData,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, T, R: Clone> Clone for JwtAuth<S, T, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S: fmt::Debug, T, R> fmt::Debug for JwtAuth<S, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl<S, T, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, T, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    T: DeserializeOwned + Clone + Send + Sync + 'static,
    R: OnRejection<ResBody> + Clone + Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let head = Head {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
        };
        match self
            .shared
            .authenticate::<T>(head, request.extensions(), true)
        {
            Decision::Accepted(Some(claims), None) => {
                request.extensions_mut().insert(claims);
                ResponseFuture::inner(self.inner.call(request))
            }
            Decision::Accepted(None, None) => ResponseFuture::inner(self.inner.call(request)),
            Decision::Rejected(rejection) => {
                ResponseFuture::rejected(respond(&self.rejection, &rejection))
            }
            // The paths that wait (a refetch of the issuer's keys, a shared
            // replay store) or touch the response (a fresh DPoP nonce): the
            // service that was driven ready goes with the request (tower's
            // advice on cloning inner services), a clone stays for the next call.
            decision => {
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let shared = Arc::clone(&self.shared);
                let on_rejection = self.rejection.clone();
                ResponseFuture::deferred(Box::pin(finish(
                    shared,
                    on_rejection,
                    inner,
                    request,
                    decision,
                )))
            }
        }
    }
}

/// Carries a decision that must wait, or must touch the response, to its end.
async fn finish<S, T, R, ReqBody, ResBody>(
    shared: Arc<Shared>,
    on_rejection: R,
    mut inner: S,
    mut request: Request<ReqBody>,
    mut decision: Decision<T>,
) -> Result<Response<ResBody>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    T: DeserializeOwned + Clone + Send + Sync + 'static,
    R: OnRejection<ResBody>,
{
    loop {
        decision = match decision {
            Decision::Accepted(claims, nonce) => {
                if let Some(claims) = claims {
                    request.extensions_mut().insert(claims);
                }
                let mut response = inner.call(request).await?;
                if let Some(nonce) = nonce {
                    with_nonce(&mut response, nonce);
                }
                return Ok(response);
            }
            Decision::Rejected(rejection) => return Ok(respond(&on_rejection, &rejection)),
            Decision::Refetch(wait) => {
                wait.await;
                let head = Head {
                    method: request.method(),
                    uri: request.uri(),
                    headers: request.headers(),
                };
                // No second refetch: `may_refetch` is false.
                shared.authenticate::<T>(head, request.extensions(), false)
            }
            #[cfg(feature = "introspection")]
            Decision::Introspect(token) => {
                // The introspection call (or its cache) is a state of the
                // response future; the answer ends in the same steps.
                let head = Head {
                    method: request.method(),
                    uri: request.uri(),
                    headers: request.headers(),
                };
                shared
                    .introspected::<T>(head, request.extensions(), &token)
                    .await
            }
            Decision::Replay(pending) => {
                let PendingReplay {
                    claims,
                    mark,
                    nonce,
                    replayed,
                    unavailable,
                } = *pending;
                match replay_answer(mark.await) {
                    Ok(()) => {
                        tracing::debug!(outcome = "accepted", sub = %claims.sub, jti = %claims.jti);
                        crate::metrics::accepted();
                        Decision::Accepted(Some(claims), nonce)
                    }
                    Err(refusal) => {
                        tracing::info!(outcome = "rejected", reason = %refusal.reason, sub = %claims.sub, jti = %claims.jti);
                        crate::metrics::refused(refusal.kind);
                        let rejection = match refusal.kind {
                            AuthErrorKind::ReplayStoreUnavailable => unavailable,
                            _ => replayed,
                        };
                        Decision::Rejected(rejection)
                    }
                }
            }
        };
    }
}
