//! The `tools/list` hide filter (semantics §4), Intercept's only rewriting of
//! upstream traffic.
//!
//! It fails open exactly where Intercept does (unparsable page, error
//! response, odd `result` shape → unchanged bytes, G-16) and otherwise
//! re-serialises the page the way Go marshals a map: only `id`, `jsonrpc`
//! and `result{nextCursor?, tools}` survive, keys sorted. The strict
//! profile uses [`filter_page`] to refuse the pages Intercept lets through.

use super::decode::{envelope, fold_eq};
use super::rawjson::{self, Kind, Node};
use crate::engine::Hidden;
use crate::gofmt::json::{compact_raw, write_string_bytes};

/// What filtering did to one page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filtered {
    /// Nothing to hide, or an error response: forward the bytes as they are.
    Unchanged,
    /// The page re-serialised without hidden tools.
    Rewritten(Vec<u8>),
    /// Not a page Intercept can read (unparsable, odd `result` shape):
    /// Intercept forwards it unchanged, hidden tools included (G-16).
    Unfilterable,
}

/// Filters one `tools/list` response page as Intercept does: `None` means
/// "forward unchanged" (including the fail-open cases).
pub fn filter_tools_list(body: &[u8], hide: &Hidden) -> Option<Vec<u8>> {
    match filter_page(body, hide) {
        Filtered::Rewritten(out) => Some(out),
        Filtered::Unchanged | Filtered::Unfilterable => None,
    }
}

/// Filters one page, telling the fail-open case apart (the strict profile refuses it).
pub fn filter_page(body: &[u8], hide: &Hidden) -> Filtered {
    if hide.is_empty() {
        return Filtered::Unchanged;
    }
    match rawjson::parse(body) {
        Ok(node) => filter_parsed(&node, body, hide),
        Err(_) => Filtered::Unfilterable,
    }
}

/// [`filter_page`] on a page already parsed: `node` spans into `body`
/// (a large server's page is parsed once, not once per reader).
pub fn filter_parsed(node: &Node, body: &[u8], hide: &Hidden) -> Filtered {
    if hide.is_empty() {
        return Filtered::Unchanged;
    }
    let Kind::Object(members) = &node.kind else {
        return Filtered::Unfilterable;
    };
    let env = envelope(members);
    if env.type_error {
        return Filtered::Unfilterable;
    }
    if env.error.is_some_and(|e| !e.is_null()) {
        return Filtered::Unchanged;
    }
    let Some((tools, cursor)) = env.result.and_then(tools_page) else {
        return Filtered::Unfilterable;
    };
    let mut out = Vec::with_capacity(body.len());
    out.extend_from_slice(b"{\"id\":");
    match env.id {
        Some(id) => compact_raw(&mut out, id.raw(body)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"jsonrpc\":");
    write_string_bytes(&mut out, env.jsonrpc.unwrap_or_default().as_bytes());
    out.extend_from_slice(b",\"result\":{");
    if let Some(c) = cursor.filter(|c| !c.is_empty()) {
        out.extend_from_slice(b"\"nextCursor\":");
        write_string_bytes(&mut out, c.as_bytes());
        out.push(b',');
    }
    out.extend_from_slice(b"\"tools\":[");
    let mut first = true;
    for tool in tools.iter().filter(|t| !tool_name(t).is_some_and(|n| hide.hides(n))) {
        if !first {
            out.push(b',');
        }
        first = false;
        compact_raw(&mut out, tool.raw(body));
    }
    out.extend_from_slice(b"]}}");
    Filtered::Rewritten(out)
}

/// `result` decoded as `{tools []RawMessage; nextCursor string}`; `None` on a type error.
fn tools_page(result: &Node) -> Option<(Vec<&Node>, Option<String>)> {
    let members = match &result.kind {
        Kind::Null => return Some((Vec::new(), None)),
        Kind::Object(m) => m,
        _ => return None,
    };
    let mut tools = Vec::new();
    let mut cursor = None;
    for m in members {
        if fold_eq(&m.key.text, "tools") {
            match &m.value.kind {
                Kind::Array(items) => tools = items.iter().collect(),
                Kind::Null => tools = Vec::new(),
                _ => return None,
            }
        } else if fold_eq(&m.key.text, "nextCursor") {
            match &m.value.kind {
                Kind::Str(s) => cursor = Some(s.text.clone()),
                Kind::Null => {}
                _ => return None,
            }
        }
    }
    Some((tools, cursor))
}

/// The entry's `name` when it is a string (the last of repeated members).
fn tool_name(tool: &Node) -> Option<&str> {
    let Kind::Object(members) = &tool.kind else {
        return None;
    };
    members.iter().rev().find(|m| m.key.text == "name").and_then(|m| match &m.value.kind {
        Kind::Str(s) => Some(s.text.as_str()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hide(names: &[&str]) -> Hidden {
        Hidden::new(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn rebuilds_the_page_without_hidden_tools() {
        let body = br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read_file","description":"Read <a> file"},{"name":"write_file"},{"name":"delete_file"}],"nextCursor":"c-2","_meta":{"k":1}}}"#;
        let out = filter_tools_list(body, &hide(&["delete_file", "Write_File"])).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"id":1,"jsonrpc":"2.0","result":{"nextCursor":"c-2","tools":[{"name":"read_file","description":"Read \u003ca\u003e file"},{"name":"write_file"}]}}"#
        );
    }

    #[test]
    fn star_hides_everything_but_nameless_entries() {
        let body = br#"{"jsonrpc":"2.0","id":"x","result":{"tools":[{"name":"a"},{"name":["a"]},{"title":"t"}],"nextCursor":""}}"#;
        let out = filter_tools_list(body, &hide(&["*"])).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"id":"x","jsonrpc":"2.0","result":{"tools":[{"name":["a"]},{"title":"t"}]}}"#
        );
    }

    #[test]
    fn fails_open_like_intercept() {
        let h = hide(&["a"]);
        for body in [
            &br#"{"jsonrpc":"2.0","id":7,"error":{"code":-32600,"message":"Invalid Request"}}"#[..],
            br#"{"jsonrpc":"2.0","id":8,"result":{"tools":[{"name":"a"}],"nextCursor":5}}"#,
            br#"{"jsonrpc":"2.0","id":8,"result":{"tools":{"name":"a"}}}"#,
            br#"{"jsonrpc":"2.0","id":8}"#,
            b"not json",
            b"[1]",
        ] {
            assert_eq!(filter_tools_list(body, &h), None, "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(filter_tools_list(br#"{"id":1,"result":{"tools":[{"name":"a"}]}}"#, &Hidden::default()), None);
    }

    #[test]
    fn tells_error_responses_from_unreadable_pages() {
        let h = hide(&["a"]);
        assert_eq!(filter_page(br#"{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"m"}}"#, &h), Filtered::Unchanged);
        assert_eq!(filter_page(br#"{"jsonrpc":"2.0","id":8,"result":{"tools":5}}"#, &h), Filtered::Unfilterable);
        assert_eq!(filter_page(br#"{"jsonrpc":"2.0","id":8,"result":{"tools":[]}}"#, &Hidden::default()), Filtered::Unchanged);
    }
}
