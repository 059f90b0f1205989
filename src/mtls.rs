//! Where a request's client certificate comes from, for certificate-bound
//! tokens (RFC 8705 §3).
//!
//! Either the server's TLS acceptor puts a [`ClientCertificate`] into the
//! request's extensions ([`CertificateSource::connection`], the default),
//! or a TLS-terminating proxy passes it in a header as URL-encoded PEM, as
//! nginx's `$ssl_client_escaped_cert` does
//! ([`CertificateSource::proxy_header`]: only when configured, and only
//! behind a proxy that overwrites that header on every request).
//!
//! With axum and `tokio-rustls`, after the handshake:
//!
//! ```ignore
//! let tls = acceptor.accept(tcp).await?;
//! let certificate = tls.get_ref().1.peer_certificates()
//!     .and_then(|chain| chain.first())
//!     .map(|leaf| ClientCertificate::from_der(leaf.as_ref().to_vec()));
//! let service = tower::service_fn(move |mut request: http::Request<_>| {
//!     if let Some(certificate) = certificate.clone() {
//!         request.extensions_mut().insert(certificate);
//!     }
//!     app.clone().call(request)
//! });
//! ```

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use http::{Extensions, HeaderMap, HeaderName};

use crate::binding::certificate_thumbprint;

/// A client certificate (DER), as a request extension.
///
/// `Debug` shows its thumbprint, not its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate(Bytes);

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientCertificate")
            .field(&self.thumbprint())
            .finish()
    }
}

/// Why a certificate header could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    /// More than one certificate header.
    Multiple,
    /// Not URL-encoded PEM of a certificate.
    Malformed,
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Multiple => "more than one client certificate header",
            Self::Malformed => "the client certificate header is not URL-encoded PEM",
        })
    }
}

impl std::error::Error for CertificateError {}

impl ClientCertificate {
    /// A certificate from its DER encoding.
    pub fn from_der(der: impl Into<Bytes>) -> Self {
        Self(der.into())
    }

    /// The first `CERTIFICATE` block of a PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Self, CertificateError> {
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
        const END: &str = "-----END CERTIFICATE-----";
        let text = std::str::from_utf8(pem).map_err(|_| CertificateError::Malformed)?;
        let start = text.find(BEGIN).ok_or(CertificateError::Malformed)? + BEGIN.len();
        let length = text[start..].find(END).ok_or(CertificateError::Malformed)?;
        let body: String = text[start..start + length]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| CertificateError::Malformed)?;
        // A certificate is a DER SEQUENCE.
        if der.first() != Some(&0x30) {
            return Err(CertificateError::Malformed);
        }
        Ok(Self(der.into()))
    }

    /// URL-encoded PEM (nginx's `$ssl_client_escaped_cert`); `+` is a
    /// literal `+` (base64), not a space.
    pub fn from_escaped_pem(value: &str) -> Result<Self, CertificateError> {
        let bytes = value.as_bytes();
        let mut pem = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or(CertificateError::Malformed)?;
                pem.push(hex);
                i += 3;
            } else {
                pem.push(bytes[i]);
                i += 1;
            }
        }
        Self::from_pem(&pem)
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.0
    }

    /// The RFC 8705 thumbprint, base64url(SHA-256(DER)): what a token bound
    /// to this certificate carries in `cnf["x5t#S256"]`.
    pub fn thumbprint(&self) -> String {
        certificate_thumbprint(&self.0)
    }
}

/// Where the layer reads the client certificate from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificateSource(Source);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Source {
    #[default]
    Connection,
    Header(HeaderName),
}

impl CertificateSource {
    /// The [`ClientCertificate`] request extension the TLS acceptor inserted
    /// (the default).
    pub fn connection() -> Self {
        Self(Source::Connection)
    }

    /// Opt-in: the URL-encoded PEM a TLS-terminating proxy puts in header
    /// `name` (nginx: `proxy_set_header <name> $ssl_client_escaped_cert;`).
    /// An empty header is no certificate. The extension is then ignored.
    pub fn proxy_header(name: HeaderName) -> Self {
        Self(Source::Header(name))
    }

    /// The request's client certificate, if it has one.
    pub fn certificate(
        &self,
        extensions: &Extensions,
        headers: &HeaderMap,
    ) -> Result<Option<ClientCertificate>, CertificateError> {
        match &self.0 {
            Source::Connection => Ok(extensions.get::<ClientCertificate>().cloned()),
            Source::Header(name) => {
                let mut values = headers.get_all(name).iter();
                let (Some(value), None) = (values.next(), values.next()) else {
                    return match headers.contains_key(name) {
                        true => Err(CertificateError::Multiple),
                        false => Ok(None),
                    };
                };
                let value = value.to_str().map_err(|_| CertificateError::Malformed)?;
                match value.trim() {
                    "" => Ok(None),
                    value => ClientCertificate::from_escaped_pem(value).map(Some),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A DER SEQUENCE standing in for a certificate (the layer hashes it,
    // never parses it).
    const DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x05];

    fn pem(der: &[u8]) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
    }

    fn escaped(pem: &str) -> String {
        pem.replace('\n', "%0A")
            .replace(' ', "%20")
            .replace('+', "%2B")
            .replace('/', "%2F")
    }

    #[test]
    fn the_connection_source_reads_the_extension_and_ignores_headers() {
        let mut extensions = Extensions::new();
        let mut headers = HeaderMap::new();
        headers.insert("x-client-cert", escaped(&pem(b"0other")).parse().unwrap());
        let source = CertificateSource::connection();
        assert_eq!(source.certificate(&extensions, &headers), Ok(None));
        extensions.insert(ClientCertificate::from_der(DER.to_vec()));
        let found = source.certificate(&extensions, &headers).unwrap().unwrap();
        assert_eq!(found.der(), DER);
        assert_eq!(found.thumbprint(), certificate_thumbprint(DER));
    }

    #[test]
    fn the_header_source_reads_url_encoded_pem_only_from_its_header() {
        let name = HeaderName::from_static("x-client-cert");
        let source = CertificateSource::proxy_header(name.clone());
        let mut extensions = Extensions::new();
        extensions.insert(ClientCertificate::from_der(b"0ext".to_vec()));
        let mut headers = HeaderMap::new();
        assert_eq!(
            source.certificate(&extensions, &headers),
            Ok(None),
            "extension ignored"
        );
        headers.insert(&name, escaped(&pem(DER)).parse().unwrap());
        let found = source.certificate(&extensions, &headers).unwrap().unwrap();
        assert_eq!(found.der(), DER);
        headers.insert(&name, "".parse().unwrap());
        assert_eq!(source.certificate(&extensions, &headers), Ok(None));
        headers.insert(&name, "%ZZ".parse().unwrap());
        assert_eq!(
            source.certificate(&extensions, &headers),
            Err(CertificateError::Malformed)
        );
        headers.insert(&name, escaped(&pem(DER)).parse().unwrap());
        headers.append(&name, escaped(&pem(DER)).parse().unwrap());
        assert_eq!(
            source.certificate(&extensions, &headers),
            Err(CertificateError::Multiple)
        );
    }

    #[test]
    fn pem_that_is_not_a_certificate_is_refused() {
        assert!(ClientCertificate::from_pem(pem(DER).as_bytes()).is_ok());
        assert!(ClientCertificate::from_pem(b"no pem here").is_err());
        assert!(ClientCertificate::from_pem(pem(b"\x02not a sequence").as_bytes()).is_err());
        let key = "-----BEGIN PRIVATE KEY-----\nMAMCAQU=\n-----END PRIVATE KEY-----\n";
        assert!(ClientCertificate::from_pem(key.as_bytes()).is_err());
        let debug = format!("{:?}", ClientCertificate::from_der(DER.to_vec()));
        assert!(debug.contains(&certificate_thumbprint(DER)), "{debug}");
    }
}
