//! What the crate counts and measures (feature `metrics`), through the
//! [`metrics`](https://docs.rs/metrics) facade.
//!
//! One place names every metric; the rest of the crate calls the small
//! functions below, which are empty `#[inline]` functions when the feature
//! is off (no clock read, no atomic, nothing to link), so call sites need no
//! `cfg`. With the feature on and no recorder installed, each call asks
//! the facade for its recorder (a thread-local and an atomic load) and the
//! layer reads the clock twice: about 50 ns a request in
//! `benches/metrics.rs`.
//!
//! The crate installs no recorder and starts no exporter: the application
//! picks one (for example `metrics-exporter-prometheus`, as the demo does)
//! and may call [`describe`] once after installing it, so the exposition
//! carries a `# HELP` line for each metric.
//!
//! Labels have bounded values only — never a subject, `jti`, `kid`, token
//! or URL:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | [`DECISIONS_TOTAL`] | counter | `outcome` = `accepted` \| `anonymous` \| `rejected` \| `unavailable` \| `fail_open`; `reason` (refusals only) = the [`AuthErrorKind`] in snake case |
//! | [`VERIFY_SECONDS`] | histogram | `path` = `first_seen` \| `cached` |
//! | [`CACHE_ENTRIES`], [`CACHE_WEIGHT_BYTES`] | gauge | — |
//! | [`REFRESH_TOTAL`] | counter | `outcome` = `rotated` \| `retried` \| `reused_family_revoked` \| `unknown` \| `denied` \| `rejected` \| `unavailable` \| `error` |
//! | [`JWKS_FETCHES_TOTAL`] | counter | `result` = `ok` \| `failed` |
//! | [`JWKS_UNKNOWN_KID_REFETCHES_TOTAL`] | counter | — |
//! | [`REDIS_VIEW_CURRENT`], [`REDIS_VIEW_LAST_HEARD_SECONDS`] | gauge | — |
//! | [`REDIS_VIEW_RELOADS_TOTAL`], [`REDIS_VIEW_RESUMES_TOTAL`], [`REDIS_VIEW_EVENTS_TOTAL`] | counter | — |
//!
//! The names are public so an application can match them, e.g. to give
//! [`VERIFY_SECONDS`] histogram buckets in its exporter.
//!
//! With a Prometheus recorder (`metrics-exporter-prometheus`; here the
//! thread's local one, an application installs it globally):
//!
//! ```
//! # #[cfg(feature = "metrics")] {
//! use axum::{Router, body::Body, routing::get};
//! use http::Request;
//! use metrics_exporter_prometheus::PrometheusBuilder;
//! use tower::ServiceExt;
//! use tower_jwt_auth::{Algorithm, JwtAuthLayer, JwtConfig, Verifier, VerifyingKey};
//!
//! let recorder = PrometheusBuilder::new().build_recorder();
//! let _local = metrics::set_default_local_recorder(&recorder);
//! let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!").unwrap();
//! let app: Router = Router::new()
//!     .route("/ping", get(|| async { "pong" }))
//!     .layer(JwtAuthLayer::new(Verifier::new(key, JwtConfig::new())));
//! let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! runtime.block_on(app.oneshot(Request::get("/ping").body(Body::empty()).unwrap())).unwrap();
//! let text = recorder.handle().render();
//! assert!(text.contains(
//!     r#"tower_jwt_auth_decisions_total{outcome="rejected",reason="missing_credentials"} 1"#
//! ));
//! # }
//! ```

use crate::rejection::AuthErrorKind;

/// Counter: the auth layer's decisions, one per request (`outcome`,
/// `reason`). A request whose token's `kid` was refetched counts once, for
/// its final decision; `fail_open` counts requests let through although the
/// revocation store could not answer (they are not also `accepted`).
pub const DECISIONS_TOTAL: &str = "tower_jwt_auth_decisions_total";
/// Histogram: seconds the auth layer spent verifying a token (`path`:
/// `cached` when the verified-token cache held its checked claims, or the
/// introspection cache its answer; `first_seen` otherwise — signature,
/// claims and, on success, the insert; or the introspection call).
/// Its `_count` by `path` is also the cache's hit ratio (with the cache on):
/// `cached / (cached + first_seen)`; no separate lookup counter is kept, as
/// each metric costs the cached path a recorder lookup.
pub const VERIFY_SECONDS: &str = "tower_jwt_auth_verify_seconds";
/// Gauge: tokens in the verified-token cache, as of its last insert (with
/// several verifiers, of the one that inserted last).
pub const CACHE_ENTRIES: &str = "tower_jwt_auth_cache_entries";
/// Gauge: the verified-token cache's weight in bytes as it counts them
/// (token, payload and bookkeeping), as of its last insert.
pub const CACHE_WEIGHT_BYTES: &str = "tower_jwt_auth_cache_weight_bytes";
/// Counter: [`SessionManager::refresh`](crate::SessionManager::refresh)
/// outcomes (`outcome`): `rotated`; `retried` (a retired token within the
/// reuse grace, rotated again); `reused_family_revoked` (a replay: the
/// session is revoked); `unknown` (the session is revoked or unknown);
/// `denied` (the application's reload hook refused); `rejected` (the token
/// did not verify); `unavailable` (the store or the hook could not answer);
/// `error` (a token could not be minted).
pub const REFRESH_TOTAL: &str = "tower_jwt_auth_refresh_total";
/// Counter: fetches of remote JWK Sets (`result`: `ok`, or `failed`, which
/// keeps the last good set).
pub const JWKS_FETCHES_TOTAL: &str = "tower_jwt_auth_jwks_fetches_total";
/// Counter: refetches of a remote JWK Set asked for by a token with an
/// unknown `kid` (coalesced and rate-limited: at most one per interval).
pub const JWKS_UNKNOWN_KID_REFETCHES_TOTAL: &str =
    "tower_jwt_auth_jwks_unknown_kid_refetches_total";
/// Gauge: `1` while the Redis store's local view is current, `0` while it is
/// stale (revocations made elsewhere may be missed; the store's outage
/// policy applies).
pub const REDIS_VIEW_CURRENT: &str = "tower_jwt_auth_redis_view_current";
/// Gauge: Unix time, in seconds, at which the Redis store's view was last
/// known current. Staleness is `time() - tower_jwt_auth_redis_view_last_heard_seconds`
/// in PromQL: it keeps growing while Redis is silent, which a gauge the
/// silent task would have to update could not show.
pub const REDIS_VIEW_LAST_HEARD_SECONDS: &str = "tower_jwt_auth_redis_view_last_heard_seconds";
/// Counter: loads of the Redis store's view from its sets: the first, then
/// one per resynchronization that found a shard's change feed no longer
/// reaching back to the last change seen (trimmed, or lost with Redis).
pub const REDIS_VIEW_RELOADS_TOTAL: &str = "tower_jwt_auth_redis_view_reloads_total";
/// Counter: resynchronizations after a lost connection that caught up from
/// the change feed alone, without reloading anything.
pub const REDIS_VIEW_RESUMES_TOTAL: &str = "tower_jwt_auth_redis_view_resumes_total";
/// Counter: revocation events from Redis applied to the local view.
pub const REDIS_VIEW_EVENTS_TOTAL: &str = "tower_jwt_auth_redis_view_events_total";

/// Registers a `# HELP` text and unit for every metric with the installed
/// recorder. Optional: call it once after installing one (metrics recorded
/// before it still count).
#[cfg(feature = "metrics")]
pub fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        DECISIONS_TOTAL,
        "Authentication decisions of the auth layer by outcome and reason."
    );
    describe_histogram!(
        VERIFY_SECONDS,
        Unit::Seconds,
        "Time the auth layer spent verifying a token, first seen or cached."
    );
    describe_gauge!(CACHE_ENTRIES, "Tokens in the verified-token cache.");
    describe_gauge!(
        CACHE_WEIGHT_BYTES,
        Unit::Bytes,
        "Bytes the verified-token cache accounts for."
    );
    describe_counter!(REFRESH_TOTAL, "Refresh-token rotations by outcome.");
    describe_counter!(JWKS_FETCHES_TOTAL, "Remote JWK Set fetches by result.");
    describe_counter!(
        JWKS_UNKNOWN_KID_REFETCHES_TOTAL,
        "Remote JWK Set refetches asked for by an unknown kid."
    );
    describe_gauge!(
        REDIS_VIEW_CURRENT,
        "1 while the Redis revocation view is current, 0 while stale."
    );
    describe_gauge!(
        REDIS_VIEW_LAST_HEARD_SECONDS,
        Unit::Seconds,
        "Unix time the Redis revocation view was last known current."
    );
    describe_counter!(
        REDIS_VIEW_RELOADS_TOTAL,
        "Loads of the Redis revocation view from its sets (the first, then after a gap in the change feed)."
    );
    describe_counter!(
        REDIS_VIEW_RESUMES_TOTAL,
        "Reconnections that caught the Redis revocation view up from the change feed, without a reload."
    );
    describe_counter!(
        REDIS_VIEW_EVENTS_TOTAL,
        "Revocation events from Redis applied to the local view."
    );
}

/// The `reason` label of a refusal: fixed, snake case, one per kind.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const fn reason(kind: AuthErrorKind) -> &'static str {
    match kind {
        AuthErrorKind::MissingCredentials => "missing_credentials",
        AuthErrorKind::MalformedCredentials => "malformed_credentials",
        AuthErrorKind::TokenTooLarge => "token_too_large",
        AuthErrorKind::MalformedToken => "malformed_token",
        AuthErrorKind::AlgorithmMismatch => "algorithm_mismatch",
        AuthErrorKind::UnknownKey => "unknown_key",
        AuthErrorKind::UnsupportedHeader => "unsupported_header",
        AuthErrorKind::InvalidSignature => "invalid_signature",
        AuthErrorKind::InvalidClaims => "invalid_claims",
        AuthErrorKind::Expired => "expired",
        AuthErrorKind::NotYetValid => "not_yet_valid",
        AuthErrorKind::InvalidIssuer => "invalid_issuer",
        AuthErrorKind::InvalidAudience => "invalid_audience",
        AuthErrorKind::WrongTokenType => "wrong_token_type",
        AuthErrorKind::Revoked => "revoked",
        AuthErrorKind::RefreshTokenReused => "refresh_token_reused",
        AuthErrorKind::SessionRefused => "session_refused",
        AuthErrorKind::InsufficientScope => "insufficient_scope",
        AuthErrorKind::InsufficientUserAuthentication => "insufficient_user_authentication",
        AuthErrorKind::StoreUnavailable => "store_unavailable",
        AuthErrorKind::CsrfRejected => "csrf_rejected",
        AuthErrorKind::KeysUnavailable => "keys_unavailable",
        AuthErrorKind::InvalidDpopProof => "invalid_dpop_proof",
        AuthErrorKind::UseDpopNonce => "use_dpop_nonce",
        AuthErrorKind::InvalidDpopRequest => "invalid_dpop_request",
        AuthErrorKind::SenderConstraintFailed => "sender_constraint_failed",
        AuthErrorKind::ReplayStoreUnavailable => "replay_store_unavailable",
        AuthErrorKind::IntrospectionUnavailable => "introspection_unavailable",
    }
}

// ===== the auth layer =====

/// A token the layer let through.
#[inline]
pub(crate) fn accepted() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(DECISIONS_TOTAL, "outcome" => "accepted").increment(1);
}

/// No credential, in optional mode: passed on without claims.
#[inline]
pub(crate) fn anonymous() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(DECISIONS_TOTAL, "outcome" => "anonymous").increment(1);
}

/// A token let through although the revocation store could not answer.
#[inline]
pub(crate) fn fail_open() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(DECISIONS_TOTAL, "outcome" => "fail_open").increment(1);
}

/// A request refused for `kind`: `unavailable` (503) when the store or the
/// keys could not answer, `rejected` otherwise.
#[inline]
pub(crate) fn refused(kind: AuthErrorKind) {
    #[cfg(feature = "metrics")]
    {
        let outcome = match kind {
            AuthErrorKind::StoreUnavailable
            | AuthErrorKind::KeysUnavailable
            | AuthErrorKind::IntrospectionUnavailable
            | AuthErrorKind::ReplayStoreUnavailable => "unavailable",
            _ => "rejected",
        };
        ::metrics::counter!(DECISIONS_TOTAL, "outcome" => outcome, "reason" => reason(kind))
            .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// The start of one verification: the time when the feature is on, nothing
/// otherwise.
#[derive(Clone, Copy)]
pub(crate) struct Timer {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl Timer {
    #[inline]
    pub(crate) fn start() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }

    /// The verified-token cache held this token's checked claims.
    #[inline]
    pub(crate) fn cached(self) {
        #[cfg(feature = "metrics")]
        ::metrics::histogram!(VERIFY_SECONDS, "path" => "cached").record(self.started.elapsed());
    }

    /// The token was verified in full (not a kept-claims hit).
    #[inline]
    pub(crate) fn first_seen(self) {
        #[cfg(feature = "metrics")]
        ::metrics::histogram!(VERIFY_SECONDS, "path" => "first_seen")
            .record(self.started.elapsed());
    }
}

/// The verified-token cache after an insert: `size` gives its entries and
/// weight in bytes, `None` when the cache is off (asked only when the
/// feature is on: it visits every shard).
#[inline]
pub(crate) fn cache_size(size: impl FnOnce() -> Option<(usize, u64)>) {
    #[cfg(feature = "metrics")]
    if let Some((entries, bytes)) = size() {
        ::metrics::gauge!(CACHE_ENTRIES).set(entries as f64);
        ::metrics::gauge!(CACHE_WEIGHT_BYTES).set(bytes as f64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = size;
}

// ===== sessions =====

/// One outcome of [`SessionManager::refresh`](crate::SessionManager::refresh),
/// as the [`REFRESH_TOTAL`] label spells it.
#[inline]
pub(crate) fn refresh(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(REFRESH_TOTAL, "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

// ===== remote keys =====

/// One fetch of a remote JWK Set, good (`ok`) or not.
#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
#[inline]
pub(crate) fn jwks_fetch(ok: bool) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(JWKS_FETCHES_TOTAL, "result" => if ok { "ok" } else { "failed" })
        .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = ok;
}

/// A refetch asked for by an unknown `kid` (not one joined or refused).
#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
#[inline]
pub(crate) fn jwks_unknown_kid_refetch() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(JWKS_UNKNOWN_KID_REFETCHES_TOTAL).increment(1);
}

// ===== the Redis view =====

/// The Redis view became current (`true`) or stale.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
#[inline]
pub(crate) fn redis_view_current(current: bool) {
    #[cfg(feature = "metrics")]
    ::metrics::gauge!(REDIS_VIEW_CURRENT).set(if current { 1.0 } else { 0.0 });
    #[cfg(not(feature = "metrics"))]
    let _ = current;
}

/// The Redis view was known current at `at`.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
#[inline]
pub(crate) fn redis_view_heard(at: std::time::Instant) {
    #[cfg(feature = "metrics")]
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let heard = now.saturating_sub(at.elapsed());
        ::metrics::gauge!(REDIS_VIEW_LAST_HEARD_SECONDS).set(heard.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = at;
}

/// The Redis view was (re)loaded from its sets, or, `resumed`, caught up
/// from the change feed alone.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
#[inline]
pub(crate) fn redis_view_reloaded(resumed: bool) {
    #[cfg(feature = "metrics")]
    if resumed {
        ::metrics::counter!(REDIS_VIEW_RESUMES_TOTAL).increment(1);
    } else {
        ::metrics::counter!(REDIS_VIEW_RELOADS_TOTAL).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = resumed;
}

/// A revocation event from Redis applied to the view.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
#[inline]
pub(crate) fn redis_view_event() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(REDIS_VIEW_EVENTS_TOTAL).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_label_is_snake_case_and_distinct() {
        use AuthErrorKind::*;
        let kinds = [
            MissingCredentials,
            MalformedCredentials,
            TokenTooLarge,
            MalformedToken,
            AlgorithmMismatch,
            UnknownKey,
            UnsupportedHeader,
            InvalidSignature,
            InvalidClaims,
            Expired,
            NotYetValid,
            InvalidIssuer,
            InvalidAudience,
            WrongTokenType,
            Revoked,
            RefreshTokenReused,
            SessionRefused,
            InsufficientScope,
            InsufficientUserAuthentication,
            StoreUnavailable,
            CsrfRejected,
            KeysUnavailable,
            IntrospectionUnavailable,
        ];
        let mut seen = std::collections::HashSet::new();
        for kind in kinds {
            let label = reason(kind);
            assert!(
                label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{label}"
            );
            assert!(seen.insert(label), "{label} twice");
        }
    }
}
