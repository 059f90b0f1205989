//! A JWKS and discovery server on a loopback port whose behaviour each test
//! sets: it serves, rotates, fails, hangs, sends junk or an oversized body,
//! and counts fetches (with a signal per fetch, so tests await counts
//! instead of sleeping).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

/// What the next fetches of the JWKS get.
#[derive(Clone, Debug)]
pub enum Mode {
    /// 200 with these keys and this `Cache-Control`, if any.
    Serve {
        keys: Vec<Value>,
        cache_control: Option<String>,
    },
    /// 500.
    Fail,
    /// Never answers (until the server is dropped).
    Hang,
    /// 200 with a body that is not JSON.
    Junk,
    /// 200 with a body of 2 MiB.
    Oversized,
    /// 302 to this URL.
    Redirect(String),
}

struct Shared {
    mode: Mutex<Mode>,
    fetches: AtomicUsize,
    fetched: watch::Sender<usize>,
    /// The issuer the discovery document names (`None`: no discovery
    /// document, 404).
    metadata_issuer: Mutex<Option<String>>,
    /// The `jwks_uri` the discovery document names (`None`: this server's).
    metadata_jwks_uri: Mutex<Option<String>>,
    /// Serve metadata only at the RFC 8414 path (OIDC's answers 404).
    rfc8414_only: Mutex<bool>,
    hang: Notify,
}

/// The running server; it stops when dropped.
pub struct JwksServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JwksServer {
    pub async fn start(mode: Mode) -> Self {
        let (fetched, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            fetches: AtomicUsize::new(0),
            fetched,
            metadata_issuer: Mutex::new(None),
            metadata_jwks_uri: Mutex::new(None),
            rfc8414_only: Mutex::new(false),
            hang: Notify::new(),
        });
        let app = Router::new()
            .route("/jwks.json", get(jwks))
            .route("/.well-known/openid-configuration", get(oidc_metadata))
            .route(
                "/.well-known/oauth-authorization-server",
                get(rfc8414_metadata),
            )
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, shared, task }
    }

    /// A server answering with `keys` and no `Cache-Control`.
    pub async fn serving(keys: Vec<Value>) -> Self {
        Self::start(Mode::Serve {
            keys,
            cache_control: None,
        })
        .await
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.base())
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn serve(&self, keys: Vec<Value>) {
        self.set_mode(Mode::Serve {
            keys,
            cache_control: None,
        });
    }

    /// Serve a discovery document naming `issuer` with this server's JWKS.
    pub fn metadata(&self, issuer: &str, rfc8414_only: bool) {
        *self.shared.metadata_issuer.lock().unwrap() = Some(issuer.to_owned());
        *self.shared.rfc8414_only.lock().unwrap() = rfc8414_only;
    }

    /// Serve a discovery document naming `issuer` and, as its key set,
    /// `jwks_uri`.
    pub fn metadata_naming(&self, issuer: &str, jwks_uri: &str) {
        *self.shared.metadata_jwks_uri.lock().unwrap() = Some(jwks_uri.to_owned());
        self.metadata(issuer, false);
    }

    /// JWKS requests answered or begun so far.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` JWKS requests have arrived.
    pub async fn wait_for_fetches(&self, count: usize) {
        let mut fetched = self.shared.fetched.subscribe();
        fetched.wait_for(|n| *n >= count).await.unwrap();
    }
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    let mode = shared.mode.lock().unwrap().clone();
    let count = shared.fetches.fetch_add(1, Ordering::SeqCst) + 1;
    shared.fetched.send_replace(count);
    match mode {
        Mode::Serve {
            keys,
            cache_control,
        } => {
            let mut response = axum::Json(json!({ "keys": keys })).into_response();
            if let Some(value) = cache_control {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, value.parse().unwrap());
            }
            response
        }
        Mode::Fail => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Mode::Hang => {
            shared.hang.notified().await;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Mode::Junk => "<html>not a key set</html>".into_response(),
        Mode::Redirect(location) => {
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        Mode::Oversized => {
            let padding = "x".repeat(2 * 1024 * 1024);
            format!(r#"{{"keys":[],"padding":"{padding}"}}"#).into_response()
        }
    }
}

fn metadata_document(shared: &Shared, base: &str) -> Response {
    match shared.metadata_issuer.lock().unwrap().clone() {
        Some(issuer) => axum::Json(json!({
            "issuer": issuer,
            "jwks_uri": shared
                .metadata_jwks_uri
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| format!("{base}/jwks.json")),
        }))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn oidc_metadata(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> Response {
    if *shared.rfc8414_only.lock().unwrap() {
        return StatusCode::NOT_FOUND.into_response();
    }
    metadata_document(&shared, &base_of(&headers))
}

async fn rfc8414_metadata(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> Response {
    metadata_document(&shared, &base_of(&headers))
}

fn base_of(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

// ===== JWKs of the test keys =====

fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

/// The public JWK of a P-256 key in SPKI PEM (the point is the DER's last 65
/// bytes: 0x04 ‖ x ‖ y).
pub fn es256_jwk(kid: &str, public_pem: &str) -> Value {
    let der = der_of(public_pem);
    let point = &der[der.len() - 65..];
    assert_eq!(point[0], 4, "an uncompressed point");
    json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    })
}

/// The public JWK of an Ed25519 key in SPKI PEM (the key is the last 32 bytes).
pub fn ed25519_jwk(kid: &str, public_pem: &str) -> Value {
    let der = der_of(public_pem);
    json!({
        "kty": "OKP", "crv": "Ed25519", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&der[der.len() - 32..]),
    })
}
