//! The demo's users, and what it needs before it serves on a public address.
//! Included by `demo.rs` as `#[path = "support/users.rs"] mod users;`.
//!
//! Without `DEMO_USERS` the demo knows two built-in users whose passwords
//! are in its documentation; with it, exactly the users it lists:
//! `name:role:password` entries separated by commas (the password is the
//! rest of the entry: it may hold `:`, not `,`).
//!
//! On an address that is not loopback (`BIND=0.0.0.0:3000`, a LAN or public
//! address) the built-in users and the per-process random secrets
//! (`JWT_SECRET` and `CSRF_SECRET` unset) would let anyone log in, and lose
//! every session at a restart: the demo refuses to start there until
//! `DEMO_USERS`, `CSRF_SECRET` and (with an HS* algorithm) `JWT_SECRET` are
//! set.

use std::net::SocketAddr;

use super::User;
use super::sessions::same_secret;
use super::settings::{algorithm_from_env, env};

/// The built-in users: `alice` (role `admin`) and `bob` (role `user`).
const BUILT_IN: [(&str, &str, &str); 2] = [
    ("alice", "admin", "alice-password"),
    ("bob", "user", "bob-password"),
];

/// Who may log in: the built-in users or those of `DEMO_USERS`.
#[derive(Clone)]
pub struct Users {
    /// `(name, role, password)`.
    entries: Vec<(String, String, String)>,
    built_in: bool,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the passwords.
        f.debug_struct("Users")
            .field("names", &self.names().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Default for Users {
    fn default() -> Self {
        Self::built_in()
    }
}

impl Users {
    /// `alice` / `alice-password` (role `admin`), `bob` / `bob-password`
    /// (role `user`).
    pub fn built_in() -> Self {
        Self {
            entries: BUILT_IN
                .iter()
                .map(|(name, role, password)| {
                    (
                        (*name).to_owned(),
                        (*role).to_owned(),
                        (*password).to_owned(),
                    )
                })
                .collect(),
            built_in: true,
        }
    }

    /// `DEMO_USERS` when set, else the built-in users.
    pub fn from_env() -> Result<Self, String> {
        match env("DEMO_USERS") {
            Some(list) => Self::parse(&list).map_err(|e| format!("DEMO_USERS: {e}")),
            None => Ok(Self::built_in()),
        }
    }

    /// `name:role:password,…`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut entries: Vec<(String, String, String)> = Vec::new();
        for (i, entry) in list.split(',').map(str::trim).enumerate() {
            let mut parts = entry.splitn(3, ':');
            let (Some(name), Some(role), Some(password)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("entry {} is not `name:role:password`", i + 1));
            };
            if name.is_empty() || role.is_empty() || password.is_empty() {
                return Err(format!(
                    "entry {} has an empty name, role or password",
                    i + 1
                ));
            }
            if entries.iter().any(|(n, _, _)| n == name) {
                return Err(format!("the user `{name}` is listed twice"));
            }
            entries.push((name.to_owned(), role.to_owned(), password.to_owned()));
        }
        Ok(Self {
            entries,
            built_in: false,
        })
    }

    /// Whether these are the built-in users (`DEMO_USERS` unset).
    pub fn is_built_in(&self) -> bool {
        self.built_in
    }

    /// The users' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(name, _, _)| name.as_str())
    }

    /// The user `username` is when `password` is theirs. Every entry is
    /// compared, each in constant time, so the answer's timing says nothing
    /// about which part was wrong.
    pub(super) fn check(&self, username: &str, password: &str) -> Option<User> {
        let mut found = None;
        for (name, role, secret) in &self.entries {
            let name_ok = same_secret(username, name);
            let secret_ok = same_secret(password, secret);
            if name_ok & secret_ok {
                found = Some(User {
                    roles: vec![role.clone()],
                });
            }
        }
        found
    }

    /// What the start-up log says to try next: the page at `bind`, and who
    /// can log in there (the built-in user's password, never a configured one).
    pub fn hint(&self, bind: SocketAddr) -> String {
        let page = if bind.ip().is_unspecified() {
            format!("http://<this host>:{}/", bind.port())
        } else {
            format!("http://{bind}/")
        };
        if self.built_in {
            format!(
                "open {page} and log in as alice / alice-password (role admin) or bob / bob-password; \
                 the API: POST /auth/login with {{\"username\":\"alice\",\"password\":\"alice-password\"}}"
            )
        } else {
            let names: Vec<&str> = self.names().collect();
            format!(
                "open {page} and log in as one of the DEMO_USERS ({})",
                names.join(", ")
            )
        }
    }
}

/// On an address that is not loopback, the variables still to set (by
/// name) before the demo may serve there, as one message; `Ok` on loopback
/// or when everything is set. Reads `BIND`, `DEMO_USERS`, `JWT_ALGORITHM`,
/// `JWT_SECRET`, `CSRF_SECRET`; an unreadable `BIND` or `JWT_ALGORITHM` is
/// left for the settings to report.
pub fn public_address_check() -> Result<(), String> {
    let Some(bind) = env("BIND").and_then(|b| b.parse::<SocketAddr>().ok()) else {
        return Ok(());
    };
    if bind.ip().is_loopback() {
        return Ok(());
    }
    let hmac = algorithm_from_env().is_ok_and(|algorithm| {
        use tower_jwt_auth::Algorithm::{HS256, HS384, HS512};
        matches!(algorithm, HS256 | HS384 | HS512)
    });
    let mut missing = Vec::new();
    if env("DEMO_USERS").is_none() {
        missing.push("DEMO_USERS (name:role:password,… instead of the built-in users)");
    }
    if hmac && env("JWT_SECRET").is_none() {
        missing.push("JWT_SECRET (at least 32 bytes)");
    }
    if env("CSRF_SECRET").is_none() {
        missing.push("CSRF_SECRET (at least 32 bytes)");
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "BIND={bind} is not a loopback address, where the built-in users (their passwords are \
         published) and per-process random secrets are refused: set {} (see examples/README.md)",
        missing.join(", ")
    ))
}
