//! The demo's DPoP contract (issue 22), over HTTP against the built example:
//! `DPOP`, `PUBLIC_URL`, `DPOP_NONCE`, `DPOP_MAX_AGE_SECS`, and `REDIS_URL`
//! sharing the proof replay store. `POST /auth/login` and `/auth/refresh`
//! with a `DPoP` proof mint bound tokens (`"token_type": "DPoP"`); the
//! protected routes take `Authorization: DPoP` with a proof.

#[path = "../support/dpop_client.rs"]
mod dpop_client;
#[path = "../support/redis_server.rs"]
pub(crate) mod redis_server;

use dpop_client::{ProofKey, payload};
use serde_json::{Value, json};

use super::public::example_process::{Client, Reply};
use super::public::{SECRET, serving};

fn vars<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars = vec![("JWT_SECRET", SECRET), ("CSRF_SECRET", SECRET)];
    vars.extend_from_slice(extra);
    vars
}

fn body(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or(Value::Null)
}

async fn login(client: &Client, base: &str, proof: Option<&str>) -> Reply {
    let body = json!({"username": "alice", "password": "alice-password"}).to_string();
    let headers: Vec<(&str, &str)> = proof.map(|p| ("dpop", p)).into_iter().collect();
    client
        .send_with("POST", &format!("{base}/auth/login"), &headers, Some(&body))
        .await
}

async fn refresh(client: &Client, base: &str, token: &str, proof: Option<&str>) -> Reply {
    let body = json!({ "refresh_token": token }).to_string();
    let headers: Vec<(&str, &str)> = proof.map(|p| ("dpop", p)).into_iter().collect();
    client
        .send_with(
            "POST",
            &format!("{base}/auth/refresh"),
            &headers,
            Some(&body),
        )
        .await
}

async fn me(client: &Client, base: &str, authorization: &str, proof: Option<&str>) -> Reply {
    let mut headers = vec![("authorization", authorization)];
    if let Some(proof) = proof {
        headers.push(("dpop", proof));
    }
    client
        .send_with("GET", &format!("{base}/me"), &headers, None)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refresh_and_requests_with_proofs_are_bound_to_the_clients_key() {
    let (_process, base) = serving(&vars(&[])).await;
    let client = Client::new();
    let key = ProofKey::es256();
    let proof = key.proof("POST", &format!("{base}/auth/login"), None, None);
    let reply = login(&client, &base, Some(&proof)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let pair = body(&reply);
    assert_eq!(pair["token_type"], "DPoP");
    let access = pair["access_token"].as_str().unwrap();
    let refresh_token = pair["refresh_token"].as_str().unwrap();
    assert_eq!(payload(access)["cnf"]["jkt"], key.jkt.as_str());

    let htu = format!("{base}/me");
    let ok = me(
        &client,
        &base,
        &format!("DPoP {access}"),
        Some(&key.proof("GET", &htu, Some(access), None)),
    )
    .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    // A copied token without its key: as Bearer, or with another key's proof.
    let bearer = me(&client, &base, &format!("Bearer {access}"), None).await;
    assert_eq!(bearer.status, 401, "{bearer:?}");
    let thief = ProofKey::es256_other();
    let stolen = me(
        &client,
        &base,
        &format!("DPoP {access}"),
        Some(&thief.proof("GET", &htu, Some(access), None)),
    )
    .await;
    assert_eq!(stolen.status, 401, "{stolen:?}");

    let refresh_htu = format!("{base}/auth/refresh");
    let no_proof = refresh(&client, &base, refresh_token, None).await;
    assert_eq!(no_proof.status, 400, "{no_proof:?}");
    assert_eq!(body(&no_proof)["error"], "invalid_dpop_proof");
    let wrong = refresh(
        &client,
        &base,
        refresh_token,
        Some(&thief.proof("POST", &refresh_htu, None, None)),
    )
    .await;
    assert_eq!(wrong.status, 400, "{wrong:?}");
    let next = refresh(
        &client,
        &base,
        refresh_token,
        Some(&key.proof("POST", &refresh_htu, None, None)),
    )
    .await;
    assert_eq!(next.status, 200, "{next:?}");
    let next = body(&next);
    assert_eq!(next["token_type"], "DPoP");
    assert_eq!(
        payload(next["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.jkt.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_url_names_the_htu_and_nonces_are_asked_for_then_accepted() {
    let (_process, base) = serving(&vars(&[
        ("PUBLIC_URL", "https://demo.example.test/app"),
        ("DPOP_NONCE", "1"),
        ("DPOP_NONCE_SECRET", SECRET),
    ]))
    .await;
    let client = Client::new();
    let key = ProofKey::es256();
    let htu = "https://demo.example.test/app/auth/login";
    let first = login(&client, &base, Some(&key.proof("POST", htu, None, None))).await;
    assert_eq!(first.status, 400, "{first:?}");
    assert_eq!(body(&first)["error"], "use_dpop_nonce");
    let nonce = first.header("dpop-nonce").to_owned();
    assert!(!nonce.is_empty(), "{first:?}");
    // The local URL is not the public one.
    let local = login(
        &client,
        &base,
        Some(&key.proof("POST", &format!("{base}/auth/login"), None, Some(&nonce))),
    )
    .await;
    assert_eq!(local.status, 400, "{local:?}");
    assert_eq!(body(&local)["error"], "invalid_dpop_proof");
    let retry = login(
        &client,
        &base,
        Some(&key.proof("POST", htu, None, Some(&nonce))),
    )
    .await;
    assert_eq!(retry.status, 200, "{retry:?}");
    assert_eq!(body(&retry)["token_type"], "DPoP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_refuses_logins_without_a_proof_and_off_mints_bearer_tokens() {
    let key = ProofKey::es256();
    let client = Client::new();
    let (_required, base) = serving(&vars(&[("DPOP", "required")])).await;
    let refused = login(&client, &base, None).await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert_eq!(body(&refused)["error"], "invalid_dpop_proof");
    let proof = key.proof("POST", &format!("{base}/auth/login"), None, None);
    let pair = body(&login(&client, &base, Some(&proof)).await);
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let unbound_bearer = me(&client, &base, &format!("Bearer {access}"), None).await;
    assert_eq!(unbound_bearer.status, 401);

    let (_off, base) = serving(&vars(&[("DPOP", "off")])).await;
    let proof = key.proof("POST", &format!("{base}/auth/login"), None, None);
    let pair = body(&login(&client, &base, Some(&proof)).await);
    assert_eq!(pair["token_type"], "Bearer", "{pair}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_proof_is_refused_after_dpop_max_age_secs() {
    let (_process, base) = serving(&vars(&[("DPOP_MAX_AGE_SECS", "2")])).await;
    let client = Client::new();
    // A proof issued 30 s ago: outside a 2 s window, inside the default 60 s.
    let key = ProofKey::es256();
    let stale = key.proof_at(
        "POST",
        &format!("{base}/auth/login"),
        dpop_client::now() - 30,
    );
    let fresh = key.proof("POST", &format!("{base}/auth/login"), None, None);
    assert_eq!(login(&client, &base, Some(&fresh)).await.status, 200);
    let reply = login(&client, &base, Some(&stale)).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(body(&reply)["error"], "invalid_dpop_proof");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_demos_on_one_redis_refuse_a_login_proof_used_on_the_other() {
    let Some(url) = redis_server::shared_redis_url() else {
        return;
    };
    // One public URL for both, as behind one load balancer.
    let shared = vars(&[
        ("REDIS_URL", &url),
        ("PUBLIC_URL", "http://lb.example.test"),
    ]);
    let (_one, one) = serving(&shared).await;
    let (_two, two) = serving(&shared).await;
    let client = Client::new();
    let key = ProofKey::es256();
    let htu = "http://lb.example.test/auth/login";
    let proof = key.proof("POST", htu, None, None);
    let first = login(&client, &one, Some(&proof)).await;
    assert_eq!(first.status, 200, "{first:?}");
    let replayed = login(&client, &two, Some(&proof)).await;
    assert_eq!(replayed.status, 400, "{replayed:?}");
    assert_eq!(body(&replayed)["error"], "invalid_dpop_proof");
    let fresh = login(&client, &two, Some(&key.proof("POST", htu, None, None))).await;
    assert_eq!(fresh.status, 200, "{fresh:?}");
}

/// The `node_modules` holding `openid-client` (`$TJA_NODE_MODULES`, else
/// where `.ci/run` puts it), with `node` on the PATH; `None` (skipped)
/// outside CI when missing.
fn openid_client_modules() -> Option<std::path::PathBuf> {
    let modules = std::env::var_os("TJA_NODE_MODULES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tower-jwt-auth-ci/node/node_modules"));
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if node && modules.join("openid-client/package.json").is_file() {
        return Some(modules);
    }
    assert!(
        !redis_server::ci::in_ci(),
        "CI is set and node or openid-client is missing in {}",
        modules.display()
    );
    eprintln!(
        "skipped: node or openid-client missing in {}",
        modules.display()
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_logs_in_refreshes_and_calls_with_its_own_proofs_and_a_copy_fails() {
    let Some(modules) = openid_client_modules() else {
        return;
    };
    // Nonces on: openid-client must answer use_dpop_nonce by itself, at the
    // token endpoints (400) and at the protected route (401).
    let (process, base) =
        serving(&vars(&[("DPOP_NONCE", "1"), ("DPOP_NONCE_SECRET", SECRET)])).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/demo/openid_client_dpop.mjs"
    );
    let output = tokio::process::Command::new("node")
        .arg(script)
        .arg(&modules)
        .arg(&base)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{stdout}\n{stderr}\n{}",
        process.output()
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["login"]["token_type"], "dpop", "{result}");
    assert_eq!(result["refresh"]["token_type"], "dpop", "{result}");
    let login_jkt =
        payload(result["login"]["access_token"].as_str().unwrap())["cnf"]["jkt"].clone();
    let refresh_jkt =
        payload(result["refresh"]["access_token"].as_str().unwrap())["cnf"]["jkt"].clone();
    assert!(
        login_jkt.is_string() && login_jkt == refresh_jkt,
        "{result}"
    );
    assert_eq!(result["own"]["status"], 200, "{result}");
    assert_eq!(result["own"]["body"]["sub"], "alice", "{result}");
    assert_eq!(result["other_key"]["status"], 401, "{result}");
    assert_eq!(result["bearer"]["status"], 401, "{result}");
    assert_eq!(result["stolen_refresh"]["status"], 400, "{result}");
    assert_eq!(
        result["stolen_refresh"]["error"], "invalid_dpop_proof",
        "{result}"
    );
}
