//! The web page at `/`: shorten a link, see your links and how each is
//! doing, print its QR code, edit, deactivate and delete it. Server-rendered
//! HTML (`pages`, maud templates compiled into the binary), one stylesheet
//! served from the binary, no JavaScript; every action is a form POST
//! answered with a redirect (post/redirect/get).
//!
//! Like `api`, it only parses input, calls the `Service` once per action
//! and renders; who the visitor is comes from the session cookie
//! (`session`), never from a header a script could set.

mod chart;
mod forms;
mod pages;
mod session;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Duration;
use futures_util::TryStreamExt as _;

use crate::domain::{now_utc, Granularity, Id, StatsRange};
use crate::qr::{self, QrFormat};
use crate::state::AppState;
use crate::store::{Page, UrlFilter};
use pages::Frame;
use session::{Session, CSRF_COOKIE, SESSION_COOKIE};

/// Links listed on the home page.
const LINKS_LISTED: u32 = 200;
/// Days the link page's chart covers.
const CHART_DAYS: u64 = 30;
/// How long a sign-in lasts, in seconds.
const SESSION_SECONDS: u32 = 7 * 24 * 3600;

const STYLESHEET: &str = include_str!("kurz.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/kurz.css", get(stylesheet))
        .route("/l/{id}", get(link_page))
        .route("/web/session", post(forms::sign_in))
        .route("/web/session/end", post(forms::sign_out))
        .route("/web/users", post(forms::create_user))
        .route("/web/links", post(forms::create_link))
        .route("/web/links/{id}", post(forms::update_link))
        .route("/web/links/{id}/delete", post(forms::delete_link))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// An HTML answer with the page's security headers, and a CSRF cookie
/// when the visitor has none yet.
fn page(status: StatusCode, body: maud::Markup, new_csrf: Option<&str>, secure: bool) -> Response {
    let mut response = (status, Html(body.into_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(token) = new_csrf {
        headers.append(
            header::SET_COOKIE,
            session::set_cookie(CSRF_COOKIE, token, secure, None),
        );
    }
    response
}

/// The visitor's CSRF token, and whether it is new (to be set as a cookie).
fn csrf(headers: &HeaderMap) -> (String, bool) {
    match session::cookie(headers, CSRF_COOKIE) {
        Some(token) => (token.to_owned(), false),
        None => (session::new_token(), true),
    }
}

fn secure(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

/// A notice for the `done` query parameter of a redirect after a form.
fn notice(query: Option<&str>) -> Option<&'static str> {
    match query? {
        "done=created" => Some("Link created."),
        "done=saved" => Some("Saved."),
        "done=deleted" => Some("Link deleted."),
        "done=signed-out" => Some("Signed out."),
        _ => None,
    }
}

async fn home(State(state): State<AppState>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let (token, fresh) = csrf(&headers);
    let Some(session) = session::current(&state.service, &headers).await else {
        let frame = Frame {
            title: "Sign in",
            csrf: &token,
            signed_in: false,
            notice: notice(uri.query()),
        };
        let body = pages::layout(&frame, pages::sign_in(&token, !state.service.auth_is_off()));
        return page(
            StatusCode::OK,
            body,
            fresh.then_some(token.as_str()),
            secure(&state),
        );
    };
    let links = your_links(&state, session).await;
    let frame = Frame {
        title: "Your links",
        csrf: &token,
        signed_in: true,
        notice: notice(uri.query()),
    };
    let body = match links {
        Ok(links) => pages::layout(&frame, pages::home(&token, &state.public_url, &links)),
        Err(message) => pages::layout(&frame, pages::problem(&message)),
    };
    page(
        StatusCode::OK,
        body,
        fresh.then_some(token.as_str()),
        secure(&state),
    )
}

async fn your_links(
    state: &AppState,
    session: Session,
) -> Result<Vec<(crate::domain::ShortUrl, i64)>, String> {
    let filter = UrlFilter {
        user_id: Some(session.user_id.get()),
        is_active: None,
    };
    let newest_first = Page::Offset {
        page: 1,
        per_page: LINKS_LISTED,
    };
    let mut links: Vec<_> = state
        .service
        .list_urls(session.caller, filter, newest_first)
        .try_collect()
        .await
        .map_err(|e| forms::say(&e.into()))?;
    let totals = state
        .service
        .redirect_totals(session.caller, session.user_id)
        .await
        .map_err(|e| forms::say(&e))?;
    links.reverse();
    Ok(links
        .into_iter()
        .map(|url| {
            let count = totals.get(&url.id.get()).copied().unwrap_or(0);
            (url, count)
        })
        .collect())
}

async fn link_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path(raw): Path<String>,
) -> Response {
    let (token, fresh) = csrf(&headers);
    let Some(session) = session::current(&state.service, &headers).await else {
        return Redirect::to("/").into_response();
    };
    let frame = |title| Frame {
        title,
        csrf: &token,
        signed_in: true,
        notice: notice(uri.query()),
    };
    let Some(id) = raw.parse().ok().and_then(Id::new) else {
        let body = pages::layout(
            &frame("Not found"),
            pages::problem("There is no such link."),
        );
        return page(StatusCode::NOT_FOUND, body, None, secure(&state));
    };
    let today = now_utc().date();
    let range = StatsRange {
        from: (today - Duration::days(CHART_DAYS as i64 - 1)).and_hms_opt(0, 0, 0),
        to: None,
        granularity: Granularity::Day,
    };
    let (url, stats) = match state.service.link_stats(session.caller, id, range).await {
        Ok(found) => found,
        Err(error) => {
            let body = pages::layout(&frame("Not found"), pages::problem(&forms::say(&error)));
            return page(StatusCode::NOT_FOUND, body, None, secure(&state));
        }
    };
    let short = format!("{}/{}", state.public_url, url.short_code);
    let qr_svg = qr::render(&short, QrFormat::Svg, 200)
        .ok()
        .and_then(|svg| String::from_utf8(svg).ok())
        .unwrap_or_default();
    let series: Vec<_> = stats
        .series
        .iter()
        .map(|b| (b.start.date(), b.redirects))
        .collect();
    let buckets = chart::daily_buckets(&series, today, CHART_DAYS);
    let chart_svg = chart::bars(&buckets, "Redirects per day, last 30 days");
    let body = pages::layout(
        &frame(&url.short_code),
        pages::link(&token, &short, &url, &stats, &qr_svg, &chart_svg),
    );
    page(
        StatusCode::OK,
        body,
        fresh.then_some(token.as_str()),
        secure(&state),
    )
}

/// The form body every action shares: its CSRF token.
#[derive(serde::Deserialize)]
struct TokenOnly {
    #[serde(default)]
    csrf: String,
}

/// After a session change: where to go, with the cookie set or cleared.
fn with_session(to: &str, value: Option<&str>, secure: bool) -> Response {
    let mut response = Redirect::to(to).into_response();
    let cookie = match value {
        Some(value) => session::set_cookie(SESSION_COOKIE, value, secure, Some(SESSION_SECONDS)),
        None => session::set_cookie(SESSION_COOKIE, "", secure, Some(0)),
    };
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}
