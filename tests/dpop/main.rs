//! DPoP (RFC 9449) and mTLS-bound tokens (RFC 8705): the replay store on a
//! real Redis, the layer end to end, and DPoP-bound sessions issued by
//! `SessionManager` / `RefreshService`.

#[path = "../support/redis_server.rs"]
mod redis_server;

mod issuing;
mod layer;
mod replay;
