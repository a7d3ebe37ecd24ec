//! `/users`: create, read, list, update, delete, and bulk CSV import.

use axum::extract::{Multipart, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::extract::{Fields, JsonObject, PathId};
use super::list::{check, json_array, QueryParams};
use crate::app::AppState;
use crate::domain::{now_utc, Email, NewUser, User, UserPatch, Username};
use crate::import::{self, ImportReport};

/// Body of `POST /users` (documentation only: parsing is done field by field).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CreateUserBody {
    username: String,
    email: String,
}

/// Body of `PUT /users/{id}`: any subset of the fields.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct UpdateUserBody {
    username: Option<String>,
    email: Option<String>,
}

#[utoipa::path(post, path = "/users", request_body = CreateUserBody, tag = "users",
    responses((status = 201, body = User), (status = 400), (status = 409)))]
pub async fn create(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let mut fields = Fields::new(&body);
    let username = fields.required_str("username").map(Username::parse);
    let username = username.and_then(|u| fields.check(u));
    let email = fields.required_str("email").map(Email::parse);
    let email = email.and_then(|e| fields.check(e));
    fields.finish()?;
    let (Some(username), Some(email)) = (username, email) else {
        return Err(ApiError::bad_request("username and email are required"));
    };
    let new = NewUser {
        id: None,
        username,
        email,
        created_at: now_utc(),
    };
    let user = state.store.create_user(&new).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

#[utoipa::path(get, path = "/users", tag = "users",
    params(("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query), ("after_id" = Option<i64>, Query)),
    responses((status = 200, body = [User]), (status = 400)))]
pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let params = QueryParams::parse(query.as_deref());
    let mut problems = BTreeMap::new();
    let page = params.page(&mut problems);
    check(problems)?;
    json_array(state.store.list_users(page)).await
}

#[utoipa::path(get, path = "/users/{id}", tag = "users",
    responses((status = 200, body = User), (status = 404)))]
pub async fn get(State(state): State<AppState>, PathId(id): PathId) -> ApiResult<Json<User>> {
    Ok(Json(state.store.get_user(id).await?))
}

#[utoipa::path(put, path = "/users/{id}", request_body = UpdateUserBody, tag = "users",
    responses((status = 200, body = User), (status = 400), (status = 404), (status = 409)))]
pub async fn update(
    State(state): State<AppState>,
    PathId(id): PathId,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<User>> {
    let mut fields = Fields::new(&body);
    let username = fields.optional_str("username").map(Username::parse);
    let username = username.and_then(|u| fields.check(u));
    let email = fields.optional_str("email").map(Email::parse);
    let email = email.and_then(|e| fields.check(e));
    let nothing_to_update = !fields.has("username") && !fields.has("email");
    fields.finish()?;
    if nothing_to_update {
        return Err(ApiError::bad_request(
            "nothing to update: send username and/or email",
        ));
    }
    let patch = UserPatch { username, email };
    Ok(Json(state.store.update_user(id, &patch).await?))
}

#[utoipa::path(delete, path = "/users/{id}", tag = "users",
    responses((status = 204), (status = 404)))]
pub async fn delete(State(state): State<AppState>, PathId(id): PathId) -> ApiResult<StatusCode> {
    let codes = state.store.delete_user(id).await?;
    state.links.invalidate_all(&codes).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Multipart form of `POST /users/bulk` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BulkUpload {
    /// CSV with header `id,username,email,created_at` (id, created_at optional).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[utoipa::path(post, path = "/users/bulk", tag = "users",
    request_body(content = BulkUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = ImportReport), (status = 400), (status = 413)))]
pub async fn bulk(
    State(state): State<AppState>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    let mut multipart = multipart.map_err(|_| {
        ApiError::bad_request("expected a multipart/form-data body with a 'file' field")
    })?;
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e)),
        };
        if field.name() == Some("file") {
            file = Some(field.bytes().await.map_err(multipart_error)?);
            break;
        }
    }
    let file = file.ok_or_else(|| ApiError::bad_request("missing multipart field 'file'"))?;
    let report = import::import_users(state.store.as_ref(), &file).await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::bad_request(format!("unreadable multipart body: {}", e.body_text()))
    }
}
