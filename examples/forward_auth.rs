//! A forward-auth service: nginx (`auth_request`), Caddy (`forward_auth`) or
//! Traefik (`ForwardAuth`) ask it about each request before passing it to a
//! backend in any language, which then reads who the caller is from
//! `X-Auth-*` headers. Everything `resource_server` verifies (any issuer,
//! profiles, introspection, DPoP) protects that backend.
//!
//! ```sh
//! OIDC_ISSUER=https://id.example.com/realms/app JWT_AUDIENCE=api \
//! REQUIRE_SCOPES='/admin=admin:write;/=read:ping' CLAIM_HEADERS=email:X-Auth-Email \
//!   cargo run --release --example forward_auth --features full
//! ```
//!
//! Configuration: every variable of `resource_server` (see the table at the
//! top of `examples/resource_server.rs`: `OIDC_ISSUER`, `JWKS_URL`, local
//! keys, `JWT_*` profiles, `INTROSPECTION_*`, …) means the same here, and
//! so do the DPoP ones (`DPOP` = `off` | `allowed` | `required`,
//! `DPOP_NONCE=1`, `DPOP_MAX_AGE_SECS`, `PUBLIC_URL`), plus:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BIND` | listen address | `127.0.0.1:3003` |
//! | `REQUIRE_SCOPES` | scopes per path prefix of the original request, `/admin=admin:write;/=read:ping` (longest prefix wins, segment by segment; several scopes of one rule separated by spaces or `,`, all required; `/x=` needs none) | unset: any valid token |
//! | `CLAIM_HEADERS` | claims answered as headers, `email:X-Auth-Email,name:X-Auth-Name` (names must start with `X-Auth-`; a value that is absent, over 1024 bytes or holds a control character is answered empty) | unset |
//! | `PUBLIC_URL` | the origin DPoP proofs name in `htu` | unset: the proxy's `X-Forwarded-Proto` and `X-Forwarded-Host` |
//!
//! Endpoints:
//! - `/auth`, any method: the decision for the original request, whose
//!   method and URI come from `X-Forwarded-Method` and `X-Forwarded-Uri`
//!   (Caddy, Traefik) or `X-Original-Method` and `X-Original-URI` (nginx),
//!   and whose credentials are the `Authorization` and `DPoP` headers the
//!   proxy passes along. 200 with `X-Auth-Subject`, `X-Auth-Scopes` and the
//!   `CLAIM_HEADERS`; 401 with the RFC 6750 / DPoP challenge; 403
//!   `insufficient_scope` when a `REQUIRE_SCOPES` rule is not met; 503 with
//!   `Retry-After` while keys or the introspection endpoint cannot be had.
//! - `GET /health` (`ok`), `GET /metrics` (Prometheus text format).
//!
//! The proxy is trusted: it must overwrite the forwarded headers it uses
//! and every `X-Auth-*` header on the way upstream (the configurations in
//! `docs/behind-a-proxy.md` do). This service never reads an `X-Auth-*`
//! header and answers only the ones it sets.

use std::process::ExitCode;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{any, get};
use http::{HeaderValue, StatusCode, header};
use tower::{Layer, ServiceExt};
use tower_jwt_auth::{Guard, JwtAuthLayer, RequireClaimsLayer, Verifier};

#[path = "support/dpop_settings.rs"]
mod dpop_settings;
#[path = "support/forward_auth_grant.rs"]
mod forward_auth_grant;
#[path = "support/forward_auth_request.rs"]
mod forward_auth_request;
#[path = "support/forward_auth_settings.rs"]
pub mod forward_auth_settings;
#[path = "support/introspection.rs"]
pub mod introspection;
#[path = "support/prometheus.rs"]
mod prometheus;
#[path = "support/resource_settings.rs"]
mod resource_settings;
#[path = "support/startup.rs"]
mod startup;

pub use forward_auth_grant::{MAX_VALUE_LEN, Payload};
pub use forward_auth_settings::Forward;
pub use resource_settings::{Settings, verifier_and_introspection};

/// What `/auth` decides with.
#[derive(Clone)]
struct Decider {
    layer: JwtAuthLayer<Payload>,
    forward: Forward,
}

/// The whole service over `verifier`; tests serve it or call it in process.
pub fn app(
    verifier: Verifier,
    forward: Forward,
    introspection: Option<introspection::Cache>,
) -> Router {
    let layer = introspection::with_introspection(
        JwtAuthLayer::new(verifier).claims::<Payload>(),
        introspection,
    )
    .dpop(forward.dpop.clone());
    Router::new()
        .route("/auth", any(auth))
        .with_state(Decider { layer, forward })
        .route("/health", get(|| async { "ok" }))
        .merge(prometheus::routes())
}

/// The decision: the original request rebuilt from the forwarded headers,
/// through the auth layer and the scope guard its path needs.
async fn auth(State(decider): State<Decider>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let original = forward_auth_request::Original::from_headers(&parts.headers, &parts.method);
    let mut response = match original.and_then(|o| Ok((o.path_readings()?, o))) {
        Ok((readings, original)) => {
            let scopes = decider.forward.rules.required(&readings);
            let grant = forward_auth_grant::service(decider.forward.claim_headers.clone());
            let guarded = RequireClaimsLayer::new(Guard::<Payload>::scopes(scopes)).layer(grant);
            let service = decider.layer.layer(guarded);
            match service.oneshot(original.rebuild(&parts.headers)).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
        Err(reason) => {
            tracing::warn!(
                reason,
                "refused: the proxy's call does not say which request it asks about"
            );
            let mut refused = Response::new(Body::empty());
            *refused.status_mut() = StatusCode::UNAUTHORIZED;
            refused.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_request\""),
            );
            refused
        }
    };
    // A decision is about one request: never cached on the way.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

async fn run() -> Result<(), ExitCode> {
    const NAME: &str = "forward_auth";
    let settings = startup::init(NAME)?;
    let config_error = |e: String| {
        eprintln!("{NAME}: configuration error: {e}");
        ExitCode::from(2)
    };
    let forward = Forward::from_vars(|name| std::env::var(name).ok()).map_err(config_error)?;
    let (verifier, introspection) = verifier_and_introspection(&settings)
        .await
        .map_err(config_error)?;
    let (listener, shutdown) =
        startup::listen(NAME, startup::bind_address(&settings, 3003)).await?;
    axum::serve(listener, app(verifier, forward, introspection))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| {
            eprintln!("{NAME}: server error: {e}");
            ExitCode::from(1)
        })
}
