//! Redis killed, frozen and restarted under two demo instances sharing it:
//! fail closed quickly (503, never a hang), recover by itself, lose nothing.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use http::{Request, Response, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::{Algorithm, JwtConfig, RedisStore, SigningKey, VerifyingKey};

use super::{
    COMMAND_TIMEOUT, HANG_GUARD, MAX_STALENESS, demo, redis_server::RedisServer, suite::unique,
};

const SECRET: &[u8] = b"outage-test-secret-of-at-least-32-bytes";

async fn store(server: &RedisServer, prefix: &str, fail_open: bool) -> RedisStore {
    RedisStore::builder(server.url())
        .prefix(prefix)
        .command_timeout(COMMAND_TIMEOUT)
        .max_staleness(MAX_STALENESS)
        .fail_open(fail_open)
        .connect()
        .await
        .expect("connect to the test redis")
}

fn app(store: &RedisStore) -> Router {
    demo::app_with_store(
        demo::Settings {
            bind: "127.0.0.1:0".parse().unwrap(),
            signing: SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            verifying: VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config: JwtConfig::new().issuer("demo").audience("demo-api"),
            previous: Vec::new(),
        },
        Arc::new(store.clone()),
    )
}

/// Sends a request; a hang fails the test instead of blocking it.
async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    tokio::time::timeout(HANG_GUARD, app.clone().oneshot(request))
        .await
        .expect("the request was answered, not hung")
        .unwrap()
}

async fn json(response: Response<Body>) -> Value {
    serde_json::from_slice(&to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap()
}

async fn login(app: &Router, user: &str) -> (String, String) {
    let response = send(
        app,
        Request::post("/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!(
                r#"{{"username":"{user}","password":"{user}-password"}}"#
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let pair = json(response).await;
    (
        pair["access_token"].as_str().unwrap().to_owned(),
        pair["refresh_token"].as_str().unwrap().to_owned(),
    )
}

fn me(access: &str) -> Request<Body> {
    Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap()
}

fn logout(access: &str) -> Request<Body> {
    Request::post("/auth/logout")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap()
}

fn refresh(refresh_token: &str) -> Request<Body> {
    Request::post("/auth/refresh")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(
            r#"{{"refresh_token":"{refresh_token}"}}"#
        )))
        .unwrap()
}

async fn wait_current(store: &RedisStore, current: bool) {
    let mut status = store.watch();
    tokio::time::timeout(HANG_GUARD, status.wait_for(|s| s.current == current))
        .await
        .expect("the view changed state")
        .unwrap();
}

/// Sends `GET /me` until told to stop; returns every status seen. Each
/// request is bounded by the hang guard.
async fn traffic(app: Router, token: String, stop: Arc<tokio::sync::Notify>) -> Vec<u16> {
    let mut statuses = Vec::new();
    let stopped = stop.notified();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => return statuses,
            response = send(&app, me(&token)) => statuses.push(response.status().as_u16()),
        }
        tokio::task::yield_now().await;
    }
}

fn assert_unavailable(response: &Response<Body>) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_traffic_fails_closed_then_recovers_without_losing_revocations() {
    let Some(mut server) = RedisServer::start(true) else {
        return;
    };
    let prefix = unique("outage");
    let (store_a, store_b) = (
        store(&server, &prefix, false).await,
        store(&server, &prefix, false).await,
    );
    let (app_a, app_b) = (app(&store_a), app(&store_b));

    let (alice, _) = login(&app_a, "alice").await;
    let (bob, bob_refresh) = login(&app_b, "bob").await;
    assert_eq!(
        send(&app_b, logout(&alice)).await.status(),
        StatusCode::NO_CONTENT
    );
    // Wait for instance A to hear of it (each applied change wakes the
    // check), then it rejects the token.
    let mut status = store_a.watch();
    let revoked_on_a = async {
        while send(&app_a, me(&alice)).await.status() != StatusCode::UNAUTHORIZED {
            status.changed().await.unwrap();
        }
    };
    tokio::time::timeout(HANG_GUARD, revoked_on_a)
        .await
        .expect("instance A heard of the logout");
    assert_eq!(send(&app_a, me(&bob)).await.status(), StatusCode::OK);

    // Traffic on both instances through the kill and the restart.
    let stop = Arc::new(tokio::sync::Notify::new());
    let traffic: Vec<_> = [(&app_a, &bob), (&app_b, &alice), (&app_a, &alice)]
        .into_iter()
        .map(|(app, token)| tokio::spawn(traffic(app.clone(), token.clone(), stop.clone())))
        .collect();

    server.kill();
    // Writes need Redis: 503 at once (bounded by the command timeout).
    assert_unavailable(&send(&app_a, logout(&bob)).await);
    assert_unavailable(&send(&app_b, refresh(&bob_refresh)).await);
    // Reads fail closed once the view can no longer be vouched for.
    wait_current(&store_a, false).await;
    assert_unavailable(&send(&app_a, me(&bob)).await);

    server.restart();
    wait_current(&store_a, true).await;
    wait_current(&store_b, true).await;
    assert_eq!(send(&app_a, me(&bob)).await.status(), StatusCode::OK);
    assert_eq!(
        send(&app_b, me(&alice)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app_b, refresh(&bob_refresh)).await.status(),
        StatusCode::OK
    );
    stop.notify_waiters();
    for task in traffic {
        let statuses = task.await.expect("no panic in the traffic");
        assert!(
            statuses.iter().all(|s| [200, 401, 503].contains(s)),
            "only 200, 401 or 503 under an outage: {statuses:?}"
        );
    }

    // The revocation survived the restart in Redis itself (append-only file).
    let late = app(&store(&server, &prefix, false).await);
    assert_eq!(
        send(&late, me(&alice)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(&late, me(&bob)).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_is_noticed_by_heartbeat_and_answered_with_503_not_a_hang() {
    let Some(server) = RedisServer::start(false) else {
        return;
    };
    let store = store(&server, &unique("frozen"), false).await;
    let app = app(&store);
    let (alice, alice_refresh) = login(&app, "alice").await;

    server.freeze();
    assert_unavailable(&send(&app, refresh(&alice_refresh)).await);
    wait_current(&store, false).await;
    assert_unavailable(&send(&app, me(&alice)).await);

    server.thaw();
    wait_current(&store, true).await;
    assert_eq!(send(&app, me(&alice)).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_serves_reads_from_the_stale_view_but_still_refuses_writes() {
    let Some(mut server) = RedisServer::start(false) else {
        return;
    };
    let store = store(&server, &unique("open"), true).await;
    let app = app(&store);
    let (alice, _) = login(&app, "alice").await;
    let (bob, _) = login(&app, "bob").await;
    assert_eq!(
        send(&app, logout(&bob)).await.status(),
        StatusCode::NO_CONTENT
    );

    server.kill();
    wait_current(&store, false).await;
    assert_eq!(send(&app, me(&alice)).await.status(), StatusCode::OK);
    assert_eq!(
        send(&app, me(&bob)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_unavailable(&send(&app, logout(&alice)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_restarts_empty_gets_back_what_running_instances_enforce() {
    let Some(mut server) = RedisServer::start(false) else {
        return;
    };
    let prefix = unique("amnesia");
    let running = store(&server, &prefix, false).await;
    let app_running = app(&running);
    let (alice, _) = login(&app_running, "alice").await;
    assert_eq!(
        send(&app_running, logout(&alice)).await.status(),
        StatusCode::NO_CONTENT
    );

    server.restart(); // no persistence: Redis comes back empty
    let mut status = running.watch();
    // Its feed is gone with the data: it reloads, trusts its view at once,
    // and writes back what Redis lacks in the background.
    tokio::time::timeout(
        HANG_GUARD,
        status.wait_for(|s| s.reloads >= 2 && s.current && s.write_backs >= 1),
    )
    .await
    .expect("the running instance resynchronized and wrote back")
    .unwrap();
    assert_eq!(
        send(&app_running, me(&alice)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // An instance started now learns the revocation from Redis.
    let late = app(&store(&server, &prefix, false).await);
    assert_eq!(
        send(&late, me(&alice)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
