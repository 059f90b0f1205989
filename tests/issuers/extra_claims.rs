//! `TokenIssuer`'s extra claims cannot carry a registered claim the issuer
//! owns but does not write itself (`auth_time`, `sid`, `nbf`, and `iss`/`aud`
//! when not configured): minting fails instead of passing it into the token.

use serde_json::json;
use tower_jwt_auth::{Algorithm, IssueError, JwtConfig, SigningKey, TokenIssuer};

use super::{SECRET_A, clock};

fn issuer(config: JwtConfig) -> TokenIssuer {
    TokenIssuer::new(
        SigningKey::hmac(Algorithm::HS256, SECRET_A).unwrap(),
        config.clock(clock()),
    )
}

#[test]
fn extra_claims_cannot_set_registered_claims_the_issuer_owns() {
    let issuer = issuer(JwtConfig::new());
    for (name, value) in [
        ("auth_time", json!(super::NOW + 86_400)),
        ("sid", json!("another-users-session")),
        ("nbf", json!(0)),
        ("iss", json!("https://someone-else.example")),
        ("aud", json!("another-api")),
    ] {
        let extra = json!({ name: value, "role": "user" });
        assert_eq!(
            issuer.access_token("alice", &extra),
            Err(IssueError::ReservedClaim(name.to_owned())),
            "{name}"
        );
    }
    // In a pair too.
    assert_eq!(
        issuer.pair("alice", &json!({"nbf": 0})).map(drop),
        Err(IssueError::ReservedClaim("nbf".to_owned()))
    );
}

#[test]
fn extra_claims_without_registered_names_mint_as_before() {
    let issuer = issuer(JwtConfig::new().issuer("https://idp.test").audience("api"));
    issuer
        .access_token("alice", &json!({"role": "user", "scope": "read"}))
        .unwrap();
    issuer.pair("alice", &json!({"role": "user"})).unwrap();
}
