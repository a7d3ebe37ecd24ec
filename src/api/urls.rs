//! `/urls`: create, read, list (filters), update, delete.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDateTime;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Auth;
use super::body::{Field, Problems};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathId};
use super::list::{boolean, integer, json_array, parse_query, ListQuery};
use super::wire;
use crate::domain::{
    parse_expiry, Id, MaxRedirects, NewShortUrl, ShortCode, TargetPolicy, TargetUrl, Title,
    UrlPatch,
};
use crate::state::AppState;
use crate::store::UrlFilter;

/// Body of `POST /urls`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"user_id": 1, "original_url": "https://example.com/docs", "title": "Docs"}))]
pub struct CreateUrlBody {
    /// The owner; must exist (404 otherwise).
    #[schema(value_type = i64, required = true, minimum = 1)]
    #[serde(default)]
    user_id: Field<i64>,
    /// Absolute http(s) URL with a host and no credentials, at most 2048
    /// characters; surrounding white space is trimmed.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 2048, format = "uri",
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s@/?#\u0000-\u001F\u007F-\u009F]+([/?#][^\s\u0000-\u001F\u007F-\u009F]*)?$")]
    #[serde(default)]
    original_url: Field<String>,
    /// At most 256 characters, no control characters.
    #[schema(value_type = Option<String>, max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    #[serde(default)]
    title: Field<String>,
    /// A custom alias: 3..=32 of `[A-Za-z0-9_-]`, not a reserved word
    /// (users, urls, events, health, metrics, openapi.json, docs; any case).
    /// A random 6-character code when absent or null.
    #[schema(value_type = Option<String>, min_length = 3, max_length = 32, pattern = r"^[A-Za-z0-9_-]{3,32}$")]
    #[serde(default)]
    short_code: Field<String>,
    /// From this moment (`YYYY-MM-DDTHH:MM:SS` in UTC, or RFC 3339 with an
    /// offset) redirects answer 410; null: never.
    #[schema(value_type = Option<String>, format = DateTime, example = "2030-01-31T23:59:59Z")]
    #[serde(default)]
    expires_at: Field<String>,
    /// After this many redirects they answer 410 (exact across replicas);
    /// null: no limit.
    #[schema(value_type = Option<i64>, minimum = 1)]
    #[serde(default)]
    max_redirects: Field<i64>,
}

impl CreateUrlBody {
    fn into_new_url(self, policy: TargetPolicy) -> Result<NewShortUrl, ApiError> {
        let mut p = Problems::default();
        let user_id = p.required("user_id", self.user_id);
        let target = p.required("original_url", self.original_url);
        let target = target.and_then(|t| p.check(TargetUrl::parse(&t, policy)));
        let title = p.nullable("title", self.title).flatten();
        let title = title.and_then(|t| p.check(Title::parse(&t)));
        let alias = p.nullable("short_code", self.short_code).flatten();
        let alias = alias.and_then(|a| p.check(ShortCode::parse_alias(&a)));
        let (expires_at, max_redirects) = expiry(&mut p, self.expires_at, self.max_redirects);
        p.finish()?;
        let (Some(user_id), Some(target)) = (user_id, target) else {
            return Err(ApiError::bad_request(
                "user_id and original_url are required",
            ));
        };
        // A user id that is not positive names no user: the same 404 as an
        // unknown one.
        let user_id =
            Id::new(user_id).ok_or_else(|| ApiError::NotFound("user not found".into()))?;
        Ok(NewShortUrl {
            user_id,
            target,
            title,
            alias,
            expires_at: expires_at.flatten(),
            max_redirects: max_redirects.flatten(),
        })
    }
}

/// Body of `PUT /urls/{id}`: at least one of the fields. `short_code` and
/// `user_id` cannot change and are ignored like any unknown field.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"title": "Docs, new edition", "is_active": true}))]
pub struct UpdateUrlBody {
    /// null clears the title.
    #[schema(value_type = Option<String>, max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    #[serde(default)]
    title: Field<String>,
    #[schema(value_type = bool)]
    #[serde(default)]
    is_active: Field<bool>,
    #[schema(value_type = String, min_length = 1, max_length = 2048, format = "uri",
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s@/?#\u0000-\u001F\u007F-\u009F]+([/?#][^\s\u0000-\u001F\u007F-\u009F]*)?$")]
    #[serde(default)]
    original_url: Field<String>,
    /// From this moment (`YYYY-MM-DDTHH:MM:SS` in UTC, or RFC 3339 with an
    /// offset) redirects answer 410; null: never.
    #[schema(value_type = Option<String>, format = DateTime, example = "2030-01-31T23:59:59Z")]
    #[serde(default)]
    expires_at: Field<String>,
    /// After this many redirects they answer 410 (exact across replicas);
    /// null: no limit.
    #[schema(value_type = Option<i64>, minimum = 1)]
    #[serde(default)]
    max_redirects: Field<i64>,
}

impl UpdateUrlBody {
    /// The fields of which an update names at least one.
    pub const FIELDS: &'static [&'static str] = &[
        "title",
        "is_active",
        "original_url",
        "expires_at",
        "max_redirects",
    ];

    fn into_patch(self, policy: TargetPolicy) -> Result<UrlPatch, ApiError> {
        let named = self.title.is_present()
            || self.is_active.is_present()
            || self.original_url.is_present()
            || self.expires_at.is_present()
            || self.max_redirects.is_present();
        let mut p = Problems::default();
        let title = p.nullable("title", self.title);
        let title = title.and_then(|t| p.check(t.map(|t| Title::parse(&t)).transpose()));
        let is_active = p.optional("is_active", self.is_active);
        let target = p.optional("original_url", self.original_url);
        let target = target.and_then(|t| p.check(TargetUrl::parse(&t, policy)));
        let (expires_at, max_redirects) = expiry(&mut p, self.expires_at, self.max_redirects);
        p.finish()?;
        if !named {
            return Err(ApiError::bad_request(
                "nothing to update: send title, is_active, original_url, expires_at and/or max_redirects",
            ));
        }
        Ok(UrlPatch {
            title,
            is_active,
            target,
            expires_at,
            max_redirects,
        })
    }
}

/// The expiry fields of both bodies: absent `None`, null `Some(None)`.
fn expiry(
    p: &mut Problems,
    expires_at: Field<String>,
    max_redirects: Field<i64>,
) -> (Option<Option<NaiveDateTime>>, Option<Option<MaxRedirects>>) {
    let expires_at = match p.nullable("expires_at", expires_at) {
        Some(Some(raw)) => p.check(parse_expiry(&raw)).map(Some),
        cleared_or_absent => cleared_or_absent.map(|_| None),
    };
    let max_redirects = match p.nullable("max_redirects", max_redirects) {
        Some(Some(raw)) => p.check(MaxRedirects::parse(raw)).map(Some),
        cleared_or_absent => cleared_or_absent.map(|_| None),
    };
    (expires_at, max_redirects)
}

/// Filters of `GET /urls`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct UrlQuery {
    /// Only this user's links (an unknown id gives `[]`).
    #[param(value_type = Option<i64>)]
    user_id: Option<String>,
    /// `true` or `false`.
    #[param(value_type = Option<bool>)]
    is_active: Option<String>,
}

#[utoipa::path(post, operation_id = "create_url", path = "/urls", request_body = CreateUrlBody, tag = "urls",
    responses((status = 201, body = wire::ShortUrl), (status = 400, body = wire::ErrorBody),
        (status = 404, body = wire::ErrorBody), (status = 409, body = wire::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody<CreateUrlBody>,
) -> ApiResult<Response> {
    let new = body.into_new_url(state.policy)?;
    let url = state.service.create_url(caller, &new).await?;
    Ok((StatusCode::CREATED, Json(wire::ShortUrl::from(url))).into_response())
}

#[utoipa::path(get, operation_id = "list_urls", path = "/urls", tag = "urls", params(UrlQuery, ListQuery),
    responses((status = 200, body = [wire::ShortUrl]), (status = 400, body = wire::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let filters: UrlQuery = parse_query(query.as_deref())?;
    let paging = ListQuery::parse(query.as_deref())?;
    let mut problems = Problems::default();
    let filter = UrlFilter {
        user_id: integer("user_id", filters.user_id.as_deref(), &mut problems),
        is_active: boolean("is_active", filters.is_active.as_deref(), &mut problems),
    };
    let page = paging.page_with(&mut problems);
    problems.finish_query()?;
    json_array(
        state.service.list_urls(caller, filter, page),
        wire::ShortUrl::from,
    )
    .await
}

#[utoipa::path(get, operation_id = "get_url", path = "/urls/{id}", tag = "urls", params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = wire::ShortUrl), (status = 404, body = wire::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(id): PathId,
) -> ApiResult<Json<wire::ShortUrl>> {
    Ok(Json(state.service.get_url(caller, id).await?.into()))
}

#[utoipa::path(put, operation_id = "update_url", path = "/urls/{id}", request_body = UpdateUrlBody, tag = "urls",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = wire::ShortUrl), (status = 400, body = wire::ErrorBody),
        (status = 404, body = wire::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(id): PathId,
    JsonBody(body): JsonBody<UpdateUrlBody>,
) -> ApiResult<Json<wire::ShortUrl>> {
    let patch = body.into_patch(state.policy)?;
    Ok(Json(
        state.service.update_url(caller, id, &patch).await?.into(),
    ))
}

#[utoipa::path(delete, operation_id = "delete_url", path = "/urls/{id}", tag = "urls", params(("id" = i64, Path, minimum = 1)),
    responses((status = 204), (status = 404, body = wire::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    state.service.delete_url(caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
