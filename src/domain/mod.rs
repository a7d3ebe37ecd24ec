//! Plain types and rules of kurz, free of HTTP and SQL.
//!
//! Every value that crosses the edge (a request body, a path segment, a CSV
//! cell) is parsed once into one of these newtypes; anything holding an `Id`,
//! `Username`, `Email`, `TargetUrl`, `ShortCode` or `EventType` is valid by
//! construction. The rules that decide what a partial update changes, and
//! which events the service writes for it, live in `inputs` as pure code.

mod agent;
mod api_key;
mod deny_list;
mod details;
mod email;
mod error;
mod event_type;
mod expiry;
mod id;
mod inputs;
mod records;
mod redirect_event;
mod short_code;
mod stats;
mod target_url;
mod time;
mod title;
mod username;

pub use agent::{Agent, CountryCode, Device, SeenAgent, Visitor};
pub use api_key::{
    token_hash, token_matches, token_prefix, tokens_equal, ApiKey, Caller, KeyCredential, NewToken,
};
pub use deny_list::DenyList;
pub use details::{check_details_text, parse_details};
pub use email::Email;
pub use error::DomainError;
pub use event_type::EventType;
pub use expiry::{is_expired, parse_expiry, MaxRedirects};
pub use id::Id;
pub use inputs::{
    DeleteReason, NewEvent, NewShortUrl, NewUser, UrlPatch, UrlUpdate, UserPatch, UserUpdate,
};
pub use records::{Event, Link, ShortUrl, User};
pub use redirect_event::{RedirectDetails, RedirectEvent, Referrer};
pub use short_code::{CodeSource, ShortCode, RESERVED_WORDS};
pub use stats::{Bucket, Granularity, Stats, StatsRange, StatsScope, Tally, TOP_VALUES};
pub use target_url::{redirect_location, TargetPolicy, TargetUrl};
pub use time::{
    format_spaced_timestamp, format_timestamp, moment_bounds, now_utc, parse_moment,
    parse_timestamp, Timestamp,
};
pub use title::Title;
pub use username::Username;
