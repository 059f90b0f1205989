//! The verified-token cache under many clients at once: 1, 2 and 4 threads
//! call the auth layer (ES256, default configuration, `MemoryStore`) at the
//! same time, each thread with its own 2 000 distinct tokens, every one of
//! them cached beforehand, so every call is a hit on a different entry.
//!
//! One iteration is one request on every thread at once, and criterion's
//! throughput is requests per second over all threads: a cache whose hits
//! serialize on one lock keeps the total flat (or worse) as threads are
//! added; one that scales multiplies it, up to the number of idle cores
//! (only two on the shared development machine, so four threads there show
//! oversubscription, not the lock).
//!
//! `cargo bench --bench cache` (short measurement times are set below;
//! criterion's `--measurement-time` overrides them). `TOKENS_PER_THREAD=500`
//! keeps all tokens within one generation of the old two-generation cache
//! (2 048 of its 4 096), to compare the locks alone with an older build.

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn`

mod support;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::FutureExt as _;
use http::HeaderValue;
use http::header::AUTHORIZATION;
use support::{fixtures, inner};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_auth::JwtAuthLayer;

/// Distinct tokens per thread, unless `TOKENS_PER_THREAD` says otherwise.
const TOKENS_PER_THREAD: usize = 2_000;
const THREADS: [usize; 3] = [1, 2, 4];

/// One request through `service`; the in-memory store and the inner
/// service answer at once, so the future is ready on its first poll and no
/// runtime is needed (whose scheduling would blur the cache's share).
fn call<S>(service: &S, bearer: &HeaderValue)
where
    S: tower::Service<
            http::Request<axum::body::Body>,
            Response = http::Response<axum::body::Body>,
            Error = std::convert::Infallible,
        > + Clone,
{
    let mut request = http::Request::new(axum::body::Body::empty());
    request.headers_mut().insert(AUTHORIZATION, bearer.clone());
    let response = service
        .clone()
        .oneshot(request)
        .now_or_never()
        .expect("the layer over a MemoryStore answers without waiting")
        .unwrap();
    assert_eq!(response.status(), 200);
}

fn distinct_tokens(c: &mut Criterion) {
    let fixture = fixtures()
        .into_iter()
        .find(|f| f.name == "ES256")
        .expect("an ES256 fixture");
    let service = JwtAuthLayer::new(fixture.verifier()).layer(inner::<axum::body::Body>());
    let max_threads = THREADS.iter().copied().max().unwrap_or(1);
    let per_thread = std::env::var("TOKENS_PER_THREAD")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(TOKENS_PER_THREAD);
    let bearers: Vec<Vec<HeaderValue>> = (0..max_threads)
        .map(|_| {
            fixture
                .distinct_tokens(per_thread)
                .iter()
                .map(|token| HeaderValue::from_str(&format!("Bearer {token}")).unwrap())
                .collect()
        })
        .collect();
    // Every token verified once, so the measured calls are all hits.
    for bearer in bearers.iter().flatten() {
        call(&service, bearer);
    }

    let mut group = c.benchmark_group("cache/distinct-tokens");
    for threads in THREADS {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter_custom(|iters| {
                let start = Barrier::new(threads);
                std::thread::scope(|scope| {
                    let workers: Vec<_> = bearers[..threads]
                        .iter()
                        .map(|mine| {
                            let service = service.clone();
                            let start = &start;
                            scope.spawn(move || {
                                start.wait();
                                let began = Instant::now();
                                for i in 0..iters as usize {
                                    call(&service, &mine[i % mine.len()]);
                                }
                                began.elapsed()
                            })
                        })
                        .collect();
                    workers
                        .into_iter()
                        .map(|worker| worker.join().unwrap())
                        .max()
                        .unwrap_or(Duration::ZERO)
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::short_runs();
    targets = distinct_tokens
}
criterion_main!(benches);
