//! The web page's form actions. Each checks the CSRF token, reads its
//! fields into the same domain types the API uses, makes one service call
//! and redirects (post/redirect/get); a refused form is shown again as a
//! page that says what to fix.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::pages::{self, Frame};
use super::session::{self, Session};
use super::{page, secure, with_session, TokenOnly};
use crate::domain::{
    now_utc, parse_expiry, Caller, Email, Id, MaxRedirects, NewShortUrl, NewUser, ShortCode,
    TargetUrl, Title, UrlPatch, Username,
};
use crate::service::ServiceError;
use crate::state::AppState;
use crate::store::StoreError;

/// What to tell a person about a failed action (never internals).
pub fn say(error: &ServiceError) -> String {
    match error {
        ServiceError::Store(
            StoreError::Unavailable(_) | StoreError::Other(_) | StoreError::Corrupt(_),
        )
        | ServiceError::Internal(_) => {
            "The service could not do that just now; please try again.".into()
        }
        ServiceError::Store(StoreError::NotFound(what)) => {
            format!("That {what} does not exist (or is not yours).")
        }
        other => other.to_string(),
    }
}

fn refused(state: &AppState, message: &str) -> Response {
    let frame = Frame {
        title: "Not done",
        csrf: "",
        signed_in: true,
        notice: None,
    };
    page(
        StatusCode::BAD_REQUEST,
        pages::layout(&frame, pages::problem(message)),
        None,
        secure(state),
    )
}

/// The signed-in session, if the form's token is good.
async fn checked(state: &AppState, headers: &HeaderMap, token: &str) -> Result<Session, Response> {
    if !session::token_matches(headers, token) {
        return Err(refused(
            state,
            "This form has expired; reload the page and try again.",
        ));
    }
    session::current(&state.service, headers)
        .await
        .ok_or_else(|| Redirect::to("/").into_response())
}

/// The session and the link id of a form about one link.
async fn checked_link(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    id: i64,
) -> Result<(Session, Id), Response> {
    let session = checked(state, headers, token).await?;
    let id = Id::new(id).ok_or_else(|| refused(state, "There is no such link."))?;
    Ok((session, id))
}

/// A datetime-local value (`YYYY-MM-DDTHH:MM`, seconds optional), UTC.
fn expiry_field(raw: &str) -> Result<Option<chrono::NaiveDateTime>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let full = if raw.len() == 16 {
        format!("{raw}:00")
    } else {
        raw.to_owned()
    };
    parse_expiry(&full).map(Some).map_err(|e| e.problem)
}

fn budget_field(raw: &str) -> Result<Option<MaxRedirects>, String> {
    match raw.trim() {
        "" => Ok(None),
        text => {
            let n = text
                .parse::<i64>()
                .map_err(|_| "must be a whole number".to_owned())?;
            MaxRedirects::parse(n).map(Some).map_err(|e| e.problem)
        }
    }
}

#[derive(Deserialize)]
pub struct SignIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if !session::token_matches(&headers, &form.csrf) {
        return refused(
            &state,
            "This form has expired; reload the page and try again.",
        );
    }
    let key = form.key.trim();
    match session::resolve(&state.service, key).await {
        Some(_) => with_session("/", Some(key), secure(&state)),
        None if state.service.auth_is_off() => refused(&state, "There is no user with that id."),
        None => refused(&state, "That key is not a user's working API key."),
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<TokenOnly>,
) -> Response {
    if !session::token_matches(&headers, &form.csrf) {
        return refused(
            &state,
            "This form has expired; reload the page and try again.",
        );
    }
    with_session("/?done=signed-out", None, secure(&state))
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
}

/// Without keys only: anyone may create a user (as over the API).
pub async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<NewUserForm>,
) -> Response {
    if !session::token_matches(&headers, &form.csrf) || !state.service.auth_is_off() {
        return refused(&state, "Users are created by the operator here.");
    }
    let new = match (Username::parse(&form.username), Email::parse(&form.email)) {
        (Ok(username), Ok(email)) => NewUser {
            id: None,
            username,
            email,
            created_at: now_utc(),
        },
        (Err(e), _) | (_, Err(e)) => {
            return refused(&state, &format!("{}: {}", e.field, e.problem))
        }
    };
    match state.service.create_user(Caller::Admin, &new).await {
        Ok(user) => with_session("/", Some(&user.id.get().to_string()), secure(&state)),
        Err(error) => refused(&state, &say(&error)),
    }
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    original_url: String,
    #[serde(default)]
    short_code: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    expires_at: String,
    #[serde(default)]
    max_redirects: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    is_active: Option<String>,
}

pub async fn create_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    let session = match checked(&state, &headers, &form.csrf).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let parsed = (|| {
        let target = TargetUrl::parse(&form.original_url, state.policy).map_err(|e| e.problem)?;
        let alias = match form.short_code.trim() {
            "" => None,
            alias => {
                Some(ShortCode::parse_alias(alias).map_err(|e| format!("alias {}", e.problem))?)
            }
        };
        Ok::<_, String>(NewShortUrl {
            user_id: session.user_id,
            target,
            title: None,
            alias,
            expires_at: expiry_field(&form.expires_at)?,
            max_redirects: budget_field(&form.max_redirects)?,
        })
    })();
    let new = match parsed {
        Ok(new) => new,
        Err(problem) => return refused(&state, &problem),
    };
    match state.service.create_url(session.caller, &new).await {
        Ok(url) => Redirect::to(&format!("/l/{}?done=created", url.id.get())).into_response(),
        Err(error) => refused(&state, &say(&error)),
    }
}

pub async fn update_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<LinkForm>,
) -> Response {
    let (session, id) = match checked_link(&state, &headers, &form.csrf, id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let parsed = (|| {
        let title = match form.title.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(title) => Some(Title::parse(title).map_err(|e| e.problem)?),
        };
        Ok::<_, String>(UrlPatch {
            title: Some(title),
            is_active: Some(form.is_active.is_some()),
            target: Some(
                TargetUrl::parse(&form.original_url, state.policy).map_err(|e| e.problem)?,
            ),
            expires_at: Some(expiry_field(&form.expires_at)?),
            max_redirects: Some(budget_field(&form.max_redirects)?),
        })
    })();
    let patch = match parsed {
        Ok(patch) => patch,
        Err(problem) => return refused(&state, &problem),
    };
    match state.service.update_url(session.caller, id, &patch).await {
        Ok(_) => Redirect::to(&format!("/l/{}?done=saved", id.get())).into_response(),
        Err(error) => refused(&state, &say(&error)),
    }
}

pub async fn delete_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<TokenOnly>,
) -> Response {
    let (session, id) = match checked_link(&state, &headers, &form.csrf, id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state.service.delete_url(session.caller, id).await {
        Ok(()) => Redirect::to("/?done=deleted").into_response(),
        Err(error) => refused(&state, &say(&error)),
    }
}
