//! What every benchmark reports the same way: a figure as the spread of
//! several rounds (median, min, max, every round), and each target with the
//! figure it was judged on and whether it was met. A missed target makes the
//! benchmark exit 1, so a slower build cannot pass unnoticed.

use serde_json::{json, Value};

use crate::cli::Exit;

/// One figure over several rounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub rounds: Vec<f64>,
}

impl Spread {
    /// The spread of `rounds` (in the order measured); `None` when there are none.
    pub fn of(rounds: Vec<f64>) -> Option<Spread> {
        let mut sorted = rounds.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => return None,
            _ if !n.is_multiple_of(2) => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Some(Spread { median, min: sorted[0], max: sorted[n - 1], rounds })
    }

    pub fn json(&self) -> Value {
        json!({
            "median": round(self.median),
            "min": round(self.min),
            "max": round(self.max),
            "rounds": self.rounds.iter().map(|x| round(*x)).collect::<Vec<_>>(),
        })
    }
}

/// Four significant digits: enough for timings, short in a report.
pub fn round(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// One target, judged on one measured figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The target in words, e.g. `50-tool run < 2 s (median)`.
    pub target: String,
    pub measured: f64,
    pub met: bool,
}

impl Target {
    /// Met when `measured <= limit` (`strict`: `<`).
    pub fn at_most(target: impl Into<String>, measured: f64, limit: f64, strict: bool) -> Target {
        let met = if strict { measured < limit } else { measured <= limit };
        Target { target: target.into(), measured, met }
    }

    /// Met when `measured >= floor`.
    pub fn at_least(target: impl Into<String>, measured: f64, floor: f64) -> Target {
        Target { target: target.into(), measured, met: measured >= floor }
    }
}

/// The `targets` member of a report and whether every target was met.
pub fn judged(targets: &[Target]) -> (Value, bool) {
    let all = targets.iter().all(|t| t.met);
    let list: Vec<Value> = targets
        .iter()
        .map(|t| json!({"target": t.target, "measured": round(t.measured), "met": t.met}))
        .collect();
    (json!(list), all)
}

/// Prints the report (with `targets` and `targets_met` added) and picks the exit code.
pub fn finish(mut report: Value, targets: &[Target]) -> Exit {
    let (list, met) = judged(targets);
    report["targets"] = list;
    report["targets_met"] = json!(met);
    println!("{report}");
    for t in targets.iter().filter(|t| !t.met) {
        eprintln!("target missed: {} (measured {})", t.target, round(t.measured));
    }
    if met {
        Exit::Ok
    } else {
        Exit::CheckFailed
    }
}

/// [`finish`] for a benchmark that measured, or the reason it could not (exit 2).
pub fn report(measured: Result<(Value, Vec<Target>), String>) -> Exit {
    match measured {
        Ok((report, targets)) => finish(report, &targets),
        Err(e) => {
            eprintln!("error: {e}");
            Exit::CouldNotRun
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_odd_and_even_rounds() {
        let s = Spread::of(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(s.rounds, [3.0, 1.0, 2.0]);
        assert_eq!(Spread::of(vec![4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert!(Spread::of(vec![]).is_none());
    }

    #[test]
    fn a_missed_target_fails_the_run() {
        let ok = Target::at_most("fast", 1.9, 2.0, true);
        let missed = Target::at_least("many", 0.9e6, 1e6);
        assert!(ok.met && !missed.met);
        assert!(!Target::at_most("edge", 2.0, 2.0, true).met && Target::at_most("edge", 2.0, 2.0, false).met);
        let (list, met) = judged(&[ok.clone(), missed]);
        assert!(!met);
        assert_eq!(list[1]["met"], false);
        assert!(judged(&[ok]).1);
    }

    #[test]
    fn rounds_to_four_significant_digits() {
        assert_eq!(round(1.234_567), 1.235);
        assert_eq!(round(1_234_567.0), 1_235_000.0);
        assert_eq!(round(0.000_123_456), 0.000_123_5);
    }
}
