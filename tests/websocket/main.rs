//! `GET /ws` of the demo (`examples/support/ws.rs`) with a real WebSocket
//! client (tokio-tungstenite) against the demo served on a loopback port:
//! who may upgrade, what protocol is answered, and that an open socket is
//! closed with 1008 when its token is revoked or expires. Logins and logouts
//! go through the same router (`oneshot`), which shares the store.

#[allow(dead_code)]
#[path = "../../examples/demo.rs"]
mod demo;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use futures_util::{SinkExt, StreamExt};
use http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use tower::ServiceExt;
use tower_jwt_auth::cookies::DEFAULT_ACCESS_COOKIE as ACCESS;
use tower_jwt_auth::cookies::DEFAULT_REFRESH_COOKIE as REFRESH;
use tower_jwt_auth::csrf::DEFAULT_CSRF_COOKIE as CSRF;
use tower_jwt_auth::{Algorithm, JwtConfig, ManualClock, SigningKey, TokenIssuer, VerifyingKey};

const SECRET: &[u8] = b"demo-test-secret-of-at-least-32-bytes!!";

/// A guard against a hang, never an assertion about speed: the demo closes
/// within 5 s (1 s checks) of a logout.
const PATIENCE: Duration = Duration::from_secs(30);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The handshake's response (with its body, when refused).
type Handshake = http::Response<Option<Vec<u8>>>;

fn config() -> JwtConfig {
    JwtConfig::new().issuer("demo").audience("demo-api")
}

/// The demo on a loopback port, and its router for logins and logouts.
struct Demo {
    addr: SocketAddr,
    app: Router,
}

async fn demo() -> Demo {
    let app = demo::app(demo::Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        signing: SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        verifying: VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config: config(),
        previous: Vec::new(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = app
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    Demo { addr, app }
}

impl Demo {
    async fn send(&self, request: Request<Body>) -> http::Response<Body> {
        self.app.clone().oneshot(request).await.unwrap()
    }

    /// `POST /auth/login`: the access token.
    async fn login(&self, user: &str) -> String {
        let response = self
            .send(
                Request::post("/auth/login")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({"username": user, "password": format!("{user}-password")})
                            .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value =
            serde_json::from_slice(&to_bytes(response.into_body(), 1 << 20).await.unwrap())
                .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// `POST /auth/logout` with the bearer token: its session ends.
    async fn logout(&self, token: &str) {
        let response = self
            .send(
                Request::post("/auth/logout")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    /// `POST /auth/session`: the `name=value` of each cookie set.
    async fn cookie_login(&self, user: &str) -> Vec<(String, String)> {
        let response = self
            .send(
                Request::post("/auth/session")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({"username": user, "password": format!("{user}-password")})
                            .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| {
                let pair = v.to_str().unwrap().split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                (name.to_owned(), value.to_owned())
            })
            .collect()
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The WebSocket handshake to `/ws` with these extra headers.
    async fn connect(&self, headers: &[(&str, &str)]) -> Result<(Socket, Handshake), WsError> {
        let mut request = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        tokio::time::timeout(PATIENCE, connect_async(request))
            .await
            .expect("the handshake hangs")
    }
}

/// The `Cookie` header a browser sends to `/ws`: the access and CSRF
/// cookies (the refresh cookie's path is `/auth/session`).
fn cookie_header(jar: &[(String, String)]) -> String {
    assert!(jar.iter().any(|(name, _)| name == ACCESS), "{jar:?}");
    jar.iter()
        .filter(|(name, _)| name != REFRESH)
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn cookie<'j>(jar: &'j [(String, String)], name: &str) -> &'j str {
    &jar.iter().find(|(n, _)| n == name).unwrap().1
}

/// The status a refused handshake was answered with.
fn refused_status(result: Result<(Socket, Handshake), WsError>) -> StatusCode {
    match result {
        Err(WsError::Http(response)) => response.status(),
        Err(other) => panic!("not an HTTP refusal: {other}"),
        Ok((_, response)) => panic!("upgraded: {}", response.status()),
    }
}

/// Sends `text` and expects it back: the socket is open and authenticated.
async fn echoes(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).await.unwrap();
    let reply = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .expect("no echo")
        .unwrap()
        .unwrap();
    assert_eq!(reply, Message::text(text));
}

/// Reads until the server's close frame: its code and reason.
async fn close_frame(socket: &mut Socket) -> (CloseCode, String) {
    let read = async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(Some(frame))) => {
                    return (frame.code, frame.reason.as_str().to_owned());
                }
                Ok(Message::Close(None)) => panic!("a close frame without a code"),
                Ok(_) => {}
                Err(error) => panic!("the socket failed before a close frame: {error}"),
            }
        }
        panic!("the socket ended without a close frame")
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the socket was not closed")
}

fn protocol_header(token: &str, extra: &str) -> String {
    format!("bearer, {token}{extra}")
}

fn answered_protocol(response: &Handshake) -> Option<String> {
    response
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_token_in_the_protocol_list_upgrades_and_the_socket_echoes() {
    let demo = demo().await;
    let token = demo.login("alice").await;
    let offered = protocol_header(&token, "");
    let (mut socket, response) = demo
        .connect(&[("sec-websocket-protocol", &offered)])
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    echoes(&mut socket, "hello").await;
    echoes(&mut socket, "again").await;
}

#[tokio::test]
async fn the_answered_protocol_is_the_marker_or_the_apps_never_the_token() {
    let demo = demo().await;
    let token = demo.login("alice").await;
    let offered = protocol_header(&token, "");
    let (_, response) = demo
        .connect(&[("sec-websocket-protocol", &offered)])
        .await
        .unwrap();
    assert_eq!(answered_protocol(&response).as_deref(), Some("bearer"));
    let offered = protocol_header(&token, ", echo");
    let (_, response) = demo
        .connect(&[("sec-websocket-protocol", &offered)])
        .await
        .unwrap();
    assert_eq!(answered_protocol(&response).as_deref(), Some("echo"));
    // No response header carries the token.
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert!(!value.contains(&token), "{name} echoes the token");
    }
}

#[tokio::test]
async fn a_missing_token_never_upgrades() {
    let demo = demo().await;
    assert_eq!(
        refused_status(demo.connect(&[]).await),
        StatusCode::UNAUTHORIZED
    );
    let only_app = [("sec-websocket-protocol", "echo")];
    assert_eq!(
        refused_status(demo.connect(&only_app).await),
        StatusCode::UNAUTHORIZED
    );
    // The marker with no token after it is a malformed credential.
    let marker_only = [("sec-websocket-protocol", "echo, bearer")];
    assert_eq!(
        refused_status(demo.connect(&marker_only).await),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_forged_token_never_upgrades() {
    let demo = demo().await;
    let token = demo.login("alice").await;
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let offered = protocol_header(&forged, "");
    assert_eq!(
        refused_status(demo.connect(&[("sec-websocket-protocol", &offered)]).await),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_expired_token_never_upgrades() {
    let demo = demo().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Issued an hour ago with the default five-minute lifetime.
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config().clock(ManualClock::at_secs(now - 3600)),
    );
    let token = issuer
        .access_token("alice", &json!({"roles": ["admin"]}))
        .unwrap();
    let offered = protocol_header(&token, "");
    assert_eq!(
        refused_status(demo.connect(&[("sec-websocket-protocol", &offered)]).await),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_revoked_token_never_upgrades() {
    let demo = demo().await;
    let token = demo.login("alice").await;
    demo.logout(&token).await;
    let offered = protocol_header(&token, "");
    assert_eq!(
        refused_status(demo.connect(&[("sec-websocket-protocol", &offered)]).await),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_open_socket_is_closed_with_1008_after_logout() {
    let demo = demo().await;
    let token = demo.login("alice").await;
    let offered = protocol_header(&token, "");
    let (mut socket, _) = demo
        .connect(&[("sec-websocket-protocol", &offered)])
        .await
        .unwrap();
    echoes(&mut socket, "before").await;
    demo.logout(&token).await;
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, CloseCode::Policy);
    assert_eq!(u16::from(code), 1008);
    assert_eq!(reason, "token revoked");
}

#[tokio::test]
async fn an_open_socket_is_closed_with_1008_at_exp() {
    let demo = demo().await;
    // A token that lives three seconds.
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config().access_ttl(Duration::from_secs(3)),
    );
    let token = issuer
        .access_token("alice", &json!({"roles": ["user"]}))
        .unwrap();
    let offered = protocol_header(&token, "");
    let (mut socket, _) = demo
        .connect(&[("sec-websocket-protocol", &offered)])
        .await
        .unwrap();
    echoes(&mut socket, "while it lasts").await;
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, CloseCode::Policy);
    assert_eq!(reason, "token expired");
}

#[tokio::test]
async fn a_cookie_session_upgrades_from_its_own_origin() {
    let demo = demo().await;
    let jar = demo.cookie_login("bob").await;
    let cookies = cookie_header(&jar);
    let origin = demo.origin();
    let (mut socket, response) = demo
        .connect(&[("cookie", &cookies), ("origin", &origin)])
        .await
        .unwrap();
    assert_eq!(answered_protocol(&response), None, "none was offered");
    echoes(&mut socket, "from the page").await;
}

#[tokio::test]
async fn a_cookie_upgrade_from_a_foreign_origin_is_403() {
    let demo = demo().await;
    let jar = demo.cookie_login("bob").await;
    let cookies = cookie_header(&jar);
    for origin in ["https://evil.example", "null"] {
        assert_eq!(
            refused_status(
                demo.connect(&[("cookie", &cookies), ("origin", origin)])
                    .await
            ),
            StatusCode::FORBIDDEN,
            "{origin}"
        );
    }
    let cross_site = [
        ("cookie", cookies.as_str()),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(
        refused_status(demo.connect(&cross_site).await),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_cookie_socket_is_closed_with_1008_when_its_session_ends() {
    let demo = demo().await;
    let jar = demo.cookie_login("bob").await;
    let cookies = cookie_header(&jar);
    let origin = demo.origin();
    let (mut socket, _) = demo
        .connect(&[("cookie", &cookies), ("origin", &origin)])
        .await
        .unwrap();
    echoes(&mut socket, "hi").await;
    // The page's logout: every cookie and the CSRF header.
    let all = jar
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ");
    let logout = demo
        .send(
            Request::builder()
                .method(Method::DELETE)
                .uri("/auth/session")
                .header(header::COOKIE, all)
                .header("x-csrf-token", cookie(&jar, CSRF))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let (code, _) = close_frame(&mut socket).await;
    assert_eq!(code, CloseCode::Policy);
    // And the same cookies no longer open one.
    assert_eq!(
        refused_status(
            demo.connect(&[("cookie", &cookies), ("origin", &origin)])
                .await
        ),
        StatusCode::UNAUTHORIZED
    );
}
