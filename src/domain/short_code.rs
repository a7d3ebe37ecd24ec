//! `ShortCode`: the public key of a link.
//!
//! Generated codes are 6 base62 characters drawn from the operating system's
//! CSPRNG-seeded `ThreadRng` (ChaCha); custom aliases are 3..=32 characters of
//! `[A-Za-z0-9_-]` and may not be a reserved first path segment.

use std::sync::Arc;

use rand::Rng;

use super::DomainError;

/// First path segments that belong to the API and can never be codes.
pub const RESERVED_WORDS: &[&str] = &[
    "users",
    "urls",
    "events",
    "health",
    "metrics",
    "openapi.json",
    "docs",
];

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const GENERATED_LEN: usize = 6;
const MIN_ALIAS_LEN: usize = 3;
const MAX_CODE_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShortCode(String);

impl ShortCode {
    /// Any code the service could have stored: 1..=32 code characters. Used
    /// for look-ups and imports, where a shorter legacy code may exist.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_CODE_LEN || !raw.bytes().all(is_code_byte) {
            return Err(DomainError::new(
                "short_code",
                "must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A custom alias asked for by a client.
    pub fn parse_alias(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        if raw.len() < MIN_ALIAS_LEN || raw.len() > MAX_CODE_LEN || !raw.bytes().all(is_code_byte) {
            return Err(DomainError::new(
                "short_code",
                "must be 3 to 32 characters of A-Z, a-z, 0-9, '_' or '-'",
            ));
        }
        if is_reserved(raw) {
            return Err(DomainError::new("short_code", "is a reserved word"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A fresh random code; the store retries on the rare collision.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let code = (0..GENERATED_LEN)
            .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
            .collect();
        Self(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where fresh codes come from: the CSPRNG by default; tests hand in a
/// fixed sequence to force collisions and watch the retry.
#[derive(Clone)]
pub struct CodeSource(Arc<dyn Fn() -> ShortCode + Send + Sync>);

impl CodeSource {
    pub fn random() -> Self {
        Self(Arc::new(ShortCode::generate))
    }

    pub fn from_fn(next: impl Fn() -> ShortCode + Send + Sync + 'static) -> Self {
        Self(Arc::new(next))
    }

    pub fn next_code(&self) -> ShortCode {
        (self.0)()
    }
}

impl Default for CodeSource {
    fn default() -> Self {
        Self::random()
    }
}

impl std::fmt::Debug for CodeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeSource")
    }
}

fn is_code_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_reserved(code: &str) -> bool {
    RESERVED_WORDS.iter().any(|w| w.eq_ignore_ascii_case(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn aliases_follow_the_length_charset_and_reserved_rules() {
        for bad in [
            "ab",
            "",
            "has space",
            "slash/x",
            "dot.x",
            &"a".repeat(33),
            "USERS",
            "Docs",
            "ünï",
        ] {
            assert!(
                ShortCode::parse_alias(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        for good in ["abc", "my-link_2", &"Z".repeat(32)] {
            assert!(
                ShortCode::parse_alias(good).is_ok(),
                "{good:?} should be accepted"
            );
        }
    }

    #[test]
    fn generated_codes_are_six_base62_chars_and_spread_out() {
        let codes: HashSet<String> = (0..2000).map(|_| ShortCode::generate().0).collect();
        assert!(codes.len() > 1990, "too many collisions: {}", codes.len());
        assert!(codes
            .iter()
            .all(|c| c.len() == GENERATED_LEN && c.bytes().all(|b| b.is_ascii_alphanumeric())));
    }
}
