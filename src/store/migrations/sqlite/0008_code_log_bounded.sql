-- The code log keeps at most its newest 100,000 rows, whatever runs: the
-- hourly pruning of src/store/code_watch.rs only happens in a process that
-- keeps a filter of stored codes, and one with the filter off, with Redis,
-- or only the command line would otherwise let the log grow by a row per
-- link for good. A watch more than 100,000 codes behind finds its place
-- pruned and rebuilds its filter, as it does after the hourly pruning.
DROP TRIGGER short_codes_logged;

CREATE TRIGGER short_codes_logged AFTER INSERT ON short_codes
BEGIN
    INSERT INTO code_log (code, logged_at)
    VALUES (NEW.code, CAST(strftime('%s', 'now') AS INTEGER));
    DELETE FROM code_log WHERE seq <= last_insert_rowid() - 100000;
END;
