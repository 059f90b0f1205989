//! OpenAPI security schemes derived from the layer's own configuration, so a
//! document never drifts from what the service accepts.
//!
//! [`SecurityDescription::from_layer`] reads a [`JwtAuthLayer`]: its trusted
//! issuers (local keys → HTTP `bearer` with `bearerFormat: JWT`; keys found
//! by discovery → `openIdConnect` with the issuer's discovery URL), its token
//! sources (a cookie, a custom header or a query parameter → `apiKey`), its
//! DPoP policy (a note in the scheme's description: OpenAPI has no DPoP
//! scheme), optional authentication and introspection. Guards give per-route
//! requirements with the scopes they require
//! ([`requirements_for`](SecurityDescription::requirements_for)).
//!
//! This module needs no OpenAPI crate: it renders the OpenAPI 3.1 objects as
//! JSON ([`security_schemes`](SecurityDescription::security_schemes),
//! [`Requirements::to_json`]). The adapters put the same objects into a
//! generator's document: [`utoipa`] (feature `utoipa`) and
//! [`aide`] (feature `aide`). See the guide
//! [`crate::guides::openapi`].
//!
//! ```
//! use tower_jwt_auth::openapi::SecurityDescription;
//! use tower_jwt_auth::{Algorithm, Guard, JwtAuthLayer, JwtConfig, Verifier, VerifyingKey};
//!
//! type Json = serde_json::Map<String, serde_json::Value>;
//!
//! let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
//! let layer = JwtAuthLayer::new(Verifier::new(key, JwtConfig::new())).claims::<Json>();
//! let guard = Guard::<Json>::scope("orders:read");
//!
//! let security = SecurityDescription::from_layer(&layer).guard(&guard);
//! let schemes = serde_json::Value::Object(security.security_schemes());
//! assert_eq!(schemes["jwt"]["type"], "http");
//! assert_eq!(schemes["jwt"]["scheme"], "bearer");
//! assert_eq!(schemes["jwt"]["bearerFormat"], "JWT");
//! assert_eq!(
//!     security.requirements_for(&guard).to_json(),
//!     serde_json::json!([{ "jwt": ["orders:read"] }]),
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "aide")]
pub mod aide;
mod render;
#[cfg(feature = "utoipa")]
pub mod utoipa;

use std::collections::BTreeMap;

use crate::auth::JwtAuthLayer;
use crate::dpop::DpopMode;
use crate::guard::Guard;
use crate::source::TokenSource;
use crate::verify::Verifier;

/// The name of the first scheme unless [`SecurityDescription::name`] says
/// otherwise; the others add a suffix (`jwt_2`, `jwt_cookie`, …).
pub const DEFAULT_SCHEME_NAME: &str = "jwt";

/// What a layer accepts, as OpenAPI security schemes: one per trusted issuer
/// for the `Authorization` header, one per other token source, and the
/// scopes known to the routes. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct SecurityDescription {
    base: String,
    schemes: Vec<Scheme>,
    scopes: BTreeMap<String, String>,
    optional: bool,
    dpop: DpopMode,
    introspection: bool,
    csrf: bool,
}

/// One security scheme of a [`SecurityDescription`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheme {
    suffix: String,
    kind: SchemeKind,
    issuer: Option<String>,
}

/// How a client presents its token, as an OpenAPI security scheme type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemeKind {
    /// `type: http`, `scheme: bearer`, `bearerFormat: JWT`: the issuer's keys
    /// are held here, or fetched from a JWK Set URL (nothing to discover).
    BearerJwt,
    /// `type: openIdConnect`: the issuer's keys are found through its
    /// discovery document, at this URL.
    OpenIdConnect {
        /// `{issuer}/.well-known/openid-configuration`.
        url: String,
    },
    /// `type: oauth2`: where clients get tokens is known
    /// ([`SecurityDescription::oauth2`]); the flows list the known scopes.
    OAuth2 {
        /// The flows clients may use.
        flows: OAuth2Flows,
    },
    /// `type: apiKey`: the token in a cookie, a header or a query parameter.
    ApiKey {
        /// Where.
        location: ApiKeyLocation,
        /// The cookie, header or parameter name.
        name: String,
    },
}

/// Where an `apiKey` scheme's token is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiKeyLocation {
    /// A cookie.
    Cookie,
    /// A request header.
    Header,
    /// A query parameter.
    Query,
}

/// The OAuth 2.0 flows an `oauth2` scheme names (their URLs; the scopes come
/// from the description).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OAuth2Flows {
    authorization_code: Option<(String, String)>,
    client_credentials: Option<String>,
}

impl OAuth2Flows {
    /// No flow yet: add at least one.
    pub fn new() -> Self {
        Self::default()
    }

    /// The authorization code flow (with PKCE, for browsers and apps).
    #[must_use]
    pub fn authorization_code(
        mut self,
        authorization_url: impl Into<String>,
        token_url: impl Into<String>,
    ) -> Self {
        self.authorization_code = Some((authorization_url.into(), token_url.into()));
        self
    }

    /// The client credentials flow (services).
    #[must_use]
    pub fn client_credentials(mut self, token_url: impl Into<String>) -> Self {
        self.client_credentials = Some(token_url.into());
        self
    }

    /// True when no flow is set (such a scheme would not be valid OpenAPI).
    pub fn is_empty(&self) -> bool {
        self.authorization_code.is_none() && self.client_credentials.is_none()
    }
}

/// The security requirements of one operation: alternatives, any one of
/// which suffices (OpenAPI's array of Security Requirement Objects); an
/// empty alternative means "anonymous is fine".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirements(Vec<BTreeMap<String, Vec<String>>>);

impl Requirements {
    /// The alternatives, each a map from scheme name to required scopes.
    pub fn alternatives(&self) -> &[BTreeMap<String, Vec<String>>] {
        &self.0
    }

    /// As an OpenAPI `security` array.
    pub fn to_json(&self) -> serde_json::Value {
        let alternative = |requirement: &BTreeMap<String, Vec<String>>| {
            requirement
                .iter()
                .map(|(name, scopes)| (name.clone(), serde_json::Value::from(scopes.clone())))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        serde_json::Value::Array(self.0.iter().map(alternative).collect())
    }
}

// ===== impl Scheme =====

impl Scheme {
    /// The scheme type, and what it needs.
    pub fn kind(&self) -> &SchemeKind {
        &self.kind
    }

    /// The issuer whose tokens this scheme describes, when configured.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    fn takes_header(&self) -> bool {
        !matches!(self.kind, SchemeKind::ApiKey { .. })
    }
}

// ===== impl SecurityDescription =====

impl SecurityDescription {
    /// The schemes `layer` accepts: for an `Authorization` source, one per
    /// trusted issuer (`openIdConnect` when its keys are discovered, else
    /// `bearer` JWT); one `apiKey` per cookie, header or query source; its
    /// DPoP mode, optional mode, introspection and CSRF noted.
    pub fn from_layer<T, R>(layer: &JwtAuthLayer<T, R>) -> Self {
        let settings = layer.settings();
        let mut description = Self::from_verifier(&settings.verifier);
        description.optional = settings.optional;
        description.dpop = layer.dpop_policy().mode();
        if description.dpop == DpopMode::Allowed && layer.dpop_policy().origin.is_none() {
            // Without an origin every DPoP request is refused: not offered.
            description.dpop = DpopMode::Off;
        }
        #[cfg(feature = "introspection")]
        {
            description.introspection = settings.introspection.is_some();
        }
        description.csrf = settings.csrf.is_some();
        let header = settings
            .sources
            .iter()
            .any(|s| matches!(s, TokenSource::Authorization { scheme } if scheme.eq_ignore_ascii_case("bearer")));
        if !header {
            description.schemes.clear();
        }
        for source in settings.sources.iter() {
            let (location, name, suffix) = match source {
                TokenSource::Cookie(name) => (ApiKeyLocation::Cookie, name.clone(), "cookie"),
                TokenSource::Header(name) => (ApiKeyLocation::Header, name.to_string(), "header"),
                TokenSource::Query(name) => (ApiKeyLocation::Query, name.clone(), "query"),
                // Another `Authorization` scheme than Bearer has no OpenAPI
                // type every generator takes; it is left out.
                _ => continue,
            };
            description.push(suffix, SchemeKind::ApiKey { location, name }, None);
        }
        description
    }

    /// The schemes of `verifier`'s issuers alone, as with an `Authorization:
    /// Bearer` source and no other.
    pub fn from_verifier(verifier: &Verifier) -> Self {
        let mut description = Self {
            base: DEFAULT_SCHEME_NAME.to_owned(),
            schemes: Vec::new(),
            scopes: BTreeMap::new(),
            optional: false,
            dpop: DpopMode::Off,
            introspection: false,
            csrf: false,
        };
        for (issuer, discovered) in verifier.key_origins() {
            let kind = match discovered {
                Some(discovered) => SchemeKind::OpenIdConnect {
                    url: discovery_url(discovered),
                },
                None => SchemeKind::BearerJwt,
            };
            description.push_issuer(kind, issuer.map(str::to_owned));
        }
        description
    }

    fn push_issuer(&mut self, kind: SchemeKind, issuer: Option<String>) {
        // Local keys of several issuers are one bearer scheme to a client.
        if kind == SchemeKind::BearerJwt
            && let Some(bearer) = self
                .schemes
                .iter_mut()
                .find(|s| s.kind == SchemeKind::BearerJwt)
        {
            if bearer.issuer != issuer {
                bearer.issuer = None;
            }
            return;
        }
        let headers = self.schemes.iter().filter(|s| s.takes_header()).count();
        let suffix = if headers == 0 {
            String::new()
        } else {
            format!("_{}", headers + 1)
        };
        // Header schemes come first, so the first is the one named `base`.
        let at = headers;
        self.schemes.insert(
            at,
            Scheme {
                suffix,
                kind,
                issuer,
            },
        );
    }

    fn push(&mut self, suffix: &str, kind: SchemeKind, issuer: Option<String>) {
        let mut candidate = format!("_{suffix}");
        let mut n = 1;
        while self.schemes.iter().any(|s| s.suffix == candidate) {
            n += 1;
            candidate = format!("_{suffix}_{n}");
        }
        self.schemes.push(Scheme {
            suffix: candidate,
            kind,
            issuer,
        });
    }

    /// Name the schemes after `base` instead of [`DEFAULT_SCHEME_NAME`]
    /// (letters, digits, `.`, `-` and `_`; anything else becomes `_`).
    #[must_use]
    pub fn name(mut self, base: &str) -> Self {
        let cleaned: String = base
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if !cleaned.is_empty() {
            self.base = cleaned;
        }
        self
    }

    /// Describe `issuer`'s tokens by its discovery document
    /// (`openIdConnect`, `{issuer}/.well-known/openid-configuration`), for a
    /// verifier built from a `jwks_uri` that discovery found: its keys alone
    /// do not say so. An issuer the verifier does not trust is added.
    #[must_use]
    pub fn openid_connect(mut self, issuer: &str) -> Self {
        let kind = SchemeKind::OpenIdConnect {
            url: discovery_url(issuer),
        };
        match self
            .schemes
            .iter_mut()
            .find(|s| s.takes_header() && s.issuer.as_deref() == Some(issuer))
        {
            Some(scheme) => scheme.kind = kind,
            None => self.push_issuer(kind, Some(issuer.to_owned())),
        }
        self
    }

    /// Describe the first issuer's tokens as `oauth2` with `flows`: where
    /// clients get them. The flows list every scope this description knows
    /// ([`scope`](Self::scope), [`guard`](Self::guard)). Empty flows are
    /// ignored (an `oauth2` scheme needs one).
    #[must_use]
    pub fn oauth2(mut self, flows: OAuth2Flows) -> Self {
        if flows.is_empty() {
            return self;
        }
        let kind = SchemeKind::OAuth2 { flows };
        match self.schemes.iter_mut().find(|s| s.takes_header()) {
            Some(scheme) => scheme.kind = kind,
            None => self.push_issuer(kind, None),
        }
        self
    }

    /// A scope the routes may require, with what it grants (listed by the
    /// `oauth2` flows).
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>, description: impl Into<String>) -> Self {
        self.scopes.insert(scope.into(), description.into());
        self
    }

    /// The scopes `guard` requires, as [`scope`](Self::scope) with no
    /// description of their own.
    #[must_use]
    pub fn guard<T>(mut self, guard: &Guard<T>) -> Self {
        for scope in guard_scopes(guard) {
            self.scopes.entry(scope).or_default();
        }
        self
    }

    /// The schemes, the first named as [`name`](Self::name) says.
    pub fn schemes(&self) -> impl Iterator<Item = (String, &Scheme)> {
        self.schemes.iter().map(|s| (self.scheme_name(s), s))
    }

    /// The scopes known, with their descriptions.
    pub fn scopes(&self) -> &BTreeMap<String, String> {
        &self.scopes
    }

    /// The layer's DPoP mode as offered to clients (`Allowed` without an
    /// origin refuses every proof, so it reads `Off`).
    pub fn dpop(&self) -> DpopMode {
        self.dpop
    }

    /// Whether the layer lets requests without a credential through.
    pub fn is_optional(&self) -> bool {
        self.optional
    }

    fn scheme_name(&self, scheme: &Scheme) -> String {
        format!("{}{}", self.base, scheme.suffix)
    }

    /// What an operation behind the layer alone requires: any one scheme,
    /// no scopes; plus anonymous when the layer is optional.
    pub fn requirements(&self) -> Requirements {
        let mut requirements = self.requirements_with_scopes(Vec::<String>::new());
        if self.optional {
            requirements.0.push(BTreeMap::new());
        }
        requirements
    }

    /// What an operation behind `guard` requires: any one scheme, with the
    /// scopes the guard names in a refusal (for an any-of, the first
    /// alternative naming scopes: a set that suffices). A guard refuses
    /// anonymous requests, so anonymous is never an alternative here.
    pub fn requirements_for<T>(&self, guard: &Guard<T>) -> Requirements {
        self.requirements_with_scopes(guard_scopes(guard))
    }

    /// Any one scheme with `scopes` (OpenAPI 3.1 lets every scheme type list
    /// what it requires; for `oauth2` and `openIdConnect` they are scopes).
    pub fn requirements_with_scopes<I, S>(&self, scopes: I) -> Requirements
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        Requirements(
            self.schemes
                .iter()
                .map(|s| BTreeMap::from([(self.scheme_name(s), scopes.clone())]))
                .collect(),
        )
    }
}

/// The scopes `guard` names in a refusal, one by one.
fn guard_scopes<T>(guard: &Guard<T>) -> Vec<String> {
    guard
        .required_scope()
        .map(|s| s.split(' ').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// OpenID Connect Discovery §4: the issuer, any terminating `/` removed, then
/// `/.well-known/openid-configuration`.
fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests;
