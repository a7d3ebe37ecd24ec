//! Bearer keys at the edge: the middleware on every protected route reads
//! `Authorization: Bearer <key>`, asks the service who that is, and either
//! stores the `Caller` for the handler or answers 401 JSON with
//! `WWW-Authenticate: Bearer`. Redirects, health and docs are outside it.
//! The token is never logged or put on a span.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::domain::Caller;
use crate::state::AppState;

/// The caller of a protected route, as the middleware established it.
pub struct Auth(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .copied()
            .map(Self)
            .ok_or(ApiError::Unauthorized)
    }
}

/// The token of an `Authorization: Bearer …` header, if there is one.
fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match state.service.authenticate(bearer(&request)).await {
        Ok(Some(caller)) => caller,
        Ok(None) => return ApiError::Unauthorized.into_response(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}
