//! kurz: a URL shortener that serves the PE-hackathon API from one binary,
//! embedded (SQLite) or clustered (PostgreSQL + Redis behind nginx).
//!
//! # Layout
//!
//! - `config`: flags and environment (`Settings`), parsed once into typed
//!   sections (`Config`).
//! - `app`: builds the state and router, serves, and shuts down in order.
//! - `state`: `AppState`, what handlers share (data only).
//! - `server`: the HTTP/1 connection loop with the edge limits (backlog,
//!   TCP_NODELAY, connection cap, head size and read deadline).
//! - `api`: HTTP only; one module per resource, one wire struct per body,
//!   one JSON error type, the OpenAPI document.
//! - `web`: the web page at `/` (server-rendered HTML forms over the same
//!   service calls as the API).
//! - `analytics`: what a redirect's report needs from its request (browser,
//!   OS, device, bot flag, referrer host, salted visitor hash).
//! - `qr`: QR codes of short links (SVG, PNG).
//! - `service`: one call per use case; a write is the store transaction,
//!   its events and the cache invalidation, in that order. Redirects are
//!   served in `service/redirects.rs`.
//! - `domain`: newtypes that can only hold valid values, the records, and
//!   the pure rules of updates and system events.
//! - `store`: PostgreSQL and SQLite behind one `Store`, one file per resource.
//! - `cache`: code resolution for redirects (local → Redis → store) and
//!   invalidation after writes, on every replica.
//! - `events`: the recorder that batches redirect events off the request path.
//! - `telemetry`: logs, metrics and per-request observation; a leaf that
//!   imports none of the above.
//!
//! Dependencies point one way: `app → api → service → {store, cache,
//! events} → domain`, with `telemetry` usable from all of them.

pub mod analytics;
pub mod api;
pub mod app;
pub mod cache;
pub mod config;
pub mod domain;
pub mod events;
pub mod qr;
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;
