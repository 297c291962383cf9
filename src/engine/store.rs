//! Counter stores: the in-memory store that behaves like Intercept's SQLite
//! store (semantics §2.8), one such store shared by several proxy cores (as
//! replicas share one Redis), and the backend-failure simulators used by the
//! conformance vectors' `store_mode` (§2.9).
//!
//! Arithmetic wraps on overflow exactly like Go's int64, so a poisoned counter
//! (semantics G-9) ends where Intercept's would. Nothing here decides
//! anything: limits and amounts come from the engine.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::Timestamp;
use crate::policy::model::Window;

use super::window::window_start;
use super::{CounterKey, CounterStore, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    value: i64,
    window_start: Timestamp,
    window: Window,
}

/// Counters held in memory (tests, the testbench, `replay`, benchmarks).
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    /// Hashed with a seeded fast hash: every call looks counters up several
    /// times, and no network peer chooses these keys (the proxy keeps its
    /// counters in SQLite or Redis).
    slots: HashMap<CounterKey, Slot, foldhash::fast::RandomState>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl CounterStore for MemoryStore {
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError> {
        Ok(match self.slots.get(key) {
            Some(s) if s.window_start == window_start(s.window, now) => s.value,
            _ => 0,
        })
    }

    fn reserve(
        &mut self,
        key: &CounterKey,
        amount: i64,
        limit: i64,
        window: Window,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let start = window_start(window, now);
        let stored = self.slots.get_mut(key);
        let current = match &stored {
            Some(s) if s.window_start == start => s.value,
            _ => 0,
        };
        let next = current.wrapping_add(amount);
        if next > limit {
            return Ok(None);
        }
        let slot = Slot { value: next, window_start: start, window };
        match stored {
            Some(s) => *s = slot,
            None => {
                self.slots.insert(key.clone(), slot);
            }
        }
        Ok(Some(next))
    }

    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError> {
        if let Some(s) = self.slots.get_mut(key) {
            s.value = s.value.wrapping_sub(amount).max(0);
        }
        Ok(())
    }

    fn entries(&self) -> Vec<(CounterKey, i64)> {
        let mut out: Vec<(CounterKey, i64)> =
            self.slots.iter().map(|(k, s)| (k.clone(), s.value)).collect();
        out.sort();
        out
    }
}

/// One [`MemoryStore`] that several proxy cores hold at once, as proxy
/// replicas hold one Redis (`--state-dsn`): every operation runs whole under
/// the lock, as Redis runs each reserve script atomically. Clones share it.
#[derive(Clone, Debug, Default)]
pub struct SharedStore(Arc<Mutex<MemoryStore>>);

impl SharedStore {
    pub fn new() -> SharedStore {
        SharedStore::default()
    }

    /// The store; a holder that panicked left it whole (each operation completes under the lock).
    fn lock(&self) -> MutexGuard<'_, MemoryStore> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl CounterStore for SharedStore {
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError> {
        self.lock().read(key, now)
    }

    fn reserve(&mut self, key: &CounterKey, amount: i64, limit: i64, window: Window, now: Timestamp) -> Result<Option<i64>, StoreError> {
        self.lock().reserve(key, amount, limit, window, now)
    }

    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError> {
        self.lock().rollback(key, amount)
    }

    fn entries(&self) -> Vec<(CounterKey, i64)> {
        self.lock().entries()
    }
}

/// A backend that is down with fail-closed semantics (SQLite error, Redis
/// `--state-fail-mode closed`): every read, reservation and rollback errors.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailClosedStore;

impl CounterStore for FailClosedStore {
    fn read(&mut self, _: &CounterKey, _: Timestamp) -> Result<i64, StoreError> {
        Err(StoreError("counter store unavailable (fail closed)".into()))
    }

    fn reserve(&mut self, _: &CounterKey, _: i64, _: i64, _: Window, _: Timestamp) -> Result<Option<i64>, StoreError> {
        Err(StoreError("counter store unavailable (fail closed)".into()))
    }

    fn rollback(&mut self, _: &CounterKey, _: i64) -> Result<(), StoreError> {
        Err(StoreError("counter store unavailable (fail closed)".into()))
    }

    fn entries(&self) -> Vec<(CounterKey, i64)> {
        Vec::new()
    }
}

/// A backend that is down with fail-open semantics (Redis `--state-fail-mode
/// open`): reads return 0, reservations succeed without counting, rollbacks
/// are ignored.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailOpenStore;

impl CounterStore for FailOpenStore {
    fn read(&mut self, _: &CounterKey, _: Timestamp) -> Result<i64, StoreError> {
        Ok(0)
    }

    fn reserve(&mut self, _: &CounterKey, _: i64, _: i64, _: Window, _: Timestamp) -> Result<Option<i64>, StoreError> {
        Ok(Some(0))
    }

    fn rollback(&mut self, _: &CounterKey, _: i64) -> Result<(), StoreError> {
        Ok(())
    }

    fn entries(&self) -> Vec<(CounterKey, i64)> {
        Vec::new()
    }
}

/// A store that fails on cue: while its switch is down every operation
/// errors (a Redis that is gone, or hung until the proxy's command timeout);
/// otherwise it is the store inside. Clones of the switch flip every store
/// built with it (the testbench's fault schedule holds one).
pub struct Switched {
    pub inner: Box<dyn CounterStore>,
    pub down: Arc<AtomicBool>,
}

impl Switched {
    fn failing(&self) -> Result<(), StoreError> {
        match self.down.load(Ordering::SeqCst) {
            true => Err(StoreError("counter store unavailable".into())),
            false => Ok(()),
        }
    }
}

impl CounterStore for Switched {
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError> {
        self.failing()?;
        self.inner.read(key, now)
    }

    fn reserve(&mut self, key: &CounterKey, amount: i64, limit: i64, window: Window, now: Timestamp) -> Result<Option<i64>, StoreError> {
        self.failing()?;
        self.inner.reserve(key, amount, limit, window, now)
    }

    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError> {
        self.failing()?;
        self.inner.rollback(key, amount)
    }

    fn entries(&self) -> Vec<(CounterKey, i64)> {
        self.inner.entries()
    }

    fn begin_decision(&mut self) {
        self.inner.begin_decision();
    }

    fn end_decision(&mut self) -> Result<(), StoreError> {
        self.failing()?;
        self.inner.end_decision()
    }
}

/// Reads work (from an inner [`MemoryStore`], so counters read as 0 unless
/// seeded) but every reservation errors.
#[derive(Clone, Debug, Default)]
pub struct ReserveErrorStore {
    pub inner: MemoryStore,
}

impl CounterStore for ReserveErrorStore {
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError> {
        self.inner.read(key, now)
    }

    fn reserve(&mut self, _: &CounterKey, _: i64, _: i64, _: Window, _: Timestamp) -> Result<Option<i64>, StoreError> {
        Err(StoreError("counter store reservation failed".into()))
    }

    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError> {
        self.inner.rollback(key, amount)
    }

    fn entries(&self) -> Vec<(CounterKey, i64)> {
        self.inner.entries()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> CounterKey {
        CounterKey { key: k.into(), partition: None }
    }

    fn t(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn reserve_refuses_over_limit_without_change() {
        let mut s = MemoryStore::new();
        let now = t("2026-03-02T10:00:00Z");
        assert_eq!(s.reserve(&key("a"), 3, 5, Window::Hour, now), Ok(Some(3)));
        assert_eq!(s.reserve(&key("a"), 3, 5, Window::Hour, now), Ok(None));
        assert_eq!(s.read(&key("a"), now), Ok(3));
        assert_eq!(s.reserve(&key("a"), 2, 5, Window::Hour, now), Ok(Some(5)));
        assert_eq!(s.read(&key("a"), now), Ok(5));
    }

    #[test]
    fn clones_of_a_shared_store_count_together() {
        let now = t("2026-03-02T10:00:00Z");
        let shared = SharedStore::new();
        let (mut a, mut b) = (shared.clone(), shared.clone());
        assert_eq!(a.reserve(&key("a"), 2, 3, Window::Minute, now), Ok(Some(2)));
        assert_eq!(b.reserve(&key("a"), 2, 3, Window::Minute, now), Ok(None), "one counter behind both");
        assert_eq!(b.reserve(&key("a"), 1, 3, Window::Minute, now), Ok(Some(3)));
        a.rollback(&key("a"), 1).unwrap();
        assert_eq!(shared.entries(), vec![(key("a"), 2)]);
    }

    #[test]
    fn stale_window_reads_zero_and_reserve_restarts() {
        let mut s = MemoryStore::new();
        assert_eq!(s.reserve(&key("a"), 5, 5, Window::Hour, t("2026-03-02T10:59:59Z")), Ok(Some(5)));
        assert_eq!(s.read(&key("a"), t("2026-03-02T11:00:00Z")), Ok(0));
        assert_eq!(s.reserve(&key("a"), 1, 5, Window::Hour, t("2026-03-02T11:00:00Z")), Ok(Some(1)), "a new window starts from the amount");
        assert_eq!(s.entries(), vec![(key("a"), 1)]);
    }

    #[test]
    fn rollback_floors_at_zero_and_ignores_windows() {
        let mut s = MemoryStore::new();
        assert_eq!(s.reserve(&key("a"), 2, 5, Window::Minute, t("2026-03-02T10:00:00Z")), Ok(Some(2)));
        s.rollback(&key("a"), 5).unwrap();
        assert_eq!(s.entries(), vec![(key("a"), 0)]);
        s.rollback(&key("a"), -4).unwrap();
        assert_eq!(s.entries(), vec![(key("a"), 4)]);
        s.rollback(&key("absent"), 1).unwrap();
        assert_eq!(s.entries().len(), 1);
    }

    #[test]
    fn negative_amounts_have_no_floor_on_reserve() {
        let mut s = MemoryStore::new();
        let now = t("2026-03-02T10:00:00Z");
        assert_eq!(s.reserve(&key("a"), -900000, 10, Window::Day, now), Ok(Some(-900000)));
        assert_eq!(s.read(&key("a"), now), Ok(-900000));
    }

    #[test]
    fn partitions_are_distinct_counters() {
        let mut s = MemoryStore::new();
        let now = t("2026-03-02T10:00:00Z");
        let alice = CounterKey { key: "a".into(), partition: Some("alice".into()) };
        assert_eq!(s.reserve(&alice, 1, 1, Window::Day, now), Ok(Some(1)));
        assert_eq!(s.read(&key("a"), now), Ok(0));
        assert_eq!(s.read(&alice, now), Ok(1));
    }

    #[test]
    fn simulators_behave_as_documented() {
        let now = t("2026-03-02T10:00:00Z");
        assert!(FailClosedStore.read(&key("a"), now).is_err());
        assert!(FailClosedStore.reserve(&key("a"), 1, 1, Window::Day, now).is_err());
        let mut open = FailOpenStore;
        assert_eq!(open.reserve(&key("a"), 100, 1, Window::Day, now), Ok(Some(0)), "taken, counting nothing");
        assert_eq!(open.read(&key("a"), now), Ok(0));
        let down = Arc::new(AtomicBool::new(false));
        let mut switched = Switched { inner: Box::new(MemoryStore::new()), down: down.clone() };
        assert_eq!(switched.reserve(&key("a"), 1, 5, Window::Day, now), Ok(Some(1)));
        down.store(true, Ordering::SeqCst);
        assert!(switched.read(&key("a"), now).is_err(), "down: every operation errors");
        assert!(switched.reserve(&key("a"), 1, 5, Window::Day, now).is_err());
        down.store(false, Ordering::SeqCst);
        assert_eq!(switched.read(&key("a"), now), Ok(1), "back up with what it kept");
        let mut re = ReserveErrorStore::default();
        assert_eq!(re.read(&key("a"), now), Ok(0));
        assert!(re.reserve(&key("a"), 1, 1, Window::Day, now).is_err());
    }
}
