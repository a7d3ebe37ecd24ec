-- Coarser roll-ups so a report over a long range reads whole days and
-- months instead of every hour and day (see store/report_tiers.rs), and
-- the daily breakdowns keyed day first so a range of days is one index
-- range. Filled from the finer roll-ups already kept.

CREATE TABLE link_day_counts (
    url_id BIGINT NOT NULL,
    day DATE NOT NULL,
    redirects BIGINT NOT NULL,
    bot_redirects BIGINT NOT NULL,
    PRIMARY KEY (url_id, day)
) WITH (fillfactor = 70);

CREATE TABLE link_month_facets (
    url_id BIGINT NOT NULL,
    month DATE NOT NULL,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    redirects BIGINT NOT NULL,
    PRIMARY KEY (url_id, month, facet, value)
) WITH (fillfactor = 70);

ALTER TABLE link_facets
    DROP CONSTRAINT link_facets_pkey,
    ADD PRIMARY KEY (url_id, day, facet, value);

INSERT INTO link_day_counts (url_id, day, redirects, bot_redirects)
SELECT url_id, hour::DATE, SUM(redirects), SUM(bot_redirects)
FROM link_hourly GROUP BY 1, 2;

INSERT INTO link_month_facets (url_id, month, facet, value, redirects)
SELECT url_id, date_trunc('month', day)::DATE, facet, value, SUM(redirects)
FROM link_facets GROUP BY 1, 2, 3, 4;
