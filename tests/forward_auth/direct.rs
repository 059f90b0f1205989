//! `/auth` in process, without a proxy: the service built from the same
//! settings the binary reads, asked the way nginx, Caddy and Traefik ask —
//! its answers, the header families, scope rules, claim headers, 503s.

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use crate::endpoint::{Endpoint, Mode};
use crate::forward_auth::{self, Forward};
use crate::support::{
    SECRET, active, ask, ask_for, default_service, header, now, service, token, token_with,
};

#[tokio::test]
async fn a_valid_token_is_answered_with_subject_scopes_and_mapped_claims() {
    let app = default_service().await;
    let response = ask_for(&app, "/notes?page=2", &token("alice", "read:ping")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-auth-subject"), ["alice"]);
    assert_eq!(header(&response, "x-auth-scopes"), ["read:ping"]);
    assert_eq!(header(&response, "x-auth-email"), ["alice@example.test"]);
    assert_eq!(header(&response, "cache-control"), ["no-store"]);
    let names: Vec<&str> = response.headers().keys().map(|n| n.as_str()).collect();
    assert!(
        names.iter().filter(|n| n.starts_with("x-auth-")).count() == 3,
        "{names:?}"
    );
}

#[tokio::test]
async fn client_sent_output_headers_are_never_read_or_echoed() {
    let app = default_service().await;
    let bearer = format!("Bearer {}", token("alice", "read:ping"));
    let response = ask(
        &app,
        &[
            ("x-forwarded-uri", "/notes"),
            ("authorization", &bearer),
            ("x-auth-subject", "mallory"),
            ("x-auth-scopes", "admin:write"),
            ("x-auth-roles", "admin"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-auth-subject"), ["alice"]);
    assert_eq!(header(&response, "x-auth-scopes"), ["read:ping"]);
    assert!(header(&response, "x-auth-roles").is_empty());
    // Claimed admin scope in a header opens nothing.
    let response = ask(
        &app,
        &[
            ("x-forwarded-uri", "/admin"),
            ("authorization", &bearer),
            ("x-auth-scopes", "admin:write"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = ask(
        &app,
        &[("x-forwarded-uri", "/notes"), ("x-auth-subject", "alice")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // DPOP defaults to `allowed`: both schemes are offered.
    assert_eq!(header(&response, "www-authenticate")[0], "Bearer");
    assert!(
        !response
            .headers()
            .keys()
            .any(|n| n.as_str().starts_with("x-auth-")),
        "{response:?}"
    );
}

#[tokio::test]
async fn the_original_request_comes_from_either_header_family_and_both_must_agree() {
    let app = default_service().await;
    let bearer = format!("Bearer {}", token("alice", "read:ping"));
    let bearer = ("authorization", bearer.as_str());
    let cases: &[(&[(&str, &str)], StatusCode)] = &[
        (&[("x-forwarded-uri", "/notes")], StatusCode::OK),
        (&[("x-original-uri", "/notes")], StatusCode::OK),
        (
            &[("x-original-uri", "/notes"), ("x-forwarded-uri", "/notes")],
            StatusCode::OK,
        ),
        (
            &[
                ("x-original-method", "DELETE"),
                ("x-original-uri", "/notes"),
            ],
            StatusCode::OK,
        ),
        // One of them came from the client: refused, never guessed.
        (
            &[("x-original-uri", "/admin"), ("x-forwarded-uri", "/notes")],
            StatusCode::UNAUTHORIZED,
        ),
        (
            &[
                ("x-original-method", "DELETE"),
                ("x-forwarded-method", "GET"),
                ("x-forwarded-uri", "/notes"),
            ],
            StatusCode::UNAUTHORIZED,
        ),
        (
            &[("x-forwarded-uri", "/notes"), ("x-forwarded-uri", "/admin")],
            StatusCode::UNAUTHORIZED,
        ),
        // No URI, or not a path: nothing to decide about.
        (&[], StatusCode::UNAUTHORIZED),
        (
            &[("x-forwarded-uri", "http://elsewhere/notes")],
            StatusCode::UNAUTHORIZED,
        ),
        (
            &[
                ("x-forwarded-method", "G E T"),
                ("x-forwarded-uri", "/notes"),
            ],
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (headers, status) in cases {
        let mut all = headers.to_vec();
        all.push(bearer);
        let response = ask(&app, &all).await;
        assert_eq!(response.status(), *status, "{headers:?}");
        if *status == StatusCode::UNAUTHORIZED {
            assert!(header(&response, "x-auth-subject").is_empty());
            assert_eq!(
                header(&response, "www-authenticate"),
                [r#"Bearer error="invalid_request""#],
                "{headers:?}"
            );
        }
    }
}

#[tokio::test]
async fn require_scopes_apply_by_longest_prefix_on_segment_boundaries() {
    let app = default_service().await;
    let reader = token("alice", "read:ping");
    let admin = token("root", "read:ping admin:write");
    let nobody = token("eve", "other");
    for (uri, token, status) in [
        ("/notes", &reader, StatusCode::OK),
        ("/", &reader, StatusCode::OK),
        ("/administrator", &reader, StatusCode::OK),
        ("/admin", &reader, StatusCode::FORBIDDEN),
        ("/admin/users?x=1", &reader, StatusCode::FORBIDDEN),
        ("/admin/users", &admin, StatusCode::OK),
        ("/notes", &nobody, StatusCode::FORBIDDEN),
    ] {
        let response = ask_for(&app, uri, token).await;
        assert_eq!(response.status(), status, "{uri}");
        if status == StatusCode::FORBIDDEN {
            let challenge = header(&response, "www-authenticate").join(" ");
            assert!(challenge.contains("insufficient_scope"), "{challenge}");
            assert!(header(&response, "x-auth-subject").is_empty());
        }
    }
    let refused = ask_for(&app, "/admin", &reader).await;
    assert!(
        header(&refused, "www-authenticate")[0].contains(r#"scope="admin:write""#),
        "{refused:?}"
    );
}

#[tokio::test]
async fn every_spelling_of_a_guarded_path_needs_its_scopes() {
    let app = service(&[("REQUIRE_SCOPES", "/admin=admin:write;/public=;/=read:ping")]).await;
    let reader = token("alice", "read:ping");
    for uri in [
        "/notes/../admin",
        "/notes/%2e%2e/admin",
        "/%61dmin",
        "/notes/..%2Fadmin",
        "/notes/..%2fadmin/x",
        "//admin",
        "/notes/..;/admin",
        "/notes%5C..%5Cadmin",
        "/admin;jsessionid=1",
        "/admin/",
    ] {
        let response = ask_for(&app, uri, &reader).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{uri}");
    }
    // An open prefix does not open a guarded path spelled to look like it.
    let anyone = token("eve", "");
    assert_eq!(
        ask_for(&app, "/public/page", &anyone).await.status(),
        StatusCode::OK
    );
    for uri in [
        "/admin/..%2Fpublic/x",
        "/public/../admin",
        "/public/..%2F..%2Fadmin",
    ] {
        let response = ask_for(&app, uri, &anyone).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{uri}");
    }
    // A path that no reading can make sense of is refused.
    for uri in ["/notes/%zz", "/notes\\..\\admin", "/notes/%00/admin"] {
        let response = ask_for(&app, uri, &reader).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{uri}");
    }
}

#[tokio::test]
async fn claim_values_are_answered_only_when_safe_and_whole() {
    let app = service(&[(
        "CLAIM_HEADERS",
        "email:X-Auth-Email,name:X-Auth-Name,age:X-Auth-Age,roles:X-Auth-Roles,\
         https://example.test/tenant:X-Auth-Tenant,bio:X-Auth-Bio,nothing:X-Auth-Nothing",
    )])
    .await;
    let token = token_with(
        SECRET,
        "alice",
        now() + 600,
        json!({
            "email": "alice@example.test\r\nX-Auth-Subject: root",
            "name": "Zoë Ångström",
            "age": 42,
            "roles": ["admin", "user"],
            "https://example.test/tenant": "acme",
            "bio": "x".repeat(forward_auth::MAX_VALUE_LEN + 1),
        }),
    );
    let response = ask_for(&app, "/notes", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Unsafe, too long or absent: answered empty, never cut or cleaned.
    assert_eq!(header(&response, "x-auth-email"), [""], "{response:?}");
    assert_eq!(header(&response, "x-auth-bio"), [""]);
    assert_eq!(header(&response, "x-auth-nothing"), [""]);
    assert_eq!(header(&response, "x-auth-scopes"), [""]);
    assert_eq!(header(&response, "x-auth-subject"), ["alice"]);
    assert_eq!(header(&response, "x-auth-age"), ["42"]);
    assert_eq!(header(&response, "x-auth-roles"), [r#"["admin","user"]"#]);
    assert_eq!(header(&response, "x-auth-tenant"), ["acme"]);
    assert_eq!(
        response.headers()["x-auth-name"].as_bytes(),
        "Zoë Ångström".as_bytes()
    );

    // A subject is never altered to fit: refused.
    for sub in [
        "alice\nroot",
        "alice\u{85}",
        &"a".repeat(forward_auth::MAX_VALUE_LEN + 1),
    ] {
        let token = token_with(SECRET, sub, now() + 600, json!({}));
        let response = ask_for(&app, "/notes", &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{sub:?}");
        assert!(header(&response, "x-auth-subject").is_empty());
    }
}

#[test]
fn claim_headers_and_scope_rules_are_checked_at_startup() {
    let forward = |name: &'static str, value: &'static str| {
        Forward::from_vars(move |n| (n == name).then(|| value.to_owned()))
    };
    for value in [
        "email:Host",
        "email:Authorization",
        "email:X-Auth-Subject",
        "email:x-auth-scopes",
        "email",
        "email:X-Auth-Email,name:X-Auth-Email",
        "email:X-Auth Email",
    ] {
        assert!(forward("CLAIM_HEADERS", value).is_err(), "{value}");
    }
    for value in ["admin=x", "/admin", "/a=x;/a/=y", "/a=x\"y", "/a b=x"] {
        assert!(forward("REQUIRE_SCOPES", value).is_err(), "{value}");
    }
    for (name, value) in [
        ("DPOP", "sometimes"),
        ("PUBLIC_URL", "ftp://x"),
        ("DPOP_MAX_AGE_SECS", "soon"),
    ] {
        assert!(forward(name, value).is_err(), "{name}={value}");
    }
    assert!(forward("CLAIM_HEADERS", "https://example.test/roles:X-Auth-Roles").is_ok());
    assert!(forward("REQUIRE_SCOPES", "/admin=admin:read admin:write,audit;/=").is_ok());
}

// ===== unavailable =====

#[tokio::test]
async fn keys_or_an_introspection_endpoint_that_cannot_be_had_answer_503() {
    // A JWK Set nobody serves.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", dead.local_addr().unwrap());
    drop(dead);
    let app = service(&[("JWKS_URL", &url), ("JWKS_MIN_REFRESH_SECS", "1")]).await;
    let response = ask_for(&app, "/notes", &token("alice", "read:ping")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!header(&response, "retry-after").is_empty());
    assert!(header(&response, "x-auth-subject").is_empty());

    // An introspection endpoint that fails.
    let endpoint = Endpoint::start();
    endpoint.answer("opaque", active("bob", "read:ping"));
    let url = endpoint.url();
    let app = service(&[
        ("INTROSPECTION_URL", &url),
        ("INTROSPECTION_CLIENT_ID", "fwd"),
        ("INTROSPECTION_CLIENT_SECRET", "fwd-secret"),
        ("INTROSPECTION_CACHE_SECS", "0"),
    ])
    .await;
    assert_eq!(ask_for(&app, "/n", "opaque").await.status(), StatusCode::OK);
    endpoint.set_mode(Mode::Status(500));
    let response = ask_for(&app, "/n", "opaque").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(header(&response, "x-auth-subject").is_empty());
}

#[tokio::test]
async fn health_and_metrics_answer_without_a_token() {
    let app = default_service().await;
    let get = |path: &'static str| {
        let app = app.clone();
        async move {
            app.oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap()
        }
    };
    let health = get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    let body = axum::body::to_bytes(health.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"ok");
    let _ = ask_for(&app, "/notes", &token("alice", "read:ping")).await;
    let metrics = get("/metrics").await;
    assert_eq!(metrics.status(), StatusCode::OK);
    let body = axum::body::to_bytes(metrics.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("tower_jwt_auth_decisions_total"), "{text}");
}
