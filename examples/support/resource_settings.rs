//! The settings and verifier shared by the verify-only examples
//! (`resource_server`, `forward_auth`): the issuers, their keys (discovery, a
//! JWK Set URL or local keys), the token profile, introspection, read from the
//! environment and built into one [`Verifier`]. Include with
//! `#[path = "support/resource_settings.rs"] mod resource_settings;` beside
//! `#[path = "support/introspection.rs"] mod introspection;`.

use std::net::SocketAddr;
use std::time::Duration;

use tower_jwt_auth::jwks::{self, DiscoveryError, RemoteJwks};
use tower_jwt_auth::{
    Algorithm, IssuersError, JwtConfig, KeySet, KeySource, TokenProfile, Verifier, VerifyingKey,
    parse_algorithm,
};

use super::introspection;

/// How long startup waits for each issuer's metadata before starting anyway.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Where one trusted issuer's keys come from.
#[derive(Clone, Debug)]
pub enum Keys {
    /// Found through the issuer's metadata (`OIDC_ISSUER`).
    Discover,
    /// A JWK Set URL (`JWKS_URL`).
    JwksUrl(String),
    /// A key held here (`JWT_SECRET` / `JWT_PUBLIC_KEY_FILE`).
    Local(KeySet),
}

/// One trusted issuer.
#[derive(Clone, Debug)]
pub struct Issuer {
    /// Where its keys come from.
    pub keys: Keys,
    /// Its name, exactly as tokens carry it in `iss` (required for
    /// discovery and for a second issuer).
    pub issuer: Option<String>,
    /// The audience its tokens must name.
    pub audience: Option<String>,
}

/// Everything read from the environment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `BIND`.
    pub bind: SocketAddr,
    /// The first issuer, then `OIDC_ISSUER_2` when set.
    pub issuers: Vec<Issuer>,
    /// What tokens must carry (`JWT_PROFILE`, `JWT_SUBJECT_CLAIM`,
    /// `JWT_TYPE_CLAIM`, `JWT_TYPE_ACCESS`), the same for every issuer.
    pub profile: TokenProfile,
    /// `JWKS_MIN_REFRESH_SECS`.
    pub min_refresh: Duration,
    /// `JWKS_MAX_AGE_SECS`.
    pub max_age: Duration,
    /// `RESOURCE_METADATA=1`: serve RFC 9728 metadata and name it in
    /// challenges.
    pub resource_metadata: bool,
    /// `INTROSPECTION_*`: opaque tokens introspected.
    pub introspection: Option<introspection::Introspection>,
}

/// Claims a token-type or subject claim cannot be named (the profile's rules).
const RESERVED: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "auth_time",
    "iat_us",
];

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `var` (empty counts as unset), so tests
    /// can configure the server without touching the process environment.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let env = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let secs =
            |name: &str, default: u64| -> Result<Duration, String> {
                match env(name) {
                    None => Ok(Duration::from_secs(default)),
                    Some(v) => v.trim().parse().map(Duration::from_secs).map_err(|_| {
                        format!("{name} must be a whole number of seconds, got `{v}`")
                    }),
                }
            };
        let bind = env("BIND")
            .unwrap_or_else(|| "127.0.0.1:3002".to_owned())
            .parse()
            .map_err(|e| format!("BIND: {e}"))?;

        let audience = env("JWT_AUDIENCE");
        let first = match (env("OIDC_ISSUER"), env("JWKS_URL")) {
            (Some(_), Some(_)) => return Err("set OIDC_ISSUER or JWKS_URL, not both".to_owned()),
            (Some(issuer), None) => Issuer {
                keys: Keys::Discover,
                issuer: Some(issuer),
                audience,
            },
            (None, Some(url)) => Issuer {
                keys: Keys::JwksUrl(url),
                // A key set can sign for many issuers (Entra ID's `common`
                // keys sign every tenant's tokens): keys alone do not say
                // whose tokens these are.
                issuer: Some(env("JWT_ISSUER").ok_or(
                    "JWKS_URL needs JWT_ISSUER: a key set may sign for many issuers (a multi-tenant \
                     one signs every tenant's tokens), so name the one whose tokens to accept",
                )?),
                audience,
            },
            (None, None) => Issuer {
                keys: Keys::Local(KeySet::new(local_key(&env)?)),
                issuer: env("JWT_ISSUER"),
                audience,
            },
        };
        let mut issuers = vec![first];
        match (env("OIDC_ISSUER_2"), env("JWT_AUDIENCE_2")) {
            (Some(issuer), audience) => issuers.push(Issuer {
                keys: Keys::Discover,
                issuer: Some(issuer),
                audience,
            }),
            (None, Some(_)) => return Err("JWT_AUDIENCE_2 is set without OIDC_ISSUER_2".to_owned()),
            (None, None) => {}
        }

        let mut profile = match env("JWT_PROFILE").as_deref().map(str::trim) {
            None | Some("generic") => TokenProfile::generic(),
            Some("rfc9068") => TokenProfile::rfc9068(),
            Some(other) => {
                return Err(format!(
                    "JWT_PROFILE must be `generic` or `rfc9068`, got `{other}`"
                ));
            }
        };
        if let Some(name) = env("JWT_SUBJECT_CLAIM") {
            if RESERVED.contains(&name.as_str()) {
                return Err(format!("JWT_SUBJECT_CLAIM cannot be `{name}`"));
            }
            profile = profile.subject_claim(name);
        }
        match (env("JWT_TYPE_CLAIM"), env("JWT_TYPE_ACCESS")) {
            (Some(name), access) => {
                if RESERVED.contains(&name.as_str())
                    || name == "sub"
                    || name == profile.subject_claim_name()
                {
                    return Err(format!(
                        "JWT_TYPE_CLAIM cannot be `{name}` (a registered or the subject claim)"
                    ));
                }
                let access = access.unwrap_or_else(|| "access".to_owned());
                // Only the access value is accepted; the profile needs a
                // second, different value for "refresh", and a token
                // carrying it (or anything else) is refused as well.
                let other = if access == "refresh" {
                    "access"
                } else {
                    "refresh"
                };
                profile = profile.token_type_claim(name, access, other);
            }
            (None, Some(_)) => {
                return Err("JWT_TYPE_ACCESS is set without JWT_TYPE_CLAIM".to_owned());
            }
            (None, None) => {}
        }
        if env("JWT_PROFILE").as_deref().map(str::trim) == Some("rfc9068") {
            for issuer in issuers.iter().filter(|i| i.audience.is_none()) {
                // RFC 9068 §4: the resource server must check `aud`; without
                // an audience configured, no token can pass.
                tracing::warn!(
                    issuer = issuer.issuer.as_deref().unwrap_or("(local keys)"),
                    "JWT_PROFILE=rfc9068 without an audience (JWT_AUDIENCE / JWT_AUDIENCE_2): every token will be refused"
                );
            }
        }
        Ok(Settings {
            bind,
            issuers,
            profile,
            min_refresh: secs("JWKS_MIN_REFRESH_SECS", 10)?,
            max_age: secs("JWKS_MAX_AGE_SECS", 300)?,
            resource_metadata: env("RESOURCE_METADATA").is_some_and(|v| v.trim() == "1"),
            introspection: introspection::Introspection::from_vars(
                &env,
                env("OIDC_ISSUER").as_deref(),
            )?,
        })
    }
}

/// `JWT_ALGORITHM` with `JWT_SECRET` or `JWT_PUBLIC_KEY_FILE`, as the demo
/// reads them (an unset secret becomes a random one, with a warning).
fn local_key(env: &impl Fn(&str) -> Option<String>) -> Result<VerifyingKey, String> {
    let algorithm = parse_algorithm(&env("JWT_ALGORITHM").unwrap_or_else(|| "HS256".to_owned()))
        .map_err(|e| format!("JWT_ALGORITHM: {e}"))?;
    match algorithm {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let secret = match env("JWT_SECRET") {
                Some(secret) => secret.into_bytes(),
                None => {
                    tracing::warn!(
                        "JWT_SECRET is not set: using a random secret; no token will verify"
                    );
                    let mut secret = vec![0u8; 64];
                    getrandom::fill(&mut secret).map_err(|e| format!("random secret: {e}"))?;
                    secret
                }
            };
            VerifyingKey::hmac(algorithm, &secret).map_err(|e| format!("JWT_SECRET: {e}"))
        }
        _ => {
            let path = env("JWT_PUBLIC_KEY_FILE")
                .ok_or_else(|| format!("JWT_PUBLIC_KEY_FILE must be set for {algorithm:?}"))?;
            let pem =
                std::fs::read(&path).map_err(|e| format!("JWT_PUBLIC_KEY_FILE ({path}): {e}"))?;
            VerifyingKey::from_pem(algorithm, &pem).map_err(|e| format!("JWT_PUBLIC_KEY_FILE: {e}"))
        }
    }
}

/// Discovers every `OIDC_ISSUER*` once, concurrently, within
/// [`DISCOVERY_TIMEOUT`]. A mix-up (the document names another issuer) or an
/// issuer URL this crate does not fetch is an error naming both; an
/// unreachable or broken issuer is only logged, its key set keeps trying.
/// Returns each issuer's `jwks_uri` when it was found.
pub async fn check_issuers(settings: &Settings) -> Result<Vec<Option<String>>, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let checks = settings.issuers.iter().map(|issuer| {
        let client = &client;
        async move {
            let (Keys::Discover, Some(name)) = (&issuer.keys, &issuer.issuer) else {
                return Ok(None);
            };
            match jwks::discover(client, name, DISCOVERY_TIMEOUT).await {
                Ok(metadata) => {
                    tracing::info!(issuer = %name, jwks_uri = %metadata.jwks_uri, "issuer discovered");
                    Ok(Some(metadata.jwks_uri))
                }
                Err(DiscoveryError::IssuerMismatch {
                    configured,
                    document,
                }) => Err(format!(
                    "issuer mix-up: configured issuer `{configured}`, but its discovery document names issuer `{document}`"
                )),
                Err(DiscoveryError::UnsupportedUrl(url)) => Err(format!(
                    "issuer `{name}`: `{url}` is not an https URL (or http on loopback)"
                )),
                Err(error) => {
                    tracing::warn!(issuer = %name, %error, "issuer not reachable yet; starting anyway (503 until its keys arrive)");
                    Ok(None)
                }
            }
        }
    });
    futures_util::future::join_all(checks)
        .await
        .into_iter()
        .collect()
}

/// The verifier for `settings`: one issuer, or several chosen by `iss`,
/// with the first issuer's keys (which also verify its signed introspection
/// answers, `INTROSPECTION_JWT=1`). Remote key sets start fetching at once
/// (so this needs a Tokio runtime); those whose location is known — a
/// `JWKS_URL`, or a `jwks_uri` that [`check_issuers`] found — are given up to
/// [`DISCOVERY_TIMEOUT`] to fetch their first keys, so that a server that
/// says it listens verifies at once when its issuers are up. An issuer that
/// is down costs no wait: its requests get 503 until its keys arrive.
pub async fn verifier_and_keys(
    settings: &Settings,
    jwks_uris: &[Option<String>],
) -> Result<(Verifier, KeySource), String> {
    let mut verifiers = Vec::new();
    let mut first_keys = None;
    let mut pending = Vec::new();
    for (i, issuer) in settings.issuers.iter().enumerate() {
        let remote = |builder: jwks::RemoteJwksBuilder| -> Result<RemoteJwks, String> {
            builder
                .min_refresh(settings.min_refresh)
                .max_age(settings.max_age)
                .build()
                .map_err(|e| e.to_string())
        };
        let keys = match (&issuer.keys, jwks_uris.get(i).and_then(Option::as_ref)) {
            (Keys::Local(keys), _) => KeySource::from(keys.clone()),
            (Keys::JwksUrl(url), _) | (Keys::Discover, Some(url)) => {
                let mut builder = RemoteJwks::builder(url);
                if let (Keys::Discover, Some(name)) = (&issuer.keys, &issuer.issuer) {
                    builder = builder.discovered_from(name);
                }
                let remote = remote(builder)?;
                pending.push(remote.clone());
                KeySource::from(remote)
            }
            (Keys::Discover, None) => {
                let name = issuer.issuer.clone().ok_or("discovery needs an issuer")?;
                KeySource::from(remote(RemoteJwks::discover(name))?)
            }
        };
        if first_keys.is_none() {
            first_keys = Some(keys.clone());
        }
        let mut config = JwtConfig::new().profile(settings.profile.clone());
        if let Some(name) = &issuer.issuer {
            config = config.issuer(name);
        }
        if let Some(audience) = &issuer.audience {
            config = config.audience(audience);
        }
        // Remote keys without an issuer would check no `iss`: refused (the
        // settings already require JWT_ISSUER with JWKS_URL).
        verifiers.push(Verifier::try_new(keys, config).map_err(|e| e.to_string())?);
    }
    let ready = pending.iter().map(|remote| remote.ready(DISCOVERY_TIMEOUT));
    if futures_util::future::join_all(ready).await.contains(&false) {
        tracing::warn!(
            "an issuer's keys could not be fetched yet; starting anyway (503 until they arrive)"
        );
    }
    let first_keys = first_keys.ok_or("no issuer configured")?;
    let verifier = if verifiers.len() == 1 {
        verifiers.pop().expect("one verifier")
    } else {
        Verifier::any_of(verifiers).map_err(|e| match e {
            IssuersError::MissingIssuer => {
                "OIDC_ISSUER_2 needs the first issuer named too: set JWT_ISSUER".to_owned()
            }
            other => other.to_string(),
        })?
    };
    Ok((verifier, first_keys))
}

/// The introspection cache for `settings` when `INTROSPECTION_*` is set, its
/// answers checked against the first issuer's name and audience; the
/// endpoint discovered when so configured; `first_keys` verify its signed
/// answers (`INTROSPECTION_JWT=1`).
pub async fn introspection_cache(
    settings: &Settings,
    first_keys: KeySource,
) -> Result<Option<introspection::Cache>, String> {
    let Some(introspection) = &settings.introspection else {
        return Ok(None);
    };
    let first = &settings.issuers[0];
    let mut config = JwtConfig::new();
    if let Some(issuer) = &first.issuer {
        config = config.issuer(issuer);
    }
    if let Some(audience) = &first.audience {
        config = config.audience(audience);
    }
    introspection::build(introspection, config, first_keys)
        .await
        .map(Some)
}

/// Everything start-up builds from `settings`, as `resource_server` and
/// `forward_auth` both need it: the issuers checked ([`check_issuers`]), the
/// verifier, and the introspection cache when configured.
pub async fn verifier_and_introspection(
    settings: &Settings,
) -> Result<(Verifier, Option<introspection::Cache>), String> {
    let jwks_uris = check_issuers(settings).await?;
    let (verifier, first_keys) = verifier_and_keys(settings, &jwks_uris).await?;
    let introspection = introspection_cache(settings, first_keys).await?;
    Ok((verifier, introspection))
}
