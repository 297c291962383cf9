//! What the requirements ask of one tool, as edits to its policy entry:
//! a rate limit sized for calendar windows, argument conditions from the
//! tool's inputSchema, spend caps, hiding.
//!
//! Intercept counts per calendar minute, hour or day. A sliding bound of N
//! calls per W holds under a calendar limit of k per C when every sliding W
//! touches at most `ceil(W/C) + 1` calendar windows: k = N / that. The same
//! sizing applies to spend counters.

use serde_json::Value;

use super::patch::{Edit, Limit, NewCondition, NewRule};
use crate::policy::model::{CounterScope, Dialect, Op, Path, Policy, Rule, ToolPolicy, Window};
use crate::mock::roles::FieldRole;
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::Requirement;
use crate::scenario::Duration;
use crate::verify::blame::{checks_type, required_fields};
use crate::verify::destinations::FieldCheck;

/// The denial message of the argument rules harden writes.
pub const ARGUMENTS_MESSAGE: &str = "Arguments do not match the approved schema.";

/// Longest string a derived length check admits when the schema gives no `maxLength` (RE2's repeat limit).
pub const MAX_STRING: u64 = 1000;

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
}

impl Aspects {
    pub const ALL: Aspects = Aspects { rate: true, arguments: true, spend: true, hide: true };
}

/// The calendar limit (count, window) that keeps `count` per sliding `window`;
/// `None` when no calendar window can (a bound of 1, or a calendar bound
/// over a window Intercept does not have). Calls favour throughput (the
/// most per second); a spend cap favours the largest single allowance, so
/// one call's amount still fits.
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
        if only_values && !c.allow.values.is_empty() {
            conditions.push(NewCondition { path, op: "in", value: Value::Array(c.allow.values.iter().cloned().map(Value::String).collect()) });
        } else if let Some(re) = c.allow.regex(c.kind).filter(|re| crate::policy::regex::compile(re).is_ok()) {
            conditions.push(NewCondition { path, op: "regex", value: Value::String(re) });
        } else {
            gaps.push(format!("`{}`: no regular expression states where `{}` may go ({})", tool.name, c.path, c.allow.describe(c.kind)));
        }
    }
    for f in forbidden.iter().filter(|f| !guarded(f, Op::Exists)) {
        conditions.push(NewCondition { path: format!("args.{f}"), op: "exists", value: Value::Bool(false) });
    }
    if conditions.is_empty() {
        return Vec::new();
    }
    vec![Edit::AddRule {
        tool: tool.name.clone(),
        rule: NewRule { name: fresh_name(entry, "destinations"), rate_limit: None, on_deny: Some(DESTINATIONS_MESSAGE.into()), conditions, state: None },
    }]
}

/// A rule name not yet used in the entry.
fn fresh_name(entry: Option<&ToolPolicy>, base: &str) -> String {
    let taken = |n: &str| entry.is_some_and(|e| e.rules.iter().any(|r| r.name == n));
    if !taken(base) {
        return base.to_string();
    }
    (2..).map(|i| format!("{base} {i}")).find(|n| !taken(n)).unwrap_or_else(|| base.to_string())
}

/// The edits that bring `tool` up to `req` in `policy`, for the chosen aspects.
/// Edits that cannot be derived are reported in `gaps`, one sentence each.
pub fn edits_for(policy: &Policy, tool: &ToolInfo, req: &Requirement, aspects: Aspects, gaps: &mut Vec<String>) -> Vec<Edit> {
    let mut edits = Vec::new();
    let entry = policy.tool(&tool.name);
    if req.is_denied() {
        // Whatever was asked, a denied tool's remedy is to hide it.
        if !policy.hides(&tool.name) {
            edits.push(Edit::Hide(tool.name.clone()));
        }
        return edits;
    }
    if aspects.rate {
        if let Some(rate) = req.rate {
            match calendar_limit(rate.count, rate.window, rate.calendar) {
                Some((k, w)) => edits.extend(rate_edit(policy.dialect, entry, &tool.name, Limit { max: k, window: w })),
                None => gaps.push(format!(
                    "`{}`: no Intercept rate limit keeps ≤{} per {} (windows are calendar minutes, hours or days)",
                    tool.name, rate.count, rate.window
                )),
            }
        }
    }
    let mut conditions = Vec::new();
    if aspects.arguments || aspects.spend {
        conditions = argument_conditions(entry, tool, req, aspects, gaps);
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
            },
        });
    }
    if aspects.spend {
        if let Some(e) = spend_edit(entry, tool, req, gaps) {
            edits.push(e);
        }
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

fn rate_edit(dialect: Dialect, entry: Option<&ToolPolicy>, tool: &str, limit: Limit) -> Option<Edit> {
    let same = entry.and_then(|e| {
        e.rules.iter().enumerate().find_map(|(i, r)| call_limit(dialect, r).filter(|l| l.1 == limit.window).map(|l| (i, l)))
    });
    match same {
        Some((_, (max, _, shared))) if max <= limit.max && shared => None,
        Some((i, (max, _, _))) => {
            Some(Edit::SetRateLimit { tool: tool.to_string(), rule: i, limit: Limit { max: max.min(limit.max), ..limit } })
        }
        None => Some(Edit::AddRule {
            tool: tool.to_string(),
            rule: NewRule {
                name: fresh_name(entry, &format!("rate per {}", limit.window)),
                rate_limit: Some(limit),
                on_deny: None,
                conditions: Vec::new(),
                state: None,
            },
        }),
    }
}

fn has_check(entry: Option<&ToolPolicy>, field: &str, op_ok: impl Fn(Op) -> bool) -> bool {
    entry.is_some_and(|e| {
        e.rules.iter().flat_map(|r| &r.conditions).any(|c| c.path == Path::Args(vec![field.to_string()]) && op_ok(c.op))
    })
}

fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

/// Conditions for the required fields no condition type-checks yet, and the per-call amount bounds.
fn argument_conditions(
    entry: Option<&ToolPolicy>,
    tool: &ToolInfo,
    req: &Requirement,
    aspects: Aspects,
    gaps: &mut Vec<String>,
) -> Vec<NewCondition> {
    let required = required_fields(tool);
    let props = &tool.input_schema["properties"];
    let mut out = Vec::new();
    let cond = |field: &str, op: &'static str, value: Value| NewCondition { path: format!("args.{field}"), op, value };
    for field in &required {
        let p = &props[field];
        let is_amount = field == AMOUNT && aspects.spend;
        if !aspects.arguments && !is_amount {
            continue;
        }
        let typed = has_check(entry, field, checks_type);
        if let Some(options) = p["enum"].as_array() {
            if !typed {
                out.push(cond(field, "in", Value::Array(options.clone())));
            }
            continue;
        }
        match p["type"].as_str() {
            Some("string") if !typed => {
                if let Some(pattern) = p["pattern"].as_str() {
                    if crate::policy::regex::compile(pattern).is_ok() {
                        out.push(cond(field, "regex", Value::String(pattern.to_string())));
                        if bounded(pattern) && p.get("maxLength").is_none() {
                            continue;
                        }
                    }
                }
                let min = p["minLength"].as_u64().unwrap_or(0);
                let max = p["maxLength"].as_u64().unwrap_or(MAX_STRING).min(MAX_STRING);
                out.push(cond(field, "regex", Value::String(format!("(?s)^.{{{min},{max}}}$"))));
            }
            Some("integer" | "number") => {
                let mut lo = p["minimum"].as_f64();
                let mut hi = p["maximum"].as_f64();
                if is_amount {
                    // Amounts are positive: at least one cent, in the field's unit
                    // (1 in minor units, 0.01 in euros); a per-call cap bounds them above.
                    let cent = tool.role_of(field).map_or(1.0, FieldRole::per_minor);
                    lo = Some(lo.unwrap_or(cent).max(cent));
                    if let Some(cap) = req.per_call_in(tool.role_of(field)) {
                        hi = Some(hi.map_or(cap, |h| h.min(cap)));
                    }
                }
                let has_lo = has_check(entry, field, |op| matches!(op, Op::Gte | Op::Gt));
                let has_hi = |cap: f64| {
                    entry.is_some_and(|e| {
                        e.rules.iter().flat_map(|r| &r.conditions).any(|c| {
                            c.path == Path::Args(vec![field.clone()])
                                && matches!(c.op, Op::Lte | Op::Lt)
                                && match c.value {
                                    crate::policy::model::Value::Int(v) => (v as f64) <= cap,
                                    crate::policy::model::Value::Float(v) => v <= cap,
                                    _ => false,
                                }
                        })
                    })
                };
                match lo {
                    Some(l) if !has_lo || is_amount => out.push(cond(field, "gte", number(l))),
                    // A number check of some kind, so a string or boolean fails it.
                    None if !typed => out.push(cond(field, "gte", Value::from(-9_007_199_254_740_991i64))),
                    _ => {}
                }
                if let Some(h) = hi.filter(|h| !has_hi(*h)) {
                    out.push(cond(field, "lte", number(h)));
                }
            }
            Some("boolean") if !typed => out.push(cond(field, "in", Value::Array(vec![Value::Bool(true), Value::Bool(false)]))),
            Some(_) | None if !typed && !has_check(entry, field, |op| op == Op::Exists) => {
                out.push(cond(field, "exists", Value::Bool(true)));
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
            if !has_check(entry, &field, |op| matches!(op, Op::Neq | Op::Exists)) {
                out.push(cond(&field, "neq", Value::String(ABSENT.into())));
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
                    conditions: vec![NewCondition { path: format!("state.{s}.{FLOW_COUNTER}"), op: "lte", value: Value::from(FLOW_READS) }],
                    state: Some((FLOW_COUNTER.into(), Window::Day.to_string(), String::new())),
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
        .map(|s| NewCondition { path: format!("state.{s}.{FLOW_COUNTER}"), op: "lte", value: Value::from(0) })
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
            },
        });
    }
    edits
}

fn spend_edit(entry: Option<&ToolPolicy>, tool: &ToolInfo, req: &Requirement, gaps: &mut Vec<String>) -> Option<Edit> {
    let cap = req.max_amount_per_window?;
    let amount = req.per_window_in(tool.role_of(AMOUNT))?;
    if !required_fields(tool).iter().any(|f| f == AMOUNT) {
        return None;
    }
    let Some((k, w)) = calendar_spend_limit(amount.max(0.0) as u64, cap.window) else {
        gaps.push(format!("`{}`: no calendar spend counter keeps ≤{} per {}", tool.name, amount, cap.window));
        return None;
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
        return None;
    }
    let counter = format!("spend_per_{w}");
    let scope = if tool.name == "*" { "_global" } else { tool.name.as_str() };
    Some(Edit::AddRule {
        tool: tool.name.clone(),
        rule: NewRule {
            name: fresh_name(entry, &format!("spend per {w}")),
            rate_limit: None,
            on_deny: None,
            conditions: vec![NewCondition { path: format!("state.{scope}.{counter}"), op: "lte", value: Value::from(k) }],
            state: Some((counter, w.to_string(), format!("args.{AMOUNT}"))),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
