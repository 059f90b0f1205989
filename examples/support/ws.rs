//! The demo's WebSocket: `GET /ws` echoes text messages, for a token offered
//! in `Sec-WebSocket-Protocol` (`bearer, <token>`), a bearer header, or the
//! cookie session (`Origin` checked). Included by `demo.rs` as
//! `#[path = "support/ws.rs"] mod ws;`.
//!
//! A refused upgrade is 401 (a missing, forged, expired or revoked token), or
//! 403 for a cookie upgrade from a foreign `Origin`. An open socket is closed
//! with code 1008 at its token's `exp`, or at most [`REVOCATION_CHECK`] after
//! the token is revoked (a logout). The answered protocol is `echo` when the
//! client offered it, else the marker `bearer`; never the token.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tower_jwt_auth::cookies::SessionCookies;
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::websocket::{
    CredentialWatch, DEFAULT_PROTOCOL_MARKER, WatchedSocket, answer_protocol,
};
use tower_jwt_auth::{JwtAuthLayer, TokenSource};

use super::{AppState, User, UserClaims};

/// The demo's own protocol, answered when offered.
pub const PROTOCOL: &str = "echo";

/// How often an open socket's token is checked against the revocation
/// store: the bound on how long a logged-out socket stays open (the contract
/// says 5 s).
pub const REVOCATION_CHECK: Duration = Duration::from_secs(1);

/// `GET /ws` behind `auth` reading the bearer header, the protocol list, then
/// the access cookie (with the CSRF policy, which checks the `Origin` of
/// cookie upgrades).
pub fn routes(
    auth: &JwtAuthLayer<User>,
    cookies: &SessionCookies,
    store: Arc<dyn RevocationStore>,
) -> Router<AppState> {
    let auth = auth
        .clone()
        .sources([
            TokenSource::bearer(),
            TokenSource::websocket_protocol(DEFAULT_PROTOCOL_MARKER),
            cookies.access_source(),
        ])
        .csrf(cookies.csrf().clone());
    Router::new()
        .route(
            "/ws",
            get(
                move |ws: WebSocketUpgrade, headers: HeaderMap, claims: UserClaims| {
                    upgrade(ws, headers, claims, store.clone())
                },
            ),
        )
        .route_layer(auth)
}

async fn upgrade(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    claims: UserClaims,
    store: Arc<dyn RevocationStore>,
) -> Response {
    let protocol =
        answer_protocol(&headers, DEFAULT_PROTOCOL_MARKER, &[PROTOCOL]).map(str::to_owned);
    let watch = CredentialWatch::new(&claims, store).check_every(REVOCATION_CHECK);
    tracing::debug!(sub = %claims.sub, "websocket opened");
    ws.protocols(protocol)
        .on_upgrade(move |socket| echo(socket, watch))
}

/// Echoes text messages until the client closes or the token ends.
async fn echo(socket: WebSocket, watch: CredentialWatch) {
    let mut socket = WatchedSocket::new(socket, watch, |end| {
        Message::Close(Some(CloseFrame {
            code: end.close_code(),
            reason: end.reason().into(),
        }))
    });
    while let Some(Ok(message)) = socket.next().await {
        let reply = match message {
            Message::Text(text) => Message::Text(text),
            Message::Close(_) => break,
            _ => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
    if let Some(end) = socket.ended() {
        tracing::info!(reason = %end, "websocket closed: its token ended");
    }
}
