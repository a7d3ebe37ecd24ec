//! `Username`: a trimmed, non-empty name of at most 64 characters.

use super::DomainError;

pub const MAX_USERNAME_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(DomainError::new("username", "must not be empty"));
        }
        if trimmed.chars().count() > MAX_USERNAME_CHARS {
            return Err(DomainError::new(
                "username",
                format!("must be at most {MAX_USERNAME_CHARS} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError::new(
                "username",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_blank_and_too_long_names() {
        for bad in ["", "   ", "\t\n", &"a".repeat(65), "a\u{0}b"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn trims_and_counts_characters_not_bytes() {
        assert_eq!(Username::parse("  alice ").unwrap().as_str(), "alice");
        let sixty_four_umlauts = "ü".repeat(64);
        assert!(Username::parse(&sixty_four_umlauts).is_ok());
    }
}
