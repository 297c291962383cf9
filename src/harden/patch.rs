//! Edits to an Intercept YAML file, made on its text so comments, quoting
//! and layout outside the edited lines survive, and shown as unified diffs.
//!
//! Each edit finds its place from the positions the YAML reader recorded
//! (tool keys, rule items, conditions, top-level keys) and rewrites or
//! inserts whole lines. Block style is edited in place; a flow-style
//! collection the edit would have to reach into is refused with a message
//! rather than re-serialised.

use serde_json::Value;

use crate::policy::intercept::{self, raw::RawConfig};

/// A rule to add, in the file's own terms.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRule {
    pub name: String,
    /// `N/window`: the shorthand (no conditions, no state).
    pub rate_limit: Option<String>,
    pub on_deny: Option<String>,
    pub conditions: Vec<NewCondition>,
    /// `{counter, window, increment_from}` of a spend counter.
    pub state: Option<(String, String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewCondition {
    pub path: String,
    pub op: &'static str,
    pub value: Value,
}

/// One change to a policy file.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// `default: deny`.
    DefaultDeny,
    /// Add the tool to `hide`.
    Hide(String),
    /// An entry with no rules, so `default: deny` keeps allowing the tool.
    AddTool(String),
    /// Append a rule to the tool's entry (created when missing).
    AddRule { tool: String, rule: NewRule },
    /// Set the `rate_limit` of the tool's rule number `rule` (0-based).
    SetRateLimit { tool: String, rule: usize, limit: String },
    /// Remove condition `condition` of rule `rule` (the whole rule when it is the last one).
    RemoveCondition { tool: String, rule: usize, condition: usize },
}

impl Edit {
    /// The tool the edit is about (`None` for the default).
    pub fn tool(&self) -> Option<&str> {
        match self {
            Edit::DefaultDeny => None,
            Edit::Hide(t) | Edit::AddTool(t) => Some(t),
            Edit::AddRule { tool, .. } | Edit::SetRateLimit { tool, .. } | Edit::RemoveCondition { tool, .. } => Some(tool),
        }
    }

    /// Whether two edits change the same thing (a rule added to one tool
    /// under one name is one place, whatever its conditions).
    pub fn same_place(&self, other: &Edit) -> bool {
        match (self, other) {
            (Edit::AddRule { tool: a, rule: r }, Edit::AddRule { tool: b, rule: s }) => a == b && r.name == s.name,
            _ => self == other,
        }
    }

    /// What the edit does, in a few words.
    pub fn describe(&self) -> String {
        match self {
            Edit::DefaultDeny => "set `default: deny`".into(),
            Edit::Hide(t) => format!("hide `{t}`"),
            Edit::AddTool(t) => format!("list `{t}` so `default: deny` keeps allowing it"),
            Edit::AddRule { tool, rule } => format!("add rule `{}` to `{tool}`", rule.name),
            Edit::SetRateLimit { tool, limit, .. } => format!("set the rate limit of `{tool}` to {limit}"),
            Edit::RemoveCondition { tool, .. } => format!("remove a condition of `{tool}` that refuses legitimate calls"),
        }
    }
}

/// A line-oriented view of the file being edited.
struct Lines(Vec<String>);

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// The byte index of the `:` that ends the key starting at `key_column` (a quoted key may hold colons).
fn key_colon(line: &str, key_column: usize) -> Option<usize> {
    let s = line.get(key_column..)?;
    let end_of_key = match s.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let mut esc = false;
            let mut end = None;
            for (i, c) in s.char_indices().skip(1) {
                if esc {
                    esc = false;
                } else if c == '\\' && q == '"' {
                    esc = true;
                } else if c == q {
                    end = Some(i + 1);
                    break;
                }
            }
            end?
        }
        _ => 0,
    };
    s[end_of_key..].find(':').map(|c| key_column + end_of_key + c)
}

/// Where a trailing ` #` comment starts after `from` (naive about `#` inside quotes).
fn comment_at(line: &str, from: usize) -> usize {
    line[from..].find(" #").map(|c| from + c).unwrap_or(line.len())
}

/// A line's value after `key:`, without a trailing comment.
fn rest_after_key(line: &str, key_column: usize) -> &str {
    match key_colon(line, key_column) {
        Some(c) => line[c + 1..comment_at(line, c + 1)].trim(),
        None => "",
    }
}

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(text.lines().map(str::to_string).collect())
    }

    fn text(&self) -> String {
        let mut s = self.0.join("\n");
        s.push('\n');
        s
    }

    /// The last content line of the block opened at `start` (lines indented
    /// deeper than `ind`, or sequence items at `ind` when `items_at_ind`).
    fn block_end(&self, start: usize, ind: usize, items_at_ind: bool) -> usize {
        let mut end = start;
        for (i, l) in self.0.iter().enumerate().skip(start + 1) {
            if !is_content(l) {
                continue;
            }
            let deeper = indent(l) > ind || (items_at_ind && indent(l) == ind && l.trim_start().starts_with("- "));
            if !deeper {
                break;
            }
            end = i;
        }
        end
    }

    fn insert(&mut self, at: usize, new: Vec<String>) {
        let at = at.min(self.0.len());
        self.0.splice(at..at, new);
    }

    /// Replaces what follows `key:` on line `i` with `value` (keeping the comment).
    fn set_rest(&mut self, i: usize, key_column: usize, value: &str) {
        let line = &self.0[i];
        let Some(c) = key_colon(line, key_column) else { return };
        let comment = &line[comment_at(line, c + 1)..];
        let sep = if value.is_empty() { "" } else { " " };
        self.0[i] = format!("{}{sep}{value}{comment}", &line[..=c]);
    }
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

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
        out.push(format!("{pad}  rate_limit: {rl}"));
    }
    if let Some(m) = &r.on_deny {
        out.push(format!("{pad}  on_deny: {}", q(m)));
    }
    if !r.conditions.is_empty() {
        out.push(format!("{pad}  conditions:"));
        for c in &r.conditions {
            out.push(format!("{pad}    - {{path: {}, op: {}, value: {}}}", c.path, c.op, flow(&c.value)));
        }
    }
    if let Some((counter, window, from)) = &r.state {
        out.push(format!("{pad}  state: {{counter: {counter}, window: {window}, increment_from: {from}}}"));
    }
    out
}

/// Applies one edit to the text of an Intercept file.
pub fn apply(text: &str, edit: &Edit) -> Result<String, String> {
    let cfg = intercept::load_raw(text).map_err(|(m, _)| m)?;
    let mut l = Lines::new(text);
    match edit {
        Edit::DefaultDeny => default_deny(&mut l, &cfg),
        Edit::Hide(t) => hide(&mut l, &cfg, t)?,
        Edit::AddTool(t) => {
            if cfg.tools.iter().all(|x| &x.name != t) {
                add_tool(&mut l, &cfg, t, None)?;
            }
        }
        Edit::AddRule { tool, rule } => match cfg.tools.iter().find(|x| &x.name == tool) {
            Some(_) => add_rule(&mut l, &cfg, tool, rule)?,
            None => add_tool(&mut l, &cfg, tool, Some(rule))?,
        },
        Edit::SetRateLimit { tool, rule, limit } => set_rate_limit(&mut l, &cfg, tool, *rule, limit)?,
        Edit::RemoveCondition { tool, rule, condition } => remove_condition(&mut l, &cfg, tool, *rule, *condition)?,
    }
    Ok(l.text())
}

/// Applies edits in order; stops at the first that cannot be made.
pub fn apply_all<'e>(text: &str, edits: impl IntoIterator<Item = &'e Edit>) -> Result<String, String> {
    let mut out = text.to_string();
    // Removals last, later rules first, so rule numbers stay valid while editing.
    let mut ordered: Vec<&Edit> = edits.into_iter().collect();
    ordered.sort_by_key(|e| match e {
        Edit::RemoveCondition { rule, condition, .. } => (1, usize::MAX - rule, usize::MAX - condition),
        _ => (0, 0, 0),
    });
    for e in ordered {
        out = apply(&out, e).map_err(|m| format!("{}: {m}", e.describe()))?;
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

fn top_line(l: &Lines, key: &str) -> Option<usize> {
    l.0.iter().position(|s| s.starts_with(&format!("{key}:")))
}

fn default_deny(l: &mut Lines, cfg: &RawConfig) {
    match cfg.keys.default {
        Some(sp) => l.set_rest(sp.line as usize - 1, sp.column as usize - 1, "deny"),
        None => {
            let at = top_line(l, "description")
                .or_else(|| top_line(l, "version"))
                .map(|i| i + 1)
                .unwrap_or_else(|| l.0.iter().take_while(|s| !is_content(s)).count());
            l.insert(at, vec!["default: deny".into()]);
        }
    }
}

fn hide(l: &mut Lines, cfg: &RawConfig, tool: &str) -> Result<(), String> {
    if cfg.hide.iter().any(|(h, _)| h == tool) {
        return Ok(());
    }
    let Some(sp) = cfg.keys.hide else {
        let at = cfg.keys.tools.map(|t| t.line as usize - 1).unwrap_or(l.0.len());
        l.insert(at, vec!["hide:".into(), format!("  - {}", q(tool))]);
        return Ok(());
    };
    let i = sp.line as usize - 1;
    let ind = sp.column as usize - 1;
    let rest = rest_after_key(&l.0[i], ind).to_string();
    if rest.len() > 2 && rest.starts_with('[') && rest.ends_with(']') {
        let inner = rest[1..rest.len() - 1].trim();
        l.set_rest(i, ind, &format!("[{inner}, {}]", q(tool)));
        return Ok(());
    }
    let first = cfg.hide.first().map(|(_, s)| s.line);
    append_item(l, i, ind, first, |n| vec![format!("{}- {}", " ".repeat(n), q(tool))])
        .ok_or_else(|| "`hide` is not a list this edit can extend".into())
}

/// Appends an item to the block sequence under the `key:` on line `i` (an
/// empty `[]` or null value becomes one); `None` when the value is in flow style.
fn append_item(l: &mut Lines, i: usize, ind: usize, first_item: Option<u32>, item: impl FnOnce(usize) -> Vec<String>) -> Option<()> {
    let rest = rest_after_key(&l.0[i], ind).to_string();
    if !matches!(rest.as_str(), "" | "~" | "null" | "[]") {
        return None;
    }
    if !rest.is_empty() {
        l.set_rest(i, ind, "");
    }
    let end = l.block_end(i, ind, true);
    let item_ind = match first_item {
        Some(line) if end > i => dash_indent(l, line),
        _ => ind + 2,
    };
    l.insert(end + 1, item(item_ind));
    Some(())
}

/// The indentation of tool keys under `tools:`.
fn tool_indent(cfg: &RawConfig, tools_key_ind: usize) -> usize {
    cfg.tools.first().map(|t| t.span.column as usize - 1).unwrap_or(tools_key_ind + 2)
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

fn add_tool(l: &mut Lines, cfg: &RawConfig, tool: &str, rule: Option<&NewRule>) -> Result<(), String> {
    let Some(sp) = cfg.keys.tools else {
        let mut new = vec!["tools:".to_string()];
        new.extend(entry_lines(tool, rule, 2));
        l.insert(l.0.len(), new);
        return Ok(());
    };
    let i = sp.line as usize - 1;
    let ind = sp.column as usize - 1;
    let rest = rest_after_key(&l.0[i], ind).to_string();
    match rest.as_str() {
        "" | "~" | "null" | "{}" => {
            if !rest.is_empty() {
                l.set_rest(i, ind, "");
            }
            let end = l.block_end(i, ind, false);
            l.insert(end + 1, entry_lines(tool, rule, tool_indent(cfg, ind)));
            Ok(())
        }
        _ => Err("`tools` is written in flow style (`{…}`); rewrite it in block style to apply this edit".into()),
    }
}

fn add_rule(l: &mut Lines, cfg: &RawConfig, tool: &str, rule: &NewRule) -> Result<(), String> {
    let t = cfg.tools.iter().find(|x| x.name == tool).ok_or("no such tool")?;
    let ki = t.span.line as usize - 1;
    let kind = t.span.column as usize - 1;
    let rest = rest_after_key(&l.0[ki], kind).to_string();
    if matches!(rest.as_str(), "~" | "null" | "{}" | "{rules: []}" | "{ rules: [] }") {
        l.set_rest(ki, kind, "");
        let mut new = vec![format!("{}rules:", " ".repeat(kind + 2))];
        new.extend(render_rule(rule, kind + 4));
        l.insert(ki + 1, new);
        return Ok(());
    }
    if !rest.is_empty() {
        return Err(format!("the entry of `{tool}` is written in flow style; rewrite it in block style to apply this edit"));
    }
    let end = l.block_end(ki, kind, false);
    let rules_at = (ki + 1..=end).find(|&i| indent(&l.0[i]) > kind && l.0[i].trim_start().starts_with("rules:"));
    let Some(ri) = rules_at else {
        let mut new = vec![format!("{}rules:", " ".repeat(kind + 2))];
        new.extend(render_rule(rule, kind + 4));
        l.insert(end + 1, new);
        return Ok(());
    };
    let rind = indent(&l.0[ri]);
    append_item(l, ri, rind, t.rules.first().map(|r| r.span.line), |n| render_rule(rule, n))
        .ok_or_else(|| format!("the rules of `{tool}` are written in flow style; rewrite them in block style to apply this edit"))
}

/// The indentation of the dash of the sequence item that starts on `line` (1-based).
/// (The reader places a block mapping at its first colon, so the line is what counts.)
fn dash_indent(l: &Lines, line: u32) -> usize {
    let s = &l.0[line as usize - 1];
    if s.trim_start().starts_with('-') {
        indent(s)
    } else {
        indent(s).saturating_sub(2)
    }
}

/// The line range of the sequence item that starts on `line`.
fn item_range(l: &Lines, line: u32) -> (usize, usize) {
    let i = line as usize - 1;
    (i, l.block_end(i, dash_indent(l, line), false))
}

fn set_rate_limit(l: &mut Lines, cfg: &RawConfig, tool: &str, rule: usize, limit: &str) -> Result<(), String> {
    let r = cfg.tools.iter().find(|x| x.name == tool).and_then(|t| t.rules.get(rule)).ok_or("no such rule")?;
    let (from, to) = item_range(l, r.span.line);
    let re = regex::Regex::new(r#"(rate_limit:\s*)("[^"]*"|'[^']*'|[^\s,}#]+)"#).map_err(|e| e.to_string())?;
    for i in from..=to {
        if re.is_match(&l.0[i]) {
            l.0[i] = re.replace(&l.0[i], format!("${{1}}{limit}")).into_owned();
            return Ok(());
        }
    }
    Err(format!("no `rate_limit:` line in rule `{}` of `{tool}`", r.name))
}

fn remove_condition(l: &mut Lines, cfg: &RawConfig, tool: &str, rule: usize, condition: usize) -> Result<(), String> {
    let t = cfg.tools.iter().find(|x| x.name == tool).ok_or("no such tool")?;
    let r = t.rules.get(rule).ok_or("no such rule")?;
    let c = r.conditions.get(condition).ok_or("no such condition")?;
    if r.conditions.len() > 1 {
        let (from, to) = item_range(l, c.span.line);
        if c.span.line == r.span.line || !l.0[from].trim_start().starts_with("- ") {
            return Err(format!("the conditions of rule `{}` are written in flow style", r.name));
        }
        l.0.drain(from..=to);
        return Ok(());
    }
    // The rule's only condition: the rule goes; an entry left with no rules says so.
    let (from, to) = item_range(l, r.span.line);
    if !l.0[from].trim_start().starts_with("- ") {
        return Err(format!("the rules of `{tool}` are written in flow style"));
    }
    l.0.drain(from..=to);
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
    use super::*;

    const WEAK: &str = "# weak\nversion: \"1\"\ndefault: allow # for now\ntools:\n  \"a\":\n    rules:\n      - name: rate\n        rate_limit: 100/hour\n  \"b\":\n    rules: []\n";

    fn rule(name: &str) -> NewRule {
        NewRule {
            name: name.into(),
            rate_limit: None,
            on_deny: None,
            conditions: vec![NewCondition { path: "args.x".into(), op: "regex", value: Value::String("^.{1,10}$".into()) }],
            state: None,
        }
    }

    #[test]
    fn edits_keep_comments_and_load() {
        let edits = [
            Edit::DefaultDeny,
            Edit::Hide("b".into()),
            Edit::SetRateLimit { tool: "a".into(), rule: 0, limit: "15/minute".into() },
            Edit::AddRule { tool: "a".into(), rule: rule("arguments") },
            Edit::AddRule { tool: "b".into(), rule: rule("arguments") },
            Edit::AddRule { tool: "c".into(), rule: rule("arguments") },
            Edit::AddTool("d".into()),
        ];
        let out = apply_all(WEAK, &edits).unwrap();
        assert!(out.starts_with("# weak\n"), "{out}");
        assert!(out.contains("default: deny # for now"), "{out}");
        assert!(out.contains("rate_limit: 15/minute"), "{out}");
        let p = crate::policy::load_intercept(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(p.hide, vec!["b".to_string()]);
        assert_eq!(p.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(p.tool("a").unwrap().rules.len(), 2);
        assert_eq!(p.tool("b").unwrap().rules[0].name, "arguments");
    }

    #[test]
    fn removing_the_last_condition_removes_the_rule() {
        let text = "version: \"1\"\ntools:\n  t:\n    rules:\n      - name: cap\n        conditions:\n          - {path: args.amount, op: lte, value: 5}\n";
        let out = apply(text, &Edit::RemoveCondition { tool: "t".into(), rule: 0, condition: 0 }).unwrap();
        assert_eq!(out, "version: \"1\"\ntools:\n  t:\n    rules: []\n");
    }

    #[test]
    fn a_flow_style_entry_is_refused_not_reserialised() {
        let text = "version: \"1\"\ntools:\n  t: {rules: [{name: r, rate_limit: 5/minute}]}\n";
        let e = apply(text, &Edit::AddRule { tool: "t".into(), rule: rule("x") }).unwrap_err();
        assert!(e.contains("flow style"), "{e}");
    }
}
