//! `Verifier`: the whole token check, pure and without I/O.
//!
//! Order of checks (each refuses before the next runs):
//! 1. raw length ≤ the cap, before any decoding;
//! 2. three base64url segments; the header is a UTF-8 JSON object;
//! 3. no `crit`, an accepted `typ` (the RFC 9068 profile: `at+jwt` only);
//! 4. with several trusted issuers, the payload's `iss` picks one; then the
//!    key, from that issuer's keys only: by `kid`, or the primary key when
//!    there is none;
//! 5. header `alg` equals the key's algorithm — the algorithm comes from the key;
//! 6. the signature, before the payload is decoded;
//! 7. claims (a UTF-8 JSON object): `exp` (required, a number), `nbf` and `iat` not in the future,
//!    `iss` when configured, `aud` (must name us when present; required when
//!    configured), the token type, the subject and what else the
//!    [`TokenProfile`](crate::TokenProfile) requires, no claim name twice.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::cache::{DEFAULT_VERIFIED_CACHE_CAPACITY, Verified, VerifiedCache};
use crate::claims::{Audience, Claims, TokenType};
use crate::config::JwtConfig;
use crate::jws::{CompactJws, Header, Skip, decode_segment, decode_segment_inline};
use crate::keys::{KeySource, KeysRefetch, algorithm_name};
use crate::profile::TokenProfile;
use crate::rejection::{AuthError, AuthErrorKind};

/// Verifies tokens against a [`KeySet`](crate::KeySet) (or a remote key set)
/// and a [`JwtConfig`], or against several trusted issuers
/// ([`any_of`](Self::any_of)). Cheap to clone.
///
/// ```
/// use tower_jwt_auth::{Algorithm, JwtConfig, SigningKey, TokenIssuer, TokenType, Verifier, VerifyingKey};
///
/// let secret = b"an example secret of at least 32 bytes!";
/// let config = JwtConfig::new().audience("api");
/// let issuer = TokenIssuer::new(SigningKey::hmac(Algorithm::HS256, secret)?, config.clone());
/// let verifier = Verifier::new(VerifyingKey::hmac(Algorithm::HS256, secret)?, config);
///
/// let token = issuer.access_token("alice", &tower_jwt_auth::NoCustomClaims {})?;
/// let claims = verifier.verify::<tower_jwt_auth::NoCustomClaims>(&token, TokenType::Access)?;
/// assert_eq!(claims.sub, "alice");
/// assert!(verifier.verify::<tower_jwt_auth::NoCustomClaims>(&token, TokenType::Refresh).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # The verified-token cache
///
/// The verifier remembers up to [`DEFAULT_VERIFIED_CACHE_CAPACITY`] tokens
/// that passed every check, keyed by the whole token: presented again, such a
/// token skips the signature math (tens of microseconds for RS256, ES256,
/// EdDSA) and, through the auth layer, the payload parsing (a few
/// microseconds, which is why HMAC keys gain from it too), while its `exp`,
/// `nbf` and token type are checked again at the current time and the auth
/// layer still asks the revocation store. A token that differs in any byte
/// misses the cache. [`verified_cache`](Self::verified_cache) sets the
/// capacity, `0` turns it off.
#[derive(Clone, Debug)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The trusted issuers, each with its own keys and rules. With one, a
    /// token is checked against it alone (its `iss` only when configured);
    /// with several, the token's `iss` picks exactly one of them.
    issuers: Box<[Trusted]>,
    cache: Option<VerifiedCache>,
}

/// One trusted issuer: where its keys come from and what its tokens carry.
#[derive(Debug, Clone)]
struct Trusted {
    keys: KeySource,
    config: JwtConfig,
}

/// Why [`Verifier::any_of`] refused a set of verifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuersError {
    /// No verifier was given.
    Empty,
    /// A verifier has no issuer configured, so no token's `iss` could pick it.
    MissingIssuer,
    /// Two verifiers trust the same issuer.
    DuplicateIssuer(String),
}

impl fmt::Display for IssuersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no issuer to trust"),
            Self::MissingIssuer => {
                f.write_str("every verifier of several issuers needs its issuer configured")
            }
            Self::DuplicateIssuer(iss) => write!(f, "the issuer `{iss}` is trusted twice"),
        }
    }
}

impl std::error::Error for IssuersError {}

impl Verifier {
    /// A verifier for tokens signed by any key of `keys` (a [`KeySet`](crate::KeySet), one
    /// [`VerifyingKey`](crate::VerifyingKey), or a remote key set), with the
    /// verified-token cache on.
    pub fn new(keys: impl Into<KeySource>, config: JwtConfig) -> Self {
        Self::from_issuers(
            Box::new([Trusted {
                keys: keys.into(),
                config,
            }]),
            DEFAULT_VERIFIED_CACHE_CAPACITY,
        )
    }

    fn from_issuers(issuers: Box<[Trusted]>, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                issuers,
                cache: (capacity > 0).then(|| VerifiedCache::new(capacity)),
            }),
        }
    }

    /// One verifier for several issuers: each of `verifiers` must have its
    /// issuer configured ([`JwtConfig::issuer`]), and the token's `iss` picks
    /// the one it is checked against — only that issuer's keys, audience and
    /// profile. A token naming no trusted issuer, or naming one but signed by
    /// another's key, is refused; keys are never tried one after another.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, JwtConfig, TokenProfile, Verifier, VerifyingKey};
    ///
    /// let ours = Verifier::new(
    ///     VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?,
    ///     JwtConfig::new().issuer("https://auth.example.com").audience("api"),
    /// );
    /// let partner = Verifier::new(
    ///     VerifyingKey::hmac(Algorithm::HS256, b"the partner's secret of at least 32 bytes")?,
    ///     JwtConfig::new()
    ///         .issuer("https://partner.example.org")
    ///         .audience("api")
    ///         .profile(TokenProfile::generic()),
    /// );
    /// let verifier = Verifier::any_of([ours, partner])?;
    /// assert_eq!(verifier.issuer_names().count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn any_of(verifiers: impl IntoIterator<Item = Verifier>) -> Result<Self, IssuersError> {
        let mut issuers: Vec<Trusted> = Vec::new();
        for verifier in verifiers {
            for trusted in verifier.inner.issuers.iter() {
                let Some(name) = trusted.config.issuer.as_deref() else {
                    return Err(IssuersError::MissingIssuer);
                };
                if issuers
                    .iter()
                    .any(|t| t.config.issuer.as_deref() == Some(name))
                {
                    return Err(IssuersError::DuplicateIssuer(name.to_owned()));
                }
                issuers.push(trusted.clone());
            }
        }
        if issuers.is_empty() {
            return Err(IssuersError::Empty);
        }
        Ok(Self::from_issuers(
            issuers.into(),
            DEFAULT_VERIFIED_CACHE_CAPACITY,
        ))
    }

    /// The issuers this verifier trusts by name (none for a single verifier
    /// with no issuer configured).
    pub fn issuer_names(&self) -> impl Iterator<Item = &str> {
        self.inner
            .issuers
            .iter()
            .filter_map(|t| t.config.issuer.as_deref())
    }

    /// Remember up to `capacity` verified tokens (see [the
    /// cache](Self#the-verified-token-cache)); `0` turns the cache off, so
    /// every token is verified in full. Call it before cloning the verifier:
    /// it replaces the cache of this handle only.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, JwtConfig, Verifier, VerifyingKey};
    ///
    /// let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
    /// let verifier = Verifier::new(key, JwtConfig::new()).verified_cache(10_000);
    /// assert_eq!(verifier.verified_cache_capacity(), 10_000);
    /// let verifier = verifier.verified_cache(0);
    /// assert_eq!(verifier.verified_cache_capacity(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verified_cache(self, capacity: usize) -> Self {
        Self::from_issuers(self.inner.issuers.clone(), capacity)
    }

    /// The most tokens the verified-token cache holds; `0` when it is off.
    pub fn verified_cache_capacity(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, VerifiedCache::capacity)
    }

    /// The verified-token cache's entries and weight in bytes now; `None`
    /// when it is off.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn verified_cache_size(&self) -> Option<(usize, u64)> {
        self.inner
            .cache
            .as_ref()
            .map(|cache| (cache.len(), cache.weight()))
    }

    /// How many tokens the verified-token cache holds now.
    #[cfg(test)]
    pub(crate) fn verified_cache_len(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, VerifiedCache::len)
    }

    /// The configuration tokens are checked against (the first issuer's,
    /// when there are several).
    pub fn config(&self) -> &JwtConfig {
        &self.inner.issuers[0].config
    }

    /// The largest leeway of any trusted issuer: how long past `exp` this
    /// verifier may accept a token, so how long a revocation must be kept.
    pub(crate) fn max_leeway_secs(&self) -> u64 {
        self.inner
            .issuers
            .iter()
            .map(|issuer| issuer.config.leeway_secs())
            .max()
            .unwrap_or(0)
    }

    /// Verifies `token` completely (except revocation, which needs a store)
    /// as a token of type `expected`, at the configured clock's time.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        expected: TokenType,
    ) -> Result<Claims<T>, AuthError> {
        self.verify_at(token, expected, self.config().clock.now_secs())
    }

    /// As [`verify`](Self::verify), at `now` (seconds since the epoch).
    pub fn verify_at<T: DeserializeOwned>(
        &self,
        token: &str,
        expected: TokenType,
        now: u64,
    ) -> Result<Claims<T>, AuthError> {
        let Some(cache) = &self.inner.cache else {
            let (payload, issuer, _) = self.verify_signed(token)?;
            return self
                .check_claims(issuer, &payload, expected, now)
                .map_err(AuthError::new);
        };
        if token.len() > self.config().max_token_len {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        if let Some(verified) = self.cached(cache, token.as_bytes()) {
            // The signature was verified when this exact token was cached;
            // the claims are checked again at `now`.
            return self
                .check_claims(verified.issuer, &verified.payload, expected, now)
                .map_err(AuthError::new);
        }
        let (payload, issuer, key_epoch) = self.verify_signed(token)?;
        let claims = self
            .check_claims(issuer, &payload, expected, now)
            .map_err(AuthError::new)?;
        cache.insert(
            token.as_bytes(),
            Verified::new(payload.into(), issuer, key_epoch),
        );
        Ok(claims)
    }

    /// The epoch of issuer `index`'s key set now: a cached token is trusted
    /// only while the keys it was verified with may still be there.
    fn key_epoch(&self, issuer: usize) -> u64 {
        self.inner.issuers[issuer].keys.epoch()
    }

    /// The cache entry for exactly `token`, unless the issuer's key set lost
    /// a key since it was made (then the token is verified again in full).
    fn cached(&self, cache: &VerifiedCache, token: &[u8]) -> Option<Arc<Verified>> {
        let verified = cache.get(token)?;
        (verified.key_epoch == self.key_epoch(verified.issuer)).then_some(verified)
    }

    /// The claims kept for exactly these bytes, if the cache holds them for
    /// this `T`, checked for time and type now; `None` on a miss. A hit
    /// proves the bytes a token that passed every other check, so the auth
    /// layer asks this before it checks the credential's form at all.
    pub(crate) fn kept_claims<T>(
        &self,
        token: &[u8],
        expected: TokenType,
    ) -> Option<Result<Arc<Claims<T>>, AuthError>>
    where
        T: Send + Sync + 'static,
    {
        let verified = self.cached(self.inner.cache.as_ref()?, token)?;
        let kept = verified.claims.get()?.downcast_ref::<Arc<Claims<T>>>()?;
        Some(self.check_kept(verified.issuer, kept, expected))
    }

    fn check_kept<T>(
        &self,
        issuer: usize,
        kept: &Arc<Claims<T>>,
        expected: TokenType,
    ) -> Result<Arc<Claims<T>>, AuthError> {
        // Everything but the times and the type was checked when these
        // claims were kept, against the same config.
        let config = &self.inner.issuers[issuer].config;
        let now = config.clock.now_secs();
        check_times(config, kept.exp, kept.nbf, kept.iat, kept.iat_us, now)
            .map_err(AuthError::new)?;
        if kept.token_type != expected {
            return Err(AuthErrorKind::WrongTokenType.into());
        }
        Ok(Arc::clone(kept))
    }

    /// As [`verify`](Self::verify), for claims types the cache can keep
    /// decoded (the auth layer's), shared: a cache hit checks the remembered
    /// claims' times and type and hands out another reference to them, so a
    /// repeated token costs neither payload parsing nor a copy of the claims.
    pub(crate) fn verify_keeping<T>(
        &self,
        token: &str,
        expected: TokenType,
    ) -> Result<Arc<Claims<T>>, AuthError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let Some(cache) = &self.inner.cache else {
            return self.verify(token, expected).map(Arc::new);
        };
        if token.len() > self.config().max_token_len {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        let (verified, claims) = match self.cached(cache, token.as_bytes()) {
            Some(verified) => {
                if let Some(kept) = verified
                    .claims
                    .get()
                    .and_then(|kept| kept.downcast_ref::<Arc<Claims<T>>>())
                {
                    return self.check_kept(verified.issuer, kept, expected);
                }
                let now = self.inner.issuers[verified.issuer].config.clock.now_secs();
                let claims = self
                    .check_claims::<T>(verified.issuer, &verified.payload, expected, now)
                    .map_err(AuthError::new)?;
                (verified, claims)
            }
            None => {
                let (payload, issuer, key_epoch) = self.verify_signed(token)?;
                let now = self.inner.issuers[issuer].config.clock.now_secs();
                let claims = self
                    .check_claims::<T>(issuer, &payload, expected, now)
                    .map_err(AuthError::new)?;
                let verified = Verified::new(payload.into(), issuer, key_epoch);
                cache.insert(token.as_bytes(), Arc::clone(&verified));
                (verified, claims)
            }
        };
        let claims = Arc::new(claims);
        // First come, first kept: another `T` keeps using the payload.
        let _ = verified.claims.set(Box::new(Arc::clone(&claims)));
        Ok(claims)
    }

    /// Checks only the JWS layer (steps 1–6: size, structure, header, key,
    /// `alg`, signature) and returns the decoded payload, which need not be
    /// JSON. For signed objects that are not claims; tokens go through
    /// [`verify`](Self::verify).
    pub fn verify_jws(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        self.verify_signed(token).map(|(payload, _, _)| payload)
    }

    /// Steps 1–6: the payload, which issuer the token was checked against,
    /// and the epoch of the key set whose key checked it (what the cache
    /// entry is tagged with; an epoch read later could be a newer set's).
    fn verify_signed(&self, token: &str) -> Result<(Vec<u8>, usize, u64), AuthError> {
        if token.len() > self.config().max_token_len {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        let jws = CompactJws::split(token)?;
        let header_json = decode_segment_inline::<256>(jws.header)?;
        let header = Header::parse(&header_json)?;
        // With several issuers, the payload's `iss` (still untrusted) picks
        // the one issuer whose keys may verify it.
        let (issuer, payload) = match self.inner.issuers.len() {
            1 => (0, None),
            _ => {
                let payload = decode_segment(jws.payload)?;
                (self.issuer_of(&payload)?, Some(payload))
            }
        };
        let trusted = &self.inner.issuers[issuer];
        if !trusted.config.profile.accepts_typ(header.typ.as_deref()) {
            return Err(AuthErrorKind::UnsupportedHeader.into());
        }
        let signature = decode_segment_inline::<512>(jws.signature)?;
        let (checked, key_epoch) = trusted.keys.with_key(header.kid.as_deref(), |key| {
            if algorithm_name(key.algorithm()) != Some(header.alg.as_ref()) {
                return Err(AuthError::from(AuthErrorKind::AlgorithmMismatch));
            }
            if !key.verify(jws.signing_input.as_bytes(), &signature) {
                return Err(AuthErrorKind::InvalidSignature.into());
            }
            Ok(())
        })?;
        checked?;
        let payload = match payload {
            Some(payload) => payload,
            None => decode_segment(jws.payload)?,
        };
        Ok((payload, issuer, key_epoch))
    }

    /// The issuer a token names, among several trusted ones.
    fn issuer_of(&self, payload: &[u8]) -> Result<usize, AuthErrorKind> {
        #[derive(Deserialize)]
        struct Iss<'a> {
            #[serde(borrow)]
            iss: Option<Cow<'a, str>>,
        }
        let iss = serde_json::from_slice::<Iss<'_>>(payload)
            .map_err(|_| AuthErrorKind::MalformedToken)?
            .iss
            .ok_or(AuthErrorKind::InvalidIssuer)?;
        self.inner
            .issuers
            .iter()
            .position(|t| t.config.issuer.as_deref() == Some(iss.as_ref()))
            .ok_or(AuthErrorKind::InvalidIssuer)
    }

    /// When `token` was refused for an unknown `kid` by an issuer whose keys
    /// are fetched, a future that completes once a refetch (coalesced and
    /// rate-limited by the key source) has finished; `None` when no refetch
    /// may be made now. The auth layer awaits it and verifies again.
    pub(crate) fn refetch_for_unknown_key(&self, token: &str) -> Option<KeysRefetch> {
        let issuer = match self.inner.issuers.len() {
            1 => 0,
            _ => {
                let jws = CompactJws::split(token).ok()?;
                self.issuer_of(&decode_segment(jws.payload).ok()?).ok()?
            }
        };
        self.inner.issuers[issuer].keys.refetch()
    }

    /// Step 7, on a payload whose signature has been verified by issuer
    /// `issuer`'s keys.
    fn check_claims<T: DeserializeOwned>(
        &self,
        issuer: usize,
        payload: &[u8],
        expected: TokenType,
        now: u64,
    ) -> Result<Claims<T>, AuthErrorKind> {
        let config = &self.inner.issuers[issuer].config;
        let profile = &config.profile;
        let seed = RegisteredSeed { profile };
        // JSON text is UTF-8 (RFC 8259 §8.1). serde_json skips the bytes of a
        // string it ignores without validating them, so check the whole
        // payload first: no invalid UTF-8 hides in an unread claim.
        let payload = std::str::from_utf8(payload).map_err(|_| AuthErrorKind::MalformedToken)?;
        let mut de = serde_json::Deserializer::from_str(payload);
        let registered = seed.deserialize(&mut de).map_err(classify)?;
        de.end().map_err(classify)?;

        let exp = registered.exp.ok_or(AuthErrorKind::InvalidClaims)?;
        check_times(
            config,
            exp,
            registered.nbf,
            registered.iat,
            registered.iat_us,
            now,
        )?;
        match (&config.issuer, &registered.iss) {
            (Some(ours), Some(iss)) if ours == iss => {}
            (Some(_), _) => return Err(AuthErrorKind::InvalidIssuer),
            (None, None) if profile.require_iss => return Err(AuthErrorKind::InvalidIssuer),
            (None, _) => {}
        }
        // RFC 7519 §4.1.3: a present `aud` must name us; with no audience
        // configured, no `aud` can.
        match (&config.audience, &registered.aud) {
            (Some(ours), Some(aud)) if aud.contains(ours) => {}
            (None, None) if !profile.require_aud => {}
            _ => return Err(AuthErrorKind::InvalidAudience),
        }
        let token_type = match (&profile.token_type, registered.token_type) {
            (Some(claim), Some(value)) => {
                claim.parse(&value).ok_or(AuthErrorKind::WrongTokenType)?
            }
            (Some(_), None) => return Err(AuthErrorKind::InvalidClaims),
            // No type claim in this profile: whatever verifies is an access
            // token, and nothing is a refresh token.
            (None, _) => TokenType::Access,
        };
        if token_type != expected {
            return Err(AuthErrorKind::WrongTokenType);
        }
        let sub = registered.sub.ok_or(AuthErrorKind::InvalidClaims)?;
        let jti = match registered.jti {
            Some(jti) => jti,
            None if profile.require_jti => return Err(AuthErrorKind::InvalidClaims),
            None => String::new(),
        };
        if (profile.require_iat && registered.iat.is_none())
            || (profile.require_client_id && !registered.client_id)
        {
            return Err(AuthErrorKind::InvalidClaims);
        }
        let custom =
            serde_json::from_str::<T>(payload).map_err(|_| AuthErrorKind::InvalidClaims)?;

        Ok(Claims {
            iss: registered.iss,
            sub,
            aud: registered.aud,
            exp,
            nbf: registered.nbf,
            iat: registered.iat,
            jti,
            token_type,
            sid: registered.sid,
            auth_time: registered.auth_time,
            iat_us: registered.iat_us,
            custom,
        })
    }
}

/// The checks of step 7 that depend on the time: `exp`, then `nbf`, `iat`
/// and `iat_us` not in the future.
fn check_times(
    config: &JwtConfig,
    exp: u64,
    nbf: Option<u64>,
    iat: Option<u64>,
    iat_us: Option<u64>,
    now: u64,
) -> Result<(), AuthErrorKind> {
    let leeway = config.leeway_secs;
    if exp.saturating_add(leeway) <= now {
        return Err(AuthErrorKind::Expired);
    }
    // A token from the future (`nbf`, or an `iat`/`iat_us` past now) is not
    // valid yet; a future issuance time would also dodge revocation cutoffs.
    let latest = now.saturating_add(leeway);
    if nbf.is_some_and(|nbf| nbf > latest)
        || iat.is_some_and(|iat| iat > latest)
        || iat_us.is_some_and(|us| us / 1_000_000 > latest)
    {
        return Err(AuthErrorKind::NotYetValid);
    }
    Ok(())
}

fn classify(error: serde_json::Error) -> AuthErrorKind {
    match error.classify() {
        serde_json::error::Category::Data => AuthErrorKind::InvalidClaims,
        _ => AuthErrorKind::MalformedToken,
    }
}

// ===== registered claims =====

/// The claims this crate reads, parsed in one pass that skips everything else
/// without allocating (within serde_json's nesting limit, see `Skip`) and
/// refuses any claim name appearing twice.
#[derive(Default)]
struct Registered {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    jti: Option<String>,
    /// The token-type claim's value, mapped by the profile.
    token_type: Option<String>,
    sid: Option<String>,
    auth_time: Option<u64>,
    iat_us: Option<u64>,
    /// Whether a `client_id` (a string) is present (RFC 9068 §2.2).
    client_id: bool,
}

struct RegisteredSeed<'c> {
    profile: &'c TokenProfile,
}

impl<'de> DeserializeSeed<'de> for RegisteredSeed<'_> {
    type Value = Registered;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Registered, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RegisteredSeed<'_> {
    type Value = Registered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Registered, A::Error> {
        fn set<'de, A: MapAccess<'de>, V: Deserialize<'de>>(
            slot: &mut Option<V>,
            map: &mut A,
            name: &'static str,
        ) -> Result<(), A::Error> {
            if slot.is_some() {
                return Err(de::Error::duplicate_field(name));
            }
            *slot = Some(map.next_value()?);
            Ok(())
        }

        let mut out = Registered::default();
        // RFC 7519 §4: claim names must be unique. Refusing every duplicate,
        // not only the registered ones, means no two parsers (ours, the
        // application's `T`, a log pipeline) can read different values.
        let mut seen = SeenNames::default();
        while let Some(name) = map.next_key::<ClaimName<'de>>()? {
            let name = name.into_cow();
            if !seen.insert(name.clone()) {
                return Err(de::Error::custom("duplicate claim"));
            }
            let key = name.as_ref();
            let profile = self.profile;
            if profile
                .token_type
                .as_ref()
                .is_some_and(|claim| key == claim.name)
            {
                set(&mut out.token_type, &mut map, "token type")?;
                continue;
            }
            if key == profile.subject_claim {
                if out.sub.is_some() {
                    return Err(de::Error::duplicate_field("subject"));
                }
                out.sub = Some(if key == "sub" {
                    map.next_value::<String>()?
                } else {
                    map.next_value::<Subject>()?.0
                });
                continue;
            }
            match key {
                "iss" => set(&mut out.iss, &mut map, "iss")?,
                "client_id" => {
                    let _: String = map.next_value()?;
                    out.client_id = true;
                }
                "aud" => set(&mut out.aud, &mut map, "aud")?,
                "jti" => set(&mut out.jti, &mut map, "jti")?,
                "sid" => set(&mut out.sid, &mut map, "sid")?,
                "exp" => set_date(&mut out.exp, &mut map, "exp")?,
                "nbf" => set_date(&mut out.nbf, &mut map, "nbf")?,
                "iat" => set_date(&mut out.iat, &mut map, "iat")?,
                "auth_time" => set_date(&mut out.auth_time, &mut map, "auth_time")?,
                "iat_us" => set(&mut out.iat_us, &mut map, "iat_us")?,
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(out)
    }
}

/// The claim names read so far, to refuse a duplicate. A token has about ten
/// claims, so a linear scan of a short list beats hashing each name into a
/// fresh set (which allocated three times per token); past
/// [`SeenNames::LINEAR`] names it switches to a set, so a payload of
/// thousands of names costs linear time, not quadratic.
#[derive(Default)]
struct SeenNames<'de> {
    list: Vec<Cow<'de, str>>,
    set: HashSet<Cow<'de, str>>,
}

impl<'de> SeenNames<'de> {
    const LINEAR: usize = 32;

    /// False when `name` was seen before.
    fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if self.list.len() < Self::LINEAR {
            if self.list.contains(&name) {
                return false;
            }
            if self.list.capacity() == 0 {
                self.list.reserve_exact(Self::LINEAR);
            }
            self.list.push(name);
            return true;
        }
        if self.set.is_empty() {
            self.set.extend(self.list.iter().cloned());
        }
        self.set.insert(name)
    }
}

fn set_date<'de, A: MapAccess<'de>>(
    slot: &mut Option<u64>,
    map: &mut A,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value::<NumericDate>()?.0);
    Ok(())
}

/// A subject under a name other than `sub`: a JSON string, or an integer
/// (simplejwt's `user_id`), kept as its decimal text.
struct Subject(String);

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SubjectVisitor;
        impl Visitor<'_> for SubjectVisitor {
            type Value = Subject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Subject, E> {
                Ok(Subject(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Subject, E> {
                Ok(Subject(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Subject, E> {
                Ok(Subject(v.to_string()))
            }
        }
        deserializer.deserialize_any(SubjectVisitor)
    }
}

/// A claim name, borrowed from the payload when it has no escapes.
enum ClaimName<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> ClaimName<'de> {
    fn into_cow(self) -> Cow<'de, str> {
        match self {
            Self::Borrowed(s) => Cow::Borrowed(s),
            Self::Owned(s) => Cow::Owned(s),
        }
    }
}

impl<'de> Deserialize<'de> for ClaimName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = ClaimName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ClaimName::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ClaimName::Owned(v.to_owned()))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// A JSON-number `NumericDate` (RFC 7519 §2): a non-negative integer, or a
/// finite non-negative fraction (floored). Strings are refused.
struct NumericDate(u64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor(PhantomData<()>);
        impl Visitor<'_> for DateVisitor {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative JSON number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                u64::try_from(v)
                    .map(NumericDate)
                    .map_err(|_| E::custom("negative date"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() && v >= 0.0 {
                    // Saturating float-to-int conversion, floored.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Ok(NumericDate(v.floor() as u64))
                } else {
                    Err(E::custom("invalid date"))
                }
            }
        }
        deserializer.deserialize_any(DateVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::jws::B64;
    use crate::keys::{Algorithm, SigningKey, VerifyingKey};

    const SECRET: &[u8] = b"verify-unit-test-secret-of-32-bytes!";
    const NOW: u64 = 1_800_000_000;

    fn signed(header: &[u8], payload: &[u8]) -> String {
        let signing_input = format!("{}.{}", B64.encode(header), B64.encode(payload));
        let key = SigningKey::hmac(Algorithm::HS256, SECRET).unwrap();
        let signature = key.sign(signing_input.as_bytes()).unwrap();
        format!("{signing_input}.{}", B64.encode(signature))
    }

    fn verifier() -> Verifier {
        Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            JwtConfig::new(),
        )
    }

    #[test]
    fn signed_payload_with_valid_claims_verifies() {
        let token = signed(
            br#"{"alg":"HS256"}"#,
            br#"{"sub":"a","exp":1800000060,"jti":"j","token_type":"access"}"#,
        );
        let claims = verifier()
            .verify_at::<serde_json::Value>(&token, TokenType::Access, NOW)
            .unwrap();
        assert_eq!(claims.sub, "a");
    }

    #[test]
    fn empty_payload_verifies_as_a_jws_but_is_no_token() {
        // Regression (Wycheproof tcId 259 and others): a JWS over an empty
        // payload is well formed and its signature must be checked; as claims
        // it is malformed.
        let verifier = Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            JwtConfig::new(),
        );
        let token = signed(br#"{"alg":"HS256"}"#, b"");
        assert_eq!(verifier.verify_jws(&token).unwrap(), b"");
        let err = verifier
            .verify::<crate::NoCustomClaims>(&token, TokenType::Access)
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::MalformedToken);

        let forged = format!("{}.", token.rsplit_once('.').unwrap().0);
        assert!(verifier.verify_jws(&forged).is_err(), "empty signature");
    }

    #[test]
    fn any_claim_name_twice_is_refused() {
        for payload in [
            &br#"{"sub":"a","exp":1800000060,"jti":"j","token_type":"access","alg":"x","alg":"y"}"#[..],
            br#"{"sub":"a","exp":1800000060,"jti":"j","token_type":"access","role":"user","r\u006fle":"admin"}"#,
            br#"{"sub":"a","sub":"b","exp":1800000060,"jti":"j","token_type":"access"}"#,
        ] {
            let token = signed(br#"{"alg":"HS256"}"#, payload);
            let error = verifier()
                .verify_at::<serde_json::Value>(&token, TokenType::Access, NOW)
                .unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::InvalidClaims, "{}", String::from_utf8_lossy(payload));
        }
    }

    // Regression (found by the `verifier` fuzz target): a signed payload with
    // invalid UTF-8 inside a claim nobody reads was accepted, because
    // serde_json skips ignored strings without validating them.
    #[test]
    fn signed_payload_with_invalid_utf8_in_an_unread_claim_is_malformed() {
        let token = signed(
            br#"{"alg":"HS256"}"#,
            b"{\"sub\":\"a\",\"exp\":1800000060,\"jti\":\"j\",\"token_type\":\"access\",\"x\":\"\xff\"}",
        );
        let error = verifier()
            .verify_at::<crate::NoCustomClaims>(&token, TokenType::Access, NOW)
            .unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::MalformedToken);
    }
}

#[cfg(test)]
mod seen_names_tests {
    use super::*;

    #[test]
    fn duplicates_are_found_before_and_after_the_switch_to_a_set() {
        let mut seen = SeenNames::default();
        for i in 0..100 {
            assert!(seen.insert(Cow::Owned(format!("c{i}"))), "c{i} is new");
            // A repeat of the first, a middle and the latest name.
            for j in [0, i / 2, i] {
                assert!(!seen.insert(Cow::Owned(format!("c{j}"))), "c{j} after c{i}");
            }
        }
        assert!(seen.insert(Cow::Borrowed("exp")));
        assert!(!seen.insert(Cow::Borrowed("exp")));
    }
}

#[cfg(test)]
mod cache_tests {
    //! The verified-token cache as the verifier uses it: only fully verified
    //! tokens enter, a token differing in any byte is verified in full, the
    //! claims of a cached token are checked at every call, and the bound holds.

    use std::time::Duration;

    use super::*;
    use crate::claims::NoCustomClaims;
    use crate::clock::ManualClock;
    use crate::issue::TokenIssuer;
    use crate::keys::{Algorithm, SigningKey, VerifyingKey};

    // `openssl ecparam -genkey -name prime256v1 -noout` and `openssl ec -pubout`.
    const PRIVATE: &[u8] = b"-----BEGIN EC PRIVATE KEY-----
MHcCAQEEINRkpvZnrtqeM81jkqJtEDDE60rRCTmd3GwIGUC1nmRtoAoGCCqGSM49
AwEHoUQDQgAEv96ueJ8IPcJEqUPPdBS7IMUY34CptjTPPU5fbr2+9gDg5Otg0I+j
9SoFUlCNAzvKy4VBJ0ScPYrkh5vz9CaB5g==
-----END EC PRIVATE KEY-----
";
    const PUBLIC: &[u8] = b"-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEv96ueJ8IPcJEqUPPdBS7IMUY34Cp
tjTPPU5fbr2+9gDg5Otg0I+j9SoFUlCNAzvKy4VBJ0ScPYrkh5vz9CaB5g==
-----END PUBLIC KEY-----
";
    const NOW: u64 = 1_800_000_000;

    fn setup() -> (TokenIssuer, Verifier, ManualClock) {
        let clock = ManualClock::at_secs(NOW);
        let config = JwtConfig::new()
            .audience("api")
            .access_ttl(Duration::from_secs(60))
            .leeway(Duration::ZERO)
            .clock(clock.clone());
        let issuer = TokenIssuer::new(
            SigningKey::from_pem(Algorithm::ES256, PRIVATE).unwrap(),
            config.clone(),
        );
        let verifier = Verifier::new(
            VerifyingKey::from_pem(Algorithm::ES256, PUBLIC).unwrap(),
            config,
        );
        (issuer, verifier, clock)
    }

    fn verify(verifier: &Verifier, token: &str) -> Result<Claims<NoCustomClaims>, AuthErrorKind> {
        verifier
            .verify::<NoCustomClaims>(token, TokenType::Access)
            .map_err(|e| e.kind())
    }

    #[test]
    fn cache_is_on_by_default() {
        let (_, es256, _) = setup();
        assert_eq!(
            es256.verified_cache_capacity(),
            DEFAULT_VERIFIED_CACHE_CAPACITY
        );
        let hs256 = Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, &[7; 32]).unwrap(),
            JwtConfig::new(),
        );
        assert_eq!(
            hs256.verified_cache_capacity(),
            DEFAULT_VERIFIED_CACHE_CAPACITY
        );
    }

    #[test]
    fn a_verified_token_is_cached_and_accepted_again() {
        let (issuer, verifier, _) = setup();
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        assert_eq!(verify(&verifier, &token).unwrap().sub, "alice");
        assert_eq!(verifier.verified_cache_len(), 1);
        assert_eq!(verify(&verifier, &token).unwrap().sub, "alice");
        assert_eq!(verifier.verified_cache_len(), 1);
    }

    #[test]
    fn a_mutated_token_is_never_accepted_via_the_cache() {
        let (issuer, verifier, _) = setup();
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        verify(&verifier, &token).unwrap();
        assert_eq!(verifier.verified_cache_len(), 1);

        // Every single-character change, anywhere in the token.
        for (i, c) in token.char_indices() {
            let replacement = if c == 'A' { 'B' } else { 'A' };
            let mut mutated = token.clone();
            mutated.replace_range(i..=i, &replacement.to_string());
            assert!(
                verify(&verifier, &mutated).is_err(),
                "mutation at byte {i} accepted"
            );
        }
        // Truncated, extended, and the signature of another token.
        let other = issuer.access_token("mallory", &NoCustomClaims {}).unwrap();
        let (signing_input, _) = token.rsplit_once('.').unwrap();
        let (_, other_signature) = other.rsplit_once('.').unwrap();
        for forged in [
            token[..token.len() - 1].to_owned(),
            format!("{token}A"),
            format!("{signing_input}.{other_signature}"),
            format!("{signing_input}."),
        ] {
            assert!(verify(&verifier, &forged).is_err(), "{forged} accepted");
        }
        assert_eq!(verifier.verified_cache_len(), 1, "only the valid token");
        assert!(verify(&verifier, &token).is_ok());
    }

    #[test]
    fn expiry_is_still_enforced_for_a_cached_token() {
        let (issuer, verifier, clock) = setup();
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        verify(&verifier, &token).unwrap();
        assert_eq!(verifier.verified_cache_len(), 1);
        clock.advance_secs(61);
        assert_eq!(
            verify(&verifier, &token).err(),
            Some(AuthErrorKind::Expired)
        );
    }

    #[test]
    fn not_before_is_still_enforced_for_a_cached_token() {
        let (issuer, verifier, clock) = setup();
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        verify(&verifier, &token).unwrap();
        // The clock set back before the token's issuance.
        clock.set_secs(NOW - 10);
        assert_eq!(
            verify(&verifier, &token).err(),
            Some(AuthErrorKind::NotYetValid)
        );
    }

    #[test]
    fn a_cached_token_is_refused_as_another_token_type() {
        let (issuer, verifier, _) = setup();
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        verify(&verifier, &token).unwrap();
        let as_refresh = verifier.verify::<NoCustomClaims>(&token, TokenType::Refresh);
        assert_eq!(
            as_refresh.err().map(|e| e.kind()),
            Some(AuthErrorKind::WrongTokenType)
        );
    }

    #[test]
    fn tokens_that_fail_any_check_are_not_cached() {
        let (issuer, verifier, clock) = setup();
        // Valid signature, wrong audience.
        let other_audience = TokenIssuer::new(
            SigningKey::from_pem(Algorithm::ES256, PRIVATE).unwrap(),
            JwtConfig::new().audience("elsewhere").clock(clock.clone()),
        );
        let token = other_audience
            .access_token("alice", &NoCustomClaims {})
            .unwrap();
        assert!(verify(&verifier, &token).is_err());
        // Valid signature, expired.
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        clock.advance_secs(120);
        assert!(verify(&verifier, &token).is_err());
        // Not a token at all.
        assert!(verify(&verifier, "a.b.c").is_err());
        assert_eq!(verifier.verified_cache_len(), 0);
    }

    #[test]
    fn kept_claims_are_checked_again_for_time_and_type() {
        let (issuer, verifier, clock) = setup();
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        let keep = |expected| {
            verifier
                .verify_keeping::<NoCustomClaims>(&token, expected)
                .map_err(|e| e.kind())
        };
        assert_eq!(keep(TokenType::Access).unwrap().sub, "alice");
        // The second call is served from the kept claims.
        assert_eq!(keep(TokenType::Access).unwrap().sub, "alice");
        assert_eq!(
            keep(TokenType::Refresh).err(),
            Some(AuthErrorKind::WrongTokenType)
        );
        clock.set_secs(NOW - 10);
        assert_eq!(
            keep(TokenType::Access).err(),
            Some(AuthErrorKind::NotYetValid)
        );
        clock.set_secs(NOW + 61);
        assert_eq!(keep(TokenType::Access).err(), Some(AuthErrorKind::Expired));
    }

    #[test]
    fn kept_claims_never_serve_a_mutated_token() {
        let (issuer, verifier, _) = setup();
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        let keep =
            |token: &str| verifier.verify_keeping::<NoCustomClaims>(token, TokenType::Access);
        keep(&token).unwrap();
        keep(&token).unwrap();
        for (i, c) in token.char_indices() {
            let replacement = if c == 'A' { 'B' } else { 'A' };
            let mut mutated = token.clone();
            mutated.replace_range(i..=i, &replacement.to_string());
            assert!(keep(&mutated).is_err(), "mutation at byte {i} accepted");
        }
        assert_eq!(verifier.verified_cache_len(), 1);
    }

    #[test]
    fn the_bound_holds() {
        let (issuer, verifier, _) = setup();
        let verifier = verifier.verified_cache(4);
        for _ in 0..50 {
            let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
            verify(&verifier, &token).unwrap();
            assert!(verifier.verified_cache_len() <= 4);
        }
        assert_eq!(verifier.verified_cache_len(), 4);
    }

    /// A remote key source whose refresh lands just after the verifier loaded
    /// its set: the first load answers with the set that holds the key, and
    /// from then on the set without it (a key lost: a higher epoch) is in
    /// force.
    #[cfg(feature = "jwks")]
    #[derive(Debug)]
    struct RefreshedAfterLoad {
        keys: arc_swap::ArcSwapOption<crate::keys::Snapshot>,
        next: std::sync::Mutex<Option<crate::keys::Snapshot>>,
    }

    #[cfg(feature = "jwks")]
    impl crate::keys::RemoteKeys for RefreshedAfterLoad {
        fn current(&self) -> arc_swap::Guard<Option<Arc<crate::keys::Snapshot>>> {
            let loaded = self.keys.load();
            if let Some(next) = self.next.lock().unwrap().take() {
                self.keys.store(Some(Arc::new(next)));
            }
            loaded
        }

        fn refetch_for_unknown_kid(&self) -> Option<KeysRefetch> {
            None
        }
    }

    #[cfg(feature = "jwks")]
    #[test]
    fn a_token_checked_against_a_set_that_then_loses_its_key_is_not_cached_as_current() {
        use crate::keys::{KeySet, Snapshot};
        let (issuer, local, _) = setup();
        let snapshot = |key: VerifyingKey, epoch: u64, text: &str| Snapshot {
            keys: KeySet::new(key),
            epoch,
            fingerprints: [(String::new(), text.to_owned())].into(),
        };
        let remote = RefreshedAfterLoad {
            keys: Some(Arc::new(snapshot(
                VerifyingKey::from_pem(Algorithm::ES256, PUBLIC).unwrap(),
                0,
                "the issuer's key",
            )))
            .into(),
            next: Some(snapshot(
                VerifyingKey::hmac(Algorithm::HS256, &[7; 32]).unwrap(),
                1,
                "another key",
            ))
            .into(),
        };
        let verifier = Verifier::new(KeySource::remote(Arc::new(remote)), local.config().clone());
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        // Checked against the set that held its key: accepted.
        assert!(verify(&verifier, &token).is_ok());
        // That key is gone now; the cache must not say otherwise.
        assert_eq!(
            verify(&verifier, &token).unwrap_err(),
            AuthErrorKind::AlgorithmMismatch
        );
        let kept = verifier.verify_keeping::<NoCustomClaims>(&token, TokenType::Access);
        assert_eq!(kept.unwrap_err().kind(), AuthErrorKind::AlgorithmMismatch);
    }

    #[test]
    fn concurrent_use_keeps_the_bound_and_accepts_every_valid_token() {
        let secret = [9u8; 32];
        let config = JwtConfig::new();
        let issuer = TokenIssuer::new(
            SigningKey::hmac(Algorithm::HS256, &secret).unwrap(),
            config.clone(),
        );
        let verifier = Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, &secret).unwrap(),
            config,
        )
        .verified_cache(4);
        let tokens: Vec<String> = (0..8)
            .map(|_| issuer.access_token("alice", &NoCustomClaims {}).unwrap())
            .collect();
        std::thread::scope(|scope| {
            for offset in 0..4 {
                let (verifier, tokens) = (&verifier, &tokens);
                scope.spawn(move || {
                    for i in 0..200 {
                        let token = &tokens[(i * 3 + offset) % tokens.len()];
                        let claims = verifier
                            .verify_keeping::<NoCustomClaims>(token, TokenType::Access)
                            .unwrap();
                        assert_eq!(claims.sub, "alice");
                        assert!(verifier.verified_cache_len() <= 4);
                    }
                });
            }
        });
    }

    #[test]
    fn opting_out_verifies_every_token_in_full() {
        let (issuer, verifier, _) = setup();
        let verifier = verifier.verified_cache(0);
        assert_eq!(verifier.verified_cache_capacity(), 0);
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        verify(&verifier, &token).unwrap();
        verify(&verifier, &token).unwrap();
        assert_eq!(verifier.verified_cache_len(), 0);
    }

    #[test]
    fn debug_shows_no_cached_token() {
        let (issuer, verifier, _) = setup();
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        verify(&verifier, &token).unwrap();
        let shown = format!("{verifier:?}");
        let (_, signature) = token.rsplit_once('.').unwrap();
        assert!(!shown.contains(signature), "{shown}");
    }
}
