//! Go RE2 patterns (what Intercept's `regex` operator compiles) translated
//! for the `regex` crate, with Go's error messages for the mistakes people
//! make (`error parsing regexp: missing closing ]: `[a``).
//!
//! Translation keeps Go's meaning where the crates differ: `\d \s \w \b`
//! are ASCII in Go, `\Q…\E` quotes, `\<` is a plain `<`, `{,3}` and a `{`
//! that starts no repeat are literals, octal escapes exist, repeats stop
//! at 1000. It does not try to support what RE2 rejects (look-around,
//! back-references): those are errors, as in Go.

use std::collections::HashMap;
use std::sync::Arc;

const MAX_REPEAT: u32 = 1000;

/// Patterns compiled once per policy: one repeated on many tools (`^.{1,200}$`
/// costs ~2 ms and 300 KB to compile) shares one program, for validating and
/// for the model alike. Shared whole (an `Arc`), not cloned: a clone of a
/// `regex::Regex` carries its own pool of match caches, about 1.5 KB before
/// its first match and a cache per pool after, for every condition using it.
#[derive(Debug, Default)]
pub struct Cache(HashMap<String, Result<Arc<regex::Regex>, String>>);

impl Cache {
    /// [`compile`], once per distinct pattern.
    pub fn compile(&mut self, pattern: &str) -> Result<Arc<regex::Regex>, String> {
        self.0.entry(pattern.to_string()).or_insert_with(|| compile(pattern).map(Arc::new)).clone()
    }
}

/// Compiles a Go pattern; `Err` is Go's `regexp.Compile` error text.
pub fn compile(pattern: &str) -> Result<regex::Regex, String> {
    let translated = translate(pattern).map_err(|(code, frag)| format!("error parsing regexp: {code}: `{frag}`"))?;
    regex::Regex::new(&translated)
        .map_err(|_| format!("error parsing regexp: expression too large: `{pattern}`"))
}

/// The character-count interval `min..=max` (`None`: unbounded) of a
/// translated pattern that says nothing but a length: `^`, pieces of
/// any-character repeats (or single any-characters), `$` (or no `$`: a match
/// may end anywhere, so only the least length counts) — read from the
/// parsed pattern, so `[\s\S]`, `(?s).` and `.{0,9}` written any way count
/// alike. A length cap past RE2's repeat limit is a run of `.{0,1000}`
/// pieces, whose automaton has a state per character: the engine and the
/// admission model count characters for it instead.
pub fn length_only(pattern: &str) -> Option<(u64, Option<u64>)> {
    use regex_syntax::hir::{Class, HirKind, Look};
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let HirKind::Concat(items) = hir.kind() else { return None };
    let (first, rest) = items.split_first()?;
    let (last, before_last) = rest.split_last()?;
    let is_look = |h: &regex_syntax::hir::Hir, l: Look| matches!(h.kind(), HirKind::Look(x) if *x == l);
    // Without `$` a match may end anywhere: the text need only be as long as the pieces' least.
    let anchored_end = is_look(last, Look::End);
    let middle = if anchored_end { before_last } else { rest };
    if !is_look(first, Look::Start) || middle.is_empty() {
        return None;
    }
    // Every Unicode scalar value: the class `.` has under `(?s)` (a range
    // may span the surrogates, which are no characters: they do not count).
    const SURROGATES: (u64, u64) = (0xD800, 0xDFFF);
    let any = |h: &regex_syntax::hir::Hir| match h.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            let scalars = |lo: u64, hi: u64| {
                let overlap = hi.min(SURROGATES.1).saturating_add(1).saturating_sub(lo.max(SURROGATES.0));
                hi - lo + 1 - overlap
            };
            let total: u64 = c.ranges().iter().map(|r| scalars(r.start() as u64, r.end() as u64)).sum();
            total == 0x110000 - 0x800
        }
        _ => false,
    };
    let (mut min, mut max) = (0u64, Some(0u64));
    for h in middle {
        let (lo, hi) = match h.kind() {
            HirKind::Repetition(r) if any(&r.sub) => (r.min as u64, r.max.map(|m| m as u64)),
            _ if any(h) => (1, Some(1)),
            _ => return None,
        };
        min += lo;
        max = max.zip(hi).map(|(a, b)| a + b);
    }
    Some((min, if anchored_end { max } else { None }))
}

type GoError = (&'static str, String);

fn perl_class(c: char, in_class: bool) -> Option<&'static str> {
    Some(match (c, in_class) {
        ('d', false) => "[0-9]",
        ('D', false) => "[^0-9]",
        ('s', false) => r"[\t\n\x0C\r ]",
        ('S', false) => r"[^\t\n\x0C\r ]",
        ('w', false) => "[0-9A-Za-z_]",
        ('W', false) => "[^0-9A-Za-z_]",
        ('d', true) => "0-9",
        ('s', true) => r"\t\n\x0C\r ",
        ('w', true) => "0-9A-Za-z_",
        ('D', true) => "[^0-9]",
        ('S', true) => r"[^\t\n\x0C\r ]",
        ('W', true) => "[^0-9A-Za-z_]",
        _ => return None,
    })
}

fn literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii() || c == ' ' {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:x}}}", c as u32));
    }
}

/// Reads an escape after `\` (at `chars[i]`); returns the translation and the next index.
fn escape(chars: &[char], i: usize, in_class: bool) -> Result<(String, usize), GoError> {
    let Some(&c) = chars.get(i) else { return Err(("trailing backslash at end of expression", String::new())) };
    let frag = |n: usize| -> String { std::iter::once('\\').chain(chars[i..(i + n).min(chars.len())].iter().copied()).collect() };
    if let Some(cls) = perl_class(c, in_class) {
        return Ok((cls.to_string(), i + 1));
    }
    match c {
        'a' => Ok((r"\x07".into(), i + 1)),
        'f' => Ok((r"\x0C".into(), i + 1)),
        't' => Ok((r"\t".into(), i + 1)),
        'n' => Ok((r"\n".into(), i + 1)),
        'r' => Ok((r"\r".into(), i + 1)),
        'v' => Ok((r"\x0B".into(), i + 1)),
        'A' | 'z' if !in_class => Ok((format!("\\{c}"), i + 1)),
        'b' | 'B' if !in_class => Ok((format!("(?-u:\\{c})"), i + 1)),
        '1'..='7' if !chars.get(i + 1).is_some_and(|d| ('0'..='7').contains(d)) => {
            Err(("invalid escape sequence", frag(1)))
        }
        '0'..='7' => {
            let mut j = i;
            let mut v = 0u32;
            while j < chars.len() && j < i + 3 && ('0'..='7').contains(&chars[j]) {
                v = v * 8 + chars[j].to_digit(8).unwrap_or(0);
                j += 1;
            }
            Ok((format!("\\x{{{v:x}}}"), j))
        }
        'x' => {
            if chars.get(i + 1) == Some(&'{') {
                let end = chars[i + 2..].iter().position(|&c| c == '}').map(|p| p + i + 2);
                let Some(end) = end else { return Err(("invalid escape sequence", frag(chars.len() - i))) };
                let hex: String = chars[i + 2..end].iter().collect();
                match u32::from_str_radix(&hex, 16).ok().filter(|v| *v <= 0x10FFFF && !hex.is_empty()) {
                    Some(v) => Ok((format!("\\x{{{v:x}}}"), end + 1)),
                    None => Err(("invalid escape sequence", frag(end + 1 - i))),
                }
            } else {
                let h: String = chars.get(i + 1..i + 3).map(|s| s.iter().collect()).unwrap_or_default();
                match u32::from_str_radix(&h, 16).ok().filter(|_| h.len() == 2 && h.chars().all(|c| c.is_ascii_hexdigit())) {
                    Some(v) => Ok((format!("\\x{{{v:x}}}"), i + 3)),
                    None => Err(("invalid escape sequence", frag(3))),
                }
            }
        }
        'p' | 'P' => {
            let (name, next) = if chars.get(i + 1) == Some(&'{') {
                match chars[i + 2..].iter().position(|&c| c == '}') {
                    Some(p) => (chars[i + 2..i + 2 + p].iter().collect::<String>(), i + 3 + p),
                    None => return Err(("invalid character class range", frag(chars.len() - i))),
                }
            } else {
                match chars.get(i + 1) {
                    Some(c) => (c.to_string(), i + 2),
                    None => return Err(("invalid character class range", frag(1))),
                }
            };
            let inner = name.strip_prefix('^').unwrap_or(&name);
            let test = format!("\\p{{{inner}}}");
            if inner == "Any" || regex::Regex::new(&test).is_ok() {
                let negate = (c == 'P') != name.starts_with('^');
                let body = if inner == "Any" { r"\x{0}-\x{10FFFF}".to_string() } else { format!("\\p{{{inner}}}") };
                let out = match (negate, inner == "Any", in_class) {
                    (false, true, false) => format!("[{body}]"),
                    (true, true, _) => "[^\\x{0}-\\x{10FFFF}]".to_string(),
                    (false, _, _) => body,
                    (true, _, _) => format!("\\P{{{inner}}}"),
                };
                Ok((out, next))
            } else {
                Err(("invalid character class range", frag(next - i)))
            }
        }
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => {
            let mut s = String::new();
            literal(&mut s, c);
            Ok((s, i + 1))
        }
        _ => Err(("invalid escape sequence", frag(1))),
    }
}

/// `{n}`, `{n,}`, `{n,m}` at `chars[i]`: `Some((min, max, end))`, else it is a literal `{`.
fn repeat_at(chars: &[char], i: usize) -> Option<(u32, Option<u32>, usize)> {
    let mut j = i + 1;
    let num = |j: &mut usize| -> Option<u32> {
        let start = *j;
        while *j < chars.len() && chars[*j].is_ascii_digit() {
            *j += 1;
        }
        if *j == start {
            return None;
        }
        Some(chars[start..*j].iter().collect::<String>().parse().unwrap_or(u32::MAX))
    };
    let min = num(&mut j)?;
    let max = if chars.get(j) == Some(&',') {
        j += 1;
        if chars.get(j) == Some(&'}') { None } else { Some(num(&mut j)?) }
    } else {
        Some(min)
    };
    (chars.get(j) == Some(&'}')).then_some((min, max, j + 1))
}

fn translate(pattern: &str) -> Result<String, GoError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut depth = 0usize;
    // Whether the last thing written can take a repetition operator, and
    // where the last repetition operator began (Go rejects `a**`).
    let mut can_repeat = false;
    let mut last_repeat: Option<usize> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let is_repeat = matches!(c, '*' | '+' | '?') || (c == '{' && repeat_at(&chars, i).is_some());
        if is_repeat {
            let (end, text) = if c == '{' {
                let (min, max, end) = repeat_at(&chars, i).unwrap_or((0, None, i + 1));
                let frag: String = chars[i..end].iter().collect();
                if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
                    return Err(("invalid repeat count", frag));
                }
                (end, frag)
            } else {
                (i + 1, c.to_string())
            };
            let end = if chars.get(end) == Some(&'?') { end + 1 } else { end };
            if let Some(start) = last_repeat {
                return Err(("invalid nested repetition operator", chars[start..end].iter().collect()));
            }
            if !can_repeat {
                return Err(("missing argument to repetition operator", chars[i..end].iter().collect()));
            }
            out.push_str(&text);
            if end > i + text.chars().count() {
                out.push('?');
            }
            last_repeat = Some(i);
            i = end;
            continue;
        }
        last_repeat = None;
        match c {
            '(' => {
                if chars.get(i + 1) == Some(&'?') {
                    let rest: String = chars[i..].iter().collect();
                    // Go reads a named capture only when the pattern goes on
                    // past `(?<` / `(?P<`; a bare one falls to the flags below.
                    let left = chars.len() - i;
                    let named = (left > 3 && chars[i + 2] == '<') || (left > 4 && chars[i + 2] == 'P' && chars[i + 3] == '<');
                    if named {
                        let begin = if chars[i + 2] == 'P' { i + 4 } else { i + 3 };
                        let Some(close) = chars[begin..].iter().position(|&c| c == '>').map(|p| p + begin) else {
                            return Err(("invalid named capture", rest));
                        };
                        let name: String = chars[begin..close].iter().collect();
                        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                            return Err(("invalid named capture", chars[i..=close].iter().collect()));
                        }
                        out.push_str(&format!("(?P<{name}>"));
                        depth += 1;
                        can_repeat = false;
                        i = close + 1;
                        continue;
                    }
                    let mut j = i + 2;
                    let mut negated = false;
                    let mut saw_flag = false;
                    loop {
                        // Go quotes the unfinished group from `(?` to the end.
                        let Some(&f) = chars.get(j) else {
                            return Err(("invalid or unsupported Perl syntax", rest));
                        };
                        match f {
                            'i' | 'm' | 's' | 'U' => saw_flag = true,
                            '-' if !negated => {
                                negated = true;
                                saw_flag = false;
                            }
                            ':' | ')' if !negated || saw_flag => break,
                            _ => return Err(("invalid or unsupported Perl syntax", chars[i..=j].iter().collect())),
                        }
                        j += 1;
                    }
                    let flags: String = chars[i + 2..j].iter().collect();
                    if chars[j] == ':' {
                        out.push_str(&format!("(?{flags}:"));
                        depth += 1;
                        can_repeat = false;
                    } else {
                        if !flags.is_empty() && flags != "-" {
                            out.push_str(&format!("(?{flags})"));
                        }
                    }
                    i = j + 1;
                    continue;
                }
                out.push('(');
                depth += 1;
                can_repeat = false;
            }
            ')' => {
                if depth == 0 {
                    return Err(("unexpected )", pattern.to_string()));
                }
                depth -= 1;
                out.push(')');
                can_repeat = true;
            }
            '|' => {
                out.push('|');
                can_repeat = false;
            }
            '^' | '$' | '.' => {
                out.push(c);
                can_repeat = true;
            }
            '\\' if chars.get(i + 1) == Some(&'Q') => {
                let body_start = i + 2;
                let end = (body_start..chars.len().saturating_sub(1)).find(|&k| chars[k] == '\\' && chars[k + 1] == 'E');
                let body_end = end.unwrap_or(chars.len());
                for &q in &chars[body_start..body_end] {
                    literal(&mut out, q);
                }
                can_repeat = body_end > body_start || can_repeat;
                i = end.map_or(chars.len(), |e| e + 2);
                continue;
            }
            '\\' => {
                let (s, next) = escape(&chars, i + 1, false)?;
                out.push_str(&s);
                can_repeat = true;
                i = next;
                continue;
            }
            '[' => {
                i = class(&chars, i, &mut out)?;
                can_repeat = true;
                continue;
            }
            c => {
                literal(&mut out, c);
                can_repeat = true;
            }
        }
        i += 1;
    }
    if depth > 0 {
        return Err(("missing closing )", pattern.to_string()));
    }
    Ok(out)
}

/// A bracket class starting at `chars[start] == '['`; returns the index after `]`.
fn class(chars: &[char], start: usize, out: &mut String) -> Result<usize, GoError> {
    let missing = || ("missing closing ]", chars[start..].iter().collect::<String>());
    let mut i = start + 1;
    let mut body = String::from("[");
    if chars.get(i) == Some(&'^') {
        body.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else { return Err(missing()) };
        if c == ']' && !first {
            break;
        }
        first = false;
        if c == '[' && chars.get(i + 1) == Some(&':') {
            if let Some(p) = chars[i + 2..].windows(2).position(|w| w == [':', ']']) {
                let name: String = chars[i + 2..i + 2 + p].iter().collect();
                let known = ["alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "word", "xdigit"];
                let bare = name.strip_prefix('^').unwrap_or(&name);
                if !known.contains(&bare) {
                    return Err(("invalid character class range", chars[i..i + 4 + p].iter().collect()));
                }
                body.push_str(&format!("[:{name}:]"));
                i += 4 + p;
                continue;
            }
        }
        let lo_start = i;
        let (lo, lo_text, next) = class_char(chars, i)?;
        i = next;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']') {
            let (hi, hi_text, next) = class_char(chars, i + 1)?;
            match (lo, hi) {
                (Some(l), Some(h)) if l > h => {
                    return Err(("invalid character class range", chars[lo_start..next].iter().collect()))
                }
                (Some(_), Some(_)) => body.push_str(&format!("{lo_text}-{hi_text}")),
                _ => return Err(("invalid character class range", chars[start..next].iter().collect())),
            }
            i = next;
        } else {
            body.push_str(&lo_text);
        }
    }
    body.push(']');
    out.push_str(&body);
    Ok(i + 1)
}

/// One class member: a single char (with its value, for ranges) or a Perl/Unicode class.
fn class_char(chars: &[char], i: usize) -> Result<(Option<char>, String, usize), GoError> {
    let c = chars[i];
    if c == '\\' {
        let (text, next) = escape(chars, i + 1, true)?;
        let value = match chars.get(i + 1) {
            Some(e) if e.is_ascii() && !e.is_ascii_alphanumeric() => Some(*e),
            Some('a') => Some('\u{7}'),
            Some('f') => Some('\u{c}'),
            Some('t') => Some('\t'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('v') => Some('\u{b}'),
            Some('x') | Some('0'..='7') => {
                let hex = text.trim_start_matches("\\x{").trim_end_matches('}');
                u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
            }
            _ => None,
        };
        return Ok((value, text, next));
    }
    let mut s = String::new();
    literal(&mut s, c);
    Ok((Some(c), s, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("[invalid(", "error parsing regexp: missing closing ]: `[invalid(`")]
    #[case("(?=x)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`")]
    #[case("(?i", "error parsing regexp: invalid or unsupported Perl syntax: `(?i`")]
    #[case("ab(?i", "error parsing regexp: invalid or unsupported Perl syntax: `(?i`")]
    #[case("(?", "error parsing regexp: invalid or unsupported Perl syntax: `(?`")]
    #[case("(?i-", "error parsing regexp: invalid or unsupported Perl syntax: `(?i-`")]
    #[case("x(?im", "error parsing regexp: invalid or unsupported Perl syntax: `(?im`")]
    #[case("(?<", "error parsing regexp: invalid or unsupported Perl syntax: `(?<`")]
    #[case("(?P<", "error parsing regexp: invalid or unsupported Perl syntax: `(?P`")]
    #[case("(?<a", "error parsing regexp: invalid named capture: `(?<a`")]
    #[case("(?P<a", "error parsing regexp: invalid named capture: `(?P<a`")]
    #[case("(?!x)", "error parsing regexp: invalid or unsupported Perl syntax: `(?!`")]
    #[case("(abc", "error parsing regexp: missing closing ): `(abc`")]
    #[case("abc)", "error parsing regexp: unexpected ): `abc)`")]
    #[case("a**", "error parsing regexp: invalid nested repetition operator: `**`")]
    #[case("*a", "error parsing regexp: missing argument to repetition operator: `*`")]
    #[case("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`")]
    #[case(r"\8", r"error parsing regexp: invalid escape sequence: `\8`")]
    #[case(r"\y", r"error parsing regexp: invalid escape sequence: `\y`")]
    #[case("a\\", "error parsing regexp: trailing backslash at end of expression: ``")]
    #[case("[z-a]", "error parsing regexp: invalid character class range: `z-a`")]
    #[case(r"\p{Foo}", r"error parsing regexp: invalid character class range: `\p{Foo}`")]
    fn go_error_messages(#[case] pattern: &str, #[case] expected: &str) {
        assert_eq!(compile(pattern).unwrap_err(), expected);
    }

    #[rstest]
    #[case(r"^\d+$", "123", true)]
    #[case(r"^\d+$", "١٢٣", false)]
    #[case(r"^\w+$", "héllo", false)]
    #[case(r"\bfoo\b", "a foo b", true)]
    #[case(r"\Qa.b\E", "a.b", true)]
    #[case(r"\Qa.b\E", "axb", false)]
    #[case(r"a{,3}", "a{,3}", true)]
    #[case(r"a{x", "a{x", true)]
    #[case(r"\<b\>", "<b>", true)]
    #[case(r"\101", "A", true)]
    #[case(r"(?i)ADMIN", "admin", true)]
    #[case(r"feat/", "x-feat/", true)]
    #[case(r"^a$", "a\n", false)]
    #[case(r"[\d-]+", "1-2", true)]
    #[case(r"(?P<n>x)(?<m>y)", "xy", true)]
    #[case(r"\s", "\u{b}", false)]
    #[case(r"a+?b*?", "ab", true)]
    fn go_semantics(#[case] pattern: &str, #[case] haystack: &str, #[case] matches: bool) {
        let re = compile(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        assert_eq!(re.is_match(haystack), matches, "{pattern} on {haystack:?} via {}", re.as_str());
    }
}

/// The engine counts characters for a length-only pattern instead of
/// running it: the count must decide every string as the regex does.
#[cfg(test)]
mod length_only_tests {
    use super::*;

    #[test]
    fn a_length_only_pattern_counts_as_its_regex_matches() {
        let pieces = format!("(?s)^{}$", ".{0,1000}".repeat(3));
        let open_end = format!("(?s)^{}", ".{0,1000}".repeat(2));
        let bounded = ["(?s)^.{0,5}$", r"^[\s\S]{2,4}$", r"^[\S\s]{1,3}[\s\S]{0,2}$", "^(?s:.)(?s:.)$", "(?s)^.{3,}$", &pieces, "(?s)^.{0,5}", "(?s)^.{2,4}", &open_end];
        let texts: Vec<String> = ["", "a", "ab", "é\n", "日本語", "abc\n", "ab\r\ncd", "🦀🦀🦀🦀", "x\u{2028}yz", "aaaaaa"]
            .iter()
            .map(|s| s.to_string())
            .chain([2999, 3000, 3001].iter().map(|&n| "ü".repeat(n)))
            .collect();
        for pattern in bounded {
            let re = compile(pattern).unwrap();
            let (min, max) = length_only(re.as_str()).unwrap_or_else(|| panic!("{pattern} only bounds a length"));
            for t in &texts {
                let n = t.chars().count() as u64;
                let counted = n >= min && max.is_none_or(|m| n <= m);
                assert_eq!(counted, re.is_match(t), "{pattern} on {} characters", n);
            }
        }
        // Anything else is run as a regex: `.` without `(?s)` refuses a newline, the anchors matter.
        for pattern in ["^.{0,5}$", "(?s).{0,5}$", "(?s)^a.{0,5}$", "(?s)^(.{0,5})$", r"^[\s\w]{0,3}$", "(?m)(?s)^.{0,5}$"] {
            let re = compile(pattern).unwrap();
            assert_eq!(length_only(re.as_str()), None, "{pattern}");
        }
    }
}
