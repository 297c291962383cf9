//! yaml.v3's decoding rules, as helpers a front end calls while it walks the
//! tree into its own typed structs.
//!
//! It reproduces what Intercept's users observe: type mismatches are
//! collected (``line N: cannot unmarshal !!str `a` into []string``) and
//! decoding goes on; duplicate mapping keys are reported before a mapping is
//! decoded (and that mapping is then skipped); null leaves a field at its
//! zero value; any scalar fills a string field with its source text; floats
//! truncate into ints. It does not know any schema: callers pass the Go type
//! name yaml.v3 would print.

use std::collections::{HashMap, HashSet};

use crate::yaml::resolve::{resolve, Scalar};
use crate::yaml::{Kind, Node, Style};
use crate::policy::model::Value;

/// What stops decoding at once (yaml.v3 panics internally and reports only
/// this, with no line); `line` and `column` are the node it is about, for
/// gauntlet's own diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fatal {
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// Collects yaml.v3's type errors in document order.
#[derive(Debug, Default)]
pub struct Decoder {
    pub errors: Vec<String>,
    /// Where the first of `errors` is (line, column).
    pub first_error_at: Option<(u32, u32)>,
    pub fatal: Option<Fatal>,
}

fn shorten(text: &str) -> String {
    if text.len() > 10 {
        let mut cut = 7;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!(" `{}...`", &text[..cut])
    } else {
        format!(" `{text}`")
    }
}

impl Decoder {
    /// Resolves a scalar node (explicit tags included).
    pub fn scalar(&mut self, n: &Node) -> Option<Scalar> {
        let Kind::Scalar { text, style } = &n.kind else { return None };
        match resolve(text, *style == Style::Quoted, n.tag.as_deref()) {
            Ok(s) => Some(s),
            Err(msg) => {
                self.fail(n, msg);
                None
            }
        }
    }

    fn fail(&mut self, at: &Node, message: String) {
        if self.fatal.is_none() {
            self.fatal = Some(Fatal { message, line: at.line, column: at.column });
        }
    }

    fn error(&mut self, at: &Node, message: String) {
        self.first_error_at.get_or_insert((at.line, at.column));
        self.errors.push(message);
    }

    /// yaml.v3's `terror`: `line N: cannot unmarshal !!tag `text` into T`.
    pub fn type_error(&mut self, n: &Node, go_type: &str) {
        let (tag, value) = match &n.kind {
            Kind::Seq(_) => (n.tag.clone().unwrap_or_else(|| "!!seq".into()), String::new()),
            Kind::Map(_) => (n.tag.clone().unwrap_or_else(|| "!!map".into()), String::new()),
            Kind::Scalar { text, .. } => {
                let tag = match (&n.tag, self.scalar(n)) {
                    (Some(t), _) => t.clone(),
                    (None, Some(s)) => s.tag().to_string(),
                    (None, None) => "!!str".into(),
                };
                (tag, shorten(text))
            }
        };
        let value = if tag == "!!seq" || tag == "!!map" { String::new() } else { value };
        self.error(n, format!("line {}: cannot unmarshal {tag}{value} into {go_type}", n.line));
    }

    fn is_null(&mut self, n: &Node) -> bool {
        n.is_scalar() && matches!(self.scalar(n), Some(Scalar::Null))
    }

    /// A `string` field: any scalar's source text (a `!!binary` one's
    /// decoded bytes); null → `None` silently.
    pub fn string(&mut self, n: &Node) -> Option<String> {
        match &n.kind {
            Kind::Scalar { text, .. } => match self.scalar(n) {
                Some(Scalar::Null) | None => None,
                Some(Scalar::Str(decoded)) if n.tag.as_deref() == Some("!!binary") => Some(decoded),
                Some(_) => Some(text.clone()),
            },
            _ => {
                self.type_error(n, "string");
                None
            }
        }
    }

    /// An `int` field: ints, floats truncated (NaN and huge values refused).
    pub fn int(&mut self, n: &Node) -> Option<i64> {
        if !n.is_scalar() {
            self.type_error(n, "int");
            return None;
        }
        match self.scalar(n)? {
            Scalar::Null => None,
            Scalar::Int(i) => Some(i),
            Scalar::Uint(u) if u <= i64::MAX as u64 => Some(u as i64),
            // Go's int64(f) on x86-64: out-of-range values become i64::MIN.
            Scalar::Float(f) if f <= i64::MAX as f64 => {
                const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
                Some(if (-TWO_POW_63..TWO_POW_63).contains(&f) { f as i64 } else { i64::MIN })
            }
            _ => {
                self.type_error(n, "int");
                None
            }
        }
    }

    /// A slice field: its elements, or `None` (null, or a type error).
    pub fn seq<'n>(&mut self, n: &'n Node, go_type: &str) -> Option<&'n [Node]> {
        match &n.kind {
            Kind::Seq(items) => Some(items),
            Kind::Scalar { .. } if self.is_null(n) => None,
            _ => {
                self.type_error(n, go_type);
                None
            }
        }
    }

    /// A mapping (struct or map) field: its entries after the duplicate-key
    /// check and with merge keys applied, or `None` (null, type error, or
    /// duplicates reported).
    ///
    /// Merge keys (`<<: *a`, `<<: [*a, *b]`) follow yaml.v3's decoder: the
    /// explicit keys come first and win, then each merged mapping in list
    /// order adds the keys not yet set (so the first merge wins over later
    /// ones), its own nested merge included. Only the last `<<` of a mapping
    /// counts; a merge value that is not a mapping or a list of mappings is
    /// fatal. A merged mapping with duplicate keys is reported and skipped.
    pub fn mapping<'n>(&mut self, n: &'n Node, go_type: &str) -> Option<Vec<(&'n Node, &'n Node)>> {
        match &n.kind {
            Kind::Map(entries) => {
                if !self.unique_keys(entries) {
                    return None;
                }
                let mut out = Vec::with_capacity(entries.len());
                let mut merge = None;
                for (k, v) in entries {
                    if is_merge(k) {
                        merge = Some(v);
                    } else {
                        out.push((k, v));
                    }
                }
                if let Some(m) = merge {
                    let mut set: HashSet<&str> = out.iter().filter_map(|(k, _)| key_text(k)).collect();
                    self.merge(m, &mut set, &mut out);
                }
                Some(out)
            }
            Kind::Scalar { .. } if self.is_null(n) => None,
            _ => {
                self.type_error(n, go_type);
                None
            }
        }
    }

    /// yaml.v3's duplicate-key check on one mapping's own entries: each
    /// later key equal to an earlier one, in the order of a pairwise scan
    /// (by the earlier key, then the later), found through one index of the
    /// keys so a mapping of 64,000 tools costs 64,000 lookups, not 2 billion
    /// comparisons.
    fn unique_keys(&mut self, entries: &[(Node, Node)]) -> bool {
        let mut seen: HashMap<&str, Vec<usize>> = HashMap::with_capacity(entries.len());
        let mut repeated = false;
        for (i, (k, _)) in entries.iter().enumerate() {
            if let Kind::Scalar { text, .. } = &k.kind {
                let at = seen.entry(text.as_str()).or_default();
                repeated |= !at.is_empty();
                at.push(i);
            }
        }
        if !repeated {
            return true;
        }
        let mut pairs: Vec<(usize, usize)> = seen
            .values()
            .filter(|at| at.len() > 1)
            .flat_map(|at| at.iter().enumerate().flat_map(move |(n, &i)| at[n + 1..].iter().map(move |&j| (i, j))))
            .collect();
        pairs.sort_unstable();
        for (i, j) in pairs {
            let (ki, kj) = (&entries[i].0, &entries[j].0);
            let Kind::Scalar { text, .. } = &kj.kind else { continue };
            self.error(kj, format!(
                "line {}: mapping key {} already defined at line {}",
                kj.line,
                crate::gofmt::quote::quote(text),
                ki.line
            ));
        }
        false
    }

    /// Adds the entries a merge value contributes, skipping keys in `set`.
    fn merge<'n>(&mut self, value: &'n Node, set: &mut HashSet<&'n str>, out: &mut Vec<(&'n Node, &'n Node)>) {
        let sources: Vec<&Node> = match &value.kind {
            Kind::Map(_) => vec![value],
            Kind::Seq(items) => items.iter().collect(),
            Kind::Scalar { .. } => Vec::new(),
        };
        if sources.is_empty() && !matches!(&value.kind, Kind::Seq(_)) {
            self.fail(value, "map merge requires map or sequence of maps as the value".into());
            return;
        }
        for source in sources {
            let Kind::Map(entries) = &source.kind else {
                self.fail(source, "map merge requires map or sequence of maps as the value".into());
                return;
            };
            if !self.unique_keys(entries) {
                continue;
            }
            let mut nested = None;
            for (k, v) in entries {
                if is_merge(k) {
                    nested = Some(v);
                } else if key_text(k).is_none_or(|t| set.insert(t)) {
                    out.push((k, v));
                }
            }
            if let Some(m) = nested {
                self.merge(m, set, out);
            }
        }
    }

    /// A struct key: its text; `None` for a null key, a type error for a
    /// collection key (yaml.v3 decodes struct keys into a string).
    pub fn key(&mut self, n: &Node) -> Option<String> {
        self.string(n)
    }

    /// An `interface{}` field, as yaml.v3 fills it.
    pub fn any(&mut self, n: &Node) -> Value {
        match &n.kind {
            Kind::Scalar { .. } => match self.scalar(n) {
                Some(Scalar::Null) | None => Value::Null,
                Some(Scalar::Bool(b)) => Value::Bool(b),
                Some(Scalar::Int(i)) => Value::Int(i),
                Some(Scalar::Uint(u)) => Value::Uint(u),
                Some(Scalar::Float(f)) => Value::Float(f),
                Some(Scalar::Str(s)) => Value::Str(s),
                Some(Scalar::Time(t)) => Value::Time(t),
            },
            Kind::Seq(items) => Value::Seq(items.iter().map(|i| self.any(i)).collect()),
            Kind::Map(_) => {
                let Some(entries) = self.mapping(n, "map[string]interface {}") else {
                    return Value::Null;
                };
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = match &k.kind {
                        Kind::Scalar { text, .. } => text.clone(),
                        _ => {
                            self.fail(k, "invalid map key".into());
                            continue;
                        }
                    };
                    out.push((key, self.any(v)));
                }
                Value::Map(out)
            }
        }
    }
}

/// A merge key: a plain `<<` (or one tagged `!!merge`), never a quoted one.
fn is_merge(k: &Node) -> bool {
    match &k.kind {
        Kind::Scalar { text, style } if text == "<<" => match k.tag.as_deref() {
            None => *style == Style::Plain,
            Some(tag) => tag == "!!merge",
        },
        _ => false,
    }
}

/// The text a merge compares keys by (yaml.v3 compares decoded keys; every
/// mapping Intercept decodes has string keys).
fn key_text(k: &Node) -> Option<&str> {
    match &k.kind {
        Kind::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn value_of(src: &str) -> Node {
        let root = parse(src).unwrap().unwrap();
        let Kind::Map(entries) = root.kind else { panic!() };
        entries.into_iter().next().unwrap().1
    }

    #[test]
    fn type_errors_use_yaml_v3_text() {
        let mut d = Decoder::default();
        assert_eq!(d.seq(&value_of("hide: a\n"), "[]string"), None);
        assert_eq!(d.int(&value_of("x: \"3\"\n")), None);
        assert_eq!(d.string(&value_of("x:\n  a: 1\n")), None);
        assert_eq!(d.int(&value_of("x: abcdefghijkl\n")), None);
        assert_eq!(
            d.errors,
            vec![
                "line 1: cannot unmarshal !!str `a` into []string",
                "line 1: cannot unmarshal !!str `3` into int",
                "line 2: cannot unmarshal !!map into string",
                "line 1: cannot unmarshal !!str `abcdefg...` into int",
            ]
        );
    }

    #[test]
    fn ints_truncate_and_null_is_silent() {
        let mut d = Decoder::default();
        assert_eq!(d.int(&value_of("x: 2.9\n")), Some(2));
        assert_eq!(d.int(&value_of("x: -2.9\n")), Some(-2));
        assert_eq!(d.int(&value_of("x: ~\n")), None);
        assert_eq!(d.string(&value_of("x: 1.0\n")), Some("1.0".into()));
        assert_eq!(d.string(&value_of("x:\n")), None);
        assert!(d.errors.is_empty());
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_lines() {
        let mut d = Decoder::default();
        let n = parse("a: 1\nb: 2\n\"a\": 3\n").unwrap().unwrap();
        assert_eq!(d.mapping(&n, "config.Config"), None);
        assert_eq!(d.errors, vec!["line 3: mapping key \"a\" already defined at line 1"]);
        // Three of a kind, beside another pair: the pairwise scan's order.
        let mut d = Decoder::default();
        let n = parse("a: 1\nb: 2\na: 3\nb: 4\na: 5\n").unwrap().unwrap();
        assert_eq!(d.mapping(&n, "config.Config"), None);
        assert_eq!(
            d.errors,
            vec![
                "line 3: mapping key \"a\" already defined at line 1",
                "line 5: mapping key \"a\" already defined at line 1",
                "line 4: mapping key \"b\" already defined at line 2",
                "line 5: mapping key \"a\" already defined at line 3",
            ]
        );
    }

    #[test]
    fn any_keeps_nulls_in_lists() {
        let mut d = Decoder::default();
        let v = d.any(&value_of("x: [1, ~, yes, 2026-03-02]\n"));
        assert_eq!(
            v,
            Value::Seq(vec![
                Value::Int(1),
                Value::Null,
                Value::Str("yes".into()),
                Value::Time("2026-03-02 00:00:00 +0000 UTC".into())
            ])
        );
    }
}
