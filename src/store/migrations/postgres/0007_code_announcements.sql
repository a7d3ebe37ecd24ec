-- Every statement that stores codes announces them when its transaction
-- commits, so replicas keep their filter of stored codes complete
-- (src/store/code_watch.rs). A statement that stored many sends '*':
-- listeners rebuild from the table instead.
CREATE FUNCTION announce_short_codes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stored BIGINT;
    payload TEXT;
BEGIN
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

CREATE TRIGGER short_codes_announced
    AFTER INSERT ON short_codes
    REFERENCING NEW TABLE AS new_codes
    FOR EACH STATEMENT EXECUTE FUNCTION announce_short_codes();
