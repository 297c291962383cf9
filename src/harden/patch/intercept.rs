//! Edits to an Intercept YAML file (see [`super::text`] for how lines are
//! placed): `hide`, named rules with `rate_limit`, `conditions`, `state`.

use serde_json::Value;

use super::text::{comment, indent, q, rest_after_key, Lines};
use super::{Edit, NewRule, Note};
use crate::policy::intercept::{self, raw::RawConfig};

/// A JSON value as a YAML flow value (JSON is YAML).
fn flow(v: &Value) -> String {
    match v {
        Value::Array(items) => format!("[{}]", items.iter().map(flow).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// The lines of a rule item, its dash at `ind`.
pub fn render_rule(r: &NewRule, ind: usize) -> Vec<String> {
    let pad = " ".repeat(ind);
    let mut out = vec![format!("{pad}- name: {}", q(&r.name))];
    if let Some(rl) = &r.rate_limit {
        out.push(format!("{pad}  rate_limit: {rl}{}", comment(&r.note)));
    }
    if let Some(m) = &r.on_deny {
        out.push(format!("{pad}  on_deny: {}", q(m)));
    }
    if !r.conditions.is_empty() {
        out.push(format!("{pad}  conditions:"));
        for c in &r.conditions {
            out.push(format!("{pad}    - {{path: {}, op: {}, value: {}}}{}", c.path, c.op, flow(&c.value), comment(&c.note)));
        }
    }
    match &r.state {
        Some((counter, window, from)) if from.is_empty() => out.push(format!("{pad}  state: {{counter: {counter}, window: {window}}}{}", comment(&r.note))),
        Some((counter, window, from)) => out.push(format!("{pad}  state: {{counter: {counter}, window: {window}, increment_from: {from}}}{}", comment(&r.note))),
        None => {}
    }
    out
}

/// Applies one edit to the text of an Intercept file.
pub fn apply(text: &str, edit: &Edit) -> Result<String, String> {
    let cfg = intercept::load_raw(text).map_err(|(m, _)| m)?;
    let mut l = Lines::new(text);
    let first_tool = cfg.tools.first().map(|t| t.span);
    match edit {
        Edit::DefaultDeny => l.default_deny(cfg.keys.default),
        Edit::Hide(t, note) => hide(&mut l, &cfg, t, note)?,
        Edit::AddTool(t) => {
            if cfg.tools.iter().all(|x| &x.name != t) {
                l.add_entry(cfg.keys.tools, first_tool, |ind| entry_lines(t, None, ind))?;
            }
        }
        Edit::AddRule { tool, rule } => match cfg.tools.iter().find(|x| &x.name == tool) {
            Some(t) => l.add_rule(tool, t.span, |n| render_rule(rule, n))?,
            None => l.add_entry(cfg.keys.tools, first_tool, |ind| entry_lines(tool, Some(rule), ind))?,
        },
        Edit::Deny(t) => {
            let render = |n: usize| vec![format!("{}- name: \"deny\"", " ".repeat(n)), format!("{}  action: deny", " ".repeat(n))];
            match cfg.tools.iter().find(|x| &x.name == t) {
                Some(x) => l.add_rule(t, x.span, render)?,
                None => l.add_entry(cfg.keys.tools, first_tool, |ind| {
                    let mut lines = vec![format!("{}{}:", " ".repeat(ind), q(t)), format!("{}  rules:", " ".repeat(ind))];
                    lines.extend(render(ind + 4));
                    lines
                })?,
            }
        }
        Edit::SetRateLimit { tool, rule, limit, note } => set_rate_limit(&mut l, &cfg, tool, *rule, &limit.to_string(), note)?,
        Edit::RemoveCondition { tool, rule, condition, note } => remove_condition(&mut l, &cfg, tool, *rule, *condition, note)?,
        Edit::SetCondition { tool, rule, condition, value, note } => {
            set_condition(&mut l, &cfg, tool, *rule, *condition, &flow(value), note)?
        }
    }
    Ok(l.text())
}

fn hide(l: &mut Lines, cfg: &RawConfig, tool: &str, note: &Note) -> Result<(), String> {
    if cfg.hide.iter().any(|(h, _)| h == tool) {
        return Ok(());
    }
    let Some(sp) = cfg.keys.hide else {
        let at = cfg.keys.tools.map(|t| t.line as usize - 1).unwrap_or(l.0.len());
        l.insert(at, vec!["hide:".into(), format!("  - {}{}", q(tool), comment(note))]);
        return Ok(());
    };
    let i = sp.line as usize - 1;
    let ind = sp.column as usize - 1;
    let rest = rest_after_key(&l.0[i], ind).to_string();
    if rest.len() > 2 && rest.starts_with('[') && rest.ends_with(']') {
        let inner = rest[1..rest.len() - 1].trim();
        l.set_rest(i, ind, &format!("[{inner}, {}]", q(tool)));
        // One comment per line: the reason goes after a flow list only when it has none.
        if !l.0[i].contains(" #") {
            l.0[i].push_str(&comment(note));
        }
        return Ok(());
    }
    l.append_item(i, ind, |n| vec![format!("{}- {}{}", " ".repeat(n), q(tool), comment(note))])
        .ok_or_else(|| "`hide` is not a list this edit can extend".into())
}

fn entry_lines(tool: &str, rule: Option<&NewRule>, ind: usize) -> Vec<String> {
    let pad = " ".repeat(ind);
    let mut out = vec![format!("{pad}{}:", q(tool))];
    match rule {
        Some(r) => {
            out.push(format!("{pad}  rules:"));
            out.extend(render_rule(r, ind + 4));
        }
        None => out.push(format!("{pad}  rules: []")),
    }
    out
}

fn set_rate_limit(l: &mut Lines, cfg: &RawConfig, tool: &str, rule: usize, limit: &str, note: &Note) -> Result<(), String> {
    let r = cfg.tools.iter().find(|x| x.name == tool).and_then(|t| t.rules.get(rule)).ok_or("no such rule")?;
    let re = regex::Regex::new(r#"(rate_limit:\s*)("[^"]*"|'[^']*'|[^\s,}#]+)"#).map_err(|e| e.to_string())?;
    if l.replace_in_item_noted(r.span.line, &re, limit, note) {
        return Ok(());
    }
    Err(format!("no `rate_limit:` line in rule `{}` of `{tool}`", r.name))
}

fn set_condition(l: &mut Lines, cfg: &RawConfig, tool: &str, rule: usize, condition: usize, value: &str, note: &Note) -> Result<(), String> {
    let r = cfg.tools.iter().find(|x| x.name == tool).and_then(|t| t.rules.get(rule)).ok_or("no such rule")?;
    let c = r.conditions.get(condition).ok_or("no such condition")?;
    let re = regex::Regex::new(r#"(\bvalue:\s*)("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s,}#]+)"#).map_err(|e| e.to_string())?;
    if l.replace_in_item_noted(c.span.line, &re, value, note) {
        return Ok(());
    }
    Err(format!("no `value:` in condition {} of rule `{}` of `{tool}`", condition + 1, r.name))
}

/// Removes a condition (the rule with it, when it is the only one) and
/// leaves the reason as a comment in its place: the file itself says what
/// was taken out, and why.
fn remove_condition(l: &mut Lines, cfg: &RawConfig, tool: &str, rule: usize, condition: usize, note: &Note) -> Result<(), String> {
    let t = cfg.tools.iter().find(|x| x.name == tool).ok_or("no such tool")?;
    let r = t.rules.get(rule).ok_or("no such rule")?;
    let c = r.conditions.get(condition).ok_or("no such condition")?;
    let why = |line: &str| note.0.as_ref().map(|n| format!("{}# {}", " ".repeat(indent(line)), n.replace(['\n', '\r'], " ")));
    if r.conditions.len() > 1 {
        let (from, to) = l.item_range(c.span.line);
        if c.span.line == r.span.line || !l.0[from].trim_start().starts_with("- ") {
            return Err(format!("the conditions of rule `{}` are written in flow style", r.name));
        }
        let left = why(&l.0[from]);
        l.0.splice(from..=to, left);
        return Ok(());
    }
    // The rule's only condition: the rule goes; an entry left with no rules says so.
    let (from, to) = l.item_range(r.span.line);
    if !l.0[from].trim_start().starts_with("- ") {
        return Err(format!("the rules of `{tool}` are written in flow style"));
    }
    let left = why(&l.0[from]);
    l.0.splice(from..=to, left);
    if t.rules.len() == 1 {
        let ki = t.span.line as usize - 1;
        if let Some(ri) = (ki + 1..l.0.len()).find(|&i| l.0[i].trim_start().starts_with("rules:")) {
            let rind = indent(&l.0[ri]);
            l.set_rest(ri, rind, "[]");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{apply_all, Limit, NewCondition};
    use super::*;
    use crate::policy::model::{Dialect, Window};

    const WEAK: &str = "# weak\nversion: \"1\"\ndefault: allow # for now\ntools:\n  \"a\":\n    rules:\n      - name: rate\n        rate_limit: 100/hour\n  \"b\":\n    rules: []\n";

    fn rule(name: &str) -> NewRule {
        NewRule {
            name: name.into(),
            rate_limit: None,
            on_deny: None,
            conditions: vec![NewCondition {
                path: "args.x".into(),
                op: "regex",
                value: Value::String("^.{1,10}$".into()),
                note: Default::default(),
            }],
            state: None,
            note: Default::default(),
        }
    }

    #[test]
    fn edits_keep_comments_and_load() {
        let edits = [
            Edit::DefaultDeny,
            Edit::Hide("b".into(), Default::default()),
            Edit::SetRateLimit { tool: "a".into(), rule: 0, limit: Limit { max: 15, window: Window::Minute }, note: Default::default() },
            Edit::AddRule { tool: "a".into(), rule: rule("arguments") },
            Edit::AddRule { tool: "b".into(), rule: rule("arguments") },
            Edit::AddRule { tool: "c".into(), rule: rule("arguments") },
            Edit::AddTool("d".into()),
            Edit::Deny("a".into()),
            Edit::Deny("e".into()),
        ];
        let out = apply_all(Dialect::Intercept, WEAK, &edits).unwrap();
        assert!(out.starts_with("# weak\n"), "{out}");
        assert!(out.contains("default: deny # for now"), "{out}");
        assert!(out.contains("rate_limit: 15/minute"), "{out}");
        let p = crate::policy::load_intercept(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(p.hide, vec!["b".to_string()]);
        assert_eq!(p.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c", "d", "e"]);
        assert_eq!(p.tool("a").unwrap().rules.len(), 3);
        for t in ["a", "e"] {
            assert_eq!(p.tool(t).unwrap().rules.last().unwrap().action, crate::policy::model::Action::Deny);
        }
        assert_eq!(p.tool("b").unwrap().rules[0].name, "arguments");
    }

    #[test]
    fn removing_the_last_condition_removes_the_rule() {
        let text = "version: \"1\"\ntools:\n  t:\n    rules:\n      - name: cap\n        conditions:\n          - {path: args.amount, op: lte, value: 5}\n";
        let out = apply(text, &Edit::RemoveCondition { tool: "t".into(), rule: 0, condition: 0, note: Default::default() }).unwrap();
        assert_eq!(out, "version: \"1\"\ntools:\n  t:\n    rules: []\n");
        // With a reason, the reason stays in the rule's place: never a silent drop.
        let out = apply(text, &Edit::RemoveCondition { tool: "t".into(), rule: 0, condition: 0, note: Note::new("removed `args.amount lte 5`: why") }).unwrap();
        assert_eq!(out, "version: \"1\"\ntools:\n  t:\n    rules: []\n      # removed `args.amount lte 5`: why\n");
        crate::policy::load_intercept(&out).unwrap();
    }

    #[test]
    fn a_flow_style_entry_is_refused_not_reserialised() {
        let text = "version: \"1\"\ntools:\n  t: {rules: [{name: r, rate_limit: 5/minute}]}\n";
        let e = apply(text, &Edit::AddRule { tool: "t".into(), rule: rule("x") }).unwrap_err();
        assert!(e.contains("flow style"), "{e}");
    }
}
