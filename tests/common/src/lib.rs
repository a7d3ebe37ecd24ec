//! The test world of kurz, shared by every test binary.
//!
//! - `engines`: SQLite and PostgreSQL, and `for_each_engine!`.
//! - `postgres`, `redis`: throwaway servers started from the installed
//!   binaries, on free ports, stopped when the test process ends.
//! - `app`: `spawn_app`, the real router on a real socket.
//! - `http`: requests, replies and assertions about them.
//! - `metrics`: samples out of `/metrics`.
//! - `process`: the real binary as a child process.
//! - `misc`: free ports, unique names, seed data.
//! - `browser`: headless Chromium over WebDriver, for the web page.
//! - `mmdb`: a small MaxMind-format country database, written for a test.

mod app;
mod browser;
mod engines;
mod faults;
mod http;
mod metrics;
mod misc;
mod mmdb;
mod postgres;
mod process;
mod redis;

pub use app::*;
pub use browser::Browser;
pub use engines::*;
pub use faults::*;
pub use http::*;
pub use metrics::*;
pub use misc::*;
pub use mmdb::country_db;
pub use postgres::*;
pub use process::*;
pub use redis::*;
