//! Go's `strconv.Quote` (`%q`), byte for byte (semantics Appendix A).
//!
//! Intercept quotes tool names, rule names and policy values with `%q` in its
//! denial and validation messages; gauntlet must produce the same bytes to
//! predict them. This module only quotes: it never unquotes.

use std::sync::LazyLock;

/// Go's `unicode.IsPrint` beyond ASCII: letters, marks, numbers, punctuation
/// and symbols (the regex crate carries the Unicode category tables).
static PRINTABLE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^[\p{L}\p{M}\p{N}\p{P}\p{S}]$").expect("static pattern")
});

/// `strconv.Quote(s)` for a valid UTF-8 string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out.push('"');
    out
}

/// `strconv.Quote` for raw bytes, which may hold invalid UTF-8: every byte
/// that is not part of a valid sequence becomes `\xNN`, as in Go.
pub fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`: the printable categories plus the ASCII space only.
pub fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let mut buf = [0u8; 4];
    PRINTABLE.is_match(c.encode_utf8(&mut buf))
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        c if is_print(c) => out.push(c),
        '\u{07}' => out.push_str("\\a"),
        '\u{08}' => out.push_str("\\b"),
        '\u{0c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{0b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("", r#""""#)]
    #[case("abc", r#""abc""#)]
    #[case("a\"b", r#""a\"b""#)]
    #[case("a\\b", r#""a\\b""#)]
    #[case("\u{07}\u{08}\u{0c}\n\r\t\u{0b}", r#""\a\b\f\n\r\t\v""#)]
    #[case("\u{00}\u{1b}\u{7f}", r#""\x00\x1b\x7f""#)]
    #[case("é😀 ", "\"é😀 \"")]
    #[case("\u{200b}", r#""\u200b""#)]
    #[case("\u{2028}", r#""\u2028""#)]
    #[case("\u{feff}", r#""\ufeff""#)]
    #[case("\u{a0}", r#""\u00a0""#)]
    #[case("\u{85}", r#""\u0085""#)]
    #[case("\u{3000}", r#""\u3000""#)]
    #[case("\u{e000}", r#""\ue000""#)]
    #[case("\u{e0001}", r#""\U000e0001""#)]
    #[case("\u{fffd}", "\"\u{fffd}\"")]
    #[case("WizCommerce Open API_PostCustomers", r#""WizCommerce Open API_PostCustomers""#)]
    fn quotes_like_go(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(quote(input), expected);
    }

    #[rstest]
    #[case(b"a\xffb", r#""a\xffb""#)]
    #[case(b"\xe2\x82", r#""\xe2\x82""#)]
    #[case("é".as_bytes(), "\"é\"")]
    fn quotes_invalid_utf8_bytewise(#[case] input: &[u8], #[case] expected: &str) {
        assert_eq!(quote_bytes(input), expected);
    }
}
