//! Writing revocations back to Redis in batches: the encoder of the batch
//! script's entries, one batch call, and the background write-back of a view.

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;

use super::backend::Bulk;
use super::layout::{self, SHARDS};
use super::view::Entry;
use super::{Shared, StoreError};

/// Entries per write-back script call.
const WRITE_BACK_BATCH: usize = 256;
/// Write-back calls in flight at once.
const WRITE_BACK_CONCURRENCY: usize = 8;

/// Writes what the view holds in `shards` back to Redis, in batches (one
/// script per batch, several in flight). Each entry is a max-merge, and only
/// the ones Redis lacked are fed to the other instances.
pub(super) async fn write_back(shared: Arc<Shared>, shards: Vec<usize>) {
    let started = Instant::now();
    let bulk = match shared.backend.bulk(shared.command_timeout).await {
        Ok(bulk) => bulk,
        Err(error) => {
            tracing::error!(%error, "revocations could not be written back to redis");
            return;
        }
    };
    let bulk = &bulk;
    let mut wanted = [false; SHARDS];
    for shard in &shards {
        wanted[*shard] = true;
    }
    let mut batches: Vec<Vec<Vec<String>>> = vec![Vec::new(); SHARDS];
    let mut current: Vec<Vec<String>> = vec![Vec::new(); SHARDS];
    shared.view.for_each_live(|entry| {
        let shard = layout::shard_of(entry.id());
        if !wanted[shard] {
            return;
        }
        push_entry(&mut current[shard], entry);
        if current[shard].len() >= WRITE_BACK_BATCH * 3 {
            batches[shard].push(std::mem::take(&mut current[shard]));
        }
    });
    for (shard, rest) in current.into_iter().enumerate() {
        if !rest.is_empty() {
            batches[shard].push(rest);
        }
    }
    let calls = batches
        .into_iter()
        .enumerate()
        .flat_map(|(shard, batches)| batches.into_iter().map(move |batch| (shard, batch)))
        .map(|(shard, batch)| {
            let shared = &shared;
            async move { write_batch(shared, bulk, shard, &batch, true).await }
        });
    let mut pending = futures_util::stream::iter(calls).buffer_unordered(WRITE_BACK_CONCURRENCY);
    let (mut changed, mut failed) = (0u64, 0usize);
    while let Some(result) = pending.next().await {
        match result {
            Ok(n) => changed += n,
            Err(error) => {
                failed += 1;
                tracing::warn!(%error, "a revocation write-back batch failed");
            }
        }
    }
    drop(pending);
    if failed == 0 {
        tracing::info!(
            restored = changed,
            ms = started.elapsed().as_millis() as u64,
            "revocations redis lacked were written back"
        );
    } else {
        tracing::error!(
            restored = changed,
            failed_batches = failed,
            "revocations could not all be written back: instances started later may not \
             enforce them until the next write-back"
        );
    }
    shared.status.send_modify(|s| s.write_backs += 1);
}

/// Appends `entry` to a batch in [`write_back_script`](super::scripts::write_back_script)'s argument
/// form: `j|f <expires> <id>` or `c <expires> <subject> <cutoff>`.
pub(super) fn push_entry(batch: &mut Vec<String>, entry: Entry<'_>) {
    match entry {
        Entry::Jti { jti, expires_at } => {
            batch.extend(["j".to_owned(), expires_at.to_string(), jti.to_owned()]);
        }
        Entry::Family { family, expires_at } => {
            batch.extend(["f".to_owned(), expires_at.to_string(), family.to_owned()]);
        }
        Entry::Cutoff {
            subject,
            cutoff_micros,
            expires_at,
        } => batch.extend([
            "c".to_owned(),
            expires_at.to_string(),
            subject.to_owned(),
            cutoff_micros.to_string(),
        ]),
    }
}

/// Merges one batch of write-back entries (`j|f <expires> <id>` or
/// `c <expires> <subject> <cutoff>`, flattened) into `shard`: one script.
/// `loud` feeds the entries Redis lacked to the other instances. Returns
/// how many Redis lacked.
pub(super) async fn write_batch(
    shared: &Shared,
    bulk: &Bulk,
    shard: usize,
    batch: &[String],
    loud: bool,
) -> Result<u64, StoreError> {
    let keys = &shared.names.shards()[shard];
    let mut call = shared.revocation(&shared.scripts.write_back, keys);
    call.key(&keys.jtis)
        .key(&keys.families)
        .key(&keys.cutoffs)
        .key(&keys.cutoff_values)
        .arg(if loud { "1" } else { "0" });
    for arg in batch {
        call.arg(arg);
    }
    bulk.invoke::<u64>(&call, shared.command_timeout * 4).await
}
