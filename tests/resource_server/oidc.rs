//! (a) A real OpenID provider: node's `oidc-provider` issues RFC 9068 JWT
//! access tokens by `client_credentials` with a resource indicator; the
//! example finds its keys by discovery (`OIDC_ISSUER`) and verifies them
//! under `JWT_PROFILE=rfc9068`.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::{self, PROCESS_DEADLINE, Server};

const API: &str = "urn:tower-jwt-auth:api";
const OTHER_API: &str = "urn:tower-jwt-auth:other";
const CLIENT_ID: &str = "resource-server-test";

/// The provider process (ended when dropped) and its issuer URL.
struct Provider {
    _child: Child,
    issuer: String,
}

impl Provider {
    /// Starts `oidc_provider.mjs`, signing with `jwks` (private keys) when
    /// given, else with the provider's own development keys.
    async fn start(modules: &std::path::Path, jwks: Option<&Value>) -> Provider {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/resource_server/oidc_provider.mjs"
        );
        let mut command = Command::new("node");
        command
            .arg(script)
            .arg(modules)
            .env("NODE_ENV", "development")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Its start-up warnings (development keys and store, Node 20
            // rather than 22) are expected; they are shown if it fails.
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(jwks) = jwks {
            command.env("PROVIDER_JWKS", jwks.to_string());
        }
        let mut child = command.spawn().expect("node starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(PROCESS_DEADLINE, lines.next_line())
            .await
            .expect("oidc-provider starts")
            .unwrap();
        let Some(line) = line else {
            let mut stderr = String::new();
            use tokio::io::AsyncReadExt as _;
            let _ = child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .await;
            panic!("oidc-provider exited before serving: {stderr}");
        };
        let issuer = line
            .strip_prefix("ready ")
            .expect("a ready line")
            .to_owned();
        Provider {
            _child: child,
            issuer,
        }
    }

    /// A `client_credentials` token for `resource` with `scope`.
    async fn token(&self, resource: &str, scope: &str) -> String {
        let encode = |s: &str| s.replace(':', "%3A").replace(' ', "+");
        let body = format!(
            "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret=resource-server-test-secret&resource={}&scope={}",
            encode(resource),
            encode(scope)
        );
        let response = support::client()
            .post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("the provider answers");
        assert_eq!(response.status(), 200);
        let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        answer["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }
}

fn setup() -> Option<std::path::PathBuf> {
    support::oidc_provider_modules()
}

async fn resource_server(issuer: &str) -> Server {
    Server::start(&[
        ("OIDC_ISSUER", issuer),
        ("JWT_AUDIENCE", API),
        ("JWT_PROFILE", "rfc9068"),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_access_tokens_verify_through_discovery_under_rfc9068() {
    let Some(modules) = setup() else { return };
    let provider = Provider::start(&modules, None).await;
    let server = resource_server(&provider.issuer).await;
    let token = provider.token(API, "read:ping").await;

    let me = server.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    let me = me.json();
    assert_eq!(me["sub"], CLIENT_ID);
    assert_eq!(me["client_id"], CLIENT_ID);
    assert_eq!(me["iss"], provider.issuer);
    assert_eq!(me["aud"], API);
    assert_eq!(me["scope"], "read:ping");
    assert!(me["jti"].is_string() && me["iat"].is_number());

    let ping = server.get("/protected/ping", Some(&token)).await;
    assert_eq!((ping.status, ping.body.as_str()), (200, "pong"));
    assert_eq!(server.get("/scoped", Some(&token)).await.status, 200);
    assert_eq!(server.get("/health", None).await.status, 200);
    let anonymous = server.get("/protected/ping", None).await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").starts_with("Bearer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_token_without_the_scope_gets_403_insufficient_scope() {
    let Some(modules) = setup() else { return };
    let provider = Provider::start(&modules, None).await;
    let server = resource_server(&provider.issuer).await;
    let token = provider.token(API, "write:ping").await;

    assert_eq!(
        server.get("/protected/ping", Some(&token)).await.status,
        200
    );
    let scoped = server.get("/scoped", Some(&token)).await;
    assert_eq!(scoped.status, 403, "{scoped:?}");
    let challenge = scoped.header("www-authenticate");
    assert!(
        challenge.starts_with(r#"Bearer error="insufficient_scope""#),
        "{challenge}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_token_for_another_resource_is_refused() {
    let Some(modules) = setup() else { return };
    let provider = Provider::start(&modules, None).await;
    let server = resource_server(&provider.issuer).await;
    let token = provider.token(OTHER_API, "read:ping").await;

    server.get("/me", Some(&token)).await.assert_invalid_token();
    server
        .get("/scoped", Some(&token))
        .await
        .assert_invalid_token();
}

/// An ID-token-shaped token — every claim RFC 9068 asks for, signed by the
/// provider's own key, but `typ: JWT` — is not an access token
/// (RFC 8725 §3.11), while the provider's own `at+jwt` tokens are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_by_the_provider_key_without_at_jwt_typ_is_refused() {
    let Some(modules) = setup() else { return };
    let Some(python) = support::python(&["jwt", "cryptography"]) else {
        return;
    };
    let minted = support::mint(
        &python,
        json!({ "keys": [{ "kid": "provider-key", "alg": "RS256" }] }),
    );
    let private = json!({ "keys": [minted["private_jwks"]["provider-key"]] });
    let provider = Provider::start(&modules, Some(&private)).await;
    let server = resource_server(&provider.issuer).await;

    // The provider's own token, signed by the key the test holds too.
    let token = provider.token(API, "read:ping").await;
    let me = server.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());

    let claims = json!({
        "iss": provider.issuer, "sub": CLIENT_ID, "aud": API, "client_id": CLIENT_ID,
        "jti": "id-token-shaped", "scope": "read:ping",
    });
    let jwk = &minted["private_jwks"]["provider-key"];
    let tokens = support::mint(
        &python,
        json!({ "tokens": [
            { "name": "id", "jwk": jwk, "claims": claims, "headers": { "typ": "JWT" },
              "exp_in": 300, "iat_now": true },
            { "name": "at", "jwk": jwk, "claims": claims, "headers": { "typ": "at+jwt" },
              "exp_in": 300, "iat_now": true },
        ]}),
    );
    let id_token_shaped = tokens["tokens"]["id"].as_str().unwrap();
    server
        .get("/me", Some(id_token_shaped))
        .await
        .assert_invalid_token();
    let at_jwt = tokens["tokens"]["at"].as_str().unwrap();
    assert_eq!(server.get("/me", Some(at_jwt)).await.status, 200);
}
