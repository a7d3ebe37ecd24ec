//! Extractors that reject with `ApiError`, so no bad request ever gets a
//! plain-text or empty answer.
//!
//! `JsonObject` accepts only a JSON object body; `Fields` then reads typed
//! fields out of it and collects every problem into one 400 with `details`.
//! `PathId` turns anything but a positive integer into a 404.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{header, request::Parts, StatusCode};
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::domain::{parse_details, DomainError};

/// A request body that is a JSON object, and nothing else.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
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
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(other) => Err(ApiError::bad_request(format!(
                "request body must be a JSON object, not {}",
                kind(&other)
            ))),
            Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads fields of a JSON object, collecting every problem before failing.
pub struct Fields<'a> {
    body: &'a Map<String, Value>,
    problems: BTreeMap<String, String>,
}

impl<'a> Fields<'a> {
    pub fn new(body: &'a Map<String, Value>) -> Self {
        Self {
            body,
            problems: BTreeMap::new(),
        }
    }

    fn problem(&mut self, field: &str, text: impl Into<String>) {
        self.problems
            .entry(field.to_owned())
            .or_insert_with(|| text.into());
    }

    /// Whether the body names this field at all (even as null).
    pub fn has(&self, field: &str) -> bool {
        self.body.contains_key(field)
    }

    /// A string that must be present.
    pub fn required_str(&mut self, field: &str) -> Option<&'a str> {
        match self.body.get(field) {
            None | Some(Value::Null) => {
                self.problem(field, "is required");
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                self.problem(field, format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    /// Absent: `None`; present: a string, which must not be null.
    pub fn optional_str(&mut self, field: &str) -> Option<&'a str> {
        match self.body.get(field) {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                self.problem(field, format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    /// Absent: `None`; null: `Some(None)`; a string: `Some(Some(..))`.
    pub fn nullable_str(&mut self, field: &str) -> Option<Option<&'a str>> {
        match self.body.get(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s)),
            Some(other) => {
                self.problem(
                    field,
                    format!("must be a string or null, not {}", kind(other)),
                );
                None
            }
        }
    }

    /// Absent: `None`; present: a JSON boolean (not a string, not 0/1).
    pub fn optional_bool(&mut self, field: &str) -> Option<bool> {
        match self.body.get(field) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.problem(field, format!("must be a boolean, not {}", kind(other)));
                None
            }
        }
    }

    /// An integer id that must be present.
    pub fn required_id(&mut self, field: &str) -> Option<i64> {
        match self.nullable_id(field) {
            Some(Some(id)) => Some(id),
            Some(None) | None if !self.problems.contains_key(field) => {
                self.problem(field, "is required");
                None
            }
            _ => None,
        }
    }

    /// Absent or null: `Some(None)` / `None`; otherwise a JSON integer.
    pub fn nullable_id(&mut self, field: &str) -> Option<Option<i64>> {
        match self.body.get(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(id) => Some(Some(id)),
                None => {
                    self.problem(field, "must be an integer");
                    None
                }
            },
            Some(other) => {
                self.problem(field, format!("must be an integer, not {}", kind(other)));
                None
            }
        }
    }

    /// Event details: absent or null is an empty object (see `parse_details`).
    pub fn details(&mut self, field: &str) -> Map<String, Value> {
        let raw = self.body.get(field).cloned().unwrap_or(Value::Null);
        self.check(parse_details(raw)).unwrap_or_default()
    }

    /// Keeps a domain parse result, recording its problem if it failed.
    pub fn check<T>(&mut self, parsed: Result<T, DomainError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(e) => {
                self.problem(e.field, e.problem);
                None
            }
        }
    }

    /// Fails with every problem found, if there was any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.problems))
        }
    }
}

/// A path id: a positive integer, or the resource does not exist (404).
pub struct PathId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("not found".into()))?;
        match raw.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Self(id)),
            _ => Err(ApiError::NotFound("not found".into())),
        }
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
