//! What the requirements ask of one tool, as edits to its policy entry:
//! a rate limit sized for calendar windows, argument conditions from the
//! tool's inputSchema, spend caps, hiding. Every number an edit writes
//! carries a [`Note`] saying where it came from (a requirement, the schema,
//! a declared workload).
//!
//! Intercept counts per calendar minute, hour or day. A sliding bound of N
//! calls per W holds under a calendar limit of k per C when every sliding W
//! touches at most `ceil(W/C) + 1` calendar windows: k = N / that. The same
//! sizing applies to spend counters. A declared workload sets the floor: a
//! limit below what it needs is raised to it, when the requirement allows.
//!
//! Free text is capped by size, not by a blanket length: the schema's
//! `maxLength` when it has one, else the tool's share of the
//! `max_argument_bytes` requirement (each character counted at the six bytes
//! of a JSON `\u` escape, the longest it can take), with room for any
//! declared typical size. Regexes in Intercept (Go RE2) repeat at most 1000
//! times and refuse nested repeats past that, so a longer cap is written as
//! a run of `.{0,1000}` pieces.

use serde_json::Value;

use super::patch::{Edit, Limit, NewCondition, NewRule, Note};
use crate::policy::model::{Action, CounterScope, DefaultAction, Dialect, Op, Path, Policy, Rule, ToolPolicy, Window, WILDCARD};
use crate::mock::roles::{FieldRole, Unit};
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::{AmountWindow, Requirement, Requirements};
use crate::scenario::Duration;
use crate::verify::blame::{checks_type, required_fields};
use crate::verify::destinations::{FieldCheck, Origin};

/// The denial message of the argument rules harden writes.
pub const ARGUMENTS_MESSAGE: &str = "Arguments do not match the approved schema.";

/// The most a Go RE2 repeat counts (`x{0,1000}`); a longer cap is a run of them.
pub const MAX_REPEAT: u64 = 1000;

/// The most bytes one character of a JSON string takes (`\u001f`).
pub const BYTES_PER_CHAR: u64 = 6;

/// What a presence check on a nullable field compares with: no legitimate call sends it.
pub const ABSENT: &str = "\u{0}gauntlet: absent";

/// The amount field spend requirements read.
pub const AMOUNT: &str = "amount";

/// Which parts of a requirement to bring the tool up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Aspects {
    pub rate: bool,
    pub arguments: bool,
    pub spend: bool,
    pub hide: bool,
    /// A daily cap on the calls where a spend counter drops fractions of a
    /// unit ([`call_cap`]): `harden` and `verify --suggest` propose it
    /// first, and leave it out for a tool where it refuses legitimate calls.
    pub call_cap: bool,
}

impl Aspects {
    pub const ALL: Aspects = Aspects { rate: true, arguments: true, spend: true, hide: true, call_cap: true };
}

/// Whether `e` adds the daily call cap [`call_cap`] writes (a rule whose note says what it bounds).
pub fn is_call_cap(e: &Edit) -> bool {
    matches!(e, Edit::AddRule { rule, .. } if rule.rate_limit.is_some() && rule.note.0.as_deref().is_some_and(|n| n.contains(CAP_NOTE)))
}

/// What every call cap's note says, so [`is_call_cap`] knows it.
const CAP_NOTE: &str = "Intercept's spend counter counts an amount's whole part, so each call adds under 1 uncounted";

/// The calendar limit (count, window) that keeps `count` per sliding `window`;
/// `None` when no calendar window can (a bound of 1, or a calendar bound
/// over a window Intercept does not have). Calls are counted in the
/// requirement's own window when Intercept has it (an hourly bound gets an
/// hourly limit: 50/hour for ≤100 per hour, where the most per second would
/// be 1/minute, refusing any two calls in a minute), else the window with
/// the most per second; a spend cap favours the largest single allowance,
/// so one call's amount still fits.
pub fn calendar_limit(count: u64, window: Duration, calendar: bool) -> Option<(u64, Window)> {
    pick_limit(count, window, calendar, false)
}

/// [`calendar_limit`] for a spend cap.
pub fn calendar_spend_limit(amount: u64, window: Duration) -> Option<(u64, Window)> {
    pick_limit(amount, window, false, true)
}

fn pick_limit(count: u64, window: Duration, calendar: bool, largest: bool) -> Option<(u64, Window)> {
    let w = window.nanos().max(1) as u128;
    let windows = [Window::Minute, Window::Hour, Window::Day];
    if calendar {
        return windows.into_iter().find(|c| c.length_secs() as u128 * 1_000_000_000 == w).map(|c| (count, c));
    }
    let mut best: Option<(u64, Window)> = None;
    for c in windows {
        let len = c.length_secs() as u128 * 1_000_000_000;
        let touched = w.div_ceil(len) as u64 + 1;
        let k = count / touched;
        if k == 0 {
            continue;
        }
        if len == w && !largest {
            return Some((k, c));
        }
        // Most calls per second wins; at equal throughput the shorter window (smoother).
        let better = match best {
            None => true,
            Some((bk, _)) if largest => k > bk,
            Some((bk, bc)) => (k as u128) * (bc.length_secs() as u128) > (bk as u128) * (c.length_secs() as u128),
        };
        if better {
            best = Some((k, c));
        }
    }
    best
}

/// The denial message of the destination rules harden writes.
pub const DESTINATIONS_MESSAGE: &str = "Destination not on the approved list.";

/// The edit that keeps `tool`'s destination fields on their allowlists: an
/// anchored `regex` per field (an `in` list when only exact values are
/// allowed), `exists: false` per forbidden field. A field no condition can
/// guard without refusing legitimate calls (optional, a list, nullable) is
/// left out with its reason in `gaps`: verify reports it as a proxy finding.
pub fn destination_edits(entry: Option<&ToolPolicy>, tool: &ToolInfo, checks: &[FieldCheck], forbidden: &[String], gaps: &mut Vec<String>) -> Vec<Edit> {
    let mut conditions = Vec::new();
    let guarded = |field: &str, op: Op| {
        entry.is_some_and(|e| e.rules.iter().flat_map(|r| &r.conditions).any(|c| c.path == Path::Args(field.split('.').map(str::to_string).collect()) && c.op == op))
    };
    for c in checks {
        if let Some(why) = c.inexpressible() {
            gaps.push(format!("`{}`: {why}", tool.name));
            continue;
        }
        let path = format!("args.{}", c.path);
        let only_values = c.allow.pattern.is_none() && !c.allow.constrains_structurally(c.kind);
        let note = Note::new(format!("where `{}` may go ({}): {}", c.path, allowlist_origin(&c.origin), c.allow.describe(c.kind)));
        if only_values && !c.allow.values.is_empty() {
            let value = Value::Array(c.allow.values.iter().cloned().map(Value::String).collect());
            conditions.push(NewCondition { path, op: "in", value, note });
        } else if let Some(re) = c.allow.regex(c.kind).filter(|re| crate::policy::regex::compile(re).is_ok()) {
            conditions.push(NewCondition { path, op: "regex", value: Value::String(re), note });
        } else {
            gaps.push(format!("`{}`: no regular expression states where `{}` may go ({})", tool.name, c.path, c.allow.describe(c.kind)));
        }
    }
    for f in forbidden.iter().filter(|f| !guarded(f, Op::Exists)) {
        conditions.push(NewCondition { path: format!("args.{f}"), op: "exists", value: Value::Bool(false), note: Note::new("a forbidden field") });
    }
    if conditions.is_empty() {
        return Vec::new();
    }
    vec![Edit::AddRule {
        tool: tool.name.clone(),
        rule: NewRule {
            name: fresh_name(entry, "destinations"),
            rate_limit: None,
            on_deny: Some(DESTINATIONS_MESSAGE.into()),
            conditions,
            state: None,
            note: Note::default(),
        },
    }]
}

/// Where a destination allowlist harden writes comes from, for its note.
pub fn allowlist_origin(origin: &Origin) -> String {
    match origin {
        Origin::Declared(key) => format!("gauntlet.yaml's `{key}`"),
        Origin::Policy => "assumed from your policy's own conditions; no allowlist in gauntlet.yaml".into(),
        Origin::StandIn => "assumed: a stand-in value; no allowlist in gauntlet.yaml".into(),
    }
}

/// A rule name not yet used in the entry.
fn fresh_name(entry: Option<&ToolPolicy>, base: &str) -> String {
    let taken = |n: &str| entry.is_some_and(|e| e.rules.iter().any(|r| r.name == n));
    if !taken(base) {
        return base.to_string();
    }
    (2..).map(|i| format!("{base} {i}")).find(|n| !taken(n)).unwrap_or_else(|| base.to_string())
}

/// Whether the policy refuses every call of the tool before any rule of
/// ours could matter: it hides it, or a deny rule (its own or a `"*"` one)
/// is in its plan. Nothing is added after a rule that always denies.
pub fn refuses_every_call(policy: &Policy, tool: &str) -> bool {
    let deny = |e: Option<&ToolPolicy>| e.is_some_and(|e| e.rules.iter().any(|r| r.action == Action::Deny));
    policy.hides(tool) || deny(policy.tool(tool)) || deny(policy.tool(WILDCARD))
}

/// The rules that decide a call of `tool`: its own, then the `"*"` rules (Intercept's plan).
fn plan<'p>(policy: &'p Policy, tool: &str) -> impl Iterator<Item = &'p Rule> + 'p {
    let own = policy.tool(tool).into_iter();
    let wildcard = policy.tool(WILDCARD).filter(|_| tool != WILDCARD).into_iter();
    own.chain(wildcard).flat_map(|e| e.rules.iter()).filter(|r| r.action == Action::Evaluate)
}

/// Whether every call that passes `by` (a condition of the policy, on the
/// same path) also passes `new`, so writing `new` beside it adds nothing: the
/// same condition again, or `new` a set that holds every value `by` admits.
/// Decided only where `by` admits a finite list of plain values (`eq`, `in`)
/// or is the same operator with the same operand; anything else is kept.
pub fn implies(by: &crate::policy::model::Condition, new: &NewCondition) -> bool {
    use crate::policy::model::Value as V;
    let Path::Args(segments) = &by.path else { return false };
    if new.path != format!("args.{}", segments.join(".")) {
        return false;
    }
    // One plain value as the model holds it and as JSON writes it: equal texts, numbers, booleans.
    let same = |a: &V, b: &Value| match (a, b) {
        (V::Str(x), Value::String(y)) => x == y,
        (V::Bool(x), Value::Bool(y)) => x == y,
        (V::Int(x), Value::Number(y)) => y.as_f64() == Some(*x as f64),
        (V::Float(x), Value::Number(y)) => y.as_f64() == Some(*x),
        _ => false,
    };
    if Op::parse(new.op) == Some(by.op) && (same(&by.value, &new.value) || list_equal(&by.value, &new.value, same)) {
        return true;
    }
    let admitted: Vec<&V> = match (by.op, &by.value) {
        (Op::Eq, v) => vec![v],
        (Op::In, V::Seq(vs)) => vs.iter().collect(),
        _ => return false,
    };
    let plain = |v: &V| matches!(v, V::Str(_) | V::Bool(_) | V::Int(_) | V::Float(_));
    if admitted.is_empty() || !admitted.iter().all(|v| plain(v)) {
        return false;
    }
    match (new.op, &new.value) {
        ("eq", w) => admitted.iter().all(|v| same(v, w)),
        ("in", Value::Array(ws)) => admitted.iter().all(|v| ws.iter().any(|w| same(v, w))),
        ("regex", Value::String(pattern)) => match crate::policy::regex::compile(pattern) {
            Ok(re) => admitted.iter().all(|v| matches!(v, V::Str(t) if re.is_match(t))),
            Err(_) => false,
        },
        // A plain value is present and not null.
        ("exists", Value::Bool(true)) => true,
        _ => false,
    }
}

/// Whether a list operand is the same list as a JSON array, element by element.
fn list_equal(a: &crate::policy::model::Value, b: &Value, same: impl Fn(&crate::policy::model::Value, &Value) -> bool) -> bool {
    match (a, b) {
        (crate::policy::model::Value::Seq(xs), Value::Array(ys)) => xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y)),
        _ => false,
    }
}

/// Where the requirement on a tool was set: its own `tools:` entry, its risk class in gauntlet.yaml, or the baseline.
fn origin(reqs: &Requirements, tool: &ToolInfo, pick: impl Fn(&Requirement) -> bool) -> String {
    if reqs.tools.get(&tool.name).is_some_and(&pick) {
        return format!("gauntlet.yaml's `tools.{}`", tool.name);
    }
    let base = Requirements::baseline();
    let same = |r: &Requirements| r.risk.get(&tool.risk).cloned().unwrap_or_default();
    let (mine, baseline) = (same(reqs), same(&base));
    if pick(&mine) && (mine.rate != baseline.rate || mine.max_amount_per_call != baseline.max_amount_per_call || mine.max_amount_per_window != baseline.max_amount_per_window) {
        return format!("gauntlet.yaml's `risk.{}`", tool.risk);
    }
    format!("the built-in requirement for {} tools", tool.risk)
}

/// Why `tool` is hidden: the requirement that denies it and, when the
/// starting policy allowed it, the gauntlet.yaml edit that keeps it.
fn hide_reason(policy: &Policy, reqs: &Requirements, tool: &ToolInfo) -> String {
    let denied = |r: &Requirements| r.risk.get(&tool.risk).and_then(|x| x.denied);
    let by = if reqs.tools.get(&tool.name).is_some_and(|r| r.denied.is_some()) {
        format!("gauntlet.yaml's `tools.{}` denies it", tool.name)
    } else if denied(reqs) != denied(&Requirements::baseline()) {
        format!("gauntlet.yaml's `risk.{}` denies {} tools", tool.risk, tool.risk)
    } else {
        format!("the built-in requirement denies {} tools", tool.risk)
    };
    let listed = policy.tool(&tool.name).is_some() || policy.default == DefaultAction::Allow;
    if !listed || refuses_every_call(policy, &tool.name) {
        return by;
    }
    let name = if tool.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') { tool.name.clone() } else { super::patch::text::q(&tool.name) };
    format!("{by}, though your policy allowed it; to keep it, set `tools: {{{name}: {{denied: false}}}}` in gauntlet.yaml")
}

/// The edits that bring `tool` up to its requirement in `policy`, for the chosen aspects.
/// Edits that cannot be derived are reported in `gaps`, one sentence each.
pub fn edits_for(policy: &Policy, tool: &ToolInfo, reqs: &Requirements, aspects: Aspects, gaps: &mut Vec<String>) -> Vec<Edit> {
    let req = reqs.for_tool(&tool.name, tool.risk);
    let mut edits = Vec::new();
    let entry = policy.tool(&tool.name);
    if req.is_denied() {
        // Whatever was asked, a denied tool's remedy is to hide it.
        if !policy.hides(&tool.name) {
            edits.push(Edit::Hide(tool.name.clone(), Note::new(hide_reason(policy, reqs, tool))));
        }
        return edits;
    }
    if refuses_every_call(policy, &tool.name) {
        return edits;
    }
    if aspects.rate {
        edits.extend(rate_edits(policy, entry, tool, reqs, gaps));
    }
    let mut conditions = Vec::new();
    if aspects.arguments || aspects.spend {
        conditions = argument_conditions(policy, tool, reqs, aspects, gaps);
    }
    if !conditions.is_empty() {
        edits.push(Edit::AddRule {
            tool: tool.name.clone(),
            rule: NewRule {
                name: fresh_name(entry, "arguments"),
                rate_limit: None,
                on_deny: Some(ARGUMENTS_MESSAGE.into()),
                conditions,
                state: None,
                note: Note::default(),
            },
        });
    }
    if aspects.spend {
        let calls = calls_within(policy, entry, tool, reqs, aspects);
        edits.extend(spend_edits(policy, entry, tool, reqs, calls, aspects.call_cap, gaps));
    }
    edits
}

/// A rule's call-count limit as (max, window, counted for every caller):
/// a `rate_limit` (Intercept's shorthand, the catalogue's `{max, window}`),
/// or a policy.json limit (a fixed-increment counter with an `lte` on it).
fn call_limit(dialect: Dialect, r: &Rule) -> Option<(u64, Window, bool)> {
    if let Some(rl) = &r.rate_limit {
        return Some((rl.max.max(0) as u64, rl.window, true));
    }
    let s = r.state.as_ref().filter(|s| dialect == Dialect::PolicyLayer && s.increment_from.is_none() && s.increment == 1)?;
    r.conditions.iter().find_map(|c| match (&c.path, c.op, &c.value) {
        (Path::State(k), Op::Lte, crate::policy::model::Value::Int(max)) if k == &s.key => {
            Some(((*max).max(0) as u64, s.window, s.scope == CounterScope::Shared))
        }
        _ => None,
    })
}

/// Calls a declared workload of `count` per `window`, spread evenly, puts in one calendar `c`.
pub fn workload_need(count: u64, window: Duration, c: Window) -> u64 {
    let len = c.length_secs() as u128 * 1_000_000_000;
    (count as u128 * len).div_ceil(window.nanos().max(1) as u128) as u64
}

/// The rate edits for a tool: a calendar limit that keeps the requirement,
/// at least what a declared workload needs. An existing limit is tightened
/// to the requirement, or raised to the workload, never past the requirement.
fn rate_edits(policy: &Policy, entry: Option<&ToolPolicy>, tool: &ToolInfo, reqs: &Requirements, gaps: &mut Vec<String>) -> Vec<Edit> {
    let req = reqs.for_tool(&tool.name, tool.risk);
    let workload = req.workload.as_ref().and_then(|w| w.rate);
    let from = || origin(reqs, tool, |r| r.rate.is_some());
    let limits: Vec<(usize, (u64, Window, bool))> = entry
        .map(|e| e.rules.iter().enumerate().filter_map(|(i, r)| call_limit(policy.dialect, r).map(|l| (i, l))).collect())
        .unwrap_or_default();
    let need = |w: Window| workload.map(|wl| workload_need(wl.count, wl.window, w));
    let what = || workload.map(|wl| format!("the declared workload ({} per {})", wl.count, wl.window)).unwrap_or_default();
    let raise = |i: usize, max: u64, to: u64, w: Window, ceiling: String| Edit::SetRateLimit {
        tool: tool.name.clone(),
        rule: i,
        limit: Limit { max: to, window: w },
        note: Note::new(format!("{to}/{w}: raised from {max} for {}; {ceiling}", what())),
    };
    let mut edits = Vec::new();
    let Some(rate) = req.rate else {
        // No requirement: only a declared workload can ask for more than the user's own limits.
        for &(i, (max, w, _)) in &limits {
            if let Some(n) = need(w).filter(|n| *n > max) {
                edits.push(raise(i, max, n, w, format!("no rate is required of {} tools", tool.risk)));
            }
        }
        return edits;
    };
    let Some((k, w)) = calendar_limit(rate.count, rate.window, rate.calendar) else {
        gaps.push(format!(
            "`{}`: no Intercept rate limit keeps ≤{} per {} (windows are calendar minutes, hours or days)",
            tool.name, rate.count, rate.window
        ));
        return edits;
    };
    let sliding = if rate.calendar { "per calendar" } else { "per sliding" };
    let bound = format!("{} is ≤{} {sliding} {}", from(), rate.count, rate.window);
    let why = |n: u64| {
        let sized = if rate.calendar { String::new() } else { format!(", which a calendar {w} keeps at {k}") };
        format!("{n}/{w}: {bound}{sized}")
    };
    if let Some(n) = need(w).filter(|n| *n > k) {
        gaps.push(format!(
            "`{}`: {} needs {n}/{w}, but {bound}, at most {k}/{w} in calendar windows: raise `rate` for `{}` in gauntlet.yaml to ≥{} per {}, or lower the workload",
            tool.name,
            what(),
            tool.name,
            if rate.calendar { n } else { n * 2 },
            rate.window
        ));
    }
    let same = limits.iter().find(|(_, l)| l.1 == w).copied();
    match same {
        Some((i, (max, _, shared))) if max <= k && shared => {
            // The user's own tighter limit stands, unless the declared workload needs more.
            if let Some(n) = need(w).filter(|n| *n > max && *n <= k) {
                edits.push(raise(i, max, n, w, format!("{bound}, up to {k}/{w}")));
            }
        }
        Some((i, (max, _, _))) => edits.push(Edit::SetRateLimit {
            tool: tool.name.clone(),
            rule: i,
            limit: Limit { max: max.min(k), window: w },
            note: Note::new(why(max.min(k))),
        }),
        None => edits.push(new_rate_rule(entry, &tool.name, Limit { max: k, window: w }, why(k))),
    }
    // Limits in other windows only need to let the workload through: the one above keeps the requirement.
    for &(i, (max, lw, _)) in limits.iter().filter(|(_, l)| l.1 != w) {
        if let Some(n) = need(lw).filter(|n| *n > max) {
            edits.push(raise(i, max, n, lw, format!("the {w} limit keeps the requirement")));
        }
    }
    edits
}

fn new_rate_rule(entry: Option<&ToolPolicy>, tool: &str, limit: Limit, why: String) -> Edit {
    Edit::AddRule { tool: tool.to_string(), rule: rate_rule(entry, limit, why) }
}

/// A rule named for its window (`rate per minute`) that is only a call-count limit.
fn rate_rule(entry: Option<&ToolPolicy>, limit: Limit, why: String) -> NewRule {
    NewRule {
        name: fresh_name(entry, &format!("rate per {}", limit.window)),
        rate_limit: Some(limit),
        on_deny: None,
        conditions: Vec::new(),
        state: None,
        note: Note::new(why),
    }
}

/// Whether some condition deciding a call of `tool` (its own or a `"*"` one) is on `args.<field>` with an operator `op_ok` accepts.
fn has_check(policy: &Policy, tool: &str, field: &str, op_ok: impl Fn(Op) -> bool) -> bool {
    plan(policy, tool).flat_map(|r| &r.conditions).any(|c| c.path == Path::Args(vec![field.to_string()]) && op_ok(c.op))
}

fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

/// `x` rounded down to two significant digits (10922 → 10000, 5461 → 5400): a cap people can read.
fn round_down(x: u64) -> u64 {
    let mut unit = 1;
    while x / unit >= 100 {
        unit *= 10;
    }
    x / unit * unit
}

/// A Go RE2 regex true exactly on strings of `min..=max` characters (any
/// character, newlines too): `.{a,b}` pieces of at most [`MAX_REPEAT`] each.
pub fn length_regex(min: u64, max: u64) -> String {
    format!("(?s)^{}$", pieces(".", min, max))
}

/// `atom{a,b}` pieces, each at most [`MAX_REPEAT`], together `min..=max` of the atom.
fn pieces(atom: &str, min: u64, max: u64) -> String {
    let mut out = String::new();
    let (mut lo, mut hi) = (min, max.max(min));
    loop {
        let piece_hi = hi.min(MAX_REPEAT);
        let piece_lo = lo.min(piece_hi);
        out.push_str(&format!("{atom}{{{piece_lo},{piece_hi}}}"));
        lo -= piece_lo;
        hi -= piece_hi;
        if hi == 0 {
            return out;
        }
    }
}

/// A regex that only bounds a string's length — `^.{m,n}$` (with `(?s)`,
/// or `[\s\S]` for any character) — rewritten to admit up to `max`
/// characters, its character class and minimum kept. `None` for any other
/// pattern: widening it is a person's call.
pub fn widen_length_cap(pattern: &str, max: u64) -> Option<(u64, String)> {
    let shape = regex::Regex::new(r"^(\(\?s\))?\^(\(\?s\))?(\.|\[\\s\\S\]|\[\\S\\s\]|\(\?s:\.\))\{(\d+),(\d+)\}\$$").ok()?;
    let c = shape.captures(pattern)?;
    let (min, old): (u64, u64) = (c[4].parse().ok()?, c[5].parse().ok()?);
    if max <= old {
        return None;
    }
    let (outer, inner) = (c.get(1).map_or("", |m| m.as_str()), c.get(2).map_or("", |m| m.as_str()));
    Some((old, format!("{outer}^{inner}{}$", pieces(&c[3], min, max))))
}

/// The length cap harden gives a required free-text field of `tool` (the
/// field counted as free text even if a condition already bounds it).
pub fn text_cap(policy: &Policy, tool: &ToolInfo, reqs: &Requirements, field: &str, gaps: &mut Vec<String>) -> (u64, String) {
    let props = &tool.input_schema["properties"];
    if let Some(max) = props[field]["maxLength"].as_u64() {
        return (max, format!("≤{max} characters: the inputSchema's maxLength"));
    }
    let mut free = free_fields(policy, tool);
    if !free.iter().any(|f| f == field) {
        free.push(field.to_string());
    }
    let caps = free_text_caps(tool, &free, reqs, gaps);
    let i = free.iter().position(|f| f == field).unwrap_or(0);
    caps.into_iter().nth(i).map(|c| (c.max, c.why)).unwrap_or((MAX_REPEAT, String::new()))
}

/// The required string fields with no `maxLength`, no enum, no bounded pattern and no type check yet.
fn free_fields(policy: &Policy, tool: &ToolInfo) -> Vec<String> {
    let props = &tool.input_schema["properties"];
    required_fields(tool)
        .into_iter()
        .filter(|f| !has_check(policy, &tool.name, f, checks_type))
        .filter(|f| {
            let p = &props[f.as_str()];
            p["type"].as_str() == Some("string")
                && p.get("enum").is_none()
                && p.get("maxLength").is_none()
                && !p["pattern"].as_str().is_some_and(|pat| bounded(pat) && crate::policy::regex::compile(pat).is_ok())
        })
        .collect()
}

/// A required string field's length cap and where it came from.
struct Cap {
    max: u64,
    why: String,
}

/// Caps for the free-text fields (required strings with no `maxLength`, no
/// enum and no bounded pattern): shares of the `max_argument_bytes`
/// requirement, fields with a declared size larger than a share first.
fn free_text_caps(tool: &ToolInfo, fields: &[String], reqs: &Requirements, gaps: &mut Vec<String>) -> Vec<Cap> {
    let req = reqs.for_tool(&tool.name, tool.risk);
    let sizes = req.workload.as_ref().map(|w| w.sizes.clone()).unwrap_or_default();
    let budget = reqs.max_argument_bytes / BYTES_PER_CHAR;
    let whose = if reqs.max_argument_bytes == crate::scenario::requirements::DEFAULT_MAX_ARGUMENT_BYTES {
        "the built-in"
    } else {
        "gauntlet.yaml's"
    };
    let declared = |f: &String| sizes.get(f).map(|&d| d as u64);
    // Water-filling: a field whose declared size is over the equal share gets its size; the rest share what is left.
    let mut open: Vec<&String> = fields.iter().collect();
    let mut rest = budget;
    loop {
        let share = rest / open.len().max(1) as u64;
        let big: Vec<&String> = open.iter().copied().filter(|f| declared(f).is_some_and(|d| d > share)).collect();
        if big.is_empty() || open.is_empty() {
            break;
        }
        for f in big {
            rest = rest.saturating_sub(declared(f).unwrap_or(0));
            open.retain(|g| *g != f);
        }
    }
    let share = round_down(rest / open.len().max(1) as u64);
    let total: u64 = fields.iter().filter_map(declared).sum();
    if total > budget {
        gaps.push(format!(
            "`{}`: the declared sizes ({total} characters) do not fit `max_argument_bytes` {} at {BYTES_PER_CHAR} bytes a character: raise `max_argument_bytes` in gauntlet.yaml to ≥{}, or lower the sizes",
            tool.name,
            reqs.max_argument_bytes,
            total * BYTES_PER_CHAR
        ));
    }
    let n = fields.len();
    let split = if n == 1 { String::new() } else { format!(" ÷ {n} free-text fields") };
    fields
        .iter()
        .map(|f| match declared(f).filter(|_| !open.contains(&f)) {
            Some(d) => Cap {
                max: d,
                why: format!(
                    "≤{d} characters: the declared workload's size of `{f}`; the other free-text fields share the rest of {whose} `max_argument_bytes` ({})",
                    reqs.max_argument_bytes
                ),
            },
            None => {
                let with = declared(f).map(|d| format!("; the declared size {d} fits")).unwrap_or_default();
                Cap {
                    max: share,
                    why: format!(
                        "≤{share} characters: {whose} `max_argument_bytes` ({}) ÷ {BYTES_PER_CHAR} bytes a character at most (a JSON `\\u` escape){split}{with}",
                        reqs.max_argument_bytes
                    ),
                }
            }
        })
        .collect()
}

/// Conditions for the required fields no condition type-checks yet, and the per-call amount bounds.
fn argument_conditions(policy: &Policy, tool: &ToolInfo, reqs: &Requirements, aspects: Aspects, gaps: &mut Vec<String>) -> Vec<NewCondition> {
    let req = reqs.for_tool(&tool.name, tool.risk);
    let required = required_fields(tool);
    let props = &tool.input_schema["properties"];
    let mut out = Vec::new();
    let cond = |field: &str, op: &'static str, value: Value, why: String| NewCondition {
        path: format!("args.{field}"),
        op,
        value,
        note: Note::new(why),
    };
    let typed = |field: &str| has_check(policy, &tool.name, field, checks_type);
    // The free-text fields share the size budget: find them first.
    let free = if aspects.arguments { free_fields(policy, tool) } else { Vec::new() };
    let mut caps = free_text_caps(tool, &free, reqs, gaps).into_iter();
    for field in &required {
        let p = &props[field];
        let is_amount = field == AMOUNT && aspects.spend;
        if !aspects.arguments && !is_amount {
            continue;
        }
        let typed = typed(field);
        if let Some(options) = p["enum"].as_array() {
            if !typed {
                out.push(cond(field, "in", Value::Array(options.clone()), "the inputSchema's enum".into()));
            }
            continue;
        }
        match p["type"].as_str() {
            Some("string") if !typed => {
                if let Some(pattern) = p["pattern"].as_str() {
                    if crate::policy::regex::compile(pattern).is_ok() {
                        out.push(cond(field, "regex", Value::String(pattern.to_string()), "the inputSchema's pattern".into()));
                        if bounded(pattern) && p.get("maxLength").is_none() {
                            continue;
                        }
                    }
                }
                let min = p["minLength"].as_u64().unwrap_or(0);
                let cap = match p["maxLength"].as_u64() {
                    Some(max) => {
                        let declared = req.workload.as_ref().and_then(|w| w.sizes.get(field)).map(|&d| d as u64);
                        if let Some(d) = declared.filter(|&d| d > max) {
                            gaps.push(format!(
                                "`{}`: the declared size of `{field}` ({d} characters) is over its inputSchema's maxLength ({max}), which the server itself refuses: lower the size in gauntlet.yaml",
                                tool.name
                            ));
                        }
                        Cap { max, why: format!("≤{max} characters: the inputSchema's maxLength") }
                    }
                    None => caps.next().unwrap_or(Cap { max: MAX_REPEAT, why: String::new() }),
                };
                let why = if min > 0 { format!("{}; at least {min}: its minLength", cap.why) } else { cap.why };
                out.push(cond(field, "regex", Value::String(length_regex(min, cap.max)), why));
            }
            Some("integer" | "number") => {
                // Whole numbers a list can name: the list refuses a fraction, which no bound does (the bounds below refuse the texts `in` admits, "2" for 2).
                if let Some((lo, hi)) = crate::verify::measure::listable_wholes(p).filter(|_| !is_amount && !typed) {
                    let wholes = (lo..=hi).map(Value::from).collect();
                    out.push(cond(field, "in", Value::Array(wholes), format!("the inputSchema's whole numbers {lo} to {hi}: a list refuses a fraction, which no bound does")));
                }
                let mut lo = p["minimum"].as_f64().map(|l| (l, "the inputSchema's minimum".to_string()));
                let mut hi = p["maximum"].as_f64().map(|h| (h, "the inputSchema's maximum".to_string()));
                if is_amount {
                    // Amounts are positive: at least one cent, in the field's unit
                    // (1 in minor units, 0.01 in euros); a per-call cap bounds them above.
                    let cent = tool.role_of(field).map_or(1.0, FieldRole::per_minor);
                    let l = lo.as_ref().map_or(cent, |(l, _)| l.max(cent));
                    lo = Some((l, format!("amounts are positive (≥{cent}: one cent in the field's unit)")));
                    if let Some(cap) = req.per_call_in(tool.role_of(field)) {
                        let from = origin(reqs, tool, |r| r.max_amount_per_call.is_some());
                        if hi.as_ref().is_none_or(|(h, _)| cap < *h) {
                            hi = Some((cap, format!("max_amount_per_call: {from}")));
                        }
                    }
                }
                // A bound the policy already has, at least as tight as `within` asks.
                let has = |ops: [Op; 2], within: &dyn Fn(f64) -> bool| {
                    plan(policy, &tool.name).flat_map(|r| &r.conditions).any(|c| {
                        c.path == Path::Args(vec![field.clone()])
                            && ops.contains(&c.op)
                            && match c.value {
                                crate::policy::model::Value::Int(v) => within(v as f64),
                                crate::policy::model::Value::Float(v) => within(v),
                                _ => false,
                            }
                    })
                };
                let has_lo = |l: f64| has([Op::Gte, Op::Gt], &|v| !is_amount || v >= l);
                let has_hi = |cap: f64| has([Op::Lte, Op::Lt], &|v| v <= cap);
                match lo {
                    // Any lower bound checks the type; an amount's must keep it at one cent or more.
                    Some((l, why)) if !has_lo(l) => out.push(cond(field, "gte", number(l), why)),
                    // A number check of some kind, so a string or boolean fails it.
                    None if !typed => out.push(cond(
                        field,
                        "gte",
                        Value::from(-9_007_199_254_740_991i64),
                        "a type check: any number passes (the inputSchema gives no minimum)".into(),
                    )),
                    _ => {}
                }
                if let Some((h, why)) = hi.filter(|(h, _)| !has_hi(*h)) {
                    out.push(cond(field, "lte", number(h), why));
                }
            }
            Some("boolean") if !typed => out.push(cond(
                field,
                "in",
                Value::Array(vec![Value::Bool(true), Value::Bool(false)]),
                "a type check: a boolean".into(),
            )),
            Some(_) | None if !typed && !has_check(policy, &tool.name, field, |op| op == Op::Exists) => {
                out.push(cond(field, "exists", Value::Bool(true), "present, as the inputSchema requires".into()));
            }
            _ => {}
        }
    }
    let amount_declared = props.get(AMOUNT).is_some();
    if aspects.spend && amount_declared && !required.iter().any(|f| f == AMOUNT) && req.max_amount_per_call.is_some() {
        let why = if crate::verify::measure::nullable(&props[AMOUNT]) { "may be `null`" } else { "is optional" };
        gaps.push(format!(
            "`{}`: `{AMOUNT}` {why}, and an Intercept condition that bounds it would refuse every legitimate call without one",
            tool.name
        ));
    }
    // A required field that may be null: `neq` on a value no call sends is
    // true for `null` and every value, false only for an absent field.
    if aspects.arguments {
        for field in crate::verify::measure::nullable_fields(&tool.input_schema) {
            if !has_check(policy, &tool.name, &field, |op| matches!(op, Op::Neq | Op::Exists)) {
                out.push(cond(&field, "neq", Value::String(ABSENT.into()), "present (it may be `null`): a value no call sends".into()));
            }
        }
    }
    out
}

/// An anchored pattern without unbounded repetition limits the length by itself.
fn bounded(pattern: &str) -> bool {
    pattern.starts_with('^')
        && pattern.ends_with('$')
        && !pattern.contains(['*', '+'])
        && !regex::Regex::new(r"\{\d*,\}").is_ok_and(|r| r.is_match(pattern))
}

/// The counter a private read adds to (Intercept's form of a flow).
pub const FLOW_COUNTER: &str = "private_reads";

/// How many private reads a day the counting rule lets through: it exists
/// to count, not to limit.
const FLOW_READS: u64 = 1_000_000;

/// The denial message of a flow's egress rule.
pub const FLOW_MESSAGE: &str = "Refused: private data was read today, and nothing may be sent out after a private read.";

/// Intercept's form of a flow: each source counts its calls (`private_reads`,
/// per calendar day, a rule whose only limit is far above any real use), and
/// the egress tool gets a rule refusing it while any source's counter is
/// above 0. The counters are Intercept's: shared by every session and reset
/// at 00:00 UTC (a breach past midnight is a proxy finding, see `measure`).
pub fn flow_edits(policy: &Policy, sources: &[String], egress: &str) -> Vec<Edit> {
    let mut edits = Vec::new();
    for s in sources {
        let counts = policy.tool(s).is_some_and(|e| {
            e.rules.iter().any(|r| r.state.as_ref().is_some_and(|st| st.key == format!("{s}.{FLOW_COUNTER}")))
        });
        if !counts {
            edits.push(Edit::AddRule {
                tool: s.clone(),
                rule: NewRule {
                    name: fresh_name(policy.tool(s), "count private reads"),
                    rate_limit: None,
                    on_deny: None,
                    conditions: vec![NewCondition { path: format!("state.{s}.{FLOW_COUNTER}"), op: "lte", value: Value::from(FLOW_READS), note: Note::default() }],
                    state: Some((FLOW_COUNTER.into(), Window::Day.to_string(), String::new())),
                    note: Note::new("counts, does not limit: far above any real use"),
                },
            });
        }
    }
    let guarded = |s: &String| {
        policy.tool(egress).is_some_and(|e| {
            e.rules.iter().flat_map(|r| &r.conditions).any(|c| c.path == Path::State(format!("{s}.{FLOW_COUNTER}")) && c.op == Op::Lte)
        })
    };
    let conditions: Vec<NewCondition> = sources
        .iter()
        .filter(|s| !guarded(s))
        .map(|s| NewCondition { path: format!("state.{s}.{FLOW_COUNTER}"), op: "lte", value: Value::from(0), note: Note::default() })
        .collect();
    if !conditions.is_empty() {
        edits.push(Edit::AddRule {
            tool: egress.to_string(),
            rule: NewRule {
                name: fresh_name(policy.tool(egress), "nothing out after a private read"),
                rate_limit: None,
                on_deny: Some(FLOW_MESSAGE.into()),
                conditions,
                state: None,
                note: Note::default(),
            },
        });
    }
    edits
}

/// The counter of a tool's calls that stands in for a per-session cap.
pub const SESSION_COUNTER: &str = "session_calls";

/// Intercept's nearest form of `max_calls_per_session: max`: a `day`
/// counter of the tool's calls, `lte max`. Intercept has no per-session
/// counter, so it caps every session of the proxy together and forgets a
/// session's calls at 00:00 UTC; the note says so.
pub fn session_cap_edit(policy: &Policy, tool: &str, max: u64) -> Vec<Edit> {
    let key = format!("{tool}.{SESSION_COUNTER}");
    if policy.tool(tool).is_some_and(|e| e.rules.iter().any(|r| r.state.as_ref().is_some_and(|st| st.key == key))) {
        return Vec::new();
    }
    vec![Edit::AddRule {
        tool: tool.to_string(),
        rule: NewRule {
            name: fresh_name(policy.tool(tool), "calls per session"),
            rate_limit: None,
            on_deny: Some(format!("Refused: at most {max} calls of {tool} per session.")),
            conditions: vec![NewCondition { path: format!("state.{key}"), op: "lte", value: Value::from(max), note: Note::default() }],
            state: Some((SESSION_COUNTER.into(), Window::Day.to_string(), String::new())),
            note: Note::new(&format!("max_calls_per_session {max}, as a calendar day: Intercept's counters are shared by every session")),
        },
    }]
}

/// The most calls of `tool` that one sliding `window` lets through once the
/// rate edits are in: the calendar limit that keeps the rate requirement
/// (harden writes it, or keeps a tighter one of the user's), else the
/// user's own limits counted for every caller; `None` when nothing bounds them.
fn calls_within(policy: &Policy, entry: Option<&ToolPolicy>, tool: &ToolInfo, reqs: &Requirements, aspects: Aspects) -> Option<(u64, String)> {
    let window = reqs.for_tool(&tool.name, tool.risk).max_amount_per_window?.window;
    let touched = |w: Window| touched(window, w);
    let req = reqs.for_tool(&tool.name, tool.risk);
    if let Some((k, w)) = req.rate.filter(|_| aspects.rate).and_then(|r| calendar_limit(r.count, r.window, r.calendar)) {
        return Some((k * touched(w), format!("{k}/{w} × {} calendar {w}s", touched(w))));
    }
    if aspects.rate && req.workload.is_some() {
        // A declared workload may raise the user's limits: they bound nothing known here.
        return None;
    }
    entry?
        .rules
        .iter()
        .filter_map(|r| call_limit(policy.dialect, r))
        .filter(|(_, _, shared)| *shared)
        .map(|(max, w, _)| (max * touched(w), format!("{max}/{w} × {} calendar {w}s", touched(w))))
        .min_by_key(|(n, _)| *n)
}

/// How many calendar `w` windows one sliding `window` touches.
fn touched(window: Duration, w: Window) -> u64 {
    let span = crate::engine::admission::rates::Span { len: window.nanos().max(1), sliding: true };
    crate::engine::admission::rates::windows_touched(span, w.length_secs() as i64 * 1_000_000_000)
}

/// A window's spend cap in the unit of the tool's amount field, and as
/// written when that differs (`2000 per 1d (200000 in minor units, …)`).
fn window_cap(tool: &ToolInfo, cap: &AmountWindow) -> String {
    let num = crate::verify::measure::num;
    let converted = cap.money().in_field(tool.role_of(AMOUNT));
    if converted == cap.amount {
        return format!("{} per {}", num(cap.amount), cap.window);
    }
    let unit = if cap.unit == Some(Unit::Major) { "currency units" } else { "minor units" };
    format!("{} per {} ({} in {unit}, converted to the field's unit)", num(converted), cap.window, num(cap.amount))
}

/// The part of a calendar window's spend allowance a call cap leaves to the
/// fractions Intercept does not count, when harden must write one: a tenth.
const UNCOUNTED_SHARE: u64 = 10;

/// A cap on the calls, for amounts whose fractions of a unit go uncounted
/// (major units: 0.99 counts 0): with `budget` (k per calendar `w`, what
/// keeps the cap when every amount counts in full), N calls a window leave
/// k − N to count, and the total stays under the cap whatever the fractions.
/// N is a tenth of k (the assumption its note states), less where the
/// counter must still take one call at the per-call cap, more when a
/// declared workload needs it, or an existing call limit of the user's in
/// `w` that leaves that room. `None` where the dialect has no spend counter
/// (the cap would bound nothing) or no N leaves the room (a workload that
/// needs more is a gap). Returns the calls one sliding window lets through,
/// how, and the rule to add (if any).
fn call_cap(policy: &Policy, entry: Option<&ToolPolicy>, tool: &ToolInfo, reqs: &Requirements, budget: (u64, Window), from: &str, gaps: &mut Vec<String>) -> Option<((u64, String), Vec<Edit>)> {
    if super::patch::lacks(policy.dialect, super::patch::Construct::SpendCounter).is_some() {
        return None;
    }
    let req = reqs.for_tool(&tool.name, tool.risk);
    let cap = req.max_amount_per_window?;
    let (k, w) = budget;
    let workload = req.workload.as_ref().and_then(|wl| wl.rate);
    let need = workload.map_or(0, |wl| workload_need(wl.count, wl.window, w));
    let t = touched(cap.window, w);
    let calls = |n: u64, rule: &str| (n * t, format!("rule `{rule}`: {n}/{w} × {t} calendar {w}s"));
    // The counter must still take one call at the per-call cap (its whole part).
    let largest = req.per_call_in(tool.role_of(AMOUNT)).map_or(1, |c| c.max(1.0) as u64);
    let room = k.saturating_sub(largest);
    // A limit of the user's in the same window stands (raised to the workload by the rate edits).
    let own = entry.into_iter().flat_map(|e| &e.rules).filter_map(|r| {
        call_limit(policy.dialect, r).filter(|&(_, lw, shared)| shared && lw == w).map(|(max, _, _)| (max.max(need), r.name.as_str()))
    });
    if let Some((n, rule)) = own.min_by_key(|(n, _)| *n).filter(|(n, _)| *n <= room) {
        return Some((calls(n, rule), Vec::new()));
    }
    let n = round_down(k / UNCOUNTED_SHARE).clamp(1, room.max(1)).max(need);
    if n > room {
        if let Some(wl) = workload.filter(|_| need > room) {
            gaps.push(format!(
                "`{}`: the declared workload ({} per {}) makes {need} calls a calendar {w}, each adding under 1 that Intercept's spend counter does not count, and a calendar {w} keeps only {k} of max_amount_per_window, {}, {largest} of it for one call at the per-call cap: lower the workload, or raise max_amount_per_window in gauntlet.yaml",
                tool.name,
                wl.count,
                wl.window,
                window_cap(tool, &cap)
            ));
        }
        return None;
    }
    let share = if n < round_down(k / UNCOUNTED_SHARE) {
        format!("{n} of that is left for what the calls add uncounted (a tenth, assumed, but no more than leaves room for one call at the per-call cap, {largest}")
    } else {
        "a tenth of that is left for what the calls add uncounted (assumed".to_string()
    };
    let assumed = match workload.filter(|_| need > round_down(k / UNCOUNTED_SHARE).min(room)) {
        Some(wl) => format!("the declared workload ({} per {}) needs {n} a calendar {w}", wl.count, wl.window),
        None => format!(
            "{from} is max_amount_per_window {}, which a calendar {w} keeps at {k}, and {share}; a declared `workload: rate` in gauntlet.yaml sizes it instead)",
            window_cap(tool, &cap)
        ),
    };
    let why = format!("{n}/{w}: {CAP_NOTE}; {assumed}");
    let rule = rate_rule(entry, Limit { max: n, window: w }, why);
    let how = calls(n, &rule.name);
    Some((how, vec![Edit::AddRule { tool: tool.name.clone(), rule }]))
}

/// The spend counter that keeps the amount requirement. Intercept counts an
/// amount's whole part (49999.99 counts 49999), so each call may add under 1
/// uncounted: the counted total is what the cap leaves after 1 per call a
/// sliding window lets through (`calls`, what `gauntlet prove` proves it
/// under), or, with nothing bounding the calls but every amount at least 1
/// (a whole cent), half the cap (each call then counts at least 1 too).
/// Amounts in major units, whose fractions of a unit go uncounted, may get
/// a cap on the calls instead ([`call_cap`]), whichever leaves the larger
/// counter. When none leaves room, the counter holds the cap for what it
/// counts and its note says so: no calendar counter keeps more, and `prove`
/// refutes it.
fn spend_edits(policy: &Policy, entry: Option<&ToolPolicy>, tool: &ToolInfo, reqs: &Requirements, calls: Option<(u64, String)>, may_cap: bool, gaps: &mut Vec<String>) -> Vec<Edit> {
    let req = reqs.for_tool(&tool.name, tool.risk);
    let (Some(cap), Some(amount)) = (req.max_amount_per_window, req.per_window_in(tool.role_of(AMOUNT))) else { return Vec::new() };
    if !required_fields(tool).iter().any(|f| f == AMOUNT) {
        return Vec::new();
    }
    let from = origin(reqs, tool, |r| r.max_amount_per_window.is_some());
    let whole = amount.max(0.0) as u64;
    let cent = tool.role_of(AMOUNT).map_or(1.0, FieldRole::per_minor);
    let by_calls = calls.as_ref().and_then(|(n, _)| calendar_spend_limit(whole.saturating_sub(*n), cap.window));
    let by_counted = (cent >= 1.0).then(|| calendar_spend_limit(whole / 2, cap.window)).flatten();
    let capped = (cent < 1.0 && may_cap).then(|| calendar_spend_limit(whole, cap.window).and_then(|b| call_cap(policy, entry, tool, reqs, b, &from, gaps))).flatten();
    let by_capped = capped.as_ref().and_then(|((n, _), _)| calendar_spend_limit(whole.saturating_sub(*n), cap.window));
    let none: &[Edit] = &[];
    let candidates = [
        (by_calls, Ok(calls.as_ref()), none),
        (by_counted, Ok(None), none),
        (by_capped, Ok(capped.as_ref().map(|(c, _)| c)), capped.as_ref().map_or(none, |(_, e)| e.as_slice())),
    ];
    // The largest counter that keeps the cap; the first on a tie, so a call cap only where it leaves more to count.
    let best = candidates.into_iter().filter_map(|(l, by, extra)| Some((l?, by, extra))).reduce(|a, b| if b.0 .0 > a.0 .0 { b } else { a });
    // None: the counter holds what it counts, and the note says what truncation leaves (prove refutes it).
    let Some(((k, w), by, extra)) = best.or_else(|| calendar_spend_limit(whole, cap.window).map(|l| (l, Err(()), none))) else {
        gaps.push(format!("`{}`: no calendar spend counter keeps ≤{} per {}", tool.name, amount, cap.window));
        return Vec::new();
    };
    let mut edits = extra.to_vec();
    let uncounted = match by {
        Ok(Some((n, how))) => format!("; Intercept counts an amount's whole part, and the calls ({how}: {n}) each add under 1 uncounted"),
        Ok(None) => "; Intercept counts an amount's whole part, and every amount counts at least 1, so the calls add under the counted total again".to_string(),
        Err(()) => "; Intercept counts an amount's whole part, and what the calls add uncounted is more than the cap leaves room for: `gauntlet prove` shows it".to_string(),
    };
    let has = entry.is_some_and(|e| {
        e.rules.iter().any(|r| {
            r.state.as_ref().is_some_and(|s| s.increment_from.as_deref() == Some(&[AMOUNT.to_string()][..]) && s.window == w)
                && r.conditions.iter().any(|c| {
                    matches!(c.path, Path::State(_))
                        && c.op == Op::Lte
                        && matches!(c.value, crate::policy::model::Value::Int(v) if v as u64 <= k)
                })
        })
    });
    if has {
        return edits;
    }
    let counter = format!("spend_per_{w}");
    let scope = if tool.name == "*" { "_global" } else { tool.name.as_str() };
    edits.push(Edit::AddRule {
        tool: tool.name.clone(),
        rule: NewRule {
            name: fresh_name(entry, &format!("spend per {w}")),
            rate_limit: None,
            on_deny: None,
            conditions: vec![NewCondition {
                path: format!("state.{scope}.{counter}"),
                op: "lte",
                value: Value::from(k),
                note: Note::default(),
            }],
            state: Some((counter, w.to_string(), format!("args.{AMOUNT}"))),
            note: Note::new(format!(
                "{k} per calendar {w}: {from} is max_amount_per_window {}, which a calendar {w} keeps at {k}{uncounted}",
                window_cap(tool, &cap)
            )),
        },
    });
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Intercept stops at a deny rule (its own or a `"*"` one): a rule
    /// added after it would never run, so nothing is added.
    #[test]
    fn nothing_is_added_after_a_rule_that_always_denies() {
        let tool = ToolInfo {
            server: "s".into(),
            name: "push".into(),
            risk: crate::scenario::Risk::Write,
            input_schema: serde_json::json!({"type": "object", "properties": {"ref": {"type": "string"}}, "required": ["ref"]}).into(),
            surface: Default::default(),
            roles: Vec::new(),
            definition: serde_json::Value::Null,
            private: false,
        };
        let reqs = Requirements::baseline();
        let edits = |text: &str| {
            let policy = crate::policy::load_intercept(text).unwrap();
            edits_for(&policy, &tool, &reqs, Aspects::ALL, &mut Vec::new())
        };
        let open = edits("version: \"1\"\ntools:\n  push:\n    rules: []\n");
        assert!(open.len() >= 2, "a write tool gets a rate limit and argument checks: {open:?}");
        for denied in [
            "version: \"1\"\ntools:\n  push:\n    rules:\n      - name: never\n        action: deny\n",
            "version: \"1\"\ntools:\n  \"*\":\n    rules:\n      - name: frozen\n        action: deny\n  push:\n    rules: []\n",
            "version: \"1\"\nhide: [push]\ntools:\n  push:\n    rules: []\n",
        ] {
            assert_eq!(edits(denied), Vec::new(), "{denied}");
        }
    }

    /// Intercept counts an amount's whole part, so the daily counter leaves
    /// room for 1 per call the rate limit lets through in a sliding day:
    /// 2 × 96397 + 5 × 1441 ≤ 200000 (what `prove` proves it under).
    #[test]
    fn the_spend_counter_leaves_room_for_what_truncation_does_not_count() {
        let catalogue = crate::verify::inprocess::catalogue_of(&[crate::verify::setup::server(std::path::Path::new("payments")).unwrap()]);
        let charge = catalogue.iter().find(|t| t.name == "create_charge").unwrap();
        let policy = crate::policy::load_intercept("version: \"1\"\ntools:\n  create_charge:\n    rules: []\n").unwrap();
        let spend = |aspects: Aspects| {
            edits_for(&policy, charge, &Requirements::baseline(), aspects, &mut Vec::new())
                .into_iter()
                .find_map(|e| match e {
                    Edit::AddRule { rule, .. } if rule.state.as_ref().is_some_and(|s| !s.2.is_empty()) => Some(rule),
                    _ => None,
                })
                .unwrap()
        };
        let rule = spend(Aspects::ALL);
        assert_eq!(rule.conditions[0].value, Value::from(96_397), "{rule:?}");
        assert!(format!("{:?}", rule.note).contains("5/minute × 1441 calendar minutes: 7205"), "{:?}", rule.note);
        // Nothing bounding the calls, every amount at least 1 cent: the counted total bounds them too, so half.
        let rule = spend(Aspects { rate: false, ..Aspects::ALL });
        assert_eq!(rule.conditions[0].value, Value::from(50_000), "{rule:?}");
    }

    /// Banking's amounts are euros with cents: each call may add up to 0.99
    /// that Intercept's counter drops, and the 5-a-minute limit lets 7,205
    /// calls through a sliding day, more than the 2000 cap. A daily call cap
    /// closes it: 100 calls a calendar day (a tenth of the 1000 a calendar
    /// day keeps) leave 900 to count, 2 × 900 + 2 × 100 ≤ 2000. A declared
    /// workload sizes the cap instead; a cap already in the policy is kept;
    /// a dialect without a spend counter gets none.
    #[test]
    fn fractions_a_counter_drops_are_bounded_by_a_daily_call_cap() {
        let catalogue = crate::verify::inprocess::catalogue_of(&[crate::verify::setup::server(std::path::Path::new("banking")).unwrap()]);
        let send = catalogue.iter().find(|t| t.name == "send_money").unwrap();
        let edits = |policy: &str, reqs: &Requirements| {
            let policy = crate::policy::load_str(policy, "p", None).unwrap().policy;
            let mut gaps = Vec::new();
            let rules: Vec<NewRule> = edits_for(&policy, send, reqs, Aspects::ALL, &mut gaps)
                .into_iter()
                .filter_map(|e| match e {
                    Edit::AddRule { rule, .. } if rule.name.contains("per day") => Some(rule),
                    _ => None,
                })
                .collect();
            (rules, gaps)
        };
        let note = |r: &NewRule| r.note.0.clone().unwrap_or_default();
        let skeleton = "version: \"1\"\ntools:\n  send_money:\n    rules: []\n";
        let (rules, _) = edits(skeleton, &Requirements::baseline());
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["rate per day", "spend per day"], "{rules:#?}");
        assert_eq!(rules[0].rate_limit, Some(Limit { max: 100, window: Window::Day }));
        assert!(note(&rules[0]).contains("which a calendar day keeps at 1000, and a tenth of that is left for what the calls add uncounted (assumed;"), "{}", note(&rules[0]));
        assert_eq!(rules[1].conditions[0].value, Value::from(900));
        assert!(note(&rules[1]).contains("2000 per 1d (200000 in minor units"), "{}", note(&rules[1]));
        assert!(note(&rules[1]).contains("the calls (rule `rate per day`: 100/day × 2 calendar days: 200) each add under 1 uncounted"), "{}", note(&rules[1]));
        // What harden wrote, hardened again: nothing more.
        let written = "version: \"1\"\ntools:\n  send_money:\n    rules:\n      - name: cap\n        rate_limit: 100/day\n      - name: spend\n        conditions:\n          - {path: state.send_money.spend_per_day, op: lte, value: 900}\n        state: {counter: spend_per_day, window: day, increment_from: args.amount}\n";
        assert_eq!(edits(written, &Requirements::baseline()).0, Vec::new());
        // A tighter cap of the user's leaves more to count.
        let own = "version: \"1\"\ntools:\n  send_money:\n    rules:\n      - name: cap\n        rate_limit: 20/day\n";
        let (rules, _) = edits(own, &Requirements::baseline());
        assert_eq!(rules.len(), 1, "{rules:#?}");
        assert_eq!(rules[0].conditions[0].value, Value::from(980));
        // One that leaves no room for a call at the per-call cap (500) gets a cap of ours beside it.
        let (rules, _) = edits(&own.replace("20/day", "600/day"), &Requirements::baseline());
        assert_eq!((rules[0].rate_limit, rules[1].conditions[0].value.clone()), (Some(Limit { max: 100, window: Window::Day }), Value::from(900)));
        // A declared workload of one transfer every 10 minutes needs 144 a day.
        let reqs = Requirements::over_baseline("tools:\n  send_money:\n    workload:\n      rate: {count: 1, window: 10m}\n").unwrap();
        let (rules, _) = edits(skeleton, &reqs);
        assert_eq!((rules[0].rate_limit, rules[1].conditions[0].value.clone()), (Some(Limit { max: 144, window: Window::Day }), Value::from(856)));
        assert!(note(&rules[0]).contains("the declared workload (1 per 10m) needs 144 a calendar day"), "{}", note(&rules[0]));
        // One a minute is more than a day's allowance can carry: said, and no cap that bounds nothing.
        let reqs = Requirements::over_baseline("tools:\n  send_money:\n    workload:\n      rate: {count: 1, window: 1m}\n").unwrap();
        let (rules, gaps) = edits(skeleton, &reqs);
        assert_eq!(rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["spend per day"]);
        assert!(gaps.iter().any(|g| g.contains("makes 1440 calls a calendar day")), "{gaps:?}");
        // The counter still takes one call at the per-call cap: 950 of 1000 leaves 50 calls; 1000 leaves none.
        let reqs = Requirements::over_baseline("tools:\n  send_money:\n    max_amount_per_call: {amount: 950, unit: major}\n").unwrap();
        let (rules, _) = edits(skeleton, &reqs);
        assert_eq!((rules[0].rate_limit, rules[1].conditions[0].value.clone()), (Some(Limit { max: 50, window: Window::Day }), Value::from(950)));
        assert!(note(&rules[0]).contains("50 of that is left for what the calls add uncounted (a tenth, assumed, but no more than leaves room for one call at the per-call cap, 950;"), "{}", note(&rules[0]));
        let reqs = Requirements::over_baseline("tools:\n  send_money:\n    max_amount_per_call: {amount: 1000, unit: major}\n").unwrap();
        let (rules, _) = edits(skeleton, &reqs);
        assert_eq!((rules.len(), rules[0].conditions[0].value.clone()), (1, Value::from(1000)), "{rules:#?}");
        // policy.json has no spend counter, so no cap is written for one.
        let json = r#"{"version": "1", "default": "deny", "tools": {"send_money": {"limits": []}}}"#;
        let policy = crate::policy::load_str(json, "p.json", Some(Dialect::PolicyLayer)).unwrap().policy;
        let all = edits_for(&policy, send, &Requirements::baseline(), Aspects::ALL, &mut Vec::new());
        assert!(!all.iter().any(|e| matches!(e, Edit::AddRule { rule, .. } if rule.rate_limit.is_some_and(|l| l.window == Window::Day))), "{all:#?}");
    }

    #[test]
    fn calendar_limits_halve_a_sliding_bound() {
        let m = Duration::from_secs(60);
        assert_eq!(calendar_limit(30, m, false), Some((15, Window::Minute)));
        assert_eq!(calendar_limit(10, m, false), Some((5, Window::Minute)));
        assert_eq!(calendar_limit(1, m, false), None);
        assert_eq!(calendar_limit(30, m, true), Some((30, Window::Minute)));
        assert_eq!(calendar_limit(30, Duration::from_secs(90), true), None);
        // 90 s touch three calendar minutes.
        assert_eq!(calendar_limit(30, Duration::from_secs(90), false), Some((10, Window::Minute)));
        assert_eq!(calendar_spend_limit(200_000, Duration::from_secs(86_400)), Some((100_000, Window::Day)));
        // An hourly bound is kept by an hourly limit, not by 1/minute; a daily one by a daily limit.
        assert_eq!(calendar_limit(100, Duration::from_secs(3600), false), Some((50, Window::Hour)));
        assert_eq!(calendar_limit(1000, Duration::from_secs(86_400), false), Some((500, Window::Day)));
        // No calendar window as long as 2 h: the most per second (20/hour, not 30/day).
        assert_eq!(calendar_limit(61, Duration::from_secs(7200), false), Some((20, Window::Hour)));
    }
}
