//! A plain instance of a tool's `outputSchema`, for the mock's answers: a
//! tool that declares an output schema must answer with `structuredContent`
//! that conforms to it. Deterministic (same schema, same instance): every
//! declared property, the first of each `enum`/`anyOf`/`oneOf`, `const`,
//! `default` or the first example when given, lower bounds for numbers and
//! sizes. Local `$ref`s (`#/…`) are followed, to a bounded depth.

use serde_json::{json, Map, Value};

/// How deep `$ref`s and nesting are followed before answering `null`.
const MAX_DEPTH: usize = 12;

pub fn instance(schema: &Value) -> Value {
    at(schema, schema, 0)
}

fn at(schema: &Value, root: &Value, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    let Some(obj) = schema.as_object() else {
        return Value::Null; // `true` or `{}`-like: anything goes.
    };
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        if let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p)) {
            return at(target, root, depth + 1);
        }
    }
    if let Some(v) = obj.get("const") {
        return v.clone();
    }
    if let Some(v) = obj.get("default") {
        return v.clone();
    }
    if let Some(v) = obj
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return v.clone();
    }
    if let Some(v) = obj
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return v.clone();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(first) = obj
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            return at(first, root, depth + 1);
        }
    }
    if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in all {
            if let Value::Object(m) = at(part, root, depth + 1) {
                merged.extend(m);
            }
        }
        return Value::Object(merged);
    }
    let ty = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if obj.contains_key("properties") => "object",
        _ if obj.contains_key("items") => "array",
        _ => return Value::Null,
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            if let Some(props) = obj.get("properties").and_then(Value::as_object) {
                for (k, s) in props {
                    out.insert(k.clone(), at(s, root, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let n = obj
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(8) as usize;
            let item = obj
                .get("items")
                .map(|s| at(s, root, depth + 1))
                .unwrap_or(Value::Null);
            Value::Array(vec![item; n])
        }
        "string" => Value::String(string(obj)),
        "integer" => {
            let min = obj
                .get("minimum")
                .or(obj.get("exclusiveMinimum"))
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            let bump = i64::from(obj.get("exclusiveMinimum").is_some_and(Value::is_number));
            json!(min.ceil() as i64 + bump)
        }
        "number" => match obj.get("minimum").and_then(Value::as_f64) {
            Some(min) => json!(min),
            None => match obj.get("exclusiveMinimum").and_then(Value::as_f64) {
                Some(min) => json!(min + 1.0),
                None => json!(0),
            },
        },
        "boolean" => Value::Bool(false),
        _ => Value::Null,
    }
}

fn string(obj: &Map<String, Value>) -> String {
    let base = match obj.get("format").and_then(Value::as_str) {
        Some("date-time") => "1970-01-01T00:00:00Z",
        Some("date") => "1970-01-01",
        Some("time") => "00:00:00Z",
        Some("uri" | "url" | "iri") => "https://example.com/",
        Some("email") => "user@example.com",
        Some("uuid") => "00000000-0000-0000-0000-000000000000",
        Some("ipv4") => "127.0.0.1",
        _ => "",
    };
    let min = obj.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let mut s = base.to_string();
    while s.chars().count() < min {
        s.push('x');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_conform_to_their_schemas() {
        let schemas = [
            json!({"type": "object", "properties": {"content": {"type": "string"}}, "required": ["content"], "additionalProperties": false}),
            json!({"type": "object", "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}, "at": {"type": "string", "format": "date-time"}, "tags": {"type": "array", "items": {"type": "string", "minLength": 2}, "minItems": 1}}}),
            json!({"type": "object", "properties": {"c": {"type": "array", "items": {"anyOf": [{"type": "object", "properties": {"type": {"type": "string", "enum": ["image", "audio"]}}, "required": ["type"]}]}}}}),
            json!({"$defs": {"e": {"type": "object", "properties": {"name": {"type": "string"}}}}, "type": "object", "properties": {"es": {"type": "array", "items": {"$ref": "#/$defs/e"}, "minItems": 2}}}),
        ];
        for schema in schemas {
            let v = instance(&schema);
            let validator = jsonschema::validator_for(&schema).unwrap();
            assert!(validator.is_valid(&v), "{v} does not conform to {schema}");
        }
    }
}
