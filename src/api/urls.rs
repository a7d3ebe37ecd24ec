//! `/urls`: create, read, list (filters), update, delete.
//!
//! Every write that changes what a code resolves to goes through
//! `Links::invalidate` before the answer is sent.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::extract::{Fields, JsonObject, PathId};
use super::list::{check, json_array, QueryParams};
use crate::app::AppState;
use crate::domain::{NewShortUrl, ShortCode, ShortUrl, TargetUrl, Title, UrlPatch};
use crate::store::{StoreError, UrlFilter};

/// Body of `POST /urls` (documentation only).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CreateUrlBody {
    user_id: i64,
    original_url: String,
    title: Option<String>,
    /// Custom alias, 3..=32 of `[A-Za-z0-9_-]`; random 6-char code if absent.
    short_code: Option<String>,
}

/// Body of `PUT /urls/{id}`: any subset of the fields.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct UpdateUrlBody {
    title: Option<String>,
    is_active: Option<bool>,
    original_url: Option<String>,
}

#[utoipa::path(post, path = "/urls", request_body = CreateUrlBody, tag = "urls",
    responses((status = 201, body = ShortUrl), (status = 400), (status = 404), (status = 409)))]
pub async fn create(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let mut fields = Fields::new(&body);
    let user_id = fields.required_id("user_id");
    let target = fields
        .required_str("original_url")
        .map(|u| TargetUrl::parse(u, state.policy));
    let target = target.and_then(|t| fields.check(t));
    let title = fields.nullable_str("title").flatten().map(Title::parse);
    let title = title.and_then(|t| fields.check(t));
    let alias = fields
        .nullable_str("short_code")
        .flatten()
        .map(ShortCode::parse_alias);
    let alias = alias.and_then(|a| fields.check(a));
    fields.finish()?;
    let (Some(user_id), Some(target)) = (user_id, target) else {
        return Err(ApiError::bad_request(
            "user_id and original_url are required",
        ));
    };
    if user_id < 1 {
        return Err(ApiError::NotFound("user not found".into()));
    }
    let custom_alias = alias.is_some();
    let new = NewShortUrl {
        user_id,
        target,
        title,
        alias,
    };
    let url = state.store.create_url(&new).await?;
    state.links.created(&url.short_code, custom_alias).await;
    Ok((StatusCode::CREATED, Json(url)).into_response())
}

#[utoipa::path(get, path = "/urls", tag = "urls",
    params(("user_id" = Option<i64>, Query), ("is_active" = Option<bool>, Query),
        ("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query), ("after_id" = Option<i64>, Query)),
    responses((status = 200, body = [ShortUrl]), (status = 400)))]
pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let params = QueryParams::parse(query.as_deref());
    let mut problems = BTreeMap::new();
    let filter = UrlFilter {
        user_id: params.integer("user_id", &mut problems),
        is_active: params.boolean("is_active", &mut problems),
    };
    let page = params.page(&mut problems);
    check(problems)?;
    json_array(state.store.list_urls(filter, page)).await
}

#[utoipa::path(get, path = "/urls/{id}", tag = "urls",
    responses((status = 200, body = ShortUrl), (status = 404)))]
pub async fn get(State(state): State<AppState>, PathId(id): PathId) -> ApiResult<Json<ShortUrl>> {
    Ok(Json(state.store.get_url(id).await?))
}

#[utoipa::path(put, path = "/urls/{id}", request_body = UpdateUrlBody, tag = "urls",
    responses((status = 200, body = ShortUrl), (status = 400), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    PathId(id): PathId,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<ShortUrl>> {
    let mut fields = Fields::new(&body);
    let title = fields
        .nullable_str("title")
        .map(|t| t.map(Title::parse).transpose());
    let title = title.and_then(|t| fields.check(t));
    let is_active = fields.optional_bool("is_active");
    let target = fields
        .optional_str("original_url")
        .map(|u| TargetUrl::parse(u, state.policy));
    let target = target.and_then(|t| fields.check(t));
    let nothing_to_update = !["title", "is_active", "original_url"]
        .iter()
        .any(|f| fields.has(f));
    fields.finish()?;
    if nothing_to_update {
        return Err(ApiError::bad_request(
            "nothing to update: send title, is_active and/or original_url",
        ));
    }
    let patch = UrlPatch {
        title,
        is_active,
        target,
    };
    let change = state.store.update_url(id, &patch).await?;
    if change.changed {
        state.links.invalidate(&change.short_code).await;
    }
    Ok(Json(change.url))
}

#[utoipa::path(delete, path = "/urls/{id}", tag = "urls",
    responses((status = 204), (status = 404)))]
pub async fn delete(State(state): State<AppState>, PathId(id): PathId) -> ApiResult<StatusCode> {
    let url = state.store.delete_url(id).await.map_err(|e| match e {
        StoreError::NotFound(_) => ApiError::NotFound("url not found".into()),
        other => other.into(),
    })?;
    state.links.invalidate(&url.short_code).await;
    Ok(StatusCode::NO_CONTENT)
}
