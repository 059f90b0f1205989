//! The claims a token carries: the registered ones, the token type, and the
//! application's own typed claims flattened beside them.

use serde::{Deserialize, Serialize};

/// Whether a token grants access or only the right to mint new tokens.
///
/// Written into every token under the configured claim name (default
/// `token_type`) as exactly `"access"` or `"refresh"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Presented to the API on every request; short-lived.
    Access,
    /// Presented only to the refresh service; long-lived, rotated on use.
    Refresh,
}

impl TokenType {
    /// `"access"` or `"refresh"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// The `aud` claim: one audience or several (RFC 7519 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "api"`
    One(String),
    /// `"aud": ["api", "billing"]`
    Many(Vec<String>),
}

impl Audience {
    /// True when `audience` is, or is among, these audiences.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// Custom claims for applications that have none: an empty JSON object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoCustomClaims {}

/// The verified claims of a token, with the application's claims `T`.
///
/// The auth layer puts an `Arc<Claims<T>>` into the request extensions (shared
/// with its verified-token cache, so a repeated token costs no copy); with the
/// `axum` feature, handlers take a `Claims<T>` as an extractor.
///
/// `T` is deserialized from the whole payload, so it must ignore fields it
/// does not know (serde's default; do not use `deny_unknown_fields`).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use tower_jwt_auth::Claims;
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct User {
///     roles: Vec<String>,
/// }
///
/// fn is_admin(claims: &Claims<User>) -> bool {
///     claims.custom.roles.iter().any(|r| r == "admin")
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims<T = NoCustomClaims> {
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Subject: who the token is about. Required. Read from the profile's
    /// subject claim (`sub` unless configured, e.g. simplejwt's `user_id`).
    pub sub: String,
    /// Audience(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiry, seconds since the epoch. Required.
    pub exp: u64,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Token id (128 random bits, base64url, in this crate's tokens), the
    /// handle for revoking it. Required by this crate's own and the RFC 9068
    /// profiles; empty when a [generic](crate::TokenProfile::generic) token
    /// carries none — such a token cannot be put on the `jti` deny-list.
    pub jti: String,
    /// Access or refresh. Serialized as `token_type`; inside tokens it sits
    /// under the profile's claim name (a profile without one makes every
    /// token an access token).
    pub token_type: TokenType,
    /// Session id: the refresh-token family this token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When the session began (the login), seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// Issued at, in microseconds: orders this token against a subject's
    /// "logout everywhere" cutoff, which whole-second `iat` cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_us: Option<u64>,
    /// The application's own claims.
    #[serde(flatten)]
    pub custom: T,
}

impl<T> Claims<T> {
    /// When this token was issued, in microseconds, for ordering it against
    /// a revocation cutoff. A token without `iat_us` counts as issued at the
    /// last microsecond of its `iat` second, and one without `iat` as issued
    /// at the epoch, so any cutoff at or after that point revokes it.
    pub fn issued_at_micros(&self) -> u64 {
        match (self.iat_us, self.iat) {
            (Some(us), _) => us,
            (None, Some(iat)) => iat.saturating_mul(1_000_000).saturating_add(999_999),
            (None, None) => 0,
        }
    }
}

/// Names of registered claims that cannot serve as the token-type claim.
pub(crate) const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "auth_time",
    "iat_us",
];
