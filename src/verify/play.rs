//! The player: sends a plan through a system under test on a virtual clock.
//!
//! Opens each session with a proper MCP handshake the first time it is used,
//! numbers requests, lets delayed upstream replies arrive in time order, and
//! records every tool name the agent saw in a `tools/list` answer.

use std::collections::BTreeSet;

use crate::agent::{handshake, Action};
use crate::clock::Timestamp;
use crate::engine::CallContext;
use crate::mock::LedgerEntry;

/// The system under test: an enforcing proxy with a mock server behind it.
pub trait System {
    /// The agent sends one line at `now`; returns what reaches the agent.
    fn send(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Vec<u8>>;
    /// Lets time pass; returns agent-visible messages delivered meanwhile.
    fn advance_to(&mut self, now: Timestamp) -> Vec<Vec<u8>>;
    /// Everything that reached the server, in arrival order.
    fn ledger(&self) -> &[LedgerEntry];
    /// The proxy's decisions on tool calls, in order (empty when the system keeps none).
    fn audit(&self) -> &[crate::proxy::audit::AuditRecord] {
        &[]
    }
}

/// What one play left behind.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    pub ledger: Vec<LedgerEntry>,
    /// Every tool name that appeared in a `tools/list` result the agent received.
    pub listed: BTreeSet<String>,
}

/// Context of an agent's session and identity numbers.
pub fn context(session: u32, identity: u32) -> CallContext {
    CallContext { identity: Some(format!("agent-{identity}")), session: Some(format!("session-{session}")) }
}

/// Replays `actions` (sorted by time) from `start`.
pub fn play(system: &mut dyn System, actions: &[Action], start: Timestamp) -> Observation {
    let mut listed = BTreeSet::new();
    let mut opened = BTreeSet::new();
    let mut next_id = 1u64;
    let mut last = start;
    for a in actions {
        let now = start.plus_nanos(a.at);
        last = last.max(now);
        for m in system.advance_to(now) {
            collect_listed(&m, &mut listed);
        }
        let ctx = context(a.session, a.identity);
        if opened.insert(a.session) {
            for line in handshake(next_id, next_id + 1) {
                for m in system.send(line.as_bytes(), &ctx, now) {
                    collect_listed(&m, &mut listed);
                }
            }
            next_id += 2;
        }
        let rendered = a.render(next_id);
        next_id += 1;
        // A multi-line raw template is several messages written back to back.
        for line in rendered.lines().filter(|l| !l.trim().is_empty()) {
            for m in system.send(line.as_bytes(), &ctx, now) {
                collect_listed(&m, &mut listed);
            }
        }
    }
    // Let every delayed reply arrive (commits and rollbacks happen then).
    for m in system.advance_to(last.plus_secs_f64(3600.0)) {
        collect_listed(&m, &mut listed);
    }
    Observation { ledger: system.ledger().to_vec(), listed }
}

fn collect_listed(bytes: &[u8], out: &mut BTreeSet<String>) {
    // Most replies are call results: only parse what can hold a tool list.
    if !std::str::from_utf8(bytes).is_ok_and(|s| s.contains("\"tools\"")) {
        return;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else { return };
    let items = match v {
        serde_json::Value::Array(a) => a,
        other => vec![other],
    };
    for item in items {
        if let Some(tools) = item["result"]["tools"].as_array() {
            out.extend(tools.iter().filter_map(|t| t["name"].as_str().map(String::from)));
        }
    }
}
