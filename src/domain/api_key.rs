//! API keys and who is calling.
//!
//! A token is `kurz_<prefix>_<secret>`: the prefix (8 base62 characters) is
//! public and finds the key; the secret (32 base62 characters, about 190 bits
//! from the operating system's CSPRNG) is shown once and stored only as the
//! SHA-256 of the whole token. Comparison is constant-time.

use chrono::NaiveDateTime;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Id;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIX_LEN: usize = 8;
const SECRET_LEN: usize = 32;
const SCHEME: &str = "kurz_";

/// Who a request acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The operator's key, or everyone when authentication is off.
    Admin,
    /// A user's key: acts only for that user.
    User(Id),
}

impl Caller {
    /// Whether the caller may act for `user_id`.
    pub fn acts_for(self, user_id: Id) -> bool {
        match self {
            Self::Admin => true,
            Self::User(id) => id == user_id,
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Self::Admin)
    }
}

/// A stored key as its owner sees it (never the secret).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: Id,
    pub user_id: Id,
    pub prefix: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

/// What authentication needs of a stored, unrevoked key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCredential {
    pub key_id: Id,
    pub user_id: Id,
    pub secret_hash: String,
}

/// A freshly made token: shown once, stored as `secret_hash`.
pub struct NewToken {
    pub token: String,
    pub prefix: String,
    pub secret_hash: String,
}

fn random_text(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect()
}

/// The SHA-256 of a token, as hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl NewToken {
    pub fn generate() -> Self {
        let prefix = format!("{SCHEME}{}", random_text(PREFIX_LEN));
        let token = format!("{prefix}_{}", random_text(SECRET_LEN));
        let secret_hash = token_hash(&token);
        Self {
            token,
            prefix,
            secret_hash,
        }
    }
}

/// The public prefix of a token that has the right shape, else `None`.
pub fn token_prefix(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(SCHEME)?;
    let (prefix, secret) = rest.split_once('_')?;
    let well_formed = prefix.len() == PREFIX_LEN
        && secret.len() == SECRET_LEN
        && prefix
            .bytes()
            .chain(secret.bytes())
            .all(|b| b.is_ascii_alphanumeric());
    well_formed.then(|| &token[..SCHEME.len() + PREFIX_LEN])
}

/// Whether two tokens are equal, in constant time.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Whether `token` hashes to `expected_hash`, in constant time.
pub fn token_matches(token: &str, expected_hash: &str) -> bool {
    token_hash(token)
        .as_bytes()
        .ct_eq(expected_hash.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_has_its_prefix_and_matches_only_its_hash() {
        let made = NewToken::generate();
        assert_eq!(token_prefix(&made.token), Some(made.prefix.as_str()));
        assert!(made.prefix.starts_with("kurz_") && made.prefix.len() == 13);
        assert!(token_matches(&made.token, &made.secret_hash));
        assert!(!token_matches(
            &NewToken::generate().token,
            &made.secret_hash
        ));
        assert_ne!(made.token, NewToken::generate().token);
        assert!(!made.secret_hash.contains(&made.token[14..]));
    }

    #[test]
    fn malformed_tokens_have_no_prefix() {
        for bad in [
            "",
            "kurz_",
            "kurz_abc_def",
            "Bearer x",
            "kurz_ABCDEFGH_short",
            "xkurz_ABCDEFGH_0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(token_prefix(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_user_acts_only_for_itself() {
        let me = Id::new(3).unwrap();
        assert!(Caller::User(me).acts_for(me));
        assert!(!Caller::User(me).acts_for(Id::new(4).unwrap()));
        assert!(Caller::Admin.acts_for(me));
    }
}
