//! OpenID Connect discovery, with RFC 8414 as the fallback.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::fetch::{self, FetchError};

/// What this crate reads of an issuer's metadata document.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer, exactly as its tokens carry it in `iss`.
    pub issuer: String,
    /// Where its JWK Set is published.
    pub jwks_uri: String,
}

/// Why discovery failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Neither document could be fetched (the issuer may be down: retry).
    Unreachable(String),
    /// A document was fetched but is not metadata (no `issuer`/`jwks_uri`).
    Malformed,
    /// The document names another issuer than the one configured: a mix-up
    /// (OpenID Connect Discovery §4.3), a configuration error, never retried
    /// into success.
    IssuerMismatch {
        /// The issuer configured here.
        configured: String,
        /// The issuer the document names.
        document: String,
    },
    /// The configured issuer or the document's `jwks_uri` is not a URL this
    /// crate fetches (https, or http on a loopback host; a `jwks_uri` over
    /// https when the issuer is, and on loopback only when the issuer is).
    UnsupportedUrl(String),
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(e) => write!(f, "issuer metadata unreachable: {e}"),
            Self::Malformed => f.write_str("issuer metadata lacks `issuer` or `jwks_uri`"),
            Self::IssuerMismatch {
                configured,
                document,
            } => write!(
                f,
                "issuer mix-up: configured `{configured}`, but its metadata names `{document}`"
            ),
            Self::UnsupportedUrl(url) => {
                write!(
                    f,
                    "`{url}` is not a URL this crate fetches (https, or http on loopback; \
                     a jwks_uri no weaker than its issuer)"
                )
            }
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// The two places metadata may live for `issuer`: OpenID Connect's
/// (`{issuer}/.well-known/openid-configuration`) and RFC 8414's (the
/// well-known segment between the host and the issuer's path).
pub(crate) fn metadata_urls(issuer: &str) -> [String; 2] {
    let trimmed = issuer.trim_end_matches('/');
    let oidc = format!("{trimmed}/.well-known/openid-configuration");
    let rfc8414 = match trimmed.find("://").map(|i| i + 3) {
        Some(authority_start) => match trimmed[authority_start..].find('/') {
            Some(path_start) => {
                let (origin, path) = trimmed.split_at(authority_start + path_start);
                format!("{origin}/.well-known/oauth-authorization-server{path}")
            }
            None => format!("{trimmed}/.well-known/oauth-authorization-server"),
        },
        None => format!("{trimmed}/.well-known/oauth-authorization-server"),
    };
    [oidc, rfc8414]
}

/// Fetches `issuer`'s metadata (OIDC first, then RFC 8414) and checks that
/// it names exactly `issuer`.
pub(crate) async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    deadline: Duration,
    max_body: usize,
    allow_http: bool,
) -> Result<ProviderMetadata, DiscoveryError> {
    crate::url_policy::check_url(issuer, allow_http).map_err(DiscoveryError::UnsupportedUrl)?;
    let mut last_error = None;
    for url in metadata_urls(issuer) {
        match fetch::get(client, &url, deadline, max_body).await {
            Ok(fetched) => return parse_metadata(&fetched.body, issuer, allow_http),
            Err(error) => {
                let not_there = matches!(error, FetchError::Status(404));
                tracing::debug!(%url, %error, "issuer metadata not fetched");
                last_error = Some(error);
                if !not_there {
                    // Down or failing, not absent: the other place will not
                    // answer better.
                    break;
                }
            }
        }
    }
    Err(DiscoveryError::Unreachable(
        last_error.map_or_else(String::new, |e| e.to_string()),
    ))
}

/// A fetched metadata document, read: it must name exactly `issuer`, and
/// its `jwks_uri` must be a URL this crate fetches for that issuer.
pub(crate) fn parse_metadata(
    body: &[u8],
    issuer: &str,
    allow_http: bool,
) -> Result<ProviderMetadata, DiscoveryError> {
    // The document is a JSON object (RFC 8414 §3.2); the derived reader
    // would also take an array, positionally.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(DiscoveryError::Malformed);
    }
    let metadata: ProviderMetadata =
        serde_json::from_slice(body).map_err(|_| DiscoveryError::Malformed)?;
    if metadata.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            configured: issuer.to_owned(),
            document: metadata.issuer,
        });
    }
    crate::url_policy::check_discovered(issuer, &metadata.jwks_uri, allow_http)
        .map_err(DiscoveryError::UnsupportedUrl)?;
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metadata_document_that_is_no_object_is_malformed() {
        let issuer = "https://id.example.com";
        let array = br#" ["https://id.example.com", "https://id.example.com/jwks"]"#;
        assert!(matches!(
            parse_metadata(array, issuer, false),
            Err(DiscoveryError::Malformed)
        ));
        let object =
            br#" {"issuer": "https://id.example.com", "jwks_uri": "https://id.example.com/jwks"}"#;
        assert!(parse_metadata(object, issuer, false).is_ok());
    }

    #[test]
    fn metadata_urls_follow_oidc_and_rfc8414() {
        assert_eq!(
            metadata_urls("https://id.example.com"),
            [
                "https://id.example.com/.well-known/openid-configuration".to_owned(),
                "https://id.example.com/.well-known/oauth-authorization-server".to_owned(),
            ]
        );
        assert_eq!(
            metadata_urls("https://id.example.com/realms/app/"),
            [
                "https://id.example.com/realms/app/.well-known/openid-configuration".to_owned(),
                "https://id.example.com/.well-known/oauth-authorization-server/realms/app"
                    .to_owned(),
            ]
        );
    }
}
