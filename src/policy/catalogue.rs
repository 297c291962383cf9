//! The catalogue dialect (seed 000): `tools: {NAME: {rules: [{action: allow,
//! rate_limit: {max: 30, window: 60}}]}}`, window in seconds.
//!
//! Lowered so the engine treats it like Intercept's `N/window` shorthand: a
//! rule with a state block and an `lte max` condition on its own key. The
//! file's Intercept verdict is what Intercept itself says when handed the
//! same text (it rejects the mapping where it expects a string).

use super::intercept::lower::parse_path;
use super::model::{
    Action, Condition, CounterScope, DefaultAction, Dialect, Op, Policy, RateLimit, Rule, Span, StateDef, ToolPolicy,
    Value, Window,
};
use super::shape::Reader;
use crate::yaml::Node;
use super::{intercept, Diagnostic, LoadedPolicy, PolicyError};

/// Seconds → the model's window: whole minutes/hours/days become Intercept's words.
pub fn window_from_secs(secs: u64) -> Window {
    match secs {
        60 => Window::Minute,
        3600 => Window::Hour,
        86_400 => Window::Day,
        n => Window::Seconds(n),
    }
}

pub fn load(text: &str, file: &str) -> Result<LoadedPolicy, PolicyError> {
    let root = crate::yaml::parse(text).map_err(|e| {
        PolicyError::single(Diagnostic::new(file, e.line, e.column, format!("invalid YAML: {e}")))
    })?;
    let mut r = Reader::new(file);
    let mut policy = Policy::empty(Dialect::Catalogue);
    if let Some(root) = &root {
        for (key, kn, v) in r.object(root, "the catalogue policy", &["version", "description", "default", "tools"]) {
            let at = Some(Span { line: kn.line, column: kn.column });
            match key.as_str() {
                "default" => policy.keys.default = at,
                "tools" => policy.keys.tools = at,
                _ => {}
            }
            match key.as_str() {
                "version" => policy.version = r.string(v, "`version`").unwrap_or_default(),
                "description" => policy.description = r.string(v, "`description`").unwrap_or_default(),
                "default" => match r.string(v, "`default`").as_deref() {
                    Some("allow") | None => {}
                    Some("deny") => policy.default = DefaultAction::Deny,
                    Some(other) => r.error(v, format!("`default` must be `allow` or `deny`, got `{other}`"), None),
                },
                _ => {
                    for (name, k, tool) in r.object(v, "`tools`", &[]) {
                        let rules = tool_rules(&mut r, &name, tool);
                        policy.tools.push(ToolPolicy { name, rules, span: Span { line: k.line, column: k.column } });
                    }
                }
            }
        }
    }
    if !r.errors.is_empty() {
        return Err(PolicyError::new(r.errors));
    }
    Ok(LoadedPolicy { policy, warnings: Vec::new(), intercept_verdict: intercept::load(text).map(|_| ()) })
}

fn tool_rules(r: &mut Reader<'_>, tool: &str, n: &Node) -> Vec<Rule> {
    let scope = if tool == "*" { "_global" } else { tool };
    let mut rules = Vec::new();
    if matches!(&n.kind, crate::yaml::Kind::Scalar { text, .. } if text.is_empty() || text == "~" || text == "null") {
        return rules;
    }
    for (_, _, list) in r.object(n, &format!("tool `{tool}`"), &["rules"]) {
        for item in r.list(list, &format!("`tools.{tool}.rules`")) {
            let span = Span { line: item.line, column: item.column };
            let mut action = None;
            let mut name = None;
            let mut limit = None;
            for (key, _, v) in r.object(item, "a rule", &["name", "action", "rate_limit", "reason"]) {
                match key.as_str() {
                    "name" => name = r.string(v, "`name`"),
                    "reason" => {
                        r.string(v, "`reason`");
                    }
                    "action" => match r.string(v, "`action`").as_deref() {
                        Some("allow") => action = Some(false),
                        Some("deny") => action = Some(true),
                        Some(other) => r.error(v, format!("`action` must be `allow` or `deny`, got `{other}`"), None),
                        None => {}
                    },
                    _ => limit = rate_limit(r, v),
                }
            }
            if action == Some(true) {
                rules.push(Rule {
                    name: name.unwrap_or_else(|| "deny".into()),
                    action: Action::Deny,
                    conditions: Vec::new(),
                    on_deny: String::new(),
                    state: None,
                    rate_limit: None,
                    span,
                });
            } else if let Some((max, window)) = limit {
                let taken = rules.iter().filter(|x: &&Rule| x.state.as_ref().is_some_and(|s| s.window == window)).count();
                let base = match window.intercept_word() {
                    Some(w) => format!("_rate_{w}"),
                    None => format!("_rate_{}s", window.length_secs()),
                };
                let counter = if taken == 0 { base } else { format!("{base}_{}", taken + 1) };
                let key = format!("{scope}.{counter}");
                rules.push(Rule {
                    name: name.unwrap_or_else(|| "rate_limit".into()),
                    action: Action::Evaluate,
                    conditions: vec![Condition {
                        path: parse_path(&format!("state.{key}")),
                        op: Op::Lte,
                        value: Value::Int(max),
                        regex: None,
                        span,
                    }],
                    on_deny: format!("Rate limit of {max} per {window} reached. Try again later."),
                    state: Some(StateDef {
                        key,
                        counter,
                        window,
                        increment: 1,
                        increment_from: None,
                        scope: CounterScope::Shared,
                    }),
                    rate_limit: Some(RateLimit { max, window }),
                    span,
                });
            } else if action.is_none() {
                r.error(item, "a rule needs `action: allow` or `action: deny`".into(), None);
            }
        }
    }
    rules
}

fn rate_limit(r: &mut Reader<'_>, n: &Node) -> Option<(i64, Window)> {
    let mut max = None;
    let mut window = None;
    for (key, _, v) in r.object(n, "`rate_limit`", &["max", "window"]) {
        let value = r.integer(v, &format!("`rate_limit.{key}`"));
        match value {
            Some(x) if x < 1 => r.error(v, format!("`rate_limit.{key}` must be at least 1, got `{x}`"), None),
            Some(x) if key == "max" => max = Some(x),
            Some(x) => window = Some(window_from_secs(x as u64)),
            None => {}
        }
    }
    match (max, window) {
        (Some(m), Some(w)) => Some((m, w)),
        _ => {
            if r.errors.is_empty() {
                r.error(n, "`rate_limit` needs both `max` (calls) and `window` (seconds)".into(), None);
            }
            None
        }
    }
}
