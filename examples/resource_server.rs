//! A verify-only resource server: an axum API that accepts the access tokens
//! of an identity provider (Keycloak, Auth0, Entra ID, an `oidc-provider`, a
//! Django or FastAPI auth service …) and mints none itself.
//!
//! ```sh
//! OIDC_ISSUER=https://id.example.com/realms/app JWT_AUDIENCE=api \
//!   cargo run --release --example resource_server --features full
//! ```
//!
//! Configuration (environment):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BIND` | listen address | `127.0.0.1:3002` |
//! | `OIDC_ISSUER` | the issuer, found by OpenID Connect / RFC 8414 discovery; its tokens' `iss` must equal it exactly | — |
//! | `JWKS_URL` | instead of discovery: the issuer's JWK Set (`JWT_ISSUER` required with it) | — |
//! | `JWT_ALGORITHM`, `JWT_SECRET`, `JWT_PUBLIC_KEY_FILE` | instead of both: local keys, read as the demo reads them (the public key only) | `HS256`, random secret |
//! | `JWT_ISSUER` | the issuer: required with `JWKS_URL` (exit 2 without it: a key set may sign for many issuers), optional with local keys | unset with local keys: not checked |
//! | `JWT_AUDIENCE` | the audience tokens must name | unset: tokens must carry no `aud` |
//! | `OIDC_ISSUER_2`, `JWT_AUDIENCE_2` | a second trusted issuer (discovery); the token's `iss` picks which | unset |
//! | `JWT_PROFILE` | `generic` or `rfc9068` (see `TokenProfile`) | `generic` |
//! | `JWT_SUBJECT_CLAIM` | the subject claim's name (simplejwt: `user_id`) | `sub` |
//! | `JWT_TYPE_CLAIM`, `JWT_TYPE_ACCESS` | a token-type claim and its "access" value (simplejwt: `token_type`/`access`, AuthX: `type`/`access`); any other value is refused | unset: no type check |
//! | `JWKS_MIN_REFRESH_SECS`, `JWKS_MAX_AGE_SECS` | remote key refresh bounds | 10, 300 |
//! | `INTROSPECTION_URL`, `INTROSPECTION_CLIENT_ID`, `INTROSPECTION_CLIENT_SECRET` | opaque tokens checked at the issuer's RFC 7662 endpoint (`client_secret_basic`); with `OIDC_ISSUER` and the client id and secret set, the endpoint is discovered; JWTs are still verified by keys (feature `introspection`) | unset: no introspection |
//! | `INTROSPECTION_CACHE_SECS` | how long an active answer is kept (never past its `exp`); `0` turns the cache off | 60 |
//! | `DPOP`, `PUBLIC_URL`, `DPOP_NONCE`, `DPOP_NONCE_SECRET`, `DPOP_MAX_AGE_SECS`, `REDIS_URL` | DPoP-bound tokens of any issuer (see `support/dpop_settings.rs`); with `REDIS_URL` proofs are recorded there, shared by instances | `allowed`, `http://{BIND}`, off, random, 60, in memory |
//! | `TLS_CERT_FILE`, `TLS_KEY_FILE`, `TLS_CLIENT_CA_FILE` | serve HTTPS; with the CA, client certificates are requested (not required) and certificate-bound tokens (RFC 8705) checked against the connection's (see `support/tls_server.rs`) | HTTP |
//! | `CLIENT_CERT_HEADER` | take the client certificate from this header (URL-encoded PEM, nginx `$ssl_client_escaped_cert`) instead of the connection | unset |
//! | `INTROSPECTION_JWT` | `1`: ask for RFC 9701 signed answers (`application/token-introspection+jwt`) and verify them with the first issuer's keys | `0` |
//! | `RESOURCE_METADATA` | `1`: serve RFC 9728 metadata at `/.well-known/oauth-protected-resource` (the trusted issuers as `authorization_servers`) and add `resource_metadata="…"` to 401 challenges | unset |
//!
//! Endpoints: `GET /health` (no auth), `GET /me` (the verified token's
//! payload as a JSON object), `GET /protected/ping` (`pong`), `GET /scoped`
//! (scope `read:ping`, else 403 `insufficient_scope`), `GET /metrics` (no
//! auth; Prometheus text format, with the `metrics` feature only, else 404), `GET /openapi.json`
//! (no auth: the OpenAPI 3.1 document; with `OIDC_ISSUER` an `openIdConnect` scheme at the
//! issuer's discovery URL, `read:ping` on `/scoped`). Rejections are the
//! crate's: 401 with an RFC 6750 challenge; 503 with `Retry-After` while an
//! issuer's keys could not be fetched yet.
//!
//! At startup every `OIDC_ISSUER*` is discovered once: a document naming
//! another issuer (a mix-up) is a configuration error and the process exits
//! with status 2, naming both; an unreachable issuer is not — the server
//! starts and answers 503 until the keys arrive.

use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router};
use tower_jwt_auth::publish::ProtectedResourceMetadata;
use tower_jwt_auth::{Claims, Guard, JwtAuthLayer, RequireClaimsLayer, Verifier};

#[path = "support/dpop_settings.rs"]
mod dpop_settings;
#[path = "support/introspection.rs"]
pub mod introspection;
#[path = "support/openapi.rs"]
mod openapi;
#[path = "support/prometheus.rs"]
mod prometheus;
#[path = "support/resource_settings.rs"]
mod resource_settings;
#[path = "support/startup.rs"]
mod startup;
#[path = "support/tls_server.rs"]
mod tls_server;

pub use resource_settings::{
    DISCOVERY_TIMEOUT, Issuer, Keys, Settings, check_issuers, introspection_cache,
    verifier_and_introspection, verifier_and_keys,
};

/// The verified payload, whole: what `/me` echoes.
type Payload = serde_json::Map<String, serde_json::Value>;

/// The whole app over `verifier`; tests serve it on a loopback port.
pub fn app(verifier: Verifier) -> Router {
    app_with_metadata(verifier, None)
}

/// RFC 9728 metadata for this server at `base` (`http://{BIND}`): the
/// resource, the issuers it trusts, its scope.
pub fn resource_metadata(settings: &Settings, base: &str) -> ProtectedResourceMetadata {
    settings
        .issuers
        .iter()
        .filter_map(|issuer| issuer.issuer.as_deref())
        .fold(ProtectedResourceMetadata::new(base), |metadata, issuer| {
            metadata.authorization_server(issuer)
        })
        .scopes(["read:ping"])
        .dpop(
            &dpop_settings::DpopSettings::from_env(settings.bind).map_or_else(
                |_| tower_jwt_auth::dpop::DpopPolicy::off(),
                |dpop| dpop.metadata_policy(),
            ),
        )
}

/// As [`app`], serving `metadata` at `/.well-known/oauth-protected-resource`
/// and naming it (`url`) in every 401 challenge.
pub fn app_with_metadata(
    verifier: Verifier,
    metadata: Option<(String, ProtectedResourceMetadata)>,
) -> Router {
    app_with(verifier, metadata, None)
}

/// As [`app_with_metadata`], introspecting opaque tokens through
/// `introspection` when given: `/me` then echoes the answer's members
/// (without `active`), and every route behaves as with a JWT.
pub fn app_with(
    verifier: Verifier,
    metadata: Option<(String, ProtectedResourceMetadata)>,
    introspection: Option<introspection::Cache>,
) -> Router {
    let mut auth = introspection::with_introspection(
        JwtAuthLayer::new(verifier).claims::<Payload>(),
        introspection,
    );
    auth = tls_server::constrain(auth, "127.0.0.1:3002");
    let mut public = Router::new().route("/health", get(health));
    if let Some((url, metadata)) = metadata {
        auth = auth.resource_metadata(url);
        public = public.route_service("/.well-known/oauth-protected-resource", metadata.service());
    }
    let read_ping = Guard::<Payload>::scope("read:ping");
    let openapi = openapi::resource_server(&auth, &read_ping);
    let scoped = Router::new()
        .route("/scoped", get(scoped))
        .route_layer(RequireClaimsLayer::new(read_ping));
    let protected = Router::new()
        .route("/me", get(me))
        .route("/protected/ping", get(ping))
        .merge(scoped)
        .route_layer(auth);
    public
        .merge(protected)
        .merge(prometheus::routes())
        .merge(openapi)
}

async fn health() -> &'static str {
    "ok"
}

/// The verified payload as the issuer wrote it (the subject under its own
/// name, custom claims included).
async fn me(claims: Claims<Payload>) -> Json<Payload> {
    Json(claims.custom)
}

async fn ping() -> &'static str {
    "pong"
}

async fn scoped() -> &'static str {
    "read:ping granted"
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

async fn run() -> Result<(), ExitCode> {
    const NAME: &str = "resource_server";
    let settings = startup::init(NAME)?;
    let config_error = |e: String| {
        eprintln!("{NAME}: configuration error: {e}");
        ExitCode::from(2)
    };
    let (verifier, introspection) = verifier_and_introspection(&settings)
        .await
        .map_err(config_error)?;
    let bind = startup::bind_address(&settings, 3002);
    let tls = tls_server::TlsSettings::from_vars(&|name| std::env::var(name).ok())
        .and_then(|tls| tls.server_config())
        .map_err(config_error)?;
    let dpop = dpop_settings::DpopSettings::from_env(bind).map_err(config_error)?;
    dpop.policy().map_err(config_error)?;
    // The origin clients use: `PUBLIC_URL` when set, else this address, over
    // HTTPS when it serves TLS.
    let base = match std::env::var("PUBLIC_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(_) => dpop.public_url.trim_end_matches('/').to_owned(),
        None if tls.is_some() => format!("https://{bind}"),
        None => format!("http://{bind}"),
    };
    let metadata = settings.resource_metadata.then(|| {
        let url = format!("{base}/.well-known/oauth-protected-resource");
        (url, resource_metadata(&settings, &base))
    });
    let (listener, shutdown) = startup::listen(NAME, bind).await?;
    let app = app_with(verifier, metadata, introspection);
    if let Some(tls) = tls {
        tls_server::serve(listener, tls, app, shutdown).await;
        return Ok(());
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| {
            eprintln!("{NAME}: server error: {e}");
            ExitCode::from(1)
        })
}
