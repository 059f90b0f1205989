//! Per-route authorization on claims the auth layer already verified:
//! [`RequireClaimsLayer`] → [`RequireClaims`], deciding with a [`Guard`].
//!
//! A guard never reads a token. It looks up the [`Claims<T>`] that
//! [`JwtAuthLayer`](crate::JwtAuthLayer) put into the request extensions and
//! answers:
//!
//! * no claims (the auth layer did not run, or let an anonymous request
//!   through in optional mode) → 401, `WWW-Authenticate: Bearer`;
//! * claims that fail the guard → 403,
//!   `WWW-Authenticate: Bearer error="insufficient_scope"`, plus
//!   `scope="…"` when the guard requires scopes (RFC 6750 §3.1);
//! * gRPC requests get `grpc-status` 16 and 7 instead.
//!
//! [`RequireRecentLoginLayer`] is the step-up check (RFC 9470): it wants a
//! login at most `max_age` old and refuses with 401
//! `insufficient_user_authentication`.
//!
//! Put it under the auth layer with axum's `route_layer`, so that unknown
//! paths still answer 404 rather than 401/403:
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use serde::{Deserialize, Serialize};
//! use tower::ServiceExt;
//! use tower_jwt_auth::guard::{Guard, Permissions, RequireClaimsLayer};
//! use tower_jwt_auth::{
//!     Algorithm, JwtAuthLayer, JwtConfig, SigningKey, TokenIssuer, Verifier, VerifyingKey,
//! };
//!
//! #[derive(Clone, Serialize, Deserialize)]
//! struct User { roles: Vec<String> }
//!
//! impl Permissions for User {
//!     fn has_role(&self, role: &str) -> bool {
//!         self.roles.iter().any(|r| r == role)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = b"an example secret of at least 32 bytes!";
//! let issuer = TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, JwtConfig::new());
//! let verifier = Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, JwtConfig::new());
//!
//! let app = Router::new()
//!     .route("/admin", get(|| async { "admin area" }))
//!     .route_layer(RequireClaimsLayer::new(Guard::<User>::role("admin")))
//!     .route_layer(JwtAuthLayer::new(verifier).claims::<User>());
//!
//! let bob = issuer.access_token("bob", &User { roles: vec!["user".into()] })?;
//! let request = Request::get("/admin")
//!     .header("authorization", format!("Bearer {bob}"))
//!     .body(Body::empty())?;
//! let response = app.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer error="insufficient_scope""#);
//!
//! let missing = app.oneshot(Request::get("/nowhere").body(Body::empty())?).await?;
//! assert_eq!(missing.status(), StatusCode::NOT_FOUND);
//! # Ok(())
//! # }
//! ```
//!
//! Guards combine; scopes come from the space-delimited `scope` claim
//! (RFC 9068 §2.2.3), and a refusal names the scopes that were required:
//!
//! ```
//! use tower_jwt_auth::Claims;
//! use tower_jwt_auth::guard::{Guard, RequireClaimsLayer};
//!
//! // `serde_json::Map` as the custom claims: `roles` and `scope` are read by name.
//! type Json = serde_json::Map<String, serde_json::Value>;
//!
//! let guard = Guard::<Json>::any([
//!     Guard::role("admin"),
//!     Guard::scopes(["orders:read", "orders:write"]),
//! ])
//! .and(Guard::predicate(|claims: &Claims<Json>| claims.sub != "mallory"));
//! let layer = RequireClaimsLayer::new(guard).realm("orders");
//! # let _ = layer;
//! ```

mod step_up;

pub use step_up::{RequireRecentLogin, RequireRecentLoginLayer};

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::ResponseFuture;
use crate::claims::{Claims, NoCustomClaims};
use crate::rejection::{
    AuthError, AuthErrorKind, DefaultRejection, OnRejection, Rejection, is_grpc, respond,
};

/// What the ready-made role and scope checks read from the custom claims.
///
/// Implemented for `serde_json::Map<String, Value>` and `serde_json::Value`
/// (a `roles` array of strings, a `scope` string) and for
/// [`NoCustomClaims`] (no roles; `scope` is not a custom claim there).
/// Implement it for your own claims type by pointing at its fields.
pub trait Permissions {
    /// True when the token grants `role`, typically: the `roles` array
    /// contains it. Default: no roles.
    fn has_role(&self, role: &str) -> bool {
        let _ = role;
        false
    }

    /// The space-delimited `scope` claim (RFC 9068 §2.2.3), if any.
    fn scope(&self) -> Option<&str> {
        None
    }

    /// True when the token grants `scope`. Default: `scope` (space-delimited)
    /// holds it; the `serde_json` implementations also read `scp`, an array
    /// (Okta) or a space-delimited string (Entra ID).
    fn has_scope(&self, scope: &str) -> bool {
        self.scope()
            .is_some_and(|granted| granted.split(' ').any(|s| s == scope))
    }
}

impl Permissions for NoCustomClaims {}

impl Permissions for serde_json::Map<String, serde_json::Value> {
    fn has_role(&self, role: &str) -> bool {
        self.get("roles")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(role)))
    }

    fn scope(&self) -> Option<&str> {
        self.get("scope").and_then(serde_json::Value::as_str)
    }

    fn has_scope(&self, scope: &str) -> bool {
        let in_scope = self
            .scope()
            .is_some_and(|granted| granted.split(' ').any(|s| s == scope));
        in_scope
            || match self.get("scp") {
                Some(serde_json::Value::Array(granted)) => {
                    granted.iter().any(|s| s.as_str() == Some(scope))
                }
                Some(serde_json::Value::String(granted)) => granted.split(' ').any(|s| s == scope),
                _ => false,
            }
    }
}

impl Permissions for serde_json::Value {
    fn has_role(&self, role: &str) -> bool {
        self.as_object().is_some_and(|map| map.has_role(role))
    }

    fn scope(&self) -> Option<&str> {
        self.as_object().and_then(Permissions::scope)
    }

    fn has_scope(&self, scope: &str) -> bool {
        self.as_object().is_some_and(|map| map.has_scope(scope))
    }
}

type Predicate<T> = Arc<dyn Fn(&Claims<T>) -> bool + Send + Sync>;

/// A rule over verified [`Claims<T>`]: a role, a scope, a predicate, or an
/// all-of / any-of combination of guards.
pub struct Guard<T = NoCustomClaims> {
    kind: Kind<T>,
}

enum Kind<T> {
    /// A leaf check; `scope` is set for scope checks, so the challenge can
    /// name it; `label` describes it in logs.
    Check {
        test: Predicate<T>,
        scope: Option<Arc<str>>,
        label: Arc<str>,
    },
    All(Vec<Guard<T>>),
    Any(Vec<Guard<T>>),
}

// ===== impl Guard =====

impl<T> Guard<T> {
    /// Passes for any verified claims: "authenticated" on routes behind an
    /// auth layer in optional mode (anonymous requests get 401).
    pub fn authenticated() -> Self {
        Self::check("authenticated", None, |_| true)
    }

    /// Passes when `predicate` returns true.
    pub fn predicate<F>(predicate: F) -> Self
    where
        F: Fn(&Claims<T>) -> bool + Send + Sync + 'static,
    {
        Self::check("predicate", None, predicate)
    }

    /// Passes when the token grants `role` (see [`Permissions::has_role`]).
    pub fn role(role: impl Into<String>) -> Self
    where
        T: Permissions,
    {
        let role = role.into();
        let label = format!("role {role}");
        Self::check(&label, None, move |claims: &Claims<T>| {
            claims.custom.has_role(&role)
        })
    }

    /// Passes when the token grants `scope` ([`Permissions::has_scope`]: the
    /// space-delimited `scope` claim, or the `scp` array; exact,
    /// case-sensitive match).
    pub fn scope(scope: impl Into<String>) -> Self
    where
        T: Permissions,
    {
        let scope: Arc<str> = Arc::from(scope.into());
        let wanted = Arc::clone(&scope);
        let label = format!("scope {scope}");
        Self::check(&label, Some(scope), move |claims: &Claims<T>| {
            claims.custom.has_scope(&wanted)
        })
    }

    /// Passes when the token holds every one of `scopes`.
    pub fn scopes<I, S>(scopes: I) -> Self
    where
        T: Permissions,
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::all(scopes.into_iter().map(Self::scope))
    }

    /// Passes when every guard passes (an empty list passes).
    pub fn all(guards: impl IntoIterator<Item = Guard<T>>) -> Self {
        Self {
            kind: Kind::All(guards.into_iter().collect()),
        }
    }

    /// Passes when at least one guard passes (an empty list fails).
    pub fn any(guards: impl IntoIterator<Item = Guard<T>>) -> Self {
        Self {
            kind: Kind::Any(guards.into_iter().collect()),
        }
    }

    /// Both `self` and `other` must pass.
    pub fn and(self, other: Guard<T>) -> Self {
        match self.kind {
            Kind::All(mut guards) => {
                guards.push(other);
                Self {
                    kind: Kind::All(guards),
                }
            }
            kind => Self::all([Self { kind }, other]),
        }
    }

    /// Either `self` or `other` must pass.
    pub fn or(self, other: Guard<T>) -> Self {
        match self.kind {
            Kind::Any(mut guards) => {
                guards.push(other);
                Self {
                    kind: Kind::Any(guards),
                }
            }
            kind => Self::any([Self { kind }, other]),
        }
    }

    /// True when `claims` pass this guard.
    pub fn allows(&self, claims: &Claims<T>) -> bool {
        match &self.kind {
            Kind::Check { test, .. } => test(claims),
            Kind::All(guards) => guards.iter().all(|g| g.allows(claims)),
            Kind::Any(guards) => guards.iter().any(|g| g.allows(claims)),
        }
    }

    /// The scopes to name in a refusal's `scope="…"`: every scope of an
    /// all-of, the first alternative of an any-of that names scopes (a set
    /// that would suffice), `None` when no scope is involved.
    pub fn required_scope(&self) -> Option<String> {
        let mut scopes = Vec::new();
        self.collect_scopes(&mut scopes);
        (!scopes.is_empty()).then(|| scopes.join(" "))
    }

    fn collect_scopes<'a>(&'a self, out: &mut Vec<&'a str>) {
        match &self.kind {
            Kind::Check { scope, .. } => {
                if let Some(scope) = scope.as_deref()
                    && !out.contains(&scope)
                {
                    out.push(scope);
                }
            }
            Kind::All(guards) => guards.iter().for_each(|g| g.collect_scopes(out)),
            Kind::Any(guards) => {
                for guard in guards {
                    let before = out.len();
                    guard.collect_scopes(out);
                    if out.len() > before {
                        break;
                    }
                }
            }
        }
    }

    fn check<F>(label: &str, scope: Option<Arc<str>>, test: F) -> Self
    where
        F: Fn(&Claims<T>) -> bool + Send + Sync + 'static,
    {
        Self {
            kind: Kind::Check {
                test: Arc::new(test),
                scope,
                label: Arc::from(label),
            },
        }
    }
}

impl<T> Clone for Guard<T> {
    fn clone(&self) -> Self {
        let kind = match &self.kind {
            Kind::Check { test, scope, label } => Kind::Check {
                test: Arc::clone(test),
                scope: scope.clone(),
                label: Arc::clone(label),
            },
            Kind::All(guards) => Kind::All(guards.clone()),
            Kind::Any(guards) => Kind::Any(guards.clone()),
        };
        Self { kind }
    }
}

impl<T> fmt::Debug for Guard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Check { label, .. } => f.write_str(label),
            Kind::All(guards) => f.debug_tuple("all").field(guards).finish(),
            Kind::Any(guards) => f.debug_tuple("any").field(guards).finish(),
        }
    }
}

// ===== impl RequireClaimsLayer =====

/// Authorizes requests whose [`Claims<T>`] pass a [`Guard`]; see the
/// [module docs](self).
///
/// `R` builds rejection responses, as for [`JwtAuthLayer`](crate::JwtAuthLayer)
/// (default: RFC 6750 / gRPC).
#[must_use]
pub struct RequireClaimsLayer<T = NoCustomClaims, R = DefaultRejection> {
    guard: Arc<Guard<T>>,
    required_scope: Option<Arc<str>>,
    realm: Option<Arc<str>>,
    rejection: R,
}

impl<T> RequireClaimsLayer<T> {
    /// A layer admitting only requests whose claims pass `guard`.
    pub fn new(guard: Guard<T>) -> Self {
        let required_scope = guard.required_scope().map(Arc::from);
        Self {
            guard: Arc::new(guard),
            required_scope,
            realm: None,
            rejection: DefaultRejection,
        }
    }
}

impl<T, R> RequireClaimsLayer<T, R> {
    /// The `realm` of the `WWW-Authenticate` challenge.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(Arc::from(realm.into()));
        self
    }

    /// Build rejection responses with `rejection` (see [`OnRejection`]).
    pub fn on_rejection<R2>(self, rejection: R2) -> RequireClaimsLayer<T, R2> {
        RequireClaimsLayer {
            guard: self.guard,
            required_scope: self.required_scope,
            realm: self.realm,
            rejection,
        }
    }
}

impl<T, R: Clone> Clone for RequireClaimsLayer<T, R> {
    fn clone(&self) -> Self {
        Self {
            guard: Arc::clone(&self.guard),
            required_scope: self.required_scope.clone(),
            realm: self.realm.clone(),
            rejection: self.rejection.clone(),
        }
    }
}

impl<T, R> fmt::Debug for RequireClaimsLayer<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireClaimsLayer")
            .field("guard", &self.guard)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl<S, T, R: Clone> Layer<S> for RequireClaimsLayer<T, R> {
    type Service = RequireClaims<S, T, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireClaims {
            inner,
            layer: self.clone(),
        }
    }
}

// ===== impl RequireClaims =====

/// The service [`RequireClaimsLayer`] wraps around `S`.
#[must_use]
pub struct RequireClaims<S, T, R> {
    inner: S,
    layer: RequireClaimsLayer<T, R>,
}

impl<S, T, R> RequireClaims<S, T, R> {
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

    /// The guard's verdict on one request.
    fn decide(
        &self,
        request_headers: &http::HeaderMap,
        claims: Option<&Claims<T>>,
    ) -> Result<(), Rejection> {
        let layer = &self.layer;
        let _span = tracing::debug_span!("jwt_guard").entered();
        let reject = |kind| {
            Rejection::new(
                AuthError::new(kind),
                is_grpc(request_headers),
                layer.realm.clone(),
            )
        };
        let Some(claims) = claims else {
            tracing::debug!(
                outcome = "rejected",
                reason = "no claims in the request extensions",
                guard = ?layer.guard,
            );
            return Err(reject(AuthErrorKind::MissingCredentials));
        };
        if layer.guard.allows(claims) {
            tracing::debug!(outcome = "allowed", guard = ?layer.guard, sub = %claims.sub, jti = %claims.jti);
            Ok(())
        } else {
            tracing::info!(
                outcome = "denied",
                reason = "insufficient scope",
                guard = ?layer.guard,
                sub = %claims.sub,
                jti = %claims.jti,
            );
            Err(reject(AuthErrorKind::InsufficientScope)
                .with_required_scope(layer.required_scope.clone()))
        }
    }
}

impl<S: Clone, T, R: Clone> Clone for RequireClaims<S, T, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, T, R> fmt::Debug for RequireClaims<S, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireClaims")
            .field("inner", &self.inner)
            .field("guard", &self.layer.guard)
            .finish_non_exhaustive()
    }
}

impl<S, T, R, ReqBody, ResBody> Service<Request<ReqBody>> for RequireClaims<S, T, R>
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenType;

    type Json = serde_json::Map<String, serde_json::Value>;

    fn claims(custom: serde_json::Value) -> Claims<Json> {
        Claims {
            iss: None,
            sub: "alice".into(),
            aud: None,
            exp: 0,
            nbf: None,
            iat: None,
            jti: "j".into(),
            token_type: TokenType::Access,
            sid: None,
            auth_time: None,
            iat_us: None,
            custom: custom.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn scope_matches_whole_space_delimited_values_only() {
        let c = claims(serde_json::json!({ "scope": "orders:read profile" }));
        assert!(Guard::scope("orders:read").allows(&c));
        assert!(Guard::scope("profile").allows(&c));
        assert!(!Guard::scope("orders").allows(&c));
        assert!(!Guard::scope("orders:read profile").allows(&c));
        assert!(Guard::scopes(["profile", "orders:read"]).allows(&c));
        assert!(!Guard::scopes(["profile", "orders:write"]).allows(&c));
    }

    #[test]
    fn scope_is_also_read_from_the_scp_array_or_string() {
        let okta = claims(serde_json::json!({ "scp": ["read:ping", "profile"] }));
        assert!(Guard::scope("read:ping").allows(&okta));
        assert!(!Guard::scope("write:ping").allows(&okta));
        let entra = claims(serde_json::json!({ "scp": "read:ping profile" }));
        assert!(Guard::scope("read:ping").allows(&entra));
        assert!(!Guard::scope("read").allows(&entra));
        let neither = claims(serde_json::json!({ "scp": 7 }));
        assert!(!Guard::scope("read:ping").allows(&neither));
    }

    #[test]
    fn roles_must_be_an_array_of_strings() {
        assert!(Guard::role("admin").allows(&claims(serde_json::json!({ "roles": ["admin"] }))));
        assert!(!Guard::role("admin").allows(&claims(serde_json::json!({ "roles": "admin" }))));
        assert!(!Guard::role("admin").allows(&claims(serde_json::json!({}))));
    }

    #[test]
    fn empty_all_passes_and_empty_any_fails() {
        let c = claims(serde_json::json!({}));
        assert!(Guard::<Json>::all([]).allows(&c));
        assert!(!Guard::<Json>::any([]).allows(&c));
    }

    #[test]
    fn required_scope_lists_all_of_and_first_sufficient_any_of() {
        let all = Guard::<Json>::scopes(["a", "b"]).and(Guard::role("x"));
        assert_eq!(all.required_scope().as_deref(), Some("a b"));
        let any = Guard::<Json>::role("x")
            .or(Guard::scope("c"))
            .or(Guard::scope("d"));
        assert_eq!(any.required_scope().as_deref(), Some("c"));
        assert_eq!(Guard::<Json>::role("x").required_scope(), None);
    }
}
