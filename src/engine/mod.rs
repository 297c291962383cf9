//! The policy engine: decides one `tools/call` at a time.
//!
//! Sans-IO and deterministic: it takes a typed [`Policy`], a call, the
//! caller's identity/session, a counter store and `now`, and returns a
//! [`Decision`]. It never reads the clock, never touches the network, never
//! sees YAML or JSON-RPC framing. Drivers (the proxy core, `replay`, the
//! conformance runner, the benchmark) feed it.
//!
//! Pipeline (semantics §2.2, §6): hide → default deny → rules (tool's, then
//! `"*"`'s, conditions read counters *before* this call's increment) →
//! reservations (increment, limit from the rule's own first `lt`/`lte`,
//! atomic reserve) → the caller forwards, then commits or rolls back.
//!
//! Parts: `compile` (index the policy once per `Engine::new`), `conditions`
//! (operators and coercions), `decide` (the pipeline), [`store`] (memory
//! store and backend-failure simulators), [`window`] (window starts),
//! `strict` (every deviation of `Profile::Strict`, with the gap it closes),
//! [`admission`] (the compiled policy read backwards: which calls it admits),
//! [`replay`] (the trace format of `gauntlet replay`).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::caller::CallContext;
use crate::clock::Timestamp;
use crate::policy::model::{Policy, Window, WILDCARD};
use crate::profile::Profile;

pub mod admission;
mod compile;
mod conditions;
mod decide;
pub mod replay;
pub mod store;
mod strict;
pub mod window;

pub use decide::ANONYMOUS_PARTITION;

/// A counter's identity in the store: Intercept's key text (`T.C`,
/// `_global.C`), plus the identity or session for grant/session scopes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterKey {
    pub key: String,
    pub partition: Option<String>,
}

impl fmt::Display for CounterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.partition {
            None => f.write_str(&self.key),
            Some(p) => write!(f, "{}@{}", self.key, p),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

/// Counter storage (semantics §2.8). Implementations: in-memory (tests,
/// testbench), SQLite (proxy), and failure simulators (conformance `store_mode`).
pub trait CounterStore: Send {
    /// The value a condition sees at `now`: absent → 0; a stored window start
    /// that differs from the current window start (computed with the STORED
    /// window length) → 0.
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError>;
    /// Atomically: value := stored value if its window is current, else 0;
    /// refuse (`Ok(None)`, no change) if value + amount > limit; else store
    /// it and return it (`Ok(Some(value + amount))`, what a read would now see).
    fn reserve(
        &mut self,
        key: &CounterKey,
        amount: i64,
        limit: i64,
        window: Window,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError>;
    /// value := max(0, value − amount) if the key exists, ignoring windows.
    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError>;
    /// Every stored counter with its raw value (for audits and `state_after`).
    fn entries(&self) -> Vec<(CounterKey, i64)>;
    /// Opens one unit for a decision that may reserve: its reads,
    /// reservations and rollbacks until [`CounterStore::end_decision`] run
    /// as one. SQLite makes it one immediate transaction instead of one per
    /// operation (per call, a round of file locks less, and no other proxy
    /// sharing the file can slip in between a condition's read and the
    /// reservation). Stores without transactions ignore it.
    fn begin_decision(&mut self) {}
    /// Closes the unit [`CounterStore::begin_decision`] opened. An error
    /// means what it reserved was not kept.
    fn end_decision(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// One evaluated `tools/call` as the engine sees it.
#[derive(Clone, Copy, Debug)]
pub struct ToolCall<'a> {
    /// `params.name` (may be empty).
    pub name: &'a str,
    /// `params.arguments`; `None` when absent or null. Numbers are read as doubles.
    pub arguments: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenyCause {
    Hidden,
    DefaultDeny,
    /// A deny rule, or a false condition (engine phase).
    Rule,
    /// A reservation was refused (the limit is reached).
    Limit,
    /// `Internal policy error`: bad `increment_from`, store failure on reserve.
    Internal,
}

impl DenyCause {
    /// The cause's name in audit records and replay output.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyCause::Hidden => "hidden",
            DenyCause::DefaultDeny => "default_deny",
            DenyCause::Rule => "rule",
            DenyCause::Limit => "limit",
            DenyCause::Internal => "internal",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Allow,
    Deny {
        /// The text after `[INTERCEPT POLICY DENIED] `.
        message: String,
        /// The event log's `rule` (`(hidden)`, `(default deny)`, a rule name);
        /// `None` for reservation and internal denials, as Intercept logs them.
        rule: Option<String>,
        /// The rule that caused the denial, by name, even where the event log has none.
        culprit: Option<String>,
        cause: DenyCause,
    },
}

/// A counter increment made for an allowed call, to commit (keep) or roll back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub key: CounterKey,
    pub amount: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Reservations held by an allowed call (empty when denied: they were rolled back).
    pub reservations: Vec<Reservation>,
    /// Counters this decision read or reserved, with the value after the decision.
    pub counters: Vec<(CounterKey, i64)>,
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self.outcome, Outcome::Allow)
    }
}

/// The policy's `hide` list indexed once: a 1000-tool listing is filtered
/// with one lookup per tool, not a scan of the list per tool.
#[derive(Clone, Debug, Default)]
pub struct Hidden {
    /// `"*"` is on the list: every tool is hidden.
    all: bool,
    /// Fixed when the policy is compiled, so a seeded fast hash is enough.
    names: HashSet<String, foldhash::fast::RandomState>,
}

impl Hidden {
    pub fn new(hide: &[String]) -> Hidden {
        Hidden { all: hide.iter().any(|h| h == WILDCARD), names: hide.iter().cloned().collect() }
    }

    /// Whether the list is empty (nothing to filter).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether tool `name` is hidden (named exactly, or `"*"`).
    pub fn hides(&self, name: &str) -> bool {
        self.all || self.names.contains(name)
    }
}

/// A policy compiled for fast decisions. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Engine {
    policy: Arc<Policy>,
    profile: Profile,
    compiled: Arc<compile::Compiled>,
    /// Built on first use: the proxy never needs it, the verifier always does.
    admission: Arc<std::sync::OnceLock<admission::Admission>>,
}

impl Engine {
    pub fn new(policy: Arc<Policy>, profile: Profile) -> Engine {
        let compiled = Arc::new(compile::Compiled::new(&policy, profile));
        Engine { policy, profile, compiled, admission: Arc::default() }
    }

    /// What the policy admits, per tool (see [`admission`]).
    pub fn admission(&self) -> &admission::Admission {
        self.admission.get_or_init(|| admission::Admission::new(self.compiled.clone(), self.profile))
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The policy's `hide` list, indexed.
    pub fn hidden(&self) -> &Hidden {
        &self.compiled.hidden
    }

    /// Whether deciding a call to tool `name` may call the counter store
    /// (a condition reads a counter, or a rule reserves): the calls a slow
    /// store can delay. Hidden and default-denied tools never do.
    pub fn calls_store(&self, name: &str) -> bool {
        decide::calls_store(&self.compiled, name)
    }

    /// Decides one call at `now`. On `Allow` the reservations are held in the
    /// store; the caller commits by doing nothing or calls [`Engine::rollback`].
    pub fn decide(
        &self,
        store: &mut dyn CounterStore,
        call: &ToolCall<'_>,
        ctx: &CallContext,
        now: Timestamp,
    ) -> Decision {
        decide::decide(&self.compiled, self.profile, store, call, ctx, now)
    }

    /// Undo an allowed call's reservations (the upstream answered with a JSON-RPC `error`).
    pub fn rollback(&self, store: &mut dyn CounterStore, reservations: &[Reservation]) {
        for r in reservations {
            let _ = store.rollback(&r.key, r.amount);
        }
    }
}
