//! The tools a mock server serves: indexed by name once per server file and
//! shared by every server started from it, so starting one costs the same
//! for 5 tools as for 1000 (`gauntlet verify` starts thousands).
//!
//! A server that changes its tools (a rug pull, a per-run override) keeps its
//! changes in a small overlay instead of copying the shared list.
//!
//! A shared tool's `tools/list` entry is written once and reused by every
//! server: a 1000-tool listing then costs a copy, not 1000 serialisations.
//!
//! The shared list is the server file's own (indexed in place, not copied):
//! a large file's tools are held once.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::ordered::OrderedJson;
use super::spec::{ServerSpec, ToolSpec, TOOL_MEMBERS};

/// Shared tools with a per-server overlay of replaced and added definitions.
#[derive(Clone, Debug)]
pub struct ToolSet {
    base: Arc<Indexed>,
    /// Definitions replacing a base tool of the same name, by base position.
    replaced: HashMap<usize, ToolSpec>,
    /// Definitions of names the base does not have, in the order they came.
    added: Vec<ToolSpec>,
    /// Base positions whose tool was removed (served no more until upserted again).
    removed: std::collections::HashSet<usize>,
}

#[derive(Debug)]
struct Indexed {
    /// The server file whose `tools` are the shared list.
    file: Arc<ServerSpec>,
    /// Name → first position with that name.
    exact: HashMap<String, usize>,
    /// Lower-cased name → first position with that lower-cased name.
    folded: HashMap<String, usize>,
    /// Each tool's list entry, without and with `title`, written on first use.
    entries: Vec<[OnceLock<String>; 2]>,
}

/// The name a lenient server looks a tool up by: trimmed, case-folded,
/// zero-width characters dropped, and `-`, `_` and a space read alike
/// (`GIT_STATUS`, ` git_status`, `git-status` and `git\u{200B}_status` all
/// run `git_status`); a homoglyph (a Cyrillic `е`) is another name.
pub fn fold(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'))
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c,
        })
        .collect::<String>()
        .to_lowercase()
}

/// The name a federating gateway registered as `gateway` lists `tool` by:
/// both slugged (lower case, each run of other characters than ASCII letters
/// and digits one `-`) and joined by `-`, as IBM ContextForge lists the
/// upstream's `create_item` behind a gateway named `toy`: `toy-create-item`.
pub fn namespaced(gateway: &str, tool: &str) -> String {
    fn slug(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_end_matches('-').to_string()
    }
    format!("{}-{}", slug(gateway), slug(tool))
}

impl ToolSet {
    /// The tools of `file`, indexed.
    pub fn new(file: Arc<ServerSpec>) -> ToolSet {
        let tools = &file.tools;
        let mut exact = HashMap::with_capacity(tools.len());
        let mut folded = HashMap::with_capacity(tools.len());
        for (i, t) in tools.iter().enumerate() {
            exact.entry(t.name.clone()).or_insert(i);
            folded.entry(fold(&t.name)).or_insert(i);
        }
        let entries = tools.iter().map(|_| Default::default()).collect();
        let base = Indexed { file, exact, folded, entries };
        ToolSet { base: Arc::new(base), replaced: HashMap::new(), added: Vec::new(), removed: Default::default() }
    }

    /// How many list positions there are (a removed tool keeps its empty position).
    pub fn len(&self) -> usize {
        self.base.file.tools.len() + self.added.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tool at position `i` of the served list (`None` where one was removed).
    pub fn at(&self, i: usize) -> Option<&ToolSpec> {
        if self.removed.contains(&i) {
            return None;
        }
        match self.base.file.tools.get(i) {
            Some(t) => Some(self.replaced.get(&i).unwrap_or(t)),
            None => self.added.get(i - self.base.file.tools.len()),
        }
    }

    /// The `tools/list` entry of the tool at position `i` (`with_title` from
    /// protocol 2025-06-18 on): its members in the file's order, as JSON text.
    pub fn list_entry(&self, i: usize, with_title: bool) -> Option<Cow<'_, str>> {
        let shared = self.base.entries.get(i).filter(|_| !self.replaced.contains_key(&i) && !self.removed.contains(&i));
        match shared {
            Some(cached) => {
                let tool = &self.base.file.tools[i];
                Some(Cow::Borrowed(cached[usize::from(with_title)].get_or_init(|| list_entry(tool, with_title))))
            }
            None => self.at(i).map(|t| Cow::Owned(list_entry(t, with_title))),
        }
    }

    /// The served tools in list order.
    pub fn iter(&self) -> impl Iterator<Item = &ToolSpec> {
        (0..self.len()).filter_map(|i| self.at(i))
    }

    /// The first tool named exactly `name`.
    pub fn get(&self, name: &str) -> Option<&ToolSpec> {
        match self.base.exact.get(name) {
            Some(&i) => self.at(i),
            None => self.added.iter().find(|t| t.name == name),
        }
    }

    /// The definition of `name` in the shared list (the server file's), if it has one.
    pub fn original(&self, name: &str) -> Option<&ToolSpec> {
        self.base.exact.get(name).map(|&i| &self.base.file.tools[i])
    }

    /// Stops serving the tool named `name` (an upsert brings it back).
    pub fn remove(&mut self, name: &str) {
        match self.base.exact.get(name) {
            Some(&i) => {
                self.removed.insert(i);
                self.replaced.remove(&i);
            }
            None => self.added.retain(|t| t.name != name),
        }
    }

    /// The first tool whose [`fold`]ed name is `folded` (already folded).
    pub fn get_folded(&self, folded: &str) -> Option<&ToolSpec> {
        match self.base.folded.get(folded).filter(|i| !self.removed.contains(i)) {
            Some(&i) => self.at(i),
            None => self.added.iter().find(|t| fold(&t.name) == folded),
        }
    }

    /// Replaces the tool of the same name, or adds `tool` at the end.
    pub fn upsert(&mut self, tool: ToolSpec) {
        if let Some(&i) = self.base.exact.get(&tool.name) {
            self.removed.remove(&i);
            self.replaced.insert(i, tool);
        } else if let Some(old) = self.added.iter_mut().find(|t| t.name == tool.name) {
            *old = tool;
        } else {
            self.added.push(tool);
        }
    }
}

/// A tool as `tools/list` shows it, members in the order the file wrote them.
pub fn list_entry(t: &ToolSpec, with_title: bool) -> String {
    let order: Vec<&str> = if t.order.is_empty() {
        TOOL_MEMBERS.to_vec()
    } else {
        t.order.iter().map(String::as_str).collect()
    };
    let text = |s: &str| Value::String(s.to_string()).to_string();
    let members = order.into_iter().filter_map(|key| {
        let value = match key {
            "name" => Some(text(&t.name)),
            "title" if with_title => t.title.as_deref().map(text),
            "description" => t.description.as_deref().map(text),
            "inputSchema" => Some(t.input_schema.to_json()),
            "outputSchema" => t.output_schema.as_ref().map(OrderedJson::to_json),
            "annotations" => t.annotations.as_ref().map(OrderedJson::to_json),
            "execution" => t.execution.as_ref().map(OrderedJson::to_json),
            "icons" => t.icons.as_ref().map(OrderedJson::to_json),
            "_meta" => t.meta.as_ref().map(OrderedJson::to_json),
            _ => None,
        }?;
        Some(format!("{}:{value}", text(key)))
    });
    format!("{{{}}}", members.collect::<Vec<_>>().join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    
    fn tool(name: &str, description: &str) -> ToolSpec {
        let t = serde_json::json!({"name": name, "description": description, "inputSchema": {"type": "object"}, "risk": "read"});
        serde_json::from_value(t).unwrap()
    }

    fn set(tools: Vec<ToolSpec>) -> ToolSet {
        let mut file: ServerSpec = serde_json::from_value(serde_json::json!({"name": "s", "version": "1", "tools": []})).unwrap();
        file.tools = tools;
        ToolSet::new(Arc::new(file))
    }

    fn names(s: &ToolSet) -> Vec<(&str, &str)> {
        s.iter().map(|t| (t.name.as_str(), t.description.as_deref().unwrap_or_default())).collect()
    }

    #[test]
    fn overlay_replaces_in_place_and_appends_without_touching_the_shared_list() {
        let shared = set(vec![tool("a", "1"), tool("B", "1")]);
        let mut own = shared.clone();
        own.upsert(tool("B", "2"));
        own.upsert(tool("c", "2"));
        own.upsert(tool("c", "3"));
        assert_eq!(names(&own), [("a", "1"), ("B", "2"), ("c", "3")]);
        assert_eq!(names(&shared), [("a", "1"), ("B", "1")]);
        assert_eq!(own.get("B").and_then(|t| t.description.as_deref()), Some("2"));
        assert_eq!(own.get_folded("b").and_then(|t| t.description.as_deref()), Some("2"));
        assert_eq!(own.get_folded("c").and_then(|t| t.description.as_deref()), Some("3"));
        assert!(own.get("b").is_none() && own.get("d").is_none());
        assert_eq!((own.len(), own.at(3).is_none()), (3, true));
        own.remove("B");
        own.remove("c");
        assert_eq!(names(&own), [("a", "1")]);
        assert!(own.get("B").is_none() && own.get_folded("b").is_none() && own.list_entry(1, false).is_none());
        own.upsert(tool("B", "4"));
        assert_eq!(names(&own), [("a", "1"), ("B", "4")]);
        assert_eq!(own.original("B").and_then(|t| t.description.as_deref()), Some("1"));
    }

    #[test]
    fn the_first_of_two_equal_names_wins_as_a_linear_search_would() {
        let s = set(vec![tool("x", "first"), tool("X", "second"), tool("x", "third")]);
        assert_eq!(s.get("x").unwrap().description.as_deref(), Some("first"));
        assert_eq!(s.get("X").unwrap().description.as_deref(), Some("second"));
        assert_eq!(s.get_folded("x").unwrap().description.as_deref(), Some("first"));
    }

    #[test]
    fn the_shared_list_is_the_files_own_tools_not_a_copy() {
        let file = Arc::new(serde_json::from_value::<ServerSpec>(serde_json::json!({"name": "s", "version": "1", "tools": [{"name": "a", "inputSchema": {"type": "object"}, "risk": "read"}]})).unwrap());
        let s = ToolSet::new(file.clone());
        assert!(std::ptr::eq(s.get("a").unwrap(), &file.tools[0]));
        assert!(std::ptr::eq(s.original("a").unwrap(), &file.tools[0]));
    }
}
