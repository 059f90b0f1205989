//! Real Redis servers for tests: the shared one on 127.0.0.1:6379 (or
//! `REDIS_URL`), and private ones a test may kill, freeze and restart.
//!
//! Where Redis is missing the tests say so and pass, except in CI (`CI` set,
//! see `ci.rs`), where a missing Redis is a failure.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[path = "ci.rs"]
pub mod ci;
use ci::in_ci;

/// Skips (returns `None`) outside CI, fails under CI.
fn missing(what: &str) -> Option<std::convert::Infallible> {
    assert!(!in_ci(), "CI is set and {what}: Redis tests must run in CI");
    eprintln!("skipped: {what}");
    None
}

/// The URL of the shared Redis, if it answers.
pub fn shared_redis_url() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let address = url
        .trim_start_matches("redis://")
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    match TcpStream::connect(&address) {
        Ok(_) => Some(url),
        Err(e) => {
            missing(&format!("no Redis at {address} ({e})"))?;
            None
        }
    }
}

/// A `redis-server` of the test's own, on a free loopback port, with its
/// own directory. Killed by process id on drop. One that exits before it is
/// ready (its port taken between the pick and the bind) is started again on
/// a fresh port, up to [`START_ATTEMPTS`] times.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// Listens for TLS only (`rediss://`).
    tls: bool,
    dir: PathBuf,
    /// The caller's arguments, [`FRESH_PORT`] markers included.
    extra: Vec<String>,
    /// The ports that replaced the [`FRESH_PORT`] markers, in order.
    fresh_ports: Vec<u16>,
}

/// An argument that stands for a free port of its own (e.g. after
/// `--cluster-port`), picked again on each attempt to start; see
/// [`RedisServer::fresh_ports`].
pub const FRESH_PORT: &str = "{fresh-port}";

/// How many times a server that exits (or never gets ready) before it
/// accepts connections is started again, each time on fresh ports: a port
/// found free can be taken by someone else before `redis-server` binds it.
const START_ATTEMPTS: usize = 5;

/// How long one attempt may take to log that it accepts connections.
const READY_DEADLINE: Duration = Duration::from_secs(20);

impl RedisServer {
    /// Starts a server; `append_only` keeps its data across restarts.
    pub fn start(append_only: bool) -> Option<Self> {
        Self::start_with(&[
            "--appendonly",
            if append_only { "yes" } else { "no" },
            "--appendfsync",
            "always",
        ])
    }

    /// Starts a server with extra arguments (e.g. cluster mode).
    pub fn start_with(extra: &[&str]) -> Option<Self> {
        Self::start_listening(false, extra)
    }

    /// Starts a server that listens for TLS only, on its port, with the
    /// certificate the test CA signed (clients need no certificate of their
    /// own). With `--tls-cluster yes` in `extra`, its cluster bus is TLS too.
    pub fn start_tls(ca: &TestCaFiles, extra: &[&str]) -> Option<Self> {
        if !tls_supported() {
            missing("redis-server was built without TLS")?;
        }
        let files = [
            "--tls-cert-file".to_owned(),
            ca.cert.to_string_lossy().into_owned(),
            "--tls-key-file".to_owned(),
            ca.key.to_string_lossy().into_owned(),
            "--tls-ca-cert-file".to_owned(),
            ca.ca.to_string_lossy().into_owned(),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ];
        let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        Self::start_listening(true, &args)
    }

    fn start_listening(tls: bool, extra: &[&str]) -> Option<Self> {
        Self::start_first_on(tls, None, extra)
    }

    /// Like [`RedisServer::start_with`], but the first attempt listens on
    /// `port` (a test of the retry gives a port it holds itself).
    pub fn start_first_on_port(port: u16, extra: &[&str]) -> Option<Self> {
        Self::start_first_on(false, Some(port), extra)
    }

    fn start_first_on(tls: bool, mut first_port: Option<u16>, extra: &[&str]) -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            missing("redis-server is not on the PATH")?;
        }
        let mut server = Self {
            child: None,
            port: 0,
            tls,
            dir: PathBuf::new(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            fresh_ports: Vec::new(),
        };
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            server.port = first_port.take().unwrap_or_else(free_port);
            server.fresh_ports = (server.extra.iter())
                .filter(|a| *a == FRESH_PORT)
                .map(|_| free_port())
                .collect();
            server.dir = std::env::temp_dir().join(format!(
                "tower-jwt-auth-redis-{}-{}",
                std::process::id(),
                server.port
            ));
            std::fs::create_dir_all(&server.dir).expect("temporary directory");
            match server.try_spawn() {
                Ok(child) => {
                    server.child = Some(child);
                    return Some(server);
                }
                Err(failure) => {
                    let _ = std::fs::remove_dir_all(&server.dir);
                    failures.push(format!("port {}: {failure}", server.port));
                }
            }
        }
        panic!("redis-server did not become ready in {START_ATTEMPTS} attempts: {failures:#?}");
    }

    /// The command line: listening on `self.port`, in `self.dir`, with the
    /// caller's arguments and the fresh ports in place of the markers.
    fn args(&self) -> Vec<String> {
        let port = self.port.to_string();
        let listen: &[&str] = if self.tls {
            &["--port", "0", "--tls-port", &port]
        } else {
            &["--port", &port]
        };
        let mut args: Vec<String> = listen.iter().map(|s| (*s).to_owned()).collect();
        args.extend(
            [
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--logfile",
                "",
                "--dir",
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        args.push(self.dir.to_string_lossy().into_owned());
        let mut fresh = self.fresh_ports.iter();
        args.extend(self.extra.iter().map(|a| {
            if a == FRESH_PORT {
                fresh.next().expect("a port per marker").to_string()
            } else {
                a.clone()
            }
        }));
        args
    }

    /// The ports picked for the [`FRESH_PORT`] markers, in order.
    pub fn fresh_ports(&self) -> &[u16] {
        &self.fresh_ports
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The URL with `user:password@` (either may be empty) and a database.
    pub fn url_with(&self, user: &str, password: &str, db: u8) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Runs the server and returns it once it logs that it accepts
    /// connections; or why not (it exited first: its last log lines; or it
    /// did not get ready in time: killed).
    fn try_spawn(&self) -> Result<Child, String> {
        let mut child = Command::new("redis-server")
            .args(self.args())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start redis-server");
        let stdout = child.stdout.take().expect("stdout");
        // What it says on stderr (a bad argument), kept for the failure.
        let stderr = child.stderr.take().expect("stderr");
        let errors = std::thread::spawn(move || {
            let mut tail = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tail.len() < 2000 {
                    tail.push_str(&line);
                    tail.push(' ');
                }
            }
            tail
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            // `Ok` once ready; `Err(last lines)` if the log ends first.
            let mut ready = Some(ready_tx);
            let mut tail = std::collections::VecDeque::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if ready.is_some() {
                    if line.contains("Ready to accept connections") {
                        let _ = ready.take().map(|tx| tx.send(Ok(())));
                    } else {
                        tail.push_back(line);
                        if tail.len() > 4 {
                            tail.pop_front();
                        }
                    }
                }
                // Once ready, keep reading so the pipe never fills up.
            }
            if let Some(tx) = ready {
                let _ = tx.send(Err(Vec::from(tail).join(" | ")));
            }
        });
        let failure = match ready_rx.recv_timeout(READY_DEADLINE) {
            Ok(Ok(())) => return Ok(child),
            Ok(Err(log)) => format!("exited before it was ready: {log}"),
            Err(e) => format!("not ready within {READY_DEADLINE:?} ({e})"),
        };
        let _ = child.kill();
        let _ = child.wait();
        let errors = errors.join().unwrap_or_default();
        Err(format!("{failure} {errors}"))
    }

    /// Runs the server on its current port and directory, retrying a start
    /// that fails (its port taken meanwhile by a short-lived probe).
    fn spawn_again(&mut self) {
        let mut failures = Vec::new();
        for attempt in 0..START_ATTEMPTS {
            if attempt > 0 {
                // Not a synchronisation: a pause before the next attempt.
                std::thread::sleep(Duration::from_millis(200));
            }
            match self.try_spawn() {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "redis-server did not start again on port {} in {START_ATTEMPTS} attempts: {failures:#?}",
            self.port
        );
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn_again();
    }

    /// SIGSTOP: the server keeps its connections but answers nothing.
    pub fn freeze(&self) {
        signal(self.pid(), "-STOP");
    }

    /// SIGCONT after [`RedisServer::freeze`].
    pub fn thaw(&self) {
        signal(self.pid(), "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            signal(child.id(), "-CONT");
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `redis-server` knows the TLS directives: one built without TLS
/// refuses `tls-port` as a bad directive; one with TLS refuses the missing
/// certificate. Either way it exits at once.
fn tls_supported() -> bool {
    let Ok(output) = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            "1",
            "--save",
            "",
            "--logfile",
            "",
        ])
        .args(["--tls-cert-file", "/nonexistent/cert.pem"])
        .args(["--tls-key-file", "/nonexistent/key.pem"])
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    !text.contains("Bad directive")
}

/// The files `redis-server` needs for TLS (see `test_ca.rs`).
pub struct TestCaFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
