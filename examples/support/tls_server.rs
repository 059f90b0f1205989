//! HTTPS for an example, with the client certificate of each connection
//! handed to the layer (RFC 8705 certificate-bound tokens): `TLS_CERT_FILE`
//! and `TLS_KEY_FILE` (PEM) serve HTTPS; with `TLS_CLIENT_CA_FILE`, client
//! certificates signed by that CA are requested (not required), and each
//! request of a connection that presented one carries it as the
//! `ClientCertificate` extension. `CLIENT_CERT_HEADER=<name>` reads the
//! certificate from that header instead (a TLS-terminating proxy's).
//!
//! The few lines an axum or hyper user needs are in [`serve`]: accept, TLS
//! handshake (tokio-rustls), then insert the peer's first certificate into
//! every request of the connection.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use http::HeaderName;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto};
use tower::ServiceExt;
use tower_jwt_auth::mtls::{CertificateSource, ClientCertificate};

/// What the TLS variables say.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// `TLS_CERT_FILE` and `TLS_KEY_FILE`: serve HTTPS.
    pub files: Option<(String, String)>,
    /// `TLS_CLIENT_CA_FILE`: request client certificates from this CA.
    pub client_ca_file: Option<String>,
    /// `CLIENT_CERT_HEADER`: the certificate comes from this header.
    pub client_cert_header: Option<HeaderName>,
}

impl TlsSettings {
    /// Reads the variables through `var` (empty counts as unset).
    pub fn from_vars(var: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let var = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let files = match (var("TLS_CERT_FILE"), var("TLS_KEY_FILE")) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("TLS_CERT_FILE and TLS_KEY_FILE go together".to_owned()),
        };
        let client_ca_file = var("TLS_CLIENT_CA_FILE");
        if client_ca_file.is_some() && files.is_none() {
            return Err("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE".to_owned());
        }
        let client_cert_header = var("CLIENT_CERT_HEADER")
            .map(|name| {
                HeaderName::try_from(name.as_str())
                    .map_err(|_| format!("CLIENT_CERT_HEADER: `{name}` is not a header name"))
            })
            .transpose()?;
        Ok(Self {
            files,
            client_ca_file,
            client_cert_header,
        })
    }

    /// Where the layer reads client certificates from.
    pub fn certificate_source(&self) -> CertificateSource {
        match &self.client_cert_header {
            Some(name) => CertificateSource::proxy_header(name.clone()),
            None => CertificateSource::connection(),
        }
    }

    /// The rustls configuration, when HTTPS is on.
    pub fn server_config(&self) -> Result<Option<Arc<ServerConfig>>, String> {
        let Some((cert_file, key_file)) = &self.files else {
            return Ok(None);
        };
        let certs = CertificateDer::pem_file_iter(cert_file)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| format!("TLS_CERT_FILE ({cert_file}): {e}"))?;
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| format!("TLS_KEY_FILE ({key_file}): {e}"))?;
        let provider = Arc::new(crypto::aws_lc_rs::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = match &self.client_ca_file {
            None => builder.with_no_client_auth(),
            Some(ca_file) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(ca_file)
                    .map_err(|e| format!("TLS_CLIENT_CA_FILE ({ca_file}): {e}"))?
                {
                    let cert = cert.map_err(|e| format!("TLS_CLIENT_CA_FILE ({ca_file}): {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("TLS_CLIENT_CA_FILE ({ca_file}): {e}"))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .allow_unauthenticated()
                        .build()
                        .map_err(|e| format!("TLS_CLIENT_CA_FILE ({ca_file}): {e}"))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("TLS_CERT_FILE / TLS_KEY_FILE: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Arc::new(config)))
    }
}

/// `layer` with the process environment's sender constraints: the DPoP
/// policy (`BIND`, else `default_bind`, makes the default `PUBLIC_URL`) and,
/// client certificates from `CLIENT_CERT_HEADER` when set, else
/// from the connection. Include beside `dpop_settings.rs`.
pub fn constrain<T, R>(
    layer: tower_jwt_auth::JwtAuthLayer<T, R>,
    default_bind: &str,
) -> tower_jwt_auth::JwtAuthLayer<T, R> {
    let bind = std::env::var("BIND")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| default_bind.to_owned());
    let bind = bind.trim().parse().expect("BIND is checked at start-up");
    let layer = layer.dpop(super::dpop_settings::DpopSettings::policy_from_env(bind));
    match TlsSettings::from_vars(&|name| std::env::var(name).ok()) {
        Ok(tls) => layer.client_certificates(tls.certificate_source()),
        Err(_) => layer,
    }
}

/// Serves `app` over HTTPS on `listener` until `shutdown` resolves: each
/// connection's client certificate, when it presented one, becomes the
/// `ClientCertificate` extension of each of its requests.
pub async fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(error) => {
                    tracing::debug!(%error, "TLS handshake failed");
                    return;
                }
            };
            let certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|der| ClientCertificate::from_der(der.to_vec()));
            let service = hyper::service::service_fn(move |mut request: http::Request<_>| {
                if let Some(certificate) = &certificate {
                    request.extensions_mut().insert(certificate.clone());
                }
                app.clone().oneshot(request.map(axum::body::Body::new))
            });
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
}
