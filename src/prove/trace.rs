//! Counterexamples as traces: calls with their times (and, where counters
//! are kept per caller, a fresh identity and session each), replayed
//! through the embedded engine before anything is shown, and written as the
//! JSONL lines `gauntlet replay` reads, with the one command that replays them.

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::caller::CallContext;
use crate::clock::Timestamp;
use crate::engine::store::MemoryStore;
use crate::engine::{Engine, ToolCall};
use crate::invocation;

/// Where every counterexample starts: a UTC day boundary, as in `verify`.
pub const START: Timestamp = crate::verify::START;

/// One call of a counterexample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Call {
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    pub tool: String,
    pub arguments: Map<String, Json>,
}

impl Call {
    pub fn new(at: Timestamp, tool: &str, arguments: Map<String, Json>) -> Call {
        Call { at: at.to_rfc3339(), identity: None, session: None, tool: tool.to_string(), arguments }
    }

    /// The same call from the `n`th caller: its own identity and session.
    pub fn from_caller(mut self, n: usize) -> Call {
        self.identity = Some(format!("caller-{n}"));
        self.session = Some(format!("session-{n}"));
        self
    }

    /// The call as a `gauntlet replay` trace line.
    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A counterexample replayed: the calls, how many the engine allowed, and the command.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Counterexample {
    pub calls: Vec<Call>,
    /// Whether the engine allowed each call, in order (what the replay printed).
    pub allowed: Vec<bool>,
    /// The shell command that replays the trace through `gauntlet replay`.
    pub replay: String,
}

impl Counterexample {
    pub fn allowed_calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.iter().zip(&self.allowed).filter(|(_, a)| **a).map(|(c, _)| c)
    }
}

/// What the printed replay command names: the policy file and the profile flag.
#[derive(Clone, Debug)]
pub struct ReplayCommand {
    pub policy: String,
    pub strict: bool,
}

impl ReplayCommand {
    fn render(&self, calls: &[Call]) -> String {
        let lines: Vec<String> = calls.iter().map(|c| invocation::quote(&c.line())).collect();
        format!(
            "printf '%s\\n' {} | {} replay {} /dev/stdin{}",
            lines.join(" "),
            invocation::program(),
            invocation::quote(&self.policy),
            if self.strict { " --profile strict" } else { "" }
        )
    }
}

/// Decides every call in order on fresh counters, as `gauntlet replay` does.
pub fn replay(engine: &Engine, calls: Vec<Call>, command: &ReplayCommand) -> Counterexample {
    let mut store = MemoryStore::new();
    let allowed = calls
        .iter()
        .map(|c| {
            let at = Timestamp::parse_rfc3339(&c.at).unwrap_or(START);
            let ctx = CallContext { identity: c.identity.clone(), session: c.session.clone() };
            engine.decide(&mut store, &ToolCall { name: &c.tool, arguments: Some(&c.arguments) }, &ctx, at).is_allow()
        })
        .collect();
    let replay = command.render(&calls);
    Counterexample { calls, allowed, replay }
}
