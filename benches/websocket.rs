//! What the WebSocket parts cost, in one run so the figures are ratios:
//!
//! - `answer_protocol`: choosing the protocol to answer from
//!   `Sec-WebSocket-Protocol: bearer, <token>, echo`;
//! - `layer/bearer-header`: a `GET` with `Authorization: Bearer` through the
//!   whole `JwtAuthLayer`;
//! - `layer/protocol`: the same token offered as `bearer, <token>` (the
//!   protocol source reads the list);
//! - `watch/check_now`: one revocation check of an open socket's
//!   `CredentialWatch` on a `MemoryStore` (what each socket costs per check
//!   interval).
//!
//! All HS256 with the verified-token cache on, so the layer's own cost shows.
//! `cargo bench --bench websocket` (short measurement times are set below).

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn`

mod support;

use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Request};
use support::{HMAC_SECRET, config, inner, runtime};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::websocket::{CredentialWatch, answer_protocol};
use tower_jwt_auth::{
    Algorithm, DEFAULT_VERIFIED_CACHE_CAPACITY, JwtAuthLayer, MemoryStore, NoCustomClaims,
    SigningKey, TokenIssuer, TokenSource, TokenType, Verifier, VerifyingKey,
};

fn compare(c: &mut Criterion) {
    let rt = runtime();
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, HMAC_SECRET.as_bytes()).unwrap(),
        config(),
    );
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, HMAC_SECRET.as_bytes()).unwrap(),
        config(),
    )
    .verified_cache(DEFAULT_VERIFIED_CACHE_CAPACITY);
    let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
    let offered = HeaderValue::from_str(&format!("bearer, {token}, echo")).unwrap();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let mut group = c.benchmark_group("websocket");

    let mut headers = HeaderMap::new();
    headers.insert("sec-websocket-protocol", offered.clone());
    assert_eq!(answer_protocol(&headers, "bearer", &["echo"]), Some("echo"));
    group.bench_function("answer_protocol", |b| {
        b.iter(|| answer_protocol(black_box(&headers), "bearer", &["echo"]))
    });

    let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new());
    let layer = JwtAuthLayer::new(verifier.clone())
        .shared_store(store.clone())
        .sources([
            TokenSource::bearer(),
            TokenSource::websocket_protocol("bearer"),
        ]);
    let service = layer.layer(inner::<Body>());
    let request = |name: &'static str, value: &HeaderValue| {
        let mut request = Request::get("/ws").body(Body::empty()).unwrap();
        request.headers_mut().insert(name, value.clone());
        request
            .headers_mut()
            .insert("upgrade", HeaderValue::from_static("websocket"));
        request
    };
    for (bench, name, value) in [
        ("layer/bearer-header", "authorization", &bearer),
        ("layer/protocol", "sec-websocket-protocol", &offered),
    ] {
        let ok = rt
            .block_on(service.clone().oneshot(request(name, value)))
            .unwrap();
        assert_eq!(ok.status(), 200, "{bench} is accepted");
        group.bench_function(bench, |b| {
            b.to_async(&rt)
                .iter(|| service.clone().oneshot(request(name, value)))
        });
    }

    let claims = verifier
        .verify::<NoCustomClaims>(&token, TokenType::Access)
        .unwrap();
    let watch = CredentialWatch::new(&claims, store);
    assert_eq!(watch.check_now(), None);
    group.bench_function("watch/check_now", |b| {
        b.iter(|| black_box(&watch).check_now())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::short_runs();
    targets = compare
}
criterion_main!(benches);
