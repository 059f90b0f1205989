//! The demo's session endpoints (issue 14): listing and ending the caller's
//! sessions, a route that wants a recent login, and the settings for both.
//! Included by `demo.rs` with `#[path = "support/sessions.rs"] mod sessions;`.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /auth/sessions` | 200 `{"sessions": [{"sid", "created_at", "last_refreshed_at", "expires_at", "current"}]}` |
//! | `DELETE /auth/sessions/{sid}` | 204, or 404 `{"error": "not_found"}` when `sid` is not one of the caller's live sessions |
//! | `GET /account/sensitive` | 200 when the login was at most `FRESH_MAX_AGE_SECS` ago, else 401 `insufficient_user_authentication` with `max_age` |

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AppState, UserClaims};

/// The cap on login and logout bodies, as on refresh bodies.
pub const MAX_BODY_LEN: usize = tower_jwt_auth::refresh::DEFAULT_MAX_BODY_LEN;

/// `FRESH_MAX_AGE_SECS` and `REFRESH_REUSE_GRACE_SECS`.
#[derive(Clone, Copy, Debug)]
pub struct SessionOptions {
    /// How recent a login `GET /account/sensitive` wants (default 300 s).
    pub fresh_max_age: Duration,
    /// The refresh reuse grace (default 0: none).
    pub reuse_grace: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            fresh_max_age: Duration::from_secs(300),
            reuse_grace: Duration::ZERO,
        }
    }
}

impl SessionOptions {
    /// Reads `FRESH_MAX_AGE_SECS` (default 300) and `REFRESH_REUSE_GRACE_SECS`
    /// (default 0).
    pub fn from_env() -> Result<Self, String> {
        let secs =
            |name: &str, default: Duration| -> Result<Duration, String> {
                match std::env::var(name).ok().filter(|v| !v.is_empty()) {
                    None => Ok(default),
                    Some(v) => v.trim().parse().map(Duration::from_secs).map_err(|_| {
                        format!("{name} must be a whole number of seconds, got `{v}`")
                    }),
                }
            };
        let defaults = Self::default();
        Ok(Self {
            fresh_max_age: secs("FRESH_MAX_AGE_SECS", defaults.fresh_max_age)?,
            reuse_grace: secs("REFRESH_REUSE_GRACE_SECS", defaults.reuse_grace)?,
        })
    }
}

fn json_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

/// A login or logout body within [`MAX_BODY_LEN`] (413 `request_too_large`
/// beyond it, as the refresh endpoint answers).
pub fn capped_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Box<Response>> {
    body.map_err(|rejection| {
        Box::new(if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            json_error(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large")
        } else {
            json_error(StatusCode::BAD_REQUEST, "invalid_request")
        })
    })
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// `GET /auth/sessions`: the caller's live sessions; `current` marks the one
/// of the token presented.
pub async fn list(State(state): State<AppState>, claims: UserClaims) -> Response {
    match state.sessions.sessions(&claims.sub).await {
        Ok(listed) => {
            let listed: Vec<_> = listed
                .into_iter()
                .map(|session| {
                    json!({
                        "current": claims.sid.as_deref() == Some(session.id.as_str()),
                        "sid": session.id,
                        "created_at": session.created_at,
                        "last_refreshed_at": session.last_refreshed_at,
                        "expires_at": session.expires_at,
                    })
                })
                .collect();
            (
                [(axum::http::header::CACHE_CONTROL, "no-store")],
                Json(json!({ "sessions": listed })),
            )
                .into_response()
        }
        Err(error) => super::session_error(&error),
    }
}

/// `DELETE /auth/sessions/{sid}`: ends one of the caller's sessions (204);
/// a sid that is not one of them is 404 and changes nothing.
pub async fn end(
    State(state): State<AppState>,
    claims: UserClaims,
    Path(sid): Path<String>,
) -> Response {
    match state.sessions.end_session(&claims.sub, &sid).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => json_error(StatusCode::NOT_FOUND, "not_found"),
        Err(error) => super::session_error(&error),
    }
}

/// `GET /account/sensitive`, behind the step-up layer: reached only with a
/// recent login.
pub async fn sensitive(claims: UserClaims) -> Response {
    Json(json!({
        "sub": claims.sub,
        "auth_time": claims.auth_time,
    }))
    .into_response()
}
