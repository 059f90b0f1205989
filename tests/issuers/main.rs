//! Token profiles (this crate's own, RFC 9068, generic, with renamed subject
//! and type claims) and several trusted issuers, through the real layer.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Map, Value, json};
use tower::ServiceExt;
mod extra_claims;
mod kinds;
mod revocation_scope;

use tower_jwt_auth::{
    Algorithm, AuthErrorKind, Claims, JwtAuthLayer, JwtConfig, TokenProfile, Verifier, VerifyingKey,
};

const NOW: u64 = 1_900_000_000;
const SECRET_A: &[u8] = b"issuer A's secret of at least 32 bytes!!";
const SECRET_B: &[u8] = b"issuer B's secret of at least 32 bytes!!";
const ES256_PRIVATE: &[u8] = include_bytes!("../keys/es256_private.pem");
const ES256_PUBLIC: &[u8] = include_bytes!("../keys/es256_public.pem");

fn clock() -> tower_jwt_auth::ManualClock {
    tower_jwt_auth::ManualClock::at_secs(NOW)
}

fn sign_hs(secret: &[u8], header: Header, claims: &Value) -> String {
    encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn hs256() -> Header {
    Header::new(jsonwebtoken::Algorithm::HS256)
}

fn at_jwt() -> Header {
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header
}

fn sign_es(header: Header, claims: &Value) -> String {
    encode(
        &header,
        claims,
        &EncodingKey::from_ec_pem(ES256_PRIVATE).unwrap(),
    )
    .unwrap()
}

type Payload = Map<String, Value>;

/// `/me` echoes the verified payload, as a verify-only service does.
fn app(verifier: Verifier) -> Router {
    async fn me(claims: Claims<Payload>) -> axum::Json<Value> {
        let mut payload = claims.custom.clone();
        payload.insert("verified_subject".into(), claims.sub.clone().into());
        axum::Json(Value::Object(payload))
    }
    Router::new()
        .route("/me", get(me))
        .layer(JwtAuthLayer::new(verifier).claims::<Payload>())
}

async fn send(app: &Router, token: &str) -> http::Response<Body> {
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap()
}

async fn accepted(app: &Router, token: &str) -> Value {
    let response = send(app, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

async fn refused(app: &Router, token: &str) -> AuthErrorKind {
    let response = send(app, token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
    response
        .extensions()
        .get::<tower_jwt_auth::AuthError>()
        .unwrap()
        .kind()
}

// ===== profiles =====

fn rfc9068_app() -> Router {
    let config = JwtConfig::new()
        .issuer("https://idp.test")
        .audience("https://api.test")
        .profile(TokenProfile::rfc9068())
        .clock(clock());
    app(Verifier::new(
        VerifyingKey::from_pem(Algorithm::ES256, ES256_PUBLIC).unwrap(),
        config,
    ))
}

fn rfc9068_claims() -> Value {
    json!({
        "iss": "https://idp.test", "aud": "https://api.test", "sub": "client-1",
        "client_id": "client-1", "iat": NOW, "exp": NOW + 60, "jti": "j-1",
        "scope": "read:ping",
    })
}

#[tokio::test]
async fn rfc9068_access_tokens_verify_and_reach_the_handler_whole() {
    let payload = accepted(&rfc9068_app(), &sign_es(at_jwt(), &rfc9068_claims())).await;
    assert_eq!(payload["client_id"], "client-1");
    assert_eq!(payload["scope"], "read:ping");
    assert_eq!(payload["verified_subject"], "client-1");
}

#[tokio::test]
async fn rfc9068_refuses_a_token_whose_typ_is_not_at_jwt_such_as_an_id_token() {
    let app = rfc9068_app();
    let mut jwt = Header::new(jsonwebtoken::Algorithm::ES256);
    jwt.typ = Some("JWT".into());
    assert_eq!(
        refused(&app, &sign_es(jwt, &rfc9068_claims())).await,
        AuthErrorKind::UnsupportedHeader
    );
    let mut none = Header::new(jsonwebtoken::Algorithm::ES256);
    none.typ = None;
    assert_eq!(
        refused(&app, &sign_es(none, &rfc9068_claims())).await,
        AuthErrorKind::UnsupportedHeader
    );
}

#[tokio::test]
async fn rfc9068_requires_each_of_its_claims() {
    let app = rfc9068_app();
    for (claim, kind) in [
        ("iss", AuthErrorKind::InvalidIssuer),
        ("aud", AuthErrorKind::InvalidAudience),
        ("sub", AuthErrorKind::InvalidClaims),
        ("client_id", AuthErrorKind::InvalidClaims),
        ("iat", AuthErrorKind::InvalidClaims),
        ("jti", AuthErrorKind::InvalidClaims),
        ("exp", AuthErrorKind::InvalidClaims),
    ] {
        let mut claims = rfc9068_claims();
        claims.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            refused(&app, &sign_es(at_jwt(), &claims)).await,
            kind,
            "{claim}"
        );
    }
}

fn generic_app(profile: TokenProfile) -> Router {
    let config = JwtConfig::new()
        .audience("api")
        .profile(profile)
        .clock(clock());
    app(Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET_A).unwrap(),
        config,
    ))
}

#[tokio::test]
async fn generic_profile_needs_only_exp_and_the_subject() {
    let app = generic_app(TokenProfile::generic());
    let token = sign_hs(
        SECRET_A,
        hs256(),
        &json!({"sub": "u-1", "exp": NOW + 60, "aud": "api"}),
    );
    assert_eq!(accepted(&app, &token).await["verified_subject"], "u-1");
    let no_subject = sign_hs(SECRET_A, hs256(), &json!({"exp": NOW + 60, "aud": "api"}));
    assert_eq!(
        refused(&app, &no_subject).await,
        AuthErrorKind::InvalidClaims
    );
    let no_exp = sign_hs(SECRET_A, hs256(), &json!({"sub": "u-1", "aud": "api"}));
    assert_eq!(refused(&app, &no_exp).await, AuthErrorKind::InvalidClaims);
}

#[tokio::test]
async fn simplejwt_shaped_tokens_verify_with_user_id_and_their_refresh_tokens_are_refused() {
    let app = generic_app(
        TokenProfile::generic()
            .subject_claim("user_id")
            .token_type_claim("token_type", "access", "refresh"),
    );
    let access = json!({
        "token_type": "access", "exp": NOW + 300, "iat": NOW, "jti": "a1b2", "user_id": 42,
        "aud": "api",
    });
    let payload = accepted(&app, &sign_hs(SECRET_A, hs256(), &access)).await;
    assert_eq!(payload["verified_subject"], "42");
    assert_eq!(payload["user_id"], 42);
    let mut refresh = access.clone();
    refresh["token_type"] = "refresh".into();
    assert_eq!(
        refused(&app, &sign_hs(SECRET_A, hs256(), &refresh)).await,
        AuthErrorKind::WrongTokenType
    );
    let mut untyped = access;
    untyped.as_object_mut().unwrap().remove("token_type");
    assert_eq!(
        refused(&app, &sign_hs(SECRET_A, hs256(), &untyped)).await,
        AuthErrorKind::InvalidClaims
    );
}

#[tokio::test]
async fn authx_shaped_tokens_with_float_dates_verify_and_their_refresh_tokens_are_refused() {
    let app = generic_app(TokenProfile::generic().token_type_claim("type", "access", "refresh"));
    let access = json!({
        "sub": "alice", "type": "access", "fresh": false, "csrf": "",
        "iat": NOW as f64 + 0.25, "nbf": NOW as f64 - 0.5, "exp": NOW as f64 + 900.75,
        "jti": "2b8f", "aud": "api",
    });
    let payload = accepted(&app, &sign_hs(SECRET_A, hs256(), &access)).await;
    assert_eq!(payload["verified_subject"], "alice");
    let mut refresh = access.clone();
    refresh["type"] = "refresh".into();
    assert_eq!(
        refused(&app, &sign_hs(SECRET_A, hs256(), &refresh)).await,
        AuthErrorKind::WrongTokenType
    );
    let mut expired = access;
    expired["exp"] = json!(NOW as f64 - 10.5);
    assert_eq!(
        refused(&app, &sign_hs(SECRET_A, hs256(), &expired)).await,
        AuthErrorKind::Expired
    );
}

#[tokio::test]
async fn a_token_without_jti_verifies_under_the_generic_profile_only() {
    let claims = json!({"sub": "u", "exp": NOW + 60, "aud": ["fastapi-users:auth", "api"]});
    let token = sign_hs(SECRET_A, hs256(), &claims);
    accepted(&generic_app(TokenProfile::generic()), &token).await;
    assert_eq!(
        refused(
            &generic_app(TokenProfile::generic().require_jti(true)),
            &token
        )
        .await,
        AuthErrorKind::InvalidClaims
    );

    // The other profiles refuse it for the missing `jti` alone: given what
    // else each wants, it passes once it has one.
    let own = generic_app(TokenProfile::own());
    let mut typed = claims.clone();
    typed["token_type"] = "access".into();
    assert_eq!(
        refused(&own, &sign_hs(SECRET_A, hs256(), &typed)).await,
        AuthErrorKind::InvalidClaims
    );
    typed["jti"] = "j-1".into();
    accepted(&own, &sign_hs(SECRET_A, hs256(), &typed)).await;

    let rfc9068 = rfc9068_app();
    let mut without_jti = rfc9068_claims();
    without_jti.as_object_mut().unwrap().remove("jti");
    assert_eq!(
        refused(&rfc9068, &sign_es(at_jwt(), &without_jti)).await,
        AuthErrorKind::InvalidClaims
    );
    accepted(&rfc9068, &sign_es(at_jwt(), &rfc9068_claims())).await;
}

// ===== several issuers =====

fn two_issuers() -> Router {
    let a = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET_A).unwrap(),
        JwtConfig::new()
            .issuer("https://a.test")
            .audience("api")
            .profile(TokenProfile::generic())
            .clock(clock()),
    );
    let b = Verifier::new(
        VerifyingKey::from_pem(Algorithm::ES256, ES256_PUBLIC).unwrap(),
        JwtConfig::new()
            .issuer("https://b.test")
            .audience("b-api")
            .profile(TokenProfile::generic())
            .clock(clock()),
    );
    app(Verifier::any_of([a, b]).unwrap())
}

fn claims_of(iss: Option<&str>, aud: &str) -> Value {
    let mut claims = json!({"sub": "u", "exp": NOW + 60, "aud": aud});
    if let Some(iss) = iss {
        claims["iss"] = iss.into();
    }
    claims
}

#[tokio::test]
async fn each_trusted_issuer_verifies_with_its_own_keys_and_audience() {
    let app = two_issuers();
    let from_a = sign_hs(SECRET_A, hs256(), &claims_of(Some("https://a.test"), "api"));
    assert_eq!(accepted(&app, &from_a).await["iss"], "https://a.test");
    let mut es = Header::new(jsonwebtoken::Algorithm::ES256);
    es.typ = None;
    let from_b = sign_es(es.clone(), &claims_of(Some("https://b.test"), "b-api"));
    assert_eq!(accepted(&app, &from_b).await["iss"], "https://b.test");
    // B's token with A's audience: B's audience applies to B's tokens.
    let wrong_audience = sign_es(es, &claims_of(Some("https://b.test"), "api"));
    assert_eq!(
        refused(&app, &wrong_audience).await,
        AuthErrorKind::InvalidAudience
    );
}

#[tokio::test]
async fn unknown_or_missing_iss_is_refused_among_several_issuers() {
    let app = two_issuers();
    let unknown = sign_hs(SECRET_A, hs256(), &claims_of(Some("https://c.test"), "api"));
    assert_eq!(refused(&app, &unknown).await, AuthErrorKind::InvalidIssuer);
    let missing = sign_hs(SECRET_A, hs256(), &claims_of(None, "api"));
    assert_eq!(refused(&app, &missing).await, AuthErrorKind::InvalidIssuer);
}

#[tokio::test]
async fn a_token_naming_issuer_a_but_signed_by_issuer_bs_key_is_refused() {
    let app = two_issuers();
    // B's ES256 key, but `iss` says A: only A's (HS256) key is consulted.
    let mut es = Header::new(jsonwebtoken::Algorithm::ES256);
    es.typ = None;
    let forged = sign_es(es, &claims_of(Some("https://a.test"), "api"));
    assert_eq!(
        refused(&app, &forged).await,
        AuthErrorKind::AlgorithmMismatch
    );
    // And a secret other than A's under A's name.
    let forged = sign_hs(SECRET_B, hs256(), &claims_of(Some("https://a.test"), "api"));
    assert_eq!(
        refused(&app, &forged).await,
        AuthErrorKind::InvalidSignature
    );
}

#[test]
fn several_issuers_must_each_name_a_distinct_issuer() {
    let key = || VerifyingKey::hmac(Algorithm::HS256, SECRET_A).unwrap();
    let named = || Verifier::new(key(), JwtConfig::new().issuer("https://a.test"));
    let unnamed = Verifier::new(key(), JwtConfig::new());
    assert_eq!(
        Verifier::any_of([named(), unnamed]).unwrap_err(),
        tower_jwt_auth::IssuersError::MissingIssuer
    );
    assert!(matches!(
        Verifier::any_of([named(), named()]).unwrap_err(),
        tower_jwt_auth::IssuersError::DuplicateIssuer(_)
    ));
    assert_eq!(
        Verifier::any_of([]).unwrap_err(),
        tower_jwt_auth::IssuersError::Empty
    );
}

/// Issue 26 item 4: a key set fetched from elsewhere may sign for many
/// issuers (Entra ID's `common` keys sign every tenant's tokens), so a
/// verifier of remote keys with no issuer would check no `iss` at all: the
/// checked constructor and the multi-issuer one refuse it when built.
#[cfg(feature = "jwks")]
#[tokio::test]
async fn remote_keys_without_an_issuer_are_refused_when_the_verifier_is_built() {
    use tower_jwt_auth::IssuersError;
    use tower_jwt_auth::jwks::RemoteJwks;

    // Nothing listens on loopback port 9: the set never holds a key.
    let remote = || {
        RemoteJwks::builder("http://127.0.0.1:9/jwks")
            .allow_http(true)
            .build()
            .unwrap()
    };
    let unnamed = || JwtConfig::new().audience("api");
    assert_eq!(
        Verifier::try_new(remote(), unnamed()).unwrap_err(),
        IssuersError::RemoteKeysWithoutIssuer
    );
    assert_eq!(
        Verifier::any_of([Verifier::new(remote(), unnamed())]).unwrap_err(),
        IssuersError::RemoteKeysWithoutIssuer
    );
    let local = || VerifyingKey::hmac(Algorithm::HS256, SECRET_A).unwrap();
    let named_local = Verifier::new(local(), JwtConfig::new().issuer("https://a.test"));
    assert_eq!(
        Verifier::any_of([named_local, Verifier::new(remote(), unnamed())]).unwrap_err(),
        IssuersError::RemoteKeysWithoutIssuer
    );
    assert!(
        IssuersError::RemoteKeysWithoutIssuer
            .to_string()
            .contains("issuer")
    );

    // Named, remote keys are fine; local keys may go unnamed.
    let tenant = Verifier::try_new(remote(), unnamed().issuer("https://tenant-a.test")).unwrap();
    assert_eq!(
        tenant.issuer_names().collect::<Vec<_>>(),
        ["https://tenant-a.test"]
    );
    assert!(Verifier::try_new(local(), unnamed()).is_ok());
}
