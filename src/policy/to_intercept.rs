//! Writes a model policy as Intercept YAML, and says precisely what
//! Intercept cannot express (windows that are not a calendar minute, hour
//! or day; per-grant or per-session counters; counters shared across tools;
//! counters on tools whose name has a dot).
//!
//! The text it writes always loads in Intercept; when something was lost it
//! is the closest stricter equivalent, and the caller decides whether that
//! is acceptable (`convert --lossy`).

use super::model::{Action, CounterScope, DefaultAction, Path, Policy, Rule, Value, Window};

/// Intercept YAML plus everything that could not be carried over.
#[derive(Clone, Debug, PartialEq)]
pub struct Converted {
    pub yaml: String,
    pub losses: Vec<String>,
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

fn yaml_value(v: &Value) -> String {
    match v {
        Value::Null => "~".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Float(f) if f.is_nan() => ".nan".into(),
        Value::Float(f) if f.is_infinite() => if *f > 0.0 { ".inf" } else { "-.inf" }.into(),
        Value::Float(f) => {
            let s = format!("{f:?}");
            if s.contains(['.', 'e', 'E']) { s } else { format!("{s}.0") }
        }
        Value::Str(s) => q(s),
        // Go's text form does not read back as a timestamp; the date part does.
        Value::Time(t) => t.split(' ').next().unwrap_or(t).to_string(),
        Value::Seq(items) => format!("[{}]", items.iter().map(yaml_value).collect::<Vec<_>>().join(", ")),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries.iter().map(|(k, v)| format!("{}: {}", q(k), yaml_value(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The shortest Intercept window at least as long as `w` (so a limit kept
/// as is gets stricter, never looser).
fn intercept_window(w: Window) -> Window {
    match w.length_secs() {
        0..=60 => Window::Minute,
        61..=3600 => Window::Hour,
        _ => Window::Day,
    }
}

pub fn convert(policy: &Policy) -> Converted {
    let mut losses = Vec::new();
    let mut out = String::new();
    out.push_str("version: \"1\"\n");
    if !policy.description.is_empty() {
        out.push_str(&format!("description: {}\n", q(&policy.description)));
    }
    out.push_str(match policy.default {
        DefaultAction::Allow => "default: allow\n",
        DefaultAction::Deny => "default: deny\n",
    });
    if !policy.hide.is_empty() {
        out.push_str("hide:\n");
        for h in &policy.hide {
            out.push_str(&format!("  - {}\n", q(h)));
        }
    }
    // Which tools use each counter key: Intercept keys counters per tool.
    let mut users: Vec<(&str, Vec<&str>)> = Vec::new();
    for t in &policy.tools {
        for r in &t.rules {
            if let Some(s) = &r.state {
                match users.iter_mut().find(|(k, _)| *k == s.key) {
                    Some((_, tools)) => tools.push(&t.name),
                    None => users.push((&s.key, vec![&t.name])),
                }
            }
        }
    }
    for (key, tools) in &users {
        if tools.len() > 1 {
            losses.push(format!(
                "counter `{key}` is shared by tools {}: Intercept keys every counter by its tool, so each tool gets its own budget",
                tools.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if policy.tools.is_empty() {
        out.push_str("tools: {}\n");
    } else {
        out.push_str("tools:\n");
    }
    for t in &policy.tools {
        out.push_str(&format!("  {}:\n", q(&t.name)));
        if t.rules.is_empty() {
            out.push_str("    rules: []\n");
            continue;
        }
        out.push_str("    rules:\n");
        let scope = if t.name == "*" { "_global".to_string() } else { t.name.clone() };
        for r in &t.rules {
            rule(&mut out, &mut losses, &t.name, &scope, policy, r);
        }
    }
    Converted { yaml: out, losses }
}

fn rule(out: &mut String, losses: &mut Vec<String>, tool: &str, scope: &str, policy: &Policy, r: &Rule) {
    out.push_str(&format!("      - name: {}\n", q(&r.name)));
    if r.action == Action::Deny {
        out.push_str("        action: \"deny\"\n");
        if !r.on_deny.is_empty() {
            out.push_str(&format!("        on_deny: {}\n", q(&r.on_deny)));
        }
        return;
    }
    if let (Some(rl), Some(s)) = (&r.rate_limit, &r.state) {
        if let Some(word) = rl.window.intercept_word() {
            let generated = format!("Rate limit of {} per {word} reached. Try again later.", rl.max);
            let plain = s.counter == format!("_rate_{word}") && s.scope == CounterScope::Shared && r.conditions.len() == 1;
            if plain && r.on_deny == generated {
                out.push_str(&format!("        rate_limit: \"{}/{word}\"\n", rl.max));
                return;
            }
        }
    }
    let own_key = r.state.as_ref().map(|s| s.key.clone());
    if let Some(s) = &r.state {
        if s.window.intercept_word().is_none() {
            losses.push(format!(
                "tool `{tool}`, rule `{}`: a {}-second window has no Intercept equivalent (windows are calendar minute, hour or day); written as one {} with the same limit, which is stricter",
                r.name,
                s.window.length_secs(),
                intercept_window(s.window)
            ));
        }
        match s.scope {
            CounterScope::Shared => {}
            CounterScope::Grant | CounterScope::Session => losses.push(format!(
                "tool `{tool}`, rule `{}`: `scope: {}` gives each {} its own counter; Intercept counters are per proxy instance, so all callers share one budget",
                r.name,
                if s.scope == CounterScope::Grant { "grant" } else { "session" },
                if s.scope == CounterScope::Grant { "identity" } else { "session" },
            )),
        }
        if tool.contains('.') {
            losses.push(format!(
                "tool `{tool}`: Intercept cannot count calls to a tool whose name contains a dot (its counter reference `state.{tool}.{}` is misread), so Intercept rejects this rule",
                s.counter
            ));
        }
    }
    out.push_str("        conditions:\n");
    for c in &r.conditions {
        let path = match &c.path {
            Path::Args(segs) => format!("args.{}", segs.join(".")),
            // The condition on the rule's own counter reads it under Intercept's key.
            Path::State(k) if Some(k) == own_key.as_ref() => {
                format!("state.{scope}.{}", r.state.as_ref().map_or("", |s| s.counter.as_str()))
            }
            Path::State(k) => {
                let owner = policy.tools.iter().find_map(|t| {
                    t.rules.iter().find_map(|x| {
                        x.state.as_ref().filter(|s| &s.key == k).map(|s| {
                            let sc = if t.name == "*" { "_global".to_string() } else { t.name.clone() };
                            format!("state.{sc}.{}", s.counter)
                        })
                    })
                });
                owner.unwrap_or_else(|| format!("state.{k}"))
            }
        };
        out.push_str(&format!("          - path: {}\n", q(&path)));
        out.push_str(&format!("            op: {}\n", q(c.op.as_str())));
        out.push_str(&format!("            value: {}\n", yaml_value(&c.value)));
        if let Value::Time(t) = &c.value {
            losses.push(format!("tool `{tool}`, rule `{}`: the timestamp operand `{t}` is written as its date only", r.name));
        }
    }
    if !r.on_deny.is_empty() {
        out.push_str(&format!("        on_deny: {}\n", q(&r.on_deny)));
    }
    if let Some(s) = &r.state {
        out.push_str("        state:\n");
        out.push_str(&format!("          counter: {}\n", q(&s.counter)));
        let w = s.window.intercept_word().map_or_else(|| intercept_window(s.window).to_string(), str::to_string);
        out.push_str(&format!("          window: {}\n", q(&w)));
        if s.increment != 1 {
            out.push_str(&format!("          increment: {}\n", s.increment));
        }
        if let Some(from) = &s.increment_from {
            out.push_str(&format!("          increment_from: {}\n", q(&format!("args.{}", from.join(".")))));
        }
    }
}
