//! What the core remembers between a request and its response: the
//! reservations of allowed calls (to commit or roll back, semantics §2.2
//! step 6) and the `tools/list` requests whose response must be filtered (§4).
//!
//! Keys are the session plus the request id's raw bytes, so `1` and `1.0` are
//! different requests and reusing an id overwrites the earlier entry (G-18),
//! exactly as in Intercept. Memory is bounded: an entry still unanswered
//! after [`MAX_PENDING`] later registrations is forgotten, which for a call
//! means "committed", the outcome of an upstream that never answers.

use std::collections::{HashMap, VecDeque};

use crate::engine::Reservation;

/// (session, raw id bytes).
pub type PendingKey = (Option<String>, Vec<u8>);

/// How many later registrations an unanswered entry survives.
pub const MAX_PENDING: usize = 65_536;

/// A map that forgets entries older than the last [`MAX_PENDING`] insertions.
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
        while self.order.len() > MAX_PENDING {
            if let Some((old_seq, old)) = self.order.pop_front() {
                // Only the registration this queue slot made; a reused id is newer.
                if self.entries.get(&old).is_some_and(|(s, _)| *s == old_seq) {
                    self.entries.remove(&old);
                }
            }
        }
    }

    fn take(&mut self, key: &PendingKey) -> Option<V> {
        self.entries.remove(key).map(|(_, v)| v)
    }
}

#[derive(Debug, Default)]
pub struct Pending {
    calls: Bounded<Vec<Reservation>>,
    lists: Bounded<()>,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CounterKey;

    fn key(n: usize) -> PendingKey {
        (None, n.to_string().into_bytes())
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
}
