//! The counter store called off the core's lock (issue 19): a core deciding
//! outside hands out only the calls that may touch the store, and the
//! decider answers them within `--state-timeout` whatever the store does. The
//! store here hangs on cue (every operation waits until the test opens its
//! gate), so "answered while the store hangs" is a fact of order, not of
//! timing; the real SIGSTOPped Redis is in `proxy_redis`.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use gauntlet::caller::CallContext;
use gauntlet::clock::Timestamp;
use gauntlet::engine::store::MemoryStore;
use gauntlet::engine::{CounterKey, CounterStore, Decision, Engine, Outcome, StoreError};
use gauntlet::policy::load_intercept;
use gauntlet::policy::model::Window;
use gauntlet::profile::Profile;
use gauntlet::proxy::core::{Output, ProxyCore, WireMode};
use gauntlet::proxy::decider::{Decider, StoreCalls};
use gauntlet::proxy::sqlite::FailMode;
use gauntlet::proxy::ticket::Ticket;
use crate::proxy_support::to_agent;

const POLICY: &str = r#"
version: "1"
default: allow
tools:
  counted:
    rules:
      - name: "two per hour"
        rate_limit: 2/hour
  guarded:
    rules:
      - name: "small only"
        conditions:
          - path: args.n
            op: lte
            value: 5
"#;

/// Long enough that a test never sees it pass by accident; the hung store
/// is released only after the answer came.
const NEVER: Duration = Duration::from_secs(600);
/// How long the tests wait for what must come.
const WAIT: Duration = Duration::from_secs(30);

fn at(secs: i64) -> Timestamp {
    Timestamp::parse_rfc3339("2026-03-02T10:00:00Z").unwrap().plus_nanos(secs * 1_000_000_000)
}

fn core(profile: Profile) -> ProxyCore {
    let policy = load_intercept(POLICY).expect("test policy is valid");
    ProxyCore::deciding_outside(Engine::new(Arc::new(policy), profile), WireMode::StdioChild)
}

fn call(id: u32, tool: &str) -> Vec<u8> {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"n":1}}}}}}"#).into_bytes()
}

fn tickets(out: &[Output]) -> Vec<Ticket> {
    out.iter()
        .filter_map(|o| match o {
            Output::Decide(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn forwarded(out: &[Output]) -> usize {
    out.iter().filter(|o| matches!(o, Output::ToUpstream(_))).count()
}

/// A memory store whose every operation waits while its gate is shut.
#[derive(Clone)]
struct Gated {
    inner: Arc<Mutex<MemoryStore>>,
    /// (open, operations that found it shut)
    gate: Arc<(Mutex<(bool, usize)>, Condvar)>,
}

impl Gated {
    fn new(open: bool) -> Gated {
        Gated { inner: Arc::default(), gate: Arc::new((Mutex::new((open, 0)), Condvar::new())) }
    }

    fn pass(&self) {
        let (lock, cond) = &*self.gate;
        let mut gate = lock.lock().unwrap();
        if !gate.0 {
            gate.1 += 1;
            cond.notify_all();
        }
        while !gate.0 {
            gate = cond.wait(gate).unwrap();
        }
    }

    fn open(&self) {
        let (lock, cond) = &*self.gate;
        lock.lock().unwrap().0 = true;
        cond.notify_all();
    }

    /// Waits until some operation is held at the shut gate.
    fn wait_for_a_held_operation(&self) {
        let (lock, cond) = &*self.gate;
        let gate = lock.lock().unwrap();
        let (gate, timeout) = cond.wait_timeout_while(gate, WAIT, |g| g.1 == 0).unwrap();
        assert!(!timeout.timed_out() && gate.1 > 0, "the store was never called");
    }

    /// Everything counted, over every counter.
    fn counted(&self) -> i64 {
        self.inner.lock().unwrap().entries().iter().map(|(_, v)| v).sum()
    }
}

impl CounterStore for Gated {
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError> {
        self.pass();
        self.inner.lock().unwrap().read(key, now)
    }

    fn reserve(&mut self, key: &CounterKey, amount: i64, limit: i64, window: Window, now: Timestamp) -> Result<Option<i64>, StoreError> {
        self.pass();
        self.inner.lock().unwrap().reserve(key, amount, limit, window, now)
    }

    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError> {
        self.pass();
        self.inner.lock().unwrap().rollback(key, amount)
    }

    fn entries(&self) -> Vec<(CounterKey, i64)> {
        self.inner.lock().unwrap().entries()
    }
}

/// Hands `ticket` to `decider`; the receiver gets its decisions.
fn decide(decider: &Decider, ticket: Ticket) -> mpsc::Receiver<Vec<Decision>> {
    let (tx, rx) = mpsc::channel();
    decider.decide(
        ticket,
        Box::new(move |_, decisions| {
            let _ = tx.send(decisions);
        }),
    );
    rx
}

fn deny_message(decision: &Decision) -> &str {
    match &decision.outcome {
        Outcome::Deny { message, .. } => message,
        Outcome::Allow => panic!("allowed: {decision:?}"),
    }
}

#[test]
fn only_calls_that_may_touch_the_store_are_handed_out_and_finish_as_inline() {
    for profile in [Profile::Intercept, Profile::Strict] {
        let mut outside = core(profile);
        let ctx = CallContext::default();
        // An argument rule, a hidden-free unlisted tool: decided on the spot.
        for (id, tool) in [(1, "guarded"), (2, "other")] {
            let out = outside.from_agent_on(&call(id, tool), &ctx, 0, at(0));
            assert!(tickets(&out).is_empty(), "{profile:?} {tool}: no store involved, nothing handed out");
            assert_eq!(forwarded(&out), 1, "{profile:?} {tool}: forwarded at once");
        }
        let out = outside.from_agent_on(&call(3, "counted"), &ctx, 0, at(0));
        let [ticket] = &tickets(&out)[..] else { panic!("{profile:?}: a counted call is handed out alone: {}", out.len()) };
        assert_eq!(out.len(), 1, "{profile:?}: nothing else happens before its decision");
        if profile == Profile::Strict {
            let again = outside.from_agent_on(&call(3, "other"), &ctx, 0, at(0));
            assert!(to_agent(&again).iter().any(|a| a.contains("\"error\"")), "strict: its id is taken while it is decided: {again:?}");
        }
        // Its decision made with the store: the same outputs an inline core gives.
        let mut store = MemoryStore::new();
        let decisions = ticket.decide(&mut store);
        let finished = outside.finish(ticket, decisions);
        let policy = load_intercept(POLICY).unwrap();
        let mut inline = ProxyCore::new(Engine::new(Arc::new(policy), profile), Box::new(MemoryStore::new()), WireMode::StdioChild);
        let expected = inline.from_agent_on(&call(3, "counted"), &ctx, 0, at(0));
        assert_eq!(finished, expected, "{profile:?}");
    }
}

#[test]
fn a_hung_store_answers_a_counted_call_by_the_fail_mode_and_never_counts_it_late() {
    for mode in [FailMode::Closed, FailMode::Open] {
        let store = Gated::new(false);
        let decider = Decider::start(
            StoreCalls { store: Box::new(store.clone()), timeout: Duration::from_millis(50), fail_mode: mode },
            || {},
        );
        let mut outside = core(Profile::Strict);
        let out = outside.from_agent_on(&call(1, "counted"), &CallContext::default(), 0, at(0));
        let [ticket] = &tickets(&out)[..] else { panic!("handed out") };
        let decisions = decide(&decider, ticket.clone()).recv_timeout(WAIT).expect("answered while the store hangs");
        store.wait_for_a_held_operation();
        let [decision] = &decisions[..] else { panic!("one call, one decision") };
        match mode {
            FailMode::Closed => {
                let message = deny_message(decision);
                assert!(
                    message.contains("counter store did not answer within") && message.contains("--state-fail-mode closed"),
                    "closed: refused, saying why: {message}"
                );
            }
            FailMode::Open => {
                assert!(decision.is_allow(), "open: allowed: {decision:?}");
                assert!(decision.reservations.is_empty(), "open: uncounted, so an error answer refunds nothing");
            }
        }
        // The store wakes up and the decider is let go: once its store
        // thread has finished the late decision and dropped the store, nothing is counted.
        store.open();
        drop(decider);
        let deadline = std::time::Instant::now() + WAIT;
        while Arc::strong_count(&store.inner) > 1 {
            assert!(std::time::Instant::now() < deadline, "{mode:?}: the store thread never finished the late decision");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(store.counted(), 0, "{mode:?}: a call answered without the store counts nothing");
    }
}

#[test]
fn a_closed_denial_by_the_arguments_keeps_its_rule_text_when_the_store_hangs() {
    let yaml = format!(
        "{POLICY}  blocked:\n    rules:\n      - name: \"never\"\n        action: deny\n        on_deny: \"not today\"\n      - name: \"per hour\"\n        rate_limit: 5/hour\n"
    );
    let policy = load_intercept(&yaml).unwrap();
    let mut outside = ProxyCore::deciding_outside(Engine::new(Arc::new(policy), Profile::Strict), WireMode::StdioChild);
    let store = Gated::new(false);
    let decider = Decider::start(
        StoreCalls { store: Box::new(store.clone()), timeout: Duration::from_millis(50), fail_mode: FailMode::Closed },
        || {},
    );
    // The first holds the store; the second waits behind it and is decided by the fail mode.
    let mut answers = Vec::new();
    for (id, tool) in [(1, "counted"), (2, "blocked")] {
        let out = outside.from_agent_on(&call(id, tool), &CallContext::default(), 0, at(0));
        let [ticket] = &tickets(&out)[..] else { panic!("{tool} is handed out") };
        answers.push(decide(&decider, ticket.clone()));
    }
    let counted = answers[0].recv_timeout(WAIT).expect("answered while the store hangs");
    let blocked = answers[1].recv_timeout(WAIT).expect("answered while the store hangs");
    store.wait_for_a_held_operation();
    assert!(deny_message(&counted[0]).contains("counter store did not answer"), "{counted:?}");
    assert_eq!(deny_message(&blocked[0]), "not today", "a denial the store did not cause keeps its rule's text");
    store.open();
}

#[test]
fn a_store_in_time_decides_and_counts() {
    let store = Gated::new(true);
    let decider =
        Decider::start(StoreCalls { store: Box::new(store.clone()), timeout: NEVER, fail_mode: FailMode::Closed }, || {});
    let mut outside = core(Profile::Strict);
    for id in 1..=3 {
        let out = outside.from_agent_on(&call(id, "counted"), &CallContext::default(), 0, at(0));
        let [ticket] = &tickets(&out)[..] else { panic!("handed out") };
        let decisions = decide(&decider, ticket.clone()).recv_timeout(WAIT).expect("decided");
        let finished = outside.finish(ticket, decisions.clone());
        match id {
            1 | 2 => assert!(decisions[0].is_allow() && forwarded(&finished) == 1, "call {id} is within the limit"),
            _ => assert!(deny_message(&decisions[0]).contains("Rate limit of 2 per hour"), "the third call is over it"),
        }
    }
    assert_eq!(store.counted(), 2, "the two allowed calls are counted");
}
