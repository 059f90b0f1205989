//! Sender-constrained tokens through the built example (issue 22): DPoP-bound
//! tokens (`DPOP`, `PUBLIC_URL`, `DPOP_NONCE`, `REDIS_URL` sharing the replay
//! store) and certificate-bound tokens (RFC 8705) over HTTPS with client
//! certificates from the connection (`TLS_CERT_FILE`, `TLS_KEY_FILE`,
//! `TLS_CLIENT_CA_FILE`) or from a proxy's header (`CLIENT_CERT_HEADER`).

#[path = "../support/dpop_client.rs"]
pub(super) mod dpop_client;
#[path = "../support/test_ca.rs"]
pub(super) mod test_ca;

use dpop_client::{ProofKey, now};
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};
use tower_jwt_auth::Algorithm;
use tower_jwt_auth::mtls::ClientCertificate;

use crate::support::{Server, client};

const SECRET: &str = "resource-server-dpop-test-secret-32b+";
const ISSUER: &str = "https://issuer.example.test";

fn local(extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("JWT_SECRET", SECRET.to_owned()),
        ("JWT_ISSUER", ISSUER.to_owned()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    vars
}

async fn start(vars: &[(&'static str, String)]) -> Server {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(&vars).await
}

/// A token of the local issuer with `cnf` when given.
fn token(cnf: Option<Value>) -> String {
    let mut claims =
        json!({"iss": ISSUER, "sub": "alice", "exp": now() + 300, "jti": format!("t-{}", now())});
    if let Some(cnf) = cnf {
        claims["cnf"] = cnf;
    }
    dpop_client::sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims,
    )
}

/// `GET url` with these headers: status, `WWW-Authenticate` values joined,
/// `DPoP-Nonce`, body.
async fn get(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String, String) {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let challenges: Vec<String> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        challenges.join(" | "),
        nonce,
        response.text().await.unwrap(),
    )
}

async fn dpop_get(
    server: &Server,
    htu: &str,
    token: &str,
    key: &ProofKey,
    nonce: Option<&str>,
) -> (u16, String, String, String) {
    let proof = key.proof("GET", htu, Some(token), nonce);
    let authorization = format!("DPoP {token}");
    get(
        client(),
        &format!("{}/me", server.base),
        &[("authorization", &authorization), ("dpop", &proof)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_bound_token_works_only_with_a_fresh_proof_of_its_key() {
    let server = start(&local(&[])).await;
    let key = ProofKey::es256();
    let bound = token(Some(json!({"jkt": key.jkt})));
    let htu = format!("{}/me", server.base);
    assert_eq!(dpop_get(&server, &htu, &bound, &key, None).await.0, 200);
    assert_eq!(
        dpop_get(&server, &htu, &bound, &ProofKey::ed25519(), None)
            .await
            .0,
        401
    );
    let (status, challenges, _, _) = get(
        client(),
        &htu,
        &[("authorization", &format!("Bearer {bound}"))],
    )
    .await;
    assert_eq!(status, 401);
    assert!(challenges.contains("DPoP algs="), "{challenges}");
    // The same proof twice: a replay.
    let proof = key.proof("GET", &htu, Some(&bound), None);
    let headers = [("authorization", format!("DPoP {bound}")), ("dpop", proof)];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(get(client(), &htu, &headers).await.0, 200);
    let (status, challenges, _, _) = get(client(), &htu, &headers).await;
    assert_eq!(status, 401);
    assert!(challenges.contains("invalid_dpop_proof"), "{challenges}");
    // Bearer tokens still work in the default mode.
    let plain = token(None);
    assert_eq!(server.get("/me", Some(&plain)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_url_nonces_and_required_mode_through_the_environment() {
    let server = start(&local(&[
        ("DPOP", "required"),
        ("PUBLIC_URL", "https://api.example.test/v1"),
        ("DPOP_NONCE", "1"),
        ("RESOURCE_METADATA", "1"),
    ]))
    .await;
    let key = ProofKey::es256();
    let bound = token(Some(json!({"jkt": key.jkt})));
    let htu = "https://api.example.test/v1/me";
    let (status, challenges, nonce, _) = dpop_get(&server, htu, &bound, &key, None).await;
    assert_eq!(status, 401);
    assert!(challenges.contains("use_dpop_nonce"), "{challenges}");
    assert!(!nonce.is_empty());
    assert_eq!(
        dpop_get(&server, htu, &bound, &key, Some(&nonce)).await.0,
        200
    );
    let local_htu = format!("{}/me", server.base);
    assert_eq!(
        dpop_get(&server, &local_htu, &bound, &key, Some(&nonce))
            .await
            .0,
        401
    );
    // Required: a bearer token is refused, and only DPoP is offered.
    let (status, challenges, _, _) = get(
        client(),
        &local_htu,
        &[("authorization", &format!("Bearer {}", token(None)))],
    )
    .await;
    assert_eq!(status, 401);
    assert!(challenges.starts_with("DPoP "), "{challenges}");
    let metadata: Value = client()
        .get(format!(
            "{}/.well-known/oauth-protected-resource",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["dpop_bound_access_tokens_required"], true,
        "{metadata}"
    );
    assert!(
        metadata["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    // The resource is named by the origin clients use, not the bound address.
    assert_eq!(
        metadata["resource"], "https://api.example.test/v1",
        "{metadata}"
    );
    assert!(
        challenges.contains(
            "resource_metadata=\"https://api.example.test/v1/.well-known/oauth-protected-resource\""
        ),
        "{challenges}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_off_reads_no_dpop_scheme() {
    let server = start(&local(&[("DPOP", "off")])).await;
    let key = ProofKey::es256();
    let bound = token(Some(json!({"jkt": key.jkt})));
    let htu = format!("{}/me", server.base);
    let (status, challenges, _, _) = dpop_get(&server, &htu, &bound, &key, None).await;
    assert_eq!(status, 401);
    assert!(!challenges.contains("DPoP"), "{challenges}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_redis_refuse_a_proof_used_on_the_other() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let vars = local(&[
        ("REDIS_URL", &url),
        ("PUBLIC_URL", "https://lb.example.test"),
    ]);
    let (one, two) = (start(&vars).await, start(&vars).await);
    let key = ProofKey::es256();
    let bound = token(Some(json!({"jkt": key.jkt})));
    let htu = "https://lb.example.test/me";
    let proof = key.proof("GET", htu, Some(&bound), None);
    let authorization = format!("DPoP {bound}");
    let headers = [
        ("authorization", authorization.as_str()),
        ("dpop", proof.as_str()),
    ];
    assert_eq!(
        get(client(), &format!("{}/me", one.base), &headers).await.0,
        200
    );
    let (status, challenges, _, _) = get(client(), &format!("{}/me", two.base), &headers).await;
    assert_eq!(status, 401);
    assert!(challenges.contains("invalid_dpop_proof"), "{challenges}");
    assert_eq!(dpop_get(&two, htu, &bound, &key, None).await.0, 200);
}

/// The shared Redis (`REDIS_URL`, else the local one), if it answers.
fn shared_redis_url() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let address = url
        .trim_start_matches("redis://")
        .split(['/', '?'])
        .next()?
        .to_owned();
    match std::net::TcpStream::connect(&address) {
        Ok(_) => Some(url),
        Err(error) => crate::support::missing(&format!("no Redis at {address} ({error})")),
    }
}

/// An HTTPS client trusting `ca`, presenting `identity` when given.
pub(super) fn tls_client(
    ca: &test_ca::TestCa,
    identity: Option<&(String, String)>,
) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.ca_pem()).unwrap());
    if let Some((cert, key)) = identity {
        let pem = format!("{cert}{key}");
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

fn x5t(cert_pem: &str) -> String {
    ClientCertificate::from_pem(cert_pem.as_bytes())
        .unwrap()
        .thumbprint()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_bound_token_works_only_over_a_connection_with_its_certificate() {
    let ca = test_ca::TestCa::generate();
    let server = start(&local(&[
        ("TLS_CERT_FILE", ca.cert_file().to_str().unwrap()),
        ("TLS_KEY_FILE", ca.key_file().to_str().unwrap()),
        ("TLS_CLIENT_CA_FILE", ca.ca_file().to_str().unwrap()),
    ]))
    .await;
    let base = server.base.replace("http://", "https://");
    let mine = ca.client_certificate("client one");
    let other = ca.client_certificate("client two");
    let bound = token(Some(json!({"x5t#S256": x5t(&mine.0)})));
    let bearer = format!("Bearer {bound}");
    let headers = [("authorization", bearer.as_str())];
    let url = format!("{base}/me");
    assert_eq!(
        get(&tls_client(&ca, Some(&mine)), &url, &headers).await.0,
        200
    );
    assert_eq!(
        get(&tls_client(&ca, Some(&other)), &url, &headers).await.0,
        401
    );
    assert_eq!(get(&tls_client(&ca, None), &url, &headers).await.0, 401);
    // A client without a certificate is still served (requested, not required).
    let plain = format!("Bearer {}", token(None));
    assert_eq!(
        get(&tls_client(&ca, None), &url, &[("authorization", &plain)])
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_cert_header_takes_the_proxys_certificate() {
    let ca = test_ca::TestCa::generate();
    let server = start(&local(&[("CLIENT_CERT_HEADER", "x-client-cert")])).await;
    let mine = ca.client_certificate("client one");
    let other = ca.client_certificate("client two");
    let bound = token(Some(json!({"x5t#S256": x5t(&mine.0)})));
    let bearer = format!("Bearer {bound}");
    let escape = |pem: &str| {
        url::form_urlencoded::byte_serialize(pem.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let url = format!("{}/me", server.base);
    for (cert, expected) in [(escape(&mine.0), 200), (escape(&other.0), 401)] {
        let headers = [
            ("authorization", bearer.as_str()),
            ("x-client-cert", cert.as_str()),
        ];
        assert_eq!(get(client(), &url, &headers).await.0, expected);
    }
    assert_eq!(
        get(client(), &url, &[("authorization", bearer.as_str())])
            .await
            .0,
        401
    );
}
