//! The supervisor against real replicas: `kurz serve` processes (local
//! driver) and containers of the project's image (Docker driver), on a
//! throwaway PostgreSQL. nginx is stood in for by the upstream file and a
//! reload command that records each call; the cluster and chaos suite
//! (loadtest/) run the real nginx.

mod docker;
mod local;
mod support;
