//! The short link itself: `GET|HEAD /{code}` and `/urls/{code}/redirect`.
//!
//! This is the hot path: resolve through `Links` (no store round trip on a
//! cache hit), answer 302, and hand the `redirect` event to the recorder's
//! queue. Nothing here waits on a database write.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::extract::PathText;
use crate::app::AppState;
use crate::domain::{now_utc, redirect_location, RedirectEvent, ShortCode};

/// Longest header value copied into an event's details.
const MAX_HEADER_CHARS: usize = 512;

#[utoipa::path(get, path = "/{code}", tag = "redirects",
    params(("code" = String, Path, description = "short code")),
    responses((status = 302, description = "Location: the target"), (status = 404), (status = 410)))]
pub async fn follow(
    State(state): State<AppState>,
    PathText(raw_code): PathText,
    request: Request,
) -> ApiResult<Response> {
    let not_found = || ApiError::NotFound("short code not found".into());
    let code = ShortCode::parse(&raw_code).map_err(|_| not_found())?;
    let link = state.links.resolve(&code).await?.ok_or_else(not_found)?;
    if !link.is_active {
        return Err(ApiError::Gone);
    }
    let location = redirect_location(&link.original_url, request.uri().query());
    let location = HeaderValue::try_from(location).map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("stored target is not a header value"))
    })?;
    if request.method() == Method::GET {
        let headers = request.headers();
        state
            .events
            .record(RedirectEvent {
                url_id: link.url_id,
                user_id: link.user_id,
                timestamp: now_utc(),
                short_code: code.as_str().into(),
                referrer: header_text(headers, &header::REFERER),
                user_agent: header_text(headers, &header::USER_AGENT),
            })
            .await;
    }
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            // The target can change (PUT): browsers must ask again.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=0"),
            ),
        ],
    )
        .into_response())
}

/// `/urls/{code}/redirect`, the path the hackathon clients use.
#[utoipa::path(get, path = "/urls/{code}/redirect", tag = "redirects",
    params(("code" = String, Path, description = "short code")),
    responses((status = 302, description = "Location: the target"), (status = 404), (status = 410)))]
pub async fn follow_legacy(
    state: State<AppState>,
    code: PathText,
    request: Request,
) -> ApiResult<Response> {
    follow(state, code, request).await
}

/// A request header as text for the event log, cut to a sane length.
fn header_text(headers: &HeaderMap, name: &header::HeaderName) -> Option<Box<str>> {
    let value = headers.get(name)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    Some(match text.char_indices().nth(MAX_HEADER_CHARS) {
        Some((cut, _)) => text[..cut].into(),
        None => text.into(),
    })
}
