//! WebSockets: a token in the handshake's `Sec-WebSocket-Protocol`, the
//! protocol to answer, the CSRF rule for cookie upgrades, and sockets that
//! close when their credential ends. The guide is `guides::websockets`
//! (`docs/websockets.md`).
//!
//! * **A token a browser can send.** `new WebSocket(url, ["bearer", token])`
//!   offers the marker `bearer` and the token as protocols;
//!   [`TokenSource::websocket_protocol`](crate::TokenSource::websocket_protocol)
//!   reads it, and [`answer_protocol`] says what to answer: the application's
//!   own protocol when one it speaks was offered, else the marker, never the
//!   token.
//! * **Cookie sessions.** An upgrade (a `GET` with `Upgrade: websocket`,
//!   [`is_websocket_upgrade`]) is not a safe method for the CSRF rule: a
//!   cookie credential on it must pass the `Origin` check (the
//!   double-submit header cannot be set by a browser's WebSocket).
//! * **The socket ends with its credential** (feature `websocket`):
//!   [`CredentialWatch`] resolves at the token's `exp` or once the revocation
//!   store says it is revoked (checked every [`DEFAULT_REVOCATION_CHECK`]), and
//!   [`WatchedSocket`] sends the close frame (1008) and ends.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//! use tower_jwt_auth::{
//!     Algorithm, JwtAuthLayer, JwtConfig, NoCustomClaims, SigningKey, TokenIssuer, TokenSource,
//!     Verifier, VerifyingKey,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = b"an example secret of at least 32 bytes!";
//! let issuer = TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, JwtConfig::new());
//! let verifier = Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, JwtConfig::new());
//! let layer = JwtAuthLayer::new(verifier)
//!     .sources([TokenSource::bearer(), TokenSource::websocket_protocol("bearer")]);
//! // A real app answers with `WebSocketUpgrade` here (see `WatchedSocket`).
//! let app = Router::new().route("/ws", get(|| async { "upgraded" })).layer(layer);
//!
//! let token = issuer.access_token("alice", &NoCustomClaims {})?;
//! let handshake = |protocols: String| {
//!     Request::get("/ws")
//!         .header("upgrade", "websocket")
//!         .header("sec-websocket-protocol", protocols)
//!         .body(Body::empty())
//! };
//! let ok = app.clone().oneshot(handshake(format!("bearer, {token}"))?).await?;
//! assert_eq!(ok.status(), StatusCode::OK);
//! let forged = app.oneshot(handshake("bearer, not.a.token".to_owned())?).await?;
//! assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
//! # Ok(())
//! # }
//! ```

pub(crate) mod protocol;
#[cfg(feature = "websocket")]
mod socket;
#[cfg(feature = "websocket")]
mod watch;

pub use protocol::{
    DEFAULT_PROTOCOL_MARKER, MAX_OFFERED_PROTOCOLS, MAX_PROTOCOL_HEADER_LEN, answer_protocol,
    is_websocket_upgrade,
};
#[cfg(feature = "websocket")]
pub use socket::WatchedSocket;
#[cfg(feature = "websocket")]
pub use watch::{CredentialEnd, CredentialWatch, DEFAULT_REVOCATION_CHECK, MIN_REVOCATION_CHECK};
