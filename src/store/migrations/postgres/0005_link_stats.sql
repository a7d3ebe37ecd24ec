-- What a redirect's report needs, on its event (never the raw address),
-- and the roll-ups the event writer keeps so a link's report reads a few
-- hundred rows however many redirects it had. Nullable columns: adding
-- them rewrites no partition.
ALTER TABLE events
    ADD COLUMN visitor BIGINT,
    ADD COLUMN referrer_host TEXT,
    ADD COLUMN browser TEXT,
    ADD COLUMN os TEXT,
    ADD COLUMN device TEXT,
    ADD COLUMN bot BOOLEAN,
    ADD COLUMN country TEXT;

-- The roll-ups are updated in place batch after batch: pages keep 30%
-- free so an update stays on its page (HOT) and adds no index entry.

-- Redirects per link and hour; bots apart.
CREATE TABLE link_hourly (
    url_id BIGINT NOT NULL,
    hour TIMESTAMP NOT NULL,
    redirects BIGINT NOT NULL,
    bot_redirects BIGINT NOT NULL,
    PRIMARY KEY (url_id, hour)
) WITH (fillfactor = 70);

-- Human redirects per link, day and value of one facet (referrer,
-- browser, os, device, and country when known).
CREATE TABLE link_facets (
    url_id BIGINT NOT NULL,
    facet TEXT NOT NULL,
    day DATE NOT NULL,
    value TEXT NOT NULL,
    redirects BIGINT NOT NULL,
    PRIMARY KEY (url_id, facet, day, value)
) WITH (fillfactor = 70);

-- Per link and day: distinct visitors, and the first and last human redirect.
CREATE TABLE link_daily (
    url_id BIGINT NOT NULL,
    day DATE NOT NULL,
    visitors BIGINT NOT NULL,
    first_at TIMESTAMP NOT NULL,
    last_at TIMESTAMP NOT NULL,
    PRIMARY KEY (url_id, day)
) WITH (fillfactor = 70);

-- The visitors already counted today (and yesterday, for late batches);
-- older days are deleted: their salt is gone, so they can never recur.
CREATE TABLE link_visitors_seen (
    url_id BIGINT NOT NULL,
    day DATE NOT NULL,
    visitor BIGINT NOT NULL,
    PRIMARY KEY (url_id, day, visitor)
);
