//! The mock-server file format (`mock-servers/*.yaml`): server info, tools,
//! what each tool answers, and the misbehaviours attacks need.
//!
//! Loading is strict (unknown keys are errors, with file:line:column), so a
//! typo in a server file never silently turns a behaviour off. This module
//! only describes servers; it runs nothing (see `server.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ordered::OrderedJson;
use crate::mcp::stdio::LineEnds;
use super::surface::{PromptSpec, ResourceSpec, TemplateSpec};
use super::roles::{schema_at, FieldRole};

/// A whole server file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub title: Option<String>,
    /// `instructions` sent in the initialize result (may carry poisoned text).
    #[serde(default)]
    pub instructions: Option<String>,
    pub tools: Vec<ToolSpec>,
    /// What `resources/list` lists and `resources/read` reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceSpec>,
    /// What `resources/templates/list` lists; reads of matching URIs are answered too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_templates: Vec<TemplateSpec>,
    /// What `prompts/list` lists and `prompts/get` answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<PromptSpec>,
    #[serde(default)]
    pub behaviour: Behaviour,
    /// Where a recorded server came from (`gauntlet mock record`).
    #[serde(default)]
    pub recorded: Option<Provenance>,
}

/// The real server a mock was recorded from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The package and exact version, e.g. `@modelcontextprotocol/server-memory@2026.8.31`.
    #[serde(default)]
    pub package: Option<String>,
    /// The command that started a stdio server, one argument per item.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// The URL of a Streamable HTTP server.
    #[serde(default)]
    pub url: Option<String>,
    /// The protocol version the recording negotiated.
    pub protocol: String,
    /// `serverInfo` exactly as the server sent it.
    pub server_info: OrderedJson,
}

/// One tool as listed in `tools/list`, plus what it answers when called.
///
/// The MCP members (name … `_meta`) are served exactly as written, in the
/// order written, so a recorded tool lists as the real server listed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "inputSchema")]
    pub input_schema: OrderedJson,
    #[serde(default, rename = "outputSchema")]
    pub output_schema: Option<OrderedJson>,
    /// MCP `ToolAnnotations`, sent as written (hints are untrusted by design).
    #[serde(default)]
    pub annotations: Option<OrderedJson>,
    /// MCP `execution` (task support), sent as written.
    #[serde(default)]
    pub execution: Option<OrderedJson>,
    #[serde(default)]
    pub icons: Option<OrderedJson>,
    #[serde(default, rename = "_meta")]
    pub meta: Option<OrderedJson>,
    pub risk: Risk,
    /// What some of its argument fields are (where a value goes, a secret,
    /// an amount, text that leaves), by field path (`to`, `payee.iban`,
    /// `attendees[].email`). Not written: inferred when the file is loaded
    /// ([`ToolSpec::field_roles`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<BTreeMap<String, FieldRole>>,
    /// Marks a tool invented for the mock (not in the catalogue it imitates).
    #[serde(default)]
    pub stand_in: bool,
    /// The tool reads data private to the user (a mailbox, a profile, a
    /// private channel): a source of `flows:` in `gauntlet.yaml`. Never
    /// served in `tools/list`; the file says why in a comment beside it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    #[serde(default)]
    pub response: ResponseSpec,
    /// The MCP members in the order the file wrote them (empty: MCP's order).
    #[serde(skip)]
    pub order: Vec<String>,
}

/// The MCP `Tool` members a tool file may carry, in the order MCP lists them.
pub const TOOL_MEMBERS: [&str; 9] = [
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
    "execution",
    "icons",
    "_meta",
];

/// What a tool answers. The default is a text block naming the tool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    /// Text of the single content block; `{{args.x}}` is replaced by argument `x`
    /// (`{{args}}` by all arguments as JSON, `{{tool}}` by the tool's name).
    #[serde(default)]
    pub text: Option<String>,
    /// `structuredContent` of the answer (its JSON is also the text block
    /// unless `text` is given); tools with an `outputSchema` need one.
    #[serde(default)]
    pub structured: Option<OrderedJson>,
    /// Answer with a `CallToolResult` carrying `isError: true`.
    #[serde(default)]
    pub is_error: bool,
    /// Answer with a JSON-RPC error instead of a result.
    #[serde(default)]
    pub error: Option<ErrorSpec>,
    /// Simulated latency before the answer.
    #[serde(default)]
    pub latency_ms: u64,
    /// Every Nth call of this tool fails with a JSON-RPC internal error.
    #[serde(default)]
    pub fail_every: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorSpec {
    pub code: i64,
    pub message: String,
}

/// Server-wide misbehaviours, switchable in the file or per run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// After N `tools/call`s the listed definitions replace (by name) or join
    /// the tool set, and `notifications/tools/list_changed` is sent.
    #[serde(default)]
    pub rug_pull: Option<RugPull>,
    /// Definition changes on a schedule: a description rewritten, an
    /// argument added, a schema loosened, a tool removed and re-added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// `tools/list` pages of this size, chained with `nextCursor`.
    #[serde(default)]
    pub page_size: Option<usize>,
    /// Tool lookup by the folded name ([`super::toolset::fold`]: case, surrounding
    /// whitespace, zero-width characters, `-`/`_`/space), like hand-rolled lenient servers.
    #[serde(default)]
    pub lenient_names: bool,
    /// Also resolves each tool under the name a federating gateway registered
    /// as this name gives it ([`super::toolset::namespaced`]: `toy-create-item`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_name: Option<String>,
    /// Which of two duplicate JSON keys the server believes.
    #[serde(default)]
    pub duplicate_keys: DuplicateKeys,
    /// Unknown `params` members are ignored (Python SDK) instead of rejected with -32602.
    #[serde(default)]
    pub ignore_unknown_params: bool,
    /// After N `tools/call`s the server dies: it answers nothing more.
    #[serde(default)]
    pub crash_after: Option<u64>,
    /// Calls of these tools never get an answer.
    #[serde(default)]
    pub hang_on: Vec<String>,
    /// Where a stdio line ends: `lf` (default) or `universal` (also at a
    /// bare `\r`, as the Python SDK's stdio server reads).
    #[serde(default, skip_serializing_if = "is_lf")]
    pub line_ends: LineEnds,
}

fn is_lf(ends: &LineEnds) -> bool {
    *ends == LineEnds::Lf
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RugPull {
    pub after_calls: u64,
    pub tools: Vec<ToolSpec>,
}

/// One change of the served tool definitions, made once (when its one
/// trigger is met) and announced with `notifications/tools/list_changed`
/// unless `notify: false` (a silent change).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// After this many `tools/call`s that found a tool (all sessions
    /// together), right after the last of them is answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_calls: Option<u64>,
    /// After this many `tools/list` answers, right after the last of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_lists: Option<u64>,
    /// Before the first message this many seconds after the server's first message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seconds: Option<f64>,
    #[serde(default = "notify_by_default", skip_serializing_if = "Clone::clone")]
    pub notify: bool,
    /// Definitions replacing the tool of the same name, or joining the list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Tools leaving the list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

fn notify_by_default() -> bool {
    true
}

/// First-wins or last-wins for duplicate object keys (JS, Python and Go: last).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicateKeys {
    First,
    #[default]
    Last,
}

/// The catalogue's risk categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Read,
    Write,
    Execute,
    Financial,
    Destructive,
    /// Changes a password, key or token: a person does that, not an agent.
    Credential,
}

impl Risk {
    pub const ALL: [Risk; 6] = [
        Risk::Read,
        Risk::Write,
        Risk::Execute,
        Risk::Financial,
        Risk::Destructive,
        Risk::Credential,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Read => "read",
            Risk::Write => "write",
            Risk::Execute => "execute",
            Risk::Financial => "financial",
            Risk::Destructive => "destructive",
            Risk::Credential => "credential",
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Risk {
    type Err = String;
    fn from_str(s: &str) -> Result<Risk, String> {
        Risk::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown risk category `{s}`: expected one of read, write, execute, financial, destructive, credential"))
    }
}

/// A server file that could not be loaded, with where and what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockError {
    pub path: PathBuf,
    /// 1-based line and column, when the problem has a place.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}:{}", self.column.unwrap_or(1))?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MockError {}

impl MockError {
    fn over_limit(path: &Path, e: &crate::yaml::Error) -> MockError {
        MockError {
            path: path.to_path_buf(),
            line: Some(e.line as usize),
            column: Some(e.column as usize),
            message: e.to_string(),
            help: Some(e.help().into()),
        }
    }
}

impl ServerSpec {
    /// Reads and checks a server file.
    pub fn load(path: &Path) -> Result<ServerSpec, MockError> {
        let text = crate::yaml::read_file(path).map_err(|e| match e {
            crate::yaml::ReadError::Input(e) => MockError::over_limit(path, &e),
            crate::yaml::ReadError::Io(e) => MockError {
                path: path.to_path_buf(),
                line: None,
                column: None,
                message: format!("cannot read the server file: {e}"),
                help: Some("pass the path of a file such as `mock-servers/aksjah.yaml`".into()),
            },
        })?;
        ServerSpec::parse(&text, path)
    }

    /// Parses server-file text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ServerSpec, MockError> {
        crate::yaml::check(text).map_err(|e| MockError::over_limit(path, &e))?;
        let mut spec: ServerSpec =
            serde_yaml::from_str(text).map_err(|e| yaml_error(&e, path))?;
        spec.check(text, path)?;
        spec.check_schemas(text, path)?;
        // serde_yaml's own Value keeps mapping order: the second pass only
        // learns the order each tool's members were written in.
        if let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(text) {
            let written = |items: &serde_yaml::Value, i: usize, members: &[&str]| -> Vec<String> {
                items[i]
                    .as_mapping()
                    .map(|m| {
                        m.keys()
                            .filter_map(|k| k.as_str())
                            .filter(|k| members.contains(k))
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            for (i, tool) in spec.tools.iter_mut().enumerate() {
                tool.order = written(&doc["tools"], i, &TOOL_MEMBERS);
            }
            if let Some(rug) = spec.behaviour.rug_pull.as_mut() {
                for (i, tool) in rug.tools.iter_mut().enumerate() {
                    tool.order = written(&doc["behaviour"]["rug_pull"]["tools"], i, &TOOL_MEMBERS);
                }
            }
            for (c, change) in spec.behaviour.changes.iter_mut().enumerate() {
                for (i, tool) in change.tools.iter_mut().enumerate() {
                    tool.order = written(&doc["behaviour"]["changes"][c]["tools"], i, &TOOL_MEMBERS);
                }
            }
            for (i, r) in spec.resources.iter_mut().enumerate() {
                r.order = written(&doc["resources"], i, &super::surface::RESOURCE_MEMBERS);
            }
            for (i, t) in spec.resource_templates.iter_mut().enumerate() {
                t.order = written(&doc["resource_templates"], i, &super::surface::TEMPLATE_MEMBERS);
            }
            for (i, p) in spec.prompts.iter_mut().enumerate() {
                p.order = written(&doc["prompts"], i, &super::surface::PROMPT_MEMBERS);
            }
        }
        Ok(spec)
    }

    /// Tools whose input schemas are written alike (key order included) hold
    /// one copy, shared: a server of many tools of a few shapes then costs a
    /// schema per shape, not per tool.
    pub fn share_equal_schemas(&mut self) {
        let mut seen: std::collections::HashMap<String, OrderedJson> = std::collections::HashMap::new();
        for tool in &mut self.tools {
            let first = seen.entry(tool.input_schema.to_json()).or_insert_with(|| tool.input_schema.clone());
            tool.input_schema = first.clone();
        }
    }

    /// Every tool definition the file holds, served now or after a change:
    /// where it is written (the list's path and its index) and the tool.
    fn every_definition(&self) -> Vec<(Vec<String>, usize, &ToolSpec)> {
        let path = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let mut out: Vec<(Vec<String>, usize, &ToolSpec)> = self.tools.iter().enumerate().map(|(i, t)| (path(&["tools"]), i, t)).collect();
        if let Some(r) = &self.behaviour.rug_pull {
            out.extend(r.tools.iter().enumerate().map(|(i, t)| (path(&["behaviour", "rug_pull", "tools"]), i, t)));
        }
        for (c, change) in self.behaviour.changes.iter().enumerate() {
            let at = path(&["behaviour", "changes", &c.to_string(), "tools"]);
            out.extend(change.tools.iter().enumerate().map(|(i, t)| (at.clone(), i, t)));
        }
        out
    }

    /// Checks what serde cannot: unique names, object schemas, sane counts;
    /// each problem at the place it is written.
    fn check(&self, text: &str, path: &Path) -> Result<(), MockError> {
        let at = |steps: Vec<String>, message: String, help: &str| {
            let (line, column) = position(text, &steps);
            MockError { path: path.to_path_buf(), line: Some(line), column: Some(column), message, help: Some(help.to_string()) }
        };
        let step = |parts: &[&str], i: usize, last: &str| {
            parts.iter().map(|p| p.to_string()).chain([i.to_string(), last.to_string()]).collect::<Vec<_>>()
        };
        let mut seen = std::collections::BTreeSet::new();
        for (i, tool) in self.tools.iter().enumerate() {
            if !seen.insert(tool.name.as_str()) {
                return Err(at(
                    step(&["tools"], i, "name"),
                    format!("tool `{}` is defined twice", tool.name),
                    "give every tool a unique `name`",
                ));
            }
        }
        for (parts, i, tool) in self.every_definition() {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            let parts = &parts[..];
            if tool.input_schema.get("type").and_then(Value::as_str) != Some("object") {
                return Err(at(
                    step(parts, i, "inputSchema"),
                    format!("tool `{}` has an `inputSchema` that is not `type: object`", tool.name),
                    "MCP requires a JSON Schema object; write `inputSchema: {type: object, properties: {...}}`",
                ));
            }
            for (path, role) in tool.roles.iter().flatten() {
                let mut steps = step(parts, i, "roles");
                steps.push(path.clone());
                if schema_at(tool.input_schema.value(), path).is_none() {
                    return Err(at(
                        steps,
                        format!("tool `{}` gives a role to `{path}`, which its `inputSchema` does not declare", tool.name),
                        "name a field of the schema: `to`, `payee.iban` through objects, `attendees[].email` into lists",
                    ));
                }
                if let Err(why) = role.check() {
                    return Err(at(steps, format!("tool `{}`, role of `{path}`: {why}", tool.name), "see mock-servers/banking.yaml for roles written out"));
                }
            }
            if tool.response.fail_every == Some(0) {
                let mut steps = step(parts, i, "response");
                steps.push("fail_every".into());
                return Err(at(
                    steps,
                    format!("tool `{}` has `fail_every: 0`", tool.name),
                    "use a count of 1 or more, or remove the key",
                ));
            }
        }
        let mut uris = std::collections::BTreeSet::new();
        for (i, r) in self.resources.iter().enumerate() {
            if !uris.insert(r.uri.as_str()) {
                return Err(at(step(&["resources"], i, "uri"), format!("resource `{}` is listed twice", r.uri), "give every resource a unique `uri`"));
            }
        }
        let mut prompts = std::collections::BTreeSet::new();
        for (i, p) in self.prompts.iter().enumerate() {
            if !prompts.insert(p.name.as_str()) {
                return Err(at(step(&["prompts"], i, "name"), format!("prompt `{}` is defined twice", p.name), "give every prompt a unique `name`"));
            }
        }
        for (i, t) in self.resource_templates.iter().enumerate() {
            let open = t.uri_template.matches('{').count();
            if open != t.uri_template.matches('}').count() {
                return Err(at(
                    step(&["resource_templates"], i, "uriTemplate"),
                    format!("resource template `{}` has unbalanced braces", t.uri_template),
                    "write each variable as `{name}` (or `{+name}` to let it span `/`)",
                ));
            }
        }
        for (c, change) in self.behaviour.changes.iter().enumerate() {
            let triggers = [change.after_calls.is_some(), change.after_lists.is_some(), change.after_seconds.is_some()];
            let here = vec!["behaviour".to_string(), "changes".into(), c.to_string()];
            if triggers.iter().filter(|t| **t).count() != 1 {
                return Err(at(here, format!("change {} needs exactly one trigger", c + 1), "give it one of `after_calls`, `after_lists` or `after_seconds`"));
            }
            if change.after_seconds.is_some_and(|s| !s.is_finite() || s < 0.0) {
                return Err(at(here, format!("change {} has a negative or infinite `after_seconds`", c + 1), "use a number of seconds of 0 or more"));
            }
            if change.tools.is_empty() && change.remove.is_empty() {
                return Err(at(here, format!("change {} changes nothing", c + 1), "list definitions under `tools` or names under `remove`"));
            }
        }
        if self.behaviour.page_size == Some(0) {
            return Err(at(
                vec!["behaviour".into(), "page_size".into()],
                "`page_size` is 0".into(),
                "use a page size of 1 or more, or remove the key",
            ));
        }
        Ok(())
    }

    /// Every `inputSchema` must be a JSON Schema gauntlet can compile: a
    /// typo such as `type: integr` would otherwise turn every argument check
    /// against the tool into "not applicable" without a word.
    fn check_schemas(&self, text: &str, path: &Path) -> Result<(), MockError> {
        for (mut at, i, tool) in self.every_definition() {
            at.push(i.to_string());
            let schema = tool.input_schema.value();
            let problem = match jsonschema::meta::try_validate(schema) {
                Err(e) => Some((String::new(), format!("its `$schema` is not a meta-schema gauntlet knows: {e}"))),
                Ok(Err(e)) => Some((e.instance_path.as_str().to_string(), e.to_string())),
                Ok(Ok(())) => jsonschema::validator_for(schema)
                    .err()
                    .map(|e| (e.instance_path.as_str().to_string(), e.to_string())),
            };
            let Some((pointer, why)) = problem else { continue };
            at.push("inputSchema".into());
            at.extend(pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")));
            let (line, column) = position(text, &at);
            let shown = if pointer.is_empty() { String::new() } else { format!(" at `{pointer}`") };
            return Err(MockError {
                path: path.to_path_buf(),
                line: Some(line),
                column: Some(column),
                message: format!("tool `{}` has an `inputSchema` that is not a valid JSON Schema{shown}: {why}", tool.name),
                help: Some("fix the schema (e.g. `type: integer`, `minimum: 1`); without it no argument check can run".into()),
            });
        }
        Ok(())
    }

    /// The tool with this exact name.
    pub fn tool(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.iter().find(|t| t.name == name)
    }
}

impl ToolSpec {
    /// Its fields' roles: as the file writes them, or, when it writes none,
    /// inferred from the schema, names and annotations (with the reasons).
    pub fn field_roles(&self) -> FieldRoles {
        match &self.roles {
            Some(written) => FieldRoles { fields: written.iter().map(|(p, r)| (p.clone(), r.clone(), None)).collect(), inferred: false },
            None => {
                let inferred = super::classify::roles_of(self.risk, self.annotations.as_deref(), self.input_schema.value());
                FieldRoles { fields: inferred.into_iter().map(|i| (i.path, i.role, Some(i.reason))).collect(), inferred: true }
            }
        }
    }
}

/// A tool's field roles and where they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRoles {
    /// Path, role, and the reason when inferred.
    pub fields: Vec<(String, FieldRole, Option<String>)>,
    /// The file wrote no `roles:`: these were guessed on load.
    pub inferred: bool,
}

/// Where the node at `at` (mapping keys and list indices) is written: its
/// deepest existing ancestor's line and column, 1-based.
fn position(text: &str, at: &[String]) -> (usize, usize) {
    use crate::yaml::{parse, Kind};
    let Ok(Some(mut node)) = parse(text) else { return (1, 1) };
    for step in at {
        let next = match &node.kind {
            Kind::Map(entries) => {
                entries.iter().find(|(k, _)| matches!(&k.kind, Kind::Scalar { text, .. } if text == step)).map(|(_, v)| v)
            }
            Kind::Seq(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
            Kind::Scalar { .. } => None,
        };
        match next {
            Some(n) => node = n.clone(),
            None => break,
        }
    }
    (node.line as usize, node.column as usize)
}

fn yaml_error(e: &serde_yaml::Error, path: &Path) -> MockError {
    let text = e.to_string();
    // serde_yaml appends " at line L column C"; the location goes in front instead.
    let message = match text.find(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text.clone(),
    };
    let help =
        if message.contains("unknown variant") && RISK_WORDS.iter().all(|w| message.contains(w)) {
            Some("`risk` is one of read, write, execute, financial, destructive, credential".to_string())
        } else if message.contains("unknown field") {
            Some("remove or correct the key; the expected keys are listed above".to_string())
        } else if message.contains("missing field") {
            Some("add the missing key".to_string())
        } else {
            Some("see mock-servers/aksjah.yaml for a complete example".to_string())
        };
    MockError {
        path: path.to_path_buf(),
        line: e.location().map(|l| l.line()),
        column: e.location().map(|l| l.column()),
        message,
        help,
    }
}

const RISK_WORDS: [&str; 6] = ["read", "write", "execute", "financial", "destructive", "credential"];

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name: t\nversion: '1'\ntools:\n  - name: a\n    description: d\n    inputSchema: {type: object}\n    risk: read\n";

    #[test]
    fn minimal_file_loads_with_defaults() {
        let spec = ServerSpec::parse(MINIMAL, Path::new("t.yaml")).unwrap();
        assert_eq!(spec.tools[0].risk, Risk::Read);
        assert_eq!(spec.behaviour.duplicate_keys, DuplicateKeys::Last);
        assert!(!spec.tools[0].stand_in);
    }

    #[test]
    fn unknown_risk_names_the_place_and_the_valid_categories() {
        let bad = MINIMAL.replace("risk: read", "risk: reed");
        let err = ServerSpec::parse(&bad, Path::new("s.yaml")).unwrap_err();
        assert_eq!(err.line, Some(7));
        let shown = err.to_string();
        assert!(shown.starts_with("s.yaml:7:"), "{shown}");
        assert!(shown.contains("`reed`"), "{shown}");
        assert!(
            shown.contains("read, write, execute, financial, destructive, credential"),
            "{shown}"
        );
    }

    #[test]
    fn unknown_key_is_an_error_with_a_line() {
        let bad = MINIMAL.replace("    risk: read", "    risk: read\n    rsik: write");
        let err = ServerSpec::parse(&bad, Path::new("s.yaml")).unwrap_err();
        assert_eq!(err.line, Some(8));
        assert!(
            err.message.contains("unknown field `rsik`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn duplicate_resources_and_prompts_are_refused_where_written() {
        let twice = format!("{MINIMAL}resources:\n  - {{uri: 'a://x', name: a}}\n  - {{uri: 'a://x', name: b}}\n");
        let err = ServerSpec::parse(&twice, Path::new("s.yaml")).unwrap_err();
        assert_eq!((err.line, err.message.as_str()), (Some(10), "resource `a://x` is listed twice"));
        let braces = format!("{MINIMAL}resource_templates:\n  - {{uriTemplate: 'f:///{{path', name: f}}\n");
        let err = ServerSpec::parse(&braces, Path::new("s.yaml")).unwrap_err();
        assert_eq!(err.line, Some(9), "{err}");
    }

    #[test]
    fn tools_with_schemas_written_alike_share_one_copy() {
        let text = "name: t\nversion: '1'\ntools:\n\
  - {name: a, inputSchema: {type: object, properties: {id: {type: string}}}, risk: read}\n\
  - {name: b, inputSchema: {type: object, properties: {id: {type: string}}}, risk: write}\n\
  - {name: c, inputSchema: {properties: {id: {type: string}}, type: object}, risk: read}\n";
        let mut spec = ServerSpec::parse(text, Path::new("t.yaml")).unwrap();
        let before: Vec<String> = spec.tools.iter().map(|t| t.input_schema.to_json()).collect();
        spec.share_equal_schemas();
        let [a, b, c] = [0, 1, 2].map(|i| &spec.tools[i].input_schema);
        assert!(std::ptr::eq(a.value(), b.value()) && std::ptr::eq(a.node(), b.node()), "a and b are written alike");
        // Equal as values, but written in another order: served as written, so held apart.
        assert_eq!(a.value(), c.value());
        assert!(!std::ptr::eq(a.node(), c.node()));
        assert_eq!(spec.tools.iter().map(|t| t.input_schema.to_json()).collect::<Vec<_>>(), before);
    }

    #[test]
    fn risk_round_trips_through_text() {
        for r in Risk::ALL {
            assert_eq!(r.as_str().parse::<Risk>(), Ok(r));
        }
        assert!("Read".parse::<Risk>().is_err());
    }
}
