//! What one remote key set shares between its handles and its refresh task:
//! the settings, the current keys and their epoch, refetch bookkeeping, counters.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::keys::{Algorithm, Snapshot};

/// Where the JWK Set is: a URL, or found through the issuer's metadata.
#[derive(Clone, Debug)]
pub(super) enum Location {
    Url(String),
    Discover(String),
}

/// Everything the handles and the refresh task of one key set share.
pub(super) struct Shared {
    pub(super) keys: ArcSwapOption<Snapshot>,
    pub(super) refetch: Mutex<RefetchState>,
    pub(super) wake: Notify,
    /// Counts the refetches made for unknown `kid`s; waiters watch it.
    pub(super) fetched: watch::Sender<u64>,
    pub(super) stats: Stats,
    pub(super) settings: Settings,
    pub(super) client: reqwest::Client,
}

/// What the builder decided.
pub(super) struct Settings {
    pub(super) location: Location,
    pub(super) min_refresh: Duration,
    pub(super) max_age: Duration,
    pub(super) fetch_timeout: Duration,
    pub(super) max_body: usize,
    pub(super) rsa_algorithm: Algorithm,
    pub(super) allow_http: bool,
    /// The issuer whose metadata named this key set's URL (see
    /// `RemoteJwksBuilder::discovered_from`).
    pub(super) discovered_from: Option<String>,
}

/// The refetches asked for unknown `kid`s.
#[derive(Default)]
pub(super) struct RefetchState {
    /// When the last refetch for an unknown `kid` was asked for.
    pub(super) last: Option<Instant>,
    /// One is asked for and not finished: later askers wait for it.
    pub(super) pending: bool,
}

/// Counters for [`JwksStatus`](super::JwksStatus).
#[derive(Default)]
pub(super) struct Stats {
    pub(super) fetches: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) refetches: AtomicU64,
}
