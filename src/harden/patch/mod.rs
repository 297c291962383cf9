//! Edits to a policy file, made on its own text in its own dialect, and
//! shown as unified diffs.
//!
//! An [`Edit`] says what to change in the terms of the model (a rule, a
//! limit, the default); [`in_dialect`] says how a dialect expresses it, or
//! precisely why it cannot; each dialect's module then rewrites only the
//! lines the edit touches: [`intercept`] and [`catalogue`] in YAML (comments
//! and layout elsewhere survive, see [`text`]), [`policylayer`] in JSON
//! (member order and indentation kept).

pub mod catalogue;
pub mod intercept;
pub mod policylayer;
pub mod text;

use std::fmt;

use serde_json::Value;

use crate::policy::model::{Dialect, Window};

/// A call-count limit: at most `max` calls per calendar `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub max: u64,
    pub window: Window,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.max, self.window)
    }
}

/// Where a number an edit writes came from (a requirement, the schema, a
/// declared workload), for people: written beside it as a comment where the
/// dialect has comments, and listed by `harden`. Two edits that differ only
/// in how they explain themselves are the same edit, so a note never takes
/// part in equality.
#[derive(Clone, Debug, Default)]
pub struct Note(pub Option<String>);

impl Note {
    pub fn new(text: impl Into<String>) -> Note {
        Note(Some(text.into()))
    }
}

impl PartialEq for Note {
    fn eq(&self, _: &Note) -> bool {
        true
    }
}

/// A rule to add, in the model's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRule {
    pub name: String,
    /// A plain call-count limit (no conditions, no state).
    pub rate_limit: Option<Limit>,
    pub on_deny: Option<String>,
    pub conditions: Vec<NewCondition>,
    /// `{counter, window, increment_from}` of a counter (`increment_from`
    /// empty: each call counts 1, as a flow's count of private reads).
    pub state: Option<(String, String, String)>,
    /// Where its limit (`rate_limit`, or the spend counter's) came from.
    pub note: Note,
}

impl NewRule {
    /// What the rule needs beyond allowing, denying and counting calls,
    /// read from what it does (`None`: a plain call-count limit). A flow
    /// keeps the count of private reads, or refuses on a counter it does
    /// not keep (another tool's); a spend counter adds up an argument; a
    /// call counter its condition compares caps calls (per session);
    /// anything else with conditions looks at arguments.
    pub fn construct(&self) -> Option<Construct> {
        let own = self.state.as_ref().map(|(counter, _, _)| counter.as_str());
        let reads_another = self.conditions.iter().filter_map(|c| c.path.strip_prefix("state.")).any(|key| key.rsplit('.').next() != own);
        match &self.state {
            _ if reads_another || own == Some(super::needs::FLOW_COUNTER) => Some(Construct::FlowCounter),
            Some((_, _, from)) if !from.is_empty() => Some(Construct::SpendCounter),
            Some(_) => Some(Construct::CallCounter),
            None if !self.conditions.is_empty() => Some(Construct::Conditions),
            None => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewCondition {
    pub path: String,
    pub op: &'static str,
    pub value: Value,
    /// Where its value came from.
    pub note: Note,
}

/// One change to a policy file.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// `default: deny`.
    DefaultDeny,
    /// Add the tool to `hide`; the note says which requirement denies it.
    Hide(String, Note),
    /// Refuse every call of the tool, where a dialect cannot hide it: a
    /// deny rule, or (policy.json) leaving it out of `tools`.
    Deny(String),
    /// An entry with no rules, so `default: deny` keeps allowing the tool.
    AddTool(String),
    /// Append a rule to the tool's entry (created when missing).
    AddRule { tool: String, rule: NewRule },
    /// Set the call-count limit of the tool's rule number `rule` (0-based, in the model).
    SetRateLimit { tool: String, rule: usize, limit: Limit, note: Note },
    /// Remove condition `condition` of rule `rule` (the whole rule when it is the last one); the note says why.
    RemoveCondition { tool: String, rule: usize, condition: usize, note: Note },
    /// Set the value of condition `condition` of rule `rule` (a widened regex).
    SetCondition { tool: String, rule: usize, condition: usize, value: Value, note: Note },
}

impl Edit {
    /// The tool the edit is about (`None` for the default).
    pub fn tool(&self) -> Option<&str> {
        match self {
            Edit::DefaultDeny => None,
            Edit::Hide(t, _) | Edit::Deny(t) | Edit::AddTool(t) => Some(t),
            Edit::AddRule { tool, .. }
            | Edit::SetRateLimit { tool, .. }
            | Edit::RemoveCondition { tool, .. }
            | Edit::SetCondition { tool, .. } => Some(tool),
        }
    }

    /// Whether two edits change the same thing (a rule added to one tool
    /// under one name is one place, whatever its conditions).
    pub fn same_place(&self, other: &Edit) -> bool {
        match (self, other) {
            (Edit::AddRule { tool: a, rule: r }, Edit::AddRule { tool: b, rule: s }) => a == b && r.name == s.name,
            (Edit::SetRateLimit { tool: a, rule: r, .. }, Edit::SetRateLimit { tool: b, rule: s, .. }) => a == b && r == s,
            (
                Edit::SetCondition { tool: a, rule: r, condition: c, .. },
                Edit::SetCondition { tool: b, rule: s, condition: d, .. },
            ) => a == b && r == s && c == d,
            _ => self == other,
        }
    }

    /// What the edit does, in a few words.
    pub fn describe(&self) -> String {
        match self {
            Edit::DefaultDeny => "set `default: deny`".into(),
            Edit::Hide(t, _) => format!("hide `{t}`"),
            Edit::Deny(t) => format!("refuse every call of `{t}`"),
            Edit::AddTool(t) => format!("list `{t}` so `default: deny` keeps allowing it"),
            Edit::AddRule { tool, rule } => format!("add rule `{}` to `{tool}`", rule.name),
            Edit::SetRateLimit { tool, limit, .. } => format!("set the rate limit of `{tool}` to {limit}"),
            Edit::RemoveCondition { tool, .. } => format!("remove a condition of `{tool}` that refuses legitimate calls"),
            Edit::SetCondition { tool, value, .. } => format!("widen a condition of `{tool}` to {value}"),
        }
    }

    /// Each number the edit writes, as (where it goes, the number and where it came from).
    pub fn notes(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut push = |place: String, note: &Note| {
            if let Some(why) = &note.0 {
                out.push((place, why.clone()));
            }
        };
        match self {
            Edit::AddRule { tool, rule } => {
                if rule.rate_limit.is_some() || rule.state.is_some() {
                    push(format!("`{tool}` rule `{}`", rule.name), &rule.note);
                }
                for c in &rule.conditions {
                    push(format!("`{tool}` {}", c.path), &c.note);
                }
            }
            Edit::SetRateLimit { tool, note, .. } | Edit::SetCondition { tool, note, .. } => push(format!("`{tool}`"), note),
            _ => {}
        }
        out
    }

    /// What the edit takes from the policy it starts from (a tool it
    /// hides, a condition it removes), as (the tool, why): never silent.
    pub fn taken(&self) -> Option<(String, String)> {
        match self {
            Edit::Hide(tool, Note(Some(why))) => Some((format!("`{tool}`"), format!("hidden: {why}"))),
            Edit::RemoveCondition { tool, note: Note(Some(why)), .. } => Some((format!("`{tool}`"), why.clone())),
            _ => None,
        }
    }
}

/// What the edit does, in a few words, as `dialect` writes it.
pub fn describe_in(dialect: Dialect, edit: &Edit) -> String {
    match (dialect, edit) {
        (Dialect::PolicyLayer, Edit::Deny(t)) => {
            format!("leave `{t}` out of `tools` (under `default: deny` that refuses it; policy.json cannot hide a tool)")
        }
        (Dialect::PolicyLayer, Edit::AddRule { tool, rule: NewRule { rate_limit: Some(l), .. } }) => {
            format!("add a limit of {l} to `{tool}`, counted for every caller (`scope: global`)")
        }
        (Dialect::PolicyLayer, Edit::SetRateLimit { tool, rule, limit, .. }) => {
            format!("set limit {} of `{tool}` to {limit}, counted for every caller (`scope: global`)", rule + 1)
        }
        (Dialect::Catalogue, Edit::Deny(t)) => format!("deny `{t}` (the catalogue form cannot hide a tool)"),
        _ => edit.describe(),
    }
}

/// The dialect's name as reports say it.
pub fn dialect_name(d: Dialect) -> &'static str {
    match d {
        Dialect::Intercept => "Intercept YAML",
        Dialect::Catalogue => "the catalogue form",
        Dialect::PolicyLayer => "policy.json",
    }
}

/// What a rule may need beyond allowing, denying and counting calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Construct {
    /// Argument conditions (types, enums, bounds, amount caps).
    Conditions,
    /// A counter that adds up an argument (a spend cap).
    SpendCounter,
    /// A counter of a tool's calls that a condition compares (a cap per session).
    CallCounter,
    /// One tool's counter read in another tool's condition (a flow).
    FlowCounter,
}

/// Why `dialect` cannot express `what`; `None` when it can.
pub fn lacks(dialect: Dialect, what: Construct) -> Option<String> {
    let only = match dialect {
        Dialect::Intercept => return None,
        Dialect::Catalogue => "its rules only allow a tool (with a `rate_limit: {max, window}`) or deny it",
        Dialect::PolicyLayer => "its tools only carry call-count `limits` (`counter`, `window`, `max`, `scope`)",
    };
    let name = dialect_name(dialect);
    Some(match what {
        Construct::Conditions => format!("{name} has no argument conditions: {only}"),
        Construct::SpendCounter => format!("{name} has no spend counter (a limit counts calls, not amounts): {only}"),
        Construct::CallCounter => format!("{name} has no condition on a counter, and this rule caps the tool's calls per session with one: {only}"),
        Construct::FlowCounter => format!("{name} has no condition on another tool's counter, so no call can be refused after a private read: {only}"),
    })
}

/// How `dialect` writes `edit`: the edits to make instead (usually the
/// edit itself), or why the dialect has no way to say it.
pub fn in_dialect(dialect: Dialect, edit: &Edit) -> Result<Vec<Edit>, String> {
    if dialect == Dialect::Intercept {
        return Ok(vec![edit.clone()]);
    }
    let missing = |c| lacks(dialect, c).unwrap_or_default();
    match edit {
        // Neither can hide a tool from tools/list; both can refuse every call to it.
        Edit::Hide(t, _) => Ok(vec![Edit::Deny(t.clone())]),
        Edit::AddRule { rule, .. } => match rule.construct() {
            Some(needed) => Err(missing(needed)),
            None => Ok(vec![edit.clone()]),
        },
        Edit::RemoveCondition { .. } | Edit::SetCondition { .. } => Err(missing(Construct::Conditions)),
        _ => Ok(vec![edit.clone()]),
    }
}

/// Applies one edit to the text of a policy in `dialect`.
pub fn apply(dialect: Dialect, text: &str, edit: &Edit) -> Result<String, String> {
    match dialect {
        Dialect::Intercept => intercept::apply(text, edit),
        Dialect::Catalogue => catalogue::apply(text, edit),
        Dialect::PolicyLayer => policylayer::apply(text, edit),
    }
}

/// Applies edits in order; stops at the first that cannot be made.
pub fn apply_all<'e>(dialect: Dialect, text: &str, edits: impl IntoIterator<Item = &'e Edit>) -> Result<String, String> {
    let mut out = text.to_string();
    // Removals last, later rules first, so rule numbers stay valid while editing.
    let mut ordered: Vec<&Edit> = edits.into_iter().collect();
    ordered.sort_by_key(|e| match e {
        Edit::RemoveCondition { rule, condition, .. } => (1, usize::MAX - rule, usize::MAX - condition),
        _ => (0, 0, 0),
    });
    for e in ordered {
        out = apply(dialect, &out, e).map_err(|m| format!("{}: {m}", e.describe()))?;
    }
    Ok(out)
}

/// A unified diff of `before` → `after`, headed with the file name (`a/`, `b/` for a relative one, as git does).
pub fn diff(file: &str, before: &str, after: &str) -> String {
    let (a, b) = if std::path::Path::new(file).is_absolute() {
        (file.to_string(), file.to_string())
    } else {
        (format!("a/{file}"), format!("b/{file}"))
    };
    similar::TextDiff::from_lines(before, after).unified_diff().context_radius(2).header(&a, &b).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harden::needs;

    fn policy() -> crate::policy::model::Policy {
        crate::policy::load_str("version: \"1\"\n", "p.yaml", None).unwrap().policy
    }

    fn why(dialect: Dialect, edit: &Edit) -> String {
        in_dialect(dialect, edit).expect_err("the dialect cannot write this rule")
    }

    /// A rule is explained by what it is: only a flow's rules speak of private
    /// reads; a spend counter's condition on its own `state.` path is a spend counter.
    #[test]
    fn a_rule_the_dialect_cannot_write_is_explained_by_its_own_kind() {
        let spend = Edit::AddRule {
            tool: "create_charge".into(),
            rule: NewRule {
                name: "spend per day".into(),
                rate_limit: None,
                on_deny: None,
                conditions: vec![NewCondition { path: "state.create_charge.spend_per_day".into(), op: "lte", value: Value::from(50000), note: Note::default() }],
                state: Some(("spend_per_day".into(), "day".into(), "args.amount".into())),
                note: Note::default(),
            },
        };
        let flow = needs::flow_edits(&policy(), &["read_mail".to_string()], "send_email");
        let session = needs::session_cap_edit(&policy(), "send_email", 20);
        for dialect in [Dialect::PolicyLayer, Dialect::Catalogue] {
            let spent = why(dialect, &spend);
            assert!(spent.contains("no spend counter") && !spent.contains("private read"), "{spent}");
            assert_eq!(flow.len(), 2, "a counting rule on the source and a refusing rule on the egress tool: {flow:?}");
            for e in &flow {
                assert!(why(dialect, e).contains("after a private read"), "{e:?}: {}", why(dialect, e));
            }
            let capped = why(dialect, &session[0]);
            assert!(capped.contains("calls per session") && !capped.contains("private read") && !capped.contains("spend"), "{capped}");
        }
        let limit = NewRule { name: "rate".into(), rate_limit: Some(Limit { max: 5, window: Window::Minute }), on_deny: None, conditions: Vec::new(), state: None, note: Note::default() };
        let plain = Edit::AddRule { tool: "t".into(), rule: limit };
        assert_eq!(in_dialect(Dialect::PolicyLayer, &plain), Ok(vec![plain.clone()]));
    }
}
