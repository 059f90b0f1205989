//! A subject's live sessions in Redis: listing them and ending one.

use futures_util::StreamExt;

use super::feed::Event;
use super::{MAX_LISTED_SESSIONS, SessionRecord, Shared, StoreError};

impl Shared {
    /// Now by the instance's clock (the store's, as the view's expiries).
    pub(super) fn now(&self) -> u64 {
        self.view.now_secs()
    }

    /// A subject's live sessions: its list (pruned of ended entries), then
    /// each listed family's record, read concurrently, a page at a time from
    /// the entries ending last, until a page is short or enough are live (a
    /// page of ended sessions does not hide older live ones). Families
    /// revoked or gone since are dropped from the list.
    pub(super) async fn sessions(&self, subject: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let list_key = self.names.sessions_key(subject);
        let now = self.now();
        let mut live = Vec::new();
        let mut gone = Vec::new();
        let mut skip = 0;
        loop {
            let listed: Vec<String> = self
                .backend
                .invoke(
                    self.scripts
                        .listed_sessions
                        .key(&list_key)
                        .arg(now)
                        .arg(MAX_LISTED_SESSIONS)
                        .arg(skip),
                    self.command_timeout,
                )
                .await?;
            let page = listed.len();
            self.read_sessions(subject, listed, &mut live, &mut gone)
                .await?;
            skip += page;
            if page < MAX_LISTED_SESSIONS || live.len() >= MAX_LISTED_SESSIONS {
                break;
            }
        }
        if live.len() > MAX_LISTED_SESSIONS {
            // The ones ending last, as one page would have answered.
            live.sort_by(|a, b| (b.expires_at, &b.id).cmp(&(a.expires_at, &a.id)));
            live.truncate(MAX_LISTED_SESSIONS);
        }
        if !gone.is_empty() {
            let mut unlist = self.scripts.unlist_sessions.key(&list_key);
            for family in &gone {
                unlist.arg(family);
            }
            // Only tidies the list: listing skips these families anyway.
            if let Err(error) = self
                .backend
                .invoke::<i64>(&unlist, self.command_timeout)
                .await
            {
                tracing::debug!(%error, "could not drop ended sessions from the list");
            }
        }
        live.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(live)
    }

    /// Reads the records of `listed` families: the live ones of `subject`
    /// into `live`, the others into `gone`.
    async fn read_sessions(
        &self,
        subject: &str,
        listed: Vec<String>,
        live: &mut Vec<SessionRecord>,
        gone: &mut Vec<String>,
    ) -> Result<(), StoreError> {
        let reads = listed.into_iter().map(|family| async move {
            let shard = self.names.shard(&family);
            let fields: Option<Vec<Option<String>>> = self
                .backend
                .invoke(
                    self.scripts
                        .session_record
                        .key(&shard.families)
                        .key(shard.family(&family))
                        .arg(&family),
                    self.command_timeout,
                )
                .await?;
            Ok::<_, StoreError>((family, fields))
        });
        let mut pending = futures_util::stream::iter(reads).buffer_unordered(SESSION_READS);
        while let Some(read) = pending.next().await {
            let (family, fields) = read?;
            match fields
                .as_deref()
                .and_then(|f| session_record(&family, subject, f))
            {
                Some(record) => live.push(record),
                None => gone.push(family),
            }
        }
        Ok(())
    }

    /// Revokes `family` if it is a live family of `subject`.
    pub(super) async fn end_session(
        &self,
        subject: &str,
        family: &str,
        revoke_until: u64,
    ) -> Result<bool, StoreError> {
        if subject.is_empty() {
            return Ok(false);
        }
        let shard = self.names.shard(family);
        let kept: i64 = self
            .backend
            .invoke(
                self.revocation(&self.scripts.end_session, shard)
                    .key(&shard.families)
                    .key(shard.family(family))
                    .arg(family)
                    .arg(revoke_until)
                    .arg(subject),
                self.command_timeout,
            )
            .await?;
        let Ok(kept) = u64::try_from(kept) else {
            return Ok(false);
        };
        self.apply(Event::RevokedFamily {
            family,
            expires_at: kept,
        });
        let unlisted = self
            .backend
            .invoke::<i64>(
                self.scripts
                    .unlist_sessions
                    .key(self.names.sessions_key(subject))
                    .arg(family),
                self.command_timeout,
            )
            .await;
        if let Err(error) = unlisted {
            tracing::debug!(%error, "could not drop an ended session from the list");
        }
        Ok(true)
    }
}

/// A session from its family's `sub`, `created`, `refreshed`, `ends`
/// fields, if it is `subject`'s and complete.
fn session_record(family: &str, subject: &str, fields: &[Option<String>]) -> Option<SessionRecord> {
    let [Some(sub), Some(created), Some(refreshed), Some(ends)] = fields else {
        return None;
    };
    (sub == subject).then_some(())?;
    Some(SessionRecord {
        id: family.to_owned(),
        created_at: created.parse().ok()?,
        last_refreshed_at: refreshed.parse().ok()?,
        expires_at: ends.parse().ok()?,
    })
}

/// Family records read at once while listing a subject's sessions.
const SESSION_READS: usize = 32;
