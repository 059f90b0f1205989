//! (issue 23) A real provider's OPAQUE access tokens: node's `oidc-provider`
//! (`oidc_provider_opaque.mjs`) issues them in its default format, and the
//! example introspects them at the endpoint it discovers from `OIDC_ISSUER`;
//! RFC 7009 revocations at the provider, its refresh tokens, and its
//! RFC 9701 JWT answers (`INTROSPECTION_JWT=1`).

use std::time::Duration;

use serde_json::Value;
use tokio::process::Child;

use crate::support::{self, Server};

const API: &str = "urn:tower-jwt-auth:api";
const OTHER_API: &str = "urn:tower-jwt-auth:other";

/// The provider process (ended when dropped) and its issuer URL.
pub struct Provider {
    _child: Child,
    pub issuer: String,
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Provider {
    pub async fn start(modules: &std::path::Path) -> Provider {
        let (child, issuer) = support::start_node_provider("oidc_provider_opaque", modules).await;
        Provider {
            _child: child,
            issuer,
        }
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let body: Vec<String> = form
            .iter()
            .map(|(n, v)| format!("{n}={}", encode(v)))
            .collect();
        let response = support::client()
            .post(format!("{}{path}", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"))
            .send()
            .await
            .expect("the provider answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// An opaque `client_credentials` access token for `resource`.
    pub async fn token(&self, resource: &str, scope: &str) -> String {
        let (status, body) = self
            .post(
                "/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "app"),
                    ("client_secret", "app-secret"),
                    ("resource", resource),
                    ("scope", scope),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        let token = answer["access_token"].as_str().expect("an access token");
        assert!(
            !token.starts_with("eyJ"),
            "the provider's default format is opaque: {token}"
        );
        token.to_owned()
    }

    /// `(access token, refresh token)` of `login_hint`, by CIBA in poll mode
    /// (the script's authentication device approves at once): the provider's
    /// one flow without a browser that issues refresh tokens.
    pub async fn user_tokens(&self, login_hint: &str) -> (String, String) {
        let (status, body) = self
            .post(
                "/backchannel",
                &[
                    ("client_id", "app"),
                    ("client_secret", "app-secret"),
                    ("login_hint", login_hint),
                    ("scope", "openid offline_access"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let request: Value = serde_json::from_str(&body).unwrap();
        let (status, body) = self
            .post(
                "/token",
                &[
                    ("grant_type", "urn:openid:params:grant-type:ciba"),
                    ("auth_req_id", request["auth_req_id"].as_str().unwrap()),
                    ("client_id", "app"),
                    ("client_secret", "app-secret"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let tokens: Value = serde_json::from_str(&body).unwrap();
        (
            tokens["access_token"].as_str().unwrap().to_owned(),
            tokens["refresh_token"]
                .as_str()
                .expect("a refresh token")
                .to_owned(),
        )
    }

    /// Revokes `token` at the provider (RFC 7009).
    pub async fn revoke(&self, token: &str) {
        let (status, body) = self
            .post(
                "/token/revocation",
                &[
                    ("token", token),
                    ("client_id", "app"),
                    ("client_secret", "app-secret"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

fn setup() -> Option<std::path::PathBuf> {
    support::oidc_provider_modules()
}

/// The example, introspecting at the endpoint discovered from the provider.
async fn resource_server(issuer: &str, extra: &[(&str, &str)]) -> Server {
    let mut vars = vec![
        ("OIDC_ISSUER", issuer),
        ("JWT_AUDIENCE", API),
        ("INTROSPECTION_CLIENT_ID", "rs"),
        ("INTROSPECTION_CLIENT_SECRET", "rs-secret"),
    ];
    vars.extend_from_slice(extra);
    Server::start(&vars).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_client_credentials_tokens_are_introspected_through_discovery() {
    let Some(modules) = setup() else { return };
    let provider = Provider::start(&modules).await;
    let server = resource_server(&provider.issuer, &[]).await;
    let token = provider.token(API, "read:ping").await;

    let me = server.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    let me = me.json();
    assert!(me.get("active").is_none(), "{me}");
    assert_eq!(me["client_id"], "app");
    assert_eq!(me["sub"], "app", "no `sub`: the client is the subject");
    assert_eq!(me["iss"], provider.issuer);
    assert_eq!(me["aud"], API);
    assert_eq!(me["scope"], "read:ping");
    assert_eq!(me["token_type"], "Bearer");
    assert!(
        server
            .output()
            .contains(&format!("{}/token/introspection", provider.issuer)),
        "the endpoint is the discovered one:\n{}",
        server.output()
    );

    assert_eq!(server.get("/scoped", Some(&token)).await.status, 200);
    let ping = server.get("/protected/ping", Some(&token)).await;
    assert_eq!((ping.status, ping.body.as_str()), (200, "pong"));

    // Without the scope /scoped asks for: 403, as with a JWT.
    let write_only = provider.token(API, "write:ping").await;
    let scoped = server.get("/scoped", Some(&write_only)).await;
    assert_eq!(scoped.status, 403, "{scoped:?}");
    assert!(
        scoped
            .header("www-authenticate")
            .starts_with(r#"Bearer error="insufficient_scope""#)
    );
    // For another resource: its `aud` is not ours.
    let other = provider.token(OTHER_API, "read:ping").await;
    server.get("/me", Some(&other)).await.assert_invalid_token();
    // Unknown to the provider.
    server
        .get("/me", Some("not-a-token-of-this-provider"))
        .await
        .assert_invalid_token();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_token_has_its_sub_and_the_refresh_token_is_refused() {
    let Some(modules) = setup() else { return };
    let provider = Provider::start(&modules).await;
    let server = resource_server(&provider.issuer, &[]).await;
    let (access, refresh) = provider.user_tokens("alice").await;

    let me = server.get("/me", Some(&access)).await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    assert_eq!(me.json()["sub"], "alice");
    assert_eq!(me.json()["client_id"], "app");

    // The provider says the refresh token is active (it answers for refresh
    // tokens too), but it is no access token for this API.
    server
        .get("/me", Some(&refresh))
        .await
        .assert_invalid_token();
    server
        .get("/protected/ping", Some(&refresh))
        .await
        .assert_invalid_token();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_off_a_revocation_at_the_provider_is_refused_at_once() {
    let Some(modules) = setup() else { return };
    let provider = Provider::start(&modules).await;
    let server = resource_server(&provider.issuer, &[("INTROSPECTION_CACHE_SECS", "0")]).await;
    let token = provider.token(API, "read:ping").await;
    assert_eq!(server.get("/me", Some(&token)).await.status, 200);

    provider.revoke(&token).await;
    server.get("/me", Some(&token)).await.assert_invalid_token();
    server
        .get("/scoped", Some(&token))
        .await
        .assert_invalid_token();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_short_cache_a_revocation_at_the_provider_is_refused_once_the_entry_ends() {
    const CACHE_SECS: u64 = 3;
    let Some(modules) = setup() else { return };
    let provider = Provider::start(&modules).await;
    let cache = CACHE_SECS.to_string();
    let server = resource_server(&provider.issuer, &[("INTROSPECTION_CACHE_SECS", &cache)]).await;
    let token = provider.token(API, "read:ping").await;
    let first = tokio::time::Instant::now();
    assert_eq!(server.get("/me", Some(&token)).await.status, 200);

    provider.revoke(&token).await;
    // The answer is remembered for at most CACHE_SECS: a revocation at the
    // provider is not seen before (that is the bound the operator chose) …
    let cached = server.get("/me", Some(&token)).await;
    if first.elapsed() < Duration::from_secs(CACHE_SECS - 1) {
        assert_eq!(cached.status, 200, "served from the cache: {cached:?}");
    }
    // … and is from the moment the entry ends (whole seconds: within one
    // more second). Waiting for time to pass is the only signal here.
    tokio::time::sleep_until(first + Duration::from_secs(CACHE_SECS + 1)).await;
    server.get("/me", Some(&token)).await.assert_invalid_token();
}

/// RFC 9701 with `INTROSPECTION_JWT=1`: the provider signs its answers
/// (`jwtIntrospection`) with the keys it publishes at its `jwks_uri`, and the
/// example verifies them with the keys it discovered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_introspection_answers_of_the_provider_verify() {
    let Some(modules) = setup() else { return };
    let provider = Provider::start(&modules).await;
    let server = resource_server(&provider.issuer, &[("INTROSPECTION_JWT", "1")]).await;
    let token = provider.token(API, "read:ping").await;

    let me = server.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{me:?}\n{}", server.output());
    assert_eq!(me.json()["client_id"], "app");
    assert!(me.json().get("token_introspection").is_none());
    assert_eq!(server.get("/scoped", Some(&token)).await.status, 200);
    let (_, refresh) = provider.user_tokens("alice").await;
    server
        .get("/me", Some(&refresh))
        .await
        .assert_invalid_token();
}

/// A client whose answers the provider signs with HS256 under the client's
/// own secret: a JWT, `typ` and claims right, but signed by no key the
/// issuer publishes. The example does not believe it, and says 503 (the
/// token may be fine), never 200 on an unverified word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_signed_by_no_published_key_of_the_issuer_is_503() {
    let Some(modules) = setup() else { return };
    let provider = Provider::start(&modules).await;
    let mut server = Server::start(&[
        ("OIDC_ISSUER", &provider.issuer),
        ("JWT_AUDIENCE", API),
        ("INTROSPECTION_CLIENT_ID", "rs-hs256"),
        (
            "INTROSPECTION_CLIENT_SECRET",
            "rs-hs256-secret-of-at-least-32-bytes",
        ),
        ("INTROSPECTION_JWT", "1"),
    ])
    .await;
    let token = provider.token(API, "read:ping").await;
    let me = server.get("/me", Some(&token)).await;
    assert_eq!(me.status, 503, "{me:?}\n{}", server.output());
    assert!(!me.header("retry-after").is_empty());
    // The server logs the refusal before it answers; the test reads its
    // output through a pipe, which may lag behind the answer.
    server.wait_for_log("signed answer refused").await;
}
