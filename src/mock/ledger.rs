//! The ledger: every message that reached a mock server, in arrival order.
//!
//! `tool` and `arguments` are what the server itself executed (after its own
//! lenient lookup and duplicate-key handling), not what a proxy believed it
//! forwarded; that difference is what parser-differential attacks exploit.

use serde::{Serialize, Serializer};

use crate::clock::Timestamp;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Ledger {
    pub entries: Vec<LedgerEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LedgerEntry {
    #[serde(serialize_with = "rfc3339")]
    pub time: Timestamp,
    pub session: Option<String>,
    pub identity: Option<String>,
    pub method: Option<String>,
    pub tool: Option<String>,
    pub arguments: Option<serde_json::Value>,
    /// The message as received (lossy UTF-8 for invalid bytes).
    pub raw: String,
    /// True when a tool actually ran and produced a result.
    pub executed: bool,
    /// For a call that found a tool: which definition of it the server
    /// held, 0 being the server file's own (each scheduled change that alters
    /// it makes a new one; one that restores it gives 0 again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    /// The message reached a second server in play (a scenario's `shadow`), not the one under test.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
    /// When the agent sent the request, where that is not `time`: a server
    /// behind a real proxy logs it later, by the proxy's latency (on a busy
    /// machine, past the start of a fault the proxy decided it before).
    #[serde(skip)]
    pub sent: Option<Timestamp>,
}

fn rfc3339<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

impl LedgerEntry {
    /// One JSONL line, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        // Serialising plain strings, options and a Value cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Ledger {
    /// Entries for calls that ran, in order.
    pub fn executed(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.entries.iter().filter(|e| e.executed)
    }

    /// How many calls of `tool` actually ran.
    pub fn executed_count(&self, tool: &str) -> usize {
        self.executed()
            .filter(|e| e.tool.as_deref() == Some(tool))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_one_json_line_with_rfc3339_time() {
        let e = LedgerEntry {
            time: Timestamp::from_secs(1_772_449_199),
            session: Some("s1".into()),
            identity: None,
            method: Some("tools/call".into()),
            tool: Some("create_charge".into()),
            arguments: Some(serde_json::json!({"amount": 500})),
            raw: "{\"a\":\n1}".into(),
            executed: true,
            revision: Some(0),
            shadow: false,
            sent: None,
        };
        let line = e.to_json_line();
        assert!(!line.contains('\n'));
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["time"], "2026-03-02T10:59:59Z");
        assert_eq!(back["arguments"]["amount"], 500);
        assert_eq!(back["raw"], "{\"a\":\n1}");
    }
}
