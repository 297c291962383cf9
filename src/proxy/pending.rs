//! What the core remembers between a request and its response: the
//! reservations of allowed calls (to commit or roll back, semantics §2.2
//! step 6), the `tools/list` requests whose response must be filtered (§4),
//! and every request still waiting for its answer (to answer it with an
//! error when the upstream dies or hangs), and the requests whose calls are
//! being decided outside the core (their ids are taken meanwhile).
//!
//! Under `intercept` keys are the session plus the request id's raw bytes,
//! so `1` and `1.0` are different requests and reusing an id overwrites the
//! earlier entry (G-18), exactly as in Intercept. Under `strict` the core
//! keys by the id's value and by exchange (an HTTP POST), and refuses a
//! request whose id is still outstanding, so an answer only ever settles the
//! request it answers. Memory is bounded by what is outstanding, not by how
//! much went through: past [`MAX_PENDING`] unanswered entries the oldest is
//! forgotten, which for a call means "committed", the outcome of an upstream
//! that never answers.

use std::collections::{HashMap, VecDeque};

use crate::clock::Timestamp;
use crate::engine::Reservation;

/// (session, exchange, id bytes): the exchange is 0 on stdio and under
/// `intercept`; the id is raw under `intercept`, canonical under `strict`.
pub type PendingKey = (Option<String>, u64, Vec<u8>);

/// How many unanswered entries of one kind are remembered.
pub const MAX_PENDING: usize = 65_536;

/// Answered entries the insertion order may still hold before it is
/// compacted (their share of the queue is what stays bounded).
const STALE_SLACK: usize = 1024;

/// A map that forgets its oldest entries past [`MAX_PENDING`] live ones.
/// `order` remembers insertion order; answered entries linger in it until
/// it is compacted, which happens once they outnumber the live ones, so a
/// long pipelined run costs memory for what is in flight only.
#[derive(Debug)]
struct Bounded<V> {
    entries: HashMap<PendingKey, (u64, V)>,
    order: VecDeque<(u64, PendingKey)>,
    next: u64,
}

impl<V> Default for Bounded<V> {
    fn default() -> Self {
        Bounded { entries: HashMap::new(), order: VecDeque::new(), next: 0 }
    }
}

impl<V> Bounded<V> {
    fn insert(&mut self, key: PendingKey, value: V) {
        let seq = self.next;
        self.next += 1;
        self.order.push_back((seq, key.clone()));
        self.entries.insert(key, (seq, value));
        while self.entries.len() > MAX_PENDING {
            let Some((old_seq, old)) = self.order.pop_front() else { break };
            // Only the registration this queue slot made; a reused id is newer.
            if self.is_live(old_seq, &old) {
                self.entries.remove(&old);
            }
        }
        if self.order.len() > 2 * self.entries.len() + STALE_SLACK {
            let entries = &self.entries;
            self.order.retain(|(seq, key)| entries.get(key).is_some_and(|(s, _)| s == seq));
        }
    }

    /// Whether the queue slot (`seq`, `key`) is the entry's current registration.
    fn is_live(&self, seq: u64, key: &PendingKey) -> bool {
        self.entries.get(key).is_some_and(|(s, _)| *s == seq)
    }

    fn take(&mut self, key: &PendingKey) -> Option<V> {
        self.entries.remove(key).map(|(_, v)| v)
    }

    fn contains(&self, key: &PendingKey) -> bool {
        self.entries.contains_key(key)
    }

    fn get_mut(&mut self, key: &PendingKey) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    /// Removes and returns the entries `pick` selects, oldest first.
    fn take_where(&mut self, mut pick: impl FnMut(&PendingKey, &V) -> bool) -> Vec<(PendingKey, V)> {
        let mut keys: Vec<(u64, PendingKey)> =
            self.entries.iter().filter(|(k, (_, v))| pick(k, v)).map(|(k, (seq, _))| (*seq, k.clone())).collect();
        keys.sort();
        keys.into_iter().filter_map(|(_, k)| self.entries.remove(&k).map(|(_, v)| (k, v))).collect()
    }
}

/// A request forwarded upstream and not answered yet.
#[derive(Clone, Debug, PartialEq)]
pub struct InFlight {
    /// The id as the agent wrote it, for an error answer.
    pub raw_id: Vec<u8>,
    /// When the oldest copy was sent.
    pub sent: Timestamp,
    /// Copies sent with this key (only `intercept` lets an id be reused while outstanding).
    pub copies: u32,
}

/// What an upstream answer settles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answered {
    /// A request still waiting (or an id this proxy never saw).
    Waiting,
    /// A request the proxy already answered with a timeout error: drop the late answer.
    Late,
}

#[derive(Debug, Default)]
pub struct Pending {
    calls: Bounded<Vec<Reservation>>,
    lists: Bounded<()>,
    requests: Bounded<InFlight>,
    /// Requests answered by the proxy after a timeout; their id stays taken until the upstream answers.
    timed_out: Bounded<()>,
    /// Requests whose calls are being decided outside the core, per key
    /// (copies under `intercept`); bounded by what the decider holds.
    deciding: HashMap<PendingKey, u32>,
    /// Messages being decided outside the core, notifications included.
    deciding_total: usize,
}

impl Pending {
    /// Remembers an allowed call's reservations, replacing any earlier call with the same id.
    pub fn register_call(&mut self, key: PendingKey, reservations: Vec<Reservation>) {
        self.calls.insert(key, reservations);
    }

    pub fn register_list(&mut self, key: PendingKey) {
        self.lists.insert(key, ());
    }

    pub fn take_call(&mut self, key: &PendingKey) -> Option<Vec<Reservation>> {
        self.calls.take(key)
    }

    pub fn take_list(&mut self, key: &PendingKey) -> bool {
        self.lists.take(key).is_some()
    }

    /// Calls still waiting for an answer (those never answered stay committed).
    pub fn calls_waiting(&self) -> usize {
        self.calls.entries.len()
    }

    /// Remembers a request forwarded upstream.
    pub fn register_request(&mut self, key: PendingKey, raw_id: &[u8], now: Timestamp) {
        if let Some(f) = self.requests.get_mut(&key) {
            f.copies += 1;
            return;
        }
        self.requests.insert(key, InFlight { raw_id: raw_id.to_vec(), sent: now, copies: 1 });
    }

    /// Requests forwarded and not answered yet, and messages still being decided.
    pub fn requests_waiting(&self) -> usize {
        self.requests.entries.len() + self.deciding_total
    }

    /// True while a request with this key is being decided or waits for its answer (timed out or not).
    pub fn outstanding(&self, key: &PendingKey) -> bool {
        self.requests.contains(key) || self.timed_out.contains(key) || self.deciding.contains_key(key)
    }

    /// A message is being decided outside the core: its request's key (if it
    /// is a request) is taken until [`Pending::end_deciding`].
    pub fn begin_deciding(&mut self, key: Option<&PendingKey>) {
        self.deciding_total += 1;
        if let Some(key) = key {
            *self.deciding.entry(key.clone()).or_default() += 1;
        }
    }

    /// The decision of a message [`Pending::begin_deciding`] took is back.
    pub fn end_deciding(&mut self, key: Option<&PendingKey>) {
        self.deciding_total = self.deciding_total.saturating_sub(1);
        let Some(key) = key else { return };
        if let Some(copies) = self.deciding.get_mut(key) {
            *copies -= 1;
            if *copies == 0 {
                self.deciding.remove(key);
            }
        }
    }

    /// An answer with this key arrived from the upstream.
    pub fn answer(&mut self, key: &PendingKey) -> Answered {
        if let Some(f) = self.requests.get_mut(key) {
            f.copies -= 1;
            if f.copies == 0 {
                self.requests.take(key);
            }
            return Answered::Waiting;
        }
        if self.timed_out.take(key).is_some() {
            return Answered::Late;
        }
        Answered::Waiting
    }

    /// Requests sent at or before `cutoff` (any time with `None`) in `exchange`
    /// (any with `None`), which the proxy now answers itself: a late answer
    /// will be dropped. The caller settles their calls and lists.
    pub fn give_up(&mut self, cutoff: Option<Timestamp>, exchange: Option<u64>) -> Vec<(PendingKey, InFlight)> {
        let gone = self.requests.take_where(|k, f| {
            cutoff.is_none_or(|c| f.sent <= c) && exchange.is_none_or(|e| k.1 == e)
        });
        for (key, _) in &gone {
            self.timed_out.insert(key.clone(), ());
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CounterKey;

    fn key(n: usize) -> PendingKey {
        (None, 0, n.to_string().into_bytes())
    }

    fn res(n: i64) -> Vec<Reservation> {
        vec![Reservation { key: CounterKey { key: "k".into(), partition: None }, amount: n }]
    }

    #[test]
    fn same_id_overwrites_and_take_removes() {
        let mut p = Pending::default();
        p.register_call(key(1), res(1));
        p.register_call(key(1), res(2));
        assert_eq!(p.calls_waiting(), 1);
        assert_eq!(p.take_call(&key(1)), Some(res(2)));
        assert_eq!(p.take_call(&key(1)), None);
        p.register_list(key(1));
        assert!(p.take_list(&key(1)));
        assert!(!p.take_list(&key(1)));
    }

    #[test]
    fn the_oldest_entries_are_forgotten_past_the_bound() {
        let mut p = Pending::default();
        for n in 0..MAX_PENDING + 2 {
            p.register_call(key(n), res(1));
        }
        assert_eq!(p.calls_waiting(), MAX_PENDING);
        assert_eq!(p.take_call(&key(0)), None);
        assert_eq!(p.take_call(&key(1)), None);
        assert_eq!(p.take_call(&key(2)), Some(res(1)));
        // A reused id is kept by its newest registration, not dropped with its oldest.
        let mut p = Pending::default();
        p.register_call(key(0), res(1));
        p.register_call(key(0), res(5));
        for n in 1..MAX_PENDING {
            p.register_call(key(n), res(1));
        }
        assert_eq!(p.take_call(&key(0)), Some(res(5)));
    }

    #[test]
    fn answered_entries_do_not_accumulate() {
        let mut p = Pending::default();
        for n in 0..4 * MAX_PENDING {
            p.register_call(key(n), res(1));
            p.register_request(key(n), b"1", Timestamp(0));
            if n >= 10 {
                p.take_call(&key(n - 10));
                p.answer(&key(n - 10));
            }
        }
        assert_eq!(p.calls_waiting(), 10);
        assert!(p.calls.order.len() <= 2 * 10 + STALE_SLACK + 1, "{}", p.calls.order.len());
        assert!(p.requests.order.len() <= 2 * 10 + STALE_SLACK + 1, "{}", p.requests.order.len());
        // The ten still outstanding were kept: they were never past the bound.
        assert_eq!(p.take_call(&key(4 * MAX_PENDING - 10)), Some(res(1)));
    }

    #[test]
    fn requests_are_counted_per_copy_and_given_up_once() {
        let mut p = Pending::default();
        let t = |n| Timestamp(n);
        p.register_request(key(1), b"1", t(10));
        p.register_request(key(1), b"1", t(20));
        p.register_request(key(2), b"2", t(30));
        assert!(p.outstanding(&key(1)));
        assert_eq!(p.answer(&key(1)), Answered::Waiting);
        assert!(p.outstanding(&key(1)), "one copy of id 1 still waits");
        let gone = p.give_up(Some(t(25)), None);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].0, key(1));
        assert_eq!(p.answer(&key(1)), Answered::Late, "the late answer for a timed-out request is dropped");
        assert!(!p.outstanding(&key(1)));
        let gone = p.give_up(None, Some(0));
        assert_eq!(gone.iter().map(|(k, f)| (k.clone(), f.raw_id.clone())).collect::<Vec<_>>(), vec![(key(2), b"2".to_vec())]);
        assert!(p.outstanding(&key(2)), "its id stays taken until the upstream answers");
    }

    #[test]
    fn a_key_being_decided_is_taken_and_counted_until_its_decision_is_back() {
        let mut p = Pending::default();
        p.begin_deciding(Some(&key(1)));
        p.begin_deciding(Some(&key(1)));
        p.begin_deciding(None);
        assert!(p.outstanding(&key(1)));
        assert_eq!(p.requests_waiting(), 3, "decisions under way count against the in-flight window");
        p.end_deciding(Some(&key(1)));
        assert!(p.outstanding(&key(1)), "one copy still being decided");
        p.end_deciding(Some(&key(1)));
        p.end_deciding(None);
        assert!(!p.outstanding(&key(1)));
        assert_eq!(p.requests_waiting(), 0);
    }
}
