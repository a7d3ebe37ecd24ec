//! `GET /urls/{id}/qr`: the short link as a QR code (SVG or PNG), built
//! from the public base URL (`KURZ_PUBLIC_URL`).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Auth;
use super::body::Problems;
use super::error::{ApiError, ApiResult};
use super::extract::PathId;
use super::list::{integer, parse_query};
use super::wire;
use crate::qr::{self, QrFormat};
use crate::state::AppState;

/// Query of `GET /urls/{id}/qr`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct QrQuery {
    /// `svg` (the default) or `png`.
    #[param(value_type = Option<String>, pattern = "^(svg|png)$")]
    format: Option<String>,
    /// Width and height in pixels, 64..=2048; 256 by default.
    #[param(value_type = Option<i64>, minimum = 64, maximum = 2048)]
    size: Option<String>,
}

#[utoipa::path(get, operation_id = "url_qr_code", path = "/urls/{id}/qr", tag = "urls",
    params(("id" = i64, Path, minimum = 1), QrQuery),
    responses((status = 200, description = "the short link as a QR code",
            content(("image/svg+xml"), ("image/png"))),
        (status = 400, body = wire::ErrorBody), (status = 404, body = wire::ErrorBody)))]
pub async fn qr_code(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(id): PathId,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let query: QrQuery = parse_query(query.as_deref())?;
    let mut problems = Problems::default();
    let format = match query.format.as_deref() {
        None => Some(QrFormat::Svg),
        Some(raw) => QrFormat::parse(raw).or_else(|| {
            problems.add("format", "must be svg or png");
            None
        }),
    };
    let size = match integer("size", query.size.as_deref(), &mut problems) {
        None => Some(qr::DEFAULT_SIZE),
        Some(size) => u32::try_from(size)
            .ok()
            .filter(|s| (qr::MIN_SIZE..=qr::MAX_SIZE).contains(s))
            .or_else(|| {
                problems.add(
                    "size",
                    format!("must be between {} and {}", qr::MIN_SIZE, qr::MAX_SIZE),
                );
                None
            }),
    };
    problems.finish_query()?;
    let (Some(format), Some(size)) = (format, size) else {
        return Err(ApiError::bad_request("bad format or size"));
    };
    let url = state.service.get_url(caller, id).await?;
    let link = format!("{}/{}", state.public_url, url.short_code);
    let image = qr::render(&link, format, size).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
        ],
        image,
    )
        .into_response())
}
