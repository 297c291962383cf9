//! The seam between transports and sans-IO cores: a core takes one message's
//! bytes plus who sent it and when, and returns what to send back. The mock
//! server and the proxy core implement it; stdio and HTTP drive it.

use crate::clock::Timestamp;
use crate::caller::CallContext;

/// One message to send back, after `delay_ms` of (simulated) latency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub delay_ms: u64,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn now(bytes: Vec<u8>) -> Reply {
        Reply { delay_ms: 0, bytes }
    }
}

pub trait MessageHandler: Send + 'static {
    /// One incoming message (a stdio line or an HTTP body).
    fn handle(&mut self, msg: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply>;

    /// One stdio line: a handler that reads lines as some other reader does
    /// (see [`super::stdio::LineEnds`]) splits it further first.
    fn handle_line(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        self.handle(line, ctx, now)
    }

    /// The transport ended this session (HTTP DELETE).
    fn end_session(&mut self, _session: &str) {}

    /// True once the core will never answer again (a simulated crash): the
    /// transport should stop serving.
    fn is_dead(&self) -> bool {
        false
    }
}
