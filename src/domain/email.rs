//! `Email`: the contract's shape `^[^@\s]+@[^@\s]+\.[^@\s]+$`, at most 254 characters.
//!
//! Uniqueness is case-insensitive, so every email also carries a `key()`
//! (Unicode lowercase) that the store indexes; the address itself is kept as sent.

use super::DomainError;

pub const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > MAX_EMAIL_CHARS {
            return Err(DomainError::new(
                "email",
                format!("must be at most {MAX_EMAIL_CHARS} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) || !has_email_shape(trimmed) {
            return Err(DomainError::new("email", "must be a valid email address"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// `local@domain.tld` where no part is empty and none holds `@` or white space.
/// The last dot of the domain splits it: `a@b.c.d` is fine, `a@b.` is not.
fn has_email_shape(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty() || domain.contains('@') {
        return false;
    }
    // The regex lets the dot be any dot with text on both sides.
    domain
        .char_indices()
        .any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_the_contract_rejects() {
        let too_long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "plain",
            "a@b",
            "@b.com",
            "a@.",
            "a@b.",
            "a b@c.com",
            "a@@b.com",
            "a@b@c.com",
            "a@b .com",
            "a\u{0}b@c.de",
            &too_long,
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn accepts_ordinary_addresses_and_keys_them_case_insensitively() {
        for good in ["a@b.co", "first.last+tag@sub.example.org", " x@y.z "] {
            assert!(Email::parse(good).is_ok(), "{good:?} should be accepted");
        }
        assert_eq!(
            Email::parse("Ann@Example.COM").unwrap().key(),
            "ann@example.com"
        );
        assert_eq!(
            Email::parse("Ann@Example.COM").unwrap().as_str(),
            "Ann@Example.COM"
        );
    }

    #[test]
    fn a_dot_at_the_start_of_the_domain_is_not_enough() {
        assert!(Email::parse("a@.com").is_err());
        assert!(Email::parse("a@x.com").is_ok());
    }
}
