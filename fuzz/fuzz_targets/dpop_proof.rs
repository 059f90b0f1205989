//! The DPoP proof check (`tower_jwt_auth::dpop::check_proof`) on arbitrary
//! proofs, against a fixed request: `GET https://api.example.com/notes` at
//! a fixed time, presenting a fixed access token.
//!
//! The first byte picks the mode:
//! * even: the rest is the proof. Checked against the request bound to the
//!   fixture's ES256 key (`cnf.jkt`), it must always fail: nothing the
//!   fuzzer writes is signed by that key. Unbound, it may pass only with a
//!   key the fuzzer embedded, and then must satisfy every claim rule.
//! * odd: the rest is `header JSON \n claims JSON`; the target encodes it
//!   and *signs* it with the fixture's ES256 key (seeds embed its public
//!   JWK), so the header and claim readers see arbitrary JSON behind a valid
//!   signature. An accepted proof is checked again with `serde_json::Value`.

#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Method;
use jsonwebtoken::EncodingKey;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_jwt_auth::dpop::{
    DpopConfig, ProofRequest, VerifiedProof, access_token_hash, check_proof,
};
use tower_jwt_auth::{Algorithm, SigningKey};

const NOW: u64 = 1_800_000_000;
const HTU: &str = "https://api.example.com/notes";
const TOKEN: &str = "the.access.token";
const PEM: &[u8] = include_bytes!("../../tests/keys/es256_private.pem");
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k", "r", "t"];

struct Fixture {
    config: DpopConfig,
    jkt: String,
    key: EncodingKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        config: DpopConfig::new(),
        jkt: SigningKey::from_pem(Algorithm::ES256, PEM)
            .unwrap()
            .thumbprint()
            .unwrap(),
        key: EncodingKey::from_ec_pem(PEM).unwrap(),
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    let request = ProofRequest::new(&Method::GET, HTU, NOW).access_token(TOKEN);
    let bound = request.bound_to(&fixture.jkt);
    if mode % 2 == 0 {
        let Ok(proof) = std::str::from_utf8(rest) else {
            return;
        };
        assert!(
            check_proof(&fixture.config, proof, &bound).is_err(),
            "forged: {proof:?}"
        );
        if let Ok(verified) = check_proof(&fixture.config, proof, &request) {
            recheck(proof, &verified);
        }
        return;
    }

    let (header, claims) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => return,
    };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), &fixture.key, Algorithm::ES256)
            .unwrap();
    let proof = format!("{signing_input}.{signature}");
    let unbound = check_proof(&fixture.config, &proof, &request);
    let checked = check_proof(&fixture.config, &proof, &bound);
    if let Ok(verified) = &checked {
        // Signed by the fixture's key: accepted only under its own JWK.
        assert_eq!(verified.jkt(), fixture.jkt);
        assert_eq!(unbound.as_ref(), Ok(verified));
        recheck(&proof, verified);
    }
    if let Ok(verified) = &unbound {
        recheck(&proof, verified);
    }
});

/// An accepted proof, read again with `serde_json::Value`: every rule of
/// RFC 9449 §4.3 the check enforces holds.
fn recheck(proof: &str, verified: &VerifiedProof) {
    let mut parts = proof.split('.');
    let (Some(header), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        panic!("accepted, yet not a compact JWS: {proof:?}");
    };
    let (Some(header), Some(claims)) = (decode(header), decode(claims)) else {
        return;
    };
    let header = header.as_object().expect("header is an object");
    let typ = header["typ"].as_str().expect("typ").to_ascii_lowercase();
    assert!(typ == "dpop+jwt" || typ == "application/dpop+jwt", "{typ}");
    assert!(!header.contains_key("crit"));
    let alg = header["alg"].as_str().expect("alg");
    assert!(!alg.starts_with("HS") && alg != "none", "{alg}");
    let jwk = header["jwk"].as_object().expect("jwk");
    for member in PRIVATE_MEMBERS {
        assert!(!jwk.contains_key(*member), "private {member}");
    }

    let claims = claims.as_object().expect("claims are an object");
    let jti = claims["jti"].as_str().expect("jti");
    assert!(!jti.is_empty() && jti.len() <= 128, "{jti:?}");
    assert_eq!(claims["htm"], "GET");
    assert!(claims["htu"].is_string());
    let iat = claims["iat"].as_f64().expect("iat");
    assert!(
        iat >= (NOW - 60) as f64 - 1.0 && iat <= (NOW + 5) as f64 + 1.0,
        "{iat}"
    );
    assert_eq!(
        claims["ath"].as_str(),
        Some(access_token_hash(TOKEN).as_str())
    );
    assert!(!verified.renew_nonce());
    let ttl = verified.replay_ttl().as_secs();
    assert!((1..=67).contains(&ttl), "{ttl}");
    assert!(!verified.replay_key().is_empty());
}

/// A segment as `serde_json::Value`; `None` when `Value` refuses a number
/// out of `f64` range (RFC 8259 §6), a malformed `\u` escape (lone
/// surrogate, short hex) or bytes that are not UTF-8 inside a string:
/// serde_json skips a member the check does not read without checking
/// these. Any other refusal is a bug.
fn decode(segment: &str) -> Option<Value> {
    let json = URL_SAFE_NO_PAD
        .decode(segment)
        .expect("accepted, yet not base64url");
    match serde_json::from_slice(&json) {
        Ok(value) => Some(value),
        Err(error)
            if error.to_string().starts_with("number out of range")
                || error.to_string().contains("escape")
                || std::str::from_utf8(&json).is_err() =>
        {
            None
        }
        Err(error) => panic!("accepted, yet not JSON: {error}"),
    }
}
