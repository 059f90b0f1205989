//! What the CSRF proof costs a cookie credential on an unsafe method, in one
//! run so the figures are ratios:
//!
//! - `check`: `CsrfProtection::check` alone on a `POST` with a good
//!   token (the origin check, two constant-time compares, one HMAC-SHA256);
//! - `layer/bearer-post`: a `POST` with a bearer header through the whole
//!   `JwtAuthLayer` (no CSRF question);
//! - `layer/cookie-get`: a `GET` with the access cookie (safe: no check);
//! - `layer/cookie-post`: a `POST` with the access cookie, the CSRF cookie
//!   and the `X-CSRF-Token` header (checked).
//!
//! All HS256 with the verified-token cache on, so the layer's own cost shows.
//! `cargo bench --bench csrf` (short measurement times are set below).

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn`

mod support;

use std::hint::black_box;

use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Method, Request};
use support::{HMAC_SECRET, config, inner, runtime};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_auth::csrf::CsrfProtection;
use tower_jwt_auth::{
    Algorithm, DEFAULT_VERIFIED_CACHE_CAPACITY, JwtAuthLayer, NoCustomClaims, SigningKey,
    TokenIssuer, TokenSource, Verifier, VerifyingKey,
};

/// A bench name, the method, and the headers of its request.
type Case<'h> = (&'static str, Method, Vec<(&'static str, &'h HeaderValue)>);

const CSRF_SECRET: &[u8] = b"bench csrf secret, at least 32 bytes long";

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
    let csrf = CsrfProtection::new(CSRF_SECRET).unwrap();
    let pair = issuer.pair("alice", &NoCustomClaims {}).unwrap();
    let token = csrf.mint(&pair.session().id).unwrap();
    let bearer = HeaderValue::from_str(&format!("Bearer {}", pair.access_token)).unwrap();
    let cookie = HeaderValue::from_str(&format!(
        "access_token={}; csrf_token={token}",
        pair.access_token
    ))
    .unwrap();
    let echoed = HeaderValue::from_str(&token).unwrap();

    let mut group = c.benchmark_group("csrf");
    let (parts, ()) = Request::post("/notes")
        .header("cookie", cookie.clone())
        .header("x-csrf-token", echoed.clone())
        .body(())
        .unwrap()
        .into_parts();
    let sid = pair.session().id.clone();
    assert_eq!(
        csrf.check(&parts.method, &parts.uri, &parts.headers, Some(&sid)),
        Ok(())
    );
    group.bench_function("check", |b| {
        b.iter(|| {
            csrf.check(
                black_box(&parts.method),
                &parts.uri,
                black_box(&parts.headers),
                Some(&sid),
            )
        })
    });

    let layer = JwtAuthLayer::new(verifier)
        .sources([TokenSource::bearer(), TokenSource::cookie("access_token")])
        .csrf(csrf.clone());
    let service = layer.layer(inner::<Body>());
    let request = |method: Method, headers: &[(&'static str, &HeaderValue)]| {
        let mut request = Request::new(Body::empty());
        *request.method_mut() = method;
        for (name, value) in headers {
            request.headers_mut().insert(*name, (*value).clone());
        }
        request
    };
    let cases: [Case<'_>; 3] = [
        (
            "layer/bearer-post",
            Method::POST,
            vec![("authorization", &bearer)],
        ),
        ("layer/cookie-get", Method::GET, vec![("cookie", &cookie)]),
        (
            "layer/cookie-post",
            Method::POST,
            vec![("cookie", &cookie), ("x-csrf-token", &echoed)],
        ),
    ];
    for (name, method, headers) in &cases {
        let ok = rt
            .block_on(service.clone().oneshot(request(method.clone(), headers)))
            .unwrap();
        assert_eq!(ok.status(), 200, "{name} is accepted");
        group.bench_function(*name, |b| {
            b.to_async(&rt)
                .iter(|| service.clone().oneshot(request(method.clone(), headers)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::short_runs();
    targets = compare
}
criterion_main!(benches);
