//! The Redis store's local view of the revocations, compact in memory.
//!
//! The view holds every live revocation of the deployment, so its size per
//! entry is what bounds the process at scale. Each id is stored once, as
//! bytes in an arena, next to its expiry; a hash table of `u32` offsets into
//! the arena finds it. A 22-byte `jti` costs 31 arena bytes (8 of expiry, 1
//! of length, 22 of id) and one table slot (4 bytes and a control byte, at a
//! load factor between 7/16 and 7/8): about 40 bytes, against the ~140 of a
//! `HashMap<String, u64>` plus a heap of cloned `String`s.
//!
//! The view is sharded by the id's hash, each shard behind its own lock:
//! readers (every request) take read locks, and a write, a bulk load or a
//! compaction blocks only one shard at a time.

mod table;

use std::fmt;
use std::hash::RandomState;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use self::table::{ARENA_LIMIT, Table, Value, hash_id, id_at, record_len, value_at};
use super::super::{TokenRef, unscoped};
use crate::clock::Clock;

/// A power of two: the shard is picked from bits of the id's hash.
const SHARDS: usize = 64;
/// Indices of the three kinds in a shard.
const JTI: usize = 0;
const FAMILY: usize = 1;
const CUTOFF: usize = 2;

/// The revocations this process knows of, by kind: denied `jti`s, revoked
/// families, subjects' cutoffs. Each entry keeps the latest expiry (and
/// cutoff) it was ever given.
pub(super) struct View {
    shards: Box<[Padded]>,
    /// SipHash with a per-process random key: ids come from outside, and a
    /// predictable hash would let them be chosen to collide.
    hasher: RandomState,
    clock: Arc<dyn Clock>,
    /// The largest leeway of a verifier reading this view.
    leeway: AtomicU64,
    /// [`ARENA_LIMIT`], lowered by tests to exercise the spill.
    arena_limit: usize,
    /// When the store began to scope other issuers' revocations
    /// (microseconds; `0` until read): an unscoped cutoff older than that
    /// was written for every issuer's tokens, and still applies to them.
    scoped_since: AtomicU64,
}

/// A shard on a cache line of its own: readers on other shards do not
/// bounce its lock word.
#[repr(align(64))]
struct Padded(RwLock<Shard>);

struct Shard {
    /// By kind: [`JTI`], [`FAMILY`], [`CUTOFF`].
    tables: [Table; 3],
}

/// One entry, as [`View::for_each_live`] visits it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Entry<'a> {
    /// A denied token.
    Jti { jti: &'a str, expires_at: u64 },
    /// A revoked refresh family (session).
    Family { family: &'a str, expires_at: u64 },
    /// A subject's tokens issued before `cutoff_micros` are revoked.
    Cutoff {
        subject: &'a str,
        cutoff_micros: u64,
        expires_at: u64,
    },
}

impl<'a> Entry<'a> {
    /// The `jti`, family or subject the entry is about.
    pub(super) fn id(self) -> &'a str {
        match self {
            Entry::Jti { jti, .. } => jti,
            Entry::Family { family, .. } => family,
            Entry::Cutoff { subject, .. } => subject,
        }
    }
}

impl View {
    /// An empty view whose expiries follow `clock`.
    pub(super) fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_arena_limit(clock, ARENA_LIMIT)
    }

    fn with_arena_limit(clock: Arc<dyn Clock>, arena_limit: usize) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Padded(RwLock::new(Shard {
                    tables: [Table::new(8), Table::new(8), Table::new(16)],
                }))
            })
            .collect();
        Self {
            shards,
            hasher: RandomState::new(),
            clock,
            leeway: AtomicU64::new(0),
            arena_limit: arena_limit.min(ARENA_LIMIT),
            scoped_since: AtomicU64::new(0),
        }
    }

    /// Now, by the clock the view's expiries follow: the instance's.
    pub(super) fn now_secs(&self) -> u64 {
        self.clock.now_secs()
    }

    /// Now in microseconds, by the same clock.
    pub(super) fn now_micros(&self) -> u64 {
        self.clock.now_micros()
    }

    /// See [`View::scoped_since`](Self#structfield.scoped_since).
    pub(super) fn set_scoped_since(&self, micros: u64) {
        self.scoped_since.store(micros, Ordering::Relaxed);
    }

    /// The id's hash, and its shard (from bits the table's own probing and
    /// control bytes do not use, so a shard's ids still spread in it).
    fn locate(&self, id: &str) -> (u64, usize) {
        let hash = hash_id(&self.hasher, id.as_bytes());
        (hash, (hash >> 40) as usize & (SHARDS - 1))
    }

    fn read(&self, shard: usize) -> RwLockReadGuard<'_, Shard> {
        // Every write to a shard leaves it consistent (a record is appended
        // before its offset is inserted), so poisoning is ignored.
        self.shards[shard]
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, shard: usize) -> RwLockWriteGuard<'_, Shard> {
        self.shards[shard]
            .0
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn merge(&self, kind: usize, id: &str, value: Value) {
        let (hash, shard) = self.locate(id);
        self.write(shard).tables[kind].merge(
            &self.hasher,
            hash,
            id.as_bytes(),
            value,
            self.arena_limit,
        );
    }

    fn get(&self, kind: usize, id: &str) -> Option<Value> {
        let (hash, shard) = self.locate(id);
        self.read(shard).tables[kind].get(hash, id.as_bytes())
    }

    /// Denies `jti` until `expires_at` (or its later expiry if already held).
    pub(super) fn deny_jti(&self, jti: &str, expires_at: u64) {
        let value = Value {
            expires_at,
            cutoff: 0,
        };
        self.merge(JTI, jti, value);
    }

    /// Revokes `family` until `expires_at` (or its later expiry if held).
    pub(super) fn revoke_family(&self, family: &str, expires_at: u64) {
        let value = Value {
            expires_at,
            cutoff: 0,
        };
        self.merge(FAMILY, family, value);
    }

    /// Revokes `subject`'s tokens issued before `cutoff_micros`, until
    /// `expires_at`; each is raised, never lowered, by a later call.
    pub(super) fn cut_off(&self, subject: &str, cutoff_micros: u64, expires_at: u64) {
        let value = Value {
            expires_at,
            cutoff: cutoff_micros,
        };
        self.merge(CUTOFF, subject, value);
    }

    /// Same decision as `MemoryStore::is_revoked`: the `jti` is denied, or
    /// the token's session is a revoked family, or the token was issued
    /// before its subject's cutoff. Entries expired but not yet pruned still
    /// count: the tokens they concern have expired too.
    pub(super) fn is_revoked(&self, token: &TokenRef<'_>) -> bool {
        // An empty id is what a token without `jti`/`sid` has: never revoked
        // (an entry a release before this one wrote for it is ignored).
        let denied = |id: &str| !id.is_empty() && self.get(JTI, id).is_some();
        let ended = |id: &str| !id.is_empty() && self.get(FAMILY, id).is_some();
        let issued_before = |subject: &str| {
            self.get(CUTOFF, subject)
                .is_some_and(|value| token.issued_at_micros < value.cutoff)
        };
        if denied(token.jti) || token.session.is_some_and(ended) || issued_before(token.subject) {
            return true;
        }
        // Another issuer's token (its ids scoped by its issuer) also answers
        // to what was written under its plain ids before scoping began: deny
        // entries and families (unique ids, RFC 7519 §4.1.7), and cutoffs
        // older than the scoping.
        let Some(subject) = unscoped(token.subject) else {
            return false;
        };
        let since = self.scoped_since.load(Ordering::Relaxed);
        unscoped(token.jti).is_some_and(denied)
            || token.session.and_then(unscoped).is_some_and(ended)
            || self
                .get(CUTOFF, subject)
                .is_some_and(|value| value.cutoff < since && token.issued_at_micros < value.cutoff)
    }

    /// Calls `f` on every entry whose expiry is now or later, in no order.
    /// A shard's live records are copied out under its read lock, which is
    /// released before `f` sees them: `f` may take its time (or write to
    /// the view).
    pub(super) fn for_each_live(&self, mut f: impl FnMut(Entry<'_>)) {
        let now = self.clock.now_secs();
        let mut scratch = Vec::new();
        for shard in 0..SHARDS {
            for kind in [JTI, FAMILY, CUTOFF] {
                scratch.clear();
                self.read(shard).tables[kind].copy_live(now, &mut scratch);
                let header = if kind == CUTOFF { 16 } else { 8 };
                let mut off = 0;
                while off < scratch.len() {
                    let value = value_at(&scratch, off, header);
                    let id = std::str::from_utf8(id_at(&scratch, off, header));
                    off += record_len(&scratch, off, header);
                    // Ids are stored from `&str`: always UTF-8.
                    let Ok(id) = id else { continue };
                    f(match kind {
                        JTI => Entry::Jti {
                            jti: id,
                            expires_at: value.expires_at,
                        },
                        FAMILY => Entry::Family {
                            family: id,
                            expires_at: value.expires_at,
                        },
                        _ => Entry::Cutoff {
                            subject: id,
                            cutoff_micros: value.cutoff,
                            expires_at: value.expires_at,
                        },
                    });
                }
            }
        }
    }

    /// Entries held, of every kind, including expired ones not yet pruned.
    pub(super) fn len(&self) -> usize {
        self.counts().iter().sum()
    }

    /// Entries held by kind: `jti`s, families, cutoffs.
    fn counts(&self) -> [usize; 3] {
        let mut counts = [0; 3];
        for shard in 0..SHARDS {
            let shard = self.read(shard);
            for (count, table) in counts.iter_mut().zip(&shard.tables) {
                *count += table.len();
            }
        }
        counts
    }

    /// Drops the entries whose expiry is before now. A shard with nothing
    /// expired costs a read lock and a comparison; one whose entries expire
    /// a few at a time is rebuilt at most every 30 s (they do no harm
    /// meanwhile: [`for_each_live`](Self::for_each_live) skips them), sooner
    /// once about as many bytes are dead as live.
    pub(super) fn prune(&self) {
        let now = self.clock.now_secs();
        for shard in 0..SHARDS {
            if !self.read(shard).tables.iter().any(|t| t.due(now)) {
                continue;
            }
            let mut shard = self.write(shard);
            for table in &mut shard.tables {
                if table.due(now) {
                    table.compact(&self.hasher, now, self.arena_limit);
                }
            }
        }
    }

    /// Releases spare capacity: arenas and tables sized to what they hold.
    pub(super) fn shrink_to_fit(&self) {
        for shard in 0..SHARDS {
            for table in &mut self.write(shard).tables {
                table.shrink_to_fit(&self.hasher);
            }
        }
    }

    /// Heap bytes held, by capacity (arenas, tables, the shards themselves).
    pub(super) fn heap_bytes(&self) -> usize {
        let mut bytes = SHARDS * size_of::<Padded>();
        for shard in 0..SHARDS {
            bytes += self
                .read(shard)
                .tables
                .iter()
                .map(Table::heap_bytes)
                .sum::<usize>();
        }
        bytes
    }

    /// Records a verifier's leeway; the view keeps the largest.
    pub(super) fn note_leeway(&self, secs: u64) {
        self.leeway.fetch_max(secs, Ordering::Relaxed);
    }

    /// The largest leeway noted.
    pub(super) fn max_leeway(&self) -> u64 {
        self.leeway.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for View {
    /// Counts only: ids are never logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [jtis, families, cutoffs] = self.counts();
        f.debug_struct("View")
            .field("jtis", &jtis)
            .field("families", &families)
            .field("cutoffs", &cutoffs)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::table::COMPACT_EVERY_SECS;
    use super::*;
    use crate::clock::ManualClock;

    const NOW: u64 = 1_000_000;

    fn view_at(secs: u64) -> (View, ManualClock) {
        let clock = ManualClock::at_secs(secs);
        (View::new(Arc::new(clock.clone())), clock)
    }

    fn token<'a>(
        jti: &'a str,
        subject: &'a str,
        session: Option<&'a str>,
        iat: u64,
    ) -> TokenRef<'a> {
        TokenRef {
            jti,
            subject,
            session,
            issued_at_micros: iat,
        }
    }

    /// Owned copies of what `for_each_live` visits, sorted.
    fn live(view: &View) -> Vec<(char, String, u64, u64)> {
        let mut out = Vec::new();
        view.for_each_live(|entry| {
            out.push(match entry {
                Entry::Jti { jti, expires_at } => ('j', jti.to_owned(), 0, expires_at),
                Entry::Family { family, expires_at } => ('f', family.to_owned(), 0, expires_at),
                Entry::Cutoff {
                    subject,
                    cutoff_micros,
                    expires_at,
                } => ('c', subject.to_owned(), cutoff_micros, expires_at),
            })
        });
        out.sort();
        out
    }

    fn id(i: usize) -> String {
        format!("{i:0>22}")
    }

    #[test]
    fn each_kind_revokes_its_tokens_only() {
        let (view, _) = view_at(NOW);
        view.deny_jti("denied", NOW + 60);
        view.revoke_family("fam", NOW + 60);
        view.cut_off("alice", 5_000, NOW + 60);

        assert!(view.is_revoked(&token("denied", "bob", None, 0)));
        assert!(!view.is_revoked(&token("other", "bob", None, 0)));
        // A family id is not a jti, nor the other way round.
        assert!(!view.is_revoked(&token("fam", "bob", Some("denied"), 0)));
        assert!(view.is_revoked(&token("other", "bob", Some("fam"), 0)));
        assert!(!view.is_revoked(&token("other", "bob", Some("fam2"), 0)));
        // Strictly before the cutoff.
        assert!(view.is_revoked(&token("other", "alice", None, 4_999)));
        assert!(!view.is_revoked(&token("other", "alice", None, 5_000)));
        assert!(!view.is_revoked(&token("other", "alice", None, 5_001)));
        assert!(!view.is_revoked(&token("other", "alicf", None, 0)));
        assert_eq!(view.len(), 3);
    }

    #[test]
    fn merges_never_lower_an_expiry_or_a_cutoff() {
        let (view, _) = view_at(NOW);
        view.deny_jti("j", NOW + 100);
        view.deny_jti("j", NOW + 50);
        view.revoke_family("f", NOW + 50);
        view.revoke_family("f", NOW + 100);
        view.cut_off("s", 500, NOW + 100);
        view.cut_off("s", 400, NOW + 200);
        assert_eq!(
            live(&view),
            [
                ('c', "s".to_owned(), 500, NOW + 200),
                ('f', "f".to_owned(), 0, NOW + 100),
                ('j', "j".to_owned(), 0, NOW + 100),
            ]
        );
        assert!(view.is_revoked(&token("x", "s", None, 450)));
        view.cut_off("s", 600, NOW + 10);
        assert!(view.is_revoked(&token("x", "s", None, 550)));
        assert_eq!(view.len(), 3);
    }

    #[test]
    fn prune_drops_exactly_the_expired_and_for_each_live_skips_them() {
        let (view, clock) = view_at(NOW);
        for (i, expires_at) in [NOW - 1, NOW, NOW + 1].into_iter().enumerate() {
            view.deny_jti(&format!("j{i}"), expires_at);
            view.revoke_family(&format!("f{i}"), expires_at);
            view.cut_off(&format!("s{i}"), 7, expires_at);
        }
        assert_eq!(view.len(), 9);
        // Not pruned yet, but not live either.
        let names = |view: &View| -> Vec<String> { live(view).into_iter().map(|e| e.1).collect() };
        assert_eq!(names(&view), ["s1", "s2", "f1", "f2", "j1", "j2"]);
        view.prune();
        assert_eq!(view.len(), 6);
        assert!(!view.is_revoked(&token("j0", "x", Some("f0"), 0)));
        assert!(view.is_revoked(&token("j1", "x", None, 0)));
        assert!(view.is_revoked(&token("x", "x", Some("f2"), 0)));
        assert!(view.is_revoked(&token("x", "s2", None, 6)));

        clock.set_secs(NOW + 2);
        assert!(live(&view).is_empty());
        view.prune();
        assert_eq!(view.len(), 0);
        assert!(!view.is_revoked(&token("j2", "s2", Some("f2"), 0)));
    }

    #[test]
    fn prune_keeps_what_expires_this_second_in_every_shard() {
        let (view, _) = view_at(NOW);
        for i in 0..3_000 {
            view.deny_jti(&id(i), NOW - 1 + i as u64 % 3);
        }
        view.prune();
        assert_eq!(view.len(), 2_000);
        for i in 0..3_000 {
            assert_eq!(view.is_revoked(&token(&id(i), "x", None, 0)), i % 3 != 0);
        }
        assert_eq!(live(&view).len(), 2_000);
    }

    #[test]
    fn steady_expirations_compact_at_most_every_30_s() {
        let (view, clock) = view_at(NOW);
        // Enough of each batch that every shard holds some.
        for i in 0..2_000 {
            view.deny_jti(&format!("a{i}"), NOW + 1);
            view.deny_jti(&format!("b{i}"), NOW + 5);
        }
        for i in 0..20_000 {
            view.deny_jti(&id(i), NOW + 5_000);
        }
        clock.set_secs(NOW + 2);
        view.prune();
        assert_eq!(view.len(), 22_000);
        // `b` has expired, but it is a tenth of each shard: no rebuild yet.
        clock.set_secs(NOW + 6);
        view.prune();
        assert_eq!(view.len(), 22_000);
        assert_eq!(live(&view).len(), 20_000);
        clock.set_secs(NOW + 2 + COMPACT_EVERY_SECS);
        view.prune();
        assert_eq!(view.len(), 20_000);
        // The rebuilt arenas and offsets still find every survivor.
        for i in 0..20_000 {
            assert!(view.is_revoked(&token(&id(i), "x", None, 0)));
        }
        assert!(!view.is_revoked(&token("b7", "x", None, 0)));
    }

    #[test]
    fn mostly_dead_shards_compact_at_once() {
        let (view, clock) = view_at(NOW);
        for i in 0..20_000 {
            view.deny_jti(&id(i), NOW + 5_000);
        }
        view.deny_jti("first", NOW);
        clock.set_secs(NOW + 1);
        view.prune();
        assert_eq!(view.len(), 20_000);
        // Added after that compaction, then all dead: twice the live bytes.
        for i in 0..40_000 {
            view.deny_jti(&format!("short{i}"), NOW + 10);
        }
        clock.set_secs(NOW + 11);
        view.prune();
        assert_eq!(view.len(), 20_000);
        // Half of what the last compaction kept is dead: the median passed.
        for i in 0..20_000 {
            view.revoke_family(&id(i), NOW + 20 + (i as u64 % 2) * 5_000);
        }
        clock.set_secs(NOW + 12);
        view.prune();
        assert_eq!(view.len(), 40_000);
        clock.set_secs(NOW + 21);
        view.prune();
        assert_eq!(view.len(), 30_000);
        assert!(view.is_revoked(&token(&id(7), "x", Some(&id(7)), 0)));
    }

    #[test]
    fn many_entries_are_all_found_after_shrinking_and_pruning() {
        let (view, _) = view_at(NOW);
        let n = 200_000;
        for i in 0..n {
            let expires_at = NOW + 1 + (i as u64 % 1_000);
            view.deny_jti(&id(i), expires_at);
            if i % 10 == 0 {
                view.revoke_family(&format!("f{i}"), expires_at);
                view.cut_off(&format!("s{i}"), i as u64 + 1, expires_at);
            }
        }
        let check = |view: &View| {
            for i in 0..n {
                assert!(view.is_revoked(&token(&id(i), "x", None, 0)), "{i}");
                assert!(!view.is_revoked(&token(&format!("x{i}"), "x", None, 0)));
                if i % 10 == 0 {
                    assert!(view.is_revoked(&token("x", "x", Some(&format!("f{i}")), 0)));
                    let subject = format!("s{i}");
                    assert!(view.is_revoked(&token("x", &subject, None, i as u64)));
                    assert!(!view.is_revoked(&token("x", &subject, None, i as u64 + 1)));
                }
            }
            assert_eq!(view.len(), n + n / 5);
        };
        check(&view);
        view.shrink_to_fit();
        check(&view);
        view.prune();
        check(&view);
        assert_eq!(live(&view).len(), n + n / 5);
        // Every shard was used.
        assert!((0..SHARDS).all(|s| view.read(s).tables[JTI].len() > 0));
    }

    #[test]
    fn odd_ids_round_trip() {
        let (view, clock) = view_at(NOW);
        let long = "é".repeat(35_000);
        assert_eq!(long.len(), 70_000);
        let ids = ["", "with spaces in it", " ", long.as_str(), "x"];
        for (i, jti) in ids.iter().enumerate() {
            view.deny_jti(jti, NOW + i as u64);
            view.revoke_family(jti, NOW + i as u64);
            view.cut_off(jti, 10 + i as u64, NOW + i as u64);
        }
        for (i, jti) in ids.iter().enumerate() {
            // The empty id is stored like any other, but never found revoked
            // as a `jti` or session: every token without one carries it.
            assert_eq!(view.is_revoked(&token(jti, "-", None, 0)), !jti.is_empty());
            assert_eq!(
                view.is_revoked(&token("-", "-", Some(jti), 0)),
                !jti.is_empty()
            );
            assert!(view.is_revoked(&token("-", jti, None, 9 + i as u64)));
            assert!(!view.is_revoked(&token("-", jti, None, 10 + i as u64)));
        }
        assert!(!view.is_revoked(&token(&long[..69_998], "-", None, 0)));
        let mut expected: Vec<_> = ids
            .iter()
            .enumerate()
            .flat_map(|(i, jti)| {
                let at = NOW + i as u64;
                [
                    ('j', jti.to_string(), 0, at),
                    ('f', jti.to_string(), 0, at),
                    ('c', jti.to_string(), 10 + i as u64, at),
                ]
            })
            .collect();
        expected.sort();
        assert_eq!(live(&view), expected);
        view.shrink_to_fit();
        clock.set_secs(NOW + 1);
        view.prune();
        assert_eq!(view.len(), 12);
        expected.retain(|e| e.3 > NOW);
        assert_eq!(live(&view), expected);
    }

    #[test]
    fn records_beyond_the_arena_limit_are_kept_aside() {
        let clock = ManualClock::at_secs(NOW);
        let view = View::with_arena_limit(Arc::new(clock.clone()), 2_048);
        let n = 20_000;
        for i in 0..n {
            view.deny_jti(&id(i), NOW + (i as u64 % 2) * 100);
            view.cut_off(&id(i), 5, NOW + (i as u64 % 2) * 100);
        }
        let spilled: usize = (0..SHARDS)
            .map(|s| view.read(s).tables[JTI].spill.len())
            .sum();
        assert!(spilled > n / 2, "{spilled}");
        // Raised, in the arena or the spill: kept past the prune below.
        view.deny_jti(&id(4), NOW + 300);
        view.cut_off(&id(4), 9, NOW + 1);
        for i in 0..n {
            assert!(view.is_revoked(&token(&id(i), "-", None, 0)));
            assert!(view.is_revoked(&token("-", &id(i), None, 4)));
        }
        assert!(view.is_revoked(&token("-", &id(4), None, 8)));
        assert_eq!(view.len(), 2 * n);
        assert_eq!(live(&view).len(), 2 * n);
        assert!(view.heap_bytes() > n * 31);
        clock.set_secs(NOW + 1);
        view.prune();
        assert_eq!(view.len(), n + 2);
        for i in 0..n {
            assert_eq!(
                view.is_revoked(&token(&id(i), "-", None, 0)),
                i % 2 == 1 || i == 4
            );
        }
        assert!(live(&view).contains(&('j', id(4), 0, NOW + 300)));
        assert!(live(&view).contains(&('c', id(4), 9, NOW + 1)));
    }

    /// 22-byte `jti`s: heap bytes per revocation after a bulk load.
    fn bytes_per_jti(n: usize) -> f64 {
        let (view, _) = view_at(NOW);
        for i in 0..n {
            view.deny_jti(&id(i), NOW + 60);
        }
        view.shrink_to_fit();
        view.heap_bytes() as f64 / n as f64
    }

    #[test]
    fn a_jti_costs_at_most_100_heap_bytes() {
        let per_jti = bytes_per_jti(100_000);
        println!("heap bytes per revocation at 100k: {per_jti:.1}");
        assert!(per_jti <= 100.0, "{per_jti}");
    }

    #[test]
    fn debug_shows_counts_only() {
        let (view, _) = view_at(NOW);
        view.deny_jti("secret-jti", NOW);
        view.cut_off("secret-subject", 1, NOW);
        let shown = format!("{view:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(
            shown.contains("jtis: 1") && shown.contains("cutoffs: 1"),
            "{shown}"
        );
    }

    #[test]
    fn the_view_can_be_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<View>();
    }

    #[test]
    fn leeway_keeps_the_largest() {
        let (view, _) = view_at(NOW);
        view.note_leeway(30);
        view.note_leeway(10);
        assert_eq!(view.max_leeway(), 30);
    }
}
