//! What the core remembers between a request and its response: the
//! reservations of allowed calls (to commit or roll back, semantics §2.2
//! step 6) and the `tools/list` requests whose response must be filtered (§4).
//!
//! Keys are the session plus the request id's raw bytes, so `1` and `1.0` are
//! different requests and reusing an id overwrites the earlier entry (G-18),
//! exactly as in Intercept.

use std::collections::{HashMap, HashSet};

use crate::engine::Reservation;

/// (session, raw id bytes).
pub type PendingKey = (Option<String>, Vec<u8>);

#[derive(Debug, Default)]
pub struct Pending {
    calls: HashMap<PendingKey, Vec<Reservation>>,
    lists: HashSet<PendingKey>,
}

impl Pending {
    /// Remembers an allowed call's reservations, replacing any earlier call with the same id.
    pub fn register_call(&mut self, key: PendingKey, reservations: Vec<Reservation>) {
        self.calls.insert(key, reservations);
    }

    pub fn register_list(&mut self, key: PendingKey) {
        self.lists.insert(key);
    }

    pub fn take_call(&mut self, key: &PendingKey) -> Option<Vec<Reservation>> {
        self.calls.remove(key)
    }

    pub fn take_list(&mut self, key: &PendingKey) -> bool {
        self.lists.remove(key)
    }

    /// Calls still waiting for an answer (those never answered stay committed).
    pub fn calls_waiting(&self) -> usize {
        self.calls.len()
    }
}
