-- Codes in the order they were stored, so that every process serving this
-- file can keep its filter of stored codes complete
-- (src/store/code_watch.rs). Rows older than an hour are pruned.
CREATE TABLE code_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    logged_at INTEGER NOT NULL
);

CREATE TRIGGER short_codes_logged AFTER INSERT ON short_codes
BEGIN
    INSERT INTO code_log (code, logged_at)
    VALUES (NEW.code, CAST(strftime('%s', 'now') AS INTEGER));
END;
