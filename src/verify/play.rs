//! The player: sends a plan through a system under test on a virtual clock.
//!
//! Opens each session with a proper MCP handshake the first time it is used
//! (and a `tools/list` when the verdict reads it), numbers requests, lets delayed upstream replies arrive in time order, and
//! records every tool name the agent saw in a `tools/list` answer.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::value::RawValue;

use super::denial::{self, Denial};
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
    /// Called once before the first action with the whole plan (a wall-clock
    /// system lines its calendar up with it).
    fn begin(&mut self, _actions: &[Action], _start: Timestamp) {}
    /// Lets every reply still owed after the last action (at `last`) arrive.
    fn settle(&mut self, last: Timestamp) -> Vec<Vec<u8>> {
        self.advance_to(last.plus_secs_f64(3600.0))
    }
    /// Why the run could not be judged (the system under test hung or died).
    fn failure(&self) -> Option<String> {
        None
    }
}

/// What one play left behind.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    pub ledger: Vec<LedgerEntry>,
    /// Every tool name that appeared in a `tools/list` result the agent received.
    pub listed: BTreeSet<String>,
    /// Every refusal of a tool call the agent received, in arrival order.
    pub denials: Vec<Denial>,
    /// Set when the system under test failed (see [`System::failure`]).
    pub failure: Option<String>,
}

/// Context of an agent's session and identity numbers.
pub fn context(session: u32, identity: u32) -> CallContext {
    CallContext { identity: Some(format!("agent-{identity}")), session: Some(format!("session-{session}")) }
}

/// How the player opens a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// `initialize` and `notifications/initialized`.
    Handshake,
    /// The handshake, then a `tools/list`, as a real agent does. Only a
    /// `never listed` check reads that answer, and listing every tool in each
    /// of a scenario's sessions is what made a run cost as much as the
    /// server has tools.
    HandshakeAndList,
}

/// Replays `actions` (sorted by time) from `start`.
pub fn play(system: &mut dyn System, actions: &[Action], start: Timestamp, opening: Opening) -> Observation {
    system.begin(actions, start);
    let mut seen = Seen::default();
    let mut opened = BTreeSet::new();
    let mut next_id = 1u64;
    let mut last = start;
    for a in actions {
        let now = start.plus_nanos(a.at);
        last = last.max(now);
        seen.all(system.advance_to(now));
        let ctx = context(a.session, a.identity);
        if opened.insert(a.session) {
            // The list's request id stays reserved either way, so every later line is the same.
            let lines = handshake(next_id, next_id + 1);
            let sent = if opening == Opening::HandshakeAndList { &lines[..] } else { &lines[..2] };
            for line in sent {
                seen.all(system.send(line.as_bytes(), &ctx, now));
            }
            next_id += 2;
        }
        let rendered = a.render(next_id);
        if a.tool_name().is_some() {
            seen.calls.insert(next_id.to_string());
        }
        next_id += 1;
        // A multi-line raw template is several messages written back to back.
        for line in rendered.lines().filter(|l| !l.trim().is_empty()) {
            seen.all(system.send(line.as_bytes(), &ctx, now));
        }
    }
    // Let every delayed reply arrive (commits and rollbacks happen then).
    seen.all(system.settle(last));
    Observation { ledger: system.ledger().to_vec(), listed: seen.listed, denials: seen.denials, failure: system.failure() }
}

/// What the agent learnt from the messages it received.
#[derive(Default)]
struct Seen {
    listed: BTreeSet<String>,
    denials: Vec<Denial>,
    /// Ids of the tool calls sent, as JSON text.
    calls: HashSet<String>,
}

impl Seen {
    fn all(&mut self, messages: Vec<Vec<u8>>) {
        for m in messages {
            collect_listed(&m, &mut self.listed);
            self.collect_denials(&m);
        }
    }

    fn collect_denials(&mut self, bytes: &[u8]) {
        // Only parse what can hold a refusal.
        for item in messages_holding(bytes, &["\"error\"", "\"isError\""]) {
            let is_call = item.get("id").is_some_and(|id| self.calls.contains(&id.to_string()));
            if let Some(d) = denial::of_response(&item).filter(|_| is_call) {
                self.denials.push(d);
            }
        }
    }
}

fn collect_listed(bytes: &[u8], out: &mut BTreeSet<String>) {
    // Most replies are call results: only parse what can hold a tool list.
    if !holds(bytes, &["\"tools\""]) {
        return;
    }
    if let Some(names) = listed_names(bytes) {
        out.extend(names);
        return;
    }
    for item in messages_holding(bytes, &["\"tools\""]) {
        if let Some(tools) = item["result"]["tools"].as_array() {
            out.extend(tools.iter().filter_map(|t| t["name"].as_str().map(String::from)));
        }
    }
}

/// The members of one JSON object, values left as text: reading a large
/// server's page this way skips its input schemas without building them.
type Members<'a> = HashMap<Cow<'a, str>, &'a RawValue>;

/// The tool names in a line (an object or a batch), read without building the
/// rest of the page; `None` when any part has an unusual shape (a message,
/// `result` or tool that is not an object, `tools` that is not an array),
/// which the general reading then decides exactly as before.
fn listed_names(bytes: &[u8]) -> Option<Vec<String>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let messages: Vec<&RawValue> = match text.trim_start().starts_with('[') {
        true => serde_json::from_str(text).ok()?,
        false => vec![serde_json::from_str(text).ok()?],
    };
    let mut names = Vec::new();
    for message in messages {
        let message: Members = serde_json::from_str(message.get()).ok()?;
        let Some(result) = message.get("result") else { continue };
        let result: Members = serde_json::from_str(result.get()).ok()?;
        let Some(tools) = result.get("tools") else { continue };
        for tool in serde_json::from_str::<Vec<&RawValue>>(tools.get()).ok()? {
            let tool: Members = serde_json::from_str(tool.get()).ok()?;
            if let Some(name) = tool.get("name").filter(|n| n.get().starts_with('"')) {
                names.push(serde_json::from_str(name.get()).ok()?);
            }
        }
    }
    Some(names)
}

/// Whether the text of a line holds one of `markers`.
fn holds(bytes: &[u8], markers: &[&str]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| markers.iter().any(|m| s.contains(m)))
}

/// The messages in one received line (an object or a batch), parsed only when
/// the text holds one of `markers`: most lines are results nobody reads here.
fn messages_holding(bytes: &[u8], markers: &[&str]) -> Vec<serde_json::Value> {
    if !holds(bytes, markers) {
        return Vec::new();
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(one) => vec![one],
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the general reading finds, for comparison with the quick one.
    fn by_value(line: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for item in messages_holding(line.as_bytes(), &["\"tools\""]) {
            if let Some(tools) = item["result"]["tools"].as_array() {
                out.extend(tools.iter().filter_map(|t| t["name"].as_str().map(String::from)));
            }
        }
        out
    }

    #[test]
    fn listed_names_agree_with_the_general_reading_or_defer_to_it() {
        let lines = [
            r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"a","inputSchema":{"type":"object"}},{"name":"b\u00e9"}]}}"#,
            r#"[{"id":1,"result":{"tools":[{"name":"x"}]}},{"id":2,"result":{"tools":[{"name":"y"}]}}]"#,
            r#"{"result":{"tools":[{"name":"a"},{"name":7},{"title":"no name"}]}}"#,
            r#"{"result":{"tools":[{"name":"first","name":"last"}]}}"#,
            r#"[[{"result":{"tools":[{"name":"nested"}]}}]]"#,
            r#"{"result":[{"tools":[{"name":"in an array"}]}]}"#,
            r#"{"result":null,"tools":[{"name":"top level"}]}"#,
            r#"{"result":{"tools":null}}"#,
        ];
        for line in lines {
            let mut seen = BTreeSet::new();
            collect_listed(line.as_bytes(), &mut seen);
            assert_eq!(seen, by_value(line), "{line}");
        }
        assert_eq!(listed_names(lines[0].as_bytes()), Some(vec!["a".to_string(), "b\u{e9}".to_string()]));
        assert_eq!(listed_names(lines[2].as_bytes()), Some(vec!["a".to_string()]), "a name that is no string is skipped");
        assert_eq!(listed_names(lines[5].as_bytes()), None, "a `result` array goes to the general reading");
    }
}
