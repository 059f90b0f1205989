//! The demo's session lifecycle (issue 14): logout ends the whole session,
//! whatever the body says; login and logout bodies are capped; a failed
//! login's username stays out of the default logs.

use super::*;

#[path = "../support/log_capture.rs"]
mod log_capture;

fn logout(token: &str, body: &str) -> Request<Body> {
    authed_post("/auth/logout", token, body)
}

#[tokio::test]
async fn logout_without_a_body_ends_the_whole_session() {
    let app = app();
    let first = login(&app, "alice").await;
    let response = refresh(&app, &field(&first, "refresh_token")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = json(response).await;

    let response = send(&app, logout(&field(&first, "access_token"), "")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The other access token of the session and its refresh token too.
    assert_eq!(
        send(&app, get("/me", &field(&second, "access_token")))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&app, &field(&second, "refresh_token"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_with_a_bad_refresh_token_still_ends_the_session_with_204() {
    let app = app();
    let pair = login(&app, "alice").await;
    let access = field(&pair, "access_token");
    for body in [
        r#"{"refresh_token":"junk"}"#,
        r#"{"refresh_token":"a.b.c"}"#,
    ] {
        let response = send(&app, logout(&access, body)).await;
        // The first call ends the session; the second presents a revoked
        // access token.
        if response.status() != StatusCode::UNAUTHORIZED {
            assert_eq!(response.status(), StatusCode::NO_CONTENT, "{body}");
        }
    }
    assert_eq!(
        send(&app, get("/me", &access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&app, &field(&pair, "refresh_token")).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn login_and_logout_bodies_over_16_kib_are_413() {
    let app = app();
    let padding = "x".repeat(16 * 1024);
    let body = format!(r#"{{"username":"alice","password":"alice-password","pad":"{padding}"}}"#);
    let response = send(&app, post("/auth/login", &body)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let pair = login(&app, "alice").await;
    let access = field(&pair, "access_token");
    let body = format!(r#"{{"refresh_token":"{padding}"}}"#);
    let response = send(&app, logout(&access, &body)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Just under the cap is read as usual.
    let body = format!(r#"{{"pad":"{}"}}"#, "x".repeat(16 * 1024 - 16));
    let response = send(&app, logout(&access, &body)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_failed_login_does_not_log_the_username_at_info_or_above() {
    let app = app();
    let (captured, _guard) = log_capture::capture();
    let response = send(
        &app,
        post(
            "/auth/login",
            r#"{"username":"someone-typed-their-password-here","password":"nope"}"#,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let text = captured.text();
    assert!(
        text.contains("login refused"),
        "the refusal is logged: {text}"
    );
    for line in text.lines().filter(|l| {
        [" INFO ", " WARN ", " ERROR "]
            .iter()
            .any(|level| l.contains(level))
    }) {
        assert!(
            !line.contains("someone-typed-their-password-here"),
            "{line}"
        );
    }
}
