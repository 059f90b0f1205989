//! tonic helpers (feature `tonic`).
//!
//! The layer itself needs none of this: put [`JwtAuthLayer`](crate::JwtAuthLayer)
//! on a tonic server with `Server::builder().layer(…)`; it answers gRPC
//! requests with trailers-only `grpc-status` 16 / 7 / 14, and the verified
//! [`Claims<T>`] travel in the request extensions (as `Arc<Claims<T>>`) into
//! the handler's `tonic::Request`. [`ClaimsExt`] reads them there.
//!
//! ```
//! use tonic::{Request, Status};
//! use tower_jwt_auth::Claims;
//! use tower_jwt_auth::grpc::ClaimsExt;
//!
//! fn who(request: &Request<()>) -> Result<String, Status> {
//!     let claims: &Claims = request.claims()?;
//!     Ok(claims.sub.clone())
//! }
//!
//! // No auth layer ran here, so there are no claims.
//! assert_eq!(who(&Request::new(())).unwrap_err().code(), tonic::Code::Unauthenticated);
//! ```

use ::tonic::{Request, Status};

use crate::claims::Claims;

/// Reads the [`Claims<T>`] the auth layer put into a `tonic::Request`.
pub trait ClaimsExt {
    /// The verified claims, or `UNAUTHENTICATED` when there are none (the
    /// service is not behind the layer, or the layer is optional and the
    /// call carried no token).
    fn claims<T: Send + Sync + 'static>(&self) -> Result<&Claims<T>, Status>;
}

impl<M> ClaimsExt for Request<M> {
    fn claims<T: Send + Sync + 'static>(&self) -> Result<&Claims<T>, Status> {
        let shared = self.extensions().get::<std::sync::Arc<Claims<T>>>();
        shared.map(|claims| &**claims).ok_or_else(|| {
            tracing::debug!("no claims in the tonic request extensions");
            Status::unauthenticated("authentication required")
        })
    }
}
