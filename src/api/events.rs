//! `/events`: the append-only log (list with filters, read, append).

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
use crate::domain::{now_utc, Event, EventType, NewEvent};
use crate::store::EventFilter;

/// Body of `POST /events` (documentation only).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CreateEventBody {
    event_type: String,
    url_id: Option<i64>,
    user_id: Option<i64>,
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
}

#[utoipa::path(post, path = "/events", request_body = CreateEventBody, tag = "events",
    responses((status = 201, body = Event), (status = 400), (status = 404)))]
pub async fn create(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let mut fields = Fields::new(&body);
    let event_type = fields.required_str("event_type").map(EventType::parse);
    let event_type = event_type.and_then(|t| fields.check(t));
    let url_id = fields.nullable_id("url_id").flatten();
    let user_id = fields.nullable_id("user_id").flatten();
    let details = fields.details("details");
    fields.finish()?;
    let Some(event_type) = event_type else {
        return Err(ApiError::bad_request("event_type is required"));
    };
    if url_id.is_some_and(|id| id < 1) {
        return Err(ApiError::NotFound("url not found".into()));
    }
    if user_id.is_some_and(|id| id < 1) {
        return Err(ApiError::NotFound("user not found".into()));
    }
    let new = NewEvent {
        url_id,
        user_id,
        event_type,
        timestamp: now_utc(),
        details,
    };
    let event = state.store.create_event(&new).await?;
    Ok((StatusCode::CREATED, Json(event)).into_response())
}

#[utoipa::path(get, path = "/events", tag = "events",
    params(("url_id" = Option<i64>, Query), ("user_id" = Option<i64>, Query), ("event_type" = Option<String>, Query),
        ("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query), ("after_id" = Option<i64>, Query)),
    responses((status = 200, body = [Event]), (status = 400)))]
pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let params = QueryParams::parse(query.as_deref());
    let mut problems = BTreeMap::new();
    let filter = EventFilter {
        url_id: params.integer("url_id", &mut problems),
        user_id: params.integer("user_id", &mut problems),
        event_type: params.text("event_type").map(|t| t.trim().to_owned()),
    };
    let page = params.page(&mut problems);
    check(problems)?;
    json_array(state.store.list_events(filter, page)).await
}

#[utoipa::path(get, path = "/events/{id}", tag = "events",
    responses((status = 200, body = Event), (status = 404)))]
pub async fn get(State(state): State<AppState>, PathId(id): PathId) -> ApiResult<Json<Event>> {
    Ok(Json(state.store.get_event(id).await?))
}
