//! What libyaml's reader (and so yaml.v3's) accepts as input, before any
//! token is scanned: the encoding (UTF-8, or UTF-16 after its byte-order
//! mark), well-formed sequences, and only the characters YAML allows in a
//! stream. A NUL, `\x01`, `\x7f`, U+0080–U+009F (except U+0085) or U+FFFE
//! anywhere is a load error in Intercept, so it is one here too, with the
//! place of the character (yaml.v3's own message has no line).
//!
//! The messages are yaml.v3's; [`decode`] also turns a UTF-16 file into the
//! UTF-8 text every later stage reads.

use std::borrow::Cow;

use super::Error;

/// How the stream is encoded, from its first bytes (as libyaml decides it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

/// The encoding and the length of the byte-order mark that announced it.
pub fn encoding(bytes: &[u8]) -> (Encoding, usize) {
    match bytes {
        [0xFF, 0xFE, ..] => (Encoding::Utf16Le, 2),
        [0xFE, 0xFF, ..] => (Encoding::Utf16Be, 2),
        [0xEF, 0xBB, 0xBF, ..] => (Encoding::Utf8, 3),
        _ => (Encoding::Utf8, 0),
    }
}

/// Whether YAML lets `c` appear in a stream at all (libyaml's reader test).
pub fn allowed(c: u32) -> bool {
    matches!(c, 0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Why the character `c` (after a leading byte-order mark) is refused, if it is:
/// what yaml.v3 refuses, and two characters gauntlet refuses although yaml.v3
/// reads them, because it reads them unlike what a reader of the file sees
/// (so a policy could say one thing on screen and another to Intercept):
/// a byte-order mark after the start (yaml.v3 skips one only at the start of
/// a line, then reads the rest of that line one column further in: the file
/// is refused, or part of it silently dropped), and the line breaks only
/// YAML knows (NEL, LS, PS: one line in an editor, two to yaml.v3).
fn refusal(c: u32) -> Option<&'static str> {
    match c {
        0xFEFF => Some(STRAY_BOM),
        0x85 | 0x2028 | 0x2029 => Some(HIDDEN_BREAK),
        _ if !allowed(c) => Some(CONTROL),
        _ => None,
    }
}

/// A reader failure: yaml.v3's message and the byte offset it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub offset: usize,
    pub message: &'static str,
}

/// The text of a YAML stream as UTF-8, or the first place the reader
/// refuses, positioned. A byte-order mark stays in front (a UTF-8 one for
/// UTF-16 input): the parser takes it as the encoding's signature, so a
/// second one after it is content, as in yaml.v3.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, Error> {
    let (enc, bom) = encoding(bytes);
    let decoded = match enc {
        Encoding::Utf8 => utf8(&bytes[bom..], bom).map(|_| Cow::Borrowed(std::str::from_utf8(bytes).expect("checked above"))),
        Encoding::Utf16Le | Encoding::Utf16Be => {
            utf16(&bytes[bom..], bom, enc == Encoding::Utf16Be).map(|text| Cow::Owned(format!("\u{feff}{text}")))
        }
    };
    decoded.map_err(|r| refused(bytes, &r))
}

/// The reader's checks on text that is already UTF-8 (a leading byte-order
/// mark is skipped, as the reader skips it).
pub fn check_text(text: &str) -> Result<(), Error> {
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    match first_refused(&text[bom..]) {
        Some(r) => Err(refused(text.as_bytes(), &Refusal { offset: bom + r.offset, ..r })),
        None => Ok(()),
    }
}

/// The first character of `text` [`refusal`] refuses, at its offset in `text`.
fn first_refused(text: &str) -> Option<Refusal> {
    text.char_indices().find_map(|(i, c)| refusal(c as u32).map(|message| Refusal { offset: i, message }))
}

const CONTROL: &str = "control characters are not allowed";
const STRAY_BOM: &str = "a byte-order mark (U+FEFF) is allowed only at the start of the file";
const HIDDEN_BREAK: &str = "a line break only YAML sees (U+0085, U+2028 or U+2029) is not allowed";

fn utf8(b: &[u8], base: usize) -> Result<&str, Refusal> {
    // Valid UTF-8 is the common case: one fast check, then the character set.
    if let Ok(text) = std::str::from_utf8(b) {
        return match first_refused(text) {
            Some(r) => Err(Refusal { offset: base + r.offset, ..r }),
            None => Ok(text),
        };
    }
    let mut i = 0;
    while i < b.len() {
        let at = |k: usize, message| Refusal { offset: base + k, message };
        let lead = b[i];
        let width = match lead {
            0x00..=0x7F => 1,
            _ if lead & 0xE0 == 0xC0 => 2,
            _ if lead & 0xF0 == 0xE0 => 3,
            _ if lead & 0xF8 == 0xF0 => 4,
            _ => return Err(at(i, "invalid leading UTF-8 octet")),
        };
        if i + width > b.len() {
            return Err(at(i, "incomplete UTF-8 octet sequence"));
        }
        let mut value = u32::from(lead) & [0x7F, 0x1F, 0x0F, 0x07][width - 1];
        for k in 1..width {
            let o = b[i + k];
            if o & 0xC0 != 0x80 {
                // Placed at the sequence it breaks (libyaml names the octet).
                return Err(at(i, "invalid trailing UTF-8 octet"));
            }
            value = (value << 6) | u32::from(o & 0x3F);
        }
        let shortest = match width {
            1 => true,
            2 => value >= 0x80,
            3 => value >= 0x800,
            _ => value >= 0x10000,
        };
        if !shortest {
            return Err(at(i, "invalid length of a UTF-8 sequence"));
        }
        if (0xD800..=0xDFFF).contains(&value) || value > 0x10FFFF {
            return Err(at(i, "invalid Unicode character"));
        }
        if let Some(message) = refusal(value) {
            return Err(at(i, message));
        }
        i += width;
    }
    unreachable!("from_utf8 refused bytes every sequence of which is valid")
}

fn utf16(b: &[u8], base: usize, big_endian: bool) -> Result<String, Refusal> {
    let unit = |k: usize| {
        let (x, y) = (u16::from(b[k]), u16::from(b[k + 1]));
        if big_endian { (x << 8) | y } else { (y << 8) | x }
    };
    let mut out = String::with_capacity(b.len() / 2);
    let mut i = 0;
    while i < b.len() {
        let at = |message| Refusal { offset: base + i, message };
        if i + 2 > b.len() {
            return Err(at("incomplete UTF-16 character"));
        }
        let first = unit(i);
        let (value, width) = match first {
            0xDC00..=0xDFFF => return Err(at("unexpected low surrogate area")),
            0xD800..=0xDBFF => {
                if i + 4 > b.len() {
                    return Err(at("incomplete UTF-16 surrogate pair"));
                }
                let second = unit(i + 2);
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(Refusal { offset: base + i + 2, message: "expected low surrogate area" });
                }
                (0x10000 + ((u32::from(first) & 0x3FF) << 10) + (u32::from(second) & 0x3FF), 4)
            }
            _ => (u32::from(first), 2),
        };
        if let Some(message) = refusal(value) {
            return Err(at(message));
        }
        out.push(char::from_u32(value).expect("surrogates were combined above"));
        i += width;
    }
    Ok(out)
}

/// Positions a refusal: the line and column of the character at its offset,
/// counted as the scanner counts them (a line ends at `\n`, `\r\n`, `\r`,
/// U+0085, U+2028 or U+2029; columns are characters).
fn refused(bytes: &[u8], r: &Refusal) -> Error {
    let (enc, bom) = encoding(bytes);
    let head = &bytes[bom..r.offset.max(bom)];
    let text: Cow<str> = match enc {
        Encoding::Utf8 => String::from_utf8_lossy(head),
        Encoding::Utf16Le | Encoding::Utf16Be => {
            let units = head.chunks_exact(2).map(|p| {
                if enc == Encoding::Utf16Be { u16::from_be_bytes([p[0], p[1]]) } else { u16::from_le_bytes([p[0], p[1]]) }
            });
            Cow::Owned(char::decode_utf16(units).map(|c| c.unwrap_or('\u{fffd}')).collect())
        }
    };
    let (line, column) = position(&text);
    let help = match r.message {
        CONTROL => "remove it; a control character can only be written as an escape inside a double-quoted string (\"\\x01\")",
        STRAY_BOM => "remove it (files joined together often carry one): yaml.v3, which Intercept uses, would refuse the file or drop part of that line",
        HIDDEN_BREAK => "use an ordinary newline, or write it as an escape inside a double-quoted string (\"\\N\", \"\\L\", \"\\P\"): yaml.v3 reads it as a line break that editors do not show",
        _ => "save the file as UTF-8 (or UTF-16 with a byte-order mark)",
    };
    let is_character = matches!(r.message, CONTROL | STRAY_BOM | HIDDEN_BREAK);
    let found = match enc {
        Encoding::Utf8 => match bytes[r.offset..].utf8_chunks().next().map(|c| c.valid().chars().next()) {
            Some(Some(c)) if is_character => format!(" (found U+{:04X})", c as u32),
            _ => format!(" (found byte 0x{:02x})", bytes.get(r.offset).copied().unwrap_or(0)),
        },
        _ => String::new(),
    };
    Error::syntax(line, column, r.message.to_string()).with_detail(found, help)
}

/// The 1-based line and column just past `text`.
pub fn position(text: &str) -> (u32, u32) {
    let (mut line, mut column) = (1u32, 1u32);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => (line, column) = (line + 1, 1),
            _ => column += 1,
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(bytes: &[u8]) -> Option<(u32, u32, String)> {
        decode(bytes).err().map(|e| (e.line, e.column, e.message().to_string()))
    }

    #[test]
    fn every_character_yaml_v3_refuses_is_refused_where_it_is() {
        for bad in ["\0", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "\u{80}", "\u{84}", "\u{86}", "\u{9f}", "\u{fffe}", "\u{ffff}", "\u{d7ff}x"] {
            let text = format!("version: \"1\"\nx: a{bad}\n");
            let expected = (!bad.ends_with('x')).then(|| (2, 5, CONTROL.to_string()));
            assert_eq!(refusal(text.as_bytes()), expected, "{bad:?}");
            assert_eq!(check_text(&text).err().map(|e| (e.line, e.column)), expected.map(|e| (e.0, e.1)), "{bad:?}");
        }
        // Tab, the line ends, NBSP and everything printable pass.
        assert_eq!(refusal("a:\tb\r\nc: \u{a0}é😀\n".as_bytes()), None);
    }

    #[test]
    fn a_later_byte_order_mark_and_the_line_breaks_only_yaml_sees_are_refused_where_they_are() {
        for (text, at, message) in [
            ("\u{feff}\u{feff}a: 1\n", (1, 1), STRAY_BOM),
            ("a: 1\n\u{feff}b: 2\n", (2, 1), STRAY_BOM),
            ("a: \"x\u{feff}y\"\n", (1, 6), STRAY_BOM),
            ("a: b\u{85}c: d\n", (1, 5), HIDDEN_BREAK),
            ("a: b\n# \u{2028}\n", (2, 3), HIDDEN_BREAK),
            ("a: \"b\u{2029}\"\n", (1, 6), HIDDEN_BREAK),
        ] {
            assert_eq!(refusal(text.as_bytes()), Some((at.0, at.1, message.to_string())), "{text:?}");
            assert_eq!(check_text(text).err().map(|e| (e.line, e.column)), Some(at), "{text:?}");
        }
        let le: Vec<u8> = [0xFF, 0xFE].into_iter().chain("a: 1\n\u{feff}b\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(refusal(&le), Some((2, 1, STRAY_BOM.into())));
    }

    #[test]
    fn malformed_utf8_gets_yaml_v3_messages() {
        assert_eq!(refusal(b"a: \xff\n"), Some((1, 4, "invalid leading UTF-8 octet".into())));
        assert_eq!(refusal(b"a:\n b: \xc3"), Some((2, 5, "incomplete UTF-8 octet sequence".into())));
        assert_eq!(refusal(b"a: \xc3x"), Some((1, 4, "invalid trailing UTF-8 octet".into())));
        assert_eq!(refusal(b"a: \xc0\x80"), Some((1, 4, "invalid length of a UTF-8 sequence".into())));
        assert_eq!(refusal(b"a: \xed\xa0\x80"), Some((1, 4, "invalid Unicode character".into())));
    }

    #[test]
    fn utf16_with_a_bom_is_text() {
        let le: Vec<u8> = [0xFF, 0xFE].into_iter().chain("a: é\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decode(&le).unwrap(), "\u{feff}a: é\n");
        let be: Vec<u8> = [0xFE, 0xFF].into_iter().chain("a: 😀\n".encode_utf16().flat_map(u16::to_be_bytes)).collect();
        assert_eq!(decode(&be).unwrap(), "\u{feff}a: 😀\n");
        let nul: Vec<u8> = [0xFF, 0xFE].into_iter().chain("a\nb\0".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(refusal(&nul), Some((2, 2, CONTROL.into())));
        assert_eq!(refusal(&[0xFF, 0xFE, 0x61]), Some((1, 1, "incomplete UTF-16 character".into())));
    }

    #[test]
    fn a_leading_bom_is_kept_for_the_parser() {
        assert_eq!(decode("\u{feff}a: 1\n".as_bytes()).unwrap(), "\u{feff}a: 1\n");
        assert!(check_text("\u{feff}a: 1\n").is_ok());
    }
}
