//! Per algorithm, in one run so the figures are ratios that hold on a noisy
//! machine:
//!
//! - `jsonwebtoken/decode`: the floor — bare `jsonwebtoken::decode` of the
//!   same token into the same claims type, with the same checks;
//! - `verifier/first-seen`: this crate's `Verifier::verify` with the
//!   verified-token cache off (every call a full check, as for a token seen
//!   for the first time); `verifier/repeated`: the same token again through
//!   the cache (on by default for the asymmetric algorithms, forced on here
//!   for HS256 too);
//! - `inner/bare`: the trivial inner service alone through `oneshot` (so
//!   `layer − inner` is the layer's own cost);
//! - `layer/memory/*`, `layer/redis/*`: the whole `JwtAuthLayer` through
//!   `oneshot` with either verifier, revocations in a `MemoryStore` / a
//!   `RedisStore` on `REDIS_URL` or 127.0.0.1:6379 (skipped when no Redis
//!   answers there);
//! - `jwt-authorizer/layer`: the peer's layer on the same token, key and
//!   inner service.
//!
//! `cargo bench --bench verify` (short measurement times are set below;
//! criterion's `--measurement-time` overrides them).

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn`

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use support::{BenchClaims, Fixture, PeerBody, fixtures, inner, peer_layer, redis_store, runtime};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_auth::{DEFAULT_VERIFIED_CACHE_CAPACITY, JwtAuthLayer, TokenType, Verifier};

fn compare(c: &mut Criterion) {
    let rt = runtime();
    let redis = redis_store(&rt);
    for fixture in fixtures() {
        let mut group = c.benchmark_group(fixture.name);

        // Floor: bare jsonwebtoken.
        let (key, validation) = fixture.jsonwebtoken();
        assert!(jsonwebtoken::decode::<BenchClaims>(&fixture.token, &key, &validation).is_ok());
        group.bench_function("jsonwebtoken/decode", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<BenchClaims>(black_box(&fixture.token), &key, &validation)
                    .unwrap()
            })
        });

        // This crate's verifier: every call a full check (cache off), and
        // the same token again through the verified-token cache.
        let first_seen = fixture.verifier().verified_cache(0);
        let repeated = fixture
            .verifier()
            .verified_cache(DEFAULT_VERIFIED_CACHE_CAPACITY);
        bench_verifier(&mut group, "verifier/first-seen", &first_seen, &fixture);
        bench_verifier(&mut group, "verifier/repeated", &repeated, &fixture);

        // The inner service alone.
        let bare = inner::<axum::body::Body>();
        group.bench_function("inner/bare", |b| {
            b.to_async(&rt)
                .iter(|| bare.clone().oneshot(fixture.request()))
        });

        // The whole layer, MemoryStore.
        let layer = JwtAuthLayer::new(first_seen.clone());
        bench_layer(&mut group, &rt, "layer/memory/first-seen", &layer, &fixture);
        let layer = JwtAuthLayer::new(repeated.clone());
        bench_layer(&mut group, &rt, "layer/memory/repeated", &layer, &fixture);

        // The whole layer, RedisStore.
        if let Some(store) = &redis {
            let layer = JwtAuthLayer::new(first_seen.clone()).store(store.clone());
            bench_layer(&mut group, &rt, "layer/redis/first-seen", &layer, &fixture);
            let layer = JwtAuthLayer::new(repeated.clone()).store(store.clone());
            bench_layer(&mut group, &rt, "layer/redis/repeated", &layer, &fixture);
        }

        // The peer.
        let peer = rt.block_on(peer_layer(&fixture)).layer(inner::<PeerBody>());
        let ok = rt
            .block_on(peer.clone().oneshot(fixture.request()))
            .unwrap();
        assert_eq!(ok.status(), 200, "jwt-authorizer accepts the token");
        group.bench_function("jwt-authorizer/layer", |b| {
            b.to_async(&rt)
                .iter(|| peer.clone().oneshot(fixture.request()))
        });

        group.finish();
    }
}

fn bench_verifier(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    verifier: &Verifier,
    fixture: &Fixture,
) {
    assert!(
        verifier
            .verify::<tower_jwt_auth::NoCustomClaims>(&fixture.token, TokenType::Access)
            .is_ok()
    );
    group.bench_function(name, |b| {
        b.iter(|| {
            verifier
                .verify::<tower_jwt_auth::NoCustomClaims>(
                    black_box(&fixture.token),
                    TokenType::Access,
                )
                .unwrap()
        })
    });
}

fn bench_layer(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    layer: &JwtAuthLayer,
    fixture: &Fixture,
) {
    let service = layer.layer(inner::<axum::body::Body>());
    let ok = rt
        .block_on(service.clone().oneshot(fixture.request()))
        .unwrap();
    assert_eq!(ok.status(), 200, "{name} accepts the token");
    group.bench_function(name, |b| {
        b.to_async(rt)
            .iter(|| service.clone().oneshot(fixture.request()))
    });
}

criterion_group! {
    name = benches;
    config = support::short_runs();
    targets = compare
}
criterion_main!(benches);
