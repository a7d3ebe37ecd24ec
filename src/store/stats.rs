//! Reading reports from the roll-ups (`rollups`): three small queries on
//! one read connection, each bounded by the link's (or user's links') key
//! and reading the coarsest tier that covers each part of the range
//! (`report_tiers`), so a report costs the same for ten redirects or ten
//! million, and a year of them reads a few hundred rows.

use chrono::{NaiveDate, NaiveDateTime};

use super::report_tiers::{days_and_months, hours_and_days, Span, Tiers};
use super::rollups::FACETS;
use super::{Engine, Store, StoreResult};
use crate::domain::{
    moment_bounds, Bucket, Granularity, Stats, StatsRange, StatsScope, Tally, TOP_VALUES,
};
use crate::telemetry::{stage_timer, Stage};

/// The SQL of one engine: where they differ (types of sums, casts of the
/// bound bounds, cutting an hour to its day, a day as a moment).
struct Dialect {
    sum: &'static str,
    hour: &'static str,
    day: &'static str,
    day_of_hour: &'static str,
    start_of_day: &'static str,
}

const PG: Dialect = Dialect {
    sum: "COALESCE(SUM({}), 0)::BIGINT",
    hour: "$::TIMESTAMP",
    day: "$::DATE",
    day_of_hour: "date_trunc('day', hour)",
    start_of_day: "day::TIMESTAMP",
};

const SQLITE: Dialect = Dialect {
    sum: "COALESCE(SUM({}), 0)",
    hour: "$",
    day: "$",
    day_of_hour: "substr(hour, 1, 10) || ' 00:00:00'",
    start_of_day: "day || ' 00:00:00'",
};

impl Dialect {
    fn sum(&self, column: &str) -> String {
        self.sum.replace("{}", column)
    }

    /// `column` between the bounds `$first` and `$last`, as hours.
    fn hours(&self, column: &str, first: u8, last: u8) -> String {
        let at = |n: u8| self.hour.replace('$', &format!("${n}"));
        format!("{column} >= {} AND {column} <= {}", at(first), at(last))
    }

    /// `column` between the bounds `$first` and `$last`, as days.
    fn days(&self, column: &str, first: u8, last: u8) -> String {
        let at = |n: u8| self.day.replace('$', &format!("${n}"));
        format!("{column} >= {} AND {column} <= {}", at(first), at(last))
    }
}

/// The statements of one report. `$1` is the link or user id; the
/// counts' hours and days are `$2`..`$7` (head hours, whole days, tail
/// hours), the visitors' days `$8`/`$9`, the breakdowns' days and months
/// `$10`..`$15` (head days, whole months, tail days).
struct ReportSql {
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
        let bucket = match granularity {
            Granularity::Hour => "hour",
            Granularity::Day => d.day_of_hour,
        };
        let hourly = |first, last| {
            format!(
                "SELECT {bucket} AS bucket, redirects, bot_redirects FROM link_hourly \
                 WHERE {owner} AND {}",
                d.hours("hour", first, last)
            )
        };
        let facets = |table, column, first, last| {
            format!(
                "SELECT facet, value, redirects FROM {table} WHERE {owner} AND {}",
                d.days(column, first, last)
            )
        };
        Self {
            daily: format!(
                "SELECT {}, MIN(first_at), MAX(last_at) FROM link_daily WHERE {owner} AND {}",
                d.sum("visitors"),
                d.days("day", 8, 9)
            ),
            series: format!(
                "SELECT bucket, {}, {} FROM ({} UNION ALL \
                   SELECT {} AS bucket, redirects, bot_redirects FROM link_day_counts \
                   WHERE {owner} AND {} UNION ALL {}) parts \
                 GROUP BY bucket ORDER BY bucket",
                d.sum("redirects"),
                d.sum("bot_redirects"),
                hourly(2, 3),
                d.start_of_day,
                d.days("day", 4, 5),
                hourly(6, 7),
            ),
            facets: format!(
                "SELECT facet, value, n FROM (SELECT facet, value, {} AS n, \
                   ROW_NUMBER() OVER (PARTITION BY facet ORDER BY SUM(redirects) DESC, value) AS place \
                   FROM ({} UNION ALL {} UNION ALL {}) parts GROUP BY facet, value) ranked \
                 WHERE place <= {TOP_VALUES} ORDER BY facet, n DESC, value",
                d.sum("redirects"),
                facets("link_facets", "day", 10, 11),
                facets("link_month_facets", "month", 12, 13),
                facets("link_facets", "day", 14, 15),
            ),
        }
    }
}

fn hour_text(at: &NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:00:00").to_string()
}

fn day_text(day: &NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// A span's bounds as text; no span binds an empty one (first after last).
fn span_text<T>(span: Span<T>, text: fn(&T) -> String) -> [String; 2] {
    match span {
        Some((first, last)) => [text(&first), text(&last)],
        None => {
            let (first, last) = moment_bounds();
            [day_text(&last.date()), day_text(&first.date())]
        }
    }
}

/// The bound values `$2`..`$15` of a report over `range`.
fn bounds(range: &StatsRange) -> Vec<String> {
    let (earliest, latest) = moment_bounds();
    // The last hour included starts at `to`'s hour.
    let first_hour = range.from.unwrap_or(earliest);
    let last_hour = range.to.unwrap_or(latest);
    let [first_hour, last_hour] = [first_hour, last_hour].map(|at| {
        at.date()
            .and_hms_opt(chrono::Timelike::hour(&at), 0, 0)
            .unwrap_or(at)
    });
    let counts = match range.granularity {
        Granularity::Day => hours_and_days(first_hour, last_hour),
        // An hourly series needs every hour anyway.
        Granularity::Hour if first_hour <= last_hour => Tiers::fine_only(first_hour, last_hour),
        Granularity::Hour => Tiers::none(),
    };
    let days = (first_hour <= last_hour).then(|| (first_hour.date(), last_hour.date()));
    let facets = match days {
        Some((first, last)) => days_and_months(first, last),
        None => Tiers::none(),
    };
    let mut bound = Vec::with_capacity(14);
    bound.extend(span_text(counts.head, hour_text));
    bound.extend(span_text(counts.whole, day_text));
    bound.extend(span_text(counts.tail, hour_text));
    bound.extend(span_text(days, day_text));
    bound.extend(span_text(facets.head, day_text));
    bound.extend(span_text(facets.whole, day_text));
    bound.extend(span_text(facets.tail, day_text));
    bound
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
            "SELECT url_id, {sql} FROM link_day_counts \
             WHERE url_id IN (SELECT id FROM urls WHERE user_id = $1) GROUP BY url_id"
        );
        let rows = super::on_engine!(self, |db| {
            sqlx::query_as(&sql)
                .bind(user_id)
                .fetch_all(&mut *db.acquire_statement().await?)
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
        let bounds = bounds(&range);
        let dialect = match &self.engine {
            Engine::Postgres(_) => &PG,
            Engine::Sqlite(_) => &SQLITE,
        };
        let sql = ReportSql::new(dialect, scope, range.granularity);
        let (daily, series, facets) = super::on_engine!(self, |db| {
            let mut conn = db.acquire_statement().await?;
            macro_rules! query {
                ($sql:expr) => {{
                    let mut query = sqlx::query_as($sql).bind(id);
                    for bound in &bounds {
                        query = query.bind(bound.as_str());
                    }
                    query
                }};
            }
            let daily: (i64, Option<NaiveDateTime>, Option<NaiveDateTime>) =
                query!(&sql.daily).fetch_one(&mut *conn).await?;
            let series: Vec<(NaiveDateTime, i64, i64)> =
                query!(&sql.series).fetch_all(&mut *conn).await?;
            let facets: Vec<FacetRow> = query!(&sql.facets).fetch_all(&mut *conn).await?;
            (daily, series, facets)
        });
        let mut stats = Stats {
            redirects: series.iter().map(|(_, humans, _)| humans).sum(),
            bot_redirects: series.iter().map(|(_, _, bots)| bots).sum(),
            unique_visitors: daily.0,
            first_redirect_at: daily.1,
            last_redirect_at: daily.2,
            series: series
                .into_iter()
                .filter(|(_, redirects, _)| *redirects > 0)
                .map(|(start, redirects, _)| Bucket { start, redirects })
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
