//! `gauntlet mock record`: a mock server file from a real server.
//!
//! The counterpart of a scaffold generator: it asks the server itself
//! (`initialize` or `server/discover`, then every page of `tools/list`),
//! keeps each tool's MCP members exactly as sent, guesses a risk class with
//! its reason ([`risk`]), gives tools with an `outputSchema` an answer that
//! conforms to it ([`synth`]), and records where it all came from. The file
//! is written ([`emit`]) only once the whole recording succeeded and loads
//! back into the same server, through a temporary file and a rename.

pub mod emit;
pub mod names;
pub mod surfaces;
pub mod synth;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::mcp::client::{ClientError, Endpoint, Session, StderrTail};
use crate::mcp::version::META_SERVER_INFO;
use crate::mock::ordered::Node;
use crate::mock::spec::TOOL_MEMBERS;
use crate::mock::{Behaviour, OrderedJson, Provenance, ResponseSpec, ServerSpec, ToolSpec};

/// A finished recording: the server and, per tool, why it got its risk
/// class and its fields their roles.
#[derive(Clone, Debug)]
pub struct Recording {
    pub spec: ServerSpec,
    pub reasons: Vec<Reasons>,
    /// The same for the resources, resource templates and prompts.
    pub notes: surfaces::Notes,
    /// Whether the server resolves tool names leniently, and how that was found.
    pub names: names::Names,
}

/// Why one recorded tool got its class and roles.
#[derive(Clone, Debug, Default)]
pub struct Reasons {
    pub risk: String,
    /// Field path → why it has its role.
    pub roles: std::collections::BTreeMap<String, String>,
}

/// The capabilities an opening result declares (`resources`, `prompts`).
fn declares(hello: &Value, capability: &str) -> bool {
    let caps = hello.get("capabilities").or_else(|| hello.get("_meta").and_then(|m| m.get("io.modelcontextprotocol/serverCapabilities")));
    caps.and_then(|c| c.get(capability)).is_some_and(|v| !v.is_null())
}

/// Why a recording failed. Nothing is written when it does.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("the server did not finish answering within {after:?}{}", crate::mcp::client::stderr_note(.stderr))]
    Timeout { after: Duration, stderr: Vec<String> },
    #[error("the server's answer cannot be recorded: {0}")]
    Unrecordable(String),
    #[error("cannot write `{path}`: {reason}")]
    Write { path: String, reason: String },
}

/// More pages than any real server has: a server whose cursors never end is broken.
const MAX_PAGES: usize = 10_000;

/// Records the server at `endpoint`, all of it within `timeout`; with
/// `probe`, also whether it resolves tool names leniently ([`names`]: two
/// `tools/call`s with empty arguments).
pub async fn record(
    endpoint: &Endpoint,
    package: Option<String>,
    timeout: Duration,
    probe: bool,
) -> Result<Recording, RecordError> {
    // The stderr tail outlives the session, so a timeout can show what the server said.
    let tail = StderrTail::default();
    match tokio::time::timeout(timeout, converse(endpoint, package, tail.clone(), probe)).await {
        Ok(result) => result,
        Err(_) => Err(RecordError::Timeout { after: timeout, stderr: tail.lines() }),
    }
}

async fn converse(endpoint: &Endpoint, package: Option<String>, tail: StderrTail, probe: bool) -> Result<Recording, RecordError> {
    let mut session = Session::open_with(endpoint, tail).await?;
    let listed = list_all(&mut session, "tools/list", "tools").await;
    let opening: Value = serde_json::from_str(session.hello.result.get()).unwrap_or(Value::Null);
    let surfaces = match listed.is_ok() {
        true => surfaces::record(&mut session, declares(&opening, "resources"), declares(&opening, "prompts")).await,
        false => Ok(surfaces::Recorded::default()),
    };
    let names = match (&listed, probe) {
        (_, false) => names::Names::NotProbed { why: "--no-probe".into() },
        (Ok((raw, _)), true) => {
            let listed_tools: Vec<ToolSpec> = raw.iter().filter_map(|r| tool_from(r).ok().map(|(t, _)| t)).collect();
            match names::candidate(&listed_tools) {
                Some(t) => names::probe(&mut session, t).await,
                None => names::Names::NotProbed { why: "no listed tool is safe to call with empty arguments: a read, or one with required arguments".into() },
            }
        }
        (Err(_), true) => names::Names::NotProbed { why: "`tools/list` failed".into() },
    };
    let hello = session.hello.clone();
    session.close().await;
    let (raw_tools, list_meta_info) = listed?;
    let surfaces = surfaces?;

    #[derive(Deserialize)]
    struct Hello {
        #[serde(rename = "serverInfo")]
        server_info: Option<OrderedJson>,
        instructions: Option<String>,
        #[serde(rename = "_meta")]
        meta: Option<Value>,
    }
    let h: Hello = serde_json::from_str(hello.result.get()).map_err(|e| {
        RecordError::Unrecordable(format!("the opening result does not parse: {e}"))
    })?;
    let discovered = || {
        h.meta
            .as_ref()
            .and_then(|m| m.get(META_SERVER_INFO))
            .map(|v| OrderedJson::from(v.clone()))
    };
    let server_info = h
        .server_info
        .or_else(discovered)
        .or(list_meta_info)
        .ok_or_else(|| RecordError::Unrecordable("the server sent no `serverInfo`".into()))?;
    let field = |k: &str| {
        server_info
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (Some(name), Some(version)) = (field("name"), field("version")) else {
        return Err(RecordError::Unrecordable(format!(
            "`serverInfo` lacks a string `name` and `version`: {}",
            server_info.to_json()
        )));
    };

    let mut tools = Vec::new();
    let mut reasons = Vec::new();
    for raw in raw_tools {
        let (tool, reason) = tool_from(&raw)?;
        if tools.iter().any(|t: &ToolSpec| t.name == tool.name) {
            return Err(RecordError::Unrecordable(format!(
                "`tools/list` lists `{}` twice",
                tool.name
            )));
        }
        tools.push(tool);
        reasons.push(reason);
    }
    let (command, url) = match endpoint {
        Endpoint::Command(argv) => (Some(argv.clone()), None),
        Endpoint::Http { url, .. } => (None, Some(url.clone())),
    };
    let spec = ServerSpec {
        name,
        version,
        title: field("title"),
        instructions: h.instructions,
        tools,
        resources: surfaces.resources,
        resource_templates: surfaces.templates,
        prompts: surfaces.prompts,
        behaviour: Behaviour { lenient_names: names.lenient(), ..Behaviour::default() },
        recorded: Some(Provenance {
            package,
            command,
            url,
            protocol: hello.protocol.as_str().into(),
            server_info,
        }),
    };
    Ok(Recording { spec, reasons, notes: surfaces.notes, names })
}

/// Every page of a list method (`tools/list` lists `tools`), and the server
/// info a stateless answer carries.
async fn list_all(
    session: &mut Session,
    method: &str,
    member: &str,
) -> Result<(Vec<Box<RawValue>>, Option<OrderedJson>), RecordError> {
    struct Page {
        items: Vec<Box<RawValue>>,
        next_cursor: Option<Value>,
        meta: Option<Value>,
    }
    let page_of = |text: &str| -> Result<Page, String> {
        let mut members: std::collections::HashMap<String, Box<RawValue>> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let items = match members.remove(member) {
            Some(raw) => serde_json::from_str(raw.get()).map_err(|e| format!("`{member}`: {e}"))?,
            None => return Err(format!("missing field `{member}`")),
        };
        let value = |k: &str| members.get(k).and_then(|r| serde_json::from_str::<Value>(r.get()).ok());
        Ok(Page { items, next_cursor: value("nextCursor"), meta: value("_meta") })
    };
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let result = session.request(method, params).await?;
        let page = page_of(result.get()).map_err(|e| {
            RecordError::Unrecordable(format!("a `{method}` result does not parse: {e}"))
        })?;
        tools.extend(page.items);
        let info = page
            .meta
            .as_ref()
            .and_then(|m| m.get(META_SERVER_INFO))
            .map(|v| OrderedJson::from(v.clone()));
        match page.next_cursor {
            None | Some(Value::Null) => return Ok((tools, info)),
            Some(Value::String(c)) => {
                if !seen.insert(c.clone()) {
                    return Err(RecordError::Unrecordable(format!(
                        "`{method}` repeats the cursor `{c}`"
                    )));
                }
                cursor = Some(c);
            }
            Some(other) => {
                return Err(RecordError::Unrecordable(format!(
                    "`nextCursor` is not a string: {other}"
                )));
            }
        }
    }
    Err(RecordError::Unrecordable(format!(
        "`{method}` did not end within {MAX_PAGES} pages"
    )))
}

/// One listed tool, members kept in the form sent and in the order sent, but `name` first.
fn tool_from(raw: &RawValue) -> Result<(ToolSpec, Reasons), RecordError> {
    let bad = |what: String| RecordError::Unrecordable(what);
    let json = OrderedJson::from_json(raw.get())
        .map_err(|e| bad(format!("a tool does not parse: {e}")))?;
    let Node::Object(members) = json.node() else {
        return Err(bad(format!(
            "a listed tool is not an object: {}",
            cut(&json.to_json())
        )));
    };
    let name = match json.get("name") {
        Some(Value::String(n)) => n.clone(),
        _ => {
            return Err(bad(format!(
                "a listed tool has no string `name`: {}",
                cut(&json.to_json())
            )))
        }
    };
    let mut tool = ToolSpec {
        name: name.clone(),
        title: None,
        description: None,
        input_schema: OrderedJson::from(Value::Null),
        output_schema: None,
        annotations: None,
        execution: None,
        icons: None,
        meta: None,
        risk: crate::mock::Risk::Write,
        roles: None,
        stand_in: false,
        private: false,
        response: ResponseSpec::default(),
        order: Vec::new(),
    };
    let text = |v: &Node, key: &str| match v {
        Node::String(s) => Ok(s.clone()),
        _ => Err(bad(format!("tool `{name}`: `{key}` is not a string"))),
    };
    let mut has_input = false;
    for (key, value) in members {
        let keep = || Some(OrderedJson::from(value.clone()));
        match key.as_str() {
            "name" => {}
            "title" => tool.title = Some(text(value, key)?),
            "description" => tool.description = Some(text(value, key)?),
            "inputSchema" => {
                has_input = true;
                tool.input_schema = OrderedJson::from(value.clone());
            }
            "outputSchema" => tool.output_schema = keep(),
            "annotations" => tool.annotations = keep(),
            "execution" => tool.execution = keep(),
            "icons" => tool.icons = keep(),
            "_meta" => tool.meta = keep(),
            other => return Err(bad(format!(
                "tool `{name}` has a member `{other}` a mock server file cannot keep (it keeps {})",
                TOOL_MEMBERS.join(", ")
            ))),
        }
        tool.order.push(key.clone());
    }
    // `name` first, for people reading the file (the writer puts it there); the rest as sent.
    tool.order.retain(|k| k != "name");
    tool.order.insert(0, "name".into());
    if !has_input || tool.input_schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(bad(format!(
            "tool `{name}` has no `inputSchema` of `type: object`, which MCP requires"
        )));
    }
    let c = crate::mock::classify::tool(&name, tool.description.as_deref(), tool.annotations.as_deref(), tool.input_schema.value());
    tool.risk = c.risk;
    tool.private = crate::mock::classify::risk::private(&name, tool.description.as_deref(), c.risk).is_some();
    tool.roles = Some(crate::mock::classify::as_map(&c.roles));
    let reason = Reasons { risk: c.reason, roles: c.roles.into_iter().map(|r| (r.path, r.reason)).collect() };
    if let Some(schema) = &tool.output_schema {
        tool.response.structured = Some(OrderedJson::from(synth::instance(schema)));
    }
    Ok((tool, reason))
}

fn cut(s: &str) -> String {
    if s.chars().count() <= 200 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(200).collect::<String>())
    }
}

/// Writes the recording to `path` atomically (a temporary file beside it, then
/// a rename), after checking that the text loads back into the same server.
pub fn write(recording: &Recording, path: &Path) -> Result<(), RecordError> {
    let shown = path.display().to_string();
    let text = emit::to_yaml(recording);
    let back = ServerSpec::parse(&text, path).map_err(|e| RecordError::Write {
        path: shown.clone(),
        reason: format!("the recording does not load back as a mock server ({e})"),
    })?;
    if back != recording.spec {
        return Err(RecordError::Write {
            path: shown,
            reason: "the recording does not load back into the same server (a gauntlet bug: please report it)".into(),
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let failed = |e: std::io::Error| RecordError::Write {
        path: shown.clone(),
        reason: e.to_string(),
    };
    std::fs::write(&tmp, &text).map_err(failed)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        failed(e)
    })
}
