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

/// Listens on `bind`; failure is printed and exits with 1.
pub async fn listen(example: &str, bind: SocketAddr) -> Result<TcpListener, ExitCode> {
    let listener = TcpListener::bind(bind).await.map_err(|e| {
        eprintln!("{example}: cannot listen on {bind}: {e}");
        ExitCode::from(1)
    })?;
    tracing::info!(%bind, "{example} listening");
    Ok(listener)
}

/// Resolves on Ctrl-C or SIGTERM, for a graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
