//! YAML text → a positioned node tree, read the way Go's yaml.v3 reads it:
//! the one YAML reader below every loader that needs positions (policies in
//! each dialect, and the mock server files' error positions).
//!
//! The tree keeps what yaml.v3's decoder looks at: each node's line and
//! column, a scalar's source text and whether it was quoted, explicit tags,
//! and mapping entries in source order (duplicates included: the decoder
//! reports them). Only the first document is read, as `yaml.Unmarshal` does;
//! a leading UTF-8 byte-order mark is skipped, as libyaml skips it.
//! Aliases are expanded by copying the anchored node, within
//! [`crate::limits`], which every document passes first. This module does not
//! resolve scalars ([`resolve`]) or map nodes onto structs
//! ([`crate::policy::decode`], yaml.v3's decoding rules for policy files).

pub mod error;
pub mod reader;
pub mod resolve;

pub use error::{read_file, Error, ReadError};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

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
/// characters the reader accepts, then the input limits.
pub fn check(text: &str) -> Result<(), Error> {
    reader::check_text(text)?;
    crate::limits::check(text).map_err(Error::from)
}

/// Parses the first document of `text`; `Ok(None)` for an empty stream.
pub fn parse(text: &str) -> Result<Option<Node>, Error> {
    // Refused characters, size, depth and alias expansion are checked
    // before anything is built.
    check(text)?;
    // yaml.v3 (libyaml) takes a leading byte-order mark as the encoding
    // signature, not as content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| {
        let line = e.marker().line() as u32;
        Error::syntax(line, e.marker().col() as u32 + 1, e.info().to_string()).with_v3_line(line)
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root)
}

enum Open {
    Seq(Node, Vec<Node>, usize),
    Map(Node, Vec<Node>, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    anchors: std::collections::HashMap<usize, Node>,
    error: Option<Error>,
}

fn short_tag(tag: Option<Tag>) -> Option<String> {
    let tag = tag?;
    if tag.handle == "tag:yaml.org,2002:" {
        Some(format!("!!{}", tag.suffix))
    } else if tag.handle.is_empty() && tag.suffix == "!" {
        None
    } else {
        Some(format!("{}{}", tag.handle, tag.suffix))
    }
}

impl Builder {
    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
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
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line() as u32;
        let column = mark.col() as u32 + 1;
        let blank = |kind| Node { kind, tag: None, line, column };
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let style = if style == TScalarStyle::Plain { Style::Plain } else { Style::Quoted };
                let mut node = blank(Kind::Scalar { text, style });
                node.tag = short_tag(tag);
                self.push_node(node, anchor);
            }
            Event::SequenceStart(anchor, tag) => {
                let mut node = blank(Kind::Seq(Vec::new()));
                node.tag = short_tag(tag);
                self.stack.push(Open::Seq(node, Vec::new(), anchor));
            }
            Event::MappingStart(anchor, tag) => {
                let mut node = blank(Kind::Map(Vec::new()));
                node.tag = short_tag(tag);
                self.stack.push(Open::Map(node, Vec::new(), anchor));
            }
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
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.push_node(node, 0),
                None => {
                    self.error = Some(Error::syntax(line, column, "unknown anchor".into()).with_v3_line(line))
                }
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
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

    #[test]
    fn explicit_tags_are_shortened() {
        let root = parse("a: !!str 5\nb: !foo x\n").unwrap().unwrap();
        let Kind::Map(entries) = &root.kind else { panic!() };
        assert_eq!(entries[0].1.tag.as_deref(), Some("!!str"));
        assert_eq!(entries[1].1.tag.as_deref(), Some("!foo"));
    }
}
