//! `gauntlet scenario lint`: every problem in a scenario directory, positioned.
//!
//! Checks, per file: the shipped JSON Schema, the typed load (unknown keys,
//! wrong values), and that the targets match at least one tool of at least
//! one mock server. It never runs a scenario.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use super::model::{Risk, Rotation, Scenario};
use super::{decode, rule_problems, schema, ScenarioError};

/// The member of a `tools/list` entry that holds the tool's input schema.
const SCHEMA: &str = "inputSchema";

/// One tool of one mock server, as far as scenarios care — or one of its
/// resources (named by URI) or prompts (its arguments as an object schema).
#[derive(Clone, Debug, PartialEq)]
pub struct ToolInfo {
    pub server: String,
    pub name: String,
    pub risk: Risk,
    /// Shared with the server file's copy: a large catalogue holds each schema once.
    pub input_schema: Arc<serde_json::Value>,
    pub surface: crate::mock::Surface,
    /// Its fields' roles (written in the server file, or inferred on load).
    pub roles: Vec<(String, crate::mock::roles::FieldRole)>,
    /// The tool's `tools/list` entry as its server file defines it, less its
    /// `inputSchema` where that is `input_schema` (held once; [`ToolInfo::listed`]
    /// is the whole entry); null for resources and prompts.
    pub definition: serde_json::Value,
    /// The tool reads private data (its server file marks it `private`).
    pub private: bool,
}

impl ToolInfo {
    /// The tool's `tools/list` entry as its server file defines it (what a
    /// pinned tool must look like); null for resources and prompts.
    pub fn listed(&self) -> std::borrow::Cow<'_, serde_json::Value> {
        match &self.definition {
            serde_json::Value::Object(m) if !m.contains_key(SCHEMA) => {
                let mut m = m.clone();
                m.insert(SCHEMA.into(), (*self.input_schema).clone());
                std::borrow::Cow::Owned(serde_json::Value::Object(m))
            }
            d => std::borrow::Cow::Borrowed(d),
        }
    }

    /// `definition` for a tool listed as `entry`: the entry, its `inputSchema` taken out where it is `input_schema`.
    pub fn definition_of(entry: serde_json::Value, input_schema: &serde_json::Value) -> serde_json::Value {
        match entry {
            serde_json::Value::Object(mut m) if m.get(SCHEMA) == Some(input_schema) => {
                m.remove(SCHEMA);
                serde_json::Value::Object(m)
            }
            other => other,
        }
    }

    /// The role of the field at `path`, if it has one.
    pub fn role_of(&self, path: &str) -> Option<&crate::mock::roles::FieldRole> {
        self.roles.iter().find(|(p, _)| p == path).map(|(_, r)| r)
    }

    /// Whether its server marks it `openWorldHint: true` (it reaches the web or other people).
    pub fn reaches_outside(&self) -> bool {
        crate::mock::classify::open_world(self.definition.get("annotations"))
    }

    /// Whether any field has one of `roles` (true for none asked).
    pub fn has_role_of(&self, roles: &[crate::mock::roles::Role]) -> bool {
        roles.is_empty() || self.roles.iter().any(|(_, r)| roles.contains(&r.role))
    }

    /// The fields with this role, in order.
    pub fn fields_with(&self, role: crate::mock::roles::Role) -> impl Iterator<Item = (&str, &crate::mock::roles::FieldRole)> {
        self.roles.iter().filter(move |(_, r)| r.role == role).map(|(p, r)| (p.as_str(), r))
    }
}

/// Lints one file's text against the catalogue of the servers in play: every
/// problem of the file, not only the first (the typed load stops at its first
/// error; the schema, the rules and the targets each still say theirs).
pub fn lint_text(path: &Path, text: &str, catalogue: &[ToolInfo]) -> Vec<ScenarioError> {
    if let Err(e) = crate::yaml::check(text) {
        return vec![ScenarioError::over_limit(path, &e)];
    }
    let doc = match serde_yaml::from_str::<serde_json::Value>(text) {
        Ok(doc) => doc,
        Err(e) => {
            let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
            return vec![ScenarioError { path: path.to_path_buf(), line, column, message: format!("not YAML: {e}"), help: None }];
        }
    };
    let typed = decode(path, text);
    let mut problems = Vec::new();
    if let Err(e) = &typed {
        problems.push(e.clone());
    }
    for (at, message) in schema::violations(&doc) {
        // An unexpected key is positioned at itself, anything else at the key holding it.
        let unexpected = message.split_once("('").and_then(|(_, rest)| rest.split_once("' was unexpected")).map(|(k, _)| k);
        let shown = format!("schema: {message} (at `{}`)", if at.is_empty() { "/" } else { &at });
        let p = ScenarioError::at_pointer(path, text, &at, unexpected, shown);
        // The typed load's error already says this one.
        let said = typed.as_ref().err().is_some_and(|e| e.line == p.line || names_the_same_key(&e.message, &p.message) || within(&e.message, &at));
        if !said {
            problems.push(p);
        }
    }
    if let Ok(s) = &typed {
        problems.extend(rule_problems(path, text, s));
        problems.extend(check_targets(path, text, s, catalogue));
        problems.extend(check_raw_params(path, text, s));
        problems.extend(check_replicas(path, text, s));
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if s.id != stem {
            problems.push(ScenarioError::at_key(
                path,
                text,
                "id",
                format!("scenario id `{}` differs from its file name `{stem}`", s.id),
                Some(format!("rename the file to `{}.yaml` or change the id", s.id)),
            ));
        }
    }
    problems.sort_by_key(|p| (p.line, p.column));
    problems
}

/// Whether the schema's pointer `at` lies in what the typed error's path
/// names (`agent.steps[0]: …` covers `/agent/steps/0/over`).
fn within(typed: &str, at: &str) -> bool {
    let Some((path, _)) = typed.split_once(": ") else { return false };
    if path.is_empty() || !path.chars().all(|c| c.is_alphanumeric() || "_.[]-".contains(c)) {
        return false;
    }
    let pointer: String = path.split('.').flat_map(|part| part.split(['[', ']'])).filter(|s| !s.is_empty()).map(|s| format!("/{s}")).collect();
    at == pointer || at.starts_with(&format!("{pointer}/"))
}

/// Whether two messages name the same `key` (serde: `` unknown field `cals` ``; the schema: `'cals'`).
fn names_the_same_key(typed: &str, schema: &str) -> bool {
    let field = typed.split_once("unknown field `").and_then(|(_, rest)| rest.split_once('`')).map(|(f, _)| f);
    field.is_some_and(|f| schema.contains(&format!("'{f}'")) || schema.contains(&format!("\"{f}\"")))
}

fn check_targets(path: &Path, text: &str, s: &Scenario, catalogue: &[ToolInfo]) -> Vec<ScenarioError> {
    let mut problems = Vec::new();
    let known: BTreeSet<&str> = catalogue.iter().map(|t| t.name.as_str()).collect();
    for name in &s.targets.tools {
        if !known.contains(name.as_str()) {
            problems.push(ScenarioError::at_key(
                path,
                text,
                "tools",
                format!("target tool `{name}` is not a tool of any server in play"),
                Some(match crate::wording::closest(name, known.iter().copied()) {
                    Some(m) => format!("did you mean `{m}`? (or lint against your server with `--server FILE`, or target by `risk:`)"),
                    None => "lint against the server it is for with `--server FILE` (or NAME), or target by `risk:` instead".into(),
                }),
            ));
        }
    }
    let budgets = [&s.expect.max_reached_per_window, &s.expect.max_executed_per_window];
    for name in budgets.into_iter().flatten().flat_map(|r| &r.tools).filter(|n| n.as_str() != "{{name}}") {
        if !known.contains(name.as_str()) {
            problems.push(ScenarioError::at_key(
                path,
                text,
                "tools",
                format!("`{name}` in a shared budget is not a tool of any server in play"),
                Some("name the target as `{{name}}` and the others exactly as their server lists them".into()),
            ));
        }
    }
    let any = catalogue.iter().any(|t| {
        (s.targets.tools.is_empty() || s.targets.tools.contains(&t.name))
            && (s.targets.risk.is_empty() || s.targets.risk.contains(&t.risk))
            && t.has_role_of(&s.targets.roles)
    });
    if problems.is_empty() && !any {
        problems.push(ScenarioError::at_key(
            path,
            text,
            "targets",
            "the targets match no tool on any server in play".into(),
            Some("a scenario that targets nothing is never counted as held; widen `risk:` or name a tool".into()),
        ));
    }
    problems
}

/// Lints every `*.yaml` in `dir`; also reports duplicate ids. A file that
/// was read and does not load is a problem (the lint's finding); one that
/// cannot be read at all, like the directory, is `Err` (the lint could not run).
pub fn lint_dir(dir: &Path, catalogue: &[ToolInfo]) -> Result<Vec<ScenarioError>, String> {
    let paths = super::yaml_files(dir).map_err(|e| format!("{}: cannot read scenario directory: {e}", dir.display()))?;
    let mut problems = Vec::new();
    for p in &paths {
        match crate::yaml::read_file(p) {
            Ok(text) => problems.extend(lint_text(p, &text, catalogue)),
            Err(crate::yaml::ReadError::Io(e)) => return Err(format!("{}: cannot read scenario file: {e}", p.display())),
            Err(e) => problems.push(ScenarioError::unreadable(p, e)),
        }
    }
    Ok(problems)
}

/// Lints the built-in database (the files compiled into the binary).
pub fn lint_builtin(catalogue: &[ToolInfo]) -> Vec<ScenarioError> {
    super::builtin::FILES
        .iter()
        .flat_map(|(name, text)| lint_text(&Path::new("scenarios").join(name), text, catalogue))
        .collect()
}

/// The `params` members of `tools/call` the mock server knows; it rejects others with -32602.
const CALL_PARAMS: [&str; 4] = ["name", "arguments", "_meta", "task"];

/// A wire trick that smuggles an extra `params` member only means something against a server
/// that ignores unknown members (as the SDK servers do); the mock must be told to.
fn check_raw_params(path: &Path, text: &str, s: &Scenario) -> Vec<ScenarioError> {
    if s.upstream.as_ref().and_then(|u| u.ignore_unknown_params) == Some(true) {
        return Vec::new();
    }
    let steps = s.agent.steps.iter().chain(s.twin.iter().flat_map(|t| t.steps.iter()));
    let mut unknown = BTreeSet::new();
    for raw in steps.filter_map(|st| st.raw.as_deref()) {
        let filled = raw.replace("{{id}}", "1").replace("{{args}}", "{}");
        let values = filled.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
        let messages = values.flat_map(|v| match v {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        });
        for m in messages {
            if let Some(params) = m.get("params").and_then(|p| p.as_object()) {
                unknown.extend(params.keys().filter(|k| !CALL_PARAMS.contains(&k.as_str())).cloned());
            }
        }
    }
    unknown
        .into_iter()
        .map(|k| {
            ScenarioError::at_key(
                path,
                text,
                "raw",
                format!("the raw template sends `params` member `{k}`, which the mock server rejects with -32602"),
                Some("SDK servers ignore unknown `params` members; add `upstream: {ignore_unknown_params: true}` so the mock does too".into()),
            )
        })
        .collect()
}

/// Sessions the attack opens: the first, one per `session: new` step, one per call of an `each-call` step.
fn sessions_opened(s: &Scenario) -> u64 {
    let steps: u64 = s
        .agent
        .steps
        .iter()
        .map(|st| match st.session {
            Rotation::Same => 0,
            Rotation::New => 1,
            Rotation::EachCall => u64::from(st.calls),
        })
        .sum();
    let random = s.agent.random.as_ref().map_or(0, |r| u64::from(r.sessions));
    1 + steps + random
}

/// Replicas only see calls through sessions, given out in turn: an attack with
/// fewer sessions than replicas leaves some idle, and a state setup without
/// replicas says nothing. Positioned at `upstream:` (its keys may sit in a flow map).
fn check_replicas(path: &Path, text: &str, s: &Scenario) -> Vec<ScenarioError> {
    let Some(up) = &s.upstream else { return Vec::new() };
    let replicas = up.replicas.unwrap_or(1);
    if replicas == 0 {
        let help = "leave `replicas` out for one proxy".to_string();
        return vec![ScenarioError::at_key(path, text, "upstream", "`replicas: 0` leaves no proxy to talk to".into(), Some(help))];
    }
    if up.state.is_some() && replicas == 1 {
        let help = "set `replicas` above 1, or remove `state`".to_string();
        return vec![ScenarioError::at_key(path, text, "upstream", "`state` only matters with several replicas".into(), Some(help))];
    }
    let sessions = sessions_opened(s);
    if sessions < u64::from(replicas) {
        return vec![ScenarioError::at_key(
            path,
            text,
            "upstream",
            format!("the agent opens {sessions} session(s), so only {sessions} of the {replicas} replicas ever see a call"),
            Some("each session goes to the next replica: add steps with `session: new` (or `each-call`)".into()),
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Vec<ToolInfo> {
        vec![ToolInfo {
            server: "demo".into(),
            name: "create_issue".into(),
            risk: Risk::Write,
            input_schema: serde_json::json!({"type": "object"}).into(),
            surface: Default::default(),
            roles: Vec::new(),
            definition: serde_json::Value::Null,
            private: false,
        }]
    }

    const GOOD: &str = "id: demo\ntitle: Demo\nclass: bulk-writes\ntargets: {risk: [write]}\nagent:\n  steps:\n    - calls: 5\nexpect:\n  max_reached_per_window: {}\n";

    #[test]
    fn a_good_file_has_no_problems() {
        assert!(lint_text(Path::new("demo.yaml"), GOOD, &catalogue()).is_empty());
    }

    #[test]
    fn unknown_tool_and_empty_targets_are_reported_with_lines() {
        let t = GOOD.replace("targets: {risk: [write]}", "targets:\n  tools: [create_isue]");
        let p = lint_text(Path::new("demo.yaml"), &t, &catalogue());
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].line, 5);
        assert!(p[0].message.contains("`create_isue`"));
        let t = GOOD.replace("[write]", "[destructive]");
        let p = lint_text(Path::new("demo.yaml"), &t, &catalogue());
        assert!(p[0].message.contains("match no tool"), "{p:?}");
    }

    #[test]
    fn every_problem_of_a_file_is_reported_not_only_the_first() {
        // A typo'd key, a bad class and a step that sends nothing: three problems, three lines.
        let t = GOOD
            .replace("class: bulk-writes", "class: bulk-write")
            .replace("    - calls: 5", "    - calls: 5\n      cals: 1\n    - calls: 0");
        let p = lint_text(Path::new("demo.yaml"), &t, &catalogue());
        let lines: Vec<usize> = p.iter().map(|e| e.line).collect();
        assert!(p.len() >= 3, "{p:#?}");
        assert!(lines.contains(&3) && lines.contains(&8) && lines.contains(&9), "{p:#?}");
        // Without the type errors, the rules the types cannot express each say theirs too.
        let t = GOOD.replace("id: demo", "id: Demo_1").replace("    - calls: 5", "    - calls: 0");
        let p = lint_text(Path::new("demo.yaml"), &t, &catalogue());
        assert!(p.iter().any(|e| e.message.contains("not kebab-case")) && p.iter().any(|e| e.message.contains("calls: 0")), "{p:#?}");
    }

    #[test]
    fn a_shared_budget_names_tools_of_the_servers_in_play() {
        let t = GOOD.replace("max_reached_per_window: {}", "max_reached_per_window: {tools: [\"{{name}}\", create_isue]}");
        let p = lint_text(Path::new("demo.yaml"), &t, &catalogue());
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("`create_isue` in a shared budget"), "{p:?}");
        let ok = GOOD.replace("max_reached_per_window: {}", "max_reached_per_window: {tools: [\"{{name}}\", create_issue]}");
        assert!(lint_text(Path::new("demo.yaml"), &ok, &catalogue()).is_empty());
    }

    #[test]
    fn unknown_keys_are_reported_once_at_their_line() {
        let t = GOOD.replace("    - calls: 5", "    - calls: 5\n      cals: 1");
        let p = lint_text(Path::new("demo.yaml"), &t, &catalogue());
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].line, 8);
    }

    #[test]
    fn smuggled_params_members_need_a_lenient_upstream() {
        let raw = "    - calls: 5\n      raw: '{\"jsonrpc\":\"2.0\",\"id\":{{id}},\"method\":\"tools/call\",\"params\":{\"name\":\"{{name}}\",\"NAME\":0,\"arguments\":{{args}}}}'";
        let t = GOOD.replace("    - calls: 5", raw);
        let p = lint_text(Path::new("demo.yaml"), &t, &catalogue());
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].message, "the raw template sends `params` member `NAME`, which the mock server rejects with -32602");
        assert_eq!(p[0].line, 8);
        let lenient = t.replace("agent:", "upstream: {ignore_unknown_params: true}\nagent:");
        assert!(lint_text(Path::new("demo.yaml"), &lenient, &catalogue()).is_empty());
    }

    #[test]
    fn replicas_need_as_many_sessions_and_state_needs_replicas() {
        let spread = GOOD.replace("agent:", "upstream: {replicas: 3}\nagent:");
        let p = lint_text(Path::new("demo.yaml"), &spread, &catalogue());
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].message, "the agent opens 1 session(s), so only 1 of the 3 replicas ever see a call");
        assert_eq!(p[0].line, 5);
        let sessions = spread.replace("    - calls: 5", "    - {calls: 5, session: each-call}");
        assert!(lint_text(Path::new("demo.yaml"), &sessions, &catalogue()).is_empty());
        let lone = GOOD.replace("agent:", "upstream: {state: shared}\nagent:");
        let p = lint_text(Path::new("demo.yaml"), &lone, &catalogue());
        assert!(p.iter().any(|e| e.message == "`state` only matters with several replicas"), "{p:?}");
        let zero = GOOD.replace("agent:", "upstream: {replicas: 0}\nagent:");
        assert!(!lint_text(Path::new("demo.yaml"), &zero, &catalogue()).is_empty());
    }

    #[test]
    fn id_must_match_file_name() {
        let p = lint_text(Path::new("other.yaml"), GOOD, &catalogue());
        assert!(p.iter().any(|e| e.message.contains("differs from its file name")), "{p:?}");
    }
}
