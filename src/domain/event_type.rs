//! `EventType`: the kind of an event; the service writes `created`, `updated`,
//! `deleted` and `redirect`, clients may post any non-empty label.

use super::DomainError;

pub const MAX_EVENT_TYPE_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventType(String);

impl EventType {
    pub const CREATED: &'static str = "created";
    pub const UPDATED: &'static str = "updated";
    pub const DELETED: &'static str = "deleted";
    pub const REDIRECT: &'static str = "redirect";

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(DomainError::new("event_type", "must not be empty"));
        }
        if trimmed.chars().count() > MAX_EVENT_TYPE_CHARS {
            return Err(DomainError::new(
                "event_type",
                format!("must be at most {MAX_EVENT_TYPE_CHARS} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError::new(
                "event_type",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// One of the kinds the service itself writes.
    pub fn system(kind: &'static str) -> Self {
        Self(kind.to_owned())
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
    fn requires_a_non_empty_label() {
        assert!(EventType::parse("  ").is_err());
        assert!(EventType::parse(&"x".repeat(65)).is_err());
        assert_eq!(EventType::parse(" click ").unwrap().as_str(), "click");
    }
}
