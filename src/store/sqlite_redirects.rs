//! Redirect batches into SQLite: multi-row `INSERT … VALUES` statements of
//! bound parameters, `ROWS_PER_STATEMENT` rows each and the rest in
//! power-of-two sizes (`RowsStatement::chunks`), so that the connection
//! keeps a handful of prepared statements, never one per batch length.
//! No JSON array is built for the batch and none is unpacked column by
//! column; measured,
//! the writer's cost per event stayed what the `json_each` form cost
//! (docs/performance.md, "Redirects with analytics"): the row itself, its
//! indexes and the page writes are what the single writer pays for.
//!
//! `INSERT OR FAIL`, not the default `OR ABORT`: an aborting statement
//! inside a transaction makes SQLite copy every page it touches into a
//! statement journal first, so that the statement alone can be undone;
//! for a thousand rows spread over a thousand index pages that copy was a
//! quarter of the writer's time. Nothing here needs a statement undone
//! alone: any error rolls the whole batch's transaction back.

use std::borrow::Cow;
use std::sync::OnceLock;

use sqlx::{Sqlite, Transaction};

use super::StoreResult;
use crate::domain::{format_spaced_timestamp, CountryCode, RedirectEvent};

const COLUMNS: &str =
    "INSERT OR FAIL INTO events (url_id, user_id, event_type, timestamp, details, \
     visitor, referrer_host, browser, os, device, bot, country) VALUES ";
const ROW: &str = "(?, ?, 'redirect', ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/// Bound values per row, and rows per statement (SQLite takes at most
/// 32,766 bound values in one statement).
const VALUES_PER_ROW: usize = 11;
const ROWS_PER_STATEMENT: usize = 1_000;
const _: () = assert!(ROWS_PER_STATEMENT * VALUES_PER_ROW <= 32_766);

/// A multi-row statement of bound values: `head`, then `row` repeated
/// with commas between, then `tail`. The full-size text (`full_rows` rows)
/// is built once and kept, so it is the same text every time and stays
/// prepared; a shorter last chunk gets a text of its own.
pub(super) struct RowsStatement {
    head: &'static str,
    row: &'static str,
    tail: &'static str,
    full_rows: usize,
    full: OnceLock<String>,
}

impl RowsStatement {
    pub(super) const fn new(
        head: &'static str,
        row: &'static str,
        tail: &'static str,
        full_rows: usize,
    ) -> Self {
        Self {
            head,
            row,
            tail,
            full_rows,
            full: OnceLock::new(),
        }
    }

    /// Splits `items` into one statement's rows each: full statements
    /// first, then the rest in power-of-two sizes, largest first.
    ///
    /// The connection keeps every statement it prepares (sqlx caches up to
    /// 100 by their text), and one of several hundred rows holds a few
    /// hundred KiB of SQLite's memory. A rest of any length would make a
    /// new statement for almost every batch, until the cache held a hundred
    /// of them; in powers of two there are never more than ten.
    pub(super) fn chunks<'a, T>(&self, mut items: &'a [T]) -> impl Iterator<Item = &'a [T]> {
        let full = self.full_rows.max(1);
        std::iter::from_fn(move || {
            let len = items.len();
            if len == 0 {
                return None;
            }
            let size = if len >= full { full } else { 1 << len.ilog2() };
            let (chunk, rest) = items.split_at(size);
            items = rest;
            Some(chunk)
        })
    }

    /// The statement for `rows` rows.
    pub(super) fn text(&self, rows: usize) -> Cow<'_, str> {
        if rows == self.full_rows {
            Cow::Borrowed(self.full.get_or_init(|| self.build(rows)))
        } else {
            Cow::Owned(self.build(rows))
        }
    }

    fn build(&self, rows: usize) -> String {
        let mut sql =
            String::with_capacity(self.head.len() + rows * (self.row.len() + 1) + self.tail.len());
        sql.push_str(self.head);
        for i in 0..rows {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(self.row);
        }
        sql.push_str(self.tail);
        sql
    }
}

static REDIRECTS: RowsStatement = RowsStatement::new(COLUMNS, ROW, "", ROWS_PER_STATEMENT);

/// Inserts the batch in order, inside the caller's transaction.
pub(crate) async fn insert(
    tx: &mut Transaction<'static, Sqlite>,
    batch: &[RedirectEvent],
) -> StoreResult<()> {
    // Rows keep their order: ids follow the batch. The timestamp and the
    // details are bound as owned strings, which sqlx hands to SQLite as
    // they are; a borrowed one would be copied once more before the
    // statement runs.
    for chunk in REDIRECTS.chunks(batch) {
        let sql = REDIRECTS.text(chunk.len());
        let mut query = sqlx::query(&sql);
        for event in chunk {
            let visitor = &event.visitor;
            let agent = &visitor.agent.reading;
            // A struct of strings always serialises.
            let details =
                serde_json::to_string(&event.details()).unwrap_or_else(|_| "{}".to_owned());
            query = query
                .bind(event.url_id)
                .bind(event.user_id)
                .bind(format_spaced_timestamp(&event.timestamp).to_string())
                .bind(details)
                .bind(visitor.id)
                .bind(event.referrer_host())
                .bind(&*agent.browser)
                .bind(&*agent.os)
                .bind(agent.device.as_str())
                .bind(agent.bot)
                .bind(visitor.country.as_ref().map(CountryCode::as_str));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_goes_in_full_statements_then_powers_of_two() {
        let rows: Vec<usize> = (0..2_837).collect();
        let sizes: Vec<usize> = REDIRECTS.chunks(&rows).map(<[usize]>::len).collect();
        assert_eq!(sizes, [1_000, 1_000, 512, 256, 64, 4, 1]);
        let rejoined: Vec<usize> = REDIRECTS.chunks(&rows).flatten().copied().collect();
        assert_eq!(rejoined, rows, "every row once, in order");
        assert_eq!(REDIRECTS.chunks(&rows[..0]).count(), 0);
    }

    #[test]
    fn a_statement_has_one_placeholder_per_value_and_fits_sqlites_limit() {
        let sql = REDIRECTS.text(3);
        assert_eq!(sql.matches('?').count(), 3 * VALUES_PER_ROW);
        assert!(sql.ends_with("?),(?, ?, 'redirect', ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        assert_eq!(
            REDIRECTS.text(ROWS_PER_STATEMENT).matches('?').count(),
            ROWS_PER_STATEMENT * VALUES_PER_ROW
        );
    }
}
