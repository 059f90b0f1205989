//! DPoP (RFC 9449) and mTLS-bound tokens (RFC 8705): the replay store on a
//! real Redis, and the layer end to end.

#[path = "../support/redis_server.rs"]
mod redis_server;

mod layer;
mod replay;
