//! `GET /urls/{id}/stats` and `GET /users/{id}/stats`: reports from the
//! roll-ups, over an optional `from`/`to` range, with an hourly or daily
//! series.

use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Auth;
use super::body::Problems;
use super::error::ApiResult;
use super::extract::PathId;
use super::list::parse_query;
use super::wire::{self, timestamp};
use crate::domain::{parse_moment, Granularity, Stats, StatsRange, Tally};
use crate::state::AppState;

/// Query of both reports.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct StatsQuery {
    /// First moment included (`YYYY-MM-DDTHH:MM:SS` in UTC, or RFC 3339
    /// with an offset); counts and the
    /// series start at its hour, breakdowns and visitors at its day.
    #[param(value_type = Option<String>, format = DateTime, example = "2026-11-01T00:00:00Z")]
    from: Option<String>,
    /// Last moment included, bounded the same way.
    #[param(value_type = Option<String>, format = DateTime, example = "2026-11-30T23:59:59Z")]
    to: Option<String>,
    /// `hour` or `day` (the default).
    #[param(value_type = Option<String>, pattern = "^(hour|day)$")]
    granularity: Option<String>,
}

impl StatsQuery {
    fn parse(raw: Option<&str>) -> Result<StatsRange, super::ApiError> {
        let query: Self = parse_query(raw)?;
        let mut problems = Problems::default();
        let mut moment = |name: &str, raw: Option<&str>| {
            let raw = raw?;
            parse_moment(raw).or_else(|| {
                problems.add(name, "must be a timestamp like 2026-11-01T00:00:00 (UTC)");
                None
            })
        };
        let from = moment("from", query.from.as_deref());
        let to = moment("to", query.to.as_deref());
        let granularity = match query.granularity.as_deref() {
            None => Granularity::Day,
            Some(raw) => Granularity::parse(raw).unwrap_or_else(|| {
                problems.add("granularity", "must be hour or day");
                Granularity::Day
            }),
        };
        problems.finish_query()?;
        Ok(StatsRange {
            from,
            to,
            granularity,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesBucket {
    /// Start of the hour or day (UTC).
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, example = "2026-11-29T00:00:00")]
    pub bucket: NaiveDateTime,
    pub redirects: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopValue {
    pub value: String,
    pub redirects: i64,
}

/// The counts of a report; bots and link previewers are counted apart
/// and left out of everything else.
#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    pub redirects: i64,
    pub bot_redirects: i64,
    /// Distinct visitors per day, summed over the days.
    pub unique_visitors: i64,
    #[serde(serialize_with = "wire::optional_timestamp")]
    #[schema(value_type = Option<String>)]
    pub first_redirect_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "wire::optional_timestamp")]
    #[schema(value_type = Option<String>)]
    pub last_redirect_at: Option<NaiveDateTime>,
    /// Buckets with at least one redirect, oldest first.
    pub series: Vec<SeriesBucket>,
    /// Referring hosts (`direct`: none), top 10.
    pub referrers: Vec<TopValue>,
    pub browsers: Vec<TopValue>,
    pub operating_systems: Vec<TopValue>,
    /// `desktop`, `mobile`, `tablet` or `other`.
    pub devices: Vec<TopValue>,
    /// ISO 3166-1 country codes (with `KURZ_GEOIP_DB`; empty without).
    pub countries: Vec<TopValue>,
}

fn top(tallies: Vec<Tally>) -> Vec<TopValue> {
    tallies
        .into_iter()
        .map(|t| TopValue {
            value: t.value,
            redirects: t.redirects,
        })
        .collect()
}

impl From<Stats> for Report {
    fn from(s: Stats) -> Self {
        Self {
            redirects: s.redirects,
            bot_redirects: s.bot_redirects,
            unique_visitors: s.unique_visitors,
            first_redirect_at: s.first_redirect_at,
            last_redirect_at: s.last_redirect_at,
            series: s
                .series
                .into_iter()
                .map(|b| SeriesBucket {
                    bucket: b.start,
                    redirects: b.redirects,
                })
                .collect(),
            referrers: top(s.referrers),
            browsers: top(s.browsers),
            operating_systems: top(s.operating_systems),
            devices: top(s.devices),
            countries: top(s.countries),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkReport {
    pub url_id: i64,
    pub short_code: String,
    #[serde(flatten)]
    pub report: Report,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserReport {
    pub user_id: i64,
    #[serde(flatten)]
    pub report: Report,
}

#[utoipa::path(get, operation_id = "url_stats", path = "/urls/{id}/stats", tag = "urls",
    params(("id" = i64, Path, minimum = 1), StatsQuery),
    responses((status = 200, body = LinkReport), (status = 400, body = wire::ErrorBody),
        (status = 404, body = wire::ErrorBody)))]
pub async fn link_stats(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(id): PathId,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<LinkReport>> {
    let range = StatsQuery::parse(query.as_deref())?;
    let (url, stats) = state.service.link_stats(caller, id, range).await?;
    Ok(Json(LinkReport {
        url_id: url.id.get(),
        short_code: url.short_code,
        report: stats.into(),
    }))
}

#[utoipa::path(get, operation_id = "user_stats", path = "/users/{id}/stats", tag = "users",
    params(("id" = i64, Path, minimum = 1), StatsQuery),
    responses((status = 200, body = UserReport), (status = 400, body = wire::ErrorBody),
        (status = 404, body = wire::ErrorBody)))]
pub async fn user_stats(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathId(id): PathId,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<UserReport>> {
    let range = StatsQuery::parse(query.as_deref())?;
    let (user, stats) = state.service.user_stats(caller, id, range).await?;
    Ok(Json(UserReport {
        user_id: user.id.get(),
        report: stats.into(),
    }))
}
