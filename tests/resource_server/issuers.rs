//! (c) Two issuers at once, each verified against its own keys only;
//! (d) startup: a discovery mix-up is fatal and names both issuers, an
//! unreachable issuer is not (503 + `Retry-After`), SIGTERM shuts down
//! cleanly, and configuration errors exit with status 2.

use serde_json::{Value, json};

use crate::support::{self, Issuer, Server};

fn token(minted: &Value, name: &str) -> String {
    minted["tokens"][name]
        .as_str()
        .unwrap_or_else(|| panic!("no token {name}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_issuers_each_verify_their_own_tokens_and_never_each_others() {
    let Some(python) = support::python(&["jwt", "cryptography"]) else {
        return;
    };
    // The ports first: the tokens name the issuers.
    let a = Issuer::start(Vec::new()).await;
    let b = Issuer::start(Vec::new()).await;
    let claims = |iss: &str, aud: &str, sub: &str| json!({ "iss": iss, "aud": aud, "sub": sub });
    let signed = |name: &str, key: &str, claims: Value, kid: &str| {
        json!({ "name": name, "key": key, "claims": claims, "headers": { "kid": kid },
                "exp_in": 300 })
    };
    let minted = support::mint(
        &python,
        json!({
            "keys": [{ "kid": "a-key", "alg": "ES256" }, { "kid": "b-key", "alg": "RS256" }],
            "tokens": [
                signed("a", "a-key", claims(&a.url, "api-a", "from-a"), "a-key"),
                signed("b", "b-key", claims(&b.url, "api-b", "from-b"), "b-key"),
                // Claims issuer A, signed by B's key (under either kid).
                signed("a-by-b", "b-key", claims(&a.url, "api-a", "mallory"), "b-key"),
                signed("a-by-b-as-a", "b-key", claims(&a.url, "api-a", "mallory"), "a-key"),
                // B's token for A's audience.
                signed("b-for-a", "b-key", claims(&b.url, "api-a", "from-b"), "b-key"),
                signed("unknown-iss", "a-key", claims("http://127.0.0.1:1", "api-a", "x"), "a-key"),
                signed("no-iss", "a-key", json!({ "aud": "api-a", "sub": "x" }), "a-key"),
            ],
        }),
    );
    a.set_keys(vec![minted["jwks"]["a-key"].clone()]);
    b.set_keys(vec![minted["jwks"]["b-key"].clone()]);
    let server = Server::start(&[
        ("OIDC_ISSUER", &a.url),
        ("JWT_AUDIENCE", "api-a"),
        ("OIDC_ISSUER_2", &b.url),
        ("JWT_AUDIENCE_2", "api-b"),
    ])
    .await;

    let me = server.get("/me", Some(&token(&minted, "a"))).await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    assert_eq!(me.json()["sub"], "from-a");
    let me = server.get("/me", Some(&token(&minted, "b"))).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.json()["sub"], "from-b");
    for refused in ["a-by-b", "a-by-b-as-a", "b-for-a", "unknown-iss", "no-iss"] {
        server
            .get("/me", Some(&token(&minted, refused)))
            .await
            .assert_invalid_token();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovery_document_naming_another_issuer_exits_non_zero_naming_both() {
    let issuer = Issuer::start(Vec::new()).await;
    let impostor = format!("{}/realms/other", issuer.url);
    issuer.document_names(&impostor);
    let (status, output) =
        Server::run_to_exit(&[("OIDC_ISSUER", &issuer.url), ("JWT_AUDIENCE", "api")]).await;
    assert!(!status.success(), "{status:?}: {output}");
    assert!(output.contains(&format!("`{}`", issuer.url)), "{output}");
    assert!(output.contains(&format!("`{impostor}`")), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_issuer_mix_up_is_as_fatal_as_the_first() {
    let good = Issuer::start(Vec::new()).await;
    let mixed = Issuer::start(Vec::new()).await;
    mixed.document_names(&good.url);
    let (status, output) =
        Server::run_to_exit(&[("OIDC_ISSUER", &good.url), ("OIDC_ISSUER_2", &mixed.url)]).await;
    assert!(!status.success(), "{output}");
    assert!(output.contains(&format!("`{}`", mixed.url)), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_issuer_starts_anyway_with_503_and_retry_after_then_sigterm_exits_cleanly() {
    // A port nothing listens on.
    let issuer = format!("http://127.0.0.1:{}", support::free_port());
    let server = Server::start(&[("OIDC_ISSUER", &issuer), ("JWT_AUDIENCE", "api")]).await;

    assert_eq!(server.get("/health", None).await.status, 200);
    // Any credential: whether it is good cannot be known without keys.
    let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.c2ln";
    let reply = server.get("/protected/ping", Some(token)).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(
        reply.header("retry-after").parse::<u64>().is_ok(),
        "{reply:?}"
    );
    assert!(
        !reply.body.contains("127.0.0.1"),
        "no internals in the body"
    );
    // No credential at all is still a plain 401.
    assert_eq!(server.get("/protected/ping", None).await.status, 401);

    let status = server.terminate().await;
    assert!(status.success(), "SIGTERM: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_exit_with_status_2_and_say_which_variable() {
    for (vars, variable) in [
        (vec![("JWT_PROFILE", "own")], "JWT_PROFILE"),
        (
            vec![
                ("OIDC_ISSUER", "https://a.example.com"),
                ("JWKS_URL", "https://a.example.com/jwks"),
            ],
            "JWKS_URL",
        ),
        (vec![("JWT_TYPE_ACCESS", "access")], "JWT_TYPE_CLAIM"),
        (vec![("JWT_SUBJECT_CLAIM", "exp")], "JWT_SUBJECT_CLAIM"),
        (vec![("JWKS_MAX_AGE_SECS", "soon")], "JWKS_MAX_AGE_SECS"),
        (vec![("JWT_ALGORITHM", "RS256")], "JWT_PUBLIC_KEY_FILE"),
        (
            vec![("OIDC_ISSUER", "http://id.example.com")],
            "id.example.com",
        ),
    ] {
        let (status, output) = Server::run_to_exit(&vars).await;
        assert_eq!(status.code(), Some(2), "{vars:?}: {output}");
        assert!(output.contains(variable), "{vars:?}: {output}");
    }
}

/// Issue 26 item 4: a key set may serve many issuers (Entra ID's `common`
/// keys sign every tenant's tokens), so keys alone say nothing of who issued
/// a token. With `JWKS_URL` the issuer must be named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_url_without_jwt_issuer_exits_with_status_2_naming_jwt_issuer() {
    // A loopback key set that serves nothing: the refusal needs no keys.
    let issuer = Issuer::start(Vec::new()).await;
    for vars in [
        vec![("JWKS_URL", issuer.jwks_url())],
        vec![
            ("JWKS_URL", issuer.jwks_url()),
            ("JWT_AUDIENCE", "api".to_owned()),
        ],
    ] {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, output) = Server::run_to_exit(&vars).await;
        assert_eq!(status.code(), Some(2), "{vars:?}: {output}");
        let line = output
            .lines()
            .find(|l| l.contains("configuration error"))
            .unwrap_or_else(|| panic!("{vars:?}: {output}"));
        assert!(
            line.contains("JWT_ISSUER") && line.contains("JWKS_URL"),
            "{line}"
        );
    }
}

/// SIGTERM the moment the server says it listens: it shuts down cleanly
/// (the handler is installed before that line, not later by axum's task).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_the_moment_it_listens_the_server_shuts_down_cleanly() {
    let server = Server::start(&[("JWT_SECRET", "a-test-secret-of-at-least-32-bytes-long")]).await;
    let status = server.terminate().await;
    assert!(status.success(), "SIGTERM: {status:?}");
}
