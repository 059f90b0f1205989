//! The demo's real router in-process (`oneshot`, no sockets): `GET /health`
//! (no layer) against `GET /protected/ping` (the layer, one HS256 token
//! reused, as `benches/load.sh` sends over HTTP), both with the token's
//! `Authorization` header so only the layer differs. Tells how much of the
//! HTTP gap is the router and the layer rather than the network stack.
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
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::short_runs();
    targets = routes
}
criterion_main!(benches);
