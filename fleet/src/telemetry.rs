//! The supervisor's own metrics, registered at start so that every series
//! the alerts and dashboards read exists (at 0) before anything happens.
//! The supervisor records them where it acts; this is their one list.

/// Every metric the supervisor exports, as Prometheus names.
pub const GAUGES: [&str; 8] = [
    "kurz_fleet_replicas_desired",
    "kurz_fleet_replicas_ready",
    "kurz_fleet_replicas_running",
    "kurz_fleet_replicas_draining",
    "kurz_fleet_replicas_min",
    "kurz_fleet_replicas_max",
    "kurz_fleet_cpu_cores_per_replica",
    "kurz_fleet_requests_per_second_per_replica",
];

/// Creates every series at 0 in the installed recorder.
pub fn register() {
    for name in GAUGES {
        metrics::gauge!(name).set(0.0);
    }
    for reason in ["exited", "unresponsive", "never_ready"] {
        metrics::counter!("kurz_fleet_replacements_total", "reason" => reason).absolute(0);
    }
    metrics::counter!("kurz_fleet_decisions_total", "action" => "hold", "reason" => "in_band")
        .absolute(0);
    metrics::counter!("kurz_fleet_upstream_reloads_total").absolute(0);
    metrics::counter!("kurz_fleet_scrape_errors_total").absolute(0);
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_series_exists_after_registration() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, super::register);
        let text = handle.render();
        for name in super::GAUGES.iter().chain(&[
            "kurz_fleet_replacements_total",
            "kurz_fleet_decisions_total",
            "kurz_fleet_upstream_reloads_total",
            "kurz_fleet_scrape_errors_total",
        ]) {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
