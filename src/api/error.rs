//! `ApiError`: the one way a request fails, always as JSON
//! `{"error": "...", "details"?: {...}}`.
//!
//! Domain and store errors convert into it, so handlers use `?`. Internal
//! errors are logged here with their cause chain (the request span carries
//! the request id) and the client gets a generic message.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::DomainError;
use crate::service::ServiceError;
use crate::store::StoreError;

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad body, field, or query parameter; `details` names each field.
    #[error("{message}")]
    BadRequest {
        message: String,
        details: BTreeMap<String, String>,
    },
    /// No key, or one that is not (or no longer) valid.
    #[error("a valid API key is required: send Authorization: Bearer <key>")]
    Unauthorized,
    /// A valid key that may not do this at all.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A unique rule: username, email or short code already taken.
    #[error("{field} already taken")]
    Conflict { field: &'static str },
    #[error("this short link has been deactivated")]
    Gone,
    /// The client spent its budget; `Retry-After` says when to come back.
    #[error("rate limit exceeded")]
    TooManyRequests,
    /// The handler did not answer within the request deadline.
    #[error("the request took too long; try again")]
    TimedOut,
    #[error("request body too large")]
    PayloadTooLarge,
    /// The database cannot be reached; clients may retry.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal server error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: BTreeMap::new(),
        }
    }

    pub fn invalid_fields(details: BTreeMap<String, String>) -> Self {
        Self::BadRequest {
            message: "validation failed".into(),
            details,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Gone => StatusCode::GONE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        Self::invalid_fields(BTreeMap::from([(err.field.to_owned(), err.problem)]))
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            StoreError::Conflict(field) => Self::Conflict {
                field: field.name(),
            },
            StoreError::Unavailable(_) => Self::Unavailable(err),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::BadFile(message) => Self::bad_request(message),
            ServiceError::Forbidden(message) => Self::Forbidden(message.into()),
            ServiceError::Invalid(problem) => problem.into(),
            ServiceError::Store(store) => store.into(),
            ServiceError::Internal(error) => Self::Internal(error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::BadRequest { message, details } if !details.is_empty() => {
                json!({"error": message, "details": details})
            }
            Self::Conflict { field } => json!({
                "error": self.to_string(),
                "details": {*field: "already taken"},
            }),
            Self::Internal(cause) => {
                tracing::error!(error.cause_chain = ?cause, "request failed");
                json!({"error": self.to_string()})
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error.cause_chain = ?cause, "database unavailable");
                json!({"error": self.to_string()})
            }
            _ => json!({"error": self.to_string()}),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if matches!(self, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, Self::Unavailable(_) | Self::TimedOut) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
