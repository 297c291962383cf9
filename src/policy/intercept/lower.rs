//! A normalised, valid Intercept config → the typed [`model::Policy`].
//!
//! Computes what the engine needs and Intercept computes at run time:
//! counter keys (`T.C`, `_global.C`), parsed paths, compiled regexes (each
//! distinct pattern once, shared with validation). It
//! assumes validation passed and refuses nothing itself; a config that did
//! not validate must not reach it.

use super::raw::{RawConfig, RawRule};
use crate::policy::regex::Cache;
use crate::policy::model::{
    self, Action, Condition, CounterScope, DefaultAction, Dialect, Path, RateLimit, Rule, StateDef, ToolPolicy, Window,
};

pub fn parse_window(w: &str) -> Option<Window> {
    match w {
        "minute" => Some(Window::Minute),
        "hour" => Some(Window::Hour),
        "day" => Some(Window::Day),
        _ => None,
    }
}

pub fn parse_path(p: &str) -> Path {
    match p.strip_prefix("state.") {
        Some(rest) => Path::State(rest.to_string()),
        None => Path::Args(p.strip_prefix("args.").unwrap_or(p).split('.').map(str::to_string).collect()),
    }
}

pub fn lower(cfg: &RawConfig, patterns: &mut Cache) -> model::Policy {
    model::Policy {
        dialect: Dialect::Intercept,
        version: cfg.version.clone(),
        description: cfg.description.clone(),
        default: if cfg.default == "deny" { DefaultAction::Deny } else { DefaultAction::Allow },
        hide: cfg.hide.iter().map(|(h, _)| h.clone()).collect(),
        tools: cfg
            .tools
            .iter()
            .map(|t| {
                let scope = if t.name == "*" { "_global" } else { t.name.as_str() };
                ToolPolicy { name: t.name.clone(), rules: t.rules.iter().map(|r| lower_rule(scope, r, patterns)).collect(), span: t.span }
            })
            .collect(),
        keys: cfg.keys.clone(),
    }
}

fn lower_rule(scope: &str, r: &RawRule, patterns: &mut Cache) -> Rule {
    Rule {
        name: r.name.clone(),
        action: if r.action == "deny" { Action::Deny } else { Action::Evaluate },
        conditions: r
            .conditions
            .iter()
            .map(|c| {
                let op = model::Op::parse(&c.op).unwrap_or(model::Op::Eq);
                let regex = match (&op, &c.value) {
                    (model::Op::Regex, model::Value::Str(s)) => patterns.compile(s).ok().map(model::Regex),
                    _ => None,
                };
                Condition { path: parse_path(&c.path), op, value: c.value.clone(), regex, span: c.span }
            })
            .collect(),
        on_deny: r.on_deny.clone(),
        state: r.state.as_ref().map(|s| StateDef {
            key: format!("{scope}.{}", s.counter),
            counter: s.counter.clone(),
            window: parse_window(&s.window).unwrap_or(Window::Minute),
            increment: s.increment,
            increment_from: s
                .increment_from
                .strip_prefix("args.")
                .map(|p| p.split('.').map(str::to_string).collect()),
            scope: CounterScope::Shared,
        }),
        rate_limit: r.desugared.as_ref().map(|(max, w)| RateLimit {
            max: *max,
            window: parse_window(w).unwrap_or(Window::Minute),
        }),
        span: r.span,
    }
}
