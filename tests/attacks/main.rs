//! The attack corpus: hostile tokens generated in code, each sent through the
//! real layer (`oneshot` on an axum `Router`) and each refused with 401,
//! `WWW-Authenticate: Bearer error="invalid_token"` and an empty body (the
//! client never learns why).
//!
//! Four configurations are attacked: HS256 (a key set whose key has the `kid`
//! `k1`), RS256, ES256 and EdDSA, with the keys in `tests/keys/attack_*.pem`.
//! The attacker's own keys are `tests/keys/attack_evil_*.pem`. Payload-level
//! attacks (duplicate claims, nesting, invalid UTF-8) are signed with the
//! *real* key, so they show the parser refusing them even behind a valid
//! signature.
//!
//! `cargo test --test attacks -- --nocapture` prints the number of cases per
//! category; `corpus_size` prints the total.

use std::net::TcpListener;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use http::{HeaderValue, Request, StatusCode, header};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::{
    Algorithm, AuthError, AuthErrorKind, JwtAuthLayer, JwtConfig, KeySet, ManualClock,
    NoCustomClaims, SigningKey, TokenType, Verifier, VerifyingKey,
};

#[cfg(feature = "aws_lc_rs")]
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER as PROVIDER;
#[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as PROVIDER;

const NOW: u64 = 1_800_000_000;
const HS_SECRET: &[u8] = b"attack-corpus-hs256-secret-32-bytes!!";
const EVIL_SECRET: &[u8] = b"the-attacker-s-own-hmac-secret-32-bytes";
const HS_KID: &str = "k1";

// ===== the four configurations =====

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Hs,
    Rs,
    Es,
    Ed,
}

const TARGETS: [Target; 4] = [Target::Hs, Target::Rs, Target::Es, Target::Ed];
const ASYMMETRIC: [Target; 3] = [Target::Rs, Target::Es, Target::Ed];

impl Target {
    fn alg(self) -> Algorithm {
        match self {
            Self::Hs => Algorithm::HS256,
            Self::Rs => Algorithm::RS256,
            Self::Es => Algorithm::ES256,
            Self::Ed => Algorithm::EdDSA,
        }
    }

    fn alg_name(self) -> &'static str {
        match self {
            Self::Hs => "HS256",
            Self::Rs => "RS256",
            Self::Es => "ES256",
            Self::Ed => "EdDSA",
        }
    }

    fn public_pem(self) -> &'static [u8] {
        match self {
            Self::Hs => unreachable!("HMAC has no public key"),
            Self::Rs => include_bytes!("../keys/attack_rsa.pub.pem"),
            Self::Es => include_bytes!("../keys/attack_ec.pub.pem"),
            Self::Ed => include_bytes!("../keys/attack_ed.pub.pem"),
        }
    }

    fn public_der(self) -> &'static [u8] {
        match self {
            Self::Hs => unreachable!("HMAC has no public key"),
            Self::Rs => include_bytes!("../keys/attack_rsa.pub.der"),
            Self::Es => include_bytes!("../keys/attack_ec.pub.der"),
            Self::Ed => include_bytes!("../keys/attack_ed.pub.der"),
        }
    }

    /// The legitimate signing key.
    fn key(self) -> EncodingKey {
        match self {
            Self::Hs => EncodingKey::from_secret(HS_SECRET),
            Self::Rs => {
                EncodingKey::from_rsa_pem(include_bytes!("../keys/attack_rsa.pem")).unwrap()
            }
            Self::Es => EncodingKey::from_ec_pem(include_bytes!("../keys/attack_ec.pem")).unwrap(),
            Self::Ed => EncodingKey::from_ed_pem(include_bytes!("../keys/attack_ed.pem")).unwrap(),
        }
    }

    /// The attacker's key of the same kind.
    fn evil_key(self) -> EncodingKey {
        match self {
            Self::Hs => EncodingKey::from_secret(EVIL_SECRET),
            Self::Rs => {
                EncodingKey::from_rsa_pem(include_bytes!("../keys/attack_evil_rsa.pem")).unwrap()
            }
            Self::Es => {
                EncodingKey::from_ec_pem(include_bytes!("../keys/attack_evil_ec.pem")).unwrap()
            }
            Self::Ed => {
                EncodingKey::from_ed_pem(include_bytes!("../keys/attack_evil_ed.pem")).unwrap()
            }
        }
    }

    fn evil_public_der(self) -> &'static [u8] {
        match self {
            Self::Hs => EVIL_SECRET,
            Self::Rs => include_bytes!("../keys/attack_evil_rsa.pub.der"),
            Self::Es => include_bytes!("../keys/attack_evil_ec.pub.der"),
            Self::Ed => include_bytes!("../keys/attack_evil_ed.pub.der"),
        }
    }

    fn keys(self) -> KeySet {
        match self {
            Self::Hs => KeySet::new(
                VerifyingKey::hmac(Algorithm::HS256, HS_SECRET)
                    .unwrap()
                    .with_kid(HS_KID),
            ),
            _ => KeySet::new(VerifyingKey::from_pem(self.alg(), self.public_pem()).unwrap()),
        }
    }

    /// The header of a legitimate token.
    fn header(self) -> Value {
        match self {
            Self::Hs => json!({ "alg": "HS256", "typ": "JWT", "kid": HS_KID }),
            _ => json!({ "alg": self.alg_name(), "typ": "JWT" }),
        }
    }
}

fn config() -> JwtConfig {
    JwtConfig::new()
        .issuer("attack-tests")
        .audience("api")
        .clock(ManualClock::at_secs(NOW))
}

fn verifier(target: Target) -> Verifier {
    Verifier::new(target.keys(), config())
}

fn app_with(verifier: Verifier) -> Router {
    Router::new()
        .route("/", get(|| async { "reached the handler" }))
        .layer(JwtAuthLayer::new(verifier).claims::<Value>())
}

fn app(target: Target) -> Router {
    app_with(verifier(target))
}

/// Claims a legitimate access token carries.
fn claims() -> Value {
    json!({
        "iss": "attack-tests",
        "sub": "mallory",
        "aud": "api",
        "exp": NOW + 300,
        "iat": NOW,
        "jti": "attack-jti",
        "token_type": "access",
    })
}

// ===== encoding and signing =====

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(alg: Algorithm, key: &EncodingKey, message: &[u8]) -> Vec<u8> {
    (PROVIDER.signer_factory)(&alg, key)
        .unwrap()
        .try_sign(message)
        .unwrap()
}

/// `b64(header).b64(payload).b64(signature)`, signed with `key` under `alg`.
fn jws(header: &[u8], payload: &[u8], alg: Algorithm, key: &EncodingKey) -> String {
    let signing_input = format!("{}.{}", b64(header), b64(payload));
    let signature = sign(alg, key, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&signature))
}

/// Raw header and payload bytes, signed with the target's real key.
fn signed_raw(target: Target, header: &[u8], payload: &[u8]) -> String {
    jws(header, payload, target.alg(), &target.key())
}

fn signed(target: Target, header: &Value, payload: &Value) -> String {
    signed_raw(
        target,
        header.to_string().as_bytes(),
        payload.to_string().as_bytes(),
    )
}

fn legit(target: Target) -> String {
    signed(target, &target.header(), &claims())
}

fn unsigned(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    )
}

// ===== cases and the runner =====

struct Case {
    name: String,
    target: Target,
    token: Vec<u8>,
}

fn case(name: impl Into<String>, target: Target, token: impl Into<Vec<u8>>) -> Case {
    Case {
        name: name.into(),
        target,
        token: token.into(),
    }
}

async fn send(app: &Router, token: &[u8]) -> http::Response<Body> {
    let value = HeaderValue::from_bytes(&[b"Bearer ".as_slice(), token].concat())
        .expect("every case can be sent in a header");
    let request = Request::get("/")
        .header(header::AUTHORIZATION, value)
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap()
}

/// Sends every case to its configuration's layer and checks the refusal.
/// `not_because` lists reasons that would make a case pass for the wrong
/// reason (a payload attack signed with the real key must not fail on its
/// signature). Prints the reasons seen; returns the number of cases.
async fn assert_all_rejected(
    category: &str,
    cases: Vec<Case>,
    not_because: &[AuthErrorKind],
) -> usize {
    assert!(!cases.is_empty());
    let apps: Vec<(Target, Router)> = TARGETS.iter().map(|&t| (t, app(t))).collect();
    let mut reasons: Vec<(AuthErrorKind, usize)> = Vec::new();
    for case in &cases {
        let app = &apps.iter().find(|(t, _)| *t == case.target).unwrap().1;
        let kind = assert_rejected(app, case).await;
        assert!(
            !not_because.contains(&kind),
            "{} ({:?}) was refused as {kind:?}",
            case.name,
            case.target
        );
        match reasons.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => reasons.push((kind, 1)),
        }
    }
    println!(
        "{category}: {} cases rejected; reasons {reasons:?}",
        cases.len()
    );
    cases.len()
}

/// 401, the bare `invalid_token` challenge, an empty body; returns the
/// reason the layer logged (from the response extensions, which the client
/// never sees).
async fn assert_rejected(app: &Router, case: &Case) -> AuthErrorKind {
    let response = send(app, &case.token).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "{} ({:?})",
        case.name,
        case.target
    );
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\"",
        "{}",
        case.name
    );
    let kind = response.extensions().get::<AuthError>().unwrap().kind();
    let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
    assert!(body.is_empty(), "{}: the body says {body:?}", case.name);
    kind
}

// ===== the control: the fixtures accept what they should =====

#[tokio::test]
async fn legitimate_tokens_are_accepted_by_every_configuration() {
    for target in TARGETS {
        let response = send(&app(target), legit(target).as_bytes()).await;
        assert_eq!(response.status(), StatusCode::OK, "{target:?}");
    }
}

// ===== the categories =====

/// Every upper/lower-case spelling of `none`, and near misses, with an
/// empty, a garbage and a stolen signature; plus `alg` absent or not a string.
fn none_alg_cases() -> Vec<Case> {
    let mut spellings: Vec<String> = (0..16u32)
        .map(|mask| {
            "none"
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask & (1 << i) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        })
        .collect();
    for extra in [
        "none ", " none", "none\0", "none\t", "", "None\n", "nonE.", "\u{0}",
    ] {
        spellings.push(extra.to_owned());
    }
    let mut cases = Vec::new();
    for target in TARGETS {
        let stolen = legit(target).rsplit('.').next().unwrap().to_owned();
        for spelling in &spellings {
            let header = json!({ "alg": spelling, "typ": "JWT" });
            for signature in ["", "c2lnbmF0dXJl", stolen.as_str()] {
                cases.push(case(
                    format!("alg {spelling:?}, signature {signature:?}"),
                    target,
                    unsigned(&header, &claims(), signature),
                ));
            }
        }
        for alg in [
            Value::Null,
            json!(["none"]),
            json!({ "none": true }),
            json!(0),
            json!(false),
        ] {
            let header = json!({ "alg": alg, "typ": "JWT" });
            cases.push(case(
                format!("alg {alg}"),
                target,
                unsigned(&header, &claims(), ""),
            ));
        }
        cases.push(case(
            "no alg",
            target,
            unsigned(&json!({ "typ": "JWT" }), &claims(), ""),
        ));
    }
    cases
}

#[tokio::test]
async fn alg_none_in_every_spelling_is_rejected() {
    assert_all_rejected("alg none", none_alg_cases(), &[]).await;
}

/// The classic confusion: HS256/384/512 keyed with the *public* key of an
/// RS/ES/EdDSA configuration, in every form an attacker might guess.
fn hmac_with_public_key_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for target in ASYMMETRIC {
        let pem = target.public_pem();
        let pem_str = std::str::from_utf8(pem).unwrap();
        let forms: Vec<(&str, Vec<u8>)> = vec![
            ("pem", pem.to_vec()),
            (
                "pem without newline",
                pem_str.trim_end().as_bytes().to_vec(),
            ),
            ("pem with crlf", pem_str.replace('\n', "\r\n").into_bytes()),
            ("der", target.public_der().to_vec()),
            (
                "base64 der",
                STANDARD.encode(target.public_der()).into_bytes(),
            ),
            (
                "pem body",
                pem_str
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>()
                    .into_bytes(),
            ),
        ];
        for (alg, alg_name) in [
            (Algorithm::HS256, "HS256"),
            (Algorithm::HS384, "HS384"),
            (Algorithm::HS512, "HS512"),
        ] {
            for (form, secret) in &forms {
                let header = json!({ "alg": alg_name, "typ": "JWT" });
                let token = jws(
                    header.to_string().as_bytes(),
                    claims().to_string().as_bytes(),
                    alg,
                    &EncodingKey::from_secret(secret),
                );
                cases.push(case(format!("{alg_name} keyed with {form}"), target, token));
            }
        }
    }
    cases
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_rejected() {
    assert_all_rejected(
        "HS* with a public key",
        hmac_with_public_key_cases(),
        &[AuthErrorKind::InvalidSignature],
    )
    .await;
}

fn hostile_kids() -> Vec<String> {
    let mut kids: Vec<String> = [
        "../../../../../../../../dev/null",
        "/dev/null",
        "../keys/attack_rsa.pub.pem",
        "..\\..\\..\\windows\\win.ini",
        "file:///etc/passwd",
        "http://127.0.0.1/key",
        "' OR '1'='1",
        "k1' OR '1'='1' --",
        "1; DROP TABLE keys; --",
        "x\" UNION SELECT 'secret' --",
        "$(cat /etc/passwd)",
        "`id`",
        "k1; rm -rf /",
        "| nc 127.0.0.1 4444",
        "",
        " ",
        "k1\0",
        "K1",
        "k1 ",
        "%6B1",
        "k1\n",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    kids.push("k".repeat(4000));
    kids
}

/// `kid` values that would traverse paths, inject SQL or shell, or be empty.
/// Against the HS256 key set, each is signed with an empty secret (what
/// `/dev/null` holds), the attacker's secret, the `kid` itself (what a SQL
/// injection would return) and even the real secret; against the others,
/// with the attacker's key.
fn kid_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for kid in hostile_kids() {
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
        for (secret_name, secret) in [
            ("empty secret", &b""[..]),
            ("attacker secret", EVIL_SECRET),
            ("kid as secret", kid.as_bytes()),
            ("real secret", HS_SECRET),
        ] {
            let token = jws(
                header.to_string().as_bytes(),
                claims().to_string().as_bytes(),
                Algorithm::HS256,
                &EncodingKey::from_secret(secret),
            );
            cases.push(case(
                format!("kid {kid:.40?} with {secret_name}"),
                Target::Hs,
                token,
            ));
        }
        for target in ASYMMETRIC {
            let header = json!({ "alg": target.alg_name(), "kid": kid });
            let token = jws(
                header.to_string().as_bytes(),
                claims().to_string().as_bytes(),
                target.alg(),
                &target.evil_key(),
            );
            cases.push(case(format!("kid {kid:.40?} with evil key"), target, token));
        }
    }
    cases
}

#[tokio::test]
async fn hostile_kid_values_are_rejected() {
    assert_all_rejected("hostile kid", kid_cases(), &[]).await;
}

/// A JWK of the attacker's key, as an attacker would embed it.
fn evil_jwk(target: Target) -> Value {
    match target {
        Target::Hs => json!({ "kty": "oct", "k": b64(EVIL_SECRET) }),
        _ => {
            serde_json::to_value(Jwk::from_encoding_key(&target.evil_key(), target.alg()).unwrap())
                .unwrap()
        }
    }
}

/// Headers carrying the attacker's key (`jwk`), or pointing at it (`jku`,
/// `x5u` on a loopback listener that must never be contacted), or carrying
/// a certificate chain (`x5c`), each signed with the attacker's key.
fn embedded_key_cases(listener_port: u16) -> Vec<Case> {
    let jku = format!("http://127.0.0.1:{listener_port}/jwks.json");
    let x5u = format!("http://127.0.0.1:{listener_port}/cert.pem");
    let mut cases = Vec::new();
    for target in TARGETS {
        let x5c = json!([STANDARD.encode(target.evil_public_der())]);
        let extras = [
            ("jwk", json!({ "jwk": evil_jwk(target) })),
            ("jku", json!({ "jku": jku })),
            ("x5u", json!({ "x5u": x5u })),
            ("x5c", json!({ "x5c": x5c })),
            (
                "all four",
                json!({ "jwk": evil_jwk(target), "jku": jku, "x5u": x5u, "x5c": x5c }),
            ),
        ];
        for (name, extra) in extras {
            let mut header = target.header();
            header
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let token = jws(
                header.to_string().as_bytes(),
                claims().to_string().as_bytes(),
                target.alg(),
                &target.evil_key(),
            );
            cases.push(case(format!("embedded {name}"), target, token));
        }
        // The attacker's key of another algorithm, embedded and used.
        for other in TARGETS.into_iter().filter(|&o| o != target) {
            let header = json!({ "alg": other.alg_name(), "jwk": evil_jwk(other) });
            let token = jws(
                header.to_string().as_bytes(),
                claims().to_string().as_bytes(),
                other.alg(),
                &other.evil_key(),
            );
            cases.push(case(
                format!("embedded {:?} jwk used", other),
                target,
                token,
            ));
        }
    }
    cases
}

/// How long after the requests a fetch of a `jku`/`x5u` URL (from a task
/// the request left behind) still counts as one. Not a timing assertion: a
/// connection within it fails the test, none passes it.
const LATE_FETCH_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_jwk_jku_x5u_x5c_are_never_trusted_nor_fetched() {
    // The URLs the headers name: a listener that counts every connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (connections, mut seen) = tokio::sync::watch::channel(0_usize);
    let counting = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            connections.send_modify(|n| *n += 1);
        }
    });
    assert_all_rejected("embedded keys", embedded_key_cases(port), &[]).await;
    // No request above went to the URLs the headers named, nor a task it
    // left running within the window.
    let fetched = tokio::time::timeout(LATE_FETCH_WINDOW, seen.wait_for(|n| *n > 0))
        .await
        .is_ok();
    assert!(
        !fetched,
        "something connected to the jku/x5u listener: {} connections",
        *seen.borrow()
    );
    // The listener did count: a connection of the test's own shows as one.
    let _probe = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        seen.wait_for(|n| *n == 1),
    )
    .await
    .expect("the probe was counted")
    .unwrap();
    counting.abort();
}

/// A signature length in bytes for each algorithm.
fn signature_len(target: Target) -> usize {
    match target {
        Target::Hs => 32,
        Target::Rs => 256,
        Target::Es | Target::Ed => 64,
    }
}

/// ES256's r‖s as an ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }`.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut bytes = bytes
            .iter()
            .skip_while(|&&b| b == 0)
            .copied()
            .collect::<Vec<_>>();
        if bytes.first().is_none_or(|&b| b >= 0x80) {
            bytes.insert(0, 0);
        }
        [vec![0x02, bytes.len() as u8], bytes].concat()
    }
    let body = [integer(&raw[..32]), integer(&raw[32..])].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

/// Null, truncated, extended, bit-flipped, re-encoded and borrowed
/// signatures on otherwise legitimate tokens.
fn signature_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for target in TARGETS {
        let token = legit(target);
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let len = signature_len(target);
        let with = |sig: &str| format!("{signing_input}.{sig}");
        let mut flipped_first = raw.clone();
        flipped_first[0] ^= 0x80;
        let mut flipped_last = raw.clone();
        *flipped_last.last_mut().unwrap() ^= 0x01;
        let other_payload = json!({ "sub": "someone else", "exp": NOW + 300 });
        let other = signed(target, &target.header(), &other_payload);
        let borrowed = other.rsplit('.').next().unwrap();
        let mut variants: Vec<(&str, String)> = vec![
            ("empty", with("")),
            ("one char", with("A")),
            ("one zero byte", with(&b64(&[0]))),
            ("null bytes", with(&b64(&vec![0; len]))),
            ("null bytes, double length", with(&b64(&vec![0; 2 * len]))),
            ("0xff bytes", with(&b64(&vec![0xff; len]))),
            ("last char dropped", with(&signature[..signature.len() - 1])),
            (
                "last four chars dropped",
                with(&signature[..signature.len() - 4]),
            ),
            ("first half", with(&signature[..signature.len() / 2])),
            ("last byte dropped", with(&b64(&raw[..raw.len() - 1]))),
            (
                "zero byte appended",
                with(&b64(&[raw.clone(), vec![0]].concat())),
            ),
            ("doubled", with(&b64(&[raw.clone(), raw.clone()].concat()))),
            ("first bit flipped", with(&b64(&flipped_first))),
            ("last bit flipped", with(&b64(&flipped_last))),
            ("from another token", with(borrowed)),
            ("base64 of base64", with(&b64(signature.as_bytes()))),
            ("missing segment", signing_input.to_owned()),
        ];
        if target == Target::Es {
            variants.push(("DER instead of r||s", with(&b64(&ecdsa_der(&raw)))));
            // CVE-2022-21449: r = s = 0.
            variants.push(("r = s = 0 in DER", with(&b64(&[0x30, 6, 2, 1, 0, 2, 1, 0]))));
        }
        for (name, token) in variants {
            cases.push(case(format!("signature {name}"), target, token));
        }
    }
    cases
}

#[tokio::test]
async fn null_truncated_and_tampered_signatures_are_rejected() {
    assert_all_rejected("signatures", signature_cases(), &[]).await;
}

const HMAC_ALGS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

/// Empty, one-byte and one-short-of-the-minimum secrets of each HMAC
/// algorithm.
fn short_hmac_secrets() -> Vec<(Algorithm, Vec<u8>)> {
    HMAC_ALGS
        .into_iter()
        .flat_map(|alg| {
            let min = tower_jwt_auth::min_hmac_secret_len(alg);
            [vec![], vec![0x61], vec![0x61; min - 1]].map(|secret| (alg, secret))
        })
        .collect()
}

/// Each way to build an HMAC key; `true` when it refuses the secret.
type Construction = (&'static str, fn(Algorithm, &[u8]) -> bool);
const HMAC_CONSTRUCTIONS: [Construction; 3] = [
    ("SigningKey::hmac", |alg, secret| {
        SigningKey::hmac(alg, secret).is_err()
    }),
    ("VerifyingKey::hmac", |alg, secret| {
        VerifyingKey::hmac(alg, secret).is_err()
    }),
    ("VerifyingKey::from_decoding_key", |alg, secret| {
        VerifyingKey::from_decoding_key(alg, &DecodingKey::from_secret(secret)).is_err()
    }),
];

#[test]
fn empty_and_short_hmac_keys_are_refused_at_construction() {
    let mut checked = 0;
    for (alg, secret) in short_hmac_secrets() {
        for (name, refuses) in HMAC_CONSTRUCTIONS {
            assert!(refuses(alg, &secret), "{name} {alg:?} {}", secret.len());
            checked += 1;
        }
    }
    for alg in HMAC_ALGS {
        let min = tower_jwt_auth::min_hmac_secret_len(alg);
        assert!(SigningKey::hmac(alg, &vec![0x61; min]).is_ok());
    }
    println!("empty or short HMAC keys: {checked} constructions refused");
}

/// Member names given twice in the header or the payload, signed with the
/// real key: no parser may pick one of two values.
fn duplicate_key_cases() -> Vec<Case> {
    let valid = r#""iss":"attack-tests","aud":"api","jti":"j","token_type":"access""#;
    let future = NOW + 300;
    let past = NOW - 300;
    let payloads = [
        format!(r#"{{{valid},"sub":"a","exp":{past},"exp":{future}}}"#),
        format!(r#"{{{valid},"sub":"a","exp":{future},"exp":{past}}}"#),
        format!(r#"{{{valid},"sub":"a","\u0065xp":{past},"exp":{future}}}"#),
        format!(r#"{{{valid},"sub":"mallory","sub":"admin","exp":{future}}}"#),
        format!(r#"{{{valid},"sub":"mallory","s\u0075b":"admin","exp":{future}}}"#),
        format!(r#"{{{valid},"sub":"a","exp":{future},"alg":"HS256","alg":"none"}}"#),
        format!(r#"{{{valid},"sub":"a","exp":{future},"iss":"evil"}}"#),
        format!(r#"{{{valid},"sub":"a","exp":{future},"aud":"api"}}"#),
        format!(r#"{{{valid},"sub":"a","exp":{future},"token_type":"refresh"}}"#),
        format!(r#"{{{valid},"sub":"a","exp":{future},"jti":"other"}}"#),
        format!(r#"{{{valid},"sub":"a","exp":{future},"nbf":{NOW},"nbf":{future}}}"#),
        format!(r#"{{{valid},"sub":"a","exp":{future},"role":"user","role":"admin"}}"#),
    ];
    let mut cases = Vec::new();
    for target in [Target::Hs, Target::Ed] {
        let header = target.header().to_string();
        for payload in &payloads {
            cases.push(case(
                format!("payload {payload}"),
                target,
                signed_raw(target, header.as_bytes(), payload.as_bytes()),
            ));
        }
        let alg = target.alg_name();
        let claims = claims().to_string();
        for header in [
            format!(r#"{{"alg":"{alg}","alg":"none"}}"#),
            format!(r#"{{"alg":"none","alg":"{alg}"}}"#),
            format!(r#"{{"alg":"{alg}","alg":"{alg}"}}"#),
            format!(r#"{{"alg":"{alg}","\u0061lg":"{alg}"}}"#),
            format!(r#"{{"alg":"{alg}","kid":"k1","kid":"evil"}}"#),
            format!(r#"{{"alg":"{alg}","typ":"JWT","typ":"JWT"}}"#),
            format!(r#"{{"alg":"{alg}","jku":"a","jku":"b"}}"#),
        ] {
            cases.push(case(
                format!("header {header}"),
                target,
                signed_raw(target, header.as_bytes(), claims.as_bytes()),
            ));
        }
    }
    cases
}

#[tokio::test]
async fn duplicate_json_keys_are_rejected() {
    assert_all_rejected(
        "duplicate keys",
        duplicate_key_cases(),
        &[AuthErrorKind::InvalidSignature],
    )
    .await;
}

fn nested(depth: usize, open: &str, close: &str, leaf: &str) -> String {
    format!("{}{leaf}{}", open.repeat(depth), close.repeat(depth))
}

/// Deeply nested JSON, beyond serde_json's limit of 128 levels but within
/// the size cap, in the header (parsed before the signature is checked) and
/// in the payload: in a claim the verifier reads, in one it skips, and in the
/// application's custom claims. All signed with the real key, so only the
/// parser stands in the way.
fn nesting_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let claims = claims().to_string();
    let fields = claims.trim_start_matches('{').trim_end_matches('}');
    for (shape, open, close, depths) in [
        ("arrays", "[", "]", [129, 1_000, 2_500]),
        ("objects", r#"{"a":"#, "}", [129, 500, 950]),
    ] {
        for depth in depths {
            let value = nested(depth, open, close, "1");
            let header = format!(r#"{{"alg":"HS256","kid":"k1","x":{value}}}"#);
            cases.push(case(
                format!("header {shape} depth {depth}"),
                Target::Hs,
                signed_raw(Target::Hs, header.as_bytes(), claims.as_bytes()),
            ));
            let header = Target::Hs.header().to_string();
            for claim in ["aud", "sub", "exp", "unread", "custom"] {
                let payload = if claim == "unread" || claim == "custom" {
                    format!(r#"{{{fields},"{claim}":{value}}}"#)
                } else {
                    let mut rest = self::claims();
                    rest.as_object_mut().unwrap().remove(claim);
                    let rest = rest.to_string();
                    let rest = rest.trim_start_matches('{').trim_end_matches('}');
                    format!(r#"{{{rest},"{claim}":{value}}}"#)
                };
                cases.push(case(
                    format!("{claim} {shape} depth {depth}"),
                    Target::Hs,
                    signed_raw(Target::Hs, header.as_bytes(), payload.as_bytes()),
                ));
            }
        }
    }
    cases
}

#[tokio::test]
async fn deeply_nested_json_is_rejected() {
    assert_all_rejected(
        "deep nesting",
        nesting_cases(),
        &[
            AuthErrorKind::InvalidSignature,
            AuthErrorKind::TokenTooLarge,
        ],
    )
    .await;
}

#[tokio::test]
async fn nesting_far_past_the_size_cap_neither_overflows_nor_passes() {
    // With the size cap raised to 8 MiB, a million levels reach the parser.
    let app = app_with(Verifier::new(
        Target::Hs.keys(),
        config().max_token_len(8 << 20),
    ));
    let cases = nesting_past_the_cap_cases();
    for case in &cases {
        let kind = assert_rejected(&app, case).await;
        assert_ne!(kind, AuthErrorKind::InvalidSignature, "{}", case.name);
    }
    println!("deep nesting, raised cap: {} cases rejected", cases.len());
}

/// A custom claim and a header member nested a million deep.
fn nesting_past_the_cap_cases() -> Vec<Case> {
    let claims = claims().to_string();
    let fields = claims.trim_start_matches('{').trim_end_matches('}');
    let header = Target::Hs.header().to_string();
    let value = nested(1_000_000, "[", "]", "");
    vec![
        case(
            "custom claim nested a million deep",
            Target::Hs,
            signed_raw(
                Target::Hs,
                header.as_bytes(),
                format!(r#"{{{fields},"custom":{value}}}"#).as_bytes(),
            ),
        ),
        case(
            "header nested a million deep",
            Target::Hs,
            signed_raw(
                Target::Hs,
                format!(r#"{{"alg":"HS256","x":{value}}}"#).as_bytes(),
                claims.as_bytes(),
            ),
        ),
    ]
}

/// Invalid UTF-8: in the header value itself, and inside the decoded header
/// and payload (behind a valid signature).
fn utf8_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let legit = legit(Target::Hs);
    let (signing_input, signature) = legit.rsplit_once('.').unwrap();
    for bytes in [
        &b"\xff"[..],
        b"\xc3\x28",
        b"\xe2\x82",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
    ] {
        cases.push(case(
            format!("raw {bytes:?} in the token"),
            Target::Hs,
            [signing_input.as_bytes(), bytes, b".", signature.as_bytes()].concat(),
        ));
        let header = [br#"{"alg":"HS256","kid":"k1","x":""#, bytes, br#""}"#].concat();
        cases.push(case(
            format!("{bytes:?} in an unread header member"),
            Target::Hs,
            signed_raw(Target::Hs, &header, claims().to_string().as_bytes()),
        ));
        let claims = claims().to_string();
        let fields = claims.trim_start_matches('{').trim_end_matches('}');
        for (name, payload) in [
            ("an unread claim", [format!(r#"{{{fields},"x":""#).as_bytes(), bytes, br#""}"#].concat()),
            (
                "sub",
                [
                    br#"{"iss":"attack-tests","aud":"api","exp":1800000300,"jti":"j","token_type":"access","sub":""#.as_slice(),
                    bytes,
                    br#""}"#,
                ]
                .concat(),
            ),
        ] {
            cases.push(case(
                format!("{bytes:?} in {name}"),
                Target::Hs,
                signed_raw(Target::Hs, Target::Hs.header().to_string().as_bytes(), &payload),
            ));
        }
    }
    cases
}

#[tokio::test]
async fn invalid_utf8_is_rejected() {
    assert_all_rejected(
        "invalid UTF-8",
        utf8_cases(),
        &[AuthErrorKind::InvalidSignature],
    )
    .await;
}

/// NUL bytes inside the decoded JSON (raw, which is not JSON, and escaped
/// where it would change a name), behind a valid signature.
fn nul_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let claims = claims().to_string();
    for (name, header) in [
        (
            "raw NUL in alg",
            &b"{\"alg\":\"HS256\0\",\"kid\":\"k1\"}"[..],
        ),
        (
            "raw NUL after the object",
            b"{\"alg\":\"HS256\",\"kid\":\"k1\"}\0",
        ),
        ("escaped NUL in alg", br#"{"alg":"HS256\u0000","kid":"k1"}"#),
        ("escaped NUL in kid", br#"{"alg":"HS256","kid":"k1\u0000"}"#),
        (
            "escaped NUL in typ",
            br#"{"alg":"HS256","kid":"k1","typ":"JWT\u0000"}"#,
        ),
        (
            "NUL before the object",
            b"\0{\"alg\":\"HS256\",\"kid\":\"k1\"}",
        ),
    ] {
        cases.push(case(
            format!("header: {name}"),
            Target::Hs,
            signed_raw(Target::Hs, header, claims.as_bytes()),
        ));
    }
    let fields = claims.trim_start_matches('{').trim_end_matches('}');
    for (name, payload) in [
        (
            "raw NUL in an unread claim",
            format!("{{{fields},\"x\":\"\0\"}}"),
        ),
        ("NUL after the object", format!("{{{fields}}}\0")),
        (
            "escaped NUL in token_type",
            claims.replace(r#""access""#, r#""access\u0000""#),
        ),
        (
            "escaped NUL in aud",
            claims.replace(r#""api""#, r#""api\u0000""#),
        ),
        (
            "escaped NUL in iss",
            claims.replace(r#""attack-tests""#, r#""attack-tests\u0000""#),
        ),
    ] {
        cases.push(case(
            format!("payload: {name}"),
            Target::Hs,
            signed_raw(
                Target::Hs,
                Target::Hs.header().to_string().as_bytes(),
                payload.as_bytes(),
            ),
        ));
    }
    cases
}

#[tokio::test]
async fn nul_bytes_are_rejected() {
    assert_all_rejected("NUL bytes", nul_cases(), &[AuthErrorKind::InvalidSignature]).await;
}

#[test]
fn raw_nul_in_the_token_cannot_be_sent_and_is_refused_by_the_verifier() {
    let verifier = verifier(Target::Hs);
    let mut checked = 0;
    for token in raw_nul_tokens() {
        // http refuses a NUL in a header value, so no request can carry it…
        assert!(HeaderValue::from_str(&format!("Bearer {token}")).is_err());
        // …and the verifier refuses it too, should a caller hand it over.
        assert!(
            verifier
                .verify::<NoCustomClaims>(&token, TokenType::Access)
                .is_err()
        );
        checked += 1;
    }
    println!("raw NUL: {checked} cases refused");
}

/// A legitimate token with a raw NUL inserted at the start, inside, in the
/// middle and at the end.
fn raw_nul_tokens() -> Vec<String> {
    let legit = legit(Target::Hs);
    [0, 10, legit.len() / 2, legit.len()]
        .into_iter()
        .map(|at| {
            let mut token = legit.clone();
            token.insert(at, '\0');
            token
        })
        .collect()
}

/// Padding, non-zero trailing bits, the standard alphabet, whitespace and
/// percent-encoding — each re-signed with the real key over the
/// non-canonical text, so only the strict decoder stands in the way.
/// The non-canonical tokens: those a request can carry, and those only a
/// caller can hand the verifier (a newline cannot travel in a header value).
struct Base64Cases {
    http: Vec<Case>,
    verifier_only: Vec<String>,
}

fn base64_cases() -> Base64Cases {
    let mut cases = Base64Cases {
        http: Vec::new(),
        verifier_only: Vec::new(),
    };
    let header = Target::Hs.header().to_string();
    // Make sure the encoded header, payload and signature contain `-` or `_`
    // somewhere, so that swapping alphabets changes something.
    let mut payload = claims();
    let mut n = 0;
    let (h, p, token) = loop {
        payload["n"] = json!(n);
        payload["x"] = json!("\u{fb}\u{ff}\u{fe}?>");
        let token = signed_raw(
            Target::Hs,
            header.as_bytes(),
            payload.to_string().as_bytes(),
        );
        let (h, rest) = token.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        if (p.contains('-') || p.contains('_')) && (s.contains('-') || s.contains('_')) {
            break (h.to_owned(), p.to_owned(), token);
        }
        n += 1;
    };
    let signature = token.rsplit('.').next().unwrap().to_owned();
    let resign = |h: &str, p: &str| {
        let signing_input = format!("{h}.{p}");
        let sig = sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(HS_SECRET),
            signing_input.as_bytes(),
        );
        format!("{signing_input}.{}", b64(&sig))
    };
    let padded = |s: &str| URL_SAFE.encode(URL_SAFE_NO_PAD.decode(s).unwrap());
    let std_alphabet = |s: &str| s.replace('-', "+").replace('_', "/");
    // Non-zero trailing bits: the last character of a segment whose length
    // is 2 or 3 mod 4 carries unused bits; set them.
    let trailing = |s: &str| {
        let mut chars: Vec<char> = s.chars().collect();
        assert!(!s.len().is_multiple_of(4), "{s}");
        let last = chars.pop().unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet.iter().position(|&c| c == last as u8).unwrap();
        chars.push(alphabet[index | 1] as char);
        chars.into_iter().collect::<String>()
    };
    let segments_with_trailing_bits: Vec<&str> = [h.as_str(), p.as_str()]
        .into_iter()
        .filter(|s| !s.len().is_multiple_of(4))
        .collect();
    assert!(!segments_with_trailing_bits.is_empty());

    let mut variants: Vec<(String, String)> = vec![
        ("header padded".into(), resign(&padded(&h), &p)),
        ("payload padded".into(), resign(&h, &padded(&p))),
        ("header with '='".into(), resign(&format!("{h}="), &p)),
        ("payload with '=='".into(), resign(&h, &format!("{p}=="))),
        (
            "payload in the standard alphabet".into(),
            resign(&h, &std_alphabet(&p)),
        ),
        (
            "payload with a space".into(),
            resign(&h, &format!("{} {}", &p[..4], &p[4..])),
        ),
        (
            "payload with a newline".into(),
            resign(&h, &format!("{}\n{}", &p[..4], &p[4..])),
        ),
        (
            "payload percent-encoded".into(),
            resign(&h, &p.replace('-', "%2D").replace('_', "%5F")),
        ),
        (
            "payload with '.' inside".into(),
            resign(&h, &format!("{}.{}", &p[..4], &p[4..])),
        ),
        (
            "signature padded".into(),
            format!("{h}.{p}.{}", padded(&signature)),
        ),
        ("signature with '='".into(), format!("{h}.{p}.{signature}=")),
        (
            "signature in the standard alphabet".into(),
            format!("{h}.{p}.{}", std_alphabet(&signature)),
        ),
        (
            "signature with trailing bits".into(),
            format!("{h}.{p}.{}", trailing(&signature)),
        ),
    ];
    if !h.len().is_multiple_of(4) {
        variants.push((
            "header with trailing bits".into(),
            resign(&trailing(&h), &p),
        ));
    }
    if !p.len().is_multiple_of(4) {
        variants.push((
            "payload with trailing bits".into(),
            resign(&h, &trailing(&p)),
        ));
    }
    for (name, token) in variants {
        if name.contains("newline") {
            cases.verifier_only.push(token);
        } else {
            cases
                .http
                .push(case(format!("base64url: {name}"), Target::Hs, token));
        }
    }
    cases
}

#[tokio::test]
async fn non_canonical_base64url_is_rejected() {
    let cases = base64_cases();
    assert!(!cases.verifier_only.is_empty());
    for token in &cases.verifier_only {
        assert!(
            verifier(Target::Hs)
                .verify::<NoCustomClaims>(token, TokenType::Access)
                .is_err()
        );
    }
    assert_all_rejected(
        "non-canonical base64url",
        cases.http,
        &[AuthErrorKind::InvalidSignature],
    )
    .await;
}

/// Too many or too few segments (a JWE has five), and empty ones.
fn structure_cases() -> Vec<Case> {
    let legit = legit(Target::Hs);
    let (h, rest) = legit.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    [
        ("two segments", format!("{h}.{p}")),
        ("four segments", format!("{h}.{p}.{s}.{s}")),
        ("five segments (JWE)", format!("{h}.{p}.{s}.{s}.{s}")),
        ("empty header", format!(".{p}.{s}")),
        ("empty payload", format!("{h}..{s}")),
        ("only dots", "..".to_owned()),
        ("one segment", h.to_owned()),
        ("segments swapped", format!("{p}.{h}.{s}")),
        ("leading dot", format!(".{legit}")),
        ("trailing dot", format!("{legit}.")),
    ]
    .into_iter()
    .map(|(name, token)| case(format!("structure: {name}"), Target::Hs, token))
    .collect()
}

#[tokio::test]
async fn malformed_structures_are_rejected() {
    assert_all_rejected("structure", structure_cases(), &[]).await;
}

/// Tokens over the 8 KiB cap — valid in every other respect — and junk of
/// every size up to a megabyte.
fn oversized_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let cap = tower_jwt_auth::DEFAULT_MAX_TOKEN_LEN;
    for target in TARGETS {
        for size in [cap + 1, 2 * cap, 64 << 10, 1 << 20] {
            cases.push(case(
                format!("validly signed token of at least {size} bytes"),
                target,
                token_of_len(target, size),
            ));
        }
    }
    for size in [cap + 1, 1 << 20] {
        cases.push(case(
            format!("{size} bytes of 'a'"),
            Target::Hs,
            "a".repeat(size),
        ));
        cases.push(case(format!("{size} dots"), Target::Hs, ".".repeat(size)));
    }
    cases
}

/// A legitimately signed token padded with a custom claim to at least
/// `len` bytes.
fn token_of_len(target: Target, len: usize) -> String {
    let mut pad = 0;
    loop {
        let mut payload = claims();
        payload["pad"] = json!("p".repeat(pad));
        let token = signed(target, &target.header(), &payload);
        if token.len() >= len {
            return token;
        }
        pad += (len - token.len()) * 3 / 4 + 1;
    }
}

#[tokio::test]
async fn oversized_tokens_are_rejected() {
    assert_all_rejected(
        "oversized",
        oversized_cases(),
        &[AuthErrorKind::InvalidSignature],
    )
    .await;
}

#[tokio::test]
async fn the_size_cap_is_exact() {
    // The control for the oversized cases: the largest token under the cap
    // is accepted, so the cases above are refused for their size alone.
    let cap = tower_jwt_auth::DEFAULT_MAX_TOKEN_LEN;
    let app = app(Target::Hs);
    // Start a little below the cap (base64 turns 3 bytes into 4 characters).
    let base = legit(Target::Hs).len();
    let mut pad = (cap - base) * 3 / 4 - 16;
    let mut largest = None;
    loop {
        let mut payload = claims();
        payload["pad"] = json!("p".repeat(pad));
        let token = signed(Target::Hs, &Target::Hs.header(), &payload);
        if token.len() > cap {
            break;
        }
        largest = Some(token);
        pad += 1;
    }
    let largest = largest.unwrap();
    assert!(largest.len() > cap - 4, "{}", largest.len());
    assert_eq!(
        send(&app, largest.as_bytes()).await.status(),
        StatusCode::OK
    );
}

#[test]
fn corpus_size() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let categories = [
        ("alg none", none_alg_cases().len()),
        ("HS* with a public key", hmac_with_public_key_cases().len()),
        ("hostile kid", kid_cases().len()),
        ("embedded keys", embedded_key_cases(port).len()),
        ("signatures", signature_cases().len()),
        ("duplicate keys", duplicate_key_cases().len()),
        (
            "deep nesting",
            nesting_cases().len() + nesting_past_the_cap_cases().len(),
        ),
        ("invalid UTF-8", utf8_cases().len()),
        ("NUL bytes", nul_cases().len() + raw_nul_tokens().len()),
        ("non-canonical base64url", {
            let cases = base64_cases();
            cases.http.len() + cases.verifier_only.len()
        }),
        ("structure", structure_cases().len()),
        ("oversized", oversized_cases().len()),
        (
            "empty or short HMAC keys",
            short_hmac_secrets().len() * HMAC_CONSTRUCTIONS.len(),
        ),
    ];
    let total: usize = categories.iter().map(|(_, n)| n).sum();
    for (name, n) in categories {
        println!("{name:>26}: {n}");
    }
    println!("{:>26}: {total}", "attack corpus total");
    assert!(total >= 700, "the corpus shrank: {total}");
}
