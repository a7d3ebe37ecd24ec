-- The event log, partitioned by month of its timestamp, so that old events
-- leave by dropping a partition (KURZ_EVENT_RETENTION_DAYS) instead of a
-- long DELETE, and a redirect's insert touches this month's indexes only.
--
-- Partitions:
--   events_before_YYYY_MM  everything logged before this migration ran
--                          (the old table, attached in place, not copied;
--                          a new database has none);
--   events_YYYY_MM         one per calendar month, created ahead of time by
--                          the store's partition upkeep (store/partitions.rs);
--   events_default         timestamps no month partition covers yet (an
--                          import of old events, a client event dated in the
--                          future); the upkeep moves them into their month.
--
-- A partitioned table's primary key must hold the partition key, so it is
-- (id, timestamp); ids still come from one sequence, and the writers that
-- accept explicit ids (imports) check the id alone before inserting.

ALTER TABLE events RENAME TO events_legacy;
-- Replaced by the partitioned table's key (id, timestamp) on attach.
ALTER TABLE events_legacy DROP CONSTRAINT events_pkey;
ALTER INDEX events_url_id_idx RENAME TO events_legacy_url_id_idx;
ALTER INDEX events_user_id_idx RENAME TO events_legacy_user_id_idx;
DROP INDEX events_event_type_idx;
ALTER TABLE events_legacy ALTER COLUMN id DROP IDENTITY IF EXISTS;

CREATE SEQUENCE events_id_seq AS BIGINT;

CREATE TABLE events (
    id BIGINT NOT NULL DEFAULT nextval('events_id_seq'),
    url_id BIGINT,
    user_id BIGINT,
    event_type TEXT NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    details JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (id, timestamp)
) PARTITION BY RANGE (timestamp);
ALTER SEQUENCE events_id_seq OWNED BY events.id;

-- One index per filter GET /events offers, each ending in id for ordering.
-- Redirects, nearly every row, stay out of the type index: a filter on them
-- walks the primary key in id order, and every other type gets a small index
-- (the store adds `event_type <> 'redirect'` to those queries so the planner
-- may use it). One index insert less per redirect.
CREATE INDEX events_url_id_idx ON events (url_id, id);
CREATE INDEX events_user_id_idx ON events (user_id, id);
CREATE INDEX events_event_type_idx ON events (event_type, id) WHERE event_type <> 'redirect';

CREATE TABLE events_default PARTITION OF events DEFAULT;

DO $migration$
DECLARE
    next_month TIMESTAMP := date_trunc('month', now() AT TIME ZONE 'UTC') + INTERVAL '1 month';
    legacy_name TEXT := 'events_before_' || to_char(next_month, 'YYYY_MM');
BEGIN
    PERFORM setval('events_id_seq', coalesce((SELECT max(id) FROM events_legacy), 0) + 1, false);
    -- A new database has nothing to keep: months only.
    IF NOT EXISTS (SELECT 1 FROM events_legacy) THEN
        DROP TABLE events_legacy;
        RETURN;
    END IF;
    -- Rows dated after the legacy range move to the default partition.
    WITH moved AS (
        DELETE FROM events_legacy WHERE timestamp >= next_month RETURNING *
    )
    INSERT INTO events_default SELECT * FROM moved;
    -- The constraint lets ATTACH skip its own validation scan.
    EXECUTE format('ALTER TABLE events_legacy ADD CONSTRAINT events_legacy_range CHECK (timestamp < %L)', next_month);
    EXECUTE format('ALTER TABLE events_legacy RENAME TO %I', legacy_name);
    EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)', legacy_name, next_month);
END
$migration$;
