//! Newline-delimited framing for the stdio adapters, and the shared pump
//! that feeds lines through the core and writes its outputs.
//!
//! Lines are read by [`crate::mcp::stdio::LineReader`], whose max-length
//! guard skips an over-long line up to its newline (the rest of the stream
//! stays in sync) and reports it, never buffering it whole. Writers add exactly one `\n` per message and flush, so a
//! peer waiting on a line is never left behind a buffer. Nothing here ever
//! writes to stdout except messages the core produced.
//!
//! Calls that need the counter store are not decided on the reader thread:
//! the core hands them out ([`Output::Decide`]) and the pump's [`Decider`]
//! decides them off the core's lock, within `--state-timeout`, then finishes
//! them through the core and writes their answers itself. The calls after
//! them go on meanwhile: a hung store delays only the calls it counts.

use std::io::{self, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};
use crate::caller::CallContext;
use crate::engine::{Decision, Reservation};
use crate::mcp::stdio::{Frame, LineReader, MAX_LINE};

use super::auditlog::AuditLog;
use super::core::{Output, ProxyCore};
use super::decider::{Decider, StoreCalls};
use super::reload::Reloader;
use super::ticket::Ticket;

/// Longest agent line accepted by default: the wire's own limit (4 MiB).
pub const DEFAULT_MAX_LINE: usize = MAX_LINE;
/// Upstreams may send large `tools/list` pages; their guard is looser.
pub const UPSTREAM_MAX_LINE: usize = 64 << 20;

/// Writes one message as one line and flushes. Errors mean the peer is gone.
pub fn write_line(w: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    write_message(w, bytes)?;
    w.flush()
}

/// Writes one message as one line, leaving the flush to the caller.
pub fn write_message(w: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    w.write_all(bytes)?;
    w.write_all(b"\n")
}

/// The JSON-RPC error the agent gets for a line over the guard (it is not forwarded).
pub fn too_long_error(len: usize, max: usize) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32600, "message": format!("message of {len} bytes exceeds the proxy's limit of {max} bytes")},
    }))
    .unwrap_or_default()
}

/// A core step's outputs for the caller to act on outside the core's lock.
#[derive(Default)]
pub struct Sorted {
    pub to_upstream: Vec<Vec<u8>>,
    pub to_agent: Vec<Vec<u8>>,
    /// Messages to decide with the store ([`Decider::decide`]).
    pub decide: Vec<Ticket>,
    /// Reservations to roll back in the store ([`Decider::rollback`]).
    pub rollback: Vec<Reservation>,
}

/// Records a core step's audit records and traffic lines; returns the rest.
pub fn split_outputs(outputs: Vec<Output>, audit: &mut AuditLog) -> Sorted {
    let mut sorted = Sorted::default();
    for output in outputs {
        match output {
            Output::ToUpstream(bytes) => sorted.to_upstream.push(bytes),
            Output::ToAgent(bytes) => sorted.to_agent.push(bytes),
            Output::Audit(record) => audit.record(&record),
            Output::Record(line) => audit.traffic(&line),
            Output::Decide(ticket) => sorted.decide.push(ticket),
            Output::Rollback(reservations) => sorted.rollback.extend(reservations),
        }
    }
    sorted
}

/// Which peer a reader thread reads from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Agent,
    Upstream,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Agent => "agent",
            Side::Upstream => "upstream",
        }
    }
}

/// Where `ToUpstream` messages go: a child's stdin, or an HTTP poster.
pub trait UpstreamSink: Send {
    /// Queues one message; it may wait in a buffer until [`UpstreamSink::flush`].
    fn send(&mut self, bytes: Vec<u8>);
    fn flush(&mut self) {}
    /// The agent hung up: close the upstream's input.
    fn close(&mut self);
}

/// The core and its audit log, behind one lock. The sinks have their own
/// locks: holding the core's while blocked writing to a full pipe would let
/// a child that is itself blocked writing to us deadlock both sides.
pub struct Pump {
    pub core: ProxyCore,
    pub audit: AuditLog,
}

/// Which sinks hold unflushed writes.
#[derive(Clone, Copy, Default)]
struct Dirty {
    agent: bool,
    upstream: bool,
}

/// Which sinks the decider's threads left unflushed (flushed when it is idle).
#[derive(Default)]
struct DecidedDirty {
    agent: AtomicBool,
    upstream: AtomicBool,
}

impl std::ops::BitOrAssign for Dirty {
    fn bitor_assign(&mut self, other: Dirty) {
        self.agent |= other.agent;
        self.upstream |= other.upstream;
    }
}

/// Requests forwarded and not yet answered past which the agent side stops
/// reading: an agent pipelining faster than the upstream answers then waits
/// in its own pipe instead of in our memory (a server that reads ahead, as
/// most do, would otherwise let every queued call sit in the pending state).
pub const MAX_IN_FLIGHT: usize = 1024;

/// Once the window is full, the agent side reads again only when this few
/// requests are outstanding: waking it per answer would cost two context
/// switches per call of a pipelined flood, a quarter of the window per wake-up
/// costs next to nothing.
const RESUME_BELOW: usize = MAX_IN_FLIGHT - MAX_IN_FLIGHT / 4;

/// How long the agent side waits without a single answer arriving before it
/// reads on anyway. An upstream may be waiting for the agent itself (an
/// answer to its own request, a cancellation) behind the calls we hold back;
/// never reading again would deadlock both.
const STALL: Duration = Duration::from_secs(2);

/// Backpressure between the two sides: the agent side waits on `cond` while
/// [`MAX_IN_FLIGHT`] requests are outstanding; any step that may have freed
/// room wakes it if it said it was waiting.
#[derive(Default)]
struct Room {
    /// Requests outstanding after the last step (read without the core lock).
    in_flight: AtomicUsize,
    /// Steps that left fewer requests outstanding than before (answers, give-ups).
    progress: AtomicU64,
    /// Set, under the core lock, by an agent side about to wait.
    waiting: AtomicBool,
    /// Set when the upstream stalled with the window full: the agent side
    /// reads on until the upstream answers again.
    stalled: AtomicBool,
    cond: Condvar,
}

/// The pump shared by the reader threads (agent side, upstream side, reload).
#[derive(Clone)]
pub struct SharedPump {
    pump: Arc<Mutex<Pump>>,
    agent: Arc<Mutex<Box<dyn Write + Send>>>,
    upstream: Arc<Mutex<Box<dyn UpstreamSink>>>,
    room: Arc<Room>,
    /// The upstream closed its output: nothing forwarded will be answered.
    silent: Arc<AtomicBool>,
    /// Decides the calls that need the store, off the core's lock.
    decider: Arc<Decider>,
    decided_dirty: Arc<DecidedDirty>,
    /// The policy file's watch, when the policy is reloaded.
    reload: Option<Arc<Reloader>>,
}

/// A poisoned lock means a panic elsewhere; the state itself is still
/// consistent per message, so keep serving.
fn relock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SharedPump {
    /// The pump of a core deciding outside ([`ProxyCore::deciding_outside`]), whose store `calls` holds.
    pub fn new(
        core: ProxyCore,
        audit: AuditLog,
        agent: Box<dyn Write + Send>,
        upstream: Box<dyn UpstreamSink>,
        calls: StoreCalls,
    ) -> SharedPump {
        let agent: Arc<Mutex<Box<dyn Write + Send>>> = Arc::new(Mutex::new(agent));
        let upstream: Arc<Mutex<Box<dyn UpstreamSink>>> = Arc::new(Mutex::new(upstream));
        let decided_dirty = Arc::new(DecidedDirty::default());
        let (idle_agent, idle_upstream, idle_dirty) = (agent.clone(), upstream.clone(), decided_dirty.clone());
        let decider = Decider::start(calls, move || {
            if idle_dirty.agent.swap(false, Ordering::SeqCst) {
                let _ = relock(&idle_agent).flush();
            }
            if idle_dirty.upstream.swap(false, Ordering::SeqCst) {
                relock(&idle_upstream).flush();
            }
        });
        SharedPump {
            pump: Arc::new(Mutex::new(Pump { core, audit })),
            agent,
            upstream,
            room: Arc::default(),
            silent: Arc::default(),
            decider: Arc::new(decider),
            decided_dirty,
            reload: None,
        }
    }

    /// Follows the policy file's watch (set before the pump's threads start).
    pub fn with_reload(self, reload: Option<Arc<Reloader>>) -> SharedPump {
        SharedPump { reload, ..self }
    }

    /// Before an agent message: see [`Reloader::catch_up`].
    fn catch_up(&self) {
        if let Some(reload) = &self.reload {
            reload.catch_up();
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Pump> {
        relock(&self.pump)
    }

    /// Writes the recorded calls the upstream never answered (call once it is gone).
    pub fn finish_recording(&self) {
        let mut pump = self.lock();
        let Pump { core, audit } = &mut *pump;
        split_outputs(core.unanswered_records(), audit);
    }

    /// Runs one core step under the core lock, then outside it hands its
    /// tickets and rollbacks to the decider and writes its messages,
    /// unflushed; returns which sinks were written.
    fn step(&self, f: impl FnOnce(&mut ProxyCore) -> Vec<Output>) -> Dirty {
        let Sorted { to_upstream, to_agent, decide, rollback } = {
            let mut pump = self.lock();
            let Pump { core, audit } = &mut *pump;
            if let Some(reload) = &self.reload {
                reload.apply_to(core);
            }
            let outputs = split_outputs(f(core), audit);
            let now_waiting = core.requests_waiting();
            if now_waiting < self.room.in_flight.swap(now_waiting, Ordering::Relaxed) {
                self.room.progress.fetch_add(1, Ordering::Relaxed);
                self.room.stalled.store(false, Ordering::Relaxed);
            }
            outputs
        };
        if self.room.waiting.load(Ordering::SeqCst) && self.room.in_flight.load(Ordering::Relaxed) < RESUME_BELOW {
            self.room.cond.notify_all();
        }
        for ticket in decide {
            let pump = self.clone();
            self.decider.decide(ticket, Box::new(move |ticket, decisions| pump.decided(ticket, decisions)));
        }
        if !rollback.is_empty() {
            self.decider.rollback(rollback);
        }
        let dirty = Dirty { agent: !to_agent.is_empty(), upstream: !to_upstream.is_empty() };
        if !to_agent.is_empty() {
            let mut agent = relock(&self.agent);
            for bytes in to_agent {
                // A vanished agent is noticed by the reader on EOF; nothing to do here.
                let _ = write_message(&mut *agent, &bytes);
            }
        }
        if !to_upstream.is_empty() {
            let mut upstream = relock(&self.upstream);
            for bytes in to_upstream {
                upstream.send(bytes);
            }
        }
        dirty
    }

    /// Blocks the agent side, once [`MAX_IN_FLIGHT`] requests are
    /// outstanding, until fewer than [`RESUME_BELOW`] are
    /// outstanding, after sending what it has buffered (the answers that free
    /// room can only come for requests the upstream has seen). The timeout
    /// only guards against a missed wake-up.
    fn wait_for_room(&self, dirty: &mut Dirty) {
        if self.room.in_flight.load(Ordering::Relaxed) < MAX_IN_FLIGHT || self.room.stalled.load(Ordering::Relaxed) {
            return;
        }
        self.flush_dirty(dirty);
        let mut pump = self.lock();
        let mut seen = self.room.progress.load(Ordering::Relaxed);
        let mut deadline = Instant::now() + STALL;
        while pump.core.requests_waiting() >= RESUME_BELOW {
            let progress = self.room.progress.load(Ordering::Relaxed);
            if progress != seen {
                (seen, deadline) = (progress, Instant::now() + STALL);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.room.stalled.store(true, Ordering::Relaxed);
                break;
            }
            self.room.waiting.store(true, Ordering::SeqCst);
            pump = match self.room.cond.wait_timeout(pump, left.min(Duration::from_millis(100))) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        self.room.waiting.store(false, Ordering::SeqCst);
    }

    /// Flushes only the sinks this thread wrote to: flushing the other one
    /// could wait on a writer blocked by a peer that waits on us.
    fn flush_dirty(&self, dirty: &mut Dirty) {
        if std::mem::take(&mut dirty.agent) {
            let _ = relock(&self.agent).flush();
        }
        if std::mem::take(&mut dirty.upstream) {
            relock(&self.upstream).flush();
        }
    }

    pub fn from_agent(&self, bytes: &[u8], ctx: &CallContext) {
        self.catch_up();
        let mut dirty = self.step(|core| core.from_agent(bytes, ctx, SystemClock.now()));
        self.flush_dirty(&mut dirty);
    }

    /// A ticket's decisions are in (on a decider thread): finish its message
    /// through the core; the decider flushes once it is idle.
    fn decided(&self, ticket: &Ticket, decisions: Vec<Decision>) {
        let dirty = self.step(|core| {
            let mut out = core.finish(ticket, decisions);
            if self.silent.load(Ordering::SeqCst) {
                out.extend(core.upstream_silent());
            }
            out
        });
        self.decided_dirty.agent.fetch_or(dirty.agent, Ordering::SeqCst);
        self.decided_dirty.upstream.fetch_or(dirty.upstream, Ordering::SeqCst);
    }

    /// Waits for the calls being decided to be finished (each within its
    /// `--state-timeout`), so what they forward reaches the upstream before it is closed.
    pub fn drain_decisions(&self) {
        self.decider.drain(self.decider.longest());
    }

    pub fn from_upstream(&self, bytes: &[u8], ctx: &CallContext) {
        let mut dirty = self.step(|core| core.from_upstream(bytes, ctx, SystemClock.now()));
        self.flush_dirty(&mut dirty);
    }

    /// The upstream closed its output but may still run: every request
    /// waiting, and from now on every request forwarded, is answered with an error.
    pub fn upstream_silent(&self) {
        self.silent.store(true, Ordering::SeqCst);
        let mut dirty = self.step(|core| core.upstream_silent());
        self.flush_dirty(&mut dirty);
    }

    /// The upstream is gone: answers every request still waiting with an error.
    pub fn upstream_gone(&self) {
        let mut dirty = self.step(|core| core.upstream_gone());
        self.flush_dirty(&mut dirty);
    }

    /// `--call-timeout`: a thread that answers requests waiting longer than
    /// `timeout` with an error, checking a few times per timeout.
    pub fn expire_calls_every(&self, timeout: std::time::Duration) {
        let pump = self.clone();
        let tick = (timeout / 8).clamp(std::time::Duration::from_millis(10), std::time::Duration::from_secs(1));
        std::thread::spawn(move || loop {
            std::thread::sleep(tick);
            let mut expired = 0;
            let mut dirty = pump.step(|core| {
                let out = core.expire(SystemClock.now(), timeout);
                expired = out.len();
                out
            });
            // Logged before the answers are flushed, so the line is there by the time the agent reacts.
            if expired > 0 && super::log::enabled(super::log::Level::Warn) {
                eprintln!("gauntlet proxy: answered {expired} request(s) the upstream left unanswered for {timeout:?} (--call-timeout)");
            }
            pump.flush_dirty(&mut dirty);
        });
    }

    pub fn to_agent(&self, bytes: &[u8]) {
        let _ = write_line(&mut *relock(&self.agent), bytes);
    }

    /// Reads agent lines until EOF, then closes the upstream's input.
    pub fn run_agent_side<R: Read>(&self, input: R, max_line: usize, ctx: &CallContext) {
        self.run_side(
            input,
            max_line,
            Side::Agent,
            |core, line| {
                let mut out = core.from_agent(line, ctx, SystemClock.now());
                if self.silent.load(Ordering::SeqCst) {
                    out.extend(core.upstream_silent());
                }
                out
            },
            |len, _| self.to_agent(&too_long_error(len, max_line)),
        );
        self.drain_decisions();
        relock(&self.upstream).close();
    }

    /// Reads upstream lines until EOF. An answer over [`UPSTREAM_MAX_LINE`]
    /// cannot be passed on: its request, when its id is among the line's
    /// first bytes, is answered with an error instead.
    pub fn run_upstream_side<R: Read>(&self, input: R, ctx: &CallContext) {
        self.run_side(
            input,
            UPSTREAM_MAX_LINE,
            Side::Upstream,
            |core, line| core.from_upstream(line, ctx, SystemClock.now()),
            |len, head| {
                let why = format!("the upstream's answer to this request ({len} bytes) is over the proxy's limit of {UPSTREAM_MAX_LINE} bytes");
                match super::rawjson::prefix_envelope(head) {
                    (Some(id), false) => {
                        let mut dirty = self.step(|core| core.oversized_answer(id, ctx, &why));
                        self.flush_dirty(&mut dirty);
                    }
                    _ => eprintln!("gauntlet proxy: the upstream message of {len} bytes has no answer id in its first {} bytes: if it answered a request, that request stays unanswered (--call-timeout answers it)", crate::mcp::stdio::HEAD),
                }
            },
        );
    }

    /// Feeds each line from the `who` side through `step` until EOF,
    /// flushing once no more input is waiting; `too_long` answers a line
    /// over `max_line` (its length and first bytes), which is dropped.
    fn run_side<R: Read>(
        &self,
        input: R,
        max_line: usize,
        side: Side,
        step: impl Fn(&mut ProxyCore, &[u8]) -> Vec<Output>,
        too_long: impl Fn(usize, &[u8]),
    ) {
        let mut reader = LineReader::with_max(BufReader::with_capacity(1 << 16, input), max_line);
        let mut dirty = Dirty::default();
        let who = side.name();
        loop {
            match reader.next_frame_blocking() {
                Ok(Some(Frame::Line(line))) => {
                    if side == Side::Agent {
                        self.wait_for_room(&mut dirty);
                        self.catch_up();
                    }
                    dirty |= self.step(|core| step(core, &line));
                    if !reader.has_buffered() {
                        self.flush_dirty(&mut dirty);
                    }
                }
                Ok(Some(Frame::TooLong { length, head })) => {
                    if super::log::enabled(super::log::Level::Warn) {
                        eprintln!("gauntlet proxy: dropped an {who} message of {length} bytes (limit {max_line})");
                    }
                    too_long(length, &head);
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("gauntlet proxy: cannot read from the {who}: {e}");
                    break;
                }
            }
        }
        self.flush_dirty(&mut dirty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_long_error_is_a_json_rpc_error_with_null_id() {
        let v: serde_json::Value = serde_json::from_slice(&too_long_error(50, 20)).unwrap();
        assert_eq!(v["error"]["code"], -32600);
        assert!(v["id"].is_null());
    }
}
