//! A test RFC 7662 endpoint on a loopback port, on its own thread and
//! runtime (so a test's runtime can be single-threaded and still be sure every
//! task it spawned is parked before the endpoint answers). Each test sets
//! what it answers per token, can close a gate that holds every answer until
//! opened, and reads the calls it received (headers and form).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::sync::watch;

/// How the endpoint answers.
#[derive(Clone, Debug)]
pub enum Mode {
    /// 200 with the answer set for the token (`{"active":false}` when none).
    Answer,
    /// This status, empty body.
    Status(u16),
    /// Never answers.
    Hang,
    /// 200 with a body that is not JSON.
    Junk,
    /// 200 with a JSON body of 1 MiB.
    Oversized,
    /// RFC 9701: 200 with the answer set for the token made into a JWT by
    /// the signer, `Content-Type: application/token-introspection+jwt`.
    Signed(Signer),
}

/// Makes the body of a signed answer from the RFC 7662 answer.
#[derive(Clone)]
pub struct Signer(pub Arc<dyn Fn(&Value) -> String + Send + Sync>);

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer")
    }
}

/// One call as the endpoint saw it.
#[derive(Clone, Debug)]
pub struct Call {
    pub authorization: Option<String>,
    pub accept: Option<String>,
    pub content_type: Option<String>,
    pub form: Vec<(String, String)>,
}

impl Call {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Shared {
    mode: Mutex<Mode>,
    answers: Mutex<HashMap<String, Value>>,
    calls: Mutex<Vec<Call>>,
    count: AtomicUsize,
    counted: watch::Sender<usize>,
    gate: watch::Sender<bool>,
}

pub struct Endpoint {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Held answers must not keep the server thread alive.
        self.shared.gate.send_replace(true);
    }
}

impl Endpoint {
    pub fn start() -> Self {
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Answer),
            answers: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            counted: watch::channel(0).0,
            gate: watch::channel(true).0,
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::clone(&shared);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let issuer = format!("http://{}", listener.local_addr().unwrap());
                let metadata = serde_json::json!({
                    "issuer": issuer,
                    "introspection_endpoint": format!("{issuer}/introspect"),
                });
                let app = Router::new()
                    .route("/introspect", post(introspect))
                    .route(
                        "/.well-known/openid-configuration",
                        axum::routing::get(move || async move { axum::Json(metadata) }),
                    )
                    .with_state(state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Self {
            addr: addr_rx.recv().unwrap(),
            shared,
            stop: Some(stop_tx),
        }
    }

    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self) -> String {
        format!("http://{}/introspect", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn answer(&self, token: &str, answer: Value) {
        self.shared
            .answers
            .lock()
            .unwrap()
            .insert(token.to_owned(), answer);
    }

    /// Calls received so far (counted when they arrive, before the gate).
    pub fn calls(&self) -> usize {
        self.shared.count.load(Ordering::SeqCst)
    }

    pub fn last_call(&self) -> Call {
        self.shared.calls.lock().unwrap().last().cloned().unwrap()
    }

    /// Waits until at least `count` calls have arrived.
    pub async fn wait_for_calls(&self, count: usize) {
        let mut counted = self.shared.counted.subscribe();
        counted.wait_for(|n| *n >= count).await.unwrap();
    }

    /// Holds every answer until [`open`](Self::open).
    pub fn close(&self) {
        self.shared.gate.send_replace(false);
    }

    pub fn open(&self) {
        self.shared.gate.send_replace(true);
    }
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    let token = form
        .iter()
        .find(|(n, _)| n == "token")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    shared.calls.lock().unwrap().push(Call {
        authorization: text(header::AUTHORIZATION),
        accept: text(header::ACCEPT),
        content_type: text(header::CONTENT_TYPE),
        form,
    });
    let count = shared.count.fetch_add(1, Ordering::SeqCst) + 1;
    shared.counted.send_replace(count);
    let mut gate = shared.gate.subscribe();
    let _ = gate.wait_for(|open| *open).await;
    let mode = shared.mode.lock().unwrap().clone();
    let answer = shared
        .answers
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or_else(|| serde_json::json!({ "active": false }));
    match mode {
        Mode::Signed(signer) => (
            [(header::CONTENT_TYPE, "application/token-introspection+jwt")],
            (signer.0)(&answer),
        )
            .into_response(),
        Mode::Answer => (
            [(header::CONTENT_TYPE, "application/json")],
            answer.to_string(),
        )
            .into_response(),
        Mode::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Mode::Hang => std::future::pending().await,
        Mode::Junk => "<html>not json</html>".into_response(),
        Mode::Oversized => {
            let padding = "x".repeat(1 << 20);
            format!(r#"{{"active":true,"padding":"{padding}"}}"#).into_response()
        }
    }
}

/// The `(client_id, secret)` of a Basic header, form-decoded.
pub fn basic(authorization: &str) -> (String, String) {
    use base64::Engine as _;
    let encoded = authorization.strip_prefix("Basic ").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let decoded = String::from_utf8(decoded).unwrap();
    let (id, secret) = decoded.split_once(':').unwrap();
    (decode(id), decode(secret))
}
