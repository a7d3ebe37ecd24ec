//! The SQL both engines run, written once.
//!
//! `impl_sql_store!` expands the three store traits for a concrete sqlx
//! driver. The statements are portable between PostgreSQL and SQLite
//! (`$N` placeholders, `RETURNING`, `ON CONFLICT DO NOTHING`); the few real
//! differences come in as the engine's `LOCK_ROW` suffix, its `reader()` and
//! `writer()` pools and its `Store::sync_id_sequences`. A macro rather than
//! generic code keeps every type concrete, so the futures stay `Send` without
//! a wall of higher-ranked bounds (see docs/decisions.md).

pub(crate) const USER_COLUMNS: &str = "id, username, email, created_at";
pub(crate) const URL_COLUMNS: &str =
    "id, user_id, short_code, original_url, title, is_active, created_at, updated_at";
pub(crate) const EVENT_COLUMNS: &str = "id, url_id, user_id, event_type, timestamp, details";

/// Rows per multi-row INSERT: 6 binds a row stays far under both engines'
/// parameter limits (SQLite 32766, PostgreSQL 65535).
pub(crate) const INSERT_CHUNK: usize = 1000;
/// Rows per import transaction.
pub(crate) const IMPORT_CHUNK: usize = 500;
/// Attempts at a fresh random code before giving up (62^6 codes: a second
/// attempt is already rare).
pub(crate) const CODE_ATTEMPTS: usize = 16;

/// Awaits a connection (or a transaction's first round trip) and records
/// the wait in `kurz_db_pool_acquire_seconds{pool}`.
pub(crate) async fn timed_acquire<T>(
    pool: &'static str,
    acquire: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> super::StoreResult<T> {
    let started = std::time::Instant::now();
    let acquired = acquire.await?;
    metrics::histogram!("kurz_db_pool_acquire_seconds", "pool" => pool)
        .record(started.elapsed().as_secs_f64());
    Ok(acquired)
}

/// A batch of redirect events as one JSON array of
/// `[url_id, user_id, "YYYY-MM-DD HH:MM:SS", details]`, bound as a single
/// parameter: the insert statement never changes (so it stays prepared) and
/// the database's own JSON reader unpacks the rows.
pub(crate) fn redirect_batch_json(batch: &[crate::domain::RedirectEvent]) -> String {
    struct Stamp(chrono::NaiveDateTime);
    impl serde::Serialize for Stamp {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&self.0.format("%Y-%m-%d %H:%M:%S"))
        }
    }
    let rows: Vec<_> = batch
        .iter()
        .map(|e| (e.url_id, e.user_id, Stamp(e.timestamp), e.details()))
        .collect();
    // Serialising plain numbers, strings and a derived struct cannot fail.
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned())
}

/// Appends the conflict clause and the returned user columns to an INSERT.
macro_rules! user_insert_sql {
    ($insert:literal) => {
        concat!(
            $insert,
            " ON CONFLICT DO NOTHING RETURNING id, username, email, created_at"
        )
    };
}

macro_rules! impl_sql_store {
    ($store:ty, $db:ty, $conn:ty) => {
        use futures_util::TryStreamExt as _;
        use serde_json::json;
        use $crate::domain::{
            now_utc, Event, EventType, Link, NewEvent, NewShortUrl, NewUser, RedirectEvent, ShortCode, ShortUrl,
            UrlPatch, User, UserPatch,
        };
        use $crate::store::sql::{
            CODE_ATTEMPTS, EVENT_COLUMNS, IMPORT_CHUNK, INSERT_CHUNK, URL_COLUMNS, USER_COLUMNS,
        };
        use $crate::store::{
            ConflictField, EventFilter, ImportOutcome, ImportedEvent, ImportedUrl, Page,
            RowStream, Store as _, StoreError, StoreResult, UrlChange, UrlFilter,
        };

        impl $store {
            /// Opens a write transaction, timing the wait for a connection.
            async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, $db>> {
                $crate::store::sql::timed_acquire("write", self.writer().begin()).await
            }

            /// A connection for a single write, timing the wait for it.
            async fn acquire_write(&self) -> StoreResult<sqlx::pool::PoolConnection<$db>> {
                $crate::store::sql::timed_acquire("write", self.writer().acquire()).await
            }

            /// A connection for reads, timing the wait for it.
            async fn acquire_read(&self) -> StoreResult<sqlx::pool::PoolConnection<$db>> {
                $crate::store::sql::timed_acquire("read", self.reader().acquire()).await
            }
        }

        /// Appends events with multi-row INSERTs on an open connection.
        async fn insert_events(conn: &mut $conn, events: &[NewEvent]) -> StoreResult<()> {
            for chunk in events.chunks(INSERT_CHUNK) {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO events (url_id, user_id, event_type, timestamp, details) ",
                );
                qb.push_values(chunk, |mut row, e| {
                    row.push_bind(e.url_id)
                        .push_bind(e.user_id)
                        .push_bind(e.event_type.as_str())
                        .push_bind(e.timestamp)
                        .push_bind(sqlx::types::Json(&e.details));
                });
                qb.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        fn system_event(
            url_id: i64,
            user_id: i64,
            kind: &'static str,
            details: serde_json::Value,
        ) -> NewEvent {
            let details = match details {
                serde_json::Value::Object(map) => map,
                _ => serde_json::Map::new(),
            };
            NewEvent {
                url_id: Some(url_id),
                user_id: Some(user_id),
                event_type: EventType::system(kind),
                timestamp: now_utc(),
                details,
            }
        }

        async fn exists(conn: &mut $conn, table: &'static str, id: i64) -> StoreResult<bool> {
            let sql = match table {
                "users" => "SELECT 1 FROM users WHERE id = $1",
                "urls" => "SELECT 1 FROM urls WHERE id = $1",
                _ => "SELECT 1 FROM events WHERE id = $1",
            };
            let found: Option<i32> = sqlx::query_scalar(sql).bind(id).fetch_optional(conn).await?;
            Ok(found.is_some())
        }

        /// Claims a code for good; false when it was ever handed out before.
        async fn register_code(conn: &mut $conn, code: &ShortCode) -> StoreResult<bool> {
            let done = sqlx::query("INSERT INTO short_codes (code) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(code.as_str())
                .execute(conn)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        /// Inserts an imported user, keeping its id when it has one; `None`
        /// when any unique rule (id, email, username unless `shared`) is hit.
        async fn insert_user(conn: &mut $conn, new: &NewUser, shared: bool) -> StoreResult<Option<User>> {
            let query = match new.id {
                Some(id) => sqlx::query_as::<$db, User>($crate::store::sql::user_insert_sql!(
                    "INSERT INTO users (id, username, email, email_key, username_shared, created_at) \
                     VALUES ($6, $1, $2, $3, $4, $5)"
                ))
                .bind(new.username.as_str())
                .bind(new.email.as_str())
                .bind(new.email.key())
                .bind(shared)
                .bind(new.created_at)
                .bind(id),
                None => sqlx::query_as::<$db, User>($crate::store::sql::user_insert_sql!(
                    "INSERT INTO users (username, email, email_key, username_shared, created_at) \
                     VALUES ($1, $2, $3, $4, $5)"
                ))
                .bind(new.username.as_str())
                .bind(new.email.as_str())
                .bind(new.email.key())
                .bind(shared)
                .bind(new.created_at),
            };
            Ok(query.fetch_optional(conn).await?)
        }

        #[async_trait::async_trait]
        impl $crate::store::UserStore for $store {
            #[tracing::instrument(name = "store.create_user", level = "debug", skip_all)]
            async fn create_user(&self, new: &NewUser) -> StoreResult<User> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                // An id conflict can only come from an import that has not yet
                // moved the sequence; the next value is free.
                let mut attempts = 0;
                loop {
                    let mut conn = self.acquire_write().await?;
                    let sql = format!(
                        "INSERT INTO users (username, email, email_key, username_shared, created_at) \
                         VALUES ($1, $2, $3, FALSE, $4) RETURNING {USER_COLUMNS}"
                    );
                    let result = sqlx::query_as::<$db, User>(&sql)
                        .bind(new.username.as_str())
                        .bind(new.email.as_str())
                        .bind(new.email.key())
                        .bind(new.created_at)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(StoreError::from);
                    match result {
                        Err(StoreError::Conflict(ConflictField::Id)) if attempts < 3 => attempts += 1,
                        other => return other,
                    }
                }
            }

            #[tracing::instrument(name = "store.get_user", level = "debug", skip_all)]
            async fn get_user(&self, id: i64) -> StoreResult<User> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                sqlx::query_as::<$db, User>(&sql)
                    .bind(id)
                    .fetch_optional(&mut *self.acquire_read().await?)
                    .await?
                    .ok_or(StoreError::NotFound("user"))
            }

            fn list_users(&self, page: Page) -> RowStream<User> {
                let pool = self.reader().clone();
                Box::pin(async_stream::try_stream! {
                    let (limit, offset, after) = page.bounds();
                    let sql = format!(
                        "SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2 OFFSET $3"
                    );
                    let mut rows = sqlx::query_as::<$db, User>(&sql)
                        .bind(after)
                        .bind(limit)
                        .bind(offset)
                        .fetch(&pool);
                    while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                        yield row;
                    }
                })
            }

            #[tracing::instrument(name = "store.update_user", level = "debug", skip_all)]
            async fn update_user(&self, id: i64, patch: &UserPatch) -> StoreResult<User> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let mut tx = self.begin_write().await?;
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1{}", Self::LOCK_ROW);
                let current = sqlx::query_as::<$db, User>(&sql)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound("user"))?;
                let username_changed = patch
                    .username
                    .as_ref()
                    .is_some_and(|u| u.as_str() != current.username);
                let email_changed = patch.email.as_ref().is_some_and(|e| e.as_str() != current.email);
                if !username_changed && !email_changed {
                    return Ok(current);
                }
                let username = patch.username.as_ref().map_or(current.username.as_str(), |u| u.as_str());
                let (email, email_key) = match &patch.email {
                    Some(e) => (e.as_str().to_owned(), e.key()),
                    None => (current.email.clone(), current.email.to_lowercase()),
                };
                let sql = format!(
                    "UPDATE users SET username = $1, email = $2, email_key = $3, \
                     username_shared = (username_shared AND NOT $4) WHERE id = $5 RETURNING {USER_COLUMNS}"
                );
                let updated = sqlx::query_as::<$db, User>(&sql)
                    .bind(username)
                    .bind(email)
                    .bind(email_key)
                    .bind(username_changed)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(updated)
            }

            #[tracing::instrument(name = "store.delete_user", level = "debug", skip_all)]
            async fn delete_user(&self, id: i64) -> StoreResult<Vec<String>> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let mut tx = self.begin_write().await?;
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1{}", Self::LOCK_ROW);
                sqlx::query_as::<$db, User>(&sql)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound("user"))?;
                let removed: Vec<(i64, String)> =
                    sqlx::query_as("DELETE FROM urls WHERE user_id = $1 RETURNING id, short_code")
                        .bind(id)
                        .fetch_all(&mut *tx)
                        .await?;
                let events: Vec<NewEvent> = removed
                    .iter()
                    .map(|(url_id, _)| {
                        system_event(*url_id, id, EventType::DELETED, json!({"reason": "user_deleted"}))
                    })
                    .collect();
                insert_events(&mut tx, &events).await?;
                sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(removed.into_iter().map(|(_, code)| code).collect())
            }

            #[tracing::instrument(name = "store.import_users", level = "debug", skip_all)]
            async fn import_users(&self, rows: &[NewUser]) -> StoreResult<Vec<ImportOutcome>> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let mut outcomes = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(IMPORT_CHUNK) {
                    let mut tx = self.begin_write().await?;
                    for row in chunk {
                        outcomes.push(import_user(&mut tx, row).await?);
                    }
                    tx.commit().await?;
                }
                self.sync_id_sequences().await?;
                Ok(outcomes)
            }
        }

        /// One import row: ON CONFLICT DO NOTHING never aborts the
        /// transaction, and a miss is then explained by looking.
        async fn import_user(conn: &mut $conn, row: &NewUser) -> StoreResult<ImportOutcome> {
            if insert_user(conn, row, false).await?.is_some() {
                return Ok(ImportOutcome::Inserted);
            }
            if let Some(id) = row.id {
                if exists(conn, "users", id).await? {
                    return Ok(ImportOutcome::AlreadyPresent);
                }
            }
            let email_taken: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE email_key = $1")
                .bind(row.email.key())
                .fetch_optional(&mut *conn)
                .await?;
            if email_taken.is_some() {
                return Ok(ImportOutcome::Rejected("email already taken"));
            }
            // Only the username is left: seed data may repeat one.
            if insert_user(conn, row, true).await?.is_some() {
                Ok(ImportOutcome::Inserted)
            } else {
                Ok(ImportOutcome::Rejected("conflicts with an existing user"))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::UrlStore for $store {
            #[tracing::instrument(name = "store.create_url", level = "debug", skip_all)]
            async fn create_url(&self, new: &NewShortUrl) -> StoreResult<ShortUrl> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let mut tx = self.begin_write().await?;
                if !exists(&mut tx, "users", new.user_id).await? {
                    return Err(StoreError::NotFound("user"));
                }
                let code = match &new.alias {
                    Some(alias) => {
                        if !register_code(&mut tx, alias).await? {
                            return Err(StoreError::Conflict(ConflictField::ShortCode));
                        }
                        alias.clone()
                    }
                    None => {
                        let mut claimed = None;
                        for _ in 0..CODE_ATTEMPTS {
                            let candidate = ShortCode::generate();
                            if register_code(&mut tx, &candidate).await? {
                                claimed = Some(candidate);
                                break;
                            }
                        }
                        claimed.ok_or(StoreError::Conflict(ConflictField::ShortCode))?
                    }
                };
                let now = now_utc();
                let sql = format!(
                    "INSERT INTO urls (user_id, short_code, original_url, title, is_active, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {URL_COLUMNS}"
                );
                let url = sqlx::query_as::<$db, ShortUrl>(&sql)
                    .bind(new.user_id)
                    .bind(code.as_str())
                    .bind(new.target.as_str())
                    .bind(new.title.as_ref().map(|t| t.as_str()))
                    .bind(true)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                let created = system_event(
                    url.id,
                    url.user_id,
                    EventType::CREATED,
                    json!({"short_code": url.short_code, "original_url": url.original_url}),
                );
                insert_events(&mut tx, std::slice::from_ref(&created)).await?;
                tx.commit().await?;
                Ok(url)
            }

            #[tracing::instrument(name = "store.get_url", level = "debug", skip_all)]
            async fn get_url(&self, id: i64) -> StoreResult<ShortUrl> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let sql = format!("SELECT {URL_COLUMNS} FROM urls WHERE id = $1");
                sqlx::query_as::<$db, ShortUrl>(&sql)
                    .bind(id)
                    .fetch_optional(&mut *self.acquire_read().await?)
                    .await?
                    .ok_or(StoreError::NotFound("url"))
            }

            fn list_urls(&self, filter: UrlFilter, page: Page) -> RowStream<ShortUrl> {
                let pool = self.reader().clone();
                Box::pin(async_stream::try_stream! {
                    let (limit, offset, after) = page.bounds();
                    let mut qb = sqlx::QueryBuilder::<$db>::new(format!("SELECT {URL_COLUMNS} FROM urls WHERE id > "));
                    qb.push_bind(after);
                    if let Some(user_id) = filter.user_id {
                        qb.push(" AND user_id = ").push_bind(user_id);
                    }
                    if let Some(active) = filter.is_active {
                        qb.push(" AND is_active = ").push_bind(active);
                    }
                    qb.push(" ORDER BY id LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
                    let mut rows = qb.build_query_as::<ShortUrl>().fetch(&pool);
                    while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                        yield row;
                    }
                })
            }

            #[tracing::instrument(name = "store.update_url", level = "debug", skip_all)]
            async fn update_url(&self, id: i64, patch: &UrlPatch) -> StoreResult<UrlChange> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let mut tx = self.begin_write().await?;
                let sql = format!("SELECT {URL_COLUMNS} FROM urls WHERE id = $1{}", Self::LOCK_ROW);
                let current = sqlx::query_as::<$db, ShortUrl>(&sql)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound("url"))?;
                let mut next = current.clone();
                let mut changes: Vec<(&'static str, serde_json::Value)> = Vec::new();
                if let Some(title) = &patch.title {
                    let title = title.as_ref().map(|t| t.as_str().to_owned());
                    if title != current.title {
                        changes.push(("title", json!(title)));
                        next.title = title;
                    }
                }
                if let Some(active) = patch.is_active {
                    if active != current.is_active {
                        changes.push(("is_active", json!(active)));
                        next.is_active = active;
                    }
                }
                if let Some(target) = &patch.target {
                    if target.as_str() != current.original_url {
                        changes.push(("original_url", json!(target.as_str())));
                        next.original_url = target.as_str().to_owned();
                    }
                }
                let short_code = current.short_code.clone();
                if changes.is_empty() {
                    return Ok(UrlChange { url: current, changed: false, short_code });
                }
                let sql = format!(
                    "UPDATE urls SET title = $1, is_active = $2, original_url = $3, updated_at = $4 \
                     WHERE id = $5 RETURNING {URL_COLUMNS}"
                );
                let url = sqlx::query_as::<$db, ShortUrl>(&sql)
                    .bind(&next.title)
                    .bind(next.is_active)
                    .bind(&next.original_url)
                    .bind(now_utc())
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                let events: Vec<NewEvent> = changes
                    .into_iter()
                    .map(|(field, value)| {
                        system_event(url.id, url.user_id, EventType::UPDATED, json!({"field": field, "new_value": value}))
                    })
                    .collect();
                insert_events(&mut tx, &events).await?;
                tx.commit().await?;
                Ok(UrlChange { url, changed: true, short_code })
            }

            #[tracing::instrument(name = "store.delete_url", level = "debug", skip_all)]
            async fn delete_url(&self, id: i64) -> StoreResult<ShortUrl> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let mut tx = self.begin_write().await?;
                let sql = format!("DELETE FROM urls WHERE id = $1 RETURNING {URL_COLUMNS}");
                let url = sqlx::query_as::<$db, ShortUrl>(&sql)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound("url"))?;
                let deleted = system_event(url.id, url.user_id, EventType::DELETED, json!({"reason": "user_requested"}));
                insert_events(&mut tx, std::slice::from_ref(&deleted)).await?;
                tx.commit().await?;
                Ok(url)
            }

            #[tracing::instrument(name = "store.find_link", level = "debug", skip_all)]
            async fn find_link(&self, code: &ShortCode) -> StoreResult<Option<Link>> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                Ok(sqlx::query_as::<$db, Link>(
                    "SELECT id AS url_id, user_id, original_url, is_active FROM urls WHERE short_code = $1",
                )
                .bind(code.as_str())
                .fetch_optional(&mut *self.acquire_read().await?)
                .await?)
            }

            #[tracing::instrument(name = "store.import_urls", level = "debug", skip_all)]
            async fn import_urls(&self, rows: &[ImportedUrl]) -> StoreResult<Vec<ImportOutcome>> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let mut outcomes = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(IMPORT_CHUNK) {
                    let mut tx = self.begin_write().await?;
                    for row in chunk {
                        outcomes.push(import_url(&mut tx, row).await?);
                    }
                    tx.commit().await?;
                }
                self.sync_id_sequences().await?;
                Ok(outcomes)
            }
        }

        async fn import_url(conn: &mut $conn, row: &ImportedUrl) -> StoreResult<ImportOutcome> {
            if exists(conn, "urls", row.id).await? {
                return Ok(ImportOutcome::AlreadyPresent);
            }
            if !exists(conn, "users", row.user_id).await? {
                return Ok(ImportOutcome::Rejected("user_id does not exist"));
            }
            if !register_code(conn, &row.short_code).await? {
                return Ok(ImportOutcome::Rejected("short_code already taken"));
            }
            let done = sqlx::query(
                "INSERT INTO urls (id, user_id, short_code, original_url, title, is_active, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(row.id)
            .bind(row.user_id)
            .bind(row.short_code.as_str())
            .bind(row.target.as_str())
            .bind(&row.title)
            .bind(row.is_active)
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute(conn)
            .await?;
            Ok(if done.rows_affected() == 1 {
                ImportOutcome::Inserted
            } else {
                ImportOutcome::Rejected("conflicts with an existing url")
            })
        }

        #[async_trait::async_trait]
        impl $crate::store::EventStore for $store {
            #[tracing::instrument(name = "store.create_event", level = "debug", skip_all)]
            async fn create_event(&self, new: &NewEvent) -> StoreResult<Event> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let mut conn = self.acquire_write().await?;
                if let Some(url_id) = new.url_id {
                    if !exists(&mut conn, "urls", url_id).await? {
                        return Err(StoreError::NotFound("url"));
                    }
                }
                if let Some(user_id) = new.user_id {
                    if !exists(&mut conn, "users", user_id).await? {
                        return Err(StoreError::NotFound("user"));
                    }
                }
                let sql = format!(
                    "INSERT INTO events (url_id, user_id, event_type, timestamp, details) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING {EVENT_COLUMNS}"
                );
                Ok(sqlx::query_as::<$db, Event>(&sql)
                    .bind(new.url_id)
                    .bind(new.user_id)
                    .bind(new.event_type.as_str())
                    .bind(new.timestamp)
                    .bind(sqlx::types::Json(&new.details))
                    .fetch_one(&mut *conn)
                    .await?)
            }

            #[tracing::instrument(name = "store.get_event", level = "debug", skip_all)]
            async fn get_event(&self, id: i64) -> StoreResult<Event> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1");
                sqlx::query_as::<$db, Event>(&sql)
                    .bind(id)
                    .fetch_optional(&mut *self.acquire_read().await?)
                    .await?
                    .ok_or(StoreError::NotFound("event"))
            }

            fn list_events(&self, filter: EventFilter, page: Page) -> RowStream<Event> {
                let pool = self.reader().clone();
                Box::pin(async_stream::try_stream! {
                    let (limit, offset, after) = page.bounds();
                    let mut qb = sqlx::QueryBuilder::<$db>::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE id > "));
                    qb.push_bind(after);
                    if let Some(url_id) = filter.url_id {
                        qb.push(" AND url_id = ").push_bind(url_id);
                    }
                    if let Some(user_id) = filter.user_id {
                        qb.push(" AND user_id = ").push_bind(user_id);
                    }
                    if let Some(kind) = filter.event_type {
                        qb.push(" AND event_type = ").push_bind(kind);
                    }
                    qb.push(" ORDER BY id LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
                    let mut rows = qb.build_query_as::<Event>().fetch(&pool);
                    while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                        yield row;
                    }
                })
            }

            #[tracing::instrument(name = "store.append_redirects", level = "debug", skip_all, fields(events = batch.len()))]
            async fn append_redirects(&self, batch: &[RedirectEvent]) -> StoreResult<()> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                if batch.is_empty() {
                    return Ok(());
                }
                let payload = $crate::store::sql::redirect_batch_json(batch);
                let mut tx = self.begin_write().await?;
                Self::relax_commit(&mut tx).await?;
                sqlx::query(Self::APPEND_REDIRECTS).bind(payload).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(name = "store.import_events", level = "debug", skip_all)]
            async fn import_events(&self, rows: &[ImportedEvent]) -> StoreResult<Vec<ImportOutcome>> {
                let _db = $crate::telemetry::stage_timer($crate::telemetry::Stage::Db);
                let mut outcomes = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(IMPORT_CHUNK) {
                    let mut tx = self.begin_write().await?;
                    for row in chunk {
                        let done = sqlx::query(
                            "INSERT INTO events (id, url_id, user_id, event_type, timestamp, details) \
                             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                        )
                        .bind(row.id)
                        .bind(row.url_id)
                        .bind(row.user_id)
                        .bind(&row.event_type)
                        .bind(row.timestamp)
                        .bind(sqlx::types::Json(&row.details))
                        .execute(&mut *tx)
                        .await?;
                        outcomes.push(if done.rows_affected() == 1 {
                            ImportOutcome::Inserted
                        } else {
                            ImportOutcome::AlreadyPresent
                        });
                    }
                    tx.commit().await?;
                }
                self.sync_id_sequences().await?;
                Ok(outcomes)
            }
        }
    };
}

pub(crate) use impl_sql_store;
pub(crate) use user_insert_sql;
