//! The sans-IO proxy core: one message in, the messages to send out.
//!
//! It decides which agent messages are evaluated (semantics §2.1), asks the
//! engine, answers denials itself (§3), filters `tools/list` responses (§4),
//! and commits or rolls back reservations when the upstream answers (§2.2
//! step 6). It never reads the clock or touches IO: transports call
//! [`ProxyCore::from_agent`] and [`ProxyCore::from_upstream`] with `now`.

use crate::clock::Timestamp;
use crate::engine::{CallContext, CounterStore, Engine};

pub use super::audit::{AuditRecord, AuditResult};

/// How the agent side is framed; Intercept's batch handling differs per transport (§2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireMode {
    /// Stdio in front of a child process: batches are forwarded unevaluated.
    StdioChild,
    /// Stdio in front of an HTTP upstream: batch elements are evaluated, unless one fails to decode.
    StdioBridge,
    /// Streamable HTTP front: batch elements are evaluated, a malformed one fails the whole batch.
    Http,
}

/// What the core wants sent. Messages carry no framing: a stdio adapter adds the newline.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    ToUpstream(Vec<u8>),
    ToAgent(Vec<u8>),
    Audit(AuditRecord),
}

pub struct ProxyCore {
    engine: Engine,
    store: Box<dyn CounterStore>,
    mode: WireMode,
}

impl ProxyCore {
    pub fn new(engine: Engine, store: Box<dyn CounterStore>, mode: WireMode) -> ProxyCore {
        ProxyCore { engine, store, mode }
    }

    /// Hot reload: the new policy applies to later messages; counters persist.
    pub fn set_engine(&mut self, engine: Engine) {
        self.engine = engine;
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn store(&self) -> &dyn CounterStore {
        self.store.as_ref()
    }

    pub fn store_mut(&mut self) -> &mut dyn CounterStore {
        self.store.as_mut()
    }

    pub fn mode(&self) -> WireMode {
        self.mode
    }

    /// One message from the agent (a stdio line without its newline, or an HTTP body).
    pub fn from_agent(&mut self, bytes: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Output> {
        let _ = (ctx, now);
        vec![Output::ToUpstream(bytes.to_vec())]
    }

    /// One message from the upstream.
    pub fn from_upstream(&mut self, bytes: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Output> {
        let _ = (ctx, now);
        vec![Output::ToAgent(bytes.to_vec())]
    }
}
