//! Requirements learned from legitimate traffic (`gauntlet init
//! --from-trace`): for every destination field of every tool the trace
//! calls, an allowlist of what legitimate calls sent — the e-mail domains,
//! the URL schemes and hosts, the directories of paths, the exact accounts
//! and identifiers — and, for an optional destination field no call ever
//! set, a proposal to forbid it. Like audit2allow it proposes: each list
//! says how many calls it came from, for a person to review.
//!
//! Sans-IO: calls go in one at a time ([`Learner::add`]), the text of the
//! `tools:` section comes out ([`Learned::yaml`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::lint::ToolInfo;
use super::requirements::{Allow, Money};
use crate::clock::{Timestamp, NANOS_PER_SEC};
use crate::mock::roles::{required, schema_at, values_at, FieldRole, Kind, Role, Unit};
use crate::values::{texts, PathReading, Reading};

/// More distinct values than this in one field is no allowlist a person reviews.
pub const MAX_VALUES: usize = 200;

/// What the trace showed of one destination field.
#[derive(Clone, Debug)]
struct FieldSeen {
    kind: Kind,
    list: bool,
    required: bool,
    /// Calls that set it.
    present: usize,
    values: BTreeSet<String>,
}

#[derive(Clone, Debug, Default)]
struct ToolSeen {
    calls: usize,
    fields: BTreeMap<String, FieldSeen>,
    amount: Option<AmountSeen>,
}

/// What the trace showed of a tool's amount field, in the field's own unit.
#[derive(Clone, Debug)]
struct AmountSeen {
    path: String,
    role: FieldRole,
    calls: usize,
    max: f64,
    /// Totals per UTC day (days since the epoch).
    per_day: BTreeMap<i64, f64>,
}

/// Accumulates the calls of a trace.
#[derive(Debug)]
pub struct Learner<'a> {
    catalogue: &'a [ToolInfo],
    tools: BTreeMap<String, ToolSeen>,
    /// Calls of tools no server in play has, by name.
    pub unknown: BTreeMap<String, usize>,
    /// Calls recorded without their arguments (an audit log keeps only a hash).
    pub without_arguments: usize,
}

impl<'a> Learner<'a> {
    pub fn new(catalogue: &'a [ToolInfo]) -> Learner<'a> {
        Learner { catalogue, tools: BTreeMap::new(), unknown: BTreeMap::new(), without_arguments: 0 }
    }

    /// One legitimate call, made at `at`.
    pub fn add(&mut self, tool: &str, at: Timestamp, arguments: Option<&Map<String, Value>>) {
        let Some(info) = self.catalogue.iter().find(|t| t.name == tool) else {
            *self.unknown.entry(tool.to_string()).or_default() += 1;
            return;
        };
        let seen = self.tools.entry(tool.to_string()).or_default();
        seen.calls += 1;
        let Some(args) = arguments else {
            self.without_arguments += 1;
            return;
        };
        let args = Value::Object(args.clone());
        if let Some((path, role)) = info.fields_with(Role::Amount).next() {
            if let Some(v) = args.pointer(&format!("/{}", path.replace('.', "/"))).and_then(Value::as_f64).filter(|v| v.is_finite()) {
                let a = seen.amount.get_or_insert_with(|| AmountSeen {
                    path: path.to_string(),
                    role: role.clone(),
                    calls: 0,
                    max: f64::MIN,
                    per_day: BTreeMap::new(),
                });
                a.calls += 1;
                a.max = a.max.max(v);
                *a.per_day.entry(at.0.div_euclid(86_400 * NANOS_PER_SEC)).or_default() += v;
            }
        }
        for (path, role) in info.fields_with(Role::Destination) {
            let Some(kind) = role.kind else { continue };
            let list = schema_at(&info.input_schema, path).is_some_and(|s| s["type"] == "array") || path.contains("[]");
            let f = seen.fields.entry(path.to_string()).or_insert_with(|| FieldSeen {
                kind,
                list,
                required: required(&info.input_schema, path),
                present: 0,
                values: BTreeSet::new(),
            });
            if let Some(vals) = values_at(&args, path) {
                f.present += 1;
                f.values.extend(vals.into_iter().flat_map(texts));
            }
        }
    }

    /// What was learned, tool by tool (tools the trace never called have no entry).
    pub fn finish(self) -> Learned {
        let mut tools = Vec::new();
        for (name, seen) in self.tools {
            let info = self.catalogue.iter().find(|t| t.name == name);
            let mut t = LearnedTool {
                name: name.clone(),
                calls: seen.calls,
                amount: seen.amount.as_ref().and_then(learned_amount),
                fields: Vec::new(),
                forbidden: Vec::new(),
                skipped: Vec::new(),
            };
            // Destination fields no call of the trace even reached (recorded without arguments) stay unlearned.
            let declared: Vec<&str> = info.map(|i| i.fields_with(Role::Destination).map(|(p, _)| p).collect()).unwrap_or_default();
            for path in declared {
                let Some(f) = seen.fields.get(path) else { continue };
                if f.present == 0 && !f.required {
                    t.forbidden.push((path.to_string(), format!("never set in {}", calls(seen.calls))));
                    continue;
                }
                if f.values.len() > MAX_VALUES {
                    t.skipped.push(format!("`{path}`: {} distinct values, too many for an allowlist to review; write a `pattern` or `roots` yourself", f.values.len()));
                    continue;
                }
                let (allow, what) = allowlist(f);
                let optional = f.present < seen.calls || !f.required;
                let allow = Allow { each: f.list, optional, ..allow };
                let comment = format!(
                    "{what}, from {}{}",
                    calls(f.present),
                    if f.present < seen.calls { format!(" (absent in {} more)", seen.calls - f.present) } else { String::new() }
                );
                t.fields.push(LearnedField { path: path.to_string(), allow, comment });
            }
            tools.push(t);
        }
        Learned { tools }
    }
}

/// Caps that admit every amount the trace sent, in the field's unit: the
/// largest call, and twice the largest day's total (a policy holds a sliding
/// day with a calendar-day counter at half the bound, so the doubled bound
/// keeps that day allowed).
fn learned_amount(a: &AmountSeen) -> Option<LearnedAmount> {
    if a.max <= 0.0 {
        return None;
    }
    let unit = a.role.unit.unwrap_or(Unit::Minor);
    let places = 10f64.powi(a.role.places() as i32);
    let round = |v: f64| (v * places).ceil() / places;
    let day = a.per_day.values().cloned().fold(0.0, f64::max);
    Some(LearnedAmount {
        path: a.path.clone(),
        per_call: Money { amount: round(a.max), unit },
        per_day: Money { amount: round(2.0 * day), unit },
        comment: format!(
            "`{}` in {}: the largest of {} was {}, the largest day's total {}",
            a.path,
            match unit {
                Unit::Major => "currency units",
                Unit::Minor => "minor units (cents)",
            },
            crate::wording::count(a.calls, "amount"),
            shown(a.max, a.role.places()),
            shown(day, a.role.places())
        ),
    })
}

fn shown(v: f64, places: u32) -> String {
    format!("{v:.*}", places as usize)
}

fn calls(n: usize) -> String {
    crate::wording::count(n, "call")
}

/// The allowlist legitimate values stand for, and what it holds in words.
fn allowlist(f: &FieldSeen) -> (Allow, String) {
    let mut allow = Allow::default();
    let mut exact: BTreeSet<String> = BTreeSet::new();
    let mut hosts: BTreeSet<String> = BTreeSet::new();
    let mut schemes: BTreeSet<String> = BTreeSet::new();
    let mut ports: BTreeSet<u16> = BTreeSet::new();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for v in &f.values {
        match Reading::of(f.kind, v) {
            Reading::Emails(a) => hosts.extend(a.iter().map(|a| a.domain.to_string())),
            Reading::Url(u) if u.host.is_some() => {
                hosts.extend(u.host.as_ref().map(ToString::to_string));
                schemes.insert(u.scheme.clone());
                let default = url::Url::parse(&format!("{}://x", u.scheme)).ok().and_then(|d| d.port_or_known_default());
                if let Some(p) = u.port.filter(|p| Some(*p) != default) {
                    ports.insert(p);
                }
            }
            Reading::Host(h) => {
                hosts.insert(h.to_string());
            }
            Reading::Path(PathReading::Absolute(p)) => {
                dirs.insert(p.rsplit_once('/').map(|(d, _)| d).filter(|d| !d.is_empty()).unwrap_or("/").to_string());
            }
            _ => {
                exact.insert(v.clone());
            }
        }
    }
    // A directory under another learned one adds nothing.
    let roots: Vec<String> = dirs.iter().filter(|d| !dirs.iter().any(|o| o != *d && PathReading::parse(d).is_under(&PathReading::parse(o)))).cloned().collect();
    let values = f.values.len();
    let what = match f.kind {
        Kind::Email => format!("{} in {}", noun(values, "address"), noun(hosts.len(), "domain")),
        Kind::Url => format!("{} on {}", noun(values, "URL"), noun(hosts.len(), "host")),
        Kind::Host => noun(hosts.len(), "host"),
        Kind::Path => format!("{} under {}", noun(values, "path"), noun(roots.len(), "directory")),
        Kind::Iban => noun(exact.len(), "account"),
        Kind::Id => noun(exact.len(), "value"),
    };
    match f.kind {
        Kind::Email => allow.domains = hosts.into_iter().collect(),
        Kind::Url | Kind::Host => {
            allow.hosts = hosts.into_iter().collect();
            allow.schemes = schemes.into_iter().collect();
            allow.ports = ports.into_iter().collect();
            if !allow.ports.is_empty() {
                // A port list replaces the scheme's default: keep the default reachable too.
                for s in &allow.schemes {
                    if let Some(p) = url::Url::parse(&format!("{s}://x")).ok().and_then(|d| d.port_or_known_default()) {
                        allow.ports.push(p);
                    }
                }
                allow.ports.sort_unstable();
                allow.ports.dedup();
            }
        }
        Kind::Path => allow.roots = roots,
        Kind::Iban | Kind::Id => {}
    }
    allow.values = exact.into_iter().collect();
    (allow, what)
}

fn noun(n: usize, what: &str) -> String {
    crate::wording::count(n, what)
}

/// What a trace taught, per tool.
#[derive(Clone, Debug, PartialEq)]
pub struct Learned {
    pub tools: Vec<LearnedTool>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LearnedTool {
    pub name: String,
    pub calls: usize,
    /// Amount caps that admit the trace's amounts.
    pub amount: Option<LearnedAmount>,
    pub fields: Vec<LearnedField>,
    /// Optional destination fields no call set, with why.
    pub forbidden: Vec<(String, String)>,
    /// Fields left unlearned, with why.
    pub skipped: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LearnedAmount {
    pub path: String,
    pub per_call: Money,
    /// Per day.
    pub per_day: Money,
    /// What it came from.
    pub comment: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LearnedField {
    pub path: String,
    pub allow: Allow,
    /// How many calls it came from, what it holds.
    pub comment: String,
}

impl Learned {
    /// Whether anything was learned.
    pub fn is_empty(&self) -> bool {
        self.tools.iter().all(|t| t.fields.is_empty() && t.forbidden.is_empty() && t.amount.is_none())
    }

    /// The `tools:` section of a gauntlet.yaml, each list with its comment.
    pub fn yaml(&self, sources: &str) -> String {
        let mut out = format!("# Learned by `gauntlet init --from-trace` from {sources}: where each destination\n# field's values went, and how much money moved, in legitimate calls. Review every\n# list and cap before trusting it.\ntools:\n");
        let mut any = false;
        for t in self.tools.iter().filter(|t| !(t.fields.is_empty() && t.forbidden.is_empty() && t.skipped.is_empty() && t.amount.is_none())) {
            any = true;
            out.push_str(&format!("  {}:  # {}\n", key(&t.name), calls(t.calls)));
            if let Some(a) = &t.amount {
                out.push_str(&format!("    # {}\n", a.comment));
                out.push_str(&format!("    max_amount_per_call: {}\n", money(a.per_call)));
                out.push_str(&format!("    max_amount_per_window: {}\n", money_window(a.per_day, "1d")));
            }
            if !t.fields.is_empty() {
                out.push_str("    fields:\n");
                for f in &t.fields {
                    out.push_str(&format!("      # {}\n      {}: {}\n", f.comment, key(&f.path), flow(&f.allow)));
                }
            }
            if !t.forbidden.is_empty() {
                let reasons: Vec<String> = t.forbidden.iter().map(|(p, why)| format!("`{p}` {why}")).collect();
                out.push_str(&format!("    # {}\n", reasons.join("; ")));
                let names: Vec<String> = t.forbidden.iter().map(|(p, _)| key(p)).collect();
                out.push_str(&format!("    forbidden: [{}]\n", names.join(", ")));
            }
            for s in &t.skipped {
                out.push_str(&format!("    # not learned: {s}\n"));
            }
        }
        if !any {
            out.push_str("  {}\n");
        }
        out
    }
}

/// A YAML key or scalar: plain when it cannot be read as anything else, else double-quoted.
fn key(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@'))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/')
        && !["y", "n", "yes", "no", "on", "off", "true", "false", "null"].contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_string()
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}

/// A cap as gauntlet.yaml spells it: cents as a plain number, currency units with their unit.
fn money(m: Money) -> String {
    match m.unit {
        Unit::Minor => format!("{}", m.amount),
        Unit::Major => format!("{{amount: {}, unit: major}}", m.amount),
    }
}

fn money_window(m: Money, window: &str) -> String {
    match m.unit {
        Unit::Minor => format!("{{amount: {}, window: {window}}}", m.amount),
        Unit::Major => format!("{{amount: {}, unit: major, window: {window}}}", m.amount),
    }
}

/// An allowlist in YAML flow style, keys in the order people read them.
fn flow(a: &Allow) -> String {
    let list = |v: &[String]| format!("[{}]", v.iter().map(|s| key(s)).collect::<Vec<_>>().join(", "));
    let mut parts = Vec::new();
    if !a.values.is_empty() {
        parts.push(format!("values: {}", list(&a.values)));
    }
    for (k, v) in [("domains", &a.domains), ("schemes", &a.schemes), ("hosts", &a.hosts), ("roots", &a.roots)] {
        if !v.is_empty() {
            parts.push(format!("{k}: {}", list(v)));
        }
    }
    if !a.ports.is_empty() {
        parts.push(format!("ports: [{}]", a.ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")));
    }
    if a.each {
        parts.push("each: true".into());
    }
    if a.optional {
        parts.push("optional: true".into());
    }
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::roles::FieldRole;
    use crate::scenario::requirements::Requirements;
    use crate::scenario::Risk;
    use serde_json::json;

    fn catalogue() -> Vec<ToolInfo> {
        let tool = |name: &str, props: Value, required: Value, roles: Vec<(&str, Kind)>| ToolInfo {
            server: "s".into(),
            name: name.into(),
            risk: Risk::Write,
            input_schema: json!({"type": "object", "properties": props, "required": required}).into(),
            surface: Default::default(),
            roles: roles.into_iter().map(|(p, k)| (p.to_string(), FieldRole::destination(k))).collect(),
            definition: Value::Null,
            private: false,
        };
        vec![
            tool(
                "send_email",
                json!({"to": {"type": "array", "items": {"type": "string"}}, "cc": {"type": "array", "items": {"type": "string"}}, "bcc": {"type": "array", "items": {"type": "string"}}, "subject": {"type": "string"}}),
                json!(["to", "subject"]),
                vec![("to", Kind::Email), ("cc", Kind::Email), ("bcc", Kind::Email)],
            ),
            tool("fetch", json!({"url": {"type": "string"}}), json!(["url"]), vec![("url", Kind::Url)]),
            tool("write_file", json!({"path": {"type": "string"}, "content": {"type": "string"}}), json!(["path"]), vec![("path", Kind::Path)]),
            tool("send_money", json!({"recipient": {"type": "string"}}), json!(["recipient"]), vec![("recipient", Kind::Iban)]),
        ]
    }

    fn learn(calls: &[(&str, Value)]) -> Learned {
        let cat = catalogue();
        let mut l = Learner::new(&cat);
        for (tool, args) in calls {
            l.add(tool, Timestamp(0), args.as_object());
        }
        l.finish()
    }

    #[test]
    fn lists_come_from_what_legitimate_calls_sent() {
        let learned = learn(&[
            ("send_email", json!({"to": ["a@acme.com", "b@Partner.org"], "subject": "s"})),
            ("send_email", json!({"to": ["c@acme.com"], "cc": ["d@acme.com"], "subject": "s"})),
            ("fetch", json!({"url": "https://api.acme.com/v1?x=1"})),
            ("fetch", json!({"url": "http://localhost:8080/health"})),
            ("write_file", json!({"path": "/srv/share/a/b.txt"})),
            ("write_file", json!({"path": "/srv/share/c.txt"})),
            ("send_money", json!({"recipient": "DE89370400440532013000"})),
            ("nope", json!({})),
        ]);
        let text = learned.yaml("trace.jsonl");
        for line in [
            "  send_email:  # 2 calls",
            "      # 3 addresses in 2 domains, from 2 calls",
            "      to: {domains: [acme.com, partner.org], each: true}",
            "      cc: {domains: [acme.com], each: true, optional: true}",
            "    forbidden: [bcc]",
            "      url: {schemes: [http, https], hosts: [api.acme.com, localhost], ports: [80, 443, 8080]}",
            "      path: {roots: [/srv/share]}",
            "      recipient: {values: [DE89370400440532013000]}",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        // What it wrote loads, and allows every call it came from.
        let reqs = Requirements::parse(&text).unwrap();
        let cat = catalogue();
        assert!(reqs.check_fields(&cat).is_empty(), "{:?}", reqs.check_fields(&cat));
        let to = &reqs.tools["send_email"].fields["to"];
        assert!(to.judge(Kind::Email, "b@partner.org").allowed && !to.judge(Kind::Email, "x@evil.example").allowed);
    }

    #[test]
    fn amount_caps_admit_the_trace_in_the_fields_unit() {
        let mut cat = catalogue();
        let money = cat.iter_mut().find(|t| t.name == "send_money").unwrap();
        money.roles.push(("amount".into(), FieldRole::amount(Unit::Major, 2)));
        let day = 86_400 * NANOS_PER_SEC;
        let mut l = Learner::new(&cat);
        // Euros: 98.70 is a payment, not a fraction of a cent; the second day moves 1150.00.
        l.add("send_money", Timestamp(0), json!({"recipient": "DE89370400440532013000", "amount": 98.70}).as_object());
        l.add("send_money", Timestamp(day + 5), json!({"recipient": "DE89370400440532013000", "amount": 1100.0}).as_object());
        l.add("send_money", Timestamp(day + 9), json!({"recipient": "DE89370400440532013000", "amount": 50.0}).as_object());
        let text = l.finish().yaml("t.jsonl");
        for line in [
            "    # `amount` in currency units: the largest of 3 amounts was 1100.00, the largest day's total 1150.00",
            "    max_amount_per_call: {amount: 1100, unit: major}",
            "    max_amount_per_window: {amount: 2300, unit: major, window: 1d}",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        let reqs = Requirements::parse(&text).unwrap();
        let role = FieldRole::amount(Unit::Major, 2);
        let r = &reqs.tools["send_money"];
        assert_eq!(r.per_call_in(Some(&role)), Some(1100.0));
        // A 30,000 transfer split in two is over the learned cap, in euros.
        assert!(r.per_call_in(Some(&role)).unwrap() < 15_000.0);
    }

    #[test]
    fn a_call_without_arguments_teaches_nothing() {
        let cat = catalogue();
        let mut l = Learner::new(&cat);
        l.add("fetch", Timestamp(0), None);
        assert_eq!(l.without_arguments, 1);
        assert!(l.finish().is_empty());
    }
}
