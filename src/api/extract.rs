//! Extractors that reject with `ApiError`, so no bad request ever gets a
//! plain-text or empty answer.
//!
//! `JsonBody<T>` accepts only a JSON object body and deserializes it into
//! the wire struct `T` (see `body`); `PathId` turns anything but a positive
//! integer into a 404.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{header, request::Parts, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::body::kind;
use super::error::ApiError;
use crate::domain::Id;

/// A request body that is a JSON object, read into the wire struct `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
            let is_json = content_type
                .to_str()
                .map(|ct| {
                    let essence = ct
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase();
                    essence == "application/json" || essence.ends_with("+json")
                })
                .unwrap_or(false);
            if !is_json {
                return Err(ApiError::bad_request(
                    "Content-Type must be application/json",
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::bad_request("could not read the request body")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("request body must be a JSON object"));
        }
        let starts_as_object = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{');
        if starts_as_object {
            // Fields never fail to deserialize (see `body::Field`), so an
            // error here is malformed JSON.
            return serde_json::from_slice::<T>(&bytes)
                .map(Self)
                .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(other) => Err(ApiError::bad_request(format!(
                "request body must be a JSON object, not {}",
                kind(&other)
            ))),
            Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
        }
    }
}

/// A path id: a positive integer, or the resource does not exist (404).
pub struct PathId(pub Id);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("not found".into()))?;
        Id::parse(&raw)
            .map(Self)
            .ok_or_else(|| ApiError::NotFound("not found".into()))
    }
}

/// A path segment taken as text, with a JSON 404 for undecodable input.
pub struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(raw)| Self(raw))
            .map_err(|_| ApiError::NotFound("short code not found".into()))
    }
}
