//! A referrer reduced to its host (`https://www.News.example/a?b` ->
//! `news.example`), once per redirect. Almost every referrer is a plain
//! `http(s)://host/...` URL: those are cut out of the text directly, and
//! everything else (ports, user info, IP addresses, percent signs,
//! international names, other schemes) goes through the `url` crate's full
//! parser, which costs several times more. Both give the same answer: the
//! tests compare them.

/// The referrer's host, lower-cased and without a leading `www.`; `None`
/// for text that is not a URL with a host.
pub fn referrer_host(referrer: &str) -> Option<Box<str>> {
    if let Some(host) = plain_web_host(referrer) {
        let host = strip_prefix_ignore_case(host, "www.").unwrap_or(host);
        // Exact capacity: becomes the box without a copy.
        return (!host.is_empty()).then(|| host.to_ascii_lowercase().into_boxed_str());
    }
    let host = parsed_host(referrer)?;
    let host = host.strip_prefix("www.").unwrap_or(&host);
    (!host.is_empty()).then(|| host.into())
}

/// The host of `http(s)://host[/?#...]` when it is an ordinary domain
/// name the full parser would return unchanged apart from case.
fn plain_web_host(referrer: &str) -> Option<&str> {
    let rest = strip_prefix_ignore_case(referrer, "https://")
        .or_else(|| strip_prefix_ignore_case(referrer, "http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(end);
    let ordinary = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !host.starts_with('.')
        && !host.contains("..")
        && !host
            .as_bytes()
            .windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"xn--"))
        // The parser strips these anywhere and cuts surrounding blanks.
        && !tail.contains(['\t', '\n', '\r', '\\'])
        && !referrer.ends_with(|c: char| c.is_ascii_whitespace() || c.is_ascii_control());
    (ordinary && !looks_numeric(host)).then_some(host)
}

/// Whether the parser would read `host` as an IPv4 address (its last label
/// is a number, in decimal, octal or hex).
fn looks_numeric(host: &str) -> bool {
    let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    let digits = strip_prefix_ignore_case(last, "0x").unwrap_or(last);
    last.is_empty() || digits.bytes().all(|b| b.is_ascii_hexdigit())
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn parsed_host(referrer: &str) -> Option<String> {
    let url = url::Url::parse(referrer.trim()).ok()?;
    Some(url.host_str()?.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the full parser alone makes of the referrer.
    fn slow(referrer: &str) -> Option<Box<str>> {
        let host = parsed_host(referrer)?;
        let host = host.strip_prefix("www.").unwrap_or(&host);
        (!host.is_empty()).then(|| host.into())
    }

    #[test]
    fn referrers_are_reduced_to_their_host() {
        assert_eq!(
            referrer_host("https://www.News.example/a?b=c").as_deref(),
            Some("news.example")
        );
        assert_eq!(
            referrer_host("android-app://com.slack/").as_deref(),
            Some("com.slack")
        );
        assert_eq!(referrer_host("not a url"), None);
    }

    #[test]
    fn the_shortcut_agrees_with_the_full_parser() {
        let cases = [
            "https://t.co/abc",
            "http://news.example",
            "HTTPS://WWW.Search.Example/?q=kurz",
            "https://www.example.com#top",
            "https://sub.domain-with-dash.example./path",
            "https://example.com:8443/x",
            "https://user:pw@example.com/",
            "https://[::1]/x",
            "http://127.0.0.1/x",
            "http://0x7f.1/",
            "http://1.2.3/",
            "http://example.123/",
            "http://example.0xff/",
            "http://example.abc/",
            "https://xn--bcher-kva.example/",
            "https://bücher.example/",
            "https://ex%41mple.com/",
            "https://exa\tmple.com/",
            "https://example.com/a\tb",
            "https://example.com\\path",
            " https://padded.example/ ",
            "https://trailing.example/\n",
            "https://",
            "https:///path",
            "https://.example/",
            "https://a..b/",
            "https://www./",
            "https://www.",
            "http://-dash.example/",
            "ftp://files.example/",
            "mailto:someone@example.com",
            "",
        ];
        for case in cases {
            assert_eq!(referrer_host(case), slow(case), "{case:?}");
        }
    }
}
