//! Properties of the engine over random call sequences (quickcheck):
//! limits hold per calendar window, hidden and unlisted tools never pass,
//! and a rollback restores the counter.

use crate::engine_support;

use std::collections::HashMap;

use engine_support::*;
use gauntlet::clock::Timestamp;
use gauntlet::engine::store::MemoryStore;
use gauntlet::engine::window::window_start;
use gauntlet::engine::CounterStore;
use gauntlet::policy::model::{DefaultAction, Window};
use quickcheck::{quickcheck, TestResult};

const TOOLS: [&str; 4] = ["a", "b", "c", "d"];
const START: i64 = 1_772_445_600; // 2026-03-02T10:00:00Z

fn window_of(pick: u8) -> Window {
    match pick % 4 {
        0 => Window::Minute,
        1 => Window::Hour,
        2 => Window::Day,
        _ => Window::Seconds(u64::from(pick % 50) + 1),
    }
}

/// Sorted call times (seconds after START, spread over a few hours) and tool picks.
fn sequence(calls: &[(u8, u16)]) -> Vec<(&'static str, Timestamp)> {
    let mut steps: Vec<(&'static str, Timestamp)> = calls
        .iter()
        .map(|(tool, offset)| (TOOLS[*tool as usize % TOOLS.len()], Timestamp::from_secs(START + i64::from(*offset) / 4)))
        .collect();
    steps.sort_by_key(|(_, t)| *t);
    steps
}

fn at_most_n_per_window(limit: u8, pick: u8, per_tool: u8, calls: Vec<(u8, u16)>) -> TestResult {
    let n = i64::from(limit % 6) + 1;
    let per_tool_n = i64::from(per_tool % 4) + 1;
    let window = window_of(pick);
    let mut tools = vec![tool("*", vec![rate("*", "global", n, window)])];
    tools.push(tool("a", vec![rate("a", "a only", per_tool_n, Window::Minute)]));
    let e = engine(allow_policy(tools));
    let mut store = MemoryStore::new();
    let mut global: HashMap<Timestamp, i64> = HashMap::new();
    let mut per_a: HashMap<Timestamp, i64> = HashMap::new();
    for (name, now) in sequence(&calls) {
        if decide_at(&e, &mut store, name, None, now).is_allow() {
            *global.entry(window_start(window, now)).or_default() += 1;
            if name == "a" {
                *per_a.entry(window_start(Window::Minute, now)).or_default() += 1;
            }
        }
    }
    TestResult::from_bool(global.values().all(|c| *c <= n) && per_a.values().all(|c| *c <= per_tool_n))
}

#[test]
fn at_most_n_calls_are_allowed_in_any_calendar_window() {
    quickcheck(at_most_n_per_window as fn(u8, u8, u8, Vec<(u8, u16)>) -> TestResult);
}

/// Hidden names are never allowed, whatever else the policy lists or defaults to.
fn hidden_never_allowed(hide_mask: u8, list_mask: u8, deny_default: bool, calls: Vec<(u8, u16)>) -> bool {
    let hidden: Vec<&str> = TOOLS.iter().enumerate().filter(|(i, _)| hide_mask & (1 << i) != 0).map(|(_, t)| *t).collect();
    let listed = TOOLS.iter().enumerate().filter(|(i, _)| list_mask & (1 << i) != 0).map(|(_, t)| tool(t, vec![])).collect();
    let default = if deny_default { DefaultAction::Deny } else { DefaultAction::Allow };
    let e = engine(policy(default, &hidden, listed));
    let mut store = MemoryStore::new();
    sequence(&calls).into_iter().all(|(name, now)| {
        let allowed = decide_at(&e, &mut store, name, None, now).is_allow();
        !(allowed && hidden.contains(&name))
    })
}

#[test]
fn a_hidden_tool_is_never_allowed() {
    quickcheck(hidden_never_allowed as fn(u8, u8, bool, Vec<(u8, u16)>) -> bool);
}

/// Under `default: deny`, a tool that is not a key of `tools` is never allowed,
/// even when a `"*"` rule would pass it.
fn unlisted_never_allowed(list_mask: u8, calls: Vec<(u8, u16)>) -> bool {
    let listed: Vec<&str> = TOOLS.iter().enumerate().filter(|(i, _)| list_mask & (1 << i) != 0).map(|(_, t)| *t).collect();
    let mut tools: Vec<_> = listed.iter().map(|t| tool(t, vec![])).collect();
    tools.push(tool("*", vec![rate("*", "global", 1000, Window::Day)]));
    let e = engine(policy(DefaultAction::Deny, &[], tools));
    let mut store = MemoryStore::new();
    sequence(&calls).into_iter().all(|(name, now)| {
        let allowed = decide_at(&e, &mut store, name, None, now).is_allow();
        listed.contains(&name) || !allowed
    })
}

#[test]
fn under_default_deny_an_unlisted_tool_is_never_allowed() {
    quickcheck(unlisted_never_allowed as fn(u8, Vec<(u8, u16)>) -> bool);
}

/// After any history of non-negative charges, rolling back an allowed call
/// returns every counter it touched to its value before the call.
fn rollback_restores(history: Vec<u16>, amount: u16, cap: u32) -> TestResult {
    let mut spend = state("charge", "spend", Window::Day);
    spend.increment_from = Some(vec!["amount".into()]);
    let cap = i64::from(cap % 200_000);
    let r = stateful(rule("spend", vec![cond("state.charge.spend", "lte", gauntlet::policy::model::Value::Int(cap))]), spend);
    let e = engine(allow_policy(vec![
        tool("charge", vec![r]),
        tool("*", vec![rate("*", "global", 50, Window::Minute)]),
    ]));
    let mut store = MemoryStore::new();
    let now = Timestamp::from_secs(START);
    for h in &history {
        decide_at(&e, &mut store, "charge", Some(&format!(r#"{{"amount": {h}}}"#)), now);
    }
    let before = store.entries();
    let d = decide_at(&e, &mut store, "charge", Some(&format!(r#"{{"amount": {amount}}}"#)), now);
    if !d.is_allow() {
        return TestResult::from_bool(store.entries().iter().all(|(k, v)| {
            before.iter().find(|(bk, _)| bk == k).map_or(*v == 0, |(_, bv)| bv == v)
        }));
    }
    e.rollback(&mut store, &d.reservations);
    let restored = d.reservations.iter().all(|r| {
        let was = before.iter().find(|(k, _)| *k == r.key).map_or(0, |(_, v)| *v);
        store.read(&r.key, now) == Ok(was)
    });
    TestResult::from_bool(restored && !d.reservations.is_empty())
}

#[test]
fn a_rollback_returns_counters_to_their_value_before_the_call() {
    quickcheck(rollback_restores as fn(Vec<u16>, u16, u32) -> TestResult);
}
