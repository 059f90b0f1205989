//! The metrics (feature `metrics`) move with real requests, by exactly what
//! each request is, and their Prometheus exposition parses.
//!
//! Each test installs its own Prometheus recorder as the thread's local one
//! (`#[tokio::test]` runs on the test's thread, spawned tasks included), so
//! tests running in parallel never count each other's requests. The demo's
//! `GET /metrics` uses the process-global recorder the demo installs; only
//! that test records into it.

#[allow(dead_code)]
#[path = "../../examples/demo.rs"]
mod demo;
#[path = "../support/down_store.rs"]
mod down_store;
#[cfg(feature = "jwks")]
#[path = "../support/jwks_server.rs"]
mod jwks_server;
#[cfg(feature = "redis")]
#[path = "../support/redis_server.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::{Request, Response, StatusCode, header};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use tower::ServiceExt;
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{
    Algorithm, JwtAuthLayer, JwtConfig, ManualClock, MemoryStore, NoCustomClaims, SessionManager,
    SigningKey, TokenIssuer, Verifier, VerifyingKey,
};

use down_store::DownStore;

const START: u64 = 1_800_000_000;
const SECRET: &[u8] = b"metrics-test-secret-of-at-least-32-bytes!";
const OTHER_SECRET: &[u8] = b"another-secret-nobody-configured-32-bytes";

// ===== the exposition =====

/// One sample: the metric's name and its labels, sorted.
type Series = (String, BTreeMap<String, String>);

/// Parses the Prometheus text format strictly: every non-comment line is
/// `name{labels} value` (or `name value`) with a float value; `# HELP` and
/// `# TYPE` lines name a metric, and `# TYPE` one of the format's types.
/// Panics, naming the line, on anything else.
fn parse(text: &str) -> BTreeMap<Series, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (keyword, name) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            assert!(valid_name(name), "bad metric name in {line:?}");
            match keyword {
                "HELP" => assert!(
                    parts.next().is_some_and(|help| !help.is_empty()),
                    "{line:?}"
                ),
                "TYPE" => assert!(
                    matches!(
                        parts.next(),
                        Some("counter" | "gauge" | "histogram" | "summary" | "untyped")
                    ),
                    "{line:?}"
                ),
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            value => value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                (name, parse_labels(body, line))
            }
        };
        assert!(valid_name(name), "bad metric name in {line:?}");
        let previous = samples.insert((name.to_owned(), labels), value);
        assert!(previous.is_none(), "{line:?} twice");
    }
    samples
}

fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// `a="x",b="y"` (no escapes: our label values are fixed words).
fn parse_labels(body: &str, line: &str) -> BTreeMap<String, String> {
    body.split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or_else(|| panic!("{line:?}"));
            assert!(valid_name(key), "bad label name in {line:?}");
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_else(|| panic!("unquoted label value in {line:?}"));
            assert!(!value.contains('"'), "{line:?}");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

/// The value of `name{labels}`, 0 when it was never recorded.
fn value(samples: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .get(&(name.to_owned(), labels))
        .copied()
        .unwrap_or(0.0)
}

/// A fresh Prometheus recorder with every metric described.
fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new().build_recorder()
}

fn render(recorder: &PrometheusRecorder) -> BTreeMap<Series, f64> {
    let text = recorder.handle().render();
    parse(&text)
}

// ===== the layer =====

fn config_at(secs: u64) -> JwtConfig {
    JwtConfig::new()
        .issuer("metrics-test")
        .audience("api")
        .clock(ManualClock::at_secs(secs))
}

fn issuer_at(secs: u64, secret: &[u8]) -> TokenIssuer {
    TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, secret).unwrap(),
        config_at(secs),
    )
}

fn verifier() -> Verifier {
    Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config_at(START),
    )
}

fn app(layer: JwtAuthLayer) -> Router {
    Router::new()
        .route("/ping", get(|| async { "pong" }))
        .layer(layer)
}

fn request(token: Option<&str>) -> Request<Body> {
    let mut request = Request::get("/ping");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

async fn status(app: &Router, token: Option<&str>) -> StatusCode {
    app.clone().oneshot(request(token)).await.unwrap().status()
}

fn jti(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

const DECISIONS: &str = tower_jwt_auth::metrics::DECISIONS_TOTAL;

#[tokio::test]
async fn each_request_counts_once_by_outcome_and_reason() {
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    tower_jwt_auth::metrics::describe();

    let store = Arc::new(MemoryStore::new());
    let app = app(JwtAuthLayer::new(verifier()).shared_store(store.clone()));
    let issuer = issuer_at(START, SECRET);
    let good = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
    let revoked = issuer.access_token("bob", &NoCustomClaims {}).unwrap();
    store
        .revoke_token(&jti(&revoked), START + 3600)
        .await
        .unwrap();
    let forged = issuer_at(START, OTHER_SECRET)
        .access_token("alice", &NoCustomClaims {})
        .unwrap();
    let expired = issuer_at(START - 10_000, SECRET)
        .access_token("alice", &NoCustomClaims {})
        .unwrap();

    assert_eq!(status(&app, Some(&good)).await, StatusCode::OK);
    assert_eq!(status(&app, Some(&good)).await, StatusCode::OK);
    assert_eq!(status(&app, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&app, Some(&forged)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&app, Some(&expired)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&app, Some(&revoked)).await, StatusCode::UNAUTHORIZED);

    let m = render(&recorder);
    assert_eq!(value(&m, DECISIONS, &[("outcome", "accepted")]), 2.0);
    for reason in [
        "missing_credentials",
        "invalid_signature",
        "expired",
        "revoked",
    ] {
        let labels = [("outcome", "rejected"), ("reason", reason)];
        assert_eq!(value(&m, DECISIONS, &labels), 1.0, "{reason}");
    }
    let all: f64 = m
        .iter()
        .filter(|((name, _), _)| name == DECISIONS)
        .map(|(_, v)| v)
        .sum();
    assert_eq!(all, 6.0, "one decision per request, nothing else");

    // Verification: the repeated token hit the cache; the four others
    // (good, forged, expired, revoked) were verified in full. No token, no
    // verification.
    let seconds = tower_jwt_auth::metrics::VERIFY_SECONDS;
    let count = format!("{seconds}_count");
    assert_eq!(value(&m, &count, &[("path", "cached")]), 1.0);
    assert_eq!(value(&m, &count, &[("path", "first_seen")]), 4.0);
    let sum = format!("{seconds}_sum");
    assert!(value(&m, &sum, &[("path", "first_seen")]) > 0.0);
    // Kept: the two tokens that verified (the revoked one is refused by the
    // store, after verification).
    let entries = tower_jwt_auth::metrics::CACHE_ENTRIES;
    assert_eq!(value(&m, entries, &[]), 2.0);
    assert!(value(&m, tower_jwt_auth::metrics::CACHE_WEIGHT_BYTES, &[]) > 0.0);
}

#[tokio::test]
async fn anonymous_fail_open_and_unavailable_are_outcomes_of_their_own() {
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);

    let token = issuer_at(START, SECRET)
        .access_token("alice", &NoCustomClaims {})
        .unwrap();
    let optional = app(JwtAuthLayer::new(verifier()).optional(true));
    let open = app(JwtAuthLayer::new(verifier())
        .store(DownStore)
        .fail_open(true));
    let closed = app(JwtAuthLayer::new(verifier()).store(DownStore));

    assert_eq!(status(&optional, None).await, StatusCode::OK);
    assert_eq!(status(&open, Some(&token)).await, StatusCode::OK);
    assert_eq!(
        status(&closed, Some(&token)).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let m = render(&recorder);
    assert_eq!(value(&m, DECISIONS, &[("outcome", "anonymous")]), 1.0);
    assert_eq!(value(&m, DECISIONS, &[("outcome", "fail_open")]), 1.0);
    assert_eq!(
        value(
            &m,
            DECISIONS,
            &[("outcome", "unavailable"), ("reason", "store_unavailable")]
        ),
        1.0
    );
    assert_eq!(
        value(&m, DECISIONS, &[("outcome", "accepted")]),
        0.0,
        "a fail-open pass is not also counted as accepted"
    );
}

#[tokio::test]
async fn no_label_carries_a_subject_or_token_id() {
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let issuer = issuer_at(START, SECRET);
    let app = app(JwtAuthLayer::new(verifier()));
    let token = issuer
        .access_token("subject-in-no-label", &NoCustomClaims {})
        .unwrap();
    assert_eq!(status(&app, Some(&token)).await, StatusCode::OK);
    let text = recorder.handle().render();
    assert!(text.contains(DECISIONS), "{text}");
    assert!(!text.contains("subject-in-no-label"), "{text}");
    assert!(!text.contains(&jti(&token)), "{text}");
}

// ===== sessions =====

#[tokio::test]
async fn refresh_outcomes_count_rotation_replay_and_what_follows() {
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);

    let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
    let sessions: SessionManager = SessionManager::new(issuer_at(START, SECRET), verifier(), store);
    let first = sessions.login("alice", &NoCustomClaims {}).await.unwrap();
    let second = sessions.refresh(&first.refresh_token).await.unwrap();
    // The retired token again: a replay, which revokes the session…
    assert!(sessions.refresh(&first.refresh_token).await.is_err());
    // …so the newest refresh token is refused too.
    assert!(sessions.refresh(&second.refresh_token).await.is_err());
    // An access token where a refresh token belongs.
    assert!(sessions.refresh(&second.access_token).await.is_err());

    let m = render(&recorder);
    let refresh = tower_jwt_auth::metrics::REFRESH_TOTAL;
    assert_eq!(value(&m, refresh, &[("outcome", "rotated")]), 1.0);
    assert_eq!(
        value(&m, refresh, &[("outcome", "reused_family_revoked")]),
        1.0
    );
    assert_eq!(value(&m, refresh, &[("outcome", "unknown")]), 1.0);
    assert_eq!(value(&m, refresh, &[("outcome", "rejected")]), 1.0);
    assert_eq!(value(&m, refresh, &[("outcome", "retried")]), 0.0);
}

#[tokio::test]
async fn a_retry_within_the_reuse_grace_counts_as_retried() {
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);

    let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
    let sessions: SessionManager = SessionManager::new(issuer_at(START, SECRET), verifier(), store)
        .reuse_grace(Duration::from_secs(30));
    let first = sessions.login("alice", &NoCustomClaims {}).await.unwrap();
    sessions.refresh(&first.refresh_token).await.unwrap();
    sessions.refresh(&first.refresh_token).await.unwrap();

    let m = render(&recorder);
    let refresh = tower_jwt_auth::metrics::REFRESH_TOTAL;
    assert_eq!(value(&m, refresh, &[("outcome", "rotated")]), 1.0);
    assert_eq!(value(&m, refresh, &[("outcome", "retried")]), 1.0);
}

// ===== remote keys =====

#[cfg(feature = "jwks")]
#[tokio::test]
async fn jwks_fetches_count_by_result_and_an_unknown_kid_counts_one_refetch() {
    use jwks_server::{JwksServer, Mode, es256_jwk};
    use tower_jwt_auth::jwks::RemoteJwks;

    const K1_PUBLIC: &str = include_str!("../keys/es256_public.pem");
    const K2_PRIVATE: &str = include_str!("../keys/es256_next_private.pem");
    const K2_PUBLIC: &str = include_str!("../keys/es256_next_public.pem");

    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);

    let server = JwksServer::start(Mode::Fail).await;
    let jwks = RemoteJwks::builder(server.jwks_url())
        .min_refresh(Duration::from_secs(60))
        .max_age(Duration::from_secs(600))
        .fetch_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    server.wait_for_fetches(1).await;
    server.serve(vec![es256_jwk("k1", K1_PUBLIC)]);
    assert!(jwks.ready(Duration::from_secs(20)).await, "never fetched");
    // The issuer adds k2; a token signed with it asks for one refetch.
    server.serve(vec![es256_jwk("k1", K1_PUBLIC), es256_jwk("k2", K2_PUBLIC)]);
    let config = JwtConfig::new().issuer("https://issuer.test");
    let app = app(JwtAuthLayer::new(Verifier::new(
        jwks.clone(),
        config.clone(),
    )));
    let k2 = SigningKey::from_pem(Algorithm::ES256, K2_PRIVATE.as_bytes())
        .unwrap()
        .with_kid("k2");
    let token = TokenIssuer::new(k2, config)
        .access_token("alice", &NoCustomClaims {})
        .unwrap();
    assert_eq!(status(&app, Some(&token)).await, StatusCode::OK);
    let status = jwks.status();

    let m = render(&recorder);
    let fetches = tower_jwt_auth::metrics::JWKS_FETCHES_TOTAL;
    assert_eq!(status.fetches, 2, "{status:?}");
    assert_eq!(value(&m, fetches, &[("result", "ok")]), 2.0);
    assert!(status.failures >= 1, "{status:?}");
    assert_eq!(
        value(&m, fetches, &[("result", "failed")]),
        status.failures as f64
    );
    let refetches = tower_jwt_auth::metrics::JWKS_UNKNOWN_KID_REFETCHES_TOTAL;
    assert_eq!(value(&m, refetches, &[]), 1.0);
    assert_eq!(
        value(&m, DECISIONS, &[("outcome", "accepted")]),
        1.0,
        "the refetched request counts once, for its final decision"
    );
}

// ===== the Redis view =====

#[cfg(feature = "redis")]
#[tokio::test]
async fn the_redis_view_reports_its_loads_events_resumes_and_freshness() {
    use redis_server::RedisServer;
    use tower_jwt_auth::RedisStore;
    use tower_jwt_auth::metrics::{
        REDIS_VIEW_CURRENT, REDIS_VIEW_EVENTS_TOTAL, REDIS_VIEW_LAST_HEARD_SECONDS,
        REDIS_VIEW_RELOADS_TOTAL, REDIS_VIEW_RESUMES_TOTAL,
    };
    const GUARD: Duration = Duration::from_secs(20);

    // With its append-only file, so a restart keeps the change feed.
    let Some(mut server) = RedisServer::start(true) else {
        return;
    };
    let recorder = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let store = RedisStore::builder(server.url())
        .prefix("metrics-test")
        .command_timeout(Duration::from_secs(1))
        .max_staleness(Duration::from_secs(3))
        .connect()
        .await
        .expect("connect to the test redis");
    let m = render(&recorder);
    assert_eq!(value(&m, REDIS_VIEW_RELOADS_TOTAL, &[]), 1.0);
    assert_eq!(value(&m, REDIS_VIEW_RESUMES_TOTAL, &[]), 0.0);
    assert_eq!(value(&m, REDIS_VIEW_CURRENT, &[]), 1.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let heard = value(&m, REDIS_VIEW_LAST_HEARD_SECONDS, &[]);
    assert!(heard > now - 60.0 && heard <= now + 1.0, "{heard} vs {now}");

    // Its own revocation comes back over the subscription: one event.
    store
        .revoke_token("some-jti", now as u64 + 3600)
        .await
        .unwrap();
    let mut status = store.watch();
    tokio::time::timeout(GUARD, status.wait_for(|s| s.events_applied >= 1))
        .await
        .expect("the event arrived")
        .unwrap();
    assert_eq!(value(&render(&recorder), REDIS_VIEW_EVENTS_TOTAL, &[]), 1.0);

    // Redis goes away: stale; it comes back: one resume from the feed, no
    // second load.
    server.kill();
    tokio::time::timeout(GUARD, status.wait_for(|s| !s.current))
        .await
        .expect("the view went stale")
        .unwrap();
    assert_eq!(value(&render(&recorder), REDIS_VIEW_CURRENT, &[]), 0.0);
    server.restart();
    tokio::time::timeout(GUARD, status.wait_for(|s| s.resumes >= 1 && s.current))
        .await
        .expect("the view resynchronized")
        .unwrap();
    let m = render(&recorder);
    assert_eq!(value(&m, REDIS_VIEW_RELOADS_TOTAL, &[]), 1.0);
    assert_eq!(value(&m, REDIS_VIEW_RESUMES_TOTAL, &[]), 1.0);
    assert_eq!(value(&m, REDIS_VIEW_CURRENT, &[]), 1.0);
}

// ===== the demo's GET /metrics =====

fn demo_app() -> Router {
    demo::app(demo::Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        signing: SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        verifying: VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config: JwtConfig::new().issuer("demo").audience("demo-api"),
        previous: Vec::new(),
    })
}

async fn scrape(app: &Router) -> (Response<()>, String) {
    let response = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap();
    (
        Response::from_parts(parts, ()),
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn the_demo_serves_its_decisions_in_the_prometheus_text_format() {
    let app = demo_app();
    let login = app
        .clone()
        .oneshot(
            Request::post("/auth/login")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    r#"{"username":"alice","password":"alice-password"}"#,
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let pair: serde_json::Value =
        serde_json::from_slice(&to_bytes(login.into_body(), 1 << 20).await.unwrap()).unwrap();
    let token = pair["access_token"].as_str().unwrap();

    let (_, before) = scrape(&app).await;
    let before = parse(&before);
    let me = |token: Option<&str>| {
        let mut request = Request::get("/me");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        app.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    assert_eq!(me(Some(token)).await.unwrap().status(), StatusCode::OK);
    assert_eq!(me(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let (response, text) = scrape(&app).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
    );
    let after = parse(&text);
    let moved = |labels: &[(&str, &str)]| {
        value(&after, DECISIONS, labels) - value(&before, DECISIONS, labels)
    };
    assert_eq!(moved(&[("outcome", "accepted")]), 1.0);
    assert_eq!(
        moved(&[("outcome", "rejected"), ("reason", "missing_credentials")]),
        1.0
    );
    assert!(
        text.contains(&format!("# TYPE {DECISIONS} counter")),
        "{text}"
    );
    assert!(text.contains(&format!("# HELP {DECISIONS} ")), "{text}");
    // The demo gives verification times buckets: a histogram.
    let seconds = tower_jwt_auth::metrics::VERIFY_SECONDS;
    assert!(
        text.contains(&format!("# TYPE {seconds} histogram")),
        "{text}"
    );
    assert!(
        value(
            &after,
            &format!("{seconds}_bucket"),
            &[("path", "first_seen"), ("le", "+Inf")]
        ) >= 1.0,
        "{text}"
    );
}
