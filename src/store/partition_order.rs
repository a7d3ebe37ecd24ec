//! Putting a closed month of the PostgreSQL event log in link order
//! (`kurz cluster-events`).
//!
//! Events arrive in time order, so one link's events are spread over the
//! whole month's heap: a page of fifty of them reads up to fifty pages,
//! which is fast while the month is in memory and a disk read each once
//! the log outgrows it. A month that has ended no longer changes (but for
//! the odd late event), so it can be rewritten once in `(url_id, id)`
//! order with `CLUSTER`; afterwards a link's page of events is one or two
//! heap pages. `CLUSTER` locks that month's partition while it runs
//! (minutes for tens of millions of rows): queries that must read that
//! month wait, redirects (written to the current month) do not. Hence an
//! explicit command for a quiet hour, not part of the automatic upkeep.
//! SQLite keeps one table and skips this.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

use super::{Engine, Store, StoreResult};

/// A month rewritten in link order, and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedMonth {
    pub partition: String,
    pub seconds: f64,
}

/// Month partitions that ended before `this_month` and have no index
/// marked as their clustering order yet, with their `(url_id, id)` index.
const UNORDERED_MONTHS: &str = "\
    SELECT c.relname::text, ix.relname::text FROM pg_inherits inh \
    JOIN pg_class c ON c.oid = inh.inhrelid \
    JOIN pg_index i ON i.indrelid = c.oid \
    JOIN pg_class ix ON ix.oid = i.indexrelid \
    WHERE inh.inhparent = 'events'::regclass \
      AND c.relname ~ '^events_[0-9]{4}_[0-9]{2}$' \
      AND c.relname < $1 \
      AND pg_get_indexdef(i.indexrelid) LIKE '%(url_id, id)' \
      AND NOT EXISTS (SELECT 1 FROM pg_index k WHERE k.indrelid = c.oid AND k.indisclustered) \
    ORDER BY c.relname";

impl Store {
    /// Rewrites every month partition that ended before `now`'s month and
    /// was not yet put in link order, oldest first. Nothing on SQLite.
    pub async fn order_closed_months(&self, now: NaiveDateTime) -> StoreResult<Vec<OrderedMonth>> {
        let Engine::Postgres(db) = &self.engine else {
            return Ok(Vec::new());
        };
        let mut connection = db.acquire_write().await?;
        let this_month = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or(now.date());
        let current = format!("events_{:04}_{:02}", this_month.year(), this_month.month());
        let months: Vec<(String, String)> = sqlx::query_as(UNORDERED_MONTHS)
            .bind(&current)
            .fetch_all(&mut *connection)
            .await?;
        let mut ordered = Vec::with_capacity(months.len());
        for (partition, index) in months {
            let started = std::time::Instant::now();
            // Names come from the catalogue and match the pattern above.
            sqlx::query(&format!("CLUSTER \"{partition}\" USING \"{index}\""))
                .execute(&mut *connection)
                .await?;
            sqlx::query(&format!("ANALYZE \"{partition}\""))
                .execute(&mut *connection)
                .await?;
            ordered.push(OrderedMonth {
                partition,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        Ok(ordered)
    }
}
