//! Target domains an operator refuses: one per line, `#` comments; a domain
//! also covers its subdomains (`example.com` refuses `a.example.com`).

use std::collections::HashSet;

use super::{DomainError, TargetUrl};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenyList(HashSet<String>);

impl DenyList {
    /// Reads the file's text; blank lines and comments are skipped.
    pub fn parse(text: &str) -> Self {
        Self(
            text.lines()
                .map(|line| line.split('#').next().unwrap_or("").trim())
                .filter(|line| !line.is_empty())
                .map(|line| line.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Refuses a target whose host is listed or under a listed domain.
    pub fn check(&self, target: &TargetUrl) -> Result<(), DomainError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let host = target.host().to_ascii_lowercase();
        let mut rest = host.trim_end_matches('.');
        loop {
            if self.0.contains(rest) {
                return Err(DomainError::new(
                    "original_url",
                    "this domain is not allowed",
                ));
            }
            match rest.split_once('.') {
                Some((_, parent)) => rest = parent,
                None => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TargetPolicy;

    fn url(raw: &str) -> TargetUrl {
        TargetUrl::parse(raw, TargetPolicy::default()).unwrap()
    }

    #[test]
    fn a_listed_domain_and_its_subdomains_are_refused() {
        let list = DenyList::parse("# spam\nEvil.example.\n\nbad.test # phishing\n");
        assert_eq!(list.len(), 2);
        assert!(list.check(&url("https://evil.example/x")).is_err());
        assert!(list.check(&url("https://a.b.EVIL.example")).is_err());
        assert!(list.check(&url("http://bad.test:8080")).is_err());
        assert!(list.check(&url("https://notevil.example")).is_ok());
        assert!(list.check(&url("https://example")).is_ok());
    }
}
