//! [`ResponseFuture`]: the future of a request the layer let through to the
//! inner service, or the rejection it answered with instead.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project::pin_project;

/// The response future of [`JwtAuth`](super::JwtAuth) and
/// [`RequireClaims`](crate::guard::RequireClaims): the inner service's
/// future, or a rejection that is ready at once.
#[pin_project]
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture<F: Future, B> {
    #[pin]
    kind: Kind<F, B>,
}

/// The rare request that must wait (its token's `kid` is being refetched),
/// boxed so every other request keeps the unboxed path.
type Deferred<O> = Pin<Box<dyn Future<Output = O> + Send>>;

#[pin_project(project = KindProj)]
enum Kind<F: Future, B> {
    Inner {
        #[pin]
        future: F,
    },
    Rejected {
        response: Option<Response<B>>,
    },
    Deferred {
        future: Deferred<F::Output>,
    },
}

impl<F: Future, B> ResponseFuture<F, B> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn rejected(response: Response<B>) -> Self {
        Self {
            kind: Kind::Rejected {
                response: Some(response),
            },
        }
    }

    pub(crate) fn deferred(future: Deferred<F::Output>) -> Self {
        Self {
            kind: Kind::Deferred { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Rejected { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            KindProj::Deferred { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F: Future, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
