//! Step-up authentication (RFC 9470): see [`RequireRecentLoginLayer`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::ResponseFuture;
use crate::claims::{Claims, NoCustomClaims};
use crate::clock::{Clock, SystemClock};
use crate::config::{DEFAULT_LEEWAY, JwtConfig};
use crate::rejection::{
    AuthError, AuthErrorKind, DefaultRejection, OnRejection, Rejection, is_grpc, respond,
};

// ===== impl RequireRecentLoginLayer =====

/// Step-up authentication (RFC 9470): admits requests whose login
/// (`auth_time`) is at most `max_age` old. Goes under the auth layer, like
/// [`RequireClaimsLayer`](super::RequireClaimsLayer).
///
/// It admits a request only when the verified
/// token's `auth_time` (the login that began its session) is at most
/// `max_age` ago. Refresh keeps `auth_time`, so refreshing never satisfies
/// it: only a new login does. Refusals:
///
/// * no claims → 401, `WWW-Authenticate: Bearer`;
/// * no `auth_time`, an older login, or one in the future beyond the clock
///   leeway → 401,
///   `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=<secs>`
///   (gRPC: `grpc-status` 16, UNAUTHENTICATED).
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
/// use tower_jwt_auth::guard::RequireRecentLoginLayer;
/// use tower_jwt_auth::{
///     Algorithm, JwtAuthLayer, JwtConfig, ManualClock, MemoryStore, NoCustomClaims, SessionManager,
///     SigningKey, TokenIssuer, Verifier, VerifyingKey,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = ManualClock::at_secs(1_800_000_000);
/// let config = JwtConfig::new().clock(clock.clone());
/// let secret = b"an example secret of at least 32 bytes!";
/// let verifier = Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, config.clone());
/// let sessions: SessionManager = SessionManager::new(
///     TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, config.clone()),
///     verifier.clone(),
///     std::sync::Arc::new(MemoryStore::with_clock(clock.clone())),
/// );
/// let app = Router::new()
///     .route("/account/sensitive", get(|| async { "sensitive" }))
///     .route_layer(
///         RequireRecentLoginLayer::<NoCustomClaims>::new(Duration::from_secs(300)).clock_of(&config),
///     )
///     .route_layer(JwtAuthLayer::new(verifier).shared_store(sessions.store().clone()));
///
/// let pair = sessions.login("alice", &Default::default()).await?;
/// let request = || {
///     Request::get("/account/sensitive")
///         .header("authorization", format!("Bearer {}", pair.access_token))
///         .body(Body::empty())
/// };
/// assert_eq!(app.clone().oneshot(request()?).await?.status(), StatusCode::OK);
///
/// clock.advance_secs(301);
/// let refused = app.oneshot(request()?).await?;
/// assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(
///     refused.headers()["www-authenticate"],
///     r#"Bearer error="insufficient_user_authentication", max_age=300"#
/// );
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct RequireRecentLoginLayer<T = NoCustomClaims, R = DefaultRejection> {
    max_age_secs: u64,
    leeway_secs: u64,
    clock: Arc<dyn Clock>,
    realm: Option<Arc<str>>,
    rejection: R,
    _claims: PhantomData<fn() -> T>,
}

impl<T> RequireRecentLoginLayer<T> {
    /// A layer admitting logins at most `max_age` old (whole seconds), on
    /// the system clock.
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age_secs: max_age.as_secs(),
            leeway_secs: DEFAULT_LEEWAY.as_secs(),
            clock: Arc::new(SystemClock),
            realm: None,
            rejection: DefaultRejection,
            _claims: PhantomData,
        }
    }
}

impl<T, R> RequireRecentLoginLayer<T, R> {
    /// Tell the time by `clock`.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Tell the time by the clock tokens are minted and verified with, and
    /// allow its leeway for an `auth_time` ahead of it (default
    /// [`DEFAULT_LEEWAY`]).
    pub fn clock_of(mut self, config: &JwtConfig) -> Self {
        self.clock = Arc::clone(&config.clock);
        self.leeway_secs = config.leeway_secs();
        self
    }

    /// The `realm` of the `WWW-Authenticate` challenge.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(Arc::from(realm.into()));
        self
    }

    /// Build rejection responses with `rejection` (see [`OnRejection`]);
    /// [`Rejection::max_age`] carries the bound.
    pub fn on_rejection<R2>(self, rejection: R2) -> RequireRecentLoginLayer<T, R2> {
        RequireRecentLoginLayer {
            max_age_secs: self.max_age_secs,
            leeway_secs: self.leeway_secs,
            clock: self.clock,
            realm: self.realm,
            rejection,
            _claims: PhantomData,
        }
    }

    /// The largest login age admitted, in seconds.
    pub fn max_age_secs(&self) -> u64 {
        self.max_age_secs
    }
}

impl<T, R: Clone> Clone for RequireRecentLoginLayer<T, R> {
    fn clone(&self) -> Self {
        Self {
            max_age_secs: self.max_age_secs,
            leeway_secs: self.leeway_secs,
            clock: Arc::clone(&self.clock),
            realm: self.realm.clone(),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<T, R> fmt::Debug for RequireRecentLoginLayer<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireRecentLoginLayer")
            .field("max_age_secs", &self.max_age_secs)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl<S, T, R: Clone> Layer<S> for RequireRecentLoginLayer<T, R> {
    type Service = RequireRecentLogin<S, T, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireRecentLogin {
            inner,
            layer: self.clone(),
        }
    }
}

// ===== impl RequireRecentLogin =====

/// The service [`RequireRecentLoginLayer`] wraps around `S`.
#[must_use]
pub struct RequireRecentLogin<S, T, R> {
    inner: S,
    layer: RequireRecentLoginLayer<T, R>,
}

impl<S, T, R> RequireRecentLogin<S, T, R> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Consumes `self`, returning the wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn decide(
        &self,
        headers: &http::HeaderMap,
        claims: Option<&Claims<T>>,
    ) -> Result<(), Rejection> {
        let layer = &self.layer;
        let reject =
            |kind| Rejection::new(AuthError::new(kind), is_grpc(headers), layer.realm.clone());
        let Some(claims) = claims else {
            tracing::debug!(
                outcome = "rejected",
                reason = "no claims in the request extensions",
                "step-up"
            );
            return Err(reject(AuthErrorKind::MissingCredentials));
        };
        let now = layer.clock.now_secs();
        // A login time in the future (beyond the clock leeway) is no recent
        // login: it would stay "fresh" for as long as it lies ahead.
        match claims.auth_time {
            Some(auth_time)
                if auth_time <= now.saturating_add(layer.leeway_secs)
                    && now.saturating_sub(auth_time) <= layer.max_age_secs =>
            {
                Ok(())
            }
            auth_time => {
                tracing::info!(
                    outcome = "rejected",
                    reason = "login older than max_age, missing, or in the future",
                    sub = %claims.sub,
                    login_age_secs = auth_time.map(|t| now.saturating_sub(t)),
                    max_age_secs = layer.max_age_secs,
                    "step-up required"
                );
                Err(reject(AuthErrorKind::InsufficientUserAuthentication)
                    .with_max_age(layer.max_age_secs))
            }
        }
    }
}

impl<S: Clone, T, R: Clone> Clone for RequireRecentLogin<S, T, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, T, R> fmt::Debug for RequireRecentLogin<S, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireRecentLogin")
            .field("inner", &self.inner)
            .field("max_age_secs", &self.layer.max_age_secs)
            .finish_non_exhaustive()
    }
}

impl<S, T, R, ReqBody, ResBody> Service<Request<ReqBody>> for RequireRecentLogin<S, T, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    T: Send + Sync + 'static,
    R: OnRejection<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let claims = request.extensions().get::<Arc<Claims<T>>>();
        match self.decide(request.headers(), claims.map(|claims| &**claims)) {
            Ok(()) => ResponseFuture::inner(self.inner.call(request)),
            Err(rejection) => ResponseFuture::rejected(respond(&self.layer.rejection, &rejection)),
        }
    }
}
