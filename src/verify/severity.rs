//! How much harm a finding stands for, from what the tool can do (its risk
//! class) and what reached it (the check that failed): a policy that lets
//! money, credentials or data go where they must not is ranked above one
//! that leaves a read tool's free-text field untyped.
//!
//! - **critical**: a foreign destination reached; a credential or
//!   destructive tool reached; a financial call beyond its bound (amount,
//!   spend, or call count);
//! - **high**: write or execute volume beyond its bound; a hidden or
//!   unlisted write or execute tool reached; malformed arguments reaching
//!   a financial tool;
//! - **medium**: malformed arguments reaching a write or execute tool; read
//!   volume; a read tool reached that should not be; over-blocking (the
//!   legitimate workload refused: nothing reached, but the policy is broken);
//! - **low**: malformed or oversized arguments reaching a read tool.

use std::fmt;

use serde::Serialize;

use super::measure::Check;
use super::{Outcome, Verdict};
use crate::scenario::Risk;

/// A finding's rank, lowest first (so `>=` means "at least as bad").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Worst first, as reports list them.
    pub const WORST_FIRST: [Severity; 4] = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The severity of a finding on a tool of class `risk`; `None` for an outcome that is no finding.
pub fn of(o: &Outcome, risk: Risk) -> Option<Severity> {
    o.finding?;
    if o.verdict == Verdict::OverBlocking {
        return Some(Severity::Medium);
    }
    if o.verdict != Verdict::Breached {
        return None;
    }
    let check = o.check.as_deref();
    if matches!(check, Some(Check::Destinations { .. })) {
        return Some(Severity::Critical);
    }
    let malformed = matches!(check, Some(Check::SchemaViolations { .. } | Check::ArgumentBytes { .. }));
    Some(match risk {
        Risk::Credential | Risk::Destructive => Severity::Critical,
        Risk::Financial if malformed => Severity::High,
        Risk::Financial => Severity::Critical,
        Risk::Write | Risk::Execute if malformed => Severity::Medium,
        Risk::Write | Risk::Execute if matches!(check, Some(Check::NeverListed { .. })) => Severity::Medium,
        Risk::Write | Risk::Execute => Severity::High,
        Risk::Read if malformed => Severity::Low,
        Risk::Read => Severity::Medium,
    })
}

/// Findings per severity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

impl Counts {
    pub fn add(&mut self, s: Severity) {
        *self.slot(s) += 1;
    }

    fn slot(&mut self, s: Severity) -> &mut usize {
        match s {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
        }
    }

    pub fn get(&self, s: Severity) -> usize {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
        }
    }

    /// `2 critical, 5 high, 0 medium, 13 low`.
    pub fn line(&self) -> String {
        Severity::WORST_FIRST.iter().map(|s| format!("{} {s}", self.get(*s))).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Duration;
    use crate::verify::fixtures::outcome;
    use crate::verify::Finding;

    fn breach(check: Check) -> Outcome {
        let mut o = outcome("s", "t", Verdict::Breached, Some(Finding::Policy), 1);
        o.check = Some(Box::new(check));
        o
    }

    #[test]
    fn harm_ranks_the_finding() {
        let rate = breach(Check::Rate { count: 30, window: Duration::from_secs(60), sliding: true, executed_only: false, shared: vec![] });
        let schema = breach(Check::SchemaViolations { max: 0 });
        let dest = breach(Check::Destinations { checks: Vec::new(), forbidden: Vec::new() });
        assert_eq!(of(&dest, Risk::Read), Some(Severity::Critical));
        assert_eq!(of(&rate, Risk::Financial), Some(Severity::Critical));
        assert_eq!(of(&rate, Risk::Credential), Some(Severity::Critical));
        assert_eq!(of(&rate, Risk::Write), Some(Severity::High));
        assert_eq!(of(&schema, Risk::Write), Some(Severity::Medium));
        assert_eq!(of(&schema, Risk::Read), Some(Severity::Low));
        assert_eq!(of(&breach(Check::AmountPerCall { cap: 1.0 }), Risk::Financial), Some(Severity::Critical));
        let over = outcome("s", "t", Verdict::OverBlocking, Some(Finding::Policy), 1);
        assert_eq!(of(&over, Risk::Read), Some(Severity::Medium));
        assert_eq!(of(&outcome("s", "t", Verdict::Held, None, 1), Risk::Financial), None);
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
    }
}
