//! Calls the counter store off the core's lock, each decision within
//! `--state-timeout`, so a hung store (a SIGSTOPped Redis, a SQLite file
//! another process holds locked) delays only the calls it counts.
//!
//! One thread owns the store: it decides the tickets the core hands out
//! ([`Ticket`]) in the order they arrive, and runs the rollbacks among them.
//! A watchdog decides every ticket still undecided at its deadline as if the
//! store had failed, in the fail mode: `closed` against a store whose every
//! operation fails (semantics §2.9: a counter read that fails makes its
//! condition false, so the rule denies; a reservation that fails is
//! `Internal policy error`), `open` against one that reads 0 and takes every
//! reservation uncounted. Whoever decides a ticket first finishes it. A
//! decision the store completes after the watchdog took its ticket is
//! dropped and what it reserved is rolled back; a ticket whose deadline
//! passed while it waited behind a hung operation never reaches the store;
//! an operation a decision starts after its deadline gets the stand-in's
//! answer. A decision keeps only the reservations the store itself took, so
//! an error answer never refunds what was never counted. The store's own timeouts (Redis commands 2 s, SQLite's busy wait
//! 5 s) only decide how long the store thread is held, never an answer.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::clock::Timestamp;
use crate::engine::store::{FailClosedStore, FailOpenStore};
use crate::engine::{CounterKey, CounterStore, Decision, DenyCause, Outcome, Reservation, StoreError};
use crate::policy::model::Window;

use super::sqlite::FailMode;
use super::ticket::Ticket;

/// How long a decision may wait for the store by default (`--state-timeout`):
/// far above a healthy store's answer (microseconds for SQLite, a round trip
/// for Redis), short enough that an agent waiting on a counted call notices
/// little.
pub const DEFAULT_STATE_TIMEOUT: Duration = Duration::from_secs(1);

/// The store of a standalone proxy and how it is called.
pub struct StoreCalls {
    pub store: Box<dyn CounterStore>,
    /// A decision not made within this long is made as if the store had failed.
    pub timeout: Duration,
    pub fail_mode: FailMode,
}

/// What to do with a ticket's decisions (write its answer, forward it).
pub type Finish = Box<dyn FnOnce(&Ticket, Vec<Decision>) + Send>;

struct Job {
    ticket: Ticket,
    deadline: Instant,
    /// Taken by whoever decides the ticket first.
    finish: Mutex<Option<Finish>>,
}

impl Job {
    fn take(&self) -> Option<Finish> {
        relock(&self.finish).take()
    }

    fn taken(&self) -> bool {
        relock(&self.finish).is_none()
    }
}

enum Work {
    Decide(Arc<Job>),
    Rollback(Vec<Reservation>),
}

/// Tickets handed in and not finished, oldest (earliest deadline) first.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Arc<Job>>,
    /// Handed in and not finished yet (what [`Decider::drain`] waits for).
    open: usize,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the watchdog (a new ticket, closing) and [`Decider::drain`] (a ticket finished).
    cond: Condvar,
    timeout: Duration,
    fail_mode: FailMode,
    /// The store missed a deadline and has not made one since (one log line per outage).
    late: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        relock(&self.queue)
    }

    /// A ticket's finish ran: forget it and the finished ones before it.
    fn finished(&self) {
        let mut queue = self.lock();
        queue.open = queue.open.saturating_sub(1);
        while queue.jobs.front().is_some_and(|j| j.taken()) {
            queue.jobs.pop_front();
        }
        self.cond.notify_all();
    }

    /// Logs the start and the end of an outage (not every call in it).
    fn in_time(&self, in_time: bool) {
        if self.late.swap(!in_time, Ordering::Relaxed) == !in_time {
            return;
        }
        if in_time && super::log::enabled(super::log::Level::Info) {
            eprintln!("gauntlet proxy: the state store answers in time again");
        } else if !in_time && super::log::enabled(super::log::Level::Warn) {
            let mode = match self.fail_mode {
                FailMode::Closed => "closed: denied",
                FailMode::Open => "open: allowed uncounted",
            };
            eprintln!(
                "gauntlet proxy: the state store did not answer within {:?} (--state-timeout): calls it counts are decided as if it had failed (--state-fail-mode {mode}) until it answers in time",
                self.timeout
            );
        }
    }
}

/// A poisoned lock means a panic in a finish; the queue itself stays consistent.
fn relock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The answers of a failed store in `mode`.
fn stand_in(mode: FailMode) -> Box<dyn CounterStore> {
    match mode {
        FailMode::Closed => Box::new(FailClosedStore),
        FailMode::Open => Box::new(FailOpenStore),
    }
}

/// Hands tickets and rollbacks to the store thread. Dropping it lets both threads end.
pub struct Decider {
    work: mpsc::Sender<Work>,
    shared: Arc<Shared>,
}

impl Decider {
    /// Starts the store thread and the watchdog. `idle` runs whenever the
    /// store thread has nothing left to do and after each ticket the
    /// watchdog decides: the adapter flushes what the finishes wrote there,
    /// so a pipelined run is not flushed once per call.
    pub fn start(calls: StoreCalls, idle: impl Fn() + Send + Sync + 'static) -> Decider {
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            cond: Condvar::new(),
            timeout: calls.timeout,
            fail_mode: calls.fail_mode,
            late: AtomicBool::new(false),
        });
        let idle: Arc<dyn Fn() + Send + Sync> = Arc::new(idle);
        let (work, rx) = mpsc::channel();
        let (store_shared, store_idle) = (shared.clone(), idle.clone());
        std::thread::spawn(move || serve(rx, calls.store, &store_shared, &*store_idle));
        let watch_shared = shared.clone();
        std::thread::spawn(move || watch(&watch_shared, &*idle));
        Decider { work, shared }
    }

    /// Decides `ticket` (within the timeout from now) and runs `finish` with its decisions.
    pub fn decide(&self, ticket: Ticket, finish: Finish) {
        let job = Arc::new(Job { ticket, deadline: Instant::now() + self.shared.timeout, finish: Mutex::new(Some(finish)) });
        {
            let mut queue = self.shared.lock();
            queue.jobs.push_back(job.clone());
            queue.open += 1;
        }
        self.shared.cond.notify_all();
        // A store thread that is gone leaves the ticket to the watchdog.
        let _ = self.work.send(Work::Decide(job));
    }

    /// Rolls reservations back in the store, after the decisions handed in before.
    pub fn rollback(&self, reservations: Vec<Reservation>) {
        let _ = self.work.send(Work::Rollback(reservations));
    }

    /// Waits until every ticket handed in is finished, or `max` passed.
    pub fn drain(&self, max: Duration) {
        let deadline = Instant::now() + max;
        let mut queue = self.shared.lock();
        while queue.open > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            queue = match self.shared.cond.wait_timeout(queue, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// The longest a ticket can take: its timeout, and a margin for its finish.
    pub fn longest(&self) -> Duration {
        self.shared.timeout * 2 + Duration::from_secs(1)
    }
}

impl Drop for Decider {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.cond.notify_all();
    }
}

/// The store thread: work in arrival order until the decider is dropped.
fn serve(rx: mpsc::Receiver<Work>, mut store: Box<dyn CounterStore>, shared: &Shared, idle: &(dyn Fn() + Send + Sync)) {
    let mut stand_in = stand_in(shared.fail_mode);
    loop {
        let work = match rx.try_recv() {
            Ok(work) => work,
            Err(mpsc::TryRecvError::Empty) => {
                idle();
                match rx.recv() {
                    Ok(work) => work,
                    Err(_) => return,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => return,
        };
        let job = match work {
            Work::Rollback(reservations) => {
                rollback(store.as_mut(), &reservations);
                continue;
            }
            Work::Decide(job) if job.taken() => continue,
            Work::Decide(job) => job,
        };
        let mut bounded =
            Bounded { inner: store.as_mut(), stand_in: stand_in.as_mut(), deadline: job.deadline, missed: false, taken: Vec::new() };
        let mut decisions = job.ticket.decide(&mut bounded);
        let in_time = !bounded.missed;
        counted_only(&mut decisions, bounded.taken);
        match job.take() {
            Some(finish) => {
                shared.in_time(in_time);
                finish(&job.ticket, decisions);
                shared.finished();
            }
            // The watchdog answered it already: what this decision reserved must not count.
            None => decisions.iter().for_each(|d| rollback(store.as_mut(), &d.reservations)),
        }
    }
}

/// The watchdog: decides each ticket still undecided at its deadline with the stand-in.
fn watch(shared: &Shared, idle: &(dyn Fn() + Send + Sync)) {
    let mut queue = shared.lock();
    loop {
        while queue.jobs.front().is_some_and(|j| j.taken()) {
            queue.jobs.pop_front();
        }
        let Some(job) = queue.jobs.front().cloned() else {
            if queue.closed {
                return;
            }
            queue = shared.cond.wait(queue).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        let left = job.deadline.saturating_duration_since(Instant::now());
        if !left.is_zero() {
            queue = match shared.cond.wait_timeout(queue, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
            continue;
        }
        queue.jobs.pop_front();
        drop(queue);
        if let Some(finish) = job.take() {
            shared.in_time(false);
            let decisions = decided_late(&|store| job.ticket.decide(store), shared.fail_mode, shared.timeout);
            finish(&job.ticket, decisions);
            shared.finished();
            idle();
        }
        queue = shared.lock();
    }
}

/// How calls the store did not answer within `timeout` are decided (the
/// watchdog's answer; `decide` decides them against a store): by the
/// stand-in of `mode`, nothing counted. The embedded proxy decides calls
/// this way while a fault scenario hangs its store.
pub fn decided_late(decide: &dyn Fn(&mut dyn CounterStore) -> Vec<Decision>, mode: FailMode, timeout: Duration) -> Vec<Decision> {
    let mut decisions = decide(stand_in(mode).as_mut());
    counted_only(&mut decisions, Vec::new());
    if mode == FailMode::Closed {
        say_the_store_was_late(&decide(&mut FailOpenStore), &mut decisions, timeout);
    }
    decisions
}

/// A call the fail-closed stand-in denied that a store reading 0 would
/// have allowed (`open`) was denied because the store was late, not by its
/// rule: its answer says so (the rule's own text, e.g. "Rate limit …
/// reached", would send the agent and the operator looking in the wrong place).
fn say_the_store_was_late(open: &[Decision], decisions: &mut [Decision], timeout: Duration) {
    for (decision, open) in decisions.iter_mut().zip(open) {
        if let (Outcome::Deny { message, cause, .. }, true) = (&mut decision.outcome, open.is_allow()) {
            *message = format!("The policy's counter store did not answer within {timeout:?} (--state-timeout); the call is denied (--state-fail-mode closed)");
            *cause = DenyCause::Internal;
        }
    }
}

fn rollback(store: &mut dyn CounterStore, reservations: &[Reservation]) {
    for r in reservations {
        let _ = store.rollback(&r.key, r.amount);
    }
}

/// Keeps in each decision only reservations the store took (`taken`, in
/// order): one a stand-in "took" counted nothing, and rolling it back on an
/// error answer would lower a counter other calls raised.
fn counted_only(decisions: &mut [Decision], mut taken: Vec<Reservation>) {
    for decision in decisions {
        decision.reservations.retain(|r| match taken.iter().position(|t| t == r) {
            Some(at) => {
                taken.remove(at);
                true
            }
            None => false,
        });
    }
}

/// The store as one ticket's decisions see it: an operation started after
/// the deadline gets the stand-in's answer instead of waiting for the store.
/// A rollback goes where its reservation was taken, and the end of a
/// decision's unit always reaches the store (the unit must be closed).
struct Bounded<'a> {
    inner: &'a mut dyn CounterStore,
    stand_in: &'a mut dyn CounterStore,
    deadline: Instant,
    /// Some operation came after the deadline.
    missed: bool,
    /// Reservations the store took and that were not rolled back, in order.
    taken: Vec<Reservation>,
}

impl Bounded<'_> {
    fn late(&mut self) -> bool {
        self.missed |= Instant::now() >= self.deadline;
        self.missed
    }
}

impl CounterStore for Bounded<'_> {
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError> {
        match self.late() {
            true => self.stand_in.read(key, now),
            false => self.inner.read(key, now),
        }
    }

    fn reserve(&mut self, key: &CounterKey, amount: i64, limit: i64, window: Window, now: Timestamp) -> Result<Option<i64>, StoreError> {
        if self.late() {
            return self.stand_in.reserve(key, amount, limit, window, now);
        }
        let reserved = self.inner.reserve(key, amount, limit, window, now);
        if let Ok(Some(_)) = reserved {
            self.taken.push(Reservation { key: key.clone(), amount });
        }
        reserved
    }

    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError> {
        match self.taken.iter().rposition(|r| r.key == *key && r.amount == amount) {
            Some(at) => {
                self.taken.remove(at);
                self.inner.rollback(key, amount)
            }
            None => self.stand_in.rollback(key, amount),
        }
    }

    fn entries(&self) -> Vec<(CounterKey, i64)> {
        self.inner.entries()
    }

    fn begin_decision(&mut self) {
        self.inner.begin_decision();
    }

    fn end_decision(&mut self) -> Result<(), StoreError> {
        self.inner.end_decision()
    }
}
