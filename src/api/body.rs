//! Request bodies as their wire structs see them.
//!
//! Each body is ONE struct that serde deserializes and utoipa documents.
//! Its fields are `Field<T>`: deserializing never fails on a field, it
//! records what was sent (absent, null, a `T`, or a value of the wrong type),
//! so a body with three bad fields gets one 400 naming all three. The
//! struct's `into_*` method then turns fields into domain types through
//! `Problems`, which collects every rule a value breaks.

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::domain::DomainError;

/// One field of a JSON body, as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
    /// Present with the wrong JSON type; holds the problem.
    WrongType(String),
}

/// What a field must be, for the "wrong type" message.
pub trait Expected {
    const WHAT: &'static str;
    /// JSON Schema's `integer`: a number without a fractional part, so
    /// `7.0` is read as `7` (and `7.5` is a type error).
    const INTEGRAL: bool = false;
}

impl Expected for String {
    const WHAT: &'static str = "a string";
}

impl Expected for bool {
    const WHAT: &'static str = "a boolean";
}

impl Expected for i64 {
    const WHAT: &'static str = "an integer";
    const INTEGRAL: bool = true;
}

impl Expected for Map<String, Value> {
    const WHAT: &'static str = "a JSON object";
}

impl<'de, T> Deserialize<'de> for Field<T>
where
    T: serde::de::DeserializeOwned + Expected,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(Self::Null);
        }
        let kind = kind(&value);
        let value = match value.as_f64() {
            Some(f) if T::INTEGRAL && value.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e18 => {
                Value::from(f as i64)
            }
            _ => value,
        };
        Ok(match T::deserialize(value) {
            Ok(v) => Self::Value(v),
            Err(_) => Self::WrongType(format!("must be {}, not {kind}", T::WHAT)),
        })
    }
}

impl<T> Field<T> {
    pub fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// How a JSON value is named in messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Every problem of a body, field by field (the first one per field).
#[derive(Default)]
pub struct Problems(BTreeMap<String, String>);

impl Problems {
    pub fn add(&mut self, field: &str, problem: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| problem.into());
    }

    /// Keeps a domain parse result, recording its problem if it failed.
    pub fn check<T>(&mut self, parsed: Result<T, DomainError>) -> Option<T> {
        parsed.map_err(|e| self.add(e.field, e.problem)).ok()
    }

    /// A field that must be present and not null.
    pub fn required<T>(&mut self, name: &str, field: Field<T>) -> Option<T> {
        match field {
            Field::Value(v) => Some(v),
            Field::Absent | Field::Null => {
                self.add(name, "is required");
                None
            }
            Field::WrongType(problem) => {
                self.add(name, problem);
                None
            }
        }
    }

    /// A field that may be absent but not null.
    pub fn optional<T>(&mut self, name: &str, field: Field<T>) -> Option<T> {
        match field {
            Field::Value(v) => Some(v),
            Field::Absent => None,
            Field::Null => {
                self.add(name, "must not be null");
                None
            }
            Field::WrongType(problem) => {
                self.add(name, problem);
                None
            }
        }
    }

    /// Absent: `None`; null: `Some(None)`; a value: `Some(Some(..))`.
    pub fn nullable<T>(&mut self, name: &str, field: Field<T>) -> Option<Option<T>> {
        match field {
            Field::Value(v) => Some(Some(v)),
            Field::Null => Some(None),
            Field::Absent => None,
            Field::WrongType(problem) => {
                self.add(name, problem.replacen(", not", " or null, not", 1));
                None
            }
        }
    }

    /// Fails with every bad query parameter, if there was any.
    pub fn finish_query(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::BadRequest {
                message: "invalid query parameter".into(),
                details: self.0,
            })
        }
    }

    /// Fails with every problem found, if there was any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Probe {
        name: Field<String>,
        flag: Field<bool>,
        id: Field<i64>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_field_records_absent_null_value_or_its_type_problem() {
        let p = probe(r#"{"name": "x", "flag": null, "unknown": [1]}"#);
        assert_eq!(p.name, Field::Value("x".into()));
        assert_eq!(p.flag, Field::Null);
        assert_eq!(p.id, Field::Absent);
        let p = probe(r#"{"name": 5, "flag": "false", "id": 1.5}"#);
        assert_eq!(
            p.name,
            Field::WrongType("must be a string, not a number".into())
        );
        assert_eq!(
            p.flag,
            Field::WrongType("must be a boolean, not a string".into())
        );
        assert_eq!(
            p.id,
            Field::WrongType("must be an integer, not a number".into())
        );
    }

    #[test]
    fn problems_name_every_bad_field_at_once() {
        let p = probe(r#"{"name": 5, "flag": "x"}"#);
        let mut problems = Problems::default();
        problems.required("name", p.name);
        problems.optional("flag", p.flag);
        problems.required("id", p.id);
        let Err(ApiError::BadRequest { details, .. }) = problems.finish() else {
            panic!("expected a 400");
        };
        assert_eq!(details.len(), 3);
        assert_eq!(details["id"], "is required");
    }
}
