//! Edits to a PolicyLayer `policy.json`: `default`, a tool's entry (`{}`
//! allows it), call-count `limits` (`counter`, `window`, `max`, `scope`),
//! and leaving a tool out of `tools` (under `default: deny` that refuses
//! it). JSON has no comments; members keep their order and the file its
//! indentation, so a file in the usual one-member-per-line layout changes
//! only where the edit does.

use std::fmt::Write as _;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{Edit, Limit};

/// A JSON document that keeps member order (serde_json's map sorts it).
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
    Scalar(Value),
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            out.push((k, v));
        }
        Ok(Json::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Json>()? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Scalar(Value::String(v.to_string())))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Null))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

impl Json {
    fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Object(m) => m.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn members(&self) -> &[(String, Json)] {
        match self {
            Json::Object(m) => m,
            _ => &[],
        }
    }

    /// Sets `key` (appended, or inserted after `after` when given and present).
    fn set(&mut self, key: &str, value: Json, after: Option<&str>) -> Result<(), String> {
        let Json::Object(m) = self else { return Err(format!("`{key}` belongs in an object")) };
        if let Some((_, v)) = m.iter_mut().find(|(k, _)| k == key) {
            *v = value;
            return Ok(());
        }
        let at = after.and_then(|a| m.iter().position(|(k, _)| k == a)).map(|i| i + 1).unwrap_or(m.len());
        m.insert(at, (key.to_string(), value));
        Ok(())
    }

    /// The member `key`, created as an empty object when missing.
    fn object(&mut self, key: &str) -> Result<&mut Json, String> {
        if self.get_mut(key).is_none() {
            self.set(key, Json::Object(Vec::new()), None)?;
        }
        self.get_mut(key).ok_or_else(|| format!("`{key}` is not an object"))
    }

    fn print(&self, unit: &str, level: usize, out: &mut String) {
        let pad = |n: usize| unit.repeat(n);
        match self {
            Json::Scalar(v) => out.push_str(&v.to_string()),
            Json::Object(m) if m.is_empty() => out.push_str("{}"),
            Json::Array(a) if a.is_empty() => out.push_str("[]"),
            Json::Object(m) => {
                out.push_str("{\n");
                for (i, (k, v)) in m.iter().enumerate() {
                    let _ = write!(out, "{}{}: ", pad(level + 1), Value::String(k.clone()));
                    v.print(unit, level + 1, out);
                    out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(level));
                out.push('}');
            }
            Json::Array(a) => {
                out.push_str("[\n");
                for (i, v) in a.iter().enumerate() {
                    out.push_str(&pad(level + 1));
                    v.print(unit, level + 1, out);
                    out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(level));
                out.push(']');
            }
        }
    }
}

fn s(text: &str) -> Json {
    Json::Scalar(Value::String(text.to_string()))
}

/// The file's indentation unit: the leading whitespace of its first indented line (two spaces if none).
fn indent_unit(text: &str) -> String {
    text.lines()
        .map(|l| &l[..l.len() - l.trim_start().len()])
        .find(|w| !w.is_empty())
        .unwrap_or("  ")
        .to_string()
}

/// Every counter name the file uses (counters are shared by name across tools).
fn counters(root: &Json) -> Vec<String> {
    let mut out = Vec::new();
    for (_, tool) in root.members().iter().find(|(k, _)| k == "tools").map(|(_, t)| t.members()).unwrap_or_default() {
        if let Some((_, Json::Array(limits))) = tool.members().iter().find(|(k, _)| k == "limits") {
            for l in limits {
                if let Some((_, Json::Scalar(Value::String(c)))) = l.members().iter().find(|(k, _)| k == "counter") {
                    out.push(c.clone());
                }
            }
        }
    }
    out
}

fn limit_object(counter: &str, limit: Limit) -> Json {
    Json::Object(vec![
        ("counter".into(), s(counter)),
        ("window".into(), s(&limit.window.to_string())),
        ("max".into(), Json::Scalar(Value::from(limit.max))),
        // Counted for every caller: a per-grant or per-session count resets when the agent switches.
        ("scope".into(), s("global")),
    ])
}

/// Applies one edit to the text of a policy.json.
pub fn apply(text: &str, edit: &Edit) -> Result<String, String> {
    let mut root: Json = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    match edit {
        Edit::DefaultDeny => root.set("default", s("deny"), Some("version"))?,
        Edit::AddTool(t) => {
            let tools = root.object("tools")?;
            if tools.get_mut(t).is_none() {
                tools.set(t, Json::Object(Vec::new()), None)?;
            }
        }
        Edit::Deny(t) => {
            if let Some(Json::Object(m)) = root.get_mut("tools") {
                m.retain(|(k, _)| k != t);
            }
        }
        Edit::AddRule { tool, rule } => match (rule.rate_limit, rule.conditions.is_empty() && rule.state.is_none()) {
            (Some(limit), true) => {
                let taken = counters(&root);
                let base = format!("{tool}_per_{}", limit.window);
                let counter = std::iter::once(base.clone())
                    .chain((2..).map(|i| format!("{base}_{i}")))
                    .find(|c| !taken.contains(c))
                    .unwrap_or(base);
                let entry = root.object("tools")?.object(tool)?;
                if entry.get_mut("limits").is_none() {
                    entry.set("limits", Json::Array(Vec::new()), None)?;
                }
                match entry.get_mut("limits") {
                    Some(Json::Array(limits)) => limits.push(limit_object(&counter, limit)),
                    _ => return Err(format!("`tools.{tool}.limits` is not a list")),
                }
            }
            _ => return Err("policy.json has call-count limits only".into()),
        },
        Edit::SetRateLimit { tool, rule, limit, .. } => {
            let Some(Json::Array(limits)) = root.get_mut("tools").and_then(|t| t.get_mut(tool)).and_then(|e| e.get_mut("limits"))
            else {
                return Err(format!("`{tool}` has no limits"));
            };
            let l = limits.get_mut(*rule).ok_or_else(|| format!("`{tool}` has no limit number {}", rule + 1))?;
            l.set("window", s(&limit.window.to_string()), None)?;
            l.set("max", Json::Scalar(Value::from(limit.max)), None)?;
            l.set("scope", s("global"), None)?;
        }
        Edit::Hide(..) | Edit::RemoveCondition { .. } | Edit::SetCondition { .. } => {
            return Err("policy.json cannot hide a tool or hold argument conditions".into())
        }
    }
    let mut out = String::new();
    root.print(&indent_unit(text), 0, &mut out);
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{apply_all, NewRule};
    use super::*;
    use crate::policy::model::{CounterScope, DefaultAction, Dialect, Window};

    const SEED: &str = "{\n  \"version\": \"1\",\n  \"default\": \"allow\",\n  \"tools\": {\n    \"customer_persona\": {\n      \"limits\": [\n        {\n          \"counter\": \"customer_persona_rate\",\n          \"window\": \"minute\",\n          \"max\": 10,\n          \"scope\": \"grant\"\n        }\n      ]\n    },\n    \"delete_everything\": {}\n  }\n}\n";

    #[test]
    fn an_untouched_file_prints_back_byte_for_byte() {
        let j: Json = serde_json::from_str(SEED).unwrap();
        let mut out = String::new();
        j.print(&indent_unit(SEED), 0, &mut out);
        assert_eq!(out + "\n", SEED);
    }

    #[test]
    fn edits_keep_member_order_and_load_as_policylayer() {
        let minute = |max| Limit { max, window: Window::Minute };
        let rate = NewRule { name: "rate per minute".into(), rate_limit: Some(minute(5)), on_deny: None, conditions: vec![], state: None, note: Default::default() };
        let edits = [
            Edit::DefaultDeny,
            Edit::SetRateLimit { tool: "customer_persona".into(), rule: 0, limit: minute(5), note: Default::default() },
            Edit::AddRule { tool: "swot_analysis".into(), rule: rate },
            Edit::Deny("delete_everything".into()),
            Edit::AddTool("market_trends".into()),
        ];
        let out = apply_all(Dialect::PolicyLayer, SEED, &edits).unwrap();
        assert!(out.starts_with("{\n  \"version\": \"1\",\n  \"default\": \"deny\",\n"), "{out}");
        assert!(out.contains("\"counter\": \"customer_persona_rate\",\n          \"window\": \"minute\",\n          \"max\": 5,\n          \"scope\": \"global\""), "{out}");
        let p = crate::policy::load_str(&out, "p.json", None).unwrap_or_else(|e| panic!("{e}\n{out}")).policy;
        assert_eq!((p.dialect, p.default), (Dialect::PolicyLayer, DefaultAction::Deny));
        let names: Vec<&str> = p.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["customer_persona", "swot_analysis", "market_trends"]);
        let swot = &p.tool("swot_analysis").unwrap().rules[0];
        let state = swot.state.as_ref().unwrap();
        assert_eq!((state.counter.as_str(), state.window, state.scope), ("swot_analysis_per_minute", Window::Minute, CounterScope::Shared));
        let persona = p.tool("customer_persona").unwrap().rules[0].state.as_ref().unwrap().scope;
        assert_eq!(persona, CounterScope::Shared);
    }
}
