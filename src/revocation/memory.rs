//! `MemoryStore`: revocation state in this process.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{RevocationStore, Rotation, StoreError, StoreFuture, TokenRef};
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
}

/// A copy of a [`MemoryStore`]'s revocations, each with its expiry.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    /// (`jti`, expires_at)
    pub(crate) jtis: Vec<(String, u64)>,
    /// (family, expires_at)
    pub(crate) families: Vec<(String, u64)>,
    /// (subject, cutoff in µs, expires_at)
    pub(crate) cutoffs: Vec<(String, u64, u64)>,
}

#[derive(Debug, Default)]
struct State {
    denied_jti: HashMap<String, u64>,
    revoked_families: HashMap<String, u64>,
    /// subject → (cutoff in µs, expires_at)
    cutoffs: HashMap<String, (u64, u64)>,
    /// family → (current jti, expires_at)
    families: HashMap<String, (String, u64)>,
    expiries: BinaryHeap<Reverse<(u64, EntryKind, String)>>,
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

    /// Every revocation held now (not the live families), for a store that
    /// keeps this one as its local view and must write it back somewhere.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn revocations(&self) -> Revocations {
        let state = self.read();
        Revocations {
            jtis: state
                .denied_jti
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            families: state
                .revoked_families
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            cutoffs: state
                .cutoffs
                .iter()
                .map(|(k, (cutoff, expires_at))| (k.clone(), *cutoff, *expires_at))
                .collect(),
        }
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
                    remove_if_expired(&mut self.families, &key, expires_at, |v| v.1)
                }
            }
        }
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
        if state.denied_jti.contains_key(token.jti) {
            return Ok(true);
        }
        if let Some(session) = token.session
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

    fn start_family<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: u64,
    ) -> StoreFuture<'a, ()> {
        let mut state = self.write();
        state
            .families
            .insert(family.to_owned(), (jti.to_owned(), expires_at));
        state.track(expires_at, EntryKind::Family, family);
        drop(state);
        Box::pin(std::future::ready(Ok(())))
    }

    fn rotate_family<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        expires_at: u64,
    ) -> StoreFuture<'a, Rotation> {
        let mut state = self.write();
        let outcome = if state.revoked_families.contains_key(family) {
            Rotation::Unknown
        } else {
            match state.families.get_mut(family) {
                None => Rotation::Unknown,
                Some((current, _)) if current == presented => {
                    next.clone_into(current);
                    Rotation::Rotated
                }
                Some((_, family_expires_at)) => {
                    let until = (*family_expires_at).max(expires_at);
                    state.families.remove(family);
                    state.revoked_families.insert(family.to_owned(), until);
                    state.track(until, EntryKind::RevokedFamily, family);
                    Rotation::Reused
                }
            }
        };
        drop(state);
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn revoke_family<'a>(&'a self, family: &'a str, expires_at: u64) -> StoreFuture<'a, ()> {
        let mut state = self.write();
        let until = state
            .families
            .remove(family)
            .map_or(expires_at, |(_, family_expires_at)| {
                family_expires_at.max(expires_at)
            });
        let slot = state.revoked_families.entry(family.to_owned()).or_insert(0);
        *slot = (*slot).max(until);
        state.track(until, EntryKind::RevokedFamily, family);
        drop(state);
        Box::pin(std::future::ready(Ok(())))
    }
}
