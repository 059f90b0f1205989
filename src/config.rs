//! `JwtConfig`: everything about tokens that is not a key.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::claims::RESERVED_CLAIMS;
use crate::clock::{Clock, SystemClock};
use crate::profile::{DEFAULT_TOKEN_TYPE_CLAIM, TokenProfile};

/// Default leeway for `exp` and `nbf`: 5 seconds. Enough for NTP-synchronized
/// hosts; small enough that an expired token is refused promptly.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);
/// Default cap on the raw token length: 8 KiB, checked before any decoding.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// Default access-token lifetime: 5 minutes.
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(5 * 60);
/// Default refresh-token lifetime: 1 day.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Default absolute session lifetime: 7 days after login no refresh token is
/// valid, however often it was rotated.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What tokens must look like, shared by the verifier and the issuer.
///
/// `JwtConfig` is its own builder: start from [`JwtConfig::new`] (the
/// documented defaults) and chain setters.
///
/// | setting | default |
/// |---|---|
/// | issuer (`iss`) | none: not minted, not checked |
/// | audience (`aud`) | none: not minted, not checked |
/// | leeway | [`DEFAULT_LEEWAY`] (5 s) |
/// | max token length | [`DEFAULT_MAX_TOKEN_LEN`] (8 KiB) |
/// | profile (what a token must carry) | [`TokenProfile::own`]: `sub`, `jti`, `token_type` |
/// | access lifetime | [`DEFAULT_ACCESS_TTL`] (5 min) |
/// | refresh lifetime | [`DEFAULT_REFRESH_TTL`] (1 day) |
/// | session lifetime | [`DEFAULT_SESSION_LIFETIME`] (7 days) |
/// | clock | [`SystemClock`] |
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::JwtConfig;
///
/// let config = JwtConfig::new()
///     .issuer("https://auth.example.com")
///     .audience("api")
///     .access_ttl(Duration::from_secs(600));
/// assert_eq!(config.access_ttl_secs(), 600);
/// ```
#[derive(Clone)]
pub struct JwtConfig {
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) leeway_secs: u64,
    pub(crate) max_token_len: usize,
    pub(crate) profile: TokenProfile,
    pub(crate) access_ttl_secs: u64,
    pub(crate) refresh_ttl_secs: u64,
    pub(crate) session_lifetime_secs: u64,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) revocation_scope: Option<RevocationScope>,
}

/// Under which ids the revocation store keeps the entries of an issuer's
/// tokens (deny entries, cutoffs, sessions), when one verifier trusts several
/// issuers ([`Verifier::any_of`](crate::Verifier::any_of)).
///
/// The same `sub` (or `jti`, or `sid`) at two issuers names two different
/// things: were they kept under one id, a logout-everywhere of one issuer's
/// user would log out another issuer's user of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationScope {
    /// The token's own ids, as a verifier of one issuer keeps them: the
    /// scope of this service's own tokens, which its
    /// [`SessionManager`](crate::SessionManager) revokes.
    Shared,
    /// Ids scoped by the issuer
    /// ([`revocation::issuer_scoped`](crate::revocation::issuer_scoped)): the
    /// scope of another issuer's tokens. Revoke them under those ids.
    Issuer,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl JwtConfig {
    /// The documented defaults.
    pub fn new() -> Self {
        Self {
            issuer: None,
            audience: None,
            leeway_secs: DEFAULT_LEEWAY.as_secs(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            profile: TokenProfile::own(),
            access_ttl_secs: DEFAULT_ACCESS_TTL.as_secs(),
            refresh_ttl_secs: DEFAULT_REFRESH_TTL.as_secs(),
            session_lifetime_secs: DEFAULT_SESSION_LIFETIME.as_secs(),
            clock: Arc::new(SystemClock),
            revocation_scope: None,
        }
    }

    /// Under which ids revocations of this issuer's tokens are kept, when a
    /// verifier trusts several issuers. Unset, [`Verifier::any_of`] decides
    /// from the keys: an issuer whose keys are fetched (a JWK Set URL,
    /// discovery) is another issuer, [`RevocationScope::Issuer`]; one whose
    /// keys are given (a secret, a key file: what this service's own tokens
    /// are signed with) is [`RevocationScope::Shared`]. Unset, a verifier of
    /// one issuer keeps the tokens' own ids, as before there was a choice.
    ///
    /// [`Verifier::any_of`]: crate::Verifier::any_of
    #[must_use]
    pub fn revocation_scope(mut self, scope: RevocationScope) -> Self {
        self.revocation_scope = Some(scope);
        self
    }

    /// Mint `iss` into tokens and require it when verifying.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Mint `aud` into tokens and require verified tokens' `aud` (a string or
    /// an array) to contain it.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Tolerance for clock skew on `exp` and `nbf` (whole seconds).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway_secs = leeway.as_secs();
        self
    }

    /// Longest raw token accepted, in bytes; longer ones are refused unread.
    #[must_use]
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    /// Name of the token-type claim (default `token_type`), keeping its
    /// `access` / `refresh` values; see [`TokenProfile::token_type_claim`]
    /// to change the values too.
    ///
    /// # Panics
    ///
    /// When `name` is empty or a registered claim this crate reads (`sub`,
    /// `exp`, …): a configuration error that must not reach production.
    #[must_use]
    pub fn token_type_claim(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        assert!(
            !name.is_empty() && !RESERVED_CLAIMS.contains(&name.as_ref()),
            "the token-type claim cannot be named `{name}`"
        );
        self.profile.rename_token_type_claim(name);
        self
    }

    /// What a token must carry (default [`TokenProfile::own`]); for tokens of
    /// an identity provider, [`TokenProfile::rfc9068`] or
    /// [`TokenProfile::generic`].
    #[must_use]
    pub fn profile(mut self, profile: TokenProfile) -> Self {
        self.profile = profile;
        self
    }

    /// The profile tokens are checked against.
    pub fn profile_ref(&self) -> &TokenProfile {
        &self.profile
    }

    /// Lifetime of access tokens (whole seconds, at least one).
    #[must_use]
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl_secs = ttl.as_secs().max(1);
        self
    }

    /// Lifetime of each refresh token (whole seconds, at least one).
    #[must_use]
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl_secs = ttl.as_secs().max(1);
        self
    }

    /// Absolute session lifetime: no refresh token of a session outlives its
    /// login by more than this, however often it is rotated.
    #[must_use]
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime_secs = lifetime.as_secs().max(1);
        self
    }

    /// The clock used to mint and to check times (tests use
    /// [`ManualClock`](crate::ManualClock)).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The configured issuer.
    pub fn issuer_name(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The configured audience.
    pub fn audience_name(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The leeway in seconds.
    pub const fn leeway_secs(&self) -> u64 {
        self.leeway_secs
    }

    /// The access-token lifetime in seconds.
    pub const fn access_ttl_secs(&self) -> u64 {
        self.access_ttl_secs
    }

    /// The refresh-token lifetime in seconds.
    pub const fn refresh_ttl_secs(&self) -> u64 {
        self.refresh_ttl_secs
    }

    /// The absolute session lifetime in seconds.
    pub const fn session_lifetime_secs(&self) -> u64 {
        self.session_lifetime_secs
    }

    /// The token-type claim name this configuration mints (the profile's,
    /// or `token_type` when the profile checks none).
    pub fn token_type_claim_name(&self) -> &str {
        self.profile
            .token_type_claim_name()
            .unwrap_or(DEFAULT_TOKEN_TYPE_CLAIM)
    }

    /// The clock.
    pub fn clock_ref(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway_secs)
            .field("max_token_len", &self.max_token_len)
            .field("profile", &self.profile)
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field("refresh_ttl_secs", &self.refresh_ttl_secs)
            .field("session_lifetime_secs", &self.session_lifetime_secs)
            .field("revocation_scope", &self.revocation_scope)
            .finish_non_exhaustive()
    }
}
