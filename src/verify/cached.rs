//! The verified-token cache paths: a token seen before skips the signature
//! (and, for the auth layer, the payload parsing); its times and type are checked again.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::Verifier;
use super::checks::check_times;
use crate::binding::{BindingError, Confirmation};
use crate::cache::{Verified, VerifiedCache};
use crate::claims::{Claims, TokenType};
use crate::rejection::{AuthError, AuthErrorKind};

/// Claims the auth layer keeps, with the cache entry they came from (none
/// without a cache), which knows the token's `cnf`.
pub(crate) struct Kept<T> {
    pub(crate) claims: Arc<Claims<T>>,
    entry: Option<Arc<Verified>>,
}

impl<T> Kept<T> {
    /// The claims, and what the cache knows of the token's `cnf`.
    pub(crate) fn into_parts(self) -> (Arc<Claims<T>>, KeptConfirmation) {
        (self.claims, KeptConfirmation(self.entry))
    }
}

/// The cache entry of a kept token, for its `cnf`.
pub(crate) struct KeptConfirmation(Option<Arc<Verified>>);

impl KeptConfirmation {
    /// The token's `cnf` as the cache read it when the token entered;
    /// `None` without a cache (the caller reads it from the token).
    pub(crate) fn get(&self) -> Option<Result<&Confirmation, BindingError>> {
        let entry = self.0.as_ref()?;
        Some(entry.confirmation.as_ref().map_err(|error| *error))
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Kept<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl<T> std::ops::Deref for Kept<T> {
    type Target = Claims<T>;

    fn deref(&self) -> &Claims<T> {
        &self.claims
    }
}

impl Verifier {
    /// As [`verify`](Self::verify), at `now` (seconds since the epoch).
    pub fn verify_at<T: DeserializeOwned>(
        &self,
        token: &str,
        expected: TokenType,
        now: u64,
    ) -> Result<Claims<T>, AuthError> {
        let Some(cache) = &self.inner.cache else {
            let (payload, issuer, _) = self.verify_signed(token, Some(expected))?;
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
        let (payload, issuer, key_epoch) = self.verify_signed(token, Some(expected))?;
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
    ) -> Option<Result<Kept<T>, AuthError>>
    where
        T: Send + Sync + 'static,
    {
        let verified = self.cached(self.inner.cache.as_ref()?, token)?;
        let kept = verified.claims.get()?.downcast_ref::<Arc<Claims<T>>>()?;
        let checked = self.check_kept(verified.issuer, kept, expected);
        Some(checked.map(|claims| Kept {
            claims,
            entry: Some(verified),
        }))
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
    ) -> Result<Kept<T>, AuthError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let Some(cache) = &self.inner.cache else {
            let claims = self.verify(token, expected).map(Arc::new)?;
            return Ok(Kept {
                claims,
                entry: None,
            });
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
                    let claims = self.check_kept(verified.issuer, kept, expected)?;
                    return Ok(Kept {
                        claims,
                        entry: Some(verified),
                    });
                }
                let now = self.inner.issuers[verified.issuer].config.clock.now_secs();
                let claims = self
                    .check_claims::<T>(verified.issuer, &verified.payload, expected, now)
                    .map_err(AuthError::new)?;
                (verified, claims)
            }
            None => {
                let (payload, issuer, key_epoch) = self.verify_signed(token, Some(expected))?;
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
        Ok(Kept {
            claims,
            entry: Some(verified),
        })
    }
}

#[cfg(test)]
mod cache_tests {
    //! The verified-token cache as the verifier uses it: only fully verified
    //! tokens enter, a token differing in any byte is verified in full, the
    //! claims of a cached token are checked at every call, and the bound holds.

    use std::time::Duration;

    use super::*;
    use crate::cache::DEFAULT_VERIFIED_CACHE_CAPACITY;
    use crate::claims::NoCustomClaims;
    use crate::clock::ManualClock;
    use crate::config::JwtConfig;
    use crate::issue::TokenIssuer;
    use crate::keys::{Algorithm, SigningKey, VerifyingKey};
    #[cfg(feature = "jwks")]
    use crate::keys::{KeySource, KeysRefetch};

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
