//! The refresh service and session operations, through real HTTP requests
//! (`oneshot`) on an axum router that also carries the auth layer.

#[path = "../support/down_store.rs"]
mod down_store;

use down_store::DownStore;

#[path = "../support/watched_body.rs"]
mod watched_body;

mod jtiless;
mod lifecycle;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::get;
use http::{Request, Response, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::revocation::{RevocationStore, TokenRef};
use tower_jwt_auth::{
    Algorithm, Claims, JwtAuthLayer, JwtConfig, ManualClock, MemoryStore, RefreshRefused,
    SessionError, SessionManager, SigningKey, TokenIssuer, TokenPair, Verifier, VerifyingKey,
};

const SECRET: &[u8] = b"refresh-test-secret-of-at-least-32-bytes";
const START: u64 = 1_800_000_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct User {
    roles: Vec<String>,
}

fn user(role: &str) -> User {
    User {
        roles: vec![role.to_owned()],
    }
}

struct Fixture {
    sessions: SessionManager<User>,
    app: Router,
    clock: ManualClock,
    store: MemoryStore,
}

fn config(clock: &ManualClock) -> JwtConfig {
    JwtConfig::new()
        .issuer("tests")
        .audience("api")
        .access_ttl(Duration::from_secs(60))
        .refresh_ttl(Duration::from_secs(600))
        .session_lifetime(Duration::from_secs(3600))
        .clock(clock.clone())
}

fn fixture_with(config: JwtConfig, clock: ManualClock, store: Arc<dyn RevocationStore>) -> Fixture {
    let sessions = SessionManager::new(
        TokenIssuer::new(
            SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config.clone(),
        ),
        Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config,
        ),
        store,
    );
    let app = app(&sessions);
    Fixture {
        sessions,
        app,
        clock,
        store: MemoryStore::new(),
    }
}

fn app(sessions: &SessionManager<User>) -> Router {
    let auth = JwtAuthLayer::new(sessions.verifier().clone())
        .claims::<User>()
        .shared_store(sessions.store().clone());
    let protected = Router::new()
        .route("/me", get(|claims: Claims<User>| async move { claims.sub }))
        .route_layer(auth);
    Router::new()
        .route_service("/auth/refresh", sessions.refresh_service())
        .merge(protected)
}

fn fixture() -> Fixture {
    let clock = ManualClock::at_secs(START);
    let store = MemoryStore::with_clock(clock.clone());
    let mut fixture = fixture_with(config(&clock), clock, Arc::new(store.clone()));
    fixture.store = store;
    fixture
}

fn refresh_request(body: impl Into<Body>) -> Request<Body> {
    Request::post("/auth/refresh")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

fn refresh_body(token: &str) -> String {
    serde_json::json!({ "refresh_token": token }).to_string()
}

async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

async fn refresh(app: &Router, token: &str) -> Response<Body> {
    send(app, refresh_request(refresh_body(token))).await
}

async fn pair_of(response: Response<Body>) -> TokenPair {
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_slice(&to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap()
}

async fn json(response: Response<Body>) -> Value {
    serde_json::from_slice(&to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap()
}

async fn me(app: &Router, access_token: &str) -> StatusCode {
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
        .body(Body::empty())
        .unwrap();
    send(app, request).await.status()
}

fn claims_of(fixture: &Fixture, token: &str) -> Claims<User> {
    fixture
        .sessions
        .verifier()
        .verify(token, tower_jwt_auth::TokenType::Refresh)
        .unwrap()
}

fn assert_invalid_token(response: &Response<Body>) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
}

// ===== rotation =====

#[tokio::test]
async fn refresh_returns_a_new_pair_whose_access_token_works() {
    let f = fixture();
    let first = f.sessions.login("alice", &user("admin")).await.unwrap();
    let response = refresh(&f.app, &first.refresh_token).await;
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let second = pair_of(response).await;
    assert_eq!(second.token_type, "Bearer");
    assert_eq!(second.expires_in, 60);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(me(&f.app, &second.access_token).await, StatusCode::OK);
    let third = pair_of(refresh(&f.app, &second.refresh_token).await).await;
    assert_eq!(me(&f.app, &third.access_token).await, StatusCode::OK);
}

#[tokio::test]
async fn refresh_keeps_the_user_claims_without_a_hook() {
    let f = fixture();
    let first = f.sessions.login("alice", &user("admin")).await.unwrap();
    let second = pair_of(refresh(&f.app, &first.refresh_token).await).await;
    assert_eq!(claims_of(&f, &second.refresh_token).custom, user("admin"));
}

#[tokio::test]
async fn access_token_is_refused_by_the_refresh_service() {
    let f = fixture();
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    let response = refresh(&f.app, &pair.access_token).await;
    assert_invalid_token(&response);
    assert_eq!(json(response).await["error"], "invalid_token");
}

#[tokio::test]
async fn refresh_token_is_refused_by_the_auth_layer() {
    let f = fixture();
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    assert_eq!(
        me(&f.app, &pair.refresh_token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_have_exactly_one_winner_every_time() {
    const ROUNDS: usize = 20;
    const TASKS: usize = 32;
    let f = fixture();
    for round in 0..ROUNDS {
        let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let app = f.app.clone();
                let token = pair.refresh_token.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    refresh(&app, &token).await.status()
                })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                StatusCode::OK => ok += 1,
                StatusCode::UNAUTHORIZED => {}
                other => panic!("round {round}: unexpected {other}"),
            }
        }
        assert_eq!(ok, 1, "round {round}: {ok} winners");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_session_manager_refreshes_have_exactly_one_winner() {
    let f = fixture();
    let pair = f.sessions.login("bob", &user("user")).await.unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let sessions = f.sessions.clone();
            let token = pair.refresh_token.clone();
            tokio::spawn(async move { sessions.refresh(&token).await.is_ok() })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

// ===== replay =====

#[tokio::test]
async fn replayed_refresh_token_revokes_the_whole_family() {
    let f = fixture();
    let first = f.sessions.login("alice", &user("admin")).await.unwrap();
    let second = pair_of(refresh(&f.app, &first.refresh_token).await).await;
    assert_eq!(me(&f.app, &second.access_token).await, StatusCode::OK);

    let replay = refresh(&f.app, &first.refresh_token).await;
    assert_invalid_token(&replay);

    // The newest refresh token and the session's access tokens stop working.
    assert_invalid_token(&refresh(&f.app, &second.refresh_token).await);
    assert_eq!(
        me(&f.app, &second.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&f.app, &first.access_token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn replay_in_one_family_leaves_other_sessions_alone() {
    let f = fixture();
    let stolen = f.sessions.login("alice", &user("admin")).await.unwrap();
    let laptop = f.sessions.login("alice", &user("admin")).await.unwrap();
    let _ = pair_of(refresh(&f.app, &stolen.refresh_token).await).await;
    assert_invalid_token(&refresh(&f.app, &stolen.refresh_token).await);
    assert_eq!(me(&f.app, &laptop.access_token).await, StatusCode::OK);
    let _ = pair_of(refresh(&f.app, &laptop.refresh_token).await).await;
}

#[tokio::test]
async fn replay_is_reported_as_reuse() {
    let f = fixture();
    let first = f.sessions.login("alice", &user("admin")).await.unwrap();
    f.sessions.refresh(&first.refresh_token).await.unwrap();
    let error = f.sessions.refresh(&first.refresh_token).await.unwrap_err();
    assert_eq!(
        error.auth_error().unwrap().kind(),
        tower_jwt_auth::AuthErrorKind::RefreshTokenReused
    );
}

// ===== absolute lifetime =====

#[tokio::test]
async fn rotation_never_extends_a_session_past_its_absolute_lifetime() {
    let f = fixture(); // refresh 600 s, session 3600 s, leeway 5 s
    let mut pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    // Refresh every 500 s: each refresh token lives 600 s, but none may
    // outlive the session.
    for _ in 0..7 {
        f.clock.advance_secs(500);
        pair = pair_of(refresh(&f.app, &pair.refresh_token).await).await;
        let claims = claims_of(&f, &pair.refresh_token);
        assert!(claims.exp <= START + 3600, "exp {}", claims.exp);
        assert_eq!(claims.auth_time, Some(START));
    }
    // 3500 s in: the last refresh token expires with the session at 3600 s.
    assert_eq!(claims_of(&f, &pair.refresh_token).exp, START + 3600);
    f.clock.set_secs(START + 3600);
    assert_invalid_token(&refresh(&f.app, &pair.refresh_token).await);
}

#[tokio::test]
async fn session_ends_even_when_refresh_tokens_would_live_longer() {
    let clock = ManualClock::at_secs(START);
    let config = config(&clock)
        .refresh_ttl(Duration::from_secs(10_000))
        .session_lifetime(Duration::from_secs(100));
    let f = fixture_with(
        config,
        clock.clone(),
        Arc::new(MemoryStore::with_clock(clock.clone())),
    );
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    assert_eq!(claims_of(&f, &pair.refresh_token).exp, START + 100);
    clock.advance_secs(99);
    let pair = pair_of(refresh(&f.app, &pair.refresh_token).await).await;
    clock.advance_secs(1);
    assert_invalid_token(&refresh(&f.app, &pair.refresh_token).await);
}

// ===== fresh claims =====

#[tokio::test]
async fn reload_hook_puts_fresh_claims_into_the_next_pair() {
    let f = fixture();
    let sessions = f
        .sessions
        .clone()
        .reload_claims(|claims: Claims<User>| async move {
            assert_eq!(claims.custom, user("user"));
            Ok(user("admin"))
        });
    let first = sessions.login("bob", &user("user")).await.unwrap();
    let next = sessions.refresh(&first.refresh_token).await.unwrap();
    assert_eq!(claims_of(&f, &next.refresh_token).custom, user("admin"));
}

#[tokio::test]
async fn reload_hook_refusal_is_401_and_unavailability_is_503() {
    let f = fixture();
    let denied = f
        .sessions
        .clone()
        .reload_claims(|_| async { Err(RefreshRefused::denied("account disabled")) });
    let pair = denied.login("bob", &user("user")).await.unwrap();
    let response = send(
        &app(&denied),
        refresh_request(refresh_body(&pair.refresh_token)),
    )
    .await;
    assert_invalid_token(&response);

    let down = f
        .sessions
        .clone()
        .reload_claims(|_| async { Err(RefreshRefused::unavailable("user db down")) });
    let pair = down.login("bob", &user("user")).await.unwrap();
    let response = send(
        &app(&down),
        refresh_request(refresh_body(&pair.refresh_token)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
}

// ===== logout =====

#[tokio::test]
async fn logout_leaves_the_subjects_other_sessions_alone() {
    let f = fixture();
    let phone = f.sessions.login("alice", &user("admin")).await.unwrap();
    let laptop = f.sessions.login("alice", &user("admin")).await.unwrap();
    let access = f
        .sessions
        .verifier()
        .verify::<User>(&phone.access_token, tower_jwt_auth::TokenType::Access)
        .unwrap();
    f.sessions.logout(&access, None).await.unwrap();
    assert_eq!(
        me(&f.app, &phone.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me(&f.app, &laptop.access_token).await, StatusCode::OK);
    let next = pair_of(refresh(&f.app, &laptop.refresh_token).await).await;
    assert_eq!(me(&f.app, &next.access_token).await, StatusCode::OK);
}

#[tokio::test]
async fn logout_with_a_refresh_token_ends_its_session() {
    let f = fixture();
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    let next = pair_of(refresh(&f.app, &pair.refresh_token).await).await;
    let access = f
        .sessions
        .verifier()
        .verify::<User>(&next.access_token, tower_jwt_auth::TokenType::Access)
        .unwrap();
    f.sessions
        .logout(&access, Some(&next.refresh_token))
        .await
        .unwrap();
    assert_eq!(
        me(&f.app, &next.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_invalid_token(&refresh(&f.app, &next.refresh_token).await);
}

#[tokio::test]
async fn logout_ignores_a_refresh_token_of_another_subject() {
    let f = fixture();
    let alice = f.sessions.login("alice", &user("admin")).await.unwrap();
    let bob = f.sessions.login("bob", &user("user")).await.unwrap();
    let access = f
        .sessions
        .verifier()
        .verify::<User>(&alice.access_token, tower_jwt_auth::TokenType::Access)
        .unwrap();
    f.sessions
        .logout(&access, Some(&bob.refresh_token))
        .await
        .unwrap();
    assert_eq!(
        me(&f.app, &alice.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    let _ = pair_of(refresh(&f.app, &bob.refresh_token).await).await;
}

#[tokio::test]
async fn revoked_access_token_is_forgotten_only_after_it_expires() {
    let f = fixture(); // access 60 s, leeway 5 s
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    let access = f
        .sessions
        .verifier()
        .verify::<User>(&pair.access_token, tower_jwt_auth::TokenType::Access)
        .unwrap();
    let before = f.store.len();
    f.sessions.logout(&access, None).await.unwrap();
    assert_eq!(f.store.len(), before + 1);

    // Still remembered at the last second the token could be accepted.
    f.clock.set_secs(access.exp + 5);
    f.store
        .revoke_token("unrelated", START + 10_000)
        .await
        .unwrap();
    // The `jti` entry alone (the session's revocation is kept longer).
    let token = TokenRef {
        jti: &access.jti,
        subject: &access.sub,
        session: None,
        issued_at_micros: access.issued_at_micros(),
    };
    assert!(f.store.is_revoked(&token).unwrap());
    assert_eq!(
        me(&f.app, &pair.access_token).await,
        StatusCode::UNAUTHORIZED
    );

    // Once the token is expired anyway, the entry goes.
    f.clock.set_secs(access.exp + 6);
    f.store
        .revoke_token("unrelated-2", START + 10_000)
        .await
        .unwrap();
    assert!(!f.store.is_revoked(&token).unwrap());
    assert_eq!(
        me(&f.app, &pair.access_token).await,
        StatusCode::UNAUTHORIZED,
        "expired anyway"
    );
}

// ===== logout everywhere =====

#[tokio::test]
async fn logout_all_rejects_every_earlier_token_and_a_same_second_login_works() {
    let f = fixture(); // the clock is frozen: everything happens in one second
    let phone = f.sessions.login("alice", &user("admin")).await.unwrap();
    let laptop = f.sessions.login("alice", &user("admin")).await.unwrap();
    let laptop = pair_of(refresh(&f.app, &laptop.refresh_token).await).await;
    let bob = f.sessions.login("bob", &user("user")).await.unwrap();

    f.sessions.logout_all("alice").await.unwrap();

    for pair in [&phone, &laptop] {
        assert_eq!(
            me(&f.app, &pair.access_token).await,
            StatusCode::UNAUTHORIZED
        );
        assert_invalid_token(&refresh(&f.app, &pair.refresh_token).await);
    }
    // Other subjects are untouched.
    assert_eq!(me(&f.app, &bob.access_token).await, StatusCode::OK);

    // Same second, same clock reading: the new session works.
    let again = f.sessions.login("alice", &user("admin")).await.unwrap();
    assert_eq!(me(&f.app, &again.access_token).await, StatusCode::OK);
    let next = pair_of(refresh(&f.app, &again.refresh_token).await).await;
    assert_eq!(me(&f.app, &next.access_token).await, StatusCode::OK);
}

#[tokio::test]
async fn logout_all_cutoff_outlives_every_token_it_revokes() {
    let f = fixture(); // access 60 s, refresh 600 s, leeway 5 s
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    f.sessions.logout_all("alice").await.unwrap();
    // The refresh token could be accepted until START + 600 + 5.
    f.clock.set_secs(START + 605);
    f.store
        .revoke_token("unrelated", START + 10_000)
        .await
        .unwrap();
    assert_invalid_token(&refresh(&f.app, &pair.refresh_token).await);
    let claims = claims_of_unchecked(&pair.refresh_token);
    assert!(
        f.store
            .is_revoked(&TokenRef {
                jti: &claims.jti,
                subject: "alice",
                session: None,
                issued_at_micros: claims.issued_at_micros(),
            })
            .unwrap()
    );
}

fn claims_of_unchecked(token: &str) -> Claims<User> {
    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

// ===== every 4xx path of the refresh service =====

#[tokio::test]
async fn refresh_with_another_method_is_405_with_allow() {
    let f = fixture();
    let response = send(
        &f.app,
        Request::get("/auth/refresh").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
}

#[tokio::test]
async fn refresh_with_a_content_type_neither_json_nor_form_is_415() {
    let f = fixture();
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    let request = Request::post("/auth/refresh")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(format!("refresh_token={}", pair.refresh_token)))
        .unwrap();
    let response = send(&f.app, request).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(json(response).await["error"], "unsupported_media_type");
}

/// Refused by its type, the body is still read: hyper keeps the connection
/// for the client's next request only when it was.
#[tokio::test]
async fn a_refresh_refused_for_its_content_type_still_reads_the_body() {
    let f = fixture();
    let (body, ended) = watched_body::watched_body("refresh_token=whatever");
    let request = Request::post("/auth/refresh")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(body)
        .unwrap();
    let response = send(&f.app, request).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(watched_body::was_read(&ended), "body left unread");
}

/// RFC 6749 §6, as OAuth clients send it: form-encoded, with the grant type.
#[tokio::test]
async fn refresh_takes_the_form_encoded_refresh_token_grant() {
    let f = fixture();
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    let form = |body: String| {
        Request::post("/auth/refresh")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let without_grant = send(
        &f.app,
        form(format!("refresh_token={}", pair.refresh_token)),
    )
    .await;
    assert_eq!(without_grant.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = format!(
        "grant_type=refresh_token&refresh_token={}&client_id=cli",
        pair.refresh_token
    );
    let response = send(&f.app, form(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["token_type"], "Bearer");
}

#[tokio::test]
async fn refresh_accepts_json_without_a_content_type() {
    let f = fixture();
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    let request = Request::post("/auth/refresh")
        .body(Body::from(refresh_body(&pair.refresh_token)))
        .unwrap();
    let _ = pair_of(send(&f.app, request).await).await;
}

#[tokio::test]
async fn refresh_with_a_missing_or_malformed_body_is_400() {
    let f = fixture();
    for body in [
        "",
        "{",
        "refresh_token=x",
        "\u{0}",
        "{\"refresh_token\":\"a\"} trailing",
    ] {
        let response = send(&f.app, refresh_request(body)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(json(response).await["error"], "invalid_request", "{body:?}");
    }
}

#[tokio::test]
async fn refresh_with_json_of_the_wrong_shape_is_422() {
    let f = fixture();
    for body in [
        "{}",
        "[]",
        "\"token\"",
        "{\"refresh_token\":5}",
        "{\"refresh_token\":null}",
        "{\"token\":\"abc\"}",
    ] {
        let response = send(&f.app, refresh_request(body)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body:?}"
        );
        assert_eq!(json(response).await["error"], "invalid_request", "{body:?}");
    }
}

#[tokio::test]
async fn refresh_with_an_oversized_body_is_413() {
    let f = fixture();
    let body = refresh_body(&"a".repeat(64 * 1024));
    let response = send(&f.app, refresh_request(body)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn refresh_with_a_bad_token_is_401_with_the_challenge() {
    let f = fixture();
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    let mut tampered = pair.refresh_token.clone();
    tampered.pop();
    tampered.push(if pair.refresh_token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    for token in ["", "garbage", "a.b.c", tampered.as_str()] {
        let response = refresh(&f.app, token).await;
        assert_invalid_token(&response);
        assert_eq!(
            json(response).await,
            serde_json::json!({"error": "invalid_token"})
        );
    }
}

#[tokio::test]
async fn refresh_with_an_expired_token_is_401() {
    let f = fixture();
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    f.clock.advance_secs(600 + 6);
    assert_invalid_token(&refresh(&f.app, &pair.refresh_token).await);
}

#[tokio::test]
async fn refresh_of_a_token_whose_session_was_never_started_is_401() {
    let f = fixture();
    // A pair minted by the issuer but never registered with the store.
    let pair = f.sessions.issuer().pair("alice", &user("admin")).unwrap();
    assert_invalid_token(&refresh(&f.app, &pair.refresh_token).await);
}

// ===== store unavailable =====

#[tokio::test]
async fn refresh_with_the_store_down_is_503_with_retry_after() {
    let clock = ManualClock::at_secs(START);
    let f = fixture_with(config(&clock), clock, Arc::new(DownStore));
    let pair = f.sessions.issuer().pair("alice", &user("admin")).unwrap();
    let response = refresh(&f.app, &pair.refresh_token).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(json(response).await["error"], "temporarily_unavailable");
    assert!(matches!(
        f.sessions.login("alice", &user("admin")).await,
        Err(SessionError::Rejected(_))
    ));
}
