//! The demo as an RFC 7662 introspection server for its own tokens (issue
//! 23): `POST /oauth/introspect` for the callers in `INTROSPECTION_CLIENTS`,
//! named by its discovery document; absent (404) when the variable is unset.
//! The built example over HTTP, as other services would call it.

use super::public::example_process::{Client, Started};
use super::public::{SECRET, demo, login, serving};

const ES256: [(&str, &str); 3] = [
    ("JWT_ALGORITHM", "ES256"),
    ("JWT_PRIVATE_KEY_FILE", "tests/keys/es256_private.pem"),
    ("JWT_PUBLIC_KEY_FILE", "tests/keys/es256_public.pem"),
];

/// `Basic` credentials of `id:secret`.
fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {encoded}")
}

async fn introspect(
    client: &Client,
    base: &str,
    authorization: &str,
    token: &str,
) -> (u16, serde_json::Value) {
    let reply = client
        .send_with(
            "POST",
            &format!("{base}/oauth/introspect"),
            &[("authorization", authorization)],
            Some(&format!("token={token}&token_type_hint=access_token")),
        )
        .await;
    let body = serde_json::from_str(&reply.body).unwrap_or(serde_json::Value::Null);
    (reply.status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_caller_introspects_the_demos_tokens_and_a_logout_makes_them_inactive_at_once()
{
    let mut vars = ES256.to_vec();
    vars.extend([
        ("CSRF_SECRET", SECRET),
        ("INTROSPECTION_CLIENTS", "api:api-secret,other:x"),
    ]);
    let (process, base) = serving(&vars).await;
    let client = Client::new();
    let pair: serde_json::Value =
        serde_json::from_str(&login(&client, &base, "alice", "alice-password").await.body).unwrap();
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    let caller = basic("api", "api-secret");

    let (status, answer) = introspect(&client, &base, &caller, &access).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["sub"], "alice", "{answer}");
    assert!(
        answer["exp"].is_u64() && answer["jti"].is_string(),
        "{answer}"
    );
    let (_, answer) = introspect(&client, &base, &caller, &refresh).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "refresh_token", "{answer}");

    // A caller that fails authentication learns nothing.
    for wrong in [
        basic("api", "wrong"),
        basic("nobody", "api-secret"),
        String::new(),
    ] {
        let (status, answer) = introspect(&client, &base, &wrong, &access).await;
        assert_eq!(status, 401, "{wrong:?}: {answer}");
        assert!(answer.get("active").is_none(), "{answer}");
    }
    // Garbage is inactive, with nothing else said.
    let (status, answer) = introspect(&client, &base, &caller, "not-a-token").await;
    assert_eq!(
        (status, answer),
        (200, serde_json::json!({ "active": false }))
    );

    let logout = client
        .send_with(
            "POST",
            &format!("{base}/auth/logout"),
            &[("authorization", &format!("Bearer {access}"))],
            None,
        )
        .await;
    assert!(logout.status < 300, "{logout:?}");
    let (_, answer) = introspect(&client, &base, &caller, &access).await;
    assert_eq!(
        answer,
        serde_json::json!({ "active": false }),
        "logged out: inactive at once"
    );

    // The discovery document names the endpoint.
    let metadata = client
        .send(
            "GET",
            &format!("{base}/.well-known/openid-configuration"),
            None,
        )
        .await;
    let metadata: serde_json::Value = serde_json::from_str(&metadata.body).unwrap();
    assert_eq!(
        metadata["introspection_endpoint"],
        format!("{base}/oauth/introspect"),
        "{metadata}"
    );
    process.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_introspection_clients_there_is_no_endpoint_and_discovery_names_none() {
    let mut vars = ES256.to_vec();
    vars.push(("CSRF_SECRET", SECRET));
    let (process, base) = serving(&vars).await;
    let client = Client::new();
    let reply = client
        .send("POST", &format!("{base}/oauth/introspect"), Some("token=x"))
        .await;
    assert_eq!(reply.status, 404, "{reply:?}");
    let metadata = client
        .send(
            "GET",
            &format!("{base}/.well-known/openid-configuration"),
            None,
        )
        .await;
    let metadata: serde_json::Value = serde_json::from_str(&metadata.body).unwrap();
    assert!(
        metadata.get("introspection_endpoint").is_none(),
        "{metadata}"
    );
    process.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_introspection_clients_entry_is_a_configuration_error_that_shows_no_secret() {
    let mut vars = ES256.to_vec();
    vars.push((
        "INTROSPECTION_CLIENTS",
        "api:api-secret,only-an-id-topsecret",
    ));
    match demo(&vars).await {
        (Started::Exited(status, output), _) => {
            assert_eq!(status.code(), Some(2), "{output}");
            assert!(output.contains("INTROSPECTION_CLIENTS"), "{output}");
            assert!(
                !output.contains("topsecret") && !output.contains("api-secret"),
                "{output}"
            );
        }
        (Started::Serving(process), _) => {
            let (_, output) = process.terminate().await;
            panic!("served with a malformed INTROSPECTION_CLIENTS:\n{output}")
        }
    }
}

/// A Python that imports `requests`: `$TJA_PYTHON`, else the virtualenv
/// `.ci/run` makes, else `python3`. Missing: skipped, a failure under CI.
fn python_with_requests() -> Option<std::path::PathBuf> {
    let candidates = match std::env::var_os("TJA_PYTHON") {
        Some(path) => vec![std::path::PathBuf::from(path)],
        None => vec![
            std::env::temp_dir().join("tower-jwt-auth-ci/py/bin/python"),
            "python3".into(),
        ],
    };
    let found = candidates.into_iter().find(|python| {
        std::process::Command::new(python)
            .args(["-c", "import requests"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        let ci = std::env::var("CI").unwrap_or_default();
        assert!(
            matches!(ci.trim(), "" | "0") || ci.eq_ignore_ascii_case("false"),
            "CI is set and Python's requests is missing: .ci/run installs it"
        );
        eprintln!("SKIPPED: Python's requests is missing (see .ci/run)");
    }
    found
}

/// The demo's endpoint as an independent client sees it: Python `requests`
/// with HTTP Basic (`auth=(id, secret)`), a form body, its own login and
/// logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_requests_introspects_the_demo_as_rfc_7662_says() {
    let Some(python) = python_with_requests() else {
        return;
    };
    let mut vars = ES256.to_vec();
    vars.extend([
        ("CSRF_SECRET", SECRET),
        ("INTROSPECTION_CLIENTS", "py-client:py-secret"),
    ]);
    let (process, base) = serving(&vars).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/demo/introspect_client.py"
    );
    let output = tokio::process::Command::new(&python)
        .args([script, &base, "py-client", "py-secret"])
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        process.output()
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let access = &report["access"];
    assert_eq!(access["status"], 200, "{report}");
    assert_eq!(access["content_type"], "application/json");
    assert_eq!(access["cache_control"], "no-store");
    let answer = &access["body"];
    assert_eq!(answer["active"], true, "{report}");
    assert_eq!(answer["sub"], "alice");
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["exp"].is_u64() && answer["iat"].is_u64() && answer["jti"].is_string());

    for name in ["refresh", "refresh_without_hint"] {
        let refresh = &report[name];
        assert_eq!(refresh["status"], 200, "{name}: {report}");
        assert_eq!(refresh["body"]["active"], true, "{name}: {report}");
        assert_eq!(refresh["body"]["token_type"], "refresh_token", "{name}");
    }
    for name in ["bad_secret", "no_auth"] {
        let refused = &report[name];
        assert_eq!(refused["status"], 401, "{name}: {report}");
        assert!(
            refused["www_authenticate"]
                .as_str()
                .is_some_and(|c| c.starts_with("Basic")),
            "{name}: {report}"
        );
        assert!(refused["body"].get("active").is_none(), "{name}");
    }
    assert_eq!(
        report["garbage"]["body"],
        serde_json::json!({ "active": false })
    );
    assert!(report["logout_status"].as_u64().unwrap() < 300, "{report}");
    assert_eq!(report["after_logout"]["status"], 200);
    assert_eq!(
        report["after_logout"]["body"],
        serde_json::json!({ "active": false }),
        "logged out: inactive at once"
    );
    process.terminate().await;
}
