//! The demo app: an axum API protected by `tower-jwt-auth`.
//!
//! ```sh
//! cargo run --example demo
//! ```
//!
//! Configuration (environment):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BIND` | listen address | `127.0.0.1:3000` |
//! | `JWT_ALGORITHM` | HS256/384/512, RS*, PS*, ES256, ES384, EdDSA | `HS256` |
//! | `JWT_SECRET` | HMAC secret (HS*), ≥ 32/48/64 bytes | random, with a warning |
//! | `JWT_PRIVATE_KEY_FILE`, `JWT_PUBLIC_KEY_FILE` | PEM keys for the other algorithms | — |
//! | `JWT_ISSUER`, `JWT_AUDIENCE` | minted into tokens and enforced | unset |
//! | `ACCESS_TTL_SECS`, `REFRESH_TTL_SECS` | token lifetimes | 300, 86400 |
//! | `JWT_PREVIOUS_PUBLIC_KEY_FILES` | comma-separated PEM files: retired keys that still verify and are still published (rotation without logouts) | unset |
//! | `REDIS_URL` | share revocations through this Redis (`RedisStore`); several demo processes with the same URL (and keys) act as one service | unset: in memory |
//! | `CSRF_SECRET` | keys the CSRF tokens of cookie sessions, ≥ 32 bytes | random, with a warning |
//! | `FRESH_MAX_AGE_SECS` | how recent a login `GET /account/sensitive` wants | 300 |
//! | `REFRESH_REUSE_GRACE_SECS` | how long a retired refresh token may be retried (a lost response) | 0 |
//! | `DEMO_USERS` | the users instead of the built-in ones: `name:role:password` entries, comma-separated | unset: the built-in users |
//! | `DPOP`, `PUBLIC_URL`, `DPOP_NONCE`, `DPOP_NONCE_SECRET`, `DPOP_MAX_AGE_SECS` | DPoP (see `support/dpop_settings.rs`): `POST /auth/login` and `/auth/refresh` with a `DPoP` proof (`htu` `{PUBLIC_URL}/auth/login`, `…/auth/refresh`) mint bound tokens (`"token_type": "DPoP"`), every protected route takes `Authorization: DPoP` with a proof; with `REDIS_URL` proofs are recorded there | `allowed`, `http://{BIND}`, off, random, 60 |
//!
//! Users: `alice` / `alice-password` (roles `["admin"]`), `bob` / `bob-password`
//! (roles `["user"]`), unless `DEMO_USERS` lists others.
//!
//! On an address that is not loopback (`BIND=0.0.0.0:3000`, …) the demo
//! refuses to start (status 2, naming the variables) until `DEMO_USERS`,
//! `CSRF_SECRET` and, with an HS* algorithm, `JWT_SECRET` are set: the
//! built-in users' passwords are published, and random secrets end every
//! session at a restart. Failed logins (`POST /auth/login`, `POST
//! /auth/session`) are limited per user name and per client address: 429
//! `too_many_attempts` with `Retry-After` once spent (see
//! `support/login_limit.rs`); successful logins are not limited.
//!
//! Endpoints: `POST /auth/login`, `POST /auth/refresh`, `POST /auth/logout`
//! (ends the token's whole session; 204), `POST /auth/logout-all`,
//! `GET /auth/sessions`, `DELETE /auth/sessions/{sid}`, `GET /me`,
//! `GET /protected/ping`, `GET /admin` (role `admin`, through the role
//! guard), `GET /account/sensitive` (a login at most `FRESH_MAX_AGE_SECS`
//! old), `GET /hello` (optional authentication), `GET /ws` (a WebSocket
//! echoing text; the token in `Sec-WebSocket-Protocol: bearer, <token>` or the
//! cookie session; closed with 1008 at the token's `exp` or within 5 s of a
//! logout: `support/ws.rs`), `GET /health`, `GET /openapi.json` (no auth: the
//! OpenAPI 3.1 document, an HTTP bearer JWT scheme; `support/openapi.rs`), `GET /metrics` (Prometheus text
//! format; only when built with the `metrics` feature, e.g. `--features full`: 404 otherwise);
//! with an asymmetric `JWT_ALGORITHM`,
//! `GET /.well-known/jwks.json` and the discovery document at
//! `GET /.well-known/openid-configuration` (and
//! `/.well-known/oauth-authorization-server`): `issuer` is `JWT_ISSUER`, or
//! `http://{BIND}` when unset — then minted into tokens as `iss` too, so a
//! resource server discovers the demo at its own URL (bind to a concrete
//! address, or set `JWT_ISSUER`, when others reach it under another name).
//! With `INTROSPECTION_CLIENTS=id:secret[,id:secret…]` (feature
//! `introspection`), `POST /oauth/introspect` answers RFC 7662 for the demo's
//! own tokens to those callers (HTTP Basic), and the discovery document names
//! it; unset, there is no such endpoint (404).
//!
//! Browser side (`support/browser.rs`): `GET /` (the page), `POST /auth/session`,
//! `POST /auth/session/refresh`, `DELETE /auth/session` (cookie sessions with
//! CSRF protection), `POST /notes`, `GET /notes`; `/me` and `/notes` read the
//! bearer header, then the access cookie.

use std::process::ExitCode;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_jwt_auth::refresh::session_error_response;
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{
    Claims, Guard, JwtAuthLayer, MemoryStore, Permissions, RequireClaimsLayer,
    RequireRecentLoginLayer, SessionError, SessionManager, TokenIssuer, Verifier,
};

#[path = "support/browser.rs"]
mod browser;
#[path = "support/dpop_settings.rs"]
mod dpop_settings;
#[path = "support/introspection_server.rs"]
mod introspection_server;
#[path = "support/login_limit.rs"]
mod login_limit;
#[path = "support/openapi.rs"]
mod openapi;
#[path = "support/prometheus.rs"]
mod prometheus;
#[path = "support/publish.rs"]
mod publish;
#[path = "support/sessions.rs"]
mod sessions;
#[path = "support/settings.rs"]
mod settings;
#[path = "support/startup.rs"]
mod startup;
#[path = "support/users.rs"]
mod users;
#[path = "support/ws.rs"]
mod ws;
use login_limit::{LoginLimits, Logins};
pub use sessions::SessionOptions;
pub use settings::Settings;
use users::Users;

/// The demo's custom claims: the user's roles.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    roles: Vec<String>,
}

impl Permissions for User {
    fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

type UserClaims = Claims<User>;

#[derive(Clone)]
struct AppState {
    sessions: SessionManager<User>,
    browser: browser::BrowserState,
    /// The users, and the budgets of failed logins.
    logins: Logins,
}

fn json_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

/// Parses a JSON body into `T`: 400 when it is not JSON, 422 when it is JSON
/// of the wrong shape. The content type is not required.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(match e.classify() {
            serde_json::error::Category::Data => {
                json_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
            }
            _ => json_error(StatusCode::BAD_REQUEST, "invalid_json"),
        })
    })
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    client: login_limit::ClientAddr,
    head: dpop_settings::RequestHead,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = sessions::capped_body(body).map(|b| dpop_settings::form_as_json(&head, b));
    let request: LoginRequest = match body.and_then(|b| parse_body(&b)) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let user = match state
        .logins
        .attempt(&request.username, &request.password, &client)
    {
        Ok(user) => user,
        Err(response) => return *response,
    };
    dpop_settings::login(&state.sessions, &head, &request.username, &user)
        .await
        .unwrap_or_else(|error| session_error(&error))
}

/// A failed session operation as the library answers it (401 with the
/// RFC 6750 challenge, 503 with `Retry-After`, 500), in axum's body type.
fn session_error(error: &SessionError) -> Response {
    session_error_response(error).map(axum::body::Body::new)
}

#[derive(Deserialize)]
struct LogoutRequest {
    refresh_token: Option<String>,
}

/// Ends the access token's whole session (its `sid` family: every access
/// token and the refresh token), and the session of a refresh token named in
/// the body. The body is optional; one that is not `{"refresh_token": …}`,
/// or names a bad token, never stops the session from ending: 204.
async fn logout(
    State(state): State<AppState>,
    claims: UserClaims,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match sessions::capped_body(body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let refresh_token = serde_json::from_slice::<LogoutRequest>(&body)
        .ok()
        .and_then(|request| request.refresh_token);
    match state
        .sessions
        .logout(&claims, refresh_token.as_deref())
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => session_error(&error),
    }
}

/// Every token of the caller issued before now stops working.
async fn logout_all(State(state): State<AppState>, claims: UserClaims) -> Response {
    match state.sessions.logout_all(&claims.sub).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => session_error(&error),
    }
}

async fn me(claims: UserClaims) -> Json<UserClaims> {
    Json(claims)
}

async fn ping() -> &'static str {
    "pong"
}

/// Behind the `admin` role guard: others get 403 `insufficient_scope`.
async fn admin(claims: UserClaims) -> String {
    format!("hello, admin {}", claims.sub)
}

/// Optional authentication: no token is fine, a bad one is still 401.
async fn hello(claims: Option<UserClaims>) -> String {
    match claims {
        Some(claims) => format!("hello, {}", claims.sub),
        None => "hello, anonymous".to_owned(),
    }
}

async fn health() -> &'static str {
    "ok"
}

/// The whole app over an in-memory store; `tests/demo` drives it with
/// `oneshot`.
pub fn app(settings: Settings) -> Router {
    app_with_store(settings, Arc::new(MemoryStore::new()))
}

/// The whole app over `store` (in memory, or Redis when `REDIS_URL` is set).
pub fn app_with_store(settings: Settings, store: Arc<dyn RevocationStore>) -> Router {
    app_with(settings, store, SessionOptions::default())
}

/// The whole app over `store`, with the session options read from the
/// environment (`FRESH_MAX_AGE_SECS`, `REFRESH_REUSE_GRACE_SECS`), the
/// built-in users and the default login limits.
pub fn app_with(
    settings: Settings,
    store: Arc<dyn RevocationStore>,
    options: SessionOptions,
) -> Router {
    let browser = browser::BrowserState::from_env().expect("CSRF_SECRET is checked at startup");
    let logins = Logins::new(Users::built_in(), LoginLimits::default());
    app_of(settings, store, options, logins, browser)
}

/// The whole app, from its parts: what `main` serves (the browser state is
/// made once, so its warnings are logged once).
pub fn app_of(
    settings: Settings,
    store: Arc<dyn RevocationStore>,
    options: SessionOptions,
    logins: Logins,
    browser: browser::BrowserState,
) -> Router {
    let step_up =
        RequireRecentLoginLayer::<User>::new(options.fresh_max_age).clock_of(&settings.config);
    let well_known = publish::well_known(&settings);
    let issuer = TokenIssuer::new(settings.signing, settings.config.clone());
    let keys = publish::key_set(settings.verifying, settings.previous);
    let verifier = Verifier::new(keys, settings.config);
    let dpop = dpop_settings::DpopSettings::policy_from_env(settings.bind);
    let auth = JwtAuthLayer::new(verifier.clone())
        .claims::<User>()
        .shared_store(store.clone())
        .dpop(dpop.clone());
    let introspection = introspection_server::routes(&verifier, &store);
    let websocket = ws::routes(&auth, browser.cookies(), store.clone());
    let openapi = openapi::demo(&auth);
    let sessions = SessionManager::new(issuer, verifier, store)
        .reuse_grace(options.reuse_grace)
        .dpop(dpop);
    let refresh = sessions.refresh_service();
    let browser_routes = browser::routes(&auth, &browser);
    let state = AppState {
        sessions,
        browser,
        logins,
    };

    let admin_only = Router::new()
        .route("/admin", get(admin))
        .route_layer(RequireClaimsLayer::new(Guard::<User>::role("admin")));
    let protected = Router::new()
        .route("/protected/ping", get(ping))
        .route(
            "/auth/logout",
            post(logout).layer(DefaultBodyLimit::max(sessions::MAX_BODY_LEN)),
        )
        .route("/auth/logout-all", post(logout_all))
        .route("/auth/sessions", get(sessions::list))
        .route("/auth/sessions/{sid}", delete(sessions::end))
        .route(
            "/account/sensitive",
            get(sessions::sensitive).route_layer(step_up),
        )
        .merge(admin_only)
        .route_layer(auth.clone());
    let optional = Router::new()
        .route("/hello", get(hello))
        .route_layer(auth.optional(true));
    Router::new()
        .route("/health", get(health))
        .route(
            "/auth/login",
            post(login).layer(DefaultBodyLimit::max(sessions::MAX_BODY_LEN)),
        )
        .route_service("/auth/refresh", refresh)
        .merge(protected)
        .merge(optional)
        .merge(well_known)
        .merge(introspection)
        .merge(browser_routes)
        .merge(websocket)
        .merge(prometheus::routes())
        .merge(openapi)
        .with_state(state)
}

/// `RedisStore` when `REDIS_URL` is set, else `MemoryStore`.
async fn revocation_store() -> Result<Arc<dyn RevocationStore>, String> {
    let url = match std::env::var("REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            tracing::info!("revocations in memory (set REDIS_URL to share them)");
            return Ok(Arc::new(MemoryStore::new()));
        }
    };
    #[cfg(feature = "redis")]
    {
        let store = tower_jwt_auth::RedisStore::connect(url.trim())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!("revocations in redis");
        Ok(Arc::new(store))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = url;
        Err("REDIS_URL is set but the `redis` feature is off".to_owned())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

async fn run() -> Result<(), ExitCode> {
    let config_error = |e: String| {
        eprintln!("demo: configuration error: {e}");
        ExitCode::from(2)
    };
    // Before the settings: a refusal needs no warnings about what is unset.
    users::public_address_check().map_err(config_error)?;
    introspection_server::clients_from_env().map_err(config_error)?;
    let settings = startup::init("demo")?;
    // A CSRF_SECRET that is set must be usable (unset: a random one, with
    // one warning).
    let browser = browser::BrowserState::from_env().map_err(config_error)?;
    let users = Users::from_env().map_err(config_error)?;
    let options = SessionOptions::from_env().map_err(config_error)?;
    dpop_settings::DpopSettings::from_env(settings.bind)
        .and_then(|dpop| dpop.policy())
        .map_err(config_error)?;
    let store = revocation_store().await.map_err(|e| {
        eprintln!("demo: revocation store: {e}");
        ExitCode::from(1)
    })?;
    let bind = startup::bind_address(&settings, 3000);
    let (listener, shutdown) = startup::listen("demo", bind).await?;
    // What to try next, once.
    tracing::info!("{}", users.hint(bind));
    let logins = Logins::new(users, LoginLimits::default());
    let app = app_of(settings, store, options, logins, browser);
    // The peer address reaches the login limits.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| {
        eprintln!("demo: server error: {e}");
        ExitCode::from(1)
    })
}
