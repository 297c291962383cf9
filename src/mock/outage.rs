//! Upstream faults a black-box run asks of a mock process, on the wall
//! clock: a stall (every answer due inside the interval waits until its
//! end; the call still reaches the ledger when it arrives, as a server that
//! took the request and hangs before replying) and a death at an instant.
//! The handler wrapper is sans-IO; the process exits at the death itself.

use crate::caller::CallContext;
use crate::clock::Timestamp;
use crate::mcp::{MessageHandler, Reply};

/// When the upstream stalls and when it dies, in wall time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outage {
    /// Answers due in `[from, until)` wait until `until`.
    pub stall: Option<(Timestamp, Timestamp)>,
    /// The process exits at this instant, when it was started before it (a
    /// proxy that starts its upstream again afterwards gets a live one).
    pub die_at: Option<Timestamp>,
}

impl Outage {
    /// Reads `FROM..UNTIL` (Unix milliseconds), as `gauntlet mock --stall` takes it.
    pub fn parse_stall(text: &str) -> Result<(Timestamp, Timestamp), String> {
        let (from, until) = text.split_once("..").ok_or_else(|| format!("`{text}` is not FROM..UNTIL (Unix milliseconds)"))?;
        let ms = |t: &str| t.trim().parse::<i64>().map(Timestamp::from_millis).map_err(|e| format!("`{t}`: {e}"));
        Ok((ms(from)?, ms(until)?))
    }

    /// The delay of an answer produced at `now` that was due `delay_ms` later.
    pub fn delay(&self, now: Timestamp, delay_ms: u64) -> u64 {
        let due = now.plus_nanos(i64::try_from(delay_ms).unwrap_or(i64::MAX / 2).saturating_mul(1_000_000));
        match self.stall {
            Some((from, until)) if from <= due && due < until => u64::try_from((until.0 - now.0 + 999_999) / 1_000_000).unwrap_or(delay_ms),
            _ => delay_ms,
        }
    }
}

/// A handler whose answers are held back while its upstream is stalled.
pub struct Stalled<H> {
    pub inner: H,
    pub outage: Outage,
}

impl<H: MessageHandler> Stalled<H> {
    fn hold(&self, replies: Vec<Reply>, now: Timestamp) -> Vec<Reply> {
        replies.into_iter().map(|r| Reply { delay_ms: self.outage.delay(now, r.delay_ms), ..r }).collect()
    }
}

impl<H: MessageHandler> MessageHandler for Stalled<H> {
    fn handle(&mut self, msg: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        let replies = self.inner.handle(msg, ctx, now);
        self.hold(replies, now)
    }

    fn handle_line(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        let replies = self.inner.handle_line(line, ctx, now);
        self.hold(replies, now)
    }

    fn end_session(&mut self, session: &str) {
        self.inner.end_session(session);
    }

    fn is_dead(&self) -> bool {
        self.inner.is_dead()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_due_in_the_stall_wait_for_its_end() {
        let o = Outage { stall: Some((Timestamp::from_secs(10), Timestamp::from_secs(30))), die_at: None };
        assert_eq!(o.delay(Timestamp::from_secs(5), 0), 0, "before");
        assert_eq!(o.delay(Timestamp::from_secs(9), 1500), 21_000, "due inside: held to the end");
        assert_eq!(o.delay(Timestamp::from_secs(12), 0), 18_000);
        assert_eq!(o.delay(Timestamp::from_secs(30), 0), 0, "the interval is half-open");
        assert_eq!(Outage::parse_stall("1000..2500").unwrap(), (Timestamp::from_millis(1000), Timestamp::from_millis(2500)));
        assert!(Outage::parse_stall("1000").is_err());
    }
}
