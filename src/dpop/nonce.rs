//! Stateless server nonces (RFC 9449 §8–9).
//!
//! A nonce is `base64url(t ‖ HMAC-SHA256(secret, label ‖ t)[..16])` with `t`
//! the second it was issued (8 bytes, big-endian). Any instance holding the
//! secret checks it without asking anyone, so instances share no state; a
//! nonce is valid for [`lifetime`](NonceIssuer::lifetime) seconds, and in
//! its last quarter the layer hands out a fresh one with the response.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::jws::B64;
use crate::keys::{Algorithm, KeyError};

/// Domain separation: this secret's HMACs over other data are not nonces.
const LABEL: &[u8] = b"tower-jwt-auth DPoP nonce v1\0";
/// Bytes of the truncated tag.
const TAG_LEN: usize = 16;
/// How far ahead of this clock another instance's nonce may be dated.
const FUTURE_SKEW_SECS: u64 = 5;
/// The default lifetime of a nonce.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(120);

/// What a proof's nonce is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceStatus {
    /// Issued by a holder of the secret, and not old.
    Valid,
    /// Valid, but in the last quarter of its lifetime: send a fresh one.
    RenewSoon,
    /// Expired, dated in the future, or not issued with this secret.
    Invalid,
}

/// Issues and checks server nonces; clones share nothing but the secret.
#[derive(Clone)]
pub struct NonceIssuer {
    mac: Hmac<Sha256>,
    lifetime_secs: u64,
}

impl fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("lifetime_secs", &self.lifetime_secs)
            .finish_non_exhaustive()
    }
}

impl NonceIssuer {
    /// Nonces authenticated with `secret` (at least 32 bytes; give every
    /// instance the same one), valid for [`DEFAULT_NONCE_LIFETIME`].
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < 32 {
            return Err(KeyError::SecretTooShort {
                algorithm: Algorithm::HS256,
                min_len: 32,
            });
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|_| KeyError::WrongKeyType(Algorithm::HS256))?;
        Ok(Self {
            mac,
            lifetime_secs: DEFAULT_NONCE_LIFETIME.as_secs(),
        })
    }

    /// How long a nonce stays valid (at least one second).
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime_secs = lifetime.as_secs().max(1);
        self
    }

    /// The lifetime, in seconds.
    pub const fn lifetime_secs(&self) -> u64 {
        self.lifetime_secs
    }

    fn tag(&self, issued: [u8; 8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(LABEL);
        mac.update(&issued);
        mac
    }

    /// A nonce issued at `now_secs`.
    pub fn issue(&self, now_secs: u64) -> String {
        let issued = now_secs.to_be_bytes();
        let tag = self.tag(issued).finalize().into_bytes();
        let mut bytes = [0u8; 8 + TAG_LEN];
        bytes[..8].copy_from_slice(&issued);
        bytes[8..].copy_from_slice(&tag[..TAG_LEN]);
        B64.encode(bytes)
    }

    /// What `nonce` is worth at `now_secs` (the tag is compared in
    /// constant time).
    pub fn check(&self, nonce: &str, now_secs: u64) -> NonceStatus {
        let mut bytes = [0u8; 8 + TAG_LEN + 1];
        if B64.decode_slice(nonce, &mut bytes) != Ok(8 + TAG_LEN) {
            return NonceStatus::Invalid;
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&bytes[..8]);
        if self
            .tag(issued)
            .verify_truncated_left(&bytes[8..8 + TAG_LEN])
            .is_err()
        {
            return NonceStatus::Invalid;
        }
        let issued = u64::from_be_bytes(issued);
        if issued > now_secs.saturating_add(FUTURE_SKEW_SECS) {
            return NonceStatus::Invalid;
        }
        let age = now_secs.saturating_sub(issued);
        if age >= self.lifetime_secs {
            NonceStatus::Invalid
        } else if age >= self.lifetime_secs - self.lifetime_secs / 4 {
            NonceStatus::RenewSoon
        } else {
            NonceStatus::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn a_nonce_is_valid_until_its_lifetime_ends_and_asks_renewal_in_its_last_quarter() {
        let issuer = NonceIssuer::new(&[1; 32])
            .unwrap()
            .lifetime(Duration::from_secs(100));
        let nonce = issuer.issue(NOW);
        assert_eq!(issuer.check(&nonce, NOW), NonceStatus::Valid);
        assert_eq!(issuer.check(&nonce, NOW + 74), NonceStatus::Valid);
        assert_eq!(issuer.check(&nonce, NOW + 75), NonceStatus::RenewSoon);
        assert_eq!(issuer.check(&nonce, NOW + 99), NonceStatus::RenewSoon);
        assert_eq!(issuer.check(&nonce, NOW + 100), NonceStatus::Invalid);
    }

    #[test]
    fn another_instance_with_the_secret_accepts_it_and_another_secret_does_not() {
        let one = NonceIssuer::new(&[1; 32]).unwrap();
        let two = NonceIssuer::new(&[1; 32]).unwrap();
        let stranger = NonceIssuer::new(&[2; 32]).unwrap();
        let nonce = one.issue(NOW);
        assert_eq!(two.check(&nonce, NOW + 1), NonceStatus::Valid);
        assert_eq!(stranger.check(&nonce, NOW + 1), NonceStatus::Invalid);
    }

    #[test]
    fn tampered_future_dated_and_malformed_nonces_are_invalid() {
        let issuer = NonceIssuer::new(&[1; 32]).unwrap();
        let nonce = issuer.issue(NOW);
        // The timestamp moved without the tag: a later date is not accepted.
        let mut bytes = B64.decode(&nonce).unwrap();
        bytes[7] ^= 1;
        assert_eq!(issuer.check(&B64.encode(&bytes), NOW), NonceStatus::Invalid);
        assert_eq!(
            issuer.check(&issuer.issue(NOW + 6), NOW),
            NonceStatus::Invalid
        );
        assert_eq!(
            issuer.check(&issuer.issue(NOW + 5), NOW),
            NonceStatus::Valid
        );
        for bad in ["", "abc", &format!("{nonce}AA"), &nonce[..nonce.len() - 2]] {
            assert_eq!(issuer.check(bad, NOW), NonceStatus::Invalid, "{bad}");
        }
    }

    #[test]
    fn short_secrets_are_refused_and_debug_shows_no_key() {
        assert!(NonceIssuer::new(&[1; 31]).is_err());
        let issuer = NonceIssuer::new(&[0xAB; 32]).unwrap();
        let debug = format!("{issuer:?}");
        assert!(
            debug.contains("lifetime_secs") && !debug.contains("171"),
            "{debug}"
        );
    }
}
