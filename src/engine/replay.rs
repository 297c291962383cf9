//! Replaying a recorded trace of calls through the engine (sans-IO: text in,
//! JSON values out; `gauntlet replay` does the file reading and printing).
//!
//! # Trace format (JSONL, one call per line)
//!
//! ```text
//! {"at":"2026-03-02T10:00:00Z","identity":"alice","session":"s1","tool":"create_charge","arguments":{"amount":500},"upstream":"ok"}
//! ```
//!
//! - `tool` (string) is the only required member: the `params.name` of the call.
//! - `at`: RFC 3339 time of the call. When absent, the previous line's time
//!   is used; the first line defaults to the Unix epoch, `1970-01-01T00:00:00Z`.
//!   Times may go backwards (the store then behaves as Intercept's would on
//!   a clock jump).
//! - `identity`, `session` (strings): select grant- and session-scoped counters.
//! - `arguments`: a JSON object, or `null`/absent for a call without arguments.
//!   Numbers reach the engine as doubles, as in Intercept.
//! - `upstream`: what the server answered after an allowed call: `ok`
//!   (default), `jsonrpc_error` (rolls back the call's reservations),
//!   `is_error` or `none` (both keep them, as Intercept does).
//! - Blank lines are skipped; any other member is an error (it is most likely
//!   a typo). Line numbers count every line of the file.
//!
//! # Output (one JSON object per call, in order)
//!
//! ```text
//! {"line":1,"at":"2026-03-02T10:00:00Z","tool":"create_charge","decision":"allow","rule":null,"culprit":null,"message":null,"cause":null,"counters":{"_global.calls_per_minute":1}}
//! ```
//!
//! `rule` is Intercept's event-log rule (`(hidden)`, `(default deny)`, a rule
//! name; `null` for reservation and internal denials), `culprit` the rule
//! that caused any denial, `message` the text after `[INTERCEPT POLICY DENIED] `,
//! `cause` one of `hidden`, `default_deny`, `rule`, `limit`, `internal`.
//! `counters` holds every counter the decision read or reserved, as a
//! condition would read it after the upstream's answer was processed;
//! partitioned keys are written `key@identity-or-session`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

use super::{CallContext, CounterStore, Engine, Outcome, ToolCall};

/// What the upstream answered to an allowed call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upstream {
    #[default]
    Ok,
    JsonrpcError,
    IsError,
    None,
}

/// One call of a trace, with its defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceStep {
    /// 1-based line number in the trace file.
    pub line: usize,
    pub at: Timestamp,
    pub ctx: CallContext,
    pub tool: String,
    pub arguments: Option<serde_json::Map<String, serde_json::Value>>,
    pub upstream: Upstream,
}

/// A trace line that could not be read: where and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    pub line: usize,
    pub column: Option<usize>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    at: Option<String>,
    identity: Option<String>,
    session: Option<String>,
    tool: String,
    arguments: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    upstream: Upstream,
}

/// Parses a whole trace; on failure returns every bad line, not just the first.
pub fn parse_trace(text: &str) -> Result<Vec<TraceStep>, Vec<TraceError>> {
    let mut steps = Vec::new();
    let mut errors = Vec::new();
    let mut previous = Timestamp(0);
    if let Err(e) = crate::limits::check_size(text.as_bytes()) {
        return Err(vec![TraceError { line: e.line as usize, column: Some(e.column as usize), message: e.to_string() }]);
    }
    for (i, raw_line) in text.lines().enumerate() {
        let line = i + 1;
        if raw_line.trim().is_empty() {
            continue;
        }
        if let Err(e) = crate::limits::check_json(raw_line) {
            errors.push(TraceError { line, column: Some(e.column as usize), message: e.to_string() });
            continue;
        }
        let raw: RawStep = match serde_json::from_str(raw_line) {
            Ok(raw) => raw,
            Err(e) => {
                errors.push(TraceError { line, column: Some(e.column()), message: serde_message(&e) });
                continue;
            }
        };
        let at = match raw.at.as_deref().map(Timestamp::parse_rfc3339) {
            None => previous,
            Some(Ok(t)) => t,
            Some(Err(message)) => {
                errors.push(TraceError { line, column: None, message: format!("`at`: {message}") });
                continue;
            }
        };
        previous = at;
        steps.push(TraceStep {
            line,
            at,
            ctx: CallContext { identity: raw.identity, session: raw.session },
            tool: raw.tool,
            arguments: raw.arguments,
            upstream: raw.upstream,
        });
    }
    if errors.is_empty() {
        Ok(steps)
    } else {
        Err(errors)
    }
}

/// serde_json's message without its " at line 1 column N" suffix (each
/// trace line is its own document, so that line number would mislead).
fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// One output line of `gauntlet replay`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplayRecord {
    pub line: usize,
    pub at: String,
    pub tool: String,
    pub decision: &'static str,
    pub rule: Option<String>,
    pub culprit: Option<String>,
    pub message: Option<String>,
    pub cause: Option<&'static str>,
    pub counters: BTreeMap<String, i64>,
}


/// Decides one step, applies its upstream answer, and describes the result.
pub fn replay_step(engine: &Engine, store: &mut dyn CounterStore, step: &TraceStep) -> ReplayRecord {
    let call = ToolCall { name: &step.tool, arguments: step.arguments.as_ref() };
    let decision = engine.decide(store, &call, &step.ctx, step.at);
    if decision.is_allow() && step.upstream == Upstream::JsonrpcError {
        engine.rollback(store, &decision.reservations);
    }
    let counters = decision
        .counters
        .iter()
        .map(|(key, value)| (key.to_string(), store.read(key, step.at).unwrap_or(*value)))
        .collect();
    let (decision_name, rule, culprit, message, cause) = match decision.outcome {
        Outcome::Allow => ("allow", None, None, None, None),
        Outcome::Deny { message, rule, culprit, cause } => {
            ("deny", rule, culprit, Some(message), Some(cause.as_str()))
        }
    };
    ReplayRecord {
        line: step.line,
        at: step.at.to_rfc3339(),
        tool: step.tool.clone(),
        decision: decision_name,
        rule,
        culprit,
        message,
        cause,
        counters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_time_carries_over() {
        let text = "{\"tool\":\"a\"}\n\n{\"at\":\"2026-03-02T10:00:00Z\",\"tool\":\"b\",\"identity\":\"alice\"}\n{\"tool\":\"c\",\"upstream\":\"jsonrpc_error\",\"arguments\":null}\n";
        let steps = parse_trace(text).unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!((steps[0].line, steps[0].at), (1, Timestamp(0)));
        assert_eq!(steps[1].line, 3);
        assert_eq!(steps[1].ctx.identity.as_deref(), Some("alice"));
        assert_eq!(steps[2].at, Timestamp::parse_rfc3339("2026-03-02T10:00:00Z").unwrap());
        assert_eq!((steps[2].upstream, steps[2].arguments.is_none()), (Upstream::JsonrpcError, true));
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let text = "{\"tool\":\"a\"}\n{\"at\":\"yesterday\",\"tool\":\"b\"}\n{\"tol\":\"c\"}\nnot json\n{\"tool\":\"d\",\"arguments\":[1]}\n{\"tool\":\"e\",\"upstream\":\"boom\"}\n";
        let errors = parse_trace(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
        assert!(errors[0].message.starts_with("`at`: invalid RFC 3339 time `yesterday`"), "{}", errors[0].message);
        assert!(errors[1].message.starts_with("unknown field `tol`"), "{}", errors[1].message);
        assert!(!errors[1].message.contains("at line"));
        assert!(errors[3].message.contains("expected a map"), "{}", errors[3].message);
        assert!(errors[4].message.contains("unknown variant `boom`"), "{}", errors[4].message);
    }
}
