//! Merging one batch's `Rollup` into the roll-up tables, inside the
//! batch's transaction: six statements, each taking all its rows at once.
//! PostgreSQL gets them as typed arrays (`UNNEST`: binary, nothing to
//! parse); SQLite, which has no arrays, as one JSON array of positional
//! rows. Every statement adds to what is stored (`ON CONFLICT … DO
//! UPDATE`), so batches of several replicas merge in any order.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::Serialize;
use sqlx::{Postgres, Sqlite, Transaction};

use super::rollups::{sorted, Rollup};
use super::StoreResult;

/// `link_facets` (`link_month_facets`) columns: url_id, day (month),
/// facet, value, redirects.
type FacetColumns<'a> = (
    Vec<i64>,
    Vec<NaiveDate>,
    Vec<&'static str>,
    Vec<&'a str>,
    Vec<i64>,
);

/// Counts per link and day (month), summed from the batch's hours (days).
type DayCounts = BTreeMap<(i64, NaiveDate), (i64, i64)>;
type MonthFacets<'a> = BTreeMap<(i64, NaiveDate, &'static str, &'a str), i64>;

/// A `link_daily` row: url_id, day, new visitors, first and last redirect.
type DailyRow = (i64, NaiveDate, i64, NaiveDateTime, NaiveDateTime);

/// The columns of each table, as parallel vectors.
#[derive(Default)]
struct Columns<'a> {
    hourly: (Vec<i64>, Vec<NaiveDateTime>, Vec<i64>, Vec<i64>),
    days: (Vec<i64>, Vec<NaiveDate>, Vec<i64>, Vec<i64>),
    facets: FacetColumns<'a>,
    months: FacetColumns<'a>,
    seen: (Vec<i64>, Vec<NaiveDate>, Vec<i64>),
}

fn push_facet<'a>(
    columns: &mut FacetColumns<'a>,
    (url_id, day, facet, value): (i64, NaiveDate, &'static str, &'a str),
    n: i64,
) {
    columns.0.push(url_id);
    columns.1.push(day);
    columns.2.push(facet);
    columns.3.push(value);
    columns.4.push(n);
}

/// The first day of `day`'s month.
fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

impl Rollup {
    /// The batch's counts per link and day.
    fn day_counts(&self) -> DayCounts {
        let mut days = DayCounts::new();
        for ((url_id, hour), (humans, bots)) in &self.hourly {
            let counts = days.entry((*url_id, hour.date())).or_default();
            counts.0 += humans;
            counts.1 += bots;
        }
        days
    }

    /// The batch's breakdowns per link and month.
    fn month_facets(&self) -> MonthFacets<'_> {
        let mut months = MonthFacets::new();
        for ((url_id, day, facet, value), n) in &self.facets {
            *months
                .entry((*url_id, month_of(*day), facet, &**value))
                .or_default() += n;
        }
        months
    }

    fn columns(&self) -> Columns<'_> {
        let mut c = Columns::default();
        for ((url_id, hour), (humans, bots)) in sorted(&self.hourly) {
            c.hourly.0.push(*url_id);
            c.hourly.1.push(*hour);
            c.hourly.2.push(*humans);
            c.hourly.3.push(*bots);
        }
        for ((url_id, day), (humans, bots)) in self.day_counts() {
            c.days.0.push(url_id);
            c.days.1.push(day);
            c.days.2.push(humans);
            c.days.3.push(bots);
        }
        for ((url_id, day, facet, value), n) in sorted(&self.facets) {
            push_facet(&mut c.facets, (*url_id, *day, facet, value), *n);
        }
        for (key, n) in self.month_facets() {
            push_facet(&mut c.months, key, n);
        }
        let mut seen: Vec<_> = self.seen.iter().collect();
        seen.sort_unstable();
        for (url_id, day, visitor) in seen {
            c.seen.0.push(*url_id);
            c.seen.1.push(*day);
            c.seen.2.push(*visitor);
        }
        c
    }

    /// The daily rows `(url_id, day, new visitors, first, last)`, given
    /// which visitors the store had not seen.
    fn daily_rows(&self, fresh: &[(i64, NaiveDate)]) -> Vec<DailyRow> {
        let mut new_visitors = BTreeMap::<(i64, NaiveDate), i64>::new();
        for key in fresh {
            *new_visitors.entry(*key).or_default() += 1;
        }
        sorted(&self.daily)
            .into_iter()
            .map(|((url_id, day), span)| {
                let n = new_visitors.get(&(*url_id, *day)).copied().unwrap_or(0);
                (*url_id, *day, n, span.first, span.last)
            })
            .collect()
    }
}

const PG_HOURLY: &str = "INSERT INTO link_hourly (url_id, hour, redirects, bot_redirects) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::TIMESTAMP[], $3::BIGINT[], $4::BIGINT[]) \
     ON CONFLICT (url_id, hour) DO UPDATE SET redirects = link_hourly.redirects + excluded.redirects, \
       bot_redirects = link_hourly.bot_redirects + excluded.bot_redirects";
const PG_DAYS: &str = "INSERT INTO link_day_counts (url_id, day, redirects, bot_redirects) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::DATE[], $3::BIGINT[], $4::BIGINT[]) \
     ON CONFLICT (url_id, day) DO UPDATE SET redirects = link_day_counts.redirects + excluded.redirects, \
       bot_redirects = link_day_counts.bot_redirects + excluded.bot_redirects";
const PG_FACETS: &str = "INSERT INTO link_facets (url_id, day, facet, value, redirects) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::DATE[], $3::TEXT[], $4::TEXT[], $5::BIGINT[]) \
     ON CONFLICT (url_id, day, facet, value) DO UPDATE SET redirects = link_facets.redirects + excluded.redirects";
const PG_MONTHS: &str = "INSERT INTO link_month_facets (url_id, month, facet, value, redirects) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::DATE[], $3::TEXT[], $4::TEXT[], $5::BIGINT[]) \
     ON CONFLICT (url_id, month, facet, value) DO UPDATE SET redirects = link_month_facets.redirects + excluded.redirects";
const PG_SEEN: &str = "INSERT INTO link_visitors_seen (url_id, day, visitor) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::DATE[], $3::BIGINT[]) \
     ON CONFLICT DO NOTHING RETURNING url_id, day";
const PG_DAILY: &str = "INSERT INTO link_daily (url_id, day, visitors, first_at, last_at) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::DATE[], $3::BIGINT[], $4::TIMESTAMP[], $5::TIMESTAMP[]) \
     ON CONFLICT (url_id, day) DO UPDATE SET visitors = link_daily.visitors + excluded.visitors, \
       first_at = LEAST(link_daily.first_at, excluded.first_at), \
       last_at = GREATEST(link_daily.last_at, excluded.last_at)";

/// Most rows one PostgreSQL upsert binds. A statement's arguments are
/// encoded into the connection's write buffer, which keeps its largest
/// size for the connection's life; slices keep that at about half a
/// megabyte instead of the whole window's rows on every pooled connection
/// the writer ever used. Slices of sorted rows stay in key order.
const PG_MERGE_ROWS: usize = 4_096;

/// The row ranges of `len` rows, slice by slice.
fn slices(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..len)
        .step_by(PG_MERGE_ROWS)
        .map(move |start| start..(start + PG_MERGE_ROWS).min(len))
}

/// `query` with the rows `range` of each parallel column bound in turn.
macro_rules! bind_rows {
    ($query:expr, $range:expr; $($column:expr),+ $(,)?) => {
        $query$(.bind(&$column[$range.clone()]))+
    };
}

/// Merges a batch's roll-up inside its transaction (PostgreSQL).
pub(crate) async fn merge_pg(
    tx: &mut Transaction<'static, Postgres>,
    rollup: &Rollup,
) -> StoreResult<()> {
    let Columns {
        hourly,
        days,
        facets,
        months,
        seen,
    } = rollup.columns();
    for r in slices(hourly.0.len()) {
        bind_rows!(sqlx::query(PG_HOURLY), r; hourly.0, hourly.1, hourly.2, hourly.3)
            .execute(&mut **tx)
            .await?;
    }
    for r in slices(days.0.len()) {
        bind_rows!(sqlx::query(PG_DAYS), r; days.0, days.1, days.2, days.3)
            .execute(&mut **tx)
            .await?;
    }
    if rollup.daily.is_empty() {
        return Ok(());
    }
    for (sql, f) in [(PG_FACETS, &facets), (PG_MONTHS, &months)] {
        for r in slices(f.0.len()) {
            bind_rows!(sqlx::query(sql), r; f.0, f.1, f.2, f.3, f.4)
                .execute(&mut **tx)
                .await?;
        }
    }
    let mut fresh: Vec<(i64, NaiveDate)> = Vec::new();
    for r in slices(seen.0.len()) {
        let counted: Vec<(i64, NaiveDate)> =
            bind_rows!(sqlx::query_as(PG_SEEN), r; seen.0, seen.1, seen.2)
                .fetch_all(&mut **tx)
                .await?;
        fresh.extend(counted);
    }
    let mut daily = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (url_id, day, n, first, last) in rollup.daily_rows(&fresh) {
        daily.0.push(url_id);
        daily.1.push(day);
        daily.2.push(n);
        daily.3.push(first);
        daily.4.push(last);
    }
    for r in slices(daily.0.len()) {
        bind_rows!(sqlx::query(PG_DAILY), r; daily.0, daily.1, daily.2, daily.3, daily.4)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

const SQLITE_HOURLY: &str = "INSERT INTO link_hourly (url_id, hour, redirects, bot_redirects) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each($1) WHERE true \
     ON CONFLICT (url_id, hour) DO UPDATE SET redirects = redirects + excluded.redirects, \
       bot_redirects = bot_redirects + excluded.bot_redirects";
const SQLITE_DAYS: &str = "INSERT INTO link_day_counts (url_id, day, redirects, bot_redirects) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each($1) WHERE true \
     ON CONFLICT (url_id, day) DO UPDATE SET redirects = redirects + excluded.redirects, \
       bot_redirects = bot_redirects + excluded.bot_redirects";
const SQLITE_FACETS: &str = "INSERT INTO link_facets (url_id, day, facet, value, redirects) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each($1) WHERE true \
     ON CONFLICT (url_id, day, facet, value) DO UPDATE SET redirects = redirects + excluded.redirects";
const SQLITE_MONTHS: &str = "INSERT INTO link_month_facets (url_id, month, facet, value, redirects) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each($1) WHERE true \
     ON CONFLICT (url_id, month, facet, value) DO UPDATE SET redirects = redirects + excluded.redirects";
const SQLITE_SEEN: &str = "INSERT INTO link_visitors_seen (url_id, day, visitor) \
     SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each($1) WHERE true \
     ON CONFLICT DO NOTHING RETURNING url_id, day";
const SQLITE_DAILY: &str = "INSERT INTO link_daily (url_id, day, visitors, first_at, last_at) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each($1) WHERE true \
     ON CONFLICT (url_id, day) DO UPDATE SET visitors = visitors + excluded.visitors, \
       first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at)";

/// A day and a moment as SQLite stores them (`YYYY-MM-DD`,
/// `YYYY-MM-DD HH:MM:SS`), written straight into the JSON.
struct Day(NaiveDate);
struct Moment(NaiveDateTime);

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl Serialize for Moment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&crate::domain::format_spaced_timestamp(&self.0))
    }
}

/// Rows as one JSON array of arrays; numbers and strings always serialise.
fn json_rows<T: Serialize>(rows: &[T]) -> String {
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_owned())
}

/// Merges a batch's roll-up inside its transaction (SQLite).
pub(crate) async fn merge_sqlite(
    tx: &mut Transaction<'static, Sqlite>,
    rollup: &Rollup,
) -> StoreResult<()> {
    let hourly: Vec<_> = sorted(&rollup.hourly)
        .into_iter()
        .map(|((url_id, hour), (humans, bots))| (url_id, Moment(*hour), humans, bots))
        .collect();
    let days: Vec<_> = rollup
        .day_counts()
        .into_iter()
        .map(|((url_id, day), (humans, bots))| (url_id, Day(day), humans, bots))
        .collect();
    for (sql, rows) in [
        (SQLITE_HOURLY, json_rows(&hourly)),
        (SQLITE_DAYS, json_rows(&days)),
    ] {
        sqlx::query(sql).bind(rows).execute(&mut **tx).await?;
    }
    if rollup.daily.is_empty() {
        return Ok(());
    }
    let facets: Vec<_> = sorted(&rollup.facets)
        .into_iter()
        .map(|((url_id, day, facet, value), n)| (url_id, Day(*day), facet, value, n))
        .collect();
    let months: Vec<_> = rollup
        .month_facets()
        .into_iter()
        .map(|((url_id, month, facet, value), n)| (url_id, Day(month), facet, value, n))
        .collect();
    for (sql, rows) in [
        (SQLITE_FACETS, json_rows(&facets)),
        (SQLITE_MONTHS, json_rows(&months)),
    ] {
        sqlx::query(sql).bind(rows).execute(&mut **tx).await?;
    }
    let fresh: Vec<(i64, NaiveDate)> = if rollup.seen.is_empty() {
        Vec::new()
    } else {
        let mut seen: Vec<_> = rollup.seen.iter().collect();
        seen.sort_unstable();
        let seen: Vec<_> = seen
            .into_iter()
            .map(|(url_id, day, visitor)| (url_id, Day(*day), visitor))
            .collect();
        sqlx::query_as(SQLITE_SEEN)
            .bind(json_rows(&seen))
            .fetch_all(&mut **tx)
            .await?
    };
    let daily: Vec<_> = rollup
        .daily_rows(&fresh)
        .into_iter()
        .map(|(url_id, day, n, first, last)| (url_id, Day(day), n, Moment(first), Moment(last)))
        .collect();
    sqlx::query(SQLITE_DAILY)
        .bind(json_rows(&daily))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
