//! The sans-IO proxy core, message by message: what goes upstream, what the
//! agent gets back, what is audited, and what the counters hold afterwards.

use std::sync::Arc;

use gauntlet::clock::Timestamp;
use gauntlet::engine::store::MemoryStore;
use gauntlet::caller::CallContext;
use gauntlet::engine::{CounterKey, Engine};
use gauntlet::policy::load_intercept;
use gauntlet::profile::Profile;
use gauntlet::proxy::core::{AuditRecord, AuditResult, Output, ProxyCore, WireMode};
use crate::proxy_support::{to_agent, to_upstream};

const LIMITED: &str = r#"
version: "1"
hide: ["secret"]
tools:
  t:
    rules:
      - name: "two per hour"
        rate_limit: 2/hour
  delete_customer:
    rules:
      - name: "block"
        action: deny
        on_deny: "Customer deletion is not permitted"
"#;

fn engine(yaml: &str, profile: Profile) -> Engine {
    let policy = load_intercept(yaml).expect("test policy is valid");
    Engine::new(Arc::new(policy), profile)
}

fn core(yaml: &str, profile: Profile, mode: WireMode) -> ProxyCore {
    ProxyCore::new(engine(yaml, profile), Box::new(MemoryStore::new()), mode)
}

fn at(secs: i64) -> Timestamp {
    Timestamp::parse_rfc3339("2026-03-02T10:00:00Z").unwrap().plus_nanos(secs * 1_000_000_000)
}

fn ctx() -> CallContext {
    CallContext::default()
}

fn audits(out: &[Output]) -> Vec<AuditRecord> {
    out.iter()
        .filter_map(|o| match o {
            Output::Audit(a) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

fn counter(core: &mut ProxyCore, key: &str, now: Timestamp) -> i64 {
    core.store_mut().read(&CounterKey { key: key.into(), partition: None }, now).unwrap()
}

fn call(id: &str, tool: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}"}}}}"#)
}

fn error_answer(id: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32000,"message":"boom"}}}}"#)
}

fn is_error_answer(id: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[],"isError":true}}}}"#)
}

#[test]
fn allowed_calls_are_forwarded_byte_for_byte_and_audited() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    let line = r#"{ "jsonrpc" : "2.0", "id" : 7 , "method":"tools/call","params":{"name":"t","arguments":{"currency":"usd","amount":5000.0}}} "#;
    let out = c.from_agent(line.as_bytes(), &CallContext { identity: Some("alice".into()), session: Some("s1".into()) }, at(0));
    assert_eq!(to_upstream(&out), [line]);
    assert!(to_agent(&out).is_empty());
    let a = &audits(&out)[0];
    assert_eq!((a.tool.as_str(), a.result, a.rule.as_deref(), a.message.as_deref()), ("t", AuditResult::Allowed, None, None));
    assert_eq!(a.args_hash.as_deref(), Some("sha256:a83fe2ed3e1061e675a6c7853233413cadf2d1e71a9aaeb92797f4850fe18060"));
    assert_eq!((a.identity.as_deref(), a.session.as_deref()), (Some("alice"), Some("s1")));
    assert_eq!(a.counters.get("t._rate_hour"), Some(&1));
    assert_eq!(a.time, at(0));
}

#[test]
fn denials_are_answered_with_intercept_bytes_and_never_forwarded() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    let out = c.from_agent(call(r#""abc-123""#, "delete_customer").as_bytes(), &ctx(), at(0));
    assert!(to_upstream(&out).is_empty());
    assert_eq!(
        to_agent(&out),
        [r#"{"jsonrpc":"2.0","id":"abc-123","result":{"content":[{"type":"text","text":"[INTERCEPT POLICY DENIED] Customer deletion is not permitted"}],"isError":true}}"#]
    );
    let a = &audits(&out)[0];
    assert_eq!((a.result, a.rule.as_deref()), (AuditResult::Denied, Some("block")));
    assert_eq!(a.message.as_deref(), Some("Customer deletion is not permitted"));
    let out = c.from_agent(call("1.50", "secret").as_bytes(), &ctx(), at(0));
    assert_eq!(
        to_agent(&out),
        [r#"{"jsonrpc":"2.0","id":1.50,"result":{"content":[{"type":"text","text":"[INTERCEPT POLICY DENIED] Tool \"secret\" is hidden by policy"}],"isError":true}}"#]
    );
}

#[test]
fn upstream_answers_reach_the_agent_unchanged() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    c.from_agent(call("1", "t").as_bytes(), &ctx(), at(0));
    let answer = r#"{"jsonrpc":"2.0", "id":1, "result":{"content":[{"type":"text","text":"<ok>"}]}}"#;
    assert_eq!(c.from_upstream(answer.as_bytes(), &ctx(), at(0)), [Output::ToAgent(answer.as_bytes().to_vec())]);
    assert_eq!(c.from_upstream(b"garbage", &ctx(), at(0)), [Output::ToAgent(b"garbage".to_vec())]);
}

#[test]
fn jsonrpc_error_rolls_back_but_is_error_commits() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    c.from_agent(call("1", "t").as_bytes(), &ctx(), at(0));
    c.from_agent(call("2", "t").as_bytes(), &ctx(), at(1));
    assert_eq!(counter(&mut c, "t._rate_hour", at(1)), 2);
    c.from_upstream(error_answer("1").as_bytes(), &ctx(), at(2));
    assert_eq!(counter(&mut c, "t._rate_hour", at(2)), 1);
    c.from_upstream(is_error_answer("2").as_bytes(), &ctx(), at(2));
    assert_eq!(counter(&mut c, "t._rate_hour", at(2)), 1);
    // `"error": null` is not an error; an id spelled differently matches nothing.
    c.from_agent(call("3", "t").as_bytes(), &ctx(), at(3));
    c.from_upstream(br#"{"jsonrpc":"2.0","id":3,"result":{},"error":null}"#, &ctx(), at(3));
    c.from_upstream(error_answer("3.0").as_bytes(), &ctx(), at(3));
    assert_eq!(counter(&mut c, "t._rate_hour", at(3)), 2);
    assert_eq!(c.calls_waiting(), 0);
}

#[test]
fn reusing_an_id_overwrites_the_earlier_pending_call() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    c.from_agent(call("9", "t").as_bytes(), &ctx(), at(0));
    c.from_agent(call("9", "t").as_bytes(), &ctx(), at(1));
    assert_eq!(c.calls_waiting(), 1);
    c.from_upstream(error_answer("9").as_bytes(), &ctx(), at(2));
    c.from_upstream(error_answer("9").as_bytes(), &ctx(), at(2));
    // Only the second call's reservation was refunded (G-18).
    assert_eq!(counter(&mut c, "t._rate_hour", at(2)), 1);
}

#[test]
fn pending_calls_are_keyed_by_session() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    let s1 = CallContext { identity: None, session: Some("s1".into()) };
    let s2 = CallContext { identity: None, session: Some("s2".into()) };
    c.from_agent(call("1", "t").as_bytes(), &s1, at(0));
    c.from_upstream(error_answer("1").as_bytes(), &s2, at(1));
    assert_eq!(counter(&mut c, "t._rate_hour", at(1)), 1);
    c.from_upstream(error_answer("1").as_bytes(), &s1, at(1));
    assert_eq!(counter(&mut c, "t._rate_hour", at(1)), 0);
}

#[test]
fn notifications_are_evaluated_and_answered_with_null_id_under_intercept() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    let note = r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"t"}}"#;
    for k in 0..2 {
        let out = c.from_agent(note.as_bytes(), &ctx(), at(k));
        assert_eq!(to_upstream(&out), [note]);
        assert_eq!(audits(&out)[0].result, AuditResult::Allowed);
    }
    let out = c.from_agent(note.as_bytes(), &ctx(), at(2));
    assert!(to_upstream(&out).is_empty());
    assert_eq!(
        to_agent(&out),
        [r#"{"jsonrpc":"2.0","id":null,"result":{"content":[{"type":"text","text":"[INTERCEPT POLICY DENIED] Rate limit of 2 per hour reached. Try again later."}],"isError":true}}"#]
    );
    assert_eq!(c.calls_waiting(), 0);
}

#[test]
fn notifications_are_refused_silently_under_strict() {
    let mut c = core(LIMITED, Profile::Strict, WireMode::StdioChild);
    let note = r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"t"}}"#;
    let out = c.from_agent(note.as_bytes(), &ctx(), at(0));
    assert!(to_upstream(&out).is_empty());
    assert!(to_agent(&out).is_empty());
    assert_eq!(audits(&out)[0].result, AuditResult::Refused);
    assert_eq!(counter(&mut c, "t._rate_hour", at(0)), 0);
}

/// The §7 wire tricks: Intercept forwards them unevaluated; strict refuses them.
const TRICKS: &[(&str, &str)] = &[
    ("G-1 decoy type error", r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_customer","NAME":0}}"#),
    ("G-1 envelope type error", r#"{"jsonrpc":2.0,"id":1,"method":"tools/call","params":{"name":"delete_customer"}}"#),
    ("G-1 overflow", r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_customer","arguments":{"n":1e400}}}"#),
    ("G-1 arguments array", r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_customer","arguments":[]}}"#),
    ("G-2 method case variant", r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","Method":"ping","params":{"name":"delete_customer"}}"#),
    ("G-3 batch", r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_customer"}}]"#),
];

#[test]
fn intercept_forwards_the_wire_tricks_unevaluated() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    for (what, line) in TRICKS {
        let out = c.from_agent(line.as_bytes(), &ctx(), at(0));
        assert_eq!(to_upstream(&out), [*line], "{what}");
        assert!(audits(&out).is_empty(), "{what}");
    }
}

#[test]
fn strict_refuses_every_wire_trick_with_a_jsonrpc_error() {
    for mode in [WireMode::StdioChild, WireMode::StdioBridge, WireMode::Http] {
        let mut c = core(LIMITED, Profile::Strict, mode);
        for (what, line) in TRICKS {
            let out = c.from_agent(line.as_bytes(), &ctx(), at(0));
            assert!(to_upstream(&out).is_empty(), "{what} reached the upstream in {mode:?}");
            let answer: serde_json::Value = serde_json::from_str(&to_agent(&out)[0]).unwrap();
            let code = answer["error"]["code"].as_i64().unwrap();
            assert!(code == -32600 || code == -32602, "{what}: {answer}");
            assert_eq!(audits(&out)[0].result, AuditResult::Refused, "{what}");
        }
    }
}

/// Issue 19: one JSON object with no method to the proxy, three lines to a
/// reader that ends a line at a bare `\r` (the Python SDK's stdio server),
/// the middle one a call the policy denies.
const CR_SMUGGLE: &str = "{\"a\":\r{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_customer\"}}\r}";

#[test]
fn a_bare_carriage_return_is_forwarded_under_intercept_and_refused_under_strict_in_front_of_stdio() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    let out = c.from_agent(CR_SMUGGLE.as_bytes(), &ctx(), at(0));
    assert_eq!(to_upstream(&out), [CR_SMUGGLE], "Intercept forwards it unevaluated");
    assert!(audits(&out).is_empty());

    let mut c = core(LIMITED, Profile::Strict, WireMode::StdioChild);
    for line in [
        CR_SMUGGLE.to_string(),
        // Valid JSON with the `\r` as whitespace, and a request whose id the agent can match.
        format!("{{\"jsonrpc\":\"2.0\",\"id\":9,\r\"method\":\"ping\"}}"),
        format!("{}\r{}", call("4", "t"), call("5", "delete_customer")),
    ] {
        let out = c.from_agent(line.as_bytes(), &ctx(), at(0));
        assert!(to_upstream(&out).is_empty(), "{line:?} reached the upstream");
        let answer: serde_json::Value = serde_json::from_str(&to_agent(&out)[0]).unwrap();
        assert_eq!(answer["error"]["code"], -32600, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("carriage return"), "{answer}");
        assert_eq!(audits(&out)[0].result, AuditResult::Refused);
    }
    let ping = format!("{{\"jsonrpc\":\"2.0\",\"id\":9,\r\"method\":\"ping\"}}");
    let out = c.from_agent(ping.as_bytes(), &ctx(), at(0));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&to_agent(&out)[0]).unwrap()["id"], 9);

    // An HTTP body is not split into lines by anyone: a pretty-printed CRLF body is just JSON.
    let pretty = "{\r\n  \"jsonrpc\": \"2.0\",\r\n  \"id\": 1,\r\n  \"method\": \"ping\"\r\n}";
    for mode in [WireMode::StdioBridge, WireMode::Http] {
        let mut c = core(LIMITED, Profile::Strict, mode);
        assert_eq!(to_upstream(&c.from_agent(pretty.as_bytes(), &ctx(), at(0))), [pretty], "{mode:?}");
    }
}

/// The same trick from the upstream's side: an answer to call 1 holding, as
/// whitespace-delimited JSON, an unfiltered answer to the pending
/// `tools/list` 2 with a hidden tool. A client whose line reader ends a line
/// at `\r` (Java's `readLine`, .NET's `ReadLine`) reads three lines and takes
/// the middle one as the list; under strict every `\r` reaches the agent as
/// a space (the same JSON, one line to every reader).
#[test]
fn a_bare_carriage_return_from_the_upstream_is_forwarded_under_intercept_and_spaced_under_strict() {
    let smuggled = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]},\"x\":\r{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"delete_file\"}]}}\r}";
    for profile in [Profile::Intercept, Profile::Strict] {
        let mut c = core(HIDING, profile, WireMode::StdioChild);
        c.from_agent(call("1", "read_file").as_bytes(), &ctx(), at(0));
        c.from_agent(br#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#, &ctx(), at(0));
        let out = to_agent(&c.from_upstream(smuggled.as_bytes(), &ctx(), at(0)));
        match profile {
            Profile::Intercept => assert_eq!(out, [smuggled], "Intercept forwards it as it came"),
            Profile::Strict => {
                assert_eq!(out, [smuggled.replace('\r', " ")], "strict: the same JSON, one line");
                // Split as those readers split: one line, not three.
                assert_eq!(out[0].split(['\r', '\n']).count(), 1);
            }
        }
    }
}

#[test]
fn case_variant_params_are_evaluated_as_go_reads_them_under_intercept() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    // Go sees the last spelling: the call is evaluated as `delete_customer`.
    let line = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","Name":"delete_customer"}}"#;
    let out = c.from_agent(line.as_bytes(), &ctx(), at(0));
    assert_eq!(audits(&out)[0].tool, "delete_customer");
    assert!(to_upstream(&out).is_empty());
    // ...and the other way round, the upstream may see `delete_customer` while Go evaluates `t`.
    let line = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_customer","Name":"t"}}"#;
    let out = c.from_agent(line.as_bytes(), &ctx(), at(0));
    assert_eq!(to_upstream(&out), [line]);
    let mut strict = core(LIMITED, Profile::Strict, WireMode::StdioChild);
    assert!(to_upstream(&strict.from_agent(line.as_bytes(), &ctx(), at(0))).is_empty());
}

const HIDING: &str = r#"
version: "1"
hide: ["delete_file"]
tools: {}
"#;

#[test]
fn tools_list_is_filtered_page_by_page() {
    let mut c = core(HIDING, Profile::Intercept, WireMode::StdioChild);
    let req1 = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    assert_eq!(to_upstream(&c.from_agent(req1.as_bytes(), &ctx(), at(0))), [req1]);
    let page1 = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read_file"},{"name":"delete_file"}],"nextCursor":"p2"}}"#;
    assert_eq!(
        to_agent(&c.from_upstream(page1.as_bytes(), &ctx(), at(0))),
        [r#"{"id":1,"jsonrpc":"2.0","result":{"nextCursor":"p2","tools":[{"name":"read_file"}]}}"#]
    );
    let req2 = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"p2"}}"#;
    c.from_agent(req2.as_bytes(), &ctx(), at(0));
    let page2 = r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"delete_file"},{"name":"write_file"}]}}"#;
    assert_eq!(
        to_agent(&c.from_upstream(page2.as_bytes(), &ctx(), at(0))),
        [r#"{"id":2,"jsonrpc":"2.0","result":{"tools":[{"name":"write_file"}]}}"#]
    );
    // The filter is spent: a second answer with the same id passes unchanged.
    assert_eq!(to_agent(&c.from_upstream(page2.as_bytes(), &ctx(), at(0))), [page2]);
}

#[test]
fn tools_list_without_id_is_not_filtered_and_reload_applies_at_response_time() {
    let mut c = core(HIDING, Profile::Intercept, WireMode::StdioChild);
    c.from_agent(br#"{"jsonrpc":"2.0","method":"tools/list"}"#, &ctx(), at(0));
    let page = r#"{"jsonrpc":"2.0","id":null,"result":{"tools":[{"name":"delete_file"}]}}"#;
    assert_eq!(to_agent(&c.from_upstream(page.as_bytes(), &ctx(), at(0))), [page]);
    c.from_agent(br#"{"jsonrpc":"2.0","id":"L","method":"tools/list"}"#, &ctx(), at(0));
    c.set_engine(engine("version: \"1\"\nhide: [\"*\"]\ntools: {}\n", Profile::Intercept));
    let page = r#"{"jsonrpc":"2.0","id":"L","result":{"tools":[{"name":"a"},{"name":"b"}]}}"#;
    assert_eq!(
        to_agent(&c.from_upstream(page.as_bytes(), &ctx(), at(0))),
        [r#"{"id":"L","jsonrpc":"2.0","result":{"tools":[]}}"#]
    );
}

#[test]
fn hot_reload_keeps_counters() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    c.from_agent(call("1", "t").as_bytes(), &ctx(), at(0));
    c.from_agent(call("2", "t").as_bytes(), &ctx(), at(1));
    let looser = LIMITED.replace("2/hour", "3/hour");
    c.set_engine(engine(&looser, Profile::Intercept));
    assert_eq!(counter(&mut c, "t._rate_hour", at(2)), 2);
    assert_eq!(audits(&c.from_agent(call("3", "t").as_bytes(), &ctx(), at(2)))[0].result, AuditResult::Allowed);
    assert_eq!(audits(&c.from_agent(call("4", "t").as_bytes(), &ctx(), at(3)))[0].result, AuditResult::Denied);
    // Rollbacks registered before the reload still apply.
    c.from_upstream(error_answer("1").as_bytes(), &ctx(), at(4));
    assert_eq!(counter(&mut c, "t._rate_hour", at(4)), 2);
}

#[test]
fn bridge_batches_are_evaluated_per_element_and_reserialised() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioBridge);
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t", "arguments":{"q":"<x>"}},"extra":1},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_customer"}}]"#;
    let out = c.from_agent(batch.as_bytes(), &ctx(), at(0));
    // One survivor goes as a plain object; the denial is appended for the agent.
    assert_eq!(to_upstream(&out), [r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"q":"\u003cx\u003e"}}}"#]);
    assert_eq!(to_agent(&out).len(), 1);
    assert!(to_agent(&out)[0].starts_with(r#"{"jsonrpc":"2.0","id":2,"result":"#));
    assert_eq!(audits(&out).len(), 2);
    // An element that fails to decode makes the bridge forward the raw batch unevaluated.
    let bad = r#"[{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_customer"}},{"jsonrpc":2}]"#;
    let out = c.from_agent(bad.as_bytes(), &ctx(), at(0));
    assert_eq!(to_upstream(&out), [bad]);
    assert!(audits(&out).is_empty());
}

#[test]
fn http_batches_fail_whole_on_a_malformed_element() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::Http);
    let bad = r#"[{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"t"}},{"jsonrpc":2}]"#;
    let out = c.from_agent(bad.as_bytes(), &ctx(), at(0));
    assert!(to_upstream(&out).is_empty());
    assert_eq!(to_agent(&out), [r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"invalid JSON-RPC batch"}}"#]);
    let ok = r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}},{"jsonrpc":"2.0","method":"notifications/progress"}]"#;
    let out = c.from_agent(ok.as_bytes(), &ctx(), at(0));
    assert_eq!(
        to_upstream(&out),
        [r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}},{"jsonrpc":"2.0","method":"notifications/progress"}]"#]
    );
    // A batch answer settles each element's reservation.
    c.from_upstream(format!("[{},{}]", error_answer("1"), is_error_answer("5")).as_bytes(), &ctx(), at(1));
    assert_eq!(counter(&mut c, "t._rate_hour", at(1)), 0);
}

#[test]
fn other_methods_and_non_json_pass_through_in_both_profiles_where_harmless() {
    for profile in [Profile::Intercept, Profile::Strict] {
        let mut c = core(LIMITED, profile, WireMode::StdioChild);
        let line = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{}}"#;
        let out = c.from_agent(line.as_bytes(), &ctx(), at(0));
        assert_eq!(to_upstream(&out), [line]);
        assert!(audits(&out).is_empty());
    }
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    assert_eq!(to_upstream(&c.from_agent(b"not json at all", &ctx(), at(0))), ["not json at all"]);
    let mut c = core(LIMITED, Profile::Strict, WireMode::StdioChild);
    let out = c.from_agent(b"not json at all", &ctx(), at(0));
    assert!(to_upstream(&out).is_empty());
    assert!(to_agent(&out)[0].contains("-32700"));
}

#[test]
fn unfilterable_tools_list_pages_fail_open_under_intercept_and_closed_under_strict() {
    let page = r#"{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"delete_file"}],"nextCursor":5}}"#;
    let mut c = core(HIDING, Profile::Intercept, WireMode::StdioChild);
    c.from_agent(br#"{"jsonrpc":"2.0","id":4,"method":"tools/list"}"#, &ctx(), at(0));
    assert_eq!(to_agent(&c.from_upstream(page.as_bytes(), &ctx(), at(0))), [page]);
    let mut c = core(HIDING, Profile::Strict, WireMode::StdioChild);
    c.from_agent(br#"{"jsonrpc":"2.0","id":4,"method":"tools/list"}"#, &ctx(), at(0));
    assert_eq!(
        to_agent(&c.from_upstream(page.as_bytes(), &ctx(), at(0))),
        [r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32603,"message":"the tools/list response could not be filtered for hidden tools"}}"#]
    );
}

/// A call, then an unknown method with the same id whose error the upstream sends first (G-18).
fn id_reuse_round(c: &mut ProxyCore, id: &str, now: Timestamp) -> (Vec<String>, Vec<String>) {
    let mut out = c.from_agent(call(id, "t").as_bytes(), &ctx(), now);
    out.extend(c.from_agent(format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"no/such"}}"#).as_bytes(), &ctx(), now));
    let sent = to_upstream(&out);
    let mut answers = to_agent(&out);
    if sent.iter().any(|m| m.contains("no/such")) {
        answers.extend(to_agent(&c.from_upstream(error_answer(id).as_bytes(), &ctx(), now)));
    }
    if sent.iter().any(|m| m.contains("tools/call")) {
        answers.extend(to_agent(&c.from_upstream(format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[]}}}}"#).as_bytes(), &ctx(), now)));
    }
    (sent, answers)
}

#[test]
fn id_reuse_refunds_quota_under_intercept_and_is_refused_under_strict() {
    // Intercept keys pending rollbacks by raw id: the unknown method's error refunds the call (G-18).
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    let executed = (0..10)
        .filter(|n| id_reuse_round(&mut c, &n.to_string(), at(*n)).0.iter().any(|m| m.contains("tools/call")))
        .count();
    assert_eq!(executed, 10, "intercept reproduces the refund: 10 of 10 calls forwarded against 2/hour");
    assert_eq!(counter(&mut c, "t._rate_hour", at(10)), 0);

    let mut c = core(LIMITED, Profile::Strict, WireMode::StdioChild);
    let mut executed = 0;
    for n in 0..10 {
        let (sent, answers) = id_reuse_round(&mut c, &n.to_string(), at(n));
        if sent.iter().any(|m| m.contains("tools/call")) {
            executed += 1;
            assert_eq!(sent.len(), 1, "the duplicate id is never forwarded while the call waits: {sent:?}");
            let dup = answers.iter().find(|a| a.contains("-32600")).expect("the duplicate is refused");
            assert!(dup.contains(&format!(r#""id":{n}"#)) && dup.contains("already in use"), "{dup}");
        } else {
            assert!(answers[0].contains("Rate limit"), "{answers:?}");
        }
    }
    assert_eq!(executed, 2, "strict holds the limit: 2 of 10");
    assert_eq!(c.requests_waiting(), 0);
    // Once answered, an id is free again; an error answer refunds only the call it answers.
    let out = c.from_agent(call("0", "t").as_bytes(), &ctx(), at(20));
    assert!(to_agent(&out)[0].contains("Rate limit"), "{:?}", to_agent(&out));
}

#[test]
fn strict_keys_ids_by_value_and_http_exchanges_apart() {
    let mut c = core(LIMITED, Profile::Strict, WireMode::Http);
    let first = c.from_agent_on(call(r#""a""#, "t").as_bytes(), &ctx(), 1, at(0));
    assert_eq!(to_upstream(&first).len(), 1);
    // The same id on another POST is another request; on the same POST (an escape of "a") it is a duplicate.
    let other = c.from_agent_on(br#"{"jsonrpc":"2.0","id":"a","method":"no/such"}"#, &ctx(), 2, at(0));
    assert_eq!(to_upstream(&other).len(), 1);
    let same = c.from_agent_on(br#"{"jsonrpc":"2.0","id":"\u0061","method":"no/such"}"#, &ctx(), 1, at(0));
    assert!(to_upstream(&same).is_empty() && to_agent(&same)[0].contains("already in use"), "{:?}", to_agent(&same));
    // POST 2's error does not touch POST 1's reservation.
    c.from_upstream_on(error_answer(r#""a""#).as_bytes(), &ctx(), 2, at(0));
    assert_eq!(counter(&mut c, "t._rate_hour", at(0)), 1);
    c.from_upstream_on(error_answer(r#""a""#).as_bytes(), &ctx(), 1, at(0));
    assert_eq!(counter(&mut c, "t._rate_hour", at(0)), 0, "POST 1's own error refunds it");
}

#[test]
fn strict_refuses_ids_it_cannot_match_to_their_answer() {
    let mut c = core(LIMITED, Profile::Strict, WireMode::StdioChild);
    for id in ["1e400", "1.0", "-0", "9007199254740993", "1e2", "true", "null", "{}", "[1]"] {
        let out = c.from_agent(call(id, "t").as_bytes(), &ctx(), at(0));
        assert!(to_upstream(&out).is_empty(), "id {id} was forwarded");
        let answer = &to_agent(&out)[0];
        assert!(answer.contains("-32600") && answer.contains(r#""id":null"#), "id {id}: {answer}");
        let out = c.from_agent(format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#).as_bytes(), &ctx(), at(0));
        assert!(to_upstream(&out).is_empty(), "ping with id {id} was forwarded");
    }
    assert_eq!(counter(&mut c, "t._rate_hour", at(0)), 0, "nothing was reserved");
    for id in ["-9007199254740991", "0", r#""x""#] {
        let out = c.from_agent(call(id, "free").as_bytes(), &ctx(), at(0));
        assert_eq!(to_upstream(&out).len(), 1, "id {id} is fine");
    }
    // Intercept forwards them all, as Intercept does.
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    assert_eq!(to_upstream(&c.from_agent(call("1e400", "t").as_bytes(), &ctx(), at(0))).len(), 1);
}

#[test]
fn an_id_with_invalid_utf8_never_produces_a_line_that_is_not_utf8() {
    for profile in [Profile::Intercept, Profile::Strict] {
        let mut c = core(LIMITED, profile, WireMode::StdioChild);
        for line in [
            b"{\"jsonrpc\":\"2.0\",\"id\":\"\xff\",\"method\":\"tools/call\",\"params\":{\"name\":\"delete_customer\"}}".to_vec(),
            b"{\"jsonrpc\":\"2.0\",\"id\":\"\xc0\",\"method\":\"tools/call\",\"params\":{\"name\":\"t\",\"Name\":\"t\"}}".to_vec(),
            b"{\"jsonrpc\":\"2.0\",\"id\":\"\xfe\",\"method\":\"ping\"}".to_vec(),
        ] {
            for o in c.from_agent(&line, &ctx(), at(0)) {
                if let Output::ToAgent(bytes) = o {
                    assert!(std::str::from_utf8(&bytes).is_ok(), "{profile:?}: {}", String::from_utf8_lossy(&bytes));
                }
            }
        }
    }
}

#[test]
fn requests_left_waiting_are_answered_when_the_upstream_dies_or_hangs() {
    for profile in [Profile::Intercept, Profile::Strict] {
        let mut c = core(LIMITED, profile, WireMode::StdioChild);
        c.from_agent(call("1", "t").as_bytes(), &ctx(), at(0));
        c.from_agent(br#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#, &ctx(), at(5));
        c.from_agent(br#"{"jsonrpc":"2.0","method":"notifications/x"}"#, &ctx(), at(5));
        assert_eq!(c.requests_waiting(), 2);
        // A 3 s timeout at t=4 s answers only the call sent at t=0.
        let expired = to_agent(&c.expire(at(4), std::time::Duration::from_secs(3)));
        assert_eq!(expired.len(), 1);
        assert!(expired[0].contains(r#""id":1,"#) && expired[0].contains("did not answer within 3 s"), "{}", expired[0]);
        // The late answer is dropped, and the call kept its reservation.
        assert!(c.from_upstream(error_answer("1").as_bytes(), &ctx(), at(6)).is_empty());
        assert_eq!(counter(&mut c, "t._rate_hour", at(6)), 1, "{profile:?}");
        let gone = to_agent(&c.upstream_gone());
        assert_eq!(gone.len(), 1);
        assert!(gone[0].contains(r#""id":"p""#) && gone[0].contains("-32603") && gone[0].contains("exited"), "{}", gone[0]);
        assert_eq!(c.requests_waiting(), 0);
    }
}

/// `intercept` forwards batches (strict refuses them): each request inside
/// one waits for its answer like a lone request, so when the upstream dies
/// every one still waiting gets its own error, in every wire mode.
#[test]
fn requests_inside_a_batch_are_answered_when_the_upstream_dies() {
    for mode in [WireMode::StdioChild, WireMode::StdioBridge, WireMode::Http] {
        let mut c = core(LIMITED, Profile::Intercept, mode);
        let batch = format!(
            r#"[{},{{"jsonrpc":"2.0","id":"p","method":"ping"}},{{"jsonrpc":"2.0","method":"notifications/x"}},{}]"#,
            call("1", "t"),
            call("2", "delete_customer")
        );
        let out = c.from_agent(batch.as_bytes(), &ctx(), at(0));
        assert_eq!(to_upstream(&out).len(), 1, "{mode:?}");
        // The call and the ping wait (the denied delete is answered by the proxy itself under the evaluating modes).
        let waiting = if mode == WireMode::StdioChild { 3 } else { 2 };
        assert_eq!(c.requests_waiting(), waiting, "{mode:?}");
        // The upstream answers the ping only; then it exits.
        c.from_upstream(br#"[{"jsonrpc":"2.0","id":"p","result":{}}]"#, &ctx(), at(1));
        let gone = to_agent(&c.upstream_gone());
        assert_eq!(gone.len(), waiting - 1, "{mode:?}: {gone:?}");
        assert!(gone.iter().any(|g| g.contains(r#""id":1,"#) && g.contains("-32603") && g.contains("exited")), "{mode:?}: {gone:?}");
        assert!(!gone.iter().any(|g| g.contains(r#""id":"p""#)), "{mode:?}: the ping was answered: {gone:?}");
        assert_eq!(c.requests_waiting(), 0, "{mode:?}");
    }
}

/// A policy that governs two surfaces beside tools: reads of the notes only,
/// two prompt gets an hour; the other surfaces it leaves ungoverned.
const SURFACES: &str = r#"
version: "1"
tools:
  "resources/read":
    rules:
      - name: "notes only"
        conditions:
          - {path: args.uri, op: regex, value: "^file:///home/agent/notes\\.md$"}
        on_deny: "Only the notes may be read"
  "prompts/get":
    rules:
      - name: "two per hour"
        rate_limit: 2/hour
"#;

fn surface(id: u32, method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#)
}

#[test]
fn intercept_forwards_every_surface_beside_tools_unevaluated() {
    let mut c = core(LIMITED, Profile::Intercept, WireMode::StdioChild);
    for (i, method) in gauntlet::proxy::decode::SURFACE_METHODS.iter().enumerate() {
        let line = surface(i as u32, method, r#"{"uri":"file:///etc/passwd"}"#);
        let out = c.from_agent(line.as_bytes(), &ctx(), at(0));
        assert_eq!(to_upstream(&out), [line.as_str()], "{method}");
        assert!(audits(&out).is_empty(), "{method}");
    }
}

#[test]
fn strict_refuses_every_surface_the_policy_does_not_govern() {
    for mode in [WireMode::StdioChild, WireMode::StdioBridge, WireMode::Http] {
        let mut c = core(LIMITED, Profile::Strict, mode);
        for (i, method) in gauntlet::proxy::decode::SURFACE_METHODS.iter().enumerate() {
            let line = surface(i as u32, method, r#"{"uri":"file:///etc/passwd"}"#);
            let out = c.from_agent(line.as_bytes(), &ctx(), at(0));
            assert!(to_upstream(&out).is_empty(), "{mode:?} {method} was forwarded");
            let answer: serde_json::Value = serde_json::from_str(&to_agent(&out)[0]).unwrap();
            assert_eq!(answer["id"], i, "{method}");
            assert_eq!(answer["error"]["code"], -32601, "{method}");
            let text = answer["error"]["message"].as_str().unwrap();
            assert!(text.contains(&format!("`{method}` is refused under the strict profile: the policy does not govern it")), "{text}");
            let a = &audits(&out)[0];
            assert_eq!((a.tool.as_str(), a.result), (*method, AuditResult::Refused));
        }
        // A notification on such a surface is dropped, unanswered.
        let out = c.from_agent(br#"{"jsonrpc":"2.0","method":"resources/read","params":{"uri":"file:///etc/passwd"}}"#, &ctx(), at(0));
        assert!(to_upstream(&out).is_empty() && to_agent(&out).is_empty());
    }
}

#[test]
fn strict_decides_a_governed_surface_by_its_entry() {
    let mut c = core(SURFACES, Profile::Strict, WireMode::StdioChild);
    let notes = surface(1, "resources/read", r#"{"uri":"file:///home/agent/notes.md"}"#);
    let out = c.from_agent(notes.as_bytes(), &ctx(), at(0));
    assert_eq!(to_upstream(&out), [notes.as_str()]);
    assert_eq!(audits(&out)[0].tool, "resources/read");
    c.from_upstream(br#"{"jsonrpc":"2.0","id":1,"result":{"contents":[]}}"#, &ctx(), at(0));
    // The server's own lenient spellings are other URIs to the rule: refused too.
    for (id, uri) in [(2, "file:///etc/passwd"), (3, "FILE:///home/agent/notes.md"), (4, "file:///home/agent/./notes.md")] {
        let line = surface(id, "resources/read", &format!(r#"{{"uri":"{uri}"}}"#));
        let out = c.from_agent(line.as_bytes(), &ctx(), at(0));
        assert!(to_upstream(&out).is_empty(), "{uri} was forwarded");
        assert_eq!(
            to_agent(&out),
            [format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32001,"message":"[INTERCEPT POLICY DENIED] Only the notes may be read"}}}}"#)]
        );
        assert_eq!(audits(&out)[0].result, AuditResult::Denied);
    }
    // A rate on prompts/get counts gets like calls; the list stays ungoverned.
    let get = |id| surface(id, "prompts/get", r#"{"name":"summarize-inbox"}"#);
    assert_eq!(to_upstream(&c.from_agent(get(5).as_bytes(), &ctx(), at(1))).len(), 1);
    assert_eq!(to_upstream(&c.from_agent(get(6).as_bytes(), &ctx(), at(2))).len(), 1);
    let out = c.from_agent(get(7).as_bytes(), &ctx(), at(3));
    assert!(to_upstream(&out).is_empty());
    assert!(to_agent(&out)[0].contains("Rate limit of 2 per hour reached"), "{:?}", to_agent(&out));
    let out = c.from_agent(surface(8, "prompts/list", "{}").as_bytes(), &ctx(), at(4));
    assert!(to_upstream(&out).is_empty() && to_agent(&out)[0].contains("-32601"));
    // A repeated `uri` (first allowed, last denied: a server reads the last) is refused as ambiguous.
    let twice = surface(9, "resources/read", r#"{"uri":"file:///home/agent/notes.md","uri":"file:///etc/passwd"}"#);
    let out = c.from_agent(twice.as_bytes(), &ctx(), at(5));
    assert!(to_upstream(&out).is_empty() && to_agent(&out)[0].contains("-32602"), "{:?}", to_agent(&out));
}
