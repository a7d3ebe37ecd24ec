-- Links that stop answering at a moment or after a number of redirects.
-- `redirect_count` counts only the redirects of links with a budget (the
-- others are never counted here: that would make every redirect a write).
-- Adding nullable columns and a constant default rewrites no rows.
ALTER TABLE urls
    ADD COLUMN expires_at TIMESTAMP,
    ADD COLUMN max_redirects BIGINT CHECK (max_redirects > 0),
    ADD COLUMN redirect_count BIGINT NOT NULL DEFAULT 0;
