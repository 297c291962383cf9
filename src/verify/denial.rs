//! How a proxy says no: the shape of a refusal on the wire and its text.
//!
//! Proxies refuse in different shapes: a tool result with `isError` (Intercept
//! and most peers), a JSON-RPC error (others), or an HTTP status before any
//! JSON-RPC (HTTP fronts). Verdicts never depend on this — the ledger decides —
//! but people comparing proxies, and the embedded-vs-real comparison, do.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DenialShape {
    /// `result.isError: true` with the reason as text content.
    ToolError,
    /// A JSON-RPC `error` object.
    JsonRpcError,
    /// An HTTP error status (403, 429, …) instead of a JSON-RPC answer.
    HttpStatus,
}

impl DenialShape {
    pub fn as_str(self) -> &'static str {
        match self {
            DenialShape::ToolError => "result.isError",
            DenialShape::JsonRpcError => "JSON-RPC error",
            DenialShape::HttpStatus => "HTTP status",
        }
    }
}

/// The key in a JSON-RPC error's `data` under which the HTTP driver keeps the
/// status of a refusal that came as an HTTP error instead of JSON-RPC.
pub const HTTP_STATUS: &str = "httpStatus";

/// One refusal as the agent received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Denial {
    pub shape: DenialShape,
    /// The JSON-RPC error code or HTTP status, where the shape has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    pub text: String,
}

/// The refusal in one response message, if it is one.
pub fn of_response(m: &Value) -> Option<Denial> {
    if let Some(e) = m.get("error") {
        if let Some(status) = e.pointer(&format!("/data/{HTTP_STATUS}")).and_then(Value::as_i64) {
            let text = e.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
            return Some(Denial { shape: DenialShape::HttpStatus, code: Some(status), text });
        }
        return Some(Denial {
            shape: DenialShape::JsonRpcError,
            code: e.get("code").and_then(Value::as_i64),
            text: e.get("message").and_then(Value::as_str).unwrap_or_default().to_string(),
        });
    }
    let result = m.get("result")?;
    if result.get("isError").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let text = result
        .get("content")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|c| c.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default();
    Some(Denial { shape: DenialShape::ToolError, code: None, text })
}

/// How the proxy refused tool calls across a run: shape (and code) → outcomes that saw it first.
pub fn refusal_shapes(outcomes: &[super::Outcome]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for d in outcomes.iter().filter_map(|o| o.denial.as_ref()) {
        let key = match d.code {
            Some(c) => format!("{} {c}", d.shape.as_str()),
            None => d.shape.as_str().to_string(),
        };
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_shapes_peers_use() {
        let tool = json!({"jsonrpc": "2.0", "id": 13, "result": {"content": [{"type": "text", "text": "[INTERCEPT POLICY DENIED] no"}], "isError": true}});
        assert_eq!(of_response(&tool), Some(Denial { shape: DenialShape::ToolError, code: None, text: "[INTERCEPT POLICY DENIED] no".into() }));
        let rpc = json!({"jsonrpc": "2.0", "id": 11, "error": {"code": -32029, "message": "Rate limited"}});
        assert_eq!(of_response(&rpc), Some(Denial { shape: DenialShape::JsonRpcError, code: Some(-32029), text: "Rate limited".into() }));
        assert_eq!(of_response(&json!({"jsonrpc": "2.0", "id": 1, "result": {"content": []}})), None);
        let http = json!({"jsonrpc": "2.0", "id": 3, "error": {"code": -32000, "message": "Rate limit exceeded", "data": {HTTP_STATUS: 429}}});
        assert_eq!(of_response(&http), Some(Denial { shape: DenialShape::HttpStatus, code: Some(429), text: "Rate limit exceeded".into() }));
    }
}
