//! `MemoryStore`: revocation state in this process.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{
    MAX_LISTED_SESSIONS, NewSession, RevocationStore, Rotation, RotationRequest, SessionRecord,
    StoreError, StoreFuture, TokenRef,
};
use crate::clock::{Clock, SystemClock};

/// Revocations held in this process: the default store, needing no server.
///
/// Checks are O(1) hash lookups under a read lock. Every write first drops
/// the entries whose expiry has passed (a min-heap of expiries makes that
/// O(log n) per entry), so memory is bounded by the live revocations.
/// Clones share state. State is lost when the process exits; use the Redis
/// store to share and keep it.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    state: Arc<RwLock<State>>,
    clock: Arc<dyn Clock>,
    /// The largest leeway of a verifier reading this store.
    leeway: Arc<AtomicU64>,
}

#[derive(Debug, Default)]
struct State {
    denied_jti: HashMap<String, u64>,
    revoked_families: HashMap<String, u64>,
    /// subject → (cutoff in µs, expires_at)
    cutoffs: HashMap<String, (u64, u64)>,
    /// Live families by id.
    families: HashMap<String, Family>,
    /// subject → ids of its live families.
    sessions: HashMap<String, HashSet<String>>,
    expiries: BinaryHeap<Reverse<(u64, EntryKind, String)>>,
}

/// A live refresh family: one session.
#[derive(Debug)]
struct Family {
    current: String,
    /// The `jti` the last rotation retired, and until when (inclusive) it
    /// may be presented again under the reuse grace.
    retired: Option<(String, u64)>,
    subject: String,
    created_at: u64,
    last_refreshed_at: u64,
    ends_at: u64,
    expires_at: u64,
    /// The DPoP key the session is bound to.
    jkt: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum EntryKind {
    Jti,
    RevokedFamily,
    Cutoff,
    Family,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock)
    }

    /// An empty store whose expiries follow `clock`.
    pub fn with_clock(clock: impl Clock) -> Self {
        Self {
            state: Arc::default(),
            clock: Arc::new(clock),
            leeway: Arc::default(),
        }
    }

    /// How many entries (denied tokens, cutoffs, families) are held now.
    pub fn len(&self) -> usize {
        let state = self.read();
        state.denied_jti.len()
            + state.revoked_families.len()
            + state.cutoffs.len()
            + state.families.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps inconsistent
        // (each write is a single insert or remove), so poisoning is ignored.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The state, after dropping every expired entry.
    fn write(&self) -> RwLockWriteGuard<'_, State> {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.prune(self.clock.now_secs());
        state
    }
}

impl State {
    fn prune(&mut self, now: u64) {
        while let Some(Reverse((expires_at, _, _))) = self.expiries.peek() {
            if *expires_at >= now {
                break;
            }
            let Some(Reverse((expires_at, kind, key))) = self.expiries.pop() else {
                break;
            };
            // The entry may have been extended since this heap item was pushed.
            match kind {
                EntryKind::Jti => remove_if_expired(&mut self.denied_jti, &key, expires_at, |v| *v),
                EntryKind::RevokedFamily => {
                    remove_if_expired(&mut self.revoked_families, &key, expires_at, |v| *v)
                }
                EntryKind::Cutoff => {
                    remove_if_expired(&mut self.cutoffs, &key, expires_at, |v| v.1)
                }
                EntryKind::Family => {
                    if self
                        .families
                        .get(&key)
                        .is_some_and(|f| f.expires_at <= expires_at)
                    {
                        self.remove_family(&key);
                    }
                }
            }
        }
    }

    /// Drops a live family and its place in its subject's list; returns it.
    fn remove_family(&mut self, family: &str) -> Option<Family> {
        let removed = self.families.remove(family)?;
        if let Some(listed) = self.sessions.get_mut(&removed.subject) {
            listed.remove(family);
            if listed.is_empty() {
                self.sessions.remove(&removed.subject);
            }
        }
        Some(removed)
    }

    /// Revokes `family` until the later of `until` and its own expiry.
    fn revoke_family(&mut self, family: &str, until: u64) {
        let until = self
            .remove_family(family)
            .map_or(until, |removed| removed.expires_at.max(until));
        let slot = self.revoked_families.entry(family.to_owned()).or_insert(0);
        *slot = (*slot).max(until);
        self.track(until, EntryKind::RevokedFamily, family);
    }

    fn track(&mut self, expires_at: u64, kind: EntryKind, key: &str) {
        self.expiries
            .push(Reverse((expires_at, kind, key.to_owned())));
    }
}

fn remove_if_expired<V>(
    map: &mut HashMap<String, V>,
    key: &str,
    expired_at: u64,
    expiry: impl Fn(&V) -> u64,
) {
    if map.get(key).is_some_and(|v| expiry(v) <= expired_at) {
        map.remove(key);
    }
}

impl RevocationStore for MemoryStore {
    fn is_revoked(&self, token: &TokenRef<'_>) -> Result<bool, StoreError> {
        let state = self.read();
        // An empty id is what a token without `jti`/`sid` has: never revoked.
        if !token.jti.is_empty() && state.denied_jti.contains_key(token.jti) {
            return Ok(true);
        }
        if let Some(session) = token.session
            && !session.is_empty()
            && state.revoked_families.contains_key(session)
        {
            return Ok(true);
        }
        Ok(state
            .cutoffs
            .get(token.subject)
            .is_some_and(|(cutoff, _)| token.issued_at_micros < *cutoff))
    }

    fn revoke_token<'a>(&'a self, jti: &'a str, expires_at: u64) -> StoreFuture<'a, ()> {
        if jti.is_empty() {
            super::refuse_empty_id("jti");
            return Box::pin(std::future::ready(Ok(())));
        }
        let mut state = self.write();
        let slot = state.denied_jti.entry(jti.to_owned()).or_insert(0);
        *slot = (*slot).max(expires_at);
        state.track(expires_at, EntryKind::Jti, jti);
        drop(state);
        Box::pin(std::future::ready(Ok(())))
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff_micros: u64,
        expires_at: u64,
    ) -> StoreFuture<'a, ()> {
        let mut state = self.write();
        let slot = state.cutoffs.entry(subject.to_owned()).or_insert((0, 0));
        *slot = (slot.0.max(cutoff_micros), slot.1.max(expires_at));
        state.track(expires_at, EntryKind::Cutoff, subject);
        drop(state);
        Box::pin(std::future::ready(Ok(())))
    }

    fn start_session<'a>(&'a self, session: NewSession<'a>) -> StoreFuture<'a, ()> {
        let mut state = self.write();
        state.remove_family(session.family);
        state.families.insert(
            session.family.to_owned(),
            Family {
                current: session.jti.to_owned(),
                retired: None,
                subject: session.subject.to_owned(),
                created_at: session.created_at,
                last_refreshed_at: session.created_at,
                ends_at: session.ends_at,
                expires_at: session.expires_at,
                jkt: session.jkt.map(str::to_owned),
            },
        );
        if !session.subject.is_empty() {
            state
                .sessions
                .entry(session.subject.to_owned())
                .or_default()
                .insert(session.family.to_owned());
        }
        state.track(session.expires_at, EntryKind::Family, session.family);
        drop(state);
        Box::pin(std::future::ready(Ok(())))
    }

    fn rotate_session<'a>(&'a self, rotation: RotationRequest<'a>) -> StoreFuture<'a, Rotation> {
        let mut state = self.write();
        let outcome = if state.revoked_families.contains_key(rotation.family) {
            Rotation::Unknown
        } else {
            match state.families.get_mut(rotation.family) {
                None => Rotation::Unknown,
                Some(family)
                    if family
                        .jkt
                        .as_deref()
                        .is_some_and(|bound| Some(bound) != rotation.jkt) =>
                {
                    Rotation::KeyMismatch
                }
                Some(family) if family.current == rotation.presented => {
                    family.retired = (rotation.reuse_grace_secs > 0).then(|| {
                        (
                            rotation.presented.to_owned(),
                            rotation.now.saturating_add(rotation.reuse_grace_secs),
                        )
                    });
                    rotation.next.clone_into(&mut family.current);
                    family.last_refreshed_at = rotation.now;
                    Rotation::Rotated
                }
                Some(family)
                    if family.retired.as_ref().is_some_and(|(jti, until)| {
                        jti == rotation.presented && rotation.now <= *until
                    }) =>
                {
                    // The retired token stays the one a retry may present, with
                    // the grace of the rotation that retired it: retrying never
                    // extends the window.
                    rotation.next.clone_into(&mut family.current);
                    family.last_refreshed_at = rotation.now;
                    Rotation::Retried
                }
                Some(_) => {
                    state.revoke_family(rotation.family, rotation.revoke_until);
                    Rotation::Reused
                }
            }
        };
        drop(state);
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn revoke_family<'a>(&'a self, family: &'a str, expires_at: u64) -> StoreFuture<'a, ()> {
        if family.is_empty() {
            super::refuse_empty_id("session");
            return Box::pin(std::future::ready(Ok(())));
        }
        let mut state = self.write();
        state.revoke_family(family, expires_at);
        drop(state);
        Box::pin(std::future::ready(Ok(())))
    }

    fn sessions<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Vec<SessionRecord>> {
        let now = self.clock.now_secs();
        let state = self.read();
        let mut listed: Vec<SessionRecord> = state
            .sessions
            .get(subject)
            .into_iter()
            .flatten()
            .filter_map(|id| {
                let family = state.families.get(id)?;
                (family.ends_at >= now && !state.revoked_families.contains_key(id)).then(|| {
                    SessionRecord {
                        id: id.clone(),
                        created_at: family.created_at,
                        last_refreshed_at: family.last_refreshed_at,
                        expires_at: family.ends_at,
                    }
                })
            })
            .collect();
        drop(state);
        // The ones ending last, then oldest first.
        listed.sort_by(|a, b| (b.expires_at, &b.id).cmp(&(a.expires_at, &a.id)));
        listed.truncate(MAX_LISTED_SESSIONS);
        listed.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Box::pin(std::future::ready(Ok(listed)))
    }

    fn end_session<'a>(
        &'a self,
        subject: &'a str,
        family: &'a str,
        revoke_until: u64,
    ) -> StoreFuture<'a, bool> {
        let mut state = self.write();
        let owned = !subject.is_empty()
            && state
                .families
                .get(family)
                .is_some_and(|f| f.subject == subject);
        if owned {
            state.revoke_family(family, revoke_until);
        }
        drop(state);
        Box::pin(std::future::ready(Ok(owned)))
    }

    fn note_leeway(&self, leeway_secs: u64) {
        self.leeway.fetch_max(leeway_secs, Ordering::Relaxed);
    }

    fn max_leeway(&self) -> u64 {
        self.leeway.load(Ordering::Relaxed)
    }
}
