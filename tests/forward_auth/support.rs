//! What every forward-auth test uses: tokens, the tools' whereabouts, and
//! the service — as the built example in a child process, or in process
//! (built from the same settings `main` reads) and asked with `oneshot`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use http::{Request, Response};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::ci::in_ci;
use crate::endpoint::Endpoint;
use crate::example_process::{self, Process, Started};
use crate::forward_auth::{self, Forward, Settings};

pub const SECRET: &str = "the forward-auth test secret, 32+ bytes";
pub const ISSUER: &str = "https://id.forward-auth.test";
pub const AUDIENCE: &str = "api";
pub const REQUIRE_SCOPES: &str = "/admin=admin:write;/=read:ping";
pub const CLAIM_HEADERS: &str = "email:X-Auth-Email";

/// Every variable of the example's contract: removed from the inherited
/// environment, so only what a test sets is seen.
pub const CONTRACT_VARS: &[&str] = &[
    "BIND",
    "OIDC_ISSUER",
    "OIDC_ISSUER_2",
    "JWKS_URL",
    "JWT_ALGORITHM",
    "JWT_SECRET",
    "JWT_PUBLIC_KEY_FILE",
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
    "DPOP_NONCE",
    "DPOP_MAX_AGE_SECS",
    "PUBLIC_URL",
    "REQUIRE_SCOPES",
    "CLAIM_HEADERS",
];

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ===== tokens =====

/// A JWT for `sub` signed with `secret`, expiring at `exp`, with `extra`
/// claims merged in.
pub fn token_with(secret: &str, sub: &str, exp: u64, extra: Value) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "exp": exp, "iat": now(),
        "jti": format!("fa-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)),
    });
    claims
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A valid token for `sub` with `scope` and an email.
pub fn token(sub: &str, scope: &str) -> String {
    token_with(
        SECRET,
        sub,
        now() + 600,
        json!({"scope": scope, "email": format!("{sub}@example.test")}),
    )
}

/// An active introspection answer for an opaque token of `sub`.
pub fn active(sub: &str, scope: &str) -> Value {
    json!({
        "active": true, "sub": sub, "scope": scope, "iss": ISSUER, "aud": AUDIENCE,
        "exp": now() + 600, "client_id": "app", "token_type": "Bearer",
    })
}

// ===== tools =====

/// Skips (returns `None`) outside CI, fails under CI.
pub fn missing<T>(what: &str) -> Option<T> {
    assert!(
        !in_ci(),
        "CI is set and {what}: .ci/run installs it, these tests must run in CI"
    );
    eprintln!("SKIPPED: {what} (see .ci/run for how CI installs it)");
    None
}

/// `name` at one of `paths`, or on the PATH.
pub fn tool(name: &str, paths: &[&str]) -> Option<PathBuf> {
    let found = paths
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        });
    found.or_else(|| {
        missing(&format!(
            "`{name}` is not installed (apt-get install nginx-light caddy)"
        ))
    })
}

/// A fresh folder under the temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(what: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tja-forward-auth-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ===== the service =====

/// The settings every proxy test starts the service with: local HS256 keys,
/// opaque tokens introspected at `endpoint` with no cache (a revocation
/// there counts at once), the scope rules and claim headers above.
pub async fn start_service(endpoint: &Endpoint) -> (Process, u16) {
    let port = example_process::free_port("127.0.0.1");
    let bind = format!("127.0.0.1:{port}");
    let url = endpoint.url();
    let vars = [
        ("BIND", bind.as_str()),
        ("JWT_SECRET", SECRET),
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
        ("INTROSPECTION_URL", url.as_str()),
        ("INTROSPECTION_CLIENT_ID", "fwd"),
        ("INTROSPECTION_CLIENT_SECRET", "fwd-secret"),
        ("INTROSPECTION_CACHE_SECS", "0"),
        ("REQUIRE_SCOPES", REQUIRE_SCOPES),
        ("CLAIM_HEADERS", CLAIM_HEADERS),
    ];
    let binary = example_process::example_binary("forward_auth");
    match Process::start(&binary, CONTRACT_VARS, &vars, "forward_auth listening").await {
        Started::Serving(process) => (process, port),
        Started::Exited(status, output) => panic!("forward_auth exited ({status}): {output}"),
    }
}

// ===== the service in process =====

/// The service for `vars` (on top of local HS256 keys, the test issuer and
/// audience), built as `main` builds it.
pub async fn service(vars: &[(&str, &str)]) -> Router {
    let base = [
        ("JWT_SECRET", SECRET),
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
    ];
    let all: Vec<(&str, &str)> = base.iter().chain(vars).copied().collect();
    let var = |name: &str| {
        all.iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let settings = Settings::from_vars(var).unwrap();
    let forward = Forward::from_vars(var).unwrap();
    let (verifier, introspection) = forward_auth::verifier_and_introspection(&settings)
        .await
        .unwrap();
    forward_auth::app(verifier, forward, introspection)
}

/// The default rules and claim headers.
pub async fn default_service() -> Router {
    service(&[
        ("REQUIRE_SCOPES", REQUIRE_SCOPES),
        ("CLAIM_HEADERS", CLAIM_HEADERS),
    ])
    .await
}

/// `GET /auth` with `headers`.
pub async fn ask(app: &Router, headers: &[(&str, &str)]) -> Response<Body> {
    let mut request = Request::get("/auth");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

/// Caddy's way: `X-Forwarded-Method` and `-Uri` with the token.
pub async fn ask_for(app: &Router, uri: &str, token: &str) -> Response<Body> {
    let bearer = format!("Bearer {token}");
    ask(
        app,
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", uri),
            ("authorization", &bearer),
        ],
    )
    .await
}

pub fn header<'a>(response: &'a Response<Body>, name: &str) -> Vec<&'a str> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}
