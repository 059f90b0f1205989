//! Heap allocations per request, counted by a global allocator wrapper.
//!
//! For each algorithm: allocations and bytes per call of bare
//! `jsonwebtoken::decode`, `Verifier::verify`, and per request through
//! `oneshot` of the inner service alone, this crate's layer (MemoryStore,
//! with and without the verified-token cache; RedisStore when 127.0.0.1:6379
//! answers) and jwt-authorizer's layer. `layer − inner` is the layer's own
//! share (the request and its header map are built per request by all).
//!
//! `cargo bench --bench alloc`

#![allow(missing_docs)]

mod support;

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::{BenchClaims, Fixture, PeerBody, fixtures, inner, peer_layer, redis_store, runtime};
use tower::{Layer as _, Service, ServiceExt as _};
use tower_jwt_auth::{DEFAULT_VERIFIED_CACHE_CAPACITY, JwtAuthLayer, NoCustomClaims, TokenType};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROUNDS: usize = 1000;

/// Allocations and bytes per call of `f`, after a warm-up.
fn count(mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..100 {
        f();
    }
    let region = Region::new(GLOBAL);
    for _ in 0..ROUNDS {
        f();
    }
    let stats = region.change();
    (
        stats.allocations as f64 / ROUNDS as f64,
        stats.bytes_allocated as f64 / ROUNDS as f64,
    )
}

fn through<S, B>(rt: &tokio::runtime::Runtime, service: &S, fixture: &Fixture) -> (f64, f64)
where
    S: Service<http::Request<axum::body::Body>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
{
    count(|| {
        let response = rt
            .block_on(service.clone().oneshot(fixture.request()))
            .unwrap();
        assert_eq!(response.status(), 200);
    })
}

fn main() {
    let rt = runtime();
    let redis = redis_store(&rt);

    println!(
        "{:<7} {:<28} {:>12} {:>12}",
        "alg", "path", "allocs/call", "bytes/call"
    );
    for fixture in fixtures() {
        let mut rows: Vec<(&str, (f64, f64))> = Vec::new();

        let (key, validation) = fixture.jsonwebtoken();
        rows.push((
            "jsonwebtoken/decode",
            count(|| {
                jsonwebtoken::decode::<BenchClaims>(&fixture.token, &key, &validation).unwrap();
            }),
        ));
        let first_seen = fixture.verifier().verified_cache(0);
        let repeated = fixture
            .verifier()
            .verified_cache(DEFAULT_VERIFIED_CACHE_CAPACITY);
        for (name, verifier) in [
            ("verifier/first-seen", &first_seen),
            ("verifier/repeated", &repeated),
        ] {
            rows.push((
                name,
                count(|| {
                    verifier
                        .verify::<NoCustomClaims>(&fixture.token, TokenType::Access)
                        .unwrap();
                }),
            ));
        }
        rows.push((
            "inner/bare",
            through(&rt, &inner::<axum::body::Body>(), &fixture),
        ));
        for (name, verifier) in [
            ("layer/memory/first-seen", &first_seen),
            ("layer/memory/repeated", &repeated),
        ] {
            let service = JwtAuthLayer::new(verifier.clone()).layer(inner::<axum::body::Body>());
            rows.push((name, through(&rt, &service, &fixture)));
        }
        if let Some(store) = &redis {
            let service = JwtAuthLayer::new(repeated.clone())
                .store(store.clone())
                .layer(inner::<axum::body::Body>());
            rows.push(("layer/redis/repeated", through(&rt, &service, &fixture)));
        }
        let peer = rt.block_on(peer_layer(&fixture)).layer(inner::<PeerBody>());
        rows.push(("jwt-authorizer/layer", through(&rt, &peer, &fixture)));

        for (path, (allocs, bytes)) in rows {
            println!(
                "{:<7} {:<28} {:>12.1} {:>12.0}",
                fixture.name, path, allocs, bytes
            );
        }
    }
    if redis.is_none() {
        println!("(layer/redis skipped: no Redis at REDIS_URL or 127.0.0.1:6379)");
    }
    many_clients(&rt);
}

/// Live heap bytes (allocated − freed, reallocations included) since `region`.
fn live_bytes(region: &Region<'_, System>) -> i64 {
    let stats = region.change();
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64 + stats.bytes_reallocated as i64
}

/// One request carrying `bearer` through `service`, which must accept it.
fn once<S, B>(rt: &tokio::runtime::Runtime, service: &S, bearer: &http::HeaderValue)
where
    S: Service<http::Request<axum::body::Body>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
{
    let mut request = http::Request::new(axum::body::Body::empty());
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, bearer.clone());
    let response = rt.block_on(service.clone().oneshot(request)).unwrap();
    assert_eq!(response.status(), 200);
}

fn many_clients(rt: &tokio::runtime::Runtime) {
    const CLIENTS: usize = 16_000;
    let fixture = fixtures()
        .into_iter()
        .find(|f| f.name == "ES256")
        .expect("an ES256 fixture");
    // Tokens of about 500 bytes, a typical size (the fixture's own are
    // ~350): a subject as long as an email address or a URI makes up the rest.
    let bearers = |n: usize| -> Vec<http::HeaderValue> {
        (0..n)
            .map(|i| {
                let subject = format!("client-{i:0>104}");
                let token = fixture
                    .issuer
                    .access_token(&subject, &NoCustomClaims {})
                    .unwrap();
                http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap()
            })
            .collect()
    };
    let clients = bearers(CLIENTS);
    let token_len = clients[0].len() - "Bearer ".len();
    let layer = || JwtAuthLayer::new(fixture.verifier()).layer(inner::<axum::body::Body>());
    let service = layer();
    let region = Region::new(GLOBAL);
    for bearer in &clients {
        once(rt, &service, bearer);
    }
    let per_token = live_bytes(&region) as f64 / CLIENTS as f64;
    let kept_allocs = {
        let stats = region.change();
        (stats.allocations - stats.deallocations) as f64 / CLIENTS as f64
    };
    println!(
        "cache: {CLIENTS} ES256 tokens of {token_len} bytes cached: {per_token:.0} live heap bytes per token in {kept_allocs:.1} allocations (requested sizes; the allocator adds ~8-16 bytes to each)"
    );
    let (allocs, bytes) = count({
        let mut next = 0;
        move || {
            once(rt, &service, &clients[next % CLIENTS]);
            next += 1;
        }
    });
    println!(
        "{:<7} {:<28} {:>12.1} {:>12.0}",
        "ES256", "layer/memory/16000-clients", allocs, bytes
    );

    let capacity = DEFAULT_VERIFIED_CACHE_CAPACITY;
    let more = bearers(capacity + capacity / 4);
    let full = layer();
    let region = Region::new(GLOBAL);
    for bearer in &more {
        once(rt, &full, bearer);
    }
    let total = live_bytes(&region) as f64;
    println!(
        "cache: full (default capacity {capacity}, {} distinct tokens seen): {:.1} MiB live heap",
        more.len(),
        total / (1024.0 * 1024.0)
    );
}
