//! Reading a replica's `/metrics` (Prometheus text format) into the two
//! counters the policy needs, and turning two readings into rates. Pure code:
//! the HTTP fetch lives in the supervisor.

use std::time::Duration;

/// The counters of one scrape that the policy turns into rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// `process_cpu_seconds_total`: CPU time the replica has used.
    pub cpu_seconds: f64,
    /// Sum of `kurz_http_requests_total` over every label set.
    pub requests: f64,
}

/// CPU (cores) and requests per second between two readings of one replica.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub cpu_cores: f64,
    pub requests_per_second: f64,
}

/// Sums every sample of metric `name` (all label sets) in a text exposition.
/// `None` when the metric does not appear at all.
pub fn sum_of(text: &str, name: &str) -> Option<f64> {
    let mut total = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || !line.starts_with(name) {
            continue;
        }
        let rest = &line[name.len()..];
        let after_labels = match rest.chars().next() {
            Some('{') => match labels_end(rest) {
                Some(end) => &rest[end + 1..],
                None => continue,
            },
            Some(' ') | Some('\t') => rest,
            _ => continue, // a longer name sharing this prefix
        };
        let Some(value) = after_labels.split_whitespace().next() else {
            continue;
        };
        if let Ok(v) = value.parse::<f64>() {
            if v.is_finite() {
                *total.get_or_insert(0.0) += v;
            }
        }
    }
    total
}

/// Index of the `}` closing a label set, skipping braces inside quoted
/// values (`route="/{code}"`).
fn labels_end(s: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// The reading the policy needs; `None` if the CPU counter is missing.
pub fn read(text: &str) -> Option<Reading> {
    Some(Reading {
        cpu_seconds: sum_of(text, "process_cpu_seconds_total")?,
        requests: sum_of(text, "kurz_http_requests_total").unwrap_or(0.0),
    })
}

/// Rates between an earlier and a later reading `elapsed` apart. A counter
/// that went backwards means the replica restarted: no rate from that pair.
pub fn rates(earlier: &Reading, later: &Reading, elapsed: Duration) -> Option<Rates> {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 || later.cpu_seconds < earlier.cpu_seconds || later.requests < earlier.requests {
        return None;
    }
    Some(Rates {
        cpu_cores: (later.cpu_seconds - earlier.cpu_seconds) / secs,
        requests_per_second: (later.requests - earlier.requests) / secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# TYPE process_cpu_seconds_total gauge
process_cpu_seconds_total 12.5
# TYPE kurz_http_requests_total counter
kurz_http_requests_total{route=\"/{code}\",method=\"GET\",status=\"302\"} 1000
kurz_http_requests_total{route=\"/urls\",method=\"POST\",status=\"201\"} 20
kurz_http_requests_total_extra 99
kurz_http_request_duration_seconds_bucket{le=\"0.1\"} 5
";

    #[test]
    fn sums_every_label_set_and_skips_longer_names() {
        assert_eq!(sum_of(SAMPLE, "kurz_http_requests_total"), Some(1020.0));
        assert_eq!(sum_of(SAMPLE, "process_cpu_seconds_total"), Some(12.5));
        assert_eq!(sum_of(SAMPLE, "absent_metric"), None);
    }

    #[test]
    fn a_reading_needs_the_cpu_counter() {
        assert_eq!(
            read(SAMPLE),
            Some(Reading {
                cpu_seconds: 12.5,
                requests: 1020.0
            })
        );
        assert_eq!(read("kurz_http_requests_total 3\n"), None);
        assert_eq!(read("garbage {{{{\n\n"), None);
    }

    #[test]
    fn rates_divide_by_elapsed_time() {
        let a = Reading {
            cpu_seconds: 10.0,
            requests: 100.0,
        };
        let b = Reading {
            cpu_seconds: 11.0,
            requests: 2100.0,
        };
        let r = rates(&a, &b, Duration::from_secs(2)).unwrap();
        assert_eq!(r.cpu_cores, 0.5);
        assert_eq!(r.requests_per_second, 1000.0);
    }

    #[test]
    fn a_restarted_replica_or_zero_interval_gives_no_rate() {
        let a = Reading {
            cpu_seconds: 10.0,
            requests: 100.0,
        };
        let restarted = Reading {
            cpu_seconds: 0.1,
            requests: 3.0,
        };
        assert_eq!(rates(&a, &restarted, Duration::from_secs(1)), None);
        assert_eq!(rates(&a, &a, Duration::ZERO), None);
    }
}
