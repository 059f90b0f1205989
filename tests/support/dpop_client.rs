//! A DPoP client's key and proofs (RFC 9449 §4.2), for tests that drive a
//! server over HTTP. Include with
//! `#[path = "../support/dpop_client.rs"] mod dpop_client;`.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};
use tower_jwt_auth::dpop::access_token_hash;
use tower_jwt_auth::{Algorithm, SigningKey};

pub const ES256_PRIVATE: &[u8] = include_bytes!("../keys/es256_private.pem");
pub const ES256_NEXT_PRIVATE: &[u8] = include_bytes!("../keys/es256_next_private.pem");
pub const ED25519_PRIVATE: &[u8] = include_bytes!("../keys/ed25519_private.pem");

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Signs `header`.`claims` (compact JWS).
pub fn sign(alg: Algorithm, key: &EncodingKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

/// The claims of a JWT, unverified.
pub fn payload(token: &str) -> Value {
    serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// A client's DPoP key.
pub struct ProofKey {
    alg: Algorithm,
    name: &'static str,
    encoding: EncodingKey,
    jwk: Value,
    /// The RFC 7638 thumbprint: what a token bound to it carries in `cnf.jkt`.
    pub jkt: String,
}

impl ProofKey {
    pub fn new(alg: Algorithm, pem: &[u8]) -> Self {
        let signing = SigningKey::from_pem(alg, pem).unwrap();
        let (encoding, name) = match alg {
            Algorithm::EdDSA => (EncodingKey::from_ed_pem(pem).unwrap(), "EdDSA"),
            _ => (EncodingKey::from_ec_pem(pem).unwrap(), "ES256"),
        };
        Self {
            alg,
            name,
            encoding,
            jwk: serde_json::to_value(signing.public_jwk().unwrap()).unwrap(),
            jkt: signing.thumbprint().unwrap(),
        }
    }

    pub fn es256() -> Self {
        Self::new(Algorithm::ES256, ES256_PRIVATE)
    }

    pub fn es256_other() -> Self {
        Self::new(Algorithm::ES256, ES256_NEXT_PRIVATE)
    }

    pub fn ed25519() -> Self {
        Self::new(Algorithm::EdDSA, ED25519_PRIVATE)
    }

    /// A fresh proof for `method` `htu`, with `ath` for `token` when given
    /// (a resource request) and the server's `nonce` when given.
    pub fn proof(
        &self,
        method: &str,
        htu: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        self.proof_with(method, htu, token, nonce, now())
    }

    /// A token-request proof issued at `iat`.
    pub fn proof_at(&self, method: &str, htu: &str, iat: u64) -> String {
        self.proof_with(method, htu, None, None, iat)
    }

    fn proof_with(
        &self,
        method: &str,
        htu: &str,
        token: Option<&str>,
        nonce: Option<&str>,
        iat: u64,
    ) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let mut claims = json!({
            "jti": format!("p-{}-{}-{}", std::process::id(), now(), NEXT.fetch_add(1, Ordering::Relaxed)),
            "htm": method, "htu": htu, "iat": iat,
        });
        if let Some(token) = token {
            claims["ath"] = access_token_hash(token).into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        let header = json!({"typ": "dpop+jwt", "alg": self.name, "jwk": self.jwk});
        sign(self.alg, &self.encoding, &header, &claims)
    }
}
