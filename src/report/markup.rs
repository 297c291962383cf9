//! Escaping for the markup formats (HTML and JUnit XML): one function, so the
//! two cannot drift apart. Traces carry whatever bytes a tool call carried, so
//! characters XML 1.0 cannot hold at all (C0 controls other than tab, line
//! feed and carriage return; U+FFFE, U+FFFF) and those HTML treats as parse
//! errors (DEL and the C1 controls) are replaced by U+FFFD, never emitted and
//! never dropped without a trace.

/// Escapes text and attribute values for HTML and XML alike.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // `&apos;` is not HTML 4; a numeric reference means the same everywhere.
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c) || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push('\u{FFFD}')
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_characters_xml_cannot_hold() {
        assert_eq!(escape(r#"<a href="x">Tom & 'Jerry'</a>"#), "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
        assert_eq!(escape("a\tb\nc\rd"), "a\tb\nc\rd");
        // Replaced, one for one: the reader sees that something was there.
        assert_eq!(escape("x\u{0}y\u{1b}[31m\u{7f}\u{85}\u{FFFE}\u{FFFF}z"), "x\u{FFFD}y\u{FFFD}[31m\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}z");
        assert_eq!(escape("é ✓ 😀 \u{FFFD}"), "é ✓ 😀 \u{FFFD}");
    }
}
