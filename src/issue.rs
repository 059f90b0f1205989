//! `TokenIssuer`: mints access tokens, refresh tokens and token pairs.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::claims::RESERVED_CLAIMS;
use crate::claims::{Claims, TokenType};
use crate::clock::StampSource;
use crate::config::JwtConfig;
use crate::jws::{AT_JWT_TYP, B64, REFRESH_JWT_TYP};
use crate::keys::{SigningKey, algorithm_name};

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueError {
    /// The custom claims did not serialize to a JSON object.
    CustomClaimsNotAnObject,
    /// The custom claims failed to serialize.
    Serialize(String),
    /// The crypto backend refused to sign.
    Signing,
    /// The operating system's random source failed.
    Random,
    /// The custom claims carry a registered claim the issuer owns but does
    /// not set in this token (`nbf`; `sid` and `auth_time` outside a
    /// session; `iss`, `aud` when not configured; `sub` when the subject
    /// claim has another name): minting refuses rather than pass it through.
    ReservedClaim(String),
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CustomClaimsNotAnObject => {
                f.write_str("custom claims must serialize to a JSON object")
            }
            Self::Serialize(e) => write!(f, "custom claims failed to serialize: {e}"),
            Self::Signing => f.write_str("the signing key failed to sign"),
            Self::Random => f.write_str("the random source failed"),
            Self::ReservedClaim(name) => write!(
                f,
                "the custom claims carry `{name}`, a registered claim the issuer owns"
            ),
        }
    }
}

impl std::error::Error for IssueError {}

/// 128 random bits, base64url: a `jti` or a session id.
pub(crate) fn random_id() -> Result<String, IssueError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| IssueError::Random)?;
    Ok(B64.encode(bytes))
}

/// The login (or refresh) response body:
/// `{"access_token", "refresh_token", "token_type", "expires_in"}`, the type
/// `"Bearer"`, or `"DPoP"` when the access token is bound to a DPoP key.
///
/// It also carries, unserialized, the [`SessionInfo`] the refresh service
/// needs to register the session. `Debug` never shows the tokens.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenPair {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// `"Bearer"`, or `"DPoP"` for a DPoP-bound access token (RFC 9449 §5).
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    #[serde(skip)]
    session: SessionInfo,
}

impl TokenPair {
    /// The session (refresh-token family) these tokens belong to.
    pub fn session(&self) -> &SessionInfo {
        &self.session
    }
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("session", &self.session)
            .finish()
    }
}

/// What the store must remember about a session: its id (the family), the
/// current refresh token's `jti`, and when it can no longer be refreshed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session id, carried in both tokens as `sid`.
    pub id: String,
    /// The subject.
    pub subject: String,
    /// The `jti` of the refresh token just minted.
    pub refresh_jti: String,
    /// When that refresh token expires (seconds since the epoch).
    pub refresh_expires_at: u64,
    /// When the session began (the login), seconds since the epoch.
    pub auth_time: u64,
    /// When the session ends, whatever the rotations (seconds since the epoch).
    pub session_expires_at: u64,
    /// The RFC 7638 thumbprint of the DPoP key the refresh token is bound
    /// to (its `cnf.jkt`), if any.
    pub jkt: Option<String>,
}

/// Mints tokens with one [`SigningKey`] under one [`JwtConfig`]. Cheap to clone.
///
/// Every token gets a random 128-bit `jti`, `iat` and `exp` from the
/// configured clock, `iss`/`aud` when configured, and the token type.
#[derive(Clone, Debug)]
pub struct TokenIssuer {
    inner: Arc<Inner>,
}

struct Inner {
    key: SigningKey,
    config: JwtConfig,
    /// The base64url header of access tokens (`typ` `JWT`, or `at+jwt`).
    access_header_b64: String,
    /// The base64url header of refresh tokens (`typ` `refresh+jwt`).
    refresh_header_b64: String,
    stamps: StampSource,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("key", &self.key)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Which session a token belongs to.
struct SessionClaims<'a> {
    sid: &'a str,
    auth_time: u64,
}

/// The DPoP keys (RFC 7638 thumbprints) a pair's tokens are bound to.
#[derive(Clone, Copy, Default)]
pub(crate) struct PairBinding<'a> {
    pub(crate) access: Option<&'a str>,
    pub(crate) refresh: Option<&'a str>,
}

impl TokenIssuer {
    /// An issuer signing with `key`.
    ///
    /// Access tokens get the header `typ` `JWT` (or `at+jwt`, see
    /// [`at_jwt`](Self::at_jwt)); refresh tokens get `refresh+jwt`, so that
    /// no verifier that reads the header takes one for an access token.
    pub fn new(key: SigningKey, config: JwtConfig) -> Self {
        let access_header_b64 = header_b64(&key, "JWT");
        let refresh_header_b64 = header_b64(&key, REFRESH_JWT_TYP);
        Self {
            inner: Arc::new(Inner {
                key,
                config,
                access_header_b64,
                refresh_header_b64,
                stamps: StampSource::default(),
            }),
        }
    }

    /// Mint access tokens with the header `typ` `at+jwt` (RFC 9068 §2.1)
    /// when `enabled`, instead of `JWT`. Verifiers under any
    /// [`TokenProfile`](crate::TokenProfile) accept either; an RFC 9068
    /// verifier requires `at+jwt` (and `client_id`, `iat`, `iss` and `aud`,
    /// which the configuration and the custom claims must then supply). Call
    /// it before cloning the issuer: it changes this handle only.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, JwtConfig, NoCustomClaims, SigningKey, TokenIssuer};
    ///
    /// let key = SigningKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
    /// let issuer = TokenIssuer::new(key, JwtConfig::new()).at_jwt(true);
    /// let token = issuer.access_token("alice", &NoCustomClaims {})?;
    /// # let _ = token;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn at_jwt(mut self, enabled: bool) -> Self {
        let header = header_b64(&self.inner.key, if enabled { AT_JWT_TYP } else { "JWT" });
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.access_header_b64 = header,
            None => {
                let inner = &self.inner;
                self.inner = Arc::new(Inner {
                    key: inner.key.clone(),
                    config: inner.config.clone(),
                    access_header_b64: header,
                    refresh_header_b64: inner.refresh_header_b64.clone(),
                    stamps: inner.stamps.fork(),
                });
            }
        }
        self
    }

    /// The configuration tokens are minted under.
    pub fn config(&self) -> &JwtConfig {
        &self.inner.config
    }

    /// A strictly increasing microsecond stamp from this issuer's clock: the
    /// `iat_us` of the next token, or a revocation cutoff that must fall after
    /// every token minted so far and before every later one.
    pub fn next_stamp(&self) -> u64 {
        self.inner.stamps.next(self.inner.config.clock.as_ref())
    }

    /// A stand-alone access token (no session).
    pub fn access_token<T: Serialize>(
        &self,
        subject: &str,
        custom: &T,
    ) -> Result<String, IssueError> {
        let ttl = self.inner.config.access_ttl_secs;
        self.mint(subject, custom, TokenType::Access, None, ttl, None)
            .map(|(token, _, _)| token)
    }

    /// A new session: an access token and a refresh token sharing a fresh
    /// session id, with `auth_time` now.
    pub fn pair<T: Serialize>(&self, subject: &str, custom: &T) -> Result<TokenPair, IssueError> {
        self.pair_bound(subject, custom, PairBinding::default())
    }

    /// [`pair`](Self::pair), its tokens bound to DPoP keys (`cnf.jkt`).
    pub(crate) fn pair_bound<T: Serialize>(
        &self,
        subject: &str,
        custom: &T,
        binding: PairBinding<'_>,
    ) -> Result<TokenPair, IssueError> {
        let sid = random_id()?;
        let auth_time = self.inner.config.clock.now_secs();
        self.pair_in_session(subject, custom, &sid, auth_time, binding)
    }

    /// The next pair of an existing session, as a refresh does: same session
    /// id and `auth_time`; the refresh token expires with the refresh lifetime
    /// but never after the session's absolute end.
    pub fn rotate<T: Serialize>(&self, previous: &Claims<T>) -> Result<TokenPair, IssueError> {
        self.rotate_with(previous, &previous.custom)
    }

    /// As [`rotate`](Self::rotate), with fresh custom claims (roles that
    /// changed since login).
    pub fn rotate_with<T, U: Serialize>(
        &self,
        previous: &Claims<T>,
        custom: &U,
    ) -> Result<TokenPair, IssueError> {
        self.rotate_bound(previous, custom, PairBinding::default())
    }

    /// [`rotate_with`](Self::rotate_with), the tokens bound to DPoP keys.
    pub(crate) fn rotate_bound<T, U: Serialize>(
        &self,
        previous: &Claims<T>,
        custom: &U,
        binding: PairBinding<'_>,
    ) -> Result<TokenPair, IssueError> {
        let now = self.inner.config.clock.now_secs();
        let sid = match &previous.sid {
            Some(sid) => sid.clone(),
            None => random_id()?,
        };
        let auth_time = previous.auth_time.unwrap_or(now);
        self.pair_in_session(&previous.sub, custom, &sid, auth_time, binding)
    }

    fn pair_in_session<T: Serialize>(
        &self,
        subject: &str,
        custom: &T,
        sid: &str,
        auth_time: u64,
        binding: PairBinding<'_>,
    ) -> Result<TokenPair, IssueError> {
        let config = &self.inner.config;
        let now = config.clock.now_secs();
        let session_expires_at = auth_time.saturating_add(config.session_lifetime_secs);
        let refresh_ttl = config
            .refresh_ttl_secs
            .min(session_expires_at.saturating_sub(now));
        let session = SessionClaims { sid, auth_time };
        let (access_token, _, access_exp) = self.mint(
            subject,
            custom,
            TokenType::Access,
            Some(&session),
            config.access_ttl_secs,
            binding.access,
        )?;
        let (refresh_token, refresh_jti, refresh_expires_at) = self.mint(
            subject,
            custom,
            TokenType::Refresh,
            Some(&session),
            refresh_ttl,
            binding.refresh,
        )?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            token_type: if binding.access.is_some() {
                "DPoP"
            } else {
                "Bearer"
            }
            .to_owned(),
            expires_in: access_exp.saturating_sub(now),
            session: SessionInfo {
                id: sid.to_owned(),
                subject: subject.to_owned(),
                refresh_jti,
                refresh_expires_at,
                auth_time,
                session_expires_at,
                jkt: binding.refresh.map(str::to_owned),
            },
        })
    }

    /// Whether minting writes the registered claim `name` itself (so its
    /// value replaces a custom one).
    fn writes(&self, name: &str, in_session: bool) -> bool {
        let config = &self.inner.config;
        match name {
            "iss" => config.issuer.is_some(),
            "aud" => config.audience.is_some(),
            "sid" | "auth_time" => in_session,
            "sub" => config.profile.subject_claim == "sub",
            "nbf" => false,
            _ => true,
        }
    }

    /// Signs one token, bound to the DPoP key `jkt` when given (its `cnf`
    /// replaces a custom one); returns it with its `jti` and `exp`.
    fn mint<T: Serialize>(
        &self,
        subject: &str,
        custom: &T,
        token_type: TokenType,
        session: Option<&SessionClaims<'_>>,
        ttl_secs: u64,
        jkt: Option<&str>,
    ) -> Result<(String, String, u64), IssueError> {
        let config = &self.inner.config;
        // Custom claims first, so a registered claim always wins a name clash.
        let mut claims = match serde_json::to_value(custom) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(IssueError::CustomClaimsNotAnObject),
            Err(e) => return Err(IssueError::Serialize(e.to_string())),
        };
        // A registered claim the issuer writes below replaces the custom
        // one; one it does not write this time would pass straight into
        // the token (a future `auth_time`, another session's `sid`, an
        // `iss` of someone else), so it is refused.
        if let Some(name) = RESERVED_CLAIMS
            .iter()
            .find(|&&name| claims.contains_key(name) && !self.writes(name, session.is_some()))
        {
            return Err(IssueError::ReservedClaim((*name).to_owned()));
        }
        let iat_us = self.next_stamp();
        let iat = iat_us / 1_000_000;
        let exp = iat.saturating_add(ttl_secs);
        let jti = random_id()?;
        if let Some(iss) = &config.issuer {
            claims.insert("iss".into(), iss.as_str().into());
        }
        claims.insert(config.profile.subject_claim.to_string(), subject.into());
        if let Some(aud) = &config.audience {
            claims.insert("aud".into(), aud.as_str().into());
        }
        claims.insert("exp".into(), exp.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("iat_us".into(), iat_us.into());
        claims.insert("jti".into(), jti.as_str().into());
        if let Some(session) = session {
            claims.insert("sid".into(), session.sid.into());
            claims.insert("auth_time".into(), session.auth_time.into());
        }
        if let Some(jkt) = jkt {
            claims.insert("cnf".into(), serde_json::json!({ "jkt": jkt }));
        }
        let type_claim = config.profile.minted_type_claim();
        claims.insert(
            type_claim.name.to_string(),
            type_claim.value(token_type).into(),
        );

        let payload = Value::Object(claims).to_string();
        let header_b64 = match token_type {
            TokenType::Access => &self.inner.access_header_b64,
            TokenType::Refresh => &self.inner.refresh_header_b64,
        };
        let mut token = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 100);
        token.push_str(header_b64);
        token.push('.');
        B64.encode_string(payload.as_bytes(), &mut token);
        let signature = self
            .inner
            .key
            .sign(token.as_bytes())
            .ok_or(IssueError::Signing)?;
        token.push('.');
        B64.encode_string(signature, &mut token);
        Ok((token, jti, exp))
    }
}

/// The base64url JOSE header for tokens signed by `key` with `typ`. An
/// asymmetric key's `kid` is stable: its name, or its RFC 7638 thumbprint, so
/// verifiers find it in our published JWK Set.
fn header_b64(key: &SigningKey, typ: &str) -> String {
    let mut header = Map::new();
    let alg = algorithm_name(key.algorithm()).unwrap_or_default();
    header.insert("alg".into(), alg.into());
    header.insert("typ".into(), typ.into());
    if let Some(kid) = key.kid().map(str::to_owned).or_else(|| key.thumbprint()) {
        header.insert("kid".into(), kid.into());
    }
    B64.encode(Value::Object(header).to_string())
}
