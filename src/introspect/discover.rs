//! The introspection endpoint found by discovery: OpenID Connect Discovery
//! or RFC 8414 metadata, whose `issuer` must be the issuer asked about.

use std::time::Duration;

use http::header;
use serde::Deserialize;

use super::client::{ClientAuth, DEFAULT_MAX_BODY, IntrospectionClient};
use super::{IntrospectError, Unavailable};
use crate::config::JwtConfig;

/// The metadata members read here.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    introspection_endpoint: Option<String>,
}

impl IntrospectionClient {
    /// A client of the introspection endpoint `issuer` publishes in its
    /// metadata: `{issuer}/.well-known/openid-configuration`, or, when that
    /// is 404, RFC 8414's `/.well-known/oauth-authorization-server` inserted
    /// after the host. The document's `issuer` must equal `issuer` exactly
    /// (RFC 8414 §3.3), and `config` gets it as its issuer when it has none.
    /// Metadata that cannot be had, or names no `introspection_endpoint`, is
    /// [`Unavailable`](super::IntrospectErrorKind::Unavailable).
    pub async fn discover(
        issuer: &str,
        client_id: impl Into<String>,
        auth: ClientAuth,
        mut config: JwtConfig,
    ) -> Result<Self, IntrospectError> {
        if crate::url_policy::check_url(issuer, false).is_err() {
            tracing::warn!(issuer, "issuer is neither https nor on loopback: not asked");
            return Err(IntrospectError::unavailable(Unavailable::UnsafeUrl));
        }
        let http = super::client::no_redirects();
        let trimmed = issuer.trim_end_matches('/');
        let oidc = format!("{trimmed}/.well-known/openid-configuration");
        let metadata = match fetch(&http, &oidc).await {
            Err(Unavailable::Status(404)) => fetch(&http, &rfc8414_url(trimmed)).await,
            other => other,
        }
        .map_err(IntrospectError::unavailable)?;
        if metadata.issuer != issuer {
            tracing::warn!(expected = issuer, found = %metadata.issuer, "metadata names another issuer");
            return Err(IntrospectError::unavailable(Unavailable::Junk));
        }
        let Some(endpoint) = metadata.introspection_endpoint else {
            tracing::warn!(issuer, "metadata names no introspection_endpoint");
            return Err(IntrospectError::unavailable(Unavailable::Junk));
        };
        // The endpoint gets our credentials and every token: no weaker than
        // the issuer (https stays https; loopback only for a loopback issuer).
        if crate::url_policy::check_discovered(issuer, &endpoint, false).is_err() {
            tracing::warn!(issuer, endpoint = %endpoint, "metadata names an introspection endpoint weaker than its issuer");
            return Err(IntrospectError::unavailable(Unavailable::UnsafeUrl));
        }
        if config.issuer.is_none() {
            config = config.issuer(issuer);
        }
        Ok(Self::new(endpoint, client_id, auth, config).http_client(http))
    }
}

/// RFC 8414 §3.1: the well-known suffix goes between the host and the path.
fn rfc8414_url(issuer: &str) -> String {
    let after_scheme = issuer.find("://").map_or(0, |i| i + 3);
    let path_at = issuer[after_scheme..]
        .find('/')
        .map_or(issuer.len(), |i| after_scheme + i);
    let (origin, path) = issuer.split_at(path_at);
    format!("{origin}/.well-known/oauth-authorization-server{path}")
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Metadata, Unavailable> {
    let request = async {
        let mut response = http
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|_| Unavailable::Transport)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(Unavailable::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| Unavailable::Transport)? {
            if body.len() + chunk.len() > DEFAULT_MAX_BODY {
                return Err(Unavailable::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice::<Metadata>(&body).map_err(|_| Unavailable::Junk)
    };
    tokio::time::timeout(Duration::from_secs(5), request)
        .await
        .unwrap_or(Err(Unavailable::Timeout))
}

#[cfg(test)]
mod tests {
    use super::rfc8414_url;

    #[test]
    fn the_rfc8414_suffix_goes_after_the_host() {
        assert_eq!(
            rfc8414_url("https://idp.example"),
            "https://idp.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            rfc8414_url("https://idp.example/realms/a"),
            "https://idp.example/.well-known/oauth-authorization-server/realms/a"
        );
    }
}
