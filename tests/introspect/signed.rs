//! RFC 9701 signed answers against the local test endpoint: what the client
//! asks for, and each check of the JWT before its `token_introspection`
//! claim is believed (a failure is 503-kind `Unverified`, never a refusal of
//! the token).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tower_jwt_auth::introspect::{
    IntrospectErrorKind, IntrospectionCache, IntrospectionClient, Unavailable,
};
use tower_jwt_auth::{Algorithm, ManualClock, VerifyingKey};

use crate::endpoint::{Endpoint, Mode, Signer};
use crate::{ISSUER, START, active, client};

const ISSUER_SECRET: &[u8] = b"the issuer's answer-signing secret, 32+ bytes";
const OTHER_SECRET: &[u8] = b"another key the client does not trust at all";

/// What the signer puts into the JWT, each member changeable by a test.
#[derive(Clone)]
struct Envelope {
    secret: &'static [u8],
    typ: Option<&'static str>,
    iss: &'static str,
    aud: Value,
    iat: u64,
}

impl Default for Envelope {
    fn default() -> Self {
        Self {
            secret: ISSUER_SECRET,
            typ: Some("token-introspection+jwt"),
            iss: ISSUER,
            aud: json!("rs"),
            iat: START,
        }
    }
}

fn signer(envelope: Envelope) -> Mode {
    Mode::Signed(Signer(Arc::new(move |answer: &Value| {
        let mut header = json!({ "alg": "HS256" });
        if let Some(typ) = envelope.typ {
            header["typ"] = json!(typ);
        }
        let claims = json!({
            "iss": envelope.iss,
            "aud": envelope.aud,
            "iat": envelope.iat,
            "token_introspection": answer,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(envelope.secret).unwrap();
        mac.update(input.as_bytes());
        let signature = mac.finalize().into_bytes();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    })))
}

fn signed_client(endpoint: &Endpoint, clock: &ManualClock) -> IntrospectionClient {
    let issuer_key = VerifyingKey::hmac(Algorithm::HS256, ISSUER_SECRET).unwrap();
    client(&endpoint.url(), clock).jwt_answers(issuer_key)
}

#[tokio::test]
async fn a_signed_answer_is_asked_for_verified_and_read() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START + 5);
    endpoint.answer("opaque", active(START + 300));
    endpoint.set_mode(signer(Envelope::default()));
    let claims = signed_client(&endpoint, &clock)
        .introspect::<Value>("opaque")
        .await
        .unwrap();
    assert_eq!(claims.sub, "svc");
    assert_eq!(claims.custom["scope"], "read write");
    assert_eq!(
        endpoint.last_call().accept.as_deref(),
        Some("application/token-introspection+jwt")
    );

    // An inactive answer inside a valid envelope is the issuer's word too.
    let inactive = signed_client(&endpoint, &clock)
        .introspect::<Value>("unknown")
        .await
        .unwrap_err();
    assert_eq!(inactive.kind(), IntrospectErrorKind::Inactive);
}

#[tokio::test]
async fn without_jwt_answers_the_client_asks_for_json() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("opaque", active(START + 300));
    client(&endpoint.url(), &clock)
        .introspect::<Value>("opaque")
        .await
        .unwrap();
    assert_eq!(
        endpoint.last_call().accept.as_deref(),
        Some("application/json")
    );
}

#[tokio::test]
async fn each_check_of_the_signed_answer_makes_it_unverified() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START + 5);
    endpoint.answer("opaque", active(START + 300));
    let base = Envelope::default;
    let cases: Vec<(&str, Mode)> = vec![
        ("plain JSON", Mode::Answer),
        (
            "another key",
            signer(Envelope {
                secret: OTHER_SECRET,
                ..base()
            }),
        ),
        (
            "no typ",
            signer(Envelope {
                typ: None,
                ..base()
            }),
        ),
        (
            "typ JWT",
            signer(Envelope {
                typ: Some("JWT"),
                ..base()
            }),
        ),
        (
            "another issuer",
            signer(Envelope {
                iss: "https://other.test",
                ..base()
            }),
        ),
        (
            "another audience",
            signer(Envelope {
                aud: json!(["api", "someone-else"]),
                ..base()
            }),
        ),
        (
            "stale iat",
            signer(Envelope {
                iat: START + 5 - 61 - 60,
                ..base()
            }),
        ),
        (
            "future iat",
            signer(Envelope {
                iat: START + 5 + 61,
                ..base()
            }),
        ),
    ];
    for (name, mode) in cases {
        endpoint.set_mode(mode);
        let error = signed_client(&endpoint, &clock)
            .introspect::<Value>("opaque")
            .await
            .unwrap_err();
        assert_eq!(
            error.kind(),
            IntrospectErrorKind::Unavailable(Unavailable::Unverified),
            "{name}"
        );
        assert!(error.is_unavailable(), "{name}: 503, not 401");
    }
    // The audience as an array naming us, and the prefixed media type, pass.
    endpoint.set_mode(signer(Envelope {
        aud: json!(["rs", "other"]),
        typ: Some("application/token-introspection+jwt"),
        ..base()
    }));
    signed_client(&endpoint, &clock)
        .introspect::<Value>("opaque")
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unverified_answer_is_not_kept_as_a_verdict_on_the_token() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START + 5);
    endpoint.answer("opaque", active(START + 300));
    endpoint.set_mode(signer(Envelope {
        secret: OTHER_SECRET,
        ..Envelope::default()
    }));
    let cache = IntrospectionCache::new(signed_client(&endpoint, &clock));
    let refused = cache.claims::<Value>("opaque").await.unwrap_err();
    assert!(refused.is_unavailable());
    // Once the failed entry ends (the inactive TTL), a good answer counts.
    endpoint.set_mode(signer(Envelope {
        iat: START + 60,
        ..Envelope::default()
    }));
    clock.advance_secs(60);
    cache.claims::<Value>("opaque").await.unwrap();
}
