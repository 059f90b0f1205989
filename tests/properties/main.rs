//! Property tests (proptest):
//!
//! * any mutation of a valid token — bit flips in the text or in the decoded
//!   bytes, truncation, insertion, re-encoding, re-serialized JSON, segment
//!   swaps — is rejected, unless it gave back the very same token;
//! * a token minted by `TokenIssuer` verifies exactly until it expires
//!   (`exp` + leeway), never after;
//! * through the layer and a `MemoryStore`, a token is accepted exactly while
//!   it is neither expired nor revoked (by `jti` or by a subject cutoff), and
//!   never again once revoked;
//! * a DPoP `htu` in normal form is its own normal form, and the request's
//!   `htu` (with its shortcut for plain paths) is the normal form of origin
//!   and path.
//!
//! Case counts are kept small so the suite stays fast; raise them with
//! `PROPTEST_CASES=10000 cargo test --test properties`.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use http::{Request, StatusCode, header};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::{
    Algorithm, Clock, JwtAuthLayer, JwtConfig, ManualClock, MemoryStore, NoCustomClaims,
    SigningKey, TokenIssuer, TokenType, Verifier, VerifyingKey,
};

const SECRET: &[u8] = b"property-tests-hmac-secret-32-bytes!";
const START: u64 = 1_800_000_000;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Custom {
    role: String,
    level: u32,
}

fn config(clock: &ManualClock) -> JwtConfig {
    JwtConfig::new()
        .issuer("properties")
        .audience("api")
        .clock(clock.clone())
}

fn hmac_pair(config: JwtConfig) -> (TokenIssuer, Verifier) {
    (
        TokenIssuer::new(
            SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config.clone(),
        ),
        Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config,
        ),
    )
}

fn eddsa_pair(config: JwtConfig) -> (TokenIssuer, Verifier) {
    (
        TokenIssuer::new(
            SigningKey::from_pem(Algorithm::EdDSA, include_bytes!("../keys/attack_ed.pem"))
                .unwrap(),
            config.clone(),
        ),
        Verifier::new(
            VerifyingKey::from_pem(
                Algorithm::EdDSA,
                include_bytes!("../keys/attack_ed.pub.pem"),
            )
            .unwrap(),
            config,
        ),
    )
}

// ===== mutations =====

#[derive(Clone, Debug)]
enum Mutation {
    /// Flip one bit of one character of the token text.
    FlipTextBit { at: prop::sample::Index, bit: u8 },
    /// Flip one bit of the decoded bytes of one segment, re-encode canonically.
    FlipDecodedBit {
        segment: usize,
        at: prop::sample::Index,
        bit: u8,
    },
    /// Keep only a prefix.
    Truncate { at: prop::sample::Index },
    /// Insert one byte anywhere.
    Insert { at: prop::sample::Index, byte: u8 },
    /// Re-encode a segment with padding or in the standard alphabet.
    Reencode { segment: usize, padded: bool },
    /// Re-serialize the header or payload JSON (pretty-printed), unsigned.
    Reserialize { segment: usize },
    /// Put the three segments in another order.
    Swap { order: [usize; 3] },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 0u8..8)
            .prop_map(|(at, bit)| Mutation::FlipTextBit { at, bit }),
        (0usize..3, any::<prop::sample::Index>(), 0u8..8)
            .prop_map(|(segment, at, bit)| Mutation::FlipDecodedBit { segment, at, bit }),
        any::<prop::sample::Index>().prop_map(|at| Mutation::Truncate { at }),
        (any::<prop::sample::Index>(), any::<u8>())
            .prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        (0usize..3, any::<bool>())
            .prop_map(|(segment, padded)| Mutation::Reencode { segment, padded }),
        (0usize..2).prop_map(|segment| Mutation::Reserialize { segment }),
        Just([0, 1, 2])
            .prop_shuffle()
            .prop_map(|order| Mutation::Swap { order }),
    ]
}

/// Applies `mutation` to `token`; the result may not be UTF-8.
fn apply(token: &str, mutation: &Mutation) -> Vec<u8> {
    let segments: Vec<&str> = token.split('.').collect();
    let join = |segments: &[String]| segments.join(".").into_bytes();
    let mut owned: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
    match mutation {
        Mutation::FlipTextBit { at, bit } => {
            let mut bytes = token.as_bytes().to_vec();
            let at = at.index(bytes.len());
            bytes[at] ^= 1 << bit;
            bytes
        }
        Mutation::FlipDecodedBit { segment, at, bit } => {
            let mut decoded = URL_SAFE_NO_PAD.decode(segments[*segment]).unwrap();
            let at = at.index(decoded.len());
            decoded[at] ^= 1 << bit;
            owned[*segment] = URL_SAFE_NO_PAD.encode(decoded);
            join(&owned)
        }
        Mutation::Truncate { at } => token.as_bytes()[..at.index(token.len())].to_vec(),
        Mutation::Insert { at, byte } => {
            let mut bytes = token.as_bytes().to_vec();
            bytes.insert(at.index(bytes.len() + 1), *byte);
            bytes
        }
        Mutation::Reencode { segment, padded } => {
            let decoded = URL_SAFE_NO_PAD.decode(segments[*segment]).unwrap();
            owned[*segment] = if *padded {
                URL_SAFE.encode(decoded)
            } else {
                STANDARD.encode(decoded).trim_end_matches('=').to_owned()
            };
            join(&owned)
        }
        Mutation::Reserialize { segment } => {
            let decoded = URL_SAFE_NO_PAD.decode(segments[*segment]).unwrap();
            let value: Value = serde_json::from_slice(&decoded).unwrap();
            owned[*segment] = URL_SAFE_NO_PAD.encode(serde_json::to_vec_pretty(&value).unwrap());
            join(&owned)
        }
        Mutation::Swap { order } => {
            let swapped: Vec<String> = order.iter().map(|&i| segments[i].to_owned()).collect();
            join(&swapped)
        }
    }
}

fn custom() -> impl Strategy<Value = (String, Custom)> {
    ("[a-z0-9._@-]{1,24}", "[a-z]{0,12}", any::<u32>())
        .prop_map(|(sub, role, level)| (sub, Custom { role, level }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_mutation_of_a_valid_token_is_rejected(
        (subject, claims) in custom(),
        mutation in mutation(),
        eddsa in any::<bool>(),
    ) {
        let clock = ManualClock::at_secs(START);
        let (issuer, verifier) = if eddsa {
            eddsa_pair(config(&clock))
        } else {
            hmac_pair(config(&clock))
        };
        let token = issuer.access_token(&subject, &claims).unwrap();
        prop_assert!(verifier.verify::<Custom>(&token, TokenType::Access).is_ok());

        let mutated = apply(&token, &mutation);
        prop_assume!(mutated != token.as_bytes());
        // Bytes that are not UTF-8 cannot even reach the verifier (the
        // layer refuses a header value that is not visible ASCII).
        if let Ok(mutated) = std::str::from_utf8(&mutated) {
            prop_assert!(
                verifier.verify::<Custom>(mutated, TokenType::Access).is_err(),
                "{mutation:?} accepted: {mutated}"
            );
            prop_assert!(verifier.verify_jws(mutated).is_err());
        }
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires_and_never_after(
        ttl in 1u64..3_600,
        leeway in 0u64..30,
        offsets in prop::collection::vec(0u64..8_000, 1..12),
        refresh in any::<bool>(),
    ) {
        let clock = ManualClock::at_secs(START);
        let config = config(&clock)
            .access_ttl(Duration::from_secs(ttl))
            .refresh_ttl(Duration::from_secs(ttl))
            .leeway(Duration::from_secs(leeway));
        let (issuer, verifier) = hmac_pair(config);
        let (token, kind) = if refresh {
            (issuer.pair("alice", &NoCustomClaims {}).unwrap().refresh_token, TokenType::Refresh)
        } else {
            (issuer.access_token("alice", &NoCustomClaims {}).unwrap(), TokenType::Access)
        };
        let mut offsets = offsets;
        offsets.sort_unstable();
        for elapsed in offsets {
            clock.set_secs(START + elapsed);
            let verified = verifier.verify::<NoCustomClaims>(&token, kind);
            prop_assert_eq!(
                verified.is_ok(),
                elapsed < ttl + leeway,
                "ttl {} leeway {} elapsed {}: {:?}", ttl, leeway, elapsed, verified
            );
        }
    }
}

// ===== revocation, through the layer =====

#[derive(Clone, Debug)]
enum Op {
    Mint { subject: usize },
    RevokeToken { token: prop::sample::Index },
    RevokeSubject { subject: usize },
    Advance { secs: u64 },
    Check { token: prop::sample::Index },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0usize..3).prop_map(|subject| Op::Mint { subject }),
        1 => any::<prop::sample::Index>().prop_map(|token| Op::RevokeToken { token }),
        1 => (0usize..3).prop_map(|subject| Op::RevokeSubject { subject }),
        1 => (0u64..90).prop_map(|secs| Op::Advance { secs }),
        4 => any::<prop::sample::Index>().prop_map(|token| Op::Check { token }),
    ]
}

/// The model's view of one minted token.
struct Minted {
    token: String,
    jti: String,
    subject: usize,
    exp: u64,
    issued_at_micros: u64,
    revoked: bool,
}

const SUBJECTS: [&str; 3] = ["alice", "bob", "carol"];
const TTL: u64 = 120;
const LEEWAY: u64 = 5;

async fn accepted(app: &Router, token: &str) -> bool {
    let request = Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let status = app.clone().oneshot(request).await.unwrap().status();
    assert!(
        status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
        "{status}"
    );
    status == StatusCode::OK
}

async fn run_revocation_ops(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::at_secs(START);
    let config = config(&clock)
        .access_ttl(Duration::from_secs(TTL))
        .leeway(Duration::from_secs(LEEWAY));
    let (issuer, verifier) = hmac_pair(config);
    let store = MemoryStore::with_clock(clock.clone());
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(JwtAuthLayer::new(verifier.clone()).store(store.clone()));
    let mut minted: Vec<Minted> = Vec::new();

    for op in ops {
        let now = clock.now_secs();
        match op {
            Op::Mint { subject } => {
                let token = issuer
                    .access_token(SUBJECTS[subject], &NoCustomClaims {})
                    .unwrap();
                let claims = verifier
                    .verify::<NoCustomClaims>(&token, TokenType::Access)
                    .unwrap();
                minted.push(Minted {
                    jti: claims.jti.clone(),
                    exp: claims.exp,
                    issued_at_micros: claims.issued_at_micros(),
                    token,
                    subject,
                    revoked: false,
                });
            }
            Op::RevokeToken { token } if !minted.is_empty() => {
                let at = token.index(minted.len());
                let m = &mut minted[at];
                store.revoke_token(&m.jti, m.exp + LEEWAY).await.unwrap();
                m.revoked = true;
            }
            Op::RevokeSubject { subject } => {
                let cutoff = issuer.next_stamp();
                store
                    .revoke_subject(SUBJECTS[subject], cutoff, now + TTL + LEEWAY)
                    .await
                    .unwrap();
                for m in minted.iter_mut().filter(|m| m.subject == subject) {
                    if m.issued_at_micros < cutoff {
                        m.revoked = true;
                    }
                }
            }
            Op::Advance { secs } => clock.advance_secs(secs),
            Op::Check { token } if !minted.is_empty() => {
                let m = &minted[token.index(minted.len())];
                let expected = !m.revoked && now < m.exp + LEEWAY;
                prop_assert_eq!(
                    accepted(&app, &m.token).await,
                    expected,
                    "revoked {} exp {} now {}",
                    m.revoked,
                    m.exp,
                    now
                );
            }
            Op::RevokeToken { .. } | Op::Check { .. } => {}
        }
    }
    // Never again: every revoked token stays refused, whatever the time.
    for m in minted.iter().filter(|m| m.revoked) {
        prop_assert!(!accepted(&app, &m.token).await);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn through_the_layer_a_token_is_accepted_exactly_until_expired_or_revoked(
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(run_revocation_ops(ops))?;
    }
}

/// A request path of the characters that matter to `htu` normalisation:
/// slashes, dots, percent triplets (valid or not), case, and a few bytes
/// no URI may hold.
fn htu_path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("/".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            "%[0-9a-fA-FgG]{0,2}",
            "[a-zA-Z0-9_~:@!$&'()*+,;=-]{1,4}",
            "[\"<>\\\\^`{|} ]",
        ],
        0..12,
    )
    .prop_map(|parts| format!("/{}", parts.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// `htu_matches` compares equal texts without normalising them again,
    /// which is right only if a normal form is its own normal form.
    #[test]
    fn an_htu_normal_form_is_its_own_normal_form(path in htu_path()) {
        use tower_jwt_auth::dpop::normalize_htu;
        if let Ok(normal) = normalize_htu(&format!("HTTPS://A.example:443{path}")) {
            prop_assert_eq!(normalize_htu(&normal), Ok(normal.clone()));
        }
    }

    /// The request's `htu` takes a shortcut for plain paths; whatever the
    /// path, it is what the full normalisation of origin + path gives.
    #[test]
    fn the_request_htu_is_the_normal_form_of_origin_and_path(
        path in htu_path(),
        prefix in prop_oneof![Just(""), Just("/api"), Just("/a.b/")],
    ) {
        use tower_jwt_auth::dpop::{HtuOrigin, normalize_htu};
        let origin = format!("https://a.example{prefix}");
        let Ok(uri) = path.parse::<http::Uri>() else {
            return Ok(());
        };
        let external = HtuOrigin::external(&origin).unwrap();
        let base = normalize_htu(&origin).unwrap();
        prop_assert_eq!(
            external.request_htu(&uri, &http::HeaderMap::new()),
            normalize_htu(&format!("{}{}", base.trim_end_matches('/'), uri.path()))
        );
    }
}
