-- Every index of a rowid table ends in the rowid, so an index on
-- `(url_id)` is already ordered by `(url_id, id)` when `id` is the
-- INTEGER PRIMARY KEY, and SQLite walks it for `url_id = ? AND id > ?
-- ORDER BY url_id, id` with no sort (`EXPLAIN QUERY PLAN`: `USING INDEX
-- events_url_id_idx (url_id=? AND rowid>?)`). Naming `id` in the index
-- stored it twice in every entry: the event log's two indexes were a
-- quarter larger than they need to be, and every redirect the single
-- writer stores adds an entry to each (docs/decisions.md, "Indexes end in
-- the rowid on SQLite"). Same order, same plans, smaller entries.
DROP INDEX events_url_id_idx;
CREATE INDEX events_url_id_idx ON events (url_id);
DROP INDEX events_user_id_idx;
CREATE INDEX events_user_id_idx ON events (user_id);
DROP INDEX events_event_type_idx;
CREATE INDEX events_event_type_idx ON events (event_type) WHERE event_type <> 'redirect';
DROP INDEX urls_user_id_idx;
CREATE INDEX urls_user_id_idx ON urls (user_id);
DROP INDEX urls_is_active_idx;
CREATE INDEX urls_is_active_idx ON urls (is_active);
DROP INDEX api_keys_user_id_idx;
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
