//! Which URLs the crate fetches from or posts to (remote key sets, an
//! introspection endpoint): https, or http on a loopback host (any host only
//! when the user allows plain http); a URL found in an issuer's metadata no
//! weaker than the issuer itself.

/// A URL's scheme is https (else http), and its host is a loopback one.
struct Target {
    https: bool,
    loopback: bool,
}

/// `url`'s scheme and host, when it is an http(s) URL with a host. Read by
/// the parser the client connects with (WHATWG URL, as `reqwest` uses), so
/// every spelling of a loopback address it would connect to (`127.1`,
/// `0x7f000001`, `2130706433`, `[::ffff:127.0.0.1]`, `localhost.`,
/// `api.localhost`, and `0.0.0.0`, which reaches this host) is one here too.
fn target(url: &str) -> Option<Target> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let https = match parsed.scheme() {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    // The parser writes an IP host in its one canonical form.
    let host = parsed.host_str().filter(|host| !host.is_empty())?;
    let loopback = match host.trim_start_matches('[').trim_end_matches(']').parse() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_unspecified())
        }
        Err(_) => {
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    Some(Target { https, loopback })
}

/// `url` is fetched only over https, or http on a loopback host.
pub(crate) fn check_url(url: &str, allow_http: bool) -> Result<(), String> {
    match target(url) {
        Some(t) if t.https || t.loopback || allow_http => Ok(()),
        _ => Err(url.to_owned()),
    }
}

/// A `jwks_uri` an issuer's metadata names is fetched only when it is as safe
/// as the issuer the user configured: the URL policy holds, an https issuer's
/// keys come over https (never downgraded, even where plain http is allowed),
/// and a loopback host is taken only from an issuer on loopback itself (the
/// user chose a local issuer; a remote one must not point us at this host).
pub(crate) fn check_discovered(
    issuer: &str,
    jwks_uri: &str,
    allow_http: bool,
) -> Result<(), String> {
    check_url(jwks_uri, allow_http)?;
    let refused = || Err(jwks_uri.to_owned());
    let (Some(issuer), Some(keys)) = (target(issuer), target(jwks_uri)) else {
        return refused();
    };
    if (issuer.https && !keys.https) || (keys.loopback && !issuer.loopback) {
        return refused();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_fetched() {
        assert!(check_url("https://id.example.com/jwks", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks", false).is_ok());
        assert!(check_url("http://[::1]:8080/jwks", false).is_ok());
        assert!(check_url("http://localhost/jwks", false).is_ok());
        assert!(check_url("http://id.example.com/jwks", false).is_err());
        assert!(check_url("http://id.example.com/jwks", true).is_ok());
        assert!(check_url("file:///etc/passwd", true).is_err());
        assert!(check_url("not a url", false).is_err());
    }

    #[test]
    fn every_spelling_of_a_loopback_host_the_client_connects_to_is_loopback() {
        for jwks_uri in [
            "https://127.1/jwks",
            "https://0x7f000001/jwks",
            "https://2130706433/jwks",
            "https://0177.0.0.1/jwks",
            "https://[::ffff:127.0.0.1]/jwks",
            "https://localhost./jwks",
            "https://LOCALHOST/jwks",
            "https://api.localhost/jwks",
            "https://0.0.0.0/jwks",
            "https://[::]/jwks",
        ] {
            assert!(
                check_discovered("https://id.example.com", jwks_uri, false).is_err(),
                "{jwks_uri} is this host"
            );
            assert!(check_url(&jwks_uri.replace("https", "http"), false).is_ok());
        }
    }

    #[test]
    fn a_discovered_jwks_uri_is_never_weaker_than_its_issuer() {
        // https issuer → https keys, even where plain http is allowed.
        assert!(
            check_discovered("https://id.example.com", "http://id.example.com/jwks", true).is_err()
        );
        assert!(
            check_discovered("https://localhost:8443", "http://127.0.0.1/jwks", false).is_err()
        );
        // A loopback host only when the issuer is on loopback itself.
        assert!(
            check_discovered("https://id.example.com", "https://127.0.0.1/jwks", false).is_err()
        );
        assert!(check_discovered("https://id.example.com", "https://[::1]/jwks", false).is_err());
        assert!(
            check_discovered("https://id.example.com", "https://localhost/jwks", false).is_err()
        );
        assert!(check_discovered("http://id.example.com", "http://localhost/jwks", true).is_err());
        // What is as safe as the issuer is taken.
        assert!(
            check_discovered(
                "https://id.example.com",
                "https://keys.example.com/jwks",
                false
            )
            .is_ok()
        );
        assert!(
            check_discovered("https://localhost:8443", "https://127.0.0.1/jwks", false).is_ok()
        );
        assert!(
            check_discovered("http://127.0.0.1:8080", "http://127.0.0.1:8080/jwks", false).is_ok()
        );
        assert!(
            check_discovered("http://id.example.com", "http://id.example.com/jwks", true).is_ok()
        );
        assert!(
            check_discovered("http://id.example.com", "https://id.example.com/jwks", true).is_ok()
        );
        // And the URL policy still holds.
        assert!(
            check_discovered(
                "http://id.example.com",
                "http://keys.example.com/jwks",
                false
            )
            .is_err()
        );
    }
}
