//! What each layer configuration becomes: scheme types, names, notes, requirements.

use serde_json::{Value, json};

use super::{OAuth2Flows, SecurityDescription};
use crate::dpop::{DpopPolicy, HtuOrigin};
use crate::guard::Guard;
use crate::source::TokenSource;
use crate::{Algorithm, JwtAuthLayer, JwtConfig, Verifier, VerifyingKey};

type Json = serde_json::Map<String, Value>;

fn verifier(issuer: Option<&str>) -> Verifier {
    let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")
        .expect("key");
    let mut config = JwtConfig::new();
    if let Some(issuer) = issuer {
        config = config.issuer(issuer);
    }
    Verifier::new(key, config)
}

fn schemes(description: &SecurityDescription) -> Value {
    Value::Object(description.security_schemes())
}

#[test]
fn local_keys_are_an_http_bearer_jwt_scheme() {
    let layer = JwtAuthLayer::new(verifier(Some("https://id.example.com")));
    let description = SecurityDescription::from_layer(&layer);
    let schemes = schemes(&description);
    assert_eq!(schemes.as_object().map(|o| o.len()), Some(1));
    assert_eq!(schemes["jwt"]["type"], "http");
    assert_eq!(schemes["jwt"]["scheme"], "bearer");
    assert_eq!(schemes["jwt"]["bearerFormat"], "JWT");
    let text = schemes["jwt"]["description"].as_str().expect("description");
    assert!(text.contains("https://id.example.com"), "{text}");
    assert!(
        !text.contains("DPoP"),
        "no origin: DPoP is not offered: {text}"
    );
    assert_eq!(description.requirements().to_json(), json!([{ "jwt": [] }]));
}

#[test]
fn a_named_discovered_issuer_is_an_open_id_connect_scheme_at_its_discovery_url() {
    let layer = JwtAuthLayer::new(verifier(Some("https://id.example.com/realms/app/")));
    let description = SecurityDescription::from_layer(&layer)
        .openid_connect("https://id.example.com/realms/app/");
    let schemes = schemes(&description);
    assert_eq!(schemes["jwt"]["type"], "openIdConnect");
    assert_eq!(
        schemes["jwt"]["openIdConnectUrl"],
        "https://id.example.com/realms/app/.well-known/openid-configuration"
    );
}

#[cfg(feature = "jwks")]
#[tokio::test]
async fn keys_found_by_discovery_make_an_open_id_connect_scheme_by_themselves() {
    let remote = crate::jwks::RemoteJwks::discover("https://id.example.com")
        .build()
        .expect("remote keys");
    let config = JwtConfig::new().issuer("https://id.example.com");
    let verifier = Verifier::try_new(remote, config).expect("verifier");
    let description = SecurityDescription::from_layer(&JwtAuthLayer::new(verifier));
    assert_eq!(
        schemes(&description)["jwt"]["openIdConnectUrl"],
        "https://id.example.com/.well-known/openid-configuration"
    );
}

#[test]
fn guard_scopes_are_the_requirement_and_the_oauth2_flow_scopes() {
    let guard = Guard::<Json>::scopes(["orders:read", "orders:write"]);
    let layer = JwtAuthLayer::new(verifier(None)).claims::<Json>();
    let description = SecurityDescription::from_layer(&layer)
        .guard(&guard)
        .scope("admin", "everything")
        .oauth2(OAuth2Flows::new().client_credentials("https://id.example.com/token"));
    let schemes = schemes(&description);
    assert_eq!(schemes["jwt"]["type"], "oauth2");
    assert_eq!(
        schemes["jwt"]["flows"]["clientCredentials"]["scopes"],
        json!({ "admin": "everything", "orders:read": "orders:read", "orders:write": "orders:write" })
    );
    assert_eq!(
        description.requirements_for(&guard).to_json(),
        json!([{ "jwt": ["orders:read", "orders:write"] }])
    );
}

#[test]
fn required_dpop_is_noted_and_allowed_dpop_only_with_an_origin() {
    let required = JwtAuthLayer::new(verifier(None)).dpop(DpopPolicy::required());
    let text = schemes(&SecurityDescription::from_layer(&required))["jwt"]["description"].clone();
    assert!(
        text.as_str().is_some_and(|t| t.contains("DPoP required")),
        "{text}"
    );
    let origin = HtuOrigin::external("https://api.example.com").expect("origin");
    let allowed = JwtAuthLayer::new(verifier(None)).dpop(DpopPolicy::allowed().origin(origin));
    let text = schemes(&SecurityDescription::from_layer(&allowed))["jwt"]["description"].clone();
    assert!(
        text.as_str()
            .is_some_and(|t| t.contains("DPoP-bound") && !t.contains("required")),
        "{text}"
    );
}

#[test]
fn optional_layers_allow_anonymous_except_behind_a_guard() {
    let layer = JwtAuthLayer::new(verifier(None)).optional(true);
    let description = SecurityDescription::from_layer(&layer);
    assert_eq!(
        description.requirements().to_json(),
        json!([{ "jwt": [] }, {}])
    );
    let guard = Guard::<crate::NoCustomClaims>::authenticated();
    assert_eq!(
        description.requirements_for(&guard).to_json(),
        json!([{ "jwt": [] }])
    );
}

#[test]
fn other_token_sources_are_api_key_schemes_and_alternatives() {
    let layer = JwtAuthLayer::new(verifier(None)).sources([
        TokenSource::bearer(),
        TokenSource::cookie("access_token"),
        TokenSource::query("access_token"),
    ]);
    let description = SecurityDescription::from_layer(&layer).name("auth");
    let schemes = schemes(&description);
    assert_eq!(schemes["auth"]["type"], "http");
    assert_eq!(
        schemes["auth_cookie"],
        json!({
            "type": "apiKey",
            "in": "cookie",
            "name": "access_token",
            "description": "An access token (JWT) in this cookie; unsafe methods are refused (no CSRF proof configured)."
        })
    );
    assert_eq!(schemes["auth_query"]["in"], "query");
    assert_eq!(
        description.requirements().to_json(),
        json!([{ "auth": [] }, { "auth_cookie": [] }, { "auth_query": [] }])
    );
}

#[test]
fn a_cookie_only_layer_has_no_bearer_scheme() {
    let layer = JwtAuthLayer::new(verifier(None)).sources([TokenSource::cookie("at")]);
    let description = SecurityDescription::from_layer(&layer);
    let names: Vec<String> = description.schemes().map(|(name, _)| name).collect();
    assert_eq!(names, ["jwt_cookie"]);
}

#[test]
fn several_issuers_are_alternatives_and_local_keys_one_scheme() {
    let any = Verifier::any_of([
        verifier(Some("https://a.example.com")),
        verifier(Some("https://b.example.com")),
    ])
    .expect("two issuers");
    let description =
        SecurityDescription::from_verifier(&any).openid_connect("https://b.example.com");
    let schemes = schemes(&description);
    assert_eq!(schemes["jwt"]["type"], "http");
    assert_eq!(
        schemes["jwt_2"]["openIdConnectUrl"],
        "https://b.example.com/.well-known/openid-configuration"
    );
    assert_eq!(
        description.requirements().to_json(),
        json!([{ "jwt": [] }, { "jwt_2": [] }])
    );
}
