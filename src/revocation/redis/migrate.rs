//! A one-time migration from the earlier releases' layouts, where every
//! entry was a key of its own (`<prefix>:<j|c|r|f>:{<id>}`).
//!
//! Revocations (`j`, `c`, `r`) are strings in both earlier releases; a live
//! family (`f`) is a string holding its current refresh `jti` in the first
//! release and a hash in the second. The first instance of this release to
//! start on such data reads every such key with `SCAN` (on every master of
//! a cluster), merges the revocations into their shards' sets and copies the
//! live families to their new names as hashes, deletes the old keys, and
//! finally sets `<prefix>:layout` to `2`; a key of another shape is logged
//! and left alone. Every instance migrates before it loads, and the merge is
//! idempotent, so instances starting together may both migrate: each still
//! loads a complete view; instances started later read only the marker.
//! Instances of an earlier release must be stopped first: they neither read
//! nor write this layout.
use std::collections::HashMap;
use std::time::Instant;

use deadpool_redis::redis;
use futures_util::StreamExt;

use super::backend::{self, Bulk, within};
use super::layout::{LAYOUT_VERSION, shard_of};
use super::view::Entry;
use super::write_back::{push_entry, write_batch};
use super::{Shared, StoreError, StoreFuture};

/// Keys per `SCAN` page.
const PAGE: usize = 5000;
/// Pages migrating at once.
const PAGES_IN_FLIGHT: usize = 4;
/// Scripts in flight at once, per page.
const CONCURRENCY: usize = 32;

/// Migrates the previous layout's keys on `nodes`, unless `<prefix>:layout`
/// says it was done.
pub(super) async fn migrate_once(
    shared: &Shared,
    bulk: &Bulk,
    nodes: &[redis::Client],
) -> Result<(), StoreError> {
    let timeout = shared.command_timeout;
    let marker = shared.names.layout_marker();
    let done: Option<String> = shared
        .backend
        .invoke(&shared.scripts.get.key(&marker), timeout)
        .await
        .map_err(|error| {
            if !error.to_string().contains("WRONGTYPE") {
                return error;
            }
            StoreError::new(format!(
                "redis key `{marker}` could not be read as this store's layout marker (a \
                 string, `{LAYOUT_VERSION}`): {error}. Another program writes under this \
                 prefix? Give the store a prefix of its own (`RedisStoreBuilder::prefix`)"
            ))
        })?;
    if done.as_deref() == Some(LAYOUT_VERSION) {
        return Ok(());
    }
    let started = Instant::now();
    let mut migrated = 0usize;
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    for node in nodes {
        let mut conn = backend::connect(node, timeout).await?;
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = within(timeout, async {
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(shared.names.legacy_pattern())
                    .arg("COUNT")
                    .arg(PAGE)
                    .query_async(&mut conn)
                    .await
                    .map_err(backend::command_error)
            })
            .await?;
            if !keys.is_empty() {
                // Pages overlap: the next is scanned while these migrate.
                let page = migrate_page(shared, bulk, conn.clone(), keys);
                in_flight.push(Box::pin(page) as StoreFuture<'_, usize>);
            }
            while in_flight.len() >= PAGES_IN_FLIGHT {
                if let Some(done) = in_flight.next().await {
                    migrated += done?;
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        while let Some(done) = in_flight.next().await {
            migrated += done?;
        }
    }
    shared
        .backend
        .invoke::<redis::Value>(shared.scripts.set.key(&marker).arg(LAYOUT_VERSION), timeout)
        .await?;
    if migrated > 0 {
        tracing::info!(
            keys = migrated,
            ms = started.elapsed().as_millis() as u64,
            "migrated the previous release's redis keys to the current layout"
        );
    }
    Ok(())
}

/// Migrates one page of previous-layout keys, then deletes them. A key of
/// a shape neither earlier release wrote is logged and left as it is.
async fn migrate_page(
    shared: &Shared,
    bulk: &Bulk,
    mut conn: redis::aio::MultiplexedConnection,
    keys: Vec<String>,
) -> Result<usize, StoreError> {
    let conn = &mut conn;
    let timeout = shared.command_timeout * 4;
    let parsed: Vec<(char, &str, &String)> = keys
        .iter()
        .filter_map(|key| {
            let (kind, id) = shared.names.parse_legacy(key)?;
            Some((kind, id, key))
        })
        .collect();

    // Each key's type first: the two earlier releases wrote a family as a
    // string (its current `jti`) and as a hash.
    let mut pipe = redis::pipe();
    for (_, _, key) in &parsed {
        pipe.cmd("TYPE").arg(*key);
    }
    let types = replies(conn, &mut pipe, timeout).await?;
    let mut revocations = Vec::new();
    let mut families = Vec::new();
    for (entry, found) in parsed.into_iter().zip(&types) {
        let found = redis::from_redis_value_ref::<String>(found).unwrap_or_default();
        match (entry.0, found.as_str()) {
            ('j' | 'c' | 'r', "string") => revocations.push(entry),
            ('f', "hash" | "string") => families.push((entry, found == "hash")),
            // Gone since the scan (expired).
            (_, "none") => {}
            (kind, found) => skip(entry.2, kind, found),
        }
    }

    // Revocations: value and expiry, then merged into their shards quietly.
    let mut pipe = redis::pipe();
    for (_, _, key) in &revocations {
        pipe.cmd("GET").arg(*key).cmd("EXPIRETIME").arg(*key);
    }
    let values = replies(conn, &mut pipe, timeout).await?;
    let mut batches: HashMap<usize, Vec<String>> = HashMap::new();
    for ((kind, id, key), reply) in revocations.iter().zip(values.chunks_exact(2)) {
        let (Ok(value), Ok(expiry)) = (
            redis::from_redis_value_ref::<Option<String>>(&reply[0]),
            redis::from_redis_value_ref::<i64>(&reply[1]),
        ) else {
            skip(key, *kind, "an unreadable value");
            continue;
        };
        // Keys expired at `expires_at + 1`; one without a TTL, or gone since
        // the scan, is skipped.
        let Some(expires_at) = u64::try_from(expiry).ok().and_then(|e| e.checked_sub(1)) else {
            continue;
        };
        let entry = match kind {
            'j' => Entry::Jti {
                jti: id,
                expires_at,
            },
            'r' => Entry::Family {
                family: id,
                expires_at,
            },
            _ => match value.and_then(|v| v.parse().ok()) {
                Some(cutoff_micros) => Entry::Cutoff {
                    subject: id,
                    cutoff_micros,
                    expires_at,
                },
                None => {
                    skip(key, *kind, "a string that is not a cutoff");
                    continue;
                }
            },
        };
        push_entry(batches.entry(shard_of(id)).or_default(), entry);
    }
    let merges: Vec<StoreFuture<'_, u64>> = batches
        .iter()
        .map(|(shard, batch)| {
            Box::pin(write_batch(shared, bulk, *shard, batch, false)) as StoreFuture<'_, u64>
        })
        .collect();
    let mut pending = futures_util::stream::iter(merges).buffer_unordered(CONCURRENCY);
    while let Some(merged) = pending.next().await {
        merged?;
    }
    drop(pending);

    // Live families: copied under their new names, with their expiry. The
    // first release's string becomes a family whose current `jti` it held
    // (its subject was never stored: it rotates and ends as any other, but
    // is not listed under a subject).
    let mut pipe = redis::pipe();
    for ((_, _, key), hash) in &families {
        pipe.cmd(if *hash { "HGETALL" } else { "GET" })
            .arg(*key)
            .cmd("EXPIRETIME")
            .arg(*key);
    }
    let records = replies(conn, &mut pipe, timeout).await?;
    // One script per shard: its families share a slot.
    let mut by_shard: HashMap<usize, (Vec<String>, Vec<String>)> = HashMap::new();
    for (((_, id, key), hash), reply) in families.iter().zip(records.chunks_exact(2)) {
        let Ok(expiry) = redis::from_redis_value_ref::<i64>(&reply[1]) else {
            skip(key, 'f', "an unreadable expiry");
            continue;
        };
        let fields: Vec<(String, String)> = if *hash {
            redis::from_redis_value_ref::<HashMap<String, String>>(&reply[0])
                .map(|fields| fields.into_iter().collect())
        } else {
            redis::from_redis_value_ref::<Option<String>>(&reply[0]).map(|current| {
                current.map_or_else(Vec::new, |current| {
                    vec![
                        ("cur".to_owned(), current),
                        ("ends".to_owned(), (expiry - 1).to_string()),
                    ]
                })
            })
        }
        .unwrap_or_else(|_| {
            skip(key, 'f', "an unreadable value");
            Vec::new()
        });
        if fields.is_empty() || expiry <= 0 {
            continue;
        }
        let (keys, args) = by_shard.entry(shard_of(id)).or_default();
        keys.push(shared.names.family(id));
        args.push(expiry.to_string());
        args.push((fields.len() * 2).to_string());
        for (field, value) in fields {
            args.push(field);
            args.push(value);
        }
    }
    let copies: Vec<StoreFuture<'_, i64>> = by_shard
        .values()
        .map(|(keys, args)| {
            Box::pin(async move {
                let mut call = shared.scripts.migrate_families.prepare_invoke();
                for key in keys {
                    call.key(key);
                }
                for arg in args {
                    call.arg(arg);
                }
                bulk.invoke::<i64>(&call, timeout).await
            }) as StoreFuture<'_, i64>
        })
        .collect();
    let mut pending = futures_util::stream::iter(copies).buffer_unordered(CONCURRENCY);
    while let Some(copied) = pending.next().await {
        copied?;
    }
    drop(pending);

    // Only now, with every entry of the page in the new layout: the old keys.
    let mut pipe = redis::pipe();
    for (_, _, key) in revocations
        .iter()
        .chain(families.iter().map(|(entry, _)| entry))
    {
        pipe.cmd("UNLINK").arg(*key).ignore();
    }
    within(timeout, async {
        pipe.query_async::<()>(conn)
            .await
            .map_err(backend::command_error)
    })
    .await?;
    Ok(revocations.len() + families.len())
}

/// Runs `pipe` with each command's error kept in its place: one odd key
/// does not fail the page.
async fn replies(
    conn: &mut redis::aio::MultiplexedConnection,
    pipe: &mut redis::Pipeline,
    timeout: std::time::Duration,
) -> Result<Vec<redis::Value>, StoreError> {
    if pipe.cmd_iter().next().is_none() {
        return Ok(Vec::new());
    }
    pipe.ignore_errors();
    within(timeout, async {
        pipe.query_async(conn).await.map_err(backend::command_error)
    })
    .await
}

/// Logs a previous-layout key the migration leaves alone.
fn skip(key: &str, kind: char, found: &str) {
    let expected = if kind == 'f' {
        "a hash or a string"
    } else {
        "a string"
    };
    tracing::warn!(
        key,
        found,
        expected,
        "a key named like an earlier release's is not of a shape it wrote: skipped and \
         left as it is (delete it once you know it is not needed)"
    );
}
