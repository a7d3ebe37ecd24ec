//! Process metrics in the names Prometheus client libraries use
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_open_fds`, `process_start_time_seconds`), read from `/proc` at
//! scrape time. On systems without `/proc` they are simply absent. Beside
//! them, what the SQLite library holds (its page caches, prepared
//! statements and schema, for every connection of the process): SQLite
//! allocates with the C library's allocator, not with the one the Rust heap
//! uses, so this is the one place that share of the resident memory shows.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// When this process started, for `process_start_time_seconds` and uptime.
fn start_time() -> f64 {
    static START: OnceLock<f64> = OnceLock::new();
    *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })
}

/// Remembers the start time; call once early.
pub fn mark_start() {
    start_time();
}

/// Updates the process gauges; called by the `/metrics` handler.
pub fn refresh() {
    let start = start_time();
    metrics::gauge!("process_start_time_seconds").set(start);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(start, |d| d.as_secs_f64());
    metrics::gauge!("kurz_uptime_seconds").set(now - start);
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name: utime is the 12th, stime the 13th.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<f64>().ok()))
            .sum();
        // A float that only grows: exported as a gauge because the metrics
        // facade's counters are integers; `rate()` works on it all the same.
        metrics::gauge!("process_cpu_seconds_total").set(ticks / clock_ticks());
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kib) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        {
            metrics::gauge!("process_resident_memory_bytes").set(kib * 1024.0);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(fds.count() as f64);
    }
    // SAFETY: both only read SQLite's global memory counters (0: the
    // high-water mark is not reset) and are safe from any thread, also
    // before SQLite is first used.
    let (sqlite_now, sqlite_peak) = unsafe {
        (
            libsqlite3_sys::sqlite3_memory_used(),
            libsqlite3_sys::sqlite3_memory_highwater(0),
        )
    };
    if sqlite_peak > 0 {
        metrics::gauge!("kurz_sqlite_memory_bytes").set(sqlite_now as f64);
        metrics::gauge!("kurz_sqlite_memory_peak_bytes").set(sqlite_peak as f64);
    }
}

/// Kernel clock ticks per second; 100 on every Linux we run on.
fn clock_ticks() -> f64 {
    100.0
}
