//! Tokens that show they are something other than an access token — an ID
//! token, a logout or event token, a refresh token (an identity provider's or
//! our own) — are refused by the generic profile, unless the profile opts out.

use jsonwebtoken::Header;
use serde_json::{Value, json};
use tower_jwt_auth::{
    Algorithm, AuthErrorKind, JwtConfig, NoCustomClaims, SigningKey, TokenIssuer, TokenProfile,
    TokenType, Verifier, VerifyingKey,
};

use super::{
    ES256_PRIVATE, ES256_PUBLIC, NOW, SECRET_A, accepted, app, clock, generic_app, hs256, refused,
    sign_es, sign_hs,
};

/// An access token of a typical provider, as the generic profile takes it.
fn access_claims() -> Value {
    json!({"sub": "u-1", "exp": NOW + 60, "aud": "api", "iat": NOW})
}

fn with(claim: &str, value: Value) -> Value {
    let mut claims = access_claims();
    claims[claim] = value;
    claims
}

async fn refused_generic(claims: &Value) -> AuthErrorKind {
    let app = generic_app(TokenProfile::generic());
    refused(&app, &sign_hs(SECRET_A, hs256(), claims)).await
}

#[tokio::test]
async fn the_generic_profile_still_accepts_a_plain_access_token() {
    let app = generic_app(TokenProfile::generic());
    accepted(&app, &sign_hs(SECRET_A, hs256(), &access_claims())).await;
    for (claim, value) in [
        ("token_use", json!("access")),
        ("typ", json!("Bearer")),
        ("token_type", json!("access")),
        ("type", json!("access")),
    ] {
        let token = sign_hs(SECRET_A, hs256(), &with(claim, value.clone()));
        accepted(&app, &token).await;
    }
}

#[tokio::test]
async fn the_generic_profile_refuses_id_tokens_by_nonce_at_hash_or_c_hash() {
    for claim in ["nonce", "at_hash", "c_hash"] {
        assert_eq!(
            refused_generic(&with(claim, json!("n-0S6_WzA2Mj"))).await,
            AuthErrorKind::WrongTokenType,
            "{claim}"
        );
    }
}

#[tokio::test]
async fn the_generic_profile_refuses_a_cognito_token_use_other_than_access() {
    for value in [json!("id"), json!("refresh"), json!(1)] {
        assert_eq!(
            refused_generic(&with("token_use", value.clone())).await,
            AuthErrorKind::WrongTokenType,
            "{value}"
        );
    }
}

#[tokio::test]
async fn the_generic_profile_refuses_keycloak_id_and_refresh_typ_claims() {
    for value in ["ID", "Refresh", "Offline", "Logout", "id"] {
        assert_eq!(
            refused_generic(&with("typ", json!(value))).await,
            AuthErrorKind::WrongTokenType,
            "{value}"
        );
    }
}

#[tokio::test]
async fn the_generic_profile_refuses_a_token_type_typ_or_type_claim_naming_a_refresh_token() {
    for claim in ["token_type", "typ", "type"] {
        for value in ["refresh", "Refresh", "refresh_token"] {
            assert_eq!(
                refused_generic(&with(claim, json!(value))).await,
                AuthErrorKind::WrongTokenType,
                "{claim}: {value}"
            );
        }
    }
}

#[tokio::test]
async fn the_generic_profile_refuses_a_token_shaped_as_the_demos_refresh_token() {
    // The demo's refresh token, claim for claim: header `typ: JWT`,
    // `token_type: refresh`, a session id and `auth_time`.
    let claims = json!({
        "iss": "http://127.0.0.1:3000", "sub": "alice", "aud": "api", "exp": NOW + 86_400,
        "iat": NOW, "iat_us": NOW * 1_000_000, "jti": "3q2-7wEAAAA", "sid": "s-1",
        "auth_time": NOW, "token_type": "refresh", "roles": ["user"],
    });
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("JWT".into());
    let app = app(Verifier::new(
        VerifyingKey::from_pem(Algorithm::ES256, ES256_PUBLIC).unwrap(),
        JwtConfig::new()
            .audience("api")
            .profile(TokenProfile::generic())
            .clock(clock()),
    ));
    assert_eq!(
        refused(&app, &sign_es(header, &claims)).await,
        AuthErrorKind::WrongTokenType
    );
}

#[tokio::test]
async fn the_generic_profile_refuses_our_issuers_refresh_token() {
    let config = JwtConfig::new().audience("api").clock(clock());
    let issuer = TokenIssuer::new(
        SigningKey::from_pem(Algorithm::ES256, ES256_PRIVATE).unwrap(),
        config.clone(),
    );
    let pair = issuer.pair("alice", &NoCustomClaims {}).unwrap();
    let app = app(Verifier::new(
        VerifyingKey::from_pem(Algorithm::ES256, ES256_PUBLIC).unwrap(),
        config.profile(TokenProfile::generic()),
    ));
    accepted(&app, &pair.access_token).await;
    assert_eq!(
        refused(&app, &pair.refresh_token).await,
        AuthErrorKind::WrongTokenType
    );
}

#[tokio::test]
async fn a_header_typ_naming_another_kind_is_refused_in_any_spelling() {
    let app = generic_app(TokenProfile::generic());
    for typ in [
        "id_token+jwt",
        "logout+jwt",
        "secevent+jwt",
        "dpop+jwt",
        "application/ID_TOKEN+JWT",
        "Application/Logout+JWT",
    ] {
        let mut header = hs256();
        header.typ = Some(typ.into());
        let token = sign_hs(SECRET_A, header, &access_claims());
        assert_eq!(
            refused(&app, &token).await,
            AuthErrorKind::UnsupportedHeader,
            "{typ}"
        );
    }
    // Media types compare case-insensitively, `application/` optional
    // (RFC 7515 §4.1.9).
    for typ in [
        "jwt",
        "JWT",
        "application/jwt",
        "AT+JWT",
        "application/at+JWT",
    ] {
        let mut header = hs256();
        header.typ = Some(typ.into());
        accepted(&app, &sign_hs(SECRET_A, header, &access_claims())).await;
    }
}

// ===== this crate's own tokens =====

fn header_typ(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["typ"].as_str().map(str::to_owned)
}

fn own_issuer_and_verifier() -> (TokenIssuer, Verifier) {
    let config = JwtConfig::new().audience("api").clock(clock());
    (
        TokenIssuer::new(
            SigningKey::from_pem(Algorithm::ES256, ES256_PRIVATE).unwrap(),
            config.clone(),
        ),
        Verifier::new(
            VerifyingKey::from_pem(Algorithm::ES256, ES256_PUBLIC).unwrap(),
            config,
        ),
    )
}

#[test]
fn our_refresh_tokens_carry_their_own_typ_and_still_verify_as_refresh_tokens() {
    let (issuer, verifier) = own_issuer_and_verifier();
    let pair = issuer.pair("alice", &NoCustomClaims {}).unwrap();
    assert_eq!(header_typ(&pair.access_token).as_deref(), Some("JWT"));
    assert_eq!(
        header_typ(&pair.refresh_token).as_deref(),
        Some("refresh+jwt")
    );
    verifier
        .verify::<NoCustomClaims>(&pair.refresh_token, TokenType::Refresh)
        .unwrap();
    verifier
        .verify::<NoCustomClaims>(&pair.access_token, TokenType::Access)
        .unwrap();
    // Verified (and cached) as a refresh token first, it is still no access
    // token.
    let as_access = verifier
        .verify::<NoCustomClaims>(&pair.refresh_token, TokenType::Access)
        .unwrap_err();
    assert_eq!(as_access.kind(), AuthErrorKind::WrongTokenType);
}

#[test]
fn a_refresh_jwt_header_is_no_access_token_whatever_its_claims_say() {
    // Signed with our key, `typ: refresh+jwt` but `token_type: access`: the
    // header alone refuses it as an access token.
    let secret = b"a refresh-typ test secret of 32 bytes!!";
    let config = JwtConfig::new().clock(clock());
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, secret).unwrap(),
        config,
    );
    let mut header = hs256();
    header.typ = Some("Refresh+JWT".into());
    let claims = json!({"sub": "u", "exp": NOW + 60, "jti": "j", "token_type": "access"});
    let token = super::sign_hs(secret, header, &claims);
    let error = verifier
        .verify::<NoCustomClaims>(&token, TokenType::Access)
        .unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::WrongTokenType);
}

#[tokio::test]
async fn the_opt_out_accepts_tokens_that_carry_another_kinds_claims() {
    let app = generic_app(TokenProfile::generic().refuse_other_token_kinds(false));
    for (claim, value) in [
        ("nonce", json!("n-0S6_WzA2Mj")),
        ("token_use", json!("id")),
        ("typ", json!("ID")),
        ("token_type", json!("refresh")),
    ] {
        accepted(&app, &sign_hs(SECRET_A, hs256(), &with(claim, value))).await;
    }
}

#[tokio::test]
async fn the_issuer_mints_rfc9068_at_jwt_access_tokens_on_request() {
    let config = JwtConfig::new()
        .issuer("https://idp.test")
        .audience("https://api.test")
        .clock(clock());
    let issuer = TokenIssuer::new(
        SigningKey::from_pem(Algorithm::ES256, ES256_PRIVATE).unwrap(),
        config.clone(),
    )
    .at_jwt(true);
    let custom = json!({"client_id": "client-1", "scope": "read:ping"});
    let token = issuer.access_token("client-1", &custom).unwrap();
    assert_eq!(header_typ(&token).as_deref(), Some("at+jwt"));
    let pair = issuer.pair("alice", &custom).unwrap();
    assert_eq!(header_typ(&pair.access_token).as_deref(), Some("at+jwt"));
    assert_eq!(
        header_typ(&pair.refresh_token).as_deref(),
        Some("refresh+jwt")
    );
    // Our own verifier and an RFC 9068 one both take it.
    let own = Verifier::new(
        VerifyingKey::from_pem(Algorithm::ES256, ES256_PUBLIC).unwrap(),
        config,
    );
    own.verify::<NoCustomClaims>(&token, TokenType::Access)
        .unwrap();
    let payload = accepted(&super::rfc9068_app(), &token).await;
    assert_eq!(payload["client_id"], "client-1");
    // Off again, `JWT`.
    let plain = issuer.at_jwt(false).access_token("alice", &custom).unwrap();
    assert_eq!(header_typ(&plain).as_deref(), Some("JWT"));
}
