//! `RedisStore` figures, in one run against a local `redis-server`:
//!
//! * propagation: a revocation made on one instance, until another instance
//!   enforces it (p50 / p99 / max);
//! * the access path: the whole layer over `RedisStore` vs over `MemoryStore`
//!   (interleaved rounds, so the ratio holds on a noisy machine);
//! * the refresh path's latency (it talks to Redis for the compare-and-swap),
//!   through the store's own pool and, for comparison, through a
//!   deadpool-redis pool handed in with `RedisStore::from_pool` (which sends
//!   a `PING` before handing out every connection);
//! * propagation again while a third instance writes 2,000 revocations/s.
//!
//! ```sh
//! cargo bench --bench redis_store            # REDIS_URL overrides redis://127.0.0.1:6379
//! cargo bench --bench redis_store -- refresh # only the sections whose name contains "refresh"
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use tower::ServiceExt;
use tower_jwt_auth::revocation::{RevocationStore, TokenRef};
use tower_jwt_auth::{
    Algorithm, JwtAuthLayer, JwtConfig, MemoryStore, NoCustomClaims, RedisStore, SessionManager,
    SigningKey, TokenIssuer, Verifier, VerifyingKey,
};

const SECRET: &[u8] = b"a bench secret that is long enough!!";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "p50 {:>8.1?}  p99 {:>8.1?}  max {:>8.1?}  (n = {})",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
        samples.len()
    )
}

fn later() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600
}

async fn propagation(url: &str, prefix: &str) {
    let connect = || RedisStore::builder(url).prefix(prefix).connect();
    let (a, b) = (connect().await.unwrap(), connect().await.unwrap());
    let samples = propagation_samples(&a, &b, "prop", None).await;
    println!(
        "propagation, revoke on A until B enforces: {}",
        summary(samples)
    );
}

/// Revocations per second the background writer aims at.
const BACKGROUND_RATE: u32 = 2_000;

async fn propagation_under_load(url: &str, prefix: &str) {
    let connect = || RedisStore::builder(url).prefix(prefix).connect();
    let (a, b, writer) = (
        connect().await.unwrap(),
        connect().await.unwrap(),
        connect().await.unwrap(),
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let load = tokio::spawn({
        let (stop, written) = (stop.clone(), written.clone());
        async move {
            // Every tick, as many writes as keep the rate (ticks may run late).
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let started = Instant::now();
            let mut sent: u64 = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                let due = (started.elapsed().as_secs_f64() * f64::from(BACKGROUND_RATE)) as u64;
                let batch: Vec<_> = (sent..due)
                    .map(|i| {
                        let writer = writer.clone();
                        async move { writer.revoke_token(&format!("load-{i}"), later()).await }
                    })
                    .collect();
                for result in futures_util::future::join_all(batch).await {
                    result.unwrap();
                }
                written.store(due, std::sync::atomic::Ordering::Relaxed);
                sent = due;
            }
        }
    });
    let started = Instant::now();
    // Samples spread over ~5 s, so the writer's rate holds around them.
    let samples =
        propagation_samples(&a, &b, "prop-load", Some(Duration::from_micros(2_500))).await;
    let elapsed = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.await.unwrap();
    let rate = written.load(std::sync::atomic::Ordering::Relaxed) as f64 / elapsed.as_secs_f64();
    println!(
        "propagation while a third instance writes {rate:.0} revocations/s: {}",
        summary(samples)
    );
}

/// 2,000 revocations on `a`, each timed until `b` enforces it; one every
/// `spacing` if given, else back to back.
async fn propagation_samples(
    a: &RedisStore,
    b: &RedisStore,
    name: &str,
    spacing: Option<Duration>,
) -> Vec<Duration> {
    let mut samples = Vec::new();
    let mut tick = spacing.map(tokio::time::interval);
    for i in 0..2_000 {
        if let Some(tick) = &mut tick {
            tick.tick().await;
        }
        let jti = format!("{name}-{i}");
        let probe = TokenRef {
            jti: &jti,
            subject: "s",
            session: None,
            issued_at_micros: 0,
        };
        let mut status = b.watch();
        let started = Instant::now();
        a.revoke_token(&jti, later()).await.unwrap();
        status
            .wait_for(|_| b.is_revoked(&probe).unwrap())
            .await
            .unwrap();
        samples.push(started.elapsed());
    }
    samples
}

fn app(verifier: Verifier, store: Arc<dyn RevocationStore>) -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(JwtAuthLayer::new(verifier).shared_store(store))
}

/// Mean time per request of `rounds` × `per_round` oneshots.
async fn per_request(app: &Router, token: &str, requests: u32) -> Duration {
    let started = Instant::now();
    for _ in 0..requests {
        let request = Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert!(response.status().is_success());
    }
    started.elapsed() / requests
}

async fn access_path(url: &str, prefix: &str) {
    let config = JwtConfig::new().issuer("bench");
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config.clone(),
    );
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config,
    );
    let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();

    let redis = RedisStore::builder(url)
        .prefix(prefix)
        .connect()
        .await
        .unwrap();
    let memory = MemoryStore::new();
    // The same number of live revocations in both, so lookups are alike.
    for i in 0..10_000 {
        let jti = format!("bulk-{i}");
        redis.revoke_token(&jti, later()).await.unwrap();
        memory.revoke_token(&jti, later()).await.unwrap();
    }
    let probe = TokenRef {
        jti: "not-revoked",
        subject: "alice",
        session: Some("sid"),
        issued_at_micros: 1,
    };
    let check = |store: &dyn RevocationStore| {
        let started = Instant::now();
        for _ in 0..1_000_000 {
            assert!(!std::hint::black_box(store.is_revoked(std::hint::black_box(&probe))).unwrap());
        }
        started.elapsed() / 1_000_000
    };
    let (mut memory_check, mut redis_check) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..5 {
        memory_check += check(&memory);
        redis_check += check(&redis);
    }
    println!(
        "is_revoked alone: MemoryStore {:.1?}, RedisStore {:.1?}",
        memory_check / 5,
        redis_check / 5
    );
    let with_memory = app(verifier.clone(), Arc::new(memory));
    let with_redis = app(verifier, Arc::new(redis));

    per_request(&with_memory, &token, 20_000).await;
    per_request(&with_redis, &token, 20_000).await;
    let (mut memory_total, mut redis_total) = (Duration::ZERO, Duration::ZERO);
    const ROUNDS: u32 = 20;
    for _ in 0..ROUNDS {
        memory_total += per_request(&with_memory, &token, 20_000).await;
        redis_total += per_request(&with_redis, &token, 20_000).await;
    }
    let (memory, redis) = (memory_total / ROUNDS, redis_total / ROUNDS);
    println!(
        "access path (HS256 layer, oneshot): MemoryStore {memory:.2?}/req, RedisStore {redis:.2?}/req; \
         throughput RedisStore/MemoryStore = {:.3}",
        memory.as_secs_f64() / redis.as_secs_f64()
    );
}

async fn refresh_latency(url: &str, prefix: &str) {
    let config = JwtConfig::new().issuer("bench");
    let manager = |store: Arc<dyn RevocationStore>| {
        SessionManager::<NoCustomClaims>::new(
            TokenIssuer::new(
                SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
                config.clone(),
            ),
            Verifier::new(
                VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
                config.clone(),
            ),
            store,
        )
    };
    let redis: Arc<dyn RevocationStore> = Arc::new(
        RedisStore::builder(url)
            .prefix(prefix)
            .connect()
            .await
            .unwrap(),
    );
    let pinging_pool = deadpool_redis::Config::from_url(url)
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap();
    let redis_pinging: Arc<dyn RevocationStore> = Arc::new(
        RedisStore::from_pool(pinging_pool, url)
            .prefix(prefix)
            .connect()
            .await
            .unwrap(),
    );
    for (name, store) in [
        (
            "MemoryStore",
            Arc::new(MemoryStore::new()) as Arc<dyn RevocationStore>,
        ),
        ("RedisStore", redis),
        (
            "RedisStore::from_pool (deadpool-redis, PING per get)",
            redis_pinging,
        ),
    ] {
        let sessions = manager(store);
        let mut refresh = sessions
            .login("alice", &NoCustomClaims {})
            .await
            .unwrap()
            .refresh_token;
        let mut samples = Vec::new();
        for _ in 0..2_000 {
            let started = Instant::now();
            refresh = sessions.refresh(&refresh).await.unwrap().refresh_token;
            samples.push(started.elapsed());
        }
        println!(
            "refresh (verify + CAS + mint), {name}: {}",
            summary(samples)
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo test --benches` runs this with `--bench` absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("bench-{}", std::process::id());
    println!(
        "redis at {url}; {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // Names after `--bench` choose the sections (by substring); none: all.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));
    if wanted("propagation") {
        propagation(&url, &prefix).await;
    }
    if wanted("access") {
        access_path(&url, &prefix).await;
    }
    if wanted("refresh") {
        refresh_latency(&url, &prefix).await;
    }
    if wanted("propagation-under-load") {
        propagation_under_load(&url, &prefix).await;
    }
}
