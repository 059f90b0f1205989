//! The channel as a wake-up: which shards a published message (or the
//! periodic sweep) asks to read, and reading them from the view's own
//! positions.
//!
//! A message is never applied. It names a shard; the view then reads that
//! shard's stream from the last entry it read itself, applies what the
//! stream holds and moves its position over exactly those entries. So a lost
//! message costs nothing but a later read (the next message of that shard,
//! or the sweep, reads past the gap), and a message nobody wrote to the
//! stream changes nothing: only the scripts, which write the stream, can add
//! a revocation.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::backend::Bulk;
use super::feed::{self, Resume, StreamId, WakeUp};
use super::layout::{SHARDS, ShardKeys};
use super::loader::load_shard;
use super::{Shared, StoreError, StoreFuture};

/// Shard reads in flight at once.
pub(super) const SHARD_CONCURRENCY: usize = 16;

/// At most one warning about ignored messages per this period.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// How a shard was brought up to date.
pub(super) enum Caught {
    /// From its stream: nothing was reloaded.
    Resumed(StreamId),
    /// From its sets: its stream no longer held everything since.
    Reloaded(StreamId),
}

/// Why a shard is to be read.
#[derive(Clone, Copy)]
enum Due {
    /// Read it whatever its position (a message without an id, the sweep).
    Always,
    /// Read it if its position is before this id (the highest a message named).
    Before(StreamId),
}

/// The shards due for a read, gathered from messages and the sweep.
pub(super) struct WakeUps {
    due: [Option<Due>; SHARDS],
    /// The shard the next sweep reads.
    sweep: usize,
    /// Messages ignored since the last warning.
    ignored: u64,
    warned_at: Option<Instant>,
}

impl WakeUps {
    pub(super) fn new() -> Self {
        Self {
            due: [None; SHARDS],
            sweep: 0,
            ignored: 0,
            warned_at: None,
        }
    }

    /// Notes a published message: its shard is due, or, when it is not a
    /// message of ours, it is ignored (with a warning at most once a
    /// minute: whoever floods the channel does not flood the log).
    pub(super) fn note(&mut self, payload: &[u8]) {
        let Some(WakeUp { shard, hint }) = WakeUp::parse(payload) else {
            self.ignored += 1;
            if self.warned_at.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                tracing::warn!(
                    ignored = self.ignored,
                    "ignoring messages on the revocation channel that name no shard \
                     (another publisher on the channel?)"
                );
                self.warned_at = Some(Instant::now());
                self.ignored = 0;
            }
            return;
        };
        self.due[shard] = Some(match (self.due[shard], hint) {
            (Some(Due::Always), _) | (_, None) => Due::Always,
            (Some(Due::Before(seen)), Some(hint)) => Due::Before(seen.max(hint)),
            (None, Some(hint)) => Due::Before(hint),
        });
    }

    /// Makes the next shard in turn due, whatever was published: a message
    /// lost with no later one on its shard is read within one round.
    pub(super) fn sweep(&mut self) {
        self.due[self.sweep] = Some(Due::Always);
        self.sweep = (self.sweep + 1) % SHARDS;
    }

    /// The shards to read now, forgetting them: those woken without an id,
    /// and those whose position is before the id a message named (a shard
    /// already read that far has nothing new to show).
    pub(super) fn take(&mut self, positions: &[StreamId]) -> Vec<usize> {
        let mut shards = Vec::new();
        for (shard, due) in self.due.iter_mut().enumerate() {
            match due.take() {
                Some(Due::Always) => shards.push(shard),
                Some(Due::Before(id)) if positions[shard] < id => shards.push(shard),
                _ => {}
            }
        }
        shards
    }
}

/// Reads `shards` from their positions (several at once), moving each
/// position over what was read. Returns the shards that had to be
/// reloaded, their stream no longer reaching back to their position.
pub(super) async fn read_shards(
    shared: &Shared,
    bulk: &Bulk,
    shards: &[usize],
    positions: &mut [StreamId],
) -> Result<Vec<usize>, StoreError> {
    let keys = shared.names.shards();
    let reads: Vec<StoreFuture<'_, Caught>> = shards
        .iter()
        .map(|&shard| {
            Box::pin(catch_up_shard(shared, bulk, &keys[shard], positions[shard]))
                as StoreFuture<'_, Caught>
        })
        .collect();
    let caught = futures_util::stream::iter(reads)
        .buffered(SHARD_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut reloaded = Vec::new();
    for (&shard, caught) in shards.iter().zip(caught) {
        positions[shard] = match caught? {
            Caught::Resumed(at) => at,
            Caught::Reloaded(at) => {
                reloaded.push(shard);
                at
            }
        };
    }
    Ok(reloaded)
}

/// Resumes one shard from its stream, or reloads it when its stream no
/// longer reaches back to where the view left it.
pub(super) async fn catch_up_shard(
    shared: &Shared,
    bulk: &Bulk,
    shard: &ShardKeys,
    at: StreamId,
) -> Result<Caught, StoreError> {
    Ok(match feed::resume_shard(shared, bulk, shard, at).await? {
        Resume::Caught(at) => Caught::Resumed(at),
        Resume::Broken(at) => {
            let position = load_shard(shared, bulk, shard).await?;
            Caught::Reloaded(position.max(at))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64) -> StreamId {
        StreamId { ms, seq: 0 }
    }

    #[test]
    fn a_shard_is_read_unless_it_was_read_past_every_id_named() {
        let mut wake_ups = WakeUps::new();
        let mut positions = vec![id(10); SHARDS];
        wake_ups.note(b"3 9-0 j 1 forged");
        wake_ups.note(b"4 11-0 j 1 x");
        wake_ups.note(b"5 1-0");
        wake_ups.note(b"5 12-0");
        wake_ups.note(b"6");
        wake_ups.note(b"7 1-0");
        wake_ups.note(b"7");
        assert_eq!(wake_ups.take(&positions), vec![4, 5, 6, 7]);
        assert_eq!(wake_ups.take(&positions), Vec::<usize>::new(), "taken");
        positions[8] = id(20);
        wake_ups.note(b"8 20-0");
        wake_ups.note(b"not ours");
        assert_eq!(wake_ups.take(&positions), Vec::<usize>::new());
    }

    #[test]
    fn the_sweep_visits_every_shard_in_turn() {
        let mut wake_ups = WakeUps::new();
        let positions = vec![id(10); SHARDS];
        for shard in 0..SHARDS * 2 {
            wake_ups.sweep();
            assert_eq!(wake_ups.take(&positions), vec![shard % SHARDS]);
        }
    }
}
