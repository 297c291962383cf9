//! A semantic diff of two policies: every kind of call one admits and the
//! other refuses, as a minimal witness per tool and per refusing condition,
//! in both directions (NEW weaker: it allows what OLD denied; NEW stronger:
//! the reverse); limits that let more calls through a window; and, where
//! the admitted calls are the same, what a change of rule order changes
//! (which rule refuses a call, so which message the agent reads).
//!
//! Each question is one query on the admission model: the admitting
//! policy's conditions all hold and one condition of the refusing policy
//! fails. Every witness is replayed through both engines before it is shown.

use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::trace::{self, Call, Counterexample, ReplayCommand, START};
use crate::caller::CallContext;
use crate::clock::Timestamp;
use crate::engine::admission::rates::{window_nanos, Span};
use crate::engine::admission::{solve, Answer, Gate, Prefer, Tool};
use crate::engine::store::MemoryStore;
use crate::engine::{Engine, Outcome, ToolCall};
use crate::policy::model::{Policy, WILDCARD};
use crate::verify::blame::PolicyLocation;

/// The most calls one rate witness holds.
const MAX_CALLS: usize = 20_000;

/// Which way a change goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// NEW allows calls OLD denied.
    Weaker,
    /// NEW denies calls OLD allowed.
    Stronger,
    /// The same calls pass; something else changed (which rule refuses).
    Neutral,
    /// The model could not decide whether calls changed here (the reason is the summary): not a "no change".
    Undecided,
    /// A change in the text that could not be compared, with the reason (the
    /// summary): said, never passed over in silence. Not weaker: what it
    /// could not compare lets no call through (e.g. a limit on a tool no call
    /// of which passes the side that loosened it).
    NotCompared,
}

/// One kind of call whose treatment changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub tool: String,
    pub direction: Direction,
    /// `tool` (hidden, default-denied, a deny rule), `condition`, `rate`, `rule-order`.
    pub kind: &'static str,
    /// The rule of the refusing policy the change is about (`None`: the tool's gate).
    pub rule: Option<String>,
    pub summary: String,
    /// Where in OLD and NEW.
    pub old_at: PolicyLocation,
    pub new_at: PolicyLocation,
    /// The witness replayed through OLD and through NEW.
    pub old: Option<Counterexample>,
    pub new: Option<Counterexample>,
}

/// One side of a diff: its engine, the file as shown, and how to replay on it.
pub struct Side<'a> {
    pub engine: &'a Engine,
    pub file: &'a str,
    pub replay: ReplayCommand,
}

/// The tools a diff looks at: every tool either policy names or hides, the
/// catalogue's, and one name neither lists (what the `"*"` rules and the
/// default decide).
pub fn tools(old: &Policy, new: &Policy, catalogue: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let names = old.tools.iter().chain(&new.tools).map(|t| t.name.clone()).chain(old.hide.iter().chain(&new.hide).cloned());
    for n in names.chain(catalogue.iter().cloned()).filter(|n| n != WILDCARD) {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    let mut unlisted = "unlisted_tool".to_string();
    while out.contains(&unlisted) {
        unlisted.push('_');
    }
    out.sort();
    out.push(unlisted);
    out
}

/// Every change between `old` and `new` over `tools`.
///
/// A tool whose shape is the same on both sides (gate, rules in order with
/// their conditions, limits and messages, counters its own or the `"*"`
/// rules' alike; see [`crate::engine::admission::Shapes`]) is decided alike
/// by both on every history of its calls, so it has no change to find and
/// is skipped. A tool with no shape (a counter another tool shares) is
/// always compared.
pub fn diff(old: &Side<'_>, new: &Side<'_>, tools: &[String]) -> Vec<Change> {
    let (shapes_old, shapes_new) = (old.engine.admission().shapes(), new.engine.admission().shapes());
    let mut out = Vec::new();
    for tool in tools {
        if shapes_old.of(tool).is_some_and(|s| Some(s) == shapes_new.of(tool)) {
            continue;
        }
        let before = out.len();
        visibility_changes(&mut out, tool, old, new);
        for (direction, a, b) in [(Direction::Weaker, old, new), (Direction::Stronger, new, old)] {
            admitted_changes(&mut out, tool, direction, a, b, old, new);
            rate_changes(&mut out, tool, direction, a, b, old, new);
        }
        if out.len() == before {
            order_changes(&mut out, tool, old, new);
        }
    }
    out
}

fn at(side: &Side<'_>, tool: &str, rule: Option<&str>) -> PolicyLocation {
    match rule {
        Some(r) => super::locate::rule(side.engine.policy(), side.file, tool, r),
        None => super::locate::tool(side.engine.policy(), side.file, tool),
    }
}

/// Replays one call on both sides.
fn witness(tool: &str, args: Map<String, Json>, old: &Side<'_>, new: &Side<'_>) -> (Counterexample, Counterexample) {
    let calls = vec![Call::new(START, tool, args)];
    (trace::replay(old.engine, calls.clone(), &old.replay), trace::replay(new.engine, calls, &new.replay))
}

/// A tool hidden on one side and listed on the other while both refuse
/// every call (otherwise the calls that now pass are the change): the agent
/// sees it in `tools/list` where it did not.
fn visibility_changes(out: &mut Vec<Change>, tool: &str, old: &Side<'_>, new: &Side<'_>) {
    let (to, tn) = (old.engine.admission().tool(tool), new.engine.admission().tool(tool));
    let (ho, hn) = (to.gate == Gate::Hidden, tn.gate == Gate::Hidden);
    if ho == hn {
        return;
    }
    let (direction, listed, hider, shower) = if ho { (Direction::Weaker, &tn, "OLD", "NEW") } else { (Direction::Stronger, &to, "NEW", "OLD") };
    let Some(why) = listed.gate.refuses_all() else { return };
    let args: Map<String, Json> = Map::new();
    let (wo, wn) = witness(tool, args, old, new);
    out.push(Change {
        tool: tool.to_string(),
        direction,
        kind: "visibility",
        rule: None,
        summary: format!("{hider} hides the tool (`tools/list` leaves it out); {shower} lists it, and still refuses every call ({why})"),
        old_at: at(old, tool, None),
        new_at: at(new, tool, None),
        old: Some(wo),
        new: Some(wn),
    });
}

/// Calls `b` admits that `a` refuses (gate, or one of `a`'s conditions).
fn admitted_changes(out: &mut Vec<Change>, tool: &str, direction: Direction, a: &Side<'_>, b: &Side<'_>, old: &Side<'_>, new: &Side<'_>) {
    let (ta, tb) = (a.engine.admission().tool(tool), b.engine.admission().tool(tool));
    if tb.gate.refuses_all().is_some() {
        return;
    }
    let base = Map::new();
    let mut push = |kind: &'static str, rule: Option<String>, summary: String, args: Map<String, Json>| {
        let (wo, wn) = witness(tool, args, old, new);
        // A change stands only when the engines disagree on the witness as the model said.
        let want_new = direction == Direction::Weaker;
        if wn.allowed[0] != want_new || wo.allowed[0] == want_new {
            return;
        }
        out.push(Change {
            tool: tool.to_string(),
            direction,
            kind,
            old_at: at(old, tool, rule.as_deref().filter(|_| direction == Direction::Weaker)),
            new_at: at(new, tool, rule.as_deref().filter(|_| direction == Direction::Stronger)),
            rule,
            summary,
            old: Some(wo),
            new: Some(wn),
        });
    };
    let (from, to) = if direction == Direction::Weaker { ("OLD", "NEW") } else { ("NEW", "OLD") };
    if let Some(why) = ta.gate.refuses_all() {
        if let Answer::Yes(args) = tb.admitted(&base, &Prefer::default()) {
            push("tool", gate_rule(&ta), format!("{from} refuses every call ({why}); {to} allows calls"), args);
        }
        return;
    }
    let mut seen: Vec<String> = Vec::new();
    let mut undecided: Vec<Change> = Vec::new();
    for (i, c) in ta.rules.args.iter().enumerate() {
        // `b` holds the same condition: no call passes it there and fails it here.
        if ta.rules.shares_condition(i, tb.rules) {
            continue;
        }
        let mut terms = tb.rules.terms();
        terms.push(ta.rules.term(i, true));
        match solve(&terms, &base, &Prefer::default()) {
            Answer::Yes(args) => {
                let key = format!("{}|{}", c.at.rule, c.text);
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                push("condition", Some(c.at.rule.clone()), format!("{from} refuses it by `{}` (rule `{}`); {to} allows it", c.text, c.at.rule), args);
            }
            Answer::No(_) => {}
            // Never read as "no change": said, with the reason.
            Answer::Unknown(why) => undecided.push(Change {
                tool: tool.to_string(),
                direction: Direction::Undecided,
                kind: "condition",
                rule: Some(c.at.rule.clone()),
                summary: format!("whether {to} allows a call {from} refuses by `{}` (rule `{}`) is not decided: {why}", c.text, c.at.rule),
                old_at: at(old, tool, Some(&c.at.rule).filter(|_| direction == Direction::Weaker).map(|r| r.as_str())),
                new_at: at(new, tool, Some(&c.at.rule).filter(|_| direction == Direction::Stronger).map(|r| r.as_str())),
                old: None,
                new: None,
            }),
        }
    }
    out.extend(undecided);
}

fn gate_rule(t: &Tool<'_>) -> Option<String> {
    match t.gate {
        Gate::DenyRule(r) => Some(r.to_string()),
        _ => None,
    }
}

/// Windows where `b`'s limits let more calls through than `a`'s: a burst
/// at the start of one window, replayed on both sides.
fn rate_changes(out: &mut Vec<Change>, tool: &str, direction: Direction, a: &Side<'_>, b: &Side<'_>, old: &Side<'_>, new: &Side<'_>) {
    let (ta, tb) = (a.engine.admission().tool(tool), b.engine.admission().tool(tool));
    if ta.gate.refuses_all().is_some() || tb.gate.refuses_all().is_some() {
        return;
    }
    let mut lens: Vec<i64> = ta.rules.limits.iter().chain(&tb.rules.limits).map(window_nanos).collect();
    lens.sort_unstable();
    lens.dedup();
    for len in lens {
        let span = Span { len, sliding: false };
        let (ba, bb) = (ta.rules.call_bound(span), tb.rules.call_bound(span));
        let looser = match (&ba, &bb) {
            (Some(x), Some(y)) => y.total() > x.total(),
            (Some(_), None) => true,
            _ => false,
        };
        if !looser {
            continue;
        }
        let (from, to) = if direction == Direction::Weaker { ("OLD", "NEW") } else { ("NEW", "OLD") };
        let window = crate::scenario::Duration::from_secs(len / 1_000_000_000);
        let rule_a = ba.as_ref().map(|x| x.rule.clone());
        let rule_b = bb.as_ref().map(|x| x.rule.clone());
        let (old_rule, new_rule) = if direction == Direction::Weaker { (rule_a.clone(), rule_b.clone()) } else { (rule_b.clone(), rule_a.clone()) };
        let change = |direction: Direction, summary: String, witnesses: Option<(Counterexample, Counterexample)>| {
            let (wo, wn) = match witnesses {
                Some((wa, wb)) if direction == Direction::Weaker => (Some(wa), Some(wb)),
                Some((wa, wb)) => (Some(wb), Some(wa)),
                None => (None, None),
            };
            Change {
                tool: tool.to_string(),
                direction,
                kind: "rate",
                rule: rule_a.clone(),
                summary,
                old_at: at(old, tool, old_rule.as_deref()),
                new_at: at(new, tool, new_rule.as_deref()),
                old: wo,
                new: wn,
            }
        };
        let bound = |b: &Option<crate::engine::admission::rates::Bound>, side: &str| match b {
            Some(x) => format!("{side} lets at most {} through (rule `{}`)", x.total(), x.rule),
            None => format!("{side} has no limit on them"),
        };
        let not_compared = format!("not compared: in one {window} window {}, {}", bound(&ba, from), bound(&bb, to));
        let args = match tb.admitted(&Map::new(), &Prefer::default()) {
            Answer::Yes(args) => args,
            // No call to build a schedule from: said, never passed over.
            Answer::No(why) => {
                let summary = format!("{not_compared}, but no call of the tool passes {to}'s conditions ({why}), so no schedule can show it and none gets through");
                out.push(change(Direction::NotCompared, summary, None));
                continue;
            }
            Answer::Unknown(why) => {
                let summary = format!("{not_compared}, but whether any call of the tool passes {to}'s conditions is not decided ({why}), so no schedule was built");
                out.push(change(Direction::Undecided, summary, None));
                continue;
            }
        };
        // Enough calls to show both bounds: one past the looser one (twice the tighter, when the looser has none).
        let cap = ba.as_ref().map(|x| x.total() as usize + 1).unwrap_or(1);
        let calls_sent = bb.as_ref().map_or(2 * cap, |y| y.total() as usize + 1).max(cap).min(MAX_CALLS);
        let start = Timestamp(START.0 + 2 * 86_400 * 1_000_000_000);
        // A burst at the window's start; when a shorter limit stops it alike on both sides, the calls spread over the shorter windows inside it.
        let shortest = ta.rules.limits.iter().chain(&tb.rules.limits).map(window_nanos).filter(|l| *l < len).min();
        let schedules = std::iter::once(1).chain(shortest.map(|l| (len / l) as usize));
        let mut shown = None;
        for instants in schedules {
            let per = calls_sent.div_ceil(instants.max(1)).max(1);
            let step = len / instants.max(1) as i64;
            let calls: Vec<Call> = (0..instants * per).take(MAX_CALLS).map(|n| Call::new(Timestamp(start.0 + (n / per) as i64 * step), tool, args.clone()).from_caller(n + 1)).collect();
            let wa = trace::replay(a.engine, calls.clone(), &a.replay);
            let wb = trace::replay(b.engine, calls, &b.replay);
            let (na, nb) = (wa.allowed.iter().filter(|x| **x).count(), wb.allowed.iter().filter(|x| **x).count());
            if nb > na {
                shown = Some((na, nb, instants, (wa, wb)));
                break;
            }
        }
        let Some((na, nb, instants, witnesses)) = shown else {
            // The limits say more pass, and no schedule built shows it: fail closed.
            let summary = format!("{not_compared}, but no schedule built (a burst at one instant, or spread over the shorter windows) got more through {to}");
            out.push(change(Direction::Undecided, summary, None));
            continue;
        };
        let how = if instants > 1 { format!(", calls spread over {instants} shorter windows") } else { String::new() };
        let summary = format!(
            "in one {window} window{how} {from} lets {na} calls through{}; {to} lets {nb}{}",
            rule_a.as_ref().map(|r| format!(" (rule `{r}`)")).unwrap_or_default(),
            rule_b.as_ref().map(|r| format!(" (rule `{r}`)")).unwrap_or_default()
        );
        out.push(change(direction, summary, Some(witnesses)));
    }
}

/// The names of the rules that decide the tool's calls, in order (its own entry's, else the `"*"` entry's).
fn rule_names(policy: &Policy, tool: &str) -> Vec<String> {
    policy.tool(tool).or_else(|| policy.tool(WILDCARD)).map(|t| t.rules.iter().map(|r| r.name.clone()).collect()).unwrap_or_default()
}

/// Decides `calls` in order on fresh counters; the rule that refused the last one.
fn last_culprit(e: &Engine, tool: &str, calls: &[Call]) -> Option<String> {
    let mut store = MemoryStore::new();
    let mut culprit = None;
    for c in calls {
        let at = Timestamp::parse_rfc3339(&c.at).unwrap_or(START);
        let caller = CallContext { identity: c.identity.clone(), session: c.session.clone() };
        culprit = match e.decide(&mut store, &ToolCall { name: tool, arguments: Some(&c.arguments) }, &caller, at).outcome {
            Outcome::Deny { culprit, .. } => culprit,
            Outcome::Allow => None,
        };
    }
    culprit
}

/// Same admitted calls, rules in another order: a call two rules both
/// refuse (two argument conditions, or a spent limit and an argument
/// condition), and which rule refuses it on each side — the message the agent reads.
fn order_changes(out: &mut Vec<Change>, tool: &str, old: &Side<'_>, new: &Side<'_>) {
    let (to, tn) = (old.engine.admission().tool(tool), new.engine.admission().tool(tool));
    let (no, nn) = (rule_names(old.engine.policy(), tool), rule_names(new.engine.policy(), tool));
    if no == nn || to.gate.refuses_all().is_some() || tn.gate.refuses_all().is_some() {
        return;
    }
    let (mut sorted_o, mut sorted_n) = (no.clone(), nn.clone());
    sorted_o.sort();
    sorted_n.sort();
    if sorted_o != sorted_n {
        return;
    }
    let mut traces: Vec<Vec<Call>> = Vec::new();
    let args = &to.rules.args;
    for i in 0..args.len() {
        for j in (i + 1)..args.len() {
            if args[i].at.rule == args[j].at.rule {
                continue;
            }
            let terms = vec![to.rules.term(i, true), to.rules.term(j, true)];
            if let Answer::Yes(a) = solve(&terms, &Map::new(), &Prefer::default()) {
                traces.push(vec![Call::new(START, tool, a)]);
            }
        }
    }
    // A limit spent by admitted calls, then a call an argument condition refuses.
    if let Answer::Yes(good) = to.admitted(&Map::new(), &Prefer::default()) {
        let spend = to.rules.limits.iter().filter_map(|l| l.calls()).min().unwrap_or(0).min(MAX_CALLS as u64) as usize;
        if spend > 0 {
            for r in to.rules.refusals(&good) {
                let mut calls: Vec<Call> = (0..spend).map(|n| Call::new(START, tool, good.clone()).from_caller(n + 1)).collect();
                calls.push(Call::new(START, tool, r.arguments).from_caller(spend + 1));
                traces.push(calls);
            }
        }
    }
    for calls in traces {
        let (co, cn) = (last_culprit(old.engine, tool, &calls), last_culprit(new.engine, tool, &calls));
        if co == cn || co.is_none() || cn.is_none() {
            continue;
        }
        let summary = format!(
            "the same calls pass, but the last call of the witness, which two rules refuse, is refused by `{}` in OLD and by `{}` in NEW (the agent reads the other rule's message)",
            co.clone().unwrap_or_default(),
            cn.clone().unwrap_or_default()
        );
        let wo = trace::replay(old.engine, calls.clone(), &old.replay);
        let wn = trace::replay(new.engine, calls, &new.replay);
        out.push(Change {
            tool: tool.to_string(),
            direction: Direction::Neutral,
            kind: "rule-order",
            rule: cn.clone(),
            summary,
            old_at: at(old, tool, co.as_deref()),
            new_at: at(new, tool, cn.as_deref()),
            old: Some(wo),
            new: Some(wn),
        });
        return;
    }
    out.push(Change {
        tool: tool.to_string(),
        direction: Direction::Neutral,
        kind: "rule-order",
        rule: None,
        summary: "the rules' order changed, and it changes nothing prove can find: the same calls pass, and every call it built that two rules refuse (two argument conditions, or a spent limit and an argument condition) is refused by the same rule on both sides".into(),
        old_at: at(old, tool, None),
        new_at: at(new, tool, None),
        old: None,
        new: None,
    });
}
