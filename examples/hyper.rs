//! Plain hyper 1 + hyper-util, no framework: a `tower::service_fn` wrapped by
//! the auth layer, adapted to hyper with `TowerToHyperService`.
//!
//! ```sh
//! JWT_SECRET=an-example-secret-of-at-least-32-bytes cargo run --example hyper --features jwks
//! curl -i http://127.0.0.1:3001/ -H "authorization: Bearer $TOKEN"
//! ```
//!
//! Same environment as the demo (`BIND`, default `127.0.0.1:3001` here;
//! `JWT_ALGORITHM`; `JWT_ISSUER`; `JWT_AUDIENCE`; `REDIS_URL`): a token from
//! the demo's `/auth/login` works here when the settings match. Keys: with
//! HS* the demo's `JWT_SECRET`; with any other algorithm the demo's
//! published JWK Set, `JWKS_URL` (default
//! `http://127.0.0.1:3000/.well-known/jwks.json`), so no key file is copied
//! (`JWT_PUBLIC_KEY_FILE` still works when set). Every path answers `hello, <sub>` with a
//! valid token and 401 with `WWW-Authenticate: Bearer …` without one.
//!
//! **Revocations:** the demo's logouts are enforced here only when both
//! share a store — set `REDIS_URL` to the demo's Redis. Without it this
//! process has a private in-memory store, and a token logged out through the
//! demo keeps working here until it expires (startup logs a warning).

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{Claims, JwtAuthLayer, MemoryStore, Verifier};

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

/// The application: by the time it runs, the layer has verified the token
/// and put the claims into the request extensions.
async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let sub = request
        .extensions()
        .get::<Arc<Claims>>()
        .map_or("?", |claims| claims.sub.as_str());
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello, {sub}\n"
    )))))
}

/// Serves the layered `hello` on `listener`, one task per connection,
/// forever, with revocations of its own (none). The tests call this with a
/// loopback listener.
pub async fn serve(listener: TcpListener, verifier: Verifier) {
    serve_with_store(listener, verifier, Arc::new(MemoryStore::new())).await;
}

/// As [`serve`], checking revocations in `store` (the demo's, to enforce
/// its logouts here).
pub async fn serve_with_store(
    listener: TcpListener,
    verifier: Verifier,
    store: Arc<dyn RevocationStore>,
) {
    let service = ServiceBuilder::new()
        .layer(JwtAuthLayer::new(verifier).shared_store(store))
        .service_fn(hello);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(%e, "accept failed");
                continue;
            }
        };
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, %e, "connection ended with an error");
            }
        });
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match startup::init("hyper") {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    // Settings defaults BIND to the demo's port; this example takes the next.
    let bind = startup::bind_address(&settings, 3001);
    let (listener, shutdown) = match startup::listen("hyper", bind).await {
        Ok(listening) => listening,
        Err(code) => return code,
    };
    let store = match store::revocation_store("hyper").await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("hyper: revocation store: {e}");
            return ExitCode::from(1);
        }
    };
    let verifier = Verifier::new(settings.keys, settings.config);
    tokio::select! {
        () = serve_with_store(listener, verifier, store) => {}
        () = shutdown => {}
    }
    ExitCode::SUCCESS
}
