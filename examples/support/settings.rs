//! Settings shared by the examples (`demo`, `tonic`): read from the
//! environment, with the same variable names everywhere.

use std::net::SocketAddr;
use std::time::Duration;

use tower_jwt_auth::{Algorithm, JwtConfig, SigningKey, VerifyingKey, parse_algorithm};

/// Everything read from the environment.
pub struct Settings {
    /// `BIND`: the address to listen on.
    pub bind: SocketAddr,
    /// The key tokens are signed with.
    pub signing: SigningKey,
    /// The key tokens are verified with.
    pub verifying: VerifyingKey,
    /// Issuer, audience and lifetimes.
    pub config: JwtConfig,
    /// `JWT_PREVIOUS_PUBLIC_KEY_FILES`: retired keys that still verify (and
    /// are still published), comma-separated PEM files.
    pub previous: Vec<VerifyingKey>,
}

pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_secs(name: &str, default: u64) -> Result<Duration, String> {
    match env(name) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => v
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("{name} must be a whole number of seconds, got `{v}`")),
    }
}

impl Settings {
    /// Reads `BIND`, `JWT_*`, `ACCESS_TTL_SECS` and `REFRESH_TTL_SECS`.
    pub fn from_env() -> Result<Settings, String> {
        settings().map(Settings::with_default_issuer)
    }

    /// With an asymmetric key and no `JWT_ISSUER`, the demo is an issuer
    /// others discover at its own URL: it mints (and checks) `iss` =
    /// `http://{BIND}`, the `issuer` its discovery document names. With HS*
    /// (nothing to publish) an unset issuer stays unset.
    pub fn with_default_issuer(mut self) -> Settings {
        if self.config.issuer_name().is_none() && self.signing.public_jwk().is_some() {
            self.config = self.config.issuer(format!("http://{}", self.bind));
        }
        self
    }
}

/// `BIND` (default `127.0.0.1:3000`).
pub fn bind_from_env() -> Result<SocketAddr, String> {
    env("BIND")
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned())
        .parse()
        .map_err(|e| format!("BIND: {e}"))
}

/// `JWT_ALGORITHM` (default `HS256`).
pub fn algorithm_from_env() -> Result<Algorithm, String> {
    parse_algorithm(&env("JWT_ALGORITHM").unwrap_or_else(|| "HS256".to_owned()))
        .map_err(|e| format!("JWT_ALGORITHM: {e}"))
}

/// `JWT_ISSUER`, `JWT_AUDIENCE`, `ACCESS_TTL_SECS`, `REFRESH_TTL_SECS`.
pub fn config_from_env() -> Result<JwtConfig, String> {
    let mut config = JwtConfig::new()
        .access_ttl(env_secs("ACCESS_TTL_SECS", 300)?)
        .refresh_ttl(env_secs("REFRESH_TTL_SECS", 86_400)?);
    if let Some(issuer) = env("JWT_ISSUER") {
        config = config.issuer(issuer);
    }
    if let Some(audience) = env("JWT_AUDIENCE") {
        config = config.audience(audience);
    }
    Ok(config)
}

fn settings() -> Result<Settings, String> {
    let bind = bind_from_env()?;
    let algorithm = algorithm_from_env()?;
    let (signing, verifying) = match algorithm {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let secret = match env("JWT_SECRET") {
                Some(secret) => secret.into_bytes(),
                None => {
                    tracing::warn!(
                        "JWT_SECRET is not set: using a random secret; tokens will not survive a restart"
                    );
                    let mut secret = vec![0u8; 64];
                    getrandom::fill(&mut secret).map_err(|e| format!("random secret: {e}"))?;
                    secret
                }
            };
            (
                SigningKey::hmac(algorithm, &secret).map_err(|e| format!("JWT_SECRET: {e}"))?,
                VerifyingKey::hmac(algorithm, &secret).map_err(|e| format!("JWT_SECRET: {e}"))?,
            )
        }
        _ => {
            let read = |var: &str| -> Result<Vec<u8>, String> {
                let path =
                    env(var).ok_or_else(|| format!("{var} must be set for {algorithm:?}"))?;
                std::fs::read(&path).map_err(|e| format!("{var} ({path}): {e}"))
            };
            (
                SigningKey::from_pem(algorithm, &read("JWT_PRIVATE_KEY_FILE")?)
                    .map_err(|e| format!("JWT_PRIVATE_KEY_FILE: {e}"))?,
                VerifyingKey::from_pem(algorithm, &read("JWT_PUBLIC_KEY_FILE")?)
                    .map_err(|e| format!("JWT_PUBLIC_KEY_FILE: {e}"))?,
            )
        }
    };
    let config = config_from_env()?;
    let previous = match env("JWT_PREVIOUS_PUBLIC_KEY_FILES") {
        None => Vec::new(),
        Some(files) => files
            .split(',')
            .map(str::trim)
            .filter(|path| !path.is_empty())
            .map(|path| {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("JWT_PREVIOUS_PUBLIC_KEY_FILES ({path}): {e}"))?;
                VerifyingKey::from_pem(algorithm, &pem)
                    .map_err(|e| format!("JWT_PREVIOUS_PUBLIC_KEY_FILES ({path}): {e}"))
            })
            .collect::<Result<_, String>>()?,
    };
    Ok(Settings {
        bind,
        signing,
        verifying,
        config,
        previous,
    })
}
