//! The verifier on arbitrary bytes.
//!
//! The first byte picks the mode:
//! * even: the rest is a token, checked against an HMAC key set (HS256 with a
//!   `kid`, HS384 with another), an ES256 key and an EdDSA key. Nothing the
//!   fuzzer can write is signed by them, so every result must be an error.
//! * odd: the rest is `header JSON \n payload JSON`; the target encodes and
//!   *signs* it with the HS256 key, so the header and claim parsers see
//!   arbitrary JSON behind a valid signature. An accepted token must satisfy
//!   every rule, checked again here independently with `serde_json::Value`.

#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_jwt_auth::{
    Algorithm, JwtConfig, KeySet, ManualClock, NoCustomClaims, TokenType, Verifier, VerifyingKey,
};

const HS256_SECRET: &[u8] = b"fuzz-hs256-secret-of-at-least-32-bytes";
const HS384_SECRET: &[u8] = b"fuzz-hs384-secret-of-at-least-48-bytes-0123456789";
const NOW: u64 = 1_800_000_000;
const LEEWAY: u64 = 5;

struct Fixture {
    hmac: Verifier,
    es256: Verifier,
    eddsa: Verifier,
    signed: Verifier,
    key: EncodingKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let config = JwtConfig::new()
            .issuer("fuzz")
            .audience("api")
            .clock(ManualClock::at_secs(NOW));
        let hmac = KeySet::new(
            VerifyingKey::hmac(Algorithm::HS256, HS256_SECRET)
                .unwrap()
                .with_kid("k1"),
        )
        .with_key(
            VerifyingKey::hmac(Algorithm::HS384, HS384_SECRET)
                .unwrap()
                .with_kid("k2"),
        )
        .unwrap();
        let es256 = VerifyingKey::from_pem(
            Algorithm::ES256,
            include_bytes!("../../tests/keys/attack_ec.pub.pem"),
        )
        .unwrap();
        let eddsa = VerifyingKey::from_pem(
            Algorithm::EdDSA,
            include_bytes!("../../tests/keys/attack_ed.pub.pem"),
        )
        .unwrap();
        Fixture {
            hmac: Verifier::new(hmac, config.clone()),
            es256: Verifier::new(es256, config.clone()),
            eddsa: Verifier::new(eddsa, config.clone()),
            signed: Verifier::new(
                VerifyingKey::hmac(Algorithm::HS256, HS256_SECRET).unwrap(),
                config,
            ),
            key: EncodingKey::from_secret(HS256_SECRET),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    if mode % 2 == 0 {
        let Ok(token) = std::str::from_utf8(rest) else {
            return;
        };
        for verifier in [&fixture.hmac, &fixture.es256, &fixture.eddsa] {
            assert!(verifier.verify_jws(token).is_err(), "forged: {token:?}");
            assert!(
                verifier
                    .verify::<Value>(token, TokenType::Access)
                    .is_err()
            );
        }
        return;
    }

    let (header, payload) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&br#"{"alg":"HS256"}"#[..], rest),
    };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), &fixture.key, Algorithm::HS256)
            .unwrap();
    let token = format!("{signing_input}.{signature}");
    let verified = fixture
        .signed
        .verify::<NoCustomClaims>(&token, TokenType::Access);
    if verified.is_err() {
        return;
    }

    // Accepted: re-check every rule with a plain JSON reading.
    let (Some(header), Some(claims)) = (reference(header), reference(payload)) else {
        return;
    };
    let header = header.as_object().expect("header is an object");
    assert_eq!(header["alg"], "HS256");
    assert!(!header.contains_key("crit"));
    for name in ["kid", "typ"] {
        assert!(header.get(name).is_none_or(Value::is_string), "{name}");
    }
    let claims = claims.as_object().expect("payload is an object");
    let exp = claims["exp"].as_f64().expect("exp is a number");
    assert!(exp + LEEWAY as f64 > NOW as f64, "expired: {exp}");
    if let Some(nbf) = claims.get("nbf") {
        assert!(nbf.as_f64().expect("nbf is a number") <= (NOW + LEEWAY) as f64 + 1.0);
    }
    assert_eq!(claims["iss"], "fuzz");
    match &claims["aud"] {
        Value::String(aud) => assert_eq!(aud, "api"),
        Value::Array(auds) => assert!(auds.iter().any(|a| a == "api")),
        other => panic!("aud {other:?}"),
    }
    assert_eq!(claims["token_type"], "access");
    assert!(claims["sub"].is_string());
    assert!(claims["jti"].is_string());
});

/// The reference reading: `serde_json::Value`. `None` when it refuses a
/// number out of `f64` range, which JSON allows (RFC 8259 §6) and the
/// verifier rightly skips in a member it does not read; any other refusal
/// of an accepted token is a bug.
fn reference(json: &[u8]) -> Option<Value> {
    match serde_json::from_slice(json) {
        Ok(value) => Some(value),
        Err(error) if error.to_string().starts_with("number out of range") => None,
        Err(error) => panic!("accepted, yet not JSON: {error}"),
    }
}
