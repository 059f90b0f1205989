//! `GET /metrics`: the crate's metrics in the Prometheus text format, when
//! the example is built with the `metrics` feature (`--features full`).
//! Without it the route does not exist (404) and nothing is recorded.

use axum::Router;

/// The `/metrics` route. The first call installs a Prometheus recorder as
/// the process's global one (later calls share it).
#[cfg(feature = "metrics")]
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    use axum::http::header;
    use axum::routing::get;

    let handle = handle().clone();
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    )
}

/// Without the `metrics` feature: no route (404).
#[cfg(not(feature = "metrics"))]
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
}

/// The process's Prometheus recorder, installed on first use: verification
/// times get histogram buckets from 1 µs to 100 ms (a cached token takes
/// well under 10 µs, a first-seen RS256 one a few hundred).
#[cfg(feature = "metrics")]
pub fn handle() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    use std::sync::OnceLock;

    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(tower_jwt_auth::metrics::VERIFY_SECONDS.to_owned()),
                &[
                    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2, 1e-1,
                ],
            )
            .expect("the bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        match ::metrics::set_global_recorder(recorder) {
            Ok(()) => tower_jwt_auth::metrics::describe(),
            Err(_) => {
                tracing::warn!("a metrics recorder was already installed: /metrics stays empty")
            }
        }
        handle
    })
}
