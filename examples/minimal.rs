//! The smallest protected axum app: one route behind the layer, one HS256
//! key, a token printed at start so you can call it.
//!
//! ```sh
//! cargo run --example minimal
//! curl -H "authorization: Bearer <the printed token>" http://127.0.0.1:3005/me
//! ```

use axum::{Router, routing::get};
use tower_jwt_auth::{
    Algorithm, Claims, JwtAuthLayer, JwtConfig, NoCustomClaims, SigningKey, TokenIssuer, Verifier,
    VerifyingKey,
};

async fn me(claims: Claims) -> String {
    format!("hello, {}\n", claims.sub)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = b"an example secret of at least 32 bytes!";
    let config = JwtConfig::new().issuer("minimal").audience("api");
    let issuer = TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, config.clone());
    let verifier = Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, config);

    let app = Router::new()
        .route("/me", get(me))
        .layer(JwtAuthLayer::new(verifier));

    println!(
        "token: {}",
        issuer.access_token("alice", &NoCustomClaims {})?
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3005").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
