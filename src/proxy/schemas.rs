//! Strict: a call's arguments held to the `inputSchema` the upstream lists
//! for its tool.
//!
//! Intercept's conditions cannot guard a field a call may leave out (a
//! condition on an absent field is false) nor one the schema never declares,
//! so a bad value there reaches the server whatever the policy says. Under
//! `strict` the core remembers each tool's schema from the `tools/list`
//! answers it passes on (and, pinned, from its own lists) and refuses a call
//! whose arguments the schema rejects: every field present is checked (type,
//! enum, pattern, bounds, lengths, nested objects and arrays, as the
//! `jsonschema` crate reads them) and a required one may not be missing.
//!
//! Undeclared fields fail closed: a top-level field the schema does not name
//! is refused unless the schema says extra fields are welcome
//! (`additionalProperties` or `unevaluatedProperties` other than `false`, or
//! any `patternProperties`, which the validator then applies). A schema that
//! is silent is read as `additionalProperties: false`: no legitimate client
//! needs to send a field the tool never declared, and servers that ignore
//! such fields (pydantic's default) lose nothing.
//!
//! A call of a tool no list has shown yet is what [`Unlisted`] says: the
//! standalone proxy (stdio or HTTP front) and the embedded one hold it and
//! ask the upstream for its list themselves (the core's own `tools/list`,
//! see [`super::pin`]). A `notifications/tools/list_changed` makes every
//! schema unknown again, so the next call waits for a fresh list.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

/// What a strict core does with a call of a tool whose schema it has not seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unlisted {
    /// Passes it to the policy unchecked: only for harnesses that drive the
    /// core message by message with no upstream to ask (conformance
    /// vectors); every proxy that forwards calls asks.
    #[default]
    Unchecked,
    /// Holds it and asks the upstream for its tool list (per session over
    /// stdio, per POST over the HTTP front).
    Ask,
}

/// One tool's argument check.
struct Known {
    /// The schema it is compiled from: a list that repeats it (each session
    /// lists) is not compiled again.
    schema: Value,
    /// Compiled on the first call of the tool (a list of a thousand tools
    /// costs nothing until they are called). Inner `None`: the schema does
    /// not compile, and every call of the tool is refused.
    validator: std::sync::OnceLock<Option<jsonschema::Validator>>,
    /// The top-level fields the schema names; `None` when it admits others.
    declared: Option<BTreeSet<String>>,
}

/// The schemas one proxy core has seen, by tool name (the latest list wins).
#[derive(Default)]
pub struct Schemas {
    tools: HashMap<String, Known>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.tools.keys()).finish()
    }
}

impl Schemas {
    /// Remembers the schema of every tool in a `tools/list` result's `tools` array.
    pub fn learn(&mut self, tools: &[Value]) {
        for entry in tools {
            let Some(name) = entry.get("name").and_then(Value::as_str) else { continue };
            let schema = entry.get("inputSchema").cloned().unwrap_or(Value::Null);
            if self.tools.get(name).is_some_and(|k| k.schema == schema) {
                continue;
            }
            let known = Known { validator: std::sync::OnceLock::new(), declared: declared(&schema), schema };
            self.tools.insert(name.to_string(), known);
        }
    }

    /// Remembers the schemas of a JSON-RPC answer, when it is a `tools/list` result.
    pub fn learn_answer(&mut self, body: &Value) {
        if let Some(tools) = body["result"]["tools"].as_array() {
            self.learn(tools);
        }
    }

    /// Whether a list has shown `tool` since the schemas were last forgotten.
    pub fn knows(&self, tool: &str) -> bool {
        self.tools.contains_key(tool)
    }

    /// The upstream said its tools changed: no schema seen so far is current.
    pub fn forget(&mut self) {
        self.tools.clear();
    }

    /// Why `arguments` (`None`: absent) do not fit `tool`'s schema; `None`
    /// when they do, or when no list has shown the tool yet.
    pub fn refusal(&self, tool: &str, arguments: Option<&Map<String, Value>>) -> Option<String> {
        let known = self.tools.get(tool)?;
        let Some(validator) = known.validator.get_or_init(|| jsonschema::validator_for(&known.schema).ok()) else {
            return Some("its inputSchema is not a schema the proxy can check, so no call of it is forwarded".into());
        };
        let empty = Map::new();
        let arguments = arguments.unwrap_or(&empty);
        if let Some(declared) = &known.declared {
            if let Some(extra) = arguments.keys().find(|k| !declared.contains(*k)) {
                return Some(format!("field `{extra}` is not declared in its inputSchema"));
            }
        }
        let value = Value::Object(arguments.clone());
        let error = validator.iter_errors(&value).next()?;
        let at = error.instance_path.to_string();
        let place = if at.is_empty() { "the arguments".to_string() } else { format!("field `{}`", &at[1..]) };
        Some(format!("{place} does not match its inputSchema: {error}"))
    }
}

/// The top-level fields `schema` names, or `None` when it lets others in.
fn declared(schema: &Value) -> Option<BTreeSet<String>> {
    let open = |key: &str| schema.get(key).is_some_and(|v| v != &Value::Bool(false));
    if open("additionalProperties") || open("unevaluatedProperties") || schema.get("patternProperties").is_some() {
        return None;
    }
    let mut names = BTreeSet::new();
    let mut parts = vec![schema];
    for key in ["allOf", "anyOf", "oneOf"] {
        parts.extend(schema.get(key).and_then(Value::as_array).into_iter().flatten());
    }
    for part in parts {
        names.extend(part.get("properties").and_then(Value::as_object).into_iter().flat_map(|p| p.keys().cloned()));
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> Schemas {
        let mut s = Schemas::default();
        s.learn(&[
            json!({"name": "zip", "inputSchema": {"type": "object", "required": ["path"], "properties": {
                "path": {"type": "string"},
                "name": {"type": "string", "maxLength": 8},
                "count": {"type": "integer", "minimum": 1, "maximum": 10},
                "mode": {"enum": ["fast", "slow"]}}}}),
            json!({"name": "open", "inputSchema": {"type": "object", "additionalProperties": true}}),
            json!({"name": "broken", "inputSchema": {"type": "nonsense"}}),
        ]);
        s
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn optional_fields_are_checked_when_present_and_allowed_when_absent() {
        let s = schemas();
        assert_eq!(s.refusal("zip", Some(&args(json!({"path": "a"})))), None);
        assert_eq!(s.refusal("zip", Some(&args(json!({"path": "a", "count": 3, "mode": "fast"})))), None);
        for bad in [json!({"path": "a", "count": "1e9"}), json!({"path": "a", "count": 11}), json!({"path": "a", "mode": "x"}),
            json!({"path": "a", "name": "far too long a name"}), json!({"path": "a", "name": null})]
        {
            let why = s.refusal("zip", Some(&args(bad.clone()))).unwrap_or_else(|| panic!("{bad} passed"));
            assert!(why.starts_with("field `"), "{why}");
        }
        assert!(s.refusal("zip", None).unwrap().contains("the arguments"));
    }

    #[test]
    fn undeclared_fields_are_refused_unless_the_schema_admits_them() {
        let s = schemas();
        assert_eq!(
            s.refusal("zip", Some(&args(json!({"path": "a", "gauntlet_unexpected": 1})))).as_deref(),
            Some("field `gauntlet_unexpected` is not declared in its inputSchema")
        );
        assert_eq!(s.refusal("open", Some(&args(json!({"anything": 1})))), None);
        assert_eq!(declared(&json!({"allOf": [{"properties": {"a": {}}}], "properties": {"b": {}}})).unwrap().len(), 2);
        assert_eq!(declared(&json!({"patternProperties": {"^x": {}}})), None);
    }

    #[test]
    fn unknown_tools_pass_and_uncheckable_schemas_refuse() {
        let s = schemas();
        assert_eq!(s.refusal("never_listed", Some(&args(json!({"x": 1})))), None);
        assert!(s.refusal("broken", None).is_some());
    }

    #[test]
    fn a_changed_list_forgets_every_schema() {
        let mut s = schemas();
        assert!(s.knows("zip") && !s.knows("never_listed"));
        s.forget();
        assert!(!s.knows("zip") && !s.knows("open"));
    }
}
