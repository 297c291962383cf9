//! Intercept's `Validate` (semantics §1.4): every message, in Intercept's
//! order, with Intercept's exact text. Runs on the normalised config.
//!
//! It reports; it never fixes. Gauntlet's own warnings (unknown keys) live
//! elsewhere, so this list stays exactly what Intercept prints.

use super::normalise::parse_rate_limit;
use super::raw::{RawCondition, RawConfig, RawRule, RawState};
use crate::gofmt::quote::quote;
use crate::policy::model::Value;
use crate::policy::regex::Cache;

pub fn validate(cfg: &RawConfig, patterns: &mut Cache) -> Vec<String> {
    let mut errs = Vec::new();
    if cfg.version != "1" {
        errs.push(format!("version must be \"1\", got {}", quote(&cfg.version)));
    }
    if cfg.default != "allow" && cfg.default != "deny" {
        errs.push(format!("default must be \"allow\" or \"deny\", got {}", quote(&cfg.default)));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, (name, _)) in cfg.hide.iter().enumerate() {
        if name.trim().is_empty() {
            errs.push(format!("hide[{i}]: entry must not be empty"));
        } else if !seen.insert(name.as_str()) {
            errs.push(format!("hide: duplicate entry {}", quote(name)));
        }
    }
    let by_name: Tools = cfg.tools.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut tools: Vec<_> = cfg.tools.iter().collect();
    tools.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    for tool in tools {
        let mut counters: Vec<(&str, usize)> = Vec::new();
        for (i, rule) in tool.rules.iter().enumerate() {
            let Some(state) = &rule.state else { continue };
            match counters.iter().find(|(c, _)| *c == state.counter) {
                Some((_, prev)) => errs.push(format!(
                    "tools.{}.rules[{i}]: duplicate state counter {} (also used by rules[{prev}])",
                    tool.name,
                    quote(&state.counter)
                )),
                None => counters.push((&state.counter, i)),
            }
        }
        for (i, rule) in tool.rules.iter().enumerate() {
            validate_rule(&format!("tools.{}.rules[{i}]", tool.name), rule, &by_name, patterns, &mut errs);
        }
    }
    errs
}

/// The tools by name (keys are unique: duplicates are a load error), so a
/// counter reference is one lookup, not a scan of every tool.
type Tools<'a> = std::collections::HashMap<&'a str, &'a super::raw::RawTool>;

fn validate_rule(prefix: &str, rule: &RawRule, tools: &Tools, patterns: &mut Cache, errs: &mut Vec<String>) {
    if !rule.rate_limit.is_empty() {
        if let Err(e) = parse_rate_limit(&rule.rate_limit) {
            errs.push(format!("{prefix}: {e}"));
        }
        if !rule.conditions.is_empty() || rule.state.is_some() {
            errs.push(format!(
                "{prefix}: rate_limit cannot be combined with conditions or state; use separate rules or the full syntax instead"
            ));
        }
        if rule.action == "deny" {
            errs.push(format!("{prefix}: rate_limit cannot be used with action \"deny\""));
        }
        return;
    }
    if rule.name.is_empty() {
        errs.push(format!("{prefix}: rule must have a name"));
    }
    if rule.action != "evaluate" && rule.action != "deny" {
        errs.push(format!("{prefix}: action must be \"evaluate\" or \"deny\", got {}", quote(&rule.action)));
    }
    if rule.action == "deny" && !rule.conditions.is_empty() {
        errs.push(format!("{prefix}: deny rules must not have conditions"));
    }
    if rule.action == "evaluate" && rule.conditions.is_empty() {
        errs.push(format!("{prefix}: evaluate rules must have at least one condition"));
    }
    for (j, cond) in rule.conditions.iter().enumerate() {
        validate_condition(&format!("{prefix}.conditions[{j}]"), cond, patterns, errs);
    }
    if let Some(state) = &rule.state {
        validate_state(prefix, state, errs);
    }
    for cond in &rule.conditions {
        let Some(rest) = cond.path.strip_prefix("state.") else { continue };
        let Some((tool, counter)) = rest.split_once('.') else { continue };
        if !has_state_block(tools, tool, counter) {
            errs.push(format!(
                "{prefix}: condition references state.{tool}.{counter} but no matching state block found"
            ));
        }
    }
}

fn validate_condition(prefix: &str, cond: &RawCondition, patterns: &mut Cache, errs: &mut Vec<String>) {
    if !cond.path.starts_with("args.") && !cond.path.starts_with("state.") {
        errs.push(format!("{prefix}: path must start with \"args.\" or \"state.\", got {}", quote(&cond.path)));
    }
    let op = cond.op.as_str();
    if crate::policy::model::Op::parse(op).is_none() {
        errs.push(format!("{prefix}: unknown operator {}", quote(op)));
    }
    if matches!(op, "in" | "not_in") && !matches!(cond.value, Value::Seq(_)) {
        errs.push(format!("{prefix}: operator {} requires a list value", quote(op)));
    }
    if matches!(op, "lt" | "lte" | "gt" | "gte") && !matches!(cond.value, Value::Int(_) | Value::Float(_)) {
        errs.push(format!("{prefix}: operator {} requires a numeric value", quote(op)));
    }
    if op == "exists" && !matches!(cond.value, Value::Bool(_)) {
        errs.push(format!("{prefix}: operator \"exists\" requires a boolean value"));
    }
    if op == "regex" {
        match &cond.value {
            Value::Str(s) => {
                if let Err(e) = patterns.compile(s) {
                    errs.push(format!("{prefix}: invalid regex {}: {e}", quote(s)));
                }
            }
            _ => errs.push(format!("{prefix}: regex value must be a string")),
        }
    }
}

fn validate_state(prefix: &str, state: &RawState, errs: &mut Vec<String>) {
    if state.counter.is_empty() {
        errs.push(format!("{prefix}.state: counter must not be empty"));
    }
    if !matches!(state.window.as_str(), "minute" | "hour" | "day") {
        errs.push(format!(
            "{prefix}.state: window must be \"minute\", \"hour\", or \"day\", got {}",
            quote(&state.window)
        ));
    }
    if !state.increment_from.is_empty() && !state.increment_from.starts_with("args.") {
        errs.push(format!(
            "{prefix}.state: increment_from must start with \"args.\", got {}",
            quote(&state.increment_from)
        ));
    }
}

/// Intercept's lookup: tool `S`, or `"*"` when `S` is `_global` and no tool
/// is literally named `_global`.
fn has_state_block(tools: &Tools, tool: &str, counter: &str) -> bool {
    let found = tools.get(tool).or_else(|| if tool == "_global" { tools.get("*") } else { None });
    found.is_some_and(|t| {
        t.rules.iter().any(|r| r.state.as_ref().is_some_and(|s| s.counter == counter))
    })
}
