//! Settings of the examples that only verify the demo's tokens (`hyper`,
//! `tonic`), read from the demo's environment. With an HS* `JWT_ALGORITHM`
//! they share the demo's secret (`JWT_SECRET`); with any other they fetch
//! the demo's published JWK Set — `JWKS_URL`, default
//! `http://127.0.0.1:3000/.well-known/jwks.json` — so no key file is copied
//! (`JWT_PUBLIC_KEY_FILE`, when set, is used instead). Include beside
//! `settings.rs` (`#[allow(dead_code)]`) as `mod verify_settings;` and
//! re-export its `Settings` for `startup.rs`.

use std::net::SocketAddr;

use tower_jwt_auth::jwks::RemoteJwks;
use tower_jwt_auth::{JwtConfig, KeySource, VerifyingKey};

use super::settings::{algorithm_from_env, bind_from_env, config_from_env, env};

/// The demo's JWK Set at its default address.
pub const DEFAULT_JWKS_URL: &str = "http://127.0.0.1:3000/.well-known/jwks.json";

/// Everything a verify-only example reads from the environment.
pub struct Settings {
    /// `BIND`.
    pub bind: SocketAddr,
    /// The keys tokens are verified with.
    pub keys: KeySource,
    /// Issuer, audience and lifetimes.
    pub config: JwtConfig,
}

impl Settings {
    /// Reads `BIND`, `JWT_ALGORITHM`, `JWT_SECRET` or `JWKS_URL` (or
    /// `JWT_PUBLIC_KEY_FILE`), `JWT_ISSUER`, `JWT_AUDIENCE`. Call it inside a
    /// Tokio runtime: a remote key set starts fetching at once.
    pub fn from_env() -> Result<Settings, String> {
        let algorithm = algorithm_from_env()?;
        let keys: KeySource = if is_hmac(algorithm) {
            let secret = env("JWT_SECRET").ok_or_else(|| {
                format!("JWT_SECRET must be set to the demo's secret for {algorithm:?}")
            })?;
            VerifyingKey::hmac(algorithm, secret.as_bytes())
                .map_err(|e| format!("JWT_SECRET: {e}"))?
                .into()
        } else if let Some(path) = env("JWT_PUBLIC_KEY_FILE") {
            let pem =
                std::fs::read(&path).map_err(|e| format!("JWT_PUBLIC_KEY_FILE ({path}): {e}"))?;
            VerifyingKey::from_pem(algorithm, &pem)
                .map_err(|e| format!("JWT_PUBLIC_KEY_FILE: {e}"))?
                .into()
        } else {
            let url = env("JWKS_URL").unwrap_or_else(|| DEFAULT_JWKS_URL.to_owned());
            tracing::info!(%url, "verifying with the issuer's published JWK Set");
            RemoteJwks::builder(url)
                .build()
                .map_err(|e| format!("JWKS_URL: {e}"))?
                .into()
        };
        Ok(Settings {
            bind: bind_from_env()?,
            keys,
            config: config_from_env()?,
        })
    }
}

fn is_hmac(algorithm: tower_jwt_auth::Algorithm) -> bool {
    use tower_jwt_auth::Algorithm::{HS256, HS384, HS512};
    matches!(algorithm, HS256 | HS384 | HS512)
}
