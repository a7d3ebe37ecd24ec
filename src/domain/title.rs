//! `Title`: an optional label of at most 256 characters, trimmed.

use super::DomainError;

pub const MAX_TITLE_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > MAX_TITLE_CHARS {
            return Err(DomainError::new(
                "title",
                format!("must be at most {MAX_TITLE_CHARS} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError::new(
                "title",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_length_after_trimming() {
        assert!(Title::parse(&"t".repeat(257)).is_err());
        assert!(Title::parse(&format!("  {}  ", "t".repeat(256))).is_ok());
        assert_eq!(Title::parse("  hi ").unwrap().as_str(), "hi");
        assert!(Title::parse("a\u{0}b").is_err());
    }
}
