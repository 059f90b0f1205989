//! `examples/forward_auth.rs` checked two ways: in process (`direct.rs`:
//! the `/auth` decision for each way a proxy can describe a request, the
//! header rules, scopes, 503s; `dpop.rs`: proofs against the forwarded
//! request), and from outside behind the real proxies (`proxies.rs`, with
//! `processes.rs`: Debian's nginx and caddy in front of an echoing upstream).
//!
//! nginx and caddy come from apt (`.ci/run` installs them); where they are
//! missing the proxy tests skip with a message, and fail under `CI=true`.

#[path = "../support/ci.rs"]
mod ci;
mod direct;
mod dpop;
#[allow(dead_code)]
#[path = "../introspect/endpoint.rs"]
mod endpoint;
#[path = "../support/example_process.rs"]
mod example_process;
#[allow(dead_code)]
#[path = "../../examples/forward_auth.rs"]
mod forward_auth;
mod processes;
mod proxies;
mod support;
