-- kurz schema for SQLite; the same tables as the PostgreSQL schema (see the
-- comments there). Applied migrations are never edited.

-- AUTOINCREMENT: ids are never reused after a delete, and an explicit id
-- moves the sequence past itself.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    username_shared BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email_key);
CREATE UNIQUE INDEX users_username_key ON users (username) WHERE NOT username_shared;

CREATE TABLE short_codes (
    code TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE urls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id),
    short_code TEXT NOT NULL UNIQUE REFERENCES short_codes (code),
    original_url TEXT NOT NULL,
    title TEXT,
    is_active BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX urls_user_id_idx ON urls (user_id, id);
CREATE INDEX urls_is_active_idx ON urls (is_active, id);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url_id INTEGER,
    user_id INTEGER,
    event_type TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_url_id_idx ON events (url_id, id);
CREATE INDEX events_user_id_idx ON events (user_id, id);
CREATE INDEX events_event_type_idx ON events (event_type, id);
