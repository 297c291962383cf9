//! YAML text → a positioned node tree, read the way Go's yaml.v3 reads it:
//! the one YAML reader below every loader that needs positions (policies in
//! each dialect, and the mock server files' error positions), and the one
//! pre-parse check ([`check`]) every YAML loader runs.
//!
//! **Why libyaml.** yaml.v3 is a Go port of libyaml, so the tab rules,
//! anchor and tag character sets, directives, encodings and error texts that
//! decide whether Intercept loads a file are libyaml's. Instead of patching
//! another parser towards them case by case (the reader this replaces
//! accepted `&a.b`, `%YAML 1.2`, tab-only lines and `-<TAB>`, and refused
//! `default:<TAB>deny` and a flow list closed at column 0), the events come
//! from a port of the same C code ([`events`], the `unsafe-libyaml` crate
//! serde_yaml already depends on). What yaml.v3 changed or adds on top is
//! done here, each named where it is: only `%YAML 1.1` is accepted, its
//! error line rule ([`events::v3_line`]), its short tags, only the first
//! document. What gauntlet needs beyond events is built here too: every
//! node's line and column, a scalar's source text and style, explicit tags,
//! mapping entries in source order (duplicates included: the decoder reports
//! them), aliases expanded within [`crate::limits`] (one [`Budget`] on the
//! same pass), and the reader's checks first ([`reader`]). This module does
//! not resolve scalars ([`resolve`]) or map nodes onto structs
//! ([`crate::policy::decode`], yaml.v3's decoding rules for policy files).

pub mod error;
pub mod events;
pub mod reader;
pub mod resolve;

pub use error::{read_file, read_file_within, Error, ReadError};

use std::collections::HashMap;
use std::rc::Rc;

use crate::limits::Budget;
use events::{Event, Events, Mark};

/// How a scalar was written: plain scalars are resolved (`5` is an int),
/// every other style is a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Scalar { text: String, style: Style },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    /// Explicit tag in yaml.v3's short form (`!!str`, `!foo`), if any.
    pub tag: Option<String>,
    /// 1-based.
    pub line: u32,
    /// 1-based.
    pub column: u32,
}

impl Node {
    pub fn is_scalar(&self) -> bool {
        matches!(self.kind, Kind::Scalar { .. })
    }
}

/// What every loader checks before it parses a YAML (or JSON) text: the
/// characters the reader accepts, the size, then the whole stream through
/// libyaml for syntax, depth and alias expansion.
pub fn check(text: &str) -> Result<(), Error> {
    check_within(text, crate::limits::MAX_DOCUMENT_BYTES)
}

/// [`check`] for a kind of file whose size limit is `max` bytes.
pub fn check_within(text: &str, max: usize) -> Result<(), Error> {
    reader::check_text(text)?;
    crate::limits::check_size_within(text.as_bytes(), max)?;
    let mut events = Events::new(text.as_bytes());
    let mut budget = Budget::default();
    loop {
        let (event, mark) = events.next_event()?;
        if event == Event::StreamEnd {
            return Ok(());
        }
        count(&mut budget, &event, mark)?;
    }
}

/// Feeds one event to the limits; the error is placed at the event.
fn count(budget: &mut Budget, event: &Event, mark: Mark) -> Result<(), Error> {
    let crossed = match event {
        Event::SequenceStart { anchor, .. } | Event::MappingStart { anchor, .. } => budget.open(anchor.as_deref()),
        Event::SequenceEnd | Event::MappingEnd => Ok(budget.close()),
        Event::Scalar { value, anchor, .. } => Ok(budget.scalar(anchor.as_deref(), value.len())),
        Event::Alias(name) => budget.alias(name),
        _ => Ok(()),
    };
    crossed.map_err(|limit| crate::limits::LimitError { limit, line: mark.line, column: mark.column }.into())
}

/// Parses the first document of `text` as yaml.v3's `Unmarshal` does, and
/// refuses a stream with a second one; `Ok(None)` for an empty stream.
pub fn parse(text: &str) -> Result<Option<Node>, Error> {
    reader::check_text(text)?;
    crate::limits::check_size(text.as_bytes())?;
    let mut events = Events::new(text.as_bytes());
    let mut builder = Builder::default();
    loop {
        let (event, mark) = events.next_event()?;
        count(&mut builder.budget, &event, mark)?;
        match event {
            Event::StreamStart => {}
            Event::StreamEnd => return Ok(None),
            // yaml.v3 accepts no other version than 1.1 (libyaml also takes 1.2).
            Event::DocumentStart { version: Some(v) } if v != (1, 1) => {
                let e = Error::syntax(mark.line, mark.column, "found incompatible YAML document".into());
                return Err(match events::v3_line(0, mark.line - 1, false) {
                    Some(n) => e.with_v3_line(n),
                    None => e,
                });
            }
            Event::DocumentStart { .. } => {}
            // yaml.v3 reads only the first document (how far it scans into a
            // second one depends on its comment lookahead), so a second one is
            // text a reader of the file sees and Intercept never enforces: refused.
            Event::DocumentEnd => {
                let (next, at) = events.next_event()?;
                if let Event::DocumentStart { .. } = next {
                    let e = Error::syntax(at.line, at.column, "found a second YAML document (Intercept reads only the first)".into());
                    return Err(e.with_detail(
                        String::new(),
                        "remove this `---` and what follows, or move it into the first document: nothing after it would be enforced",
                    ));
                }
                return Ok(builder.root.take());
            }
            other => builder.on(other, mark)?,
        }
    }
}

enum Open {
    Seq(Node, Vec<Node>, Option<String>),
    Map(Node, Vec<Node>, Option<String>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    /// Anchored nodes, shared by every alias that names them.
    anchors: HashMap<String, Rc<Node>>,
    budget: Budget,
}

/// yaml.v3's short form of a resolved tag: `!!x` for the YAML namespace,
/// none for the non-specific `!` (yaml.v3 resolves such a node as untagged).
fn short_tag(tag: Option<String>) -> Option<String> {
    let tag = tag?;
    match tag.strip_prefix("tag:yaml.org,2002:") {
        Some(rest) => Some(format!("!!{rest}")),
        None if tag == "!" => None,
        None => Some(tag),
    }
}

impl Builder {
    fn push_node(&mut self, node: Node, anchor: Option<String>) {
        if let Some(anchor) = anchor {
            self.anchors.insert(anchor, Rc::new(node.clone()));
        }
        match self.stack.last_mut() {
            Some(Open::Seq(_, items, _)) | Some(Open::Map(_, items, _)) => items.push(node),
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
        }
    }

    fn on(&mut self, ev: Event, mark: Mark) -> Result<(), Error> {
        let blank = |kind, tag| Node { kind, tag: short_tag(tag), line: mark.line, column: mark.column };
        match ev {
            Event::Scalar { value, plain, anchor, tag } => {
                let style = if plain { Style::Plain } else { Style::Quoted };
                self.push_node(blank(Kind::Scalar { text: value, style }, tag), anchor);
            }
            Event::SequenceStart { anchor, tag } => self.stack.push(Open::Seq(blank(Kind::Seq(Vec::new()), tag), Vec::new(), anchor)),
            Event::MappingStart { anchor, tag } => self.stack.push(Open::Map(blank(Kind::Map(Vec::new()), tag), Vec::new(), anchor)),
            Event::SequenceEnd => {
                if let Some(Open::Seq(mut node, items, anchor)) = self.stack.pop() {
                    node.kind = Kind::Seq(items);
                    self.push_node(node, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(mut node, items, anchor)) = self.stack.pop() {
                    let mut entries = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        entries.push((k, v));
                    }
                    node.kind = Kind::Map(entries);
                    self.push_node(node, anchor);
                }
            }
            Event::Alias(name) => match self.anchors.get(&name) {
                Some(node) => {
                    let node = Node::clone(node);
                    self.push_node(node, None);
                }
                None => {
                    let open = self.stack.iter().any(|o| matches!(o, Open::Seq(_, _, Some(a)) | Open::Map(_, _, Some(a)) if *a == name));
                    let message = if open {
                        format!("anchor '{name}' value contains itself")
                    } else {
                        format!("unknown anchor '{name}' referenced")
                    };
                    // yaml.v3 names no line for either (its composer fails without a mark).
                    return Err(Error::syntax(mark.line, mark.column, message));
                }
            },
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart { .. } | Event::DocumentEnd => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(n: &Node) -> (&str, Style) {
        match &n.kind {
            Kind::Scalar { text, style } => (text, *style),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn keeps_positions_styles_and_duplicate_keys() {
        let root = parse("version: \"1\"\ntools:\n  a: 1\n  a: 2\n").unwrap().unwrap();
        let Kind::Map(entries) = &root.kind else { panic!("root not a map") };
        assert_eq!(scalar(&entries[0].1), ("1", Style::Quoted));
        let Kind::Map(tools) = &entries[1].1.kind else { panic!("tools not a map") };
        assert_eq!(tools.len(), 2);
        assert_eq!((tools[0].0.line, tools[0].0.column), (3, 3));
        assert_eq!((tools[1].0.line, tools[1].0.column), (4, 3));
        assert_eq!(scalar(&tools[1].1), ("2", Style::Plain));
    }

    #[test]
    fn empty_stream_has_no_root_and_aliases_expand() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
        let root = parse("a: &x [1, 2]\nb: *x\n").unwrap().unwrap();
        let Kind::Map(entries) = &root.kind else { panic!() };
        assert_eq!(entries[0].1.kind, entries[1].1.kind);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.line >= 1 && err.column >= 1, "{err:?}");
        let err = parse("a: b: c\n").unwrap_err();
        assert_eq!(err.line, 1);
    }

    use crate::limits::{Limit, MAX_DEPTH};

    fn limit(text: &str) -> Option<(Limit, u32, u32)> {
        check(text).err().and_then(|e| e.limit().map(|l| (l.limit, l.line, l.column)))
    }

    #[test]
    fn ordinary_documents_pass() {
        assert_eq!(limit("a: &x [1, 2]\nb: *x\nc: {d: [e]}\n"), None);
        assert_eq!(limit(""), None);
        // A syntax error is the loader's to report.
        assert_eq!(limit("a: [1\n"), None);
    }

    #[test]
    fn depth_is_counted_in_flow_and_block_nesting() {
        let ok = format!("x: {}{}\n", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert_eq!(limit(&ok), None);
        let deep = format!("x: {}{}\n", "[".repeat(16_000), "]".repeat(16_000));
        // The bracket that opens level 129 (the top mapping is level 1).
        assert_eq!(limit(&deep), Some((Limit::Depth, 1, 3 + MAX_DEPTH as u32)));
        // Deep nesting behind a syntax error: the error is reported, and no
        // parser reads on past it (every loader parses with the same events).
        let hidden = format!("a: b: c\nx: {}{}\n", "[".repeat(16_000), "]".repeat(16_000));
        assert_eq!(check(&hidden).map_err(|e| (e.limit().is_some(), e.line)), Err((false, 1)));
        let mut block = String::new();
        for i in 0..200 {
            block.push_str(&format!("{}k:\n", " ".repeat(i)));
        }
        assert_eq!(limit(&block).map(|l| l.0), Some(Limit::Depth));
    }

    #[test]
    fn alias_expansion_counts_nested_expansions() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, prev) in [("b", "a"), ("c", "b"), ("d", "c")] {
            text.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{prev}"); 10].join(", ")));
        }
        assert_eq!(limit(&text), None, "12,330 nodes of expansion are allowed");
        text.push_str(&format!("e: [{}]\n", ["*d"; 10].join(", ")));
        assert_eq!(limit(&text).map(|l| (l.0, l.1)), Some((Limit::AliasNodes, 5)));
        let big = format!("a: &a \"{}\"\nb: [{}]\n", "y".repeat(1 << 20), ["*a"; 9].join(", "));
        assert_eq!(limit(&big).map(|l| (l.0, l.1)), Some((Limit::AliasBytes, 2)));
    }

    #[test]
    fn explicit_tags_are_shortened() {
        let root = parse("a: !!str 5\nb: !foo x\n").unwrap().unwrap();
        let Kind::Map(entries) = &root.kind else { panic!() };
        assert_eq!(entries[0].1.tag.as_deref(), Some("!!str"));
        assert_eq!(entries[1].1.tag.as_deref(), Some("!foo"));
    }
}
