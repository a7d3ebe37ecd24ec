//! What a redirect's report groups by: the visitor's browser and OS
//! families, device class and bot flag (`Agent`), and the anonymous
//! visitor and country beside them (`Visitor`). Reading a user
//! agent into an `Agent` is `analytics`' job; these are the plain values.

use std::sync::Arc;

/// The device class of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    Other,
}

impl Device {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::Bot => "bot",
            Self::Other => "other",
        }
    }
}

/// One user agent, as reports group it. Shared: many redirects carry the
/// same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub browser: Arc<str>,
    pub os: Arc<str>,
    pub device: Device,
    /// A crawler, link previewer or headless browser: recorded, never counted.
    pub bot: bool,
}

/// A user agent header as redirect events keep it: its text, for the
/// event's `details`, and its reading, for reports. One per distinct
/// header (and one for none), shared by every redirect that sent it, so an
/// event carries both in one pointer.
#[derive(Debug, PartialEq, Eq)]
pub struct SeenAgent {
    pub text: Option<Box<str>>,
    pub reading: Agent,
}

/// An ISO 3166-1 alpha-2 country code, upper case, in two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Two ASCII letters, in either case; anything else is not a code.
    pub fn parse(code: &str) -> Option<Self> {
        match code.as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        // Two ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Who followed a link, as a redirect's event carries it for reports.
/// Small on purpose: a saturated replica holds tens of thousands of these
/// in its event queue.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Salted daily hash of address and user agent (see `analytics`).
    pub id: i64,
    /// When a country database is configured and knows the address.
    pub country: Option<CountryCode>,
    pub agent: Arc<SeenAgent>,
}

#[cfg(test)]
mod tests {
    use super::CountryCode;

    #[test]
    fn a_country_code_is_two_letters_kept_upper_case() {
        assert_eq!(
            CountryCode::parse("de")
                .map(|c| c.as_str().to_owned())
                .as_deref(),
            Some("DE")
        );
        assert_eq!(CountryCode::parse("DE"), CountryCode::parse("dE"));
        for bad in ["", "D", "DEU", "1A", "é"] {
            assert_eq!(CountryCode::parse(bad), None, "{bad:?}");
        }
    }
}
