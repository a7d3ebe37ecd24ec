//! New links on SQLite, written in groups: one transaction for every
//! creation that arrived while the last one was being written.
//!
//! SQLite has one writer connection, and each creation alone was four
//! hand-offs to that connection's thread and back (BEGIN, the statement
//! string that claims the code and stores the link and its event, COMMIT
//! and sqlx's release ping), with the writer held through all of them. At
//! a few thousand links a second those hand-offs and the thread switches
//! around them were most of the replica's CPU (docs/performance.md, "New
//! links on SQLite in groups"). Now a creation joins the group that
//! waits; whoever takes the next turn writes the whole group in one
//! transaction (one BEGIN, one COMMIT, and one statement string for up to
//! eight links), and every member gets its own answer.
//!
//! Each creation's statement string either stores its link and event or
//! changes nothing (missing owner, taken code), so the members share a
//! transaction without savepoints. When the shared transaction fails (a
//! driver error in any member, or at the commit), nothing of it is kept
//! and every member is written again alone, so that each failure is
//! answered as its own and no member pays for another's.
//!
//! A group is written by a task of its own: a client that hangs up
//! cancels its own wait, never the commit that the others wait on.

use std::sync::Arc;

use sqlx::{Sqlite, Transaction};
use tokio::sync::oneshot;

use super::engine::Db;
use super::known_codes::KnownCodes;
use super::rows::{UrlRow, URL_COLUMNS};
use super::urls::{candidate_code, code_attempts, count_collision};
use super::{ConflictField, StoreError, StoreResult};
use crate::domain::{
    format_spaced_timestamp, now_utc, CodeSource, MaxRedirects, NewEvent, NewShortUrl, ShortCode,
    ShortUrl,
};

/// The most creations one transaction writes; the rest wait for the next.
const GROUP_MAX: usize = 256;

/// One creation inside the writer's transaction: the code is claimed when
/// the owner exists and the code is free, the link is stored when the
/// claim was (`changes()` is the rows the statement before changed,
/// triggers' rows not counted), and its `created` event when the link was.
/// The link's `URL_COLUMNS` come back, or no row when the owner is missing
/// or the code taken. The parameters are `$<base + 1>` to `$<base + 9>`:
/// the owner, the code, the target, the title, the time, the expiry, the
/// redirect limit, the event's timestamp as the log stores it, and the
/// event's details.
fn create_statements(base: usize) -> String {
    let p = |n: usize| format!("${}", base + n);
    format!(
        "INSERT INTO short_codes (code) SELECT {code} WHERE EXISTS (SELECT 1 FROM users WHERE id = {owner}) \
             ON CONFLICT DO NOTHING; \
         INSERT INTO urls (user_id, short_code, original_url, title, is_active, created_at, \
             updated_at, expires_at, max_redirects) \
             SELECT {owner}, {code}, {target}, {title}, TRUE, {at}, {at}, {expires}, {limit} WHERE changes() = 1 \
             RETURNING {URL_COLUMNS}; \
         INSERT INTO events (url_id, user_id, event_type, timestamp, details) \
             SELECT last_insert_rowid(), {owner}, 'created', {stamp}, {details} WHERE changes() = 1;",
        owner = p(1),
        code = p(2),
        target = p(3),
        title = p(4),
        at = p(5),
        expires = p(6),
        limit = p(7),
        stamp = p(8),
        details = p(9),
    )
}

/// Creations per statement string: a group goes to the writer's thread in
/// strings of these sizes (largest first), so that a few texts, each
/// prepared once and kept, cover every group size.
const STRING_SIZES: [usize; 4] = [8, 4, 2, 1];

/// The statement string for `members` creations (one of `STRING_SIZES`).
fn creations_text(members: usize) -> &'static str {
    static TEXTS: [std::sync::OnceLock<String>; STRING_SIZES.len()] =
        [const { std::sync::OnceLock::new() }; STRING_SIZES.len()];
    let slot = STRING_SIZES
        .iter()
        .position(|&size| size == members)
        .unwrap_or(STRING_SIZES.len() - 1);
    TEXTS[slot].get_or_init(|| {
        (0..STRING_SIZES[slot])
            .map(|member| create_statements(member * 9))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// The sizes of the statement strings that write `members` creations.
fn string_sizes(mut members: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    for size in STRING_SIZES {
        while members >= size {
            sizes.push(size);
            members -= size;
        }
    }
    sizes
}

/// The creations waiting for the next transaction, and the turn to write it.
#[derive(Default)]
pub(super) struct CreateGroups {
    waiting: std::sync::Mutex<Vec<Waiting>>,
    turn: tokio::sync::Mutex<()>,
}

struct Waiting {
    new: NewShortUrl,
    answer: oneshot::Sender<StoreResult<ShortUrl>>,
}

/// What writing a group needs, owned, so that the group's task outlives
/// any one caller.
pub(super) struct Writer {
    pub(super) db: Db<Sqlite>,
    pub(super) codes: CodeSource,
    pub(super) known: Arc<KnownCodes>,
}

impl CreateGroups {
    /// Stores `new` with the creations around it and answers for it alone.
    pub(super) async fn create(&self, writer: Writer, new: &NewShortUrl) -> StoreResult<ShortUrl> {
        let (answer, answered) = oneshot::channel();
        self.lock_waiting().push(Waiting {
            new: new.clone(),
            answer,
        });
        {
            // Turns come in order. By ours, an earlier turn may have
            // written this creation already; then the group is others' or
            // empty.
            let _turn = self.turn.lock().await;
            let group: Vec<Waiting> = {
                let mut waiting = self.lock_waiting();
                let take = waiting.len().min(GROUP_MAX);
                waiting.drain(..take).collect()
            };
            if !group.is_empty() {
                // The turn is held while the group is written, so the next
                // group gathers meanwhile.
                let _ = tokio::spawn(write_group(writer, group)).await;
            }
        }
        // The sender goes away unanswered only if the group's task died.
        answered
            .await
            .unwrap_or(Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed)))
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes `group` in one transaction, or each member alone when that fails.
async fn write_group(writer: Writer, group: Vec<Waiting>) {
    if group.len() > 1 {
        match write_together(&writer, &group).await {
            Ok(answers) => {
                for (member, answer) in group.into_iter().zip(answers) {
                    let _ = member.answer.send(answer);
                }
                return;
            }
            Err(error) => {
                tracing::debug!(%error, members = group.len(), "a group of new links is written again one by one");
            }
        }
    }
    for member in group {
        let answer = write_alone(&writer, &member.new).await;
        let _ = member.answer.send(answer);
    }
}

/// Every member in one transaction: their answers, or the error that
/// rolled the transaction back. The members go to the writer's thread a
/// statement string of several at a time; one whose string stored nothing
/// (owner missing, code taken) is tried again alone, inside the same
/// transaction, to tell which.
async fn write_together(
    writer: &Writer,
    group: &[Waiting],
) -> StoreResult<Vec<StoreResult<ShortUrl>>> {
    let mut tx = writer.db.begin_write().await?;
    // The links the group's statement strings stored, by member.
    let mut stored: Vec<Option<ShortUrl>> = vec![None; group.len()];
    let mut first = 0;
    for size in string_sizes(group.len()) {
        let members = first..first + size;
        let codes: Vec<ShortCode> = group[members.clone()]
            .iter()
            .map(|member| candidate_code(&writer.codes, &member.new))
            .collect();
        let news = group[members.clone()].iter().map(|member| &member.new);
        // Links come back in the order of the statements that stored
        // them. Of members that drew the same code, the first whose owner
        // exists got it, so each link is the next member, in order, with
        // its code and its owner.
        let mut next = first;
        for url in store_links(&mut tx, writer, news.zip(&codes)).await? {
            let Some(member) = (next..members.end).find(|&m| {
                codes[m - first].as_str() == url.short_code && group[m].new.user_id == url.user_id
            }) else {
                return Err(StoreError::Corrupt("a new link matches none of its group"));
            };
            stored[member] = Some(url);
            next = member + 1;
        }
        first += size;
    }
    let mut written = Vec::with_capacity(group.len());
    for (member, link) in group.iter().zip(stored) {
        if let Some(link) = link {
            written.push(Ok(link));
            continue;
        }
        // A member's own answer (its link, a missing owner, no free code)
        // changes nothing for the others; any other error may have left
        // part of the member written, so none of the group is kept.
        let alone = create_in(&mut tx, writer, &member.new).await;
        match alone {
            Ok(_) | Err(StoreError::Conflict(_)) => {
                // Its owner exists, so the group's try found its code taken.
                count_collision(&member.new);
                written.push(alone);
            }
            Err(StoreError::NotFound(_)) => written.push(alone),
            Err(error) => return Err(error),
        }
    }
    tx.commit().await?;
    Ok(written)
}

/// One creation in a transaction of its own.
async fn write_alone(writer: &Writer, new: &NewShortUrl) -> StoreResult<ShortUrl> {
    let mut tx = writer.db.begin_write().await?;
    let url = create_in(&mut tx, writer, new).await?;
    tx.commit().await?;
    Ok(url)
}

/// Claims a code for `new` and stores it with its `created` event, inside
/// `tx`; a missing owner or a code still taken after every attempt changes
/// nothing.
async fn create_in(
    tx: &mut Transaction<'static, Sqlite>,
    writer: &Writer,
    new: &NewShortUrl,
) -> StoreResult<ShortUrl> {
    for _ in 0..code_attempts(new) {
        let code = candidate_code(&writer.codes, new);
        let stored = store_links(tx, writer, std::iter::once((new, &code))).await?;
        if let Some(url) = stored.into_iter().next() {
            return Ok(url);
        }
        let owner: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(new.user_id.get())
            .fetch_optional(&mut **tx)
            .await?;
        if owner.is_none() {
            return Err(StoreError::NotFound("user"));
        }
        count_collision(new);
    }
    Err(StoreError::Conflict(ConflictField::ShortCode))
}

/// Runs the creations of `members` (each with the code it tries) as one
/// statement string, one call to the writer's thread, and returns the
/// links it stored, each already in the filter of stored codes: known
/// before the commit, so no redirect can be told it is absent.
async fn store_links<'a>(
    tx: &mut Transaction<'static, Sqlite>,
    writer: &Writer,
    members: impl ExactSizeIterator<Item = (&'a NewShortUrl, &'a ShortCode)>,
) -> StoreResult<Vec<ShortUrl>> {
    let now = now_utc();
    let stamp = format_spaced_timestamp(&now).to_string();
    let mut query = sqlx::query_as::<_, UrlRow>(creations_text(members.len()));
    for (new, code) in members {
        let details = NewEvent::created_details(code.as_str(), new.target.as_str());
        query = query
            .bind(new.user_id.get())
            .bind(code.as_str().to_owned())
            .bind(new.target.as_str().to_owned())
            .bind(new.title.as_ref().map(|t| t.as_str().to_owned()))
            .bind(now)
            .bind(new.expires_at)
            .bind(new.max_redirects.map(MaxRedirects::get))
            .bind(stamp.clone())
            .bind(sqlx::types::Json(details));
    }
    // `fetch_all`: every statement of the string runs to its end.
    let mut links = Vec::new();
    for row in query.fetch_all(&mut **tx).await? {
        let url = row.into_url()?;
        writer.known.add(&url.short_code);
        links.push(url);
    }
    Ok(links)
}
