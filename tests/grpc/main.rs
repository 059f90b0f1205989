//! The tonic example (`examples/tonic.rs`) over a loopback port, called by a
//! real tonic client (`tonic-health`'s `HealthClient`).

#[allow(dead_code)]
#[path = "../../examples/tonic.rs"]
mod example;

#[path = "../support/down_store.rs"]
mod down_store;

use down_store::DownStore;

use std::net::SocketAddr;
use std::sync::Arc;

use example::Access;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower_jwt_auth::grpc::ClaimsExt;
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{
    Algorithm, Claims, Guard, JwtConfig, MemoryStore, SigningKey, TokenIssuer, Verifier,
    VerifyingKey,
};

const SECRET: &[u8] = b"grpc-test-secret-of-at-least-32-bytes!!";

fn config() -> JwtConfig {
    JwtConfig::new().issuer("grpc-test").audience("health")
}

fn verifier() -> Verifier {
    Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config(),
    )
}

fn token(sub: &str, roles: &[&str]) -> String {
    let access = Access {
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        scope: None,
    };
    TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config(),
    )
    .access_token(sub, &access)
    .unwrap()
}

/// A running server; dropping it shuts the server down.
struct Running {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Running {
    async fn client(&self) -> HealthClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        HealthClient::new(channel)
    }
}

async fn start(store: Arc<dyn RevocationStore>, guard: Guard<Access>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(example::serve(listener, verifier(), store, guard, async {
        let _ = stopped.await;
    }));
    Running { addr, _stop: stop }
}

async fn example_server(guard: Guard<Access>) -> Running {
    start(Arc::new(MemoryStore::new()), guard).await
}

fn check(authorization: Option<&str>) -> Request<HealthCheckRequest> {
    let mut request = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    request
}

async fn call(
    server: &Running,
    authorization: Option<&str>,
) -> Result<HealthCheckResponse, Status> {
    server
        .client()
        .await
        .check(check(authorization))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn good_token_gets_serving() {
    let server = example_server(Guard::authenticated()).await;
    let bearer = format!("Bearer {}", token("alice", &[]));
    let response = call(&server, Some(&bearer)).await.unwrap();
    assert_eq!(response.status(), ServingStatus::Serving);
}

#[tokio::test]
async fn no_token_is_unauthenticated() {
    let server = example_server(Guard::authenticated()).await;
    let status = call(&server, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "authentication required");
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    let server = example_server(Guard::authenticated()).await;
    let good = token("alice", &[]);
    let other_key = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, b"another-secret-of-at-least-32-bytes!!!!").unwrap(),
        config(),
    )
    .access_token("alice", &Access::default())
    .unwrap();
    for value in [
        format!("Bearer {good}x"),
        format!("Bearer {other_key}"),
        "Bearer not-a-token".to_owned(),
        "Bearer".to_owned(),
    ] {
        let status = call(&server, Some(&value)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{value}");
        assert!(
            ["invalid token", "malformed credentials"].contains(&status.message()),
            "{value}: {}",
            status.message()
        );
    }
}

#[tokio::test]
async fn guard_refusal_is_permission_denied() {
    let server = example_server(Guard::role("ops")).await;
    let bob = format!("Bearer {}", token("bob", &["user"]));
    let status = call(&server, Some(&bob)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let ops = format!("Bearer {}", token("carol", &["ops"]));
    assert_eq!(
        call(&server, Some(&ops)).await.unwrap().status(),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn store_down_is_unavailable() {
    let server = start(Arc::new(DownStore), Guard::authenticated()).await;
    let bearer = format!("Bearer {}", token("alice", &[]));
    let status = call(&server, Some(&bearer)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
}

#[tokio::test]
async fn claims_reach_the_service_through_request_extensions() {
    let (seen, mut calls) = mpsc::unbounded_channel::<Claims<Access>>();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let (_reporter, health) = tonic_health::server::health_reporter();
    #[allow(clippy::result_large_err)]
    let record = move |request: Request<()>| {
        let claims = request.claims::<Access>()?;
        seen.send(claims.clone()).unwrap();
        Ok::<_, Status>(request)
    };
    let server = Server::builder()
        .layer(example::auth_layer(
            verifier(),
            Arc::new(MemoryStore::new()),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            health, record,
        ))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async {
                let _ = stopped.await;
            },
        );
    tokio::spawn(server);
    let running = Running { addr, _stop: stop };

    let bearer = format!("Bearer {}", token("alice", &["ops"]));
    let response = call(&running, Some(&bearer)).await.unwrap();
    assert_eq!(response.status(), ServingStatus::Serving);
    let claims = calls.recv().await.unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.custom.roles, ["ops"]);
    assert_eq!(claims.iss.as_deref(), Some("grpc-test"));
}

#[tokio::test]
async fn two_authorization_entries_are_unauthenticated() {
    let server = example_server(Guard::authenticated()).await;
    let bearer = format!("Bearer {}", token("alice", &[]));
    let mut request = check(Some(&bearer));
    request
        .metadata_mut()
        .append("authorization", bearer.parse().unwrap());
    let status = server.client().await.check(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}
