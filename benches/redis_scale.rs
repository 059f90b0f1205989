//! `RedisStore` at the size of a real service (issue 15): seeds N revoked
//! `jti`s and M live sessions through the store's own write path (many
//! writes in flight at once), then
//!
//! * times how long a fresh instance takes to be ready (`connect` returns
//!   once its view is loaded) and how much heap its view holds (a counting
//!   allocator around `connect`, and the view's own count of its capacity);
//! * measures the 503 window of that instance, from the moment Redis is
//!   ready again until its access path answers again, after: a network
//!   blip (Redis frozen for 3 s), a kill and restart with the append-only
//!   file, and a restart that lost everything (then also how long the
//!   write-back of what the instance enforces takes).
//!
//! ```sh
//! cargo bench --bench redis_scale                         # 1 M + 1 M
//! REVOKED=100000 SESSIONS=100000 cargo bench --bench redis_scale
//! ```
//!
//! It starts its own `redis-server` (append-only file, fsync every second)
//! on a free loopback port and in a temporary directory, and stops it by its
//! own process at the end, so nothing else is touched.

use std::alloc::System;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::{NewSession, RevocationStore, TokenRef};

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

struct Redis {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("redis-scale-{port}"));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut redis = Self {
            child: None,
            port,
            dir,
        };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH");
        self.child = Some(child);
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill");
    }

    /// Waits until no append-only file rewrite runs or is scheduled, so the
    /// figures are not those of a Redis busy forking and writing.
    async fn until_quiet(&self) {
        let client = deadpool_redis::redis::Client::open(self.url()).expect("a url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis answers");
        loop {
            let info: String = deadpool_redis::redis::cmd("INFO")
                .arg("persistence")
                .query_async(&mut conn)
                .await
                .expect("INFO");
            if info.contains("aof_rewrite_in_progress:0")
                && info.contains("aof_rewrite_scheduled:0")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls until the server answers `PING` (it may be loading its file).
    async fn until_ready(&self) -> Instant {
        let client = deadpool_redis::redis::Client::open(self.url()).expect("a url");
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let pong: Result<String, _> = deadpool_redis::redis::cmd("PING")
                    .query_async(&mut conn)
                    .await;
                if pong.is_ok() {
                    return Instant::now();
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A 22-character id, as the crate's own `jti`s (128 bits, base64url).
fn id(kind: char, i: usize) -> String {
    format!("{kind}{i:021}")
}

/// Polls the access path until it answers again; the time it did.
async fn until_answering(store: &RedisStore, probe: &TokenRef<'_>) -> Instant {
    loop {
        if store.is_revoked(probe).is_ok() {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Polls the access path until it fails closed.
async fn until_failing(store: &RedisStore, probe: &TokenRef<'_>) {
    while store.is_revoked(probe).is_ok() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
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
    let mut redis = Redis::start();
    let url = redis.url();
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
                    let jti = id('j', i);
                    writer
                        .revoke_token(&jti, expires)
                        .await
                        .expect("a revocation");
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
                        (id('f', i), format!("user-{}", i % 50_000), id('r', i));
                    writer
                        .start_session(NewSession {
                            family: &family,
                            subject: &subject,
                            jti: &jti,
                            created_at: now,
                            ends_at: expires,
                            expires_at: expires,
                            jkt: None,
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

        redis.until_quiet().await;
        let region = Region::new(GLOBAL);
        let started = Instant::now();
        let fresh = connect(&url).await;
        let ready = started.elapsed();
        let stats = region.change();
        let held = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64;
        println!(
            "a fresh instance was ready in {:.2} s; its view holds {} entries (the live sessions \
             are not among them), {:.1} MiB by the allocator ({:.0} bytes per revocation), \
             {:.1} MiB by its own count ({:.0} bytes per revocation)",
            ready.as_secs_f64(),
            fresh.view_len(),
            held as f64 / (1024.0 * 1024.0),
            held as f64 / revoked.max(1) as f64,
            fresh.view_heap_bytes() as f64 / (1024.0 * 1024.0),
            fresh.view_heap_bytes() as f64 / revoked.max(1) as f64,
        );

        // The access path's lookup in a view this size: revoked `jti`s in an
        // order unrelated to the load's, and `jti`s never revoked.
        let sample = revoked.min(200_000);
        let hits: Vec<String> = (0..sample).map(|i| id('j', i * 7_919 % revoked)).collect();
        let misses: Vec<String> = (0..sample).map(|i| id('m', i)).collect();
        for (name, ids) in [("revoked", &hits), ("not revoked", &misses)] {
            let started = Instant::now();
            let mut found = 0usize;
            for jti in ids {
                let token = TokenRef {
                    jti,
                    subject: "user-1",
                    session: Some("no-such-family"),
                    issued_at_micros: 1,
                };
                found += usize::from(fresh.is_revoked(&token).expect("current"));
            }
            let per = started.elapsed().as_nanos() as f64 / sample.max(1) as f64;
            println!("is_revoked, {name}: {per:.0} ns each ({found} of {sample} revoked)");
        }

        let revoked_jti = id('j', revoked / 2);
        let probe = TokenRef {
            jti: &revoked_jti,
            subject: "user-1",
            session: None,
            issued_at_micros: 1,
        };
        assert!(revoked == 0 || fresh.is_revoked(&probe).unwrap());

        // A network blip: Redis answers nothing for 3 s, then everything.
        redis.signal("-STOP");
        until_failing(&fresh, &probe).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        redis.signal("-CONT");
        let back = Instant::now();
        let answering = until_answering(&fresh, &probe).await;
        println!(
            "network blip: 503 for {:.0} ms after Redis answered again ({:?})",
            (answering - back).as_secs_f64() * 1000.0,
            fresh.status()
        );

        // A kill and restart: Redis reloads its append-only file.
        let status = fresh.status();
        redis.kill();
        until_failing(&fresh, &probe).await;
        redis.spawn();
        let back = redis.until_ready().await;
        let answering = until_answering(&fresh, &probe).await;
        let after = fresh.status();
        println!(
            "kill and restart with the append-only file: 503 for {:.0} ms after Redis was ready \
             ({} resumed, {} reloaded)",
            (answering - back).as_secs_f64() * 1000.0,
            after.resumes - status.resumes,
            after.reloads - status.reloads,
        );

        // A restart that lost everything: reload, then write back.
        let status = fresh.status();
        redis.kill();
        until_failing(&fresh, &probe).await;
        std::fs::remove_dir_all(&redis.dir).expect("the data removed");
        std::fs::create_dir_all(&redis.dir).expect("an empty directory");
        redis.spawn();
        let back = redis.until_ready().await;
        let answering = until_answering(&fresh, &probe).await;
        assert!(revoked == 0 || fresh.is_revoked(&probe).unwrap());
        let mut watch = fresh.watch();
        watch
            .wait_for(|s| s.write_backs > status.write_backs)
            .await
            .expect("the store runs");
        let written_back = Instant::now();
        println!(
            "restart that lost everything: 503 for {:.0} ms after Redis was ready; \
             the write-back of {} revocations took {:.2} s more",
            (answering - back).as_secs_f64() * 1000.0,
            fresh.view_len(),
            (written_back - answering).as_secs_f64(),
        );
        let late = connect(&url).await;
        assert!(revoked == 0 || late.is_revoked(&probe).unwrap());
        drop(late);
        drop(fresh);
    });
}
