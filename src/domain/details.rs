//! Event `details`: always a JSON object, and free of U+0000 (which
//! PostgreSQL can store neither in text nor in JSONB).

use serde_json::{Map, Value};

use super::DomainError;

/// `null` means an empty object; anything but an object is refused.
pub fn parse_details(value: Value) -> Result<Map<String, Value>, DomainError> {
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(map) if map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)) => Err(
            DomainError::new("details", "must not contain NUL characters"),
        ),
        Value::Object(map) => Ok(map),
        _ => Err(DomainError::new("details", "must be a JSON object")),
    }
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_objects_without_nul_pass() {
        assert!(parse_details(json!(null)).unwrap().is_empty());
        assert!(parse_details(json!({"a": [1, {"b": "c"}]})).is_ok());
        for bad in [
            json!("x"),
            json!([1]),
            json!(3),
            json!({"a": ["\u{0}"]}),
            json!({"\u{0}": 1}),
        ] {
            assert!(parse_details(bad.clone()).is_err(), "{bad}");
        }
    }
}
