//! Embedded vs real: where a proxy binary does something other than the
//! embedded core predicts for the same policy, scenario and seed.
//!
//! Only outcomes the black-box run actually played are compared; one left
//! out for want of wall time, or unsupported (a fault gauntlet cannot do to
//! the real proxy), says nothing either way.

use serde::Serialize;

use super::OVER_BUDGET;
use crate::verify::{Outcome, Verdict};

/// One outcome where the real proxy and the prediction part ways.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    pub scenario: String,
    pub server: String,
    pub tool: String,
    /// What differs, one item per measure: `reached: predicted 15, real 30`.
    pub what: Vec<String>,
}

/// Not played for want of wall time (the attack's plan, or its benign twin's, is over the budget).
pub fn over_budget(o: &Outcome) -> bool {
    o.verdict == Verdict::NotApplicable && o.note.as_deref().is_some_and(|n| n.starts_with(OVER_BUDGET) || n.starts_with("its benign twin"))
}

fn was_played(o: &Outcome) -> bool {
    // Unsupported: the fault could not be done to the real proxy, so nothing was played.
    o.verdict != Verdict::Unsupported && !over_budget(o)
}

/// How much of a black-box run was compared with the prediction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Outcomes a verdict can be given for here: played to a verdict, over
    /// the time budget, or an error (not applicable for any other reason
    /// and unsupported are not).
    pub applicable: usize,
    /// Of those, played to a verdict that is compared with the prediction.
    pub compared: usize,
    /// Of those, over the time budget.
    pub over_budget: usize,
}

impl Tally {
    pub fn of(outcomes: &[Outcome]) -> Tally {
        let mut t = Tally::default();
        for o in outcomes {
            match o.verdict {
                _ if over_budget(o) => t.over_budget += 1,
                Verdict::NotApplicable | Verdict::Unsupported => continue,
                Verdict::Error => {}
                _ => t.compared += 1,
            }
            t.applicable += 1;
        }
        t
    }
}

/// Every difference between the real run and the embedded prediction, in report order.
pub fn differences(real: &[Outcome], predicted: &[Outcome]) -> Vec<Difference> {
    let mut out = Vec::new();
    for r in real.iter().filter(|o| was_played(o)) {
        let key = (&r.scenario, &r.server, &r.tool);
        let Some(p) = predicted.iter().find(|p| (&p.scenario, &p.server, &p.tool) == key) else {
            out.push(Difference {
                scenario: r.scenario.clone(),
                server: r.server.clone(),
                tool: r.tool.clone(),
                what: vec!["no embedded prediction for this outcome".into()],
            });
            continue;
        };
        let mut what = Vec::new();
        let mut differ = |name: &str, predicted: String, real: String| {
            if predicted != real {
                what.push(format!("{name}: predicted {predicted}, real {real}"));
            }
        };
        differ("verdict", p.verdict.as_str().into(), r.verdict.as_str().into());
        differ("attempted", p.attempted.to_string(), r.attempted.to_string());
        differ("reached", p.reached.to_string(), r.reached.to_string());
        let twin = |o: &Outcome| o.twin.as_ref().map(|t| format!("{} of {}", t.reached, t.attempted)).unwrap_or("-".into());
        differ("benign twin reached", twin(p), twin(r));
        let denials = |o: &Outcome| if o.denial_texts.is_empty() { "none".to_string() } else { format!("{:?}", o.denial_texts) };
        differ("denial texts", denials(p), denials(r));
        if !what.is_empty() {
            out.push(Difference { scenario: r.scenario.clone(), server: r.server.clone(), tool: r.tool.clone(), what });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::fixtures::outcome;
    use crate::verify::Finding;

    #[test]
    fn reached_counts_and_denial_text_are_compared_and_unplayed_outcomes_skipped() {
        let predicted = vec![outcome("bulk-write-burst", "t", Verdict::Held, None, 30)];
        assert!(differences(&predicted, &predicted).is_empty());
        let mut real = predicted.clone();
        real[0].reached = 31;
        real[0].verdict = Verdict::Breached;
        real[0].finding = Some(Finding::Policy);
        let d = differences(&real, &predicted);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].what, ["verdict: predicted held, real breached", "reached: predicted 30, real 31"]);
        let mut skipped = predicted.clone();
        skipped[0].verdict = Verdict::NotApplicable;
        skipped[0].note = Some(format!("{OVER_BUDGET}up to 10m 0s of wall time").into());
        assert!(differences(&skipped, &predicted).is_empty());
        let mut unsupported = predicted.clone();
        unsupported[0].verdict = Verdict::Unsupported;
        assert!(differences(&unsupported, &predicted).is_empty(), "a fault the real proxy could not be put through is not compared");
    }

    #[test]
    fn the_tally_counts_what_was_over_budget_as_applicable_and_other_reasons_not() {
        let mut na = outcome("extra-fields", "t", Verdict::NotApplicable, None, 0);
        na.note = Some("every call this attack sent is valid under the tool's inputSchema".into());
        let mut over = outcome("bulk-write-sustained", "t", Verdict::NotApplicable, None, 0);
        over.note = Some(format!("{OVER_BUDGET}up to 20m 0s of wall time").into());
        let mut twin = over.clone();
        twin.note = Some(format!("its benign twin {OVER_BUDGET}up to 20m 0s of wall time").into());
        let all = [
            outcome("a", "t", Verdict::Held, None, 1),
            outcome("b", "t", Verdict::Breached, Some(Finding::Policy), 2),
            outcome("c", "t", Verdict::Error, None, 0),
            outcome("d", "t", Verdict::Unsupported, None, 0),
            na,
            over,
            twin,
        ];
        assert_eq!(Tally::of(&all), Tally { applicable: 5, compared: 2, over_budget: 2 });
    }
}
