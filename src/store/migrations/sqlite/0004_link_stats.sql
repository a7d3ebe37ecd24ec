-- What a redirect's report needs, and the roll-ups the event writer keeps
-- (see the PostgreSQL migration of the same name). Hours and days are
-- text: 'YYYY-MM-DD HH:00:00' and 'YYYY-MM-DD'.
ALTER TABLE events ADD COLUMN visitor INTEGER;
ALTER TABLE events ADD COLUMN referrer_host TEXT;
ALTER TABLE events ADD COLUMN browser TEXT;
ALTER TABLE events ADD COLUMN os TEXT;
ALTER TABLE events ADD COLUMN device TEXT;
ALTER TABLE events ADD COLUMN bot BOOLEAN;
ALTER TABLE events ADD COLUMN country TEXT;

CREATE TABLE link_hourly (
    url_id INTEGER NOT NULL,
    hour TEXT NOT NULL,
    redirects INTEGER NOT NULL,
    bot_redirects INTEGER NOT NULL,
    PRIMARY KEY (url_id, hour)
) WITHOUT ROWID;

CREATE TABLE link_facets (
    url_id INTEGER NOT NULL,
    facet TEXT NOT NULL,
    day TEXT NOT NULL,
    value TEXT NOT NULL,
    redirects INTEGER NOT NULL,
    PRIMARY KEY (url_id, facet, day, value)
) WITHOUT ROWID;

CREATE TABLE link_daily (
    url_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    visitors INTEGER NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (url_id, day)
) WITHOUT ROWID;

CREATE TABLE link_visitors_seen (
    url_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    visitor INTEGER NOT NULL,
    PRIMARY KEY (url_id, day, visitor)
) WITHOUT ROWID;
