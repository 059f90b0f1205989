//! The change feed: the messages every revocation script appends to its
//! shard's stream and publishes, and reading a shard's stream back from a position.

use deadpool_redis::redis;

use super::backend::Bulk;
use super::layout::{SHARDS, ShardKeys};
use super::{Shared, StoreError};

/// Stream entries read per round trip when resuming.
const RESUME_PAGE: usize = 5000;

/// A feed entry that changes nothing: written where a migration merged
/// entries quietly, so the shard has a position to resume from.
pub(super) const MIGRATED: &str = "m";

/// A change, as the stream holds it and every instance applies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Event<'a> {
    /// `j <expires_at> <jti>`
    Jti { jti: &'a str, expires_at: u64 },
    /// `c <cutoff_micros> <expires_at> <subject>`
    Cutoff {
        subject: &'a str,
        cutoff_micros: u64,
        expires_at: u64,
    },
    /// `f <expires_at> <family>`
    RevokedFamily { family: &'a str, expires_at: u64 },
}

impl<'a> Event<'a> {
    /// Ids go last, so they may contain spaces.
    pub(super) fn parse(message: &'a str) -> Option<Self> {
        let (tag, rest) = message.split_once(' ').unwrap_or((message, ""));
        match tag {
            "j" => {
                let (expires_at, jti) = rest.split_once(' ')?;
                Some(Event::Jti {
                    jti,
                    expires_at: expires_at.parse().ok()?,
                })
            }
            "f" => {
                let (expires_at, family) = rest.split_once(' ')?;
                Some(Event::RevokedFamily {
                    family,
                    expires_at: expires_at.parse().ok()?,
                })
            }
            "c" => {
                let mut parts = rest.splitn(3, ' ');
                let cutoff_micros = parts.next()?.parse().ok()?;
                let expires_at = parts.next()?.parse().ok()?;
                Some(Event::Cutoff {
                    subject: parts.next()?,
                    cutoff_micros,
                    expires_at,
                })
            }
            _ => None,
        }
    }
}

/// A stream entry id, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct StreamId {
    pub(super) ms: u64,
    pub(super) seq: u64,
}

impl StreamId {
    pub(super) fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A published message, read as a wake-up only.
///
/// The scripts publish `<shard> <stream id> <event>` (the event for
/// instances of earlier releases, which applied it); this release reads
/// the shard, and the id as a hint of how far that shard's stream reaches,
/// and never applies what a message says: anyone allowed to `PUBLISH` on
/// the channel could have written it. What is applied is read from the
/// stream, from the view's own position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct WakeUp {
    pub(super) shard: usize,
    /// The stream id the message names, if it names one: a shard already
    /// read that far need not be read again.
    pub(super) hint: Option<StreamId>,
}

impl WakeUp {
    /// `<shard>[ <stream id>[ <anything>]]`; `None` when the shard is not
    /// one of ours. An unreadable id only loses the hint.
    pub(super) fn parse(message: &[u8]) -> Option<Self> {
        let message = std::str::from_utf8(message).ok()?;
        let mut parts = message.splitn(3, ' ');
        let shard = parts.next()?;
        if shard.is_empty() || !shard.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let shard = shard.parse().ok().filter(|s| *s < SHARDS)?;
        Some(Self {
            shard,
            hint: parts.next().and_then(StreamId::parse),
        })
    }
}

/// What the three parsers make of one message, in plain types, for the
/// fuzz target (`crate::__fuzz::feed_message`): the change event written
/// back in its canonical form, the stream id as `(ms, seq)`, and the
/// wake-up as `(shard, hint)`.
#[cfg(fuzzing)]
#[allow(clippy::type_complexity)]
pub(crate) fn parse_for_fuzzing(
    message: &[u8],
) -> (
    Option<String>,
    Option<(u64, u64)>,
    Option<(usize, Option<(u64, u64)>)>,
) {
    let text = std::str::from_utf8(message).ok();
    let event = text.and_then(Event::parse).map(|event| match event {
        Event::Jti { jti, expires_at } => format!("j {expires_at} {jti}"),
        Event::RevokedFamily { family, expires_at } => format!("f {expires_at} {family}"),
        Event::Cutoff {
            subject,
            cutoff_micros,
            expires_at,
        } => format!("c {cutoff_micros} {expires_at} {subject}"),
    });
    let id = text.and_then(StreamId::parse).map(|id| {
        assert_eq!(StreamId::parse(&id.to_string()), Some(id), "{id}");
        (id.ms, id.seq)
    });
    let wake_up = WakeUp::parse(message).map(|wake| {
        assert!(wake.shard < SHARDS, "{wake:?}");
        (wake.shard, wake.hint.map(|id| (id.ms, id.seq)))
    });
    (event, id, wake_up)
}

/// How far a shard's stream took it.
pub(super) enum Resume {
    /// Up to date at this position: nothing reloaded.
    Caught(StreamId),
    /// The stream no longer reaches back to this position (trimmed past it,
    /// or lost with the data): the shard must be reloaded.
    Broken(StreamId),
}

/// Applies one shard's stream from `at` on, page by page; stops when its
/// stream no longer reaches back to `at`.
pub(super) async fn resume_shard(
    shared: &Shared,
    bulk: &Bulk,
    shard: &ShardKeys,
    mut at: StreamId,
) -> Result<Resume, StoreError> {
    loop {
        let answer: redis::Value = bulk
            .invoke(
                shared
                    .scripts
                    .resume
                    .key(&shard.stream)
                    .arg(at.to_string())
                    .arg(RESUME_PAGE),
                shared.command_timeout * 4,
            )
            .await?;
        let Some(entries) = continuous_entries(answer)? else {
            return Ok(Resume::Broken(at));
        };
        let page = entries.len();
        for (id, event) in entries {
            at = at.max(id);
            if event == MIGRATED {
                continue;
            }
            match Event::parse(&event) {
                Some(event) => {
                    shared.apply(event);
                    shared.status.send_modify(|s| s.events_applied += 1);
                    crate::metrics::redis_view_event();
                }
                None => tracing::warn!("ignoring a malformed revocation event in the stream"),
            }
        }
        if page < RESUME_PAGE {
            return Ok(Resume::Caught(at));
        }
    }
}

/// The entries of a [`scripts::resume_script`](super::scripts::resume_script) answer, or `None` when the
/// stream is not continuous from the position asked.
fn continuous_entries(answer: redis::Value) -> Result<Option<Vec<(StreamId, String)>>, StoreError> {
    let unreadable = || StoreError::new("redis answered an unreadable stream page");
    let redis::Value::Array(mut parts) = answer else {
        return Err(unreadable());
    };
    let continuous: i64 = parts
        .first()
        .and_then(|v| redis::from_redis_value_ref(v).ok())
        .ok_or_else(unreadable)?;
    if continuous == 0 {
        return Ok(None);
    }
    let entries: Vec<(String, Vec<String>)> = parts
        .pop()
        .filter(|_| parts.len() == 1)
        .and_then(|v| redis::from_redis_value(v).ok())
        .ok_or_else(unreadable)?;
    entries
        .into_iter()
        .map(|(id, fields)| {
            let id = StreamId::parse(&id).ok_or_else(unreadable)?;
            let event = fields
                .chunks_exact(2)
                .find(|f| f[0] == "e")
                .map(|f| f[1].clone())
                .unwrap_or_default();
            Ok((id, event))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn events_parse_with_spaces_in_ids_and_reject_garbage() {
        assert_eq!(
            Event::parse("c 5000000 1700000000 user with spaces"),
            Some(Event::Cutoff {
                subject: "user with spaces",
                cutoff_micros: 5_000_000,
                expires_at: 1_700_000_000
            })
        );
        assert_eq!(Event::parse("h"), None);
        assert_eq!(Event::parse("j x y"), None);
        assert_eq!(Event::parse(""), None);
    }

    #[test]
    fn a_message_wakes_its_shard_and_its_event_is_never_read() {
        let hint = Some(StreamId {
            ms: 1_700_000_000_123,
            seq: 4,
        });
        assert_eq!(
            WakeUp::parse(b"7 1700000000123-4 j 17 a b"),
            Some(WakeUp { shard: 7, hint })
        );
        assert_eq!(
            WakeUp::parse(b"7 1700000000123-4 anything at all"),
            Some(WakeUp { shard: 7, hint }),
            "what follows the id is not read"
        );
        assert_eq!(
            WakeUp::parse(b"63"),
            Some(WakeUp {
                shard: 63,
                hint: None
            })
        );
        assert_eq!(
            WakeUp::parse(b"1 x j 17 a"),
            Some(WakeUp {
                shard: 1,
                hint: None
            }),
            "an unreadable id only loses the hint"
        );
        for garbage in [
            &b"64 1-0 j 17 a"[..],
            b"-1 1-0",
            b"+1 1-0",
            b"",
            b" 1-0",
            b"hello world",
            b"99999999999999999999999 1-0",
            b"\xff\xfe",
        ] {
            assert_eq!(WakeUp::parse(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn stream_ids_order_as_redis_orders_them() {
        let a = StreamId::parse("9-10").unwrap();
        let b = StreamId::parse("10-0").unwrap();
        assert!(a < b);
        assert_eq!(StreamId::parse("0-0"), Some(StreamId::default()));
        assert_eq!(b.to_string(), "10-0");
    }

    #[test]
    fn a_resume_page_reads_its_entries_and_a_gap_reads_as_none() {
        let page = Value::Array(vec![
            Value::Int(1),
            Value::Array(vec![Value::Array(vec![
                bulk("5-1"),
                Value::Array(vec![bulk("e"), bulk("j 17 some jti")]),
            ])]),
        ]);
        assert_eq!(
            continuous_entries(page).unwrap(),
            Some(vec![(
                StreamId { ms: 5, seq: 1 },
                "j 17 some jti".to_owned()
            )])
        );
        assert_eq!(
            continuous_entries(Value::Array(vec![Value::Int(0)])).unwrap(),
            None
        );
        assert!(continuous_entries(Value::Nil).is_err());
    }
}
