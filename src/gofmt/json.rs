//! Go `encoding/json` output, byte for byte (semantics Appendix A): the
//! denial line, the re-serialised `tools/list` page and the argument hash all
//! depend on it.
//!
//! Compact, map keys sorted by bytes, HTML-escaped strings, doubles in Go's
//! format. It only writes; reading JSON the way Go does lives in
//! `crate::proxy::rawjson`.

use serde_json::Value;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Decodes one rune as Go's `utf8.DecodeRune` does: an invalid or truncated
/// sequence yields `None` and consumes exactly one byte, so every bad byte
/// becomes its own U+FFFD (unlike `String::from_utf8_lossy`).
pub fn decode_rune(bytes: &[u8]) -> (Option<char>, usize) {
    let Some(&first) = bytes.first() else {
        return (None, 0);
    };
    let width = match first {
        0x00..=0x7f => return (Some(first as char), 1),
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (None, 1),
    };
    match bytes.get(..width).map(std::str::from_utf8) {
        Some(Ok(s)) => (s.chars().next(), width),
        _ => (None, 1),
    }
}

/// Appends `s` as a Go JSON string (with `SetEscapeHTML(true)`, the default).
pub fn write_str(out: &mut String, s: &str) {
    let mut buf = Vec::with_capacity(s.len() + 2);
    write_string_bytes(&mut buf, s.as_bytes());
    // Only ASCII escapes and whole UTF-8 sequences were written, so this never falls back.
    match std::str::from_utf8(&buf) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(&buf)),
    }
}

/// `s` as a Go JSON string.
pub fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

/// An ASCII byte Go writes as it is inside a string (no escape).
fn plain(b: u8) -> bool {
    (0x20..0x80).contains(&b) && !matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&')
}

/// Appends raw bytes as a Go JSON string: invalid UTF-8 becomes `\ufffd`.
pub fn write_string_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut i = 0;
    while i < bytes.len() {
        // Plain ASCII is copied in runs: most of any text, and all of a large filler argument.
        let run = bytes[i..].iter().position(|&b| !plain(b)).unwrap_or(bytes.len() - i);
        out.extend_from_slice(&bytes[i..i + run]);
        i += run;
        let Some(&b) = bytes.get(i) else { break };
        if b < 0x80 {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                _ => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xf) as usize]);
                }
            }
            i += 1;
            continue;
        }
        let (c, n) = decode_rune(&bytes[i..]);
        match c {
            None => out.extend_from_slice(b"\\ufffd"),
            Some('\u{2028}') => out.extend_from_slice(b"\\u2028"),
            Some('\u{2029}') => out.extend_from_slice(b"\\u2029"),
            Some(_) => out.extend_from_slice(&bytes[i..i + n]),
        }
        i += n;
    }
    out.push(b'"');
}

/// A double as `encoding/json` writes it: shortest round-trip digits, plain
/// decimal unless |x| < 1e-6 or |x| ≥ 1e21, no `.0` on integral values,
/// exponents without leading zeros (`1e+21`, `1e-7`).
///
/// Non-finite values have no JSON form (Go refuses to encode them); they are
/// written as `null`, which never happens for values decoded from JSON.
pub fn format_f64(x: f64) -> String {
    if !x.is_finite() {
        return "null".to_string();
    }
    let abs = x.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let e = format!("{x:e}");
        match e.split_once('e') {
            Some((mantissa, exp)) if exp.starts_with('-') => format!("{mantissa}e{exp}"),
            Some((mantissa, exp)) => format!("{mantissa}e+{exp}"),
            None => e,
        }
    } else {
        format!("{x}")
    }
}

/// Appends a JSON value as Go marshals the equivalent `any`: object keys
/// sorted by bytes at every level, compact.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&format_f64(n.as_f64().unwrap_or(f64::NAN)));
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

/// Appends an object with its keys sorted by bytes (whatever order the map keeps).
pub fn write_object(out: &mut String, map: &serde_json::Map<String, Value>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (k, (key, value)) in entries.into_iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        write_str(out, key);
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

/// A JSON value as Go marshals it.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// Go's `json.Compact` with HTML escaping, which is what `Marshal` applies to a
/// `json.RawMessage`: insignificant whitespace removed, `<>&` U+2028 U+2029
/// inside strings escaped, everything else kept byte for byte. The input must
/// already be valid JSON.
pub fn compact_raw(out: &mut Vec<u8>, raw: &[u8]) {
    out.reserve(raw.len());
    let mut in_string = false;
    let mut i = 0;
    while i < raw.len() {
        // Copy the run up to the next byte that needs attention whole: a
        // large server's tools/list page is mostly such runs.
        let special = |b: &u8| match in_string {
            true => matches!(b, b'\\' | b'"' | b'<' | b'>' | b'&' | 0xe2),
            false => matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"'),
        };
        let run = raw[i..].iter().position(special).unwrap_or(raw.len() - i);
        out.extend_from_slice(&raw[i..i + run]);
        i += run;
        let Some(&b) = raw.get(i) else { break };
        if in_string {
            match b {
                b'\\' => {
                    out.push(b);
                    if let Some(&next) = raw.get(i + 1) {
                        out.push(next);
                    }
                    i += 2;
                    continue;
                }
                b'"' => in_string = false,
                b'<' | b'>' | b'&' => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xf) as usize]);
                    i += 1;
                    continue;
                }
                0xe2 if raw.get(i + 1) == Some(&0x80) && matches!(raw.get(i + 2), Some(0xa8 | 0xa9)) => {
                    out.extend_from_slice(if raw[i + 2] == 0xa8 { b"\\u2028" } else { b"\\u2029" });
                    i += 3;
                    continue;
                }
                _ => {}
            }
            out.push(b);
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_follow_go_encoding_json() {
        let cases: &[(f64, &str)] = &[
            (5000.0, "5000"),
            (0.0, "0"),
            (-0.0, "-0"),
            (1.5, "1.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (-1e21, "-1e+21"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (1e-10, "1e-10"),
            (0.000001, "0.000001"),
            (1e100, "1e+100"),
            (9007199254740993.0, "9007199254740992"),
            (123456.7, "123456.7"),
            (0.1, "0.1"),
        ];
        for (x, want) in cases {
            assert_eq!(format_f64(*x), *want, "for {x:?}");
        }
    }

    #[test]
    fn strings_escape_like_go() {
        assert_eq!(quote_str("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote_str("<b>&"), r#""\u003cb\u003e\u0026""#);
        assert_eq!(quote_str("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(quote_str("\u{1}\u{1f}\u{7f}"), "\"\\u0001\\u001f\u{7f}\"");
        assert_eq!(quote_str("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(quote_str("café 😀 \u{200b}"), "\"café 😀 \u{200b}\"");
    }

    #[test]
    fn invalid_utf8_becomes_one_replacement_per_bad_byte() {
        let mut out = Vec::new();
        write_string_bytes(&mut out, b"a\xe2\x82b\xffc");
        assert_eq!(out, br#""a\ufffd\ufffdb\ufffdc""#.to_vec());
        assert_eq!(decode_rune("é".as_bytes()), (Some('é'), 2));
        assert_eq!(decode_rune(b"\xed\xa0\x80"), (None, 1));
    }

    #[test]
    fn objects_sort_keys_at_every_level() {
        let v: Value = serde_json::from_str(r#"{"b":{"z":1,"a":[true,null]},"a":"x","B":2}"#).unwrap();
        assert_eq!(to_string(&v), r#"{"B":2,"a":"x","b":{"a":[true,null],"z":1}}"#);
    }

    #[test]
    fn compact_raw_strips_space_and_escapes_html_in_strings_only() {
        let mut out = Vec::new();
        compact_raw(&mut out, b"{ \"a\" : [1, 2],\n \"b\":\"<x> & \\\" \xe2\x80\xa8\" }");
        assert_eq!(out, br#"{"a":[1,2],"b":"\u003cx\u003e \u0026 \" \u2028"}"#.to_vec());
    }

    #[test]
    fn compact_raw_keeps_other_multibyte_text_and_escapes_at_run_edges() {
        let mut out = Vec::new();
        // `€` starts with the same byte as U+2028 (0xe2) but is kept; an escaped backslash before the closing quote.
        compact_raw(&mut out, "[\"€\u{2029}\\\\\", \"&\"]".as_bytes());
        assert_eq!(String::from_utf8(out).unwrap(), r#"["€\u2029\\","\u0026"]"#);
        let mut out = Vec::new();
        compact_raw(&mut out, b"\"a\xe2\x80\xa9\"");
        assert_eq!(out, br#""a\u2029""#.to_vec());
    }
}
