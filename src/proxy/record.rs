//! `gauntlet proxy --record FILE`: the calls the proxy evaluated, as a trace
//! `gauntlet replay` reads (sans-IO: lines out, the adapter writes them).
//!
//! One line per evaluated `tools/call`, with its arguments as the policy saw
//! them and, for an allowed call, what the upstream answered (`upstream`: a
//! JSON-RPC error rolls back, so a replay needs it). A line is emitted once
//! the call's outcome is known: a denial or an allowed notification at once,
//! an allowed request when its answer arrives; `at` is always the time of
//! the decision. Calls still unanswered when the proxy stops are emitted by
//! [`Recorder::unanswered`] with `upstream: none`.

use std::collections::{HashMap, VecDeque};

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::pending::PendingKey;
use crate::clock::Timestamp;
use crate::engine::replay::Upstream;
use crate::caller::CallContext;

/// One trace line (the format of [`crate::engine::replay`]).
#[derive(Clone, Debug, Serialize)]
struct Line {
    #[serde(serialize_with = "rfc3339")]
    at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<String>,
    tool: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<Upstream>,
}

fn rfc3339<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

impl Line {
    fn bytes(&self) -> Vec<u8> {
        // Strings, options and a JSON map always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Allowed requests waiting for their answer, by the key the proxy matches answers with.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Each with its decision's sequence number, to write leftovers in decision
    /// order; oldest first under one key (an agent may reuse a request id).
    waiting: HashMap<PendingKey, VecDeque<(u64, Line)>>,
    decisions: u64,
}

/// What became of an evaluated call, as far as the proxy knows at decision time.
pub enum Decided {
    Denied,
    /// Allowed and forwarded; `Some` key when an answer will come (a request).
    Allowed(Option<PendingKey>),
}

impl Recorder {
    /// A call was decided: returns its line now, or keeps it until the answer.
    pub fn decided(
        &mut self,
        now: Timestamp,
        ctx: &CallContext,
        tool: &str,
        arguments: Option<&Map<String, Value>>,
        decided: Decided,
    ) -> Option<Vec<u8>> {
        self.decisions += 1;
        let mut line = Line {
            at: now,
            identity: ctx.identity.clone(),
            session: ctx.session.clone(),
            tool: tool.to_string(),
            arguments: arguments.cloned(),
            upstream: None,
        };
        match decided {
            Decided::Denied => Some(line.bytes()),
            Decided::Allowed(None) => {
                line.upstream = Some(Upstream::None);
                Some(line.bytes())
            }
            Decided::Allowed(Some(key)) => {
                self.waiting.entry(key).or_default().push_back((self.decisions, line));
                None
            }
        }
    }

    /// The answer to a waiting call arrived: its line, complete.
    pub fn answered(&mut self, key: &PendingKey, upstream: Upstream) -> Option<Vec<u8>> {
        let queue = self.waiting.get_mut(key)?;
        let (_, mut line) = queue.pop_front()?;
        if queue.is_empty() {
            self.waiting.remove(key);
        }
        line.upstream = Some(upstream);
        Some(line.bytes())
    }

    /// Every call still waiting, as answered with nothing, oldest first.
    pub fn unanswered(&mut self) -> Vec<Vec<u8>> {
        let mut lines: Vec<(u64, Line)> = self.waiting.drain().flat_map(|(_, q)| q).collect();
        lines.sort_by_key(|(seq, _)| *seq);
        lines
            .into_iter()
            .map(|(_, mut l)| {
                l.upstream = Some(Upstream::None);
                l.bytes()
            })
            .collect()
    }
}
