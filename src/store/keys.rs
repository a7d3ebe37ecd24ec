//! API keys: create (the event in the same transaction), list, revoke, and
//! the look-up authentication needs. Only hashes are stored.

use serde_json::{json, Map, Value};

use super::events::batch_json;
use super::rows::{CredentialRow, KeyRow, KEY_COLUMNS};
use super::{on_engine, Store, StoreError, StoreResult};
use crate::domain::{now_utc, ApiKey, EventType, Id, KeyCredential, NewEvent, NewToken};
use crate::telemetry::{stage_timer, Stage};

fn key_event(kind: &'static str, key: &ApiKey) -> NewEvent {
    let details: Map<String, Value> = match json!({"key_id": key.id.get(), "prefix": key.prefix}) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    NewEvent {
        url_id: None,
        user_id: Some(key.user_id),
        event_type: EventType::system(kind),
        timestamp: now_utc(),
        details,
    }
}

impl Store {
    /// Stores a new key of `user_id` (its hash only) and its `key_created`
    /// event, in one transaction.
    #[tracing::instrument(name = "store.create_key", level = "debug", skip_all)]
    pub async fn create_key(&self, user_id: Id, token: &NewToken) -> StoreResult<ApiKey> {
        let _db = stage_timer(Stage::Db);
        let insert = format!(
            "INSERT INTO api_keys (user_id, prefix, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING {KEY_COLUMNS}"
        );
        on_engine!(self, |db| {
            let mut tx = db.begin_write().await?;
            let owner: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                .bind(user_id.get())
                .fetch_optional(&mut *tx)
                .await?;
            if owner.is_none() {
                return Err(StoreError::NotFound("user"));
            }
            let key = sqlx::query_as::<_, KeyRow>(&insert)
                .bind(user_id.get())
                .bind(&token.prefix)
                .bind(&token.secret_hash)
                .bind(now_utc())
                .fetch_one(&mut *tx)
                .await?
                .into_key()?;
            sqlx::query(db.insert_event_batch())
                .bind(batch_json(&[key_event("key_created", &key)]))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(key)
        })
    }

    /// The user's keys that are not revoked, in id order.
    #[tracing::instrument(name = "store.list_keys", level = "debug", skip_all)]
    pub async fn list_keys(&self, user_id: Id) -> StoreResult<Vec<ApiKey>> {
        let _db = stage_timer(Stage::Db);
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id"
        );
        let rows = on_engine!(self, |db| {
            sqlx::query_as::<_, KeyRow>(&sql)
                .bind(user_id.get())
                .fetch_all(&mut *db.acquire_statement().await?)
                .await?
        });
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    /// Revokes the key and writes `key_revoked`; returns it (for its prefix).
    #[tracing::instrument(name = "store.revoke_key", level = "debug", skip_all)]
    pub async fn revoke_key(&self, user_id: Id, key_id: Id) -> StoreResult<ApiKey> {
        let _db = stage_timer(Stage::Db);
        let sql = format!(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 \
             AND revoked_at IS NULL RETURNING {KEY_COLUMNS}"
        );
        on_engine!(self, |db| {
            let mut tx = db.begin_write().await?;
            let key = sqlx::query_as::<_, KeyRow>(&sql)
                .bind(now_utc())
                .bind(key_id.get())
                .bind(user_id.get())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("key"))?
                .into_key()?;
            sqlx::query(db.insert_event_batch())
                .bind(batch_json(&[key_event("key_revoked", &key)]))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(key)
        })
    }

    /// The owner of a key given only its id (for `kurz keys revoke ID`).
    pub async fn key_owner(&self, key_id: Id) -> StoreResult<Id> {
        let owner: Option<i64> = on_engine!(self, |db| {
            sqlx::query_scalar("SELECT user_id FROM api_keys WHERE id = $1")
                .bind(key_id.get())
                .fetch_optional(&mut *db.acquire_statement().await?)
                .await?
        });
        owner.and_then(Id::new).ok_or(StoreError::NotFound("key"))
    }

    /// The unrevoked key with this public prefix, for authentication.
    #[tracing::instrument(name = "store.find_key", level = "debug", skip_all)]
    pub async fn find_key(&self, prefix: &str) -> StoreResult<Option<KeyCredential>> {
        let _db = stage_timer(Stage::Db);
        let row = on_engine!(self, |db| {
            sqlx::query_as::<_, CredentialRow>(
                "SELECT id, user_id, secret_hash FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL",
            )
            .bind(prefix)
            .fetch_optional(&mut *db.acquire_statement().await?)
            .await?
        });
        row.map(CredentialRow::into_credential).transpose()
    }

    /// Records that a key was used (callers throttle this).
    pub async fn touch_key(&self, key_id: Id) -> StoreResult<()> {
        on_engine!(self, |db| {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now_utc())
                .bind(key_id.get())
                .execute(&mut *db.acquire_write().await?)
                .await?;
            Ok(())
        })
    }

    /// Prefixes of every unrevoked key of the user (to drop from caches
    /// when the user goes).
    pub async fn key_prefixes(&self, user_id: Id) -> StoreResult<Vec<String>> {
        Ok(self
            .list_keys(user_id)
            .await?
            .into_iter()
            .map(|k| k.prefix)
            .collect())
    }
}
