//! `RedisStore` at the size of a real service (issue 15's baseline): seeds
//! N revoked `jti`s and M live sessions through the store's own write path
//! (many writes in flight at once), then times how long a fresh instance
//! takes to be ready (`connect` returns once its view is loaded) and how much
//! heap its view holds (a counting allocator, before and after `connect`).
//!
//! ```sh
//! cargo bench --bench redis_scale                         # 1 M + 1 M
//! REVOKED=100000 SESSIONS=0 cargo bench --bench redis_scale
//! ```
//!
//! It starts its own `redis-server` (no persistence) on a free loopback port
//! and stops it at the end, so nothing else is touched.

use std::alloc::System;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::{NewSession, RevocationStore};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Writes in flight at once while seeding.
const IN_FLIGHT: usize = 256;

fn count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> (Redis, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(format!("redis-scale-{port}"));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server on the PATH");
    (Redis(child), format!("redis://127.0.0.1:{port}"))
}

async fn connect(url: &str) -> RedisStore {
    for _ in 0..100 {
        if let Ok(store) = RedisStore::builder(url)
            .command_timeout(Duration::from_secs(60))
            .connect()
            .await
        {
            return store;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server did not answer");
}

fn main() {
    let revoked = count("REVOKED", 1_000_000);
    let sessions = count("SESSIONS", 1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (_redis, url) = start_redis();
    runtime.block_on(async {
        let writer = Arc::new(connect(&url).await);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let expires = now + 3600;

        let started = Instant::now();
        futures_util::stream::iter(0..revoked)
            .map(|i| {
                let writer = Arc::clone(&writer);
                async move {
                    let jti = format!("revoked-{i:08}");
                    writer.revoke_token(&jti, expires).await.expect("a revocation");
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect::<()>()
            .await;
        let revoke_time = started.elapsed();
        let started = Instant::now();
        futures_util::stream::iter(0..sessions)
            .map(|i| {
                let writer = Arc::clone(&writer);
                async move {
                    let (family, subject, jti) =
                        (format!("family-{i:08}"), format!("user-{}", i % 50_000), format!("r-{i:08}"));
                    writer
                        .start_session(NewSession {
                            family: &family,
                            subject: &subject,
                            jti: &jti,
                            created_at: now,
                            ends_at: expires,
                            expires_at: expires,
                        })
                        .await
                        .expect("a session");
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect::<()>()
            .await;
        let session_time = started.elapsed();
        drop(writer);
        // Let the writer's background task end and free its memory before
        // the measured region starts (a bench, not a test: a pause is fine).
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!(
            "seeded {revoked} revocations in {:.1} s and {sessions} sessions in {:.1} s",
            revoke_time.as_secs_f64(),
            session_time.as_secs_f64()
        );

        let region = Region::new(GLOBAL);
        let started = Instant::now();
        let fresh = connect(&url).await;
        let ready = started.elapsed();
        let stats = region.change();
        let held = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64;
        println!(
            "a fresh instance was ready in {:.2} s; its view holds {:.1} MiB ({:.0} bytes per revocation)",
            ready.as_secs_f64(),
            held as f64 / (1024.0 * 1024.0),
            held as f64 / revoked.max(1) as f64
        );
        drop(fresh);
    });
}
