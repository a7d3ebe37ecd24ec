-- Coarser roll-ups for long report ranges, and the daily breakdowns keyed
-- day first (see the PostgreSQL migration of the same name). Months are
-- named by their first day, 'YYYY-MM-01'.

CREATE TABLE link_day_counts (
    url_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    redirects INTEGER NOT NULL,
    bot_redirects INTEGER NOT NULL,
    PRIMARY KEY (url_id, day)
) WITHOUT ROWID;

CREATE TABLE link_month_facets (
    url_id INTEGER NOT NULL,
    month TEXT NOT NULL,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    redirects INTEGER NOT NULL,
    PRIMARY KEY (url_id, month, facet, value)
) WITHOUT ROWID;

CREATE TABLE link_facets_by_day (
    url_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    redirects INTEGER NOT NULL,
    PRIMARY KEY (url_id, day, facet, value)
) WITHOUT ROWID;
INSERT INTO link_facets_by_day (url_id, day, facet, value, redirects)
SELECT url_id, day, facet, value, redirects FROM link_facets;
DROP TABLE link_facets;
ALTER TABLE link_facets_by_day RENAME TO link_facets;

INSERT INTO link_day_counts (url_id, day, redirects, bot_redirects)
SELECT url_id, substr(hour, 1, 10), SUM(redirects), SUM(bot_redirects)
FROM link_hourly GROUP BY 1, 2;

INSERT INTO link_month_facets (url_id, month, facet, value, redirects)
SELECT url_id, substr(day, 1, 7) || '-01', facet, value, SUM(redirects)
FROM link_facets GROUP BY 1, 2, 3, 4;
