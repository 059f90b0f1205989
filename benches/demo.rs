//! The demo's real router in-process (`oneshot`, no sockets): `GET /health`
//! (no layer) against `GET /protected/ping` (the layer, one HS256 token
//! reused, as `benches/load.sh` sends over HTTP), both with the token's
//! `Authorization` header so only the layer differs. Tells how much of the
//! HTTP gap is the router and the layer rather than the network stack.
//!
//! `cargo bench --bench demo`

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn`

#[allow(dead_code)]
#[path = "../examples/demo.rs"]
mod demo;

use std::time::Duration;

use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, StatusCode, header};
use tower::ServiceExt as _;
use tower_jwt_auth::{Algorithm, JwtConfig, SigningKey, VerifyingKey};

const SECRET: &[u8] = b"bench-demo-secret-of-at-least-32-bytes!";

fn routes(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = demo::app(demo::Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        signing: SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        verifying: VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config: JwtConfig::new().access_ttl(Duration::from_secs(86_400)),
    });
    let login = Request::post("/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"username":"alice","password":"alice-password"}"#,
        ))
        .unwrap();
    let response = rt.block_on(app.clone().oneshot(login)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = rt
        .block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
        .unwrap();
    let pair: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let bearer = header::HeaderValue::from_str(&format!(
        "Bearer {}",
        pair["access_token"].as_str().unwrap()
    ))
    .unwrap();
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

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
}

criterion_group! {
    name = benches;
    config = config();
    targets = routes
}
criterion_main!(benches);
