//! Reading Prometheus samples out of a `/metrics` exposition.

/// The value of one Prometheus sample line from `/metrics`, e.g.
/// `kurz_cache_breaker_state` or `kurz_cache_lookups_total{tier="redis",result="hit"}`.
pub fn metric_value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        let same = name == series || (series.contains('{') && labels_match(name, series));
        if same {
            value.parse().ok()
        } else {
            None
        }
    })
}

fn labels_match(line: &str, series: &str) -> bool {
    let (Some((ln, ll)), Some((sn, sl))) = (line.split_once('{'), series.split_once('{')) else {
        return false;
    };
    if ln != sn {
        return false;
    }
    let set = |l: &str| -> std::collections::BTreeSet<String> {
        l.trim_end_matches('}')
            .split(',')
            .map(str::to_owned)
            .collect()
    };
    set(ll) == set(sl)
}
