//! Where values went, judged on the ledger as the receiving server reads
//! them ([`crate::values`]), never with the policy's own regex.
//!
//! Per tool: which fields are destinations (their roles, and any field a
//! requirement names), the legitimate value each generated call carries
//! (one the requirements allow, else a plain one of its kind, whose own
//! domain, host or directory the verdict then assumes is the only allowed
//! one and says so), and the check that every destination which reached
//! the server is allowed. A breach is a proxy finding when every foreign
//! value sits where Intercept's conditions cannot look: an optional field
//! ("absent or on the list" is no condition), a list (no condition checks
//! each element), a field that may be `null`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::agent::{generate, Destination};
use crate::engine::admission::{Answer, Prefer, Tool};
use crate::mock::roles::{required, schema_at, values_at, Kind, Role};
use crate::mock::LedgerEntry;
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::{Allow, Requirements};
use crate::values::texts;

/// One field's allowlist as the verdict applies it.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldCheck {
    pub path: String,
    pub kind: Kind,
    pub allow: Allow,
    /// Where its allowlist comes from.
    pub origin: Origin,
    /// The schema requires the field.
    pub required: bool,
    /// The field holds a list (or sits in one: `a[].b`).
    pub list: bool,
    /// The schema lets the field be `null` (`anyOf: [string, null]`).
    pub nullable: bool,
}

/// Where a destination field's allowlist comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// The requirements name it, at this key (`tools.send_email.fields.to`, `roles.destination`).
    Declared(String),
    /// Assumed: the legitimate value is one the policy's own conditions admit
    /// (a careful policy's allowlist), where a plain stand-in would be refused.
    Policy,
    /// Assumed: a plain stand-in legitimate value (`example.com`, `/tmp/...`).
    StandIn,
}

impl Origin {
    /// The requirement's key, when the requirements name the allowlist.
    pub fn declared(&self) -> Option<&str> {
        match self {
            Origin::Declared(key) => Some(key),
            Origin::Policy | Origin::StandIn => None,
        }
    }
}

impl FieldCheck {
    /// Calls may leave the field out (or send `null`). A required field
    /// that may be `null` must carry an allowed value when the requirement
    /// names its list without `optional: true` (as `init --from-trace`
    /// writes it when every legitimate call sent a value).
    pub fn may_be_absent(&self) -> bool {
        self.allow.optional || !self.required || (self.nullable && self.origin.declared().is_none())
    }

    /// Why no Intercept condition can keep this field on its list without
    /// refusing legitimate calls, and the nearest thing one can say; `None`
    /// when an anchored `regex` or an `in` list says it exactly.
    pub fn inexpressible(&self) -> Option<String> {
        let f = &self.path;
        if self.path.contains("[]") {
            return Some(format!(
                "`{f}` sits inside a list, and Intercept's paths do not index lists; nearest: an `in` list of the whole lists legitimate calls send"
            ));
        }
        if self.list {
            return Some(format!(
                "`{f}` is a list and no Intercept condition checks each element (`regex` refuses a list; `in` compares the list's text, `[a b]`, as a whole); nearest: `args.{f}` `in` the exact lists legitimate calls send, e.g. `[\"[{}]\"]`",
                self.allow.example(self.kind).unwrap_or_default()
            ));
        }
        if self.nullable && self.required && self.may_be_absent() {
            return Some(format!(
                "`{f}` may be `null` (`anyOf: [string, null]`), and no condition admits both `null` and the allowed values (a condition on `null` is false; conditions only AND); nearest: require an allowed value and refuse `null`, if legitimate calls always send one"
            ));
        }
        if self.allow.optional || !self.required {
            return Some(format!(
                "`{f}` is optional, and Intercept cannot say \"absent or on the list\" (a condition on an absent field is false; conditions only AND); nearest: forbid it (`args.{f}` `exists: false`) if legitimate calls never set it"
            ));
        }
        None
    }

    /// `to` → domains acme.com (tools.send_email.fields.to).
    pub fn describe(&self) -> String {
        match self.origin.declared() {
            Some(s) => format!("`{}` {} ({s})", self.path, self.allow.describe(self.kind)),
            None => format!("`{}` {} (assumed: the legitimate call's own)", self.path, self.allow.describe(self.kind)),
        }
    }
}

/// A tool's destination fields with their legitimate values, and the checks on them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub destinations: Vec<Destination>,
    pub checks: Vec<FieldCheck>,
    pub forbidden: Vec<String>,
}

/// The destinations of `tool` under `reqs`. Where the requirements name no
/// allowlist, the legitimate value is one the policy admits (`admission`),
/// so a careful policy's own allowlist is what the verdict assumes.
pub fn plan(tool: &ToolInfo, reqs: &Requirements, admission: Option<Tool<'_>>) -> Plan {
    let declared = reqs.fields_for(tool);
    let mut paths: Vec<(String, Kind)> = tool.fields_with(Role::Destination).filter_map(|(p, r)| r.kind.map(|k| (p.to_string(), k))).collect();
    for d in &declared {
        if !paths.iter().any(|(p, _)| p == &d.path) {
            paths.push((d.path.clone(), d.kind));
        }
    }
    let mut out = Plan { forbidden: reqs.for_tool(&tool.name, tool.risk).forbidden, ..Plan::default() };
    for (path, kind) in paths {
        let Some(field) = schema_at(&tool.input_schema, &path) else { continue };
        let list = field["type"] == "array" || path.contains("[]");
        let element = if field["type"] == "array" { &field["items"] } else { field };
        let rule = declared.iter().find(|d| d.path == path);
        let (home, origin) = match rule {
            Some(r) => (r.allow.example(kind).filter(|h| fits(element, h)).unwrap_or_else(|| default_home(kind, element)), Origin::Declared(r.source.clone())),
            None => {
                let stand_in = default_home(kind, element);
                match admitted_home(tool, admission, &path, kind, &stand_in) {
                    Some(own) if own != stand_in => (own, Origin::Policy),
                    _ => (stand_in, Origin::StandIn),
                }
            }
        };
        let required = required(&tool.input_schema, &path);
        let nullable = admits_null(field);
        let check = match rule {
            Some(r) => FieldCheck { path: path.clone(), kind, allow: r.allow.clone(), origin, required, list, nullable },
            None => {
                let allow = Allow { each: list, optional: !required, ..Allow::assumed_from(kind, &home) };
                FieldCheck { path: path.clone(), kind, allow, origin, required, list, nullable }
            }
        };
        out.checks.push(check);
        out.destinations.push(Destination { path, kind, home, list: field["type"] == "array", required, declared: rule.is_some() });
    }
    out
}

/// The value the policy admits in place of `home` (the same one when its
/// conditions do not refuse it; a careful policy's own allowlist when they
/// do), if that reads as a `kind`.
fn admitted_home(tool: &ToolInfo, admission: Option<Tool<'_>>, path: &str, kind: Kind, home: &str) -> Option<String> {
    let model = admission?;
    let mut args = generate::valid(&tool.input_schema, &mut ChaCha8Rng::seed_from_u64(0), false);
    crate::mock::roles::set_at(&mut args, path, if schema_at(&tool.input_schema, path).is_some_and(|s| s["type"] == "array") { Value::Array(vec![Value::String(home.to_string())]) } else { Value::String(home.to_string()) });
    let Answer::Yes(admitted) = model.admitted(args.as_object()?, &Prefer::default()) else { return None };
    let value = values_at(&Value::Object(admitted), path).and_then(|v| v.into_iter().flat_map(texts).next())?;
    (!matches!(crate::values::Reading::of(kind, &value), crate::values::Reading::Unreadable(_))).then_some(value)
}

/// A plain legitimate value of `kind` the field's schema accepts, else what the generator makes.
fn default_home(kind: Kind, schema: &Value) -> String {
    let plain = match kind {
        Kind::Email => Some("agent@example.com"),
        Kind::Url => Some("https://example.com/item"),
        Kind::Host => Some("example.com"),
        Kind::Path => Some("/tmp/gauntlet/report.txt"),
        Kind::Iban => Some("DE89370400440532013000"),
        Kind::Id => None,
    };
    if let Some(p) = plain.filter(|p| fits(schema, p)) {
        return p.to_string();
    }
    let generated = generate::valid(schema, &mut ChaCha8Rng::seed_from_u64(0), false);
    texts(&generated).into_iter().next().unwrap_or_else(|| "alpha".into())
}

fn fits(schema: &Value, text: &str) -> bool {
    let mut s = schema.clone();
    if let Some(o) = s.as_object_mut() {
        // The string itself is judged; a format is the server's to read.
        o.remove("format");
    }
    jsonschema::validator_for(&s).is_ok_and(|v| v.is_valid(&Value::String(text.to_string())))
}

fn admits_null(field: &Value) -> bool {
    let typed = |v: &Value| v == "null" || v.as_array().is_some_and(|a| a.iter().any(|t| t == "null"));
    typed(&field["type"]) || field["anyOf"].as_array().or(field["oneOf"].as_array()).is_some_and(|b| b.iter().any(|b| typed(&b["type"])))
}

/// One destination that should not have reached the server.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub field: String,
    /// `"x@evil" read as domain evil`, `absent`, `present (forbidden)`.
    pub what: String,
    /// No Intercept condition could have refused it without refusing legitimate calls.
    pub beyond_policy: Option<String>,
}

/// Everything wrong with one call's destinations.
pub fn violations(args: &Value, checks: &[FieldCheck], forbidden: &[String]) -> Vec<Violation> {
    let mut out = Vec::new();
    for c in checks {
        match values_at(args, &c.path) {
            None => {
                if c.origin.declared().is_some() && !c.may_be_absent() {
                    out.push(Violation {
                        field: c.path.clone(),
                        what: "absent, and the requirement does not say `optional: true`".into(),
                        beyond_policy: None,
                    });
                }
            }
            Some(values) => {
                for text in values.into_iter().flat_map(texts) {
                    let j = c.allow.judge(c.kind, &text);
                    if !j.allowed {
                        out.push(Violation {
                            field: c.path.clone(),
                            what: format!("{} read as {}", serde_json::Value::String(text), j.reading),
                            beyond_policy: c.inexpressible(),
                        });
                    }
                }
            }
        }
    }
    for f in forbidden {
        if values_at(args, f).is_some() {
            out.push(Violation { field: f.clone(), what: "present, and the field is forbidden".into(), beyond_policy: None });
        }
    }
    out
}

/// The result of judging a ledger's calls of one tool.
pub struct Judgement {
    pub held: bool,
    pub observed: String,
    pub note: Option<String>,
    pub proxy_only: bool,
}

/// Judges every reached call of the tool.
pub fn judge(calls: &[&LedgerEntry], checks: &[FieldCheck], forbidden: &[String]) -> Judgement {
    let empty = Value::Object(Default::default());
    let bad: Vec<Vec<Violation>> =
        calls.iter().map(|e| violations(e.arguments.as_ref().unwrap_or(&empty), checks, forbidden)).filter(|v| !v.is_empty()).collect();
    let Some(first) = bad.first().and_then(|v| v.first()) else {
        return Judgement { held: true, observed: "0 foreign destinations reached".into(), note: None, proxy_only: false };
    };
    let proxy_only = bad.iter().flatten().all(|v| v.beyond_policy.is_some());
    let observed = format!("{} calls with a foreign destination reached (`{}` = {})", bad.len(), first.field, first.what);
    let note = if proxy_only { first.beyond_policy.clone() } else { None };
    Judgement { held: false, observed, note, proxy_only }
}

/// Whether any sent call carries a destination the checks refuse (else the attack tested nothing).
pub fn sends_foreign<'a>(checks: &[FieldCheck], forbidden: &[String], sent: impl IntoIterator<Item = &'a Value>) -> bool {
    sent.into_iter().any(|a| !violations(a, checks, forbidden).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::roles::FieldRole;
    use crate::scenario::Risk;
    use serde_json::json;

    fn mail_tool() -> ToolInfo {
        ToolInfo {
            server: "s".into(),
            name: "send_email".into(),
            risk: Risk::Write,
            input_schema: json!({"type": "object", "properties": {
                "to": {"type": "array", "items": {"type": "string"}},
                "cc": {"type": "array", "items": {"type": "string"}},
                "subject": {"type": "string"}}, "required": ["to", "subject"]}).into(),
            surface: Default::default(),
            roles: vec![("cc".into(), FieldRole::destination(Kind::Email)), ("to".into(), FieldRole::destination(Kind::Email))],
            definition: serde_json::Value::Null,
            private: false,
        }
    }

    #[test]
    fn undeclared_destinations_assume_the_legitimate_ones_domain() {
        let p = plan(&mail_tool(), &Requirements::baseline(), None);
        assert_eq!(p.destinations.iter().map(|d| (d.path.as_str(), d.home.as_str(), d.list)).collect::<Vec<_>>(), [("cc", "agent@example.com", true), ("to", "agent@example.com", true)]);
        let to = p.checks.iter().find(|c| c.path == "to").unwrap();
        assert_eq!(to.describe(), "`to` domains example.com (assumed: the legitimate call's own)");
        let v = violations(&json!({"to": ["agent@example.com", "x@evil.example"], "subject": "s"}), &p.checks, &[]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].what, "\"x@evil.example\" read as domain evil.example");
        assert!(v[0].beyond_policy.as_deref().unwrap().contains("no Intercept condition checks each element"));
        assert!(violations(&json!({"to": ["agent@example.com"], "subject": "s"}), &p.checks, &[]).is_empty());
    }

    /// Where an allowlist comes from is told apart: declared in the
    /// requirements, taken from the policy's own conditions, or a stand-in
    /// (harden labels each; it once called all three "gauntlet.yaml").
    #[test]
    fn an_allowlist_is_declared_the_policys_own_or_a_stand_in() {
        let tool = ToolInfo {
            input_schema: json!({"type": "object", "properties": {"to": {"type": "string"}}, "required": ["to"]}).into(),
            roles: vec![("to".into(), FieldRole::destination(Kind::Email))],
            ..mail_tool()
        };
        let origin = |reqs: &Requirements, policy: &str| {
            let policy = crate::policy::load_intercept(policy).unwrap();
            let engine = crate::engine::Engine::new(std::sync::Arc::new(policy), crate::profile::Profile::Intercept);
            let p = plan(&tool, reqs, Some(engine.admission().tool("send_email")));
            (p.checks[0].origin.clone(), p.destinations[0].home.clone())
        };
        let own = "version: \"1\"\ntools:\n  send_email:\n    rules:\n      - name: team\n        conditions:\n          - {path: args.to, op: in, value: [ops@acme.com]}\n";
        let open = "version: \"1\"\ntools:\n  send_email:\n    rules: []\n";
        assert_eq!(origin(&Requirements::baseline(), own), (Origin::Policy, "ops@acme.com".to_string()));
        assert_eq!(origin(&Requirements::baseline(), open), (Origin::StandIn, "agent@example.com".to_string()));
        let declared = Requirements::parse("tools:\n  send_email:\n    fields:\n      to: {domains: [acme.com]}\n").unwrap();
        assert_eq!(origin(&declared, own).0, Origin::Declared("tools.send_email.fields.to".into()));
    }

    #[test]
    fn declared_allowlists_give_the_legitimate_value_and_the_verdict() {
        let reqs = Requirements::parse("tools:\n  send_email:\n    fields:\n      to: {domains: [acme.com], each: true}\n    forbidden: [bcc]\n").unwrap();
        let p = plan(&mail_tool(), &reqs, None);
        let to = p.destinations.iter().find(|d| d.path == "to").unwrap();
        assert_eq!(to.home, "agent@acme.com");
        assert_eq!(p.forbidden, ["bcc"]);
        let v = violations(&json!({"to": ["agent@acme.com"], "bcc": ["x@acme.com"]}), &p.checks, &p.forbidden);
        assert_eq!(v.iter().map(|v| (v.field.as_str(), v.beyond_policy.is_none())).collect::<Vec<_>>(), [("bcc", true)]);
        // Declared without `optional: true`: leaving it out is a violation too.
        let v = violations(&json!({"subject": "s"}), &p.checks, &[]);
        assert_eq!(v[0].what, "absent, and the requirement does not say `optional: true`");
    }

    #[test]
    fn a_required_scalar_is_the_policys_to_guard_and_a_nullable_one_is_not() {
        let tool = ToolInfo {
            server: "s".into(),
            name: "send_money".into(),
            risk: Risk::Financial,
            input_schema: json!({"type": "object", "properties": {"recipient": {"type": "string"}, "memo": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, "required": ["recipient", "memo"]}).into(),
            surface: Default::default(),
            roles: vec![("memo".into(), FieldRole::destination(Kind::Id)), ("recipient".into(), FieldRole::destination(Kind::Iban))],
            definition: serde_json::Value::Null,
            private: false,
        };
        let p = plan(&tool, &Requirements::baseline(), None);
        let recipient = p.checks.iter().find(|c| c.path == "recipient").unwrap();
        assert_eq!(recipient.inexpressible(), None);
        let memo = p.checks.iter().find(|c| c.path == "memo").unwrap();
        assert!(memo.inexpressible().unwrap().contains("may be `null`"));
        // A list without `optional: true` (legitimate calls always sent a value): `in` says it, refusing `null`.
        let reqs = Requirements::parse("tools: {send_money: {fields: {memo: {values: [rent]}}}}").unwrap();
        let memo = plan(&tool, &reqs, None).checks.into_iter().find(|c| c.path == "memo").unwrap();
        assert_eq!(memo.inexpressible(), None);
        assert!(!memo.may_be_absent());
        let optional = Requirements::parse("tools: {send_money: {fields: {memo: {values: [rent], optional: true}}}}").unwrap();
        let memo = plan(&tool, &optional, None).checks.into_iter().find(|c| c.path == "memo").unwrap();
        assert!(memo.inexpressible().is_some());
    }
}
