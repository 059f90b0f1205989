//! Step 7 of the check: the claims of a payload whose signature was verified
//! (times, issuer, audience, token type, what the profile requires).

use serde::de::{DeserializeOwned, DeserializeSeed};

use super::Verifier;
use super::registered::RegisteredSeed;
use crate::claims::{Claims, TokenType};
use crate::config::JwtConfig;
use crate::rejection::AuthErrorKind;

impl Verifier {
    /// Step 7, on a payload whose signature has been verified by issuer
    /// `issuer`'s keys.
    pub(super) fn check_claims<T: DeserializeOwned>(
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
pub(super) fn check_times(
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
