//! The sans-IO mock server: one incoming message in, the replies out.
//!
//! It never sleeps, reads a clock or touches a socket: latency is returned as
//! `Reply::delay_ms` for the transport (or the in-process testbench) to honour.

use std::path::Path;

use crate::clock::Timestamp;
use crate::engine::CallContext;

use super::ledger::{Ledger, LedgerEntry};
use super::spec::{MockError, ServerSpec};

/// One message the server sends back, after `delay_ms` of simulated latency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub delay_ms: u64,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct MockServer {
    spec: ServerSpec,
    ledger: Ledger,
    crashed: bool,
}

impl MockServer {
    pub fn load(path: &Path) -> Result<MockServer, MockError> {
        ServerSpec::load(path).map(MockServer::from_spec)
    }

    pub fn from_spec(spec: ServerSpec) -> MockServer {
        MockServer { spec, ledger: Ledger::default(), crashed: false }
    }

    pub fn spec(&self) -> &ServerSpec {
        &self.spec
    }

    /// One incoming message (a stdio line or an HTTP body); returns what the server sends back.
    pub fn handle(&mut self, bytes: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        self.ledger.entries.push(LedgerEntry {
            time: now,
            session: ctx.session.clone(),
            identity: ctx.identity.clone(),
            method: None,
            tool: None,
            arguments: None,
            raw: String::from_utf8_lossy(bytes).into_owned(),
            executed: false,
        });
        Vec::new()
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn is_crashed(&self) -> bool {
        self.crashed
    }
}
