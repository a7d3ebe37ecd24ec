//! Event `details`: always a JSON object, and free of U+0000 (which
//! PostgreSQL can store neither in text nor in JSONB).
//!
//! Two doors: `parse_details` for a value a request body already parsed,
//! and `check_details_text` for JSON text (an imported CSV cell), which
//! applies the same rules while reading the text once, without building
//! the object, and hands the text on as it is.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
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

/// JSON text of an object (empty or `null`: `{}`), checked as
/// `parse_details` checks a value: the text it returns is the one given,
/// trimmed. The parser is serde_json's, so numbers, escapes and nesting
/// are refused exactly where a parse into a `Value` refuses them.
pub fn check_details_text(raw: &str) -> Result<&str, DomainError> {
    let text = raw.trim();
    if text.is_empty() || text == "null" {
        return Ok("{}");
    }
    if !text.starts_with('{') {
        return Err(DomainError::new("details", "must be a JSON object"));
    }
    match serde_json::from_str::<NulFree>(text) {
        Ok(NulFree) => Ok(text),
        Err(e) if e.is_data() => Err(DomainError::new(
            "details",
            "must not contain NUL characters",
        )),
        Err(_) => Err(DomainError::new("details", "must be a JSON object")),
    }
}

/// Any JSON value whose strings and keys hold no U+0000; nothing kept.
struct NulFree;

impl<'de> Deserialize<'de> for NulFree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NulFreeVisitor)
    }
}

struct NulFreeVisitor;

impl<'de> Visitor<'de> for NulFreeVisitor {
    type Value = NulFree;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON without NUL characters")
    }

    fn visit_bool<E>(self, _: bool) -> Result<NulFree, E> {
        Ok(NulFree)
    }

    fn visit_i64<E>(self, _: i64) -> Result<NulFree, E> {
        Ok(NulFree)
    }

    fn visit_u64<E>(self, _: u64) -> Result<NulFree, E> {
        Ok(NulFree)
    }

    fn visit_f64<E>(self, _: f64) -> Result<NulFree, E> {
        Ok(NulFree)
    }

    fn visit_unit<E>(self) -> Result<NulFree, E> {
        Ok(NulFree)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<NulFree, E> {
        if text.contains('\0') {
            return Err(E::custom("NUL character"));
        }
        Ok(NulFree)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<NulFree, A::Error> {
        while items.next_element::<NulFree>()?.is_some() {}
        Ok(NulFree)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<NulFree, A::Error> {
        while entries.next_entry::<NulFree, NulFree>()?.is_some() {}
        Ok(NulFree)
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

    #[test]
    fn text_passes_exactly_when_its_parsed_value_would() {
        for text in [
            "",
            " null ",
            "{}",
            r#"{"a": [1, {"b": "c"}], "d": 1.5e3, "e": "\u00e9\n"}"#,
            r#"{"a": "\u0000"}"#,
            r#"{"\u0000": 1}"#,
            r#"{"a": ["x", "\u0000"]}"#,
            r#"{"a": 1e400}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1,}"#,
            "[1]",
            "3",
            "\"x\"",
            "{'a': 1}",
        ] {
            let by_value =
                serde_json::from_str::<Value>(if text.trim().is_empty() { "null" } else { text })
                    .map_err(|_| ())
                    .and_then(|v| parse_details(v).map_err(|_| ()));
            let by_text = check_details_text(text);
            assert_eq!(by_value.is_ok(), by_text.is_ok(), "{text}");
            if let (Ok(map), Ok(checked)) = (by_value, by_text) {
                let reread: Value = serde_json::from_str(checked).unwrap();
                assert_eq!(reread, Value::Object(map), "{text}");
            }
        }
    }
}
