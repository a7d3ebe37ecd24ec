//! When a link stops answering: at a moment (`expires_at`) or after a
//! number of redirects (`max_redirects`). Past either, a redirect answers
//! 410 like a deactivated link.

use chrono::NaiveDateTime;

use super::{parse_moment, DomainError};

/// A positive redirect budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxRedirects(i64);

impl MaxRedirects {
    pub fn parse(raw: i64) -> Result<Self, DomainError> {
        if raw < 1 {
            return Err(DomainError::new(
                "max_redirects",
                "must be a positive integer",
            ));
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// Reads an `expires_at` (see `parse_moment`).
pub fn parse_expiry(raw: &str) -> Result<NaiveDateTime, DomainError> {
    parse_moment(raw).ok_or_else(|| {
        DomainError::new(
            "expires_at",
            "must be a timestamp like 2030-01-31T23:59:59 (UTC) or 2030-01-31T23:59:59+01:00",
        )
    })
}

/// Whether a link whose expiry is `expires_at` is past it at `now`: the
/// link answers until the second it names, and not from then on.
pub fn is_expired(expires_at: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    expires_at.is_some_and(|at| now >= at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_positive() {
        assert!(MaxRedirects::parse(0).is_err());
        assert!(MaxRedirects::parse(-3).is_err());
        assert_eq!(MaxRedirects::parse(100).unwrap().get(), 100);
    }

    #[test]
    fn expiry_reads_the_wire_format_and_ends_at_its_second() {
        let at = parse_expiry("2030-01-31T23:59:59").unwrap();
        assert!(parse_expiry("next week").is_err());
        assert!(!is_expired(
            Some(at),
            parse_expiry("2030-01-31T23:59:58").unwrap()
        ));
        assert!(is_expired(Some(at), at));
        assert!(!is_expired(None, at));
    }
}
