//! What a mock server serves beside its tools: resources (`resources/list`,
//! `resources/read`), resource templates (`resources/templates/list`) and
//! prompts (`prompts/list`, `prompts/get`).
//!
//! Like tools, their MCP members are served exactly as written, in the
//! order written, so a recorded resource lists (and reads) as the real
//! server's did. Each carries a risk class, so requirements and scenarios
//! can select them. These are the side doors a policy that gates
//! `tools/call` alone never sees.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::ordered::{Node, OrderedJson};
use super::spec::Risk;

/// What an agent's request reaches on a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    #[default]
    Tool,
    Resource,
    Prompt,
}

impl Surface {
    pub const ALL: [Surface; 3] = [Surface::Tool, Surface::Resource, Surface::Prompt];

    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Tool => "tool",
            Surface::Resource => "resource",
            Surface::Prompt => "prompt",
        }
    }

    /// The request that uses one item of the surface.
    pub fn method(self) -> &'static str {
        match self {
            Surface::Tool => "tools/call",
            Surface::Resource => "resources/read",
            Surface::Prompt => "prompts/get",
        }
    }

    /// The request that lists the surface.
    pub fn list_method(self) -> &'static str {
        match self {
            Surface::Tool => "tools/list",
            Surface::Resource => "resources/list",
            Surface::Prompt => "prompts/list",
        }
    }

    /// The member of a list result holding the items.
    pub fn list_member(self) -> &'static str {
        match self {
            Surface::Tool => "tools",
            Surface::Resource => "resources",
            Surface::Prompt => "prompts",
        }
    }

    /// The member of a list entry that names an item (what the ledger records).
    pub fn key_member(self) -> &'static str {
        match self {
            Surface::Resource => "uri",
            Surface::Tool | Surface::Prompt => "name",
        }
    }
}

impl fmt::Display for Surface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn read() -> Risk {
    Risk::Read
}

/// One resource as `resources/list` shows it, plus what `resources/read` answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    pub uri: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, rename = "mimeType", skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<OrderedJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<OrderedJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<OrderedJson>,
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<OrderedJson>,
    /// A read has no side effect unless the file says otherwise.
    #[serde(default = "read")]
    pub risk: Risk,
    /// The whole `resources/read` result, exactly (a recording keeps the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<OrderedJson>,
    /// Without `answer`: the text of the one content item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The MCP members in the order the file wrote them (empty: MCP's order).
    #[serde(skip)]
    pub order: Vec<String>,
}

/// The MCP `Resource` members, in the order MCP lists them.
pub const RESOURCE_MEMBERS: [&str; 9] = ["uri", "name", "title", "description", "mimeType", "size", "annotations", "icons", "_meta"];

/// One resource template as `resources/templates/list` shows it; a read of a
/// URI it matches (RFC 6570 level 1 and `{+var}`) is answered from `text`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    #[serde(rename = "uriTemplate")]
    pub uri_template: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, rename = "mimeType", skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<OrderedJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<OrderedJson>,
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<OrderedJson>,
    #[serde(default = "read")]
    pub risk: Risk,
    /// Text of a read's one content item; `{{uri}}` and `{{VAR}}` are filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip)]
    pub order: Vec<String>,
}

/// The MCP `ResourceTemplate` members, in the order MCP lists them.
pub const TEMPLATE_MEMBERS: [&str; 8] = ["uriTemplate", "name", "title", "description", "mimeType", "annotations", "icons", "_meta"];

/// One prompt as `prompts/list` shows it, plus what `prompts/get` answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// MCP `PromptArgument`s (`name`, `description`, `required`), sent as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<OrderedJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<OrderedJson>,
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<OrderedJson>,
    #[serde(default = "read")]
    pub risk: Risk,
    /// The whole `prompts/get` result, exactly (a recording keeps the server's answer to a get without arguments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<OrderedJson>,
    /// Without `answer`: the text of one user message; `{{args.x}}` is filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip)]
    pub order: Vec<String>,
}

/// The MCP `Prompt` members, in the order MCP lists them.
pub const PROMPT_MEMBERS: [&str; 6] = ["name", "title", "description", "arguments", "icons", "_meta"];

/// An item listed with its MCP members as written: resources, templates, prompts.
pub trait Listed {
    /// The MCP members it may carry, in MCP's order.
    const MEMBERS: &'static [&'static str];
    /// The members in the order the file (or the server) wrote them; empty: MCP's order.
    fn order(&self) -> &[String];
    /// One member's value as written, if the item has it.
    fn member(&self, key: &str) -> Option<Node>;

    /// The members in written order, each with its value.
    fn members(&self) -> Vec<(&str, Node)> {
        let keys: Vec<&str> = if self.order().is_empty() { Self::MEMBERS.to_vec() } else { self.order().iter().map(String::as_str).collect() };
        keys.into_iter().filter_map(|k| self.member(k).map(|v| (k, v))).collect()
    }

    /// The list entry as JSON text (`with_title` from protocol 2025-06-18 on).
    fn list_entry(&self, with_title: bool) -> String {
        let members: Vec<String> = self
            .members()
            .into_iter()
            .filter(|(k, _)| with_title || *k != "title")
            .map(|(k, v)| format!("{}:{}", json_text(k), serde_json::to_string(&v).unwrap_or_default()))
            .collect();
        format!("{{{}}}", members.join(","))
    }
}

/// A string as JSON text.
pub fn json_text(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn text(s: &Option<String>) -> Option<Node> {
    s.as_deref().map(|s| Node::String(s.to_string()))
}

fn json(j: &Option<OrderedJson>) -> Option<Node> {
    j.as_ref().map(|j| j.node().clone())
}

impl Listed for ResourceSpec {
    const MEMBERS: &'static [&'static str] = &RESOURCE_MEMBERS;
    fn order(&self) -> &[String] {
        &self.order
    }
    fn member(&self, key: &str) -> Option<Node> {
        match key {
            "uri" => Some(Node::String(self.uri.clone())),
            "name" => Some(Node::String(self.name.clone())),
            "title" => text(&self.title),
            "description" => text(&self.description),
            "mimeType" => text(&self.mime_type),
            "size" => json(&self.size),
            "annotations" => json(&self.annotations),
            "icons" => json(&self.icons),
            "_meta" => json(&self.meta),
            _ => None,
        }
    }
}

impl Listed for TemplateSpec {
    const MEMBERS: &'static [&'static str] = &TEMPLATE_MEMBERS;
    fn order(&self) -> &[String] {
        &self.order
    }
    fn member(&self, key: &str) -> Option<Node> {
        match key {
            "uriTemplate" => Some(Node::String(self.uri_template.clone())),
            "name" => Some(Node::String(self.name.clone())),
            "title" => text(&self.title),
            "description" => text(&self.description),
            "mimeType" => text(&self.mime_type),
            "annotations" => json(&self.annotations),
            "icons" => json(&self.icons),
            "_meta" => json(&self.meta),
            _ => None,
        }
    }
}

impl Listed for PromptSpec {
    const MEMBERS: &'static [&'static str] = &PROMPT_MEMBERS;
    fn order(&self) -> &[String] {
        &self.order
    }
    fn member(&self, key: &str) -> Option<Node> {
        match key {
            "name" => Some(Node::String(self.name.clone())),
            "title" => text(&self.title),
            "description" => text(&self.description),
            "arguments" => json(&self.arguments),
            "icons" => json(&self.icons),
            "_meta" => json(&self.meta),
            _ => None,
        }
    }
}

impl ResourceSpec {
    /// The `resources/read` result as JSON text.
    pub fn read_result(&self) -> String {
        match &self.answer {
            Some(answer) => answer.to_json(),
            None => {
                let text = self.text.clone().unwrap_or_else(|| format!("contents of {}", self.uri));
                one_content(&self.uri, self.mime_type.as_deref(), &text)
            }
        }
    }
}

/// `{"contents":[{"uri":…,"mimeType":…,"text":…}]}`.
fn one_content(uri: &str, mime: Option<&str>, text: &str) -> String {
    let mut item = json!({"uri": uri, "text": text});
    if let Some(m) = mime {
        item["mimeType"] = json!(m);
    }
    json!({"contents": [item]}).to_string()
}

impl TemplateSpec {
    /// The variables when `uri` matches the template: `{var}` takes one or
    /// more characters other than `/`, `{+var}` any (RFC 6570 reserved expansion).
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        match_template(&self.uri_template, uri)
    }

    /// The `resources/read` result for `uri`, whose variables are `vars`.
    pub fn read_result(&self, uri: &str, vars: &[(String, String)]) -> String {
        let mut text = self.text.clone().unwrap_or_else(|| "contents of {{uri}}".into()).replace("{{uri}}", uri);
        for (k, v) in vars {
            text = text.replace(&format!("{{{{{k}}}}}"), v);
        }
        one_content(uri, self.mime_type.as_deref(), &text)
    }
}

fn match_template(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
    let Some(open) = template.find('{') else {
        return (template == uri).then(Vec::new);
    };
    let close = open + template[open..].find('}')?;
    let (literal, expr, rest) = (&template[..open], &template[open + 1..close], &template[close + 1..]);
    let tail = uri.strip_prefix(literal)?;
    let (name, reserved) = match expr.strip_prefix('+') {
        Some(n) => (n, true),
        None => (expr, false),
    };
    // The shortest value that lets the rest match, as a reader scanning left to right would take.
    for end in (1..=tail.len()).filter(|e| tail.is_char_boundary(*e)) {
        let value = &tail[..end];
        if !reserved && value.contains('/') {
            break;
        }
        if let Some(mut more) = match_template(rest, &tail[end..]) {
            more.insert(0, (name.to_string(), value.to_string()));
            return Some(more);
        }
    }
    None
}

impl PromptSpec {
    /// The declared arguments marked `required: true`.
    pub fn required_arguments(&self) -> Vec<String> {
        let Some(args) = self.arguments.as_ref().and_then(|a| a.as_array()) else { return Vec::new() };
        args.iter()
            .filter(|a| a["required"] == Value::Bool(true))
            .filter_map(|a| a["name"].as_str().map(str::to_string))
            .collect()
    }

    /// The `prompts/get` result as JSON text; `Err` names a missing required argument.
    pub fn get_result(&self, arguments: &Value) -> Result<String, String> {
        if let Some(missing) = self.required_arguments().into_iter().find(|a| arguments.get(a).is_none()) {
            return Err(format!("missing required argument `{missing}` of prompt `{}`", self.name));
        }
        if let Some(answer) = &self.answer {
            return Ok(answer.to_json());
        }
        let template = self.text.clone().unwrap_or_else(|| format!("prompt {}: {{{{args}}}}", self.name));
        let text = super::server::render(&template, &self.name, arguments);
        let messages = json!([{"role": "user", "content": {"type": "text", "text": text}}]).to_string();
        let description = self.description.as_deref().map(|d| format!("\"description\":{},", json_text(d))).unwrap_or_default();
        Ok(format!("{{{description}\"messages\":{messages}}}"))
    }
}

/// A URI as a lenient server reads it: trimmed, percent-decoded (where the
/// bytes are UTF-8), lower case, `.` segments dropped, `..` applied and
/// repeated slashes in the path folded. A strict server compares exactly.
pub fn normalise_uri(uri: &str) -> String {
    let decoded = percent_decode(uri.trim()).to_lowercase();
    let (scheme, rest) = match decoded.split_once("://") {
        Some((s, r)) => (Some(s.to_string()), r.to_string()),
        None => (None, decoded),
    };
    let rooted = rest.starts_with('/');
    let mut segments: Vec<&str> = Vec::new();
    for seg in rest.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let path = format!("{}{}", if rooted { "/" } else { "" }, segments.join("/"));
    match scheme {
        Some(s) => format!("{s}://{path}"),
        None => path,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_level_one_and_reserved_expansion() {
        let m = |t: &str, u: &str| match_template(t, u);
        assert_eq!(m("file:///{+path}", "file:///etc/passwd"), Some(vec![("path".into(), "etc/passwd".into())]));
        assert_eq!(m("demo://text/{id}", "demo://text/7"), Some(vec![("id".into(), "7".into())]));
        assert_eq!(m("demo://text/{id}", "demo://text/7/8"), None, "`{{id}}` takes no slash");
        assert_eq!(m("a/{x}/b/{y}", "a/1/b/2"), Some(vec![("x".into(), "1".into()), ("y".into(), "2".into())]));
        assert_eq!(m("demo://text/{id}", "demo://text/"), None, "a variable takes at least one character");
        assert_eq!(m("fixed://x", "fixed://x"), Some(vec![]));
    }

    #[test]
    fn lenient_uris_fold_case_encoding_and_dot_segments() {
        for variant in ["FILE:///etc/passwd", "file:///etc/./passwd", "file:///%65tc/passwd", " file:///etc//passwd", "file:///tmp/../etc/passwd"] {
            assert_eq!(normalise_uri(variant), "file:///etc/passwd", "{variant}");
        }
        assert_eq!(normalise_uri("demo://resource/static/a.md"), "demo://resource/static/a.md");
    }

    #[test]
    fn prompts_answer_with_their_messages_or_a_rendered_text() {
        let p: PromptSpec = serde_yaml::from_str(
            "name: greet\narguments: [{name: city, required: true}, {name: state}]\ntext: 'weather in {{args.city}}'\n",
        )
        .unwrap();
        assert_eq!(p.required_arguments(), ["city"]);
        let got: Value = serde_json::from_str(&p.get_result(&json!({"city": "Oslo"})).unwrap()).unwrap();
        assert_eq!(got["messages"][0]["content"]["text"], "weather in Oslo");
        assert!(p.get_result(&json!({})).unwrap_err().contains("`city`"));
    }
}
