//! The demo's cookie sessions and notes (`examples/support/browser.rs`), over
//! HTTP as a browser would send it (cookies and the CSRF header set by hand).

use axum::Router;
use axum::body::{Body, to_bytes};
use http::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use tower_jwt_auth::cookies::{DEFAULT_ACCESS_COOKIE as ACCESS, DEFAULT_REFRESH_COOKIE as REFRESH};
use tower_jwt_auth::csrf::DEFAULT_CSRF_COOKIE as CSRF;

use super::{app, json, login, send};

/// The cookies one `POST /auth/session` (or refresh) set.
#[derive(Clone, Debug)]
struct Jar {
    access: String,
    refresh: String,
    csrf: String,
    set_cookie: Vec<String>,
}

impl Jar {
    /// The `Cookie` header a browser sends to a path under `/auth/session`.
    fn all(&self) -> String {
        // The demo keeps the default names.
        format!(
            "{ACCESS}={}; {REFRESH}={}; {CSRF}={}",
            self.access, self.refresh, self.csrf
        )
    }

    /// The `Cookie` header a browser sends elsewhere (no refresh cookie).
    fn site(&self) -> String {
        format!("{ACCESS}={}; {CSRF}={}", self.access, self.csrf)
    }
}

fn cookie_value(set_cookie: &[String], name: &str) -> String {
    let prefix = format!("{name}=");
    let cookie = set_cookie
        .iter()
        .find(|c| c.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name} cookie in {set_cookie:?}"));
    cookie[prefix.len()..].split(';').next().unwrap().to_owned()
}

fn set_cookies(response: &Response<Body>) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn body_bytes(response: Response<Body>) -> Vec<u8> {
    to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec()
}

fn jar_of(response: &Response<Body>) -> Jar {
    let set_cookie = set_cookies(response);
    Jar {
        access: cookie_value(&set_cookie, ACCESS),
        refresh: cookie_value(&set_cookie, REFRESH),
        csrf: cookie_value(&set_cookie, CSRF),
        set_cookie,
    }
}

async fn cookie_login(app: &Router, user: &str) -> Jar {
    let response = send(
        app,
        Request::post("/auth/session")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!(
                r#"{{"username":"{user}","password":"{user}-password"}}"#
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let jar = jar_of(&response);
    assert!(
        body_bytes(response).await.is_empty(),
        "no tokens in the body"
    );
    jar
}

/// A request carrying `cookie`, and the CSRF header when given.
fn with_cookies(
    method: Method,
    uri: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: &str,
) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "demo.test")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

async fn notes_of(app: &Router, jar: &Jar) -> Value {
    let response = send(
        app,
        with_cookies(Method::GET, "/notes", &jar.site(), None, ""),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    json(response).await
}

#[tokio::test]
async fn session_login_sets_the_three_cookies_with_their_attributes() {
    let app = app();
    let jar = cookie_login(&app, "alice").await;
    let [access, refresh, csrf] = &jar.set_cookie[..] else {
        panic!("three cookies: {:?}", jar.set_cookie);
    };
    assert!(
        access.ends_with("; Path=/; Max-Age=300; HttpOnly; Secure; SameSite=Lax"),
        "{access}"
    );
    assert!(
        refresh.ends_with("; Path=/auth/session; Max-Age=86400; HttpOnly; Secure; SameSite=Strict"),
        "{refresh}"
    );
    assert!(
        csrf.ends_with("; Path=/; Max-Age=86400; Secure; SameSite=Lax"),
        "{csrf}"
    );
    assert_eq!(jar.access.split('.').count(), 3);
    assert_eq!(jar.refresh.split('.').count(), 3);
}

#[tokio::test]
async fn session_login_with_wrong_password_sets_no_cookie() {
    let app = app();
    let response = send(
        &app,
        Request::post("/auth/session")
            .body(Body::from(r#"{"username":"alice","password":"nope"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookies(&response).is_empty());
}

#[tokio::test]
async fn session_login_from_another_origin_is_403() {
    let app = app();
    let response = send(
        &app,
        Request::post("/auth/session")
            .header(header::HOST, "demo.test")
            .header(header::ORIGIN, "http://evil.test")
            .body(Body::from(
                r#"{"username":"alice","password":"alice-password"}"#,
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&response).is_empty());
}

#[tokio::test]
async fn me_reads_the_access_cookie_without_a_csrf_header() {
    let app = app();
    let jar = cookie_login(&app, "alice").await;
    let response = send(
        &app,
        with_cookies(Method::GET, "/me", &jar.site(), None, ""),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["sub"], "alice");
}

#[tokio::test]
async fn cookie_post_with_the_csrf_header_creates_a_note() {
    let app = app();
    let jar = cookie_login(&app, "alice").await;
    let response = send(
        &app,
        with_cookies(
            Method::POST,
            "/notes",
            &jar.site(),
            Some(&jar.csrf),
            r#"{"text":"milk"}"#,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let note = json(response).await;
    assert_eq!(note["text"], "milk");
    assert_eq!(note["owner"], "alice");
    assert!(note["id"].is_number());
    assert_eq!(notes_of(&app, &jar).await, json!([note]));
}

/// Every refusal is a 403 with an empty body, and no note is created.
async fn assert_refused(app: &Router, jar: &Jar, request: Request<Body>) {
    let response = send(app, request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    assert!(body_bytes(response).await.is_empty());
    assert_eq!(notes_of(app, jar).await, json!([]));
}

#[tokio::test]
async fn cookie_post_without_the_csrf_header_is_403() {
    let app = app();
    let jar = cookie_login(&app, "alice").await;
    let request = with_cookies(Method::POST, "/notes", &jar.site(), None, r#"{"text":"x"}"#);
    assert_refused(&app, &jar, request).await;
}

#[tokio::test]
async fn cookie_post_with_a_wrong_csrf_header_is_403() {
    let app = app();
    let jar = cookie_login(&app, "alice").await;
    for wrong in ["nope", &jar.csrf[1..], &format!("{}x", jar.csrf)] {
        let request = with_cookies(
            Method::POST,
            "/notes",
            &jar.site(),
            Some(wrong),
            r#"{"text":"x"}"#,
        );
        assert_refused(&app, &jar, request).await;
    }
}

#[tokio::test]
async fn another_sessions_csrf_token_is_403() {
    let app = app();
    let ours = cookie_login(&app, "alice").await;
    let theirs = cookie_login(&app, "alice").await;
    // Header and csrf cookie agree, but they belong to the other session.
    let cookie = format!("{ACCESS}={}; {CSRF}={}", ours.access, theirs.csrf);
    let request = with_cookies(
        Method::POST,
        "/notes",
        &cookie,
        Some(&theirs.csrf),
        r#"{"text":"x"}"#,
    );
    assert_refused(&app, &ours, request).await;
}

#[tokio::test]
async fn a_cross_origin_cookie_post_is_403_even_with_the_token() {
    let app = app();
    let jar = cookie_login(&app, "alice").await;
    let mut request = with_cookies(
        Method::POST,
        "/notes",
        &jar.site(),
        Some(&jar.csrf),
        r#"{"text":"x"}"#,
    );
    request
        .headers_mut()
        .insert(header::ORIGIN, "http://demo.test:8080".parse().unwrap());
    assert_refused(&app, &jar, request).await;
    let mut request = with_cookies(
        Method::POST,
        "/notes",
        &jar.site(),
        Some(&jar.csrf),
        r#"{"text":"x"}"#,
    );
    request
        .headers_mut()
        .insert("sec-fetch-site", "same-site".parse().unwrap());
    assert_refused(&app, &jar, request).await;
}

#[tokio::test]
async fn a_bearer_post_needs_no_csrf_header() {
    let app = app();
    let pair = login(&app, "bob").await;
    let response = send(
        &app,
        Request::post("/notes")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", pair["access_token"].as_str().unwrap()),
            )
            .header(header::ORIGIN, "http://elsewhere.test")
            .body(Body::from(r#"{"text":"from a script"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(json(response).await["owner"], "bob");
}

async fn refresh_with(app: &Router, jar: &Jar, csrf: Option<&str>) -> Response<Body> {
    send(
        app,
        with_cookies(Method::POST, "/auth/session/refresh", &jar.all(), csrf, ""),
    )
    .await
}

#[tokio::test]
async fn cookie_refresh_needs_the_csrf_header_and_rotates_the_cookies() {
    let app = app();
    let jar = cookie_login(&app, "alice").await;
    let refused = refresh_with(&app, &jar, None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&refused).is_empty());

    let response = refresh_with(&app, &jar, Some(&jar.csrf)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let next = jar_of(&response);
    assert_ne!(next.access, jar.access);
    assert_ne!(next.refresh, jar.refresh);
    assert_ne!(next.csrf, jar.csrf);
    // The rotated cookies work, the new CSRF token with them.
    let response = send(
        &app,
        with_cookies(
            Method::POST,
            "/notes",
            &next.site(),
            Some(&next.csrf),
            r#"{"text":"y"}"#,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn cookie_refresh_without_a_refresh_cookie_is_401() {
    let app = app();
    let jar = cookie_login(&app, "alice").await;
    let response = send(
        &app,
        with_cookies(
            Method::POST,
            "/auth/session/refresh",
            &jar.site(),
            Some(&jar.csrf),
            "",
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_logout_needs_the_csrf_header() {
    let app = app();
    let jar = cookie_login(&app, "alice").await;
    let response = send(
        &app,
        with_cookies(Method::DELETE, "/auth/session", &jar.all(), None, ""),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let me = send(
        &app,
        with_cookies(Method::GET, "/me", &jar.site(), None, ""),
    )
    .await;
    assert_eq!(me.status(), StatusCode::OK, "the session goes on");
}

#[tokio::test]
async fn cookie_logout_clears_the_cookies_and_ends_the_session() {
    let app = app();
    let jar = cookie_login(&app, "alice").await;
    let response = send(
        &app,
        with_cookies(
            Method::DELETE,
            "/auth/session",
            &jar.all(),
            Some(&jar.csrf),
            "",
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(&response);
    for (name, path) in [(ACCESS, "/"), (REFRESH, "/auth/session"), (CSRF, "/")] {
        assert!(
            cleared
                .iter()
                .any(|c| c.starts_with(&format!("{name}=; Path={path}; Max-Age=0"))),
            "{name}: {cleared:?}"
        );
    }
    // The old cookies no longer work, for the API or for refresh.
    let me = send(
        &app,
        with_cookies(Method::GET, "/me", &jar.site(), None, ""),
    )
    .await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let refresh = refresh_with(&app, &jar, Some(&jar.csrf)).await;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_page_has_the_forms_of_the_contract() {
    let app = app();
    let response = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = String::from_utf8(body_bytes(response).await).unwrap();
    for needle in [
        r#"name="username""#,
        r#"name="password""#,
        r#"name="text""#,
        "X-CSRF-Token",
        CSRF,
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    assert!(!page.contains("src=\"http"), "no external assets");
}

#[tokio::test]
async fn the_json_login_endpoint_still_returns_tokens_in_the_body() {
    let app = app();
    let pair = login(&app, "alice").await;
    assert!(pair["access_token"].is_string());
    assert!(pair["refresh_token"].is_string());
}
