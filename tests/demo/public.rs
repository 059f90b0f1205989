//! The demo as its users run it (issue 26, item 13): the built example as a
//! child process, configured through its environment, over HTTP. On a public
//! address it refuses to start with the built-in users or per-process random
//! secrets; failed logins are limited per user and per client address; its
//! start-up log says once what to try next and each warning once.

#[path = "../support/example_process.rs"]
pub(super) mod example_process;

use example_process::{Client, Process, Reply, Started, example_binary, free_port};

/// Every variable of the demo's contract: removed from the inherited
/// environment, so only what a test sets is seen.
pub(super) const CONTRACT_VARS: &[&str] = &[
    "BIND",
    "JWT_ALGORITHM",
    "JWT_SECRET",
    "JWT_PRIVATE_KEY_FILE",
    "JWT_PUBLIC_KEY_FILE",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "ACCESS_TTL_SECS",
    "REFRESH_TTL_SECS",
    "JWT_PREVIOUS_PUBLIC_KEY_FILES",
    "REDIS_URL",
    "CSRF_SECRET",
    "FRESH_MAX_AGE_SECS",
    "REFRESH_REUSE_GRACE_SECS",
    "DEMO_USERS",
    "INTROSPECTION_CLIENTS",
    "DPOP",
    "PUBLIC_URL",
    "DPOP_NONCE",
    "DPOP_NONCE_SECRET",
    "DPOP_MAX_AGE_SECS",
];

pub(super) const SECRET: &str = "a-test-secret-of-at-least-32-bytes-long";
const USERS: &str = "carol:admin:carols-long-password,dave:user:daves-long-password";

/// The demo with exactly `vars` (and `BIND` on a free loopback port unless
/// given): serving, or exited.
pub(super) async fn demo(vars: &[(&str, &str)]) -> (Started, String) {
    let bind = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let mut vars = vars.to_vec();
    if !vars.iter().any(|(name, _)| *name == "BIND") {
        vars.push(("BIND", &bind));
    }
    let bind = vars.iter().find(|(name, _)| *name == "BIND").unwrap().1;
    let port = bind.rsplit(':').next().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Process::start(
        &example_binary("demo"),
        CONTRACT_VARS,
        &vars,
        "demo listening",
    )
    .await;
    (started, base)
}

pub(super) async fn serving(vars: &[(&str, &str)]) -> (Process, String) {
    match demo(vars).await {
        (Started::Serving(process), base) => (process, base),
        (Started::Exited(status, output), _) => panic!("the demo exited ({status}): {output}"),
    }
}

pub(super) async fn login(client: &Client, base: &str, user: &str, password: &str) -> Reply {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    client
        .send("POST", &format!("{base}/auth/login"), Some(&body))
        .await
}

/// A 429 with a `Retry-After` of whole seconds, at least one.
fn assert_too_many(reply: &Reply) -> u64 {
    assert_eq!(reply.status, 429, "{reply:?}");
    let retry_after: u64 = reply
        .header("retry-after")
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After in seconds: {reply:?}"));
    assert!(retry_after >= 1, "{reply:?}");
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert!(body["error"].is_string(), "{reply:?}");
    retry_after
}

// ===== a public address =====

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_public_address_without_users_and_secrets_the_demo_refuses_to_start_naming_them() {
    let public = format!("0.0.0.0:{}", free_port("0.0.0.0"));
    // The variables set; those the refusal must name; those it must not.
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a [&'a str], &'a [&'a str]);
    let cases: [Case; 4] = [
        (vec![], &["DEMO_USERS", "JWT_SECRET", "CSRF_SECRET"], &[]),
        (
            vec![("DEMO_USERS", USERS)],
            &["JWT_SECRET", "CSRF_SECRET"],
            &["DEMO_USERS"],
        ),
        (
            vec![("JWT_SECRET", SECRET), ("CSRF_SECRET", SECRET)],
            &["DEMO_USERS"],
            &["JWT_SECRET", "CSRF_SECRET"],
        ),
        // With an asymmetric key there is no random secret to refuse.
        (
            vec![
                ("JWT_ALGORITHM", "ES256"),
                ("JWT_PRIVATE_KEY_FILE", "tests/keys/es256_private.pem"),
                ("JWT_PUBLIC_KEY_FILE", "tests/keys/es256_public.pem"),
            ],
            &["DEMO_USERS", "CSRF_SECRET"],
            &["JWT_SECRET"],
        ),
    ];
    for (mut vars, named, not_named) in cases {
        vars.push(("BIND", &public));
        let (status, output) = match demo(&vars).await {
            (Started::Exited(status, output), _) => (status, output),
            (Started::Serving(process), _) => {
                let (_, output) = process.terminate().await;
                panic!("{vars:?}: the demo served on {public}:\n{output}")
            }
        };
        assert_eq!(status.code(), Some(2), "{vars:?}: {output}");
        // One message, naming what to set, and nothing else logged.
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 1, "{vars:?}: {output}");
        for variable in named {
            assert!(lines[0].contains(variable), "{vars:?}: {output}");
        }
        for variable in not_named {
            assert!(!lines[0].contains(variable), "{vars:?}: {output}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_public_address_with_users_and_secrets_only_the_configured_users_log_in() {
    let public = format!("0.0.0.0:{}", free_port("0.0.0.0"));
    let (process, base) = serving(&[
        ("BIND", &public),
        ("DEMO_USERS", USERS),
        ("JWT_SECRET", SECRET),
        ("CSRF_SECRET", SECRET),
    ])
    .await;
    let client = Client::new();
    let carol = login(&client, &base, "carol", "carols-long-password").await;
    assert_eq!(carol.status, 200, "{carol:?}");
    let token = serde_json::from_str::<serde_json::Value>(&carol.body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = format!("Bearer {token}");
    let admin = client
        .send_with(
            "GET",
            &format!("{base}/admin"),
            &[("authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(
        admin.status, 200,
        "carol has the role DEMO_USERS gave her: {admin:?}"
    );
    let alice = login(&client, &base, "alice", "alice-password").await;
    assert_eq!(alice.status, 401, "the built-in user is gone: {alice:?}");
    let (status, output) = process.terminate().await;
    assert!(status.success(), "{output}");
}

// ===== failed logins =====

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_user_with_429_and_retry_after() {
    let (process, base) = serving(&[]).await;
    let client = Client::new();
    let mut refused = 0;
    let retry_after = loop {
        let reply = login(&client, &base, "bob", "not-bobs-password").await;
        if reply.status == 429 {
            break assert_too_many(&reply);
        }
        assert_eq!(reply.status, 401, "{reply:?}");
        refused += 1;
        assert!(refused <= 10, "no limit after {refused} failed logins");
    };
    assert!(refused >= 3, "limited after only {refused} failed logins");
    assert!(retry_after <= 600, "{retry_after}");
    // While bob is limited, his right password is refused too (else the
    // limit would only hide which guess was right)…
    assert_too_many(&login(&client, &base, "bob", "bob-password").await);
    // …the cookie login shares the limit…
    let body = r#"{"username":"bob","password":"bob-password"}"#;
    assert_too_many(
        &client
            .send("POST", &format!("{base}/auth/session"), Some(body))
            .await,
    );
    // …and other users, from the same address, are not limited.
    let alice = login(&client, &base, "alice", "alice-password").await;
    assert_eq!(alice.status, 200, "{alice:?}");
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_client_address() {
    let (process, base) = serving(&[]).await;
    let client = Client::from("127.0.0.1");
    // Each guess at another username: no user's own limit is reached.
    let mut refused = 0;
    loop {
        let reply = login(&client, &base, &format!("guess-{refused}"), "password").await;
        if reply.status == 429 {
            assert_too_many(&reply);
            break;
        }
        assert_eq!(reply.status, 401, "{reply:?}");
        refused += 1;
        assert!(refused <= 100, "no limit after {refused} failed logins");
    }
    // The address is limited, for every user…
    assert_too_many(&login(&client, &base, "alice", "alice-password").await);
    // …another address is not.
    let other = Client::from("127.0.0.2");
    let alice = login(&other, &base, "alice", "alice-password").await;
    assert_eq!(alice.status, 200, "{alice:?}");
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successful_logins_are_not_limited_and_reset_the_users_count() {
    let (process, base) = serving(&[]).await;
    let client = Client::new();
    for _ in 0..40 {
        let reply = login(&client, &base, "alice", "alice-password").await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    // A user who mistypes, then gets it right, starts again from zero.
    for round in 0..3 {
        for _ in 0..3 {
            let reply = login(&client, &base, "bob", "typo").await;
            assert_eq!(reply.status, 401, "round {round}: {reply:?}");
        }
        let reply = login(&client, &base, "bob", "bob-password").await;
        assert_eq!(reply.status, 200, "round {round}: {reply:?}");
    }
    drop(process);
}

// ===== the start-up log =====

fn count(output: &str, needle: &str) -> usize {
    output.lines().filter(|l| l.contains(needle)).count()
}

/// SIGTERM the moment the demo says it listens (what supervisors and these
/// tests wait for): it shuts down cleanly. The handler used to be installed
/// only when axum's own task first polled it, and a signal before that
/// killed the process (exit by signal 15, not 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_the_moment_it_listens_the_demo_shuts_down_cleanly() {
    let (process, _) = serving(&[]).await;
    let (status, output) = process.terminate().await;
    assert!(status.success(), "{status}: {output}");
    assert_eq!(count(&output, "shutting down"), 1, "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_log_says_once_where_to_go_and_each_warning_once() {
    let (process, base) = serving(&[]).await;
    let health = Client::new()
        .send("GET", &format!("{base}/health"), None)
        .await;
    assert_eq!(health.status, 200);
    let (status, output) = process.terminate().await;
    assert!(status.success(), "{output}");
    // What to try next: the page and the demo user, on one line, once.
    let page = format!("{base}/");
    assert_eq!(count(&output, &page), 1, "{output}");
    let hint = output.lines().find(|l| l.contains(&page)).unwrap();
    assert!(
        hint.contains("alice") && hint.contains("alice-password"),
        "{output}"
    );
    // Each warning once.
    for warning in ["JWT_SECRET", "CSRF_SECRET"] {
        let warnings = output
            .lines()
            .filter(|l| l.contains(" WARN ") && l.contains(warning))
            .count();
        assert_eq!(warnings, 1, "{warning}: {output}");
    }
    let mut seen = std::collections::HashSet::new();
    for line in output.lines().filter(|l| l.contains(" WARN ")) {
        // The message, without the timestamp.
        let message = line.split_once(" WARN ").unwrap().1;
        assert!(seen.insert(message), "logged twice: {message}\n{output}");
    }
}
