//! RFC 9701: the introspection answer as a JWT the issuer signed, verified
//! with the issuer's keys before its `token_introspection` claim is read.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::Unavailable;
use crate::claims::Audience;
use crate::config::JwtConfig;
use crate::keys::KeySource;
use crate::profile::TokenProfile;
use crate::rejection::AuthErrorKind;
use crate::verify::Verifier;

/// The media type of a signed answer (RFC 9701 §4), asked for in `Accept`.
pub(crate) const MEDIA_TYPE: &str = "application/token-introspection+jwt";

/// The header `typ` a signed answer must carry (RFC 9701 §5).
const TYP: &str = "token-introspection+jwt";

/// Default oldest signed answer accepted: its `iat` at most this long ago
/// (plus the leeway). An answer is made for one request; an old one is a
/// replay.
pub const DEFAULT_MAX_ANSWER_AGE: Duration = Duration::from_secs(60);

/// The keys and rules signed answers are checked with.
#[derive(Clone, Debug)]
pub(crate) struct SignedAnswers {
    /// Only its JWS layer is used (header, key, `alg`, signature): the
    /// claims of an answer are no token's and are checked here.
    verifier: Verifier,
    max_age: u64,
}

/// The members of a signed answer read here (RFC 9701 §5).
#[derive(Deserialize)]
struct Envelope {
    iss: String,
    aud: Audience,
    iat: u64,
    exp: Option<u64>,
    token_introspection: Value,
}

impl SignedAnswers {
    pub(crate) fn new(keys: KeySource, max_age: Duration) -> Self {
        let config = JwtConfig::new().profile(TokenProfile::generic());
        Self {
            verifier: Verifier::new(keys, config).verified_cache(0),
            max_age: max_age.as_secs(),
        }
    }

    /// The RFC 7662 answer (JSON) inside the signed answer `body`, once the
    /// JWT is checked: header `typ` `token-introspection+jwt`, a signature by
    /// one of the issuer's keys with the key's own algorithm, `iss` the
    /// configured issuer, `aud` naming `client_id`, `iat` neither older than
    /// the maximum age nor in the future (with the leeway), `exp` (optional)
    /// not past. Any failure is [`Unavailable::Unverified`]: the endpoint's
    /// answer cannot be trusted, which says nothing about the token.
    pub(crate) fn open(
        &self,
        body: &[u8],
        client_id: &str,
        config: &JwtConfig,
    ) -> Result<Vec<u8>, Unavailable> {
        let refuse = |why: &'static str| {
            tracing::warn!(reason = why, "introspection: signed answer refused");
            Unavailable::Unverified
        };
        let token = std::str::from_utf8(body)
            .map_err(|_| refuse("not text"))?
            .trim();
        let payload = self
            .verifier
            .verify_jws_typed(token, TYP)
            .map_err(|error| match error.kind() {
                AuthErrorKind::UnsupportedHeader => refuse("typ is not token-introspection+jwt"),
                AuthErrorKind::KeysUnavailable => refuse("the issuer's keys are not available"),
                _ => refuse("not a JWS signed by the issuer's key"),
            })?;
        let envelope: Envelope = serde_json::from_slice(&payload).map_err(|_| refuse("claims"))?;
        let Some(issuer) = config.issuer.as_deref() else {
            return Err(refuse("no issuer configured to check iss against"));
        };
        if envelope.iss != issuer {
            return Err(refuse("iss"));
        }
        if !envelope.aud.contains(client_id) {
            return Err(refuse("aud is not our client id"));
        }
        let now = config.clock.now_secs();
        let leeway = config.leeway_secs;
        if envelope.iat > now.saturating_add(leeway)
            || envelope
                .iat
                .saturating_add(self.max_age)
                .saturating_add(leeway)
                < now
        {
            return Err(refuse("iat not fresh"));
        }
        if envelope
            .exp
            .is_some_and(|exp| exp.saturating_add(leeway) <= now)
        {
            return Err(refuse("exp"));
        }
        if !envelope.token_introspection.is_object() {
            return Err(refuse("token_introspection is no object"));
        }
        serde_json::to_vec(&envelope.token_introspection).map_err(|_| refuse("claims"))
    }
}
