//! Tool names a proxy lists under its own namespace.
//!
//! A gateway that federates upstream servers may list an upstream's
//! `create_item` as `toy-create-item` (IBM ContextForge prefixes the
//! gateway's name). The scenarios speak the upstream's names, as the ledger
//! does; with an alias map the agent calls each tool by the name the proxy
//! lists (as a real agent would), and reads the proxy's `tools/list` back in
//! the upstream's names, so "listed", "hidden" and "reached" stay about one
//! tool. Names outside the map pass as they are: a variant spelling of an
//! upstream name reaches the proxy unchanged, and so does a listed name
//! nobody declared (it then counts as an unknown tool, never as a known one).
//!
//! The one exception is the tool's second name (the `namespaced` name
//! variant, `toy-create-item`): in front of such a proxy the other name it
//! may also accept is the upstream's own, so that is what goes out.

use std::collections::BTreeMap;

use serde_json::Value;

/// Listed name ↔ upstream name, both ways.
#[derive(Clone, Debug, Default)]
pub struct Aliases {
    /// (upstream name, listed name), as JSON string tokens for the outgoing bytes.
    tokens: Vec<(Vec<u8>, Vec<u8>)>,
    /// Listed name → upstream name.
    back: BTreeMap<String, String>,
}

impl Aliases {
    /// From the league's `aliases:` (listed name → upstream name) and the
    /// names of the servers in play (the agent forms a tool's second name
    /// from its server's); two listed names for one upstream tool would make
    /// the outgoing name a guess.
    pub fn new<'a>(listed_to_upstream: &BTreeMap<String, String>, servers: impl IntoIterator<Item = &'a str> + Clone) -> Result<Aliases, String> {
        let mut tokens = Vec::new();
        let mut seen = BTreeMap::new();
        let token = |s: &str| serde_json::to_vec(s).unwrap_or_default();
        for (listed, upstream) in listed_to_upstream {
            if let Some(other) = seen.insert(upstream.clone(), listed.clone()) {
                return Err(format!("aliases: `{other}` and `{listed}` both stand for `{upstream}`; give each upstream tool one listed name"));
            }
            tokens.push((token(upstream), token(listed)));
            for server in servers.clone() {
                tokens.push((token(&crate::mock::toolset::namespaced(server, upstream)), token(upstream)));
            }
        }
        Ok(Aliases { tokens, back: listed_to_upstream.clone() })
    }

    pub fn is_empty(&self) -> bool {
        self.back.is_empty()
    }

    /// The agent's message with every upstream tool name (a whole JSON
    /// string) replaced by its listed name, and every second name by the
    /// upstream's own (in one pass: a listed name that is also the second
    /// name is not turned back); every other byte is kept, so the wire
    /// scenarios' odd JSON reaches the proxy as they wrote it.
    pub fn outgoing(&self, line: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(line.len());
        let mut i = 0;
        while i < line.len() {
            match self.tokens.iter().find(|(from, _)| line[i..].starts_with(from)) {
                Some((from, to)) => {
                    out.extend_from_slice(to);
                    i += from.len();
                }
                None => {
                    out.push(line[i]);
                    i += 1;
                }
            }
        }
        out
    }

    /// The proxy's message with listed names in `tools/list` results (one
    /// message or a batch) read back as the upstream's names.
    pub fn incoming(&self, message: Vec<u8>) -> Vec<u8> {
        if self.is_empty() || !message.windows(7).any(|w| w == b"\"tools\"") {
            return message;
        }
        let Ok(mut v) = serde_json::from_slice::<Value>(&message) else { return message };
        let mut renamed = false;
        let items: Vec<&mut Value> = match &mut v {
            Value::Array(items) => items.iter_mut().collect(),
            one => vec![one],
        };
        for item in items {
            for tool in item.pointer_mut("/result/tools").and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(upstream) = tool["name"].as_str().and_then(|n| self.back.get(n)) {
                    tool["name"] = Value::String(upstream.clone());
                    renamed = true;
                }
            }
        }
        if renamed {
            serde_json::to_vec(&v).unwrap_or(message)
        } else {
            message
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Aliases {
        Aliases::new(&[("toy-create-item".to_string(), "create_item".to_string())].into(), ["toy"]).unwrap()
    }

    #[test]
    fn calls_go_out_by_the_listed_name_and_lists_come_back_in_the_upstream_names() {
        let a = toy();
        let call = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"create_item","arguments":{"name":"create_items"}}}"#;
        let sent = String::from_utf8(a.outgoing(call)).unwrap();
        assert_eq!(sent, r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"toy-create-item","arguments":{"name":"create_items"}}}"#);
        // A variant spelling is the agent's attack, not ours to fix; odd bytes stay odd.
        let variant = b"{\"params\":{\"name\":\"Create_Item\"},\r\"Params\":{\"name\":\"create_item\"}}";
        assert_eq!(a.outgoing(variant), b"{\"params\":{\"name\":\"Create_Item\"},\r\"Params\":{\"name\":\"toy-create-item\"}}");
        // The second name: in front of a proxy that lists its own names, the upstream's.
        let second = br#"{"method":"tools/call","params":{"name":"toy-create-item"}}"#;
        assert_eq!(a.outgoing(second), br#"{"method":"tools/call","params":{"name":"create_item"}}"#);
        let listed = br#"[{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"toy-create-item"},{"name":"toy-other"}]}}]"#.to_vec();
        let back: Value = serde_json::from_slice(&a.incoming(listed)).unwrap();
        assert_eq!(back[0]["result"]["tools"][0]["name"], "create_item");
        assert_eq!(back[0]["result"]["tools"][1]["name"], "toy-other", "an undeclared listed name stays unknown");
        let result = br#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"toy-create-item"}]}}"#.to_vec();
        assert_eq!(a.incoming(result.clone()), result, "only tools/list results are read back");
    }

    #[test]
    fn one_upstream_tool_has_one_listed_name() {
        let two = [("a-x".to_string(), "x".to_string()), ("b-x".to_string(), "x".to_string())].into();
        assert!(Aliases::new(&two, ["s"]).unwrap_err().contains("both stand for `x`"));
    }
}
