//! The parts the resource-server tests run: the example binary as a child
//! process, issuers served on loopback ports, and the tools of other
//! ecosystems (Python with PyJWT and friends, node with `oidc-provider`).
//!
//! Where a tool is missing the tests say so and pass, except under
//! `CI=true`, where they fail: `.ci/run` installs them (see
//! [`python`] and [`oidc_provider_modules`] for where it puts them).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};

/// How long a child may take to start serving, or to exit.
pub const PROCESS_DEADLINE: Duration = Duration::from_secs(60);

/// Every variable of the example's contract: removed from the inherited
/// environment, so only what a test sets is seen.
const CONTRACT_VARS: &[&str] = &[
    "BIND",
    "OIDC_ISSUER",
    "OIDC_ISSUER_2",
    "JWKS_URL",
    "JWT_ALGORITHM",
    "JWT_SECRET",
    "JWT_PUBLIC_KEY_FILE",
    "JWT_PRIVATE_KEY_FILE",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_AUDIENCE_2",
    "JWT_PROFILE",
    "JWT_SUBJECT_CLAIM",
    "JWT_TYPE_CLAIM",
    "JWT_TYPE_ACCESS",
    "JWKS_MIN_REFRESH_SECS",
    "JWKS_MAX_AGE_SECS",
    "RESOURCE_METADATA",
    "INTROSPECTION_URL",
    "INTROSPECTION_CLIENT_ID",
    "INTROSPECTION_CLIENT_SECRET",
    "INTROSPECTION_CACHE_SECS",
    "DPOP",
    "PUBLIC_URL",
    "DPOP_NONCE",
    "DPOP_NONCE_SECRET",
    "DPOP_MAX_AGE_SECS",
    "REDIS_URL",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "TLS_CLIENT_CA_FILE",
    "CLIENT_CERT_HEADER",
    "INTROSPECTION_JWT",
];

// ===== tools =====

#[path = "../support/ci.rs"]
mod ci;
pub use ci::in_ci;

/// Skips (returns `None`) outside CI, fails under CI.
pub fn missing<T>(what: &str) -> Option<T> {
    assert!(
        !in_ci(),
        "CI is set and {what}: .ci/run installs it, these tests must run in CI"
    );
    eprintln!("SKIPPED: {what} (see .ci/run for how CI installs it)");
    None
}

/// Where `.ci/run` installs the other ecosystems' packages by default.
fn ci_dir() -> PathBuf {
    std::env::temp_dir().join("tower-jwt-auth-ci")
}

/// A Python that imports `modules`: `$TJA_PYTHON`, else the virtualenv
/// `.ci/run` makes (`$TMPDIR/tower-jwt-auth-ci/py`), else `python3`.
pub fn python(modules: &[&str]) -> Option<PathBuf> {
    let candidates = match std::env::var_os("TJA_PYTHON") {
        Some(path) => vec![PathBuf::from(path)],
        None => vec![ci_dir().join("py/bin/python"), PathBuf::from("python3")],
    };
    let check = format!("import {}", modules.join(", "));
    for candidate in candidates {
        let ok = std::process::Command::new(&candidate)
            .args(["-c", &check])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(candidate);
        }
    }
    missing(&format!("no Python with {} found", modules.join(", ")))
}

/// The `node_modules` folder holding `oidc-provider`, with `node` on the
/// PATH: `$TJA_NODE_MODULES`, else `$TMPDIR/tower-jwt-auth-ci/node/node_modules`.
pub fn oidc_provider_modules() -> Option<PathBuf> {
    let modules = std::env::var_os("TJA_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| ci_dir().join("node/node_modules"));
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node {
        return missing("node is not on the PATH");
    }
    if !modules.join("oidc-provider/package.json").is_file() {
        return missing(&format!(
            "oidc-provider is not installed in {}",
            modules.display()
        ));
    }
    Some(modules)
}

/// Runs `tests/resource_server/mint.py` with `request`; see its docs.
pub fn mint(python: &Path, request: Value) -> Value {
    use std::io::Write as _;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/resource_server/mint.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "mint.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("mint.py prints JSON")
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ===== the example binary =====

/// The `resource_server` example, built once per test run by the cargo that
/// runs the tests (a no-op when `cargo test` built it already), into the
/// same target dir and profile as this test binary.
pub fn example_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/resource_server-<hash>
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
        let target_dir = profile_dir.parent().unwrap().to_owned();
        let mut cargo = std::process::Command::new(env!("CARGO"));
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--example",
                "resource_server",
                "--features",
                "full",
            ])
            .arg("--target-dir")
            .arg(&target_dir);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            cargo.arg("--release");
        } else {
            // `cargo test` builds every example with the `test` profile
            // (into target/debug): the same profile finds it up to date.
            cargo.args(["--profile", "test"]);
        }
        // What cargo set for this test process would look like a changed
        // environment to build scripts (ring reads CARGO_MANIFEST_DIR) and
        // rebuild half the tree.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
                || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*name)
            {
                cargo.env_remove(&*name);
            }
        }
        let status = cargo.status().expect("cargo runs");
        assert!(
            status.success(),
            "building the resource_server example failed"
        );
        profile_dir.join("examples/resource_server")
    })
}

/// A running `resource_server`, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    output: Arc<Mutex<String>>,
    /// Counts the lines printed, so a test can await one.
    lines: watch::Receiver<usize>,
}

/// What the child printed, collected for assertions and failure messages.
fn collect(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    output: Arc<Mutex<String>>,
    counter: Arc<watch::Sender<usize>>,
    mut ready: Option<oneshot::Sender<()>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let listening = line.contains("resource_server listening");
            output.lock().unwrap().push_str(&line);
            output.lock().unwrap().push('\n');
            counter.send_modify(|n| *n += 1);
            if listening && let Some(ready) = ready.take() {
                let _ = ready.send(());
            }
        }
    });
}

fn command(vars: &[(&str, &str)]) -> (Command, Arc<Mutex<String>>) {
    let mut command = Command::new(example_binary());
    for var in CONTRACT_VARS {
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
    (command, Arc::new(Mutex::new(String::new())))
}

impl Server {
    /// Starts the example with exactly `vars` (and `BIND` on a free port),
    /// and waits until it logs that it listens.
    pub async fn start(vars: &[(&str, &str)]) -> Server {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let mut vars = vars.to_vec();
        vars.push(("BIND", &bind));
        let (mut command, output) = command(&vars);
        let mut child = command.spawn().expect("the example starts");
        let (ready, listening) = oneshot::channel();
        let (counter, lines) = watch::channel(0);
        let counter = Arc::new(counter);
        collect(
            child.stdout.take().unwrap(),
            output.clone(),
            counter.clone(),
            Some(ready),
        );
        collect(child.stderr.take().unwrap(), output.clone(), counter, None);
        let started = tokio::time::timeout(PROCESS_DEADLINE, listening).await;
        assert!(
            matches!(started, Ok(Ok(()))),
            "resource_server did not start: {}",
            output.lock().unwrap()
        );
        Server {
            child,
            base: format!("http://{bind}"),
            output,
            lines,
        }
    }

    /// Runs the example with `vars` until it exits by itself; its status
    /// and everything it printed.
    pub async fn run_to_exit(vars: &[(&str, &str)]) -> (ExitStatus, String) {
        let port = free_port().to_string();
        let bind = format!("127.0.0.1:{port}");
        let mut vars = vars.to_vec();
        vars.push(("BIND", &bind));
        let (mut command, _) = command(&vars);
        let output = tokio::time::timeout(PROCESS_DEADLINE, command.output())
            .await
            .expect("the example exits")
            .unwrap();
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        (output.status, text)
    }

    /// `GET path`, with `Authorization: Bearer token` when given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = client().get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        // The first value of each header: a DPoP-aware server sends a
        // `Bearer` challenge first, then a `DPoP` one (RFC 9449 §7.1).
        let mut headers = HashMap::new();
        for (name, value) in response.headers() {
            headers
                .entry(name.as_str().to_owned())
                .or_insert_with(|| value.to_str().unwrap_or("").to_owned());
        }
        let body = response.text().await.unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::time::timeout(PROCESS_DEADLINE, self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .unwrap()
    }

    /// Everything the server printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the server has printed `needle` (a log line is the
    /// signal that something happened inside it).
    pub async fn wait_for_log(&mut self, needle: &str) {
        let waited = tokio::time::timeout(PROCESS_DEADLINE, async {
            while !self.output().contains(needle) {
                self.lines.changed().await.expect("the server is running");
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "the server never printed {needle:?}:\n{}",
            self.output()
        );
    }
}

/// One answer of the server.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// A 401 with an RFC 6750 `invalid_token` challenge.
    pub fn assert_invalid_token(&self) {
        assert_eq!(self.status, 401, "{self:?}");
        let challenge = self.header("www-authenticate");
        assert!(
            challenge.starts_with("Bearer") && challenge.contains(r#"error="invalid_token""#),
            "{self:?}"
        );
    }
}

pub fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    })
}

// ===== an issuer on a loopback port =====

/// An issuer's metadata and JWK Set, served by axum on a loopback port.
pub struct Issuer {
    /// `http://127.0.0.1:<port>`: the issuer name and the metadata's origin.
    pub url: String,
    document_issuer: Arc<Mutex<Option<String>>>,
    jwks: Arc<Mutex<Value>>,
}

#[derive(Clone)]
struct IssuerState {
    url: String,
    document_issuer: Arc<Mutex<Option<String>>>,
    jwks: Arc<Mutex<Value>>,
}

impl Issuer {
    /// Serves `/.well-known/openid-configuration` and `/jwks` (`keys`).
    pub async fn start(keys: Vec<Value>) -> Issuer {
        Self::start_on(0, keys).await
    }

    /// As [`start`](Self::start), on `port` (0: any free one).
    pub async fn start_on(port: u16, keys: Vec<Value>) -> Issuer {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = IssuerState {
            url: url.clone(),
            document_issuer: Arc::default(),
            jwks: Arc::new(Mutex::new(json!({ "keys": keys }))),
        };
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(|State(s): State<IssuerState>| async move {
                    let issuer = s.document_issuer.lock().unwrap().clone();
                    axum::Json(json!({
                        "issuer": issuer.unwrap_or_else(|| s.url.clone()),
                        "jwks_uri": format!("{}/jwks", s.url),
                    }))
                }),
            )
            .route(
                "/jwks",
                get(|State(s): State<IssuerState>| async move {
                    axum::Json(s.jwks.lock().unwrap().clone())
                }),
            )
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Issuer {
            url,
            document_issuer: state.document_issuer,
            jwks: state.jwks,
        }
    }

    /// Makes the metadata document name `issuer` instead of this one.
    pub fn document_names(&self, issuer: &str) {
        *self.document_issuer.lock().unwrap() = Some(issuer.to_owned());
    }

    /// Serves `keys` as the JWK Set from now on.
    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    /// The JWK Set's URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.url)
    }
}

/// Starts a node OpenID provider script (`tests/resource_server/<name>.mjs`,
/// given the node modules' folder) that prints `ready <issuer>` once it
/// listens; ended when the child is dropped. Its later standard output is
/// drained: a notice printed into a pipe nobody reads would end node (EPIPE).
pub async fn start_node_provider(name: &str, modules: &Path) -> (tokio::process::Child, String) {
    let script = format!(
        "{}/tests/resource_server/{name}.mjs",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .arg(modules)
        .env("NODE_ENV", "development")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // Its start-up warnings (development keys and store) are expected.
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(PROCESS_DEADLINE, lines.next_line())
        .await
        .expect("the provider starts")
        .unwrap()
        .expect("the provider prints its ready line");
    let issuer = line
        .strip_prefix("ready ")
        .expect("a ready line")
        .to_owned();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, issuer)
}
