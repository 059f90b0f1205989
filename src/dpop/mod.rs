//! DPoP (RFC 9449): sender-constrained access tokens, verified.
//!
//! A DPoP-bound access token carries `cnf.jkt`, the RFC 7638 thumbprint of a
//! key only the client holds; every request comes with a fresh *proof*, a
//! JWT signed with that key naming the request's method and URI, a unique
//! `jti` and the hash of the token. A copied token is useless without the key.
//!
//! - [`htu`](normalize_htu): the request URI in RFC 3986 normal form, built
//!   from a configured external origin ([`HtuOrigin`]).

mod htu;

pub use htu::{HtuError, HtuOrigin, htu_matches, normalize_htu};
