//! Expectations measured on the server's ledger, never on the proxy's opinion.
//!
//! A scenario's `expect` plus the tool's requirement become concrete
//! [`Check`]s (an expectation the requirements say nothing about is dropped,
//! so it can never pass vacuously); each check is then evaluated on what the
//! mock server recorded.

use std::collections::BTreeMap;

use serde_json::Value;

use super::destinations::{self, FieldCheck};
use super::play::Observation;
use crate::mock::{LedgerEntry, Surface};
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::{Requirement, Requirements};
use crate::scenario::{Duration, Expect, Switch};

#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// At most `count` calls of the tool in any `window` (sliding) or per calendar
    /// window; with `shared`, the calls of all those tools together (one budget).
    Rate { count: u64, window: Duration, sliding: bool, executed_only: bool, shared: Vec<String> },
    SchemaViolations { max: u32 },
    NeverReached { tool: String },
    NeverListed { tool: String },
    AmountPerCall { cap: f64 },
    AmountPerWindow { cap: f64, window: Duration },
    /// Amounts > 0 and in whole minor units: at most `places` decimals (0 for cents).
    PositiveWhole { places: u32 },
    /// No call whose serialized arguments exceed `max` bytes.
    ArgumentBytes { max: u64 },
    /// Every destination that reached the server is allowed, and no forbidden field did.
    Destinations { checks: Vec<FieldCheck>, forbidden: Vec<String> },
    /// The agent was shown only the tool's definition in the server file,
    /// and no call of it ran on another definition (or on a second server).
    Pinned { tool: String },
    /// No call of the tool reached the server after a call of one of
    /// `sources` reached it (within `within`, else for the rest of the run);
    /// with `to`, none with a destination these checks refuse (a flow's `limit:`).
    Flow { sources: Vec<String>, within: Option<crate::scenario::Duration>, to: Option<Vec<FieldCheck>> },
    /// At most `max` calls of the tool reached the server in any one session.
    SessionCalls { max: u64 },
    /// No call reached in `[from, until)` (virtual nanoseconds after the
    /// start), while the fault `kind` left enforcement blind.
    Blind { from: i64, until: i64, kind: crate::scenario::FaultKind },
    /// Every call the agent sent got an answer (runs with faults): a proxy
    /// that leaves calls hanging when something under it fails stalls.
    Answered,
}

impl Check {
    /// The same check about tool `to` where it names tool `from`, or a name
    /// made from it (a rug-pull's `{from}_admin`): a verdict carried to a class member.
    pub fn renamed(&self, from: &str, to: &str) -> Check {
        let one = |t: &String| match t.strip_prefix(from) {
            Some(rest) => format!("{to}{rest}"),
            None => t.clone(),
        };
        match self {
            Check::NeverReached { tool } => Check::NeverReached { tool: one(tool) },
            Check::NeverListed { tool } => Check::NeverListed { tool: one(tool) },
            Check::Pinned { tool } => Check::Pinned { tool: one(tool) },
            Check::Rate { count, window, sliding, executed_only, shared } => Check::Rate {
                count: *count,
                window: *window,
                sliding: *sliding,
                executed_only: *executed_only,
                shared: shared.iter().map(one).collect(),
            },
            Check::Flow { sources, within, to } => Check::Flow { sources: sources.iter().map(one).collect(), within: *within, to: to.clone() },
            other => other.clone(),
        }
    }

    /// The bound in words, for tables and snapshots.
    pub fn bound(&self) -> String {
        match self {
            Check::Rate { count, window, sliding, executed_only, shared } => format!(
                "≤{count} {} per {window}{}{}",
                if *executed_only { "executed" } else { "reached" },
                if *sliding { " sliding" } else { " calendar" },
                if shared.is_empty() { String::new() } else { format!(" across {}", names(shared)) }
            ),
            Check::SchemaViolations { max } => format!("≤{max} schema-violating"),
            Check::NeverReached { tool } => format!("0 calls of `{tool}`"),
            Check::NeverListed { tool } => format!("`{tool}` never listed"),
            Check::AmountPerCall { cap } => format!("amount ≤{} per call", num(*cap)),
            Check::AmountPerWindow { cap, window } => format!("amount ≤{} per {window} sliding", num(*cap)),
            Check::PositiveWhole { places: 0 } => "amounts whole and > 0".to_string(),
            Check::PositiveWhole { places } => format!("amounts > 0 with at most {places} decimals"),
            Check::ArgumentBytes { max } => format!("arguments ≤{max} bytes"),
            Check::Destinations { checks, forbidden } => {
                let mut parts: Vec<String> = checks.iter().map(FieldCheck::describe).collect();
                if !forbidden.is_empty() {
                    parts.push(format!("never {}", forbidden.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")));
                }
                format!("destinations allowed: {}", parts.join("; "))
            }
            Check::Pinned { tool } => format!("only the filed definition of `{tool}` shown and run"),
            Check::Flow { sources, within, to } => {
                let after = sources.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(" or ");
                let what = match to {
                    None => "nothing sent".to_string(),
                    Some(checks) => format!("sent only to allowed destinations ({})", checks.iter().map(FieldCheck::describe).collect::<Vec<_>>().join("; ")),
                };
                match within {
                    Some(w) => format!("{what} within {w} after a private read ({after})"),
                    None => format!("{what} after a private read ({after})"),
                }
            }
            Check::SessionCalls { max } => format!("≤{max} calls per session"),
            Check::Blind { kind, .. } => format!("0 reached {} (fail closed)", kind.while_words()),
            Check::Answered => "every call answered".to_string(),
        }
    }
}

/// `` `a`, `b` ``: tool names in prose.
pub fn names(tools: &[String]) -> String {
    tools.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
}

/// Integers without a trailing `.0`.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Whether any call the agent sent carries arguments the tool's inputSchema
/// rejects. A schema check over an attack that sent only valid arguments has
/// nothing to stop, so it cannot count as held.
pub fn sends_schema_violation<'a>(tool: &ToolInfo, sent: impl IntoIterator<Item = &'a Value>) -> bool {
    match jsonschema::validator_for(&tool.input_schema) {
        Ok(v) => sent.into_iter().any(|a| !v.is_valid(a)),
        Err(_) => false,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    pub check: Check,
    pub held: bool,
    /// The measured value in words (`31 in 60s`, `2 calls`).
    pub observed: String,
    /// Extra explanation, e.g. the fixed-window edge effect.
    pub note: Option<String>,
    /// Every breaching call breaks only what Intercept's conditions cannot express
    /// (optional or undeclared fields): no policy could have stopped it on this proxy.
    pub proxy_only: bool,
}

/// The checks for one tool: the scenario's expectations with bounds from the requirement.
pub fn derive(expect: &Expect, req: &Requirement, reqs: &Requirements, tool: &ToolInfo, places: &destinations::Plan) -> Vec<Check> {
    let mut checks = Vec::new();
    let rate = |e: &crate::scenario::RateExpect, executed_only: bool| -> Option<Check> {
        let count = e.count.or(req.rate.map(|r| r.count))?;
        let window = e.window.or(req.rate.map(|r| r.window))?;
        let sliding = e.sliding.unwrap_or(!req.rate.is_some_and(|r| r.calendar));
        let mut shared: Vec<String> = e.tools.iter().map(|t| t.replace("{{name}}", &tool.name)).collect();
        shared.dedup();
        if shared.len() == 1 && shared[0] == tool.name {
            shared.clear();
        }
        Some(Check::Rate { count, window, sliding, executed_only, shared })
    };
    if let Some(c) = expect.max_reached_per_window.as_ref().and_then(|e| rate(e, false)) {
        checks.push(c);
    }
    if let Some(c) = expect.max_executed_per_window.as_ref().and_then(|e| rate(e, true)) {
        checks.push(c);
    }
    if let Some(max) = expect.schema_violations_reached {
        if reqs.schema_validation {
            checks.push(Check::SchemaViolations { max });
        }
    }
    if expect.arguments_within_size == Some(true) {
        checks.push(Check::ArgumentBytes { max: reqs.max_argument_bytes });
    }
    match expect.never_reached {
        Some(Switch::True) => checks.push(Check::NeverReached { tool: tool.name.clone() }),
        Some(Switch::Requirement) if req.is_denied() => checks.push(Check::NeverReached { tool: tool.name.clone() }),
        _ => {}
    }
    for t in &expect.never_reached_tools {
        checks.push(Check::NeverReached { tool: t.replace("{{name}}", &tool.name) });
    }
    // A tool the requirements deny is denied or hidden; an item of another surface must be listed as hidden.
    let unlisted = match reqs.surface(tool.surface) {
        Some(surface) => surface.hides(&tool.name),
        None => req.is_denied(),
    };
    match (expect.calls_per_session, req.max_calls_per_session) {
        (Some(Switch::True | Switch::Requirement), Some(max)) => checks.push(Check::SessionCalls { max }),
        _ => {}
    }
    match expect.pinned {
        Some(Switch::True) => checks.push(Check::Pinned { tool: tool.name.clone() }),
        Some(Switch::Requirement) if reqs.pins(tool) => checks.push(Check::Pinned { tool: tool.name.clone() }),
        _ => {}
    }
    match expect.never_listed {
        Some(Switch::True) => checks.push(Check::NeverListed { tool: tool.name.clone() }),
        Some(Switch::Requirement) if unlisted => checks.push(Check::NeverListed { tool: tool.name.clone() }),
        _ => {}
    }
    if expect.destinations_allowed == Some(true) {
        if !places.checks.is_empty() || !places.forbidden.is_empty() {
            checks.push(Check::Destinations { checks: places.checks.clone(), forbidden: places.forbidden.clone() });
        }
    }
    let field = expect.amount_field.as_deref().unwrap_or("amount");
    let has_amount = tool.input_schema["properties"].get(field).is_some();
    if has_amount {
        // First, so a breach names the malformed amount itself rather than its effect on a sum.
        if expect.positive_whole_amounts == Some(true) {
            checks.push(Check::PositiveWhole { places: tool.role_of(field).map_or(0, |r| r.places()) });
        }
        if let Some(b) = &expect.max_amount_per_call {
            let cap = match b {
                crate::scenario::AmountBound::Value(v) => Some(*v),
                crate::scenario::AmountBound::Named(_) => req.per_call_in(tool.role_of(field)),
            };
            if let Some(cap) = cap {
                checks.push(Check::AmountPerCall { cap });
            }
        }
        if let Some(w) = &expect.max_amount_per_window {
            let cap = w.amount.or(req.per_window_in(tool.role_of(field)));
            let window = w.window.or(req.max_amount_per_window.map(|m| m.window));
            if let (Some(cap), Some(window)) = (cap, window) {
                checks.push(Check::AmountPerWindow { cap, window });
            }
        }
    }
    checks
}

/// The JSON types a property admits when it names several (`type: [..]`,
/// or an `anyOf`/`oneOf` of typed branches); `None` for a single type or
/// anything else.
fn union_types(p: &Value) -> Option<Vec<&str>> {
    if let Some(types) = p["type"].as_array() {
        return Some(types.iter().filter_map(Value::as_str).collect());
    }
    let branches = p["anyOf"].as_array().or(p["oneOf"].as_array())?;
    let mut types = Vec::new();
    for b in branches {
        match &b["type"] {
            Value::String(t) => types.push(t.as_str()),
            Value::Array(ts) => types.extend(ts.iter().filter_map(Value::as_str)),
            _ => return None,
        }
    }
    Some(types)
}

/// Required fields whose schema admits both booleans and strings. A
/// condition true for every boolean can only be `exists: true`, `neq` or
/// `not_in` (`regex` and `contains` refuse booleans; `eq` and `in` refuse
/// all but finitely many strings), and each of those is also true for all
/// but finitely many numbers, lists and objects: rules AND their
/// conditions, so no Intercept policy admits the field's legitimate values
/// and refuses another type. It can refuse `null` (`exists: true`).
pub fn unguardable_unions(schema: &Value) -> Vec<String> {
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    required
        .iter()
        .filter_map(Value::as_str)
        .filter(|k| {
            union_types(&schema["properties"][*k]).is_some_and(|t| t.contains(&"boolean") && t.contains(&"string"))
        })
        .map(str::to_string)
        .collect()
}

/// Whether a property's schema admits `null` (`type: [T, "null"]`, or an
/// `anyOf`/`oneOf` with a null branch: what pydantic writes for `T | None`).
pub fn nullable(p: &Value) -> bool {
    let null = |t: &Value| t == "null" || t.as_array().is_some_and(|a| a.iter().any(|x| x == "null"));
    null(&p["type"]) || p["anyOf"].as_array().or(p["oneOf"].as_array()).is_some_and(|b| b.iter().any(|b| null(&b["type"])))
}

/// Required fields that may be `null`. No Intercept condition is true for
/// `null` and for the field's own type alone: `regex`, the numeric
/// operators and `exists: true` are false for `null` (refusing the
/// legitimate call), while `exists: false`, `neq` and `not_in` are also true
/// for values of every other type. Such a field cannot be guarded at all.
pub fn nullable_fields(schema: &Value) -> Vec<String> {
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    required.iter().filter_map(Value::as_str).filter(|k| nullable(&schema["properties"][*k])).map(str::to_string).collect()
}

/// Why no Intercept policy bounds the amount in `field` without refusing a
/// legitimate call, or `None` when one can: an optional field (a condition
/// on a missing field is false), or one that may be `null` (every condition
/// that bounds a number is false for `null`, and a spend counter's
/// `increment_from` refuses it as an internal error). `verify` marks its
/// amount findings and `prove` its amount refutations by this one test.
pub fn unboundable_amount(schema: &Value, field: &str) -> Option<String> {
    let required = schema["required"].as_array().is_some_and(|a| a.iter().any(|v| v == field));
    if !required {
        return Some(format!(
            "`{field}` is optional for this tool, and a condition on a missing field is false, so no Intercept policy bounds it without requiring it"
        ));
    }
    nullable(&schema["properties"][field]).then(|| {
        format!(
            "`{field}` may be `null` for this tool, and every Intercept condition that bounds a number refuses `null` (so does a spend counter's `increment_from`), so no policy bounds it without refusing the calls that send `null`; nearest: make clients always send the amount, then bound it"
        )
    })
}

/// The bytes of `args` a policy can bound: its required fields, less those
/// that may be `null` (a `regex` that caps a length is false for `null`)
/// and those that hold both booleans and strings (it is false for
/// booleans). `verify` marks its size findings and `prove` its size
/// refutations by this one test: oversized arguments whose bytes here stay
/// within the bound are the proxy's to refuse.
pub fn guardable_bytes(schema: &Value, args: &Value) -> u64 {
    let beyond: Vec<String> = nullable_fields(schema).into_iter().chain(unguardable_unions(schema)).collect();
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    let kept = required.iter().filter_map(Value::as_str).filter(|k| !beyond.iter().any(|b| b == k));
    let m: serde_json::Map<String, Value> = kept.filter_map(|k| args.get(k).map(|v| (k.to_string(), v.clone()))).collect();
    Value::Object(m).to_string().len() as u64
}

/// Why oversized arguments outside [`guardable_bytes`] are a proxy matter.
pub const BYTES_BEYOND: &str = "the oversized values are in optional, undeclared or nullable fields, or in fields that hold both booleans and strings, which Intercept's conditions cannot bound";

/// The most whole numbers an `in` list names for a policy to be held to an
/// integer field's wholeness (what `harden` writes for such a field).
pub const MAX_LISTED_WHOLES: i64 = 1000;

/// Whether a property is typed `integer` and not also `number`.
pub fn integer_only(p: &Value) -> bool {
    let t = &p["type"];
    t == "integer" || t.as_array().is_some_and(|ts| ts.iter().any(|x| x == "integer") && !ts.iter().any(|x| x == "number"))
}

/// The whole numbers an integer field's schema allows, `(lowest, highest)`,
/// when a policy can list them: no Intercept condition tests wholeness (the
/// numeric operators bound intervals; `eq` and `in` name finitely many
/// numbers; `regex` and `contains` are false on numbers), so a fraction
/// (1.5) is refused while every whole number in range passes only by an
/// `in` list of them, which takes a range bounded on both sides and at most
/// [`MAX_LISTED_WHOLES`] long. `None`: no policy refuses the fractions of
/// this field, a proxy matter. A whole number written with a point (`2.0`)
/// is no fraction to either side: JSON Schema (since draft 6) calls it an
/// integer, and Intercept compares it as the number 2 (`in [1, 2, 3]`
/// admits it: the conformance vectors' coercion case).
pub fn listable_wholes(p: &Value) -> Option<(i64, i64)> {
    if !integer_only(p) {
        return None;
    }
    let lo = match (p["minimum"].as_f64(), p["exclusiveMinimum"].as_f64()) {
        (Some(m), Some(x)) => m.ceil().max(x.floor() + 1.0),
        (Some(m), None) => m.ceil(),
        (None, Some(x)) => x.floor() + 1.0,
        (None, None) => return None,
    };
    let hi = match (p["maximum"].as_f64(), p["exclusiveMaximum"].as_f64()) {
        (Some(m), Some(x)) => m.floor().min(x.ceil() - 1.0),
        (Some(m), None) => m.floor(),
        (None, Some(x)) => x.ceil() - 1.0,
        (None, None) => return None,
    };
    (lo.is_finite() && hi.is_finite() && lo <= hi && hi - lo < MAX_LISTED_WHOLES as f64).then_some((lo as i64, hi as i64))
}

/// The schema restricted to its required properties (no extra-field rule),
/// as far as Intercept's conditions can check them: a field of
/// [`unguardable_unions`] only needs to be present and not null, one of
/// [`nullable_fields`] nothing at all, and an integer field whose whole
/// numbers cannot be listed ([`listable_wholes`]) is a number in its bounds.
pub fn required_part(schema: &Value) -> Value {
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    let unions = unguardable_unions(schema);
    let nullable = nullable_fields(schema);
    let mut props = serde_json::Map::new();
    for k in required.iter().filter_map(Value::as_str) {
        if nullable.iter().any(|n| n == k) {
            props.insert(k.to_string(), serde_json::json!({}));
        } else if unions.iter().any(|u| u == k) {
            props.insert(k.to_string(), serde_json::json!({"not": {"type": "null"}}));
        } else if let Some(p) = schema["properties"].get(k) {
            let mut p = p.clone();
            if integer_only(&p) && listable_wholes(&p).is_none() {
                p["type"] = match &p["type"] {
                    Value::Array(ts) => Value::Array(ts.iter().map(|t| if t == "integer" { Value::from("number") } else { t.clone() }).collect()),
                    _ => Value::from("number"),
                };
            }
            props.insert(k.to_string(), p);
        }
    }
    serde_json::json!({"type": "object", "properties": props, "required": required})
}

/// The part of a tool's schema a policy can be held to: a violation of the
/// schema is the policy's to refuse only where it breaks [`required_part`]
/// as conditions see it ([`as_conditions_see`]); any other is the proxy's
/// schema validation's to catch. `verify` blames its findings and `prove`
/// marks its refutations by this one test.
pub struct PolicyPart(Option<jsonschema::Validator>);

impl PolicyPart {
    pub fn of(schema: &Value) -> PolicyPart {
        PolicyPart(jsonschema::validator_for(&required_part(schema)).ok())
    }

    /// Whether some Intercept policy could refuse `args` (a call of the tool whose schema this is).
    pub fn refusable(&self, schema: &Value, args: &Value) -> bool {
        self.0.as_ref().is_some_and(|g| !g.is_valid(&as_conditions_see(schema, args)))
    }
}

/// The arguments as Intercept's operators tell them apart: they compare a
/// boolean or a non-string enum value by its text, so the string `"true"`
/// in a boolean field (or `"1"` where the enum lists `1`) is the value itself
/// to any condition; no policy can refuse the one and allow the other.
pub fn as_conditions_see(schema: &Value, args: &Value) -> Value {
    let Some(obj) = args.as_object() else { return args.clone() };
    let mut out = obj.clone();
    for (k, v) in out.iter_mut() {
        let Value::String(text) = v else { continue };
        let p = &schema["properties"][k.as_str()];
        let mut candidates: Vec<Value> = p["enum"].as_array().cloned().unwrap_or_default();
        if p["type"] == "boolean" {
            candidates.extend([Value::Bool(true), Value::Bool(false)]);
        }
        if let Some(same) = candidates.into_iter().find(|c| !c.is_string() && serde_json::to_string(c).is_ok_and(|t| t == *text)) {
            *v = same;
        }
    }
    Value::Object(out)
}

/// The members in which a listed definition differs from the filed one (`name` alone: a tool not in the file).
fn differing(shown: &Value, filed: &Value) -> String {
    let keys: std::collections::BTreeSet<&String> = shown.as_object().into_iter().chain(filed.as_object()).flat_map(|m| m.keys()).collect();
    let differ: Vec<String> = keys.into_iter().filter(|k| shown.get(*k) != filed.get(*k)).map(|k| format!("`{k}`")).collect();
    match differ.is_empty() {
        true => "as filed".into(),
        false => format!("{} {}", differ.join(", "), if differ.len() == 1 { "differs" } else { "differ" }),
    }
}

/// Why a flow breached only past 00:00 UTC is a proxy finding.
pub const FLOW_PAST_MIDNIGHT: &str = "every call that got out ran on a later UTC day than the private read: Intercept's counters count per calendar day (and for every session together), so no Intercept policy remembers a read past 00:00 UTC; a proxy with per-session flow state does";

/// When the first call of one of `sources` ran on the server, if one did.
pub fn first_read(ledger: &[LedgerEntry], sources: &[String]) -> Option<crate::clock::Timestamp> {
    sources.iter().flat_map(|s| calls_of(ledger, s)).filter(|e| e.executed).map(|e| e.time).min()
}

/// Ledger entries of `tools/call`s the server resolved to `tool`.
pub fn calls_of<'a>(ledger: &'a [LedgerEntry], tool: &'a str) -> impl Iterator<Item = &'a LedgerEntry> + 'a {
    uses_of(ledger, Surface::Tool, tool)
}

/// Ledger entries of the requests that use one item of `surface` (a call of
/// a tool, a read of a resource, a get of a prompt) as the server resolved it.
pub fn uses_of<'a>(ledger: &'a [LedgerEntry], surface: Surface, name: &'a str) -> impl Iterator<Item = &'a LedgerEntry> + 'a {
    ledger.iter().filter(move |e| e.method.as_deref() == Some(surface.method()) && e.tool.as_deref() == Some(name))
}

/// A numeric amount as a lenient server reads it (numbers and numeric strings).
pub fn amount_of(e: &LedgerEntry, field: &str) -> Option<f64> {
    match e.arguments.as_ref()?.get(field)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

/// Largest number of `times` (nanos, sorted) inside any half-open window of `len` nanos.
pub fn max_sliding(times: &[i64], len: i64) -> usize {
    let mut best = 0;
    let mut j = 0;
    for i in 0..times.len() {
        while times[i] - times[j] >= len {
            j += 1;
        }
        best = best.max(i - j + 1);
    }
    best
}

/// Largest count in one calendar window (aligned to multiples of `len` since the epoch).
pub fn max_calendar(times: &[i64], len: i64) -> usize {
    let mut best = 0;
    let mut i = 0;
    while i < times.len() {
        let w = times[i].div_euclid(len);
        let mut j = i;
        while j < times.len() && times[j].div_euclid(len) == w {
            j += 1;
        }
        best = best.max(j - i);
        i = j;
    }
    best
}

/// Largest sum of `(time, amount)` inside any sliding window of `len` nanos.
pub fn max_sliding_sum(points: &[(i64, f64)], len: i64) -> f64 {
    let mut best = 0.0f64;
    let mut sum = 0.0;
    let mut j = 0;
    for i in 0..points.len() {
        sum += points[i].1;
        while points[i].0 - points[j].0 >= len {
            sum -= points[j].1;
            j += 1;
        }
        best = best.max(sum);
    }
    best
}

/// Evaluates one check for `tool` on an observation.
pub fn evaluate(check: &Check, obs: &Observation, tool: &ToolInfo, amount_field: &str) -> CheckResult {
    let mut r = evaluate_raw(check, obs, tool, amount_field);
    let amount_check = matches!(check, Check::AmountPerCall { .. } | Check::AmountPerWindow { .. } | Check::PositiveWhole { .. });
    if let Some(why) = unboundable_amount(&tool.input_schema, amount_field).filter(|_| !r.held && amount_check) {
        r.proxy_only = true;
        r.note = Some(why);
    }
    r
}

fn evaluate_raw(check: &Check, obs: &Observation, tool: &ToolInfo, amount_field: &str) -> CheckResult {
    let calls: Vec<&LedgerEntry> = uses_of(&obs.ledger, tool.surface, &tool.name).collect();
    let result = |held: bool, observed: String| CheckResult { check: check.clone(), held, observed, note: None, proxy_only: false };
    match check {
        Check::Rate { count, window, sliding, executed_only, shared } => {
            let counted: Vec<&LedgerEntry> = if shared.is_empty() {
                calls
            } else {
                shared.iter().flat_map(|t| uses_of(&obs.ledger, tool.surface, t)).collect()
            };
            let mut times: Vec<i64> = counted.iter().filter(|e| !executed_only || e.executed).map(|e| e.time.0).collect();
            times.sort_unstable();
            let len = window.nanos().max(1);
            let calendar = max_calendar(&times, len);
            let measured = if *sliding { max_sliding(&times, len) } else { calendar };
            let mut r = result(
                measured as u64 <= *count,
                format!("{measured} in {}{window}", if *sliding { "" } else { "one calendar " }),
            );
            if *sliding && !r.held && calendar as u64 <= *count {
                r.note = Some(format!(
                    "a fixed-window limit lets up to 2×{count} through around a window edge: {measured} within {window}, but at most {calendar} per calendar {window}"
                ));
            }
            r
        }
        Check::SchemaViolations { max } => {
            let Ok(v) = jsonschema::validator_for(&tool.input_schema) else {
                return result(true, "the tool's inputSchema does not compile; nothing to check".into());
            };
            let empty = Value::Object(Default::default());
            let bad: Vec<&Value> =
                calls.iter().map(|e| e.arguments.as_ref().unwrap_or(&empty)).filter(|a| !v.is_valid(a)).collect();
            // A policy can only guard fields it also requires (a condition on a missing field
            // is false), so judge each violation against the required part of the schema.
            let part = PolicyPart::of(&tool.input_schema);
            let stoppable = bad.iter().filter(|a| part.refusable(&tool.input_schema, a)).count();
            let mut r = result(bad.len() as u32 <= *max, format!("{} schema-violating", bad.len()));
            if !r.held && stoppable == 0 {
                r.proxy_only = true;
                let unions = unguardable_unions(&tool.input_schema);
                let nullable = nullable_fields(&tool.input_schema);
                let names = |fields: &[String]| fields.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ");
                let mut note = String::from("every violation is in an optional or undeclared field, which Intercept's conditions cannot guard");
                if !unions.is_empty() {
                    note = format!(
                        "every violation is in an optional or undeclared field, or is a value of another type in {}, whose schema admits both booleans and strings: every Intercept condition true for all booleans (`exists`, `neq`, `not_in`) is also true for numbers, lists and objects, and conditions only AND",
                        names(&unions)
                    );
                }
                if !nullable.is_empty() {
                    note.push_str(&format!(
                        "; or in {}, which may be `null` (`anyOf: [T, null]`): no condition is true for `null` and the field's type alone (`regex`, the numeric operators and `exists: true` refuse `null`; `exists: false`, `neq` and `not_in` admit every type), so no policy guards it; nearest: make clients always send a value, then check its type",
                        names(&nullable)
                    ));
                }
                r.note = Some(note);
            }
            r
        }
        Check::NeverReached { tool: name } => {
            let n = uses_of(&obs.ledger, tool.surface, name).count();
            let what = match tool.surface {
                Surface::Tool => "calls",
                Surface::Resource => "reads",
                Surface::Prompt => "gets",
            };
            result(n == 0, format!("{n} {what} of `{name}`"))
        }
        Check::NeverListed { tool: name } => {
            let seen = match tool.surface {
                Surface::Tool => obs.listed.contains(name),
                other => obs.listed_items.contains(&(other, name.clone())),
            };
            result(!seen, if seen { format!("`{name}` listed") } else { format!("`{name}` not listed") })
        }
        Check::AmountPerCall { cap } => {
            let max = calls.iter().filter_map(|e| amount_of(e, amount_field)).fold(f64::NEG_INFINITY, f64::max);
            if max == f64::NEG_INFINITY {
                return result(true, "no amounts".into());
            }
            result(max <= *cap, format!("largest amount {}", num(max)))
        }
        Check::AmountPerWindow { cap, window } => {
            // A negative "charge" refunds nothing on a real server: count what was spent.
            let mut points: Vec<(i64, f64)> = calls
                .iter()
                .filter(|e| e.executed)
                .filter_map(|e| amount_of(e, amount_field).map(|a| (e.time.0, a.max(0.0))))
                .collect();
            points.sort_by_key(|p| p.0);
            let spent = max_sliding_sum(&points, window.nanos().max(1));
            result(spent <= *cap, format!("{} spent in {window}", num(spent)))
        }
        Check::Answered => {
            let said = match obs.unanswered {
                0 => "every call answered".to_string(),
                n => format!("{n} calls never answered"),
            };
            let mut r = result(obs.unanswered == 0, said);
            r.proxy_only = true;
            r
        }
        Check::Blind { from, until, kind } => {
            // Judged on when the proxy was asked: a call it decided before the fault may reach the server after it starts.
            let during = calls.iter().filter(|e| (*from..*until).contains(&(e.sent.unwrap_or(e.time).0 - super::START.0))).count();
            let mut r = result(during == 0, format!("{during} reached {}", kind.while_words()));
            r.proxy_only = true;
            r
        }
        Check::ArgumentBytes { max } => {
            let size = |a: &Value| a.to_string().len() as u64;
            let empty = Value::Object(Default::default());
            let over: Vec<&Value> =
                calls.iter().map(|e| e.arguments.as_ref().unwrap_or(&empty)).filter(|a| size(a) > *max).collect();
            let largest = over.iter().map(|a| size(a)).max().unwrap_or(0);
            let mut r = result(over.is_empty(), format!("{} oversized (largest {largest} bytes)", over.len()));
            // A condition (`regex` with a bounded repetition) can only bound fields the policy
            // also requires; bytes in optional or undeclared fields are beyond any policy.
            if !r.held && over.iter().all(|a| guardable_bytes(&tool.input_schema, a) <= *max) {
                r.proxy_only = true;
                r.note = Some(BYTES_BEYOND.into());
            }
            r
        }
        Check::Destinations { checks, forbidden } => {
            let j = destinations::judge(&calls, checks, forbidden);
            CheckResult { check: check.clone(), held: j.held, observed: j.observed, note: j.note, proxy_only: j.proxy_only }
        }
        Check::Pinned { tool: name } => {
            let shown: Vec<&Value> = obs.definitions.iter().filter(|d| d.name == *name).map(|d| &d.entry).collect();
            let filed = tool.listed();
            let unapproved: Vec<&Value> = shown.iter().copied().filter(|e| **e != *filed).collect();
            let ran = calls.iter().filter(|e| e.executed && (e.shadow || e.revision.unwrap_or(0) != 0)).count();
            let mut seen = match (shown.len(), unapproved.first()) {
                (0, _) => "the agent was shown no definition".to_string(),
                (n, None) => format!("the agent was shown the filed definition {}", crate::wording::count(n, "time")),
                (n, Some(first)) => format!("the agent was shown {} of {} not as filed ({})", unapproved.len(), crate::wording::count(n, "definition"), differing(first, &filed)),
            };
            seen.push_str(&format!("; {} ran a definition not as filed", crate::wording::count(ran, "call")));
            let mut r = result(unapproved.is_empty() && ran == 0, seen);
            if !r.held {
                r.proxy_only = true;
                r.note = Some(
                    "no policy can pin a definition: Intercept never compares a tool's definition with an approved one (its only rewrite of tools/list is `hide`); `gauntlet proxy --profile strict --pin APPROVED.yaml` does".into(),
                );
            }
            r
        }
        Check::Flow { sources, within, to } => {
            let opened = first_read(&obs.ledger, sources);
            let after: Vec<&&LedgerEntry> = calls
                .iter()
                .filter(|e| e.executed)
                .filter(|e| opened.is_some_and(|t| e.time.0 > t.0 && within.is_none_or(|w| e.time.0 - t.0 <= w.nanos())))
                .collect();
            let Some(checks) = to else { return refused_after(result, opened, &after) };
            let empty = Value::Object(Default::default());
            let foreign: Vec<Vec<destinations::Violation>> = after
                .iter()
                .map(|e| destinations::violations(e.arguments.as_ref().unwrap_or(&empty), checks, &[]))
                .filter(|v| !v.is_empty())
                .collect();
            let observed = match (opened, foreign.first().and_then(|v| v.first())) {
                (None, _) => "no private read reached the server".to_string(),
                (Some(_), None) => format!("{} after the private read, 0 with a foreign destination", crate::wording::count(after.len(), "call")),
                (Some(_), Some(v)) => format!(
                    "{} with a foreign destination reached the server after the private read (`{}` = {})",
                    crate::wording::count(foreign.len(), "call"),
                    v.field,
                    v.what
                ),
            };
            let mut r = result(foreign.is_empty(), observed);
            if !r.held && foreign.iter().flatten().all(|v| v.beyond_policy.is_some()) {
                r.proxy_only = true;
                r.note = foreign.first().and_then(|v| v.first()).and_then(|v| v.beyond_policy.clone());
            }
            r
        }
        Check::SessionCalls { max } => {
            let mut per: BTreeMap<Option<&str>, u64> = BTreeMap::new();
            for e in calls.iter().filter(|e| e.executed) {
                *per.entry(e.session.as_deref()).or_default() += 1;
            }
            let most = per.values().copied().max().unwrap_or(0);
            let mut r = result(most <= *max, format!("{} reached the server in one session", crate::wording::count(most as usize, "call")));
            if !r.held {
                r.note = Some(SESSION_CAP.into());
            }
            r
        }
        Check::PositiveWhole { places } => {
            // In minor units every amount is whole; rounding noise of a decimal text is not a fraction.
            let minor = |a: f64| a * 10f64.powi(*places as i32);
            let bad = calls
                .iter()
                .filter_map(|e| amount_of(e, amount_field))
                .filter(|a| *a <= 0.0 || (minor(*a) - minor(*a).round()).abs() > 1e-6)
                .count();
            let what = if *places == 0 { "fractional" } else { "below a cent" };
            result(bad == 0, format!("{bad} amounts ≤0 or {what}"))
        }
    }
}

/// What Intercept can and cannot say of a per-session cap.
pub const SESSION_CAP: &str = "Intercept has no per-session counter (a counter's key is the tool and counter name, shared by every session the proxy serves, reference §1.3): its nearest form, a `day` counter `lte N` (what harden writes), caps every session together and forgets a session's calls at 00:00 UTC";

/// A refusing flow: no call reached after the read. A breach only past
/// 00:00 UTC is the proxy's (Intercept's counters are calendar windows).
fn refused_after(result: impl Fn(bool, String) -> CheckResult, opened: Option<crate::clock::Timestamp>, after: &[&&LedgerEntry]) -> CheckResult {
    let observed = match opened {
        None => "no private read reached the server".to_string(),
        Some(_) => format!("{} reached the server after the private read", crate::wording::count(after.len(), "call")),
    };
    let mut r = result(after.is_empty(), observed);
    let day = |t: crate::clock::Timestamp| t.0.div_euclid(86_400 * 1_000_000_000);
    if let (false, Some(read)) = (r.held, opened) {
        if after.iter().all(|e| day(e.time) > day(read)) {
            r.proxy_only = true;
            r.note = Some(FLOW_PAST_MIDNIGHT.into());
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::scenario::Risk;

    fn entry(secs: f64, tool: &str, args: Value, executed: bool) -> LedgerEntry {
        LedgerEntry {
            time: Timestamp(0).plus_secs_f64(secs),
            session: None,
            identity: None,
            method: Some("tools/call".into()),
            tool: Some(tool.into()),
            arguments: Some(args),
            raw: String::new(),
            executed,
            revision: Some(0),
            shadow: false,
            sent: None,
        }
    }

    fn tool() -> ToolInfo {
        ToolInfo {
            server: "s".into(),
            name: "charge".into(),
            risk: Risk::Financial,
            input_schema: serde_json::json!({"type": "object", "properties": {"amount": {"type": "integer", "minimum": 1}}, "required": ["amount"]}).into(),
            surface: Default::default(),
            roles: Vec::new(),
            definition: serde_json::Value::Null,
            private: false,
        }
    }

    #[test]
    fn sliding_and_calendar_counts() {
        let t: Vec<i64> = [59.0, 59.5, 60.0, 60.5, 125.0].iter().map(|s| (s * 1e9) as i64).collect();
        assert_eq!(max_sliding(&t, 60_000_000_000), 4);
        assert_eq!(max_calendar(&t, 60_000_000_000), 2);
    }

    #[test]
    fn window_edge_burst_breaches_sliding_with_an_edge_note() {
        let mut ledger = Vec::new();
        for i in 0..30 {
            ledger.push(entry(59.0 + i as f64 * 0.01, "charge", serde_json::json!({"amount": 1}), true));
            ledger.push(entry(60.0 + i as f64 * 0.01, "charge", serde_json::json!({"amount": 1}), true));
        }
        ledger.sort_by_key(|e| e.time);
        let obs = Observation { ledger, ..Default::default() };
        let c = Check::Rate { count: 30, window: Duration::from_secs(60), sliding: true, executed_only: false, shared: vec![] };
        let r = evaluate(&c, &obs, &tool(), "amount");
        assert!(!r.held);
        assert_eq!(r.observed, "60 in 1m");
        assert!(r.note.unwrap().contains("at most 30 per calendar 1m"));
        let c = Check::Rate { count: 30, window: Duration::from_secs(60), sliding: false, executed_only: false, shared: vec![] };
        assert!(evaluate(&c, &obs, &tool(), "amount").held);
    }

    #[test]
    fn amounts_schema_and_reach() {
        let ledger = vec![
            entry(1.0, "charge", serde_json::json!({"amount": 40000}), true),
            entry(2.0, "charge", serde_json::json!({"amount": "90000"}), true),
            entry(3.0, "charge", serde_json::json!({"amount": -5}), false),
            entry(4.0, "other", serde_json::json!({}), true),
        ];
        let obs = Observation { ledger, listed: ["charge".to_string()].into(), ..Default::default() };
        let t = tool();
        let eval = |c: Check| evaluate(&c, &obs, &t, "amount");
        assert!(!eval(Check::AmountPerCall { cap: 50000.0 }).held);
        let w = eval(Check::AmountPerWindow { cap: 100000.0, window: Duration::from_secs(86400) });
        assert_eq!((w.held, w.observed.as_str()), (false, "130000 spent in 1d"));
        let sv = eval(Check::SchemaViolations { max: 0 });
        assert_eq!((sv.observed.as_str(), sv.proxy_only), ("2 schema-violating", false));
        assert!(!eval(Check::PositiveWhole { places: 0 }).held);
        assert!(!eval(Check::NeverListed { tool: "charge".into() }).held);
        assert!(eval(Check::NeverReached { tool: "missing".into() }).held);
        assert_eq!(eval(Check::NeverReached { tool: "other".into() }).observed, "1 calls of `other`");
    }

    #[test]
    fn violations_only_in_optional_fields_are_proxy_only() {
        let mut t = tool();
        std::sync::Arc::make_mut(&mut t.input_schema)["properties"]["note"] = serde_json::json!({"type": "string"});
        std::sync::Arc::make_mut(&mut t.input_schema)["additionalProperties"] = serde_json::json!(false);
        let obs = Observation {
            ledger: vec![
                entry(1.0, "charge", serde_json::json!({"amount": 5, "note": 7}), true),
                entry(2.0, "charge", serde_json::json!({"amount": 5, "extra": 1}), true),
            ],
            ..Default::default()
        };
        let r = evaluate(&Check::SchemaViolations { max: 0 }, &obs, &t, "amount");
        assert!(!r.held && r.proxy_only, "{r:?}");
    }

    #[test]
    fn a_call_the_proxy_was_asked_before_a_fault_is_not_blind_when_it_reaches_after() {
        let at = |secs: f64| crate::verify::START.plus_secs_f64(secs);
        let blind = Check::Blind { from: 9_500_000_000, until: 29_500_000_000, kind: crate::scenario::FaultKind::StoreHang };
        // Sent at 9 s, logged by the server at 9.7 s (a busy machine's latency through the proxy).
        let late = LedgerEntry { time: at(9.7), ..entry(0.0, "charge", serde_json::json!({"amount": 1}), true) };
        let obs = |e: LedgerEntry| Observation { ledger: vec![e], ..Default::default() };
        assert!(!evaluate(&blind, &obs(late.clone()), &tool(), "amount").held, "dated by the server's clock alone");
        assert!(evaluate(&blind, &obs(LedgerEntry { sent: Some(at(9.0)), ..late.clone() }), &tool(), "amount").held);
        // Sent while the store hung: blind, whenever it is logged.
        assert!(!evaluate(&blind, &obs(LedgerEntry { sent: Some(at(10.0)), ..late }), &tool(), "amount").held);
    }

    #[test]
    fn a_boolean_or_string_field_can_only_be_kept_present() {
        let mut t = tool();
        std::sync::Arc::make_mut(&mut t.input_schema)["properties"]["flag"] = serde_json::json!({"anyOf": [{"type": "boolean"}, {"type": "string"}]});
        std::sync::Arc::make_mut(&mut t.input_schema)["required"] = serde_json::json!(["amount", "flag"]);
        assert_eq!(unguardable_unions(&t.input_schema), ["flag"]);
        let obs = |flag: Value| Observation {
            ledger: vec![entry(1.0, "charge", serde_json::json!({"amount": 5, "flag": flag}), true)],
            ..Default::default()
        };
        let check = Check::SchemaViolations { max: 0 };
        for other_type in [serde_json::json!(7), serde_json::json!([true]), serde_json::json!({"a": 1})] {
            let r = evaluate(&check, &obs(other_type), &t, "amount");
            assert!(!r.held && r.proxy_only, "{r:?}");
            assert!(r.note.unwrap().contains("`flag`, whose schema admits both booleans and strings"));
        }
        // `exists: true` refuses null, so null stays the policy's to stop.
        let r = evaluate(&check, &obs(Value::Null), &t, "amount");
        assert!(!r.held && !r.proxy_only, "{r:?}");
        // A number|integer union is one `gte` away: not unguardable.
        std::sync::Arc::make_mut(&mut t.input_schema)["properties"]["flag"] = serde_json::json!({"anyOf": [{"type": "integer"}, {"type": "number"}]});
        assert!(unguardable_unions(&t.input_schema).is_empty());
        assert!(!evaluate(&check, &obs(serde_json::json!("x")), &t, "amount").proxy_only);
    }

    #[test]
    fn oversized_arguments_breach_and_optional_ones_are_proxy_only() {
        let mut t = tool();
        std::sync::Arc::make_mut(&mut t.input_schema)["properties"]["note"] = serde_json::json!({"type": "string"});
        let big = "A".repeat(2000);
        let obs = |args: Value| Observation { ledger: vec![entry(1.0, "charge", args, true)], ..Default::default() };
        let check = Check::ArgumentBytes { max: 1000 };
        let r = evaluate(&check, &obs(serde_json::json!({"amount": 5, "note": big})), &t, "amount");
        assert_eq!((r.held, r.proxy_only, r.observed.as_str()), (false, true, "1 oversized (largest 2022 bytes)"));
        let r = evaluate(&check, &obs(serde_json::json!({"amount": big})), &t, "amount");
        assert_eq!((r.held, r.proxy_only), (false, false));
        assert!(evaluate(&check, &obs(serde_json::json!({"amount": 5})), &t, "amount").held);
    }

    #[test]
    fn expectations_without_a_requirement_are_dropped() {
        let reqs = Requirements::baseline();
        let read = ToolInfo { risk: Risk::Read, ..tool() };
        let expect = Expect {
            max_reached_per_window: Some(Default::default()),
            never_reached: Some(Switch::Requirement),
            ..Default::default()
        };
        let req = reqs.for_tool("charge", Risk::Read);
        assert!(derive(&expect, &req, &reqs, &read, &Default::default()).is_empty());
        let req = reqs.for_tool("charge", Risk::Destructive);
        assert_eq!(derive(&expect, &req, &reqs, &read, &Default::default()), vec![Check::NeverReached { tool: "charge".into() }]);
    }
}
