//! `TargetUrl`: where a short link sends its visitors.
//!
//! An absolute `http`/`https` URL with a host, no credentials, at most 2048
//! characters. Private and loopback hosts are allowed unless the
//! `TargetPolicy` says otherwise. The text is stored as sent (trimmed); the
//! redirect uses it verbatim when it is a valid header value.

use std::net::IpAddr;

use url::{Host, Url};

use super::DomainError;

pub const MAX_URL_CHARS: usize = 2048;

/// What the operator allows as a target.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetPolicy {
    /// Refuse loopback, private, link-local and `localhost` targets.
    pub block_private_hosts: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(String);

impl TargetUrl {
    pub fn parse(raw: &str, policy: TargetPolicy) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        let invalid = |problem: &str| Err(DomainError::new("original_url", problem));
        if trimmed.is_empty() {
            return invalid("must not be empty");
        }
        if trimmed.chars().count() > MAX_URL_CHARS {
            return invalid("must be at most 2048 characters");
        }
        if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return invalid("must not contain white space or control characters");
        }
        let Ok(parsed) = Url::parse(trimmed) else {
            return invalid("must be an absolute http or https URL");
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            return invalid("scheme must be http or https");
        }
        let Some(host) = parsed.host() else {
            return invalid("must have a host");
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return invalid("must not contain credentials");
        }
        if policy.block_private_hosts && is_private(&host) {
            return invalid("private and loopback hosts are not allowed");
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_private(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => {
            let d = d.to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost") || d.ends_with(".local")
        }
        Host::Ipv4(ip) => is_private_ip(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => is_private_ip(IpAddr::V6(*ip)),
    }
}

fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1])
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private_ip(IpAddr::V4(v4)))
        }
    }
}

/// The `Location` for a redirect: the stored target with the short link's own
/// query string appended to the target's (before any fragment). Falls back to
/// the URL parser's ASCII serialisation when the stored text is not a valid
/// header value (non-ASCII hosts or paths).
pub fn redirect_location(target: &str, extra_query: Option<&str>) -> String {
    let base = if target.bytes().all(|b| b.is_ascii_graphic()) {
        target.to_owned()
    } else {
        Url::parse(target).map_or_else(|_| target.to_owned(), String::from)
    };
    let Some(extra) = extra_query.filter(|q| !q.is_empty()) else {
        return base;
    };
    let (before_fragment, fragment) = match base.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (base.as_str(), None),
    };
    let separator = match before_fragment.find('?') {
        Some(i) if i + 1 == before_fragment.len() => "",
        Some(_) if before_fragment.ends_with('&') => "",
        Some(_) => "&",
        None => "?",
    };
    let mut out = format!("{before_fragment}{separator}{extra}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: TargetPolicy = TargetPolicy {
        block_private_hosts: false,
    };
    const CLOSED: TargetPolicy = TargetPolicy {
        block_private_hosts: true,
    };

    #[test]
    fn rejects_what_the_contract_rejects() {
        let long = format!("https://example.com/{}", "a".repeat(2040));
        for bad in [
            "",
            "   ",
            "hello",
            "example.com",
            "ftp://x",
            "javascript:alert(1)",
            "http://",
            "https://user@host.com",
            "https://u:p@host.com/",
            "mailto:a@b.c",
            "//example.com",
            "https://exa mple.com",
            &long,
            "data:text/html,hi",
            "file:///etc/passwd",
        ] {
            assert!(
                TargetUrl::parse(bad, OPEN).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn accepts_and_trims_ordinary_targets() {
        let t = TargetUrl::parse("  https://example.com/a?b=1  ", OPEN).unwrap();
        assert_eq!(t.as_str(), "https://example.com/a?b=1");
        assert!(TargetUrl::parse("http://127.0.0.1:8080/x", OPEN).is_ok());
    }

    #[test]
    fn the_policy_can_refuse_private_hosts() {
        for private in [
            "http://127.0.0.1/",
            "http://localhost:3000",
            "http://10.1.2.3",
            "http://[::1]/",
            "http://192.168.0.1",
        ] {
            assert!(TargetUrl::parse(private, CLOSED).is_err(), "{private}");
        }
        assert!(TargetUrl::parse("https://example.com", CLOSED).is_ok());
    }

    #[test]
    fn location_appends_the_visitors_query_to_the_targets_own() {
        assert_eq!(redirect_location("https://a.b/p", None), "https://a.b/p");
        assert_eq!(
            redirect_location("https://a.b/p", Some("x=1")),
            "https://a.b/p?x=1"
        );
        assert_eq!(
            redirect_location("https://a.b/p?y=2", Some("x=1")),
            "https://a.b/p?y=2&x=1"
        );
        assert_eq!(
            redirect_location("https://a.b/p?", Some("x=1")),
            "https://a.b/p?x=1"
        );
        assert_eq!(
            redirect_location("https://a.b/p#top", Some("x=1")),
            "https://a.b/p?x=1#top"
        );
        assert_eq!(
            redirect_location("https://a.b/ü", None),
            "https://a.b/%C3%BC"
        );
    }
}
