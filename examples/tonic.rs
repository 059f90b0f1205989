//! A tonic gRPC server whose `grpc.health.v1.Health` service requires a JWT
//! bearer token in the `authorization` metadata.
//!
//! ```sh
//! JWT_SECRET=an-example-secret-of-at-least-32-bytes \
//!     cargo run --example tonic --features tonic,jwks
//! ```
//!
//! It reads the same environment as the demo (`BIND`, default
//! `127.0.0.1:50051` here; `JWT_ALGORITHM`; `JWT_ISSUER`; `JWT_AUDIENCE`),
//! so a token minted by the demo's `/auth/login` with the same settings
//! works here. Keys: with HS* the demo's `JWT_SECRET`; with any other
//! algorithm the demo's published JWK Set, `JWKS_URL` (default
//! `http://127.0.0.1:3000/.well-known/jwks.json`) — no key file to copy
//! (`JWT_PUBLIC_KEY_FILE` still works when set). Tokens need `sub`, `exp`, `jti` and
//! `"token_type": "access"` (plus `iss` / `aud` when those are set).
//! `REQUIRED_ROLE`, when set, also requires that role in the `roles` claim.
//!
//! Server reflection is on (behind the layer too), so `grpcurl` needs no
//! proto file:
//!
//! ```sh
//! grpcurl -plaintext -H "authorization: Bearer $TOKEN" 127.0.0.1:50051 grpc.health.v1.Health/Check
//! ```
//!
//! **Revocations:** the demo's logouts are enforced here only when both
//! share a store — set `REDIS_URL` to the demo's Redis. Without it this
//! process has a private in-memory store, and a token logged out through the
//! demo keeps working here until it expires (startup logs a warning).
//!
//! Answers: no or bad token → `grpc-status` 16 (UNAUTHENTICATED); a token
//! without the required role → 7 (PERMISSION_DENIED); revocation store down
//! → 14 (UNAVAILABLE); otherwise the health service's answer (`SERVING`).

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Status};
use tonic_health::server::health_reporter;
use tower_jwt_auth::grpc::ClaimsExt;
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{Claims, Guard, JwtAuthLayer, Permissions, RequireClaimsLayer, Verifier};

#[allow(dead_code)]
#[path = "support/settings.rs"]
mod settings;
#[path = "support/startup.rs"]
mod startup;
#[path = "support/store.rs"]
mod store;
#[path = "support/verify_settings.rs"]
mod verify_settings;
pub use verify_settings::Settings;

/// The custom claims this server reads: roles and OAuth scopes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Access {
    /// The `roles` claim.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The space-delimited `scope` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Permissions for Access {
    fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
}

/// The authenticating layer: `authorization: Bearer <token>` metadata,
/// revocations from `store`.
pub fn auth_layer(verifier: Verifier, store: Arc<dyn RevocationStore>) -> JwtAuthLayer<Access> {
    JwtAuthLayer::new(verifier)
        .claims::<Access>()
        .shared_store(store)
}

/// Runs in the handler's path: the claims the layer verified are in the
/// `tonic::Request` extensions.
#[allow(clippy::result_large_err)] // tonic's interceptor signature
fn log_caller(request: Request<()>) -> Result<Request<()>, Status> {
    let claims: &Claims<Access> = request.claims()?;
    tracing::info!(sub = %claims.sub, jti = %claims.jti, "health call");
    Ok(request)
}

/// Serves `grpc.health.v1.Health` (and server reflection) on `listener`
/// behind the auth layer and `guard`, until `shutdown` completes. The tests
/// call this with a loopback listener.
pub async fn serve(
    listener: TcpListener,
    verifier: Verifier,
    store: Arc<dyn RevocationStore>,
    guard: Guard<Access>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (_reporter, health) = health_reporter();
    let health = tonic::service::interceptor::InterceptedService::new(health, log_caller);
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Server::builder()
        .layer(auth_layer(verifier, store))
        .layer(RequireClaimsLayer::new(guard))
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match startup::init("tonic") {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    // Settings defaults BIND to the demo's port; gRPC gets its usual one.
    let bind = startup::bind_address(&settings, 50051);
    let guard = match std::env::var("REQUIRED_ROLE") {
        Ok(role) if !role.is_empty() => Guard::role(role),
        _ => Guard::authenticated(),
    };
    let (listener, shutdown) = match startup::listen("tonic", bind).await {
        Ok(listening) => listening,
        Err(code) => return code,
    };
    tracing::info!(?guard, "gRPC health server");
    let store = match store::revocation_store("tonic").await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("tonic: revocation store: {e}");
            return ExitCode::from(1);
        }
    };
    let verifier = Verifier::new(settings.keys, settings.config);
    if let Err(e) = serve(listener, verifier, store, guard, shutdown).await {
        eprintln!("tonic: server error: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
