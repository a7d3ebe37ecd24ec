//! The short link itself: `GET|HEAD /{code}` and `/urls/{code}/redirect`.
//!
//! The hot path's HTTP side: parse the code, one call to
//! `Service::follow` (service/redirects.rs: cache tiers, then the event
//! queue), answer 302 / 404 / 410. Nothing here waits on a database write.

use std::borrow::Cow;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::extract::PathText;
use super::wire;
use crate::domain::{redirect_location, ShortCode};
use crate::service::{Redirect, Visit};
use crate::state::AppState;
use crate::telemetry::http::ClientIp;

/// Longest header value copied into an event's details.
const MAX_HEADER_CHARS: usize = 512;

#[utoipa::path(get, operation_id = "follow_short_link", path = "/{code}", tag = "redirects", security(()),
    params(("code" = String, Path, description = "short code", pattern = r"^[A-Za-z0-9_-]{1,32}$")),
    responses((status = 302, description = "Location: the target"), (status = 404, body = wire::ErrorBody),
        (status = 410, body = wire::ErrorBody)))]
pub async fn follow(
    State(state): State<AppState>,
    PathText(raw_code): PathText,
    request: Request,
) -> ApiResult<Response> {
    let not_found = || ApiError::NotFound("short code not found".into());
    let code = ShortCode::parse(&raw_code).map_err(|_| not_found())?;
    let visit = (request.method() == Method::GET).then(|| {
        let headers = request.headers();
        Visit {
            referrer: header_text(headers, &header::REFERER),
            user_agent: header_str(headers, &header::USER_AGENT),
            client_ip: request.extensions().get::<ClientIp>().map(|c| c.0),
        }
    });
    let target = match state.service.follow(&code, visit).await? {
        Redirect::Found(target) => target,
        Redirect::Gone => return Err(ApiError::Gone),
        Redirect::Unknown => return Err(not_found()),
    };
    let location = redirect_location(&target, request.uri().query());
    let location = HeaderValue::try_from(location).map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("stored target is not a header value"))
    })?;
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
#[utoipa::path(get, operation_id = "follow_short_link_legacy", path = "/urls/{code}/redirect", tag = "redirects", security(()),
    params(("code" = String, Path, description = "short code", pattern = r"^[A-Za-z0-9_-]{1,32}$")),
    responses((status = 302, description = "Location: the target"), (status = 404, body = wire::ErrorBody),
        (status = 410, body = wire::ErrorBody)))]
pub async fn follow_legacy(
    state: State<AppState>,
    code: PathText,
    request: Request,
) -> ApiResult<Response> {
    follow(state, code, request).await
}

/// A request header as text for the event log, cut to a sane length.
fn header_text(headers: &HeaderMap, name: &header::HeaderName) -> Option<Box<str>> {
    header_str(headers, name).map(Into::into)
}

/// The same, borrowed from the request where it is valid UTF-8.
fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<Cow<'a, str>> {
    let value = headers.get(name)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    Some(match text.char_indices().nth(MAX_HEADER_CHARS) {
        Some((cut, _)) => match text {
            Cow::Borrowed(text) => Cow::Borrowed(&text[..cut]),
            Cow::Owned(mut text) => {
                text.truncate(cut);
                Cow::Owned(text)
            }
        },
        None => text,
    })
}
