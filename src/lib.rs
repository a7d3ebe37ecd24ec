//! kurz: a URL shortener that serves the PE-hackathon API from one binary,
//! embedded (SQLite) or clustered (PostgreSQL + Redis behind nginx).
//!
//! # Layout
//!
//! - `config`: one `Settings` type from flags and environment, validated once.
//! - `app`: builds the state and router, serves, and shuts down in order.
//! - `api`: HTTP only; one module per resource, one JSON error type.
//! - `domain`: newtypes that can only hold valid values, and the records.
//! - `store`: the storage traits and the PostgreSQL and SQLite engines.
//! - `cache`: code resolution for redirects (local → Redis → store) and
//!   invalidation after writes, on every replica.
//! - `events`: the recorder that batches redirect events off the request path.
//! - `import`: the hackathon CSV formats, for `/users/bulk` and `kurz import`.
//! - `telemetry`: logs, metrics and per-request observation.
//!
//! Dependencies point one way: `api` uses everything below it; `store`,
//! `cache` and `events` never know about HTTP.

pub mod api;
pub mod app;
pub mod cache;
pub mod config;
pub mod domain;
pub mod events;
pub mod import;
pub mod store;
pub mod telemetry;
