//! `Id`: the positive 64-bit integer that names a user, a link or an event.
//!
//! The contract's rule "an id is a positive integer" lives here and nowhere
//! else: a path segment, a body field or a stored row becomes an `Id` through
//! `Id::parse`, and everything past that point holds a valid one.

use std::fmt;

use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(i64);

impl Id {
    /// `None` for zero and negative numbers.
    pub fn new(raw: i64) -> Option<Self> {
        (raw > 0).then_some(Self(raw))
    }

    /// An id in a request: text that must read as a positive integer.
    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse::<i64>().ok().and_then(Self::new)
    }

    /// Like `new`, naming the field for a 400.
    pub fn field(field: &'static str, raw: i64) -> Result<Self, DomainError> {
        Self::new(raw).ok_or_else(|| DomainError::new(field, "must be a positive integer"))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_integers_are_ids() {
        for bad in ["0", "-1", "", " 1", "1.0", "abc", "9223372036854775808"] {
            assert_eq!(Id::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Id::parse("1").map(Id::get), Some(1));
        assert_eq!(
            Id::parse("9223372036854775807").map(Id::get),
            Some(i64::MAX)
        );
        assert!(Id::field("user_id", 0).is_err());
    }
}
