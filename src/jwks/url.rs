//! Which URLs a remote key set fetches: https, or http on a loopback host
//! (any host only when the user allows plain http).

/// `url` is fetched only over https, or http on a loopback host.
pub(crate) fn check_url(url: &str, allow_http: bool) -> Result<(), String> {
    let parsed: http::Uri = url.parse().map_err(|_| url.to_owned())?;
    let host = parsed.host().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if !host.is_empty() && (loopback || allow_http) => Ok(()),
        _ => Err(url.to_owned()),
    }
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
}
