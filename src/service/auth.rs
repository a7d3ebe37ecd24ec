//! Who is calling, and what they may do.
//!
//! With authentication off (`KURZ_AUTH=off`, the contract mode) every caller
//! is the admin. With keys, a bearer token is the admin key (from
//! `KURZ_ADMIN_KEY[_FILE]`) or a user's key; a user's key acts only for that
//! user. The rule for somebody else's resource is 404: its existence is not
//! revealed. What only the admin may do (create users, import, metrics) is
//! 403 for a user's key.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Service, ServiceError, ServiceResult};
use crate::domain::{token_hash, token_matches, token_prefix, tokens_equal, Caller};

/// How the service authenticates.
#[derive(Debug, Clone, Default)]
pub enum AuthMode {
    /// Everyone is the admin: the hackathon contract, byte for byte.
    #[default]
    Off,
    /// Bearer keys; `admin_key_hash` is the SHA-256 of the admin key.
    Keys { admin_key_hash: Option<String> },
}

/// How often a key's `last_used_at` is written at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Authentication state shared by the service's clones.
pub(crate) struct Authenticator {
    mode: AuthMode,
    /// The admin key, once a request proved it against its hash.
    admin_verified: std::sync::OnceLock<Box<str>>,
}

impl Authenticator {
    pub(crate) fn new(mode: AuthMode) -> Self {
        Self {
            mode,
            admin_verified: std::sync::OnceLock::new(),
        }
    }
}

impl AuthMode {
    /// Keys mode with the given admin key (hashed here; the key itself is
    /// not kept).
    pub fn keys(admin_key: Option<&str>) -> Self {
        Self::Keys {
            admin_key_hash: admin_key.map(token_hash),
        }
    }

    pub fn is_off(&self) -> bool {
        matches!(self, Self::Off)
    }
}

impl Service {
    /// The caller a bearer token stands for; `None` for a missing, malformed,
    /// unknown or revoked token. Never logs the token.
    pub async fn authenticate(&self, token: Option<&str>) -> ServiceResult<Option<Caller>> {
        let admin_key_hash = match &self.auth.mode {
            AuthMode::Off => return Ok(Some(Caller::Admin)),
            AuthMode::Keys { admin_key_hash } => admin_key_hash,
        };
        let Some(token) = token else { return Ok(None) };
        if let Some(hash) = admin_key_hash {
            let admin = match self.auth.admin_verified.get() {
                Some(verified) => tokens_equal(token, verified),
                None => {
                    let matches = token_matches(token, hash);
                    if matches {
                        let _ = self.auth.admin_verified.set(token.into());
                    }
                    matches
                }
            };
            if admin {
                return Ok(Some(Caller::Admin));
            }
        }
        let Some(prefix) = token_prefix(token) else {
            return Ok(None);
        };
        let keys = self.links.keys();
        let cached = match keys.get(prefix) {
            Some(cached) => cached,
            None => {
                let epoch = keys.epoch();
                let Some(credential) = self.store.find_key(prefix).await? else {
                    return Ok(None);
                };
                keys.insert_unless_invalidated(prefix, credential, epoch)
            }
        };
        let credential = &cached.credential;
        // One SHA-256 per key per cache life; after that a constant-time
        // comparison with the token that passed it.
        let genuine = match cached.verified.get() {
            Some(verified) => tokens_equal(token, verified),
            None => {
                let matches = token_matches(token, &credential.secret_hash);
                if matches {
                    let _ = cached.verified.set(token.into());
                }
                matches
            }
        };
        if !genuine {
            return Ok(None);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = cached.last_touch.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= TOUCH_EVERY.as_secs()
            && cached
                .last_touch
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let store = self.store.clone();
            let key_id = credential.key_id;
            tokio::spawn(async move {
                if let Err(error) = store.touch_key(key_id).await {
                    tracing::debug!(%error, "could not record a key's last use");
                }
            });
        }
        Ok(Some(Caller::User(credential.user_id)))
    }

    /// Whether authentication is off (every caller is the admin).
    pub fn auth_is_off(&self) -> bool {
        self.auth.mode.is_off()
    }
}

/// Only the admin: 403 for a user's key.
pub(crate) fn require_admin(caller: Caller, what: &'static str) -> ServiceResult<()> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(what))
    }
}
