//! What a user agent says about the visitor: browser and OS family, the
//! device class, and whether it is a bot or a link previewer.
//!
//! `woothee` reads the user-agent string; this module folds its answer
//! into the few families a report lists (every Windows version is
//! "Windows"), and flags automated clients woothee files as browsers:
//! chat and social unfurlers (Slack, Discord, WhatsApp, …) and headless
//! browsers.
use woothee::parser::Parser;

use crate::domain::{Agent, Device};

/// Lower-case pieces of automated user agents that woothee does not call
/// crawlers: link previewers of chat and social apps, feed readers,
/// headless browsers, and the generic words bots use for themselves.
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "preview",
    "facebookexternalhit",
    "facebookcatalog",
    "embedly",
    "whatsapp",
    "telegram",
    "slack",
    "discord",
    "skypeuripreview",
    "vkshare",
    "pinterest",
    "redditbot",
    "mastodon",
    "feedfetcher",
    "headlesschrome",
    "lighthouse",
    "google-inspectiontool",
];

const UNKNOWN: &str = "Other";

/// Reads one user agent; `None` (no header) is an unknown, human client.
pub fn classify(parser: &Parser, user_agent: Option<&str>) -> Agent {
    let Some(raw) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return Agent {
            browser: UNKNOWN.into(),
            os: UNKNOWN.into(),
            device: Device::Other,
            bot: false,
        };
    };
    let lower = raw.to_ascii_lowercase();
    let parsed = parser.parse(raw);
    let category = parsed.as_ref().map_or("UNKNOWN", |p| p.category);
    let bot = category == "crawler" || BOT_MARKERS.iter().any(|m| lower.contains(m));
    let browser = parsed
        .as_ref()
        .map(|p| p.name)
        .filter(|name| *name != "UNKNOWN")
        .unwrap_or(UNKNOWN);
    let os = os_family(parsed.as_ref().map_or("UNKNOWN", |p| p.os));
    let device = if bot {
        Device::Bot
    } else if lower.contains("ipad") || lower.contains("tablet") {
        Device::Tablet
    } else {
        match category {
            "pc" => Device::Desktop,
            "smartphone" | "mobilephone" => Device::Mobile,
            _ => Device::Other,
        }
    };
    Agent {
        browser: browser.into(),
        os: os.into(),
        device,
        bot,
    }
}

/// woothee's OS names folded into families.
fn os_family(os: &str) -> &str {
    match os {
        "UNKNOWN" => UNKNOWN,
        "Mac OSX" => "macOS",
        "iPhone" | "iPad" | "iPod" => "iOS",
        windows if windows.starts_with("Windows") => "Windows",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(ua: &str) -> Agent {
        classify(&Parser::new(), Some(ua))
    }

    #[test]
    fn browsers_and_families() {
        let chrome = read("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36");
        assert_eq!(
            (&*chrome.browser, &*chrome.os, chrome.device, chrome.bot),
            ("Chrome", "Windows", Device::Desktop, false)
        );
        let iphone = read("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1");
        assert_eq!(
            (&*iphone.browser, &*iphone.os, iphone.device),
            ("Safari", "iOS", Device::Mobile)
        );
        let ipad = read("Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1");
        assert_eq!(ipad.device, Device::Tablet);
        let none = classify(&Parser::new(), None);
        assert_eq!(
            (&*none.browser, none.device, none.bot),
            ("Other", Device::Other, false)
        );
    }

    #[test]
    fn crawlers_and_unfurlers_are_bots() {
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "WhatsApp/2.23.20.0",
            "TelegramBot (like TwitterBot)",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
        ] {
            let agent = read(ua);
            assert!(agent.bot, "{ua}");
            assert_eq!(agent.device, Device::Bot, "{ua}");
        }
        assert!(!read("curl/8.4.0").bot);
    }
}
