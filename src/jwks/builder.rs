//! Building a remote key set: its settings, their defaults, and the checks
//! made before the refresh task starts.

use std::fmt;
use std::time::Duration;

use super::remote::{self, RemoteJwks};
use super::state::{Location, Settings};
use super::{DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_AGE, DEFAULT_MAX_BODY, DEFAULT_MIN_REFRESH};
use crate::keys::Algorithm;

/// Why a remote key set could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// Built outside a Tokio runtime: the refresh task needs one.
    NoRuntime,
    /// The URL is not one this crate fetches (https, or http on loopback).
    UnsupportedUrl(String),
    /// The HTTP client could not be built.
    Client(String),
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRuntime => f.write_str("a remote key set needs a Tokio runtime"),
            Self::UnsupportedUrl(url) => {
                write!(f, "`{url}` is not an https URL (or http on loopback)")
            }
            Self::Client(e) => write!(f, "HTTP client: {e}"),
        }
    }
}

impl std::error::Error for JwksError {}

/// Builds a [`RemoteJwks`]; every setting has a documented default.
#[must_use]
pub struct RemoteJwksBuilder {
    location: Location,
    min_refresh: Duration,
    max_age: Duration,
    fetch_timeout: Duration,
    max_body: usize,
    rsa_algorithm: Algorithm,
    allow_http: bool,
    discovered_from: Option<String>,
    client: Option<reqwest::Client>,
}

impl fmt::Debug for RemoteJwksBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwksBuilder")
            .field("location", &self.location)
            .field("min_refresh", &self.min_refresh)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl RemoteJwksBuilder {
    fn new(location: Location) -> Self {
        Self {
            location,
            min_refresh: DEFAULT_MIN_REFRESH,
            max_age: DEFAULT_MAX_AGE,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            rsa_algorithm: Algorithm::RS256,
            allow_http: false,
            discovered_from: None,
            client: None,
        }
    }

    /// Shortest time between fetches, and between two refetches for unknown
    /// `kid`s (default [`DEFAULT_MIN_REFRESH`]).
    pub fn min_refresh(mut self, interval: Duration) -> Self {
        self.min_refresh = interval;
        self
    }

    /// Longest time between fetches (default [`DEFAULT_MAX_AGE`]); a shorter
    /// `Cache-Control: max-age` is honoured down to `min_refresh`.
    pub fn max_age(mut self, interval: Duration) -> Self {
        self.max_age = interval;
        self
    }

    /// Deadline of one fetch (default [`DEFAULT_FETCH_TIMEOUT`]).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Largest document read (default [`DEFAULT_MAX_BODY`]).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The algorithm of RSA keys whose JWK names none (default RS256).
    pub fn rsa_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.rsa_algorithm = algorithm;
        self
    }

    /// Fetch plain `http://` URLs on any host, not only loopback ones.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Record that this set's URL was found in `issuer`'s metadata (an
    /// application that ran [`discover`](super::discover) itself and built
    /// the set from the `jwks_uri`). It changes no fetch; what describes the
    /// service (an OpenAPI `openIdConnect` scheme, see
    /// [`crate::openapi`]) then points clients at the issuer's discovery
    /// document, as for [`RemoteJwks::discover`].
    pub fn discovered_from(mut self, issuer: impl Into<String>) -> Self {
        self.discovered_from = Some(issuer.into());
        self
    }

    /// Fetch with this client (proxies, root certificates, …). The deadline
    /// and body cap apply on top of its own settings, and so does the URL
    /// policy: an answer the client reached by following a redirect is
    /// refused. Build it with `redirect(reqwest::redirect::Policy::none())`,
    /// so that it does not even make the redirected request.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Starts the refresh task (in the current Tokio runtime) and returns at
    /// once: requests get 503 until the first key set has been fetched
    /// ([`RemoteJwks::ready`] waits for it).
    pub fn build(self) -> Result<RemoteJwks, JwksError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| JwksError::NoRuntime)?;
        let (Location::Url(url) | Location::Discover(url)) = &self.location;
        crate::url_policy::check_url(url, self.allow_http).map_err(JwksError::UnsupportedUrl)?;
        let client = match self.client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(self.fetch_timeout)
                .build()
                .map_err(|e| JwksError::Client(e.to_string()))?,
        };
        let settings = Settings {
            location: self.location,
            min_refresh: self.min_refresh,
            max_age: self.max_age.max(self.min_refresh),
            fetch_timeout: self.fetch_timeout,
            max_body: self.max_body,
            rsa_algorithm: self.rsa_algorithm,
            allow_http: self.allow_http,
            discovered_from: self.discovered_from,
        };
        Ok(remote::start(&runtime, settings, client))
    }
}

impl RemoteJwks {
    /// A key set fetched from `url`.
    pub fn builder(url: impl Into<String>) -> RemoteJwksBuilder {
        RemoteJwksBuilder::new(Location::Url(url.into()))
    }

    /// A key set found through `issuer`'s metadata: OpenID Connect discovery
    /// (`/.well-known/openid-configuration`), else RFC 8414
    /// (`/.well-known/oauth-authorization-server`). The document's `issuer`
    /// must be exactly `issuer`; a mismatch is logged as a configuration
    /// error and no keys are taken (use [`discover`](super::discover) to check it at startup).
    pub fn discover(issuer: impl Into<String>) -> RemoteJwksBuilder {
        RemoteJwksBuilder::new(Location::Discover(issuer.into()))
    }
}
