//! `examples/resource_server.rs` checked from outside: the built example runs
//! as a child process on a loopback port, configured only through its
//! environment contract, and is driven over HTTP with tokens from
//!
//! * a real OpenID provider — node's `oidc-provider`, with JWT access tokens
//!   (`oidc.rs`) and with opaque ones it is asked about (`opaque.rs`);
//! * other libraries — PyJWT, djangorestframework-simplejwt, AuthX,
//!   fastapi-users, through `mint.py` (`libraries.rs`);
//! * two issuers at once, and the startup rules (`issuers.rs`).
//!
//! Python and node packages come from `.ci/run` (see `support.rs`); where
//! they are missing these tests skip with a message, and fail under `CI=true`.

#[allow(dead_code)]
#[path = "../../examples/demo.rs"]
mod demo;
mod dpop;
mod dpop_oidc;
#[allow(dead_code)]
#[path = "../introspect/endpoint.rs"]
mod endpoint;
mod federation;
mod introspection;
mod issuers;
mod keys;
mod libraries;
mod metrics;
mod oidc;
mod opaque;
mod openapi;
mod support;
