//! Real counterparts for sender-constrained tokens (issue 22): node's
//! `oidc-provider` with `features.dPoP` (nonces required) and
//! `features.mTLS.certificateBoundAccessTokens` issues bound tokens
//! (`oidc_provider_dpop.mjs`); node's `openid-client` 6 gets one by
//! client_credentials and calls the example with its own DPoP proofs,
//! answering `use_dpop_nonce` by itself (`openid_client_dpop.mjs`). A copy
//! of the token without its key, or without its certificate, fails.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::process::{Child, Command};
use tower_jwt_auth::mtls::ClientCertificate;

use super::dpop::{dpop_client::payload, test_ca::TestCa, tls_client};
use crate::support::{self, PROCESS_DEADLINE, Server};

const API: &str = "urn:tower-jwt-auth:api";

/// `oidc-provider` and `openid-client` both installed (by `.ci/run`).
fn modules() -> Option<PathBuf> {
    let modules = support::oidc_provider_modules()?;
    if !modules.join("openid-client/package.json").is_file() {
        return support::missing(&format!(
            "openid-client is not installed in {}",
            modules.display()
        ));
    }
    Some(modules)
}

/// The provider (ended when dropped) and its issuer URL.
async fn provider(modules: &Path) -> (Child, String) {
    support::start_node_provider("oidc_provider_dpop", modules).await
}

fn resource_server_vars(issuer: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OIDC_ISSUER", issuer.to_owned()),
        ("JWT_AUDIENCE", API.to_owned()),
        ("JWT_PROFILE", "rfc9068".to_owned()),
    ]
}

async fn start(vars: &[(&'static str, String)]) -> Server {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(&vars).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_uses_an_oidc_provider_dpop_token_at_the_resource_server_only_with_its_key() {
    let Some(modules) = modules() else {
        return;
    };
    let (_provider, issuer) = provider(&modules).await;
    let mut vars = resource_server_vars(&issuer);
    vars.push(("DPOP_NONCE", "1".to_owned()));
    let server = start(&vars).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/resource_server/openid_client_dpop.mjs"
    );
    let output = tokio::time::timeout(
        PROCESS_DEADLINE,
        Command::new("node")
            .arg(script)
            .arg(&modules)
            .arg(&issuer)
            .arg(format!("{}/me", server.base))
            .output(),
    )
    .await
    .expect("openid-client finishes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{stdout}\n{stderr}\n{}",
        server.output()
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["token_type"], "dpop", "{result}");
    let token = result["access_token"].as_str().unwrap();
    assert!(payload(token)["cnf"]["jkt"].is_string(), "{result}");
    // openid-client met the resource server's nonce and retried by itself.
    assert_eq!(
        result["own"]["status"],
        200,
        "{result}\n{}",
        server.output()
    );
    let me: Value = serde_json::from_str(result["own"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(me["client_id"], "dpop-client");
    assert_eq!(result["again"]["status"], 200, "{result}");
    assert_eq!(result["other_key"]["status"], 401, "{result}");
    assert_eq!(result["bearer"]["status"], 401, "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oidc_provider_certificate_bound_token_works_only_over_a_connection_with_its_certificate()
 {
    let Some(modules) = modules() else {
        return;
    };
    let (_provider, issuer) = provider(&modules).await;
    let ca = TestCa::generate();
    let mut vars = resource_server_vars(&issuer);
    vars.extend([
        ("TLS_CERT_FILE", ca.cert_file().display().to_string()),
        ("TLS_KEY_FILE", ca.key_file().display().to_string()),
        ("TLS_CLIENT_CA_FILE", ca.ca_file().display().to_string()),
    ]);
    let server = start(&vars).await;
    let mine = ca.client_certificate("client one");
    let other = ca.client_certificate("client two");

    // The provider's TLS-terminating proxy hands it the client certificate.
    let escaped: String = url::form_urlencoded::byte_serialize(mine.0.as_bytes()).collect();
    let answer: Value = support::client()
        .post(format!("{issuer}/token"))
        .header("x-client-cert", escaped.replace('+', "%20"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "mtls-client"),
            ("client_secret", "mtls-client-secret"),
            ("resource", API),
            ("scope", "read:ping"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"));
    let thumbprint = ClientCertificate::from_pem(mine.0.as_bytes())
        .unwrap()
        .thumbprint();
    assert_eq!(payload(token)["cnf"]["x5t#S256"], thumbprint.as_str());

    let url = format!("{}/me", server.base.replace("http://", "https://"));
    let status = |identity: Option<&(String, String)>| {
        let client = tls_client(&ca, identity);
        let request = client.get(&url).bearer_auth(token).send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!(status(Some(&mine)).await, 200, "{}", server.output());
    assert_eq!(status(Some(&other)).await, 401);
    assert_eq!(status(None).await, 401);
}
