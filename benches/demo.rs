//! The demo's real router in-process (`oneshot`, no sockets): `GET /health`
//! (no layer) against `GET /protected/ping` (the layer, one HS256 token
//! reused, as `benches/load.sh` sends over HTTP), both with the token's
//! `Authorization` header so only the layer differs. Tells how much of the
//! HTTP gap is the router and the layer rather than the network stack.
//! Then both again with 16 000 clients, each with its own token from the
//! demo's login, taking turns (as `TOKENS=16000 benches/load.sh` sends):
//! what many distinct tokens cost in-process (the cache's lookups and the
//! memory they touch), without the network or wrk.
//!
//! `cargo bench --bench demo`

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn`

#[path = "support/demo_app.rs"]
mod demo_app;
mod support;

use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, StatusCode, header};
use tower::ServiceExt as _;

fn routes(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (app, bearer) = demo_app::app_and_bearer(&rt);
    let request = |uri: &'static str| {
        let mut request = Request::get(uri).body(Body::empty()).unwrap();
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, bearer.clone());
        request
    };

    let mut group = c.benchmark_group("demo");
    for uri in ["/health", "/protected/ping"] {
        let ok = rt.block_on(app.clone().oneshot(request(uri))).unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "{uri}");
        group.bench_function(uri, |b| {
            b.to_async(&rt).iter(|| app.clone().oneshot(request(uri)))
        });
    }

    const CLIENTS: usize = 16_000;
    let bearers: Vec<_> = (0..CLIENTS).map(|_| demo_app::login(&rt, &app)).collect();
    let request_for = |uri: &'static str, bearer: &header::HeaderValue| {
        let mut request = Request::get(uri).body(Body::empty()).unwrap();
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, bearer.clone());
        request
    };
    for uri in ["/health", "/protected/ping"] {
        for bearer in &bearers {
            let ok = rt.block_on(app.clone().oneshot(request_for(uri, bearer)));
            assert_eq!(ok.unwrap().status(), StatusCode::OK, "{uri}");
        }
        let mut next = 0;
        group.bench_function(format!("{uri}, {CLIENTS} clients"), |b| {
            b.to_async(&rt).iter(|| {
                next = (next + 1) % CLIENTS;
                app.clone().oneshot(request_for(uri, &bearers[next]))
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::short_runs();
    targets = routes
}
criterion_main!(benches);
