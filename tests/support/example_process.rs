//! An example binary run as a child process, configured only through its
//! environment and driven over HTTP on a loopback port — the way its users
//! run it. Include with `#[path = "../support/example_process.rs"] mod example_process;`.
//!
//! The binary is built once per test run by the cargo that runs the tests,
//! with this test binary's features, into the same target dir and profile.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a child may take to start serving, or to exit.
pub const PROCESS_DEADLINE: Duration = Duration::from_secs(120);

/// The crate features this test binary was built with, for building the
/// example the same way (so the library is not built a second time).
fn features() -> String {
    [
        ("default", cfg!(feature = "default")),
        ("full", cfg!(feature = "full")),
        ("aws_lc_rs", cfg!(feature = "aws_lc_rs")),
        ("rust_crypto", cfg!(feature = "rust_crypto")),
        ("axum", cfg!(feature = "axum")),
        ("redis", cfg!(feature = "redis")),
        ("redis-cluster", cfg!(feature = "redis-cluster")),
        ("redis-tls", cfg!(feature = "redis-tls")),
        ("tonic", cfg!(feature = "tonic")),
        ("jwks", cfg!(feature = "jwks")),
        ("metrics", cfg!(feature = "metrics")),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| *name)
    .collect::<Vec<_>>()
    .join(",")
}

/// The example `name`, built (once per test process) by cargo.
pub fn example_binary(name: &'static str) -> PathBuf {
    static BUILT: Mutex<Vec<(&str, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(n, _)| *n == name) {
        return path.clone();
    }
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>-<hash>
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    let target_dir = profile_dir.parent().unwrap().to_owned();
    let mut cargo = std::process::Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--example", name, "--no-default-features"])
        .args(["--features", &features()])
        .arg("--target-dir")
        .arg(&target_dir);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        cargo.arg("--release");
    } else {
        cargo.args(["--profile", "test"]);
    }
    // What cargo set for this test process would look like a changed
    // environment to build scripts and rebuild half the tree.
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        if [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| var.starts_with(prefix))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*var)
        {
            cargo.env_remove(&*var);
        }
    }
    let status = cargo.status().expect("cargo runs");
    assert!(status.success(), "building the {name} example failed");
    let path = profile_dir.join("examples").join(name);
    built.push((name, path.clone()));
    path
}

/// A free port on `ip` (bound, then released for the child to take).
pub fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How the child ended its start: serving, or exited.
pub enum Started {
    /// It logged `ready`.
    Serving(Process),
    /// It exited before: its status and everything it printed.
    Exited(ExitStatus, String),
}

/// A running example, killed when dropped.
pub struct Process {
    child: Child,
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// Reads `stream` line by line into `output`; sends on `ready` at the first
/// line containing `needle`.
fn collect(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    output: Arc<Mutex<String>>,
    needle: &'static str,
    mut ready: Option<oneshot::Sender<()>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let found = line.contains(needle);
            {
                let mut output = output.lock().unwrap();
                output.push_str(&line);
                output.push('\n');
            }
            if found && let Some(ready) = ready.take() {
                let _ = ready.send(());
            }
        }
    })
}

impl Process {
    /// Starts `binary` with only `vars` of the variables in `contract` (the
    /// rest of the environment is inherited), and waits until it prints a
    /// line containing `ready` — or exits.
    pub async fn start(
        binary: &Path,
        contract: &[&str],
        vars: &[(&str, &str)],
        ready: &'static str,
    ) -> Started {
        let mut command = Command::new(binary);
        for var in contract {
            command.env_remove(var);
        }
        command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("the example starts");
        let output = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = oneshot::channel();
        let (other_tx, other_rx) = oneshot::channel();
        let readers = vec![
            collect(
                child.stdout.take().unwrap(),
                output.clone(),
                ready,
                Some(ready_tx),
            ),
            collect(
                child.stderr.take().unwrap(),
                output.clone(),
                ready,
                Some(other_tx),
            ),
        ];
        let mut process = Process {
            child,
            output,
            readers,
        };
        let outcome = tokio::time::timeout(PROCESS_DEADLINE, async {
            tokio::select! {
                Ok(()) = ready_rx => None,
                Ok(()) = other_rx => None,
                status = process.child.wait() => Some(status.unwrap()),
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} neither served nor exited: {}",
                binary.display(),
                process.output()
            )
        });
        match outcome {
            None => Started::Serving(process),
            Some(status) => {
                for reader in process.readers.drain(..) {
                    reader.await.unwrap();
                }
                Started::Exited(status, process.output())
            }
        }
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Sends SIGTERM, waits for the exit and for the last line printed;
    /// the status and the whole output.
    pub async fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(PROCESS_DEADLINE, self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .unwrap();
        for reader in self.readers.drain(..) {
            reader.await.unwrap();
        }
        (status, self.output())
    }
}

/// A plain HTTP/1.1 client that can connect from a chosen loopback address
/// (`127.0.0.2`, … are all this machine's), to look like another client.
pub struct Client {
    inner: Legacy,
}

type Legacy = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
>;

/// One answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Client {
    /// Connects from whatever address the system picks (`127.0.0.1`).
    pub fn new() -> Self {
        Self::with_local_address(None)
    }

    /// Connects from `ip`.
    pub fn from(ip: &str) -> Self {
        Self::with_local_address(Some(ip.parse().unwrap()))
    }

    fn with_local_address(from: Option<std::net::IpAddr>) -> Self {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_local_address(from);
        let inner =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Self { inner }
    }

    /// `method url` with `body` (JSON) when given.
    pub async fn send(&self, method: &str, url: &str, body: Option<&str>) -> Reply {
        self.send_with(method, url, &[], body).await
    }

    /// As [`send`](Self::send), with `headers` too.
    pub async fn send_with(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        use http_body_util::BodyExt;

        let mut request = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if body.is_some() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        let body = bytes::Bytes::from(body.unwrap_or_default().to_owned());
        let request = request.body(http_body_util::Full::new(body)).unwrap();
        let response = tokio::time::timeout(PROCESS_DEADLINE, self.inner.request(request))
            .await
            .expect("the server answers in time")
            .expect("the server answers");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}
