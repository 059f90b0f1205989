//! One kind of entry in one shard of the view: records in an arena, found
//! through a hash table of `u32` offsets; merged in place, compacted as they expire.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry as Slot;

/// A shard compacts at most this often while its entries expire a few at a
/// time, so steady expirations do not cost a rebuild per prune.
pub(super) const COMPACT_EVERY_SECS: u64 = 30;
/// Offsets are `u32`: a kind's arena in one shard never grows past this.
/// Records that would go beyond it are kept in the shard's spill map instead
/// (never dropped). 64 shards × 3 kinds × 4 GiB is far beyond any real view.
pub(super) const ARENA_LIMIT: usize = u32::MAX as usize;
/// The smallest arena growth, so a shard's first inserts do not reallocate
/// on each record.
const MIN_GROWTH: usize = 256;

/// An entry's value: its expiry, and the cutoff for a subject (0 otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Value {
    pub(super) expires_at: u64,
    pub(super) cutoff: u64,
}

impl Value {
    fn merge(&mut self, other: Value) {
        self.expires_at = self.expires_at.max(other.expires_at);
        self.cutoff = self.cutoff.max(other.cutoff);
    }
}

/// The entries of one kind in one shard.
///
/// A record in the arena is `[expires_at u64 LE]`, then `[cutoff u64 LE]`
/// for cutoffs only, then the id's length as a LEB128 varint (one byte up to
/// 127, so ids of any length fit) and the id's bytes. Records are only ever
/// appended or rewritten in place (a max-merge); expired ones stay until a
/// compaction rebuilds the arena.
pub(super) struct Table {
    /// Bytes before the length: 8, or 16 with a cutoff.
    header: usize,
    arena: Vec<u8>,
    /// Offsets of the records in `arena`, hashed by id.
    index: HashTable<u32>,
    /// Entries that did not fit below [`ARENA_LIMIT`]: normally empty (and
    /// then unallocated and never looked into).
    pub(super) spill: HashMap<Box<[u8]>, Value>,
    /// No entry expires before this (a lower bound: a merge may have
    /// extended the earliest one). `u64::MAX` when empty.
    min_expiry: u64,
    /// When the last compaction ran (seconds).
    compacted_at: u64,
    /// The median expiry at the last compaction: once passed, about half of
    /// the bytes then kept are dead.
    median_expiry: u64,
    /// Arena bytes kept at the last compaction.
    compacted_bytes: usize,
    /// Arena bytes appended since, and the latest expiry among them: once
    /// passed, all of them are dead.
    recent_bytes: usize,
    recent_max_expiry: u64,
}

impl Table {
    pub(super) fn new(header: usize) -> Self {
        Self {
            header,
            arena: Vec::new(),
            index: HashTable::new(),
            spill: HashMap::new(),
            min_expiry: u64::MAX,
            compacted_at: 0,
            median_expiry: u64::MAX,
            compacted_bytes: 0,
            recent_bytes: 0,
            recent_max_expiry: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.index.len() + self.spill.len()
    }

    pub(super) fn get(&self, hash: u64, id: &[u8]) -> Option<Value> {
        let (arena, header) = (&self.arena, self.header);
        if let Some(&off) = self
            .index
            .find(hash, |&off| id_at(arena, off as usize, header) == id)
        {
            return Some(value_at(arena, off as usize, header));
        }
        if self.spill.is_empty() {
            return None;
        }
        self.spill.get(id).copied()
    }

    /// Adds `id`, or raises its expiry and cutoff to `value`'s where higher.
    pub(super) fn merge(
        &mut self,
        hasher: &RandomState,
        hash: u64,
        id: &[u8],
        value: Value,
        limit: usize,
    ) {
        self.min_expiry = self.min_expiry.min(value.expires_at);
        if let Some(held) = self.spill.get_mut(id) {
            held.merge(value);
            return;
        }
        let header = self.header;
        let arena = &self.arena;
        let slot = self.index.entry(
            hash,
            |&off| id_at(arena, off as usize, header) == id,
            |&off| hash_id(hasher, id_at(arena, off as usize, header)),
        );
        match slot {
            Slot::Occupied(slot) => {
                let off = *slot.get() as usize;
                let mut held = value_at(&self.arena, off, header);
                held.merge(value);
                write_value(&mut self.arena, off, header, held);
            }
            Slot::Vacant(slot) => {
                let off = self.arena.len();
                let record = header + varint_len(id.len()) + id.len();
                let Some(end) = off.checked_add(record).filter(|end| *end <= limit) else {
                    // Beyond what a u32 offset reaches: kept aside, not lost.
                    self.spill.insert(id.into(), value);
                    return;
                };
                if end > self.arena.capacity() {
                    // Grow by a quarter, not the doubling of `Vec`: the arena
                    // is most of the view, and its slack is pure overhead.
                    let target = (off + record.max(off / 4).max(MIN_GROWTH)).min(limit);
                    self.arena.reserve_exact(target.max(end) - off);
                }
                self.arena
                    .extend_from_slice(&value.expires_at.to_le_bytes());
                if header == 16 {
                    self.arena.extend_from_slice(&value.cutoff.to_le_bytes());
                }
                write_varint(&mut self.arena, id.len());
                self.arena.extend_from_slice(id);
                // `off < end <= limit <= u32::MAX`.
                slot.insert(u32::try_from(off).unwrap_or(u32::MAX));
                self.recent_bytes += record;
                self.recent_max_expiry = self.recent_max_expiry.max(value.expires_at);
            }
        }
    }

    /// Should [`compact`](Self::compact) run now? Only when something has
    /// expired, and then at most every [`COMPACT_EVERY_SECS`] unless the dead
    /// bytes (estimated) are at least the live ones.
    pub(super) fn due(&self, now: u64) -> bool {
        if now <= self.min_expiry {
            return false;
        }
        if now >= self.compacted_at.saturating_add(COMPACT_EVERY_SECS) {
            return true;
        }
        let mut dead = 0;
        if now > self.median_expiry {
            // The median itself has passed too: at least half, rounded up
            // (one record kept and expired is all of it).
            dead += self.compacted_bytes.div_ceil(2);
        }
        if now > self.recent_max_expiry {
            dead += self.recent_bytes;
        }
        dead > 0 && dead * 2 >= self.arena.len()
    }

    /// Drops the entries that expired before `now`, rebuilding the arena of
    /// the live ones. The hash table keeps its slots: only the offsets they
    /// hold change, so nothing is rehashed.
    pub(super) fn compact(&mut self, hasher: &RandomState, now: u64, limit: usize) {
        let header = self.header;
        let mut expiries = Vec::new();
        let mut live_bytes = 0;
        for &off in &self.index {
            let off = off as usize;
            let expires_at = u64_at(&self.arena, off);
            if expires_at >= now {
                live_bytes += record_len(&self.arena, off, header);
                expiries.push(expires_at);
            }
        }
        let old = std::mem::replace(&mut self.arena, Vec::with_capacity(live_bytes));
        let arena = &mut self.arena;
        self.index.retain(|off| {
            let at = *off as usize;
            if u64_at(&old, at) < now {
                return false;
            }
            let record = old
                .get(at..at + record_len(&old, at, header))
                .unwrap_or(&[]);
            // The new arena is no larger than the old one: the offset fits.
            *off = u32::try_from(arena.len()).unwrap_or(u32::MAX);
            arena.extend_from_slice(record);
            true
        });
        drop(old);
        if self.index.capacity() > 4 * self.index.len() {
            let arena = &self.arena;
            self.index.shrink_to(self.index.len(), |&off| {
                hash_id(hasher, id_at(arena, off as usize, header))
            });
        }
        self.compacted_at = now;
        self.compacted_bytes = self.arena.len();
        self.recent_bytes = 0;
        self.recent_max_expiry = 0;
        self.min_expiry = expiries.iter().copied().min().unwrap_or(u64::MAX);
        self.median_expiry = if expiries.is_empty() {
            u64::MAX
        } else {
            let middle = expiries.len() / 2;
            *expiries.select_nth_unstable(middle).1
        };
        if !self.spill.is_empty() {
            // Back into the arena where there is room now.
            let spilled = std::mem::take(&mut self.spill);
            for (id, value) in spilled {
                if value.expires_at >= now {
                    self.merge(hasher, hash_id(hasher, &id), &id, value, limit);
                }
            }
        }
    }

    pub(super) fn shrink_to_fit(&mut self, hasher: &RandomState) {
        let (arena, header) = (&self.arena, self.header);
        self.index.shrink_to(0, |&off| {
            hash_id(hasher, id_at(arena, off as usize, header))
        });
        self.arena.shrink_to_fit();
        self.spill.shrink_to_fit();
    }

    pub(super) fn heap_bytes(&self) -> usize {
        let spill = if self.spill.capacity() == 0 {
            0
        } else {
            // Slots (entry and control byte) plus the boxed ids.
            self.spill.capacity() * (size_of::<(Box<[u8]>, Value)>() + 1)
                + self.spill.keys().map(|id| id.len()).sum::<usize>()
        };
        self.arena.capacity() + self.index.allocation_size() + spill
    }

    /// Appends the live records (the spilled ones re-encoded) to `out`.
    pub(super) fn copy_live(&self, now: u64, out: &mut Vec<u8>) {
        for &off in &self.index {
            let off = off as usize;
            if u64_at(&self.arena, off) >= now {
                let len = record_len(&self.arena, off, self.header);
                out.extend_from_slice(self.arena.get(off..off + len).unwrap_or(&[]));
            }
        }
        for (id, value) in &self.spill {
            if value.expires_at >= now {
                out.extend_from_slice(&value.expires_at.to_le_bytes());
                if self.header == 16 {
                    out.extend_from_slice(&value.cutoff.to_le_bytes());
                }
                write_varint(out, id.len());
                out.extend_from_slice(id);
            }
        }
    }
}

pub(super) fn hash_id(hasher: &RandomState, id: &[u8]) -> u64 {
    hasher.hash_one(id)
}

/// The little-endian u64 at `off` (0 if out of range, which a record never is).
fn u64_at(arena: &[u8], off: usize) -> u64 {
    off.checked_add(8)
        .and_then(|end| arena.get(off..end))
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

pub(super) fn value_at(arena: &[u8], off: usize, header: usize) -> Value {
    Value {
        expires_at: u64_at(arena, off),
        cutoff: if header == 16 {
            u64_at(arena, off + 8)
        } else {
            0
        },
    }
}

fn write_value(arena: &mut [u8], off: usize, header: usize, value: Value) {
    if let Some(bytes) = arena.get_mut(off..off + 8) {
        bytes.copy_from_slice(&value.expires_at.to_le_bytes());
    }
    if header == 16
        && let Some(bytes) = arena.get_mut(off + 8..off + 16)
    {
        bytes.copy_from_slice(&value.cutoff.to_le_bytes());
    }
}

/// The id's length at `at` and the bytes its varint takes.
fn read_varint(arena: &[u8], at: usize) -> (usize, usize) {
    let mut len = 0usize;
    for (i, &byte) in arena.iter().skip(at).take(10).enumerate() {
        len |= usize::from(byte & 0x7f)
            .checked_shl(7 * i as u32)
            .unwrap_or(0);
        if byte & 0x80 == 0 {
            return (len, i + 1);
        }
    }
    (0, 0)
}

fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}

/// The id of the record at `off`.
pub(super) fn id_at(arena: &[u8], off: usize, header: usize) -> &[u8] {
    let at = off + header;
    let (len, n) = read_varint(arena, at);
    arena.get(at + n..at + n + len).unwrap_or(&[])
}

pub(super) fn record_len(arena: &[u8], off: usize, header: usize) -> usize {
    let (len, n) = read_varint(arena, off + header);
    header + n + len
}
