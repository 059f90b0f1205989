//! The [`SecurityDescription`] in an `aide` document (feature `aide`): a
//! transform adding the schemes, and one setting an operation's requirements.
//!
//! ```
//! use aide::axum::{ApiRouter, routing::get_with};
//! use aide::openapi::OpenApi;
//! use tower_jwt_auth::openapi::{SecurityDescription, aide::{require, schemes}};
//! use tower_jwt_auth::{Algorithm, Guard, JwtAuthLayer, JwtConfig, Verifier, VerifyingKey};
//!
//! type Json = serde_json::Map<String, serde_json::Value>;
//!
//! let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
//! let layer = JwtAuthLayer::new(Verifier::new(key, JwtConfig::new())).claims::<Json>();
//! let guard = Guard::<Json>::scope("orders:read");
//! let security = SecurityDescription::from_layer(&layer).guard(&guard);
//!
//! let mut doc = OpenApi::default();
//! let app: axum::Router = ApiRouter::new()
//!     .api_route(
//!         "/orders",
//!         get_with(|| async { "[]" }, require(security.requirements_for(&guard))),
//!     )
//!     .finish_api_with(&mut doc, schemes(&security));
//!
//! let json = serde_json::to_value(&doc)?;
//! assert_eq!(json["components"]["securitySchemes"]["jwt"]["scheme"], "bearer");
//! assert_eq!(json["paths"]["/orders"]["get"]["security"][0]["jwt"][0], "orders:read");
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ::aide::openapi::{SecurityRequirement, SecurityScheme};
use ::aide::transform::{TransformOpenApi, TransformOperation};

use super::{Requirements, SecurityDescription};

/// A transform (for `finish_api_with`, or [`TransformOpenApi::with`]) that
/// adds every scheme of `description` to `components.securitySchemes`.
pub fn schemes(
    description: &SecurityDescription,
) -> impl for<'t> FnOnce(TransformOpenApi<'t>) -> TransformOpenApi<'t> + use<> {
    let schemes = scheme_values(description);
    move |mut api: TransformOpenApi<'_>| {
        for (name, scheme) in schemes {
            api = api.security_scheme(&name, scheme);
        }
        api
    }
}

/// The description's schemes as aide values, by name.
pub fn scheme_values(description: &SecurityDescription) -> Vec<(String, SecurityScheme)> {
    description
        .security_schemes()
        .into_iter()
        .filter_map(
            |(name, object)| match serde_json::from_value::<SecurityScheme>(object) {
                Ok(scheme) => Some((name, scheme)),
                Err(error) => {
                    // Valid OpenAPI 3.1 by construction (the tests check
                    // each kind): this would be a bug, not input.
                    tracing::error!(%name, %error, "security scheme not representable in aide");
                    None
                }
            },
        )
        .collect()
}

/// A transform for an operation (`get_with(handler, require(…))`, or
/// [`TransformOperation::with`]) that sets its security to `requirements`.
pub fn require(
    requirements: Requirements,
) -> impl for<'t> FnOnce(TransformOperation<'t>) -> TransformOperation<'t> {
    move |mut operation: TransformOperation<'_>| {
        operation.inner_mut().security = self::requirements(&requirements);
        operation
    }
}

/// `requirements` as aide's Security Requirement Objects (an anonymous
/// alternative is an empty one).
pub fn requirements(requirements: &Requirements) -> Vec<SecurityRequirement> {
    requirements
        .alternatives()
        .iter()
        .map(|alternative| {
            alternative
                .iter()
                .map(|(name, scopes)| (name.clone(), scopes.clone()))
                .collect()
        })
        .collect()
}
