//! The sans-IO mock server: one incoming message in, the replies out.
//!
//! It never sleeps, reads a clock or touches a socket: latency is returned as
//! `Reply::delay_ms` for the transport (or the in-process testbench) to honour.
//! It answers like a real SDK server would (unknown tools as `isError`
//! results, no input validation), so that whatever a proxy lets through shows
//! up in the ledger as executed; the misbehaviours in the server file are
//! what attacks probe.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::clock::Timestamp;
use crate::caller::CallContext;
use crate::mcp::jsonrpc::{self, codes, Class, DuplicatePolicy, Message, RpcError};
use crate::mcp::version::{self, Gate, Lifecycle, ProtocolVersion};
use crate::mcp::MessageHandler;

pub use crate::mcp::Reply;

use super::ledger::{Ledger, LedgerEntry};
use super::spec::{Behaviour, DuplicateKeys, MockError, ServerSpec, ToolSpec};
use super::surface::Listed;
use super::toolset::ToolSet;

/// MCP's code for a resource that does not exist (2024-11-05 to 2025-11-25).
const RESOURCE_NOT_FOUND: i64 = -32002;

/// `params` members of `tools/call` a server understands.
const CALL_PARAMS: [&str; 4] = ["name", "arguments", "_meta", "task"];

/// A server file prepared once (tools indexed by name) to start many
/// servers from: starting one then costs nothing per tool.
#[derive(Clone, Debug)]
pub struct SharedSpec {
    spec: Arc<ServerSpec>,
    tools: ToolSet,
}

impl SharedSpec {
    pub fn new(spec: ServerSpec) -> SharedSpec {
        let spec = Arc::new(spec);
        SharedSpec { tools: ToolSet::new(spec.clone()), spec }
    }

    pub fn spec(&self) -> &ServerSpec {
        &self.spec
    }
}

#[derive(Clone, Debug)]
pub struct MockServer {
    spec: Arc<ServerSpec>,
    /// The file's behaviour, with any per-run overrides.
    behaviour: Behaviour,
    /// The tools as currently served (they change on a rug pull).
    tools: ToolSet,
    ledger: Ledger,
    crashed: bool,
    rug_pulled: bool,
    /// Which of `behaviour.changes` were made.
    changed: Vec<bool>,
    /// `tools/list` answers, over all sessions.
    lists: u64,
    /// When the first message arrived (scheduled changes count from it).
    first_message: Option<Timestamp>,
    /// Per tool, the definition it is served with now (absent: the file's, 0).
    revisions: HashMap<String, u32>,
    /// Definition changes made so far (numbers the revisions).
    changes_made: u32,
    /// `tools/call`s that found a tool, over all sessions.
    calls: u64,
    calls_per_tool: BTreeMap<String, u64>,
    sessions: HashMap<Option<String>, Lifecycle>,
}

/// What one request did, for the ledger.
#[derive(Default)]
struct Effect {
    tool: Option<String>,
    arguments: Option<Value>,
    executed: bool,
    revision: Option<u32>,
}

/// How a request is being served: inside a handshake session or statelessly.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Era {
    Handshake(ProtocolVersion),
    Stateless,
}

impl MockServer {
    pub fn load(path: &Path) -> Result<MockServer, MockError> {
        ServerSpec::load(path).map(MockServer::from_spec)
    }

    pub fn from_spec(spec: ServerSpec) -> MockServer {
        MockServer::from_shared(&SharedSpec::new(spec))
    }

    /// A fresh server (empty ledger, no sessions) from a prepared file.
    pub fn from_shared(shared: &SharedSpec) -> MockServer {
        MockServer {
            spec: shared.spec.clone(),
            behaviour: shared.spec.behaviour.clone(),
            tools: shared.tools.clone(),
            ledger: Ledger::default(),
            crashed: false,
            rug_pulled: false,
            changed: Vec::new(),
            lists: 0,
            first_message: None,
            revisions: HashMap::new(),
            changes_made: 0,
            calls: 0,
            calls_per_tool: BTreeMap::new(),
            sessions: HashMap::new(),
        }
    }

    pub fn spec(&self) -> &ServerSpec {
        &self.spec
    }

    /// The behaviour, for per-run overrides before the first message.
    pub fn behaviour_mut(&mut self) -> &mut Behaviour {
        &mut self.behaviour
    }

    /// The tool served under exactly `name`.
    pub fn tool(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.get(name)
    }

    /// Replaces the definition of the tool of the same name, or adds it.
    pub fn upsert_tool(&mut self, tool: ToolSpec) {
        self.tools.upsert(tool);
    }

    /// One incoming message (a stdio line or an HTTP body); returns what the server sends back.
    pub fn handle(&mut self, bytes: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        if self.crashed {
            return Vec::new();
        }
        let policy = match self.behaviour.duplicate_keys {
            DuplicateKeys::First => DuplicatePolicy::First,
            DuplicateKeys::Last => DuplicatePolicy::Last,
        };
        let msg = Message::parse_with(bytes, policy);
        self.handle_message(&msg, ctx, now)
    }

    /// One stdio line, split where this server's reader ends lines
    /// (`behaviour.line_ends`); each piece is handled as its own message.
    pub fn handle_line(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        let ends = self.behaviour.line_ends;
        ends.split(line).flat_map(|piece| self.handle(piece, ctx, now)).collect()
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The ledger so far, leaving this server's empty.
    pub fn take_ledger(&mut self) -> Ledger {
        std::mem::take(&mut self.ledger)
    }

    pub fn is_crashed(&self) -> bool {
        self.crashed
    }

    fn record(&mut self, msg: &Message, ctx: &CallContext, now: Timestamp, effect: Effect) {
        self.ledger.entries.push(LedgerEntry {
            time: now,
            session: ctx.session.clone(),
            identity: ctx.identity.clone(),
            method: msg.method().map(str::to_string),
            tool: effect.tool,
            arguments: effect.arguments,
            // Checking first is much faster than the lossy conversion on large valid lines.
            raw: match std::str::from_utf8(msg.raw()) {
                Ok(text) => text.to_string(),
                Err(_) => String::from_utf8_lossy(msg.raw()).into_owned(),
            },
            executed: effect.executed,
            revision: effect.revision,
            shadow: false,
            sent: None,
        });
    }

    fn lifecycle(&self, ctx: &CallContext) -> Lifecycle {
        self.sessions
            .get(&ctx.session)
            .copied()
            .unwrap_or(Lifecycle::AwaitingInitialize)
    }

    fn handle_message(&mut self, msg: &Message, ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        let first = *self.first_message.get_or_insert(now);
        let elapsed = (now.0 - first.0) as f64 / 1e9;
        let mut notes = self.make_changes(|c| c.after_seconds.is_some_and(|s| elapsed >= s));
        notes.extend(self.handle_classified(msg, ctx, now));
        notes
    }

    fn handle_classified(&mut self, msg: &Message, ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        match msg.class() {
            Class::Unparsable => {
                self.record(msg, ctx, now, Effect::default());
                let detail = msg.parse_error().unwrap_or("invalid JSON");
                vec![Reply::now(jsonrpc::error_response(
                    None,
                    &RpcError::parse_error(detail),
                ))]
            }
            Class::Invalid(why) => {
                self.record(msg, ctx, now, Effect::default());
                vec![Reply::now(jsonrpc::error_response(
                    msg.id(),
                    &RpcError::invalid_request(why.describe()),
                ))]
            }
            Class::Batch => self.handle_batch(msg, ctx, now),
            Class::Response | Class::ErrorResponse => {
                self.record(msg, ctx, now, Effect::default());
                Vec::new()
            }
            Class::Notification => {
                self.record(msg, ctx, now, Effect::default());
                if msg.method() == Some("notifications/initialized") {
                    let next = self.lifecycle(ctx).ready();
                    self.sessions.insert(ctx.session.clone(), next);
                }
                // Unknown notifications get no answer: JSON-RPC forbids one.
                Vec::new()
            }
            Class::Request => {
                let (replies, effect) = self.handle_request(msg, ctx);
                self.record(msg, ctx, now, effect);
                replies
            }
        }
    }

    fn handle_batch(&mut self, msg: &Message, ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        self.record(msg, ctx, now, Effect::default());
        let version = self.lifecycle(ctx).version();
        if !version.is_some_and(ProtocolVersion::allows_batches) {
            let shown = version.map_or("none negotiated yet".to_string(), |v| v.to_string());
            let err = RpcError::invalid_request(&format!(
                "batches are not accepted in protocol version {shown}"
            ));
            return vec![Reply::now(jsonrpc::error_response(None, &err))];
        }
        let mut parts = Vec::new();
        let mut delay_ms = 0;
        for element in msg.batch() {
            for reply in self.handle_classified(element, ctx, now) {
                delay_ms = delay_ms.max(reply.delay_ms);
                parts.push(String::from_utf8_lossy(&reply.bytes).into_owned());
            }
        }
        if parts.is_empty() {
            return Vec::new();
        }
        vec![Reply {
            delay_ms,
            bytes: format!("[{}]", parts.join(",")).into_bytes(),
        }]
    }

    fn handle_request(&mut self, msg: &Message, ctx: &CallContext) -> (Vec<Reply>, Effect) {
        let method = msg.method().unwrap_or_default();
        let Some(id) = msg.id().cloned() else {
            return (Vec::new(), Effect::default());
        };
        let fail = |err: RpcError| {
            (
                vec![Reply::now(jsonrpc::error_response(Some(&id), &err))],
                Effect::default(),
            )
        };

        let era = match version::meta_version(msg.params()) {
            Some(requested) => match ProtocolVersion::parse(requested).filter(|v| v.is_stateless())
            {
                Some(_) => Era::Stateless,
                None => {
                    let err = RpcError::new(
                        codes::UNSUPPORTED_PROTOCOL_VERSION,
                        "Unsupported protocol version",
                    )
                    .with_data(json!({"supported": stateless_versions(), "requested": requested}));
                    return fail(err);
                }
            },
            None => match self.lifecycle(ctx).gate(method) {
                Gate::Proceed(v) => Era::Handshake(v),
                Gate::Initialize => {
                    let params = msg.params();
                    let requested = params
                        .and_then(|p| p.get("protocolVersion"))
                        .and_then(Value::as_str);
                    let v = version::negotiate(requested);
                    self.sessions
                        .insert(ctx.session.clone(), self.lifecycle(ctx).initialized(v));
                    let result = self.initialize_result(v);
                    return (
                        vec![Reply::now(jsonrpc::result_response(&id, &result))],
                        Effect::default(),
                    );
                }
                Gate::AlreadyInitialized => {
                    return fail(RpcError::invalid_request(
                        "this session is already initialized",
                    ))
                }
                Gate::SessionClosed => {
                    return fail(RpcError::invalid_request("this session was closed"))
                }
                Gate::BeforeInitialize if !handshake_knows(method) => {
                    return fail(RpcError::method_not_found(method))
                }
                Gate::BeforeInitialize => {
                    return fail(RpcError::invalid_request(&format!(
                        "server not initialized: send `initialize` before `{method}`"
                    )))
                }
            },
        };
        let version = match era {
            Era::Handshake(v) => v,
            Era::Stateless => ProtocolVersion::V2026_07_28,
        };
        if !version.knows_method(method) || !self.serves(method) {
            return fail(RpcError::method_not_found(method));
        }
        let outcome = match method {
            "ping" | "logging/setLevel" => Ok((json!({}), Effect::default(), 0)),
            "server/discover" => Ok((self.discover_result(), Effect::default(), 0)),
            "tools/list" => {
                // Tools go out as written (key order included), so this
                // answer is assembled as text rather than as a `Value`.
                let (tools, mut rest) = match self.tools_list(msg.params(), era) {
                    Ok(listed) => listed,
                    Err(err) => return fail(err),
                };
                if era == Era::Stateless {
                    self.stamp_stateless(&mut rest);
                }
                let result = list_result_text("tools", &tools, &rest);
                let bytes = jsonrpc::result_response_text(&id, &result);
                self.lists += 1;
                let lists = self.lists;
                let mut replies = vec![Reply::now(bytes)];
                if era != Era::Stateless {
                    replies.extend(self.make_changes(|c| c.after_lists.is_some_and(|n| lists >= n)));
                }
                return (replies, Effect::default());
            }
            "resources/list" | "resources/templates/list" | "prompts/list" => {
                let with_title = match era {
                    Era::Handshake(v) => v >= ProtocolVersion::V2025_06_18,
                    Era::Stateless => true,
                };
                let listed = match method {
                    "resources/list" => self.listing(&self.spec.resources, msg.params(), |r| r.list_entry(with_title)),
                    "resources/templates/list" => self.listing(&self.spec.resource_templates, msg.params(), |t| t.list_entry(with_title)),
                    _ => self.listing(&self.spec.prompts, msg.params(), |p| p.list_entry(with_title)),
                };
                let (entries, mut rest) = match listed {
                    Ok(l) => l,
                    Err(err) => return fail(err),
                };
                if era == Era::Stateless {
                    rest["ttlMs"] = json!(0);
                    rest["cacheScope"] = json!("private");
                    self.stamp_stateless(&mut rest);
                }
                let member = if method == "resources/templates/list" { "resourceTemplates" } else { method.split('/').next().unwrap_or_default() };
                let result = list_result_text(member, &entries, &rest);
                return (vec![Reply::now(jsonrpc::result_response_text(&id, &result))], Effect::default());
            }
            "resources/read" | "prompts/get" => {
                let (answer, effect) = if method == "resources/read" { self.read_resource(msg.params()) } else { self.get_prompt(msg.params()) };
                return match answer {
                    Ok(text) => {
                        let text = match era {
                            Era::Stateless => {
                                let mut extra = json!({});
                                self.stamp_stateless(&mut extra);
                                with_members(&text, &extra)
                            }
                            Era::Handshake(_) => text,
                        };
                        (vec![Reply::now(jsonrpc::result_response_text(&id, &text))], effect)
                    }
                    Err(err) => (vec![Reply::now(jsonrpc::error_response(Some(&id), &err))], effect),
                };
            }
            "tools/call" => match self.tools_call(msg.params()) {
                CallOutcome::Result {
                    result,
                    effect,
                    delay_ms,
                } => Ok((result, effect, delay_ms)),
                CallOutcome::Error {
                    error,
                    effect,
                    delay_ms,
                } => {
                    let bytes = jsonrpc::error_response(Some(&id), &error);
                    return (vec![Reply { delay_ms, bytes }], effect);
                }
                CallOutcome::Silent(effect) => return (Vec::new(), effect),
            },
            _ => Err(RpcError::method_not_found(method)),
        };
        let (mut result, effect, delay_ms) = match outcome {
            Ok(done) => done,
            Err(err) => return fail(err),
        };
        if era == Era::Stateless {
            self.stamp_stateless(&mut result);
        }
        let mut replies = vec![Reply {
            delay_ms,
            bytes: jsonrpc::result_response(&id, &result),
        }];
        if method == "tools/call" && self.maybe_rug_pull() && era != Era::Stateless {
            let note = jsonrpc::notification("notifications/tools/list_changed", None);
            replies.push(Reply {
                delay_ms,
                bytes: note,
            });
        }
        if method == "tools/call" && era != Era::Stateless {
            let calls = self.calls;
            let notes = self.make_changes(|c| c.after_calls.is_some_and(|n| calls >= n));
            replies.extend(notes.into_iter().map(|n| Reply { delay_ms, ..n }));
        }
        (replies, effect)
    }

    fn server_info(&self) -> Value {
        let mut info = json!({"name": self.spec.name, "version": self.spec.version});
        if let Some(title) = &self.spec.title {
            info["title"] = json!(title);
        }
        info
    }

    /// `tools`, and `resources` and `prompts` when the file declares any.
    fn capabilities(&self) -> Value {
        let mut c = json!({"tools": {"listChanged": true}});
        if !self.spec.resources.is_empty() || !self.spec.resource_templates.is_empty() {
            c["resources"] = json!({"listChanged": true});
        }
        if !self.spec.prompts.is_empty() {
            c["prompts"] = json!({"listChanged": true});
        }
        c
    }

    fn initialize_result(&self, v: ProtocolVersion) -> Value {
        let mut r = json!({
            "protocolVersion": v.as_str(),
            "capabilities": self.capabilities(),
            "serverInfo": self.server_info(),
        });
        if let Some(text) = &self.spec.instructions {
            r["instructions"] = json!(text);
        }
        r
    }

    fn discover_result(&self) -> Value {
        let mut r = json!({
            "supportedVersions": stateless_versions(),
            "capabilities": self.capabilities(),
            "ttlMs": 0,
            "cacheScope": "private",
        });
        if let Some(text) = &self.spec.instructions {
            r["instructions"] = json!(text);
        }
        r
    }

    /// 2026-07-28 results say they are complete and who answered.
    fn stamp_stateless(&self, result: &mut Value) {
        if let Some(obj) = result.as_object_mut() {
            obj.insert("resultType".into(), json!("complete"));
            let meta = obj.entry("_meta").or_insert_with(|| json!({}));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert(version::META_SERVER_INFO.into(), self.server_info());
            }
        }
    }

    /// The page's tools as JSON text, and the result's other members.
    fn tools_list(&self, params: Option<&Value>, era: Era) -> Result<(Vec<Cow<'_, str>>, Value), RpcError> {
        let (start, end) = self.page(params, self.tools.len())?;
        let with_title = match era {
            Era::Handshake(v) => v >= ProtocolVersion::V2025_06_18,
            Era::Stateless => true,
        };
        let tools = (start..end).filter_map(|i| self.tools.list_entry(i, with_title)).collect();
        let mut r = json!({});
        if end < self.tools.len() {
            r["nextCursor"] = json!(encode_cursor(end));
        }
        if era == Era::Stateless {
            r["ttlMs"] = json!(0);
            r["cacheScope"] = json!("private");
        }
        Ok((tools, r))
    }

    /// Whether the server declared the capability a method belongs to.
    fn serves(&self, method: &str) -> bool {
        match method.split_once('/').map(|(family, _)| family) {
            Some("resources") => !self.spec.resources.is_empty() || !self.spec.resource_templates.is_empty(),
            Some("prompts") => !self.spec.prompts.is_empty(),
            _ => true,
        }
    }

    /// One page of a resource, template or prompt list: its entries as
    /// JSON text and the result's other members.
    fn listing<'a, T>(&self, items: &'a [T], params: Option<&Value>, entry: impl Fn(&'a T) -> String) -> Result<(Vec<Cow<'a, str>>, Value), RpcError> {
        let (start, end) = self.page(params, items.len())?;
        let entries = items[start..end].iter().map(|i| Cow::Owned(entry(i))).collect();
        let mut rest = json!({});
        if end < items.len() {
            rest["nextCursor"] = json!(encode_cursor(end));
        }
        Ok((entries, rest))
    }

    /// The items of the page `params.cursor` asks for, under the server's page size.
    fn page(&self, params: Option<&Value>, len: usize) -> Result<(usize, usize), RpcError> {
        let start = match params.and_then(|p| p.get("cursor")) {
            None | Some(Value::Null) => 0,
            Some(Value::String(c)) => decode_cursor(c)
                .filter(|&n| n <= len)
                .ok_or_else(|| RpcError::invalid_params(&format!("invalid cursor `{c}`")))?,
            Some(_) => return Err(RpcError::invalid_params("`cursor` must be a string")),
        };
        let end = match self.behaviour.page_size {
            Some(size) => (start + size).min(len),
            None => len,
        };
        Ok((start, end))
    }

    /// `resources/read`: a listed resource, else a template the URI matches
    /// (compared as a lenient server reads URIs when `lenient_names` is on).
    fn read_resource(&self, params: Option<&Value>) -> (Result<String, RpcError>, Effect) {
        let Some(uri) = params.and_then(|p| p.get("uri")).and_then(Value::as_str) else {
            return (Err(RpcError::invalid_params("`resources/read` needs a string `params.uri`")), Effect::default());
        };
        let lenient = self.behaviour.lenient_names;
        let key = |u: &str| if lenient { super::surface::normalise_uri(u) } else { u.to_string() };
        let wanted = key(uri);
        let reached = |subject: &str, ran: bool| Effect { tool: Some(subject.to_string()), executed: ran, ..Effect::default() };
        if let Some(r) = self.spec.resources.iter().find(|r| key(&r.uri) == wanted) {
            return (Ok(r.read_result()), reached(&r.uri, true));
        }
        for t in &self.spec.resource_templates {
            if let Some(vars) = t.matches(&wanted) {
                return (Ok(t.read_result(&wanted, &vars)), reached(&wanted, true));
            }
        }
        let err = RpcError::new(RESOURCE_NOT_FOUND, "Resource not found".to_string()).with_data(json!({"uri": uri}));
        (Err(err), reached(uri, false))
    }

    /// `prompts/get`: the named prompt (trimmed and case-folded when `lenient_names` is on).
    fn get_prompt(&self, params: Option<&Value>) -> (Result<String, RpcError>, Effect) {
        let Some(name) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else {
            return (Err(RpcError::invalid_params("`prompts/get` needs a string `params.name`")), Effect::default());
        };
        let arguments = match params.and_then(|p| p.get("arguments")) {
            None | Some(Value::Null) => json!({}),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => return (Err(RpcError::invalid_params("`params.arguments` must be an object")), Effect::default()),
        };
        let lenient = self.behaviour.lenient_names;
        let found = self.spec.prompts.iter().find(|p| p.name == name)
            .or_else(|| lenient.then(|| self.spec.prompts.iter().find(|p| p.name.to_lowercase() == name.trim().to_lowercase())).flatten());
        let Some(prompt) = found else {
            let effect = Effect { tool: Some(name.to_string()), arguments: Some(arguments), ..Effect::default() };
            return (Err(RpcError::invalid_params(&format!("Unknown prompt: {name}"))), effect);
        };
        let answer = prompt.get_result(&arguments).map_err(|why| RpcError::invalid_params(&why));
        let effect = Effect { tool: Some(prompt.name.clone()), executed: answer.is_ok(), arguments: Some(arguments), ..Effect::default() };
        (answer, effect)
    }

    fn tools_call(&mut self, params: Option<&Value>) -> CallOutcome {
        let invalid = |detail: String| CallOutcome::Error {
            error: RpcError::invalid_params(&detail),
            effect: Effect::default(),
            delay_ms: 0,
        };
        let Some(params) = params.and_then(Value::as_object) else {
            return invalid("`tools/call` needs `params` with a `name`".into());
        };
        if !self.behaviour.ignore_unknown_params {
            if let Some(extra) = params.keys().find(|k| !CALL_PARAMS.contains(&k.as_str())) {
                return invalid(format!("unknown member `{extra}` in `params`"));
            }
        }
        let Some(requested) = params.get("name").and_then(Value::as_str) else {
            return invalid("`params.name` must be a string".into());
        };
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => return invalid("`params.arguments` must be an object".into()),
        };
        // Only what answering needs: the definition itself (schema and all) stays shared.
        let Some((name, response)) = self
            .lookup(requested)
            .map(|t| (t.name.clone(), t.response.clone()))
        else {
            // Both SDKs answer an unknown tool with an isError result, not a protocol error.
            return CallOutcome::Result {
                result: text_result(&format!("Unknown tool: {requested}"), true),
                effect: Effect::default(),
                delay_ms: 0,
            };
        };
        let revision = Some(self.revisions.get(&name).copied().unwrap_or(0));
        let effect = |executed: bool| Effect {
            tool: Some(name.clone()),
            arguments: Some(arguments.clone()),
            executed,
            revision,
        };
        let behaviour = &self.behaviour;
        if behaviour.crash_after.is_some_and(|n| self.calls >= n) {
            self.crashed = true;
            return CallOutcome::Silent(effect(false));
        }
        self.calls += 1;
        let nth = {
            let count = self.calls_per_tool.entry(name.clone()).or_insert(0);
            *count += 1;
            *count
        };
        if behaviour.hang_on.iter().any(|h| h == &name) {
            return CallOutcome::Silent(effect(false));
        }
        let delay_ms = response.latency_ms;
        if response.fail_every.is_some_and(|n| nth % n == 0) {
            return CallOutcome::Error {
                error: RpcError::internal(&format!(
                    "simulated failure of call {nth} to `{name}`"
                )),
                effect: effect(false),
                delay_ms,
            };
        }
        if let Some(e) = &response.error {
            return CallOutcome::Error {
                error: RpcError::new(e.code, e.message.clone()),
                effect: effect(false),
                delay_ms,
            };
        }
        let text = match (&response.text, &response.structured) {
            (Some(template), _) => render(template, &name, &arguments),
            (None, Some(structured)) => structured.to_json(),
            (None, None) => render("{{tool}} ok: {{args}}", &name, &arguments),
        };
        let mut result = text_result(&text, response.is_error);
        if let Some(structured) = &response.structured {
            result["structuredContent"] = structured.value().clone();
        }
        CallOutcome::Result {
            result,
            effect: effect(true),
            delay_ms,
        }
    }

    /// Exact lookup, or case-insensitive and trimmed when the server is
    /// lenient, or by the namespaced name when a gateway stands in front.
    fn lookup(&self, requested: &str) -> Option<&ToolSpec> {
        if let Some(t) = self.tools.get(requested) {
            return Some(t);
        }
        if let Some(gateway) = &self.behaviour.gateway_name {
            if let Some(t) = self.tools.iter().find(|t| super::toolset::namespaced(gateway, &t.name) == requested) {
                return Some(t);
            }
        }
        if !self.behaviour.lenient_names {
            return None;
        }
        self.tools.get_folded(&super::toolset::fold(requested))
    }

    /// Applies the rug pull once its call count is reached; true when it just happened.
    fn maybe_rug_pull(&mut self) -> bool {
        let Some(rug) = &self.behaviour.rug_pull else {
            return false;
        };
        if self.rug_pulled || self.calls < rug.after_calls {
            return false;
        }
        let tools = rug.tools.clone();
        self.redefine(tools, &[]);
        self.rug_pulled = true;
        true
    }

    /// Makes every scheduled change not made yet whose trigger `due` says is
    /// met; returns the `notifications/tools/list_changed` to send (one at most).
    fn make_changes(&mut self, due: impl Fn(&super::spec::Change) -> bool) -> Vec<Reply> {
        if self.changed.len() < self.behaviour.changes.len() {
            self.changed.resize(self.behaviour.changes.len(), false);
        }
        let mut notify = false;
        for i in 0..self.behaviour.changes.len() {
            if self.changed[i] || !due(&self.behaviour.changes[i]) {
                continue;
            }
            self.changed[i] = true;
            let change = self.behaviour.changes[i].clone();
            self.redefine(change.tools, &change.remove);
            notify |= change.notify;
        }
        match notify {
            true => vec![Reply::now(jsonrpc::notification("notifications/tools/list_changed", None))],
            false => Vec::new(),
        }
    }

    /// Serves `tools` (replacing or joining) and stops serving `remove`; a
    /// definition that differs from the server file's gets a new revision.
    fn redefine(&mut self, tools: Vec<ToolSpec>, remove: &[String]) {
        self.changes_made += 1;
        for name in remove {
            self.tools.remove(name);
            self.revisions.remove(name);
        }
        for tool in tools {
            // Compared as JSON values: a rewritten definition may list its members in another order.
            let as_filed = |t: &ToolSpec| serde_json::from_str::<Value>(&super::toolset::list_entry(t, true)).ok();
            let same = self.tools.original(&tool.name).is_some_and(|o| as_filed(o) == as_filed(&tool));
            match same {
                true => self.revisions.remove(&tool.name),
                false => self.revisions.insert(tool.name.clone(), self.changes_made),
            };
            self.tools.upsert(tool);
        }
    }
}

impl MessageHandler for MockServer {
    fn handle(&mut self, msg: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        MockServer::handle(self, msg, ctx, now)
    }

    fn handle_line(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        MockServer::handle_line(self, line, ctx, now)
    }

    fn end_session(&mut self, session: &str) {
        self.sessions
            .insert(Some(session.to_string()), Lifecycle::Closed);
    }

    fn is_dead(&self) -> bool {
        self.crashed
    }
}

enum CallOutcome {
    Result {
        result: Value,
        effect: Effect,
        delay_ms: u64,
    },
    Error {
        error: RpcError,
        effect: Effect,
        delay_ms: u64,
    },
    /// No answer at all (a hang or a crash).
    Silent(Effect),
}

/// Without `_meta` a request is handshake-era, so only those versions' methods exist.
fn handshake_knows(method: &str) -> bool {
    ProtocolVersion::HANDSHAKE
        .iter()
        .any(|v| v.knows_method(method))
}

fn stateless_versions() -> Vec<&'static str> {
    ProtocolVersion::STATELESS
        .iter()
        .map(|v| v.as_str())
        .collect()
}

/// `{"member":[…],…rest}`: the entries' text first, then the other members.
fn list_result_text(member: &str, tools: &[Cow<str>], rest: &Value) -> String {
    let mut out = String::with_capacity(tools.iter().map(|t| t.len() + 1).sum::<usize>() + 64);
    out.push_str(&format!("{{{}:[", Value::String(member.to_string())));
    for (k, t) in tools.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(t);
    }
    out.push(']');
    for (k, v) in rest.as_object().into_iter().flatten() {
        out.push_str(&format!(",{}:{v}", Value::String(k.clone())));
    }
    out.push('}');
    out
}

/// A result's JSON object text with `extra`'s members added at its end.
fn with_members(text: &str, extra: &Value) -> String {
    let added: String = extra.as_object().into_iter().flatten().map(|(k, v)| format!(",{}:{v}", Value::String(k.clone()))).collect();
    match text.trim_end().strip_suffix('}') {
        Some(open) if !added.is_empty() => format!("{open}{added}}}"),
        _ => text.to_string(),
    }
}

fn text_result(text: &str, is_error: bool) -> Value {
    let mut r = json!({"content": [{"type": "text", "text": text}]});
    if is_error {
        r["isError"] = json!(true);
    }
    r
}

// Cursors are opaque to clients; a prefix keeps a bare number from passing as one.
fn encode_cursor(offset: usize) -> String {
    format!("page-{offset}")
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    cursor.strip_prefix("page-")?.parse().ok()
}

/// Fills `{{tool}}`, `{{args}}` and `{{args.a.b}}` (strings bare, other values as JSON, missing as empty).
pub(super) fn render(template: &str, tool: &str, args: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = after[..end].trim();
        match key {
            "tool" => out.push_str(tool),
            "args" => out.push_str(&args.to_string()),
            _ => match key.strip_prefix("args.") {
                Some(path) => match path.split('.').try_fold(args, |v, k| v.get(k)) {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(v) => out.push_str(&v.to_string()),
                    None => {}
                },
                // An unknown placeholder stays as written, so a typo is visible in the answer.
                None => out.push_str(&rest[start..start + 2 + end + 2]),
            },
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
