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
        if !written_with_an_authority(trimmed) {
            return invalid(
                "must be an absolute http or https URL with a host, written out (http://host/...)",
            );
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

    /// The host as written (an IPv6 address without its brackets).
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, rest)| rest);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if let Some(v6) = host_port.strip_prefix('[') {
            return v6.split(']').next().unwrap_or("");
        }
        host_port.split(':').next().unwrap_or("")
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
/// The URL as written, before any lenient parser repairs it: `http://` or
/// `https://`, then a non-empty authority, and no backslash (which parsers
/// silently turn into `/`). `http:example.com`, `http:/x`, `http:///x` and
/// `http://host\path` are refused here although a WHATWG parser accepts them.
fn written_with_an_authority(text: &str) -> bool {
    let lower = text
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let rest = if lower.starts_with("https://") {
        &text[8..]
    } else if lower.starts_with("http://") {
        &text[7..]
    } else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    !authority.is_empty() && !text.contains('\\')
}

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
    fn a_url_is_judged_as_written_not_as_a_parser_repairs_it() {
        let policy = TargetPolicy::default();
        for bad in [
            "http:///x",
            "http:example.com",
            "http:/example.com",
            "https:example.com/x",
            "http://example.com\\path",
            "http://\\example.com",
            "http://?x",
            "http://#x",
            "//example.com",
        ] {
            assert!(
                TargetUrl::parse(bad, policy).is_err(),
                "{bad:?} should be refused"
            );
        }
        for good in [
            "HTTP://Example.com",
            "https://example.com:8443/a?b#c",
            "http://[::1]:80/",
        ] {
            let parsed = TargetUrl::parse(good, policy).unwrap();
            assert_eq!(parsed.as_str(), good, "stored as written");
        }
    }

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
