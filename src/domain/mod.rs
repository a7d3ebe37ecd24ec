//! Plain types and rules of kurz, free of HTTP and SQL.
//!
//! Every value that crosses the edge (a request body, a CSV cell) is parsed
//! once into one of these newtypes; anything holding a `Username`, `Email`,
//! `TargetUrl`, `ShortCode` or `EventType` is valid by construction.

mod details;
mod email;
mod error;
mod event_type;
mod models;
mod short_code;
mod target_url;
mod time;
mod title;
mod username;

pub use details::parse_details;
pub use email::Email;
pub use error::DomainError;
pub use event_type::EventType;
pub use models::{
    Event, Link, NewEvent, NewShortUrl, NewUser, RedirectDetails, RedirectEvent, ShortUrl,
    UrlPatch, User, UserPatch,
};
pub use short_code::{ShortCode, RESERVED_WORDS};
pub use target_url::{redirect_location, TargetPolicy, TargetUrl};
pub use time::{now_utc, parse_timestamp, serialize_timestamp};
pub use title::Title;
pub use username::Username;
