//! The input limits every loader applies before it parses a file (policy in
//! every dialect, scenario, mock server, requirements, trace, vectors), so a
//! hostile or broken file fails fast with its position and the limit it
//! crossed instead of exhausting time or memory.
//!
//! Three limits, one message shape (`FILE:LINE:COL: <what> exceeds …`):
//! the document size, the nesting depth, and what alias expansion may add
//! (a YAML "billion laughs" document is small on disk and huge in memory).
//! For YAML the depth and aliases are counted by a [`Budget`] that
//! [`crate::yaml`] feeds its events, stopping at the first limit crossed; it
//! never builds the document. JSON lines (traces) get [`check_json`].

use std::fmt;

/// The largest file a loader reads (8 MiB; real policies are kilobytes),
/// except a conformance vector file.
pub const MAX_DOCUMENT_BYTES: usize = 8 << 20;
/// The largest conformance vector file (64 MiB): thousands of vectors, each
/// a whole policy and its calls, are one ordinary file.
pub const MAX_VECTOR_FILE_BYTES: usize = 64 << 20;
/// The deepest nesting of mappings and sequences (serde_yaml's own recursion
/// limit; Intercept's deepest real structure is seven levels).
pub const MAX_DEPTH: usize = 128;
/// The most nodes alias expansion may add to a document.
pub const MAX_ALIAS_NODES: u64 = 100_000;
/// The most scalar bytes alias expansion may add (no more than the largest
/// file could hold).
pub const MAX_ALIAS_BYTES: u64 = MAX_DOCUMENT_BYTES as u64;

/// Which limit a document crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Larger than the limit of its kind of file (the limit, in bytes).
    DocumentSize(usize),
    Depth,
    AliasNodes,
    AliasBytes,
}

/// A crossed limit at a 1-based position (where the document crossed it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitError {
    pub limit: Limit,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.limit {
            Limit::DocumentSize(max) => write!(
                f,
                "document size exceeds the limit of {} MiB ({max} bytes); gauntlet refuses larger inputs of this kind",
                max >> 20
            ),
            Limit::Depth => write!(f, "nesting depth exceeds the limit of {MAX_DEPTH} levels"),
            Limit::AliasNodes => write!(
                f,
                "alias expansion exceeds the limit of {MAX_ALIAS_NODES} nodes (anchors referenced too often: an alias bomb?)"
            ),
            Limit::AliasBytes => write!(
                f,
                "alias expansion exceeds the limit of {} MiB of text (anchors referenced too often: an alias bomb?)",
                MAX_ALIAS_BYTES >> 20
            ),
        }
    }
}

impl LimitError {
    /// What to do about it, the same advice in every loader.
    pub fn help(&self) -> &'static str {
        match self.limit {
            Limit::DocumentSize(_) => "split the file; no gauntlet input of this kind needs to be this large",
            Limit::Depth => "flatten the structure; no gauntlet input nests this deep",
            Limit::AliasNodes | Limit::AliasBytes => "write the repeated parts out, or reference each anchor fewer times",
        }
    }
}

impl std::error::Error for LimitError {}

/// The size limit alone, positioned where the document crosses it.
pub fn check_size(bytes: &[u8]) -> Result<(), LimitError> {
    check_size_within(bytes, MAX_DOCUMENT_BYTES)
}

/// The size limit of a kind of file whose limit is `max` bytes.
pub fn check_size_within(bytes: &[u8], max: usize) -> Result<(), LimitError> {
    if bytes.len() <= max {
        return Ok(());
    }
    let head = &bytes[..max];
    let line = head.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = head.len() - head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
    Err(LimitError { limit: Limit::DocumentSize(max), line: line as u32, column: column as u32 })
}

/// Size and depth of a JSON text (one trace line, one message), exactly:
/// brackets inside strings do not count.
pub fn check_json(text: &str) -> Result<(), LimitError> {
    check_size(text.as_bytes())?;
    bracket_depth(text)
}

/// The bracket depth of a JSON text; brackets inside strings do not count.
fn bracket_depth(text: &str) -> Result<(), LimitError> {
    let (mut depth, mut line, mut column) = (0usize, 1u32, 0u32);
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        column += 1;
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '\n' => (line, column) = (line + 1, 0),
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(LimitError { limit: Limit::Depth, line, column });
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// What an open mapping or sequence holds so far, counting expansions.
#[derive(Default)]
struct Open {
    anchor: Option<String>,
    nodes: u64,
    bytes: u64,
}

/// The depth and alias-expansion budget of one YAML document, fed its
/// events in order (by [`crate::yaml`]); an `Err` names the limit crossed
/// at the event that crossed it. Nothing is expanded to count it.
#[derive(Default)]
pub struct Budget {
    open: Vec<Open>,
    /// Expanded (nodes, scalar bytes) of every anchored node seen.
    anchors: std::collections::HashMap<String, (u64, u64)>,
    expanded_nodes: u64,
    expanded_bytes: u64,
}

impl Budget {
    /// A mapping or sequence starts.
    pub fn open(&mut self, anchor: Option<&str>) -> Result<(), Limit> {
        if self.open.len() >= MAX_DEPTH {
            return Err(Limit::Depth);
        }
        self.open.push(Open { anchor: anchor.map(str::to_string), nodes: 1, bytes: 0 });
        Ok(())
    }

    /// The innermost mapping or sequence ends.
    pub fn close(&mut self) {
        if let Some(done) = self.open.pop() {
            self.finish(done.anchor, done.nodes, done.bytes);
        }
    }

    pub fn scalar(&mut self, anchor: Option<&str>, len: usize) {
        self.finish(anchor.map(str::to_string), 1, len as u64);
    }

    /// An alias: what its anchor's node expands to is added.
    pub fn alias(&mut self, name: &str) -> Result<(), Limit> {
        let (nodes, bytes) = self.anchors.get(name).copied().unwrap_or((1, 0));
        self.expanded_nodes = self.expanded_nodes.saturating_add(nodes);
        self.expanded_bytes = self.expanded_bytes.saturating_add(bytes);
        if self.expanded_nodes > MAX_ALIAS_NODES {
            return Err(Limit::AliasNodes);
        }
        if self.expanded_bytes > MAX_ALIAS_BYTES {
            return Err(Limit::AliasBytes);
        }
        self.finish(None, nodes, bytes);
        Ok(())
    }

    /// A complete node: remember its size if anchored, add it to its parent.
    fn finish(&mut self, anchor: Option<String>, nodes: u64, bytes: u64) {
        if let Some(anchor) = anchor {
            self.anchors.insert(anchor, (nodes, bytes));
        }
        if let Some(parent) = self.open.last_mut() {
            parent.nodes = parent.nodes.saturating_add(nodes);
            parent.bytes = parent.bytes.saturating_add(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_depth_ignores_brackets_in_strings() {
        assert!(check_json(&format!("{{\"a\": \"{}\"}}", "[".repeat(500))).is_ok());
        assert!(check_json(r#"{"a": "\"[[["}"#).is_ok());
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(200), "]".repeat(200));
        let e = check_json(&deep).unwrap_err();
        assert_eq!((e.limit, e.line, e.column), (Limit::Depth, 1, 7 + MAX_DEPTH as u32 - 1));
    }

    #[test]
    fn size_is_positioned_where_it_is_crossed() {
        let one_line = "a".repeat(MAX_DOCUMENT_BYTES + 10);
        assert_eq!(check_size(one_line.as_bytes()).map_err(|e| (e.line, e.column)), Err((1, MAX_DOCUMENT_BYTES as u32 + 1)));
        let lines = "ab\n".repeat(MAX_DOCUMENT_BYTES / 3 + 1);
        let e = check_size(lines.as_bytes()).unwrap_err();
        assert_eq!(e.line as usize, MAX_DOCUMENT_BYTES / 3 + 1);
        assert_eq!(e.to_string(), "document size exceeds the limit of 8 MiB (8388608 bytes); gauntlet refuses larger inputs of this kind");
    }
}
