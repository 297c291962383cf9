//! Strict's schema check when no list has shown the tool yet (issue 24: a
//! proxy that validates against a cached schema passed calls made before
//! anything was cached). The sans-IO core, message by message: the call is
//! held, the proxy's own `tools/list` (every page) goes upstream and never
//! reaches the agent, and the call is judged once the list is in; a tool the
//! list lacks, a refused list and a list never answered refuse it.

use std::sync::Arc;
use std::time::Duration;

use gauntlet::caller::CallContext;
use gauntlet::clock::Timestamp;
use gauntlet::engine::store::MemoryStore;
use gauntlet::engine::Engine;
use gauntlet::policy::load_intercept;
use gauntlet::profile::Profile;
use gauntlet::proxy::core::{AuditResult, Output, ProxyCore, WireMode};
use gauntlet::proxy::schemas::Unlisted;
use serde_json::{json, Value};

use crate::proxy_support::{to_agent, to_upstream};

const T0: Timestamp = Timestamp(1_772_449_200_000_000_000);

fn at(secs: i64) -> Timestamp {
    T0.plus_nanos(secs * 1_000_000_000)
}

fn core(mode: WireMode, unlisted: Unlisted) -> ProxyCore {
    let policy = load_intercept("version: \"1\"\ndefault: allow\ntools: {}\n").unwrap();
    let mut core = ProxyCore::new(Engine::new(Arc::new(policy), Profile::Strict), Box::new(MemoryStore::new()), mode);
    core.unlisted_calls(unlisted);
    core
}

fn ctx() -> CallContext {
    CallContext::default()
}

fn zip_call(id: u32, arguments: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "zip", "arguments": arguments}}).to_string()
}

fn zip_entry() -> Value {
    json!({"name": "zip", "inputSchema": {"type": "object", "required": ["path"], "properties": {
        "path": {"type": "string"}, "count": {"type": "integer", "minimum": 1, "maximum": 10}}}})
}

/// The one message the core sent upstream, parsed.
fn one_upstream(out: &[Output]) -> Value {
    let up = to_upstream(out);
    assert_eq!(up.len(), 1, "{out:?}");
    serde_json::from_str(&up[0]).unwrap()
}

/// The answer to the core's own list request `request`, holding `tools` (and a cursor to a next page).
fn page(request: &Value, tools: Value, next: Option<&str>) -> String {
    let mut result = json!({"tools": tools});
    if let Some(cursor) = next {
        result["nextCursor"] = json!(cursor);
    }
    json!({"jsonrpc": "2.0", "id": request["id"], "result": result}).to_string()
}

fn error_of(line: &str) -> (i64, String) {
    let v: Value = serde_json::from_str(line).unwrap();
    (v["error"]["code"].as_i64().unwrap_or_else(|| panic!("no error: {line}")), v["error"]["message"].as_str().unwrap().to_string())
}

#[test]
fn a_call_before_any_list_is_held_then_judged_against_every_page_of_the_proxys_own_list() {
    let mut c = core(WireMode::StdioChild, Unlisted::Ask);
    // The regression: a malformed optional field, sent before any list, was forwarded unchecked.
    let held = c.from_agent(zip_call(7, json!({"path": "a", "count": "1e9"})).as_bytes(), &ctx(), at(0));
    assert!(to_agent(&held).is_empty(), "nothing is answered yet: {held:?}");
    let first = one_upstream(&held);
    assert_eq!((first["method"].as_str(), first["id"].as_str()), (Some("tools/list"), Some("gauntlet-pin-1")), "only the proxy's own list goes: {first}");
    assert_eq!(c.requests_waiting(), 1, "the held call waits as a request");
    let out = c.from_upstream(page(&first, json!([{"name": "other", "inputSchema": {"type": "object"}}]), Some("p2")).as_bytes(), &ctx(), at(1));
    assert!(to_agent(&out).is_empty(), "a page of the proxy's list never reaches the agent: {out:?}");
    let second = one_upstream(&out);
    assert_eq!((second["id"].as_str(), second["params"]["cursor"].as_str()), (Some("gauntlet-pin-1"), Some("p2")));
    let out = c.from_upstream(page(&second, json!([zip_entry()]), None).as_bytes(), &ctx(), at(2));
    assert!(to_upstream(&out).is_empty(), "the malformed call is not forwarded: {out:?}");
    let answers = to_agent(&out);
    assert_eq!(answers.len(), 1, "{answers:?}");
    let (code, message) = error_of(&answers[0]);
    assert_eq!(code, -32602);
    assert!(message.starts_with("invalid params: tool \"zip\" refused: field `count` does not match its inputSchema"), "{message}");
    assert!(answers[0].contains("\"id\":7"), "{}", answers[0]);
    let refused: Vec<_> = out.iter().filter_map(|o| match o { Output::Audit(a) => Some(a), _ => None }).collect();
    assert_eq!((refused.len(), refused[0].result), (1, AuditResult::Refused));
    // The schema is known now: the next call is judged at once, no list asked.
    let line = zip_call(8, json!({"path": "a"}));
    let out = c.from_agent(line.as_bytes(), &ctx(), at(3));
    assert_eq!(to_upstream(&out), [line.as_str()], "forwarded byte for byte");
}

#[test]
fn a_held_valid_call_goes_on_unchanged_once_the_list_is_in_and_so_do_calls_held_with_it() {
    let mut c = core(WireMode::StdioChild, Unlisted::Ask);
    let (a, b) = (zip_call(1, json!({"path": "a"})), zip_call(2, json!({"path": "b", "count": 3})));
    let out = c.from_agent(a.as_bytes(), &ctx(), at(0));
    let list = one_upstream(&out);
    let out = c.from_agent(b.as_bytes(), &ctx(), at(0));
    assert!(out.is_empty(), "the second call waits for the same list: {out:?}");
    let out = c.from_upstream(page(&list, json!([zip_entry()]), None).as_bytes(), &ctx(), at(1));
    assert_eq!(to_upstream(&out), [a.as_str(), b.as_str()], "both forwarded, in order, as sent");
    assert!(to_agent(&out).is_empty());
    let answer = r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#;
    assert_eq!(to_agent(&c.from_upstream(answer.as_bytes(), &ctx(), at(2))), [answer], "the call's own answer reaches the agent");
}

#[test]
fn a_tool_the_upstream_does_not_list_is_refused() {
    let mut c = core(WireMode::StdioChild, Unlisted::Ask);
    let line = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "unzip", "arguments": {}}}).to_string();
    let list = one_upstream(&c.from_agent(line.as_bytes(), &ctx(), at(0)));
    let out = c.from_upstream(page(&list, json!([zip_entry()]), None).as_bytes(), &ctx(), at(1));
    assert!(to_upstream(&out).is_empty());
    let (code, message) = error_of(&to_agent(&out)[0]);
    assert_eq!(code, -32602);
    assert_eq!(message, "invalid params: tool \"unzip\" refused: the upstream's tools/list does not list it, so there is no inputSchema to check its arguments against");
    assert_eq!(c.requests_waiting(), 0);
}

#[test]
fn a_list_the_upstream_refuses_or_never_answers_refuses_the_call() {
    let mut c = core(WireMode::StdioChild, Unlisted::Ask);
    let list = one_upstream(&c.from_agent(zip_call(1, json!({"path": "a"})).as_bytes(), &ctx(), at(0)));
    let refusal = json!({"jsonrpc": "2.0", "id": list["id"], "error": {"code": -32601, "message": "Method not found"}}).to_string();
    let out = c.from_upstream(refusal.as_bytes(), &ctx(), at(1));
    assert!(to_upstream(&out).is_empty());
    let (code, message) = error_of(&to_agent(&out)[0]);
    assert_eq!(code, -32603);
    assert!(message.ends_with("the upstream refused its tools/list (Method not found)"), "{message}");

    // Never answered: at --call-timeout the call is refused for that list, and the late answer is dropped.
    let list = one_upstream(&c.from_agent(zip_call(2, json!({"path": "a"})).as_bytes(), &ctx(), at(10)));
    assert!(c.expire(at(129), Duration::from_secs(120)).is_empty(), "not yet");
    let out = c.expire(at(130), Duration::from_secs(120));
    let (code, message) = error_of(&to_agent(&out)[0]);
    assert_eq!(code, -32603);
    assert_eq!(message, "tool \"zip\" refused: the upstream did not answer the proxy's own tools/list within 120 s, which the call waited for to be checked, so it was not forwarded");
    assert!(to_upstream(&out).is_empty());
    // The next call asks again instead of waiting for the lost list.
    let again = one_upstream(&c.from_agent(zip_call(3, json!({"path": "a"})).as_bytes(), &ctx(), at(131)));
    assert_eq!(again["id"], "gauntlet-pin-3");
    let late = c.from_upstream(page(&list, json!([zip_entry()]), None).as_bytes(), &ctx(), at(132));
    assert!(late.is_empty(), "a late answer to the lost list reaches no one and releases nothing: {late:?}");
    let out = c.from_upstream(page(&again, json!([zip_entry()]), None).as_bytes(), &ctx(), at(133));
    assert_eq!(one_upstream(&out)["id"], 3, "the call goes on once its own list is in");
}

#[test]
fn a_changed_tool_list_makes_the_next_call_wait_for_a_fresh_one() {
    let mut c = core(WireMode::StdioChild, Unlisted::Ask);
    let list = one_upstream(&c.from_agent(zip_call(1, json!({"path": "a"})).as_bytes(), &ctx(), at(0)));
    c.from_upstream(page(&list, json!([zip_entry()]), None).as_bytes(), &ctx(), at(1));
    let changed = r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
    assert_eq!(to_agent(&c.from_upstream(changed.as_bytes(), &ctx(), at(2))), [changed], "the agent hears of it too");
    // Now `count` is gone and extras are refused: the stale schema would have let it pass.
    let fresh = one_upstream(&c.from_agent(zip_call(2, json!({"path": "a", "count": 2})).as_bytes(), &ctx(), at(3)));
    let tightened = json!([{"name": "zip", "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}}}]);
    let out = c.from_upstream(page(&fresh, tightened, None).as_bytes(), &ctx(), at(4));
    assert!(to_upstream(&out).is_empty(), "{out:?}");
    assert!(error_of(&to_agent(&out)[0]).1.contains("field `count` is not declared in its inputSchema"));
}

#[test]
fn the_proxys_own_ids_are_the_agents_to_use_under_strict_no_more() {
    let mut c = core(WireMode::StdioChild, Unlisted::Ask);
    let line = json!({"jsonrpc": "2.0", "id": "gauntlet-pin-1", "method": "tools/list"}).to_string();
    let out = c.from_agent(line.as_bytes(), &ctx(), at(0));
    assert!(to_upstream(&out).is_empty());
    assert_eq!(error_of(&to_agent(&out)[0]).0, -32600);
}

#[test]
fn over_the_http_front_each_post_asks_for_its_own_list() {
    let mut c = core(WireMode::Http, Unlisted::Ask);
    let (a, b) = (zip_call(1, json!({"path": "a"})), zip_call(1, json!({"path": "b", "extra": 1})));
    // Two POSTs at once, each with its own list, answered on its own exchange.
    let list_a = one_upstream(&c.from_agent_on(a.as_bytes(), &ctx(), 1, at(0)));
    let list_b = one_upstream(&c.from_agent_on(b.as_bytes(), &ctx(), 2, at(0)));
    assert_ne!(list_a["id"], list_b["id"]);
    let out = c.from_upstream_on(page(&list_b, json!([zip_entry()]), None).as_bytes(), &ctx(), 2, at(1));
    assert!(to_upstream(&out).is_empty());
    assert!(error_of(&to_agent(&out)[0]).1.contains("field `extra` is not declared"), "{out:?}");
    let out = c.from_upstream_on(page(&list_a, json!([zip_entry()]), None).as_bytes(), &ctx(), 1, at(1));
    assert_eq!(to_upstream(&out), [a.as_str()]);
    // A POST whose list outlives --call-timeout is answered for that list.
    let unzip = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "unzip"}}).to_string();
    one_upstream(&c.from_agent_on(unzip.as_bytes(), &ctx(), 3, at(2)));
    let out = c.give_up_exchange(3, Duration::from_secs(120), at(122));
    assert!(error_of(&to_agent(&out)[0]).1.contains("did not answer the proxy's own tools/list within 120 s"), "{out:?}");
}

#[test]
fn the_intercept_profile_never_holds_a_call() {
    let policy = load_intercept("version: \"1\"\ntools: {}\n").unwrap();
    let mut c = ProxyCore::new(Engine::new(Arc::new(policy), Profile::Intercept), Box::new(MemoryStore::new()), WireMode::StdioChild);
    c.unlisted_calls(Unlisted::Ask);
    let line = zip_call(1, json!({"count": "1e9"}));
    assert_eq!(to_upstream(&c.from_agent(line.as_bytes(), &ctx(), at(0))), [line.as_str()], "Intercept checks no schema");
}
