//! Remote key sets through the real layer, against a JWKS server on a
//! loopback port that rotates, fails, hangs, sends junk and oversized
//! bodies, and counts fetches.

#[path = "../support/jwks_server.rs"]
mod jwks_server;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::jwks::{DiscoveryError, RemoteJwks, RemoteJwksBuilder};
use tower_jwt_auth::{
    Algorithm, Claims, JwtAuthLayer, JwtConfig, NoCustomClaims, SigningKey, TokenIssuer, Verifier,
};

use jwks_server::{JwksServer, Mode, ed25519_jwk, es256_jwk};

const K1_PRIVATE: &str = include_str!("../keys/es256_private.pem");
const K1_PUBLIC: &str = include_str!("../keys/es256_public.pem");
const K2_PRIVATE: &str = include_str!("../keys/es256_next_private.pem");
const K2_PUBLIC: &str = include_str!("../keys/es256_next_public.pem");
const ED_PRIVATE: &str = include_str!("../keys/ed25519_private.pem");
const ED_PUBLIC: &str = include_str!("../keys/ed25519_public.pem");

/// A bound on awaits that should finish at once, so a regression fails the
/// test instead of hanging it; not a timing assertion.
const GUARD: Duration = Duration::from_secs(20);

fn config() -> JwtConfig {
    JwtConfig::new()
        .issuer("https://issuer.test")
        .audience("api")
}

fn issuer(private_pem: &str, kid: &str) -> TokenIssuer {
    issuer_for(Algorithm::ES256, private_pem, kid)
}

fn issuer_for(algorithm: Algorithm, private_pem: &str, kid: &str) -> TokenIssuer {
    let key = SigningKey::from_pem(algorithm, private_pem.as_bytes())
        .unwrap()
        .with_kid(kid);
    TokenIssuer::new(key, config())
}

fn token(issuer: &TokenIssuer) -> String {
    issuer.access_token("alice", &NoCustomClaims {}).unwrap()
}

fn k1() -> Value {
    es256_jwk("k1", K1_PUBLIC)
}

fn k2() -> Value {
    es256_jwk("k2", K2_PUBLIC)
}

/// A remote key set with rules fit for tests: refetches rate-limited to one
/// a minute unless the test says otherwise, short fetch deadline.
fn remote(server: &JwksServer) -> RemoteJwksBuilder {
    RemoteJwks::builder(server.jwks_url())
        .min_refresh(Duration::from_secs(60))
        .max_age(Duration::from_secs(600))
        .fetch_timeout(Duration::from_secs(1))
}

fn app(keys: RemoteJwks) -> Router {
    async fn me(claims: Claims) -> String {
        claims.sub
    }
    Router::new()
        .route("/me", get(me))
        .layer(JwtAuthLayer::new(Verifier::new(keys, config())))
}

async fn status(app: &Router, token: &str) -> StatusCode {
    response(app, token).await.status()
}

async fn response(app: &Router, token: &str) -> http::Response<Body> {
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    tokio::time::timeout(GUARD, app.clone().oneshot(request))
        .await
        .expect("the layer answers")
        .unwrap()
}

async fn ready(keys: &RemoteJwks) {
    assert!(keys.ready(GUARD).await, "a first key set was fetched");
}

#[tokio::test]
async fn a_token_signed_by_a_published_key_verifies() {
    let server = JwksServer::serving(vec![k1(), ed25519_jwk("ed", ED_PUBLIC)]).await;
    let keys = remote(&server).build().unwrap();
    ready(&keys).await;
    let app = app(keys.clone());
    assert_eq!(
        status(&app, &token(&issuer(K1_PRIVATE, "k1"))).await,
        StatusCode::OK
    );
    let eddsa = issuer_for(Algorithm::EdDSA, ED_PRIVATE, "ed");
    assert_eq!(status(&app, &token(&eddsa)).await, StatusCode::OK);
    assert_eq!(keys.status().keys, 2);
}

#[tokio::test]
async fn until_a_first_key_set_is_fetched_requests_get_503_with_retry_after() {
    let server = JwksServer::start(Mode::Fail).await;
    // The process starts anyway: building does not wait for the issuer.
    let keys = remote(&server).build().unwrap();
    let app = app(keys.clone());
    server.wait_for_fetches(1).await;
    let refused = response(&app, &token(&issuer(K1_PRIVATE, "k1"))).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    assert!(!refused.headers().contains_key(header::WWW_AUTHENTICATE));

    // The source keeps retrying; once the issuer answers, tokens verify.
    server.serve(vec![k1()]);
    ready(&keys).await;
    assert!(keys.status().failures >= 1);
    assert_eq!(
        status(&app, &token(&issuer(K1_PRIVATE, "k1"))).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_request_without_credentials_is_401_even_before_keys_arrive() {
    let server = JwksServer::start(Mode::Fail).await;
    let app = app(remote(&server).build().unwrap());
    let response = tokio::time::timeout(
        GUARD,
        app.oneshot(Request::get("/me").body(Body::empty()).unwrap()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_key_the_issuer_just_added_works_on_the_first_request_that_uses_it() {
    let server = JwksServer::serving(vec![k1()]).await;
    let keys = remote(&server).build().unwrap();
    ready(&keys).await;
    let app = app(keys.clone());
    assert_eq!(server.fetches(), 1);

    server.serve(vec![k1(), k2()]);
    assert_eq!(
        status(&app, &token(&issuer(K2_PRIVATE, "k2"))).await,
        StatusCode::OK
    );
    assert_eq!(server.fetches(), 2, "one refetch for the unknown kid");
    assert_eq!(keys.status().unknown_kid_refetches, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_with_an_unknown_kid_cost_one_fetch() {
    let server = JwksServer::serving(vec![k1()]).await;
    let keys = remote(&server).build().unwrap();
    ready(&keys).await;
    let app = app(keys);
    server.serve(vec![k1(), k2()]);

    let token = token(&issuer(K2_PRIVATE, "k2"));
    let requests = (0..1000).map(|_| {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move { status(&app, &token).await })
    });
    for outcome in futures_util::future::join_all(requests).await {
        assert_eq!(outcome.unwrap(), StatusCode::OK);
    }
    assert_eq!(server.fetches(), 2, "the first fetch and one refetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_kids_costs_at_most_one_fetch_per_interval() {
    let server = JwksServer::serving(vec![k1()]).await;
    let keys = remote(&server).build().unwrap();
    ready(&keys).await;
    let app = app(keys.clone());

    let tokens: Vec<String> = (0..500)
        .map(|i| token(&issuer(K1_PRIVATE, &format!("random-{i}"))))
        .collect();
    let requests = tokens.into_iter().map(|token| {
        let app = app.clone();
        tokio::spawn(async move { status(&app, &token).await })
    });
    for outcome in futures_util::future::join_all(requests).await {
        assert_eq!(outcome.unwrap(), StatusCode::UNAUTHORIZED);
    }
    // And one by one, after the flood: refused at once, no fetch.
    for i in 0..50 {
        let flood = token(&issuer(K1_PRIVATE, &format!("later-{i}")));
        assert_eq!(status(&app, &flood).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        server.fetches(),
        2,
        "the first fetch and one refetch in the interval"
    );
    // Known kids still verify after the flood.
    assert_eq!(
        status(&app, &token(&issuer(K1_PRIVATE, "k1"))).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn requests_with_a_known_kid_never_wait_on_a_fetch() {
    let server = JwksServer::serving(vec![k1()]).await;
    let keys = remote(&server)
        .fetch_timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    ready(&keys).await;
    let app = app(keys);

    server.set_mode(Mode::Hang);
    let unknown = token(&issuer(K2_PRIVATE, "k2"));
    let waiting = tokio::spawn({
        let app = app.clone();
        async move {
            let request = Request::get("/me")
                .header(header::AUTHORIZATION, format!("Bearer {unknown}"))
                .body(Body::empty())
                .unwrap();
            app.oneshot(request).await.unwrap().status()
        }
    });
    server.wait_for_fetches(2).await;
    // The refetch hangs (its deadline is ten minutes away); a known kid is
    // answered meanwhile.
    assert_eq!(
        status(&app, &token(&issuer(K1_PRIVATE, "k1"))).await,
        StatusCode::OK
    );
    assert!(!waiting.is_finished(), "the unknown kid is still waiting");
    waiting.abort();
}

#[tokio::test]
async fn failed_slow_malformed_oversized_or_empty_fetches_keep_the_last_good_keys() {
    let server = JwksServer::serving(vec![k1()]).await;
    // No rate limit, so each unknown kid makes a fetch in the bad mode.
    let keys = remote(&server).min_refresh(Duration::ZERO).build().unwrap();
    ready(&keys).await;
    let app = app(keys.clone());
    let good = token(&issuer(K1_PRIVATE, "k1"));
    let unknown = token(&issuer(K2_PRIVATE, "k2"));
    let bad_modes = [
        Mode::Fail,
        Mode::Hang,
        Mode::Junk,
        Mode::Oversized,
        Mode::Serve {
            keys: vec![],
            cache_control: None,
        },
        Mode::Serve {
            keys: vec![json!({"kty": "oct", "kid": "k1", "k": "c2VjcmV0"})],
            cache_control: None,
        },
    ];
    for (round, mode) in bad_modes.into_iter().enumerate() {
        let label = format!("{mode:?}").chars().take(40).collect::<String>();
        server.set_mode(mode);
        assert_eq!(
            status(&app, &unknown).await,
            StatusCode::UNAUTHORIZED,
            "{label}"
        );
        assert_eq!(server.fetches(), round + 2, "{label}: one fetch was made");
        assert_eq!(
            status(&app, &good).await,
            StatusCode::OK,
            "{label}: k1 kept"
        );
    }
    assert_eq!(keys.status().keys, 1);
    assert!(keys.status().failures >= 6);
}

#[tokio::test]
async fn a_key_the_issuer_removed_stops_verifying_once_a_fetch_succeeds_without_it() {
    let server = JwksServer::serving(vec![k1()]).await;
    let keys = remote(&server).build().unwrap();
    ready(&keys).await;
    let app = app(keys);
    let old = token(&issuer(K1_PRIVATE, "k1"));
    // Verified once, so the verified-token cache holds it.
    assert_eq!(status(&app, &old).await, StatusCode::OK);
    assert_eq!(status(&app, &old).await, StatusCode::OK);

    server.serve(vec![k2()]);
    // The new key triggers the fetch that drops k1.
    assert_eq!(
        status(&app, &token(&issuer(K2_PRIVATE, "k2"))).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, &old).await,
        StatusCode::UNAUTHORIZED,
        "cached, but k1 is gone"
    );
}

#[tokio::test]
async fn cache_control_max_age_schedules_the_background_refresh() {
    let server = JwksServer::start(Mode::Serve {
        keys: vec![k1()],
        cache_control: Some("public, max-age=1".into()),
    })
    .await;
    let _keys = remote(&server)
        .min_refresh(Duration::from_secs(1))
        .build()
        .unwrap();
    // No request at all: the refresh task fetches again by itself, after
    // the issuer's max-age (clamped to min_refresh), not after max_age (10 min).
    tokio::time::timeout(GUARD, server.wait_for_fetches(3))
        .await
        .expect("refreshed in the background");
}

#[tokio::test]
async fn symmetric_keys_in_a_published_set_are_ignored() {
    let secret = b"a published secret is no secret at all!!";
    let server = JwksServer::start(Mode::Serve {
        keys: vec![
            k1(),
            json!({
                "kty": "oct", "kid": "shared", "alg": "HS256",
                "k": base64_url(secret),
            }),
        ],
        cache_control: None,
    })
    .await;
    let keys = remote(&server).build().unwrap();
    ready(&keys).await;
    assert_eq!(keys.status().keys, 1);
    let app = app(keys);
    let hmac = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, secret)
            .unwrap()
            .with_kid("shared"),
        config(),
    );
    assert_eq!(status(&app, &token(&hmac)).await, StatusCode::UNAUTHORIZED);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

// ===== discovery =====

#[tokio::test]
async fn discovery_finds_the_key_set_through_openid_configuration() {
    let server = JwksServer::serving(vec![k1()]).await;
    server.metadata(&server.base(), false);
    let client = reqwest::Client::new();
    let metadata = tower_jwt_auth::jwks::discover(&client, &server.base(), GUARD)
        .await
        .unwrap();
    assert_eq!(metadata.jwks_uri, server.jwks_url());

    let keys = RemoteJwks::discover(server.base()).build().unwrap();
    ready(&keys).await;
    let app = app(keys);
    assert_eq!(
        status(&app, &token(&issuer(K1_PRIVATE, "k1"))).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn discovery_falls_back_to_rfc8414_metadata() {
    let server = JwksServer::serving(vec![k1()]).await;
    server.metadata(&server.base(), true);
    let metadata = tower_jwt_auth::jwks::discover(&reqwest::Client::new(), &server.base(), GUARD)
        .await
        .unwrap();
    assert_eq!(metadata.issuer, server.base());
}

#[tokio::test]
async fn metadata_naming_another_issuer_is_a_mix_up_and_yields_no_keys() {
    let server = JwksServer::serving(vec![k1()]).await;
    server.metadata("https://evil.test", false);
    let error = tower_jwt_auth::jwks::discover(&reqwest::Client::new(), &server.base(), GUARD)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        DiscoveryError::IssuerMismatch {
            configured: server.base(),
            document: "https://evil.test".into(),
        }
    );
    assert!(error.to_string().contains("https://evil.test"));
    assert!(error.to_string().contains(&server.base()));

    // A key source built on it never takes that JWKS: 503, not acceptance.
    let keys = RemoteJwks::discover(server.base()).build().unwrap();
    assert!(!keys.ready(Duration::from_millis(1500)).await);
    assert_eq!(server.fetches(), 0, "the mixed-up JWKS is never fetched");
    let app = app(keys);
    assert_eq!(
        status(&app, &token(&issuer(K1_PRIVATE, "k1"))).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn urls_other_than_https_or_loopback_http_are_refused_at_build() {
    assert!(
        RemoteJwks::builder("http://id.example.com/jwks")
            .build()
            .is_err()
    );
    assert!(RemoteJwks::builder("ftp://127.0.0.1/jwks").build().is_err());
    // Accepted, and so its background fetch starts: the name resolves to a
    // closed loopback port, so nothing off this machine is ever a target.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a loopback port");
    let client = reqwest::Client::builder()
        .resolve("id.example.com", closed)
        .build()
        .expect("a client");
    let keys = RemoteJwks::builder("https://id.example.com/jwks")
        .client(client)
        .build()
        .expect("an https URL is accepted");
    assert!(
        !keys.ready(Duration::from_millis(200)).await,
        "nothing answers there"
    );
}

/// A clock that, once armed, holds its next reading until released. In the
/// layer, the first reading after a cache miss falls between the signature
/// check and the insert into the verified-token cache: the seam a key-set
/// refresh can race through.
#[derive(Debug)]
struct GateClock {
    armed: std::sync::atomic::AtomicBool,
    entered: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl tower_jwt_auth::Clock for GateClock {
    fn now_micros(&self) -> u64 {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            if let Some(entered) = self.entered.lock().unwrap().take() {
                let _ = entered.send(());
            }
            let _ = self.release.lock().unwrap().recv_timeout(GUARD);
        }
        tower_jwt_auth::SystemClock.now_micros()
    }
}

#[tokio::test]
async fn a_token_checked_against_a_set_that_then_loses_its_key_is_not_cached_as_current() {
    let server = JwksServer::serving(vec![k1()]).await;
    let keys = remote(&server).build().unwrap();
    ready(&keys).await;
    let (entered_tx, entered) = tokio::sync::oneshot::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let clock = std::sync::Arc::new(GateClock {
        armed: true.into(),
        entered: Some(entered_tx).into(),
        release: release_rx.into(),
    });
    let app = Router::new()
        .route("/me", get(|claims: Claims| async move { claims.sub }))
        .layer(JwtAuthLayer::new(Verifier::new(
            keys,
            config().clock(SharedClock(clock.clone())),
        )));
    let old = token(&issuer(K1_PRIVATE, "k1"));

    // The request checks `old`'s signature against {k1}, then waits in the
    // clock, before the cache insert, on a thread of its own.
    let in_flight = std::thread::spawn({
        let (app, old) = (app.clone(), old.clone());
        move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move { status(&app, &old).await })
        }
    });
    tokio::time::timeout(GUARD, entered)
        .await
        .expect("the request reached the clock")
        .unwrap();
    // Meanwhile the issuer drops k1: a token of k2 makes the fetch that
    // takes {k2}.
    server.serve(vec![k2()]);
    assert_eq!(
        status(&app, &token(&issuer(K2_PRIVATE, "k2"))).await,
        StatusCode::OK
    );
    assert_eq!(server.fetches(), 2, "the set without k1 was fetched");
    release.send(()).unwrap();
    let first = tokio::task::spawn_blocking(move || in_flight.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        first,
        StatusCode::OK,
        "k1 was in the set it was checked with"
    );

    assert_eq!(
        status(&app, &old).await,
        StatusCode::UNAUTHORIZED,
        "k1 is gone: the token must not live on through the verified-token cache"
    );
}

/// Hands one [`GateClock`] to the config (which takes a clock by value).
#[derive(Debug, Clone)]
struct SharedClock(std::sync::Arc<GateClock>);

impl tower_jwt_auth::Clock for SharedClock {
    fn now_micros(&self) -> u64 {
        self.0.now_micros()
    }
}

#[tokio::test]
async fn a_given_client_that_follows_redirects_never_brings_keys_from_the_target() {
    // The attacker's key set, on another port; the configured URL redirects
    // to it.
    let attacker = JwksServer::serving(vec![k2()]).await;
    let server = JwksServer::start(Mode::Redirect(attacker.jwks_url())).await;
    // reqwest's default client follows redirects.
    let keys = remote(&server)
        .client(reqwest::Client::new())
        .build()
        .unwrap();
    // A second fetch comes only after a failed first one (a good one would
    // schedule the next in ten minutes).
    tokio::time::timeout(GUARD, server.wait_for_fetches(2))
        .await
        .expect("the redirected fetch failed and is retried (else keys came from the target)");
    assert!(!keys.status().loaded, "no keys from the redirect's target");
    assert_eq!(
        status(&app(keys), &token(&issuer(K2_PRIVATE, "k2"))).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn a_discovered_jwks_uri_on_loopback_is_refused_when_the_issuer_is_not() {
    let server = JwksServer::serving(vec![k1()]).await;
    // The issuer is a name (resolved to the test server by the client); its
    // metadata sends the key fetch to a loopback address.
    let issuer = format!("http://issuer.test:{}", server.addr.port());
    server.metadata_naming(&issuer, &server.jwks_url());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("issuer.test", server.addr)
        .build()
        .unwrap();
    let keys = RemoteJwks::discover(&issuer)
        .allow_http(true)
        .client(client)
        .build()
        .unwrap();
    assert!(!keys.ready(Duration::from_millis(1500)).await);
    assert_eq!(
        server.fetches(),
        0,
        "the loopback jwks_uri is never fetched"
    );
}
