-- A transaction that sends NOTIFY holds a lock every other notifying
-- transaction waits for, from its commit's start until after its WAL
-- flush: with the announcement inside, link creations committed one
-- fsync at a time (docs/performance.md, "A new link in one statement, its
-- code announced around it"). kurz now announces a code in short
-- transactions of its own, before the insert and after its commit, and
-- marks the inserting statement with `kurz.codes_announced`; the trigger
-- stays for every other writer (imports, other tools).
CREATE OR REPLACE FUNCTION announce_short_codes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stored BIGINT;
    payload TEXT;
BEGIN
    IF current_setting('kurz.codes_announced', true) = 'on' THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO stored FROM new_codes;
    IF stored = 0 THEN
        RETURN NULL;
    END IF;
    IF stored <= 100 THEN
        SELECT string_agg(code, ' ') INTO payload FROM new_codes;
    END IF;
    IF payload IS NULL OR octet_length(payload) > 7000 THEN
        payload := '*';
    END IF;
    PERFORM pg_notify('kurz_codes', payload);
    RETURN NULL;
END
$$;
