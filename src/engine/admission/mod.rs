//! What a policy admits: the engine's compiled policy read backwards, one
//! model for every part of gauntlet that must know which calls pass —
//! generators (calls the policy admits, calls refused at each condition's
//! boundary), verdicts (is a tool blocked, was an attack exercised), and
//! later proofs and semantic diffs.
//!
//! It lives in the engine because it is built from [`Compiled`], the same
//! index `decide` runs on, never from a second reading of the YAML: what the
//! model says a rule admits is what the engine decides (tests check every
//! witness against `decide`).
//!
//! Per tool, every rule of its plan must pass (Intercept's rules are
//! requirements, not matchers), so a call is admitted when the tool is
//! neither hidden nor default-denied, no rule is a deny rule, and every
//! argument condition holds. Argument conditions become per-path value
//! sets ([`atom`]: presence, JSON type, numeric intervals ([`numbers`]),
//! string languages as automata ([`strings`])); conditions on counters are
//! kept apart ([`StateCond`]): they depend on history, not on the call.
//! Sans-IO and deterministic. Anything outside the decidable fragment (an
//! automaton past its budget, a composite value no candidate satisfies) is
//! [`Unknown`] with the reason, never a guess.

mod atom;
mod numbers;
mod query;
pub mod rates;
mod shape;
mod strings;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::gofmt;
use crate::policy::model::Op;
use crate::profile::Profile;

use super::compile::{CCond, CPath, Compiled, Plan};
pub use atom::{Atom, Kind};
pub use numbers::NumSet;
pub use query::{solve, Term};
pub use shape::Shapes;
pub use strings::{example_of, Lang, Patterns, Product, StrSet};

/// Why the model cannot answer (outside the decidable fragment or past a budget).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown(pub String);

/// A question's answer: a witness, a proof that none exists (with the reason), or unknown.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer<T> {
    Yes(T),
    No(String),
    Unknown(String),
}

/// Whether the policy lets any call of a tool reach its rules at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate<'a> {
    Hidden,
    DefaultDeny,
    /// A deny rule is in the tool's plan: every call is refused by it.
    DenyRule(&'a str),
    /// The rules decide.
    Rules,
}

/// Where a condition sits: its rule (by name and index in the compiled
/// policy) and its place in that rule's condition list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CondRef {
    pub rule: String,
    pub rule_index: usize,
    /// `None` for a stateful rule's `increment_from`, which must be a number.
    pub condition: Option<usize>,
}

/// One condition on an argument path, read as a set of values.
#[derive(Clone, Debug)]
pub struct ArgCond {
    pub at: CondRef,
    pub path: Vec<String>,
    /// `args.max_length lte 20000`, for people.
    pub text: String,
    atom: Atom,
}

/// A condition on a counter: decided by history, kept apart from the argument domains.
#[derive(Clone, Debug)]
pub struct StateCond {
    pub at: CondRef,
    /// The counter key as the policy writes it (`fetch.calls`).
    pub key: String,
    pub op: Op,
    pub operand: Option<f64>,
}

impl StateCond {
    /// Whether the condition holds when the counter reads `value`.
    pub fn holds_at(&self, value: i64) -> bool {
        let v = value as f64;
        match (self.op, self.operand) {
            (Op::Lt, Some(b)) => v < b,
            (Op::Lte, Some(b)) => v <= b,
            (Op::Gt, Some(b)) => v > b,
            (Op::Gte, Some(b)) => v >= b,
            (Op::Eq, Some(b)) => v == b,
            (Op::Neq, Some(b)) => v != b,
            (Op::Exists, _) => true,
            _ => false,
        }
    }
}

/// A limit a rule reserves against (§2.6): at most `limit` per window, each
/// call adding `increment` (`None`: the amount comes from an argument).
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    pub rule: String,
    pub key: String,
    pub window: crate::policy::model::Window,
    pub limit: i64,
    pub increment: Option<i64>,
}

impl Limit {
    /// How many calls a window admits, when each call counts the same.
    pub fn calls(&self) -> Option<u64> {
        match self.increment {
            Some(i) if i > 0 => Some((self.limit.max(0) / i) as u64),
            _ => None,
        }
    }
}

/// The rules of one plan (a listed tool's, or the `"*"` rules for unlisted ones), read backwards.
#[derive(Clone, Debug)]
pub struct Rules {
    /// The first deny rule of the plan, if any.
    deny_rule: Option<String>,
    pub args: Vec<ArgCond>,
    pub state: Vec<StateCond>,
    /// The limits its calls reserve against, in reservation order.
    pub limits: Vec<Limit>,
    compiled: Arc<Compiled>,
    profile: Profile,
}

/// A whole policy's model: one [`Rules`] per listed tool and one for the rest.
#[derive(Debug)]
pub struct Admission {
    compiled: Arc<Compiled>,
    tools: HashMap<String, Rules>,
    unlisted: Rules,
}

/// One tool as the model sees it: its gate and its rules.
#[derive(Clone, Copy, Debug)]
pub struct Tool<'a> {
    pub gate: Gate<'a>,
    pub rules: &'a Rules,
}

impl Admission {
    pub(crate) fn new(compiled: Arc<Compiled>, profile: Profile) -> Admission {
        let mut patterns = Patterns::default();
        let tools = compiled
            .tools
            .iter()
            .map(|(name, plan)| (name.clone(), Rules::new(&compiled, plan, profile, &mut patterns)))
            .collect();
        let unlisted = Rules::new(&compiled, &compiled.unlisted, profile, &mut patterns);
        Admission { compiled, tools, unlisted }
    }

    /// The model of tool `name` (hidden, default-denied, or ruled).
    pub fn tool(&self, name: &str) -> Tool<'_> {
        let listed = self.tools.get(name);
        let rules = listed.unwrap_or(&self.unlisted);
        let gate = if self.compiled.hidden.hides(name) {
            Gate::Hidden
        } else if listed.is_none() && self.compiled.default_deny {
            Gate::DefaultDeny
        } else if let Some(rule) = &rules.deny_rule {
            Gate::DenyRule(rule)
        } else {
            Gate::Rules
        };
        Tool { gate, rules }
    }
}

impl Gate<'_> {
    /// Why no call passes, when the gate alone decides that.
    pub fn refuses_all(self) -> Option<String> {
        match self {
            Gate::Hidden => Some("the policy hides the tool".into()),
            Gate::DefaultDeny => Some("the policy denies tools it does not list (`default: deny`)".into()),
            Gate::DenyRule(r) => Some(format!("rule {} denies every call", gofmt::quote::quote(r))),
            Gate::Rules => None,
        }
    }
}

/// A call refused by exactly one condition (every other argument condition holds).
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// Index into [`Rules::args`] of the condition that refuses it.
    pub condition: usize,
    /// What the value is, relative to the condition (`absent`, `just outside`, `near miss`, …).
    pub how: &'static str,
    pub arguments: Map<String, Json>,
}

/// What a generator would like a witness to look like, where the conditions leave a choice.
#[derive(Clone, Debug, Default)]
pub struct Prefer {
    /// Per top-level field: a string length to aim for (the workload's typical size).
    pub lengths: HashMap<String, usize>,
    /// Keep each field present or absent as in the base call: a legitimate
    /// client leaves optional fields out whatever the policy says, so its
    /// call may then be refused (that is over-blocking, not the client's fault).
    pub keep_presence: bool,
    /// Top-level fields left exactly as in the base call (a declared
    /// legitimate size is what it is, whatever the policy admits).
    pub keep_fields: Vec<String>,
}

impl Tool<'_> {
    /// A call of this tool the policy admits (counters aside), changed from
    /// `base` only where a condition refuses it; `No` with the reason when
    /// the policy refuses every call of the tool.
    pub fn admitted(&self, base: &Map<String, Json>, prefer: &Prefer) -> Answer<Map<String, Json>> {
        match self.gate.refuses_all() {
            Some(why) => Answer::No(why),
            None => self.rules.admitted(base, prefer),
        }
    }

    /// Whether the policy admits these arguments (counters aside).
    pub fn admits(&self, args: Option<&Map<String, Json>>) -> Result<bool, Unknown> {
        match self.gate {
            Gate::Rules => self.rules.admits(args),
            _ => Ok(false),
        }
    }
}

impl Rules {
    fn new(compiled: &Arc<Compiled>, plan: &Plan, profile: Profile, patterns: &mut Patterns) -> Rules {
        let mut rules = Rules { deny_rule: None, args: Vec::new(), state: Vec::new(), limits: Vec::new(), compiled: compiled.clone(), profile };
        for &ri in &plan.rules {
            let rule = &compiled.rules[ri];
            if rule.deny_action && rules.deny_rule.is_none() {
                rules.deny_rule = Some(rule.name.clone());
            }
            for (ci, cond) in rule.conditions.iter().enumerate() {
                let at = CondRef { rule: rule.name.clone(), rule_index: ri, condition: Some(ci) };
                match &cond.path {
                    CPath::Args(path) => rules.args.push(ArgCond {
                        at,
                        path: path.clone(),
                        text: describe(path, cond),
                        atom: Atom::of(cond, patterns),
                    }),
                    CPath::State(slot) => rules.state.push(StateCond {
                        at,
                        key: compiled.counters[*slot].shared.key.clone(),
                        op: cond.op,
                        operand: cond.operand.num,
                    }),
                }
            }
        }
        // A stateful rule's `increment_from` must resolve to a number the
        // profile accepts, or the call is an internal error (denied).
        for &ri in &plan.stateful {
            let rule = &compiled.rules[ri];
            if let Some(state) = &rule.state {
                if let Some(limit) = state.limit {
                    rules.limits.push(Limit {
                        rule: rule.name.clone(),
                        key: compiled.counters[state.slot].shared.key.clone(),
                        window: state.window,
                        limit,
                        increment: state.increment_from.is_none().then_some(state.increment),
                    });
                }
            }
            let Some(path) = rule.state.as_ref().and_then(|s| s.increment_from.clone()) else { continue };
            let numbers = match profile {
                Profile::Intercept => NumSet::all(),
                Profile::Strict => NumSet::above(0.0, true).intersect(&NumSet::below(9_223_372_036_854_775_808.0, false)),
            };
            rules.args.push(ArgCond {
                at: CondRef { rule: rule.name.clone(), rule_index: ri, condition: None },
                text: format!("args.{} is a number (increment_from)", path.join(".")),
                path,
                atom: Atom::number_in(numbers),
            });
        }
        rules
    }

    /// The sets of the conditions on exactly `path` (each must hold).
    pub fn atoms_at(&self, path: &[String]) -> Vec<&Atom> {
        self.args.iter().filter(|c| c.path == path).map(|c| &c.atom).collect()
    }

    /// The profile the rules are read under.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Whether `other` has a condition decided as condition `i` of these
    /// rules on every call: on the same path, with the same compiled
    /// operator and operand (an `increment_from` on the same path, under the
    /// same profile). No call passes the one and fails the other.
    pub fn shares_condition(&self, i: usize, other: &Rules) -> bool {
        let c = &self.args[i];
        self.profile == other.profile
            && (0..other.args.len()).any(|j| {
                other.args[j].path == c.path
                    && match (self.cond(i), other.cond(j)) {
                        (Some(x), Some(y)) => shape::condition(x) == shape::condition(y),
                        (None, None) => true,
                        _ => false,
                    }
            })
    }

    fn cond(&self, i: usize) -> Option<&CCond> {
        let at = &self.args[i].at;
        at.condition.map(|ci| &self.compiled.rules[at.rule_index].conditions[ci])
    }

    /// Whether condition `i` holds on these arguments, decided by the model's sets.
    pub fn holds(&self, i: usize, args: Option<&Map<String, Json>>) -> Result<bool, Unknown> {
        let c = &self.args[i];
        let v = super::conditions::resolve_args(args, &c.path);
        if c.at.condition.is_none() {
            // increment_from: the strict profile also wants a whole number.
            let whole = self.profile == Profile::Intercept || v.and_then(Json::as_f64).is_some_and(|x| x.fract() == 0.0);
            return Ok(whole && c.atom.holds(v, None)?);
        }
        c.atom.holds(v, self.cond(i))
    }

    /// Whether every argument condition holds (counters aside).
    pub fn admits(&self, args: Option<&Map<String, Json>>) -> Result<bool, Unknown> {
        for i in 0..self.args.len() {
            if !self.holds(i, args)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether the counter conditions hold with every counter at `value`
    /// (0: a fresh window, what the first call of a run sees).
    pub fn state_admits_at(&self, value: i64) -> bool {
        self.state.iter().all(|s| s.holds_at(value))
    }

    /// A call these rules admit, changed from `base` only where a condition
    /// refuses it (a field kept, replaced, or left out).
    pub fn admitted(&self, base: &Map<String, Json>, prefer: &Prefer) -> Answer<Map<String, Json>> {
        self.solve(base, None, prefer)
    }

    /// Solves every constrained path with condition `negate` (if any) flipped.
    fn solve(&self, base: &Map<String, Json>, negate: Option<usize>, prefer: &Prefer) -> Answer<Map<String, Json>> {
        let terms: Vec<Term<'_>> = (0..self.args.len()).map(|i| self.term(i, Some(i) == negate)).collect();
        query::solve(&terms, base, prefer)
    }

    /// Condition `i` as a query term (`negated`: the call must fail it).
    pub fn term(&self, i: usize, negated: bool) -> Term<'_> {
        Term::rule(self, i, negated)
    }

    /// Every argument condition as a term that must hold.
    pub fn terms(&self) -> Vec<Term<'_>> {
        (0..self.args.len()).map(|i| self.term(i, false)).collect()
    }

    /// Calls refused by exactly one argument condition each, at that
    /// condition's boundary: the field left out, a value just outside a
    /// bound, a near miss of a text or list, the shortest text outside a
    /// language, one character past its longest member, another JSON type.
    /// `base` should be a call these rules admit ([`Rules::admitted`]).
    pub fn refusals(&self, base: &Map<String, Json>) -> Vec<Refusal> {
        let mut out: Vec<Refusal> = Vec::new();
        for i in 0..self.args.len() {
            let path = &self.args[i].path;
            let current = super::conditions::resolve_args(Some(base), path).cloned();
            let others: Vec<(usize, Atom)> =
                (0..self.args.len()).filter(|&j| j != i && self.args[j].path == *path).map(|j| (j, self.args[j].atom.clone())).collect();
            let mut candidates: Vec<(&'static str, Option<Json>)> = vec![("absent", None)];
            if let Some(Json::Number(n)) = &current {
                let x = n.as_f64().unwrap_or(0.0);
                let outside = others.iter().fold(self.args[i].atom.complement().numbers, |s, (_, a)| s.intersect(&a.numbers));
                if let Some(y) = outside.witness(x) {
                    candidates.push(("just outside", Some(number(y))));
                }
            }
            if let Some(Json::String(s)) = &current {
                for miss in near_misses(s) {
                    candidates.push(("near miss", Some(Json::String(miss))));
                }
                let mut inside: Vec<StrSet> = others.iter().map(|(_, a)| a.strings.clone()).collect();
                inside.push(self.args[i].atom.strings.clone());
                if let Ok(Some(p)) = Product::explore(&inside) {
                    if let Some(longest) = p.longest() {
                        candidates.push(("one past the longest", Some(Json::String(format!("{longest}a")))));
                    }
                }
                let mut outside: Vec<StrSet> = others.iter().map(|(_, a)| a.strings.clone()).collect();
                outside.push(self.args[i].atom.strings.complement());
                if let Ok(Some(p)) = Product::explore(&outside) {
                    if let Some(short) = p.shortest() {
                        candidates.push(("shortest outside", Some(Json::String(short))));
                    }
                }
            }
            let other_type = match &current {
                Some(Json::String(s)) => s.parse::<f64>().ok().map(number).unwrap_or_else(|| Json::from(1)),
                Some(Json::Number(n)) => Json::String(n.to_string()),
                _ => Json::String("x".into()),
            };
            candidates.push(("another type", Some(other_type)));
            candidates.push(("null", Some(Json::Null)));
            for (how, value) in candidates {
                let mut args = base.clone();
                set_path(&mut args, path, value);
                let refused_here = matches!(self.holds(i, Some(&args)), Ok(false));
                let others_hold = (0..self.args.len()).filter(|&j| j != i).all(|j| matches!(self.holds(j, Some(&args)), Ok(true)));
                if refused_here && others_hold && !out.iter().any(|r| r.condition == i && r.arguments == args) {
                    out.push(Refusal { condition: i, how, arguments: args });
                }
            }
            // Nothing near the base: solve for the condition's complement outright.
            if !out.iter().any(|r| r.condition == i) {
                if let Answer::Yes(args) = self.solve(base, Some(i), &Prefer::default()) {
                    out.push(Refusal { condition: i, how: "outside", arguments: args });
                }
            }
        }
        out
    }
}

/// Texts one edit from `s`: a character more, one less, the first changed.
fn near_misses(s: &str) -> Vec<String> {
    let mut out = vec![format!("{s}a"), format!("{s}:")];
    let mut chars = s.chars();
    if let Some(first) = chars.next() {
        out.push(chars.as_str().to_string());
        let swapped = if first == 'x' { 'y' } else { 'x' };
        out.push(format!("{swapped}{}", chars.as_str()));
        let mut fewer = s.to_string();
        fewer.pop();
        out.push(fewer);
        if first.is_ascii_lowercase() {
            out.push(format!("{}{}", first.to_ascii_uppercase(), chars.as_str()));
        }
    }
    out
}

/// A double as JSON: whole numbers as integers (what schemas and agents use).
fn number(x: f64) -> Json {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Json::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map(Json::Number).unwrap_or(Json::Null)
    }
}

/// Sets (or, with `None`, removes) the value at `path`, making objects on the way.
fn set_path(args: &mut Map<String, Json>, path: &[String], value: Option<Json>) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut map = args;
    for seg in parents {
        if value.is_none() && !map.get(seg).is_some_and(Json::is_object) {
            return;
        }
        let entry = map.entry(seg.clone()).or_insert_with(|| Json::Object(Map::new()));
        if !entry.is_object() {
            *entry = Json::Object(Map::new());
        }
        let Json::Object(next) = entry else { return };
        map = next;
    }
    match value {
        Some(v) => {
            map.insert(last.clone(), v);
        }
        None => {
            map.remove(last);
        }
    }
}

/// `args.path op operand`, as the policy wrote it.
fn describe(path: &[String], cond: &CCond) -> String {
    let operand = match &cond.list {
        Some(items) => format!("[{}]", items.iter().map(|o| o.text.as_str()).collect::<Vec<_>>().join(", ")),
        None => cond.operand.text.clone(),
    };
    format!("args.{} {} {}", path.join("."), cond.op.as_str(), operand)
}
