//! Writes a recording as a mock server file: YAML that loads back into the
//! very same [`ServerSpec`] (the recorder checks that before writing), with
//! a comment beside each `risk` and each field's role giving the reason for
//! the guess.
//!
//! Strings are always double-quoted with escapes, so no text can turn into
//! another YAML type or lose a character; objects keep their written order.

use std::fmt::Write;

use super::{Reasons, Recording};
use crate::mock::ordered::Node;
use crate::mock::surface::Listed;
use crate::mock::{OrderedJson, Risk, ToolSpec};

const HEADER: &str = "\
# Recorded by `gauntlet mock record` from a real MCP server: its tools as it
# listed them (names, schemas and annotations exactly as sent). Each `risk` and
# each field's role (`roles:` destination, credential, amount, content) is a
# guess, with its reason beside it: correct it where the guess is wrong.
# So is each `private: true` (a read of the user's own data, a source of
# `flows:` in gauntlet.yaml): remove it, or add it, where the guess is wrong.
";

/// The file text, each risk class and field role with its reason beside it.
pub fn to_yaml(recording: &Recording) -> String {
    let (spec, reasons, notes) = (&recording.spec, &recording.reasons, &recording.notes);
    let mut out = String::from(HEADER);
    line(&mut out, 0, "name", &quote(&spec.name));
    line(&mut out, 0, "version", &quote(&spec.version));
    if let Some(t) = &spec.title {
        line(&mut out, 0, "title", &quote(t));
    }
    if let Some(i) = &spec.instructions {
        line(&mut out, 0, "instructions", &quote(i));
    }
    if let Some(p) = &spec.recorded {
        out.push_str("recorded:\n");
        if let Some(package) = &p.package {
            line(&mut out, 2, "package", &quote(package));
        }
        if let Some(command) = &p.command {
            let items: Vec<String> = command.iter().map(|a| quote(a)).collect();
            line(&mut out, 2, "command", &format!("[{}]", items.join(", ")));
        }
        if let Some(url) = &p.url {
            line(&mut out, 2, "url", &quote(url));
        }
        line(&mut out, 2, "protocol", &quote(&p.protocol));
        member(&mut out, 2, "server_info", p.server_info.node());
    }
    // What the name-variant verdicts depend on, and how it was found.
    out.push_str("behaviour:\n");
    let _ = writeln!(out, "  lenient_names: {}  # {}", spec.behaviour.lenient_names, recording.names.note().replace('\n', " "));
    out.push_str("tools:\n");
    for (i, tool) in spec.tools.iter().enumerate() {
        out.push_str("  - ");
        tool_body(&mut out, tool, reasons.get(i).cloned().unwrap_or_default());
    }
    section(&mut out, "resources", &spec.resources, &notes.resources, |r| (r.risk, r.answer.as_ref()));
    section(&mut out, "resource_templates", &spec.resource_templates, &notes.templates, |t| (t.risk, None));
    section(&mut out, "prompts", &spec.prompts, &notes.prompts, |p| (p.risk, p.answer.as_ref()));
    for refused in &notes.refused {
        let _ = writeln!(out, "# {}", refused.replace('\n', " "));
    }
    out
}

/// One list of resources, templates or prompts: each item's MCP members in
/// the order sent, its risk class with its note, and its recorded answer.
fn section<T: Listed>(out: &mut String, key: &str, items: &[T], notes: &[String], rest: impl Fn(&T) -> (Risk, Option<&OrderedJson>)) {
    if !items.is_empty() {
        let _ = writeln!(out, "{key}:");
    }
    for (i, item) in items.iter().enumerate() {
        out.push_str("  - ");
        for (n, (k, v)) in item.members().into_iter().enumerate() {
            if n > 0 {
                out.push_str("    ");
            }
            member_inline(out, 4, k, &v);
        }
        let (risk, answer) = rest(item);
        let note = notes.get(i).map(String::as_str).unwrap_or("");
        let _ = writeln!(out, "    risk: {risk}  # {}", note.replace('\n', " "));
        if let Some(answer) = answer {
            member(out, 4, "answer", answer.node());
        }
    }
}

fn tool_body(out: &mut String, tool: &ToolSpec, reasons: Reasons) {
    let order: Vec<&str> = if tool.order.is_empty() {
        crate::mock::spec::TOOL_MEMBERS.to_vec()
    } else {
        tool.order.iter().map(String::as_str).collect()
    };
    let mut first = true;
    let mut indent = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push_str("    ");
        }
    };
    for key in order {
        let text = |s: &Option<String>| s.as_deref().map(|s| Node::String(s.to_string()));
        let json = |j: &Option<OrderedJson>| j.as_ref().map(|j| j.node().clone());
        let node = match key {
            "name" => Some(Node::String(tool.name.clone())),
            "title" => text(&tool.title),
            "description" => text(&tool.description),
            "inputSchema" => Some(tool.input_schema.node().clone()),
            "outputSchema" => json(&tool.output_schema),
            "annotations" => json(&tool.annotations),
            "execution" => json(&tool.execution),
            "icons" => json(&tool.icons),
            "_meta" => json(&tool.meta),
            _ => None,
        };
        if let Some(node) = node {
            indent(out);
            member_inline(out, 4, key, &node);
        }
    }
    indent(out);
    let _ = writeln!(out, "risk: {}  # {}", tool.risk, reasons.risk.replace('\n', " "));
    if let Some(why) = tool.private.then(|| crate::mock::classify::risk::private(&tool.name, tool.description.as_deref(), tool.risk)).flatten() {
        let _ = writeln!(out, "    private: true  # {why}");
    }
    match &tool.roles {
        Some(roles) if roles.is_empty() => out.push_str("    roles: {}  # none\n"),
        Some(roles) => {
            out.push_str("    roles:\n");
            for (path, role) in roles {
                let mut parts = vec![format!("role: {}", role.role)];
                if let Some(k) = role.kind {
                    parts.push(format!("kind: {k}"));
                }
                if let Some(u) = role.unit {
                    parts.push(format!("unit: {}", if u == crate::mock::roles::Unit::Minor { "minor" } else { "major" }));
                }
                if let Some(d) = role.decimals {
                    parts.push(format!("decimals: {d}"));
                }
                let why = reasons.roles.get(path).map(|r| format!("  # {}", r.replace('\n', " "))).unwrap_or_default();
                let _ = writeln!(out, "      {}: {{{}}}{why}", key_text(path), parts.join(", "));
            }
        }
        None => {}
    }
    if let Some(structured) = &tool.response.structured {
        out.push_str("    response:\n");
        member(out, 6, "structured", structured.node());
    }
}

fn line(out: &mut String, indent: usize, key: &str, value: &str) {
    let _ = writeln!(out, "{:indent$}{}: {value}", "", key_text(key));
}

/// `key: value` at `indent`, the value inline when scalar or flow, else below.
fn member(out: &mut String, indent: usize, key: &str, node: &Node) {
    let _ = write!(out, "{:indent$}", "");
    member_inline(out, indent, key, node);
}

/// [`member`] with the indentation already written; nested lines at `indent + 2`.
fn member_inline(out: &mut String, indent: usize, key: &str, node: &Node) {
    let _ = write!(out, "{}:", key_text(key));
    match node {
        Node::Object(entries) if !entries.is_empty() => {
            out.push('\n');
            for (k, v) in entries {
                member(out, indent + 2, k, v);
            }
        }
        Node::Array(items)
            if items
                .iter()
                .any(|i| matches!(i, Node::Object(e) if !e.is_empty())) =>
        {
            out.push('\n');
            for item in items {
                let _ = write!(out, "{:w$}- ", "", w = indent + 2);
                match item {
                    Node::Object(entries) if !entries.is_empty() => {
                        for (n, (k, v)) in entries.iter().enumerate() {
                            if n > 0 {
                                let _ = write!(out, "{:w$}", "", w = indent + 4);
                            }
                            member_inline(out, indent + 4, k, v);
                        }
                    }
                    other => {
                        let _ = writeln!(out, "{}", flow(other));
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, " {}", flow(other));
        }
    }
}

/// One line of YAML flow style (JSON-like) for any value.
fn flow(node: &Node) -> String {
    match node {
        Node::Null => "null".into(),
        Node::Bool(b) => b.to_string(),
        Node::Number(n) => n.to_string(),
        Node::String(s) => quote(s),
        Node::Array(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        Node::Object(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}: {}", quote(k), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A key plain when it is a simple identifier no YAML reader takes for something else.
fn key_text(key: &str) -> String {
    let simple = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let special = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"]
        .contains(&key.to_ascii_lowercase().as_str());
    if simple && !special {
        key.to_string()
    } else {
        quote(key)
    }
}

/// A YAML double-quoted scalar. Everything a YAML reader might fold, refuse or
/// read as a line break (controls, DEL, C1, NEL, U+2028/9, BOM, U+FFFE/F) is escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20
                || (0x7f..=0x9f).contains(&(c as u32))
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck_macros::quickcheck;

    #[quickcheck]
    fn any_string_survives_quoting(s: String) -> bool {
        serde_yaml::from_str::<String>(&quote(&s)).ok().as_deref() == Some(s.as_str())
    }

    #[test]
    fn nested_values_survive_in_written_order() {
        let text = r#"{"type":"object","properties":{"z":{"type":"array","items":{"anyOf":[{"type":"object","properties":{"true":{"const":null}}},{"type":"string","enum":["a\u0085b","yes",""]}]}},"$ref":{"minimum":-1.5e-7,"maximum":18446744073709551615}},"required":["z"],"additionalProperties":{},"examples":[[1,[2]],[]]}"#;
        let j = OrderedJson::from_json(text).unwrap();
        let mut yaml = String::new();
        member(&mut yaml, 0, "v", j.node());
        #[derive(serde::Deserialize)]
        struct Doc {
            v: OrderedJson,
        }
        let back: Doc = serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(back.v.to_json(), j.to_json(), "\n{yaml}");
    }
}
