//! The service behind the real proxies: Debian's nginx (`auth_request`,
//! `auth_request_set`) and caddy (`forward_auth`, `copy_headers`), each in
//! front of an upstream that echoes what it receives. The built example runs
//! as a child process, configured only through its environment.

use serde_json::json;

use crate::endpoint::Endpoint;
use crate::processes::{self, Upstream, echoed, get};
use crate::support::{self, SECRET, active, now, token, token_with};

/// Which proxy.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Nginx,
    Caddy,
}

/// Every case, through one proxy.
async fn through(kind: Kind) {
    let endpoint = Endpoint::start();
    let upstream = Upstream::start().await;
    let (service, auth_port) = support::start_service(&endpoint).await;
    let proxy = match kind {
        Kind::Nginx => processes::nginx(auth_port, upstream.port),
        Kind::Caddy => processes::caddy(auth_port, upstream.port),
    };
    let Some(proxy) = proxy else { return };
    let base = proxy.base();
    let context = || format!("{kind:?}: {}\n{}", proxy.output(), service.output());

    // A valid token reaches the upstream, which learns who sent it.
    let alice = token("alice", "read:ping");
    let bearer = format!("Bearer {alice}");
    let reply = get(&base, "/notes?page=2", &[("authorization", &bearer)]).await;
    assert_eq!(reply.status, 200, "{reply:?} {}", context());
    assert_eq!(echoed(&reply, "x-auth-subject"), ["alice"]);
    assert_eq!(echoed(&reply, "x-auth-scopes"), ["read:ping"]);
    assert_eq!(echoed(&reply, "x-auth-email"), ["alice@example.test"]);

    // A client-sent X-Auth-Subject is never what the upstream sees.
    let reply = get(
        &base,
        "/notes",
        &[
            ("authorization", &bearer),
            ("x-auth-subject", "mallory"),
            ("x-auth-email", "mallory@example.test"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?} {}", context());
    assert_eq!(echoed(&reply, "x-auth-subject"), ["alice"]);
    assert_eq!(echoed(&reply, "x-auth-email"), ["alice@example.test"]);

    // A token without an email: the client's email does not stand in for it.
    let no_email = token_with(SECRET, "carol", now() + 600, json!({"scope": "read:ping"}));
    let reply = get(
        &base,
        "/notes",
        &[
            ("authorization", &format!("Bearer {no_email}")),
            ("x-auth-email", "mallory@example.test"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?} {}", context());
    assert_eq!(echoed(&reply, "x-auth-subject"), ["carol"]);
    // nginx drops an empty header, Caddy sends it empty.
    let email = echoed(&reply, "x-auth-email");
    assert!(email.iter().all(String::is_empty), "{kind:?}: {email:?}");

    // Refused requests never reach it: 401 with the challenge at the client.
    let hits = upstream.hits();
    let forged = token_with(
        "another secret, 32 bytes or longer",
        "alice",
        now() + 600,
        json!({"scope": "read:ping"}),
    );
    let expired = token_with(SECRET, "alice", now() - 3600, json!({"scope": "read:ping"}));
    for (what, authorization) in [
        ("forged", format!("Bearer {forged}")),
        ("expired", format!("Bearer {expired}")),
        ("garbage", "Bearer not-a-token".to_owned()),
    ] {
        let reply = get(
            &base,
            "/notes",
            &[
                ("authorization", &authorization),
                ("x-auth-subject", "alice"),
            ],
        )
        .await;
        assert_eq!(reply.status, 401, "{what}: {reply:?} {}", context());
        assert!(
            reply.header("www-authenticate").starts_with("Bearer"),
            "{what}: {reply:?}"
        );
    }
    let anonymous = get(&base, "/notes", &[("x-auth-subject", "alice")]).await;
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    assert_eq!(
        upstream.hits(),
        hits,
        "a refused request reached the upstream"
    );

    // A missing scope: 403 at the client, nothing upstream.
    let admin = get(&base, "/admin/users", &[("authorization", &bearer)]).await;
    assert_eq!(admin.status, 403, "{admin:?} {}", context());
    let dotted = get(
        &base,
        "/notes/..%2Fadmin/users",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(dotted.status, 403, "{dotted:?}");
    assert_eq!(upstream.hits(), hits);
    let writer = token("root", "read:ping admin:write");
    let admin = get(
        &base,
        "/admin/users",
        &[("authorization", &format!("Bearer {writer}"))],
    )
    .await;
    assert_eq!(admin.status, 200, "{admin:?}");
    assert_eq!(echoed(&admin, "x-auth-subject"), ["root"]);

    // A revoked token stops at once (introspected, no cache).
    endpoint.answer("opaque-bob", active("bob", "read:ping"));
    let reply = get(&base, "/notes", &[("authorization", "Bearer opaque-bob")]).await;
    assert_eq!(reply.status, 200, "{reply:?} {}", context());
    assert_eq!(echoed(&reply, "x-auth-subject"), ["bob"]);
    endpoint.answer("opaque-bob", json!({"active": false}));
    let hits = upstream.hits();
    let reply = get(&base, "/notes", &[("authorization", "Bearer opaque-bob")]).await;
    assert_eq!(reply.status, 401, "{reply:?} {}", context());
    assert_eq!(
        upstream.hits(),
        hits,
        "a revoked token reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_passes_only_verified_requests_with_the_subject() {
    through(Kind::Nginx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_forward_auth_passes_only_verified_requests_with_the_subject() {
    through(Kind::Caddy).await;
}

/// SIGTERM the moment the service says it listens: it shuts down cleanly
/// (the handler is installed before that line, not later by axum's task).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_the_moment_it_listens_forward_auth_shuts_down_cleanly() {
    let endpoint = Endpoint::start();
    let (service, _) = support::start_service(&endpoint).await;
    let (status, output) = service.terminate().await;
    assert!(status.success(), "{status}: {output}");
}
