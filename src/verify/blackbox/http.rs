//! One agent session over Streamable HTTP, for proxies that listen
//! (`--proxy-url`): each message is one POST, answered with JSON or an SSE
//! stream, delivered into the same [`Inbox`] a stdio session uses.
//!
//! HTTP fronts often refuse before any JSON-RPC (403, 429 with a JSON or text
//! body). The agent still needs an answer per request id, and the report needs
//! the shape, so such a refusal is delivered as a JSON-RPC error whose `data`
//! carries the HTTP status ([`HTTP_STATUS`]); the denial classifier
//! reads it back as an HTTP-status refusal.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::process::{ids_in, Inbox};
use crate::verify::denial::HTTP_STATUS;
use crate::mcp::http::{HttpClient, METHOD_HEADER, NAME_HEADER, PROTOCOL_VERSION_HEADER, SESSION_HEADER};

/// How much of a refusing body is kept as the denial text.
const MAX_BODY: usize = 2_000;

/// What a session learns from its answers and later requests must carry.
#[derive(Default)]
struct Learned {
    session_id: Option<String>,
    protocol_version: Option<String>,
    /// Why the proxy could not be reached, once it could not.
    broken: Option<String>,
}

pub struct HttpSession {
    client: HttpClient,
    runtime: tokio::runtime::Handle,
    headers: Arc<Vec<(String, String)>>,
    inbox: Arc<Inbox>,
    learned: Arc<Mutex<Learned>>,
}

impl HttpSession {
    pub fn new(url: &str, headers: Arc<Vec<(String, String)>>, runtime: tokio::runtime::Handle, inbox: Arc<Inbox>) -> Result<HttpSession, String> {
        let client = HttpClient::unpooled(url).map_err(|e| format!("--proxy-url: {e}"))?;
        Ok(HttpSession { client, runtime, headers, inbox, learned: Arc::default() })
    }

    /// POSTs one line without waiting for its answer (calls are pipelined on
    /// the plan's schedule); the answer, or a refusal, lands in the inbox.
    pub fn send(&mut self, line: &[u8]) -> Result<(), String> {
        if let Some(why) = self.broken() {
            return Err(why);
        }
        let message: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
        let ids = ids_in(&message);
        self.inbox.expect(ids.iter().cloned());
        let body = line.to_vec();
        let mut headers: Vec<(String, String)> = self.headers.iter().cloned().collect();
        if let Some(method) = message.get("method").and_then(Value::as_str) {
            headers.push((METHOD_HEADER.into(), method.into()));
            if let Some(name) = message.pointer("/params/name").and_then(Value::as_str) {
                headers.push((NAME_HEADER.into(), name.into()));
            }
        }
        {
            let learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
            headers.extend(learned.session_id.clone().map(|s| (SESSION_HEADER.to_string(), s)));
            headers.extend(learned.protocol_version.clone().map(|v| (PROTOCOL_VERSION_HEADER.to_string(), v)));
        }
        let (client, inbox, learned) = (self.client.clone(), self.inbox.clone(), self.learned.clone());
        let initialize = message.get("method").and_then(Value::as_str) == Some("initialize");
        self.runtime.spawn(async move {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            match client.post(&body, &pairs).await {
                Ok(reply) => {
                    let mut l = learned.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(s) = reply.session_id.clone() {
                        l.session_id = Some(s);
                    }
                    if initialize {
                        l.protocol_version = reply
                            .messages
                            .iter()
                            .filter_map(|m| serde_json::from_slice::<Value>(m).ok())
                            .find_map(|v| v.pointer("/result/protocolVersion").and_then(Value::as_str).map(String::from));
                    }
                    drop(l);
                    if (200..300).contains(&reply.status) {
                        reply.messages.into_iter().for_each(|m| inbox.deliver(m));
                    } else {
                        let text = reply.messages.concat();
                        for id in &ids {
                            inbox.deliver(refusal(id, reply.status, &text));
                        }
                    }
                }
                Err(e) => {
                    learned.lock().unwrap_or_else(|e| e.into_inner()).broken = Some(format!("the proxy at its URL could not be reached: {e}"));
                    inbox.closed();
                }
            }
        });
        Ok(())
    }

    /// Why the proxy stopped answering, once it did.
    pub fn broken(&self) -> Option<String> {
        self.learned.lock().unwrap_or_else(|e| e.into_inner()).broken.clone()
    }
}

/// A JSON-RPC error for request `id` (JSON text) standing for an HTTP refusal:
/// the message is the body's `error`/`message` text when it is JSON, else the body.
pub fn refusal(id: &str, status: u16, body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| {
            ["error", "message", "detail"]
                .iter()
                .find_map(|k| v.get(k).and_then(|e| e.as_str().or_else(|| e.get("message").and_then(Value::as_str))))
        })
        .map(String::from)
        .unwrap_or_else(|| text.trim().chars().take(MAX_BODY).collect());
    let id: Value = serde_json::from_str(id).unwrap_or(Value::Null);
    let error = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": message, "data": {HTTP_STATUS: status}}});
    serde_json::to_vec(&error).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_refusal_becomes_an_error_for_its_request_with_the_status_kept() {
        let body = br#"{"error":"Identity 'demo-user' is not authorized to call tool 'delete_all'","error_id":"x"}"#;
        let v: Value = serde_json::from_slice(&refusal("30", 403, body)).unwrap();
        assert_eq!(v["id"], 30);
        assert_eq!(v["error"]["message"], "Identity 'demo-user' is not authorized to call tool 'delete_all'");
        assert_eq!(v["error"]["data"][HTTP_STATUS], 403);
        let v: Value = serde_json::from_slice(&refusal("\"a\"", 429, b"Too Many Requests\n")).unwrap();
        assert_eq!((v["id"].as_str(), v["error"]["message"].as_str()), (Some("a"), Some("Too Many Requests")));
    }
}
