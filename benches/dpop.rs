//! What sender-constrained tokens cost, in one run so the figures are ratios:
//!
//! - `signature/<alg>`: the proof's signature check alone — its embedded JWK
//!   decoded and the signature verified by jsonwebtoken, nothing else: the
//!   floor of any DPoP check;
//! - `check_proof/<alg>`: `dpop::check_proof`, the whole pure proof check
//!   (RFC 9449 §4.3: header, key, signature, claims, `htu`, `ath`, `cnf.jkt`);
//! - `layer/dpop/<alg>`: a `GET` with `Authorization: DPoP` and a fresh proof
//!   through the whole `JwtAuthLayer` (HS256 access token, verified-token
//!   cache on, in-memory replay store) — the goal is ≤ 1.15 × `signature`;
//! - `signature_same_proof/<alg>`: one proof verified over and over, for
//!   comparison (its scalars and caches stay hot; the three above each get a
//!   fresh proof per iteration, as a server does);
//! - `layer/bearer` and `layer/mtls`: the same layer with a bearer token, and
//!   with a certificate-bound one and its `ClientCertificate`;
//! - `replay/memory`, `replay/redis`: one `ReplayStore::mark` of a new key.
//!
//! After criterion, plain loops print:
//! - `interleaved/<alg>`: the goal's ratio measured so a shared machine's
//!   drift cannot tilt it — 60 rounds, each timing the signature alone and
//!   the layer on the same 400 fresh proofs back to back; the median of the
//!   rounds' ratios. Sequential criterion figures on a VM whose speed wanders
//!   by ±15 % between benches can differ by more than the goal's margin;
//! - p50 / p99 of 20 000 marks of each replay store (Redis: `REDIS_URL` or
//!   the local one; skipped with a note when none answers).
//!
//! `cargo bench --features full --bench dpop` (short runs are set below).

#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn`

mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Method, Request};
use serde_json::{Value, json};
use support::{HMAC_SECRET, config, inner, runtime};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_auth::dpop::{
    DpopConfig, DpopPolicy, HtuOrigin, MemoryReplayStore, ProofRequest, RedisReplayStore,
    ReplayStore, access_token_hash, check_proof,
};
use tower_jwt_auth::mtls::ClientCertificate;
use tower_jwt_auth::{
    Algorithm, DEFAULT_VERIFIED_CACHE_CAPACITY, JwtAuthLayer, SigningKey, Verifier, VerifyingKey,
};

const ORIGIN: &str = "https://api.example.test";
const HTU: &str = "https://api.example.test/me";

/// A client's proof key.
struct Client {
    alg: Algorithm,
    name: &'static str,
    encoding: jsonwebtoken::EncodingKey,
    jwk: Value,
    jkt: String,
}

impl Client {
    fn new(alg: Algorithm, name: &'static str, pem: &[u8]) -> Self {
        let key = SigningKey::from_pem(alg, pem).unwrap();
        let encoding = match alg {
            Algorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_pem(pem).unwrap(),
            _ => jsonwebtoken::EncodingKey::from_ec_pem(pem).unwrap(),
        };
        Self {
            alg,
            name,
            encoding,
            jwk: serde_json::to_value(key.public_jwk().unwrap()).unwrap(),
            jkt: key.thumbprint().unwrap(),
        }
    }

    /// A fresh proof (a new `jti` each time) for `GET` [`HTU`] and `token`.
    fn proof(&self, token: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = json!({"typ": "dpop+jwt", "alg": self.name, "jwk": self.jwk});
        let claims = json!({
            "jti": format!("bench-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)),
            "htm": "GET", "htu": HTU, "iat": now, "ath": access_token_hash(token),
        });
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &self.encoding, self.alg).unwrap();
        format!("{input}.{signature}")
    }
}

/// An HS256 access token with `cnf` when given.
fn token(cnf: Option<Value>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = json!({
        "iss": support::ISSUER, "aud": support::AUDIENCE, "sub": "alice",
        "exp": now + 3600, "iat": now, "jti": "bench-token", "token_type": "access",
    });
    if let Some(cnf) = cnf {
        claims["cnf"] = cnf;
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(HMAC_SECRET.as_bytes()),
    )
    .unwrap()
}

fn layer() -> JwtAuthLayer {
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, HMAC_SECRET.as_bytes()).unwrap(),
        config(),
    )
    .verified_cache(DEFAULT_VERIFIED_CACHE_CAPACITY);
    JwtAuthLayer::new(verifier).dpop(
        DpopPolicy::allowed()
            .origin(HtuOrigin::external(ORIGIN).unwrap())
            .replay_store(MemoryReplayStore::new()),
    )
}

fn request(authorization: &str, proof: Option<&str>) -> Request<Body> {
    let mut request = Request::get("/me").body(Body::empty()).unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "authorization",
        HeaderValue::from_str(authorization).unwrap(),
    );
    if let Some(proof) = proof {
        headers.insert("dpop", HeaderValue::from_str(proof).unwrap());
    }
    request
}

/// The signature check alone: the JWK decoded and the signature verified.
fn signature_only(alg: Algorithm, proof: &str) -> bool {
    let (input, signature) = proof.rsplit_once('.').unwrap();
    let header: Value =
        serde_json::from_slice(&B64.decode(input.split('.').next().unwrap()).unwrap()).unwrap();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(header["jwk"].clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    jsonwebtoken::crypto::verify(signature, input.as_bytes(), &key, alg).unwrap()
}

fn compare(c: &mut Criterion) {
    let rt = runtime();
    let clients = [
        Client::new(
            Algorithm::ES256,
            "ES256",
            include_bytes!("../tests/keys/es256_private.pem"),
        ),
        Client::new(
            Algorithm::EdDSA,
            "EdDSA",
            include_bytes!("../tests/keys/ed25519_private.pem"),
        ),
    ];
    let service = layer().layer(inner::<Body>());
    let mut group = c.benchmark_group("dpop");
    for client in &clients {
        let bound = token(Some(json!({"jkt": client.jkt})));
        let proof = client.proof(&bound);
        assert!(signature_only(client.alg, &proof));
        // Every routine gets a fresh proof, as the layer does: one proof
        // verified over and over keeps its scalars, and its caches, hot.
        group.bench_function(format!("signature/{}", client.name), |b| {
            b.iter_batched(
                || client.proof(&bound),
                |proof| signature_only(client.alg, &proof),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("signature_same_proof/{}", client.name), |b| {
            b.iter(|| signature_only(client.alg, black_box(&proof)))
        });
        let config = DpopConfig::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let checked = ProofRequest::new(&Method::GET, HTU, now)
            .access_token(&bound)
            .bound_to(&client.jkt);
        check_proof(&config, &proof, &checked).unwrap();
        group.bench_function(format!("check_proof/{}", client.name), |b| {
            b.iter_batched(
                || client.proof(&bound),
                |proof| check_proof(&config, &proof, &checked),
                BatchSize::SmallInput,
            )
        });
        let authorization = format!("DPoP {bound}");
        let ok = rt
            .block_on(
                service
                    .clone()
                    .oneshot(request(&authorization, Some(&client.proof(&bound)))),
            )
            .unwrap();
        assert_eq!(ok.status(), 200, "the DPoP request is accepted");
        group.bench_function(format!("layer/dpop/{}", client.name), |b| {
            b.to_async(&rt).iter_batched(
                || request(&authorization, Some(&client.proof(&bound))),
                |request| service.clone().oneshot(request),
                BatchSize::SmallInput,
            )
        });
    }

    let plain = format!("Bearer {}", token(None));
    group.bench_function("layer/bearer", |b| {
        b.to_async(&rt)
            .iter(|| service.clone().oneshot(request(&plain, None)))
    });
    let certificate = ClientCertificate::from_der(b"a client certificate's DER".to_vec());
    let mtls = format!(
        "Bearer {}",
        token(Some(json!({"x5t#S256": certificate.thumbprint()})))
    );
    let with_certificate = || {
        let mut request = request(&mtls, None);
        request.extensions_mut().insert(certificate.clone());
        request
    };
    let ok = rt
        .block_on(service.clone().oneshot(with_certificate()))
        .unwrap();
    assert_eq!(
        ok.status(),
        200,
        "the certificate-bound request is accepted"
    );
    group.bench_function("layer/mtls", |b| {
        b.to_async(&rt)
            .iter(|| service.clone().oneshot(with_certificate()))
    });

    let memory = MemoryReplayStore::new().capacity(1 << 22);
    let next = AtomicU64::new(0);
    let key = || format!("bench-replay-{}", next.fetch_add(1, Ordering::Relaxed));
    group.bench_function("replay/memory", |b| {
        b.iter_batched(
            key,
            |k| memory.mark(&k, Duration::from_secs(61)),
            BatchSize::SmallInput,
        )
    });
    let redis = redis_replay_store(&rt);
    if let Some(redis) = &redis {
        group.bench_function("replay/redis", |b| {
            b.to_async(&rt).iter_batched(
                key,
                |k| redis.mark(&k, Duration::from_secs(61)).resolve(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    for client in &clients {
        interleaved_ratio(&rt, &service, client);
    }
    percentiles("memory", &rt, &MemoryReplayStore::new());
    if let Some(redis) = &redis {
        percentiles("redis", &rt, redis);
    }
}

/// The goal's ratio, measured so that a shared machine's drift cannot tilt
/// it: 60 rounds, each signing 400 fresh proofs and timing the signature
/// check alone and the layer on those same proofs, back to back (which one
/// goes first alternates); prints the median of the rounds' ratios.
fn interleaved_ratio(
    rt: &tokio::runtime::Runtime,
    service: &(
         impl tower::Service<
        Request<Body>,
        Response = http::Response<Body>,
        Error = std::convert::Infallible,
        Future: Send,
    > + Clone
     ),
    client: &Client,
) {
    const ROUNDS: usize = 60;
    const PER_ROUND: usize = 400;
    let bound = token(Some(json!({"jkt": client.jkt})));
    let authorization = format!("DPoP {bound}");
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut signature_total, mut layer_total) = (Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        let proofs: Vec<String> = (0..PER_ROUND).map(|_| client.proof(&bound)).collect();
        let requests: Vec<Request<Body>> = proofs
            .iter()
            .map(|proof| request(&authorization, Some(proof)))
            .collect();
        let signature = || {
            let start = Instant::now();
            for proof in &proofs {
                assert!(signature_only(client.alg, black_box(proof)));
            }
            start.elapsed()
        };
        let mut requests = Some(requests);
        let mut layer = || {
            let requests = requests.take().expect("the layer runs once a round");
            rt.block_on(async {
                let start = Instant::now();
                for request in requests {
                    let response = service.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                }
                start.elapsed()
            })
        };
        let (signature, layer) = if round % 2 == 0 {
            let signature = signature();
            (signature, layer())
        } else {
            let layer = layer();
            (signature(), layer)
        };
        signature_total += signature;
        layer_total += layer;
        ratios.push(layer.as_secs_f64() / signature.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let per_proof = |total: Duration| total / (ROUNDS * PER_ROUND) as u32;
    println!(
        "dpop/interleaved/{}: layer / signature median {:.3} (rounds: min {:.3}, max {:.3}); \
         signature {:?}, layer {:?} per request ({ROUNDS} rounds of {PER_ROUND} fresh proofs)",
        client.name,
        ratios[ROUNDS / 2],
        ratios[0],
        ratios[ROUNDS - 1],
        per_proof(signature_total),
        per_proof(layer_total),
    );
}

/// A replay store on `REDIS_URL` (default the local Redis), if one answers.
fn redis_replay_store(rt: &tokio::runtime::Runtime) -> Option<RedisReplayStore> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let store = RedisReplayStore::connect(&url)
        .ok()?
        .prefix(format!("tower-jwt-auth-bench-dpop:{}:", std::process::id()));
    match rt.block_on(store.mark("probe", Duration::from_secs(5)).resolve()) {
        Ok(_) => Some(store),
        Err(error) => {
            eprintln!("replay/redis skipped: {url}: {error}");
            None
        }
    }
}

/// 20 000 marks of new keys, one at a time: p50 and p99.
fn percentiles(name: &str, rt: &tokio::runtime::Runtime, store: &dyn ReplayStore) {
    let mut latencies: Vec<Duration> = (0..20_000)
        .map(|i| {
            let key = format!("bench-p-{}-{name}-{i}", std::process::id());
            let start = Instant::now();
            let answer = rt.block_on(store.mark(&key, Duration::from_secs(61)).resolve());
            let elapsed = start.elapsed();
            answer.unwrap();
            elapsed
        })
        .collect();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "dpop/replay/{name}: p50 {:?}, p99 {:?} (20 000 marks)",
        at(0.50),
        at(0.99)
    );
}

criterion_group! {
    name = benches;
    config = support::short_runs();
    targets = compare
}
criterion_main!(benches);
