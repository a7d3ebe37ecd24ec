//! `/events`: the append-only log (list with filters, read, append).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::auth::Auth;
use super::body::{Field, Problems};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PathId};
use super::list::{integer, json_array, parse_query, ListQuery};
use super::wire;
use crate::domain::{now_utc, parse_details, EventType, Id, NewEvent};
use crate::state::AppState;
use crate::store::EventFilter;

/// Body of `POST /events`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"event_type": "click", "details": {"source": "newsletter"}}))]
pub struct CreateEventBody {
    /// A label of 1..=64 characters (trimmed), no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$")]
    #[serde(default)]
    event_type: Field<String>,
    /// A link that must exist (404 otherwise); absent or null: none.
    #[schema(value_type = Option<i64>, minimum = 1)]
    #[serde(default)]
    url_id: Field<i64>,
    /// A user that must exist (404 otherwise); absent or null: none.
    #[schema(value_type = Option<i64>, minimum = 1)]
    #[serde(default)]
    user_id: Field<i64>,
    /// A JSON object without NUL characters; null means `{}`.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    details: Field<Map<String, Value>>,
}

impl CreateEventBody {
    fn into_new_event(self) -> Result<NewEvent, ApiError> {
        let mut p = Problems::default();
        let event_type = p.required("event_type", self.event_type);
        let event_type = event_type.and_then(|t| p.check(EventType::parse(&t)));
        let url_id = p.nullable("url_id", self.url_id).flatten();
        let user_id = p.nullable("user_id", self.user_id).flatten();
        let details = p.nullable("details", self.details).flatten();
        let details = p
            .check(parse_details(details.map_or(Value::Null, Value::Object)))
            .unwrap_or_default();
        p.finish()?;
        let Some(event_type) = event_type else {
            return Err(ApiError::bad_request("event_type is required"));
        };
        // An id that is not positive names nothing: the same 404 as an
        // unknown one.
        let url_id = url_id
            .map(|id| Id::new(id).ok_or_else(|| ApiError::NotFound("url not found".into())))
            .transpose()?;
        let user_id = user_id
            .map(|id| Id::new(id).ok_or_else(|| ApiError::NotFound("user not found".into())))
            .transpose()?;
        Ok(NewEvent {
            url_id,
            user_id,
            event_type,
            timestamp: now_utc(),
            details,
        })
    }
}

/// Filters of `GET /events`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct EventQuery {
    #[param(value_type = Option<i64>)]
    url_id: Option<String>,
    #[param(value_type = Option<i64>)]
    user_id: Option<String>,
    /// e.g. `created`, `updated`, `deleted`, `redirect`.
    event_type: Option<String>,
}

#[utoipa::path(post, operation_id = "create_event", path = "/events", request_body = CreateEventBody, tag = "events",
    responses((status = 201, body = wire::Event), (status = 400, body = wire::ErrorBody),
        (status = 404, body = wire::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody<CreateEventBody>,
) -> ApiResult<Response> {
    let event = state
        .service
        .create_event(caller, &body.into_new_event()?)
        .await?;
    Ok((StatusCode::CREATED, Json(wire::Event::from(event))).into_response())
}

#[utoipa::path(get, operation_id = "list_events", path = "/events", tag = "events", params(EventQuery, ListQuery),
    responses((status = 200, body = [wire::Event]), (status = 400, body = wire::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let filters: EventQuery = parse_query(query.as_deref())?;
    let paging = ListQuery::parse(query.as_deref())?;
    let mut problems = Problems::default();
    let filter = EventFilter {
        url_id: integer("url_id", filters.url_id.as_deref(), &mut problems),
        user_id: integer("user_id", filters.user_id.as_deref(), &mut problems),
        event_type: filters.event_type.map(|t| t.trim().to_owned()),
    };
    let page = paging.page_with(&mut problems);
    problems.finish_query()?;
    json_array(
        state.service.list_events(caller, filter, page),
        wire::Event::from,
    )
    .await
}

#[utoipa::path(get, operation_id = "get_event", path = "/events/{id}", tag = "events", params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = wire::Event), (status = 404, body = wire::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(id): PathId,
) -> ApiResult<Json<wire::Event>> {
    Ok(Json(state.service.get_event(caller, id).await?.into()))
}
