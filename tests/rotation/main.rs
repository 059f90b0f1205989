//! Signing-key rotation without logouts, with a controlled clock: a restart
//! with a new current key and the old one retired keeps every token of the
//! old key working (access, refresh, refresh rotation), new tokens carry the
//! new `kid`, the JWK Set lists both, and the old key leaves on schedule.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tower_jwt_auth::{
    Algorithm, JwtConfig, KeyRing, ManualClock, MemoryStore, NoCustomClaims, SessionManager,
    SigningKey, TokenIssuer, TokenType, Verifier, VerifyingKey,
};

const START: u64 = 1_900_000_000;
const OLD_PRIVATE: &[u8] = include_bytes!("../keys/es256_private.pem");
const OLD_PUBLIC: &[u8] = include_bytes!("../keys/es256_public.pem");
const NEW_PRIVATE: &[u8] = include_bytes!("../keys/es256_next_private.pem");

fn config(clock: &ManualClock) -> JwtConfig {
    JwtConfig::new()
        .issuer("https://auth.test")
        .audience("api")
        .access_ttl(Duration::from_secs(300))
        .refresh_ttl(Duration::from_secs(3600))
        .session_lifetime(Duration::from_secs(7200))
        .clock(clock.clone())
}

/// One process's sessions over `ring`, sharing `store` across "restarts".
fn sessions(ring: &KeyRing, config: &JwtConfig, store: &Arc<MemoryStore>) -> SessionManager {
    let issuer = TokenIssuer::new(ring.signing_key().clone(), config.clone());
    let verifier = Verifier::new(ring.key_set().unwrap().unwrap(), config.clone());
    SessionManager::new(issuer, verifier, store.clone())
}

fn key(pem: &[u8]) -> SigningKey {
    SigningKey::from_pem(Algorithm::ES256, pem).unwrap()
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

fn kids(ring: &KeyRing) -> Vec<String> {
    let set: Value =
        serde_json::from_slice(ring.jwk_set(Duration::from_secs(300)).unwrap().document()).unwrap();
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_restart_with_a_new_key_keeps_the_old_keys_tokens_working() {
    let clock = ManualClock::at_secs(START);
    let config = config(&clock);
    let store = Arc::new(MemoryStore::new());

    // Before the restart: the old key signs.
    let before = KeyRing::new(key(OLD_PRIVATE), &config);
    let old_sessions = sessions(&before, &config, &store);
    let pair = old_sessions
        .login("alice", &NoCustomClaims {})
        .await
        .unwrap();
    let old_kid = kid_of(&pair.access_token);
    assert_eq!(old_kid, key(OLD_PRIVATE).thumbprint().unwrap());

    // The restart, a minute later: the new key is current, the old one is
    // retired (it stopped signing now).
    clock.advance_secs(60);
    let mut after = KeyRing::new(key(NEW_PRIVATE), &config);
    after.retire(
        &VerifyingKey::from_pem(Algorithm::ES256, OLD_PUBLIC).unwrap(),
        START + 60,
    );
    let new_sessions = sessions(&after, &config, &store);

    // The old access token still verifies …
    let claims = new_sessions
        .verifier()
        .verify::<NoCustomClaims>(&pair.access_token, TokenType::Access)
        .unwrap();
    assert_eq!(claims.sub, "alice");
    // … and the old refresh token rotates, into tokens of the new key.
    let rotated = new_sessions.refresh(&pair.refresh_token).await.unwrap();
    let new_kid = kid_of(&rotated.access_token);
    assert_eq!(new_kid, key(NEW_PRIVATE).thumbprint().unwrap());
    assert_ne!(new_kid, old_kid);
    assert_eq!(kid_of(&rotated.refresh_token), new_kid);
    // The JWK Set publishes both.
    assert_eq!(kids(&after), vec![new_kid.clone(), old_kid.clone()]);

    // The retired key leaves once the longest lifetime (the session, 2 h)
    // plus leeway has passed since it stopped signing — not before.
    let leaves_at = START + 60 + 7200 + config.leeway_secs();
    assert_eq!(after.retired_until(), vec![leaves_at]);
    after.prune(leaves_at - 1);
    assert_eq!(kids(&after).len(), 2);
    after.prune(leaves_at);
    assert_eq!(kids(&after), vec![new_kid]);
    let pruned = Verifier::new(after.key_set().unwrap().unwrap(), config.clone());
    assert!(
        pruned
            .verify::<NoCustomClaims>(&pair.access_token, TokenType::Access)
            .is_err(),
        "the old key no longer verifies"
    );
}

#[tokio::test]
async fn a_staged_key_is_published_before_it_signs() {
    let clock = ManualClock::at_secs(START);
    let config = config(&clock);
    let mut ring = KeyRing::new(key(OLD_PRIVATE), &config);
    let old_kid = key(OLD_PRIVATE).thumbprint().unwrap();
    let new_kid = key(NEW_PRIVATE).thumbprint().unwrap();
    assert_eq!(kids(&ring), vec![old_kid.clone()]);

    ring.stage(key(NEW_PRIVATE));
    assert_eq!(kids(&ring), vec![old_kid.clone(), new_kid.clone()]);
    assert_eq!(
        ring.signing_key().thumbprint().unwrap(),
        old_kid,
        "still signing with the old key"
    );

    ring.rotate(START + 300).unwrap();
    assert_eq!(ring.signing_key().thumbprint().unwrap(), new_kid);
    assert_eq!(kids(&ring), vec![new_kid, old_kid]);
    assert_eq!(
        ring.rotate(START + 600).unwrap_err(),
        tower_jwt_auth::KeyRingError::NothingStaged
    );
}

#[test]
fn an_hmac_ring_publishes_nothing() {
    let clock = ManualClock::at_secs(START);
    let ring = KeyRing::new(
        SigningKey::hmac(Algorithm::HS256, b"a secret of at least thirty-two bytes!").unwrap(),
        &config(&clock),
    );
    assert!(ring.jwk_set(Duration::from_secs(300)).is_none());
    assert!(ring.key_set().is_none());
}
