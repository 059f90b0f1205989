//! The processes the proxy tests run: an upstream that echoes what it
//! receives, and the real proxies (Debian's nginx and caddy) as child
//! processes on free loopback ports, configured in a temporary folder and
//! stopped by their own pid.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::any;
use serde_json::{Value, json};

use crate::example_process::{self, Client, Reply};
use crate::support::{TempDir, tool};

/// How long a proxy may take to start.
const START_DEADLINE: Duration = Duration::from_secs(30);

// ===== the upstream =====

/// What the upstream received: each request's path and headers.
#[derive(Clone, Default)]
pub struct Upstream {
    pub seen: Arc<Mutex<Vec<Value>>>,
    pub port: u16,
}

impl Upstream {
    /// Serves on a free loopback port: every request is answered 200 with
    /// a JSON echo of its method, URI and headers (each name with all its
    /// values), and recorded.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = Upstream {
            seen: Arc::default(),
            port: listener.local_addr().unwrap().port(),
        };
        let app = Router::new()
            .fallback(any(echo))
            .with_state(upstream.seen.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        upstream
    }

    /// How many requests reached it.
    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

async fn echo(State(seen): State<Arc<Mutex<Vec<Value>>>>, request: Request) -> axum::Json<Value> {
    let mut headers = serde_json::Map::new();
    for name in request.headers().keys() {
        let values: Vec<Value> = request
            .headers()
            .get_all(name)
            .iter()
            .map(|v| Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        headers.insert(name.as_str().to_owned(), Value::Array(values));
    }
    let echo = json!({
        "method": request.method().as_str(),
        "uri": request.uri().to_string(),
        "headers": headers,
    });
    seen.lock().unwrap().push(echo.clone());
    axum::Json(echo)
}

/// The values of header `name` in an upstream echo (`[]` when absent).
pub fn echoed(reply: &Reply, name: &str) -> Vec<String> {
    let echo: Value = serde_json::from_str(&reply.body)
        .unwrap_or_else(|_| panic!("not an upstream echo: {} {}", reply.status, reply.body));
    echo["headers"][name]
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

// ===== proxies =====

/// A proxy process, stopped (SIGTERM to its own pid, then waited for) when
/// dropped, with its temporary folder.
pub struct Proxy {
    child: Child,
    pub port: u16,
    output: Arc<Mutex<String>>,
    _dir: TempDir,
}

impl Proxy {
    /// Starts `command` and waits until its stderr shows `ready` (or it exits).
    pub fn start(mut command: Command, port: u16, ready: &'static str, dir: TempDir) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the proxy starts");
        let output = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            let ready_tx = ready_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let found = line.contains(ready);
                    output.lock().unwrap().push_str(&format!("{line}\n"));
                    if found {
                        let _ = ready_tx.send(());
                    }
                }
            });
        }
        drop(ready_tx);
        let proxy = Proxy {
            child,
            port,
            output,
            _dir: dir,
        };
        if ready_rx.recv_timeout(START_DEADLINE).is_err() {
            panic!("the proxy did not start: {}", proxy.output());
        }
        proxy
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }
}

/// The nginx configuration of `docs/behind-a-proxy.md`, on loopback ports,
/// every path inside `dir`.
pub fn nginx_conf(dir: &Path, port: u16, auth: u16, upstream: u16) -> String {
    let dir = dir.display();
    format!(
        r#"worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    upstream forward_auth {{ server 127.0.0.1:{auth}; keepalive 16; }}
    upstream backend {{ server 127.0.0.1:{upstream}; keepalive 16; }}

    server {{
        listen 127.0.0.1:{port};

        location = /_forward_auth {{
            internal;
            proxy_pass http://forward_auth/auth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            # The original request, for the scope rules and DPoP's htm/htu;
            # both families set, so a client cannot inject either.
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-Method $request_method;
            proxy_set_header X-Forwarded-Uri $request_uri;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
        }}

        location / {{
            auth_request /_forward_auth;
            auth_request_set $auth_subject $upstream_http_x_auth_subject;
            auth_request_set $auth_scopes $upstream_http_x_auth_scopes;
            auth_request_set $auth_email $upstream_http_x_auth_email;
            # Overwrites (or, empty, removes) what the client sent.
            proxy_set_header X-Auth-Subject $auth_subject;
            proxy_set_header X-Auth-Scopes $auth_scopes;
            proxy_set_header X-Auth-Email $auth_email;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }}
    }}
}}
"#
    )
}

/// nginx in front of `upstream`, asking the service on `auth`.
pub fn nginx(auth: u16, upstream: u16) -> Option<Proxy> {
    let nginx = tool("nginx", &["/usr/sbin/nginx"])?;
    let dir = TempDir::new("nginx");
    let port = example_process::free_port("127.0.0.1");
    std::fs::write(
        dir.path().join("nginx.conf"),
        nginx_conf(dir.path(), port, auth, upstream),
    )
    .unwrap();
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(dir.path())
        .args(["-c", "nginx.conf", "-g", "daemon off;"]);
    Some(Proxy::start(command, port, "start worker process", dir))
}

/// The Caddyfile of `docs/behind-a-proxy.md`, on loopback ports.
pub fn caddyfile(port: u16, auth: u16, upstream: u16) -> String {
    format!(
        r#"{{
    admin off
    auto_https off
}}

http://:{port} {{
    bind 127.0.0.1
    route {{
        # Whatever the client sent under these names never goes upstream.
        request_header -X-Auth-Subject
        request_header -X-Auth-Scopes
        request_header -X-Auth-Email
        forward_auth 127.0.0.1:{auth} {{
            uri /auth
            # Caddy sets X-Forwarded-Method and -Uri; drop the other family.
            header_up -X-Original-Method
            header_up -X-Original-URI
            copy_headers X-Auth-Subject X-Auth-Scopes X-Auth-Email
        }}
        reverse_proxy 127.0.0.1:{upstream}
    }}
}}
"#
    )
}

/// caddy in front of `upstream`, asking the service on `auth`.
pub fn caddy(auth: u16, upstream: u16) -> Option<Proxy> {
    let caddy = tool("caddy", &["/usr/bin/caddy"])?;
    let dir = TempDir::new("caddy");
    let port = example_process::free_port("127.0.0.1");
    let config = dir.path().join("Caddyfile");
    std::fs::write(&config, caddyfile(port, auth, upstream)).unwrap();
    let mut command = Command::new(caddy);
    command
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&config)
        // Caddy keeps state under HOME / XDG dirs: the temp folder instead.
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path());
    Some(Proxy::start(
        command,
        port,
        "serving initial configuration",
        dir,
    ))
}

/// A GET through the proxy with `headers`.
pub async fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    Client::new()
        .send_with("GET", &format!("{base}{path}"), headers, None)
        .await
}
