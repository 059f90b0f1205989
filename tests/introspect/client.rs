//! The RFC 7662 client: what it sends, how it authenticates, and what it
//! makes of each answer, including every way the endpoint can fail.

use std::time::Duration;

use serde_json::{Value, json};
use tower_jwt_auth::introspect::{
    ClientAuth, IntrospectErrorKind, IntrospectionClient, Unavailable,
};
use tower_jwt_auth::{
    Algorithm, AuthErrorKind, JwtConfig, ManualClock, SigningKey, TokenType, Verifier, VerifyingKey,
};

use crate::endpoint::{Endpoint, Mode, basic};
use crate::{AUDIENCE, ISSUER, START, active, client, config};

#[tokio::test]
async fn client_secret_basic_sends_the_encoded_credentials_and_the_form() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("opaque-1", active(START + 300));
    let client = IntrospectionClient::new(
        endpoint.url(),
        "rs:1",
        ClientAuth::client_secret_basic("s3cr&t +%"),
        config(&clock),
    );
    let claims = client.introspect::<Value>("opaque-1").await.unwrap();
    assert_eq!(claims.sub, "svc", "no sub: the client id is the subject");
    assert_eq!(claims.token_type, TokenType::Access);
    assert_eq!(claims.custom["scope"], "read write");
    assert!(claims.custom.get("active").is_none());

    let call = endpoint.last_call();
    assert_eq!(
        basic(call.authorization.as_deref().unwrap()),
        ("rs:1".into(), "s3cr&t +%".into())
    );
    assert_eq!(
        call.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(call.field("token"), Some("opaque-1"));
    assert_eq!(call.field("token_type_hint"), Some("access_token"));
    assert_eq!(call.field("client_secret"), None);
}

#[tokio::test]
async fn client_secret_post_puts_the_credentials_in_the_body() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("opaque-1", active(START + 300));
    let client = IntrospectionClient::new(
        endpoint.url(),
        "rs",
        ClientAuth::client_secret_post("s3cret"),
        config(&clock),
    );
    client.introspect::<Value>("opaque-1").await.unwrap();
    let call = endpoint.last_call();
    assert_eq!(call.authorization, None);
    assert_eq!(call.field("client_id"), Some("rs"));
    assert_eq!(call.field("client_secret"), Some("s3cret"));
}

#[tokio::test]
async fn private_key_jwt_sends_an_assertion_signed_by_our_key() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("opaque-1", active(START + 300));
    let secret = b"a client assertion key of 32 bytes!!";
    let client = IntrospectionClient::new(
        endpoint.url(),
        "rs",
        ClientAuth::private_key_jwt(
            SigningKey::hmac(Algorithm::HS256, secret)
                .unwrap()
                .with_kid("k1"),
        ),
        config(&clock),
    );
    client.introspect::<Value>("opaque-1").await.unwrap();
    let call = endpoint.last_call();
    assert_eq!(
        call.field("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let assertion = call.field("client_assertion").unwrap();
    let verifier = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, secret)
            .unwrap()
            .with_kid("k1"),
        JwtConfig::new(),
    );
    let payload: Value = serde_json::from_slice(&verifier.verify_jws(assertion).unwrap()).unwrap();
    assert_eq!(payload["iss"], "rs");
    assert_eq!(payload["sub"], "rs");
    assert_eq!(payload["aud"], json!([ISSUER, endpoint.url()]));
    assert_eq!(payload["exp"], START + 60);
    assert!(payload["jti"].as_str().is_some_and(|j| j.len() >= 22));
}

#[tokio::test]
async fn each_refusal_of_an_answer_is_a_refusal_not_an_outage() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    let client = client(&endpoint.url(), &clock);
    let with = |token: &str, change: &dyn Fn(&mut Value)| {
        let mut answer = active(START + 300);
        change(&mut answer);
        endpoint.answer(token, answer);
    };
    with("inactive", &|a| *a = json!({"active": false}));
    with("refresh", &|a| a["token_type"] = json!("refresh_token"));
    with("expired", &|a| a["exp"] = json!(START));
    with("early", &|a| a["nbf"] = json!(START + 10));
    with("foreign", &|a| a["iss"] = json!("https://other.test"));
    with("elsewhere", &|a| a["aud"] = json!(["billing"]));
    let cases = [
        ("inactive", IntrospectErrorKind::Inactive),
        ("unknown", IntrospectErrorKind::Inactive),
        (
            "refresh",
            IntrospectErrorKind::Refused(AuthErrorKind::WrongTokenType),
        ),
        (
            "expired",
            IntrospectErrorKind::Refused(AuthErrorKind::Expired),
        ),
        (
            "early",
            IntrospectErrorKind::Refused(AuthErrorKind::NotYetValid),
        ),
        (
            "foreign",
            IntrospectErrorKind::Refused(AuthErrorKind::InvalidIssuer),
        ),
        (
            "elsewhere",
            IntrospectErrorKind::Refused(AuthErrorKind::InvalidAudience),
        ),
    ];
    for (token, want) in cases {
        let error = client.introspect::<Value>(token).await.unwrap_err();
        assert_eq!(error.kind(), want, "{token}");
        assert!(!error.is_unavailable(), "{token}");
    }
}

#[tokio::test]
async fn every_failure_of_the_endpoint_is_unavailable() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("t", active(START + 300));
    let client = client(&endpoint.url(), &clock).timeout(Duration::from_millis(300));
    let cases = [
        (Mode::Status(500), Unavailable::Status(500)),
        (Mode::Status(401), Unavailable::Status(401)),
        (Mode::Junk, Unavailable::Junk),
        (Mode::Oversized, Unavailable::TooLarge),
        (Mode::Hang, Unavailable::Timeout),
    ];
    for (mode, want) in cases {
        endpoint.set_mode(mode.clone());
        let error = client.introspect::<Value>("t").await.unwrap_err();
        assert_eq!(
            error.kind(),
            IntrospectErrorKind::Unavailable(want),
            "{mode:?}"
        );
        assert_eq!(
            error.auth_error_kind(),
            AuthErrorKind::IntrospectionUnavailable
        );
    }
    // Nothing listens on a port just freed.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let nobody = crate::client(&format!("http://{closed}/introspect"), &clock);
    let error = nobody.introspect::<Value>("t").await.unwrap_err();
    assert_eq!(
        error.kind(),
        IntrospectErrorKind::Unavailable(Unavailable::Transport)
    );
}

#[test]
fn debug_shows_no_secret() {
    let clock = ManualClock::at_secs(START);
    let client = IntrospectionClient::new(
        "https://idp.test/introspect",
        "rs",
        ClientAuth::client_secret_basic("do-not-print-me"),
        config(&clock),
    );
    let debug = format!(
        "{client:?} {:?}",
        ClientAuth::client_secret_post("do-not-print-me")
    );
    assert!(!debug.contains("do-not-print-me"), "{debug}");
    assert!(debug.contains("ClientSecretBasic"), "{debug}");
    let _ = AUDIENCE;
}

#[tokio::test]
async fn the_endpoint_is_found_by_discovery_for_the_exact_issuer() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    endpoint.answer("opaque-1", active(START + 300));
    let issuer = endpoint.issuer();
    let mut answer = active(START + 300);
    answer["iss"] = json!(issuer);
    endpoint.answer("opaque-2", answer);
    let client = IntrospectionClient::discover(
        &issuer,
        "rs",
        ClientAuth::client_secret_basic("s"),
        JwtConfig::new().audience(AUDIENCE).clock(clock.clone()),
    )
    .await
    .unwrap();
    assert_eq!(client.endpoint(), endpoint.url());
    assert_eq!(client.config().issuer_name(), Some(issuer.as_str()));
    client.introspect::<Value>("opaque-2").await.unwrap();
    assert_eq!(
        client
            .introspect::<Value>("opaque-1")
            .await
            .unwrap_err()
            .kind(),
        IntrospectErrorKind::Refused(AuthErrorKind::InvalidIssuer),
        "the answer names another issuer"
    );
    let other = IntrospectionClient::discover(
        &format!("{issuer}/"),
        "rs",
        ClientAuth::client_secret_basic("s"),
        JwtConfig::new(),
    )
    .await
    .unwrap_err();
    assert!(
        other.is_unavailable(),
        "the metadata's issuer differs by a slash"
    );
}

/// node `oidc-provider` answers for a refresh token without `token_type`
/// (and without `aud`): by default such an answer counts as an access
/// token's (the audience check is what refuses it); `require_token_type`
/// refuses it even with no audience configured.
#[tokio::test]
async fn require_token_type_refuses_an_answer_that_names_no_type() {
    let endpoint = Endpoint::start();
    let clock = ManualClock::at_secs(START);
    // oidc-provider's answer for a refresh token, as it sends it.
    endpoint.answer(
        "refresh",
        json!({
            "active": true, "sub": "alice", "client_id": "app", "exp": START + 3600,
            "iat": START, "iss": ISSUER, "scope": "openid offline_access",
        }),
    );
    endpoint.answer("access", active(START + 300));
    let no_audience = JwtConfig::new()
        .issuer(ISSUER)
        .leeway(Duration::ZERO)
        .clock(clock.clone());
    let client = |required: bool| {
        IntrospectionClient::new(
            endpoint.url(),
            "rs",
            ClientAuth::client_secret_basic("rs-secret"),
            no_audience.clone(),
        )
        .require_token_type(required)
    };
    assert!(client(false).introspect::<Value>("refresh").await.is_ok());
    let refused = client(true)
        .introspect::<Value>("refresh")
        .await
        .unwrap_err();
    assert_eq!(
        refused.kind(),
        IntrospectErrorKind::Refused(AuthErrorKind::WrongTokenType)
    );
    client(true).introspect::<Value>("access").await.unwrap();
}

/// The call carries the client's credentials and the token: plain http to a
/// host off loopback is never made unless allowed (as key fetches).
#[tokio::test]
async fn a_plain_http_endpoint_off_loopback_is_never_called() {
    let clock = ManualClock::at_secs(START);
    // Never resolved nor connected: refused before any I/O.
    let remote = client("http://introspection.example.test/introspect", &clock);
    let error = remote.introspect::<Value>("t").await.unwrap_err();
    assert_eq!(
        error.kind(),
        IntrospectErrorKind::Unavailable(Unavailable::UnsafeUrl)
    );
    assert_eq!(
        error.auth_error_kind(),
        AuthErrorKind::IntrospectionUnavailable
    );
}

/// A redirect would carry the credentials and the token to a URL nobody
/// checked: the default client follows none.
#[tokio::test]
async fn a_redirect_from_the_endpoint_is_not_followed() {
    use std::io::{Read, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let mut requests = 0;
        if let Ok((mut stream, _)) = listener.accept() {
            requests += 1;
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:9/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
        requests
    });
    let clock = ManualClock::at_secs(START);
    let error = client(&url, &clock)
        .introspect::<Value>("t")
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        IntrospectErrorKind::Unavailable(Unavailable::Status(307))
    );
    assert_eq!(server.join().unwrap(), 1);
}
