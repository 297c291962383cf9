//! A message whose calls need the counter store, handed out of the core
//! ([`super::core::Output::Decide`]) so the store is called outside the
//! core's lock. The adapter decides its calls ([`Ticket::decide`], with the
//! real store or, when that is too slow, with the fail mode's stand-in) and
//! hands the decisions back ([`super::core::ProxyCore::finish`]), which
//! then treats the message as if it had just arrived with them.

use crate::caller::CallContext;
use crate::clock::Timestamp;
use crate::engine::{CounterStore, Decision, Engine, ToolCall};

use super::core::Exchange;
use super::decode::CallMsg;
use super::pending::PendingKey;

#[derive(Clone, Debug)]
pub struct Ticket {
    pub(super) bytes: Vec<u8>,
    pub(super) ctx: CallContext,
    pub(super) exchange: Exchange,
    /// When the message arrived: its calls are decided, and audited, at this time.
    pub(super) now: Timestamp,
    /// The request's key, taken while it is decided (no other request may use the id meanwhile).
    pub(super) key: Option<PendingKey>,
    /// The policy in force when the message arrived.
    pub(super) engine: Engine,
    /// Every call of the message, in the order the core evaluates them.
    pub(super) calls: Vec<CallMsg>,
}

impl Ticket {
    /// Decides every call of the message, in order, against `store`.
    pub fn decide(&self, store: &mut dyn CounterStore) -> Vec<Decision> {
        self.calls
            .iter()
            .map(|call| {
                let call = ToolCall { name: &call.name, arguments: call.arguments.as_ref() };
                self.engine.decide(store, &call, &self.ctx, self.now)
            })
            .collect()
    }

    /// The tools called, for log lines.
    pub fn tools(&self) -> impl Iterator<Item = &str> {
        self.calls.iter().map(|c| c.name.as_str())
    }
}

/// The same message at the same time from the same caller (the policy is not compared).
impl PartialEq for Ticket {
    fn eq(&self, other: &Ticket) -> bool {
        (&self.bytes, &self.ctx, self.exchange, self.now, &self.key, &self.calls)
            == (&other.bytes, &other.ctx, other.exchange, other.now, &other.key, &other.calls)
    }
}
