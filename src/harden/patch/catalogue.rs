//! Edits to a catalogue-form file (`- action: allow` with `rate_limit:
//! {max, window}` in seconds, `- action: deny`): it has `default`, a tool's
//! entry, call-count limits and deny rules, and nothing else (no `hide`, no
//! argument conditions, no spend counters: [`super::in_dialect`] says so
//! before an edit gets here).

use super::text::{comment, q, Lines};
use super::{Edit, Limit, Note};
use crate::policy::model::Policy;

fn pad(n: usize) -> String {
    " ".repeat(n)
}

/// A rate-limit rule, its dash at `ind`.
fn limit_rule(name: &str, limit: Limit, note: &Note, ind: usize) -> Vec<String> {
    vec![
        format!("{}- name: {}", pad(ind), q(name)),
        format!("{}  action: allow", pad(ind)),
        format!("{}  rate_limit:", pad(ind)),
        format!("{}    max: {}{}", pad(ind), limit.max, comment(note)),
        format!("{}    window: {}", pad(ind), limit.window.length_secs()),
    ]
}

fn deny_rule(ind: usize) -> Vec<String> {
    vec![
        format!("{}- name: \"deny\"", pad(ind)),
        format!("{}  action: deny", pad(ind)),
        format!("{}  reason: \"the requirements deny this tool\"", pad(ind)),
    ]
}

/// A new entry: the tool key and its rules (`- action: allow` when none).
fn entry(tool: &str, rule: Option<&dyn Fn(usize) -> Vec<String>>, ind: usize) -> Vec<String> {
    let mut out = vec![format!("{}{}:", pad(ind), q(tool)), format!("{}  rules:", pad(ind))];
    match rule {
        Some(r) => out.extend(r(ind + 4)),
        None => out.push(format!("{}    - action: allow", pad(ind))),
    }
    out
}

/// Appends a rule to the tool's entry, creating the entry when missing.
fn add_rule(l: &mut Lines, policy: &Policy, tool: &str, rule: &dyn Fn(usize) -> Vec<String>) -> Result<(), String> {
    match policy.tool(tool) {
        Some(t) => l.add_rule(tool, t.span, rule),
        None => l.add_entry(policy.keys.tools, policy.tools.first().map(|t| t.span), |ind| entry(tool, Some(rule), ind)),
    }
}

/// Applies one edit to the text of a catalogue-form file.
pub fn apply(text: &str, edit: &Edit) -> Result<String, String> {
    let policy = crate::policy::catalogue::load(text, "policy").map_err(|e| e.to_string())?.policy;
    let mut l = Lines::new(text);
    match edit {
        Edit::DefaultDeny => l.default_deny(policy.keys.default),
        Edit::AddTool(t) => {
            if policy.tool(t).is_none() {
                l.add_entry(policy.keys.tools, policy.tools.first().map(|t| t.span), |ind| entry(t, None, ind))?;
            }
        }
        Edit::Deny(t) => add_rule(&mut l, &policy, t, &deny_rule)?,
        Edit::AddRule { tool, rule } => match (rule.rate_limit, rule.conditions.is_empty() && rule.state.is_none()) {
            (Some(limit), true) => add_rule(&mut l, &policy, tool, &|ind| limit_rule(&rule.name, limit, &rule.note, ind))?,
            _ => return Err("the catalogue form has rate-limit and deny rules only".into()),
        },
        Edit::SetRateLimit { tool, rule, limit, note } => {
            let r = policy.tool(tool).and_then(|t| t.rules.get(*rule)).ok_or("no such rule")?;
            let max = regex::Regex::new(r"(\bmax:\s*)(\d+)").map_err(|e| e.to_string())?;
            let window = regex::Regex::new(r"(\bwindow:\s*)(\d+)").map_err(|e| e.to_string())?;
            if !(l.replace_in_item_noted(r.span.line, &max, &limit.max.to_string(), note)
                && l.replace_in_item(r.span.line, &window, &limit.window.length_secs().to_string()))
            {
                return Err(format!("no `max:` and `window:` in rule `{}` of `{tool}`", r.name));
            }
        }
        Edit::Hide(..) | Edit::RemoveCondition { .. } | Edit::SetCondition { .. } => {
            return Err("the catalogue form cannot hide a tool or hold argument conditions".into())
        }
    }
    Ok(l.text())
}

#[cfg(test)]
mod tests {
    use super::super::{apply_all, NewRule};
    use super::*;
    use crate::policy::model::{Dialect, Window};

    const SEED: &str = "# the catalogue's advice\ntools:\n  WizCommerce Open API_PostCustomers:\n    rules:\n      - action: allow\n        rate_limit:\n          max: 30\n          window: 60 # a minute\n";

    #[test]
    fn edits_keep_comments_and_stay_in_the_catalogue_form() {
        let minute = |max| Limit { max, window: Window::Minute };
        let rate = |name: &str, max| NewRule { name: name.into(), rate_limit: Some(minute(max)), on_deny: None, conditions: vec![], state: None, note: Default::default() };
        let edits = [
            Edit::DefaultDeny,
            Edit::SetRateLimit { tool: "WizCommerce Open API_PostCustomers".into(), rule: 0, limit: minute(15), note: Default::default() },
            Edit::AddRule { tool: "WizCommerce Open API_PostOrders".into(), rule: rate("rate per minute", 15) },
            Edit::Deny("WizCommerce Open API_DeleteCustomer".into()),
            Edit::AddTool("WizCommerce Open API_GetProducts".into()),
        ];
        let out = apply_all(Dialect::Catalogue, SEED, &edits).unwrap();
        assert!(out.starts_with("# the catalogue's advice\ndefault: deny\n"), "{out}");
        assert!(out.contains("          max: 15\n          window: 60 # a minute\n"), "{out}");
        assert_eq!(crate::policy::detect::detect(&out, "p.yaml").unwrap().dialect, Dialect::Catalogue);
        let p = crate::policy::catalogue::load(&out, "p.yaml").unwrap_or_else(|e| panic!("{e}\n{out}")).policy;
        assert_eq!(p.default, crate::policy::model::DefaultAction::Deny);
        let names: Vec<&str> = p.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), 4, "{out}");
        let orders = p.tool("WizCommerce Open API_PostOrders").unwrap();
        assert_eq!(orders.rules[0].rate_limit.as_ref().map(|r| (r.max, r.window)), Some((15, Window::Minute)));
        let delete = p.tool("WizCommerce Open API_DeleteCustomer").unwrap();
        assert_eq!(delete.rules[0].action, crate::policy::model::Action::Deny);
        assert!(p.tool("WizCommerce Open API_GetProducts").unwrap().rules.is_empty());
    }
}
