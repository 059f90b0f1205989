//! Remote key sets against local keys, in one run (ES256 and EdDSA):
//!
//! - `verifier/{local,remote}/first-seen`: a full check (cache off), the key
//!   from a `KeySet` or from a `RemoteJwks` fetched from a JWKS server on a
//!   loopback port;
//! - `verifier/{local,remote}/repeated`: the same token through the
//!   verified-token cache;
//! - `layer/{local,remote}/repeated`: the whole `JwtAuthLayer`.
//!
//! Then a flood of tokens with random `kid`s through the layer: requests per
//! second and how many fetches the flood cost (printed, not a criterion
//! figure).
//!
//! `cargo bench --bench jwks --features jwks`

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn`

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use support::{Fixture, config, fixtures, inner, runtime};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_auth::jwks::RemoteJwks;
use tower_jwt_auth::{
    Algorithm, JwtAuthLayer, NoCustomClaims, SigningKey, TokenIssuer, TokenType, Verifier,
};

/// The public JWK of a fixture's key (no `kid`: the fixtures' tokens carry
/// none, and a set of one key is chosen without one).
fn jwk(fixture: &Fixture) -> Value {
    let pem = fixture.public_pem.as_deref().unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).unwrap();
    match fixture.algorithm {
        Algorithm::ES256 => {
            let point = &der[der.len() - 65..];
            json!({"kty": "EC", "crv": "P-256", "alg": "ES256",
                   "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                   "y": URL_SAFE_NO_PAD.encode(&point[33..])})
        }
        Algorithm::EdDSA => json!({"kty": "OKP", "crv": "Ed25519",
                                   "x": URL_SAFE_NO_PAD.encode(&der[der.len() - 32..])}),
        _ => unreachable!(),
    }
}

/// Serves `{"keys": [jwk]}` on a loopback port; the URL of the set.
async fn serve(jwk: Value) -> String {
    let document = json!({ "keys": [jwk] });
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            let document = document.clone();
            async move { axum::Json(document) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn compare(c: &mut Criterion) {
    let rt = runtime();
    for fixture in fixtures()
        .into_iter()
        .filter(|f| matches!(f.algorithm, Algorithm::ES256 | Algorithm::EdDSA))
    {
        let url = rt.block_on(serve(jwk(&fixture)));
        let remote = rt.block_on(async {
            let keys = RemoteJwks::builder(&url).build().unwrap();
            assert!(keys.ready(Duration::from_secs(10)).await);
            keys
        });
        let mut group = c.benchmark_group(format!("{}/jwks", fixture.name));
        let local = fixture.verifier();
        let remote_verifier = Verifier::new(remote.clone(), config());
        for (source, verifier) in [("local", &local), ("remote", &remote_verifier)] {
            let first_seen = verifier.clone().verified_cache(0);
            group.bench_function(format!("verifier/{source}/first-seen"), |b| {
                b.iter(|| {
                    first_seen
                        .verify::<NoCustomClaims>(black_box(&fixture.token), TokenType::Access)
                        .unwrap()
                })
            });
            group.bench_function(format!("verifier/{source}/repeated"), |b| {
                b.iter(|| {
                    verifier
                        .verify::<NoCustomClaims>(black_box(&fixture.token), TokenType::Access)
                        .unwrap()
                })
            });
            let service = JwtAuthLayer::new(verifier.clone()).layer(inner::<axum::body::Body>());
            group.bench_function(format!("layer/{source}/repeated"), |b| {
                b.iter(|| {
                    let response = rt
                        .block_on(service.clone().oneshot(fixture.request()))
                        .unwrap();
                    assert_eq!(response.status(), 200);
                })
            });
        }
        group.finish();
        if fixture.algorithm == Algorithm::ES256 {
            // A set whose key is named, so other `kid`s are unknown.
            let mut named = jwk(&fixture);
            named["kid"] = "bench".into();
            let url = rt.block_on(serve(named));
            let named = rt.block_on(async {
                let keys = RemoteJwks::builder(&url).build().unwrap();
                assert!(keys.ready(Duration::from_secs(10)).await);
                keys
            });
            flood(&rt, &fixture, named);
        }
        drop(remote);
    }
}

/// Tokens with random `kid`s through the layer, one after another: each
/// is refused, and the whole flood costs at most one fetch per
/// `min_refresh` (10 s by default).
fn flood(rt: &tokio::runtime::Runtime, fixture: &Fixture, remote: RemoteJwks) {
    const REQUESTS: usize = 20_000;
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/keys/es256-private.pem"
    ))
    .unwrap();
    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let key = SigningKey::from_pem(Algorithm::ES256, pem.as_bytes())
                .unwrap()
                .with_kid(format!("random-{i}"));
            let token = TokenIssuer::new(key, config())
                .access_token("mallory", &NoCustomClaims {})
                .unwrap();
            let mut request = fixture.request();
            request.headers_mut().insert(
                http::header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            );
            request
        })
        .collect();
    let before = remote.status();
    let service = JwtAuthLayer::new(Verifier::new(remote.clone(), config()))
        .layer(inner::<axum::body::Body>());
    let started = Instant::now();
    rt.block_on(async {
        for request in requests {
            let response = service.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 401);
        }
    });
    let elapsed = started.elapsed();
    let after = remote.status();
    println!(
        "random-kid flood: {REQUESTS} requests in {:.2} s = {:.0} requests/s; fetches: {} \
         (unknown-kid refetches: {})",
        elapsed.as_secs_f64(),
        REQUESTS as f64 / elapsed.as_secs_f64(),
        after.fetches - before.fetches,
        after.unknown_kid_refetches - before.unknown_kid_refetches,
    );
}

criterion_group! {
    name = benches;
    config = support::short_runs();
    targets = compare
}
criterion_main!(benches);
