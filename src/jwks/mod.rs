//! Remote key sets (feature `jwks`): an issuer's JWK Set fetched over HTTP(S)
//! and kept current, found directly or through OpenID Connect / RFC 8414
//! discovery.
//!
//! The rules, and why:
//!
//! * **The request path never waits on the network**, with one exception:
//!   a token whose `kid` is not in the current set triggers one refetch and
//!   waits for it, so a key the issuer has just added works at once. Such
//!   refetches are coalesced (a thousand concurrent requests cost one fetch)
//!   and rate-limited to one per [`min_refresh`](RemoteJwksBuilder::min_refresh)
//!   (a flood of random `kid`s costs at most one fetch per interval; the rest
//!   are refused at once).
//! * **Background refresh** at least every [`max_age`](RemoteJwksBuilder::max_age)
//!   (default 5 min), sooner when the issuer's `Cache-Control: max-age` says
//!   so, never sooner than `min_refresh` (default 10 s).
//! * **A bad fetch never removes good keys.** A failed, slow (over the
//!   deadline, default 5 s), malformed, oversized (over 1 MiB) or empty
//!   answer keeps the last good set. A key the issuer removed stops
//!   verifying once a fetch succeeds without it — including tokens the
//!   verified-token cache holds.
//! * **No keys yet is not a bad token.** Until a first set has been fetched,
//!   requests with a credential get 503 with `Retry-After`; the source keeps
//!   retrying with backoff, and the process starts anyway.
//! * **Only configured URLs are fetched**: never one a token names (`jku`,
//!   `x5u` are not read at all); https, or http on a loopback host unless
//!   [`allow_http`](RemoteJwksBuilder::allow_http) says otherwise. A
//!   discovered `jwks_uri` is no weaker than its issuer: over https when the
//!   issuer is, on a loopback host only when the issuer is. No redirects,
//!   whatever the client: an answer a client reached by following one is
//!   refused.
//! * **Only signature keys of asymmetric types** are taken (RSA, EC P-256 /
//!   P-384, Ed25519); `oct` keys of a published set are ignored.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_jwt_auth::jwks::RemoteJwks;
//! use tower_jwt_auth::{JwtAuthLayer, JwtConfig, TokenProfile, Verifier};
//!
//! let issuer = "https://id.example.com/realms/app";
//! let keys = RemoteJwks::discover(issuer).build()?;
//! let config = JwtConfig::new()
//!     .issuer(issuer)
//!     .audience("api")
//!     .profile(TokenProfile::generic());
//! let layer = JwtAuthLayer::new(Verifier::new(keys, config));
//! # let _ = layer;
//! # Ok(()) }
//! ```

mod builder;
mod discovery;
mod fetch;
mod keyset;
mod refresh;
mod remote;
mod state;

pub use builder::{JwksError, RemoteJwksBuilder};
pub use discovery::{DiscoveryError, ProviderMetadata};
pub use remote::{JwksStatus, RemoteJwks};

// For the fuzz targets only (`crate::__fuzz`, built by `cargo fuzz`).
#[cfg(fuzzing)]
pub(crate) use discovery::parse_metadata;
#[cfg(fuzzing)]
pub(crate) use keyset::{MAX_JWKS_KEYS, parse_key_set};

use std::time::Duration;

/// Default longest time between two fetches: 5 minutes.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// Default shortest time between two fetches, and between two refetches for
/// unknown `kid`s: 10 seconds.
pub const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(10);
/// Default deadline of one fetch, connection and body included: 5 seconds.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Default cap on a fetched document: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// Fetches `issuer`'s metadata once (OpenID Connect discovery, then
/// RFC 8414) and checks that it names exactly `issuer`: for a startup check
/// that turns a mix-up into an error message instead of a stream of 503s.
pub async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    timeout: Duration,
) -> Result<ProviderMetadata, DiscoveryError> {
    discovery::discover(client, issuer, timeout, DEFAULT_MAX_BODY, false).await
}
