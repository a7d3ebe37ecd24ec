//! Rebuilding the reports' roll-ups from the event log (`kurz
//! rebuild-stats`, and after `kurz import --events`), one transaction.

use super::StoreResult;

/// What `Store::rebuild_rollups` runs, in one transaction, per engine.
const PG_REBUILD: &[&str] = &[
    "LOCK TABLE link_hourly, link_day_counts, link_facets, link_month_facets, link_daily, \
     link_visitors_seen IN EXCLUSIVE MODE",
    "TRUNCATE link_hourly, link_day_counts, link_facets, link_month_facets, link_daily, \
     link_visitors_seen",
    "INSERT INTO link_hourly (url_id, hour, redirects, bot_redirects) \
     SELECT url_id, date_trunc('hour', timestamp), count(*) FILTER (WHERE bot IS NOT TRUE), \
            count(*) FILTER (WHERE bot) \
     FROM events WHERE event_type = 'redirect' AND url_id IS NOT NULL GROUP BY 1, 2",
    "INSERT INTO link_facets (url_id, facet, day, value, redirects) \
     SELECT url_id, f.facet, timestamp::date, f.value, count(*) FROM events \
     CROSS JOIN LATERAL (VALUES ('referrer', COALESCE(referrer_host, 'direct')), \
         ('browser', COALESCE(browser, 'Other')), ('os', COALESCE(os, 'Other')), \
         ('device', COALESCE(device, 'other')), ('country', country)) AS f(facet, value) \
     WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT TRUE AND f.value IS NOT NULL \
     GROUP BY 1, 2, 3, 4",
    "INSERT INTO link_day_counts (url_id, day, redirects, bot_redirects) \
     SELECT url_id, hour::DATE, SUM(redirects), SUM(bot_redirects) FROM link_hourly GROUP BY 1, 2",
    "INSERT INTO link_month_facets (url_id, month, facet, value, redirects) \
     SELECT url_id, date_trunc('month', day)::DATE, facet, value, SUM(redirects) \
     FROM link_facets GROUP BY 1, 2, 3, 4",
    "INSERT INTO link_daily (url_id, day, visitors, first_at, last_at) \
     SELECT url_id, timestamp::date, count(DISTINCT visitor), min(timestamp), max(timestamp) \
     FROM events WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT TRUE GROUP BY 1, 2",
    "INSERT INTO link_visitors_seen (url_id, day, visitor) \
     SELECT DISTINCT url_id, timestamp::date, visitor FROM events \
     WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT TRUE AND visitor IS NOT NULL \
       AND timestamp >= current_date - 1",
    // Fresh tables have no statistics: without them the planner guesses.
    "ANALYZE link_hourly, link_day_counts, link_facets, link_month_facets, link_daily, \
     link_visitors_seen",
];

const SQLITE_REBUILD: &[&str] = &[
    "DELETE FROM link_hourly",
    "DELETE FROM link_day_counts",
    "DELETE FROM link_facets",
    "DELETE FROM link_month_facets",
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
         WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT 1 \
       UNION ALL SELECT url_id, 'country', substr(timestamp, 1, 10), country FROM events \
         WHERE event_type = 'redirect' AND url_id IS NOT NULL AND bot IS NOT 1 AND country IS NOT NULL) \
     GROUP BY 1, 2, 3, 4",
    "INSERT INTO link_day_counts (url_id, day, redirects, bot_redirects) \
     SELECT url_id, substr(hour, 1, 10), SUM(redirects), SUM(bot_redirects) FROM link_hourly \
     GROUP BY 1, 2",
    "INSERT INTO link_month_facets (url_id, month, facet, value, redirects) \
     SELECT url_id, substr(day, 1, 7) || '-01', facet, value, SUM(redirects) FROM link_facets \
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
        // The rebuilt table is the truth now.
        self.seen_visitors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(())
    }
}
