//! Introspection (issue 23) against a JWT, through the same auth layer
//! (`MemoryStore`, the trivial inner service, one request at a time on a
//! current-thread runtime):
//!
//! - `introspection/cached`: an opaque token whose answer is in the
//!   `IntrospectionCache` against an ES256 JWT in the verified-token cache
//!   (the goal: at most 1.2×). Both re-run the whole decision on every hit.
//! - `introspection/interleaved` (printed, not criterion): the same ratio as
//!   the median of 60 rounds that time both back to back, as
//!   `benches/dpop.rs` does — sequential criterion figures on a VM whose
//!   speed wanders by ±15 % between benches can tilt a 1.2× goal either way.
//! - `introspection/miss`: the cache off (`ttl` 0), so every request asks the
//!   endpoint — against that endpoint's own round trip (a bare `reqwest`
//!   POST of the same form): what the layer adds to a call.
//! - `introspection/flood`: batches of 256 concurrent requests with random
//!   opaque tokens (each new, so each a call), and the same with one bad token
//!   repeated; after each, the calls per second that reached the endpoint
//!   are printed (`calls/s`): the in-flight bound caps the first, the
//!   negative cache the second.
//!
//! The endpoint is an axum server on loopback, on its own runtime and
//! thread, answering every token `active` (or `inactive` for `bad-…`
//! tokens). `cargo bench --features full --bench introspection`.

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn`

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::routing::post;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::header::{AUTHORIZATION, HeaderValue};
use http::{Request, StatusCode};
use support::{AUDIENCE, ISSUER, fixtures, inner, runtime, short_runs};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_auth::introspect::{
    ClientAuth, IntrospectionCache, IntrospectionClient, IntrospectionMode,
};
use tower_jwt_auth::{JwtAuthLayer, MemoryStore};

const BATCH: usize = 256;

/// The test endpoint: its URL and the count of calls it answered.
struct Endpoint {
    url: String,
    calls: Arc<AtomicU64>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn introspect(
    State(calls): State<Arc<AtomicU64>>,
    body: Bytes,
) -> impl axum::response::IntoResponse {
    calls.fetch_add(1, Ordering::Relaxed);
    let answer = if body.windows(10).any(|w| w == b"token=bad-") {
        r#"{"active":false}"#.to_owned()
    } else {
        format!(
            r#"{{"active":true,"client_id":"svc","scope":"read","iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{},"token_type":"Bearer"}}"#,
            now() + 86_400
        )
    };
    ([(http::header::CONTENT_TYPE, "application/json")], answer)
}

fn endpoint() -> Endpoint {
    let calls = Arc::new(AtomicU64::new(0));
    let state = Arc::clone(&calls);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = Router::new()
                .route("/introspect", post(introspect))
                .with_state(state);
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    Endpoint {
        url: format!("http://{addr}/introspect"),
        calls,
    }
}

fn client(endpoint: &Endpoint) -> IntrospectionClient {
    IntrospectionClient::new(
        &endpoint.url,
        "rs",
        ClientAuth::client_secret_basic("rs-secret"),
        support::config(),
    )
}

fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).unwrap()
}

fn request(bearer: &HeaderValue) -> Request<Body> {
    let mut request = Request::new(Body::empty());
    request.headers_mut().insert(AUTHORIZATION, bearer.clone());
    request
}

/// The layer over the trivial inner service.
type Service = tower_jwt_auth::JwtAuth<
    tower::util::BoxCloneSyncService<Request<Body>, http::Response<Body>, std::convert::Infallible>,
    tower_jwt_auth::NoCustomClaims,
    tower_jwt_auth::DefaultRejection,
>;

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let endpoint = endpoint();
    let es256 = fixtures()
        .into_iter()
        .find(|f| f.name == "ES256")
        .expect("an ES256 fixture");
    let layer = |cache: IntrospectionCache| {
        JwtAuthLayer::new(es256.verifier())
            .store(MemoryStore::new())
            .introspection(cache, IntrospectionMode::OpaqueTokens)
            .layer(tower::util::BoxCloneSyncService::new(inner::<Body>()))
    };
    let call = |service: &Service, bearer: &HeaderValue| {
        rt.block_on(service.clone().oneshot(request(bearer)))
            .unwrap()
            .status()
    };

    // ===== cached =====
    let cached = layer(IntrospectionCache::new(client(&endpoint)));
    let opaque = bearer("an-opaque-token-of-32-characters");
    assert_eq!(call(&cached, &opaque), StatusCode::OK);
    assert_eq!(call(&cached, &es256.bearer), StatusCode::OK);
    let before = endpoint.calls.load(Ordering::Relaxed);
    let mut group = c.benchmark_group("introspection/cached");
    group.throughput(Throughput::Elements(1));
    group.bench_function("jwt_es256", |b| {
        b.iter(|| call(&cached, &es256.bearer));
    });
    group.bench_function("introspected", |b| {
        b.iter(|| call(&cached, &opaque));
    });
    group.finish();
    interleaved_ratio(&call, &cached, &es256.bearer, &opaque);
    assert_eq!(
        endpoint.calls.load(Ordering::Relaxed),
        before,
        "every measured request was a hit"
    );

    // ===== miss =====
    let uncached = layer(IntrospectionCache::new(client(&endpoint)).ttl(Duration::ZERO));
    let http = reqwest::Client::new();
    let form = "token=an-opaque-token-of-32-characters&token_type_hint=access_token";
    let mut group = c.benchmark_group("introspection/miss");
    group.throughput(Throughput::Elements(1));
    group.bench_function("endpoint_round_trip", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = http
                    .post(&endpoint.url)
                    .basic_auth("rs", Some("rs-secret"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form)
                    .send()
                    .await
                    .unwrap();
                response.bytes().await.unwrap()
            })
        });
    });
    group.bench_function("layer_miss", |b| {
        b.iter(|| call(&uncached, &opaque));
    });
    group.finish();

    // ===== flood =====
    let flooded = layer(IntrospectionCache::new(client(&endpoint)));
    let mut group = c.benchmark_group("introspection/flood");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut counter = 0_u64;
    for (name, random) in [("random_tokens", true), ("one_bad_token", false)] {
        let start_calls = endpoint.calls.load(Ordering::Relaxed);
        let started = Instant::now();
        group.bench_function(name, |b| {
            b.iter(|| {
                let bearers: Vec<HeaderValue> = (0..BATCH)
                    .map(|_| {
                        counter += 1;
                        if random {
                            bearer(&format!("bad-random-{counter:016x}-{:08x}", counter * 7919))
                        } else {
                            bearer("bad-the-same-token")
                        }
                    })
                    .collect();
                rt.block_on(futures_util::future::join_all(
                    bearers.iter().map(|b| flooded.clone().oneshot(request(b))),
                ))
            });
        });
        let calls = endpoint.calls.load(Ordering::Relaxed) - start_calls;
        let secs = started.elapsed().as_secs_f64();
        if secs < 0.5 {
            continue; // filtered out: nothing ran
        }
        eprintln!(
            "introspection/flood/{name}: {calls} calls reached the endpoint in {secs:.1} s = {:.0} calls/s",
            calls as f64 / secs
        );
    }
    group.finish();
}

/// The goal's ratio (cached introspected / cached JWT), measured so that a
/// shared machine's drift cannot tilt it: 60 rounds, each timing 2,000 JWT
/// requests and 2,000 opaque ones back to back (which goes first
/// alternates); prints the median of the rounds' ratios.
fn interleaved_ratio(
    call: &impl Fn(&Service, &HeaderValue) -> StatusCode,
    service: &Service,
    jwt: &HeaderValue,
    opaque: &HeaderValue,
) {
    const ROUNDS: usize = 60;
    const PER_ROUND: u32 = 2_000;
    let time = |bearer: &HeaderValue| {
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            assert_eq!(call(service, black_box(bearer)), StatusCode::OK);
        }
        start.elapsed()
    };
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut jwt_total, mut opaque_total) = (Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        let (jwt_time, opaque_time) = if round % 2 == 0 {
            let jwt_time = time(jwt);
            (jwt_time, time(opaque))
        } else {
            let opaque_time = time(opaque);
            (time(jwt), opaque_time)
        };
        jwt_total += jwt_time;
        opaque_total += opaque_time;
        ratios.push(opaque_time.as_secs_f64() / jwt_time.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let per_request = |total: Duration| total / (ROUNDS as u32 * PER_ROUND);
    println!(
        "introspection/interleaved: introspected / jwt_es256 median {:.3} (rounds: min {:.3}, \
         max {:.3}); jwt {:?}, introspected {:?} per request ({ROUNDS} rounds of {PER_ROUND} each)",
        ratios[ROUNDS / 2],
        ratios[0],
        ratios[ROUNDS - 1],
        per_request(jwt_total),
        per_request(opaque_total),
    );
}

criterion_group! {
    name = introspection;
    config = short_runs();
    targets = benches
}
criterion_main!(introspection);
