//! The start-up load: one shard's revocations read from its sets into the
//! view, with the stream position they are current at.

use deadpool_redis::redis;

use super::backend::Bulk;
use super::feed::StreamId;
use super::layout::ShardKeys;
use super::{Shared, StoreError};
use crate::clock::{Clock, SystemClock};

/// Reads one shard's live revocations into the view; returns the stream
/// position they are current at. One pipeline of native commands (the
/// shard's keys share a slot): the stream's last id first, then the sets, so
/// every change up to that id is in what follows (a change made in between
/// is read twice, which a max-merge makes harmless). Replies are read in
/// place, without a `String` per entry.
pub(super) async fn load_shard(
    shared: &Shared,
    bulk: &Bulk,
    shard: &ShardKeys,
) -> Result<StreamId, StoreError> {
    // Entries expired by this clock are of no use to the view.
    let now = SystemClock.now_secs().saturating_sub(1);
    let mut pipe = redis::pipe();
    pipe.cmd("XREVRANGE")
        .arg(&shard.stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1);
    for set in [&shard.jtis, &shard.families, &shard.cutoffs] {
        pipe.cmd("ZRANGE")
            .arg(set)
            .arg(now)
            .arg("+inf")
            .arg("BYSCORE")
            .arg("WITHSCORES");
    }
    pipe.cmd("HGETALL").arg(&shard.cutoff_values);
    // A key of another type is named once, not as an error per command.
    pipe.ignore_errors();
    let replies = bulk.pipeline(&pipe, shared.command_timeout * 10).await?;
    let read = [
        (&shard.stream, "a stream"),
        (&shard.jtis, "a sorted set"),
        (&shard.families, "a sorted set"),
        (&shard.cutoffs, "a sorted set"),
        (&shard.cutoff_values, "a hash"),
    ];
    for (reply, (key, expected)) in replies.iter().zip(read) {
        if let redis::Value::ServerError(error) = reply {
            return Err(StoreError::new(format!(
                "redis key `{key}` cannot be read as {expected}, which this store keeps there \
                 ({error}): another program writes under the prefix `{}`? Give the store a \
                 prefix of its own (`RedisStoreBuilder::prefix`), or delete the key",
                shared.names.prefix()
            )));
        }
    }
    let unreadable = || StoreError::new("redis answered an unreadable shard");
    let [last, jtis, families, subjects, cutoffs] =
        <[redis::Value; 5]>::try_from(replies).map_err(|_| unreadable())?;
    let position = match last {
        redis::Value::Array(entries) => match entries.first() {
            None => StreamId::default(),
            Some(redis::Value::Array(entry)) => entry
                .first()
                .and_then(text)
                .and_then(StreamId::parse)
                .ok_or_else(unreadable)?,
            Some(_) => return Err(unreadable()),
        },
        _ => return Err(unreadable()),
    };
    for_each_scored(&jtis, |jti, expires_at| {
        shared.view.deny_jti(jti, expires_at)
    })?;
    for_each_scored(&families, |family, expires_at| {
        shared.view.revoke_family(family, expires_at);
    })?;
    let mut cutoff_of = std::collections::HashMap::new();
    for_each_pair(&cutoffs, |subject, cutoff| {
        if let Ok(cutoff) = cutoff.parse::<u64>() {
            cutoff_of.insert(subject, cutoff);
        }
    })?;
    for_each_scored(&subjects, |subject, expires_at| {
        if let Some(cutoff) = cutoff_of.get(subject) {
            shared.view.cut_off(subject, *cutoff, expires_at);
        }
    })?;
    Ok(position)
}

/// A bulk or simple string reply, borrowed.
fn text(value: &redis::Value) -> Option<&str> {
    match value {
        redis::Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        redis::Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

/// Calls `f` with each field and value of a flat reply (`HGETALL` in
/// RESP2) or a map (RESP3).
fn for_each_pair<'v>(
    reply: &'v redis::Value,
    mut f: impl FnMut(&'v str, &'v str),
) -> Result<(), StoreError> {
    let unreadable = || StoreError::new("redis answered an unreadable shard");
    match reply {
        redis::Value::Array(items) => {
            for pair in items.chunks_exact(2) {
                f(
                    text(&pair[0]).ok_or_else(unreadable)?,
                    text(&pair[1]).ok_or_else(unreadable)?,
                );
            }
        }
        redis::Value::Map(pairs) => {
            for (field, value) in pairs {
                f(
                    text(field).ok_or_else(unreadable)?,
                    text(value).ok_or_else(unreadable)?,
                );
            }
        }
        _ => return Err(unreadable()),
    }
    Ok(())
}

/// Calls `f` with each member and its score (an expiry in seconds) of a
/// `ZRANGE … WITHSCORES` reply.
fn for_each_scored<'v>(
    reply: &'v redis::Value,
    mut f: impl FnMut(&'v str, u64),
) -> Result<(), StoreError> {
    let unreadable = || StoreError::new("redis answered an unreadable shard");
    let redis::Value::Array(items) = reply else {
        return Err(unreadable());
    };
    if let Some(redis::Value::Array(_)) = items.first() {
        // RESP3: [member, score] pairs.
        for item in items {
            let redis::Value::Array(pair) = item else {
                return Err(unreadable());
            };
            let [member, expiry] = pair.as_slice() else {
                return Err(unreadable());
            };
            f(
                text(member).ok_or_else(unreadable)?,
                score(expiry).ok_or_else(unreadable)?,
            );
        }
    } else {
        // RESP2: member, score, member, score…
        for pair in items.chunks_exact(2) {
            f(
                text(&pair[0]).ok_or_else(unreadable)?,
                score(&pair[1]).ok_or_else(unreadable)?,
            );
        }
    }
    Ok(())
}

/// A score: whole seconds, as the scripts write them.
fn score(value: &redis::Value) -> Option<u64> {
    match value {
        redis::Value::Double(score) => Some(*score as u64),
        other => text(other)?.parse::<f64>().ok().map(|s| s as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn scored_members_read_in_resp2_and_resp3_form() {
        let resp2 = Value::Array(vec![bulk("a b"), bulk("17"), bulk("c"), bulk("1700000000")]);
        let resp3 = Value::Array(vec![
            Value::Array(vec![bulk("a b"), Value::Double(17.0)]),
            Value::Array(vec![bulk("c"), Value::Double(1_700_000_000.0)]),
        ]);
        for reply in [resp2, resp3] {
            let mut seen = Vec::new();
            for_each_scored(&reply, |member, expiry| {
                seen.push((member.to_owned(), expiry))
            })
            .unwrap();
            assert_eq!(
                seen,
                [("a b".to_owned(), 17), ("c".to_owned(), 1_700_000_000)]
            );
        }
        assert!(for_each_scored(&Value::Int(3), |_, _| {}).is_err());
        let broken = Value::Array(vec![bulk("a"), bulk("not a number")]);
        assert!(for_each_scored(&broken, |_, _| {}).is_err());
    }

    #[test]
    fn hash_fields_read_as_a_flat_reply_or_a_map() {
        let flat = Value::Array(vec![bulk("s1"), bulk("5000")]);
        let map = Value::Map(vec![(bulk("s1"), bulk("5000"))]);
        for reply in [flat, map] {
            let mut seen = Vec::new();
            for_each_pair(&reply, |field, value| seen.push((field, value))).unwrap();
            assert_eq!(seen, [("s1", "5000")]);
        }
    }
}
