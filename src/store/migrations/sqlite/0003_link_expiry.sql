-- Links that stop answering at a moment or after a number of redirects
-- (see the PostgreSQL migration of the same name).
ALTER TABLE urls ADD COLUMN expires_at TEXT;
ALTER TABLE urls ADD COLUMN max_redirects INTEGER CHECK (max_redirects > 0);
ALTER TABLE urls ADD COLUMN redirect_count INTEGER NOT NULL DEFAULT 0;
