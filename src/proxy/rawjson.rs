//! A JSON reader over bytes that keeps what `serde_json::Value` throws away:
//! every object member in order (duplicates included), the raw byte span of
//! every value (ids are echoed byte for byte), and whether a string held
//! invalid UTF-8.
//!
//! Grammar and string decoding follow Go's `encoding/json` (RFC 8259, escapes
//! decoded, lone surrogates and invalid UTF-8 → U+FFFD one byte at a time).
//! It refuses nesting deeper than [`MAX_DEPTH`] rather than recurse without
//! bound; it does not interpret members: that is `decode`'s job.

use serde_json::{Map, Number, Value};

use crate::gofmt::json::decode_rune;

/// Deepest nesting accepted (serde_json's own default limit). Go accepts up
/// to 10000; deeper messages are refused by the core instead (fail closed).
pub const MAX_DEPTH: usize = 128;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Byte range of the value in the input, without surrounding whitespace.
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    /// The double Go's `strconv.ParseFloat` yields; infinite when the literal
    /// overflows (Go reports an error there, see [`Node::to_value`]).
    Number(f64),
    Str(JsonStr),
    Array(Vec<Node>),
    Object(Vec<Member>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct JsonStr {
    pub text: String,
    /// The literal held invalid UTF-8 or a lone surrogate escape (replaced by U+FFFD).
    pub lossy: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub key: JsonStr,
    pub value: Node,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON: the byte offset where the grammar broke.
    Syntax(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep(usize),
}

/// A number that overflows a double, which Go refuses to decode into `any`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

/// Parses one JSON value, allowing surrounding whitespace and nothing else.
pub fn parse(bytes: &[u8]) -> Result<Node, ParseError> {
    let mut p = Parser { b: bytes, i: 0 };
    p.ws();
    let node = p.value(0)?;
    p.ws();
    if p.i != bytes.len() {
        return Err(ParseError::Syntax(p.i));
    }
    Ok(node)
}

/// What the first bytes of a JSON-RPC object say about it: the raw `id`
/// (when a whole one came before `head` ran out) and whether a `method`
/// member did. Enough to answer a message too large to read whole.
pub fn prefix_envelope(head: &[u8]) -> (Option<&[u8]>, bool) {
    let mut p = Parser { b: head, i: 0 };
    let (mut id, mut method) = (None, false);
    p.ws();
    if p.peek() != Some(b'{') {
        return (None, false);
    }
    p.i += 1;
    loop {
        p.ws();
        if p.peek() != Some(b'"') {
            break;
        }
        let Ok(key) = p.string() else { break };
        p.ws();
        if p.peek() != Some(b':') {
            break;
        }
        p.i += 1;
        p.ws();
        let start = p.i;
        let Ok(value) = p.value(1) else { break };
        if p.i >= head.len() {
            // A number may go on past what was kept.
            break;
        }
        match key.text.as_str() {
            "id" if matches!(value.kind, Kind::Str(_) | Kind::Number(_)) => id = Some(&head[start..p.i]),
            "method" => method = true,
            _ => {}
        }
        p.ws();
        if p.peek() != Some(b',') {
            break;
        }
        p.i += 1;
    }
    (id, method)
}

impl Node {
    pub fn raw<'a>(&self, src: &'a [u8]) -> &'a [u8] {
        &src[self.start..self.end]
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// The value Go's `json.Unmarshal` into `any` builds: numbers as doubles,
    /// the last of duplicate keys wins.
    pub fn to_value(&self) -> Result<Value, Overflow> {
        Ok(match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Number(x) => Value::Number(Number::from_f64(*x).ok_or(Overflow)?),
            Kind::Str(s) => Value::String(s.text.clone()),
            Kind::Array(items) => Value::Array(items.iter().map(Node::to_value).collect::<Result<_, _>>()?),
            Kind::Object(members) => {
                let mut map = Map::new();
                merge_members(&mut map, members)?;
                Value::Object(map)
            }
        })
    }

    /// True if any string or key in this value was lossy (invalid UTF-8).
    pub fn has_lossy_text(&self) -> bool {
        match &self.kind {
            Kind::Str(s) => s.lossy,
            Kind::Array(items) => items.iter().any(Node::has_lossy_text),
            Kind::Object(members) => members.iter().any(|m| m.key.lossy || m.value.has_lossy_text()),
            _ => false,
        }
    }

    /// True if any number in this value overflows a double.
    pub fn has_overflow(&self) -> bool {
        match &self.kind {
            Kind::Number(x) => !x.is_finite(),
            Kind::Array(items) => items.iter().any(Node::has_overflow),
            Kind::Object(members) => members.iter().any(|m| m.value.has_overflow()),
            _ => false,
        }
    }

    /// True if any object in this value repeats a key exactly.
    pub fn has_duplicate_keys(&self) -> bool {
        match &self.kind {
            Kind::Array(items) => items.iter().any(Node::has_duplicate_keys),
            Kind::Object(members) => {
                let mut seen = std::collections::HashSet::new();
                members.iter().any(|m| !seen.insert(m.key.text.as_str()) || m.value.has_duplicate_keys())
            }
            _ => false,
        }
    }
}

/// Decodes members into an existing map as Go does for a non-nil map target:
/// keys are added or overwritten, so repeated objects merge.
pub fn merge_members(map: &mut Map<String, Value>, members: &[Member]) -> Result<(), Overflow> {
    let mut overflow = false;
    for m in members {
        // Go keeps decoding after a conversion error and reports it at the end.
        match m.value.to_value() {
            Ok(v) => {
                map.insert(m.key.text.clone(), v);
            }
            Err(Overflow) => overflow = true,
        }
    }
    if overflow {
        Err(Overflow)
    } else {
        Ok(())
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn err(&self) -> ParseError {
        ParseError::Syntax(self.i)
    }

    fn literal(&mut self, word: &[u8], kind: Kind) -> Result<Node, ParseError> {
        let start = self.i;
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(Node { start, end: self.i, kind })
        } else {
            Err(self.err())
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, ParseError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => {
                let start = self.i;
                let s = self.string()?;
                Ok(Node { start, end: self.i, kind: Kind::Str(s) })
            }
            Some(b't') => self.literal(b"true", Kind::Bool(true)),
            Some(b'f') => self.literal(b"false", Kind::Bool(false)),
            Some(b'n') => self.literal(b"null", Kind::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err()),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep(self.i));
        }
        let start = self.i;
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Node { start, end: self.i, kind: Kind::Object(members) });
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err());
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err());
            }
            self.i += 1;
            self.ws();
            let value = self.value(depth)?;
            members.push(Member { key, value });
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Node { start, end: self.i, kind: Kind::Object(members) });
                }
                _ => return Err(self.err()),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep(self.i));
        }
        let start = self.i;
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Node { start, end: self.i, kind: Kind::Array(items) });
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Node { start, end: self.i, kind: Kind::Array(items) });
                }
                _ => return Err(self.err()),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let from = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - from
    }

    fn number(&mut self) -> Result<Node, ParseError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err()),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err());
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err());
            }
        }
        // The slice is ASCII digits and signs by construction.
        let text = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| ParseError::Syntax(start))?;
        let x: f64 = text.parse().map_err(|_| ParseError::Syntax(start))?;
        Ok(Node { start, end: self.i, kind: Kind::Number(x) })
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.b.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    }

    fn string(&mut self) -> Result<JsonStr, ParseError> {
        self.i += 1;
        let mut text = String::new();
        let mut lossy = false;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err());
            };
            match b {
                b'"' => {
                    self.i += 1;
                    return Ok(JsonStr { text, lossy });
                }
                0x00..=0x1f => return Err(self.err()),
                b'\\' => {
                    let esc = self.b.get(self.i + 1).copied();
                    let simple = match esc {
                        Some(b'"') => Some('"'),
                        Some(b'\\') => Some('\\'),
                        Some(b'/') => Some('/'),
                        Some(b'b') => Some('\u{8}'),
                        Some(b'f') => Some('\u{c}'),
                        Some(b'n') => Some('\n'),
                        Some(b'r') => Some('\r'),
                        Some(b't') => Some('\t'),
                        Some(b'u') => None,
                        _ => return Err(ParseError::Syntax(self.i + 1)),
                    };
                    if let Some(c) = simple {
                        text.push(c);
                        self.i += 2;
                        continue;
                    }
                    let hi = self.hex4(self.i + 2).ok_or(ParseError::Syntax(self.i + 2))?;
                    self.i += 6;
                    if (0xd800..0xe000).contains(&hi) {
                        // A valid pair needs a following \u low surrogate; otherwise Go
                        // writes U+FFFD and reads the next escape on its own.
                        let lo = if self.b.get(self.i..self.i + 2) == Some(b"\\u") {
                            self.hex4(self.i + 2)
                        } else {
                            None
                        };
                        match lo {
                            Some(lo) if hi < 0xdc00 && (0xdc00..0xe000).contains(&lo) => {
                                let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                                text.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                                self.i += 6;
                            }
                            _ => {
                                text.push('\u{fffd}');
                                lossy = true;
                            }
                        }
                    } else {
                        text.push(char::from_u32(hi).unwrap_or('\u{fffd}'));
                    }
                }
                _ => {
                    // A run of bytes that need no unescaping is copied whole when it is
                    // valid UTF-8 (large arguments are mostly such runs); what is not
                    // valid is decoded rune by rune below, as Go does.
                    let rest = &self.b[self.i..];
                    let run = rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(rest.len());
                    let valid = match std::str::from_utf8(&rest[..run]) {
                        Ok(s) => s,
                        Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default(),
                    };
                    if !valid.is_empty() {
                        text.push_str(valid);
                        self.i += valid.len();
                        continue;
                    }
                    let (c, n) = decode_rune(rest);
                    match c {
                        Some(c) => text.push(c),
                        None => {
                            text.push('\u{fffd}');
                            lossy = true;
                        }
                    }
                    self.i += n;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(node: &Node) -> Vec<(&str, &Node)> {
        match &node.kind {
            Kind::Object(m) => m.iter().map(|m| (m.key.text.as_str(), &m.value)).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn keeps_duplicate_members_in_order_with_raw_spans() {
        let src = br#" {"id": 1.50 , "a":1,"a":"x"} "#;
        let node = parse(src).unwrap();
        let m = members(&node);
        assert_eq!(m.iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["id", "a", "a"]);
        assert_eq!(m[0].1.raw(src), b"1.50");
        assert_eq!(node.raw(src), &src[1..src.len() - 1]);
        assert!(node.has_duplicate_keys());
        assert_eq!(node.to_value().unwrap(), serde_json::json!({"id": 1.5, "a": "x"}));
    }

    #[test]
    fn decodes_escapes_and_surrogates_like_go() {
        let node = parse(br#""a\u005f\/\n\ud83d\ude00\ud800x\udc00""#).unwrap();
        let Kind::Str(s) = node.kind else { panic!("not a string") };
        assert_eq!(s.text, "a_/\n😀\u{fffd}x\u{fffd}");
        assert!(s.lossy);
    }

    #[test]
    fn invalid_utf8_is_replaced_per_byte_and_flagged() {
        let node = parse(b"{\"k\\u017f\":\"a\xe2\x82b\"}").unwrap();
        let m = members(&node);
        assert_eq!(m[0].0, "k\u{17f}");
        assert_eq!(m[0].1.to_value().unwrap(), Value::String("a\u{fffd}\u{fffd}b".into()));
        assert!(node.has_lossy_text());
    }

    #[test]
    fn numbers_become_doubles_and_overflow_is_reported() {
        assert_eq!(parse(b"9007199254740993").unwrap().kind, Kind::Number(9007199254740992.0));
        assert_eq!(parse(b"1e-400").unwrap().kind, Kind::Number(0.0));
        let big = parse(br#"{"n":1e400}"#).unwrap();
        assert!(big.has_overflow());
        assert_eq!(big.to_value(), Err(Overflow));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            &b""[..],
            b"not json",
            b"{\"a\":1,}",
            b"[1,]",
            b"01",
            b"1.",
            b"-",
            b"1e",
            b"\"tab\there\"",
            b"\"\\x\"",
            b"{\"a\" 1}",
            b"{} {}",
            b"'a'",
            b"tru",
            b"\"\\u12\"",
        ] {
            assert!(matches!(parse(bad), Err(ParseError::Syntax(_))), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(parse(b" \t\r\n[1, -0.5e+3, true, false, null, {}] \n").is_ok());
    }

    #[test]
    fn refuses_excessive_nesting_without_recursing_further() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(parse(deep.as_bytes()), Err(ParseError::TooDeep(_))));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    /// A JSON tree for property tests (depth-bounded by quickcheck's size).
    #[derive(Clone, Debug)]
    struct Tree(Value);

    impl quickcheck::Arbitrary for Tree {
        fn arbitrary(g: &mut quickcheck::Gen) -> Tree {
            fn gen(g: &mut quickcheck::Gen, depth: u32) -> Value {
                let pick = u8::arbitrary(g) % if depth > 3 { 4 } else { 6 };
                match pick {
                    0 => Value::Null,
                    1 => Value::Bool(bool::arbitrary(g)),
                    2 => Number::from_f64(f64::arbitrary(g)).map(Value::Number).unwrap_or(Value::Null),
                    3 => Value::String(String::arbitrary(g)),
                    4 => Value::Array((0..u8::arbitrary(g) % 4).map(|_| gen(g, depth + 1)).collect()),
                    _ => Value::Object((0..u8::arbitrary(g) % 4).map(|_| (String::arbitrary(g), gen(g, depth + 1))).collect()),
                }
            }
            Tree(gen(g, 0))
        }
    }

    #[test]
    fn invalid_bytes_inside_long_runs_become_one_replacement_each_as_in_go() {
        let mut src = b"\"".to_vec();
        src.extend_from_slice(&[b'a'; 300]);
        src.extend_from_slice(b"\xe2\x82\xffz\xc3\xa9\\n\xed\xa0\x80");
        src.extend_from_slice(&[b'b'; 300]);
        src.push(b'"');
        let Kind::Str(s) = parse(&src).unwrap().kind else { panic!("not a string") };
        let want = format!("{}\u{fffd}\u{fffd}\u{fffd}z\u{e9}\n\u{fffd}\u{fffd}\u{fffd}{}", "a".repeat(300), "b".repeat(300));
        assert_eq!((s.text, s.lossy), (want, true));
    }

    #[quickcheck_macros::quickcheck]
    fn agrees_with_serde_json_on_its_own_output(tree: Tree) -> bool {
        let text = serde_json::to_string(&tree.0).unwrap_or_default();
        let parsed = parse(text.as_bytes()).ok().and_then(|n| n.to_value().ok());
        // serde_json writes doubles with round-trip digits, so values must match exactly.
        parsed.as_ref() == Some(&tree.0)
    }

    #[quickcheck_macros::quickcheck]
    fn accepts_exactly_what_serde_json_accepts_on_truncated_text(tree: Tree, cut: usize) -> bool {
        let text = serde_json::to_string_pretty(&tree.0).unwrap_or_default();
        let prefix = &text.as_bytes()[..cut % (text.len() + 1)];
        // serde_json rejects invalid UTF-8 where Go (and this reader) replace it.
        std::str::from_utf8(prefix).is_err()
            || parse(prefix).is_ok() == serde_json::from_slice::<serde::de::IgnoredAny>(prefix).is_ok()
    }


    #[test]
    fn the_id_of_an_object_is_read_from_its_first_bytes() {
        assert_eq!(prefix_envelope(br#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"text":"xxxx"#), (Some(&b"7"[..]), false));
        assert_eq!(prefix_envelope(br#" { "id" : "a\"b" , "method":"x","params":{"#), (Some(&br#""a\"b""#[..]), true));
        assert_eq!(prefix_envelope(br#"{"result":{"big":"xxxx"#), (None, false), "the id comes after what was kept");
        assert_eq!(prefix_envelope(br#"{"id":12"#), (None, false), "a number cut short is not an id");
        assert_eq!(prefix_envelope(b"[1,2"), (None, false));
    }
}
