//! A tool's plan as a text with its own name taken out: two tools whose
//! shapes are equal are decided alike on any call that names the one or the
//! other, so a verifier may attack one and carry its verdict to the other.
//!
//! Counters decide whether that holds. A counter only the tool's own rules
//! touch is independent per tool (written as `own#N`, by first use); one that
//! only the `"*"` rules touch is counted alike for every tool (kept by its
//! key); any other — one tool's counter read or written by another tool's
//! rules, or by the `"*"` rules too — ties tools together in ways a rename
//! does not preserve, so such a tool has no shape (fail closed: it is judged
//! on its own).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use crate::engine::compile::{CCond, CPath, Compiled, CRule};
use super::Admission;
use crate::policy::model::WILDCARD;

/// Who touches each counter slot: which tools' own rules, and whether the `"*"` rules do.
#[derive(Clone, Debug, Default)]
struct Users<'a> {
    tools: BTreeSet<&'a str>,
    wildcard: bool,
}

/// The shapes of one policy's tools (see the module doc), computed from one pass over its rules.
pub struct Shapes<'a> {
    compiled: &'a Compiled,
    users: Vec<Users<'a>>,
    wildcard: BTreeSet<usize>,
}

impl Admission {
    /// Every tool's shape, ready to be asked per name.
    pub fn shapes(&self) -> Shapes<'_> {
        let compiled = &*self.compiled;
        let wildcard: BTreeSet<usize> = compiled.unlisted.rules.iter().copied().collect();
        let mut users = vec![Users::default(); compiled.counters.len()];
        for (name, plan) in compiled.tools.iter() {
            let own = name != WILDCARD;
            for &ri in plan.rules.iter().chain(&plan.stateful) {
                for slot in slots(&compiled.rules[ri]) {
                    if wildcard.contains(&ri) || !own {
                        users[slot].wildcard = true;
                    } else {
                        users[slot].tools.insert(name.as_str());
                    }
                }
            }
        }
        Shapes { compiled, users, wildcard }
    }
}

/// The counter slots a rule reads or writes.
fn slots(rule: &CRule) -> impl Iterator<Item = usize> + '_ {
    let read = rule.conditions.iter().filter_map(|c| match c.path {
        CPath::State(slot) => Some(slot),
        CPath::Args(_) => None,
    });
    rule.state.as_ref().map(|s| s.slot).into_iter().chain(read)
}

impl Shapes<'_> {
    /// The shape of tool `name`; `None` when a counter ties it to other tools
    /// (or the tool is the `"*"` entry itself).
    pub fn of(&self, name: &str) -> Option<String> {
        if name == WILDCARD {
            return None;
        }
        let c = self.compiled;
        let listed = c.tools.get(name);
        let plan = listed.unwrap_or(&c.unlisted);
        let mut out = String::new();
        let gate = if c.hidden.hides(name) {
            "hidden"
        } else if listed.is_none() && c.default_deny {
            "default deny"
        } else if listed.is_none() {
            "unlisted"
        } else {
            "listed"
        };
        out.push_str(gate);
        let mut own: HashMap<usize, usize> = HashMap::new();
        let mut slot_text = |slot: usize| -> Option<String> {
            let u = &self.users[slot];
            let scope = format!("{:?}", c.counters[slot].scope);
            if u.wildcard && u.tools.is_empty() {
                Some(format!("global {} {scope}", c.counters[slot].shared.key))
            } else if !u.wildcard && u.tools.len() == 1 && u.tools.contains(name) {
                let n = own.len();
                Some(format!("own#{} {scope}", own.entry(slot).or_insert(n)))
            } else {
                None
            }
        };
        for &ri in plan.rules.iter() {
            let rule = &c.rules[ri];
            let from = if self.wildcard.contains(&ri) && listed.is_some() { "*" } else { "own" };
            let _ = write!(out, "\n{from} rule {:?} deny={} {:?} {:?}", rule.name, rule.deny_action, rule.rule_message, rule.limit_message);
            for cond in &rule.conditions {
                let path = match &cond.path {
                    CPath::Args(p) => format!("args {p:?}"),
                    CPath::State(slot) => format!("state {}", slot_text(*slot)?),
                };
                let _ = write!(out, "\n  {path} {}", condition(cond));
            }
            if let Some(s) = &rule.state {
                let _ = write!(
                    out,
                    "\n  counts {} {:?} +{} from {:?} limit {:?}",
                    slot_text(s.slot)?,
                    s.window,
                    s.increment,
                    s.increment_from,
                    s.limit
                );
            }
        }
        for &ri in &plan.stateful {
            // By name and order: rule indices differ between tools.
            let _ = write!(out, "\nreserves {:?}", c.rules[ri].name);
        }
        Some(out)
    }
}

/// A condition's operator and operand as the engine compiled them (a list
/// element's number too: `1` and `"1"` print alike but compare differently).
pub(super) fn condition(c: &CCond) -> String {
    let list: Option<Vec<(&str, Option<f64>)>> = c.list.as_ref().map(|l| l.iter().map(|o| (o.text.as_str(), o.num)).collect());
    format!(
        "{:?} {:?} num={:?} list={list:?} string={:?} regex={:?} exists={:?}",
        c.op,
        c.operand.text,
        c.operand.num,
        c.string,
        c.regex.as_ref().map(|r| r.as_str()),
        c.exists
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::engine::Engine;
    use crate::profile::Profile;

    fn engine(yaml: &str) -> Engine {
        let policy = crate::policy::load_intercept(yaml).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"));
        Engine::new(Arc::new(policy), Profile::Intercept)
    }

    /// Two tools with the given rules (`TOOL` is replaced by each tool's name), then `rest`.
    fn two(a: &str, b: &str, rest: &str) -> Engine {
        let rules = |name: &str, r: &str| format!("  {name}:\n    rules:\n{}\n", r.replace("TOOL", name));
        engine(&format!("version: \"1\"\ndefault: deny\ntools:\n{}{}{rest}", rules("alpha", a), rules("beta", b)))
    }

    const LIMITED: &str = "      - {name: rate, rate_limit: 5/minute}\n      - name: spend\n        conditions:\n          - {path: state.TOOL.spend, op: lte, value: 100}\n          - {path: args.amount, op: lte, value: 50}\n        state: {counter: spend, window: day, increment_from: args.amount}";

    #[test]
    fn own_counters_and_equal_conditions_make_equal_shapes() {
        let e = two(LIMITED, LIMITED, "");
        let shapes = e.admission().shapes();
        let (a, b) = (shapes.of("alpha"), shapes.of("beta"));
        assert!(a.is_some());
        assert_eq!(a, b);
    }

    #[test]
    fn one_condition_apart_is_another_shape() {
        let other = LIMITED.replace("op: lte, value: 50", "op: lte, value: 51");
        let e = two(LIMITED, &other, "");
        let shapes = e.admission().shapes();
        assert_ne!(shapes.of("alpha"), shapes.of("beta"));
        // `0` and `"0"` in a list print alike, but compare apart: -0.0 equals the number, not the text.
        let list = |v: &str| format!("      - name: kind\n        conditions:\n          - {{path: args.n, op: in, value: [{v}]}}");
        let e = two(&list("0"), &list("\"0\""), "");
        let args = serde_json::json!({"n": -0.0});
        let decide = |tool: &str| {
            let call = crate::engine::ToolCall { name: tool, arguments: args.as_object() };
            e.decide(&mut crate::engine::store::MemoryStore::new(), &call, &Default::default(), crate::clock::Timestamp(0)).is_allow()
        };
        assert_ne!(decide("alpha"), decide("beta"));
        let shapes = e.admission().shapes();
        assert_ne!(shapes.of("alpha"), shapes.of("beta"));
        // A deny rule, a hidden tool, an unlisted tool: each its own gate.
        let e = engine("version: \"1\"\nhide: [gamma]\ntools:\n  alpha:\n    rules: []\n  beta:\n    rules:\n      - {name: rate, action: deny}\n  gamma:\n    rules: []\n");
        let shapes = e.admission().shapes();
        let all = ["alpha", "beta", "gamma", "delta"].map(|t| shapes.of(t).unwrap());
        for i in 0..all.len() {
            for j in 0..i {
                assert_ne!(all[i], all[j], "tools {i} and {j}");
            }
        }
    }

    #[test]
    fn a_counter_another_tool_reads_has_no_shape() {
        // beta's rule reads alpha's counter: the two are tied, neither is renamed safely.
        let reads_alpha = "      - name: after alpha\n        conditions:\n          - {path: state.alpha.spend, op: lte, value: 100}";
        let e = two(LIMITED, reads_alpha, "");
        let shapes = e.admission().shapes();
        assert_eq!(shapes.of("alpha"), None);
        assert_eq!(shapes.of("beta"), None);
    }

    #[test]
    fn a_wildcard_counter_is_the_same_for_every_tool() {
        let star = "  \"*\":\n    rules:\n      - {name: overall, rate_limit: 100/minute}\n";
        let e = two("      - {name: rate, rate_limit: 5/minute}", "      - {name: rate, rate_limit: 5/minute}", star);
        let shapes = e.admission().shapes();
        let a = shapes.of("alpha").expect("a \"*\" counter counts every tool alike");
        assert_eq!(Some(a.clone()), shapes.of("beta"));
        assert!(a.contains("global"), "{a}");
        assert_eq!(shapes.of("*"), None);
    }
}
