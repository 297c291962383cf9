//! Builders for typed policies and a small driver, shared by the engine tests.
//!
//! Policies are built directly in the model (not parsed from YAML) so these
//! tests check the engine alone; `rate` desugars a `rate_limit` exactly as
//! the Intercept front end does (semantics §1.3).

use std::sync::Arc;

use gauntlet::clock::Timestamp;
use gauntlet::caller::CallContext;
use gauntlet::engine::{CounterKey, CounterStore, Decision, Engine, Outcome, ToolCall};
use gauntlet::policy::model::{
    Action, Condition, CounterScope, DefaultAction, Dialect, Op, Path, Policy, RateLimit, Regex, Rule, Span,
    StateDef, ToolPolicy, Value, Window,
};
use gauntlet::profile::Profile;

pub fn policy(default: DefaultAction, hide: &[&str], tools: Vec<ToolPolicy>) -> Policy {
    Policy {
        dialect: Dialect::Intercept,
        version: "1".into(),
        description: String::new(),
        default,
        hide: hide.iter().map(|s| s.to_string()).collect(),
        tools,
        keys: Default::default(),
    }
}

pub fn allow_policy(tools: Vec<ToolPolicy>) -> Policy {
    policy(DefaultAction::Allow, &[], tools)
}

pub fn tool(name: &str, rules: Vec<Rule>) -> ToolPolicy {
    ToolPolicy { name: name.into(), rules, span: Span::default() }
}

pub fn rule(name: &str, conditions: Vec<Condition>) -> Rule {
    Rule {
        name: name.into(),
        action: Action::Evaluate,
        conditions,
        on_deny: String::new(),
        state: None,
        rate_limit: None,
        span: Span::default(),
    }
}

pub fn deny_rule(name: &str, on_deny: &str) -> Rule {
    Rule { action: Action::Deny, on_deny: on_deny.into(), ..rule(name, vec![]) }
}

pub fn on_deny(mut r: Rule, text: &str) -> Rule {
    r.on_deny = text.into();
    r
}

/// `path` is `args.a.b` or `state.<key>`; a `regex` operand is compiled.
pub fn cond(path: &str, op: &str, value: Value) -> Condition {
    let path = match path.strip_prefix("state.") {
        Some(key) => Path::State(key.into()),
        None => Path::Args(path.trim_start_matches("args.").split('.').map(String::from).collect()),
    };
    let op = Op::parse(op).expect("known op");
    let regex = match (&op, &value) {
        (Op::Regex, Value::Str(p)) => Some(Regex(std::sync::Arc::new(regex::Regex::new(p).expect("valid pattern")))),
        _ => None,
    };
    Condition { path, op, value, regex, span: Span::default() }
}

pub fn s(text: &str) -> Value {
    Value::Str(text.into())
}

pub fn list(items: Vec<Value>) -> Value {
    Value::Seq(items)
}

/// The key a rule of `tool` owns for `counter` (`_global` for `"*"`).
pub fn key_of(tool: &str, counter: &str) -> String {
    let scope = if tool == "*" { "_global" } else { tool };
    format!("{scope}.{counter}")
}

pub fn state(tool: &str, counter: &str, window: Window) -> StateDef {
    StateDef {
        key: key_of(tool, counter),
        counter: counter.into(),
        window,
        increment: 1,
        increment_from: None,
        scope: CounterScope::Shared,
    }
}

pub fn stateful(r: Rule, st: StateDef) -> Rule {
    Rule { state: Some(st), ..r }
}

/// `rate_limit: N/window` on `tool`, desugared as the front end does, but
/// with `on_deny` left empty so the engine's own rate-limit text is exercised.
pub fn rate(tool: &str, name: &str, max: i64, window: Window) -> Rule {
    let st = state(tool, &format!("_rate_{window}"), window);
    let c = cond(&format!("state.{}", st.key), "lte", Value::Int(max));
    Rule {
        rate_limit: Some(RateLimit { max, window }),
        ..stateful(rule(name, vec![c]), st)
    }
}

pub fn engine(p: Policy) -> Engine {
    Engine::new(Arc::new(p), Profile::Intercept)
}

pub fn strict_engine(p: Policy) -> Engine {
    Engine::new(Arc::new(p), Profile::Strict)
}

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("test time")
}

pub fn args(json: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(json).expect("test arguments")
}

pub fn decide_at(
    e: &Engine,
    store: &mut dyn CounterStore,
    name: &str,
    arguments: Option<&str>,
    now: Timestamp,
) -> Decision {
    let parsed = arguments.map(args);
    e.decide(store, &ToolCall { name, arguments: parsed.as_ref() }, &CallContext::default(), now)
}

/// The denial text, or `None` when allowed.
pub fn denial(d: &Decision) -> Option<&str> {
    match &d.outcome {
        Outcome::Allow => None,
        Outcome::Deny { message, .. } => Some(message),
    }
}

pub fn shared(key: &str) -> CounterKey {
    CounterKey { key: key.into(), partition: None }
}
