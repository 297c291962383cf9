//! The player: sends a plan through a system under test on a virtual clock.
//!
//! Opens each session with a proper MCP handshake the first time it is used
//! (and a `tools/list` when the verdict reads it), numbers requests, lets delayed upstream replies arrive in time order, and
//! records every tool name the agent saw in a `tools/list` answer.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::denial::{self, Denial};
use super::faults::{Inject, Schedule, Timed};
use crate::agent::{handshake, Action, Payload};
use crate::clock::Timestamp;
use crate::caller::CallContext;
use crate::mock::{LedgerEntry, Surface};

/// The system under test: an enforcing proxy with a mock server behind it.
pub trait System {
    /// The agent sends one line at `now`; returns what reaches the agent.
    fn send(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Vec<u8>>;
    /// Lets time pass; returns agent-visible messages delivered meanwhile.
    fn advance_to(&mut self, now: Timestamp) -> Vec<Vec<u8>>;
    /// Everything that reached the server, in arrival order, handed over once
    /// the run is over (moved, not copied: a run's ledger can hold megabytes
    /// of oversized arguments).
    fn take_ledger(&mut self) -> Vec<LedgerEntry>;
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
    /// How the run missed its plan's timing when it did by more than a
    /// verdict can bear (a wall-clock system on a busy machine started its
    /// proxy after a fault was due, or sent a call into another window than
    /// planned): played again, it may keep it. Never on the virtual clock.
    fn timing_missed(&self) -> Option<String> {
        None
    }
    /// Does one fault of a scenario's schedule at `now`; returns what
    /// reaches the agent meanwhile. `Err`: this system cannot be faulted
    /// that way (the scenario is then unsupported here, never judged).
    fn inject(&mut self, what: &Inject, _now: Timestamp) -> Result<Vec<Vec<u8>>, String> {
        Err(format!("gauntlet cannot {} of this system", what.describe()))
    }
    /// Called once before [`System::begin`] with a run's whole fault
    /// schedule (a system whose faults are set up ahead, such as an
    /// upstream process told when to stall, prepares them here). `Err`: as
    /// for [`System::inject`], before anything is played.
    fn expect_faults(&mut self, _schedule: &Schedule) -> Result<(), String> {
        Ok(())
    }
    /// Whether [`System::inject`] does faults here at all: a run whose
    /// schedule needs one is then refused before it starts, not halfway.
    fn injects(&self) -> bool {
        false
    }
}

/// What one play left behind.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    pub ledger: Vec<LedgerEntry>,
    /// Every tool name that appeared in a `tools/list` result the agent received.
    pub listed: BTreeSet<String>,
    /// Every resource URI and prompt name in a `resources/list` or `prompts/list` result it received.
    pub listed_items: BTreeSet<(Surface, String)>,
    /// Every tool definition in a `tools/list` result the agent received
    /// (kept when the opening asks for them).
    pub definitions: Vec<Listed>,
    /// Every refusal of a tool call the agent received, in arrival order.
    pub denials: Vec<Denial>,
    /// Set when the system under test failed (see [`System::failure`]).
    pub failure: Option<String>,
    /// Set when the run did not keep its plan's timing (see [`System::timing_missed`]).
    pub timing_missed: Option<String>,
    /// Set when a fault of the schedule cannot be done to this system (see [`System::inject`]).
    pub unsupported: Option<String>,
    /// Tool calls left without any answer (counted only for runs with faults;
    /// calls cut off by a restart or sent after the upstream died excluded).
    pub unanswered: usize,
}

/// One tool definition as a `tools/list` answer showed it to the agent.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    pub name: String,
    pub entry: serde_json::Value,
}

/// Context of an agent's session and identity numbers.
pub fn context(session: u32, identity: u32) -> CallContext {
    CallContext { identity: Some(format!("agent-{identity}")), session: Some(format!("session-{session}")) }
}

/// Sessions with the scenario's second server are named with this prefix.
const SHADOW: &str = "shadow-";

/// The context an action is sent in: its session with the server under
/// test, or with the second server for a `via: shadow` step.
pub fn context_of(a: &Action) -> CallContext {
    let mut ctx = context(a.session, a.identity);
    if a.shadow {
        ctx.session = ctx.session.map(|s| format!("{SHADOW}{s}"));
    }
    ctx
}

/// Whether a session is one with the scenario's second server.
pub fn is_shadow(ctx: &CallContext) -> bool {
    ctx.session.as_deref().is_some_and(is_shadow_session)
}

/// The same, by the session's name.
pub fn is_shadow_session(session: &str) -> bool {
    session.starts_with(SHADOW)
}

/// How the player opens a session, and what it keeps of the lists it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opening {
    /// `false`: `initialize` and `notifications/initialized` only. Nothing
    /// reads a list's answer and the system does not depend on one, so the
    /// plan's own `tools/list`s are not sent either (their request ids stay
    /// reserved). `true`: the handshake, then a `tools/list`, as a real
    /// agent does. Listing every tool in each of a scenario's sessions is
    /// what made a run cost as much as the server has tools, so it is only
    /// done where a verdict reads the answer. A session whose first action is
    /// a `tools/list` opens with that one: a second at the same instant shows
    /// nothing new.
    pub list: bool,
    /// Keep every tool definition the agent is shown (a pinned check reads
    /// them); the plan's own lists are sent then, whether or not sessions
    /// open with one.
    pub definitions: bool,
}

impl Opening {
    pub const HANDSHAKE: Opening = Opening { list: false, definitions: false };
    pub const HANDSHAKE_AND_LIST: Opening = Opening { list: true, definitions: false };
}

/// Replays `actions` (sorted by time) from `start`.
pub fn play(system: &mut dyn System, actions: &[Action], start: Timestamp, opening: Opening) -> Observation {
    play_faulted(system, actions, &Schedule::default(), start, opening)
}

/// Where a faulted run stands: restarts so far, whether the upstream is gone.
#[derive(Default)]
struct Faulted {
    generation: u32,
    upstream_gone: bool,
    unsupported: Option<String>,
}

impl Faulted {
    /// Does one fault; `false` once a fault cannot be done here.
    fn apply(&mut self, system: &mut dyn System, seen: &mut Seen, opened: &mut BTreeSet<(bool, u32)>, f: &Timed, start: Timestamp) -> bool {
        let now = start.plus_nanos(f.at);
        seen.all(system.advance_to(now));
        match system.inject(&f.what, now) {
            Ok(messages) => seen.all(messages),
            Err(why) => {
                self.unsupported = Some(why);
                return false;
            }
        }
        match f.what {
            Inject::Restart => {
                // A new process: new sessions, and the calls in flight were cut off with the old one.
                self.generation += 1;
                opened.clear();
                seen.awaited.clear();
            }
            // The calls in flight stay awaited: a proxy answers them (an error) when its upstream dies.
            Inject::UpstreamDie => self.upstream_gone = true,
            _ => {}
        }
        true
    }
}

/// Replays `actions` (sorted by time) from `start`, doing the faults of `faults` on their schedule.
pub fn play_faulted(system: &mut dyn System, actions: &[Action], faults: &Schedule, start: Timestamp, opening: Opening) -> Observation {
    if let Some(first) = faults.injects.first().filter(|_| !system.injects()) {
        let why = format!("gauntlet cannot {} of this system", first.what.describe());
        return Observation { unsupported: Some(why), ..Observation::default() };
    }
    if let Err(why) = faults.injects.first().map_or(Ok(()), |_| system.expect_faults(faults)) {
        return Observation { unsupported: Some(why), ..Observation::default() };
    }
    system.begin(actions, start);
    let mut seen = Seen { keep_definitions: opening.definitions, track_answers: !faults.is_empty(), ..Seen::default() };
    let mut opened = BTreeSet::new();
    let mut next_id = 1u64;
    let mut last = start;
    let mut state = Faulted::default();
    let mut pending = faults.injects.iter().peekable();
    for a in actions {
        while let Some(f) = pending.next_if(|f| f.at <= a.at) {
            if !state.apply(system, &mut seen, &mut opened, f, start) {
                return seen.unsupported(system, state.unsupported);
            }
        }
        let now = start.plus_nanos(a.at);
        last = last.max(now);
        seen.all(system.advance_to(now));
        let ctx = faults.context(a.at, context_of(a), state.generation);
        if opened.insert((a.shadow, a.session)) {
            // The list's request id stays reserved either way, so every later line is the same.
            let lines = handshake(next_id, next_id + 1);
            let list = opening.list && !matches!(a.payload, Payload::List(Surface::Tool));
            let sent = if list { &lines[..] } else { &lines[..2] };
            for line in sent {
                seen.all(system.send(line.as_bytes(), &ctx, now));
            }
            next_id += 2;
        }
        let rendered = a.render(next_id);
        if a.tool_name().is_some() {
            seen.calls.insert(next_id.to_string());
            if seen.track_answers && !state.upstream_gone {
                seen.awaited.insert(next_id.to_string());
            }
        }
        next_id += 1;
        if !opening.list && !opening.definitions && matches!(a.payload, Payload::List(_)) {
            continue;
        }
        // A multi-line raw template is several messages written back to back.
        for line in rendered.lines().filter(|l| !l.trim().is_empty()) {
            seen.all(system.send(line.as_bytes(), &ctx, now));
        }
    }
    for f in pending {
        last = last.max(start.plus_nanos(f.at));
        if !state.apply(system, &mut seen, &mut opened, f, start) {
            return seen.unsupported(system, state.unsupported);
        }
    }
    // Let every delayed reply arrive (commits and rollbacks happen then).
    seen.all(system.settle(last));
    Observation {
        ledger: system.take_ledger(),
        listed: seen.listed,
        listed_items: seen.listed_items,
        definitions: seen.definitions,
        denials: seen.denials,
        failure: system.failure(),
        timing_missed: system.timing_missed(),
        unsupported: None,
        unanswered: seen.awaited.len(),
    }
}

/// What the agent learnt from the messages it received.
#[derive(Default)]
struct Seen {
    listed: BTreeSet<String>,
    listed_items: BTreeSet<(Surface, String)>,
    keep_definitions: bool,
    definitions: Vec<Listed>,
    denials: Vec<Denial>,
    /// Ids of the tool calls sent, as JSON text.
    calls: HashSet<String>,
    /// Whether answers are tracked (runs with faults).
    track_answers: bool,
    /// Ids of the tool calls sent and not answered yet (when tracked).
    awaited: HashSet<String>,
}

impl Seen {
    fn all(&mut self, messages: Vec<Vec<u8>>) {
        for m in messages {
            if self.keep_definitions {
                collect_definitions(&m, &mut self.definitions);
            }
            collect_listed(&m, &mut self.listed);
            collect_listed_items(&m, &mut self.listed_items);
            self.collect_denials(&m);
            if self.track_answers {
                self.collect_answers(&m);
            }
        }
    }

    /// Marks the calls a message (or a batch) answers.
    fn collect_answers(&mut self, bytes: &[u8]) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else { return };
        let items = match v {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        for item in items.iter().filter(|i| i.get("result").is_some() || i.get("error").is_some()) {
            if let Some(id) = item.get("id") {
                self.awaited.remove(&id.to_string());
            }
        }
    }

    /// The observation of a run stopped because a fault cannot be done here.
    fn unsupported(self, system: &mut dyn System, why: Option<String>) -> Observation {
        Observation {
            ledger: system.take_ledger(),
            listed: self.listed,
            listed_items: self.listed_items,
            denials: self.denials,
            definitions: self.definitions,
            failure: system.failure(),
            timing_missed: system.timing_missed(),
            unsupported: why,
            unanswered: 0,
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

/// Every tool entry of the `tools/list` results in a line, whole.
fn collect_definitions(bytes: &[u8], out: &mut Vec<Listed>) {
    for item in messages_holding(bytes, &["\"tools\""]) {
        for entry in item["result"]["tools"].as_array().into_iter().flatten() {
            if let Some(name) = entry["name"].as_str() {
                out.push(Listed { name: name.to_string(), entry: entry.clone() });
            }
        }
    }
}

/// Resource URIs and prompt names in `resources/list` and `prompts/list` results.
fn collect_listed_items(bytes: &[u8], out: &mut BTreeSet<(Surface, String)>) {
    for item in messages_holding(bytes, &["\"resources\"", "\"prompts\""]) {
        for surface in [Surface::Resource, Surface::Prompt] {
            let entries = item["result"][surface.list_member()].as_array().into_iter().flatten();
            out.extend(entries.filter_map(|e| e[surface.key_member()].as_str().map(|n| (surface, n.to_string()))));
        }
    }
}

/// The tool names in a line (an object or a batch), read in one pass that
/// skips everything else (a large server's input schemas are never built);
/// `None` when any part has an unusual shape (a message, `result` or tool
/// that is not an object, `tools` that is not an array, a repeated member),
/// which the general reading then decides exactly as before.
fn listed_names(bytes: &[u8]) -> Option<Vec<String>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut names = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    match text.trim_start().starts_with('[') {
        true => Each(Element::Message, &mut names).deserialize(&mut de).ok()?,
        false => message(&mut names).deserialize(&mut de).ok()?,
    }
    de.end().ok()?;
    Some(names)
}

/// An object whose member `key` goes to `seed`; the others are skipped.
struct Member<S> {
    key: &'static str,
    seed: S,
}

impl<'de, S: DeserializeSeed<'de, Value = ()>> DeserializeSeed<'de> for Member<S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: DeserializeSeed<'de, Value = ()>> Visitor<'de> for Member<S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seed = Some(self.seed);
        while let Some(wanted) = map.next_key_seed(KeyIs(self.key))? {
            match (wanted, seed.take()) {
                (true, Some(s)) => map.next_value_seed(s)?,
                // Repeated: the last one counts, which the general reading decides.
                (true, None) => return Err(A::Error::custom("repeated member")),
                (false, s) => {
                    seed = s;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Whether an object key is `.0`.
struct KeyIs(&'static str);

impl<'de> DeserializeSeed<'de> for KeyIs {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// What an array holds: messages (a batch) or tools (`tools`).
#[derive(Clone, Copy)]
enum Element {
    Message,
    Tool,
}

/// A message: `result.tools`.
fn message(names: &mut Vec<String>) -> Member<Member<Each<'_>>> {
    Member { key: "result", seed: Member { key: "tools", seed: Each(Element::Tool, names) } }
}

/// An array, each element read for the tool names it holds.
struct Each<'n>(Element, &'n mut Vec<String>);

impl<'de> DeserializeSeed<'de> for Each<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Each<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let names = &mut *self.1;
            let more = match self.0 {
                Element::Message => seq.next_element_seed(message(names))?,
                Element::Tool => seq.next_element_seed(Member { key: "name", seed: Name(names) })?,
            };
            if more.is_none() {
                return Ok(());
            }
        }
    }
}

/// A tool's `name`: kept when it is a string, skipped otherwise.
struct Name<'n>(&'n mut Vec<String>);

impl<'de> DeserializeSeed<'de> for Name<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let raw = <&RawValue>::deserialize(d)?;
        if raw.get().starts_with('"') {
            self.0.push(serde_json::from_str(raw.get()).map_err(D::Error::custom)?);
        }
        Ok(())
    }
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
    use crate::agent::Payload;

    /// Keeps every line sent; answers nothing.
    #[derive(Default)]
    struct Sent(Vec<String>);

    impl System for Sent {
        fn send(&mut self, line: &[u8], _: &CallContext, _: Timestamp) -> Vec<Vec<u8>> {
            self.0.push(String::from_utf8_lossy(line).into_owned());
            Vec::new()
        }
        fn advance_to(&mut self, _: Timestamp) -> Vec<Vec<u8>> {
            Vec::new()
        }
        fn take_ledger(&mut self) -> Vec<LedgerEntry> {
            Vec::new()
        }
    }

    #[test]
    fn lists_are_sent_only_where_an_answer_is_read_and_never_twice_at_once() {
        let act = |at, payload| Action { at, session: 1, identity: 1, payload, shadow: false };
        let call = || Payload::Call { name: "t".into(), arguments: serde_json::json!({}) };
        let plan = [act(0, Payload::List(Surface::Tool)), act(1, call()), act(2, Payload::List(Surface::Tool)), act(3, call())];
        let methods = |opening| {
            let mut sys = Sent::default();
            play(&mut sys, &plan, Timestamp(0), opening);
            sys.0
                .iter()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    format!("{}#{}", v["method"].as_str().unwrap(), v["id"])
                })
                .collect::<Vec<_>>()
        };
        // The session opens with the plan's own list; ids stay where a separate opening list would put them.
        assert_eq!(
            methods(Opening::HANDSHAKE_AND_LIST),
            ["initialize#1", "notifications/initialized#null", "tools/list#3", "tools/call#4", "tools/list#5", "tools/call#6"]
        );
        // Nothing reads a list: none is sent, and every call keeps its id.
        assert_eq!(methods(Opening::HANDSHAKE), ["initialize#1", "notifications/initialized#null", "tools/call#4", "tools/call#6"]);
    }

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
            r#"{"result":{"tools":[{"name":"x"}]},"result":{"tools":[{"name":"y"}]}}"#,
            r#"{"result":{"tools":[{"n\u0061me":"escaped key"}],"tools":[]}}"#,
            r#"{"result":{"tools":[["not an object"]]}}"#,
        ];
        for line in lines {
            let mut seen = BTreeSet::new();
            collect_listed(line.as_bytes(), &mut seen);
            assert_eq!(seen, by_value(line), "{line}");
        }
        assert_eq!(listed_names(lines[0].as_bytes()), Some(vec!["a".to_string(), "b\u{e9}".to_string()]));
        assert_eq!(listed_names(lines[2].as_bytes()), Some(vec!["a".to_string()]), "a name that is no string is skipped");
        assert_eq!(listed_names(lines[5].as_bytes()), None, "a `result` array goes to the general reading");
        assert_eq!(listed_names(lines[8].as_bytes()), None, "a repeated `result` goes to the general reading");
    }
}
