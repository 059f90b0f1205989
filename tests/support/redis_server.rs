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
mod ci;
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
/// own directory. Killed by process id on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// Listens for TLS only (`rediss://`).
    tls: bool,
    dir: PathBuf,
    args: Vec<String>,
}

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
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            missing("redis-server is not on the PATH")?;
        }
        let port = free_port();
        let port_text = port.to_string();
        let dir = std::env::temp_dir().join(format!(
            "tower-jwt-auth-redis-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let listen: &[&str] = if tls {
            &["--port", "0", "--tls-port", &port_text]
        } else {
            &["--port", &port_text]
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
        args.push(dir.to_string_lossy().into_owned());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut server = Self {
            child: None,
            port,
            tls,
            dir,
            args,
        };
        server.spawn();
        Some(server)
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

    /// Runs the server and returns once it logs that it accepts connections.
    fn spawn(&mut self) {
        let mut child = Command::new("redis-server")
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let stdout = child.stdout.take().expect("stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("Ready to accept connections")
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("redis-server did not become ready");
        self.child = Some(child);
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
        self.spawn();
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
