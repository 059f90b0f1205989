//! The verified-token cache behind the auth layer: a token the layer has
//! accepted (and so cached) is still refused once revoked or expired.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode, header};
use tower::{Layer, ServiceExt};
use tower_jwt_auth::{
    Algorithm, JwtAuthLayer, JwtConfig, ManualClock, MemoryStore, NoCustomClaims, RevocationStore,
    SigningKey, TokenIssuer, TokenType, Verifier, VerifyingKey,
};

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

struct Setup {
    issuer: TokenIssuer,
    verifier: Verifier,
    store: Arc<MemoryStore>,
    clock: ManualClock,
}

fn setup() -> Setup {
    let clock = ManualClock::at_secs(1_800_000_000);
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
    assert!(
        verifier.verified_cache_capacity() > 0,
        "on by default for ES256"
    );
    Setup {
        issuer,
        verifier,
        store: Arc::new(MemoryStore::new()),
        clock,
    }
}

async fn status(setup: &Setup, token: &str) -> (StatusCode, bool) {
    let service = JwtAuthLayer::new(setup.verifier.clone())
        .shared_store(Arc::clone(&setup.store) as Arc<dyn RevocationStore>)
        .layer(tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let request = Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(String::new())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer"));
    (response.status(), challenge)
}

/// A fresh access token for alice, accepted once, so the cache holds it.
async fn cached_token(setup: &Setup) -> String {
    let token = setup
        .issuer
        .access_token("alice", &NoCustomClaims {})
        .unwrap();
    assert_eq!(status(setup, &token).await.0, StatusCode::OK);
    token
}

#[tokio::test]
async fn a_cached_token_is_refused_once_revoked() {
    let setup = setup();
    let token = cached_token(&setup).await;
    assert_eq!(status(&setup, &token).await.0, StatusCode::OK, "cached");

    let claims = setup
        .verifier
        .verify::<NoCustomClaims>(&token, TokenType::Access)
        .unwrap();
    setup
        .store
        .revoke_token(&claims.jti, claims.exp)
        .await
        .unwrap();
    assert_eq!(
        status(&setup, &token).await,
        (StatusCode::UNAUTHORIZED, true)
    );
}

#[tokio::test]
async fn a_cached_token_is_refused_once_expired() {
    let setup = setup();
    let token = cached_token(&setup).await;
    setup.clock.advance_secs(61);
    assert_eq!(
        status(&setup, &token).await,
        (StatusCode::UNAUTHORIZED, true)
    );
}

#[tokio::test]
async fn a_forged_signature_on_a_cached_token_is_refused() {
    let setup = setup();
    let token = cached_token(&setup).await;
    // The cached token's claims with another token's signature.
    let other = setup
        .issuer
        .access_token("mallory", &NoCustomClaims {})
        .unwrap();
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    let (_, signature) = other.rsplit_once('.').unwrap();
    let forged = format!("{signing_input}.{signature}");
    assert_eq!(
        status(&setup, &forged).await,
        (StatusCode::UNAUTHORIZED, true)
    );
}

/// More clients than the old cache's generation (2 048) held, each with its
/// own token: the security checks still run on every request of every one.
#[tokio::test]
async fn with_thousands_of_cached_clients_revocation_and_expiry_still_apply() {
    let setup = setup();
    let tokens: Vec<String> = (0..3000)
        .map(|i| {
            setup
                .issuer
                .access_token(&format!("client-{i}"), &NoCustomClaims {})
                .unwrap()
        })
        .collect();
    for _ in 0..2 {
        for token in &tokens {
            assert_eq!(status(&setup, token).await.0, StatusCode::OK);
        }
    }

    let revoked = &tokens[1234];
    let claims = setup
        .verifier
        .verify::<NoCustomClaims>(revoked, TokenType::Access)
        .unwrap();
    setup
        .store
        .revoke_token(&claims.jti, claims.exp)
        .await
        .unwrap();
    for (i, token) in tokens.iter().enumerate() {
        let expected = if i == 1234 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(status(&setup, token).await.0, expected, "client {i}");
    }

    setup.clock.advance_secs(61);
    for token in tokens.iter().step_by(7) {
        assert_eq!(
            status(&setup, token).await,
            (StatusCode::UNAUTHORIZED, true)
        );
    }
}
