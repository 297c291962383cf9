//! Intercept's load-time defaults (semantics §1.3): `default` → allow, the
//! `rate_limit: N/window` shorthand desugared into a condition plus a state
//! block, empty `action` → evaluate, `increment: 0` → 1.
//!
//! A shorthand that cannot be desugared is left as written, for validation
//! to report; nothing here produces an error.

use super::raw::{RawCondition, RawConfig, RawState};
use crate::policy::model::Value;

/// Why a `rate_limit` string does not parse, in Intercept's words.
pub fn parse_rate_limit(s: &str) -> Result<(i64, &str), String> {
    let Some((count, window)) = s.split_once('/') else {
        return Err(format!(
            "rate_limit must be in the format \"N/window\" (e.g. \"5/hour\"), got {}",
            crate::gofmt::quote::quote(s)
        ));
    };
    match go_atoi(count) {
        Some(n) if n > 0 => {}
        _ => {
            return Err(format!(
                "rate_limit count must be a positive integer, got {}",
                crate::gofmt::quote::quote(count)
            ))
        }
    }
    if !matches!(window, "minute" | "hour" | "day") {
        return Err(format!(
            "rate_limit window must be \"minute\", \"hour\", or \"day\", got {}",
            crate::gofmt::quote::quote(window)
        ));
    }
    Ok((go_atoi(count).unwrap_or_default(), window))
}

/// Go `strconv.Atoi`: optional sign, ASCII digits only, must fit i64.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub fn normalise(cfg: &mut RawConfig) {
    if cfg.default.is_empty() {
        cfg.default = "allow".into();
    }
    for tool in &mut cfg.tools {
        let scope = if tool.name == "*" { "_global".to_string() } else { tool.name.clone() };
        for rule in &mut tool.rules {
            let can_desugar = !rule.rate_limit.is_empty()
                && rule.conditions.is_empty()
                && rule.state.is_none()
                && rule.action != "deny";
            if can_desugar {
                if let Ok((count, window)) = parse_rate_limit(&rule.rate_limit) {
                    let window = window.to_string();
                    let counter = format!("_rate_{window}");
                    rule.action = "evaluate".into();
                    rule.conditions = vec![RawCondition {
                        path: format!("state.{scope}.{counter}"),
                        op: "lte".into(),
                        value: Value::Int(count),
                        span: rule.span,
                    }];
                    rule.state = Some(RawState {
                        counter,
                        window: window.clone(),
                        increment: 1,
                        increment_from: String::new(),
                        span: rule.span,
                    });
                    if rule.on_deny.is_empty() {
                        rule.on_deny = format!("Rate limit of {count} per {window} reached. Try again later.");
                    }
                    rule.rate_limit.clear();
                    rule.desugared = Some((count, window));
                }
            }
            if rule.action.is_empty() {
                rule.action = "evaluate".into();
            }
            if let Some(state) = &mut rule.state {
                if state.increment == 0 {
                    state.increment = 1;
                }
            }
        }
    }
}
