//! Timestamps: UTC, whole seconds, written `YYYY-MM-DDTHH:MM:SS`.

use chrono::{NaiveDateTime, Timelike, Utc};

const WIRE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// Now, truncated to the second so a stored value reads back exactly as sent.
pub fn now_utc() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond(0).unwrap_or(now)
}

/// Reads `YYYY-MM-DDTHH:MM:SS` or `YYYY-MM-DD HH:MM:SS` (CSV), with an
/// optional fraction that is dropped.
pub fn parse_timestamp(raw: &str) -> Option<NaiveDateTime> {
    let raw = raw.trim();
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
        .map(|t| t.with_nanosecond(0).unwrap_or(t))
}

/// The wire form of a timestamp: `YYYY-MM-DDTHH:MM:SS`.
pub fn format_timestamp(value: &NaiveDateTime) -> impl std::fmt::Display + '_ {
    value.format(WIRE_FORMAT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_wire_and_csv_forms() {
        let a = parse_timestamp("2025-09-19T22:25:05").unwrap();
        let b = parse_timestamp("2025-09-19 22:25:05").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.format(WIRE_FORMAT).to_string(), "2025-09-19T22:25:05");
        assert!(parse_timestamp("19/09/2025").is_none());
        assert!(parse_timestamp("").is_none());
    }
}
