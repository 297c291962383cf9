//! Which agent messages are evaluated, decided exactly as Intercept's Go
//! `encoding/json` decoding does (semantics §2.1), plus the strict profile's
//! refusals (§7 G-1, G-2, G-4, G-13, G-14).
//!
//! Intercept decodes into typed structs: member names match
//! case-insensitively (Unicode simple folding, so `argument\u017f` is
//! `arguments`), the last of repeated members wins, repeated `arguments`
//! objects merge, and any type error (or a number overflowing a double inside
//! `arguments`) means "not evaluated, forwarded as is". This module
//! reproduces that over [`rawjson`](super::rawjson) trees; it decides nothing
//! about policy.
//!
//! Under `strict` the requests of the surfaces beside tools
//! ([`SURFACE_METHODS`]: resources, prompts, completion) are decoded as
//! strictly as a `tools/call` and come out as calls too, named by their
//! method with their `params` as arguments, so the policy can gate them
//! (G-4); Intercept forwards them unevaluated.

use serde_json::{Map, Value};

use super::rawjson::{self, Kind, Member, Node, ParseError};
use crate::profile::Profile;

/// What an agent message is, for the core.
#[derive(Clone, Debug, PartialEq)]
pub enum Classified {
    /// A `tools/call` that Intercept evaluates.
    ToolCall(CallMsg),
    /// A `tools/list` request: its response is filtered when it has an id.
    ToolsList { id: Option<Vec<u8>> },
    /// A top-level array: handled per transport by the core.
    Batch,
    /// Forwarded without evaluation: other methods, responses, non-JSON, and
    /// (intercept profile) any `tools/call` that fails to decode.
    Passthrough(Unevaluated),
    /// Strict profile (and, in both profiles, nesting deeper than
    /// `rawjson::MAX_DEPTH`): answered with a JSON-RPC error, never forwarded.
    Refused(Refusal),
}

#[derive(Clone, Debug, PartialEq)]
pub struct CallMsg {
    /// The raw id bytes; `None` for a notification.
    pub id: Option<Vec<u8>>,
    pub name: String,
    /// `None` when absent or null.
    pub arguments: Option<Map<String, Value>>,
    /// A request on a surface beside tools (strict only): `name` is its
    /// method, `arguments` its `params`.
    pub surface: bool,
}

/// The requests on the MCP surfaces beside tools that reach a server's
/// resources, prompts or completions. Intercept never evaluates them (G-4);
/// `strict` gates each as a call of a tool named by the method.
pub const SURFACE_METHODS: [&str; 8] = [
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
];

/// Why a message was forwarded unevaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unevaluated {
    NotJson,
    NotToolsCall,
    /// A JSON type error in a typed field, or an overflowing number in `arguments` (G-1).
    TypeError,
    MissingParams,
}

/// A strict-profile refusal: the JSON-RPC error to answer with.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub code: i64,
    pub message: String,
    /// The request id to echo, when one was readable unambiguously.
    pub id: Option<Vec<u8>>,
    /// The tool name as best read, for the audit record ("" when unknown).
    pub tool: String,
    /// A notification: JSON-RPC allows no answer, so the refusal is silent.
    pub silent: bool,
}

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;

/// The envelope as Go's struct decoding sees it (`json.RawMessage` for id,
/// params, result and error).
#[derive(Clone, Debug, Default)]
pub struct Envelope<'n> {
    pub jsonrpc: Option<String>,
    pub id: Option<&'n Node>,
    pub method: Option<String>,
    pub params: Option<&'n Node>,
    pub result: Option<&'n Node>,
    pub error: Option<&'n Node>,
    /// A typed field had the wrong JSON type.
    pub type_error: bool,
}

const ENVELOPE_FIELDS: [&str; 6] = ["jsonrpc", "id", "method", "params", "result", "error"];
const PARAMS_FIELDS: [&str; 2] = ["name", "arguments"];

/// Go's field-name folding (`encoding/json` foldName): ASCII letters upper-cased,
/// every other rune mapped to the smallest rune of its simple-fold orbit. Only
/// U+017F (ſ → S) and U+212A (Kelvin → K) fold onto ASCII, and every field
/// name here is ASCII, so those are the only non-ASCII runes that matter.
fn fold_char(c: char) -> char {
    match c {
        '\u{17f}' => 'S',
        '\u{212a}' => 'K',
        c => c.to_ascii_uppercase(),
    }
}

/// Go's case-insensitive member-name match.
pub fn fold_eq(key: &str, field: &str) -> bool {
    key.chars().map(fold_char).eq(field.chars().map(fold_char))
}

fn field_of<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    fields.iter().copied().find(|f| *f == key).or_else(|| fields.iter().copied().find(|f| fold_eq(key, f)))
}

/// A string field: strings set it, null leaves it, anything else is a type error.
fn string_field(slot: &mut Option<String>, node: &Node, type_error: &mut bool) {
    match &node.kind {
        Kind::Str(s) => *slot = Some(s.text.clone()),
        Kind::Null => {}
        _ => *type_error = true,
    }
}

/// Decodes the members of a top-level object as Intercept's message struct.
pub fn envelope(members: &[Member]) -> Envelope<'_> {
    let mut env = Envelope::default();
    for m in members {
        match field_of(&m.key.text, &ENVELOPE_FIELDS) {
            Some("jsonrpc") => string_field(&mut env.jsonrpc, &m.value, &mut env.type_error),
            Some("method") => string_field(&mut env.method, &m.value, &mut env.type_error),
            Some("id") => env.id = Some(&m.value),
            Some("params") => env.params = Some(&m.value),
            Some("result") => env.result = Some(&m.value),
            Some("error") => env.error = Some(&m.value),
            _ => {}
        }
    }
    env
}

/// `params` decoded as `{name string; arguments map[string]any}`; `Err` on a type error.
fn call_params(params: &Node) -> Result<(String, Option<Map<String, Value>>), Unevaluated> {
    let members = match &params.kind {
        Kind::Null => return Ok((String::new(), None)),
        Kind::Object(m) => m,
        _ => return Err(Unevaluated::TypeError),
    };
    let mut name = None;
    let mut arguments: Option<Map<String, Value>> = None;
    let mut type_error = false;
    for m in members {
        match field_of(&m.key.text, &PARAMS_FIELDS) {
            Some("name") => string_field(&mut name, &m.value, &mut type_error),
            Some("arguments") => match &m.value.kind {
                Kind::Null => arguments = None,
                Kind::Object(inner) => {
                    let map = arguments.get_or_insert_with(Map::new);
                    if rawjson::merge_members(map, inner).is_err() {
                        type_error = true;
                    }
                }
                _ => type_error = true,
            },
            _ => {}
        }
    }
    if type_error {
        return Err(Unevaluated::TypeError);
    }
    Ok((name.unwrap_or_default(), arguments))
}

fn raw_id(id: Option<&Node>, src: &[u8]) -> Option<Vec<u8>> {
    id.map(|n| n.raw(src).to_vec())
}

/// Classifies one agent message (not a batch element: see [`classify_object`]).
pub fn classify(src: &[u8], profile: Profile) -> Classified {
    classify_parsed(&rawjson::parse(src), src, profile)
}

/// [`classify`] over an already parsed message.
pub fn classify_parsed(parsed: &Result<Node, ParseError>, src: &[u8], profile: Profile) -> Classified {
    let node = match parsed {
        Ok(node) => node,
        Err(ParseError::TooDeep(_)) => {
            return Classified::Refused(refusal(
                INVALID_REQUEST,
                format!("message nests deeper than {} levels", rawjson::MAX_DEPTH),
                None,
                String::new(),
            ))
        }
        Err(ParseError::Syntax(_)) if profile == Profile::Strict => {
            return Classified::Refused(refusal(PARSE_ERROR, "parse error: not valid JSON".into(), None, String::new()))
        }
        Err(ParseError::Syntax(_)) => return Classified::Passthrough(Unevaluated::NotJson),
    };
    match &node.kind {
        Kind::Array(_) => Classified::Batch,
        Kind::Object(_) => classify_object(node, src, profile),
        // Go decodes `null` into the struct as a no-op: no method, not evaluated.
        Kind::Null if profile == Profile::Intercept => Classified::Passthrough(Unevaluated::NotToolsCall),
        _ if profile == Profile::Intercept => Classified::Passthrough(Unevaluated::TypeError),
        _ => Classified::Refused(refusal(
            INVALID_REQUEST,
            "invalid request: a JSON-RPC message must be an object".into(),
            None,
            String::new(),
        )),
    }
}

/// Classifies one parsed object (a whole message or a batch element).
pub fn classify_object(node: &Node, src: &[u8], profile: Profile) -> Classified {
    let Kind::Object(members) = &node.kind else {
        return Classified::Passthrough(Unevaluated::TypeError);
    };
    if profile == Profile::Strict {
        if let Some(r) = strict_refusal(members, src) {
            return Classified::Refused(r);
        }
    }
    let env = envelope(members);
    if env.type_error {
        return Classified::Passthrough(Unevaluated::TypeError);
    }
    match env.method.as_deref() {
        Some("tools/call") => {
            let Some(params) = env.params else {
                return Classified::Passthrough(Unevaluated::MissingParams);
            };
            match call_params(params) {
                Ok((name, arguments)) => Classified::ToolCall(CallMsg { id: raw_id(env.id, src), name, arguments, surface: false }),
                Err(why) => Classified::Passthrough(why),
            }
        }
        Some("tools/list") => Classified::ToolsList { id: raw_id(env.id, src) },
        // Strict refused every ambiguous spelling and type above.
        Some(method) if profile == Profile::Strict && SURFACE_METHODS.contains(&method) => {
            let mut arguments = None;
            if let Some(Node { kind: Kind::Object(members), .. }) = env.params {
                let map = arguments.get_or_insert_with(Map::new);
                if rawjson::merge_members(map, members).is_err() {
                    return Classified::Passthrough(Unevaluated::TypeError);
                }
            }
            Classified::ToolCall(CallMsg { id: raw_id(env.id, src), name: method.to_string(), arguments, surface: true })
        }
        _ => Classified::Passthrough(Unevaluated::NotToolsCall),
    }
}

/// The id of a request (an object with a `method` and an `id`, null included, as Go reads them).
pub fn request_id(node: &Node) -> Option<&Node> {
    let Kind::Object(members) = &node.kind else { return None };
    let env = envelope(members);
    env.method.as_ref()?;
    env.id
}

/// The largest integer id a double holds exactly, so every upstream reads it back unchanged.
const MAX_EXACT_ID: i64 = (1 << 53) - 1;

/// Strict profile: the value an id stands for, as a key (`s` + the string,
/// `n` + the integer), or why the id is refused: anything but a string
/// without invalid UTF-8 or an integer that survives a round trip through a
/// double (`1e400`, `1.0`, `-0`, 2^53 do not) cannot be matched to its answer.
pub fn strict_id_key(id: &Node, src: &[u8]) -> Result<Vec<u8>, String> {
    match &id.kind {
        Kind::Str(s) if s.lossy => Err("`id` holds invalid UTF-8".into()),
        Kind::Str(s) => Ok([b"s", s.text.as_bytes()].concat()),
        Kind::Number(_) => {
            let raw = String::from_utf8_lossy(id.raw(src));
            match raw.parse::<i64>() {
                Ok(n) if n.abs() <= MAX_EXACT_ID && n.to_string() == raw => Ok(format!("n{n}").into_bytes()),
                _ => {
                    let mut shown: String = raw.chars().take(40).collect();
                    if shown.len() < raw.len() {
                        shown.push('…');
                    }
                    Err(format!("`id` {shown} is not an integer a double holds exactly"))
                }
            }
        }
        _ => Err("`id` must be a string or an integer".into()),
    }
}

/// Strict profile, in front of a line-framed (stdio) upstream: a line holding
/// a carriage return (or a line feed, which the stdio reader never leaves in
/// a line, but another caller of the core might). JSON allows one only as whitespace between tokens (raw
/// inside a string it is a syntax error), but the Python SDK's stdio server
/// (universal newlines), like Java's and .NET's `readLine`, ends a line at a
/// bare `\r`: the one message evaluated here would reach such a server as
/// several, and a `tools/call` among them would run unevaluated.
pub fn line_break_refusal(parsed: &Result<Node, ParseError>, src: &[u8]) -> Option<Refusal> {
    let at = memchr::memchr2(b'\r', b'\n', src)?;
    let what = if src[at] == b'\r' { "a carriage return (\\r)" } else { "a line feed (\\n)" };
    let node = parsed.as_ref().ok();
    // Echo the id only when it is one the agent can match its answer by.
    let id = node.and_then(request_id).filter(|id| strict_id_key(id, src).is_ok()).map(|id| id.raw(src).to_vec());
    let tool = match node.map(|n| classify_object(n, src, Profile::Intercept)) {
        Some(Classified::ToolCall(call)) => call.name,
        _ => String::new(),
    };
    Some(refusal(
        INVALID_REQUEST,
        format!("invalid request: {what} in the message: stdio servers built on the Python SDK end a line there, so they would read it as more than one message"),
        id,
        tool,
    ))
}

/// Strict profile: the `params` of a surface request (its envelope already
/// exact) must be an object, or absent, with no key repeated at any depth and
/// no number overflowing a double; and the request must have an id.
fn surface_refusal(method: &str, params: Option<&Node>, id: Option<Vec<u8>>) -> Option<Refusal> {
    let problem = match params {
        None | Some(Node { kind: Kind::Null, .. }) => None,
        Some(p @ Node { kind: Kind::Object(_), .. }) if p.has_duplicate_keys() => Some("an object inside `params` repeats a key"),
        Some(p @ Node { kind: Kind::Object(_), .. }) if p.has_overflow() => Some("a number inside `params` overflows a double"),
        Some(Node { kind: Kind::Object(_), .. }) => None,
        Some(_) => Some("`params` must be an object"),
    };
    if let Some(why) = problem {
        return Some(refusal(INVALID_PARAMS, format!("invalid params: {why}"), id, method.to_string()));
    }
    if id.is_none() {
        // A request with no id cannot be answered; nothing on these surfaces is a notification.
        let mut r = refusal(INVALID_REQUEST, format!("invalid request: `{method}` sent as a notification"), None, method.to_string());
        r.silent = true;
        return Some(r);
    }
    None
}

fn refusal(code: i64, message: String, id: Option<Vec<u8>>, tool: String) -> Refusal {
    Refusal { code, message, id, tool, silent: false }
}

/// Keys that Go would read as `field` but that are not spelled exactly `field`,
/// or that repeat it.
fn ambiguous_keys(members: &[Member], fields: &[&str]) -> Option<String> {
    for field in fields {
        let spellings: Vec<&str> =
            members.iter().map(|m| m.key.text.as_str()).filter(|k| fold_eq(k, field)).collect();
        if spellings.len() > 1 {
            return Some(format!("member `{field}` appears {} times", spellings.len()));
        }
        if let Some(k) = spellings.first().filter(|k| **k != *field) {
            return Some(format!("member `{k}` is not spelled `{field}`"));
        }
    }
    None
}

/// Strict profile: a message whose method reads as `tools/call` (or a
/// surface method, [`SURFACE_METHODS`]) under any spelling must decode
/// unambiguously and with the right types, or it is refused. Returns `None`
/// for messages strict lets through to the normal (Intercept) classification.
fn strict_refusal(members: &[Member], src: &[u8]) -> Option<Refusal> {
    let gated = |text: &str| std::iter::once("tools/call").chain(SURFACE_METHODS).find(|m| fold_eq(text, m));
    let method = members.iter().find_map(|m| match &m.value.kind {
        Kind::Str(s) if fold_eq(&m.key.text, "method") => gated(&s.text),
        _ => None,
    })?;
    let ids: Vec<&Member> = members.iter().filter(|m| fold_eq(&m.key.text, "id")).collect();
    let id = match ids.as_slice() {
        [m] if m.key.text == "id" && matches!(m.value.kind, Kind::Str(_) | Kind::Number(_)) => {
            Some(m.value.raw(src).to_vec())
        }
        _ => None,
    };
    let params = members.iter().rev().find(|m| fold_eq(&m.key.text, "params")).map(|m| &m.value);
    // The tool the call would run, for the audit: the name spelled exactly, else the
    // last spelling Go reads as `name` that holds a string (a decoy `"NAME": 0` beside
    // `"name": "git_reset"` still names git_reset).
    let names: Vec<(&str, &str)> = match params.map(|p| &p.kind) {
        Some(Kind::Object(pm)) => pm
            .iter()
            .filter(|m| fold_eq(&m.key.text, "name"))
            .filter_map(|m| match &m.value.kind {
                Kind::Str(s) => Some((m.key.text.as_str(), s.text.as_str())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let tool = match method {
        "tools/call" => names.iter().rev().find(|(k, _)| *k == "name").or(names.last()).map(|(_, v)| v.to_string()).unwrap_or_default(),
        surface => surface.to_string(),
    };
    let envelope_problem = || -> Option<String> {
        if let Some(why) = ambiguous_keys(members, &ENVELOPE_FIELDS) {
            return Some(why);
        }
        for m in members {
            match (m.key.text.as_str(), &m.value.kind) {
                ("jsonrpc", Kind::Str(s)) if s.text == "2.0" => {}
                ("jsonrpc", _) => return Some("`jsonrpc` must be the string \"2.0\"".into()),
                ("method", Kind::Str(s)) if s.text == method => {}
                ("method", _) => return Some(format!("`method` must be spelled exactly `{method}`")),
                ("id", Kind::Str(_) | Kind::Number(_)) => {}
                ("id", _) => return Some("`id` must be a string or a number".into()),
                _ => {}
            }
        }
        if !members.iter().any(|m| m.key.text == "jsonrpc") {
            return Some("`jsonrpc` is missing".into());
        }
        if members.iter().any(|m| m.key.lossy || m.value.has_lossy_text()) {
            return Some("the message holds invalid UTF-8".into());
        }
        None
    };
    if let Some(why) = envelope_problem() {
        return Some(refusal(INVALID_REQUEST, format!("invalid request: {why}"), id, tool));
    }
    if method != "tools/call" {
        return surface_refusal(method, params, id);
    }
    let params_problem = || -> Option<String> {
        let Some(p) = params else {
            return Some("`params` is missing".into());
        };
        let Kind::Object(pm) = &p.kind else {
            return Some("`params` must be an object".into());
        };
        if let Some(why) = ambiguous_keys(pm, &PARAMS_FIELDS) {
            return Some(why);
        }
        match pm.iter().find(|m| m.key.text == "name").map(|m| &m.value.kind) {
            Some(Kind::Str(_)) => {}
            _ => return Some("`params.name` must be a string".into()),
        }
        match pm.iter().find(|m| m.key.text == "arguments").map(|m| &m.value.kind) {
            None | Some(Kind::Null) | Some(Kind::Object(_)) => {}
            Some(_) => return Some("`params.arguments` must be an object".into()),
        }
        if p.has_duplicate_keys() {
            return Some("an object inside `params` repeats a key".into());
        }
        if p.has_overflow() {
            return Some("a number inside `params` overflows a double".into());
        }
        None
    };
    if let Some(why) = params_problem() {
        return Some(refusal(INVALID_PARAMS, format!("invalid params: {why}"), id, tool));
    }
    if id.is_none() {
        // G-13: a tools/call notification can carry no result; JSON-RPC forbids answering it.
        let mut r = refusal(INVALID_REQUEST, "invalid request: `tools/call` sent as a notification".into(), None, tool);
        r.silent = true;
        return Some(r);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(line: &str) -> Classified {
        classify(line.as_bytes(), Profile::Intercept)
    }

    fn strict(line: &str) -> Classified {
        classify(line.as_bytes(), Profile::Strict)
    }

    fn tool_call(name: &str, id: Option<&str>, args: Option<Value>) -> Classified {
        Classified::ToolCall(CallMsg {
            id: id.map(|i| i.as_bytes().to_vec()),
            name: name.into(),
            arguments: args.and_then(|a| a.as_object().cloned()),
            surface: false,
        })
    }

    #[test]
    fn plain_call_keeps_raw_id_and_double_arguments() {
        assert_eq!(
            call(r#"{"jsonrpc":"2.0","id":1.50,"method":"tools/call","params":{"name":"t","arguments":{"n":5}}}"#),
            tool_call("t", Some("1.50"), Some(json!({"n": 5.0})))
        );
    }

    #[test]
    fn case_variants_last_wins_and_arguments_merge() {
        assert_eq!(
            call(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","Name":"b","arguments":{"x":1,"y":1},"ARGUMENTS":{"y":2},"argument\u017f":{"z":3}}}"#),
            tool_call("b", Some("1"), Some(json!({"x": 1.0, "y": 2.0, "z": 3.0})))
        );
        assert_eq!(
            call(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"x":1},"arguments":null}}"#),
            tool_call("t", Some("1"), None)
        );
        assert_eq!(
            call(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","name":null}}"#),
            tool_call("t", Some("1"), None)
        );
    }

    #[test]
    fn type_errors_and_overflow_are_not_evaluated() {
        for line in [
            r#"{"jsonrpc":2.0,"id":1,"method":"tools/call","params":{"name":"t"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"},"JSONRPC":2}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":0}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","NAME":0}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":[]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"n":1e400}}}"#,
            "5",
        ] {
            assert_eq!(call(line), Classified::Passthrough(Unevaluated::TypeError), "{line}");
        }
        // Overflow outside `arguments` is never converted, so it is harmless to Go.
        assert_eq!(
            call(r#"{"jsonrpc":"2.0","id":1e400,"method":"tools/call","params":{"name":"t","x":1e400}}"#),
            tool_call("t", Some("1e400"), None)
        );
    }

    #[test]
    fn a_strict_refusal_of_a_decoy_names_the_tool_it_would_have_run() {
        let decoy = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_reset","NAME":0}}"#;
        let Classified::Refused(r) = classify(decoy, Profile::Strict) else { panic!("refused under strict") };
        assert_eq!(r.tool, "git_reset");
        let twice = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"git_status","name":"git_reset"}}"#;
        let Classified::Refused(r) = classify(twice, Profile::Strict) else { panic!("refused under strict") };
        assert_eq!(r.tool, "git_reset", "the exact spelling first");
    }

    #[test]
    fn method_must_be_exact_and_params_present() {
        assert_eq!(
            call(r#"{"jsonrpc":"2.0","id":3,"method":"Tools/Call","params":{"name":"x"}}"#),
            Classified::Passthrough(Unevaluated::NotToolsCall)
        );
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call"}"#), Classified::Passthrough(Unevaluated::MissingParams));
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":null}"#), tool_call("", Some("4"), None));
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":5,"Method":"tools\/call","params":{"name":"x"}}"#), tool_call("x", Some("5"), None));
        assert_eq!(call("not json at all"), Classified::Passthrough(Unevaluated::NotJson));
        assert_eq!(call("null"), Classified::Passthrough(Unevaluated::NotToolsCall));
        assert_eq!(call(r#"[{"jsonrpc":"2.0"}]"#), Classified::Batch);
        assert_eq!(call(r#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#), Classified::ToolsList { id: Some(b"\"a\"".to_vec()) });
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let line = b"{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":\"a\xffb\"}}";
        assert_eq!(classify(line, Profile::Intercept), tool_call("a\u{fffd}b", None, None));
        assert!(matches!(classify(line, Profile::Strict), Classified::Refused(r) if r.code == INVALID_REQUEST));
    }

    #[test]
    fn strict_refuses_every_ambiguity_in_a_call() {
        let refused = [
            (r#"{"jsonrpc":2.0,"id":1,"method":"tools/call","params":{"name":"t"}}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","Method":"ping","params":{"name":"t"}}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1,"method":"Tools/Call","params":{"name":"t"}}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#, INVALID_PARAMS),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","Name":"b"}}"#, INVALID_PARAMS),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","argument\u017f":{}}}"#, INVALID_PARAMS),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"x":1,"x":2}}}"#, INVALID_PARAMS),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"x":1e400}}}"#, INVALID_PARAMS),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}"#, INVALID_PARAMS),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#, INVALID_PARAMS),
            ("not json", PARSE_ERROR),
        ];
        for (line, code) in refused {
            match strict(line) {
                Classified::Refused(r) => assert_eq!(r.code, code, "{line}: {}", r.message),
                other => panic!("{line}: expected a refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn strict_keeps_the_id_only_when_unambiguous_and_refuses_notifications_silently() {
        let Classified::Refused(r) = strict(r#"{"jsonrpc":"2.0","id":"k","method":"tools/call","params":{"name":"a","name":"b"}}"#) else {
            panic!("not refused")
        };
        assert_eq!((r.id.as_deref(), r.tool.as_str(), r.silent), (Some(&b"\"k\""[..]), "b", false));
        let Classified::Refused(r) = strict(r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}"#) else {
            panic!("not refused")
        };
        assert!(r.silent);
    }

    #[test]
    fn strict_evaluates_clean_calls_and_leaves_other_methods_alone() {
        assert_eq!(
            strict(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"t","arguments":{"a":{"b":[1]}},"_meta":{}}}"#),
            tool_call("t", Some("2"), Some(json!({"a": {"b": [1.0]}})))
        );
        for other in ["ping", "logging/setLevel", "initialize", "notifications/initialized"] {
            let line = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{other}","Method":"x"}}"#);
            assert_eq!(strict(&line), Classified::Passthrough(Unevaluated::NotToolsCall), "{line}");
        }
    }

    #[test]
    fn strict_turns_surface_requests_into_calls_named_by_their_method() {
        let read = r#"{"jsonrpc":"2.0","id":7,"method":"resources/read","params":{"uri":"file:///etc/passwd","_meta":{}}}"#;
        let Classified::ToolCall(read_call) = strict(read) else { panic!("a call under strict") };
        assert_eq!(read_call.name, "resources/read");
        assert!(read_call.surface);
        assert_eq!(read_call.arguments, json!({"uri": "file:///etc/passwd", "_meta": {}}).as_object().cloned());
        let Classified::ToolCall(list) = strict(r#"{"jsonrpc":"2.0","id":"l","method":"prompts/list"}"#) else { panic!("a call") };
        assert_eq!((list.name.as_str(), list.arguments, list.surface), ("prompts/list", None, true));
        // Intercept forwards them unevaluated (G-4).
        assert_eq!(call(read), Classified::Passthrough(Unevaluated::NotToolsCall));
    }

    #[test]
    fn strict_refuses_every_ambiguity_in_a_surface_request() {
        let refused = [
            (r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","Method":"ping","params":{"uri":"a"}}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1,"method":"ping","METHOD":"resources/read","params":{"uri":"a"}}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1,"method":"Resources/Read","params":{"uri":"a"}}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"a"},"Params":{"uri":"b"}}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"1.0","id":1,"method":"prompts/get","params":{"name":"p"}}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"a","uri":"file:///etc/passwd"}}"#, INVALID_PARAMS),
            (r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p","arguments":{"x":"1","x":"2"}}}"#, INVALID_PARAMS),
            (r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"n":1e400}}"#, INVALID_PARAMS),
            (r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":"file:///etc/passwd"}"#, INVALID_PARAMS),
        ];
        for (line, code) in refused {
            match strict(line) {
                Classified::Refused(r) => assert_eq!(r.code, code, "{line}: {}", r.message),
                other => panic!("{line}: expected a refusal, got {other:?}"),
            }
        }
        let Classified::Refused(r) = strict(r#"{"jsonrpc":"2.0","method":"resources/read","params":{"uri":"a"}}"#) else {
            panic!("not refused")
        };
        assert!(r.silent, "a notification gets no answer");
    }

    /// A `tools/call`-shaped message built from tricky fragments: case
    /// variants, duplicates, wrong types, overflow.
    #[derive(Clone, Debug)]
    struct Tricky(String);

    impl quickcheck::Arbitrary for Tricky {
        fn arbitrary(g: &mut quickcheck::Gen) -> Tricky {
            fn members(g: &mut quickcheck::Gen, choices: &[(&str, &[&str])]) -> String {
                let n = 1 + usize::arbitrary(g) % 5;
                let parts: Vec<String> = (0..n)
                    .map(|_| {
                        let (key, values) = g.choose(choices).copied().unwrap_or(("x", &["1"]));
                        let value = g.choose(values).copied().unwrap_or("null");
                        format!("\"{key}\":{value}")
                    })
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            let params = members(
                g,
                &[
                    ("name", &["\"t\"", "\"u\"", "0", "null"]),
                    ("Name", &["\"t\"", "0"]),
                    ("NAME", &["\"u\"", "[]"]),
                    ("arguments", &["{}", "{\"a\":1}", "{\"a\":1,\"a\":2}", "{\"a\":1e400}", "[]", "null"]),
                    ("argument\\u017f", &["{\"b\":2}", "\"x\""]),
                    ("_meta", &["{}", "1e400"]),
                ],
            );
            let params_values = [params.as_str(), "null", "\"x\""];
            let envelope = members(
                g,
                &[
                    ("jsonrpc", &["\"2.0\"", "2", "null"]),
                    ("JSONRPC", &["\"2.0\"", "2"]),
                    ("id", &["1", "\"a\"", "null", "1.0"]),
                    ("ID", &["2"]),
                    ("method", &["\"tools/call\"", "\"tools/call\"", "\"Tools/Call\"", "\"resources/read\"", "5", "null"]),
                    ("Method", &["\"tools/call\"", "\"ping\"", "\"Prompts/Get\""]),
                    ("params", &params_values),
                    ("Params", &params_values),
                ],
            );
            Tricky(envelope)
        }
    }

    #[quickcheck_macros::quickcheck]
    fn strict_only_ever_refuses_it_never_evaluates_differently(msg: Tricky) -> bool {
        let lax = classify(msg.0.as_bytes(), Profile::Intercept);
        let hard = classify(msg.0.as_bytes(), Profile::Strict);
        match (&lax, &hard) {
            (_, Classified::Refused(_)) => true,
            // Strict gates the surfaces Intercept never evaluates.
            (Classified::Passthrough(_), Classified::ToolCall(c)) if c.surface => true,
            (Classified::ToolCall(a), Classified::ToolCall(b)) => a == b,
            (Classified::ToolCall(_), _) | (_, Classified::ToolCall(_)) => false,
            _ => true,
        }
    }

    #[quickcheck_macros::quickcheck]
    fn strict_lets_no_call_shaped_message_through_unevaluated(msg: Tricky) -> bool {
        let lower = msg.0.to_ascii_lowercase();
        let looks_like_call = ["tools/call", "resources/read", "prompts/get"].iter().any(|m| lower.contains(m));
        let hard = classify(msg.0.as_bytes(), Profile::Strict);
        !looks_like_call || matches!(hard, Classified::ToolCall(_) | Classified::Refused(_))
    }
}
