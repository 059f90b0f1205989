//! Two instances of one API on one Redis: a token logged out on one is
//! refused by the other within the pub/sub hop, while neither asks Redis on
//! the access path (each keeps a local view).
//!
//! ```sh
//! cargo run --example redis_instances          # REDIS_URL, default redis://127.0.0.1:6379
//! ```
//!
//! It logs in on instance A, calls `/me` on B (200), logs out on A, waits
//! for B to refuse the token, and prints each answer.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{
    Algorithm, Claims, JwtAuthLayer, JwtConfig, NoCustomClaims, RedisStore, SessionManager,
    SigningKey, TokenIssuer, TokenType, Verifier, VerifyingKey,
};

const SECRET: &[u8] = b"an example secret of at least 32 bytes!";

async fn me(claims: Claims) -> String {
    format!("hello, {}", claims.sub)
}

/// One instance: its own connection to Redis, its own local view.
async fn instance(url: &str) -> Result<(Router, SessionManager), Box<dyn std::error::Error>> {
    let config = JwtConfig::new();
    let store: Arc<dyn RevocationStore> = Arc::new(
        RedisStore::builder(url)
            .prefix("redis-instances-example")
            .connect()
            .await?,
    );
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET)?,
        config.clone(),
    );
    let issuer = TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, SECRET)?, config);
    let sessions = SessionManager::new(issuer, verifier.clone(), store.clone());
    let app = Router::new()
        .route("/me", get(me))
        .layer(JwtAuthLayer::new(verifier).shared_store(store));
    Ok((app, sessions))
}

async fn call(app: &Router, token: &str) -> http::StatusCode {
    use tower::ServiceExt as _;
    let request = http::Request::get("/me")
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .expect("a request");
    app.clone()
        .oneshot(request)
        .await
        .map_or(http::StatusCode::INTERNAL_SERVER_ERROR, |response| {
            response.status()
        })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let (_app_a, sessions_a) = instance(&url).await?;
    let (app_b, _) = instance(&url).await?;

    let pair = sessions_a.login("alice", &NoCustomClaims {}).await?;
    println!(
        "B before logout on A: {}",
        call(&app_b, &pair.access_token).await
    );

    let claims = sessions_a
        .verifier()
        .verify::<NoCustomClaims>(&pair.access_token, TokenType::Access)?;
    sessions_a.logout(&claims, None).await?;
    for _ in 0..100 {
        let status = call(&app_b, &pair.access_token).await;
        if status == http::StatusCode::UNAUTHORIZED {
            println!("B after logout on A: {status}");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err("B still accepts the token after a second".into())
}
