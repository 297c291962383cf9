//! Deciding a trace's calls and writing `gauntlet replay`'s output lines
//! (the format is in [`super`]): one line per call, written by hand, byte
//! for byte as `serde_json` would write a [`ReplayRecord`].

use serde::Serialize;

use crate::clock::Timestamp;
use crate::engine::store::MemoryStore;
use crate::engine::{CounterKey, CounterStore, Engine, Outcome, ToolCall};

use super::{TraceStep, Upstream};

/// Decides a trace's calls in order on one counter store, living only for
/// the run, and writes one output line per call.
pub struct Replayer {
    engine: Engine,
    store: MemoryStore,
    /// The last call's counters as `key` or `key@partition`, sorted; the
    /// strings are kept for the next call.
    counters: Vec<(String, i64)>,
    /// The last time written and its text: consecutive calls often share
    /// one, or its second.
    at: Option<(Timestamp, String)>,
}

impl Replayer {
    pub fn new(engine: Engine) -> Replayer {
        Replayer { engine, store: MemoryStore::new(), counters: Vec::new(), at: None }
    }

    /// Decides `step`, applies its upstream answer, and appends the output
    /// line describing the result (with its newline) to `out`.
    pub fn replay(&mut self, step: &TraceStep, out: &mut Vec<u8>) {
        let call = ToolCall { name: &step.tool, arguments: step.arguments.as_ref() };
        let decision = self.engine.decide(&mut self.store, &call, &step.ctx, step.at);
        let rolled_back = decision.is_allow() && step.upstream == Upstream::JsonrpcError;
        if rolled_back {
            self.engine.rollback(&mut self.store, &decision.reservations);
        }
        let mut n = 0;
        for (key, value) in &decision.counters {
            // The decision's values are the store's unless the answer rolled some back.
            let value = if rolled_back { self.store.read(key, step.at).unwrap_or(*value) } else { *value };
            n = set_counter(&mut self.counters, n, key, value);
        }
        self.counters[..n].sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let (last, at) = self.at.get_or_insert_with(|| (step.at, step.at.to_rfc3339()));
        if *last != step.at {
            step.at.rewrite_rfc3339(*last, at);
            *last = step.at;
        }
        let (decision, rule, culprit, message, cause) = match &decision.outcome {
            Outcome::Allow => ("allow", None, None, None, None),
            Outcome::Deny { message, rule, culprit, cause } => {
                ("deny", rule.as_deref(), culprit.as_deref(), Some(message.as_str()), Some(cause.as_str()))
            }
        };
        let record = ReplayRecord {
            line: step.line,
            at,
            tool: &step.tool,
            decision,
            rule,
            culprit,
            message,
            cause,
            counters: &self.counters[..n],
        };
        record.write_line(out);
    }
}

/// Sets the counter `key` to `value` among the first `n` of `entries`, a
/// later value for the same text replacing the earlier one as in a map;
/// returns how many entries are set now.
fn set_counter(entries: &mut Vec<(String, i64)>, n: usize, key: &CounterKey, value: i64) -> usize {
    if entries.len() == n {
        entries.push((String::new(), 0));
    }
    let (set, rest) = entries.split_at_mut(n);
    let text = &mut rest[0].0;
    text.clear();
    // As `CounterKey`'s `Display` writes it.
    text.push_str(&key.key);
    if let Some(partition) = &key.partition {
        text.push('@');
        text.push_str(partition);
    }
    if let Some(same) = set.iter_mut().find(|(t, _)| t == text) {
        same.1 = value;
        return n;
    }
    rest[0].1 = value;
    n + 1
}

/// One output line of `gauntlet replay`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ReplayRecord<'a> {
    pub line: usize,
    pub at: &'a str,
    pub tool: &'a str,
    pub decision: &'static str,
    pub rule: Option<&'a str>,
    pub culprit: Option<&'a str>,
    pub message: Option<&'a str>,
    pub cause: Option<&'static str>,
    /// Sorted by key, each key once; written as a JSON object.
    #[serde(serialize_with = "counters_as_object")]
    pub counters: &'a [(String, i64)],
}

fn counters_as_object<S: serde::Serializer>(counters: &&[(String, i64)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(counters.iter().map(|(k, v)| (k, v)))
}

impl ReplayRecord<'_> {
    /// Appends the record and a newline to `out`: byte for byte what
    /// `serde_json::to_writer` writes for it, without going through serde
    /// (one line per call is the whole of `gauntlet replay`'s output).
    pub fn write_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"line\":");
        push_int(out, false, self.line as u64);
        out.extend_from_slice(b",\"at\":");
        push_json_str(out, self.at);
        out.extend_from_slice(b",\"tool\":");
        push_json_str(out, self.tool);
        out.extend_from_slice(b",\"decision\":");
        push_json_str(out, self.decision);
        for (name, value) in [(&b",\"rule\":"[..], self.rule), (b",\"culprit\":", self.culprit), (b",\"message\":", self.message), (b",\"cause\":", self.cause)] {
            out.extend_from_slice(name);
            match value {
                Some(text) => push_json_str(out, text),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b",\"counters\":{");
        for (i, (key, value)) in self.counters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_str(out, key);
            out.push(b':');
            push_int(out, *value < 0, value.unsigned_abs());
        }
        out.extend_from_slice(b"}}\n");
    }
}

/// Appends `value` in decimal, after a minus sign when `negative`.
fn push_int(out: &mut Vec<u8>, negative: bool, value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `text` as a JSON string, escaped as `serde_json` escapes it: `"`,
/// `\` and the control characters below U+0020, nothing else.
fn push_json_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(&[b'\\', short]);
        if short == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any byte of `bytes` is one [`push_json_str`] escapes, looked for
/// eight bytes at a time (most strings have none).
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `w` is zero, or below `n` (at most 0x80), where the result has its high bit.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS;
    let special = |word: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_ne_bytes(w);
        below(w, 0x20) | below(w ^ (ONES * u64::from(b'"')), 1) | below(w ^ (ONES * u64::from(b'\\')), 1) != 0
    };
    if bytes.len() < 8 {
        return bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
    }
    // The last word overlaps the one before it when the length is no multiple of eight.
    bytes.chunks_exact(8).any(special) || special(&bytes[bytes.len() - 8..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_written_byte_for_byte_as_serde_json_writes_them() {
        let mut tricky: Vec<String> = (0u8..0x80).map(|b| format!("a{}b", char::from(b))).collect();
        tricky.extend(["", "\"\\\"", "\u{7f}\u{80}\u{2028}\u{2029}é中😀", "<script>&amp;</script>", "\\u0000", "tab\there\nnew\r\u{8}\u{c}\u{1f}"].map(String::from));
        // Long ones, with the character to escape at every place of an eight-byte word.
        for at in 0..17 {
            for c in ['"', '\\', '\n', '\u{1}', '\u{1f}', ' ', '~', '\u{7f}', 'é'] {
                let mut text = "x".repeat(17);
                text.insert(at, c);
                tricky.push(text);
            }
        }
        for (i, text) in tricky.iter().enumerate() {
            let counters = [(text.clone(), i64::MIN), (format!("{text}@{text}"), i64::MAX), ("z".into(), -(i as i64))];
            let some = Some(text.as_str());
            let record = ReplayRecord {
                line: if i == 0 { usize::MAX } else { i },
                at: text,
                tool: text,
                decision: "deny",
                rule: some,
                culprit: if i % 2 == 0 { some } else { None },
                message: some,
                cause: if i % 3 == 0 { Some("limit") } else { None },
                counters: &counters[..i % 4],
            };
            let mut written = Vec::new();
            record.write_line(&mut written);
            let mut expected = serde_json::to_vec(&record).unwrap();
            expected.push(b'\n');
            assert_eq!(String::from_utf8(written).unwrap(), String::from_utf8(expected).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn counters_with_the_same_text_are_written_once_with_the_later_value() {
        let mut entries = Vec::new();
        let shared = CounterKey { key: "a@b".into(), partition: None };
        let partitioned = CounterKey { key: "a".into(), partition: Some("b".into()) };
        let n = set_counter(&mut entries, 0, &shared, 1);
        let n = set_counter(&mut entries, n, &CounterKey { key: "0".into(), partition: None }, 2);
        let n = set_counter(&mut entries, n, &partitioned, 3);
        assert_eq!(entries[..n], [("a@b".to_string(), 3), ("0".to_string(), 2)]);
        // The strings are kept for the next call.
        assert_eq!(set_counter(&mut entries, 0, &partitioned, 4), 1);
        assert_eq!(entries.len(), 3);
    }
}
