//! One bounded HTTP GET: a status check, a body cap, a deadline, and the
//! answer taken only from the URL asked (no redirects, whatever the client).

use std::time::Duration;

use http::header;

/// Why a fetch yielded no document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FetchError {
    /// No answer within the deadline.
    Timeout,
    /// The connection or the request failed.
    Transport(String),
    /// An answer other than 200 (`404` is told apart for discovery).
    Status(u16),
    /// The body is larger than the cap.
    TooLarge,
    /// The client followed a redirect: the answer came from a URL no policy
    /// checked, so it is not taken.
    Redirected,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("no complete answer within the deadline"),
            Self::Transport(e) => write!(f, "request failed: {e}"),
            Self::Status(code) => write!(f, "answered HTTP {code}"),
            Self::TooLarge => f.write_str("the body is larger than the cap"),
            Self::Redirected => f.write_str(
                "the client followed a redirect, and key fetches take none \
                 (give a client built with `redirect::Policy::none()`)",
            ),
        }
    }
}

/// A fetched document and how long the server says it may be cached.
pub(crate) struct Fetched {
    pub(crate) body: Vec<u8>,
    pub(crate) max_age: Option<Duration>,
}

/// GETs `url`, reading at most `max_body` bytes, all within `deadline`.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &str,
    deadline: Duration,
    max_body: usize,
) -> Result<Fetched, FetchError> {
    match tokio::time::timeout(deadline, get_unbounded_in_time(client, url, max_body)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout),
    }
}

async fn get_unbounded_in_time(
    client: &reqwest::Client,
    url: &str,
    max_body: usize,
) -> Result<Fetched, FetchError> {
    let transport = |e: reqwest::Error| FetchError::Transport(e.without_url().to_string());
    let asked = reqwest::Url::parse(url).map_err(|e| FetchError::Transport(e.to_string()))?;
    let mut response = client
        .get(asked.clone())
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(transport)?;
    // The URL policy checked `url` only: a client that follows redirects
    // (one given through `client()`) has fetched from elsewhere.
    if *response.url() != asked {
        return Err(FetchError::Redirected);
    }
    if response.status() != reqwest::StatusCode::OK {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|len| len > max_body as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let max_age = response
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|value| value.to_str().ok())
        .and_then(cache_control_max_age);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > max_body {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { body, max_age })
}

/// The `max-age` of a `Cache-Control` value; `no-cache` / `no-store` count
/// as zero (the caller clamps it to the shortest refresh interval).
pub(crate) fn cache_control_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        let (name, argument) = directive
            .split_once('=')
            .map_or((directive, None), |(n, a)| (n.trim(), Some(a.trim())));
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = argument
                .map(|a| a.trim_matches('"'))
                .and_then(|a| a.parse::<u64>().ok())
                .map(Duration::from_secs);
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            cache_control_max_age("public, max-age=60"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            cache_control_max_age("MAX-AGE=\"7\""),
            Some(Duration::from_secs(7))
        );
        assert_eq!(cache_control_max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(cache_control_max_age("public"), None);
        assert_eq!(cache_control_max_age("max-age=soon"), None);
    }
}
