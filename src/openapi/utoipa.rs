//! The [`SecurityDescription`] in a `utoipa` document (feature `utoipa`): a
//! [`Modify`](::utoipa::Modify) adding the schemes, and per-path requirements.
//!
//! ```
//! use tower_jwt_auth::openapi::{SecurityDescription, utoipa::require};
//! use tower_jwt_auth::{Algorithm, Guard, JwtAuthLayer, JwtConfig, Verifier, VerifyingKey};
//! use utoipa::{Modify, OpenApi};
//!
//! type Json = serde_json::Map<String, serde_json::Value>;
//!
//! /// Reads the orders.
//! #[utoipa::path(get, path = "/orders", responses((status = 200, description = "the orders")))]
//! async fn orders() -> &'static str { "[]" }
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(orders))]
//! struct ApiDoc;
//!
//! let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
//! let layer = JwtAuthLayer::new(Verifier::new(key, JwtConfig::new())).claims::<Json>();
//! let guard = Guard::<Json>::scope("orders:read");
//!
//! let security = SecurityDescription::from_layer(&layer).guard(&guard);
//! let mut doc = ApiDoc::openapi();
//! security.modify(&mut doc);
//! assert!(require(&mut doc, "/orders", &security.requirements_for(&guard)));
//!
//! let json = serde_json::to_value(&doc)?;
//! assert_eq!(json["components"]["securitySchemes"]["jwt"]["bearerFormat"], "JWT");
//! assert_eq!(json["paths"]["/orders"]["get"]["security"][0]["jwt"][0], "orders:read");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ::utoipa::openapi::path::{Operation, PathItem};
use ::utoipa::openapi::security::{
    AuthorizationCode, ClientCredentials, Flow, OAuth2, Scopes, SecurityRequirement, SecurityScheme,
};
use ::utoipa::openapi::{Components, OpenApi};

use super::{OAuth2Flows, Requirements, SchemeKind, SecurityDescription};

impl ::utoipa::Modify for SecurityDescription {
    /// Adds every scheme to `components.securitySchemes` (replacing one of
    /// the same name); requirements are per path ([`require`]).
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Components::new);
        for (name, scheme) in schemes(self) {
            components.add_security_scheme(name, scheme);
        }
    }
}

/// The description's schemes as utoipa values, by name.
pub fn schemes(description: &SecurityDescription) -> Vec<(String, SecurityScheme)> {
    let mut objects = description.security_schemes();
    description
        .schemes()
        .filter_map(|(name, scheme)| {
            if let SchemeKind::OAuth2 { flows } = scheme.kind() {
                // utoipa reads an `authorizationCode` flow back as `implicit`
                // (its flows are an untagged enum): built, not parsed.
                let text = description.scheme_description(scheme);
                return Some((
                    name,
                    SecurityScheme::OAuth2(oauth2(description, flows, text)),
                ));
            }
            let object = objects.remove(&name)?;
            match serde_json::from_value::<SecurityScheme>(object) {
                Ok(scheme) => Some((name, scheme)),
                Err(error) => {
                    // The objects are valid OpenAPI 3.1 by construction (the
                    // tests check each kind): this would be a bug, not input.
                    tracing::error!(%name, %error, "security scheme not representable in utoipa");
                    None
                }
            }
        })
        .collect()
}

fn oauth2(description: &SecurityDescription, flows: &OAuth2Flows, text: String) -> OAuth2 {
    let scopes = || Scopes::from_iter(description.scope_texts());
    let mut list = Vec::new();
    if let Some((authorization, token)) = &flows.authorization_code {
        list.push(Flow::AuthorizationCode(
            AuthorizationCode::with_refresh_url(
                authorization.as_str(),
                token.as_str(),
                scopes(),
                token.as_str(),
            ),
        ));
    }
    if let Some(token) = &flows.client_credentials {
        list.push(Flow::ClientCredentials(
            ClientCredentials::with_refresh_url(token.as_str(), scopes(), token.as_str()),
        ));
    }
    OAuth2::with_description(list, text)
}

/// `requirements` as utoipa's Security Requirement Objects (an anonymous
/// alternative is an empty one).
pub fn requirements(requirements: &Requirements) -> Vec<SecurityRequirement> {
    requirements
        .alternatives()
        .iter()
        .map(|alternative| {
            alternative.iter().fold(
                SecurityRequirement::default(),
                |requirement, (name, scopes)| {
                    requirement.add(name.as_str(), scopes.iter().map(String::as_str))
                },
            )
        })
        .collect()
}

/// Sets `requirements` on every operation of `path` (as the document spells
/// it, e.g. `/orders/{id}`); false when the document has no such path.
pub fn require(openapi: &mut OpenApi, path: &str, requirements: &Requirements) -> bool {
    let Some(item) = openapi.paths.paths.get_mut(path) else {
        return false;
    };
    let security = self::requirements(requirements);
    for operation in operations(item) {
        operation.security = Some(security.clone());
    }
    true
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
        &mut item.query,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
    .chain(item.additional_operations.values_mut())
}
