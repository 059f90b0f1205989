//! The OpenAPI 3.1 Security Scheme Objects of a description, as JSON: the one
//! mapping every adapter goes through.

use serde_json::{Map, Value, json};

use super::{ApiKeyLocation, Scheme, SchemeKind, SecurityDescription};
use crate::dpop::DpopMode;

impl SecurityDescription {
    /// The `components.securitySchemes` object: each scheme's name with its
    /// Security Scheme Object (OpenAPI 3.1).
    pub fn security_schemes(&self) -> Map<String, Value> {
        self.schemes()
            .map(|(name, scheme)| (name, self.scheme_object(scheme)))
            .collect()
    }

    fn scheme_object(&self, scheme: &Scheme) -> Value {
        let description = self.scheme_description(scheme);
        match scheme.kind() {
            SchemeKind::BearerJwt => json!({
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": description,
            }),
            SchemeKind::OpenIdConnect { url } => json!({
                "type": "openIdConnect",
                "openIdConnectUrl": url,
                "description": description,
            }),
            SchemeKind::OAuth2 { flows } => {
                let scopes: Map<String, Value> = self
                    .scope_texts()
                    .map(|(scope, text)| (scope.to_owned(), Value::from(text)))
                    .collect();
                // `refreshUrl` is the token endpoint (RFC 6749 §6), always
                // written: aide 0.15 writes a missing one as `null`, which is
                // not valid OpenAPI.
                let mut object = Map::new();
                if let Some((authorization, token)) = &flows.authorization_code {
                    object.insert(
                        "authorizationCode".to_owned(),
                        json!({
                            "authorizationUrl": authorization,
                            "tokenUrl": token,
                            "refreshUrl": token,
                            "scopes": scopes,
                        }),
                    );
                }
                if let Some(token) = &flows.client_credentials {
                    object.insert(
                        "clientCredentials".to_owned(),
                        json!({ "tokenUrl": token, "refreshUrl": token, "scopes": scopes }),
                    );
                }
                json!({ "type": "oauth2", "flows": object, "description": description })
            }
            SchemeKind::ApiKey { location, name } => json!({
                "type": "apiKey",
                "in": match location {
                    ApiKeyLocation::Cookie => "cookie",
                    ApiKeyLocation::Header => "header",
                    ApiKeyLocation::Query => "query",
                },
                "name": name,
                "description": description,
            }),
        }
    }

    /// Each known scope with its description (the scope itself when it has
    /// none): what an `oauth2` flow lists.
    pub(super) fn scope_texts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.scopes().iter().map(|(scope, text)| {
            let text = if text.is_empty() { scope } else { text };
            (scope.as_str(), text.as_str())
        })
    }

    /// What a client needs to know that the scheme type cannot say.
    pub(super) fn scheme_description(&self, scheme: &Scheme) -> String {
        let mut text = match (scheme.kind(), scheme.issuer()) {
            (SchemeKind::ApiKey { .. }, _) => "An access token (JWT)".to_owned(),
            (_, Some(issuer)) => format!("An access token (JWT) issued by `{issuer}`"),
            (_, None) => "An access token (JWT)".to_owned(),
        };
        match scheme.kind() {
            SchemeKind::ApiKey {
                location: ApiKeyLocation::Cookie,
                ..
            } => {
                text.push_str(" in this cookie");
                if self.csrf {
                    text.push_str("; unsafe methods also need the CSRF proof bound to the session");
                } else {
                    text.push_str("; unsafe methods are refused (no CSRF proof configured)");
                }
                text.push('.');
            }
            SchemeKind::ApiKey {
                location: ApiKeyLocation::Query,
                ..
            } => text.push_str(" in this query parameter, on GET requests only."),
            SchemeKind::ApiKey { .. } => text.push_str(" as the whole value of this header."),
            _ => match self.dpop() {
                DpopMode::Required => text.push_str(
                    ". DPoP required (RFC 9449): send `Authorization: DPoP <token>` with a \
                         `DPoP` proof header; bearer tokens are refused.",
                ),
                DpopMode::Allowed => text.push_str(
                    " in `Authorization: Bearer`; DPoP-bound tokens (RFC 9449) as \
                         `Authorization: DPoP <token>` with a `DPoP` proof header.",
                ),
                _ => text.push_str(" in `Authorization: Bearer`."),
            },
        }
        if self.introspection {
            text.push_str(" Opaque tokens are accepted too (RFC 7662 introspection).");
        }
        text
    }
}
