//! The refresh task: fetches at start, on schedule, and when a verifier asks
//! for an unknown `kid`; a bad fetch never removes good keys.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use super::discovery::{self, DiscoveryError};
use super::fetch;
use super::keyset::parse_key_set;
use super::state::{Location, Shared};

/// The first retry after a failed fetch; doubled per failure up to
/// `max_age` (and at most [`MAX_BACKOFF`]).
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Fetches at start, then on schedule or when asked; ends when the last
/// handle is dropped.
pub(super) async fn refresh_loop(shared: std::sync::Weak<Shared>) {
    let mut jwks_url: Option<String> = None;
    let mut backoff = FIRST_BACKOFF;
    let mut forced = false;
    loop {
        let Some(state) = shared.upgrade() else {
            return;
        };
        let was_loaded = state.keys.load().is_some();
        let outcome = fetch_once(&state, &mut jwks_url).await;
        crate::metrics::jwks_fetch(outcome.is_ok());
        let next = match outcome {
            Ok(max_age) => {
                backoff = FIRST_BACKOFF;
                max_age
                    .unwrap_or(state.settings.max_age)
                    .clamp(state.settings.min_refresh, state.settings.max_age)
            }
            Err(()) => {
                state.stats.failures.fetch_add(1, Ordering::Relaxed);
                let wait = backoff;
                backoff = (backoff * 2).min(state.settings.max_age).min(MAX_BACKOFF);
                wait
            }
        };
        // Waiters for a refetch, and for the first key set, hear of every
        // attempt that concerns them.
        if forced || !was_loaded {
            if forced {
                state
                    .refetch
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pending = false;
            }
            state.fetched.send_modify(|n| *n += 1);
        }
        let wake = async {
            state.wake.notified().await;
        };
        forced = tokio::select! {
            () = tokio::time::sleep(next) => false,
            () = wake => true,
        };
    }
}

/// One fetch (after discovery, when the URL is not known yet); `Ok` with the
/// issuer's `max-age` when a key set was taken.
async fn fetch_once(state: &Shared, jwks_url: &mut Option<String>) -> Result<Option<Duration>, ()> {
    let settings = &state.settings;
    let url = match (&settings.location, &*jwks_url) {
        (Location::Url(url), _) => url.clone(),
        (Location::Discover(_), Some(url)) => url.clone(),
        (Location::Discover(issuer), None) => {
            match discovery::discover(
                &state.client,
                issuer,
                settings.fetch_timeout,
                settings.max_body,
                settings.allow_http,
            )
            .await
            {
                Ok(metadata) => {
                    tracing::info!(issuer = %issuer, jwks_uri = %metadata.jwks_uri, "issuer discovered");
                    jwks_url.insert(metadata.jwks_uri).clone()
                }
                Err(error @ DiscoveryError::IssuerMismatch { .. }) => {
                    tracing::error!(%error, "configuration error: no keys are taken from this issuer");
                    return Err(());
                }
                Err(error) => {
                    tracing::warn!(issuer = %issuer, %error, "issuer discovery failed; retrying");
                    return Err(());
                }
            }
        }
    };
    let fetched = match fetch::get(
        &state.client,
        &url,
        settings.fetch_timeout,
        settings.max_body,
    )
    .await
    {
        Ok(fetched) => fetched,
        Err(error) => {
            tracing::warn!(%url, %error, "JWK Set fetch failed; keeping the last good set");
            return Err(());
        }
    };
    let mut next = match parse_key_set(&fetched.body, settings.rsa_algorithm) {
        Ok(next) => next,
        Err(error) => {
            tracing::warn!(%url, %error, "JWK Set refused; keeping the last good set");
            return Err(());
        }
    };
    // Cached tokens verified by a key that has gone must be verified again:
    // the new set's epoch tells the verified-token cache. The epoch travels
    // inside the set, so a token checked against the old set can never be
    // tagged with the new set's epoch.
    if let Some(previous) = state.keys.load_full() {
        next.epoch = previous.epoch + u64::from(previous.loses_keys_in(&next));
    }
    tracing::debug!(%url, keys = next.keys.len(), "JWK Set fetched");
    state.keys.store(Some(Arc::new(next)));
    state.stats.fetches.fetch_add(1, Ordering::Relaxed);
    Ok(fetched.max_age)
}
