//! Opaque tokens: OAuth 2.0 Token Introspection (RFC 7662), with signed
//! answers (RFC 9701).
//!
//! * [`IntrospectionClient`] (feature `introspection`) asks an issuer's
//!   introspection endpoint about a token it cannot verify itself, and checks
//!   the answer instead of trusting it: `active: true`, an access token (a
//!   refresh token is refused), `exp`/`nbf` with the leeway, `iss` and the
//!   configured audience. An answer without `sub` (a `client_credentials`
//!   token) gets the `client_id` as its subject. With
//!   [`jwt_answers`](IntrospectionClient::jwt_answers) it asks for answers
//!   signed by the issuer (RFC 9701) and believes no other.
//! * [`IntrospectionCache`] (feature `introspection`) remembers answers by a
//!   keyed hash of the token (never the token), re-runs the whole decision on
//!   every hit, keeps inactive and failed answers briefly, coalesces
//!   concurrent calls for one token and bounds the calls in flight.
//! * [`IntrospectionService`] answers RFC 7662 requests about the tokens this
//!   crate minted (no network; always available), to authenticated callers,
//!   with a budget of failed authentications per caller.
//!
//! The answer ends in the same [`Claims<T>`](crate::Claims) a JWT gives: the
//! answer's members are the payload (without `active`), so the application's
//! `T` and the scope guards read them exactly as they read a JWT's claims.
//!
//! ```
//! use tower_jwt_auth::introspect::claims_from_answer;
//! use tower_jwt_auth::{JwtConfig, TokenType};
//!
//! let config = JwtConfig::new().issuer("https://idp.example").audience("api");
//! let answer = br#"{"active":true,"client_id":"svc","scope":"read","exp":1900000000,
//!                   "iss":"https://idp.example","aud":"api","token_type":"Bearer"}"#;
//! let claims = claims_from_answer::<serde_json::Value>(answer, &config, 1_800_000_000)?;
//! assert_eq!(claims.sub, "svc"); // no `sub`: the client is the subject
//! assert_eq!(claims.token_type, TokenType::Access);
//! assert_eq!(claims.custom["scope"], "read");
//! # Ok::<(), tower_jwt_auth::introspect::IntrospectError>(())
//! ```

#[cfg(feature = "introspection")]
mod cache;
#[cfg(feature = "introspection")]
mod client;
#[cfg(feature = "introspection")]
mod discover;
pub(crate) mod form;
mod limit;
mod server;
#[cfg(feature = "introspection")]
mod signed;

#[cfg(feature = "introspection")]
pub(crate) use cache::BoundClaims;
#[cfg(feature = "introspection")]
pub use cache::{
    DEFAULT_CACHE_ENTRIES, DEFAULT_INACTIVE_TTL, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_WAIT,
    DEFAULT_TTL, IntrospectionCache, MAX_INACTIVE_TTL, SLOT_BYTES,
};
#[cfg(feature = "introspection")]
pub use client::{ClientAuth, DEFAULT_MAX_BODY, DEFAULT_TIMEOUT, IntrospectionClient, Secret};
pub use limit::{DEFAULT_FAILURE_BURST, DEFAULT_FAILURE_INTERVAL};
pub use server::{DEFAULT_MAX_REQUEST_LEN, IntrospectionService};
#[cfg(feature = "introspection")]
pub use signed::DEFAULT_MAX_ANSWER_AGE;

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::claims::{Audience, Claims, TokenType};
use crate::config::JwtConfig;
use crate::rejection::AuthErrorKind;

/// Why an introspected token was not accepted.
///
/// The kinds keep apart what the layer must keep apart: a token the issuer
/// called inactive or whose answer failed a check (401 `invalid_token`), and
/// an endpoint that could not answer (503 with `Retry-After`: the token may
/// be fine).
#[derive(Clone, PartialEq, Eq)]
pub struct IntrospectError {
    kind: IntrospectErrorKind,
}

/// What kind of [`IntrospectError`] this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntrospectErrorKind {
    /// The issuer answered `active: false` (or no `active: true`).
    Inactive,
    /// The issuer answered `active: true`, but the answer failed a check:
    /// which one, as the layer would name it for a JWT.
    Refused(AuthErrorKind),
    /// The endpoint could not be asked, or its answer was no introspection
    /// answer: transport error, timeout, a status other than 200, a body over
    /// the cap, junk, or too many calls already in flight.
    Unavailable(Unavailable),
}

/// Why the endpoint gave no usable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unavailable {
    /// The connection or the request failed.
    Transport,
    /// No complete answer within the deadline.
    Timeout,
    /// An HTTP status other than 200.
    Status(u16),
    /// The body is larger than the cap.
    TooLarge,
    /// The body is not a JSON object with a boolean `active`.
    Junk,
    /// Too many calls in flight, and none finished within the wait.
    Busy,
    /// A signed answer was asked for (RFC 9701) and the answer was not one
    /// that verifies: plain JSON, a wrong `typ`, signature, `iss`, `aud`, or
    /// a stale `iat`.
    Unverified,
    /// The endpoint's URL is neither https nor on a loopback host (and
    /// plain http was not allowed), or, found through discovery, weaker than
    /// its issuer's: never called.
    UnsafeUrl,
}

impl IntrospectError {
    pub(crate) const fn new(kind: IntrospectErrorKind) -> Self {
        Self { kind }
    }

    pub(crate) const fn refused(kind: AuthErrorKind) -> Self {
        Self::new(IntrospectErrorKind::Refused(kind))
    }

    pub(crate) const fn unavailable(why: Unavailable) -> Self {
        Self::new(IntrospectErrorKind::Unavailable(why))
    }

    /// What kind of error this is.
    pub const fn kind(&self) -> IntrospectErrorKind {
        self.kind
    }

    /// True when the endpoint gave no usable answer (503, not 401).
    pub const fn is_unavailable(&self) -> bool {
        matches!(self.kind, IntrospectErrorKind::Unavailable(_))
    }

    /// The rejection the auth layer gives for it: the refusal's own kind,
    /// [`AuthErrorKind::MalformedToken`] for an inactive token (the client
    /// sees `invalid_token` either way), and
    /// [`AuthErrorKind::IntrospectionUnavailable`] (503) when the endpoint
    /// could not answer.
    pub const fn auth_error_kind(&self) -> AuthErrorKind {
        match self.kind {
            IntrospectErrorKind::Inactive => AuthErrorKind::MalformedToken,
            IntrospectErrorKind::Refused(kind) => kind,
            IntrospectErrorKind::Unavailable(_) => AuthErrorKind::IntrospectionUnavailable,
        }
    }
}

impl fmt::Debug for IntrospectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IntrospectError").field(&self.kind).finish()
    }
}

impl fmt::Display for IntrospectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            IntrospectErrorKind::Inactive => f.write_str("the issuer says the token is not active"),
            IntrospectErrorKind::Refused(kind) => {
                write!(
                    f,
                    "introspection answer refused: {}",
                    crate::rejection::AuthError::new(kind)
                )
            }
            IntrospectErrorKind::Unavailable(why) => {
                write!(f, "introspection endpoint unavailable: {why:?}")
            }
        }
    }
}

impl std::error::Error for IntrospectError {}

/// Which tokens the auth layer introspects
/// ([`JwtAuthLayer::introspection`](crate::JwtAuthLayer::introspection)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntrospectionMode {
    /// A JWT (a compact JWS: three segments, a JSON header) is verified by the
    /// keys, as without introspection; any other token is introspected.
    #[default]
    OpaqueTokens,
    /// Every token is introspected, JWTs too (an issuer whose revocations
    /// must be seen within the cache's TTL).
    Always,
}

// ===== the answer =====

/// Parses an introspection answer (RFC 7662 §2.2): a JSON object whose
/// `active` is `true` (else [`Inactive`](IntrospectErrorKind::Inactive)),
/// returned without `active`, and with `sub` = `client_id` when it has no
/// `sub`. Not a JSON object, or no boolean `active`:
/// [`Unavailable::Junk`].
pub(crate) fn normalize_answer(body: &[u8]) -> Result<Value, IntrospectError> {
    let mut answer = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(answer)) => answer,
        _ => return Err(IntrospectError::unavailable(Unavailable::Junk)),
    };
    match answer.remove("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            return Err(IntrospectError::new(IntrospectErrorKind::Inactive));
        }
        _ => return Err(IntrospectError::unavailable(Unavailable::Junk)),
    }
    // No `sub` (a `client_credentials` token): the client is the subject,
    // in the payload handlers read too, as a JWT's would carry it.
    if !answer.contains_key("sub")
        && let Some(client) = answer.get("client_id").filter(|c| c.is_string()).cloned()
    {
        answer.insert("sub".to_owned(), client);
    }
    Ok(Value::Object(answer))
}

/// The token type an RFC 7662 `token_type` names, if this crate knows it.
fn token_type_named(name: &str) -> Option<TokenType> {
    const ACCESS: &[&str] = &[
        "bearer",
        "dpop",
        "access_token",
        "access",
        "urn:ietf:params:oauth:token-type:access_token",
    ];
    const REFRESH: &[&str] = &[
        "refresh_token",
        "refresh",
        "urn:ietf:params:oauth:token-type:refresh_token",
    ];
    let known = |list: &[&str]| list.iter().any(|n| n.eq_ignore_ascii_case(name));
    if known(ACCESS) {
        Some(TokenType::Access)
    } else if known(REFRESH) {
        Some(TokenType::Refresh)
    } else {
        None
    }
}

/// The members of an answer that become the registered claims.
#[derive(serde::Deserialize)]
struct Registered {
    iss: Option<String>,
    sub: Option<String>,
    client_id: Option<String>,
    aud: Option<Audience>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    jti: Option<String>,
    token_type: Option<String>,
    sid: Option<String>,
    auth_time: Option<u64>,
}

/// The claims of an answer (without `active`), not yet checked against the
/// config: `exp` is required; the subject is `sub`, else `client_id`; the
/// token type is mapped (`Bearer`, `DPoP`, `access_token` and RFC 8693's
/// access-token URN name an access token, `refresh_token` a refresh token,
/// any other is refused). `T` reads the answer's members as the provider
/// sent them, as it reads a JWT's payload.
pub(crate) fn claims_of<T: DeserializeOwned>(answer: &Value) -> Result<Claims<T>, IntrospectError> {
    use serde::Deserialize as _;
    let invalid = || IntrospectError::refused(AuthErrorKind::InvalidClaims);
    let registered = Registered::deserialize(answer).map_err(|_| invalid())?;
    let token_type = match registered.token_type.as_deref() {
        None => TokenType::Access,
        Some(name) => {
            token_type_named(name).ok_or(IntrospectError::refused(AuthErrorKind::WrongTokenType))?
        }
    };
    Ok(Claims {
        iss: registered.iss,
        sub: registered
            .sub
            .or(registered.client_id)
            .ok_or_else(invalid)?,
        aud: registered.aud,
        exp: registered.exp.ok_or_else(invalid)?,
        nbf: registered.nbf,
        iat: registered.iat,
        jti: registered.jti.unwrap_or_default(),
        token_type,
        sid: registered.sid,
        auth_time: registered.auth_time,
        iat_us: None,
        custom: T::deserialize(answer).map_err(|_| invalid())?,
    })
}

/// The decision on an introspected token's claims, at `now`: the same checks
/// a JWT's claims get (`exp`, `nbf`, `iat` with the leeway; the configured
/// issuer when the answer names one; the configured audience in `aud`; an
/// access token). Made on every use of a remembered answer.
pub(crate) fn check_claims<T>(
    claims: &Claims<T>,
    config: &JwtConfig,
    now: u64,
) -> Result<(), AuthErrorKind> {
    let leeway = config.leeway_secs;
    if claims.exp.saturating_add(leeway) <= now {
        return Err(AuthErrorKind::Expired);
    }
    let latest = now.saturating_add(leeway);
    if claims.nbf.is_some_and(|nbf| nbf > latest) || claims.iat.is_some_and(|iat| iat > latest) {
        return Err(AuthErrorKind::NotYetValid);
    }
    // RFC 7662 makes `iss` optional; when present it must be the issuer asked.
    if let (Some(ours), Some(iss)) = (&config.issuer, &claims.iss)
        && ours != iss
    {
        return Err(AuthErrorKind::InvalidIssuer);
    }
    if let Some(ours) = &config.audience
        && !claims
            .aud
            .as_ref()
            .is_some_and(|aud: &Audience| aud.contains(ours))
    {
        return Err(AuthErrorKind::InvalidAudience);
    }
    if claims.token_type != TokenType::Access {
        return Err(AuthErrorKind::WrongTokenType);
    }
    Ok(())
}

/// The whole decision on one introspection answer body at `now` (seconds):
/// the answer normalized ([`IntrospectErrorKind::Inactive`] unless
/// `active: true`, junk is [`Unavailable::Junk`]), its claims read (`exp` is
/// required), and checked against `config` as a JWT's would be. What the
/// client and the cache do for every answer, public for tests and for
/// applications that fetch answers themselves.
pub fn claims_from_answer<T: DeserializeOwned>(
    body: &[u8],
    config: &JwtConfig,
    now: u64,
) -> Result<Claims<T>, IntrospectError> {
    let answer = normalize_answer(body)?;
    let claims = claims_of::<T>(&answer)?;
    check_claims(&claims, config, now).map_err(IntrospectError::refused)?;
    Ok(claims)
}

// ===== metrics =====

/// Introspection calls, by `result` = `active` | `inactive` | `refused` |
/// `unavailable` (feature `metrics`).
pub const INTROSPECTION_CALLS_TOTAL: &str = "tower_jwt_auth_introspection_calls_total";

/// Introspection cache lookups, by `result` = `hit` | `miss` | `coalesced`
/// (feature `metrics`).
pub const INTROSPECTION_CACHE_TOTAL: &str = "tower_jwt_auth_introspection_cache_total";

#[cfg_attr(not(feature = "introspection"), allow(dead_code))]
#[inline]
fn record_call(outcome: &Result<Value, IntrospectError>) {
    #[cfg(feature = "metrics")]
    {
        let result = match outcome {
            Ok(_) => "active",
            Err(e) => match e.kind {
                IntrospectErrorKind::Inactive => "inactive",
                IntrospectErrorKind::Refused(_) => "refused",
                IntrospectErrorKind::Unavailable(_) => "unavailable",
            },
        };
        metrics::counter!(INTROSPECTION_CALLS_TOTAL, "result" => result).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

#[cfg_attr(not(feature = "introspection"), allow(dead_code))]
#[inline]
fn record_lookup(result: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(INTROSPECTION_CACHE_TOTAL, "result" => result).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoCustomClaims;

    const NOW: u64 = 1_800_000_000;

    fn config() -> JwtConfig {
        JwtConfig::new()
            .issuer("https://idp")
            .audience("api")
            .leeway(std::time::Duration::from_secs(5))
    }

    fn decide(body: &str) -> Result<Claims<Value>, IntrospectErrorKind> {
        claims_from_answer::<Value>(body.as_bytes(), &config(), NOW).map_err(|e| e.kind())
    }

    #[test]
    fn an_active_answer_becomes_claims_with_the_client_as_subject() {
        let claims = decide(
            r#"{"active":true,"client_id":"c","exp":1800000060,"aud":["x","api"],"scope":"a b"}"#,
        )
        .unwrap();
        assert_eq!(claims.sub, "c");
        assert_eq!(
            claims.custom["sub"], "c",
            "the payload names the subject too"
        );
        assert_eq!(claims.jti, "");
        assert_eq!(claims.custom["scope"], "a b");
        assert!(claims.custom.get("active").is_none());
        let with_sub =
            decide(r#"{"active":true,"client_id":"c","sub":"alice","exp":1800000060,"aud":"api"}"#)
                .unwrap();
        assert_eq!(with_sub.sub, "alice");
    }

    #[test]
    fn each_check_of_the_answer_refuses() {
        use AuthErrorKind::*;
        use IntrospectErrorKind::*;
        let cases: &[(&str, IntrospectErrorKind)] = &[
            (r#"{"active":false}"#, Inactive),
            (
                r#"{"active":"true","sub":"a","exp":1800000060,"aud":"api"}"#,
                Unavailable(super::Unavailable::Junk),
            ),
            (r#"[1]"#, Unavailable(super::Unavailable::Junk)),
            ("<html>", Unavailable(super::Unavailable::Junk)),
            (
                r#"{"active":true,"sub":"a","exp":1799999995,"aud":"api"}"#,
                Refused(Expired),
            ),
            (
                r#"{"active":true,"sub":"a","exp":1800000060,"nbf":1800000006,"aud":"api"}"#,
                Refused(NotYetValid),
            ),
            (
                r#"{"active":true,"sub":"a","exp":1800000060,"aud":"api","iss":"https://other"}"#,
                Refused(InvalidIssuer),
            ),
            (
                r#"{"active":true,"sub":"a","exp":1800000060,"aud":"other"}"#,
                Refused(InvalidAudience),
            ),
            (
                r#"{"active":true,"sub":"a","exp":1800000060}"#,
                Refused(InvalidAudience),
            ),
            (
                r#"{"active":true,"sub":"a","exp":1800000060,"aud":"api","token_type":"refresh_token"}"#,
                Refused(WrongTokenType),
            ),
            (
                r#"{"active":true,"sub":"a","exp":1800000060,"aud":"api","token_type":"id_token"}"#,
                Refused(WrongTokenType),
            ),
            (
                r#"{"active":true,"sub":"a","aud":"api"}"#,
                Refused(InvalidClaims),
            ),
            (
                r#"{"active":true,"exp":1800000060,"aud":"api"}"#,
                Refused(InvalidClaims),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(decide(body).unwrap_err(), *want, "{body}");
        }
        // Within the leeway, and each access-token name.
        for token_type in [
            "Bearer",
            "DPoP",
            "access_token",
            "urn:ietf:params:oauth:token-type:access_token",
        ] {
            let body = format!(
                r#"{{"active":true,"sub":"a","exp":1799999996,"aud":"api","iss":"https://idp","token_type":"{token_type}"}}"#
            );
            assert!(decide(&body).is_ok(), "{body}");
        }
    }

    #[test]
    fn no_custom_claims_accept_any_answer_members() {
        let claims = claims_from_answer::<NoCustomClaims>(
            br#"{"active":true,"sub":"a","exp":1800000060,"aud":"api","cnf":{"jkt":"x"},"ext":[1]}"#,
            &config(),
            NOW,
        )
        .unwrap();
        assert_eq!(claims.sub, "a");
    }
}
