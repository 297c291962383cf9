//! The in-process adapter: a [`ProxyCore`] (or several replicas of one)
//! joined to a server core (any [`MessageHandler`]: the testbench passes its
//! mock server) on a virtual clock, with no threads, sockets or sleeps.
//!
//! This is what the testbench drives. The caller says when each agent message
//! is sent; upstream replies with a simulated latency are queued and only
//! delivered (through the core, where commit or rollback happens) when the
//! caller advances time. Delivery order is deterministic: due time, then the
//! order the replies were produced. Several sends at the same `now` with
//! replies due later are exactly "concurrent calls racing a counter".
//!
//! Replicas stand for proxies behind a load balancer: each agent session is
//! given to the next replica in turn when it first speaks, and stays there.
//! Whether they count together depends only on the stores they were built with.
//!
//! It refuses to read any clock: time only moves through `send` and `advance_to`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::clock::Timestamp;
use crate::caller::CallContext;
use crate::mcp::MessageHandler;

use super::core::{AuditRecord, Output, ProxyCore};

const NANOS_PER_MILLI: i64 = 1_000_000;

/// An upstream reply waiting for its simulated latency to pass.
struct Queued {
    due: Timestamp,
    seq: u64,
    bytes: Vec<u8>,
    ctx: CallContext,
    /// The replica that forwarded the request, and gets its reply.
    replica: usize,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

pub struct InProcess<S> {
    /// One or more replicas; the first serves messages without a session.
    cores: Vec<ProxyCore>,
    /// Which replica each session was given.
    replica_of: HashMap<String, usize>,
    server: S,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    audit: Vec<AuditRecord>,
    /// Agent-visible messages delivered while `send` caught up with replies
    /// already due; `advance_to` hands them out with their times.
    held: Vec<(Timestamp, Vec<u8>)>,
    /// The upstream answers nothing before this time (a stalled server).
    stalled_until: Option<Timestamp>,
    /// The upstream exited: the proxy (a stdio proxy exits with its child) takes nothing more.
    gone: bool,
}

impl<S: MessageHandler> InProcess<S> {
    pub fn new(core: ProxyCore, server: S) -> InProcess<S> {
        InProcess::replicated(vec![core], server)
    }

    /// Several proxy replicas in front of one server, sessions given out in turn.
    /// An empty `cores` is one replica short of working: callers pass at least one.
    pub fn replicated(cores: Vec<ProxyCore>, server: S) -> InProcess<S> {
        InProcess {
            cores,
            replica_of: HashMap::new(),
            server,
            queue: BinaryHeap::new(),
            seq: 0,
            audit: Vec::new(),
            held: Vec::new(),
            stalled_until: None,
            gone: false,
        }
    }

    /// A policy reload on every replica: later messages are decided by `engine`.
    pub fn set_engine(&mut self, engine: &crate::engine::Engine) {
        for core in &mut self.cores {
            core.set_engine(engine.clone());
        }
    }

    /// Every replica's store stops answering (`Some`: fail mode and
    /// `--state-timeout`), or answers again (`None`).
    pub fn set_store_late(&mut self, late: Option<(crate::proxy::sqlite::FailMode, std::time::Duration)>) {
        for core in &mut self.cores {
            core.set_store_late(late);
        }
    }

    /// Every replica killed and started again over its store: replies in
    /// flight are lost with the connections, sessions start over.
    pub fn restart(&mut self) {
        for core in &mut self.cores {
            core.restart();
        }
        self.queue.clear();
        self.held.clear();
        self.replica_of.clear();
    }

    /// Every replica's counters replaced by a fresh store from `fresh`.
    pub fn reset_stores(&mut self, fresh: &dyn Fn() -> Box<dyn crate::engine::CounterStore>) {
        for core in &mut self.cores {
            core.replace_store(fresh());
        }
    }

    /// Replies in flight are dropped and nothing answers their requests
    /// (a proxy that loses track of its calls when the upstream fails).
    pub fn lose_replies(&mut self) {
        self.queue.clear();
    }

    /// The upstream answers nothing before `until` (answers produced meanwhile wait).
    pub fn stall_until(&mut self, until: Timestamp) {
        self.stalled_until = Some(until);
        let waiting: Vec<Reverse<Queued>> = self.queue.drain().collect();
        self.queue = waiting.into_iter().map(|Reverse(q)| Reverse(Queued { due: q.due.max(until), ..q })).collect();
    }

    /// The upstream exited: every request in flight is answered with an
    /// error by its replica; after that nothing is taken (the proxy exits).
    pub fn upstream_gone(&mut self) -> Vec<Vec<u8>> {
        self.queue.clear();
        self.gone = true;
        let mut out = Vec::new();
        for core in &mut self.cores {
            for o in core.upstream_gone() {
                match o {
                    Output::ToAgent(b) => out.push(b),
                    Output::Audit(a) => self.audit.push(a),
                    _ => {}
                }
            }
        }
        out
    }

    /// The replica serving `ctx`'s session, choosing the next one in turn for a new session.
    fn replica(&mut self, ctx: &CallContext) -> usize {
        let Some(session) = &ctx.session else { return 0 };
        let next = self.replica_of.len() % self.cores.len().max(1);
        *self.replica_of.entry(session.clone()).or_insert(next)
    }

    /// The agent sends one message at `now`; returns what reaches the agent by
    /// `now` in answer to it (denials immediately; upstream replies with delay 0).
    ///
    /// Replies queued earlier and due by `now` are delivered first, so their
    /// commits and rollbacks precede this decision; what they carry to the
    /// agent is returned by the next [`InProcess::advance_to`].
    pub fn send(&mut self, bytes: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Vec<u8>> {
        let caught_up = self.advance_queue(now);
        self.held.extend(caught_up);
        if self.gone {
            return Vec::new();
        }
        let replica = self.replica(ctx);
        let Some(core) = self.cores.get_mut(replica) else { return Vec::new() };
        let outputs = core.from_agent(bytes, ctx, now);
        let mut to_agent = Vec::new();
        self.route(outputs, ctx, replica, now, &mut to_agent);
        // Replies with no latency were queued at `now`: deliver them now.
        let immediate = self.advance_queue(now);
        to_agent.extend(immediate);
        to_agent.into_iter().map(|(_, b)| b).collect()
    }

    /// Delivers every delayed upstream reply due by `now` through the core
    /// (commit/rollback happen here); returns agent-visible messages with their delivery times.
    pub fn advance_to(&mut self, now: Timestamp) -> Vec<(Timestamp, Vec<u8>)> {
        let mut out = std::mem::take(&mut self.held);
        out.extend(self.advance_queue(now));
        out
    }

    /// When the next queued reply falls due, if any (the driver's next deadline).
    pub fn next_due(&self) -> Option<Timestamp> {
        self.queue.peek().map(|Reverse(q)| q.due)
    }

    /// Upstream replies not yet delivered (a hung tool's call never leaves this count at zero).
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    pub fn server(&self) -> &S {
        &self.server
    }

    pub fn server_mut(&mut self) -> &mut S {
        &mut self.server
    }

    pub fn audit(&self) -> &[AuditRecord] {
        &self.audit
    }

    fn advance_queue(&mut self, now: Timestamp) -> Vec<(Timestamp, Vec<u8>)> {
        let mut to_agent = Vec::new();
        while self.queue.peek().is_some_and(|Reverse(q)| q.due <= now) {
            let Some(Reverse(q)) = self.queue.pop() else { break };
            let Some(core) = self.cores.get_mut(q.replica) else { continue };
            let outputs = core.from_upstream(&q.bytes, &q.ctx, q.due);
            self.route(outputs, &q.ctx, q.replica, q.due, &mut to_agent);
        }
        to_agent
    }

    /// Sends the core's outputs on: to the mock (its replies are queued), to the agent, to the audit.
    fn route(&mut self, outputs: Vec<Output>, ctx: &CallContext, replica: usize, now: Timestamp, to_agent: &mut Vec<(Timestamp, Vec<u8>)>) {
        for output in outputs {
            match output {
                Output::ToAgent(bytes) => to_agent.push((now, bytes)),
                Output::Audit(record) => self.audit.push(record),
                // The testbench never turns traffic recording on, and its
                // cores call their stores inline: no tickets, no rollbacks to hand on.
                Output::Record(_) | Output::Decide(_) | Output::Rollback(_) => {}
                Output::ToUpstream(bytes) => {
                    // What the core forwards is one stdio line (the mode is `StdioChild`).
                    for reply in self.server.handle_line(&bytes, ctx, now) {
                        let delay = i64::try_from(reply.delay_ms).unwrap_or(i64::MAX / NANOS_PER_MILLI);
                        self.seq += 1;
                        let due = now.plus_nanos(delay.saturating_mul(NANOS_PER_MILLI));
                        self.queue.push(Reverse(Queued {
                            due: self.stalled_until.map_or(due, |until| due.max(until)),
                            seq: self.seq,
                            bytes: reply.bytes,
                            ctx: ctx.clone(),
                            replica,
                        }));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::store::MemoryStore;
    use crate::engine::Engine;
    use crate::mcp::Reply;
    use crate::profile::Profile;
    use crate::proxy::core::WireMode;

    const POLICY: &str = r#"version: "1"
tools:
  slow:
    rules:
      - name: slow limit
        rate_limit: 2/minute
  boom:
    rules:
      - name: boom limit
        rate_limit: 1/minute
"#;

    /// The upstream: `slow` answers after 100 ms, `boom` always with a JSON-RPC
    /// error; counts the calls of each tool that reached it.
    #[derive(Default)]
    struct Upstream {
        reached: HashMap<String, usize>,
    }

    impl MessageHandler for Upstream {
        fn handle(&mut self, msg: &[u8], _: &CallContext, _: Timestamp) -> Vec<Reply> {
            let v: serde_json::Value = serde_json::from_slice(msg).unwrap();
            let id = &v["id"];
            let answer = |delay_ms, body: String| vec![Reply { delay_ms, bytes: format!(r#"{{"jsonrpc":"2.0","id":{id},{body}}}"#).into_bytes() }];
            match (v["method"].as_str(), v["params"]["name"].as_str()) {
                (Some("initialize"), _) => answer(0, r#""result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"t","version":"1"}}"#.into()),
                (Some("tools/call"), Some(tool)) => {
                    *self.reached.entry(tool.to_string()).or_default() += 1;
                    match tool {
                        "boom" => answer(0, r#""error":{"code":-32000,"message":"boom"}"#.into()),
                        _ => answer(100, r#""result":{"content":[{"type":"text","text":"done"}]}"#.into()),
                    }
                }
                _ => Vec::new(),
            }
        }
    }

    impl Upstream {
        fn reached(&self, tool: &str) -> usize {
            self.reached.get(tool).copied().unwrap_or(0)
        }
    }

    const T0: Timestamp = Timestamp(1_772_449_200_000_000_000);

    fn ms(n: i64) -> Timestamp {
        T0.plus_nanos(n * 1_000_000)
    }

    fn setup() -> InProcess<Upstream> {
        let policy = crate::policy::load_str(POLICY, "policy.yaml", None).unwrap().policy;
        let engine = Engine::new(Arc::new(policy), Profile::Intercept);
        let core = ProxyCore::new(engine, Box::new(MemoryStore::new()), WireMode::StdioChild);
        let mut p = InProcess::new(core, Upstream::default());
        let init = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
        assert_eq!(p.send(init, &CallContext::default(), T0).len(), 1);
        p.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, &CallContext::default(), T0);
        p
    }

    fn call(id: u32, tool: &str) -> Vec<u8> {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#).into_bytes()
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// `n` replicas in front of one server, each with its own counters or all at one store.
    fn replicas(n: usize, shared: bool) -> InProcess<Upstream> {
        let policy = Arc::new(crate::policy::load_str(POLICY, "policy.yaml", None).unwrap().policy);
        let one = crate::engine::store::SharedStore::new();
        let cores = (0..n)
            .map(|_| {
                let store: Box<dyn crate::engine::CounterStore> =
                    if shared { Box::new(one.clone()) } else { Box::new(MemoryStore::new()) };
                ProxyCore::new(Engine::new(policy.clone(), Profile::Intercept), store, WireMode::StdioChild)
            })
            .collect();
        InProcess::replicated(cores, Upstream::default())
    }

    /// Six calls of `slow` (2/minute), one per session, sessions given to the replicas in turn.
    fn spread(p: &mut InProcess<Upstream>) -> usize {
        let init = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
        for n in 1..=6u32 {
            let ctx = CallContext { session: Some(format!("session-{n}")), identity: None };
            p.send(init, &ctx, T0);
            p.send(&call(n, "slow"), &ctx, ms(n as i64));
        }
        p.advance_to(ms(1000));
        p.server().reached("slow")
    }

    #[test]
    fn replicas_with_their_own_counters_let_each_its_limit_through_and_a_shared_store_holds_one() {
        assert_eq!(spread(&mut replicas(1, false)), 2, "one proxy: the limit");
        assert_eq!(spread(&mut replicas(3, false)), 6, "three replicas, local state: three times the limit");
        assert_eq!(spread(&mut replicas(3, true)), 2, "three replicas at one store: the limit");
    }

    #[test]
    fn concurrent_calls_race_the_counter_and_replies_wait_for_their_latency() {
        let mut p = setup();
        let ctx = CallContext::default();
        assert!(p.send(&call(1, "slow"), &ctx, T0).is_empty(), "the reply is 100 ms away");
        assert!(p.send(&call(2, "slow"), &ctx, T0).is_empty());
        let third = p.send(&call(3, "slow"), &ctx, T0);
        assert_eq!(third.len(), 1);
        assert!(text(&third[0]).contains("Rate limit of 2 per minute reached"), "{}", text(&third[0]));
        assert_eq!(p.in_flight(), 2);
        assert_eq!(p.next_due(), Some(ms(100)));
        assert!(p.advance_to(ms(99)).is_empty());
        let delivered = p.advance_to(ms(100));
        let ids: Vec<(Timestamp, bool, bool)> = delivered
            .iter()
            .map(|(t, b)| (*t, text(b).contains("\"id\":1"), text(b).contains("\"id\":2")))
            .collect();
        assert_eq!(ids, vec![(ms(100), true, false), (ms(100), false, true)]);
        assert_eq!(p.server().reached("slow"), 2);
        assert_eq!(p.audit().len(), 3);
        assert_eq!(p.in_flight(), 0);
    }

    #[test]
    fn an_upstream_error_rolls_the_reservation_back() {
        let mut p = setup();
        let ctx = CallContext::default();
        for id in [10, 11] {
            let answer = p.send(&call(id, "boom"), &ctx, T0);
            assert_eq!(answer.len(), 1);
            let answer = text(&answer[0]);
            assert!(answer.contains("\"error\"") && !answer.contains("DENIED"), "{answer}");
        }
        assert!(p.audit().iter().all(|r| r.result == crate::proxy::core::AuditResult::Allowed));
    }

    #[test]
    fn send_delivers_due_replies_first_and_advance_to_reports_them_with_their_times() {
        let mut p = setup();
        let ctx = CallContext::default();
        assert!(p.send(&call(1, "slow"), &ctx, T0).is_empty());
        // At 200 ms the first reply (due at 100 ms) is committed before this decision.
        assert!(p.send(&call(2, "slow"), &ctx, ms(200)).is_empty());
        let delivered = p.advance_to(ms(300));
        assert_eq!(delivered.len(), 2);
        assert_eq!(delivered[0].0, ms(100));
        assert!(text(&delivered[0].1).contains("\"id\":1"));
        assert_eq!(delivered[1].0, ms(300));
        assert!(text(&delivered[1].1).contains("\"id\":2"));
    }
}
