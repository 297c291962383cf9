//! PolicyLayer's hosted `policy.json` (seed 003): `version`, `default`,
//! `tools.<name>.limits[]` with `counter`, `window` (minute|hour|day),
//! `max`, `scope` (grant|session|global); `{}` lists a tool and allows it.
//!
//! JSON syntax is checked by serde_json; the structure is read from the
//! YAML tree (JSON is YAML flow syntax) so every message has a position.
//! Each limit becomes a rule whose counter key is the counter name as
//! written: two tools naming one counter share it.

use super::model::{
    Action, Condition, CounterScope, DefaultAction, Dialect, Op, Path, Policy, Rule, Span, StateDef, ToolPolicy, Value,
    Window,
};
use super::shape::Reader;
use super::{intercept, Diagnostic, LoadedPolicy, PolicyError};

pub fn load(text: &str, file: &str) -> Result<LoadedPolicy, PolicyError> {
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        return Err(PolicyError::single(Diagnostic::new(
            file,
            e.line() as u32,
            e.column() as u32,
            format!("invalid JSON: {e}"),
        )));
    }
    let root = crate::yaml::parse(text).map_err(|e| {
        PolicyError::single(Diagnostic::new(file, e.line, e.column, format!("unsupported JSON: {e}")))
    })?;
    let mut r = Reader::new(file);
    let mut policy = Policy::empty(Dialect::PolicyLayer);
    if let Some(root) = &root {
        for (key, kn, v) in r.object(root, "policy.json", &["version", "default", "tools"]) {
            let at = Some(Span { line: kn.line, column: kn.column });
            match key.as_str() {
                "default" => policy.keys.default = at,
                "tools" => policy.keys.tools = at,
                _ => {}
            }
            match key.as_str() {
                "version" => policy.version = r.string(v, "`version`").unwrap_or_default(),
                "default" => match r.string(v, "`default`").as_deref() {
                    Some("allow") | None => {}
                    Some("deny") => policy.default = DefaultAction::Deny,
                    Some(other) => r.error(v, format!("`default` must be \"allow\" or \"deny\", got `{other}`"), None),
                },
                _ => {
                    for (name, k, tool) in r.object(v, "`tools`", &[]) {
                        let mut rules = Vec::new();
                        for (_, _, limits) in r.object(tool, &format!("tool `{name}`"), &["limits"]) {
                            for item in r.list(limits, &format!("`tools.{name}.limits`")) {
                                if let Some(rule) = limit(&mut r, &name, item) {
                                    rules.push(rule);
                                }
                            }
                        }
                        policy.tools.push(ToolPolicy { name, rules, span: Span { line: k.line, column: k.column } });
                    }
                }
            }
        }
    }
    if !r.errors.is_empty() {
        return Err(PolicyError::new(r.errors));
    }
    let verdict = intercept::load(text).map(|_| ());
    // JSON is YAML: Intercept loads a policy.json and drops every `limits`
    // list as an unknown key, so the file "validates" and limits nothing.
    let warnings = match (&verdict, intercept::load_raw(text)) {
        (Ok(()), Ok(raw)) => raw
            .unknown_keys
            .iter()
            .map(|k| {
                Diagnostic::new(file, k.span.line, k.span.column, format!("Intercept would accept this file but ignore `{}`", k.key))
                    .with_help("under Intercept nothing in it is enforced; convert it with `gauntlet convert --to intercept`")
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(LoadedPolicy { policy, warnings, intercept_verdict: verdict })
}

/// Writes `policy` as a policy.json: fixed-increment counters with a limit
/// become `limits`. Everything else has no form there and is listed as lost
/// (hiding, argument conditions, spend counters, deny rules).
pub fn write(policy: &Policy) -> (String, Vec<String>) {
    use serde_json::json;
    let mut lost = Vec::new();
    let hidden: Vec<&String> = policy.hide.iter().collect();
    if !hidden.is_empty() {
        lost.push(format!("`hide` ({}): policy.json cannot hide a tool; it is left out of `tools` instead", hidden.len()));
    }
    let mut tools = serde_json::Map::new();
    for t in policy.tools.iter().filter(|t| !policy.hide.contains(&t.name)) {
        let mut limits = Vec::new();
        for r in &t.rules {
            let limit = r.state.as_ref().filter(|s| s.increment_from.is_none() && s.increment == 1).and_then(|s| {
                r.conditions.iter().find_map(|c| match (&c.path, c.op, &c.value) {
                    (Path::State(k), Op::Lte, Value::Int(max)) if k == &s.key => Some((s, *max)),
                    _ => None,
                })
            });
            match limit {
                Some((s, max)) if s.window.intercept_word().is_some() && r.conditions.len() == 1 => limits.push(json!({
                    "counter": format!("{}.{}", t.name, s.counter),
                    "window": s.window.to_string(),
                    "max": max,
                    "scope": "global",
                })),
                _ => lost.push(format!("`{}` rule `{}`: policy.json has only call-count limits", t.name, r.name)),
            }
        }
        tools.insert(t.name.clone(), json!({ "limits": limits }));
    }
    let doc = json!({
        "version": "1",
        "default": if policy.default == DefaultAction::Deny { "deny" } else { "allow" },
        "tools": tools,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    (text, lost)
}

fn limit(r: &mut Reader<'_>, tool: &str, n: &crate::yaml::Node) -> Option<Rule> {
    let what = format!("a limit of `{tool}`");
    let (mut counter, mut window, mut max, mut scope) = (None, None, None, None);
    for (key, _, v) in r.object(n, &what, &["counter", "window", "max", "scope"]) {
        match key.as_str() {
            "counter" => match r.string(v, "`counter`") {
                Some(c) if c.is_empty() => r.error(v, "`counter` must not be empty".into(), None),
                c => counter = c,
            },
            "window" => match r.string(v, "`window`").as_deref() {
                Some("minute") => window = Some(Window::Minute),
                Some("hour") => window = Some(Window::Hour),
                Some("day") => window = Some(Window::Day),
                Some(other) => r.error(
                    v,
                    format!("`window` must be \"minute\", \"hour\" or \"day\", got `{other}`"),
                    super::diagnostic::did_you_mean(other, &["minute", "hour", "day"]).map(|m| format!("did you mean `{m}`?")),
                ),
                None => {}
            },
            "max" => match r.integer(v, "`max`") {
                Some(m) if m < 1 => r.error(v, format!("`max` must be at least 1, got `{m}`"), Some("to block the tool, leave it out of `tools` under `default: deny`".into())),
                m => max = m,
            },
            _ => match r.string(v, "`scope`").as_deref() {
                Some("grant") => scope = Some(CounterScope::Grant),
                Some("session") => scope = Some(CounterScope::Session),
                Some("global") => scope = Some(CounterScope::Shared),
                Some(other) => r.error(v, format!("`scope` must be \"grant\", \"session\" or \"global\", got `{other}`"), None),
                None => {}
            },
        }
    }
    let missing: Vec<&str> = [("counter", counter.is_none()), ("window", window.is_none()), ("max", max.is_none()), ("scope", scope.is_none())]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(k, _)| *k)
        .collect();
    if !missing.is_empty() {
        let already_reported = r.errors.iter().any(|d| d.line >= n.line);
        if !already_reported {
            r.error(n, format!("{what} is missing `{}`", missing.join("`, `")), Some("a limit needs counter, window, max and scope".into()));
        }
        return None;
    }
    let (counter, window, max, scope) = (counter?, window?, max?, scope?);
    let span = Span { line: n.line, column: n.column };
    Some(Rule {
        name: counter.clone(),
        action: Action::Evaluate,
        conditions: vec![Condition { path: Path::State(counter.clone()), op: Op::Lte, value: Value::Int(max), regex: None, span }],
        on_deny: String::new(),
        state: Some(StateDef { key: counter.clone(), counter, window, increment: 1, increment_from: None, scope }),
        rate_limit: None,
        span,
    })
}
