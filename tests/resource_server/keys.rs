//! Remote keys through the example: an issuer that comes up after the
//! server, a key the issuer adds, and `JWKS_MIN_REFRESH_SECS` bounding the
//! refetches unknown `kid`s may cause.

use serde_json::{Value, json};

use crate::support::{self, Issuer, Server};

const ISSUER: &str = "https://issuer.example.com";

/// Three ES256 keys and one token signed by each (kid = key name).
fn fixture(python: &std::path::Path, iss: &str) -> Value {
    let keys: Vec<Value> = ["k1", "k2", "k3"]
        .iter()
        .map(|kid| json!({ "kid": kid, "alg": "ES256" }))
        .collect();
    let tokens: Vec<Value> = ["k1", "k2", "k3"]
        .iter()
        .map(|kid| {
            json!({ "name": kid, "key": kid, "claims": { "iss": iss, "sub": kid },
                    "exp_in": 300 })
        })
        .collect();
    support::mint(python, json!({ "keys": keys, "tokens": tokens }))
}

fn token<'a>(minted: &'a Value, kid: &str) -> &'a str {
    minted["tokens"][kid].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_comes_up_after_the_server_is_used_once_its_keys_arrive() {
    let Some(python) = support::python(&["jwt", "cryptography"]) else {
        return;
    };
    let port = support::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let minted = fixture(&python, &url);
    let mut server = Server::start(&[
        ("OIDC_ISSUER", &url),
        ("RUST_LOG", "info,tower_jwt_auth::jwks=debug"),
    ])
    .await;
    let reply = server.get("/me", Some(token(&minted, "k1"))).await;
    assert_eq!(reply.status, 503, "{reply:?}");

    let _issuer = Issuer::start_on(port, vec![minted["jwks"]["k1"].clone()]).await;
    // The key set retries with backoff; its log says when it has fetched
    // (the line is written just before the set is swapped in, so a request
    // may still come a moment early: a few tries, no sleeps).
    server.wait_for_log("JWK Set fetched").await;
    let mut status = 503;
    for _ in 0..5 {
        status = server.get("/me", Some(token(&minted, "k1"))).await.status;
        if status != 503 {
            break;
        }
    }
    assert_eq!(status, 200, "{}", server.output());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_issuer_adds_verifies_at_once_and_refetches_are_bounded_by_min_refresh() {
    let Some(python) = support::python(&["jwt", "cryptography"]) else {
        return;
    };
    let minted = fixture(&python, ISSUER);
    let issuer = Issuer::start(vec![minted["jwks"]["k1"].clone()]).await;
    let server = Server::start(&[
        ("JWKS_URL", &issuer.jwks_url()),
        ("JWT_ISSUER", ISSUER),
        ("JWKS_MIN_REFRESH_SECS", "3600"),
    ])
    .await;
    assert_eq!(
        server.get("/me", Some(token(&minted, "k1"))).await.status,
        200
    );

    // k2 is published after the server fetched: its first token makes the
    // one refetch allowed, on that same request.
    issuer.set_keys(vec![
        minted["jwks"]["k1"].clone(),
        minted["jwks"]["k2"].clone(),
    ]);
    let me = server.get("/me", Some(token(&minted, "k2"))).await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    assert_eq!(me.json()["sub"], "k2");

    // k3 comes within the hour JWKS_MIN_REFRESH_SECS allows no refetch in.
    issuer.set_keys(
        ["k1", "k2", "k3"]
            .iter()
            .map(|kid| minted["jwks"][kid].clone())
            .collect(),
    );
    server
        .get("/me", Some(token(&minted, "k3")))
        .await
        .assert_invalid_token();
    assert_eq!(
        server.get("/me", Some(token(&minted, "k2"))).await.status,
        200
    );
}
