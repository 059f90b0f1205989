//! `resource_server`'s opaque tokens (issue 23): RFC 7662 introspection,
//! configured by `INTROSPECTION_*` and built at startup. Needs the crate's
//! `introspection` feature (in `full`); without it, setting any of the
//! variables is a configuration error.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `INTROSPECTION_URL` | the issuer's introspection endpoint | with `OIDC_ISSUER` and the client id and secret: discovered |
//! | `INTROSPECTION_CLIENT_ID`, `INTROSPECTION_CLIENT_SECRET` | our client at the endpoint (`client_secret_basic`) | — |
//! | `INTROSPECTION_CACHE_SECS` | how long an active answer is kept (never past its `exp`); `0` turns the cache off | 60 |
//! | `INTROSPECTION_JWT` | `1`: ask for RFC 9701 signed answers and verify them with the first issuer's keys | `0` |

use std::time::Duration;

#[cfg(feature = "introspection")]
use tower_jwt_auth::introspect::{ClientAuth, IntrospectionClient};
use tower_jwt_auth::{JwtConfig, KeySource};

/// Where the endpoint comes from.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// `INTROSPECTION_URL`.
    Url(String),
    /// `OIDC_ISSUER`'s metadata names it.
    Discover(String),
}

/// Introspection settings, when any `INTROSPECTION_*` is set.
#[derive(Clone)]
pub struct Introspection {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// `INTROSPECTION_CLIENT_ID`.
    pub client_id: String,
    /// `INTROSPECTION_CLIENT_SECRET` (never printed).
    pub client_secret: String,
    /// `INTROSPECTION_CACHE_SECS`.
    pub cache: Duration,
    /// `INTROSPECTION_JWT=1`: RFC 9701 signed answers.
    pub jwt: bool,
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("cache", &self.cache)
            .field("jwt", &self.jwt)
            .finish_non_exhaustive()
    }
}

impl Introspection {
    /// Reads `INTROSPECTION_*` through `env` (empty counts as unset);
    /// `oidc_issuer` is `OIDC_ISSUER`, for discovery.
    pub fn from_vars(
        env: &impl Fn(&str) -> Option<String>,
        oidc_issuer: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let url = env("INTROSPECTION_URL");
        let id = env("INTROSPECTION_CLIENT_ID");
        let secret = env("INTROSPECTION_CLIENT_SECRET");
        let cache = env("INTROSPECTION_CACHE_SECS");
        let jwt = env("INTROSPECTION_JWT");
        if url.is_none() && id.is_none() && secret.is_none() && cache.is_none() && jwt.is_none() {
            return Ok(None);
        }
        if !cfg!(feature = "introspection") {
            return Err("INTROSPECTION_* needs the `introspection` feature".to_owned());
        }
        let (Some(client_id), Some(client_secret)) = (id, secret) else {
            return Err(
                "introspection needs INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET"
                    .to_owned(),
            );
        };
        let endpoint = match (url, oidc_issuer) {
            (Some(url), _) => Endpoint::Url(url),
            (None, Some(issuer)) => Endpoint::Discover(issuer.to_owned()),
            (None, None) => {
                return Err(
                    "introspection needs INTROSPECTION_URL, or OIDC_ISSUER to discover it"
                        .to_owned(),
                );
            }
        };
        let cache = match cache {
            None => Duration::from_secs(60),
            Some(v) => v.trim().parse().map(Duration::from_secs).map_err(|_| {
                format!("INTROSPECTION_CACHE_SECS must be a whole number of seconds, got `{v}`")
            })?,
        };
        let jwt = match jwt.as_deref().map(str::trim) {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(format!("INTROSPECTION_JWT must be 0 or 1, got `{other}`"));
            }
        };
        Ok(Some(Self {
            endpoint,
            client_id,
            client_secret,
            cache,
            jwt,
        }))
    }
}

/// The cache the layer introspects through.
#[cfg(feature = "introspection")]
pub type Cache = tower_jwt_auth::introspect::IntrospectionCache;

/// Nothing to introspect through without the feature.
#[cfg(not(feature = "introspection"))]
pub type Cache = std::convert::Infallible;

/// The cache for `settings`, its answers checked against `config` (the first
/// issuer's name and audience); the endpoint discovered when so configured;
/// signed answers verified with `keys` (the first issuer's) when asked for.
#[cfg(feature = "introspection")]
pub async fn build(
    settings: &Introspection,
    config: JwtConfig,
    keys: KeySource,
) -> Result<Cache, String> {
    let auth = ClientAuth::client_secret_basic(settings.client_secret.clone());
    let client = match &settings.endpoint {
        Endpoint::Url(url) => IntrospectionClient::new(url, &settings.client_id, auth, config),
        Endpoint::Discover(issuer) => {
            IntrospectionClient::discover(issuer, &settings.client_id, auth, config)
                .await
                .map_err(|e| format!("introspection endpoint of `{issuer}`: {e}"))?
        }
    };
    let client = if settings.jwt {
        client.jwt_answers(keys)
    } else {
        client
    };
    tracing::info!(
        endpoint = client.endpoint(),
        cache_secs = settings.cache.as_secs(),
        jwt_answers = settings.jwt,
        "introspecting opaque tokens"
    );
    Ok(Cache::new(client).ttl(settings.cache))
}

/// Without the feature, [`Introspection::from_vars`] never yields settings.
#[cfg(not(feature = "introspection"))]
pub async fn build(_: &Introspection, _: JwtConfig, _: KeySource) -> Result<Cache, String> {
    Err("INTROSPECTION_* needs the `introspection` feature".to_owned())
}

/// `layer`, introspecting opaque tokens through `cache` when there is one.
pub fn with_introspection<T, R>(
    layer: tower_jwt_auth::JwtAuthLayer<T, R>,
    cache: Option<Cache>,
) -> tower_jwt_auth::JwtAuthLayer<T, R> {
    match cache {
        #[cfg(feature = "introspection")]
        Some(cache) => layer.introspection(
            cache,
            tower_jwt_auth::introspect::IntrospectionMode::OpaqueTokens,
        ),
        #[cfg(not(feature = "introspection"))]
        Some(never) => match never {},
        None => layer,
    }
}
