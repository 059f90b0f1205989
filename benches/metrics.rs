//! What the `metrics` feature costs the auth layer, in one run:
//!
//! - `inner/bare`: the trivial inner service alone (`layer − inner` is the
//!   layer's own cost);
//! - `layer/{repeated,first-seen}/no-recorder`: the layer with the feature
//!   compiled in but no recorder installed (the facade's no-op);
//! - `layer/{repeated,first-seen}/prometheus`: the same layer after a
//!   `metrics-exporter-prometheus` recorder (with the demo's histogram
//!   buckets) was installed as the global one, so every request counts its
//!   decision and records its verification time (and a first-seen token
//!   the cache's two gauges).
//!
//! The feature-off figure is `layer/memory/repeated` of `benches/verify.rs`
//! built without the feature (`cargo bench --bench verify`).
//!
//! `cargo bench --features metrics --bench metrics`.

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn`

mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use support::{fixtures, inner, runtime};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_auth::{DEFAULT_VERIFIED_CACHE_CAPACITY, JwtAuthLayer};

fn compare(c: &mut Criterion) {
    let rt = runtime();
    let fixtures: Vec<_> = fixtures()
        .into_iter()
        .filter(|f| matches!(f.name, "HS256" | "ES256"))
        .collect();
    let layers = |fixture: &support::Fixture| {
        let repeated = fixture
            .verifier()
            .verified_cache(DEFAULT_VERIFIED_CACHE_CAPACITY);
        let first_seen = fixture.verifier().verified_cache(0);
        [
            ("repeated", JwtAuthLayer::new(repeated)),
            ("first-seen", JwtAuthLayer::new(first_seen)),
        ]
    };
    // Installing a global recorder cannot be undone: every fixture is
    // measured without one first, then with one.
    for recorder in ["no-recorder", "prometheus"] {
        if recorder == "prometheus" {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(tower_jwt_auth::metrics::VERIFY_SECONDS.to_owned()),
                    &[
                        1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2,
                        1e-1,
                    ],
                )
                .unwrap()
                .install_recorder()
                .unwrap();
            // Keep the handle (and its registry) alive for the rest of the run.
            std::mem::forget(handle);
        }
        for fixture in &fixtures {
            let mut group = c.benchmark_group(fixture.name);
            if recorder == "no-recorder" {
                let bare = inner::<axum::body::Body>();
                group.bench_function("inner/bare", |b| {
                    b.to_async(&rt)
                        .iter(|| bare.clone().oneshot(fixture.request()))
                });
            }
            for (path, layer) in layers(fixture) {
                let service = layer.layer(inner::<axum::body::Body>());
                let ok = rt
                    .block_on(service.clone().oneshot(fixture.request()))
                    .unwrap();
                assert_eq!(ok.status(), 200);
                group.bench_function(format!("layer/{path}/{recorder}"), |b| {
                    b.to_async(&rt)
                        .iter(|| service.clone().oneshot(fixture.request()))
                });
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = support::short_runs();
    targets = compare
}
criterion_main!(benches);
