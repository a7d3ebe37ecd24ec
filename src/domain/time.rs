//! Timestamps: UTC, whole seconds, written `YYYY-MM-DDTHH:MM:SS`.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};

const WIRE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";
const SPACED_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

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

/// The first and last moments every store keeps: years 1 to 9999.
pub fn moment_bounds() -> (NaiveDateTime, NaiveDateTime) {
    let first = NaiveDate::from_ymd_opt(1, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).and_then(|d| d.and_hms_opt(23, 59, 59));
    (
        first.unwrap_or(NaiveDateTime::MIN),
        last.unwrap_or(NaiveDateTime::MAX),
    )
}

/// Reads a moment a client chooses (an expiry, a report's range): the
/// API's own format (UTC) or RFC 3339 with an offset (converted to UTC),
/// to the second, held within years 1–9999, which every store keeps (a
/// moment before is as past, one after as far, as the bound).
pub fn parse_moment(raw: &str) -> Option<NaiveDateTime> {
    let moment = parse_timestamp(raw).or_else(|| {
        DateTime::parse_from_rfc3339(raw.trim())
            .ok()
            .map(|at| at.naive_utc())
    })?;
    let moment = moment.with_nanosecond(0).unwrap_or(moment);
    let (first, last) = moment_bounds();
    Some(moment.clamp(first, last))
}

/// The wire form of a timestamp: `YYYY-MM-DDTHH:MM:SS`.
pub fn format_timestamp(value: &NaiveDateTime) -> Timestamp<'_> {
    Timestamp { value, sep: b'T' }
}

/// `YYYY-MM-DD HH:MM:SS`: the form both engines read back exactly (event
/// batches, CSV).
pub fn format_spaced_timestamp(value: &NaiveDateTime) -> Timestamp<'_> {
    Timestamp { value, sep: b' ' }
}

/// A timestamp written digit by digit: chrono's format-string machinery took
/// a quarter of the CPU of streaming a 1,000-row list.
pub struct Timestamp<'a> {
    value: &'a NaiveDateTime,
    sep: u8,
}

impl Timestamp<'_> {
    /// The 19 ASCII bytes, for a year of four digits (0..=9999); `None`
    /// outside that, where chrono's rules (sign, width) apply.
    pub fn ascii(&self) -> Option<[u8; 19]> {
        let v = self.value;
        let year @ 0..=9999 = u32::try_from(v.year()).ok()? else {
            return None;
        };
        let mut out = *b"0000-00-00T00:00:00";
        digits(&mut out[0..4], year);
        digits(&mut out[5..7], v.month());
        digits(&mut out[8..10], v.day());
        out[10] = self.sep;
        digits(&mut out[11..13], v.hour());
        digits(&mut out[14..16], v.minute());
        digits(&mut out[17..19], v.second());
        Some(out)
    }
}

impl fmt::Display for Timestamp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ascii() {
            // Only ASCII digits and separators were written.
            Some(out) => f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?),
            None => {
                let format = if self.sep == b'T' {
                    WIRE_FORMAT
                } else {
                    SPACED_FORMAT
                };
                write!(f, "{}", self.value.format(format))
            }
        }
    }
}

/// Writes `value` right-aligned into `out` in decimal, zero-padded.
fn digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_take_the_wire_format_or_rfc_3339_and_stay_within_the_stores_years() {
        let wire = parse_moment("2030-01-31T23:59:59").unwrap();
        assert_eq!(parse_moment("2030-02-01T01:59:59.5+02:00"), Some(wire));
        assert_eq!(parse_moment("2030-01-31T23:59:59Z"), Some(wire));
        assert_eq!(parse_moment("0000-01-01T00:00:00+05:00").unwrap().year(), 1);
        assert_eq!(
            parse_moment("9999-12-31T23:59:59-05:00").unwrap().year(),
            9999
        );
        assert_eq!(parse_moment("2030-02-31T00:00:00Z"), None);
        assert_eq!(parse_moment("tomorrow"), None);
    }

    #[test]
    fn reads_both_wire_and_csv_forms() {
        let a = parse_timestamp("2025-09-19T22:25:05").unwrap();
        let b = parse_timestamp("2025-09-19 22:25:05").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.format(WIRE_FORMAT).to_string(), "2025-09-19T22:25:05");
        assert!(parse_timestamp("19/09/2025").is_none());
        assert!(parse_timestamp("").is_none());
    }

    #[test]
    fn the_fast_forms_match_chrono_for_every_year_shape() {
        let day = chrono::Duration::days(1);
        let mut samples = vec![
            NaiveDateTime::MIN,
            NaiveDateTime::MAX,
            parse_timestamp("0000-01-01T00:00:00").unwrap(),
            parse_timestamp("9999-12-31T23:59:59").unwrap(),
            parse_timestamp("1970-01-01T00:00:00").unwrap(),
        ];
        let mut t = parse_timestamp("1899-12-31T23:59:59").unwrap();
        for i in 0..2000 {
            t += day * 37 + chrono::Duration::seconds(3607 * i);
            samples.push(t);
        }
        for v in samples {
            assert_eq!(
                format_timestamp(&v).to_string(),
                v.format(WIRE_FORMAT).to_string()
            );
            assert_eq!(
                format_spaced_timestamp(&v).to_string(),
                v.format(SPACED_FORMAT).to_string()
            );
        }
    }
}
