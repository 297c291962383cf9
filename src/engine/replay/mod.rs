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
//! Recordings are traces too, line by line (a file may mix the forms):
//!
//! - a mock server's ledger entry (`gauntlet mock --ledger`): its
//!   `tools/call` entries are calls, with the name and arguments of the
//!   message as it arrived (`raw`), so as the proxy in front saw them; an
//!   executed call answered `ok`, an unknown tool `is_error`, any other
//!   unexecuted call (a failure, a hang, a crash) `jsonrpc_error`; entries
//!   of other methods are skipped;
//! - the proxy's audit record (`gauntlet proxy --audit`): allowed and denied
//!   calls, without arguments (the record keeps only their hash) and
//!   answered `ok`; refusals are skipped.
//!
//! [`TraceReader`] reads one line at a time, so a trace of any length is
//! replayed in constant memory; `plain` reads the common line without
//! serde's field machinery (serde reads every other line). [`Replayer`]
//! (in `output`) decides each call and writes its output line.
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

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Timestamp;

use crate::caller::CallContext;

mod output;
mod plain;

pub use output::{ReplayRecord, Replayer};
pub(crate) use plain::agrees_with_serde;

/// What the upstream answered to an allowed call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upstream {
    #[default]
    Ok,
    JsonrpcError,
    IsError,
    None,
}

/// One call of a trace, with its defaults applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceStep {
    /// 1-based line number in the trace file.
    pub line: usize,
    pub at: Timestamp,
    pub ctx: CallContext,
    pub tool: String,
    pub arguments: Option<Map<String, Value>>,
    pub upstream: Upstream,
}

/// One call as read from its line, borrowing the line's text where it can.
/// `A` is what the arguments were read into: the object itself, or [`Shape`]
/// when only the bad lines are wanted.
struct Call<'a, A> {
    line: usize,
    at: Timestamp,
    identity: Option<Cow<'a, str>>,
    session: Option<Cow<'a, str>>,
    tool: Cow<'a, str>,
    arguments: Option<A>,
    upstream: Upstream,
}

/// A trace line that could not be read: where and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    pub line: usize,
    pub column: Option<usize>,
    pub message: String,
}

/// Which kinds of line a trace held (a trace may mix them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kinds {
    pub trace: bool,
    pub ledger: bool,
    pub audit: bool,
}

/// `result` of an audit record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum AuditResult {
    Allowed,
    Denied,
    Refused,
}

/// Every member of the three line kinds: the trace format, a mock server's
/// ledger entry, the proxy's audit record. Anything else is an error.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine<'a, A> {
    #[serde(borrow)]
    at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    identity: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tool: Option<Cow<'a, str>>,
    arguments: Option<A>,
    upstream: Option<Upstream>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    // The ledger's.
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    raw: Option<Cow<'a, str>>,
    executed: Option<bool>,
    // Which definition ran and which server: nothing a replay decides on.
    #[serde(rename = "revision")]
    _revision: Option<IgnoredAny>,
    #[serde(rename = "shadow")]
    _shadow: Option<IgnoredAny>,
    // The audit record's: its decision is the recorded policy's, not ours.
    result: Option<AuditResult>,
    #[serde(rename = "rule")]
    _rule: Option<IgnoredAny>,
    #[serde(rename = "message")]
    _message: Option<IgnoredAny>,
    #[serde(rename = "args_hash")]
    _args_hash: Option<IgnoredAny>,
    #[serde(rename = "cause")]
    _cause: Option<IgnoredAny>,
    #[serde(rename = "counters")]
    _counters: Option<IgnoredAny>,
}

/// Reads a trace one line at a time (sans-IO: the caller supplies the lines),
/// so a trace of any length is replayed in constant memory.
#[derive(Debug)]
pub struct TraceReader {
    line: usize,
    previous: Timestamp,
    /// The last `at`/`time` text and its value: consecutive calls often share one.
    last_time: (String, Timestamp),
    kinds: Kinds,
}

impl Default for TraceReader {
    fn default() -> TraceReader {
        TraceReader { line: 0, previous: Timestamp(0), last_time: (String::new(), Timestamp(0)), kinds: Kinds::default() }
    }
}

impl TraceReader {
    /// The kinds of line read so far.
    pub fn kinds(&self) -> Kinds {
        self.kinds
    }

    /// Counts a line the caller could not hand over (over the size limit); returns its number.
    pub fn skip(&mut self) -> usize {
        self.line += 1;
        self.line
    }

    /// The next line of the file (without its newline). `Ok(None)` for a line
    /// that is no call: blank, a ledger entry of another method, a refused call.
    pub fn next_line(&mut self, text: &[u8]) -> Result<Option<TraceStep>, TraceError> {
        let mut step = TraceStep::default();
        Ok(self.next_into(text, &mut step)?.then_some(step))
    }

    /// [`TraceReader::next_line`] into `step`, reusing its strings: the same
    /// checks and errors. `Ok(false)` (and `step` unspecified) for a line that
    /// is no call.
    pub fn next_into(&mut self, text: &[u8], step: &mut TraceStep) -> Result<bool, TraceError> {
        let Some(call) = self.read::<Map<String, Value>>(text)? else { return Ok(false) };
        let reuse = |to: &mut Option<String>, from: Option<Cow<str>>| match from {
            Some(from) => {
                let to = to.get_or_insert_with(String::new);
                to.clear();
                to.push_str(&from);
            }
            None => *to = None,
        };
        step.line = call.line;
        step.at = call.at;
        reuse(&mut step.ctx.identity, call.identity);
        reuse(&mut step.ctx.session, call.session);
        step.tool.clear();
        step.tool.push_str(&call.tool);
        step.arguments = call.arguments;
        step.upstream = call.upstream;
        Ok(true)
    }

    /// [`TraceReader::next_line`] for a pass that only finds the bad lines:
    /// the same checks and the same errors, but the arguments are checked
    /// without being built and a recorded message is not read for its call
    /// (that reading cannot fail).
    pub fn check_line(&mut self, text: &[u8]) -> Result<(), TraceError> {
        self.read::<Shape>(text).map(|_| ())
    }

    fn read<'a, A: Arguments<'a>>(&mut self, text: &'a [u8]) -> Result<Option<Call<'a, A>>, TraceError> {
        self.line += 1;
        let line = self.line;
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if let Err(limit) = crate::limits::check_size(text) {
            return Err(TraceError { line, column: Some(limit.column as usize), message: limit.to_string() });
        }
        // Checked for UTF-8 once, as a whole, instead of string by string.
        let utf8 = std::str::from_utf8(text);
        let raw: RawLine<A> = match utf8.ok().and_then(A::plain) {
            Some(raw) => raw,
            None => match utf8 {
                Ok(text) => serde_json::from_str(text),
                Err(_) => serde_json::from_slice(text),
            }
            .map_err(|e| line_error(line, text, e))?,
        };
        let fail = |message: String| TraceError { line, column: None, message };
        let recorded = raw.time.is_some() || raw.result.is_some() || raw.executed.is_some() || raw.raw.is_some();
        if !recorded {
            let Some(tool) = raw.tool else { return Err(fail("missing field `tool`".into())) };
            let at = match raw.at {
                None => self.previous,
                Some(at) => self.time(&at).map_err(|m| fail(format!("`at`: {m}")))?,
            };
            self.previous = at;
            self.kinds.trace = true;
            return Ok(Some(Call {
                line,
                at,
                identity: raw.identity,
                session: raw.session,
                tool,
                arguments: raw.arguments,
                upstream: raw.upstream.unwrap_or_default(),
            }));
        }
        if raw.at.is_some() || raw.upstream.is_some() {
            return Err(fail(
                "mixes the trace's `at`/`upstream` with the `time` of a ledger entry or audit record; use one form per line".into(),
            ));
        }
        let Some(time) = raw.time else { return Err(fail("missing field `time`".into())) };
        let at = self.time(&time).map_err(|m| fail(format!("`time`: {m}")))?;
        self.previous = at;
        let (identity, session) = (raw.identity, raw.session);
        if let Some(result) = raw.result {
            // An audit record: the proxy keeps only a hash of the arguments.
            self.kinds.audit = true;
            let Some(tool) = raw.tool else { return Err(fail("missing field `tool`".into())) };
            if result == AuditResult::Refused {
                return Ok(None);
            }
            return Ok(Some(Call { line, at, identity, session, tool, arguments: None, upstream: Upstream::Ok }));
        }
        // A ledger entry: the call as it reached the server.
        self.kinds.ledger = true;
        if raw.method.as_deref() != Some("tools/call") {
            return Ok(None);
        }
        let (name, arguments) = A::of_call(raw.raw.as_deref().unwrap_or_default());
        let upstream = match (raw.executed, &raw.tool) {
            (Some(true), _) => Upstream::Ok,
            // An unknown tool is answered with an `isError` result.
            (_, None) => Upstream::IsError,
            // Failed, hung or crashed: the ledger does not tell them apart.
            (_, Some(_)) => Upstream::JsonrpcError,
        };
        let tool = name.map(Cow::Owned).or(raw.tool).unwrap_or_default();
        Ok(Some(Call { line, at, identity, session, tool, arguments, upstream }))
    }

    fn time(&mut self, text: &str) -> Result<Timestamp, String> {
        if self.last_time.0 != text {
            let t = Timestamp::parse_rfc3339(text)?;
            self.last_time.0.clear();
            self.last_time.0.push_str(text);
            self.last_time.1 = t;
        }
        Ok(self.last_time.1)
    }
}

/// What a line's `arguments` are read into.
trait Arguments<'a>: Deserialize<'a> {
    /// `params.name` and `params.arguments` of a recorded `tools/call` message.
    fn of_call(raw: &str) -> (Option<String>, Option<Self>);

    /// The line read by [`plain::line`], when it is plain and that reader reads into `Self`.
    fn plain(text: &'a str) -> Option<RawLine<'a, Self>>;
}

impl<'a> Arguments<'a> for Map<String, Value> {
    fn of_call(raw: &str) -> (Option<String>, Option<Self>) {
        call_in(raw)
    }

    fn plain(text: &'a str) -> Option<RawLine<'a, Self>> {
        plain::line(text)
    }
}

/// Arguments read for their shape only, by the first pass: a JSON object
/// (or `null`) checked exactly as reading it into a `Map` checks it (strings,
/// numbers, nesting), with nothing built.
#[derive(Debug, Default, PartialEq)]
pub struct Shape;

impl<'a> Arguments<'a> for Shape {
    fn of_call(_: &str) -> (Option<String>, Option<Self>) {
        (None, None)
    }

    fn plain(text: &'a str) -> Option<RawLine<'a, Self>> {
        plain::line(text)
    }
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        // A `Map` asks for a map; so does this, and only a map is visited.
        d.deserialize_map(AnyValue).map(|_| Shape)
    }
}

/// Any JSON value, visited as `serde_json::Value` visits it and dropped.
struct AnyValue;

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<AnyValue, D::Error> {
        d.deserialize_any(AnyValue)
    }
}

impl<'de> serde::de::Visitor<'de> for AnyValue {
    type Value = AnyValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_i64<E>(self, _: i64) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_u64<E>(self, _: u64) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_f64<E>(self, _: f64) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_str<E>(self, _: &str) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_unit<E>(self) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut seq: S) -> Result<AnyValue, S::Error> {
        while seq.next_element::<AnyValue>()?.is_some() {}
        Ok(AnyValue)
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<AnyValue, M::Error> {
        while map.next_entry::<AnyValue, AnyValue>()?.is_some() {}
        Ok(AnyValue)
    }
}

/// `params.name` and `params.arguments` of a recorded `tools/call` message,
/// as the proxy in front of that server would have seen them.
fn call_in(raw: &str) -> (Option<String>, Option<Map<String, Value>>) {
    let Ok(Value::Object(mut msg)) = serde_json::from_str::<Value>(raw) else { return (None, None) };
    let Some(Value::Object(mut params)) = msg.remove("params") else { return (None, None) };
    let name = match params.remove("name") {
        Some(Value::String(n)) => Some(n),
        _ => None,
    };
    let arguments = match params.remove("arguments") {
        Some(Value::Object(a)) => Some(a),
        _ => None,
    };
    (name, arguments)
}

/// A whole trace held in memory; on failure every bad line, not just the first.
pub fn parse_trace(text: &str) -> Result<Vec<TraceStep>, Vec<TraceError>> {
    let mut reader = TraceReader::default();
    let (mut steps, mut errors) = (Vec::new(), Vec::new());
    for l in text.lines() {
        match reader.next_line(l.as_bytes()) {
            Ok(step) => steps.extend(step),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(steps)
    } else {
        Err(errors)
    }
}

/// The error of a line serde could not read, in the words of reading it
/// whole, whatever the arguments were read into (that accepts what a `Map`
/// accepts), or of the nesting limit every loader reports.
fn line_error(line: usize, text: &[u8], e: serde_json::Error) -> TraceError {
    let e = serde_json::from_slice::<RawLine<Map<String, Value>>>(text).err().unwrap_or(e);
    match std::str::from_utf8(text).ok().and_then(|t| crate::limits::check_json(t).err()) {
        Some(limit) => TraceError { line, column: Some(limit.column as usize), message: limit.to_string() },
        None => TraceError { line, column: Some(e.column()), message: serde_message(&e) },
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

    #[test]
    fn ledger_entries_replay_their_tools_calls_as_the_proxy_saw_them() {
        let text = concat!(
            r#"{"time":"2026-03-02T10:00:00Z","session":"s","identity":null,"method":"initialize","tool":null,"arguments":null,"raw":"{}","executed":false}"#, "\n",
            r#"{"time":"2026-03-02T10:00:01Z","session":"s","identity":"a","method":"tools/call","tool":"charge","arguments":{"amount":1},"raw":"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"Charge \",\"arguments\":{\"amount\":5}}}","executed":true,"revision":0}"#, "\n",
            r#"{"time":"2026-03-02T10:00:02Z","session":"s","identity":"a","method":"tools/call","tool":"charge","arguments":{},"raw":"{\"method\":\"tools/call\",\"params\":{\"name\":\"charge\"}}","executed":false}"#, "\n",
            r#"{"time":"2026-03-02T10:00:03Z","session":"s","identity":"a","method":"tools/call","tool":null,"arguments":null,"raw":"{\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}","executed":false}"#, "\n",
        );
        let mut reader = TraceReader::default();
        let steps: Vec<TraceStep> = text.lines().filter_map(|l| reader.next_line(l.as_bytes()).unwrap()).collect();
        assert_eq!(reader.kinds(), Kinds { ledger: true, ..Kinds::default() });
        assert_eq!(steps.len(), 3);
        // The name and arguments as sent, not as the lenient server resolved them.
        assert_eq!((steps[0].line, steps[0].tool.as_str()), (2, "Charge "));
        assert_eq!(steps[0].arguments.as_ref().unwrap()["amount"], 5);
        assert_eq!(steps[0].ctx.identity.as_deref(), Some("a"));
        assert_eq!(steps[0].at, Timestamp::parse_rfc3339("2026-03-02T10:00:01Z").unwrap());
        assert_eq!(steps.iter().map(|s| s.upstream).collect::<Vec<_>>(), [Upstream::Ok, Upstream::JsonrpcError, Upstream::IsError]);
        assert!(steps[1].arguments.is_none());
    }

    #[test]
    fn audit_records_replay_without_arguments_and_refusals_are_skipped() {
        let text = concat!(
            r#"{"time":"2026-03-02T10:00:00Z","tool":"charge","result":"allowed","args_hash":"sha256:00","session":"s","counters":{"charge.n":1}}"#, "\n",
            r#"{"time":"2026-03-02T10:00:01Z","tool":"charge","result":"denied","rule":"cap","message":"no","cause":"rule"}"#, "\n",
            r#"{"time":"2026-03-02T10:00:02Z","tool":"","result":"refused","message":"batch"}"#, "\n",
        );
        let mut reader = TraceReader::default();
        let steps: Vec<TraceStep> = text.lines().filter_map(|l| reader.next_line(l.as_bytes()).unwrap()).collect();
        assert!(reader.kinds().audit);
        assert_eq!(steps.iter().map(|s| (s.line, s.tool.as_str())).collect::<Vec<_>>(), [(1, "charge"), (2, "charge")]);
        assert!(steps.iter().all(|s| s.arguments.is_none() && s.upstream == Upstream::Ok));
        assert_eq!(steps[0].ctx.session.as_deref(), Some("s"));
    }

    #[test]
    fn a_line_mixing_forms_or_missing_its_time_is_an_error() {
        let mut reader = TraceReader::default();
        let mixed = reader.next_line(br#"{"at":"2026-03-02T10:00:00Z","time":"2026-03-02T10:00:00Z","tool":"a"}"#).unwrap_err();
        assert!(mixed.message.contains("one form per line"), "{}", mixed.message);
        let untimed = reader.next_line(br#"{"tool":"a","result":"allowed"}"#).unwrap_err();
        assert_eq!((untimed.line, untimed.message.as_str()), (2, "missing field `time`"));
        let no_tool = reader.next_line(br#"{"at":"2026-03-02T10:00:00Z"}"#).unwrap_err();
        assert_eq!(no_tool.message, "missing field `tool`");
        let bad_utf8 = reader.next_line(b"{\"tool\":\"\xff\"}").unwrap_err();
        assert_eq!(bad_utf8.line, 4);
    }
}
