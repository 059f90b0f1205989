//! `TokenProfile`: what a token must carry to be accepted.

use std::borrow::Cow;

use crate::claims::{RESERVED_CLAIMS, TokenType};

/// Default name of the token-type claim.
pub const DEFAULT_TOKEN_TYPE_CLAIM: &str = "token_type";

/// `TokenProfile`: what a token must carry to be accepted.
///
/// Profiles are data: the verifier reads one value and never asks which
/// preset it came from. Three presets cover the issuers people run:
///
/// | | [`own`](TokenProfile::own) (default) | [`rfc9068`](TokenProfile::rfc9068) | [`generic`](TokenProfile::generic) |
/// |---|---|---|---|
/// | header `typ` | absent, `JWT` or `at+jwt` | `at+jwt` / `application/at+jwt` only | absent, `JWT` or `at+jwt` |
/// | `exp` | required | required | required |
/// | subject (`sub`, or the configured name) | required | required | required |
/// | `jti` | required | required | optional |
/// | `iss` | when configured | required | when configured |
/// | `aud` | when configured | required | when configured |
/// | `iat` | — | required | — |
/// | `client_id` | — | required | — |
/// | token-type claim | `token_type`: `access` / `refresh` | none | none, unless configured |
///
/// `exp`, `nbf` and `iat` may be JSON integers or fractions (AuthX writes
/// fractions); fractions are floored.
///
/// A token without `jti` cannot be put on the `jti` deny-list (its `jti` is
/// empty in [`Claims`](crate::Claims)); it is still refused by a "logout
/// everywhere" cutoff on its subject, and by its session's revocation when it
/// carries a `sid`.
///
/// ```
/// use tower_jwt_auth::{JwtConfig, TokenProfile};
///
/// // djangorestframework-simplejwt: `user_id` is the subject,
/// // `token_type: "access"` marks access tokens.
/// let simplejwt = TokenProfile::generic()
///     .subject_claim("user_id")
///     .token_type_claim("token_type", "access", "refresh");
/// // AuthX: `type: "access"`.
/// let authx = TokenProfile::generic().token_type_claim("type", "access", "refresh");
/// let config = JwtConfig::new().profile(authx);
/// assert_eq!(config.profile_ref().subject_claim_name(), "sub");
/// # let _ = simplejwt;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenProfile {
    pub(crate) subject_claim: Cow<'static, str>,
    pub(crate) token_type: Option<TypeClaim>,
    pub(crate) require_at_jwt_typ: bool,
    pub(crate) require_jti: bool,
    pub(crate) require_iss: bool,
    pub(crate) require_aud: bool,
    pub(crate) require_iat: bool,
    pub(crate) require_client_id: bool,
}

/// The claim that tells access tokens from refresh tokens, and its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TypeClaim {
    pub(crate) name: Cow<'static, str>,
    pub(crate) access: Cow<'static, str>,
    pub(crate) refresh: Cow<'static, str>,
}

impl TypeClaim {
    /// The token type a claim value names, if any.
    pub(crate) fn parse(&self, value: &str) -> Option<TokenType> {
        if value == self.access {
            Some(TokenType::Access)
        } else if value == self.refresh {
            Some(TokenType::Refresh)
        } else {
            None
        }
    }

    /// The claim value for `token_type`.
    pub(crate) fn value(&self, token_type: TokenType) -> &str {
        match token_type {
            TokenType::Access => &self.access,
            TokenType::Refresh => &self.refresh,
        }
    }
}

impl Default for TokenProfile {
    fn default() -> Self {
        Self::own()
    }
}

impl TokenProfile {
    /// This crate's own tokens (what [`TokenIssuer`](crate::TokenIssuer)
    /// mints): `sub`, `jti` and `token_type` required.
    pub fn own() -> Self {
        Self {
            subject_claim: Cow::Borrowed("sub"),
            token_type: Some(TypeClaim {
                name: Cow::Borrowed(DEFAULT_TOKEN_TYPE_CLAIM),
                access: Cow::Borrowed("access"),
                refresh: Cow::Borrowed("refresh"),
            }),
            require_at_jwt_typ: false,
            require_jti: true,
            require_iss: false,
            require_aud: false,
            require_iat: false,
            require_client_id: false,
        }
    }

    /// RFC 9068 JWT access tokens: the header's `typ` must be `at+jwt` (so an
    /// ID token signed by the same key never passes as an access token,
    /// RFC 8725 §3.11), and `iss`, `exp`, `aud`, `sub`, `client_id`, `iat`
    /// and `jti` are required. Configure the issuer and audience too.
    pub fn rfc9068() -> Self {
        Self {
            subject_claim: Cow::Borrowed("sub"),
            token_type: None,
            require_at_jwt_typ: true,
            require_jti: true,
            require_iss: true,
            require_aud: true,
            require_iat: true,
            require_client_id: true,
        }
    }

    /// What identity providers and other libraries mint: `exp` and the
    /// subject required; `iss` and `aud` checked when configured; no
    /// token-type claim unless one is configured; `jti` optional.
    pub fn generic() -> Self {
        Self {
            subject_claim: Cow::Borrowed("sub"),
            token_type: None,
            require_at_jwt_typ: false,
            require_jti: false,
            require_iss: false,
            require_aud: false,
            require_iat: false,
            require_client_id: false,
        }
    }

    /// Read the subject from `name` instead of `sub` (simplejwt's `user_id`).
    /// Under another name the subject may be a JSON string or integer.
    ///
    /// # Panics
    ///
    /// When `name` is empty or another registered claim (`exp`, `jti`, …).
    #[must_use]
    pub fn subject_claim(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        assert!(
            name == "sub" || (!name.is_empty() && !RESERVED_CLAIMS.contains(&name.as_ref())),
            "the subject claim cannot be named `{name}`"
        );
        self.subject_claim = name;
        self
    }

    /// Require the claim `name` and tell access from refresh tokens by its
    /// value: `access` for access tokens, `refresh` for refresh tokens
    /// (simplejwt `token_type`/`access`, AuthX `type`/`access`), so the
    /// refresh tokens of those systems are refused by the auth layer.
    ///
    /// # Panics
    ///
    /// When `name` is empty or a registered claim this crate reads, or when
    /// the two values are equal.
    #[must_use]
    pub fn token_type_claim(
        mut self,
        name: impl Into<Cow<'static, str>>,
        access: impl Into<Cow<'static, str>>,
        refresh: impl Into<Cow<'static, str>>,
    ) -> Self {
        let name = name.into();
        let (access, refresh) = (access.into(), refresh.into());
        assert!(
            !name.is_empty() && !RESERVED_CLAIMS.contains(&name.as_ref()),
            "the token-type claim cannot be named `{name}`"
        );
        assert!(
            access != refresh,
            "access and refresh tokens need different type values"
        );
        self.token_type = Some(TypeClaim {
            name,
            access,
            refresh,
        });
        self
    }

    /// No token-type claim: every token that verifies counts as an access
    /// token (and no token as a refresh token).
    #[must_use]
    pub fn no_token_type_claim(mut self) -> Self {
        self.token_type = None;
        self
    }

    /// Require (or stop requiring) a `jti`.
    #[must_use]
    pub fn require_jti(mut self, required: bool) -> Self {
        self.require_jti = required;
        self
    }

    /// The name of the subject claim.
    pub fn subject_claim_name(&self) -> &str {
        &self.subject_claim
    }

    /// The name of the token-type claim, if the profile has one.
    pub fn token_type_claim_name(&self) -> Option<&str> {
        self.token_type.as_ref().map(|t| t.name.as_ref())
    }

    /// Renames the token-type claim, keeping its values (for
    /// [`JwtConfig::token_type_claim`](crate::JwtConfig::token_type_claim)).
    pub(crate) fn rename_token_type_claim(&mut self, name: Cow<'static, str>) {
        match &mut self.token_type {
            Some(claim) => claim.name = name,
            None => {
                self.token_type = Some(TypeClaim {
                    name,
                    access: Cow::Borrowed("access"),
                    refresh: Cow::Borrowed("refresh"),
                });
            }
        }
    }

    /// The type claim the issuer mints: the profile's, or this crate's
    /// default when the profile has none (minted tokens always say what
    /// they are).
    pub(crate) fn minted_type_claim(&self) -> Cow<'_, TypeClaim> {
        match &self.token_type {
            Some(claim) => Cow::Borrowed(claim),
            None => Cow::Owned(
                TokenProfile::own()
                    .token_type
                    .expect("own has a type claim"),
            ),
        }
    }

    /// True when the header's `typ` is acceptable under this profile. The
    /// common rule (a JWT or an access token, RFC 8725 §3.11) is applied by
    /// the header parser; RFC 9068 narrows it to `at+jwt`.
    pub(crate) fn accepts_typ(&self, typ: Option<&str>) -> bool {
        if !self.require_at_jwt_typ {
            return true;
        }
        typ.is_some_and(|typ| {
            typ.strip_prefix("application/")
                .unwrap_or(typ)
                .eq_ignore_ascii_case("at+jwt")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9068_requires_the_at_jwt_typ() {
        let profile = TokenProfile::rfc9068();
        assert!(profile.accepts_typ(Some("at+jwt")));
        assert!(profile.accepts_typ(Some("application/AT+JWT")));
        assert!(!profile.accepts_typ(Some("JWT")));
        assert!(!profile.accepts_typ(None));
        assert!(TokenProfile::generic().accepts_typ(None));
    }

    #[test]
    fn type_claim_values_map_to_token_types() {
        let profile = TokenProfile::generic().token_type_claim("type", "access", "refresh");
        let claim = profile.token_type.as_ref().unwrap();
        assert_eq!(claim.parse("access"), Some(TokenType::Access));
        assert_eq!(claim.parse("refresh"), Some(TokenType::Refresh));
        assert_eq!(claim.parse("id"), None);
    }

    #[test]
    #[should_panic(expected = "cannot be named")]
    fn subject_claim_cannot_be_exp() {
        let _ = TokenProfile::generic().subject_claim("exp");
    }

    #[test]
    fn minted_type_claim_defaults_to_ours() {
        let minted = TokenProfile::generic().minted_type_claim().into_owned();
        assert_eq!(minted.name, "token_type");
    }
}
