//! Upkeep of the PostgreSQL event log's monthly partitions (migration
//! 0003): each month's partition is created before the month starts, and
//! with a retention period set, whole months older than it are dropped,
//! never deleted row by row. SQLite keeps one table and skips all of this.
//!
//! Replicas share the database, so the upkeep runs under a transaction-
//! scoped advisory lock: one replica does it, the others skip the round.

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use sqlx::{Postgres, Transaction};

use super::{Engine, Store, StoreResult};

/// Months created ahead of the current one.
const MONTHS_AHEAD: u32 = 2;
/// The advisory lock the upkeep takes (any constant the schema owns).
const UPKEEP_LOCK: i64 = 0x6b75_727a_0003;

/// What one round of upkeep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PartitionUpkeep {
    /// Partitions created, by name.
    pub created: Vec<String>,
    /// Partitions dropped by retention, by name.
    pub dropped: Vec<String>,
    /// Rows moved out of `events_default` into a new month.
    pub moved: u64,
    /// False when another replica held the lock and this round did nothing.
    pub ran: bool,
}

/// A partition of the event log and the months it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Partition {
    /// `events_YYYY_MM`: one month.
    Month(NaiveDate),
    /// `events_before_YYYY_MM`: everything before that month.
    Before(NaiveDate),
    /// `events_default`, or a name this code did not make.
    Other,
}

impl Partition {
    fn parse(name: &str) -> Self {
        let month = |rest: &str| {
            let (year, month) = rest.split_once('_')?;
            NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)
        };
        if let Some(m) = name.strip_prefix("events_before_").and_then(month) {
            Partition::Before(m)
        } else if let Some(m) = name.strip_prefix("events_").and_then(month) {
            Partition::Month(m)
        } else {
            Partition::Other
        }
    }

    /// The first instant no longer covered, for months and the legacy part.
    fn end(&self) -> Option<NaiveDate> {
        match self {
            Partition::Month(m) => m.checked_add_months(Months::new(1)),
            Partition::Before(m) => Some(*m),
            Partition::Other => None,
        }
    }
}

fn month_name(month: NaiveDate) -> String {
    format!("events_{:04}_{:02}", month.year(), month.month())
}

fn first_of_month(at: NaiveDateTime) -> NaiveDate {
    at.date().with_day(1).unwrap_or(at.date())
}

impl Store {
    /// Creates the partitions for this month, the next `MONTHS_AHEAD` and
    /// any month the default partition holds rows for, moving those rows in;
    /// with
    /// `retention_days` set drops every partition that ended before
    /// `now - retention_days`. A no-op on SQLite.
    pub async fn maintain_event_partitions(
        &self,
        now: NaiveDateTime,
        retention_days: Option<u32>,
    ) -> StoreResult<PartitionUpkeep> {
        let Engine::Postgres(db) = &self.engine else {
            return Ok(PartitionUpkeep::default());
        };
        let mut tx = db.write.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(UPKEEP_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        let mut upkeep = PartitionUpkeep {
            ran: locked,
            ..PartitionUpkeep::default()
        };
        if !locked {
            return Ok(upkeep);
        }
        // Attaching locks the default partition; rather than make writes
        // queue behind a long wait for it, give up and retry next round.
        sqlx::query("SET LOCAL lock_timeout = '500ms'")
            .execute(&mut *tx)
            .await?;
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'events'::regclass",
        )
        .fetch_all(&mut *tx)
        .await?;
        let existing: Vec<Partition> = names.iter().map(|n| Partition::parse(n)).collect();
        let covered_until = existing
            .iter()
            .filter(|p| matches!(p, Partition::Before(_)))
            .filter_map(Partition::end)
            .max();

        let this_month = first_of_month(now);
        // This month and the next ones, and every month the default
        // partition holds rows for (imports of old events, dates ahead).
        let mut months: Vec<NaiveDate> = (0..=MONTHS_AHEAD)
            .filter_map(|ahead| this_month.checked_add_months(Months::new(ahead)))
            .collect();
        let parked: Vec<NaiveDateTime> = sqlx::query_scalar(
            "SELECT DISTINCT date_trunc('month', timestamp) FROM events_default",
        )
        .fetch_all(&mut *tx)
        .await?;
        months.extend(parked.iter().map(|at| at.date()));
        months.sort_unstable();
        months.dedup();
        for month in months {
            let already = existing.contains(&Partition::Month(month))
                || covered_until.is_some_and(|end| month < end);
            if !already {
                upkeep.moved += create_month(&mut tx, month).await?;
                upkeep.created.push(month_name(month));
            }
        }

        if let Some(days) = retention_days {
            let cutoff = now.date() - chrono::Duration::days(i64::from(days));
            for (name, partition) in names.iter().zip(&existing) {
                if partition.end().is_some_and(|end| end <= cutoff) {
                    sqlx::query(&format!("DROP TABLE \"{name}\""))
                        .execute(&mut *tx)
                        .await?;
                    upkeep.dropped.push(name.clone());
                }
            }
        }
        tx.commit().await?;
        Ok(upkeep)
    }
}

/// Creates one month's partition: a plain table first, filled with what
/// the default partition held for that month, then attached (ATTACH does
/// not block inserts into the other partitions).
async fn create_month(
    tx: &mut Transaction<'static, Postgres>,
    month: NaiveDate,
) -> StoreResult<u64> {
    let name = month_name(month);
    let Some(end) = month.checked_add_months(Months::new(1)) else {
        return Ok(0);
    };
    sqlx::query(&format!(
        "CREATE TABLE \"{name}\" (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    ))
    .execute(&mut **tx)
    .await?;
    let moved = sqlx::query(&format!(
        "WITH moved AS (DELETE FROM events_default WHERE timestamp >= $1 AND timestamp < $2 RETURNING *) \
         INSERT INTO \"{name}\" SELECT * FROM moved"
    ))
    .bind(month.and_hms_opt(0, 0, 0))
    .bind(end.and_hms_opt(0, 0, 0))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query(&format!(
        "ALTER TABLE events ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{month} 00:00:00') TO ('{end} 00:00:00')"
    ))
    .execute(&mut **tx)
    .await?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap()
    }

    #[test]
    fn partition_names_say_what_they_cover() {
        assert_eq!(
            Partition::parse("events_2026_11"),
            Partition::Month(ymd(2026, 11))
        );
        assert_eq!(
            Partition::parse("events_before_2026_12"),
            Partition::Before(ymd(2026, 12))
        );
        assert_eq!(Partition::parse("events_default"), Partition::Other);
        assert_eq!(Partition::parse("events_2026_13"), Partition::Other);
        assert_eq!(Partition::Month(ymd(2026, 12)).end(), Some(ymd(2027, 1)));
        assert_eq!(Partition::Before(ymd(2026, 12)).end(), Some(ymd(2026, 12)));
        assert_eq!(Partition::Other.end(), None);
        assert_eq!(month_name(ymd(2027, 1)), "events_2027_01");
    }
}
