//! Instructions per call, counted by valgrind's callgrind: the same
//! comparison as `benches/verify.rs` (and the demo's two routes of
//! `benches/demo.rs`), in a unit that does not move with the machine's load.
//! Two runs of the same binary give the same counts (to 0.02 % where a hash
//! map with a random seed is involved), so the ratios below hold for this
//! build, where wall-clock ratios on a shared VM drift by several percent
//! between runs.
//!
//! Instructions are not time: a signature check's assembly retires more
//! instructions per cycle than parsing code. Compare rows that do the same
//! kind of work (this crate's verifier against `jsonwebtoken::decode`, whose
//! signature math is the same aws-lc-rs code); the criterion benches give the
//! times.
//!
//! ```sh
//! cargo bench --bench instructions            # needs valgrind
//! ```
//!
//! Without arguments (cargo passes `--bench`) it runs itself under
//! `valgrind --tool=callgrind` once per workload and prints the instructions
//! counted inside [`measured_loop`] divided by its iterations: set-up (which
//! signs tokens with random nonces, so its count varies) is not counted.
//! With `<workload> <algorithm> <iterations>` it runs one workload and exits;
//! that is what valgrind runs.

#![allow(missing_docs)]

#[path = "support/demo_app.rs"]
mod demo_app;
mod support;

use std::hint::black_box;
use std::process::Command;

use axum::body::Body;
use http::{Request, StatusCode, header};
use support::{BenchClaims, PeerBody, fixtures, inner, peer_layer, runtime};
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{
    DEFAULT_VERIFIED_CACHE_CAPACITY, JwtAuthLayer, MemoryStore, NoCustomClaims, TokenType,
};

const ITERATIONS: u64 = 200;
const ALGORITHMS: [&str; 4] = ["HS256", "RS256", "ES256", "EdDSA"];
const WORKLOADS: [&str; 9] = [
    "jsonwebtoken/decode",
    "verifier/first-seen",
    "verifier/repeated",
    "inner/bare",
    "layer/memory/first-seen",
    "layer/memory/repeated",
    "layer/redis/first-seen",
    "layer/redis/repeated",
    "jwt-authorizer/layer",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [workload, algorithm, iterations] => {
            run(workload, algorithm, iterations.parse().expect("iterations"));
        }
        _ => compare(),
    }
}

/// Runs `workload` `iterations` times.
fn run(workload: &str, algorithm: &str, iterations: u64) {
    if workload.starts_with("demo") {
        return run_demo(workload, iterations);
    }
    let fixture = &fixtures()
        .into_iter()
        .find(|f| f.name == algorithm)
        .expect("a known algorithm");
    let rt = &runtime();
    let first_seen = fixture.verifier().verified_cache(0);
    let repeated = fixture
        .verifier()
        .verified_cache(DEFAULT_VERIFIED_CACHE_CAPACITY);
    let verify = move |verifier: &tower_jwt_auth::Verifier| {
        verifier
            .verify::<NoCustomClaims>(black_box(&fixture.token), TokenType::Access)
            .unwrap();
    };
    let redis = || {
        let store = support::redis_store(rt).unwrap_or_else(|| {
            // `compare` turns this into "skipped".
            std::process::exit(3)
        });
        with_unrelated_revocations(rt, store)
    };
    let memory = || with_unrelated_revocations(rt, MemoryStore::new());
    let layered = move |layer: JwtAuthLayer| {
        let service = layer.layer(inner::<Body>());
        move || {
            let response = rt
                .block_on(service.clone().oneshot(fixture.request()))
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    let mut call: Box<dyn FnMut()> = match workload {
        "jsonwebtoken/decode" => {
            let (key, validation) = fixture.jsonwebtoken();
            Box::new(move || {
                jsonwebtoken::decode::<BenchClaims>(black_box(&fixture.token), &key, &validation)
                    .unwrap();
            })
        }
        "verifier/first-seen" => Box::new(|| verify(&first_seen)),
        "verifier/repeated" => Box::new(|| verify(&repeated)),
        "inner/bare" => {
            let bare = inner::<Body>();
            Box::new(move || {
                rt.block_on(bare.clone().oneshot(fixture.request()))
                    .unwrap();
            })
        }
        "layer/memory/first-seen" => Box::new(layered(
            JwtAuthLayer::new(first_seen.clone()).store(memory()),
        )),
        "layer/memory/repeated" => {
            Box::new(layered(JwtAuthLayer::new(repeated.clone()).store(memory())))
        }
        "layer/redis/first-seen" => Box::new(layered(
            JwtAuthLayer::new(first_seen.clone()).store(redis()),
        )),
        "layer/redis/repeated" => {
            Box::new(layered(JwtAuthLayer::new(repeated.clone()).store(redis())))
        }
        "jwt-authorizer/layer" => {
            let peer = rt.block_on(peer_layer(fixture)).layer(inner::<PeerBody>());
            Box::new(move || {
                let response = rt
                    .block_on(peer.clone().oneshot(fixture.request()))
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            })
        }
        other => panic!("unknown workload {other}"),
    };
    // One call outside the count, so a cache is warm for "repeated".
    call();
    measured_loop(&mut call, iterations);
}

/// `store` holding what a live service's store holds: revocations of other
/// tokens and subjects (256 of each, for a minute), so a lookup does the work
/// it does in production rather than answer from an empty table.
fn with_unrelated_revocations<S: RevocationStore>(rt: &tokio::runtime::Runtime, store: S) -> S {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let expires_at = now.as_secs() + 60;
    rt.block_on(async {
        for i in 0..256 {
            store
                .revoke_token(&format!("unrelated-jti-{i}"), expires_at)
                .await
                .unwrap();
            let cutoff = u64::try_from(now.as_micros()).unwrap();
            store
                .revoke_subject(&format!("unrelated-subject-{i}"), cutoff, expires_at)
                .await
                .unwrap();
        }
    });
    store
}

/// The only code callgrind counts (`--toggle-collect`).
#[inline(never)]
fn measured_loop(call: &mut dyn FnMut(), iterations: u64) {
    for _ in 0..iterations {
        call();
    }
}

/// The demo's router in-process, as `benches/demo.rs`: `demo/health` and
/// `demo/protected`, both with the same HS256 token in `Authorization`.
fn run_demo(workload: &str, iterations: u64) {
    let rt = runtime();
    let (app, bearer) = demo_app::app_and_bearer(&rt);
    let uri = match workload {
        "demo/health" => "/health",
        "demo/protected" => "/protected/ping",
        other => panic!("unknown workload {other}"),
    };
    let mut call = || {
        let mut request = Request::get(uri).body(Body::empty()).unwrap();
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, bearer.clone());
        let response = rt.block_on(app.clone().oneshot(request)).unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
    };
    call();
    measured_loop(&mut call, iterations);
}

/// Instructions callgrind counted for one run of `workload`; `None` when the
/// workload could not run here (no Redis).
fn count(workload: &str, algorithm: &str, iterations: u64) -> Option<u64> {
    let exe = std::env::current_exe().expect("own path");
    let output = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--collect-atstart=no",
            "--toggle-collect=*measured_loop*",
        ])
        .arg(exe)
        .args([workload, algorithm, &iterations.to_string()])
        .output()
        .expect("valgrind runs");
    if output.status.code() == Some(3) {
        return None;
    }
    assert!(
        output.status.success(),
        "{workload} {algorithm}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let collected = stderr
        .lines()
        .find_map(|line| line.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no instruction count from callgrind:\n{stderr}"));
    Some(collected)
}

/// Instructions per call; NaN (printed as "NaN") when the workload was skipped.
fn per_call(workload: &str, algorithm: &str) -> f64 {
    count(workload, algorithm, ITERATIONS).map_or(f64::NAN, |n| n as f64 / ITERATIONS as f64)
}

fn compare() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("instructions: valgrind is not installed (apt-get install -y valgrind); skipped");
        return;
    }
    println!("instructions per call (callgrind, {ITERATIONS} iterations)\n");
    println!(
        "{:<26}{}",
        "workload",
        ALGORITHMS.map(|a| format!("{a:>12}")).concat()
    );
    let mut table = Vec::new();
    for workload in WORKLOADS {
        let row: Vec<f64> = ALGORITHMS.iter().map(|a| per_call(workload, a)).collect();
        println!(
            "{workload:<26}{}",
            row.iter().map(|n| format!("{n:>12.0}")).collect::<String>()
        );
        table.push(row);
    }
    let at = |workload: &str| table[WORKLOADS.iter().position(|w| *w == workload).unwrap()].clone();
    let (decode, first_seen) = (at("jsonwebtoken/decode"), at("verifier/first-seen"));
    let (inner, repeated) = (at("inner/bare"), at("layer/memory/repeated"));
    let (layer_first, peer) = (at("layer/memory/first-seen"), at("jwt-authorizer/layer"));
    let (redis_first, redis_repeated) = (at("layer/redis/first-seen"), at("layer/redis/repeated"));
    let ratios: [(&str, Vec<f64>); 6] = [
        (
            "verifier first-seen / decode",
            (0..4).map(|i| first_seen[i] / decode[i]).collect(),
        ),
        (
            "(layer repeated − inner) / HS256 decode",
            (0..4)
                .map(|i| (repeated[i] - inner[i]) / decode[0])
                .collect(),
        ),
        (
            "layer first-seen / jwt-authorizer",
            (0..4).map(|i| layer_first[i] / peer[i]).collect(),
        ),
        (
            "layer repeated / jwt-authorizer",
            (0..4).map(|i| repeated[i] / peer[i]).collect(),
        ),
        (
            "MemoryStore / RedisStore, first-seen",
            (0..4).map(|i| layer_first[i] / redis_first[i]).collect(),
        ),
        (
            "MemoryStore / RedisStore, repeated",
            (0..4).map(|i| repeated[i] / redis_repeated[i]).collect(),
        ),
    ];
    println!("\nratios (the RedisStore rows are speed ratios: higher is better; NaN: no Redis)");
    for (name, row) in ratios {
        println!(
            "{name:<42}{}",
            row.iter().map(|r| format!("{r:>8.3}")).collect::<String>()
        );
    }
    let health = per_call("demo/health", "HS256");
    let protected = per_call("demo/protected", "HS256");
    println!(
        "\ndemo router in-process, same token in both: /health {health:.0}, /protected/ping {protected:.0} \
         instructions; the layer adds {:.0} ({:.1} % of /health)",
        protected - health,
        (protected - health) / health * 100.0
    );
}
