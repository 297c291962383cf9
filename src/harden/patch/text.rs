//! Line edits of a block-style YAML policy (Intercept's and the catalogue
//! form share the shape `tools: {NAME: {rules: [..]}}`), placed by the
//! positions the YAML reader recorded. Whole lines are rewritten or
//! inserted, so comments, quoting and layout elsewhere survive; a flow-style
//! collection the edit would have to reach into is refused with a message
//! rather than re-serialised.

use crate::policy::model::Span;

/// A line-oriented view of the file being edited.
pub struct Lines(pub Vec<String>);

pub fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

pub fn is_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// The byte index of the `:` that ends the key starting at `key_column` (a quoted key may hold colons).
fn key_colon(line: &str, key_column: usize) -> Option<usize> {
    let s = line.get(key_column..)?;
    let end_of_key = match s.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let mut esc = false;
            let mut end = None;
            for (i, c) in s.char_indices().skip(1) {
                if esc {
                    esc = false;
                } else if c == '\\' && q == '"' {
                    esc = true;
                } else if c == q {
                    end = Some(i + 1);
                    break;
                }
            }
            end?
        }
        _ => 0,
    };
    s[end_of_key..].find(':').map(|c| key_column + end_of_key + c)
}

/// Where a trailing ` #` comment starts after `from` (naive about `#` inside quotes).
fn comment_at(line: &str, from: usize) -> usize {
    line[from..].find(" #").map(|c| from + c).unwrap_or(line.len())
}

/// A line's value after `key:`, without a trailing comment.
pub fn rest_after_key(line: &str, key_column: usize) -> &str {
    match key_colon(line, key_column) {
        Some(c) => line[c + 1..comment_at(line, c + 1)].trim(),
        None => "",
    }
}

/// A note as a trailing YAML comment (` # …`), or nothing.
pub fn comment(note: &super::Note) -> String {
    match &note.0 {
        Some(n) => format!("  # {}", n.replace(['\n', '\r'], " ")),
        None => String::new(),
    }
}

/// A double-quoted YAML scalar (JSON string syntax is valid YAML).
pub fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// 0-based line and column of a reader position.
fn at(sp: Span) -> (usize, usize) {
    (sp.line as usize - 1, sp.column as usize - 1)
}

impl Lines {
    pub fn new(text: &str) -> Lines {
        Lines(text.lines().map(str::to_string).collect())
    }

    pub fn text(&self) -> String {
        let mut s = self.0.join("\n");
        s.push('\n');
        s
    }

    /// The last content line of the block opened at `start` (lines indented
    /// deeper than `ind`, or sequence items at `ind` when `items_at_ind`).
    pub fn block_end(&self, start: usize, ind: usize, items_at_ind: bool) -> usize {
        let mut end = start;
        for (i, l) in self.0.iter().enumerate().skip(start + 1) {
            if !is_content(l) {
                continue;
            }
            let deeper = indent(l) > ind || (items_at_ind && indent(l) == ind && l.trim_start().starts_with("- "));
            if !deeper {
                break;
            }
            end = i;
        }
        end
    }

    pub fn insert(&mut self, at: usize, new: Vec<String>) {
        let at = at.min(self.0.len());
        self.0.splice(at..at, new);
    }

    /// Replaces what follows `key:` on line `i` with `value` (keeping the comment).
    pub fn set_rest(&mut self, i: usize, key_column: usize, value: &str) {
        let line = &self.0[i];
        let Some(c) = key_colon(line, key_column) else { return };
        let comment = &line[comment_at(line, c + 1)..];
        let sep = if value.is_empty() { "" } else { " " };
        self.0[i] = format!("{}{sep}{value}{comment}", &line[..=c]);
    }

    fn top_line(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|s| s.starts_with(&format!("{key}:")))
    }

    /// `default: deny`: the existing key's value, or a new line after `description`/`version`.
    pub fn default_deny(&mut self, default_key: Option<Span>) {
        match default_key {
            Some(sp) => {
                let (i, c) = at(sp);
                self.set_rest(i, c, "deny")
            }
            None => {
                let at = self
                    .top_line("description")
                    .or_else(|| self.top_line("version"))
                    .map(|i| i + 1)
                    .unwrap_or_else(|| self.0.iter().take_while(|s| !is_content(s)).count());
                self.insert(at, vec!["default: deny".into()]);
            }
        }
    }

    /// Appends an item to the block sequence under the `key:` on line `i`
    /// (an empty `[]` or null value becomes one), indented as its items
    /// already are; `None` when the value is in flow style.
    pub fn append_item(&mut self, i: usize, ind: usize, item: impl FnOnce(usize) -> Vec<String>) -> Option<()> {
        let rest = rest_after_key(&self.0[i], ind).to_string();
        if !matches!(rest.as_str(), "" | "~" | "null" | "[]") {
            return None;
        }
        if !rest.is_empty() {
            self.set_rest(i, ind, "");
        }
        let end = self.block_end(i, ind, true);
        let first = (i + 1..=end).find(|&j| is_content(&self.0[j]));
        let item_ind = match first {
            Some(j) if self.0[j].trim_start().starts_with('-') => indent(&self.0[j]),
            _ => ind + 2,
        };
        self.insert(end + 1, item(item_ind));
        Some(())
    }

    /// A new entry under `tools:` (created at the end when missing),
    /// indented as the first tool key is; `entry` renders it at an indentation.
    pub fn add_entry(
        &mut self,
        tools_key: Option<Span>,
        first_tool: Option<Span>,
        entry: impl FnOnce(usize) -> Vec<String>,
    ) -> Result<(), String> {
        let Some(sp) = tools_key else {
            let mut new = vec!["tools:".to_string()];
            new.extend(entry(2));
            let end = self.0.len();
            self.insert(end, new);
            return Ok(());
        };
        let (i, ind) = at(sp);
        let rest = rest_after_key(&self.0[i], ind).to_string();
        match rest.as_str() {
            "" | "~" | "null" | "{}" => {
                if !rest.is_empty() {
                    self.set_rest(i, ind, "");
                }
                let end = self.block_end(i, ind, false);
                let tool_ind = first_tool.map(|t| t.column as usize - 1).unwrap_or(ind + 2);
                self.insert(end + 1, entry(tool_ind));
                Ok(())
            }
            _ => Err("`tools` is written in flow style (`{…}`); rewrite it in block style to apply this edit".into()),
        }
    }

    /// Appends a rule item (rendered by `rule` with its dash at an
    /// indentation) to the `rules:` of the tool whose key is at `key`.
    pub fn add_rule(&mut self, tool: &str, key: Span, rule: impl Fn(usize) -> Vec<String>) -> Result<(), String> {
        let (ki, kind) = at(key);
        let rest = rest_after_key(&self.0[ki], kind).to_string();
        if matches!(rest.as_str(), "~" | "null" | "{}" | "{rules: []}" | "{ rules: [] }") {
            self.set_rest(ki, kind, "");
            let mut new = vec![format!("{}rules:", " ".repeat(kind + 2))];
            new.extend(rule(kind + 4));
            self.insert(ki + 1, new);
            return Ok(());
        }
        if !rest.is_empty() {
            return Err(format!("the entry of `{tool}` is written in flow style; rewrite it in block style to apply this edit"));
        }
        let end = self.block_end(ki, kind, false);
        let rules_at = (ki + 1..=end).find(|&i| indent(&self.0[i]) > kind && self.0[i].trim_start().starts_with("rules:"));
        let Some(ri) = rules_at else {
            let mut new = vec![format!("{}rules:", " ".repeat(kind + 2))];
            new.extend(rule(kind + 4));
            self.insert(end + 1, new);
            return Ok(());
        };
        let rind = indent(&self.0[ri]);
        self.append_item(ri, rind, rule)
            .ok_or_else(|| format!("the rules of `{tool}` are written in flow style; rewrite them in block style to apply this edit"))
    }

    /// The indentation of the dash of the sequence item that starts on `line` (1-based).
    /// (The reader places a block mapping at its first colon, so the line is what counts.)
    pub fn dash_indent(&self, line: u32) -> usize {
        let s = &self.0[line as usize - 1];
        if s.trim_start().starts_with('-') {
            indent(s)
        } else {
            indent(s).saturating_sub(2)
        }
    }

    /// The line range of the sequence item that starts on `line`.
    pub fn item_range(&self, line: u32) -> (usize, usize) {
        let i = line as usize - 1;
        (i, self.block_end(i, self.dash_indent(line), false))
    }

    /// In the item starting on `line`, replaces the value matched by
    /// `pattern`'s second group (the first is kept); false when no line matches.
    pub fn replace_in_item(&mut self, line: u32, pattern: &regex::Regex, value: &str) -> bool {
        self.replace_in_item_noted(line, pattern, value, &super::Note::default())
    }

    /// [`Self::replace_in_item`], with the note as the line's comment when it has none yet.
    pub fn replace_in_item_noted(&mut self, line: u32, pattern: &regex::Regex, value: &str, note: &super::Note) -> bool {
        let (from, to) = self.item_range(line);
        for i in from..=to {
            if let Some(m) = pattern.find(&self.0[i]) {
                let after = &self.0[i][m.end()..];
                let commented = after.contains(" #") || after.trim_start().starts_with('#');
                // `$` in a value is literal text, not a group reference.
                let mut new = pattern.replace(&self.0[i], |c: &regex::Captures| format!("{}{value}", &c[1])).into_owned();
                if !commented {
                    new.push_str(&comment(note));
                }
                self.0[i] = new;
                return true;
            }
        }
        false
    }
}
