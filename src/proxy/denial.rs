//! The bytes the proxy answers with itself: Intercept's denial (semantics §3)
//! and, under the strict profile only, JSON-RPC error refusals.
//!
//! The id is echoed byte for byte from the request (`null` when absent), as
//! Intercept does, except an id holding invalid UTF-8, which becomes `null`:
//! the proxy never writes a line that is not UTF-8. Messages are written
//! with Go's JSON string escaping.

use crate::gofmt::json::write_string_bytes;

/// The prefix of every denial text, trailing space included.
pub const DENIED_PREFIX: &str = "[INTERCEPT POLICY DENIED] ";

/// The id bytes to echo: `null` when absent or not UTF-8.
fn echoed(id: Option<&[u8]>) -> &[u8] {
    id.filter(|id| std::str::from_utf8(id).is_ok()).unwrap_or(b"null")
}

/// A denial: a successful JSON-RPC response carrying an MCP tool error result.
pub fn denial(id: Option<&[u8]>, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + message.len());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(echoed(id));
    out.extend_from_slice(b",\"result\":{\"content\":[{\"type\":\"text\",\"text\":");
    write_string_bytes(&mut out, format!("{DENIED_PREFIX}{message}").as_bytes());
    out.extend_from_slice(b"}],\"isError\":true}}");
    out
}

/// A JSON-RPC error response (strict refusals, malformed HTTP batches).
pub fn jsonrpc_error(id: Option<&[u8]>, code: i64, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + message.len());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(echoed(id));
    out.extend_from_slice(format!(",\"error\":{{\"code\":{code},\"message\":").as_bytes());
    write_string_bytes(&mut out, message.as_bytes());
    out.extend_from_slice(b"}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_matches_intercept_bytes() {
        assert_eq!(
            String::from_utf8(denial(Some(b"1.50"), "Tool \"<b>&\" is not permitted by policy")).unwrap(),
            r#"{"jsonrpc":"2.0","id":1.50,"result":{"content":[{"type":"text","text":"[INTERCEPT POLICY DENIED] Tool \"\u003cb\u003e\u0026\" is not permitted by policy"}],"isError":true}}"#
        );
        assert_eq!(
            String::from_utf8(denial(None, "")).unwrap(),
            r#"{"jsonrpc":"2.0","id":null,"result":{"content":[{"type":"text","text":"[INTERCEPT POLICY DENIED] "}],"isError":true}}"#
        );
    }

    #[test]
    fn jsonrpc_error_is_compact() {
        assert_eq!(
            String::from_utf8(jsonrpc_error(Some(b"\"a\""), -32600, "bad `x`")).unwrap(),
            r#"{"jsonrpc":"2.0","id":"a","error":{"code":-32600,"message":"bad `x`"}}"#
        );
    }

    #[test]
    fn an_id_that_is_not_utf8_is_answered_with_null() {
        let out = jsonrpc_error(Some(b"\"\xff\""), -32600, "x");
        assert!(String::from_utf8(out).unwrap().contains("\"id\":null"));
        let out = denial(Some(b"\"a\xc0\""), "x");
        assert!(String::from_utf8(out).unwrap().contains("\"id\":null"));
    }
}
