//! Black-box tests over HTTP against the real router, on both engines.
//! One binary (one link step); each module is one area of the contract.

mod auth;
mod bulk;
mod cache;
mod code_filter;
mod concurrency;
mod errors;
mod events;
mod expiry;
mod failures;
mod lifecycle;
mod limits;
mod observability;
mod properties;
mod qr;
mod redirects;
mod stalls;
mod stats;
mod telemetry;
mod urls;
mod users;
mod web;
