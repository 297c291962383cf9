//! Plain-scalar resolution exactly as yaml.v3 does it (semantics §1.1).
//!
//! `010` is octal 8, `1_000` is 1000, `yes` stays a string, `1e400` stays a
//! string (it overflows a double), integers beyond i64 become u64 or float,
//! and unquoted dates become timestamps rendered in Go's `time.Time` text form.
//! Quoted scalars never come here: they are strings.

/// A resolved scalar with the yaml.v3 short tag it carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    /// Go's `time.Time.String()` of the parsed timestamp.
    Time(String),
}

impl Scalar {
    /// yaml.v3's short tag (`!!int`, …), as its error messages print it.
    pub fn tag(&self) -> &'static str {
        match self {
            Scalar::Null => "!!null",
            Scalar::Bool(_) => "!!bool",
            Scalar::Int(_) | Scalar::Uint(_) => "!!int",
            Scalar::Float(_) => "!!float",
            Scalar::Str(_) => "!!str",
            Scalar::Time(_) => "!!timestamp",
        }
    }
}

/// Resolves a scalar as yaml.v3 does, given its explicit tag (if any) and
/// whether it was quoted. `Err` is yaml.v3's "cannot decode" failure for an
/// explicit tag the text does not fit.
pub fn resolve(text: &str, quoted: bool, tag: Option<&str>) -> Result<Scalar, String> {
    match tag {
        None | Some("!") if quoted => Ok(Scalar::Str(text.to_string())),
        None | Some("!") => Ok(resolve_plain(text, true)),
        Some("!!str") => Ok(Scalar::Str(text.to_string())),
        Some("!!binary") => binary(text).map(Scalar::Str),
        Some(t @ ("!!int" | "!!float" | "!!bool" | "!!null" | "!!timestamp")) => {
            let r = resolve_plain(text, t == "!!timestamp");
            match (t, &r) {
                (_, r) if r.tag() == t => Ok(r.clone()),
                ("!!float", Scalar::Int(i)) => Ok(Scalar::Float(*i as f64)),
                _ => Err(format!("cannot decode {} `{}` as a {}", r.tag(), text, t)),
            }
        }
        Some(_) => Ok(Scalar::Str(text.to_string())),
    }
}

/// A `!!binary` scalar's bytes, as yaml.v3 decodes them (Go's standard
/// base64: padding required, line breaks skipped, trailing bits ignored).
/// The bytes become a string's bytes in Go; here invalid UTF-8 becomes
/// U+FFFD, as Go turns it into U+FFFD wherever it meets JSON.
fn binary(text: &str) -> Result<String, String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let joined: String = text.chars().filter(|&c| c != '\r' && c != '\n').collect();
    GO_STD
        .decode(joined)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|_| "!!binary value contains invalid base64 data".to_string())
}

fn resolve_plain(text: &str, timestamps: bool) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first == b'.' {
        if let Some(f) = go_parse_float(text) {
            return Scalar::Float(f);
        }
        return Scalar::Str(text.to_string());
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Scalar::Str(text.to_string());
    }
    if timestamps {
        if let Some(t) = parse_timestamp(text) {
            return Scalar::Time(t);
        }
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(i) = go_parse_int(&plain) {
        return Scalar::Int(i);
    }
    if let Some(u) = go_parse_uint(&plain) {
        return Scalar::Uint(u);
    }
    if is_yaml_style_float(&plain) {
        if let Some(f) = go_parse_float(&plain) {
            return Scalar::Float(f);
        }
    }
    Scalar::Str(text.to_string())
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go `strconv.ParseFloat(s, 64)` for decimal text; `None` on syntax or range errors.
fn go_parse_float(s: &str) -> Option<f64> {
    let cleaned: String = if s.contains('_') {
        if !underscores_ok(s) {
            return None;
        }
        s.chars().filter(|&c| c != '_').collect()
    } else {
        s.to_string()
    };
    if !is_yaml_style_float(&cleaned) {
        return None;
    }
    let f: f64 = cleaned.parse().ok()?;
    if f.is_infinite() {
        return None;
    }
    Some(f)
}

/// Go's rule: an underscore must sit between digits (or after a base prefix).
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if !b.is_empty() && (b[0] == b'+' || b[0] == b'-') {
        i = 1;
    }
    let mut saw = b'^';
    let mut hex = false;
    if b.len() >= i + 2 && b[i] == b'0' && matches!(b[i + 1] | 0x20, b'b' | b'o' | b'x') {
        hex = b[i + 1] | 0x20 == b'x';
        i += 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go `strconv.ParseUint(s, 0, 64)` (no sign; 0x/0o/0b/0 prefixes).
fn go_parse_uint(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits) = if b.len() >= 2 && b[0] == b'0' {
        match b[1] | 0x20 {
            b'x' => (16, &s[2..]),
            b'o' => (8, &s[2..]),
            b'b' => (2, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    if digits.is_empty() && base != 8 {
        return None;
    }
    if digits.is_empty() {
        return Some(0);
    }
    let mut v: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(base)?;
        v = v.checked_mul(base as u64)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// Go `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mag = go_parse_uint(rest)?;
    if neg {
        if mag <= 1u64 << 63 {
            Some((mag as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(mag).ok()
    }
}

/// yaml.v3's timestamp forms (`2006-1-2T15:4:5.999999999Z07:00`, with `t`,
/// space-separated without zone, date only), rendered like Go's `Time.String()`.
fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut p = Cursor { b, i: 5 };
    let year: u32 = s[..4].parse().ok()?;
    let month = p.num12()?;
    p.lit(b'-')?;
    let day = p.num12()?;
    if !(1..=12).contains(&month) || day < 1 || day > crate::clock::days_in_month(year, month) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if p.done() {
        return Some(format!("{date} 00:00:00 +0000 UTC"));
    }
    let sep = p.next()?;
    let zoned = match sep {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    let hour = p.num12()?;
    p.lit(b':')?;
    let minute = p.num12()?;
    p.lit(b':')?;
    let second = p.num12()?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut frac = String::new();
    if matches!(p.peek(), Some(b'.') | Some(b',')) && p.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
        p.i += 1;
        while let Some(c) = p.peek().filter(u8::is_ascii_digit) {
            if frac.len() < 9 {
                frac.push(c as char);
            }
            p.i += 1;
        }
        while frac.len() < 9 {
            frac.push('0');
        }
        let trimmed = frac.trim_end_matches('0').to_string();
        frac = if trimmed.is_empty() { String::new() } else { format!(".{trimmed}") };
    }
    let zone = if !zoned {
        "+0000 UTC".to_string()
    } else {
        match p.next()? {
            b'Z' => "+0000 UTC".to_string(),
            sign @ (b'+' | b'-') => {
                let hh = p.two()?;
                p.lit(b':')?;
                let mm = p.two()?;
                if hh > 24 || mm > 60 {
                    return None;
                }
                if hh == 0 && mm == 0 {
                    "+0000 UTC".to_string()
                } else {
                    let z = format!("{}{hh:02}{mm:02}", sign as char);
                    format!("{z} {z}")
                }
            }
            _ => return None,
        }
    };
    if !p.done() {
        return None;
    }
    Some(format!("{date} {hour:02}:{minute:02}:{second:02}{frac} {zone}"))
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn lit(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    /// One or two digits, as Go's non-fixed `getnum`.
    fn num12(&mut self) -> Option<u32> {
        let d1 = self.next().filter(u8::is_ascii_digit)?;
        match self.peek().filter(u8::is_ascii_digit) {
            Some(d2) => {
                self.i += 1;
                Some(((d1 - b'0') * 10 + (d2 - b'0')) as u32)
            }
            None => Some((d1 - b'0') as u32),
        }
    }
    fn two(&mut self) -> Option<u32> {
        let d1 = self.next().filter(u8::is_ascii_digit)?;
        let d2 = self.next().filter(u8::is_ascii_digit)?;
        Some(((d1 - b'0') * 10 + (d2 - b'0')) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("5", Scalar::Int(5))]
    #[case("+5", Scalar::Int(5))]
    #[case("-0", Scalar::Int(0))]
    #[case("010", Scalar::Int(8))]
    #[case("0o10", Scalar::Int(8))]
    #[case("0x10", Scalar::Int(16))]
    #[case("0b101", Scalar::Int(5))]
    #[case("-0x10", Scalar::Int(-16))]
    #[case("1_000", Scalar::Int(1000))]
    #[case("09", Scalar::Float(9.0))]
    #[case("5.0", Scalar::Float(5.0))]
    #[case("1e3", Scalar::Float(1000.0))]
    #[case("1.5e3", Scalar::Float(1500.0))]
    #[case(".5", Scalar::Float(0.5))]
    #[case("-.5", Scalar::Float(-0.5))]
    #[case(".inf", Scalar::Float(f64::INFINITY))]
    #[case("-.Inf", Scalar::Float(f64::NEG_INFINITY))]
    #[case("18446744073709551615", Scalar::Uint(u64::MAX))]
    #[case("9223372036854775808", Scalar::Uint(9_223_372_036_854_775_808))]
    #[case("-9223372036854775808", Scalar::Int(i64::MIN))]
    #[case("99999999999999999999", Scalar::Float(1e20))]
    #[case("1e400", Scalar::Str("1e400".into()))]
    #[case("yes", Scalar::Str("yes".into()))]
    #[case("no", Scalar::Str("no".into()))]
    #[case("on", Scalar::Str("on".into()))]
    #[case("off", Scalar::Str("off".into()))]
    #[case("true", Scalar::Bool(true))]
    #[case("True", Scalar::Bool(true))]
    #[case("TRUE", Scalar::Bool(true))]
    #[case("tRUE", Scalar::Str("tRUE".into()))]
    #[case("FALSE", Scalar::Bool(false))]
    #[case("~", Scalar::Null)]
    #[case("null", Scalar::Null)]
    #[case("", Scalar::Null)]
    #[case("0x", Scalar::Str("0x".into()))]
    #[case("1:20", Scalar::Str("1:20".into()))]
    #[case("2026-03-02", Scalar::Time("2026-03-02 00:00:00 +0000 UTC".into()))]
    #[case("2026-3-2T10:4:5Z", Scalar::Time("2026-03-02 10:04:05 +0000 UTC".into()))]
    #[case("2026-03-02T10:00:00.250+01:00", Scalar::Time("2026-03-02 10:00:00.25 +0100 +0100".into()))]
    #[case("2026-03-02 10:00:00", Scalar::Time("2026-03-02 10:00:00 +0000 UTC".into()))]
    #[case("2026-02-30", Scalar::Str("2026-02-30".into()))]
    #[case("2026-03-02x", Scalar::Str("2026-03-02x".into()))]
    fn resolves_plain_scalars_like_yaml_v3(#[case] text: &str, #[case] expected: Scalar) {
        assert_eq!(resolve(text, false, None).unwrap(), expected);
    }

    #[test]
    fn nan_and_quoted_and_tags() {
        assert!(matches!(resolve(".nan", false, None), Ok(Scalar::Float(f)) if f.is_nan()));
        assert_eq!(resolve("5", true, None).unwrap(), Scalar::Str("5".into()));
        assert_eq!(resolve("5", false, Some("!!str")).unwrap(), Scalar::Str("5".into()));
        assert_eq!(resolve("5", false, Some("!!float")).unwrap(), Scalar::Float(5.0));
        assert_eq!(
            resolve("abc", false, Some("!!int")).unwrap_err(),
            "cannot decode !!str `abc` as a !!int"
        );
        assert_eq!(resolve("MQ==", false, Some("!!binary")).unwrap(), Scalar::Str("1".into()));
        assert_eq!(resolve("M\nQ==\n", true, Some("!!binary")).unwrap(), Scalar::Str("1".into()));
        for bad in ["MQ", "M Q==", "_w=="] {
            assert_eq!(resolve(bad, false, Some("!!binary")).unwrap_err(), "!!binary value contains invalid base64 data");
        }
    }
}
