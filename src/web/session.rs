//! Who is using the web page, and proof that a form came from it.
//!
//! The session cookie holds what the API would be sent: with keys on, the
//! user's API key (asked for once); with keys off, the id of the user the
//! visitor chose. It is `HttpOnly` (no script reads it), `SameSite=Strict`
//! (no other site's page sends it) and `Secure` behind an https public URL.
//! Every form also carries a CSRF token that must equal the `kurz_csrf`
//! cookie (double submit), compared in constant time.

use axum::http::{header, HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use crate::domain::{Caller, Id};
use crate::service::Service;

pub const SESSION_COOKIE: &str = "kurz_session";
pub const CSRF_COOKIE: &str = "kurz_csrf";

/// A signed-in visitor: the user whose links the page shows, and the
/// caller the service checks every action against.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub user_id: Id,
    pub caller: Caller,
}

/// The value of cookie `name` in the request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The session the cookie names, if it still holds: the key still works
/// (keys on), or the user still exists (keys off).
pub async fn current(service: &Service, headers: &HeaderMap) -> Option<Session> {
    let value = cookie(headers, SESSION_COOKIE)?;
    resolve(service, value).await
}

/// What a session cookie value (or a sign-in form's answer) stands for.
pub async fn resolve(service: &Service, value: &str) -> Option<Session> {
    if service.auth_is_off() {
        let user_id = Id::new(value.parse().ok()?)?;
        service.get_user(Caller::Admin, user_id).await.ok()?;
        return Some(Session {
            user_id,
            caller: Caller::Admin,
        });
    }
    match service.authenticate(Some(value)).await.ok()?? {
        Caller::User(user_id) => Some(Session {
            user_id,
            caller: Caller::User(user_id),
        }),
        // The admin acts for everyone; the page is for one user's links.
        Caller::Admin => None,
    }
}

/// A `Set-Cookie` value; `max_age` 0 removes the cookie.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u32>) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if secure {
        text.push_str("; Secure");
    }
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    // Names and values here are ASCII without control characters: an API
    // key, a number or hex.
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("kurz_invalid=1"))
}

/// A fresh CSRF token.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Whether a form's token matches the request's CSRF cookie.
pub fn token_matches(headers: &HeaderMap, sent: &str) -> bool {
    match cookie(headers, CSRF_COOKIE) {
        Some(expected) if !sent.is_empty() => expected.as_bytes().ct_eq(sent.as_bytes()).into(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others_and_tokens_must_match_them() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kurz_csrf=abc; kurz_session=7"),
        );
        assert_eq!(cookie(&headers, "kurz_session"), Some("7"));
        assert_eq!(cookie(&headers, "missing"), None);
        assert!(token_matches(&headers, "abc"));
        assert!(!token_matches(&headers, "abd"));
        assert!(!token_matches(&headers, ""));
        let set = set_cookie("kurz_session", "7", true, Some(0));
        assert_eq!(
            set,
            "kurz_session=7; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0"
        );
    }
}
