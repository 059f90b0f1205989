//! The handle to a remote key set: readiness, status, and what a verifier
//! asks of it (the current keys, their epoch, a refetch for an unknown `kid`).

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::refresh::refresh_loop;
use super::state::{Location, RefetchState, Settings, Shared, Stats};
use crate::keys::{KeySource, KeysRefetch, RemoteKeys, Snapshot};

/// A JWK Set fetched from an issuer and kept current; see the
/// [module docs](super) for the rules. Cheap to clone: clones share one set
/// and one refresh task, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct RemoteJwks {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    task: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a [`RemoteJwks`] holds and has done, for health checks and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwksStatus {
    /// Whether a key set has been fetched yet.
    pub loaded: bool,
    /// How many keys the current set holds.
    pub keys: usize,
    /// Fetches that yielded a key set.
    pub fetches: u64,
    /// Fetches that failed (the last good set was kept).
    pub failures: u64,
    /// Refetches made for unknown `kid`s.
    pub unknown_kid_refetches: u64,
}

impl RemoteJwks {
    /// Waits until a first key set has been fetched, or `timeout` passed;
    /// true when keys are there.
    pub async fn ready(&self, timeout: Duration) -> bool {
        let mut fetched = self.inner.shared.fetched.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            if self.inner.shared.keys.load().is_some() {
                return true;
            }
            // The refresh task signals every fetch before the first success.
            if tokio::time::timeout_at(deadline, fetched.changed())
                .await
                .is_err()
            {
                return self.inner.shared.keys.load().is_some();
            }
        }
    }

    /// What the set holds and how its fetches went.
    pub fn status(&self) -> JwksStatus {
        self.inner.shared.status()
    }
}

impl Shared {
    fn status(&self) -> JwksStatus {
        JwksStatus {
            loaded: self.keys.load().is_some(),
            keys: self.keys.load().as_ref().map_or(0, |s| s.keys.len()),
            fetches: self.stats.fetches.load(Ordering::Relaxed),
            failures: self.stats.failures.load(Ordering::Relaxed),
            unknown_kid_refetches: self.stats.refetches.load(Ordering::Relaxed),
        }
    }
}

impl RemoteKeys for Inner {
    fn discovered_issuer(&self) -> Option<&str> {
        match &self.shared.settings.location {
            Location::Discover(issuer) => Some(issuer),
            Location::Url(_) => self.shared.settings.discovered_from.as_deref(),
        }
    }

    fn current(&self) -> arc_swap::Guard<Option<Arc<Snapshot>>> {
        self.shared.keys.load()
    }

    /// Asks for a refetch for an unknown `kid`: joins the one in flight, or
    /// starts one unless one was started less than `min_refresh` ago.
    fn refetch_for_unknown_kid(&self) -> Option<KeysRefetch> {
        let shared = &self.shared;
        if shared.keys.load().is_none() {
            // No set yet: the refresh task is already retrying.
            return None;
        }
        let mut fetched = shared.fetched.subscribe();
        {
            let mut state = shared
                .refetch
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !state.pending {
                let now = Instant::now();
                if state
                    .last
                    .is_some_and(|last| now.duration_since(last) < shared.settings.min_refresh)
                {
                    // No new fetch so soon; but one may have finished between
                    // this token's check and now: decide once more against
                    // the keys in force (without a second refetch).
                    return Some(Box::pin(std::future::ready(())));
                }
                state.last = Some(now);
                state.pending = true;
                shared.stats.refetches.fetch_add(1, Ordering::Relaxed);
                crate::metrics::jwks_unknown_kid_refetch();
                shared.wake.notify_one();
            }
        }
        // A little past the fetch deadline: the task always signals, this is
        // only a bound should it have gone.
        let bound = shared.settings.fetch_timeout * 2 + Duration::from_secs(1);
        Some(Box::pin(async move {
            let _ = tokio::time::timeout(bound, fetched.changed()).await;
        }))
    }
}

impl From<RemoteJwks> for KeySource {
    fn from(remote: RemoteJwks) -> Self {
        KeySource::remote(remote.inner)
    }
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Shown as the handle (a [`KeySource`] holds the inner part).
impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("location", &self.shared.settings.location)
            .field("status", &self.shared.status())
            .finish()
    }
}

/// Starts the refresh task of a key set with `settings` in `runtime`.
pub(super) fn start(
    runtime: &tokio::runtime::Handle,
    settings: Settings,
    client: reqwest::Client,
) -> RemoteJwks {
    let (fetched, _) = watch::channel(0);
    let shared = Arc::new(Shared {
        keys: ArcSwapOption::empty(),
        refetch: Mutex::new(RefetchState::default()),
        wake: Notify::new(),
        fetched,
        stats: Stats::default(),
        settings,
        client,
    });
    let task = runtime.spawn(refresh_loop(Arc::downgrade(&shared)));
    RemoteJwks {
        inner: Arc::new(Inner {
            shared,
            task: task.abort_handle(),
        }),
    }
}
