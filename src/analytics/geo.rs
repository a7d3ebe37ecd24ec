//! The visitor's country, from a MaxMind-format database (GeoLite2 or
//! GeoIP2 Country, or City: both carry `country.iso_code`), read into
//! memory once at start. Only the two-letter code is kept; the address is
//! not.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use crate::domain::CountryCode;

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
}

#[derive(Deserialize)]
struct Country<'a> {
    iso_code: Option<&'a str>,
}

/// A loaded country database.
pub struct Countries(maxminddb::Reader<Vec<u8>>);

impl std::fmt::Debug for Countries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Countries(..)")
    }
}

impl Countries {
    pub fn open(path: &Path) -> Result<Self, maxminddb::MaxMindDbError> {
        maxminddb::Reader::open_readfile(path).map(Self)
    }

    /// The ISO 3166-1 code of the country `ip` is in, if the database knows.
    pub fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        let record: Record<'_> = self.0.lookup(ip).ok()??;
        CountryCode::parse(record.country?.iso_code?)
    }
}
