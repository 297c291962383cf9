//! Indexes a [`Policy`] once so that deciding a call is lookups, not searches.
//!
//! Per tool: the ordered rule list (own rules, then the `"*"` rules, not
//! repeated for the tool named `"*"`) and the stateful rules in reservation
//! order; per rule: its two denial messages and its limit (§2.6); per
//! counter key: the pre-built shared key and the scope of the StateDef that
//! owns it. Operands are rendered to their Go `%v` text here so conditions
//! never format the policy side at decision time. Compiling never fails: a
//! `Policy` is valid by construction.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::gofmt;
use crate::policy::model::{
    Action, Condition, CounterScope, DefaultAction, Dialect, Op, Path, Policy, Rule, Value, Window, WILDCARD,
};
use crate::profile::Profile;

use super::strict;
use super::CounterKey;

/// The tables looked up once or twice per call. Their keys are the policy's
/// names, fixed when it is compiled, so a seeded fast hash is enough.
type FastMap<K, V> = HashMap<K, V, RandomState>;

#[derive(Debug)]
pub(crate) struct Compiled {
    pub hidden: super::Hidden,
    pub default_deny: bool,
    pub tools: FastMap<String, Plan>,
    /// Plan for a tool that is not a key of `tools` (default allow): the `"*"` rules.
    pub unlisted: Plan,
    pub rules: Vec<CRule>,
    pub counters: Vec<CounterSlot>,
}

/// Which rules apply to one tool, as indices into [`Compiled::rules`].
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub rules: Vec<usize>,
    pub stateful: Vec<usize>,
    /// Some rule of this tool reserves against a limit: its decision runs as
    /// one unit of the store (see [`super::CounterStore::begin_decision`]).
    pub reserves: bool,
    /// Deciding a call may call the store: it reserves, or a condition reads a counter.
    pub counts: bool,
}

#[derive(Debug)]
pub(crate) struct CRule {
    pub name: String,
    pub deny_action: bool,
    pub conditions: Vec<CCond>,
    /// Engine-phase denial text (§3): `on_deny`, the rate-limit text, or `Denied by rule "<name>"`.
    pub rule_message: String,
    /// Reservation-refusal text (§3): `on_deny`, the rate-limit text, or `Rate limit exceeded for <name>`.
    pub limit_message: String,
    pub state: Option<CState>,
}

#[derive(Debug)]
pub(crate) struct CState {
    pub slot: usize,
    pub window: Window,
    pub increment: i64,
    pub increment_from: Option<Vec<String>>,
    /// `None`: no own `lt`/`lte` condition, so the rule never reserves (§2.6).
    pub limit: Option<i64>,
}

/// One counter key text and whose calls share it.
#[derive(Debug)]
pub(crate) struct CounterSlot {
    pub scope: CounterScope,
    /// The key for `CounterScope::Shared`; partitioned scopes copy its `key`.
    pub shared: CounterKey,
}

#[derive(Debug)]
pub(crate) enum CPath {
    Args(Vec<String>),
    State(usize),
}

/// A policy operand with its numeric view and `%v` text precomputed.
#[derive(Debug)]
pub(crate) struct Operand {
    pub num: Option<f64>,
    pub text: String,
}

impl Operand {
    fn new(v: &Value) -> Operand {
        Operand { num: numeric_view(v), text: gofmt::value::model(v) }
    }
}

#[derive(Debug)]
pub(crate) struct CCond {
    pub path: CPath,
    pub op: Op,
    pub operand: Operand,
    /// The elements for `in`/`not_in`; `None` when the operand is not a list.
    pub list: Option<Vec<Operand>>,
    /// The operand when it is a string (`contains` on a string, `regex`).
    pub string: Option<String>,
    /// Shared with the policy's condition (one compiled program and cache pool per pattern).
    pub regex: Option<std::sync::Arc<regex::Regex>>,
    /// For a regex that only bounds a length, that character interval:
    /// counted instead of run (its automaton has a state per character).
    pub length: Option<(u64, Option<u64>)>,
    /// The operand of `exists` when it is a bool.
    pub exists: Option<bool>,
}

/// N(x) of §2.4 for a policy operand: ints and floats; unsigned 64-bit has none.
pub(crate) fn numeric_view(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

impl Compiled {
    pub fn new(policy: &Policy, profile: Profile) -> Compiled {
        let mut counters: Vec<CounterSlot> = Vec::new();
        let mut slot_of: HashMap<String, usize> = HashMap::new();
        // Owners first, in file order, so a condition reading a key sees the
        // scope of the StateDef that owns it wherever the condition sits.
        for tool in &policy.tools {
            for rule in &tool.rules {
                if let Some(state) = &rule.state {
                    slot_index(&mut counters, &mut slot_of, &state.key, state.scope);
                }
            }
        }
        let mut rules = Vec::new();
        let mut per_tool: Vec<(String, Vec<usize>)> = Vec::new();
        for tool in &policy.tools {
            let mut ids = Vec::with_capacity(tool.rules.len());
            for rule in &tool.rules {
                ids.push(rules.len());
                rules.push(compile_rule(rule, profile, &mut counters, &mut slot_of));
            }
            per_tool.push((tool.name.clone(), ids));
        }
        let wildcard: Vec<usize> = per_tool
            .iter()
            .filter(|(name, _)| name == WILDCARD)
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        let plan = |own: &[usize], with_wildcard: bool| {
            let mut ids = own.to_vec();
            if with_wildcard {
                ids.extend_from_slice(&wildcard);
            }
            let stateful: Vec<usize> = ids.iter().copied().filter(|&i| rules[i].state.is_some()).collect();
            let reserves = stateful.iter().any(|&i| rules[i].state.as_ref().is_some_and(|s| s.limit.is_some()));
            let reads = ids.iter().any(|&i| rules[i].conditions.iter().any(|c| matches!(c.path, CPath::State(_))));
            Plan { rules: ids, stateful, reserves, counts: reserves || reads }
        };
        let mut tools: FastMap<String, Plan> = FastMap::default();
        for (name, ids) in &per_tool {
            if tools.contains_key(name) {
                continue;
            }
            let p = plan(ids, name != WILDCARD);
            tools.insert(name.clone(), p);
        }
        let unlisted = plan(&[], true);
        // Intercept collects a call's stateful rules as the tool's own (scope:
        // the tool's name) and then the "*" rules (scope `_global`) without
        // the engine phase's exception for the tool named "*": a call to it
        // takes each stateful "*" rule twice, first keyed `*.C` (its increment
        // computed, a limit only from a condition on `state.*.C`), then as
        // `_global.C`. So a missing `increment_from` argument there is an
        // internal error even behind a refused limit. Both profiles keep it:
        // taking the rules once would count less, never more.
        if policy.dialect == Dialect::Intercept {
            if let (Some(plan), Some(tool)) = (tools.get_mut(WILDCARD), policy.tools.iter().find(|t| t.name == WILDCARD)) {
                let mut twice = Vec::with_capacity(plan.stateful.len() * 2);
                for rule in tool.rules.iter().filter(|r| r.state.is_some()) {
                    let mut rule = rule.clone();
                    if let Some(state) = &mut rule.state {
                        state.key = format!("{WILDCARD}.{}", state.counter);
                    }
                    twice.push(rules.len());
                    rules.push(compile_rule(&rule, profile, &mut counters, &mut slot_of));
                }
                twice.extend_from_slice(&plan.stateful);
                plan.reserves = twice.iter().any(|&i| rules[i].state.as_ref().is_some_and(|s| s.limit.is_some()));
                plan.counts |= plan.reserves;
                plan.stateful = twice;
            }
        }
        Compiled {
            hidden: super::Hidden::new(&policy.hide),
            default_deny: policy.default == DefaultAction::Deny,
            tools,
            unlisted,
            rules,
            counters,
        }
    }
}

fn slot_index(
    counters: &mut Vec<CounterSlot>,
    slot_of: &mut HashMap<String, usize>,
    key: &str,
    scope: CounterScope,
) -> usize {
    if let Some(&i) = slot_of.get(key) {
        return i;
    }
    counters.push(CounterSlot { scope, shared: CounterKey { key: key.to_string(), partition: None } });
    slot_of.insert(key.to_string(), counters.len() - 1);
    counters.len() - 1
}

fn compile_rule(
    rule: &Rule,
    profile: Profile,
    counters: &mut Vec<CounterSlot>,
    slot_of: &mut HashMap<String, usize>,
) -> CRule {
    let conditions = rule
        .conditions
        .iter()
        .map(|c| compile_condition(c, counters, slot_of))
        .collect();
    let rate_text = rule.rate_limit.as_ref().map(|rl| {
        format!("Rate limit of {} per {} reached. Try again later.", rl.max, rl.window)
    });
    let (rule_message, limit_message) = if !rule.on_deny.is_empty() {
        (rule.on_deny.clone(), rule.on_deny.clone())
    } else if let Some(text) = rate_text {
        (text.clone(), text)
    } else {
        (
            format!("Denied by rule {}", gofmt::quote::quote(&rule.name)),
            format!("Rate limit exceeded for {}", rule.name),
        )
    };
    let state = rule.state.as_ref().map(|s| CState {
        slot: slot_index(counters, slot_of, &s.key, s.scope),
        window: s.window,
        increment: s.increment,
        increment_from: s.increment_from.clone(),
        limit: extract_limit(rule, &s.key, profile),
    });
    CRule {
        name: rule.name.clone(),
        deny_action: rule.action == Action::Deny,
        conditions,
        rule_message,
        limit_message,
        state,
    }
}

/// §2.6: the first condition on the rule's own counter with a numeric operand
/// and op `lt`/`lte` gives the limit; the conversion is the profile's.
fn extract_limit(rule: &Rule, key: &str, profile: Profile) -> Option<i64> {
    rule.conditions.iter().find_map(|c| {
        let own = matches!(&c.path, Path::State(k) if k == key);
        let v = numeric_view(&c.value)?;
        match (own, c.op) {
            (true, Op::Lte) => Some(strict::limit(profile, v, false)),
            (true, Op::Lt) => Some(strict::limit(profile, v, true)),
            _ => None,
        }
    })
}

fn compile_condition(
    c: &Condition,
    counters: &mut Vec<CounterSlot>,
    slot_of: &mut HashMap<String, usize>,
) -> CCond {
    let path = match &c.path {
        Path::Args(segments) => CPath::Args(segments.clone()),
        Path::State(key) => CPath::State(slot_index(counters, slot_of, key, CounterScope::Shared)),
    };
    CCond {
        path,
        op: c.op,
        operand: Operand::new(&c.value),
        list: match &c.value {
            Value::Seq(items) => Some(items.iter().map(Operand::new).collect()),
            _ => None,
        },
        string: match &c.value {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        },
        regex: c.regex.as_ref().map(|r| r.0.clone()),
        length: c.regex.as_ref().and_then(|r| crate::policy::regex::length_only(r.0.as_str())),
        exists: match c.value {
            Value::Bool(b) => Some(b),
            _ => None,
        },
    }
}
