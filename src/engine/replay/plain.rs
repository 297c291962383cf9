//! The common trace line read without serde's field machinery: `gauntlet
//! replay` reads one per call, and that machinery was a fifth of its time.
//!
//! Only a plain line is read here: an object of the trace form's members
//! (`at`, `identity`, `session`, `tool`, `upstream` as strings without
//! escapes or control characters, `arguments` as an object), each once, with
//! JSON whitespace anywhere. Anything else, valid or not, gives `None`, and
//! serde reads the line as before: this reader only ever accepts a line
//! serde accepts, with the same values (the fuzz target `trace` checks it).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{RawLine, Shape, Upstream};

/// Brackets in the arguments above which they are left to serde: nested
/// that deep they are near its recursion limit, which counts from the line's
/// object, not from the arguments'.
const MAX_BRACKETS: usize = 100;

/// A plain line's members, or `None` when the line is not plain.
pub(super) fn line<'a, A: Deserialize<'a> + Default>(text: &'a str) -> Option<RawLine<'a, A>> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(bytes, at + 1);
    let mut raw = RawLine::default();
    loop {
        let (key, after) = string(text, at)?;
        at = skip_space(bytes, after);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(bytes, at + 1);
        if key == "arguments" {
            let rest = &text[at..];
            if raw.arguments.is_some() || !rest.starts_with('{') {
                return None;
            }
            let mut values = serde_json::Deserializer::from_str(rest).into_iter::<A>();
            raw.arguments = Some(values.next()?.ok()?);
            let end = values.byte_offset();
            // Each level takes two bytes at least: only long arguments can be deep.
            if end > 2 * MAX_BRACKETS && brackets(&rest[..end]) > MAX_BRACKETS {
                return None;
            }
            at += end;
        } else {
            let (value, after) = string(text, at)?;
            at = after;
            let again = match key {
                "at" => raw.at.replace(value.into()).is_some(),
                "identity" => raw.identity.replace(value.into()).is_some(),
                "session" => raw.session.replace(value.into()).is_some(),
                "tool" => raw.tool.replace(value.into()).is_some(),
                "upstream" => raw.upstream.replace(upstream(value)?).is_some(),
                _ => return None,
            };
            if again {
                return None;
            }
        }
        at = skip_space(bytes, at);
        match bytes.get(at) {
            Some(b',') => at = skip_space(bytes, at + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    (skip_space(bytes, at + 1) == bytes.len()).then_some(raw)
}

/// The string starting at `at` (its opening quote) and the index after its
/// closing quote; `None` unless it is there with no escape or control character.
fn string(text: &str, at: usize) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    for (i, &b) in bytes.iter().enumerate().skip(at + 1) {
        match b {
            b'"' => return Some((&text[at + 1..i], i + 1)),
            b'\\' | 0x00..=0x1f => return None,
            _ => {}
        }
    }
    None
}

/// `upstream`'s value as its serde names say (one list of them, the enum's).
fn upstream(name: &str) -> Option<Upstream> {
    Upstream::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(name)).ok()
}

/// The index of the first byte from `at` on that is not JSON whitespace.
fn skip_space(bytes: &[u8], at: usize) -> usize {
    at + bytes.get(at..).unwrap_or_default().iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')).count()
}

/// Opening brackets in `text`, strings included: at least its nesting depth.
fn brackets(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'{' || b == b'[').count()
}

/// Whether [`line`] reads `text` as serde does, into a `Map` and into a
/// [`Shape`]: `Err` with both readings when it accepts a line serde rejects
/// or reads it differently (the fuzz target `trace` calls this on every line).
pub(crate) fn agrees_with_serde(text: &[u8]) -> Result<(), String> {
    fn agree<'a, A: Deserialize<'a> + Default + PartialEq + std::fmt::Debug>(text: &'a str) -> Result<(), String> {
        let Some(plain) = line::<A>(text) else { return Ok(()) };
        match serde_json::from_str::<RawLine<A>>(text) {
            Ok(serde) if serde == plain => Ok(()),
            serde => Err(format!("{text:?}: read as {plain:?} without serde, as {serde:?} by serde")),
        }
    }
    let Ok(text) = std::str::from_utf8(text) else { return Ok(()) };
    agree::<Map<String, Value>>(text)?;
    agree::<Shape>(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_read_as_serde_reads_them_and_others_left_to_it() {
        let plain = [
            r#"{"at":"2026-03-02T10:00:00Z","identity":"alice","session":"s1","tool":"create_charge","arguments":{"amount":500},"upstream":"ok"}"#,
            r#"{"tool":"a"}"#,
            " \t{ \"tool\" : \"é😀\" , \"arguments\" : { \"a\" : [1, {\"b\": \"\\\"\"}] } , \"upstream\":\"jsonrpc_error\" }\r ",
            r#"{"arguments":{"x":1e400},"tool":"a"}"#,
            r#"{"arguments":{"x":1,"x":2},"tool":"a","at":"noon"}"#,
            r#"{"identity":"","session":"","tool":"","upstream":"none"}"#,
        ];
        for text in plain {
            assert!(line::<Map<String, Value>>(text).is_some() || text.contains("1e400"), "{text} is plain");
            assert!(line::<Shape>(text).is_some() || text.contains("1e400"), "{text} is plain");
            agrees_with_serde(text.as_bytes()).unwrap();
        }
        let deep = format!("{{\"tool\":\"a\",\"arguments\":{}{}}}", "{\"a\":".repeat(127) + "1", "}".repeat(127));
        let others = [
            "", "{}", "[]", "null", r#"{"tool":"a",}"#, r#"{"tool":"a"} x"#, r#"{"tool":"a"}{}"#, r#"{"tool":"a","tool":"b"}"#,
            r#"{"tool":"a\"b"}"#, r#"{"tool":"\u0061"}"#, "{\"tool\":\"a\tb\"}", r#"{"\u0074ool":"a"}"#, r#"{"tool":null}"#,
            r#"{"tool":"a","arguments":null}"#, r#"{"tool":"a","arguments":[1]}"#, r#"{"tool":"a","arguments":{"x":}}"#,
            r#"{"tool":"a","upstream":"boom"}"#, r#"{"tool":"a","upstream":{"ok":null}}"#, r#"{"tool":"a","upstream":"ok","upstream":"ok"}"#,
            r#"{"tool":"a","time":"2026-03-02T10:00:00Z"}"#, r#"{"tool":"a","rule":"r"}"#, r#"{"tool":"a","arguments":{},"arguments":{}}"#,
            r#"{"tool":5}"#, r#"{"tool""a"}"#, r#"{"tool":"a""#, "\u{feff}{\"tool\":\"a\"}", deep.as_str(),
        ];
        for text in others {
            assert!(line::<Map<String, Value>>(text).is_none() && line::<Shape>(text).is_none(), "{text} is left to serde");
        }
    }
}
