//! Tokens delivered as cookies, for browser apps: a script on the page can
//! neither read nor leak them.
//!
//! [`SessionCookies`] turns a [`TokenPair`] into three `Set-Cookie` headers:
//!
//! | cookie | default name | attributes |
//! |---|---|---|
//! | access token | `__Host-access_token` | `HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=<access lifetime>` |
//! | refresh token | `__Secure-refresh_token` | `HttpOnly; Secure; SameSite=Strict; Path=/auth/session; Max-Age=<refresh lifetime>` |
//! | CSRF token | `__Host-csrf_token` | `Secure; SameSite=Lax; Path=/; Max-Age=<refresh lifetime>` (readable: the page echoes it) |
//!
//! The `__Host-` and `__Secure-` prefixes make browsers refuse these cookies
//! unless they are `Secure` (and, for `__Host-`, `Path=/` without a
//! `Domain`), so a sibling subdomain cannot plant an access cookie and a
//! matching CSRF cookie (session fixation). With a `Domain`, another access
//! `Path` or `Secure` off, the default access and refresh names drop to the
//! prefix the attributes allow; a CSRF cookie written with a `Domain` or
//! without `Secure` needs a name without `__Host-`
//! ([`CsrfProtection::cookie_name`]).
//!
//! The refresh cookie's `Path` keeps it off every request but the refresh and
//! logout routes (`/auth/session/refresh`, `DELETE /auth/session` by
//! default). `Secure` is on by default; browsers treat `http://localhost`
//! (and `127.0.0.1`) as secure, so local development works. Names, paths,
//! the `Domain` and `SameSite` are configurable.
//! [`clear_cookies`](SessionCookies::clear_cookies) expires all three, for
//! logout.
//!
//! Read the access cookie with [`TokenSource::cookie`] in the
//! [`JwtAuthLayer`](crate::JwtAuthLayer) and give it the same
//! [`CsrfProtection`]: a cookie credential on an unsafe method then needs the
//! CSRF proof (see [`crate::csrf`]).
//!
//! ```
//! use tower_jwt_auth::cookies::SessionCookies;
//! use tower_jwt_auth::csrf::CsrfProtection;
//! use tower_jwt_auth::{Algorithm, JwtConfig, SigningKey, TokenIssuer};
//!
//! let issuer = TokenIssuer::new(
//!     SigningKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?,
//!     JwtConfig::new(),
//! );
//! let cookies = SessionCookies::new(CsrfProtection::new(b"a csrf secret of at least 32 bytes!!")?);
//! let pair = issuer.pair("alice", &tower_jwt_auth::NoCustomClaims {})?;
//! let set_cookie = cookies.set_cookies(&pair)?;
//! assert!(set_cookie[0].to_str()?.starts_with("__Host-access_token="));
//! assert!(set_cookie[0].to_str()?.ends_with("; Path=/; Max-Age=300; HttpOnly; Secure; SameSite=Lax"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`TokenSource::cookie`]: crate::TokenSource::cookie

use std::fmt::{self, Write as _};
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};

use crate::clock::{Clock, SystemClock};
use crate::csrf::CsrfProtection;
use crate::issue::{IssueError, TokenPair};
use crate::rejection::AuthErrorKind;
use crate::source::{TokenSource, from_cookies, is_cookie_name};

/// The default name of the access-token cookie. The `__Host-` prefix makes
/// browsers refuse it unless it is `Secure`, `Path=/` and host-only, so a
/// sibling subdomain cannot plant one; with a `Domain`, another `Path` or
/// `Secure` off, the default becomes `__Secure-access_token` or
/// `access_token` (whichever the attributes allow).
pub const DEFAULT_ACCESS_COOKIE: &str = "__Host-access_token";
/// The default name of the refresh-token cookie: `__Secure-` (its `Path` is
/// not `/`, so `__Host-` cannot be); `refresh_token` with `Secure` off.
pub const DEFAULT_REFRESH_COOKIE: &str = "__Secure-refresh_token";
/// The default `Path` of the refresh-token cookie: the refresh
/// (`/auth/session/refresh`) and logout (`/auth/session`) routes.
pub const DEFAULT_REFRESH_PATH: &str = "/auth/session";

/// The `SameSite` attribute of a cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only with requests made by pages of the same site.
    Strict,
    /// Also sent on top-level `GET` navigations from other sites.
    Lax,
    /// Sent with every request, even cross-site; browsers require `Secure`.
    None,
}

impl SameSite {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

#[derive(Clone, Debug)]
struct Spec {
    name: String,
    /// Whether the name was configured (else it follows the attributes).
    named: bool,
    path: String,
    same_site: SameSite,
}

/// Writes (and clears) the session cookies; see the [module docs](self).
/// Cheap to clone.
#[derive(Clone)]
pub struct SessionCookies {
    csrf: CsrfProtection,
    access: Spec,
    refresh: Spec,
    domain: Option<String>,
    secure: bool,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for SessionCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookies")
            .field("access", &self.access)
            .field("refresh", &self.refresh)
            .field("domain", &self.domain)
            .field("secure", &self.secure)
            .field("csrf", &self.csrf)
            .finish_non_exhaustive()
    }
}

/// A `Path` or `Domain` value: visible ASCII without `;`.
fn is_attribute_value(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic() && b != b';')
}

fn checked_name(name: String) -> String {
    assert!(is_cookie_name(&name), "not a cookie name: {name:?}");
    name
}

fn checked_value(value: String) -> String {
    assert!(
        is_attribute_value(&value),
        "not a cookie attribute value: {value:?}"
    );
    value
}

impl SessionCookies {
    /// The defaults of the [module docs](self), minting CSRF tokens with
    /// `csrf` (give the same value to the layer).
    pub fn new(csrf: CsrfProtection) -> Self {
        Self {
            csrf,
            access: Spec {
                name: DEFAULT_ACCESS_COOKIE.to_owned(),
                named: false,
                path: "/".to_owned(),
                same_site: SameSite::Lax,
            },
            refresh: Spec {
                name: DEFAULT_REFRESH_COOKIE.to_owned(),
                named: false,
                path: DEFAULT_REFRESH_PATH.to_owned(),
                same_site: SameSite::Strict,
            },
            domain: None,
            secure: true,
            clock: Arc::new(SystemClock),
        }
    }

    /// The access cookie's name.
    ///
    /// # Panics
    ///
    /// When `name` is not an RFC 6265 cookie name (as for every name and
    /// attribute below: a configuration error, caught at startup).
    pub fn access_name(mut self, name: impl Into<String>) -> Self {
        self.access.name = checked_name(name.into());
        self.access.named = true;
        self
    }

    /// The refresh cookie's name.
    pub fn refresh_name(mut self, name: impl Into<String>) -> Self {
        self.refresh.name = checked_name(name.into());
        self.refresh.named = true;
        self
    }

    /// The access cookie's `Path` (default `/`).
    pub fn access_path(mut self, path: impl Into<String>) -> Self {
        self.access.path = checked_value(path.into());
        self.default_names()
    }

    /// The refresh cookie's `Path` (default [`DEFAULT_REFRESH_PATH`]): the
    /// prefix of the refresh and logout routes, and of nothing else.
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh.path = checked_value(path.into());
        self
    }

    /// A `Domain` for all three cookies (default none: host-only, the
    /// safest; a domain shares the cookies with every subdomain).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(checked_value(domain.into()));
        self.default_names()
    }

    /// The access (and CSRF) cookie's `SameSite` (default `Lax`).
    pub fn access_same_site(mut self, same_site: SameSite) -> Self {
        self.access.same_site = same_site;
        self
    }

    /// The refresh cookie's `SameSite` (default `Strict`).
    pub fn refresh_same_site(mut self, same_site: SameSite) -> Self {
        self.refresh.same_site = same_site;
        self
    }

    /// The `Secure` attribute (default on). Turn it off only for plain-HTTP
    /// hosts other than `localhost` during development.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self.default_names()
    }

    /// The names of the cookies not named by the application, with the
    /// strongest prefix their attributes allow: `__Host-` (`Secure`,
    /// `Path=/`, no `Domain`), else `__Secure-` (`Secure`), else none.
    fn default_names(mut self) -> Self {
        if !self.access.named {
            let host_only = self.domain.is_none() && self.access.path == "/";
            self.access.name = match (self.secure, host_only) {
                (true, true) => DEFAULT_ACCESS_COOKIE,
                (true, false) => "__Secure-access_token",
                (false, _) => "access_token",
            }
            .to_owned();
        }
        if !self.refresh.named {
            self.refresh.name = if self.secure {
                DEFAULT_REFRESH_COOKIE
            } else {
                "refresh_token"
            }
            .to_owned();
        }
        self
    }

    /// The clock the refresh cookie's `Max-Age` is computed with (the
    /// issuer's, when it is not the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The CSRF policy the cookie is minted under.
    pub fn csrf(&self) -> &CsrfProtection {
        &self.csrf
    }

    /// The access cookie's name.
    pub fn access_cookie(&self) -> &str {
        &self.access.name
    }

    /// The refresh cookie's name.
    pub fn refresh_cookie(&self) -> &str {
        &self.refresh.name
    }

    /// The layer's source for the access cookie.
    pub fn access_source(&self) -> TokenSource {
        TokenSource::cookie(self.access.name.clone())
    }

    /// The `Set-Cookie` values delivering `pair`: access, refresh, then a
    /// fresh CSRF token bound to the pair's session.
    pub fn set_cookies(&self, pair: &TokenPair) -> Result<Vec<HeaderValue>, IssueError> {
        let session = pair.session();
        let refresh_max_age = session
            .refresh_expires_at
            .saturating_sub(self.clock.now_secs());
        let csrf_token = self.csrf.mint(&session.id)?;
        let csrf = Spec {
            name: self.csrf.cookie().to_owned(),
            named: true,
            path: "/".to_owned(),
            same_site: self.access.same_site,
        };
        [
            self.cookie(&self.access, &pair.access_token, pair.expires_in, true),
            self.cookie(&self.refresh, &pair.refresh_token, refresh_max_age, true),
            self.cookie(&csrf, &csrf_token, refresh_max_age, false),
        ]
        .into_iter()
        .map(|cookie| {
            HeaderValue::try_from(cookie)
                .map_err(|_| IssueError::Serialize("a token is not a cookie value".to_owned()))
        })
        .collect()
    }

    /// The `Set-Cookie` values that delete all three cookies (empty,
    /// `Max-Age=0`, same names, paths and domain), for logout.
    pub fn clear_cookies(&self) -> Vec<HeaderValue> {
        let csrf = Spec {
            name: self.csrf.cookie().to_owned(),
            named: true,
            path: "/".to_owned(),
            same_site: self.access.same_site,
        };
        [
            self.cookie(&self.access, "", 0, true),
            self.cookie(&self.refresh, "", 0, true),
            self.cookie(&csrf, "", 0, false),
        ]
        .into_iter()
        .filter_map(|cookie| HeaderValue::try_from(cookie).ok())
        .collect()
    }

    /// The access token from the access cookie, if one was sent; two such
    /// cookies are a malformed credential.
    pub fn access_token<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<&'h str>, AuthErrorKind> {
        cookie_token(headers, &self.access.name)
    }

    /// The refresh token from the refresh cookie, for the refresh and logout
    /// routes.
    pub fn refresh_token<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<&'h str>, AuthErrorKind> {
        cookie_token(headers, &self.refresh.name)
    }

    fn cookie(&self, spec: &Spec, value: &str, max_age: u64, http_only: bool) -> String {
        let mut cookie = format!("{}={value}; Path={}", spec.name, spec.path);
        if let Some(domain) = &self.domain {
            let _ = write!(cookie, "; Domain={domain}");
        }
        let _ = write!(cookie, "; Max-Age={max_age}");
        if http_only {
            cookie.push_str("; HttpOnly");
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        let _ = write!(cookie, "; SameSite={}", spec.same_site.as_str());
        cookie
    }
}

/// A non-empty cookie value that is a plausible token.
fn cookie_token<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, AuthErrorKind> {
    match from_cookies(headers, name)? {
        None | Some(b"") => Ok(None),
        Some(value) if value.iter().all(u8::is_ascii_graphic) => std::str::from_utf8(value)
            .map(Some)
            .map_err(|_| AuthErrorKind::MalformedCredentials),
        Some(_) => Err(AuthErrorKind::MalformedCredentials),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::config::JwtConfig;
    use crate::keys::{Algorithm, SigningKey};
    use crate::{NoCustomClaims, TokenIssuer};
    use std::time::Duration;

    const NOW: u64 = 1_700_000_000;

    fn issuer(clock: &ManualClock) -> TokenIssuer {
        let config = JwtConfig::new()
            .access_ttl(Duration::from_secs(300))
            .refresh_ttl(Duration::from_secs(86_400))
            .clock(clock.clone());
        TokenIssuer::new(
            SigningKey::hmac(Algorithm::HS256, b"cookie unit-test secret of 32 bytes!").unwrap(),
            config,
        )
    }

    fn cookies(clock: &ManualClock) -> SessionCookies {
        SessionCookies::new(
            CsrfProtection::new(b"csrf unit-test secret, 32 bytes or more").unwrap(),
        )
        .clock(Arc::new(clock.clone()))
    }

    fn strings(values: &[HeaderValue]) -> Vec<String> {
        values
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The attributes after the `name=value` pair.
    fn attributes(cookie: &str) -> Vec<&str> {
        cookie.split("; ").skip(1).collect()
    }

    #[test]
    fn default_names_carry_the_host_and_secure_prefixes() {
        let clock = ManualClock::at_secs(NOW);
        let (_, set) = set(&clock, &cookies(&clock));
        assert!(set[0].starts_with("__Host-access_token="), "{}", set[0]);
        assert!(set[1].starts_with("__Secure-refresh_token="), "{}", set[1]);
        assert!(set[2].starts_with("__Host-csrf_token="), "{}", set[2]);
    }

    #[test]
    fn default_names_drop_to_the_prefix_their_attributes_allow() {
        let clock = ManualClock::at_secs(NOW);
        let with_domain = cookies(&clock).domain("app.example");
        assert_eq!(with_domain.access_cookie(), "__Secure-access_token");
        assert_eq!(with_domain.refresh_cookie(), "__Secure-refresh_token");
        let under_api = cookies(&clock).access_path("/api");
        assert_eq!(under_api.access_cookie(), "__Secure-access_token");
        let insecure = cookies(&clock).secure(false);
        assert_eq!(insecure.access_cookie(), "access_token");
        assert_eq!(insecure.refresh_cookie(), "refresh_token");
        // Named by the application: kept as given.
        let named = cookies(&clock).access_name("__Host-mine").secure(true);
        assert_eq!(named.access_cookie(), "__Host-mine");
    }

    fn set(clock: &ManualClock, cookies: &SessionCookies) -> (TokenPair, Vec<String>) {
        let pair = issuer(clock).pair("alice", &NoCustomClaims {}).unwrap();
        let set = strings(&cookies.set_cookies(&pair).unwrap());
        (pair, set)
    }

    #[test]
    fn access_cookie_is_http_only_secure_lax_at_root_for_the_access_lifetime() {
        let clock = ManualClock::at_secs(NOW);
        let (pair, set) = set(&clock, &cookies(&clock));
        assert_eq!(
            set[0],
            format!(
                "__Host-access_token={}; Path=/; Max-Age=300; HttpOnly; Secure; SameSite=Lax",
                pair.access_token
            )
        );
    }

    #[test]
    fn refresh_cookie_is_http_only_secure_strict_on_the_session_routes() {
        let clock = ManualClock::at_secs(NOW);
        let (pair, set) = set(&clock, &cookies(&clock));
        assert_eq!(
            set[1],
            format!(
                "__Secure-refresh_token={}; Path=/auth/session; Max-Age=86400; HttpOnly; Secure; SameSite=Strict",
                pair.refresh_token
            )
        );
    }

    #[test]
    fn refresh_max_age_follows_the_remaining_lifetime() {
        let clock = ManualClock::at_secs(NOW);
        let cookies = cookies(&clock);
        let pair = issuer(&clock).pair("alice", &NoCustomClaims {}).unwrap();
        clock.advance_secs(400);
        let set = strings(&cookies.set_cookies(&pair).unwrap());
        assert!(attributes(&set[1]).contains(&"Max-Age=86000"), "{}", set[1]);
    }

    #[test]
    fn csrf_cookie_is_readable_and_bound_to_the_session() {
        let clock = ManualClock::at_secs(NOW);
        let cookies = cookies(&clock);
        let (pair, set) = set(&clock, &cookies);
        let token = set[2]
            .strip_prefix("__Host-csrf_token=")
            .and_then(|rest| rest.split(';').next())
            .unwrap();
        assert_eq!(
            attributes(&set[2]),
            ["Path=/", "Max-Age=86400", "Secure", "SameSite=Lax"]
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            format!("__Host-csrf_token={token}").parse().unwrap(),
        );
        headers.insert("x-csrf-token", token.parse().unwrap());
        let uri = http::Uri::from_static("/");
        let post = http::Method::POST;
        let csrf = cookies.csrf();
        assert_eq!(
            csrf.check(&post, &uri, &headers, Some(&pair.session().id)),
            Ok(())
        );
        assert!(csrf.check(&post, &uri, &headers, Some("another")).is_err());
    }

    #[test]
    fn each_set_mints_a_new_csrf_token() {
        let clock = ManualClock::at_secs(NOW);
        let cookies = cookies(&clock);
        let pair = issuer(&clock).pair("alice", &NoCustomClaims {}).unwrap();
        let first = strings(&cookies.set_cookies(&pair).unwrap());
        let second = strings(&cookies.set_cookies(&pair).unwrap());
        assert_ne!(first[2], second[2]);
    }

    #[test]
    fn clearing_expires_every_cookie_on_its_own_path() {
        let clock = ManualClock::at_secs(NOW);
        let cleared = strings(&cookies(&clock).clear_cookies());
        assert_eq!(
            cleared,
            [
                "__Host-access_token=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
                "__Secure-refresh_token=; Path=/auth/session; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
                "__Host-csrf_token=; Path=/; Max-Age=0; Secure; SameSite=Lax",
            ]
        );
    }

    #[test]
    fn names_paths_domain_same_site_and_secure_are_configurable() {
        let clock = ManualClock::at_secs(NOW);
        let cookies = cookies(&clock)
            .access_name("app_access")
            .refresh_name("app_refresh")
            .access_path("/api")
            .refresh_path("/api/session")
            .domain("app.example")
            .access_same_site(SameSite::Strict)
            .refresh_same_site(SameSite::Lax)
            .secure(false);
        let (_, set) = set(&clock, &cookies);
        assert!(set[0].starts_with("app_access="));
        assert_eq!(
            attributes(&set[0]),
            [
                "Path=/api",
                "Domain=app.example",
                "Max-Age=300",
                "HttpOnly",
                "SameSite=Strict"
            ]
        );
        assert!(set[1].starts_with("app_refresh="));
        assert_eq!(
            attributes(&set[1]),
            [
                "Path=/api/session",
                "Domain=app.example",
                "Max-Age=86400",
                "HttpOnly",
                "SameSite=Lax"
            ]
        );
        assert_eq!(
            attributes(&set[2]),
            [
                "Path=/",
                "Domain=app.example",
                "Max-Age=86400",
                "SameSite=Strict"
            ]
        );
        let cleared = strings(&cookies.clear_cookies());
        assert!(cleared[0].starts_with("app_access=; Path=/api; Domain=app.example; Max-Age=0"));
        assert!(
            cleared[1]
                .starts_with("app_refresh=; Path=/api/session; Domain=app.example; Max-Age=0")
        );
        assert_eq!(cookies.access_source(), TokenSource::cookie("app_access"));
    }

    #[test]
    #[should_panic(expected = "not a cookie name")]
    fn a_name_with_a_separator_is_refused() {
        let clock = ManualClock::at_secs(NOW);
        let _ = cookies(&clock).access_name("a;b");
    }

    #[test]
    fn tokens_are_read_back_from_their_cookies() {
        let clock = ManualClock::at_secs(NOW);
        let cookies = cookies(&clock);
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            "__Secure-refresh_token=r.r.r; __Host-access_token=a.a.a"
                .parse()
                .unwrap(),
        );
        assert_eq!(cookies.refresh_token(&headers), Ok(Some("r.r.r")));
        assert_eq!(cookies.access_token(&headers), Ok(Some("a.a.a")));
        headers.insert("cookie", "__Host-access_token=".parse().unwrap());
        assert_eq!(cookies.access_token(&headers), Ok(None));
        assert_eq!(cookies.refresh_token(&headers), Ok(None));
        headers.insert(
            "cookie",
            "__Secure-refresh_token=a; __Secure-refresh_token=b"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            cookies.refresh_token(&headers),
            Err(AuthErrorKind::MalformedCredentials)
        );
    }

    #[test]
    fn debug_shows_no_key() {
        let clock = ManualClock::at_secs(NOW);
        let debug = format!("{:?}", cookies(&clock));
        assert!(debug.contains("refresh_token"));
        assert!(!debug.contains("secret"));
    }
}
