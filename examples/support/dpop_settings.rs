//! The examples' DPoP settings (`demo`, `resource_server`, `forward_auth`),
//! read from the same variables everywhere, and the policy they make.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DPOP` | `off` (bearer only), `allowed` (bearer, and DPoP-bound tokens with a proof), `required` | `allowed` |
//! | `PUBLIC_URL` | the external origin clients build their proofs' `htu` for (a proxy's path prefix included) | `http://{BIND}` |
//! | `DPOP_NONCE` | `1`: server nonces (RFC 9449 §8–9) | off |
//! | `DPOP_NONCE_SECRET` | keys the nonces, ≥ 32 bytes; give every instance the same one | random |
//! | `DPOP_MAX_AGE_SECS` | how old a proof may be | 60 |
//! | `REDIS_URL` | proof `jti`s recorded in this Redis, shared by every instance | in memory |

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tower_jwt_auth::dpop::{
    DpopConfig, DpopMode, DpopPolicy, HtuOrigin, MemoryReplayStore, NonceIssuer,
};

/// What the DPoP variables say.
#[derive(Clone, Debug)]
pub struct DpopSettings {
    /// `DPOP`.
    pub mode: DpopMode,
    /// `PUBLIC_URL`, without a trailing `/`.
    pub public_url: String,
    /// `DPOP_NONCE=1`.
    pub nonce: bool,
    /// `DPOP_NONCE_SECRET`, if set.
    nonce_secret: Option<String>,
    /// `DPOP_MAX_AGE_SECS`.
    pub max_age: Duration,
    /// `REDIS_URL`: where the replay store lives.
    pub redis_url: Option<String>,
}

impl DpopSettings {
    /// Reads the variables through `var` (unset and empty alike are
    /// `None`); `bind` makes the default `PUBLIC_URL`.
    pub fn from_vars(
        var: &impl Fn(&str) -> Option<String>,
        bind: SocketAddr,
    ) -> Result<Self, String> {
        let var = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mode = match var("DPOP").as_deref() {
            None | Some("allowed") => DpopMode::Allowed,
            Some("off") => DpopMode::Off,
            Some("required") => DpopMode::Required,
            Some(other) => {
                return Err(format!(
                    "DPOP must be off, allowed or required, got `{other}`"
                ));
            }
        };
        let public_url = var("PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        HtuOrigin::external(&public_url).map_err(|e| format!("PUBLIC_URL: {e}"))?;
        let nonce = match var("DPOP_NONCE").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => return Err(format!("DPOP_NONCE must be 1 or 0, got `{other}`")),
        };
        let nonce_secret = var("DPOP_NONCE_SECRET");
        if nonce_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err("DPOP_NONCE_SECRET must be at least 32 bytes".to_owned());
        }
        let max_age = match var("DPOP_MAX_AGE_SECS") {
            None => Duration::from_secs(60),
            Some(v) => v.parse().map(Duration::from_secs).map_err(|_| {
                format!("DPOP_MAX_AGE_SECS must be a whole number of seconds, got `{v}`")
            })?,
        };
        Ok(Self {
            mode,
            public_url,
            nonce,
            nonce_secret,
            max_age,
            redis_url: var("REDIS_URL"),
        })
    }

    /// [`from_vars`](Self::from_vars) over the process environment.
    pub fn from_env(bind: SocketAddr) -> Result<Self, String> {
        Self::from_vars(&|name| std::env::var(name).ok(), bind)
    }

    /// The policy: one replay store (Redis with `REDIS_URL`), to be given
    /// to the layer and the session manager alike.
    pub fn policy(&self) -> Result<DpopPolicy, String> {
        let origin =
            HtuOrigin::external(&self.public_url).map_err(|e| format!("PUBLIC_URL: {e}"))?;
        let mut policy = self.metadata_policy().origin(origin);
        if self.nonce {
            let secret = match &self.nonce_secret {
                Some(secret) => secret.clone().into_bytes(),
                None => {
                    tracing::warn!("DPOP_NONCE_SECRET is not set: nonces are this instance's only");
                    let mut secret = vec![0u8; 32];
                    getrandom::fill(&mut secret).map_err(|e| format!("random secret: {e}"))?;
                    secret
                }
            };
            let nonces =
                NonceIssuer::new(&secret).map_err(|e| format!("DPOP_NONCE_SECRET: {e}"))?;
            policy = policy.nonces(nonces);
        }
        Ok(match &self.redis_url {
            #[cfg(feature = "redis")]
            Some(url) => policy.replay_store(
                tower_jwt_auth::dpop::RedisReplayStore::connect(url)
                    .map_err(|e| format!("REDIS_URL (DPoP replay store): {e}"))?,
            ),
            _ => policy.replay_store(MemoryReplayStore::new()),
        })
    }

    /// The mode and the proof rules alone (no replay store, no nonces):
    /// what published metadata names.
    pub fn metadata_policy(&self) -> DpopPolicy {
        let policy = match self.mode {
            DpopMode::Off => DpopPolicy::off(),
            DpopMode::Required => DpopPolicy::required(),
            _ => DpopPolicy::allowed(),
        };
        policy.config(DpopConfig::new().max_age(self.max_age))
    }

    /// The policy of the process environment; a start-up check made the
    /// same call, so it cannot fail here.
    pub fn policy_from_env(bind: SocketAddr) -> DpopPolicy {
        Self::from_env(bind)
            .and_then(|settings| settings.policy())
            .expect("the DPoP settings are checked at start-up")
    }
}

/// What a token request's proof is checked against: its method, URI and
/// headers (an axum extractor that never fails).
pub struct RequestHead {
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestHead {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
        })
    }
}

/// An OAuth client's form-encoded login (`grant_type=password&username=…&
/// password=…`, RFC 6749 §4.3, as openid-client's `genericGrantRequest`
/// sends it to a token endpoint) as the JSON object the login handler
/// reads; any other body as it is. Another grant type, or a parameter named
/// twice, becomes `{}` (422).
pub fn form_as_json(head: &RequestHead, body: axum::body::Bytes) -> axum::body::Bytes {
    let form = head
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with("application/x-www-form-urlencoded"));
    if !form {
        return body;
    }
    let mut object = serde_json::Map::new();
    let mut twice = false;
    for (name, value) in url::form_urlencoded::parse(&body) {
        twice |= object
            .insert(name.into_owned(), value.into_owned().into())
            .is_some();
    }
    if twice
        || object
            .remove("grant_type")
            .as_ref()
            .and_then(|v| v.as_str())
            != Some("password")
    {
        object.clear();
    }
    serde_json::to_vec(&object).unwrap_or_default().into()
}

/// A login once the password is checked: the request's DPoP proof (none:
/// a bearer session), the session, bound to the proof's key, and the
/// token response (`no-store`; `DPoP-Nonce` when the nonce is ageing).
pub async fn login<T>(
    sessions: &tower_jwt_auth::SessionManager<T>,
    head: &RequestHead,
    subject: &str,
    custom: &T,
) -> Result<axum::response::Response, tower_jwt_auth::SessionError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
{
    use axum::response::IntoResponse;
    let key = sessions
        .token_request_proof(&head.method, &head.uri, &head.headers)
        .await?;
    let pair = sessions.login_bound(subject, custom, key.as_ref()).await?;
    let mut response = (
        [(http::header::CACHE_CONTROL, "no-store")],
        axum::Json(pair),
    )
        .into_response();
    if let Some(nonce) = key.as_ref().and_then(|key| key.fresh_nonce()) {
        tower_jwt_auth::refresh::with_dpop_nonce(&mut response, nonce);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<DpopSettings, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let var = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        DpopSettings::from_vars(&var, "127.0.0.1:3000".parse().unwrap())
    }

    #[test]
    fn defaults_and_values() {
        let defaults = read(&[]).unwrap();
        assert_eq!(defaults.mode, DpopMode::Allowed);
        assert_eq!(defaults.public_url, "http://127.0.0.1:3000");
        assert!(!defaults.nonce);
        assert_eq!(defaults.max_age, Duration::from_secs(60));
        let set = read(&[
            ("DPOP", "required"),
            ("PUBLIC_URL", "https://api.example/"),
            ("DPOP_NONCE", "1"),
            ("DPOP_MAX_AGE_SECS", "30"),
        ])
        .unwrap();
        assert_eq!(set.mode, DpopMode::Required);
        assert_eq!(set.public_url, "https://api.example");
        assert!(set.nonce);
        assert_eq!(set.max_age, Duration::from_secs(30));
        assert_eq!(read(&[("DPOP", "off")]).unwrap().mode, DpopMode::Off);
        for bad in [
            ("DPOP", "sometimes"),
            ("DPOP_NONCE", "yes"),
            ("DPOP_MAX_AGE_SECS", "1m"),
            ("PUBLIC_URL", "https://api.example/?x"),
            ("DPOP_NONCE_SECRET", "short"),
        ] {
            assert!(read(&[bad]).is_err(), "{bad:?}");
        }
    }
}
