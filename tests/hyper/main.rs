//! The hyper example (`examples/hyper.rs`) on a loopback port, spoken to in
//! raw HTTP/1.1 so nothing but the server is involved.

#[allow(dead_code)]
#[path = "../../examples/hyper.rs"]
mod example;

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower_jwt_auth::{
    Algorithm, JwtConfig, NoCustomClaims, SigningKey, TokenIssuer, Verifier, VerifyingKey,
};

const SECRET: &[u8] = b"hyper-test-secret-of-at-least-32-bytes!";

async fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    );
    tokio::spawn(example::serve(listener, verifier));
    addr
}

/// Sends one request with `Connection: close` and returns the whole answer.
async fn exchange(addr: SocketAddr, extra_headers: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET /anything HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra_headers}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn valid_token_reaches_the_service_fn_with_its_claims() {
    let addr = start().await;
    let token = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        JwtConfig::new(),
    )
    .access_token("alice", &NoCustomClaims {})
    .unwrap();
    let response = exchange(addr, &format!("Authorization: Bearer {token}\r\n")).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nhello, alice\n"), "{response}");
}

#[tokio::test]
async fn missing_and_bad_tokens_are_401_with_a_challenge() {
    let addr = start().await;
    let missing = exchange(addr, "").await.to_ascii_lowercase();
    assert!(
        missing.starts_with("http/1.1 401 unauthorized\r\n"),
        "{missing}"
    );
    assert!(
        missing.contains("\r\nwww-authenticate: bearer\r\n"),
        "{missing}"
    );
    let bad = exchange(addr, "Authorization: Bearer a.b.c\r\n")
        .await
        .to_ascii_lowercase();
    assert!(bad.starts_with("http/1.1 401 unauthorized\r\n"), "{bad}");
    assert!(
        bad.contains("\r\nwww-authenticate: bearer error=\"invalid_token\"\r\n"),
        "{bad}"
    );
}
