//! `/users/{id}/keys`: a user's API keys. The secret is in the 201 answer
//! of a create and nowhere else, ever.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::PathId;
use super::wire;
use crate::domain::{ApiKey, Id};
use crate::state::AppState;

/// A key as listed: never its secret.
#[derive(Serialize, ToSchema)]
pub struct KeyInfo {
    id: i64,
    /// The public start of the key, e.g. `kurz_Ab3dE6gH`.
    prefix: String,
    #[serde(serialize_with = "wire::timestamp")]
    #[schema(value_type = String, example = "2025-09-19T22:25:05")]
    created_at: NaiveDateTime,
    #[serde(serialize_with = "wire::optional_timestamp")]
    #[schema(value_type = Option<String>, example = "2025-09-19T22:25:05")]
    last_used_at: Option<NaiveDateTime>,
}

impl From<ApiKey> for KeyInfo {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id.get(),
            prefix: key.prefix,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}

/// A new key: `key` is the secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct NewKey {
    id: i64,
    /// The whole key: send it as `Authorization: Bearer <key>`.
    key: String,
    prefix: String,
    #[serde(serialize_with = "wire::timestamp")]
    #[schema(value_type = String, example = "2025-09-19T22:25:05")]
    created_at: NaiveDateTime,
}

#[utoipa::path(post, operation_id = "create_key", path = "/users/{id}/keys", tag = "keys",
    params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 201, body = NewKey), (status = 401, body = wire::ErrorBody),
        (status = 404, body = wire::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(user_id): PathId,
) -> ApiResult<Response> {
    let created = state.service.create_key(caller, user_id).await?;
    let body = NewKey {
        id: created.key.id.get(),
        key: created.token,
        prefix: created.key.prefix,
        created_at: created.key.created_at,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(get, operation_id = "list_keys", path = "/users/{id}/keys", tag = "keys",
    params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = [KeyInfo]), (status = 401, body = wire::ErrorBody),
        (status = 404, body = wire::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(user_id): PathId,
) -> ApiResult<Json<Vec<KeyInfo>>> {
    let keys = state.service.list_keys(caller, user_id).await?;
    Ok(Json(keys.into_iter().map(KeyInfo::from).collect()))
}

#[utoipa::path(delete, operation_id = "revoke_key", path = "/users/{id}/keys/{key_id}", tag = "keys",
    params(("id" = i64, Path, minimum = 1), ("key_id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((user_id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let not_found = || ApiError::NotFound("not found".into());
    let user_id = Id::parse(&user_id).ok_or_else(not_found)?;
    let key_id = Id::parse(&key_id).ok_or_else(not_found)?;
    state.service.revoke_key(caller, user_id, key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
