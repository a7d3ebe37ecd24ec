//! The roll-ups behind link reports, kept by the event writer: each batch
//! of redirects is summed in memory (`Rollup::of`) and merged into four
//! tables in the batch's own transaction, so a report never disagrees with
//! the event log it summarises.
//!
//! - `link_hourly`: redirects and bot redirects per link and hour;
//! - `link_facets`: human redirects per link, day and referrer host,
//!   browser, OS or device class;
//! - `link_daily`: distinct visitors, first and last human redirect per
//!   link and day;
//! - `link_visitors_seen`: who was already counted that day (a visitor
//!   hash is only unique within its day; see `analytics`).
//!
//! Each table gets one statement per batch, its rows as one JSON array, in
//! key order (neighbouring keys share index pages).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime, Timelike};
use serde_json::{json, Value};
use sqlx::{Postgres, Sqlite, Transaction};

use super::StoreResult;
use crate::domain::RedirectEvent;

/// A referrer that is not there: the visitor typed or pasted the link.
pub const DIRECT: &str = "direct";

/// The facets a report breaks redirects down by, as stored.
pub const FACETS: [&str; 4] = ["referrer", "browser", "os", "device"];

/// When a human redirect came, first and last, within one link's day.
#[derive(Debug, Clone, Copy)]
struct Span {
    first: NaiveDateTime,
    last: NaiveDateTime,
}

/// One batch, summed.
#[derive(Debug, Default)]
pub(crate) struct Rollup {
    hourly: BTreeMap<(i64, NaiveDateTime), (i64, i64)>,
    facets: BTreeMap<(i64, &'static str, NaiveDate, String), i64>,
    daily: BTreeMap<(i64, NaiveDate), Span>,
    seen: BTreeSet<(i64, NaiveDate, i64)>,
}

fn hour_of(at: NaiveDateTime) -> NaiveDateTime {
    at.date().and_time(chrono::NaiveTime::MIN) + chrono::Duration::hours(i64::from(at.hour()))
}

impl Rollup {
    pub(crate) fn of(batch: &[RedirectEvent]) -> Self {
        let mut rollup = Self::default();
        for event in batch {
            let agent = &event.visitor.agent;
            let counts = rollup
                .hourly
                .entry((event.url_id, hour_of(event.timestamp)))
                .or_default();
            if agent.bot {
                counts.1 += 1;
                continue;
            }
            counts.0 += 1;
            let day = event.timestamp.date();
            let referrer = event.visitor.referrer_host.as_deref().unwrap_or(DIRECT);
            let values = [referrer, &agent.browser, &agent.os, agent.device.as_str()];
            for (facet, value) in FACETS.into_iter().zip(values) {
                *rollup
                    .facets
                    .entry((event.url_id, facet, day, value.to_owned()))
                    .or_default() += 1;
            }
            rollup
                .daily
                .entry((event.url_id, day))
                .and_modify(|span| {
                    span.first = span.first.min(event.timestamp);
                    span.last = span.last.max(event.timestamp);
                })
                .or_insert(Span {
                    first: event.timestamp,
                    last: event.timestamp,
                });
            rollup.seen.insert((event.url_id, day, event.visitor.id));
        }
        rollup
    }

    fn hourly_json(&self) -> Value {
        self.hourly
            .iter()
            .map(|((url_id, hour), (humans, bots))| {
                json!({"url_id": url_id, "hour": stamp(hour), "redirects": humans, "bot_redirects": bots})
            })
            .collect()
    }

    fn facets_json(&self) -> Value {
        self.facets
            .iter()
            .map(|((url_id, facet, day, value), n)| {
                json!({"url_id": url_id, "facet": facet, "day": day.to_string(), "value": value, "redirects": n})
            })
            .collect()
    }

    fn seen_json(&self) -> Value {
        self.seen
            .iter()
            .map(|(url_id, day, visitor)| json!({"url_id": url_id, "day": day.to_string(), "visitor": visitor}))
            .collect()
    }

    /// The daily rows, with how many of their visitors were new.
    fn daily_json(&self, fresh: &[(i64, NaiveDate)]) -> Value {
        let mut new_visitors: BTreeMap<(i64, NaiveDate), i64> = BTreeMap::new();
        for key in fresh {
            *new_visitors.entry(*key).or_default() += 1;
        }
        self.daily
            .iter()
            .map(|((url_id, day), span)| {
                let visitors = new_visitors.get(&(*url_id, *day)).copied().unwrap_or(0);
                json!({"url_id": url_id, "day": day.to_string(), "visitors": visitors,
                    "first_at": stamp(&span.first), "last_at": stamp(&span.last)})
            })
            .collect()
    }
}

fn stamp(at: &NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

const PG_HOURLY: &str = "INSERT INTO link_hourly (url_id, hour, redirects, bot_redirects) \
     SELECT url_id, hour, redirects, bot_redirects FROM jsonb_to_recordset($1::jsonb) \
       AS r(url_id BIGINT, hour TIMESTAMP, redirects BIGINT, bot_redirects BIGINT) \
     ON CONFLICT (url_id, hour) DO UPDATE SET redirects = link_hourly.redirects + excluded.redirects, \
       bot_redirects = link_hourly.bot_redirects + excluded.bot_redirects";
const PG_FACETS: &str = "INSERT INTO link_facets (url_id, facet, day, value, redirects) \
     SELECT url_id, facet, day, value, redirects FROM jsonb_to_recordset($1::jsonb) \
       AS r(url_id BIGINT, facet TEXT, day DATE, value TEXT, redirects BIGINT) \
     ON CONFLICT (url_id, facet, day, value) DO UPDATE SET redirects = link_facets.redirects + excluded.redirects";
const PG_SEEN: &str = "INSERT INTO link_visitors_seen (url_id, day, visitor) \
     SELECT url_id, day, visitor FROM jsonb_to_recordset($1::jsonb) AS r(url_id BIGINT, day DATE, visitor BIGINT) \
     ON CONFLICT DO NOTHING RETURNING url_id, day";
const PG_DAILY: &str = "INSERT INTO link_daily (url_id, day, visitors, first_at, last_at) \
     SELECT url_id, day, visitors, first_at, last_at FROM jsonb_to_recordset($1::jsonb) \
       AS r(url_id BIGINT, day DATE, visitors BIGINT, first_at TIMESTAMP, last_at TIMESTAMP) \
     ON CONFLICT (url_id, day) DO UPDATE SET visitors = link_daily.visitors + excluded.visitors, \
       first_at = LEAST(link_daily.first_at, excluded.first_at), \
       last_at = GREATEST(link_daily.last_at, excluded.last_at)";

const SQLITE_HOURLY: &str = "INSERT INTO link_hourly (url_id, hour, redirects, bot_redirects) \
     SELECT value ->> 'url_id', value ->> 'hour', value ->> 'redirects', value ->> 'bot_redirects' \
     FROM json_each($1) WHERE true \
     ON CONFLICT (url_id, hour) DO UPDATE SET redirects = redirects + excluded.redirects, \
       bot_redirects = bot_redirects + excluded.bot_redirects";
const SQLITE_FACETS: &str = "INSERT INTO link_facets (url_id, facet, day, value, redirects) \
     SELECT value ->> 'url_id', value ->> 'facet', value ->> 'day', value ->> 'value', value ->> 'redirects' \
     FROM json_each($1) WHERE true \
     ON CONFLICT (url_id, facet, day, value) DO UPDATE SET redirects = redirects + excluded.redirects";
const SQLITE_SEEN: &str = "INSERT INTO link_visitors_seen (url_id, day, visitor) \
     SELECT value ->> 'url_id', value ->> 'day', value ->> 'visitor' FROM json_each($1) WHERE true \
     ON CONFLICT DO NOTHING RETURNING url_id, day";
const SQLITE_DAILY: &str = "INSERT INTO link_daily (url_id, day, visitors, first_at, last_at) \
     SELECT value ->> 'url_id', value ->> 'day', value ->> 'visitors', value ->> 'first_at', value ->> 'last_at' \
     FROM json_each($1) WHERE true \
     ON CONFLICT (url_id, day) DO UPDATE SET visitors = visitors + excluded.visitors, \
       first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at)";

/// Merges a batch's roll-up inside its transaction (PostgreSQL).
pub(crate) async fn merge_pg(
    tx: &mut Transaction<'static, Postgres>,
    rollup: &Rollup,
) -> StoreResult<()> {
    sqlx::query(PG_HOURLY)
        .bind(rollup.hourly_json())
        .execute(&mut **tx)
        .await?;
    if rollup.daily.is_empty() {
        return Ok(());
    }
    sqlx::query(PG_FACETS)
        .bind(rollup.facets_json())
        .execute(&mut **tx)
        .await?;
    let fresh: Vec<(i64, NaiveDate)> = sqlx::query_as(PG_SEEN)
        .bind(rollup.seen_json())
        .fetch_all(&mut **tx)
        .await?;
    sqlx::query(PG_DAILY)
        .bind(rollup.daily_json(&fresh))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Merges a batch's roll-up inside its transaction (SQLite).
pub(crate) async fn merge_sqlite(
    tx: &mut Transaction<'static, Sqlite>,
    rollup: &Rollup,
) -> StoreResult<()> {
    let text = |v: Value| v.to_string();
    sqlx::query(SQLITE_HOURLY)
        .bind(text(rollup.hourly_json()))
        .execute(&mut **tx)
        .await?;
    if rollup.daily.is_empty() {
        return Ok(());
    }
    sqlx::query(SQLITE_FACETS)
        .bind(text(rollup.facets_json()))
        .execute(&mut **tx)
        .await?;
    let fresh: Vec<(i64, NaiveDate)> = sqlx::query_as(SQLITE_SEEN)
        .bind(text(rollup.seen_json()))
        .fetch_all(&mut **tx)
        .await?;
    sqlx::query(SQLITE_DAILY)
        .bind(text(rollup.daily_json(&fresh)))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What `Store::rebuild_rollups` runs, in one transaction, per engine.
const PG_REBUILD: &[&str] = &[
    "LOCK TABLE link_hourly, link_facets, link_daily, link_visitors_seen IN EXCLUSIVE MODE",
    "TRUNCATE link_hourly, link_facets, link_daily, link_visitors_seen",
    "INSERT INTO link_hourly (url_id, hour, redirects, bot_redirects) \
     SELECT url_id, date_trunc('hour', timestamp), count(*) FILTER (WHERE bot IS NOT TRUE), \
            count(*) FILTER (WHERE bot) \
     FROM events WHERE event_type = 'redirect' AND url_id IS NOT NULL GROUP BY 1, 2",
    "INSERT INTO link_facets (url_id, facet, day, value, redirects) \
     SELECT url_id, f.facet, timestamp::date, f.value, count(*) FROM events \
     CROSS JOIN LATERAL (VALUES ('referrer', COALESCE(referrer_host, 'direct')), \
         ('browser', COALESCE(browser, 'Other')), ('os', COALESCE(os, 'Other')), \
         ('device', COALESCE(device, 'other'))) AS f(facet, value) \
     WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT TRUE GROUP BY 1, 2, 3, 4",
    "INSERT INTO link_daily (url_id, day, visitors, first_at, last_at) \
     SELECT url_id, timestamp::date, count(DISTINCT visitor), min(timestamp), max(timestamp) \
     FROM events WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT TRUE GROUP BY 1, 2",
    "INSERT INTO link_visitors_seen (url_id, day, visitor) \
     SELECT DISTINCT url_id, timestamp::date, visitor FROM events \
     WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT TRUE AND visitor IS NOT NULL \
       AND timestamp >= current_date - 1",
];

const SQLITE_REBUILD: &[&str] = &[
    "DELETE FROM link_hourly",
    "DELETE FROM link_facets",
    "DELETE FROM link_daily",
    "DELETE FROM link_visitors_seen",
    "INSERT INTO link_hourly (url_id, hour, redirects, bot_redirects) \
     SELECT url_id, substr(timestamp, 1, 13) || ':00:00', sum(bot IS NOT 1), sum(bot IS 1) \
     FROM events WHERE event_type = 'redirect' AND url_id IS NOT NULL GROUP BY 1, 2",
    "INSERT INTO link_facets (url_id, facet, day, value, redirects) \
     SELECT url_id, facet, day, value, count(*) FROM ( \
       SELECT url_id, 'referrer' AS facet, substr(timestamp, 1, 10) AS day, \
              COALESCE(referrer_host, 'direct') AS value FROM events \
         WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT 1 \
       UNION ALL SELECT url_id, 'browser', substr(timestamp, 1, 10), COALESCE(browser, 'Other') FROM events \
         WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT 1 \
       UNION ALL SELECT url_id, 'os', substr(timestamp, 1, 10), COALESCE(os, 'Other') FROM events \
         WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT 1 \
       UNION ALL SELECT url_id, 'device', substr(timestamp, 1, 10), COALESCE(device, 'other') FROM events \
         WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT 1) \
     GROUP BY 1, 2, 3, 4",
    "INSERT INTO link_daily (url_id, day, visitors, first_at, last_at) \
     SELECT url_id, substr(timestamp, 1, 10), count(DISTINCT visitor), min(timestamp), max(timestamp) \
     FROM events WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT 1 GROUP BY 1, 2",
    "INSERT INTO link_visitors_seen (url_id, day, visitor) \
     SELECT DISTINCT url_id, substr(timestamp, 1, 10), visitor FROM events \
     WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT 1 AND visitor IS NOT NULL \
       AND timestamp >= date('now', '-1 day')",
];

impl super::Store {
    /// Rebuilds every roll-up from the event log, in one transaction (the
    /// event writer's merges wait meanwhile): after `kurz import --events`,
    /// whose redirects the writer never saw, or to repair. Redirects
    /// without a reading (imported ones) count as human, with browser, OS
    /// and device `Other`/`other` and no visitor.
    pub async fn rebuild_rollups(&self) -> StoreResult<()> {
        let statements = match &self.engine {
            super::Engine::Postgres(_) => PG_REBUILD,
            super::Engine::Sqlite(_) => SQLITE_REBUILD,
        };
        super::on_engine!(self, |db| {
            let mut tx = db.begin_write().await?;
            for statement in statements {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
