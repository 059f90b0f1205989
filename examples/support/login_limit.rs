//! Failed logins limited per user and per client address. Included by
//! `demo.rs` as `#[path = "support/login_limit.rs"] mod login_limit;`.
//!
//! Each user name and each client address has a budget of failed attempts
//! ([`LoginLimits`]): a few at once, then one more every interval. Once it is
//! spent, every login for that user or from that address — the right
//! password too, or the limit would only hide which guess was right — is
//! answered 429 with `Retry-After` until the budget refills. A successful
//! login spends nothing, and gives the user's budget back whole; an
//! address's budget is only given back by time.
//!
//! User names are kept as keyed hashes (people type passwords there);
//! IPv6 clients count per /64 network (one host holds a whole one). The
//! address is the connection's peer: behind a proxy, that is the proxy.
//! Both tables are bounded: when one is full, budgets that refilled are
//! forgotten first, then the one nearest to refilled.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::users::Users;
use super::{User, json_error};

/// A budget: `burst` failed attempts at once, then one every `interval`.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub burst: u32,
    pub interval: Duration,
}

/// The budgets of the demo.
#[derive(Clone, Copy, Debug)]
pub struct LoginLimits {
    /// Per user name: 5 failed attempts, then one every 30 s.
    pub per_user: Rate,
    /// Per client address: 20 failed attempts, then one every 5 s (a whole
    /// office behind one NAT mistypes more than one user).
    pub per_address: Rate,
    /// The most names or addresses remembered (each table).
    pub capacity: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_user: Rate {
                burst: 5,
                interval: Duration::from_secs(30),
            },
            per_address: Rate {
                burst: 20,
                interval: Duration::from_secs(5),
            },
            capacity: 100_000,
        }
    }
}

/// The client's address, when the server was started with connection info
/// (`into_make_service_with_connect_info`); `None` otherwise (`oneshot`).
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

/// One table of budgets: a key's theoretical arrival time (GCRA): the
/// budget is spent while it lies more than `(burst - 1) × interval` ahead.
struct Budgets {
    rate: Rate,
    capacity: usize,
    next: HashMap<u64, Instant>,
}

impl Budgets {
    fn new(rate: Rate, capacity: usize) -> Self {
        Self {
            rate,
            capacity,
            next: HashMap::new(),
        }
    }

    fn slack(&self) -> Duration {
        self.rate.interval * self.rate.burst.saturating_sub(1)
    }

    /// How long `key` must wait before its next attempt; `None`: it may try.
    fn wait(&self, key: u64, now: Instant) -> Option<Duration> {
        let next = *self.next.get(&key)?;
        let free_at = next.checked_sub(self.slack())?;
        (free_at > now).then(|| free_at - now)
    }

    /// Spends one attempt of `key`'s budget.
    fn fail(&mut self, key: u64, now: Instant) {
        if !self.next.contains_key(&key) && self.next.len() >= self.capacity {
            self.next.retain(|_, next| *next > now);
            if self.next.len() >= self.capacity
                && let Some(oldest) = self.next.iter().min_by_key(|(_, next)| **next)
            {
                let oldest = *oldest.0;
                self.next.remove(&oldest);
            }
        }
        let next = self.next.entry(key).or_insert(now);
        *next = (*next).max(now) + self.rate.interval;
    }

    fn forgive(&mut self, key: u64) {
        self.next.remove(&key);
    }
}

struct Tables {
    users: Budgets,
    addresses: Budgets,
}

/// The users and the budgets of their failed logins; cheap to clone (one
/// shared state).
#[derive(Clone)]
pub struct Logins {
    users: Arc<Users>,
    hasher: RandomState,
    tables: Arc<Mutex<Tables>>,
}

impl Logins {
    /// `users`, none of whom has failed yet, under `limits`.
    pub fn new(users: Users, limits: LoginLimits) -> Self {
        Self {
            users: Arc::new(users),
            hasher: RandomState::new(),
            tables: Arc::new(Mutex::new(Tables {
                users: Budgets::new(limits.per_user, limits.capacity),
                addresses: Budgets::new(limits.per_address, limits.capacity),
            })),
        }
    }

    fn user_key(&self, username: &str) -> u64 {
        self.hasher.hash_one(("user", username))
    }

    fn address_key(&self, ip: IpAddr) -> u64 {
        match ip.to_canonical() {
            IpAddr::V4(v4) => self.hasher.hash_one(("v4", v4.octets())),
            IpAddr::V6(v6) => self.hasher.hash_one(("v6/64", &v6.octets()[..8])),
        }
    }

    /// A login attempt: the user when the password is theirs and neither
    /// the user nor the address has spent its budget; else the answer (401
    /// `invalid_credentials`, 429 `too_many_attempts` with `Retry-After`).
    /// No `.await` between the budget check and the spending: one worker
    /// thread cannot interleave another's guess.
    pub(super) fn attempt(
        &self,
        username: &str,
        password: &str,
        client: &ClientAddr,
    ) -> Result<User, Box<Response>> {
        let user = self.user_key(username);
        let address = client.0.map(|ip| self.address_key(ip));
        let now = Instant::now();
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let wait = [
            tables.users.wait(user, now),
            address.and_then(|key| tables.addresses.wait(key, now)),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(wait) = wait {
            drop(tables);
            // Never the username: users type their password there.
            tracing::info!(client = ?client.0, "login refused: too many failed attempts");
            return Err(Box::new(too_many(wait)));
        }
        match self.users.check(username, password) {
            Some(found) => {
                tables.users.forgive(user);
                Ok(found)
            }
            None => {
                tables.users.fail(user, now);
                if let Some(key) = address {
                    tables.addresses.fail(key, now);
                }
                drop(tables);
                tracing::info!("login refused");
                Err(Box::new(json_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_credentials",
                )))
            }
        }
    }
}

/// 429 with `Retry-After` in whole seconds, rounded up.
fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}
