//! The sans-IO proxy core: one message in, the messages to send out.
//!
//! It decides which agent messages are evaluated (semantics §2.1), asks the
//! engine, answers denials itself (§3), filters `tools/list` responses (§4),
//! and commits or rolls back reservations when the upstream answers (§2.2
//! step 6). It never reads the clock or touches IO: transports call
//! [`ProxyCore::from_agent`] and [`ProxyCore::from_upstream`] with `now`.
//!
//! The engine's profile decides the wire behaviour too: `intercept` copies
//! Intercept's decoding and its gaps; `strict` refuses, with a JSON-RPC
//! error, every `tools/call` that does not decode unambiguously, every
//! batch, and (silently) every `tools/call` notification, so nothing it
//! could not evaluate faithfully reaches the upstream; and it replaces a
//! `tools/list` page it cannot filter with an error instead of showing it.
//! In front of a stdio child, strict also refuses a line holding a carriage
//! return, which some servers' readers end a line at (the Python SDK's): what
//! it forwards is one line to every reader, the line it evaluated.
//! Strict also gates the surfaces beside tools (G-4): a request on one
//! (`resources/read`, `prompts/get`, their lists, `completion/complete`, …)
//! is refused unless the policy governs it with a `tools` entry named by its
//! method, which then decides it like a call whose arguments are its `params`.
//! Strict also keeps one outstanding request per id (G-18): a request whose
//! id is already waiting for an answer, or an id that is not a string or an
//! exact integer, is refused, so an upstream error can only refund the call
//! it answers.
//!
//! Every forwarded request is remembered until answered, so the core can
//! answer it with an error itself when the upstream dies ([`ProxyCore::upstream_gone`])
//! or hangs ([`ProxyCore::expire`], [`ProxyCore::give_up_exchange`]); such calls keep
//! their reservations (the upstream may have executed them) and a late answer is dropped.
//!
//! Where the counter store is called is the adapter's choice. A core made
//! with [`ProxyCore::new`] owns its store and decides inline (in-process runs,
//! replay, tests: deterministic on the clock it is given). A core made with
//! [`ProxyCore::deciding_outside`] hands every message with a call that may
//! call the store out as an [`Output::Decide`] ticket (its request id taken
//! meanwhile, so strict's one-request-per-id holds) and rollbacks out as
//! [`Output::Rollback`]: the stdio and HTTP adapters call the store off the
//! core's lock, within `--state-timeout`, so a hung store delays only the
//! calls it counts.

use std::collections::VecDeque;

use std::collections::BTreeMap;

use crate::clock::Timestamp;
use crate::engine::replay::Upstream;
use crate::caller::CallContext;
use crate::engine::store::FailClosedStore;
use crate::engine::{CounterStore, Decision, Engine, Outcome, Reservation, ToolCall};
use crate::gofmt::json::{compact_raw, write_string_bytes};
use crate::profile::Profile;

pub use super::audit::{AuditRecord, AuditResult};
use super::audit::args_hash;
use super::decode::{self, CallMsg, Classified, Refusal};
use super::denial::{denial, jsonrpc_error, DENIED_PREFIX};
use super::filter::{filter_parsed, Filtered};
use super::pending::{Answered, InFlight, Pending, PendingKey};
use super::pin::{Approved, Parked, Pin, Step, Verdict};
use super::schemas::Unlisted;
use super::record::{Decided, Recorder};
use super::rawjson::{self, Kind, Node, ParseError};
use super::ticket::Ticket;

/// How the agent side is framed; Intercept's batch handling differs per transport (§2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireMode {
    /// Stdio in front of a child process: batches are forwarded unevaluated.
    StdioChild,
    /// Stdio in front of an HTTP upstream: batch elements are evaluated, unless
    /// one fails to decode (then the raw batch is forwarded unevaluated).
    StdioBridge,
    /// Streamable HTTP front: batch elements are evaluated; a malformed one
    /// fails the whole batch with `invalid JSON-RPC batch`.
    Http,
}

/// What the core wants sent. Messages carry no framing: a stdio adapter adds
/// the newline. For an agent batch in `StdioBridge`/`Http` mode, the
/// forwarded elements come as one `ToUpstream` and each denial as its own
/// `ToAgent` (the HTTP adapter puts them in the response array after the
/// upstream's answers).
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    ToUpstream(Vec<u8>),
    ToAgent(Vec<u8>),
    Audit(AuditRecord),
    /// One line of the traffic recording (`--record`), without its newline.
    Record(Vec<u8>),
    /// A message whose calls need the store ([`ProxyCore::deciding_outside`]):
    /// decide them and hand the decisions to [`ProxyCore::finish`]. It is the
    /// only output of its step.
    Decide(Ticket),
    /// Reservations to roll back in the store (the upstream answered a call
    /// with an error), from a core deciding outside.
    Rollback(Vec<Reservation>),
}

/// JSON-RPC "internal error", Intercept's code for transport failures.
const INTERNAL_ERROR: i64 = -32603;

/// Strict: a surface request the policy does not govern, answered as a
/// server without that capability would be ("method not found").
const UNGOVERNED: i64 = -32601;

/// Strict: a surface request the policy governs and denies. A denial result
/// shaped like a tool's would not be a valid answer to it, so it is an error.
const SURFACE_DENIED: i64 = -32001;

/// One request/response channel: 0 for a stdio stream; the HTTP front
/// numbers its POSTs, whose answers come back on their own response.
pub type Exchange = u64;

/// What the pin makes of an agent's request.
enum Held {
    /// A call held for the upstream's list (and that list, to send).
    Held(Vec<Output>),
    Refused(Refusal),
    /// On to the policy as usual.
    Passes,
}

/// What an upstream message does to the pending state.
enum Settled {
    Unchanged,
    Replaced(Vec<u8>),
    /// The answer to a request the proxy already answered itself.
    Dropped,
}

pub struct ProxyCore {
    engine: Engine,
    /// Which version of the policy file `engine` is (0: the one it started
    /// with); see [`ProxyCore::set_engine_version`].
    version: u64,
    /// The store inline decisions use; when deciding outside, a stand-in
    /// that fails closed (only calls that never touch the store are decided here).
    store: Box<dyn CounterStore>,
    /// Calls that may call the store are handed out as tickets.
    outside: bool,
    /// Decisions made outside for the message [`ProxyCore::finish`] is replaying, in call order.
    made: VecDeque<Decision>,
    /// [`ProxyCore::finish`] is replaying a message: nothing is handed out again.
    replaying: bool,
    mode: WireMode,
    pending: Pending,
    /// `Some` when the traffic is recorded.
    recorder: Option<Recorder>,
    /// `Some` when tool definitions are pinned to an approved file (`--pin`).
    pin: Option<Pin>,
    /// Set while a call the pin released goes through [`ProxyCore::from_agent_on`].
    releasing: bool,
    /// Strict: each listed tool's `inputSchema`, which its calls' arguments must fit.
    schemas: super::schemas::Schemas,
    /// Strict: what a call of a tool with no schema seen yet gets.
    unlisted: Unlisted,
    /// See [`ProxyCore::set_store_late`].
    store_late: Option<(super::sqlite::FailMode, std::time::Duration)>,
}

impl ProxyCore {
    /// A core that owns `store` and calls it inline.
    pub fn new(engine: Engine, store: Box<dyn CounterStore>, mode: WireMode) -> ProxyCore {
        ProxyCore {
            engine,
            version: 0,
            store,
            outside: false,
            made: VecDeque::new(),
            replaying: false,
            mode,
            pending: Pending::default(),
            recorder: None,
            pin: None,
            releasing: false,
            schemas: Default::default(),
            unlisted: Unlisted::Unchecked,
            store_late: None,
        }
    }

    /// A core whose store is called by its adapter: see [`Output::Decide`].
    pub fn deciding_outside(engine: Engine, mode: WireMode) -> ProxyCore {
        ProxyCore { outside: true, ..ProxyCore::new(engine, Box::new(FailClosedStore), mode) }
    }

    /// Serve tools only as `approved` defines them (see [`super::pin`]).
    pub fn pin(&mut self, approved: std::sync::Arc<Approved>) {
        self.pin = Some(Pin::new(approved));
    }

    /// Under `strict`, what a call of a tool whose `inputSchema` no list has
    /// shown yet gets (see [`Unlisted`]); other profiles check no schema.
    pub fn unlisted_calls(&mut self, unlisted: Unlisted) {
        if self.engine.profile() != Profile::Strict {
            return;
        }
        self.unlisted = unlisted;
        if unlisted == Unlisted::Ask {
            self.pin.get_or_insert_with(Pin::unpinned);
        }
    }

    /// Emit [`Output::Record`] lines: every evaluated call as a replayable trace.
    pub fn record_traffic(&mut self) {
        self.recorder.get_or_insert_with(Recorder::default);
    }

    /// The recorded calls still waiting for an answer, as unanswered (call when stopping).
    pub fn unanswered_records(&mut self) -> Vec<Output> {
        self.recorder.as_mut().map(Recorder::unanswered).unwrap_or_default().into_iter().map(Output::Record).collect()
    }

    /// Hot reload: the new policy applies to later messages; counters persist.
    pub fn set_engine(&mut self, engine: Engine) {
        self.engine = engine;
    }

    /// Hot reload from the policy file's watch: its version `version`
    /// applies to later messages, unless the core already has that one or a
    /// later one (transport threads race to hand it over); counters persist.
    pub fn set_engine_version(&mut self, version: u64, engine: Engine) {
        if version > self.version {
            self.version = version;
            self.engine = engine;
        }
    }

    pub fn engine_version(&self) -> u64 {
        self.version
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The process was killed and started again over the same state: every
    /// request in flight is forgotten (its agent connection is gone, its
    /// reservation stays), the counters are whatever the store kept.
    pub fn restart(&mut self) {
        self.pending = Pending::default();
        if self.recorder.is_some() {
            self.recorder = Some(Recorder::default());
        }
    }

    /// While set, calls are decided as a store that never answers leaves
    /// them at `--state-timeout` (fail mode, timeout): the embedded proxy's
    /// hung store, decided inline as the standalone proxy's watchdog decides.
    pub fn set_store_late(&mut self, late: Option<(super::sqlite::FailMode, std::time::Duration)>) {
        self.store_late = late;
    }

    pub fn store(&self) -> &dyn CounterStore {
        self.store.as_ref()
    }

    pub fn store_mut(&mut self) -> &mut dyn CounterStore {
        self.store.as_mut()
    }

    /// Counters replaced wholesale (a proxy that kept them only in memory, started again).
    pub fn replace_store(&mut self, store: Box<dyn CounterStore>) {
        self.store = store;
    }

    pub fn mode(&self) -> WireMode {
        self.mode
    }

    /// Allowed calls whose answer has not arrived yet.
    pub fn calls_waiting(&self) -> usize {
        self.pending.calls_waiting()
    }

    /// One message from the agent (a stdio line without its newline, or an HTTP body).
    pub fn from_agent(&mut self, bytes: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Output> {
        self.from_agent_on(bytes, ctx, 0, now)
    }

    /// [`ProxyCore::from_agent`] on a numbered exchange (an HTTP POST).
    pub fn from_agent_on(&mut self, bytes: &[u8], ctx: &CallContext, exchange: Exchange, now: Timestamp) -> Vec<Output> {
        let mut out = Vec::new();
        let parsed = rawjson::parse(bytes);
        if self.engine.profile() == Profile::Strict && self.mode == WireMode::StdioChild {
            // Forwarded as one stdio line, it must be one line to every reader too.
            if let Some(r) = decode::line_break_refusal(&parsed, bytes) {
                return self.refused(r, ctx, now);
            }
        }
        match decode::classify_parsed(&parsed, bytes, self.engine.profile()) {
            Classified::Batch => match self.batch_calls_to_defer(&parsed, bytes) {
                Some(calls) => return self.defer(bytes, ctx, exchange, now, None, calls),
                None => self.batch(&parsed, bytes, ctx, exchange, now, &mut out),
            },
            Classified::Refused(r) => self.refuse(r, ctx, now, &mut out),
            single => {
                let id = parsed.as_ref().ok().and_then(decode::request_id);
                // Intercept answers a null id like a notification's; strict refuses it below.
                let id = id.filter(|id| !id.is_null() || self.engine.profile() == Profile::Strict);
                let key = match id.map(|id| self.request_key(ctx, exchange, id, bytes)) {
                    Some(Err(r)) => return self.refused(r, ctx, now),
                    Some(Ok(key)) => Some(key),
                    None => None,
                };
                if let Classified::ToolCall(call) = &single {
                    if call.surface && self.engine.policy().tool(&call.name).is_none() {
                        return self.refused(ungoverned(call), ctx, now);
                    }
                }
                // A call the pin (or the wait for a schema) released comes back
                // through here, and a decision made outside replays its message:
                // neither is held again.
                if self.pin.is_some() && !self.replaying && !self.releasing {
                    if let (Some(key), Some(id)) = (&key, id) {
                        match self.hold(&single, &parsed, bytes, key, id.raw(bytes), ctx, exchange, now) {
                            Held::Held(out) => return out,
                            Held::Refused(r) => return self.refused(r, ctx, now),
                            Held::Passes => {}
                        }
                    }
                }
                if let Some(r) = self.schema_refusal(&single) {
                    return self.refused(r, ctx, now);
                }
                let single = match single {
                    Classified::ToolCall(call) if self.defers(&call.name) => {
                        return self.defer(bytes, ctx, exchange, now, key, vec![call]);
                    }
                    other => other,
                };
                if self.handle(single, ctx, exchange, now, &mut out) {
                    if let (Some(key), Some(id)) = (key, id) {
                        self.pending.register_request(key, id.raw(bytes), now);
                    }
                    out.insert(0, Output::ToUpstream(bytes.to_vec()));
                }
            }
        }
        out
    }

    /// Strict: an upstream message with a bare `\r`, which Java's
    /// `BufferedReader.readLine`, .NET's `ReadLine` (the stdio readers of
    /// those MCP SDKs) and an SSE reader take for a line end (the Python and
    /// TypeScript SDK clients split at `\n` only), with each one a space: JSON allows it only as whitespace between
    /// tokens, so the message means the same, but an upstream can no longer
    /// hide a second message (an unfiltered `tools/list` answer, a forged
    /// answer to another request) inside the one checked here.
    fn carriage_returns_spaced(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        if self.engine.profile() != Profile::Strict || memchr::memchr(b'\r', bytes).is_none() {
            return None;
        }
        Some(bytes.iter().map(|&b| if b == b'\r' { b' ' } else { b }).collect())
    }

    /// Strict: a tool call whose arguments the tool's listed `inputSchema`
    /// rejects, refused before the policy counts it (see [`super::schemas`]).
    fn schema_refusal(&self, msg: &Classified) -> Option<Refusal> {
        let Classified::ToolCall(call) = msg else { return None };
        if call.surface || self.engine.profile() != Profile::Strict {
            return None;
        }
        let unseen = match self.unlisted {
            // Held for a list, the call comes back known; a replayed decision was checked on arrival.
            _ if self.schemas.knows(&call.name) || self.replaying => None,
            Unlisted::Unchecked => None,
            // A request that was not held (none is: this only keeps the check closed).
            Unlisted::Ask => Some("no tools/list answer has shown the proxy its inputSchema"),
        };
        let why = match unseen {
            Some(why) => why.to_string(),
            None => self.schemas.refusal(&call.name, call.arguments.as_ref())?,
        };
        Some(Refusal {
            code: decode::INVALID_PARAMS,
            message: format!("invalid params: tool {} refused: {why}", crate::gofmt::quote::quote(&call.name)),
            id: call.id.clone(),
            tool: call.name.clone(),
            silent: call.id.is_none(),
        })
    }

    /// Whether a call to `tool` is handed out to be decided.
    fn defers(&self, tool: &str) -> bool {
        self.outside && !self.replaying && self.engine.calls_store(tool)
    }

    /// The calls of a batch to hand out together, when the core evaluates
    /// its elements and one of them may call the store.
    fn batch_calls_to_defer(&self, parsed: &Result<Node, ParseError>, src: &[u8]) -> Option<Vec<CallMsg>> {
        if !self.outside || self.replaying {
            return None;
        }
        let calls: Vec<CallMsg> = self
            .evaluated_elements(parsed)?
            .iter()
            .filter_map(|element| match decode::classify_object(element, src, Profile::Intercept) {
                Classified::ToolCall(call) => Some(call),
                _ => None,
            })
            .collect();
        calls.iter().any(|call| self.engine.calls_store(&call.name)).then_some(calls)
    }

    /// Hands a message out to have its calls decided; its request key is taken meanwhile.
    fn defer(
        &mut self,
        bytes: &[u8],
        ctx: &CallContext,
        exchange: Exchange,
        now: Timestamp,
        key: Option<PendingKey>,
        calls: Vec<CallMsg>,
    ) -> Vec<Output> {
        self.pending.begin_deciding(key.as_ref());
        let engine = self.engine.clone();
        vec![Output::Decide(Ticket { bytes: bytes.to_vec(), ctx: ctx.clone(), exchange, now, key, engine, calls })]
    }

    /// A handed-out message comes back with its calls' decisions (one per
    /// call, in order): it is handled as it would have been on arrival.
    pub fn finish(&mut self, ticket: &Ticket, decisions: Vec<Decision>) -> Vec<Output> {
        self.pending.end_deciding(ticket.key.as_ref());
        self.made = decisions.into();
        self.replaying = true;
        let out = self.from_agent_on(&ticket.bytes, &ticket.ctx, ticket.exchange, ticket.now);
        self.replaying = false;
        self.made.clear();
        out
    }

    /// The key a request is remembered by; under `strict`, a refusal for an
    /// id that cannot be matched to its answer or is already waiting for one.
    fn request_key(&self, ctx: &CallContext, exchange: Exchange, id: &Node, src: &[u8]) -> Result<PendingKey, Refusal> {
        if self.engine.profile() == Profile::Intercept {
            return Ok((ctx.session.clone(), exchange, id.raw(src).to_vec()));
        }
        let refusal = |message: String, id: Option<Vec<u8>>| Refusal {
            code: decode::INVALID_REQUEST,
            message: format!("invalid request: {message}"),
            id,
            tool: String::new(),
            silent: false,
        };
        let canonical = decode::strict_id_key(id, src).map_err(|why| refusal(why, None))?;
        let key = (ctx.session.clone(), exchange, canonical);
        if self.pending.outstanding(&key) {
            let shown = String::from_utf8_lossy(id.raw(src)).into_owned();
            return Err(refusal(
                format!("id {shown} is already in use by a request still waiting for its answer"),
                Some(id.raw(src).to_vec()),
            ));
        }
        Ok(key)
    }

    /// The key of the call or list an id answers: `intercept` keys by raw id
    /// bytes and session only (G-18), `strict` by exchange and id value.
    fn settle_key(&self, ctx: &CallContext, exchange: Exchange, raw: &[u8]) -> PendingKey {
        if self.engine.profile() == Profile::Intercept {
            return (ctx.session.clone(), 0, raw.to_vec());
        }
        let canonical = match rawjson::parse(raw) {
            Ok(node) => decode::strict_id_key(&node, raw).unwrap_or_else(|_| [b"x", raw].concat()),
            Err(_) => [b"x", raw].concat(),
        };
        (ctx.session.clone(), exchange, canonical)
    }

    /// The key an answer's id settles in the request table.
    fn answer_key(&self, ctx: &CallContext, exchange: Exchange, raw: &[u8]) -> PendingKey {
        match self.engine.profile() {
            Profile::Intercept => (ctx.session.clone(), exchange, raw.to_vec()),
            Profile::Strict => self.settle_key(ctx, exchange, raw),
        }
    }

    fn refused(&mut self, r: Refusal, ctx: &CallContext, now: Timestamp) -> Vec<Output> {
        let mut out = Vec::new();
        self.refuse(r, ctx, now, &mut out);
        out
    }

    /// One message from the upstream.
    pub fn from_upstream(&mut self, bytes: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Output> {
        self.from_upstream_on(bytes, ctx, 0, now)
    }

    /// [`ProxyCore::from_upstream`] on a numbered exchange (the response to an HTTP POST).
    pub fn from_upstream_on(&mut self, bytes: &[u8], ctx: &CallContext, exchange: Exchange, now: Timestamp) -> Vec<Output> {
        let spaced = self.carriage_returns_spaced(bytes);
        let bytes = spaced.as_deref().unwrap_or(bytes);
        let Ok(node) = rawjson::parse(bytes) else {
            return vec![Output::ToAgent(bytes.to_vec())];
        };
        if self.unlisted != Unlisted::Unchecked && tools_changed(&node) {
            // Every schema seen may be stale: the next call of each tool waits for a fresh list.
            self.schemas.forget();
        }
        if let Some(step) = self.pin_step(&node, bytes, ctx, exchange) {
            return match step {
                Step::Next(list) => vec![Output::ToUpstream(list)],
                Step::Resolved { calls, next } => self.resolve(calls, next, now),
                Step::Stale => Vec::new(),
            };
        }
        let mut records = Vec::new();
        let body = match &node.kind {
            Kind::Object(_) => match self.response(&node, bytes, ctx, exchange, &mut records) {
                Settled::Unchanged => bytes.to_vec(),
                Settled::Replaced(out) => out,
                Settled::Dropped => return records,
            },
            Kind::Array(items) => {
                let parts: Vec<Settled> =
                    items.iter().map(|item| self.response(item, bytes, ctx, exchange, &mut records)).collect();
                if parts.iter().all(|p| matches!(p, Settled::Unchanged)) {
                    bytes.to_vec()
                } else {
                    let joined: Vec<Vec<u8>> = parts
                        .into_iter()
                        .zip(items)
                        .filter_map(|(part, item)| match part {
                            Settled::Unchanged => Some(item.raw(bytes).to_vec()),
                            Settled::Replaced(out) => Some(out),
                            Settled::Dropped => None,
                        })
                        .collect();
                    if joined.is_empty() {
                        return records;
                    }
                    array(&joined)
                }
            }
            _ => bytes.to_vec(),
        };
        let mut out = vec![Output::ToAgent(body)];
        out.append(&mut records);
        out
    }

    /// Requests forwarded and not answered yet (in every session and exchange).
    pub fn requests_waiting(&self) -> usize {
        self.pending.requests_waiting()
    }

    /// The upstream is gone: every request still waiting is answered with an
    /// error (its call keeps its reservation: the upstream may have run it).
    pub fn upstream_gone(&mut self) -> Vec<Output> {
        // Held calls wait as requests too: they are answered below with the rest.
        if let Some(pin) = &mut self.pin {
            pin.release_all();
        }
        let gone = self.pending.give_up(None, None);
        self.give_up(gone, "the upstream exited before answering this request")
    }

    /// The upstream closed its output but may still be running: every
    /// request waiting is answered with an error, as when it exits.
    pub fn upstream_silent(&mut self) -> Vec<Output> {
        let gone = self.pending.give_up(None, None);
        self.give_up(gone, "the upstream closed its output before answering this request")
    }

    /// An upstream answer too large to pass on, whose `raw_id` was read from
    /// its first bytes: the request it answers gets an error instead. The
    /// upstream answered, so its call counts (the reservation is kept).
    pub fn oversized_answer(&mut self, raw_id: &[u8], ctx: &CallContext, why: &str) -> Vec<Output> {
        let answer_key = self.answer_key(ctx, 0, raw_id);
        if !self.pending.outstanding(&answer_key) || self.pending.answer(&answer_key) == Answered::Late {
            return Vec::new();
        }
        let key = self.settle_key(ctx, 0, raw_id);
        let mut out = vec![Output::ToAgent(jsonrpc_error(Some(raw_id), INTERNAL_ERROR, why))];
        if self.pending.take_call(&key).is_some() {
            out.extend(self.recorder.as_mut().and_then(|r| r.answered(&key, Upstream::None)).map(Output::Record));
        }
        self.pending.take_list(&key);
        out
    }

    /// Answers every request sent at or before `now - timeout` with an error
    /// (the `--call-timeout` of the stdio transports).
    pub fn expire(&mut self, now: Timestamp, timeout: std::time::Duration) -> Vec<Output> {
        let nanos = i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX);
        let gone = self.pending.give_up(Some(now.plus_nanos(nanos.saturating_neg())), None);
        self.time_out(gone, timeout, now)
    }

    /// Answers every request of one exchange still waiting (an HTTP POST whose upstream timed out).
    pub fn give_up_exchange(&mut self, exchange: Exchange, timeout: std::time::Duration, now: Timestamp) -> Vec<Output> {
        let gone = self.pending.give_up(None, Some(exchange));
        self.time_out(gone, timeout, now)
    }

    /// Requests given up after `timeout`: each answered with an error, a
    /// call held for the proxy's own list refused for that list.
    fn time_out(&mut self, gone: Vec<(PendingKey, InFlight)>, timeout: std::time::Duration, now: Timestamp) -> Vec<Output> {
        let mut out = Vec::new();
        let mut answered = Vec::new();
        for (key, flight) in gone {
            // A call held for the proxy's own list was never forwarded: it is
            // the list that went unanswered, and the call is refused for it.
            let Some(call) = self.pin.as_mut().and_then(|pin| pin.unhold(&key)) else {
                answered.push((key, flight));
                continue;
            };
            let message = format!(
                "tool {} refused: the upstream did not answer the proxy's own tools/list within {}, which the call waited for to be checked, so it was not forwarded",
                crate::gofmt::quote::quote(&call.tool),
                show_duration(timeout)
            );
            let r = Refusal { code: INTERNAL_ERROR, message, id: Some(flight.raw_id), tool: call.tool, silent: false };
            self.refuse(r, &call.ctx, now, &mut out);
        }
        out.extend(self.give_up(answered, &format!("the upstream did not answer within {}", show_duration(timeout))));
        out
    }

    fn give_up(&mut self, gone: Vec<(PendingKey, InFlight)>, why: &str) -> Vec<Output> {
        let mut out = Vec::new();
        for (key, flight) in gone {
            // A held call answered here waits for no list any more.
            if let Some(pin) = &mut self.pin {
                pin.unhold(&key);
            }
            let (session, exchange, _) = key;
            let ctx = CallContext { identity: None, session };
            let key = self.settle_key(&ctx, exchange, &flight.raw_id);
            // Kept, not rolled back: the upstream may have executed the call.
            if self.pending.take_call(&key).is_some() {
                if let Some(line) = self.recorder.as_mut().and_then(|r| r.answered(&key, Upstream::None)) {
                    out.push(Output::Record(line));
                }
            }
            self.pending.take_list(&key);
            for _ in 0..flight.copies {
                out.push(Output::ToAgent(jsonrpc_error(Some(&flight.raw_id), INTERNAL_ERROR, why)));
            }
        }
        out
    }

    /// Acts on one classified (non-batch) message; pushes answers and audits
    /// into `out` and returns whether the message itself goes upstream.
    fn handle(&mut self, msg: Classified, ctx: &CallContext, exchange: Exchange, now: Timestamp, out: &mut Vec<Output>) -> bool {
        match msg {
            Classified::ToolCall(call) => self.evaluate(call, ctx, exchange, now, out),
            Classified::ToolsList { id } => {
                if let Some(id) = id {
                    let key = self.settle_key(ctx, exchange, &id);
                    self.pending.register_list(key);
                }
                true
            }
            Classified::Passthrough(_) => true,
            Classified::Refused(r) => {
                self.refuse(r, ctx, now, out);
                false
            }
            // Batches are dispatched before `handle`; forwarding is Intercept's answer to them.
            Classified::Batch => true,
        }
    }

    fn evaluate(&mut self, call: CallMsg, ctx: &CallContext, exchange: Exchange, now: Timestamp, out: &mut Vec<Output>) -> bool {
        let tool_call = ToolCall { name: &call.name, arguments: call.arguments.as_ref() };
        // Made outside when replaying a ticket; otherwise here (deciding
        // outside, only calls that never touch the store get here).
        let decision = match self.made.pop_front() {
            Some(decision) => decision,
            None => match self.store_late {
                Some((mode, timeout)) => {
                    let engine = &self.engine;
                    let decide = |store: &mut dyn CounterStore| vec![engine.decide(store, &tool_call, ctx, now)];
                    // One call in, one decision out.
                    let late = super::decider::decided_late(&decide, mode, timeout).pop();
                    late.unwrap_or_else(|| engine.decide(&mut FailClosedStore, &tool_call, ctx, now))
                }
                None => self.engine.decide(self.store.as_mut(), &tool_call, ctx, now),
            },
        };
        let counters: BTreeMap<String, i64> = decision.counters.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let mut record = AuditRecord {
            time: now,
            tool: call.name.clone(),
            result: AuditResult::Allowed,
            rule: None,
            message: None,
            args_hash: args_hash(call.arguments.as_ref()),
            identity: ctx.identity.clone(),
            session: ctx.session.clone(),
            cause: None,
            counters,
        };
        match decision.outcome {
            Outcome::Allow => {
                // Notifications get no answer, so their reservations are never rolled back (§2.2).
                let key = call.id.as_ref().filter(|id| id.as_slice() != b"null").map(|id| self.settle_key(ctx, exchange, id));
                if let Some(recorder) = &mut self.recorder {
                    let line = recorder.decided(now, ctx, &call.name, call.arguments.as_ref(), Decided::Allowed(key.clone()));
                    out.extend(line.map(Output::Record));
                }
                if let Some(key) = key {
                    self.pending.register_call(key, decision.reservations);
                }
                out.push(Output::Audit(record));
                true
            }
            Outcome::Deny { message, rule, cause, .. } => {
                if let Some(recorder) = &mut self.recorder {
                    out.extend(recorder.decided(now, ctx, &call.name, call.arguments.as_ref(), Decided::Denied).map(Output::Record));
                }
                out.push(Output::ToAgent(match call.surface {
                    true => jsonrpc_error(call.id.as_deref(), SURFACE_DENIED, &format!("{DENIED_PREFIX}{message}")),
                    false => denial(call.id.as_deref(), &message),
                }));
                record.result = AuditResult::Denied;
                record.rule = rule;
                record.message = Some(message);
                record.cause = Some(cause);
                out.push(Output::Audit(record));
                false
            }
        }
    }

    fn refuse(&mut self, r: Refusal, ctx: &CallContext, now: Timestamp, out: &mut Vec<Output>) {
        if !r.silent {
            out.push(Output::ToAgent(jsonrpc_error(r.id.as_deref(), r.code, &r.message)));
        }
        out.push(Output::Audit(AuditRecord {
            time: now,
            tool: r.tool,
            result: AuditResult::Refused,
            rule: None,
            message: Some(r.message),
            args_hash: None,
            identity: ctx.identity.clone(),
            session: ctx.session.clone(),
            cause: None,
            counters: BTreeMap::new(),
        }));
    }

    /// The elements of a top-level array the core evaluates one by one:
    /// under `intercept`, in front of an HTTP upstream, when every element is
    /// a well-typed object (§2.1). `None`: refused, forwarded whole, or malformed.
    fn evaluated_elements<'n>(&self, parsed: &'n Result<Node, ParseError>) -> Option<&'n [Node]> {
        if self.engine.profile() == Profile::Strict || self.mode == WireMode::StdioChild {
            return None;
        }
        let Ok(Node { kind: Kind::Array(elements), .. }) = parsed else { return None };
        let malformed = elements.is_empty()
            || elements.iter().any(|e| match &e.kind {
                Kind::Object(members) => decode::envelope(members).type_error,
                _ => true,
            });
        (!malformed).then_some(elements.as_slice())
    }

    /// A top-level array from the agent, per transport and profile (§2.1, §4 last bullet).
    fn batch(
        &mut self,
        parsed: &Result<Node, ParseError>,
        bytes: &[u8],
        ctx: &CallContext,
        exchange: Exchange,
        now: Timestamp,
        out: &mut Vec<Output>,
    ) {
        if self.engine.profile() == Profile::Strict {
            let r = Refusal {
                code: decode::INVALID_REQUEST,
                message: "invalid request: JSON-RPC batches are refused under the strict profile".into(),
                id: None,
                tool: String::new(),
                silent: false,
            };
            self.refuse(r, ctx, now, out);
            return;
        }
        if self.mode == WireMode::StdioChild {
            // Forwarded unevaluated, but each request in it still waits for its answer.
            if let Ok(Node { kind: Kind::Array(items), .. }) = parsed {
                items.iter().for_each(|item| self.remember_request(item, bytes, ctx, exchange, now));
            }
            out.push(Output::ToUpstream(bytes.to_vec()));
            return;
        }
        let Some(elements) = self.evaluated_elements(parsed) else {
            out.push(match self.mode {
                WireMode::Http => Output::ToAgent(jsonrpc_error(None, INTERNAL_ERROR, "invalid JSON-RPC batch")),
                _ => Output::ToUpstream(bytes.to_vec()),
            });
            return;
        };
        let mut answers = Vec::new();
        let mut forwarded = Vec::new();
        for element in elements {
            let msg = decode::classify_object(element, bytes, Profile::Intercept);
            if self.handle(msg, ctx, exchange, now, &mut answers) {
                self.remember_request(element, bytes, ctx, exchange, now);
                forwarded.push(reserialise(element, bytes));
            }
        }
        match forwarded.len() {
            0 => {}
            1 => out.push(Output::ToUpstream(forwarded.remove(0))),
            _ => out.push(Output::ToUpstream(array(&forwarded))),
        }
        out.extend(answers);
    }

    /// Remembers one forwarded element of a batch (batches reach here only
    /// under `intercept`, whose keys never refuse) if it is a request, so it
    /// is answered with an error if the upstream dies or hangs.
    fn remember_request(&mut self, element: &Node, src: &[u8], ctx: &CallContext, exchange: Exchange, now: Timestamp) {
        let Some(id) = decode::request_id(element).filter(|id| !id.is_null()) else { return };
        if let Ok(key) = self.request_key(ctx, exchange, id, src) {
            self.pending.register_request(key, id.raw(src), now);
        }
    }

    /// Commits or rolls back the call this response answers (adding its line to
    /// `records` when recording, and its rollback when deciding outside), and
    /// filters it if it answers a `tools/list`.
    fn response(&mut self, node: &Node, src: &[u8], ctx: &CallContext, exchange: Exchange, records: &mut Vec<Output>) -> Settled {
        let Kind::Object(members) = &node.kind else {
            return Settled::Unchanged;
        };
        let env = decode::envelope(members);
        if env.type_error || env.method.is_some() {
            return Settled::Unchanged;
        }
        let Some(id) = env.id else {
            return Settled::Unchanged;
        };
        let raw = id.raw(src);
        if self.pending.answer(&self.answer_key(ctx, exchange, raw)) == Answered::Late {
            return Settled::Dropped;
        }
        let key = self.settle_key(ctx, exchange, raw);
        if let Some(reservations) = self.pending.take_call(&key) {
            let failed = env.error.is_some_and(|e| !e.is_null());
            if failed && self.outside {
                records.push(Output::Rollback(reservations));
            } else if failed {
                self.engine.rollback(self.store.as_mut(), &reservations);
            }
            if let Some(recorder) = &mut self.recorder {
                let upstream = match env.result {
                    _ if failed => Upstream::JsonrpcError,
                    Some(result) if is_error_result(result) => Upstream::IsError,
                    _ => Upstream::Ok,
                };
                records.extend(recorder.answered(&key, upstream).map(Output::Record));
            }
        }
        if !self.pending.take_list(&key) {
            return Settled::Unchanged;
        }
        if self.engine.profile() == Profile::Strict {
            // Hidden tools too: a call of one is denied anyway, and checked first.
            if let Ok(body) = serde_json::from_slice::<serde_json::Value>(node.raw(src)) {
                self.schemas.learn_answer(&body);
            }
        }
        let hidden = match filter_parsed(node, src, self.engine.hidden()) {
            Filtered::Rewritten(out) => Settled::Replaced(out),
            Filtered::Unchanged => Settled::Unchanged,
            // Intercept shows such a page as is, hidden tools included (G-16); strict refuses it.
            Filtered::Unfilterable if self.engine.profile() == Profile::Strict => Settled::Replaced(jsonrpc_error(
                Some(raw),
                INTERNAL_ERROR,
                "the tools/list response could not be filtered for hidden tools",
            )),
            Filtered::Unfilterable => Settled::Unchanged,
        };
        let Some(pin) = &self.pin else { return hidden };
        let page = match &hidden {
            Settled::Replaced(out) => out.as_slice(),
            _ => node.raw(src),
        };
        match pin.filter(page) {
            Some(out) => Settled::Replaced(out),
            None => hidden,
        }
    }

    /// Under `--pin`, or when strict asks for unseen schemas: a request the
    /// agent sent, before the policy sees it. A call is held until the
    /// upstream's own list shows its definition (unpinned: only a call of a
    /// tool whose schema is unknown); an `initialize` is noted (its answer
    /// names the server); an id the proxy keeps for its own lists is refused.
    #[allow(clippy::too_many_arguments)]
    fn hold(&mut self, msg: &Classified, parsed: &Result<Node, rawjson::ParseError>, bytes: &[u8], key: &PendingKey, raw_id: &[u8], ctx: &CallContext, exchange: Exchange, now: Timestamp) -> Held {
        let Some(pin) = &mut self.pin else { return Held::Passes };
        if Pin::is_own(raw_id) {
            return Held::Refused(Refusal {
                code: decode::INVALID_REQUEST,
                message: format!("invalid request: id {} is kept for the proxy's own requests", String::from_utf8_lossy(raw_id)),
                id: Some(raw_id.to_vec()),
                tool: String::new(),
                silent: false,
            });
        }
        let call = match msg {
            Classified::ToolCall(call) if !call.surface => call,
            _ => {
                let method = parsed.as_ref().ok().and_then(|n| match &n.kind {
                    Kind::Object(members) => decode::envelope(members).method,
                    _ => None,
                });
                if method.as_deref() == Some("initialize") {
                    pin.note_initialize(ctx, raw_id);
                }
                return Held::Passes;
            }
        };
        if !pin.is_pinned() && self.schemas.knows(&call.name) {
            return Held::Passes;
        }
        let parked = Parked { bytes: bytes.to_vec(), ctx: ctx.clone(), exchange, key: key.clone(), id: raw_id.to_vec(), tool: call.name.clone(), at: now };
        let list = pin.park(parked);
        self.pending.register_request(key.clone(), raw_id, now);
        Held::Held(list.map(Output::ToUpstream).into_iter().collect())
    }

    /// Under `--pin`: what an upstream message means to the pin (an answer
    /// to its own list), noting the server an `initialize` answer names.
    fn pin_step(&mut self, node: &Node, src: &[u8], ctx: &CallContext, exchange: Exchange) -> Option<Step> {
        let pin = self.pin.as_mut()?;
        let Kind::Object(members) = &node.kind else { return None };
        let raw = decode::envelope(members).id?.raw(src);
        let body: serde_json::Value = serde_json::from_slice(node.raw(src)).ok()?;
        if Pin::is_own(raw) {
            if self.engine.profile() == Profile::Strict {
                self.schemas.learn_answer(&body);
            }
            // Never the agent's: an answer to a list nothing waits for is dropped.
            return Some(pin.own_answer(ctx, exchange, raw, &body).unwrap_or(Step::Stale));
        }
        pin.answered(ctx, raw, &body);
        None
    }

    /// Held calls the upstream's list answers: each refused, or on to the
    /// policy as if it had just arrived; then the next list.
    fn resolve(&mut self, calls: Vec<(Parked, Verdict)>, next: Option<Vec<u8>>, now: Timestamp) -> Vec<Output> {
        let mut out = Vec::new();
        for (call, verdict) in calls {
            // Not waiting any more: the proxy answered it itself (a timeout).
            if !self.pending.outstanding(&call.key) {
                continue;
            }
            // Answered here, or on as a new request: either way its id is free again.
            self.pending.answer(&call.key);
            let tool = crate::gofmt::quote::quote(&call.tool);
            let (code, message) = match verdict {
                Verdict::Listed => {
                    self.releasing = true;
                    out.extend(self.from_agent_on(&call.bytes, &call.ctx, call.exchange, now));
                    self.releasing = false;
                    continue;
                }
                Verdict::NotApproved(why) => (super::pin::NOT_APPROVED, format!("tool {tool} is not served as approved: {why}")),
                Verdict::Unlisted => (
                    decode::INVALID_PARAMS,
                    format!("invalid params: tool {tool} refused: the upstream's tools/list does not list it, so there is no inputSchema to check its arguments against"),
                ),
                Verdict::ListFailed(why) => (
                    INTERNAL_ERROR,
                    format!("tool {tool} refused: the proxy asked the upstream for its tools to check this call's arguments against the tool's inputSchema, and {why}"),
                ),
            };
            let r = Refusal { code, message, id: Some(call.id.clone()), tool: call.tool.clone(), silent: false };
            self.refuse(r, &call.ctx, now, &mut out);
        }
        out.extend(next.map(Output::ToUpstream));
        out
    }
}

/// Whether an upstream message is (or a batch holds) `notifications/tools/list_changed`.
fn tools_changed(node: &Node) -> bool {
    let is_it = |n: &Node| match &n.kind {
        Kind::Object(members) => decode::envelope(members).method.as_deref() == Some("notifications/tools/list_changed"),
        _ => false,
    };
    match &node.kind {
        Kind::Array(items) => items.iter().any(is_it),
        _ => is_it(node),
    }
}

/// Strict: why a request on a surface the policy does not govern is refused.
fn ungoverned(call: &CallMsg) -> Refusal {
    let m = &call.name;
    Refusal {
        code: UNGOVERNED,
        message: format!("`{m}` is refused under the strict profile: the policy does not govern it (a `tools` entry named `{m}` would)"),
        id: call.id.clone(),
        tool: m.clone(),
        silent: false,
    }
}

/// `30 s`, `1.5 s`, `250 ms`.
fn show_duration(d: std::time::Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

/// A `tools/call` result carrying `isError: true` (the tool failed; the call still counts).
fn is_error_result(result: &Node) -> bool {
    let Kind::Object(members) = &result.kind else { return false };
    members.iter().any(|m| m.key.text == "isError" && m.value.kind == Kind::Bool(true))
}

/// `[a,b,…]` from already-encoded elements.
fn array(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![b'['];
    for (k, p) in parts.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(p);
    }
    out.push(b']');
    out
}

/// A forwarded batch element as Intercept's bridge/HTTP transports re-encode
/// it: only jsonrpc, id, method, params, result and error survive.
fn reserialise(element: &Node, src: &[u8]) -> Vec<u8> {
    let Kind::Object(members) = &element.kind else {
        return element.raw(src).to_vec();
    };
    let env = decode::envelope(members);
    let mut out = b"{\"jsonrpc\":".to_vec();
    write_string_bytes(&mut out, env.jsonrpc.unwrap_or_default().as_bytes());
    if let Some(id) = env.id {
        out.extend_from_slice(b",\"id\":");
        compact_raw(&mut out, id.raw(src));
    }
    if let Some(method) = env.method.filter(|m| !m.is_empty()) {
        out.extend_from_slice(b",\"method\":");
        write_string_bytes(&mut out, method.as_bytes());
    }
    for (name, raw) in [("params", env.params), ("result", env.result), ("error", env.error)] {
        if let Some(node) = raw {
            out.extend_from_slice(format!(",\"{name}\":").as_bytes());
            compact_raw(&mut out, node.raw(src));
        }
    }
    out.push(b'}');
    out
}
