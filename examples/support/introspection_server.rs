//! The demo as an introspection server (issue 23): `POST /oauth/introspect`
//! answers RFC 7662 for the demo's own tokens (form body `token=…`, optional
//! `token_type_hint`) to the callers in
//! `INTROSPECTION_CLIENTS=id:secret[,id:secret…]`, authenticated by HTTP
//! Basic. Unset: no endpoint (404), and the discovery document names none.
//! Needs the crate's `introspection` feature (in `full`).

use std::sync::Arc;

use axum::Router;
use tower_jwt_auth::Verifier;
use tower_jwt_auth::revocation::RevocationStore;

/// Where the endpoint is mounted.
pub const PATH: &str = "/oauth/introspect";

/// The callers `INTROSPECTION_CLIENTS` names, `None` when it is unset or
/// empty; an entry without an id or a secret is a configuration error.
pub fn clients_from_env() -> Result<Option<Vec<(String, String)>>, String> {
    let Ok(value) = std::env::var("INTROSPECTION_CLIENTS") else {
        return Ok(None);
    };
    if value.trim().is_empty() {
        return Ok(None);
    }
    if cfg!(not(feature = "introspection")) {
        return Err(
            "INTROSPECTION_CLIENTS is set but the `introspection` feature is off".to_owned(),
        );
    }
    value
        .split(',')
        .map(|entry| match entry.trim().split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                Ok((id.to_owned(), secret.to_owned()))
            }
            // Never the entry itself: it may hold a secret.
            _ => Err("INTROSPECTION_CLIENTS: each entry is id:secret".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Whether the endpoint is mounted (what the discovery document names).
pub fn enabled() -> bool {
    matches!(clients_from_env(), Ok(Some(_)))
}

/// `POST /oauth/introspect` when `INTROSPECTION_CLIENTS` is set, else nothing.
pub fn routes<S: Clone + Send + Sync + 'static>(
    verifier: &Verifier,
    store: &Arc<dyn RevocationStore>,
) -> Router<S> {
    let Ok(Some(clients)) = clients_from_env() else {
        return Router::new();
    };
    #[cfg(feature = "introspection")]
    {
        // Failed client authentications are budgeted per client address
        // (429 with Retry-After once spent).
        let mut service = tower_jwt_auth::introspect::IntrospectionService::new(verifier.clone())
            .shared_store(store.clone())
            .caller_address(|extensions| {
                extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|info| info.0.ip())
            });
        for (id, secret) in clients {
            service = service.client(id, secret);
        }
        Router::new().route_service(PATH, service)
    }
    #[cfg(not(feature = "introspection"))]
    {
        let _ = (verifier, store, clients);
        Router::new()
    }
}
