//! Secrets stay secret: `Debug` of every type that holds a key or a token
//! shows neither, the logs of accepted and rejected requests never contain a
//! token, and HMAC signatures are only ever checked whole.
//!
//! HMAC comparison is constant-time by construction, not by a test: the
//! crate hands the signature to the crypto backend (`aws-lc-rs`
//! `hmac::verify`, or RustCrypto `Mac::verify_slice`, which uses `subtle`),
//! and never compares signature bytes itself. Timing cannot be asserted in a
//! test; what is tested here is that no shortcut (a prefix, a shorter
//! signature) is accepted.

use std::sync::Arc;
use std::time::Duration;

#[path = "../support/log_capture.rs"]
mod log_capture;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Request, StatusCode, header};
use tower::{Layer as _, ServiceExt};
use tower_jwt_auth::{
    Algorithm, JwtAuthLayer, JwtConfig, KeySet, ManualClock, MemoryStore, NoCustomClaims,
    SessionManager, SigningKey, TokenIssuer, TokenType, Verifier, VerifyingKey,
};

const SECRET: &[u8] = b"secrets-test-hmac-secret-DO-NOT-LEAK-0123456789";
const NOW: u64 = 1_800_000_000;

const RSA_PRIVATE: &[u8] = include_bytes!("../keys/attack_rsa.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../keys/attack_rsa.pub.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../keys/attack_ec.pem");
const EC_PUBLIC: &[u8] = include_bytes!("../keys/attack_ec.pub.pem");
const ED_PRIVATE: &[u8] = include_bytes!("../keys/attack_ed.pem");
const ED_PUBLIC: &[u8] = include_bytes!("../keys/attack_ed.pub.pem");

/// The DER inside a PEM.
fn pem_der(pem: &[u8]) -> Vec<u8> {
    let body: String = std::str::from_utf8(pem)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}

/// Every rendering of `secret` a careless `Debug` might print: the text
/// itself, base64 in both alphabets, hex, and a `[48, 130, …]` byte list.
fn renderings(secret: &[u8]) -> Vec<String> {
    let mut out = vec![
        STANDARD.encode(secret)[..16].to_owned(),
        URL_SAFE_NO_PAD.encode(secret)[..16].to_owned(),
        secret[..8].iter().map(|b| format!("{b:02x}")).collect(),
        secret[..8].iter().map(|b| format!("{b:02X}")).collect(),
        format!("{:?}", &secret[..8])
            .trim_end_matches(']')
            .to_owned(),
    ];
    if let Ok(text) = std::str::from_utf8(secret) {
        out.push(text.chars().take(16).collect());
    }
    out
}

fn assert_hides(shown: &str, what: &str, secrets: &[Vec<u8>]) {
    for secret in secrets {
        for rendering in renderings(secret) {
            assert!(
                !shown.contains(&rendering),
                "{what} shows {rendering:?}: {shown}"
            );
        }
    }
}

fn config() -> JwtConfig {
    JwtConfig::new()
        .issuer("secrets-tests")
        .audience("api")
        .clock(ManualClock::at_secs(NOW))
}

#[test]
fn debug_of_keys_never_shows_key_material() {
    let mut secrets = vec![SECRET.to_vec()];
    for pem in [
        RSA_PRIVATE,
        RSA_PUBLIC,
        EC_PRIVATE,
        EC_PUBLIC,
        ED_PRIVATE,
        ED_PUBLIC,
    ] {
        secrets.push(pem.to_vec());
        // A line of the PEM body, as text.
        let body: Vec<&str> = std::str::from_utf8(pem)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        secrets.push(body[body.len() / 2].as_bytes().to_vec());
        // The key bits, past the algorithm identifier that every key of a
        // kind shares.
        secrets.push(pem_der(pem)[pem_der(pem).len() - 24..].to_vec());
    }
    let shown = [
        format!("{:?}", SigningKey::hmac(Algorithm::HS256, SECRET).unwrap()),
        format!(
            "{:?}",
            VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap()
        ),
        format!(
            "{:#?}",
            SigningKey::from_pem(Algorithm::RS256, RSA_PRIVATE).unwrap()
        ),
        format!(
            "{:#?}",
            VerifyingKey::from_pem(Algorithm::RS256, RSA_PUBLIC).unwrap()
        ),
        format!(
            "{:?}",
            SigningKey::from_pem(Algorithm::ES256, EC_PRIVATE).unwrap()
        ),
        format!(
            "{:?}",
            VerifyingKey::from_pem(Algorithm::ES256, EC_PUBLIC).unwrap()
        ),
        format!(
            "{:?}",
            SigningKey::from_pem(Algorithm::EdDSA, ED_PRIVATE).unwrap()
        ),
        format!(
            "{:?}",
            VerifyingKey::from_pem(Algorithm::EdDSA, ED_PUBLIC).unwrap()
        ),
        format!(
            "{:#?}",
            KeySet::new(
                VerifyingKey::hmac(Algorithm::HS256, SECRET)
                    .unwrap()
                    .with_kid("a")
            )
            .with_key(
                VerifyingKey::from_pem(Algorithm::ES256, EC_PUBLIC)
                    .unwrap()
                    .with_kid("b")
            )
            .unwrap()
        ),
    ];
    for shown in &shown {
        assert_hides(shown, "a key", &secrets);
        assert!(shown.contains("algorithm"), "{shown}");
    }
}

#[test]
fn debug_of_configuration_issuer_verifier_layer_and_tokens_shows_no_secret() {
    let issuer = TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config(),
    );
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config(),
    );
    let sessions: SessionManager = SessionManager::new(
        issuer.clone(),
        verifier.clone(),
        Arc::new(MemoryStore::new()),
    );
    // `issuer.pair`, not `sessions.login`: this test emits no `tracing`
    // event, so the log-capture test is alone in touching those callsites.
    let pair = issuer.pair("alice", &NoCustomClaims {}).unwrap();
    let access = verifier
        .verify::<NoCustomClaims>(&pair.access_token, TokenType::Access)
        .unwrap();
    let layer = JwtAuthLayer::new(verifier.clone()).store(MemoryStore::new());
    let service = layer.layer(tower::service_fn(|_: Request<Body>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
    }));
    let body = format!(r#"{{"refresh_token":"{}"}}"#, pair.refresh_token);
    let request = tower_jwt_auth::refresh::RefreshRequest::parse(body.as_bytes()).unwrap();

    let shown = [
        format!("{:#?}", config()),
        format!("{issuer:#?}"),
        format!("{verifier:#?}"),
        format!("{pair:#?}"),
        format!("{layer:#?}"),
        format!("{service:#?}"),
        format!("{sessions:#?}"),
        format!("{:#?}", sessions.refresh_service()),
        format!("{request:#?}"),
        format!("{access:#?}"),
    ];
    let tokens = [pair.access_token.as_bytes(), pair.refresh_token.as_bytes()];
    for shown in &shown {
        assert_hides(shown, "Debug", &[SECRET.to_vec()]);
        for token in tokens {
            let token = std::str::from_utf8(token).unwrap();
            // No segment of a token, signature included.
            for segment in token.split('.') {
                assert!(!shown.contains(segment), "Debug shows a token: {shown}");
            }
        }
    }
    assert!(shown[3].contains("<redacted>"));
}

// ===== logs =====

async fn send(app: &Router, token: Option<&str>) -> StatusCode {
    let mut request = Request::get("/me");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    response.status()
}

async fn refresh(app: &Router, body: String) -> StatusCode {
    let request = Request::post("/auth/refresh")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test(flavor = "current_thread")]
async fn logs_of_accepted_and_rejected_requests_never_contain_a_token() {
    let (capture, _capturing) = log_capture::capture();

    let clock = ManualClock::at_secs(NOW);
    let config = config()
        .clock(clock.clone())
        .access_ttl(Duration::from_secs(60));
    let store = MemoryStore::with_clock(clock.clone());
    let sessions: SessionManager = SessionManager::new(
        TokenIssuer::new(
            SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config.clone(),
        ),
        Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config,
        ),
        Arc::new(store.clone()),
    );
    let app = Router::new()
        .route("/me", get(|| async { "me" }))
        .layer(JwtAuthLayer::new(sessions.verifier().clone()).store(store))
        .route_service("/auth/refresh", sessions.refresh_service());

    let first = sessions.login("alice", &NoCustomClaims {}).await.unwrap();
    let mut tokens = vec![first.access_token.clone(), first.refresh_token.clone()];
    // Accepted.
    assert_eq!(send(&app, Some(&first.access_token)).await, StatusCode::OK);
    // Rejected: a refresh token as an access token, a tampered one, junk.
    assert_eq!(
        send(&app, Some(&first.refresh_token)).await,
        StatusCode::UNAUTHORIZED
    );
    let tampered = format!("{}x", first.access_token);
    assert_eq!(send(&app, Some(&tampered)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&app, Some("not-a-jwt")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(&app, None).await, StatusCode::UNAUTHORIZED);
    // Refresh: rotated, then the old one replayed (which revokes the family).
    let body = |t: &str| format!(r#"{{"refresh_token":"{t}"}}"#);
    assert_eq!(
        refresh(&app, body(&first.refresh_token)).await,
        StatusCode::OK
    );
    assert_eq!(
        refresh(&app, body(&first.refresh_token)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&app, body(&first.access_token)).await,
        StatusCode::UNAUTHORIZED
    );
    // Revoked, then expired.
    assert_eq!(
        send(&app, Some(&first.access_token)).await,
        StatusCode::UNAUTHORIZED
    );
    let second = sessions.login("bob", &NoCustomClaims {}).await.unwrap();
    tokens.extend([second.access_token.clone(), second.refresh_token.clone()]);
    clock.advance_secs(3600);
    assert_eq!(
        send(&app, Some(&second.access_token)).await,
        StatusCode::UNAUTHORIZED
    );

    let logs = capture.text();
    assert!(logs.contains("outcome=\"accepted\""), "{logs}");
    assert!(logs.contains("outcome=\"rejected\""), "{logs}");
    assert!(logs.contains("alice"), "the logs name the subject: {logs}");
    for token in tokens.iter().chain([&tampered]) {
        for segment in token.split('.') {
            assert!(
                !logs.contains(segment),
                "a token segment is in the logs:\n{logs}"
            );
        }
    }
    assert_hides(&logs, "the logs", &[SECRET.to_vec()]);
}

// ===== HMAC: whole signatures only =====

#[test]
fn hmac_signatures_are_only_accepted_whole() {
    for (alg, len) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        let secret = [7u8; 64];
        let issuer = TokenIssuer::new(SigningKey::hmac(alg, &secret).unwrap(), config());
        let verifier = Verifier::new(VerifyingKey::hmac(alg, &secret).unwrap(), config());
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert_eq!(signature.len(), len);
        assert!(verifier.verify_jws(&token).is_ok());
        // Every prefix (a comparison that stops at the shorter input would
        // take one), every single-byte change, and one extra byte.
        for cut in 0..len {
            let short = format!(
                "{signing_input}.{}",
                URL_SAFE_NO_PAD.encode(&signature[..cut])
            );
            assert!(verifier.verify_jws(&short).is_err(), "{alg:?} prefix {cut}");
        }
        for at in 0..len {
            let mut changed = signature.clone();
            changed[at] ^= 1;
            let changed = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&changed));
            assert!(verifier.verify_jws(&changed).is_err(), "{alg:?} byte {at}");
        }
        let longer = [signature.clone(), vec![0]].concat();
        let longer = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(longer));
        assert!(verifier.verify_jws(&longer).is_err());
    }
}
