//! Cookie sessions with CSRF protection, in few lines: `POST /login` sets
//! the HttpOnly access and refresh cookies and a readable `__Host-csrf_token`
//! cookie; `GET /me` reads the access cookie; `POST /me` (an unsafe method)
//! also needs the `X-CSRF-Token` header echoing that cookie. The full
//! version, with a page, refresh and logout, is the demo (`support/browser.rs`).
//!
//! ```sh
//! cargo run --example cookies
//! curl -i -c jar -X POST http://localhost:3006/login      # Set-Cookie ×3
//! curl -b jar http://localhost:3006/me                     # 200: a GET needs no proof
//! curl -b jar -X POST http://localhost:3006/me             # 403: no CSRF header
//! curl -b jar -X POST -H "x-csrf-token: $(awk '/__Host-csrf_token/ {print $7}' jar)" \
//!      -H "origin: http://localhost:3006" http://localhost:3006/me   # 200
//! ```
//! (`Secure` cookies: curl and browsers keep them for `http://localhost`.)

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_jwt_auth::cookies::SessionCookies;
use tower_jwt_auth::csrf::CsrfProtection;
use tower_jwt_auth::{
    Algorithm, Claims, JwtAuthLayer, JwtConfig, MemoryStore, NoCustomClaims, SessionManager,
    SigningKey, TokenIssuer, TokenSource, Verifier, VerifyingKey,
};

#[derive(Clone)]
struct App {
    sessions: SessionManager,
    cookies: SessionCookies,
}

/// A real app checks a password first.
async fn login(State(app): State<App>) -> Response {
    let pair = match app.sessions.login("alice", &NoCustomClaims {}).await {
        Ok(pair) => pair,
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    for cookie in app.cookies.set_cookies(&pair).unwrap_or_default() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

async fn me(claims: Claims) -> String {
    format!("hello, {}\n", claims.sub)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = b"an example secret of at least 32 bytes!";
    let config = JwtConfig::new();
    let issuer = TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, config.clone());
    let verifier = Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, config);
    let store = Arc::new(MemoryStore::new());
    let sessions = SessionManager::new(issuer, verifier.clone(), store.clone());

    let csrf = CsrfProtection::new(b"another secret of at least 32 bytes, for CSRF")?;
    let cookies = SessionCookies::new(csrf.clone());
    let auth = JwtAuthLayer::new(verifier)
        .shared_store(store)
        .sources([TokenSource::bearer(), cookies.access_source()])
        .csrf(csrf);

    let app = Router::new()
        .route("/me", get(me).post(me).route_layer(auth))
        .route("/login", post(login))
        .with_state(App { sessions, cookies });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3006").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
