//! Merging one batch's `Rollup` into the roll-up tables, inside the
//! batch's transaction: four statements, each taking all its rows at once.
//! PostgreSQL gets them as typed arrays (`UNNEST`: binary, nothing to
//! parse); SQLite, which has no arrays, as one JSON array of positional
//! rows. Every statement adds to what is stored (`ON CONFLICT … DO
//! UPDATE`), so batches of several replicas merge in any order.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use sqlx::{Postgres, Sqlite, Transaction};

use super::rollups::Rollup;
use super::StoreResult;

/// `link_facets` columns: url_id, facet, day, value, redirects.
type FacetColumns = (
    Vec<i64>,
    Vec<&'static str>,
    Vec<NaiveDate>,
    Vec<String>,
    Vec<i64>,
);

/// A `link_daily` row: url_id, day, new visitors, first and last redirect.
type DailyRow = (i64, NaiveDate, i64, NaiveDateTime, NaiveDateTime);

/// The columns of each table, as parallel vectors.
#[derive(Default)]
struct Columns {
    hourly: (Vec<i64>, Vec<NaiveDateTime>, Vec<i64>, Vec<i64>),
    facets: FacetColumns,
    seen: (Vec<i64>, Vec<NaiveDate>, Vec<i64>),
}

impl Rollup {
    fn columns(&self) -> Columns {
        let mut c = Columns::default();
        for ((url_id, hour), (humans, bots)) in &self.hourly {
            c.hourly.0.push(*url_id);
            c.hourly.1.push(*hour);
            c.hourly.2.push(*humans);
            c.hourly.3.push(*bots);
        }
        for ((url_id, facet, day, value), n) in &self.facets {
            c.facets.0.push(*url_id);
            c.facets.1.push(facet);
            c.facets.2.push(*day);
            c.facets.3.push(value.clone());
            c.facets.4.push(*n);
        }
        for (url_id, day, visitor) in &self.seen {
            c.seen.0.push(*url_id);
            c.seen.1.push(*day);
            c.seen.2.push(*visitor);
        }
        c
    }

    /// The daily rows `(url_id, day, new visitors, first, last)`, given
    /// which visitors the store had not seen.
    fn daily_rows(&self, fresh: &[(i64, NaiveDate)]) -> Vec<DailyRow> {
        let mut new_visitors = std::collections::BTreeMap::<(i64, NaiveDate), i64>::new();
        for key in fresh {
            *new_visitors.entry(*key).or_default() += 1;
        }
        self.daily
            .iter()
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
const PG_FACETS: &str = "INSERT INTO link_facets (url_id, facet, day, value, redirects) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::DATE[], $4::TEXT[], $5::BIGINT[]) \
     ON CONFLICT (url_id, facet, day, value) DO UPDATE SET redirects = link_facets.redirects + excluded.redirects";
const PG_SEEN: &str = "INSERT INTO link_visitors_seen (url_id, day, visitor) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::DATE[], $3::BIGINT[]) \
     ON CONFLICT DO NOTHING RETURNING url_id, day";
const PG_DAILY: &str = "INSERT INTO link_daily (url_id, day, visitors, first_at, last_at) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::DATE[], $3::BIGINT[], $4::TIMESTAMP[], $5::TIMESTAMP[]) \
     ON CONFLICT (url_id, day) DO UPDATE SET visitors = link_daily.visitors + excluded.visitors, \
       first_at = LEAST(link_daily.first_at, excluded.first_at), \
       last_at = GREATEST(link_daily.last_at, excluded.last_at)";

/// Merges a batch's roll-up inside its transaction (PostgreSQL).
pub(crate) async fn merge_pg(
    tx: &mut Transaction<'static, Postgres>,
    rollup: &Rollup,
) -> StoreResult<()> {
    let Columns {
        hourly,
        facets,
        seen,
    } = rollup.columns();
    sqlx::query(PG_HOURLY)
        .bind(hourly.0)
        .bind(hourly.1)
        .bind(hourly.2)
        .bind(hourly.3)
        .execute(&mut **tx)
        .await?;
    if rollup.daily.is_empty() {
        return Ok(());
    }
    sqlx::query(PG_FACETS)
        .bind(facets.0)
        .bind(facets.1)
        .bind(facets.2)
        .bind(facets.3)
        .bind(facets.4)
        .execute(&mut **tx)
        .await?;
    let fresh: Vec<(i64, NaiveDate)> = if seen.0.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(PG_SEEN)
            .bind(seen.0)
            .bind(seen.1)
            .bind(seen.2)
            .fetch_all(&mut **tx)
            .await?
    };
    let mut daily = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (url_id, day, n, first, last) in rollup.daily_rows(&fresh) {
        daily.0.push(url_id);
        daily.1.push(day);
        daily.2.push(n);
        daily.3.push(first);
        daily.4.push(last);
    }
    sqlx::query(PG_DAILY)
        .bind(daily.0)
        .bind(daily.1)
        .bind(daily.2)
        .bind(daily.3)
        .bind(daily.4)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

const SQLITE_HOURLY: &str = "INSERT INTO link_hourly (url_id, hour, redirects, bot_redirects) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each($1) WHERE true \
     ON CONFLICT (url_id, hour) DO UPDATE SET redirects = redirects + excluded.redirects, \
       bot_redirects = bot_redirects + excluded.bot_redirects";
const SQLITE_FACETS: &str = "INSERT INTO link_facets (url_id, facet, day, value, redirects) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each($1) WHERE true \
     ON CONFLICT (url_id, facet, day, value) DO UPDATE SET redirects = redirects + excluded.redirects";
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
    let hourly: Vec<_> = rollup
        .hourly
        .iter()
        .map(|((url_id, hour), (humans, bots))| (url_id, Moment(*hour), humans, bots))
        .collect();
    sqlx::query(SQLITE_HOURLY)
        .bind(json_rows(&hourly))
        .execute(&mut **tx)
        .await?;
    if rollup.daily.is_empty() {
        return Ok(());
    }
    let facets: Vec<_> = rollup
        .facets
        .iter()
        .map(|((url_id, facet, day, value), n)| (url_id, facet, Day(*day), value, n))
        .collect();
    sqlx::query(SQLITE_FACETS)
        .bind(json_rows(&facets))
        .execute(&mut **tx)
        .await?;
    let fresh: Vec<(i64, NaiveDate)> = if rollup.seen.is_empty() {
        Vec::new()
    } else {
        let seen: Vec<_> = rollup
            .seen
            .iter()
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
