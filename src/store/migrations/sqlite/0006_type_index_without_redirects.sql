-- Redirects leave the event-type index, as on PostgreSQL (0003 there):
-- nearly every event is a redirect, so their entries made the index as
-- large as the log and cost the single writer one more B-tree insert per
-- redirect, while a list of redirects walks the log by id anyway. A list
-- filtered to another type says `event_type <> 'redirect'` (store/events.rs),
-- which lets SQLite pick this partial index.
DROP INDEX events_event_type_idx;
CREATE INDEX events_event_type_idx ON events (event_type, id) WHERE event_type <> 'redirect';
