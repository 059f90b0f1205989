//! What every example does before it serves: logging, settings, the
//! listener, and the shutdown signal. Include beside `settings.rs` with
//! `#[path = "support/startup.rs"] mod startup;` and re-export
//! `settings::Settings` next to them.

use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;

use super::Settings;

/// Logging from `RUST_LOG` (default `info`), then the settings from the
/// environment; a configuration error is printed and exits with 2.
pub fn init(example: &str) -> Result<Settings, ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_jwt_auth=info".into()),
        )
        .init();
    Settings::from_env().map_err(|e| {
        eprintln!("{example}: configuration error: {e}");
        ExitCode::from(2)
    })
}

/// `BIND` when set, else this example's own default port.
pub fn bind_address(settings: &Settings, default_port: u16) -> SocketAddr {
    if std::env::var_os("BIND").is_some() {
        settings.bind
    } else {
        SocketAddr::from(([127, 0, 0, 1], default_port))
    }
}

/// Listens on `bind`, with the shutdown signal already installed: the
/// "listening" line (what tests and supervisors wait for) never comes
/// before SIGTERM is handled. Failure is printed and exits with 1.
pub async fn listen(
    example: &str,
    bind: SocketAddr,
) -> Result<(TcpListener, impl Future<Output = ()> + Send + 'static), ExitCode> {
    let shutdown = shutdown_signal();
    let listener = TcpListener::bind(bind).await.map_err(|e| {
        eprintln!("{example}: cannot listen on {bind}: {e}");
        ExitCode::from(1)
    })?;
    tracing::info!(%bind, "{example} listening");
    Ok((listener, shutdown))
}

/// Resolves on Ctrl-C or SIGTERM, for a graceful shutdown. The handlers are
/// installed when this is called, not when the future is first polled:
/// axum's `with_graceful_shutdown` polls it from a task of its own, maybe
/// after the first requests were served, and a SIGTERM before that killed
/// the process instead of stopping it.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            received(signal(SignalKind::interrupt()).ok()),
            received(signal(SignalKind::terminate()).ok()),
        )
    };
    #[cfg(not(unix))]
    let (interrupt, terminate) = (
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
        std::future::pending::<()>(),
    );
    async move {
        tokio::select! {
            () = interrupt => {},
            () = terminate => {},
        }
        tracing::info!("shutting down");
    }
}

/// The next delivery of an installed signal (never, if it could not be
/// installed).
#[cfg(unix)]
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
