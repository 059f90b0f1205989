//! Logging out a token without `jti` (the generic profile accepts one): it
//! never denies the empty `jti`, which every other `jti`-less token of every
//! user carries. It ends the token's session by `sid`, or is refused.

use super::*;

use tower_jwt_auth::{AuthErrorKind, NoCustomClaims, TokenProfile, TokenType};

/// A verified access token of `sub` without `jti`, in session `sid`.
fn jtiless(clock: &ManualClock, sub: &str, sid: Option<&str>) -> Claims<NoCustomClaims> {
    let mut claims = serde_json::json!({
        "iss": "tests", "aud": "api", "sub": sub, "exp": START + 60, "iat": START,
    });
    if let Some(sid) = sid {
        claims["sid"] = sid.into();
    }
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config(clock).profile(TokenProfile::generic()),
    );
    let claims = verifier
        .verify::<NoCustomClaims>(&token, TokenType::Access)
        .unwrap();
    assert_eq!(
        claims.jti, "",
        "the generic profile keeps a missing jti empty"
    );
    claims
}

fn bobs_jtiless_token_is_revoked(store: &MemoryStore) -> bool {
    store
        .is_revoked(&TokenRef {
            jti: "",
            subject: "bob",
            session: None,
            issued_at_micros: START * 1_000_000,
        })
        .unwrap()
}

#[tokio::test]
async fn logout_of_a_token_without_jti_ends_its_session_by_sid_and_poisons_no_other_token() {
    let f = fixture();
    let alice = jtiless(&f.clock, "alice", Some("alice-session"));
    f.sessions.logout(&alice, None).await.unwrap();
    let alices_session = TokenRef {
        jti: "",
        subject: "alice",
        session: Some("alice-session"),
        issued_at_micros: START * 1_000_000,
    };
    assert!(
        f.store.is_revoked(&alices_session).unwrap(),
        "the session ended"
    );
    assert!(
        !bobs_jtiless_token_is_revoked(&f.store),
        "another user's token without jti is not refused"
    );
}

#[tokio::test]
async fn logout_of_a_token_without_jti_or_sid_is_refused_and_writes_nothing() {
    let f = fixture();
    let alice = jtiless(&f.clock, "alice", None);
    let error = f.sessions.logout(&alice, None).await.unwrap_err();
    assert_eq!(
        error.auth_error().map(|e| e.kind()),
        Some(AuthErrorKind::InvalidClaims),
        "{error}"
    );
    assert!(!bobs_jtiless_token_is_revoked(&f.store));
    assert_eq!(f.store.len(), 0, "nothing was written");
}
