//! JWT authentication for any [`tower`](https://docs.rs/tower) stack — axum,
//! tonic, plain hyper.
//!
//! * [`JwtAuthLayer`] reads a bearer token, verifies it ([`Verifier`]),
//!   checks that it is an *access* token and not revoked
//!   ([`RevocationStore`]), and puts typed [`Claims<T>`] into the request
//!   extensions.
//! * [`RequireClaimsLayer`] authorizes per route on those claims with a
//!   [`Guard`]: roles, OAuth scopes, predicates, all-of / any-of (403
//!   `insufficient_scope`).
//! * Optional authentication, several token sources ([`TokenSource`]: bearer
//!   header, cookie, custom header) and custom rejection responses
//!   ([`OnRejection`]); gRPC requests get `grpc-status` answers.
//! * Browser apps: [`cookies::SessionCookies`] delivers a pair as `HttpOnly`
//!   cookies, and the layer demands a session-bound CSRF proof
//!   ([`csrf::CsrfProtection`]) for cookie credentials on unsafe methods.
//! * [`TokenIssuer`] mints access tokens, refresh tokens and [`TokenPair`]s.
//! * [`SessionManager`] logs in, refreshes with rotation and replay
//!   detection, logs out and logs out everywhere; [`RefreshService`] puts
//!   refresh behind HTTP.
//! * Keys are bound to their algorithm ([`SigningKey`], [`VerifyingKey`],
//!   [`KeySet`]): the header's `alg` never chooses it, and `none` does not exist.
//! * WebSockets ([`websocket`]): a token offered in `Sec-WebSocket-Protocol`
//!   (never echoed back), the CSRF `Origin` check on cookie upgrades, and
//!   sockets closed (1008) when their token expires or is revoked.
//! * Tokens of any issuer: [`TokenProfile`]s say what a token must carry
//!   (this crate's own, RFC 9068, generic), `jwks::RemoteJwks` (feature
//!   `jwks`) fetches an identity provider's keys by discovery and keeps them
//!   current, and [`Verifier::any_of`] trusts several issuers at once.
//!
//! # Example
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use serde::{Deserialize, Serialize};
//! use tower::ServiceExt;
//! use tower_jwt_auth::{
//!     Algorithm, Claims, JwtAuthLayer, JwtConfig, SigningKey, TokenIssuer, Verifier, VerifyingKey,
//! };
//!
//! #[derive(Clone, Serialize, Deserialize)]
//! struct User { roles: Vec<String> }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = b"an example secret of at least 32 bytes!";
//! let config = JwtConfig::new().issuer("example").audience("api");
//! let issuer = TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, config.clone());
//! let verifier = Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, config);
//!
//! async fn me(claims: Claims<User>) -> String {
//!     format!("{} has roles {:?}", claims.sub, claims.custom.roles)
//! }
//!
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .layer(JwtAuthLayer::new(verifier).claims::<User>());
//!
//! let token = issuer.access_token("alice", &User { roles: vec!["admin".into()] })?;
//! let request = Request::get("/me")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(Body::empty())?;
//! let response = app.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! let anonymous = app.oneshot(Request::get("/me").body(Body::empty())?).await?;
//! assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `aws_lc_rs` (default) | jsonwebtoken's aws-lc-rs crypto backend |
//! | `rust_crypto` | jsonwebtoken's RustCrypto backend (pure Rust, slower); disable default features |
//! | `axum` | `Claims<T>` and `Option<Claims<T>>` extractors |
//! | `redis` (default) | `RedisStore`: revocations shared through Redis (`deadpool-redis`) |
//! | `redis-cluster` | `RedisStore::cluster`, on a Redis Cluster |
//! | `tonic` | [`grpc::ClaimsExt`]: claims from a `tonic::Request`, or `UNAUTHENTICATED` |
//! | `jwks` | [`jwks::RemoteJwks`]: an issuer's keys fetched over HTTP(S) and kept current, discovery |
//! | `introspection` | `introspect::IntrospectionClient` and `IntrospectionCache`: opaque tokens checked by RFC 7662 introspection |
//! | `utoipa` | [`openapi::utoipa`]: the layer's security schemes and per-path requirements in a utoipa document |
//! | `aide` | [`openapi::aide`]: the same as aide transforms |
//! | `websocket` (default) | [`websocket::CredentialWatch`] and [`websocket::WatchedSocket`]: sockets that close when their token expires or is revoked (tokio's timer) |
//! | `full` | every feature that can be on together |

// docs.rs (nightly, `--cfg docsrs`) shows which feature gates each item.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
mod binding;
mod cache;
mod claims;
mod clock;
mod config;
pub mod cookies;
pub mod csrf;
pub mod dpop;
pub mod guard;
pub mod guides;
pub mod introspect;
mod issue;
#[cfg(feature = "jwks")]
pub mod jwks;
mod jws;
mod keyring;
mod keys;
pub mod metrics;
pub mod mtls;
pub mod openapi;
mod profile;
pub mod publish;
pub mod refresh;
mod rejection;
pub mod revocation;
mod source;
#[cfg(any(feature = "jwks", feature = "introspection"))]
mod url_policy;
mod verify;
pub mod websocket;

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "tonic")]
pub mod grpc;

pub use auth::{JwtAuth, JwtAuthLayer};
pub use binding::{
    BindingError, Confirmation, certificate_thumbprint, check_binding, jwk_thumbprint,
};
pub use cache::DEFAULT_VERIFIED_CACHE_CAPACITY;
pub use claims::{Audience, Claims, NoCustomClaims, TokenType};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    DEFAULT_ACCESS_TTL, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_LEN, DEFAULT_REFRESH_TTL,
    DEFAULT_SESSION_LIFETIME, JwtConfig, RevocationScope,
};
pub use guard::{
    Guard, Permissions, RequireClaims, RequireClaimsLayer, RequireRecentLogin,
    RequireRecentLoginLayer,
};
pub use issue::{IssueError, SessionInfo, TokenIssuer, TokenPair};
pub use keyring::{KeyRing, KeyRingError};
pub use keys::{
    Algorithm, Jwk, KeyError, KeySet, KeySource, SigningKey, VerifyingKey, min_hmac_secret_len,
    parse_algorithm,
};
pub use profile::{DEFAULT_TOKEN_TYPE_CLAIM, TokenProfile};
pub use refresh::{RefreshRefused, RefreshService, SessionError, SessionManager};
pub use rejection::{AuthError, AuthErrorKind, DefaultRejection, OnRejection, Rejection};
#[cfg(feature = "redis")]
pub use revocation::RedisStore;
pub use revocation::{MemoryStore, RevocationStore, StoreError};
pub use source::TokenSource;
pub use verify::{IssuersError, Verifier};

/// Internals reachable only from the fuzz targets (`cargo fuzz` builds with
/// `--cfg fuzzing`); not part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod __fuzz {
    use http::HeaderMap;

    pub use crate::rejection::AuthErrorKind;
    pub use crate::source::TokenSource;

    /// The token the layer would read from `headers`, trying `sources` in order.
    pub fn extract_token<'h>(
        sources: &[TokenSource],
        headers: &'h HeaderMap,
    ) -> Result<Option<&'h str>, AuthErrorKind> {
        crate::source::extract_token(sources, headers)
    }

    /// At most this many entries of a JWK Set are read.
    #[cfg(feature = "jwks")]
    pub const MAX_JWKS_KEYS: usize = crate::jwks::MAX_JWKS_KEYS;

    /// A fetched JWK Set read as `RemoteJwks` reads it (RSA keys without
    /// `alg` taken as RS256): each kept key's identity (its `kid`, or "" for
    /// a lone unnamed key) with its JWK text, or why none was kept.
    #[cfg(feature = "jwks")]
    pub fn jwk_set(body: &[u8]) -> Result<std::collections::BTreeMap<String, String>, String> {
        crate::jwks::parse_key_set(body, crate::Algorithm::RS256)
            .map(|snapshot| snapshot.fingerprints)
            .map_err(|error| error.to_string())
    }

    /// A fetched discovery document read as `discover` reads it.
    #[cfg(feature = "jwks")]
    pub fn discovery(
        body: &[u8],
        issuer: &str,
        allow_http: bool,
    ) -> Result<crate::jwks::ProviderMetadata, crate::jwks::DiscoveryError> {
        crate::jwks::parse_metadata(body, issuer, allow_http)
    }

    /// A Redis change-feed message through the three parsers: the change
    /// event in canonical form, the stream id `(ms, seq)`, the wake-up
    /// `(shard, hint)`.
    #[cfg(feature = "redis")]
    #[allow(clippy::type_complexity)]
    pub fn feed_message(
        message: &[u8],
    ) -> (
        Option<String>,
        Option<(u64, u64)>,
        Option<(usize, Option<(u64, u64)>)>,
    ) {
        crate::revocation::parse_feed_message(message)
    }
}

/// The README's examples, compiled by `cargo test`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
