//! axum extractors (feature `axum`): `Claims<T>` and `Option<Claims<T>>` read
//! what [`JwtAuthLayer`](crate::JwtAuthLayer) put into the request extensions.
//! They never decode a token again.
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
//! let app: Router = Router::new().route("/me", get(me)).route("/hello", get(hello));
//! ```

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
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
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
        Ok(parts.extensions.get::<Self>().cloned())
    }
}
