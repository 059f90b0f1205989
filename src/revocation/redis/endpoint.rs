//! Where Redis is and how to log in: the configured URLs (whose `Debug`
//! never shows a password), the TLS roots, and the clients built from them,
//! including clients for cluster nodes discovered later, which keep the
//! configured credentials, TLS settings and database.

use std::fmt;

use deadpool_redis::redis::{self, ConnectionAddr, IntoConnectionInfo};

use super::StoreError;

/// A configured Redis URL. Its `Debug` redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct RedisUrl(String);

impl RedisUrl {
    pub(super) fn new(url: String) -> Self {
        Self(url)
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact(&self.0), f)
    }
}

/// `url` with the password of its user info and the `pass` / `password`
/// query parameters (the `redis+unix://` form) replaced by `***`. A user
/// info without `:` is redacted whole: whether it is a user or a password
/// depends on who reads it.
pub(super) fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((info, host)) => match info.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("***@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if is_secret_parameter(name) => format!("{name}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

fn is_secret_parameter(name: &str) -> bool {
    ["pass", "password"]
        .iter()
        .any(|secret| name.eq_ignore_ascii_case(secret))
}

/// PEM root certificates that verify the Redis servers' TLS certificates,
/// instead of the system's trust store. Public data; `Debug` shows its size.
#[derive(Clone, Default)]
pub(super) struct TlsRoots(pub(super) Option<Vec<u8>>);

impl fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(pem) => write!(f, "custom({} bytes of PEM)", pem.len()),
            None => f.write_str("system"),
        }
    }
}

/// The connection settings of one configured URL, ready to build clients.
#[derive(Clone)]
pub(super) struct Endpoint {
    info: redis::ConnectionInfo,
    roots: TlsRoots,
}

impl Endpoint {
    pub(super) fn parse(url: &RedisUrl, roots: &TlsRoots) -> Result<Self, StoreError> {
        // The parse error of the redis crate does not repeat the URL.
        let info = url
            .as_str()
            .into_connection_info()
            .map_err(|e| StoreError::new(format!("invalid redis url: {e}")))?;
        if is_tls(&info) {
            tls::check_available()?;
        }
        Ok(Self {
            info,
            roots: roots.clone(),
        })
    }

    #[cfg(feature = "redis-cluster")]
    pub(super) fn info(&self) -> &redis::ConnectionInfo {
        &self.info
    }

    /// A client for the configured node.
    pub(super) fn client(&self) -> Result<redis::Client, StoreError> {
        self.client_for(self.info.clone())
    }

    /// A client for another node of the same deployment (a cluster master
    /// named by `CLUSTER NODES`): the configured user, password, database
    /// and TLS settings, at `host:port`.
    #[cfg(feature = "redis-cluster")]
    pub(super) fn client_at(&self, host: &str, port: u16) -> Result<redis::Client, StoreError> {
        let addr = match self.info.addr() {
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host: host.to_owned(),
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(host.to_owned(), port),
        };
        self.client_for(self.info.clone().set_addr(addr))
    }

    fn client_for(&self, info: redis::ConnectionInfo) -> Result<redis::Client, StoreError> {
        let client = if is_tls(&info) {
            tls::client(info, &self.roots)
        } else {
            redis::Client::open(info)
        };
        client.map_err(|e| StoreError::new(format!("cannot configure the redis client: {e}")))
    }

    /// The root certificates given, for the cluster client.
    #[cfg(all(feature = "redis-cluster", feature = "redis-tls"))]
    pub(super) fn roots(&self) -> &TlsRoots {
        &self.roots
    }
}

fn is_tls(info: &redis::ConnectionInfo) -> bool {
    matches!(info.addr(), ConnectionAddr::TcpTls { .. })
}

#[cfg(feature = "redis-tls")]
pub(super) mod tls {
    use deadpool_redis::redis::{self, RedisResult, TlsCertificates};

    use super::TlsRoots;
    use crate::StoreError;

    pub(super) fn check_available() -> Result<(), StoreError> {
        install_provider();
        Ok(())
    }

    /// rustls needs a process-wide crypto provider; use aws-lc-rs unless the
    /// application installed one.
    pub(in crate::revocation::redis) fn install_provider() {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Fails only if another thread installed one meanwhile: fine.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
    }

    pub(in crate::revocation::redis) fn certificates(roots: &TlsRoots) -> TlsCertificates {
        TlsCertificates {
            client_tls: None,
            root_cert: roots.0.clone(),
        }
    }

    pub(super) fn client(
        info: redis::ConnectionInfo,
        roots: &TlsRoots,
    ) -> RedisResult<redis::Client> {
        match &roots.0 {
            Some(_) => redis::Client::build_with_tls(info, certificates(roots)),
            None => redis::Client::open(info),
        }
    }
}

#[cfg(not(feature = "redis-tls"))]
mod tls {
    use deadpool_redis::redis::{self, RedisResult};

    use super::TlsRoots;
    use crate::StoreError;

    pub(super) fn check_available() -> Result<(), StoreError> {
        Err(StoreError::new(
            "a rediss:// url needs the redis-tls feature of tower-jwt-auth",
        ))
    }

    pub(super) fn client(info: redis::ConnectionInfo, _: &TlsRoots) -> RedisResult<redis::Client> {
        redis::Client::open(info)
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redaction_hides_every_password_form_and_keeps_the_rest() {
        for (url, shown) in [
            ("redis://:hunter2@h", "redis://:***@h"),
            (
                "rediss://alice:hunter2@h:6380/3",
                "rediss://alice:***@h:6380/3",
            ),
            ("redis://hunter2@h/0", "redis://***@h/0"),
            ("redis://a:b:hunter2@h", "redis://a:***@h"),
            (
                "redis://u:p%40ss@h?protocol=resp3",
                "redis://u:***@h?protocol=resp3",
            ),
            (
                "redis+unix:///tmp/r.sock?db=1&pass=hunter2&user=u",
                "redis+unix:///tmp/r.sock?db=1&pass=***&user=u",
            ),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            assert!(!redact(url).contains("hunter2"));
        }
    }
}
