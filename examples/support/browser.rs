//! The demo's browser side: an HTML page, cookie sessions with CSRF
//! protection, and a small notes API. Included by `demo.rs` as
//! `#[path = "support/browser.rs"] mod browser;`.
//!
//! | endpoint | what it does |
//! |---|---|
//! | `GET /` | the page: log in, who am I, add a note, log out (no build step, no external assets) |
//! | `POST /auth/session` | JSON `{"username","password"}` → 204 with the access, refresh and CSRF cookies |
//! | `POST /auth/session/refresh` | refresh cookie + `X-CSRF-Token` → 204 with rotated cookies |
//! | `DELETE /auth/session` | refresh (or access) cookie + `X-CSRF-Token` → 204, cookies cleared, session ended |
//! | `POST /notes` | JSON `{"text"}` → 201 `{"id","text","owner"}` |
//! | `GET /notes` | the caller's notes, `[{"id","text","owner"}, …]` |
//! | `GET /me` | the caller's claims |
//!
//! `/me` and `/notes` take the bearer header, then the access cookie; with
//! the cookie, `POST /notes` needs the CSRF header (the layer checks it).
//! `CSRF_SECRET` (≥ 32 bytes) keys the CSRF tokens; unset, a random one is
//! used (cookie sessions then do not survive a restart).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tower_jwt_auth::cookies::SessionCookies;
use tower_jwt_auth::csrf::CsrfProtection;
use tower_jwt_auth::{JwtAuthLayer, NoCustomClaims, TokenSource, TokenType};

use super::login_limit::ClientAddr;
use super::{AppState, LoginRequest, User, UserClaims, json_error, parse_body};

/// Longest note text accepted, in bytes.
const MAX_NOTE_LEN: usize = 4096;

/// The browser side's part of the app state.
#[derive(Clone)]
pub struct BrowserState {
    cookies: SessionCookies,
    notes: Arc<Mutex<Notes>>,
}

#[derive(Default)]
struct Notes {
    next_id: u64,
    all: Vec<Note>,
}

/// One note, as the API shows it.
#[derive(Clone, Serialize)]
struct Note {
    id: u64,
    text: String,
    owner: String,
}

impl BrowserState {
    /// Cookies keyed by `CSRF_SECRET`, or by a random secret with a warning.
    pub fn from_env() -> Result<Self, String> {
        let secret = match std::env::var("CSRF_SECRET") {
            Ok(secret) if !secret.is_empty() => secret.into_bytes(),
            _ => {
                tracing::warn!("CSRF_SECRET is not set: using a random one");
                let mut secret = vec![0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| format!("random CSRF secret: {e}"))?;
                secret
            }
        };
        let csrf = CsrfProtection::new(&secret).map_err(|e| format!("CSRF_SECRET: {e}"))?;
        Ok(Self {
            cookies: SessionCookies::new(csrf),
            notes: Arc::default(),
        })
    }
}

impl BrowserState {
    /// The session cookies and their CSRF policy (`GET /ws` reads them too).
    pub fn cookies(&self) -> &SessionCookies {
        &self.cookies
    }
}

/// The page and the cookie-session routes, plus `/me` and `/notes` behind
/// `auth` reading the bearer header, then the access cookie.
pub fn routes(auth: &JwtAuthLayer<User>, browser: &BrowserState) -> Router<AppState> {
    let cookies = &browser.cookies;
    let auth = auth
        .clone()
        .sources([TokenSource::bearer(), cookies.access_source()])
        .csrf(cookies.csrf().clone());
    let protected = Router::new()
        .route("/me", get(super::me))
        .route("/notes", get(list_notes).post(add_note))
        .route_layer(auth);
    // A cookie name is an HTTP token: no `"` or `\`, so it sits safely in
    // the page's string literal.
    let page_html: Arc<str> = PAGE
        .replace("__CSRF_COOKIE__", cookies.csrf().cookie())
        .into();
    Router::new()
        .route("/", get(move || page(page_html.clone())))
        .route("/auth/session", post(login).delete(logout))
        .route("/auth/session/refresh", post(refresh))
        .merge(protected)
}

fn forbidden() -> Response {
    json_error(StatusCode::FORBIDDEN, "csrf")
}

fn unauthorized() -> Response {
    let mut response = json_error(StatusCode::UNAUTHORIZED, "invalid_token");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

/// 204 carrying these `Set-Cookie` values.
fn no_content_with(cookies: Vec<HeaderValue>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// Logs in from the page: the pair goes into cookies, never into the body.
/// The origin check stops another site from logging the browser into an
/// account of its choosing (login CSRF); there is no session to bind a token
/// to yet.
async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let cookies = &state.browser.cookies;
    if let Err(error) = cookies.csrf().check_origin(&uri, &headers) {
        tracing::info!(reason = %error, "cookie login refused");
        return forbidden();
    }
    let request: LoginRequest = match parse_body(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let user = match state
        .logins
        .attempt(&request.username, &request.password, &client)
    {
        Ok(user) => user,
        Err(response) => return *response,
    };
    let pair = match state.sessions.login(&request.username, &user).await {
        Ok(pair) => pair,
        Err(error) => return super::session_error(&error),
    };
    match cookies.set_cookies(&pair) {
        Ok(set) => no_content_with(set),
        Err(error) => {
            tracing::error!(%error, "session cookies");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    }
}

/// Rotates the pair read from the refresh cookie; the CSRF proof must be the
/// one minted for that refresh token's session.
async fn refresh(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let cookies = &state.browser.cookies;
    let Ok(Some(token)) = cookies.refresh_token(&headers) else {
        return unauthorized();
    };
    let claims = match state
        .sessions
        .verifier()
        .verify::<NoCustomClaims>(token, TokenType::Refresh)
    {
        Ok(claims) => claims,
        Err(error) => {
            tracing::info!(reason = %error, "cookie refresh refused");
            return unauthorized();
        }
    };
    if let Err(error) = cookies
        .csrf()
        .check(&method, &uri, &headers, claims.sid.as_deref())
    {
        tracing::info!(reason = %error, sub = %claims.sub, "cookie refresh refused");
        return forbidden();
    }
    let pair = match state.sessions.refresh(token).await {
        Ok(pair) => pair,
        Err(error) => return super::session_error(&error),
    };
    match cookies.set_cookies(&pair) {
        Ok(set) => no_content_with(set),
        Err(error) => {
            tracing::error!(%error, "session cookies");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    }
}

/// Ends the session the refresh cookie (or, failing that, the access cookie)
/// belongs to, and clears the cookies. It works with an expired access token,
/// so a user can always log out.
async fn logout(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let cookies = &state.browser.cookies;
    let verifier = state.sessions.verifier();
    let from = |token: Result<Option<&str>, _>, kind| {
        let token = token.ok().flatten()?;
        verifier.verify::<NoCustomClaims>(token, kind).ok()
    };
    let claims = from(cookies.refresh_token(&headers), TokenType::Refresh)
        .or_else(|| from(cookies.access_token(&headers), TokenType::Access));
    let Some((sid, sub)) = claims.and_then(|c| Some((c.sid?, c.sub))) else {
        let mut response = unauthorized();
        for cookie in cookies.clear_cookies() {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        return response;
    };
    if let Err(error) = cookies.csrf().check(&method, &uri, &headers, Some(&sid)) {
        tracing::info!(reason = %error, %sub, "cookie logout refused");
        return forbidden();
    }
    match state.sessions.revoke_session(&sid).await {
        Ok(()) => {
            tracing::info!(%sub, %sid, "cookie session ended");
            no_content_with(cookies.clear_cookies())
        }
        Err(error) => super::session_error(&error),
    }
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

/// Any JSON body `{"text"}` (the content type is not required, as for the
/// demo's other endpoints): it is the layer's CSRF check, not the content
/// type, that stops a cross-site form.
async fn add_note(State(state): State<AppState>, claims: UserClaims, body: Bytes) -> Response {
    let note: NewNote = match parse_body(&body) {
        Ok(note) => note,
        Err(response) => return *response,
    };
    if note.text.len() > MAX_NOTE_LEN {
        return json_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    }
    let note = {
        let mut notes = state
            .browser
            .notes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        notes.next_id += 1;
        let note = Note {
            id: notes.next_id,
            text: note.text,
            owner: claims.sub.clone(),
        };
        notes.all.push(note.clone());
        note
    };
    (StatusCode::CREATED, Json(note)).into_response()
}

async fn list_notes(State(state): State<AppState>, claims: UserClaims) -> Json<Vec<Note>> {
    let notes = state
        .browser
        .notes
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    Json(
        notes
            .all
            .iter()
            .filter(|note| note.owner == claims.sub)
            .cloned()
            .collect(),
    )
}

async fn page(html: Arc<str>) -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
        ],
        Html(html.to_string()),
    )
        .into_response()
}

/// The whole front end. Text is inserted with `textContent`, never as HTML.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tower-jwt-auth demo</title>
<style>body { font-family: sans-serif; max-width: 40em; margin: 2em auto; } form, p { margin: 1em 0; }</style>
</head>
<body>
<h1>tower-jwt-auth demo</h1>
<p id="status">Not signed in.</p>
<form id="login">
  <input name="username" placeholder="username" autocomplete="username">
  <input name="password" type="password" placeholder="password" autocomplete="current-password">
  <button type="submit">Log in</button>
</form>
<p><button id="whoami" type="button">Who am I?</button> <button id="logout" type="button">Log out</button></p>
<form id="note">
  <input name="text" placeholder="a note">
  <button type="submit">Add note</button>
</form>
<ul id="notes"></ul>
<script>
"use strict";
const statusLine = document.getElementById("status");
// The CSRF cookie's name, from the server's configuration.
const CSRF_COOKIE = "__CSRF_COOKIE__";
function csrfToken() {
  for (const pair of document.cookie.split(/;\s*/)) {
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(0, eq) === CSRF_COOKIE) return pair.slice(eq + 1);
  }
  return "";
}
async function refresh() {
  const response = await fetch("/auth/session/refresh", { method: "POST", headers: { "X-CSRF-Token": csrfToken() } });
  return response.status === 204;
}
// One retry after a refresh when the access token has expired.
async function call(path, options) {
  let response = await fetch(path, options());
  if (response.status === 401 && await refresh()) response = await fetch(path, options());
  return response;
}
async function whoami() {
  const response = await call("/me", () => ({}));
  if (!response.ok) { statusLine.textContent = "Not signed in."; return; }
  const claims = await response.json();
  statusLine.textContent = "Signed in as " + claims.sub + ".";
  await loadNotes();
}
async function loadNotes() {
  const list = document.getElementById("notes");
  const response = await call("/notes", () => ({}));
  list.replaceChildren();
  if (!response.ok) return;
  for (const note of await response.json()) {
    const item = document.createElement("li");
    item.textContent = note.text;
    list.append(item);
  }
}
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const response = await fetch("/auth/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: form.username.value, password: form.password.value }),
  });
  form.password.value = "";
  if (response.status === 204) await whoami(); else statusLine.textContent = "Login failed.";
});
document.getElementById("note").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const text = form.text.value;
  const response = await call("/notes", () => ({
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify({ text }),
  }));
  if (response.status === 201) { form.text.value = ""; await loadNotes(); }
  else statusLine.textContent = "Could not add the note (" + response.status + ").";
});
document.getElementById("whoami").addEventListener("click", whoami);
document.getElementById("logout").addEventListener("click", async () => {
  await fetch("/auth/session", { method: "DELETE", headers: { "X-CSRF-Token": csrfToken() } });
  statusLine.textContent = "Signed out.";
  document.getElementById("notes").replaceChildren();
});
whoami();
</script>
</body>
</html>
"#;
