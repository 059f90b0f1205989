//! The revocation store of the examples that accept the demo's tokens but
//! do not run its session endpoints (`hyper`, `tonic`). Include with
//! `#[path = "support/store.rs"] mod store;`.
//!
//! A token the demo revoked (logout, logout everywhere, an ended session) is
//! refused here only if this process reads the same store: with `REDIS_URL`
//! set to the demo's Redis, it is; without it, this process keeps a private
//! in-memory store, and **the demo's logouts are not enforced here** — a
//! logged-out token keeps working until it expires. Startup says so in the
//! log.

use std::sync::Arc;

use tower_jwt_auth::MemoryStore;
use tower_jwt_auth::revocation::RevocationStore;

/// `RedisStore` when `REDIS_URL` is set (shared with the demo), else a
/// private `MemoryStore`, with a warning that revocations made elsewhere
/// are not enforced.
pub async fn revocation_store(example: &str) -> Result<Arc<dyn RevocationStore>, String> {
    let url = match std::env::var("REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            tracing::warn!(
                "{example}: REDIS_URL is not set: revocations are in this process only, so \
                 logouts made through the demo are NOT enforced here (set REDIS_URL to the \
                 demo's Redis to share them)"
            );
            return Ok(Arc::new(MemoryStore::new()));
        }
    };
    #[cfg(feature = "redis")]
    {
        let store = tower_jwt_auth::RedisStore::connect(url.trim())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!("{example}: revocations shared through redis");
        Ok(Arc::new(store))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = url;
        Err("REDIS_URL is set but the `redis` feature is off".to_owned())
    }
}
