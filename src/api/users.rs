//! `/users`: create, read, list, update, delete, and bulk CSV import.

use axum::extract::{Multipart, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Auth;
use super::body::{Field, Problems};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathId};
use super::list::{json_array, ListQuery};
use super::wire;
use crate::domain::{now_utc, Email, NewUser, UserPatch, Username};
use crate::service::ImportReport;
use crate::state::AppState;

/// Body of `POST /users`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"username": "ada", "email": "ada@example.com"}))]
pub struct CreateUserBody {
    /// Trimmed; 1..=64 characters, no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$")]
    #[serde(default)]
    username: Field<String>,
    /// Unique, case-insensitively; at most 254 characters.
    #[schema(value_type = String, required = true, max_length = 254,
        pattern = r"^[^@\s\u0000-\u001F\u007F-\u009F]+@[^@\s\u0000-\u001F\u007F-\u009F]+\.[^@\s\u0000-\u001F\u007F-\u009F]+$")]
    #[serde(default)]
    email: Field<String>,
}

impl CreateUserBody {
    fn into_new_user(self) -> Result<NewUser, ApiError> {
        let mut p = Problems::default();
        let username = p.required("username", self.username);
        let username = username.and_then(|u| p.check(Username::parse(&u)));
        let email = p.required("email", self.email);
        let email = email.and_then(|e| p.check(Email::parse(&e)));
        p.finish()?;
        let (Some(username), Some(email)) = (username, email) else {
            return Err(ApiError::bad_request("username and email are required"));
        };
        Ok(NewUser {
            id: None,
            username,
            email,
            created_at: now_utc(),
        })
    }
}

/// Body of `PUT /users/{id}`: at least one of the fields.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"email": "ada.lovelace@example.com"}))]
pub struct UpdateUserBody {
    #[schema(value_type = String, min_length = 1, max_length = 64,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$")]
    #[serde(default)]
    username: Field<String>,
    #[schema(value_type = String, max_length = 254,
        pattern = r"^[^@\s\u0000-\u001F\u007F-\u009F]+@[^@\s\u0000-\u001F\u007F-\u009F]+\.[^@\s\u0000-\u001F\u007F-\u009F]+$")]
    #[serde(default)]
    email: Field<String>,
}

impl UpdateUserBody {
    /// The fields of which an update names at least one.
    pub const FIELDS: &'static [&'static str] = &["username", "email"];

    fn into_patch(self) -> Result<UserPatch, ApiError> {
        let named = self.username.is_present() || self.email.is_present();
        let mut p = Problems::default();
        let username = p.optional("username", self.username);
        let username = username.and_then(|u| p.check(Username::parse(&u)));
        let email = p.optional("email", self.email);
        let email = email.and_then(|e| p.check(Email::parse(&e)));
        p.finish()?;
        if !named {
            return Err(ApiError::bad_request(
                "nothing to update: send username and/or email",
            ));
        }
        Ok(UserPatch { username, email })
    }
}

#[utoipa::path(post, operation_id = "create_user", path = "/users", request_body = CreateUserBody, tag = "users",
    responses((status = 201, body = wire::User), (status = 400, body = wire::ErrorBody),
        (status = 409, body = wire::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody<CreateUserBody>,
) -> ApiResult<Response> {
    let user = state
        .service
        .create_user(caller, &body.into_new_user()?)
        .await?;
    Ok((StatusCode::CREATED, Json(wire::User::from(user))).into_response())
}

#[utoipa::path(get, operation_id = "list_users", path = "/users", tag = "users", params(ListQuery),
    responses((status = 200, body = [wire::User]), (status = 400, body = wire::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let page = ListQuery::parse(query.as_deref())?.page()?;
    json_array(state.service.list_users(caller, page), wire::User::from).await
}

#[utoipa::path(get, operation_id = "get_user", path = "/users/{id}", tag = "users", params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = wire::User), (status = 404, body = wire::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(id): PathId,
) -> ApiResult<Json<wire::User>> {
    Ok(Json(state.service.get_user(caller, id).await?.into()))
}

#[utoipa::path(put, operation_id = "update_user", path = "/users/{id}", request_body = UpdateUserBody, tag = "users",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = wire::User), (status = 400, body = wire::ErrorBody),
        (status = 404, body = wire::ErrorBody), (status = 409, body = wire::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(id): PathId,
    JsonBody(body): JsonBody<UpdateUserBody>,
) -> ApiResult<Json<wire::User>> {
    let user = state
        .service
        .update_user(caller, id, &body.into_patch()?)
        .await?;
    Ok(Json(user.into()))
}

#[utoipa::path(delete, operation_id = "delete_user", path = "/users/{id}", tag = "users", params(("id" = i64, Path, minimum = 1)),
    responses((status = 204), (status = 404, body = wire::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    state.service.delete_user(caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Multipart form of `POST /users/bulk`, filled from the form by
/// `BulkUpload::read` (field by field: the file may be 64 MiB).
#[derive(ToSchema)]
pub struct BulkUpload {
    /// CSV with header `id,username,email,created_at` (id, created_at optional).
    #[schema(value_type = String, format = Binary)]
    file: axum::body::Bytes,
}

impl BulkUpload {
    async fn read(mut multipart: Multipart) -> Result<Self, ApiError> {
        loop {
            match multipart.next_field().await {
                Ok(Some(field)) if field.name() == Some("file") => {
                    let file = field.bytes().await.map_err(multipart_error)?;
                    return Ok(Self { file });
                }
                Ok(Some(_)) => continue,
                Ok(None) => return Err(ApiError::bad_request("missing multipart field 'file'")),
                Err(e) => return Err(multipart_error(e)),
            }
        }
    }
}

#[utoipa::path(post, operation_id = "import_users", path = "/users/bulk", tag = "users",
    request_body(content = BulkUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = ImportReport), (status = 400, body = wire::ErrorBody),
        (status = 413, body = wire::ErrorBody)))]
pub async fn bulk(
    State(state): State<AppState>,
    Auth(caller): Auth,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    let multipart = multipart.map_err(|_| {
        ApiError::bad_request("expected a multipart/form-data body with a 'file' field")
    })?;
    let upload = BulkUpload::read(multipart).await?;
    let report = state.service.import_users(caller, &upload.file).await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::bad_request(format!("unreadable multipart body: {}", e.body_text()))
    }
}
