//! The visitor hash: who came back, without keeping who they are.
//!
//! A visitor is `SHA-256(salt of the day ‖ IP ‖ user agent)`, cut to 63
//! bits. The day's salt is `SHA-256(secret ‖ day)`: it changes at midnight
//! UTC, so the same person is a new visitor every day and hashes of two
//! days cannot be joined; every replica with the same secret derives the
//! same salt, so their counts agree. The secret lives only in the
//! configuration (or, unset, in this process's memory), never beside the
//! data; the raw IP is never stored anywhere.

use std::net::IpAddr;
use std::sync::Mutex;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

/// Derives each day's salt from a secret, and keeps the current day's.
pub struct Salter {
    secret: Vec<u8>,
    /// The last day asked for and its salt: every redirect of a day
    /// needs the same one.
    current: Mutex<Option<(NaiveDate, [u8; 32])>>,
}

impl std::fmt::Debug for Salter {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salter(..)")
    }
}

impl Salter {
    pub fn new(secret: Vec<u8>) -> Self {
        Self {
            secret,
            current: Mutex::new(None),
        }
    }

    /// A random secret, for a process that was given none.
    pub fn random() -> Self {
        Self::new(rand::random::<[u8; 32]>().to_vec())
    }

    fn salt(&self, day: NaiveDate) -> [u8; 32] {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match *current {
            Some((known, salt)) if known == day => salt,
            _ => {
                let salt = self.derive(day);
                *current = Some((day, salt));
                salt
            }
        }
    }

    fn derive(&self, day: NaiveDate) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"kurz visitor salt\0");
        hasher.update(&self.secret);
        hasher.update(day.to_string().as_bytes());
        hasher.finalize().into()
    }

    /// The visitor behind `ip` and `user_agent` on `day`.
    pub fn visitor(&self, day: NaiveDate, ip: Option<IpAddr>, user_agent: Option<&str>) -> i64 {
        let mut hasher = Sha256::new();
        hasher.update(self.salt(day));
        match ip {
            Some(IpAddr::V4(v4)) => hasher.update(v4.octets()),
            Some(IpAddr::V6(v6)) => hasher.update(v6.octets()),
            None => hasher.update(b"no address"),
        }
        hasher.update(b"\0");
        hasher.update(user_agent.unwrap_or_default().as_bytes());
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        // 63 bits: a non-negative BIGINT in both stores.
        (u64::from_be_bytes(first) >> 1) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_is_stable_within_a_day_and_new_the_next_day() {
        let salter = Salter::new(b"a secret of sixteen+".to_vec());
        let day = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let same = salter.visitor(day, Some(ip), Some("ua"));
        assert_eq!(same, salter.visitor(day, Some(ip), Some("ua")));
        assert!(same >= 0);
        assert_ne!(
            same,
            salter.visitor(day.succ_opt().unwrap(), Some(ip), Some("ua"))
        );
        // The kept salt follows the day asked for, back as well.
        assert_eq!(same, salter.visitor(day, Some(ip), Some("ua")));
        assert_ne!(
            same,
            salter.visitor(day, Some("203.0.113.8".parse().unwrap()), Some("ua"))
        );
        assert_ne!(same, salter.visitor(day, Some(ip), Some("other ua")));
        let other_secret = Salter::new(b"another secret....".to_vec());
        assert_ne!(same, other_secret.visitor(day, Some(ip), Some("ua")));
    }
}
