//! axum extractors (feature `axum`): `Claims<T>` and `Option<Claims<T>>` read
//! what [`JwtAuthLayer`](crate::JwtAuthLayer) put into the request extensions
//! (an `Arc<Claims<T>>`) and hand the handler its own copy. They never decode
//! a token again. A handler that only reads the claims can take the shared
//! copy instead, with axum's `Extension<Arc<Claims<T>>>`, and skip the copy.
//!
//! ```
//! use axum::{Json, Router, routing::get};
//! use tower_jwt_auth::{Claims, NoCustomClaims};
//!
//! async fn me(claims: Claims) -> Json<Claims> {
//!     Json(claims)
//! }
//!
//! async fn hello(claims: Option<Claims>) -> String {
//!     match claims {
//!         Some(claims) => format!("hello, {}", claims.sub),
//!         None => "hello, anonymous".to_owned(),
//!     }
//! }
//!
//! // The shared copy, without cloning the claims:
//! use std::sync::Arc;
//! use axum::Extension;
//!
//! async fn whoami(Extension(claims): Extension<Arc<Claims>>) -> String {
//!     claims.sub.clone()
//! }
//!
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/hello", get(hello))
//!     .route("/whoami", get(whoami));
//! ```

use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::claims::Claims;
use crate::rejection::{AuthError, AuthErrorKind, rfc6750_response};

/// The rejection of the `Claims<T>` extractor: there were no claims, because
/// the route is not behind the auth layer, or the layer is in optional mode
/// and no token was sent. Answers 401 with a bare `Bearer` challenge.
#[derive(Debug, Clone, Copy, Default)]
pub struct MissingClaims;

impl IntoResponse for MissingClaims {
    fn into_response(self) -> Response {
        rfc6750_response(
            &AuthError::new(AuthErrorKind::MissingCredentials),
            None,
            None,
            axum_core::body::Body::empty(),
        )
    }
}

impl<T, S> FromRequestParts<S> for Claims<T>
where
    T: Clone + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        shared_claims(parts).ok_or_else(|| {
            tracing::debug!(
                "no claims in the request extensions: route not behind JwtAuthLayer, or anonymous"
            );
            MissingClaims
        })
    }
}

impl<T, S> OptionalFromRequestParts<S> for Claims<T>
where
    T: Clone + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(shared_claims(parts))
    }
}

/// The handler's own copy of the claims the layer shared.
fn shared_claims<T: Clone + Send + Sync + 'static>(parts: &Parts) -> Option<Claims<T>> {
    parts
        .extensions
        .get::<Arc<Claims<T>>>()
        .map(|claims| Claims::clone(claims))
}
