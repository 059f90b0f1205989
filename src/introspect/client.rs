//! The RFC 7662 client: one bounded POST to the issuer's introspection
//! endpoint, authenticated as a client, and the answer checked.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http::header;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::signed::{self, SignedAnswers};
use super::{IntrospectError, Unavailable, check_claims, claims_of, form, normalize_answer};
use crate::claims::Claims;
use crate::config::JwtConfig;
use crate::jws::B64;
use crate::keys::{KeySource, SigningKey, algorithm_name};

/// Default deadline of one introspection call, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Default cap on an answer's body: 64 KiB (an answer is a few hundred bytes).
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// How the client authenticates at the introspection endpoint (RFC 7662 §2.1
/// requires it). The secret and the key never appear in `Debug`.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded client id and secret (RFC 6749
    /// §2.3.1); the default of OAuth servers.
    ClientSecretBasic(Secret),
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost(Secret),
    /// A JWT signed with our key (RFC 7523 §2.2): `iss` = `sub` = the client
    /// id, `aud` the issuer (when configured) and the endpoint, 60 s of life.
    PrivateKeyJwt(SigningKey),
}

impl ClientAuth {
    /// `client_secret_basic` with `secret`.
    pub fn client_secret_basic(secret: impl Into<String>) -> Self {
        Self::ClientSecretBasic(Secret(secret.into()))
    }

    /// `client_secret_post` with `secret`.
    pub fn client_secret_post(secret: impl Into<String>) -> Self {
        Self::ClientSecretPost(Secret(secret.into()))
    }

    /// `private_key_jwt`, signed with `key` (its `kid`, if any, goes into
    /// the header).
    pub fn private_key_jwt(key: SigningKey) -> Self {
        Self::PrivateKeyJwt(key)
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientSecretBasic(_) => f.write_str("ClientSecretBasic(..)"),
            Self::ClientSecretPost(_) => f.write_str("ClientSecretPost(..)"),
            Self::PrivateKeyJwt(key) => f.debug_tuple("PrivateKeyJwt").field(key).finish(),
        }
    }
}

/// A client secret: shown as `..` by `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Asks one issuer's introspection endpoint (RFC 7662) about tokens, and
/// checks its answers against a [`JwtConfig`] (issuer, audience, leeway,
/// clock) as a JWT's claims would be. Cheap to clone.
///
/// Every failure to get an answer — transport, deadline
/// ([`timeout`](Self::timeout)), a status other than 200, a body over the
/// cap ([`max_body`](Self::max_body)), junk — is
/// [`Unavailable`](super::IntrospectErrorKind::Unavailable), never a refusal
/// of the token. The token goes in the POST body only, never into a log.
///
/// ```no_run
/// use tower_jwt_auth::JwtConfig;
/// use tower_jwt_auth::introspect::{ClientAuth, IntrospectionClient};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = IntrospectionClient::new(
///     "https://idp.example/oauth2/introspect",
///     "resource-server",
///     ClientAuth::client_secret_basic("s3cret"),
///     JwtConfig::new().issuer("https://idp.example").audience("api"),
/// );
/// let claims = client.introspect::<serde_json::Value>("an-opaque-token").await?;
/// println!("{} may {}", claims.sub, claims.custom["scope"]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct IntrospectionClient {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    client_id: String,
    auth: ClientAuth,
    config: JwtConfig,
    http: reqwest::Client,
    timeout: Duration,
    max_body: usize,
    /// RFC 9701: signed answers asked for, and checked with these keys.
    signed: Option<SignedAnswers>,
    /// An answer must name its token type (`token_type`).
    require_token_type: bool,
    /// Plain http to a host other than loopback is allowed.
    allow_http: bool,
}

impl fmt::Debug for IntrospectionClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("IntrospectionClient")
            .field("endpoint", &inner.endpoint)
            .field("client_id", &inner.client_id)
            .field("auth", &inner.auth)
            .field("timeout", &inner.timeout)
            .field("max_body", &inner.max_body)
            .field("jwt_answers", &inner.signed.is_some())
            .field("require_token_type", &inner.require_token_type)
            .field("allow_http", &inner.allow_http)
            .finish_non_exhaustive()
    }
}

impl IntrospectionClient {
    /// A client of `endpoint`, authenticating as `client_id` by `auth`, whose
    /// answers are checked against `config`.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        auth: ClientAuth,
        config: JwtConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                endpoint: endpoint.into(),
                client_id: client_id.into(),
                auth,
                config,
                http: no_redirects(),
                timeout: DEFAULT_TIMEOUT,
                max_body: DEFAULT_MAX_BODY,
                signed: None,
                require_token_type: false,
                allow_http: false,
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            endpoint: shared.endpoint.clone(),
            client_id: shared.client_id.clone(),
            auth: shared.auth.clone(),
            config: shared.config.clone(),
            http: shared.http.clone(),
            timeout: shared.timeout,
            max_body: shared.max_body,
            signed: shared.signed.clone(),
            require_token_type: shared.require_token_type,
            allow_http: shared.allow_http,
        });
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The deadline of one call, from connecting to the last byte of the
    /// answer (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|inner| inner.timeout = timeout)
    }

    /// The largest answer body read (default [`DEFAULT_MAX_BODY`]).
    pub fn max_body(self, bytes: usize) -> Self {
        self.with(|inner| inner.max_body = bytes)
    }

    /// RFC 9701: ask for answers as JWTs the issuer signed (`Accept:
    /// application/token-introspection+jwt`) and accept only those that
    /// verify with `keys` (the issuer's: a [`KeySet`](crate::KeySet), or its
    /// remote JWK Set). Before its `token_introspection` claim is read, a
    /// signed answer must carry the header `typ` `token-introspection+jwt`,
    /// `iss` equal to the configured issuer (so one must be configured;
    /// [`discover`](Self::discover) sets it), `aud` naming our client id,
    /// and an `iat` at most [`DEFAULT_MAX_ANSWER_AGE`](super::DEFAULT_MAX_ANSWER_AGE)
    /// old. A plain JSON answer, or one that fails a check, is
    /// [`Unavailable::Unverified`] (503): the endpoint's word cannot be
    /// trusted, which says nothing about the token.
    ///
    /// ```
    /// use tower_jwt_auth::introspect::{ClientAuth, IntrospectionClient};
    /// use tower_jwt_auth::{Algorithm, JwtConfig, VerifyingKey};
    ///
    /// let issuer_key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
    /// let client = IntrospectionClient::new(
    ///     "https://idp.example/introspect",
    ///     "resource-server",
    ///     ClientAuth::client_secret_basic("s3cret"),
    ///     JwtConfig::new().issuer("https://idp.example"),
    /// )
    /// .jwt_answers(issuer_key);
    /// assert!(format!("{client:?}").contains("jwt_answers: true"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn jwt_answers(self, keys: impl Into<KeySource>) -> Self {
        let keys = keys.into();
        self.with(|inner| {
            inner.signed = Some(SignedAnswers::new(keys, signed::DEFAULT_MAX_ANSWER_AGE));
        })
    }

    /// Refuse an active answer that names no `token_type` (default: such an
    /// answer counts as an access token's). RFC 7662 defines `token_type` as
    /// an access token's type (RFC 6749 §5.1), and node `oidc-provider`
    /// answers for its *refresh* tokens with none — and no `aud`, so a
    /// configured audience refuses them anyway. Without an audience, turn
    /// this on for such a provider.
    ///
    /// ```
    /// use tower_jwt_auth::JwtConfig;
    /// use tower_jwt_auth::introspect::{ClientAuth, IntrospectionClient};
    ///
    /// let client = IntrospectionClient::new(
    ///     "https://idp.example/token/introspection",
    ///     "resource-server",
    ///     ClientAuth::client_secret_basic("s3cret"),
    ///     JwtConfig::new().issuer("https://idp.example"),
    /// )
    /// .require_token_type(true);
    /// assert!(format!("{client:?}").contains("require_token_type: true"));
    /// ```
    pub fn require_token_type(self, required: bool) -> Self {
        self.with(|inner| inner.require_token_type = required)
    }

    /// Allow plain `http://` to an endpoint off loopback (default: only
    /// https, or http on a loopback host). The call carries the client's
    /// credentials and the token: over plain http anyone on the path reads
    /// both.
    pub fn allow_http(self, allow: bool) -> Self {
        self.with(|inner| inner.allow_http = allow)
    }

    /// The HTTP client to use (proxies, root certificates, connection pool).
    /// Build it with `redirect(reqwest::redirect::Policy::none())`: the
    /// default client follows no redirect, since a redirect would carry the
    /// credentials and the token to a URL nobody checked.
    pub fn http_client(self, http: reqwest::Client) -> Self {
        self.with(|inner| inner.http = http)
    }

    /// The configuration answers are checked against.
    pub fn config(&self) -> &JwtConfig {
        &self.inner.config
    }

    /// The introspection endpoint.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// Asks about `token` and checks the answer now: its claims, as the auth
    /// layer would hand them to a handler.
    pub async fn introspect<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<Claims<T>, IntrospectError> {
        let answer = self.ask(token).await?;
        let claims = claims_of::<T>(&answer)?;
        let now = self.inner.config.clock.now_secs();
        check_claims(&claims, &self.inner.config, now).map_err(IntrospectError::refused)?;
        Ok(claims)
    }

    /// One call: the normalized answer (see `normalize_answer`), unchecked
    /// against the config (the cache checks it on every use).
    pub(crate) async fn ask(&self, token: &str) -> Result<Value, IntrospectError> {
        let inner = &*self.inner;
        if let Err(url) = crate::url_policy::check_url(&inner.endpoint, inner.allow_http) {
            tracing::warn!(
                endpoint = %url,
                "introspection endpoint is neither https nor on loopback: not called \
                 (IntrospectionClient::allow_http)"
            );
            return Err(IntrospectError::unavailable(Unavailable::UnsafeUrl));
        }
        let result = tokio::time::timeout(inner.timeout, self.post(token)).await;
        let outcome = match result {
            Ok(Ok(body)) => match &inner.signed {
                None => normalize_answer(&body),
                Some(signed) => signed
                    .open(&body, &inner.client_id, &inner.config)
                    .map_err(IntrospectError::unavailable)
                    .and_then(|answer| normalize_answer(&answer)),
            },
            Ok(Err(why)) => Err(IntrospectError::unavailable(why)),
            Err(_) => Err(IntrospectError::unavailable(Unavailable::Timeout)),
        };
        let outcome = outcome.and_then(|answer| {
            if inner.require_token_type && answer.get("token_type").is_none() {
                return Err(IntrospectError::refused(
                    crate::rejection::AuthErrorKind::WrongTokenType,
                ));
            }
            Ok(answer)
        });
        if let Err(error) = &outcome {
            if error.is_unavailable() {
                tracing::warn!(endpoint = %inner.endpoint, %error, "introspection failed");
            } else {
                tracing::debug!(endpoint = %inner.endpoint, %error, "introspection refused the token");
            }
        }
        super::record_call(&outcome);
        outcome
    }

    async fn post(&self, token: &str) -> Result<Vec<u8>, Unavailable> {
        let inner = &*self.inner;
        let mut pairs = vec![("token", token), ("token_type_hint", "access_token")];
        let assertion;
        let mut request = inner.http.post(&inner.endpoint);
        match &inner.auth {
            ClientAuth::ClientSecretBasic(secret) => {
                let credentials = format!(
                    "{}:{}",
                    form::encode(&inner.client_id),
                    form::encode(&secret.0)
                );
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                );
                request = request.header(header::AUTHORIZATION, value);
            }
            ClientAuth::ClientSecretPost(secret) => {
                pairs.push(("client_id", &inner.client_id));
                pairs.push(("client_secret", &secret.0));
            }
            ClientAuth::PrivateKeyJwt(key) => {
                assertion = self.client_assertion(key).ok_or(Unavailable::Transport)?;
                pairs.push(("client_id", &inner.client_id));
                pairs.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                pairs.push(("client_assertion", &assertion));
            }
        }
        let transport = |_: reqwest::Error| Unavailable::Transport;
        let accept = match inner.signed {
            Some(_) => signed::MEDIA_TYPE,
            None => "application/json",
        };
        let mut response = request
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, accept)
            .body(form::encode_pairs(pairs))
            .send()
            .await
            .map_err(transport)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(Unavailable::Status(response.status().as_u16()));
        }
        if inner.signed.is_some() {
            // A plain JSON answer to a request for a signed one is not
            // taken: the signature is the point of asking.
            let media_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(str::trim);
            if !media_type.is_some_and(|m| m.eq_ignore_ascii_case(signed::MEDIA_TYPE)) {
                tracing::warn!(
                    ?media_type,
                    "introspection: asked for a signed answer, got another"
                );
                return Err(Unavailable::Unverified);
            }
        }
        if response
            .content_length()
            .is_some_and(|len| len > inner.max_body as u64)
        {
            return Err(Unavailable::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > inner.max_body {
                return Err(Unavailable::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The RFC 7523 client assertion for one call.
    fn client_assertion(&self, key: &SigningKey) -> Option<String> {
        let inner = &*self.inner;
        let now = inner.config.clock.now_secs();
        let mut jti = [0_u8; 16];
        getrandom::fill(&mut jti).ok()?;
        let mut header = serde_json::json!({
            "alg": algorithm_name(key.algorithm())?,
            "typ": "JWT",
        });
        if let Some(kid) = key.kid() {
            header["kid"] = Value::from(kid);
        }
        let audience = match inner.config.issuer.as_deref() {
            Some(issuer) => serde_json::json!([issuer, inner.endpoint]),
            None => Value::from(inner.endpoint.as_str()),
        };
        let claims = serde_json::json!({
            "iss": inner.client_id,
            "sub": inner.client_id,
            "aud": audience,
            "jti": B64.encode(jti),
            "iat": now,
            "exp": now + 60,
        });
        let signing_input = format!(
            "{}.{}",
            B64.encode(serde_json::to_vec(&header).ok()?),
            B64.encode(serde_json::to_vec(&claims).ok()?)
        );
        let signature = key.sign(signing_input.as_bytes())?;
        Some(format!("{signing_input}.{}", B64.encode(signature)))
    }
}

/// The default HTTP client: follows no redirect (see
/// [`IntrospectionClient::http_client`]).
pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}
