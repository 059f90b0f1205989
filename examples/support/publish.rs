//! The demo as an issuer others federate with: its key ring (the current
//! key and `JWT_PREVIOUS_PUBLIC_KEY_FILES`), its JWK Set and its discovery
//! document. With an HS* algorithm there is nothing to publish (404).

use std::time::Duration;

use axum::Router;
use tower_jwt_auth::publish::IssuerMetadata;
use tower_jwt_auth::{KeyRing, KeySet, VerifyingKey};

use super::Settings;

/// How long verifiers may cache the JWK Set: stage a next key at least this
/// long before it signs (see `KeyRing`).
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(300);

/// The keys that verify: the current one, then every previous one, each
/// named by its RFC 7638 thumbprint (the `kid` an unnamed key mints).
pub fn key_set(verifying: VerifyingKey, previous: Vec<VerifyingKey>) -> KeySet {
    let mut keys = KeySet::new(verifying.with_thumbprint_kid());
    for key in previous {
        match keys.clone().with_key(key.with_thumbprint_kid()) {
            Ok(more) => keys = more,
            // The same key twice (already current), or an unnamed HMAC key.
            Err(error) => tracing::warn!(%error, "a previous key was not added"),
        }
    }
    keys
}

fn ring(settings: &Settings) -> KeyRing {
    let mut ring = KeyRing::new(settings.signing.clone(), &settings.config);
    let now = settings.config.clock_ref().now_secs();
    for previous in &settings.previous {
        // Retired at this start: kept for a whole session lifetime from now.
        ring.retire(previous, now);
    }
    ring
}

/// The base URL others reach the demo at: `JWT_ISSUER` when it is a URL
/// (discovery needs `{issuer}/.well-known/openid-configuration` to be here),
/// else `http://{BIND}`.
fn base_url(settings: &Settings) -> String {
    match settings.config.issuer_name() {
        Some(issuer) if issuer.starts_with("http://") || issuer.starts_with("https://") => {
            issuer.trim_end_matches('/').to_owned()
        }
        _ => format!("http://{}", settings.bind),
    }
}

/// `GET /.well-known/jwks.json`, `/.well-known/openid-configuration` and
/// `/.well-known/oauth-authorization-server`; none with an HMAC key.
pub fn well_known<S: Clone + Send + Sync + 'static>(settings: &Settings) -> Router<S> {
    let Some(jwks) = ring(settings).jwk_set(JWKS_MAX_AGE) else {
        return Router::new();
    };
    let base = base_url(settings);
    let issuer = settings
        .config
        .issuer_name()
        .map_or_else(|| base.clone(), str::to_owned);
    let mut metadata = IssuerMetadata::new(issuer, format!("{base}/.well-known/jwks.json"))
        .token_endpoint(format!("{base}/auth/refresh"));
    if let Ok(dpop) = super::dpop_settings::DpopSettings::from_env(settings.bind) {
        metadata = metadata.dpop(&dpop.metadata_policy());
    }
    if super::introspection_server::enabled() {
        metadata =
            metadata.introspection_endpoint(format!("{base}{}", super::introspection_server::PATH));
    }
    Router::new()
        .route_service("/.well-known/jwks.json", jwks.service())
        .route_service("/.well-known/openid-configuration", metadata.service())
        .route_service(
            "/.well-known/oauth-authorization-server",
            metadata.service(),
        )
}
