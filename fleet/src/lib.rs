//! kurz-fleet: keeps a fleet of kurz replicas running behind nginx, scales
//! it on the replicas' own metrics, and drives load for the chaos suite.
//!
//! - `policy` decides (pure, fake-clock tested); `scrape` reads `/metrics`;
//! - `driver` starts and stops replicas (local processes or Docker);
//! - `upstream` rewrites nginx's server list and reloads it;
//! - `supervisor` owns the fleet and acts; `control` is its HTTP API;
//! - `load` is the chaos suite's traffic generator; `cli` the options;
//! - `telemetry` lists the supervisor's own metrics.

pub mod cli;
pub mod control;
pub mod driver;
pub mod load;
pub mod policy;
pub mod scrape;
pub mod supervisor;
pub mod telemetry;
pub mod upstream;
