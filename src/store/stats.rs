//! Reading reports from the roll-ups (`rollups`): four small queries on one
//! read connection, each bounded by the link's (or user's links') key, so
//! a report costs the same for ten redirects or ten million.

use chrono::NaiveDateTime;

use super::rollups::FACETS;
use super::{Engine, Store, StoreResult};
use crate::domain::{Bucket, Granularity, Stats, StatsRange, StatsScope, Tally, TOP_VALUES};
use crate::telemetry::{stage_timer, Stage};

/// The SQL of one engine: where they differ (types of sums, casts of the
/// bound bounds, cutting an hour to its day).
struct Dialect {
    sum: &'static str,
    hour: &'static str,
    day: &'static str,
    day_of_hour: &'static str,
}

const PG: Dialect = Dialect {
    sum: "COALESCE(SUM({}), 0)::BIGINT",
    hour: "$::TIMESTAMP",
    day: "$::DATE",
    day_of_hour: "date_trunc('day', hour)",
};

const SQLITE: Dialect = Dialect {
    sum: "COALESCE(SUM({}), 0)",
    hour: "$",
    day: "$",
    day_of_hour: "substr(hour, 1, 10) || ' 00:00:00'",
};

impl Dialect {
    fn sum(&self, column: &str) -> String {
        self.sum.replace("{}", column)
    }

    fn hour(&self, n: u8) -> String {
        self.hour.replace('$', &format!("${n}"))
    }

    fn day(&self, n: u8) -> String {
        self.day.replace('$', &format!("${n}"))
    }
}

/// The statements of one report; `$1` is the link or user id, `$2`/`$3`
/// the first and last hour, `$4`/`$5` the first and last day.
struct ReportSql {
    totals: String,
    daily: String,
    series: String,
    facets: String,
}

impl ReportSql {
    fn new(d: &Dialect, scope: StatsScope, granularity: Granularity) -> Self {
        let owner = match scope {
            StatsScope::Link(_) => "url_id = $1",
            StatsScope::User(_) => "url_id IN (SELECT id FROM urls WHERE user_id = $1)",
        };
        let hours = format!(
            "{owner} AND hour >= {} AND hour <= {}",
            d.hour(2),
            d.hour(3)
        );
        let days = format!("{owner} AND day >= {} AND day <= {}", d.day(4), d.day(5));
        let bucket = match granularity {
            Granularity::Hour => "hour",
            Granularity::Day => d.day_of_hour,
        };
        Self {
            totals: format!(
                "SELECT {}, {} FROM link_hourly WHERE {hours}",
                d.sum("redirects"),
                d.sum("bot_redirects")
            ),
            daily: format!(
                "SELECT {}, MIN(first_at), MAX(last_at) FROM link_daily WHERE {days}",
                d.sum("visitors")
            ),
            series: format!(
                "SELECT {bucket} AS bucket, {} FROM link_hourly WHERE {hours} AND redirects > 0 \
                 GROUP BY bucket ORDER BY bucket",
                d.sum("redirects")
            ),
            facets: format!(
                "SELECT facet, value, n FROM (SELECT facet, value, {} AS n, \
                   ROW_NUMBER() OVER (PARTITION BY facet ORDER BY SUM(redirects) DESC, value) AS place \
                   FROM link_facets WHERE {days} GROUP BY facet, value) ranked \
                 WHERE place <= {TOP_VALUES} ORDER BY facet, n DESC, value",
                d.sum("redirects")
            ),
        }
    }
}

const EARLIEST: &str = "0001-01-01 00:00:00";
const LATEST: &str = "9999-12-31 23:59:59";

/// The bounds as text in the roll-ups' own formats (`$2`..`$5`).
fn bounds(range: &StatsRange) -> [String; 4] {
    let hour = |at: Option<NaiveDateTime>, open: &str| match at {
        Some(at) => at.format("%Y-%m-%d %H:00:00").to_string(),
        None => open.to_owned(),
    };
    let day = |at: Option<NaiveDateTime>, open: &str| match at {
        Some(at) => at.format("%Y-%m-%d").to_string(),
        None => open[..10].to_owned(),
    };
    [
        hour(range.from, EARLIEST),
        // The last hour included starts at `to`'s hour.
        hour(range.to, LATEST),
        day(range.from, EARLIEST),
        day(range.to, LATEST),
    ]
}

type FacetRow = (String, String, i64);

impl Store {
    /// Human redirects of each of a user's links, all time: `(url_id, n)`
    /// for the links that have any.
    pub async fn redirect_totals(&self, user_id: i64) -> StoreResult<Vec<(i64, i64)>> {
        let sql = match &self.engine {
            Engine::Postgres(_) => PG.sum("redirects"),
            Engine::Sqlite(_) => SQLITE.sum("redirects"),
        };
        let sql = format!(
            "SELECT url_id, {sql} FROM link_hourly \
             WHERE url_id IN (SELECT id FROM urls WHERE user_id = $1) GROUP BY url_id"
        );
        let rows = super::on_engine!(self, |db| {
            sqlx::query_as(&sql)
                .bind(user_id)
                .fetch_all(&mut *db.acquire_read().await?)
                .await?
        });
        Ok(rows)
    }

    /// Deletes the visitor hashes of days before yesterday: their salt is
    /// gone, so they can never be seen again (yesterday stays for batches
    /// that straddle midnight).
    pub async fn forget_old_visitors(&self, now: NaiveDateTime) -> StoreResult<u64> {
        let keep_from = (now.date() - chrono::Days::new(1)).to_string();
        let sql = match &self.engine {
            Engine::Postgres(_) => "DELETE FROM link_visitors_seen WHERE day < $1::DATE",
            Engine::Sqlite(_) => "DELETE FROM link_visitors_seen WHERE day < $1",
        };
        let done = super::on_engine!(self, |db| {
            sqlx::query(sql)
                .bind(keep_from.as_str())
                .execute(&mut *db.acquire_write().await?)
                .await?
                .rows_affected()
        });
        Ok(done)
    }

    /// The report of a link or of a user's links over `range`.
    #[tracing::instrument(name = "store.stats", level = "debug", skip_all)]
    pub async fn stats(&self, scope: StatsScope, range: StatsRange) -> StoreResult<Stats> {
        let _db = stage_timer(Stage::Db);
        let id = match scope {
            StatsScope::Link(id) | StatsScope::User(id) => id,
        };
        let [from_hour, to_hour, from_day, to_day] = bounds(&range);
        let dialect = match &self.engine {
            Engine::Postgres(_) => &PG,
            Engine::Sqlite(_) => &SQLITE,
        };
        let sql = ReportSql::new(dialect, scope, range.granularity);
        let (totals, daily, series, facets) = super::on_engine!(self, |db| {
            let mut conn = db.acquire_read().await?;
            macro_rules! query {
                ($sql:expr) => {
                    sqlx::query_as($sql)
                        .bind(id)
                        .bind(from_hour.as_str())
                        .bind(to_hour.as_str())
                        .bind(from_day.as_str())
                        .bind(to_day.as_str())
                };
            }
            let totals: (i64, i64) = query!(&sql.totals).fetch_one(&mut *conn).await?;
            let daily: (i64, Option<NaiveDateTime>, Option<NaiveDateTime>) =
                query!(&sql.daily).fetch_one(&mut *conn).await?;
            let series: Vec<(NaiveDateTime, i64)> =
                query!(&sql.series).fetch_all(&mut *conn).await?;
            let facets: Vec<FacetRow> = query!(&sql.facets).fetch_all(&mut *conn).await?;
            (totals, daily, series, facets)
        });
        let mut stats = Stats {
            redirects: totals.0,
            bot_redirects: totals.1,
            unique_visitors: daily.0,
            first_redirect_at: daily.1,
            last_redirect_at: daily.2,
            series: series
                .into_iter()
                .map(|(start, redirects)| Bucket { start, redirects })
                .collect(),
            ..Stats::default()
        };
        for (facet, value, redirects) in facets {
            let list = match FACETS.iter().position(|f| *f == facet) {
                Some(0) => &mut stats.referrers,
                Some(1) => &mut stats.browsers,
                Some(2) => &mut stats.operating_systems,
                Some(3) => &mut stats.devices,
                Some(4) => &mut stats.countries,
                _ => continue,
            };
            list.push(Tally { value, redirects });
        }
        Ok(stats)
    }
}
