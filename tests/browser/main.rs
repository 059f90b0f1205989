//! The demo's browser side in a real browser: headless Chromium driven over
//! WebDriver (`chromedriver`, through `fantoccini`).
//!
//! Logs in through the page, sees the username, checks the access cookie is
//! invisible to `document.cookie`, adds a note; then a page served from
//! another loopback port — the same *site*, so `SameSite=Lax` cookies go
//! along — submits a form and two `fetch`es with credentials to `/notes`, and
//! no note is created.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).
//! In CI (`CI` set, see `tests/support/ci.rs`) their absence fails the test; elsewhere it is skipped with
//! a message.

#[path = "../support/ci.rs"]
mod ci;
#[allow(dead_code)]
#[path = "../../examples/demo.rs"]
mod demo;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Html;
use axum::routing::get;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt as _;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
// The demo keeps the configuration's default cookie names.
use tower_jwt_auth::cookies::DEFAULT_ACCESS_COOKIE as ACCESS_COOKIE;
use tower_jwt_auth::csrf::DEFAULT_CSRF_COOKIE as CSRF_COOKIE;
use tower_jwt_auth::{Algorithm, JwtConfig, SigningKey, VerifyingKey};

const SECRET: &[u8] = b"browser-test-secret-of-at-least-32-bytes";

/// One request the demo answered, as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    status: u16,
    access_cookie: bool,
    csrf_header: bool,
    origin: Option<String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Chromium and chromedriver, or why the test cannot run.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = find_on_path(&["chromium", "chromium-browser", "google-chrome"])
        .ok_or("no chromium on PATH (apt-get install chromium)")?;
    let driver = find_on_path(&["chromedriver"])
        .ok_or("no chromedriver on PATH (apt-get install chromium-driver)")?;
    Ok((chromium, driver))
}

/// Starts chromedriver on a free port; resolves once it says it listens.
async fn start_driver(driver: &Path) -> (Child, u16) {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.expect("chromedriver output") {
        if line.contains("started successfully") {
            // Keep draining its output so it never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return (child, port);
        }
    }
    panic!("chromedriver exited before it was ready");
}

async fn connect(chromium: &Path, driver_port: u16, profile: &Path) -> Client {
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                format!("--user-data-dir={}", profile.display()),
            ],
        }
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session")
}

/// Serves `app` on a free loopback port; returns its origin.
async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// The demo, with every request it answers written to `log`.
fn demo_app(log: Log) -> Router {
    let app = demo::app(demo::Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        signing: SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        verifying: VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config: JwtConfig::new(),
        previous: Vec::new(),
    });
    app.layer(middleware::from_fn(move |request: Request, next: Next| {
        let log = Arc::clone(&log);
        async move {
            let headers = request.headers();
            let mut seen = Seen {
                method: request.method().to_string(),
                path: request.uri().path().to_owned(),
                status: 0,
                access_cookie: headers
                    .get_all("cookie")
                    .iter()
                    .any(|c| c.to_str().is_ok_and(|c| c.contains("access_token="))),
                csrf_header: headers.contains_key("x-csrf-token"),
                origin: headers
                    .get("origin")
                    .and_then(|o| o.to_str().ok())
                    .map(str::to_owned),
            };
            let response = next.run(request).await;
            seen.status = response.status().as_u16();
            log.lock().unwrap().push(seen);
            response
        }
    }))
}

/// The other port's page: a form whose `text/plain` body is valid JSON
/// (`{"text":"forged by a form","x":"="}`), aimed at the demo's `/notes`.
fn attacker_app(target: &str) -> Router {
    let page = format!(
        r#"<!doctype html>
<html><body>
<h1>You won a prize</h1>
<form id="forged" method="POST" action="{target}/notes" enctype="text/plain">
  <input type="hidden" name='{{"text":"forged by a form","x":"' value='"}}'>
  <button type="submit">Claim it</button>
</form>
</body></html>"#
    );
    Router::new().route("/", get(move || async move { Html(page) }))
}

/// The two `fetch` attacks, run in the other port's page: a `no-cors` POST
/// (which the browser sends, cookies included, without letting the page read
/// the answer), and a CORS POST carrying the CSRF header copied from
/// `document.cookie` (cookies are not isolated by port), which needs a
/// preflight the demo never grants.
const FETCH_ATTACKS: &str = r#"
const done = arguments[arguments.length - 1];
const url = arguments[0] + "/notes";
const csrfName = arguments[1];
const found = document.cookie.split(/;\s*/).find((c) => c.startsWith(csrfName + "="));
const csrf = found ? found.slice(csrfName.length + 1) : "";
const results = { csrfReadable: csrf.length > 0 };
fetch(url, {
  method: "POST", mode: "no-cors", credentials: "include",
  headers: { "Content-Type": "text/plain" }, body: '{"text":"forged by a no-cors fetch"}',
}).then(() => { results.noCors = "sent"; }, (e) => { results.noCors = "error " + e; })
.then(() => fetch(url, {
  method: "POST", mode: "cors", credentials: "include",
  headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
  body: '{"text":"forged by a cors fetch"}',
})).then((r) => { results.cors = "status " + r.status; }, () => { results.cors = "blocked"; })
.then(() => done(results));
"#;

const LIST_NOTES: &str = r#"
const done = arguments[arguments.length - 1];
fetch("/notes").then((r) => r.json()).then(done, (e) => done("error " + e));
"#;

async fn scenario(client: &Client, app: &str, attacker: &str, log: &Log) {
    // Log in through the page.
    client.goto(&format!("{app}/")).await.unwrap();
    let login = client.find(Locator::Css("form#login")).await.unwrap();
    login
        .find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    login
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("alice-password")
        .await
        .unwrap();
    login
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status = client
        .wait()
        .for_element(Locator::XPath("//p[@id='status'][contains(., 'alice')]"))
        .await
        .expect("the page shows the username");
    assert_eq!(status.text().await.unwrap(), "Signed in as alice.");

    // The tokens are in cookies a script cannot read; the CSRF token is readable.
    let script_cookies = client
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    let script_cookies = script_cookies.as_str().unwrap();
    assert!(
        script_cookies.contains(&format!("{CSRF_COOKIE}=")),
        "{script_cookies}"
    );
    assert!(!script_cookies.contains("access"), "{script_cookies}");
    assert!(!script_cookies.contains("refresh"), "{script_cookies}");
    let jar = client.get_all_cookies().await.unwrap();
    let access = jar
        .iter()
        .find(|c| c.name() == ACCESS_COOKIE)
        .expect("the browser holds the access cookie");
    assert_eq!(access.http_only(), Some(true));

    // Add a note through the page.
    let note = client.find(Locator::Css("form#note")).await.unwrap();
    note.find(Locator::Css("input[name=text]"))
        .await
        .unwrap()
        .send_keys("buy milk")
        .await
        .unwrap();
    note.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::XPath("//ul[@id='notes']/li[. = 'buy milk']"))
        .await
        .expect("the note is listed");

    // Another port of the same host: fetches, then a form.
    client.goto(&format!("{attacker}/")).await.unwrap();
    let results = client
        .execute_async(FETCH_ATTACKS, vec![json!(app), json!(CSRF_COOKIE)])
        .await
        .unwrap();
    assert_eq!(results["csrfReadable"], true, "{results}");
    assert_eq!(results["noCors"], "sent", "{results}");
    assert_eq!(results["cors"], "blocked", "{results}");
    client
        .find(Locator::Css("form#forged button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let landed = url::Url::parse(&format!("{app}/notes")).unwrap();
    client
        .wait()
        .for_url(&landed)
        .await
        .expect("the form was submitted");

    // No note was created.
    client.goto(&format!("{app}/")).await.unwrap();
    let notes = client.execute_async(LIST_NOTES, vec![]).await.unwrap();
    assert_eq!(
        notes,
        json!([{ "id": 1, "text": "buy milk", "owner": "alice" }]),
        "only the page's own note exists"
    );

    // What the server saw: the forged POSTs came with the access cookie
    // (SameSite=Lax let them through), from the other origin, and were
    // refused by the layer; the CORS one never got past its preflight.
    let seen = log.lock().unwrap().clone();
    let posts: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.method == "POST" && s.path == "/notes")
        .collect();
    assert_eq!(posts.len(), 3, "{seen:#?}");
    assert_eq!(posts[0].status, 201, "{seen:#?}");
    assert!(posts[0].csrf_header && posts[0].origin.as_deref() == Some(app));
    for forged in &posts[1..] {
        assert_eq!(forged.status, 403, "{seen:#?}");
        assert!(
            forged.access_cookie,
            "the browser sent the cookie: {seen:#?}"
        );
        assert!(!forged.csrf_header, "{seen:#?}");
        assert_eq!(forged.origin.as_deref(), Some(attacker), "{seen:#?}");
    }
    assert!(
        seen.iter()
            .any(|s| s.method == "OPTIONS" && s.path == "/notes" && s.status >= 400),
        "the CORS fetch was preflighted and refused: {seen:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_works_and_another_port_cannot_forge_a_note() {
    let (chromium, driver) = match browser_tools() {
        Ok(tools) => tools,
        Err(missing) if ci::in_ci() => {
            panic!("CI is set and the browser test cannot run: {missing}")
        }
        Err(missing) => {
            eprintln!("skipping the browser test: {missing}");
            return;
        }
    };
    let log = Log::default();
    let app = serve(demo_app(Arc::clone(&log))).await;
    let attacker = serve(attacker_app(&app)).await;
    assert_ne!(app, attacker);

    let (mut driver, driver_port) = start_driver(&driver).await;
    let profile = std::env::temp_dir().join(format!("tower-jwt-auth-chromium-{driver_port}"));
    let client = connect(&chromium, driver_port, &profile).await;
    let outcome = AssertUnwindSafe(scenario(&client, &app, &attacker, &log))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    let _ = driver.kill().await;
    let _ = std::fs::remove_dir_all(&profile);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
