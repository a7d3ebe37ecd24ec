//! Policy tests on a fake clock: every case says what time it is.

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn at(replicas: usize, cpu: f64) -> Signals {
    Signals {
        replicas,
        cpu_per_replica: Some(cpu),
        rps_per_replica: None,
    }
}

fn policy() -> Policy {
    Policy::new(PolicyConfig::default())
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = PolicyConfig::default();
    assert_eq!((c.min, c.max), (2, 5));
    assert_eq!(c.cooldown_after_out, secs(60));
    assert_eq!(c.cooldown_after_in, secs(120));
    assert!(c.validate().is_ok());
}

#[test]
fn invalid_settings_are_refused() {
    let bad = [
        PolicyConfig {
            min: 0,
            ..Default::default()
        },
        PolicyConfig {
            min: 4,
            max: 3,
            ..Default::default()
        },
        PolicyConfig {
            target_cpu: 0.0,
            ..Default::default()
        },
        PolicyConfig {
            target_cpu: f64::NAN,
            ..Default::default()
        },
        PolicyConfig {
            target_rps: Some(-1.0),
            ..Default::default()
        },
        PolicyConfig {
            scale_in_below: 1.0,
            ..Default::default()
        },
        PolicyConfig {
            out_streak: 0,
            ..Default::default()
        },
    ];
    for config in bad {
        assert!(config.validate().is_err(), "{config:?}");
    }
}

#[test]
fn below_min_scales_out_at_once() {
    let mut p = policy();
    let d = p.decide(secs(0), &at(1, 0.0));
    assert_eq!(
        d,
        Decision::ScaleOut {
            to: 2,
            reason: "below_min"
        }
    );
}

#[test]
fn above_max_scales_in_at_once() {
    let mut p = policy();
    let d = p.decide(secs(0), &at(7, 3.0));
    assert_eq!(
        d,
        Decision::ScaleIn {
            to: 5,
            reason: "above_max"
        }
    );
}

#[test]
fn a_breach_needs_a_streak() {
    let mut p = policy();
    assert_eq!(p.decide(secs(0), &at(2, 0.9)).reason(), "breach_streak");
    assert_eq!(p.decide(secs(5), &at(2, 0.9)).reason(), "breach_streak");
    let d = p.decide(secs(10), &at(2, 0.9));
    assert_eq!(d.action(), "scale_out");
}

#[test]
fn one_calm_sample_breaks_the_streak() {
    let mut p = policy();
    p.decide(secs(0), &at(2, 0.9));
    p.decide(secs(5), &at(2, 0.9));
    assert_eq!(p.decide(secs(10), &at(2, 0.5)).reason(), "in_band");
    assert_eq!(p.decide(secs(15), &at(2, 0.9)).reason(), "breach_streak");
    assert_eq!(p.decide(secs(20), &at(2, 0.9)).reason(), "breach_streak");
    assert_eq!(p.decide(secs(25), &at(2, 0.9)).action(), "scale_out");
}

#[test]
fn scale_out_goes_to_the_size_that_meets_the_target() {
    let mut p = policy();
    // 2 replicas at 1.4 cores each against 0.7: 4 replicas carry it.
    for t in [0, 5] {
        p.decide(secs(t), &at(2, 1.4));
    }
    assert_eq!(
        p.decide(secs(10), &at(2, 1.4)),
        Decision::ScaleOut {
            to: 4,
            reason: "cpu_or_rate_above_target"
        }
    );
}

#[test]
fn scale_out_is_clamped_to_max_and_holds_at_max() {
    let mut p = policy();
    for t in [0, 5] {
        p.decide(secs(t), &at(2, 10.0));
    }
    assert_eq!(p.decide(secs(10), &at(2, 10.0)).action(), "scale_out");
    let mut p = policy();
    for t in [0, 5, 10] {
        assert_eq!(p.decide(secs(t), &at(5, 10.0)).reason(), "at_max");
    }
}

#[test]
fn nothing_happens_for_60_seconds_after_scaling_out() {
    let mut p = policy();
    for t in [0, 5, 10] {
        p.decide(secs(t), &at(2, 0.9));
    }
    // Still hot, and then cold: both wait out the cooldown.
    for t in [15, 30, 45, 69] {
        assert_eq!(
            p.decide(secs(t), &at(3, 0.9)).reason(),
            "cooldown_after_scale_out",
            "t={t}"
        );
    }
    // The streak kept counting during the cooldown: it acts at once after.
    assert_eq!(p.decide(secs(70), &at(3, 0.9)).action(), "scale_out");
}

#[test]
fn scale_in_is_one_step_after_a_calm_streak() {
    let mut p = policy();
    assert_eq!(p.decide(secs(0), &at(4, 0.1)).reason(), "calm_streak");
    assert_eq!(p.decide(secs(5), &at(4, 0.1)).reason(), "calm_streak");
    assert_eq!(
        p.decide(secs(10), &at(4, 0.1)),
        Decision::ScaleIn {
            to: 3,
            reason: "load_below_threshold"
        }
    );
}

#[test]
fn no_second_scale_in_for_120_seconds_but_scale_out_is_allowed() {
    let mut p = policy();
    for t in [0, 5, 10] {
        p.decide(secs(t), &at(4, 0.1));
    }
    for t in [15, 60, 129] {
        assert_eq!(
            p.decide(secs(t), &at(3, 0.1)).reason(),
            "cooldown_after_scale_in",
            "t={t}"
        );
    }
    assert_eq!(p.decide(secs(130), &at(3, 0.1)).action(), "scale_in");

    let mut p = policy();
    for t in [0, 5, 10] {
        p.decide(secs(t), &at(4, 0.1));
    }
    for t in [15, 20] {
        p.decide(secs(t), &at(3, 2.0));
    }
    assert_eq!(p.decide(secs(25), &at(3, 2.0)).action(), "scale_out");
}

#[test]
fn never_scales_in_below_min_or_during_a_breach() {
    let mut p = policy();
    for t in 0..10 {
        assert_eq!(p.decide(secs(t * 5), &at(2, 0.0)).reason(), "at_min");
    }
    // A request-rate breach keeps a fleet with idle CPUs from shrinking.
    let mut p = Policy::new(PolicyConfig {
        target_rps: Some(1000.0),
        ..Default::default()
    });
    let busy = Signals {
        replicas: 4,
        cpu_per_replica: Some(0.05),
        rps_per_replica: Some(1500.0),
    };
    for t in 0..3 {
        assert_ne!(p.decide(secs(t * 5), &busy).action(), "scale_in");
    }
}

#[test]
fn the_band_between_thresholds_holds() {
    let mut p = policy();
    for t in 0..20 {
        assert_eq!(p.decide(secs(t * 5), &at(3, 0.5)).reason(), "in_band");
    }
}

#[test]
fn no_signal_holds_and_resets_the_streaks() {
    let mut p = policy();
    p.decide(secs(0), &at(2, 0.9));
    p.decide(secs(5), &at(2, 0.9));
    let none = Signals {
        replicas: 2,
        cpu_per_replica: None,
        rps_per_replica: None,
    };
    assert_eq!(p.decide(secs(10), &none).reason(), "no_signal");
    assert_eq!(p.decide(secs(15), &at(2, 0.9)).reason(), "breach_streak");
}

#[test]
fn the_ratio_is_the_larger_of_the_two_signals() {
    let p = Policy::new(PolicyConfig {
        target_cpu: 1.0,
        target_rps: Some(100.0),
        ..Default::default()
    });
    let s = Signals {
        replicas: 2,
        cpu_per_replica: Some(0.5),
        rps_per_replica: Some(300.0),
    };
    assert_eq!(p.load_ratio(&s), Some(3.0));
    let cpu_only = Signals {
        rps_per_replica: None,
        ..s
    };
    assert_eq!(p.load_ratio(&cpu_only), Some(0.5));
}

#[test]
fn a_full_ramp_goes_2_to_4_and_back_to_2() {
    let mut p = policy();
    let mut n = 2;
    let mut t = 0;
    let mut sizes = vec![n];
    // Total load in cores: rises to 2.6, stays, then falls to 0.2.
    let load = |t: u64| -> f64 {
        match t {
            0..=59 => 0.4,
            60..=299 => 2.6,
            _ => 0.2,
        }
    };
    while t < 900 {
        let d = p.decide(secs(t), &at(n, load(t) / n as f64));
        match d {
            Decision::ScaleOut { to, .. } | Decision::ScaleIn { to, .. } => {
                n = to;
                sizes.push(n);
            }
            Decision::Hold { .. } => {}
        }
        t += 5;
    }
    assert_eq!(sizes, vec![2, 4, 3, 2], "sizes over time");
}
