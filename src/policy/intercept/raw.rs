//! Intercept's config structs, filled from the YAML tree the way yaml.v3
//! fills Intercept's Go structs: strings everywhere, unknown keys ignored
//! (but remembered, so the strict profile can warn), null list entries
//! dropped, type mismatches collected as yaml.v3's messages.
//!
//! No defaults, no validation here: that is [`super::normalise`] and
//! [`super::validate`].

use crate::policy::model::{Span, TopKeys, Value};
use crate::policy::decode::Decoder;
use crate::yaml::{Kind, Node};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawConfig {
    pub version: String,
    pub description: String,
    pub default: String,
    pub hide: Vec<(String, Span)>,
    /// File order; keys are unique (duplicates are a load error).
    pub tools: Vec<RawTool>,
    /// Keys Intercept ignores, with where they are and what they sit in.
    pub unknown_keys: Vec<UnknownKey>,
    /// Where the `default`, `hide` and `tools` keys are.
    pub keys: TopKeys,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnknownKey {
    pub key: String,
    /// The known keys at that level, for a did-you-mean.
    pub expected: &'static [&'static str],
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawTool {
    pub name: String,
    pub rules: Vec<RawRule>,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawRule {
    pub name: String,
    pub action: String,
    pub rate_limit: String,
    pub conditions: Vec<RawCondition>,
    pub on_deny: String,
    pub state: Option<RawState>,
    /// Set by normalisation when `rate_limit: N/window` was desugared.
    pub desugared: Option<(i64, String)>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RawCondition {
    pub path: String,
    pub op: String,
    pub value: Value,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawState {
    pub counter: String,
    pub window: String,
    pub increment: i64,
    pub increment_from: String,
    pub span: Span,
}

pub fn span(n: &Node) -> Span {
    Span { line: n.line, column: n.column }
}

const TOP_KEYS: &[&str] = &["version", "description", "default", "hide", "tools"];
const TOOL_KEYS: &[&str] = &["rules"];
const RULE_KEYS: &[&str] = &["name", "action", "rate_limit", "conditions", "on_deny", "state"];
const CONDITION_KEYS: &[&str] = &["path", "op", "value"];
const STATE_KEYS: &[&str] = &["counter", "window", "increment", "increment_from"];

/// Walks a struct mapping: calls `field` for each known key, records the rest.
fn each_field<'n>(
    d: &mut Decoder,
    n: &'n Node,
    go_type: &str,
    known: &'static [&'static str],
    unknown: &mut Vec<UnknownKey>,
    mut field: impl FnMut(&mut Decoder, &str, &'n Node, &mut Vec<UnknownKey>),
) -> bool {
    let Some(entries) = d.mapping(n, go_type) else { return false };
    for (k, v) in entries {
        let Some(key) = d.key(k) else { continue };
        if known.contains(&key.as_str()) {
            field(d, &key, v, unknown);
        } else {
            unknown.push(UnknownKey { key, expected: known, span: span(k) });
        }
    }
    true
}

fn set_string(d: &mut Decoder, slot: &mut String, v: &Node) {
    if let Some(s) = d.string(v) {
        *slot = s;
    }
}

/// Decodes the document root (absent = empty file) into a [`RawConfig`].
pub fn decode(d: &mut Decoder, root: Option<&Node>) -> RawConfig {
    let mut cfg = RawConfig::default();
    let Some(root) = root else { return cfg };
    let mut unknown = Vec::new();
    each_field(d, root, "config.Config", TOP_KEYS, &mut unknown, |d, key, v, unknown| match key {
        "version" => set_string(d, &mut cfg.version, v),
        "description" => set_string(d, &mut cfg.description, v),
        "default" => set_string(d, &mut cfg.default, v),
        "hide" => {
            if let Some(items) = d.seq(v, "[]string") {
                cfg.hide = items.iter().filter_map(|i| d.string(i).map(|s| (s, span(i)))).collect();
            }
        }
        "tools" => cfg.tools = decode_tools(d, v, unknown),
        _ => {}
    });
    cfg.unknown_keys = unknown;
    if let Kind::Map(entries) = &root.kind {
        for (k, _) in entries {
            let slot = match &k.kind {
                Kind::Scalar { text, .. } if text == "default" => &mut cfg.keys.default,
                Kind::Scalar { text, .. } if text == "hide" => &mut cfg.keys.hide,
                Kind::Scalar { text, .. } if text == "tools" => &mut cfg.keys.tools,
                _ => continue,
            };
            *slot = Some(span(k));
        }
    }
    cfg
}

fn decode_tools(d: &mut Decoder, n: &Node, unknown: &mut Vec<UnknownKey>) -> Vec<RawTool> {
    let Some(entries) = d.mapping(n, "map[string]config.ToolDef") else { return Vec::new() };
    let mut tools = Vec::new();
    for (k, v) in entries {
        let Some(name) = d.key(k) else { continue };
        let mut tool = RawTool { name, rules: Vec::new(), span: span(k) };
        let null = matches!(&v.kind, Kind::Scalar { .. }) && d.string(v).is_none();
        let ok = null
            || each_field(d, v, "config.ToolDef", TOOL_KEYS, unknown, |d, _key, v, unknown| {
                if let Some(items) = d.seq(v, "[]config.Rule") {
                    tool.rules = items.iter().filter_map(|i| decode_rule(d, i, unknown)).collect();
                }
            });
        if ok {
            tools.push(tool);
        }
    }
    tools
}

fn decode_rule(d: &mut Decoder, n: &Node, unknown: &mut Vec<UnknownKey>) -> Option<RawRule> {
    let mut rule = RawRule { span: span(n), ..RawRule::default() };
    let ok = each_field(d, n, "config.Rule", RULE_KEYS, unknown, |d, key, v, unknown| match key {
        "name" => set_string(d, &mut rule.name, v),
        "action" => set_string(d, &mut rule.action, v),
        "rate_limit" => set_string(d, &mut rule.rate_limit, v),
        "on_deny" => set_string(d, &mut rule.on_deny, v),
        "conditions" => {
            if let Some(items) = d.seq(v, "[]config.Condition") {
                rule.conditions = items.iter().filter_map(|i| decode_condition(d, i, unknown)).collect();
            }
        }
        "state" => rule.state = decode_state(d, v, unknown),
        _ => {}
    });
    ok.then_some(rule)
}

fn decode_condition(d: &mut Decoder, n: &Node, unknown: &mut Vec<UnknownKey>) -> Option<RawCondition> {
    let mut cond = RawCondition { path: String::new(), op: String::new(), value: Value::Null, span: span(n) };
    let ok = each_field(d, n, "config.Condition", CONDITION_KEYS, unknown, |d, key, v, _| match key {
        "path" => set_string(d, &mut cond.path, v),
        "op" => set_string(d, &mut cond.op, v),
        "value" => cond.value = d.any(v),
        _ => {}
    });
    ok.then_some(cond)
}

fn decode_state(d: &mut Decoder, n: &Node, unknown: &mut Vec<UnknownKey>) -> Option<RawState> {
    let mut state = RawState { span: span(n), ..RawState::default() };
    let ok = each_field(d, n, "config.StateDef", STATE_KEYS, unknown, |d, key, v, _| match key {
        "counter" => set_string(d, &mut state.counter, v),
        "window" => set_string(d, &mut state.window, v),
        "increment_from" => set_string(d, &mut state.increment_from, v),
        "increment" => {
            if let Some(i) = d.int(v) {
                state.increment = i;
            }
        }
        _ => {}
    });
    // yaml.v3 allocates the pointer before it looks at the mapping, so a
    // `state:` that failed to decode still counts as present.
    let present = ok || !matches!(&n.kind, Kind::Scalar { .. }) || d.string(n).is_some();
    present.then_some(state)
}
