//! JSON-RPC 2.0 messages as they arrive: the raw bytes, the parsed value,
//! what kind of message it is, and anything odd about its keys.
//!
//! Nothing here re-serialises a message a peer sent: a proxy forwards `raw`
//! unchanged, and ids are kept as their exact JSON text (`"1"` ≠ `1`, `1.0`
//! stays `1.0`). Duplicate keys and case-variant keys (`name` + `Name`,
//! `argument\u017f`) are detected at every depth, because a policy layer and
//! an upstream that resolve them differently see different calls.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Standard JSON-RPC error codes.
pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// 2026-07-28: HTTP headers disagree with the body.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// 2026-07-28: `_meta` names a protocol version the server does not speak.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
}

/// A request id exactly as written on the wire (its JSON text).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    /// The id's JSON text, e.g. `1`, `"1"` or `1.0`.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    pub fn from_json_text(text: &str) -> Option<Id> {
        let v: Value = serde_json::from_str(text).ok()?;
        matches!(v, Value::String(_) | Value::Number(_)).then(|| Id(text.trim().to_string()))
    }

    pub fn number(n: i64) -> Id {
        Id(n.to_string())
    }

    pub fn string(s: &str) -> Id {
        Id(Value::String(s.to_string()).to_string())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a message is, by the JSON-RPC 2.0 rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    Request,
    Notification,
    Response,
    ErrorResponse,
    Batch,
    /// Not JSON at all (answered with -32700).
    Unparsable,
    /// JSON, but not a valid JSON-RPC message (answered with -32600).
    Invalid(Invalid),
}

/// Why a JSON value is not a JSON-RPC message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    NotAnObject,
    EmptyBatch,
    /// `jsonrpc` missing or not exactly `"2.0"`.
    Version,
    /// `method` present but not a string.
    MethodType,
    /// `id` present but not a string or number (null included).
    IdType,
    /// `params` present but neither an object nor an array.
    ParamsType,
    /// Neither `method` nor `result`/`error`, or both `result` and `error`.
    Shape,
}

impl Invalid {
    pub fn describe(&self) -> &'static str {
        match self {
            Invalid::NotAnObject => "a message must be a JSON object",
            Invalid::EmptyBatch => "an empty batch is not a message",
            Invalid::Version => "`jsonrpc` must be exactly \"2.0\"",
            Invalid::MethodType => "`method` must be a string",
            Invalid::IdType => "`id` must be a string or a number",
            Invalid::ParamsType => "`params` must be an object or an array",
            Invalid::Shape => "a message needs `method`, or exactly one of `result` and `error`",
        }
    }
}

/// A key seen twice in one object, or seen in two spellings that fold to the same key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyIssue {
    /// Dotted path of the object holding the keys (`` for the top level, `params.arguments`).
    pub path: String,
    pub kind: KeyIssueKind,
    pub keys: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyIssueKind {
    /// The exact same key twice.
    Duplicate,
    /// Different keys equal under case folding (`name`/`Name`, `s`/`ſ`).
    CaseVariant,
}

/// Which of two duplicate keys the parsed value keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DuplicatePolicy {
    First,
    /// Like serde_json, JavaScript, Python and Go.
    #[default]
    Last,
}

/// One message off the wire.
#[derive(Clone, Debug)]
pub struct Message {
    raw: Vec<u8>,
    value: Option<Value>,
    class: Class,
    id: Option<Id>,
    parse_error: Option<String>,
    key_issues: Vec<KeyIssue>,
    batch: Vec<Message>,
}

impl Message {
    /// Parses with last-wins duplicate keys.
    pub fn parse(raw: &[u8]) -> Message {
        Message::parse_with(raw, DuplicatePolicy::Last)
    }

    pub fn parse_with(raw: &[u8], policy: DuplicatePolicy) -> Message {
        let mut issues = Vec::new();
        let value = match parse_value(raw, policy, &mut issues) {
            Ok(v) => v,
            Err(e) => {
                return Message {
                    raw: raw.to_vec(),
                    value: None,
                    class: Class::Unparsable,
                    id: None,
                    parse_error: Some(e),
                    key_issues: issues,
                    batch: Vec::new(),
                }
            }
        };
        if value.is_array() {
            let elements: Vec<&RawValue> = serde_json::from_slice(raw).unwrap_or_default();
            let batch: Vec<Message> = elements
                .iter()
                .map(|e| Message::parse_with(e.get().as_bytes(), policy))
                .collect();
            let class = if batch.is_empty() {
                Class::Invalid(Invalid::EmptyBatch)
            } else {
                Class::Batch
            };
            return Message {
                raw: raw.to_vec(),
                value: Some(value),
                class,
                id: None,
                parse_error: None,
                key_issues: issues,
                batch,
            };
        }
        let id = raw_id(raw, policy);
        let class = classify(&value);
        Message {
            raw: raw.to_vec(),
            value: Some(value),
            class,
            id,
            parse_error: None,
            key_issues: issues,
            batch: Vec::new(),
        }
    }

    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The parsed value (`None` when the bytes are not JSON).
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref()
    }

    pub fn class(&self) -> &Class {
        &self.class
    }

    /// The id as written, when it is a string or a number.
    pub fn id(&self) -> Option<&Id> {
        self.id.as_ref()
    }

    /// `method`, when it is a string.
    pub fn method(&self) -> Option<&str> {
        self.value.as_ref()?.get("method")?.as_str()
    }

    /// `params`, when present.
    pub fn params(&self) -> Option<&Value> {
        self.value.as_ref()?.get("params")
    }

    /// Why the bytes are not JSON.
    pub fn parse_error(&self) -> Option<&str> {
        self.parse_error.as_deref()
    }

    /// The elements of a batch, each a message of its own.
    pub fn batch(&self) -> &[Message] {
        &self.batch
    }

    pub fn key_issues(&self) -> &[KeyIssue] {
        &self.key_issues
    }

    /// True when some object, at any depth, has the same key twice.
    pub fn has_duplicate_keys(&self) -> bool {
        self.key_issues
            .iter()
            .any(|i| i.kind == KeyIssueKind::Duplicate)
    }

    /// True when some object, at any depth, has two keys equal under case folding.
    pub fn has_case_variant_keys(&self) -> bool {
        self.key_issues
            .iter()
            .any(|i| i.kind == KeyIssueKind::CaseVariant)
    }

    pub fn is_request(&self) -> bool {
        self.class == Class::Request
    }

    pub fn is_notification(&self) -> bool {
        self.class == Class::Notification
    }
}

fn classify(v: &Value) -> Class {
    let Some(obj) = v.as_object() else {
        return Class::Invalid(Invalid::NotAnObject);
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Class::Invalid(Invalid::Version);
    }
    let id_ok = match obj.get("id") {
        None => true,
        Some(Value::String(_) | Value::Number(_)) => true,
        Some(_) => false,
    };
    if let Some(m) = obj.get("method") {
        if !m.is_string() {
            return Class::Invalid(Invalid::MethodType);
        }
        if !id_ok {
            return Class::Invalid(Invalid::IdType);
        }
        if !matches!(
            obj.get("params"),
            None | Some(Value::Object(_) | Value::Array(_))
        ) {
            return Class::Invalid(Invalid::ParamsType);
        }
        return if obj.contains_key("id") {
            Class::Request
        } else {
            Class::Notification
        };
    }
    match (obj.contains_key("result"), obj.get("error")) {
        (true, None) if id_ok && obj.contains_key("id") => Class::Response,
        // An error response may carry a null id when the request's id was unreadable.
        (false, Some(Value::Object(_))) if id_ok || obj.get("id") == Some(&Value::Null) => {
            Class::ErrorResponse
        }
        _ if !id_ok => Class::Invalid(Invalid::IdType),
        _ => Class::Invalid(Invalid::Shape),
    }
}

/// The text of the top-level `id` member, under the same duplicate policy as the value.
fn raw_id(raw: &[u8], policy: DuplicatePolicy) -> Option<Id> {
    let members: Members = serde_json::from_slice(raw).ok()?;
    let mut ids = members
        .0
        .into_iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v);
    let chosen = match policy {
        DuplicatePolicy::First => ids.next(),
        DuplicatePolicy::Last => ids.next_back(),
    }?;
    Id::from_json_text(chosen.get())
}

/// A top-level object's members in order, duplicates kept, values unparsed.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> de::Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

fn parse_value(
    raw: &[u8],
    policy: DuplicatePolicy,
    issues: &mut Vec<KeyIssue>,
) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    let value = Scan {
        policy,
        path: String::new(),
        issues: &mut *issues,
    }
    .deserialize(&mut de)
    .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Builds a `Value` while noting duplicate and case-variant keys on the way.
struct Scan<'i> {
    policy: DuplicatePolicy,
    path: String,
    issues: &'i mut Vec<KeyIssue>,
}

impl<'de, 'i> DeserializeSeed<'de> for Scan<'i> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, 'i> Visitor<'de> for Scan<'i> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, out.len());
            match seq.next_element_seed(Scan {
                policy: self.policy,
                path,
                issues: &mut *self.issues,
            })? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        // folded key → every spelling seen, in order, repeats included
        let mut spellings: BTreeMap<String, Vec<String>> = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            let value = map.next_value_seed(Scan {
                policy: self.policy,
                path,
                issues: &mut *self.issues,
            })?;
            spellings.entry(fold(&key)).or_default().push(key.clone());
            let keep_existing = self.policy == DuplicatePolicy::First && out.contains_key(&key);
            if !keep_existing {
                out.insert(key, value);
            }
        }
        for keys in spellings.into_values().filter(|k| k.len() > 1) {
            let mut distinct = keys.clone();
            distinct.sort();
            distinct.dedup();
            if distinct.len() < keys.len() {
                self.issues.push(KeyIssue {
                    path: self.path.clone(),
                    kind: KeyIssueKind::Duplicate,
                    keys: keys.clone(),
                });
            }
            if distinct.len() > 1 {
                self.issues.push(KeyIssue {
                    path: self.path.clone(),
                    kind: KeyIssueKind::CaseVariant,
                    keys: distinct,
                });
            }
        }
        Ok(Value::Object(out))
    }
}

/// Case folding close to Go's `strings.EqualFold`, which Intercept's decoder
/// uses to match member names: lower case, plus the folds to ASCII that
/// lowercasing alone misses (long s, Kelvin sign).
pub fn fold(key: &str) -> String {
    key.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ſ' => 's',
            'K' => 'k',
            other => other,
        })
        .collect()
}

/// A JSON-RPC error object, built by meaning.
#[derive(Clone, Debug, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }
    pub fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }
    pub fn parse_error(detail: &str) -> RpcError {
        RpcError::new(codes::PARSE_ERROR, format!("Parse error: {detail}"))
    }
    pub fn invalid_request(detail: &str) -> RpcError {
        RpcError::new(codes::INVALID_REQUEST, format!("Invalid Request: {detail}"))
    }
    pub fn method_not_found(method: &str) -> RpcError {
        RpcError::new(
            codes::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        )
    }
    pub fn invalid_params(detail: &str) -> RpcError {
        RpcError::new(codes::INVALID_PARAMS, format!("Invalid params: {detail}"))
    }
    pub fn internal(detail: &str) -> RpcError {
        RpcError::new(codes::INTERNAL_ERROR, format!("Internal error: {detail}"))
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("code".into(), Value::from(self.code));
        m.insert("message".into(), Value::String(self.message.clone()));
        if let Some(d) = &self.data {
            m.insert("data".into(), d.clone());
        }
        Value::Object(m)
    }
}

fn id_text(id: Option<&Id>) -> &str {
    id.map_or("null", Id::as_json)
}

/// `{"jsonrpc":"2.0","id":…,"error":{…}}` with the id echoed exactly (`null` when unknown).
pub fn error_response(id: Option<&Id>, err: &RpcError) -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":{},"error":{}}}"#,
        id_text(id),
        err.to_value()
    )
    .into_bytes()
}

/// `{"jsonrpc":"2.0","id":…,"result":…}` with the id echoed exactly.
pub fn result_response(id: &Id, result: &Value) -> Vec<u8> {
    result_response_text(id, &result.to_string())
}

/// [`result_response`] for a result already serialised (e.g. to keep key order).
pub fn result_response_text(id: &Id, result: &str) -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{result}}}"#,
        id.as_json()
    )
    .into_bytes()
}

/// A request with the given id text.
pub fn request(id: &Id, method: &str, params: Option<&Value>) -> Vec<u8> {
    let method = Value::String(method.to_string());
    match params {
        Some(p) => format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":{method},"params":{p}}}"#,
            id.as_json()
        ),
        None => format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":{method}}}"#,
            id.as_json()
        ),
    }
    .into_bytes()
}

/// A notification (no id, never answered).
pub fn notification(method: &str, params: Option<&Value>) -> Vec<u8> {
    let method = Value::String(method.to_string());
    match params {
        Some(p) => format!(r#"{{"jsonrpc":"2.0","method":{method},"params":{p}}}"#),
        None => format!(r#"{{"jsonrpc":"2.0","method":{method}}}"#),
    }
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Class {
        Message::parse(s.as_bytes()).class().clone()
    }

    #[test]
    fn classifies_the_five_kinds() {
        assert_eq!(
            class(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Class::Request
        );
        assert_eq!(
            class(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Class::Notification
        );
        assert_eq!(
            class(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            Class::Response
        );
        assert_eq!(
            class(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"x"}}"#),
            Class::ErrorResponse
        );
        assert_eq!(
            class(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
            Class::Batch
        );
        assert_eq!(class("this is not json"), Class::Unparsable);
        assert_eq!(
            class(r#"{"jsonrpc":"2.0","id":1,"method":"ping"} x"#),
            Class::Unparsable
        );
    }

    #[test]
    fn invalid_shapes_are_named() {
        assert_eq!(
            class(r#"{"jsonrpc":"2.0","id":1,"method":5}"#),
            Class::Invalid(Invalid::MethodType)
        );
        assert_eq!(
            class(r#"{"jsonrpc":2,"id":1,"method":"ping"}"#),
            Class::Invalid(Invalid::Version)
        );
        assert_eq!(
            class(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#),
            Class::Invalid(Invalid::IdType)
        );
        assert_eq!(
            class(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":"s"}"#),
            Class::Invalid(Invalid::ParamsType)
        );
        assert_eq!(
            class(r#"{"jsonrpc":"2.0","id":1}"#),
            Class::Invalid(Invalid::Shape)
        );
        assert_eq!(class("[]"), Class::Invalid(Invalid::EmptyBatch));
        assert_eq!(class("5"), Class::Invalid(Invalid::NotAnObject));
    }

    #[test]
    fn ids_keep_their_exact_text() {
        for (msg, id) in [
            (r#"{"jsonrpc":"2.0","id":"1","method":"ping"}"#, r#""1""#),
            (r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, "1"),
            (r#"{"jsonrpc":"2.0","id":1.0,"method":"ping"}"#, "1.0"),
            (r#"{"jsonrpc":"2.0","id":1e2,"method":"ping"}"#, "1e2"),
        ] {
            let m = Message::parse(msg.as_bytes());
            assert_eq!(m.id().map(Id::as_json), Some(id));
            let reply = result_response(m.id().unwrap(), &Value::Object(Map::new()));
            assert_eq!(
                String::from_utf8(reply).unwrap(),
                format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)
            );
        }
        assert_ne!(Id::string("1"), Id::number(1));
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth_and_resolved_by_policy() {
        let raw = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"amount":1,"amount":99999}}}"#;
        let last = Message::parse(raw);
        assert!(last.has_duplicate_keys());
        assert!(!last.has_case_variant_keys());
        assert_eq!(last.key_issues()[0].path, "params.arguments");
        assert_eq!(last.params().unwrap()["arguments"]["amount"], 99999);
        let first = Message::parse_with(raw, DuplicatePolicy::First);
        assert_eq!(first.params().unwrap()["arguments"]["amount"], 1);
        assert_eq!(first.raw(), raw);
        assert!(
            !Message::parse(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).has_duplicate_keys()
        );
    }

    #[test]
    fn duplicate_ids_follow_the_policy() {
        let raw = br#"{"jsonrpc":"2.0","id":1,"id":"two","method":"ping"}"#;
        assert_eq!(Message::parse(raw).id().unwrap().as_json(), r#""two""#);
        assert_eq!(
            Message::parse_with(raw, DuplicatePolicy::First)
                .id()
                .unwrap()
                .as_json(),
            "1"
        );
    }

    #[test]
    fn case_variants_include_unicode_folds() {
        let m = Message::parse(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","Name":"b"}}"#,
        );
        assert!(m.has_case_variant_keys());
        assert!(!m.has_duplicate_keys());
        assert_eq!(
            m.key_issues()[0].keys,
            vec!["Name".to_string(), "name".to_string()]
        );
        let m = Message::parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"arguments\":{},\"argument\\u017f\":{}}}".as_bytes());
        assert!(m.has_case_variant_keys());
        let m = Message::parse(br#"{"jsonrpc":"2.0","id":1,"Method":"x","method":"y"}"#);
        assert_eq!(m.key_issues()[0].path, "");
    }

    #[test]
    fn batch_elements_are_messages_with_their_own_bytes() {
        let m = Message::parse(
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, {"jsonrpc":"2.0","method":"n"}]"#,
        );
        assert_eq!(m.batch().len(), 2);
        assert_eq!(
            m.batch()[0].raw(),
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#
        );
        assert_eq!(m.batch()[1].class(), &Class::Notification);
    }

    #[test]
    fn error_constructors_use_the_standard_codes() {
        assert_eq!(RpcError::parse_error("x").code, -32700);
        assert_eq!(RpcError::invalid_request("x").code, -32600);
        assert_eq!(RpcError::method_not_found("x").code, -32601);
        assert_eq!(RpcError::invalid_params("x").code, -32602);
        assert_eq!(RpcError::internal("x").code, -32603);
        let bytes = error_response(None, &RpcError::parse_error("bad"));
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["error"]["code"], -32700);
    }
}
