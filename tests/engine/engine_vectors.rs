//! The engine alone against every `kind: decision` vector of Intercept's
//! conformance file (sections B, C, D, H, I): loaded with `load_intercept`,
//! decided on the vector's virtual times, upstream answers applied (a
//! JSON-RPC error rolls back), and compared on decision, denial text,
//! `state_after` and whether the event log would carry a `rule`.
//! Wire-level vectors (raw client lines) belong to the proxy's tests.

use std::sync::Arc;

use gauntlet::clock::Timestamp;
use gauntlet::engine::store::{FailClosedStore, FailOpenStore, MemoryStore, ReserveErrorStore};
use gauntlet::caller::CallContext;
use gauntlet::engine::{CounterKey, CounterStore, Engine, Outcome, ToolCall};
use gauntlet::policy::load_intercept;
use gauntlet::profile::Profile;
use serde_yaml::Value as Yaml;

const PREFIX: &str = "[INTERCEPT POLICY DENIED] ";

fn vectors() -> Vec<Yaml> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/intercept-vectors.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: Yaml = serde_yaml::from_str(&text).expect("vector file parses");
    doc["vectors"].as_sequence().expect("vectors list").clone()
}

fn text<'a>(v: &'a Yaml, key: &str) -> Option<&'a str> {
    v.get(key).and_then(|x| x.as_str())
}

fn engine_for(id: &str, policy: &str) -> Engine {
    let p = load_intercept(policy).unwrap_or_else(|e| panic!("{id}: policy does not load: {e}"));
    Engine::new(Arc::new(p), Profile::Intercept)
}

/// Runs one vector; returns the differences found.
fn run(v: &Yaml) -> Vec<String> {
    let id = text(v, "id").unwrap_or("?");
    let mut engine = engine_for(id, text(v, "policy").expect("policy"));
    let mut store: Box<dyn CounterStore> = match text(v, "store_mode") {
        None => Box::new(MemoryStore::new()),
        Some("fail_closed") => Box::new(FailClosedStore),
        Some("fail_open") => Box::new(FailOpenStore),
        Some("reserve_error") => Box::new(ReserveErrorStore::default()),
        Some(other) => return vec![format!("{id}: unknown store_mode {other}")],
    };
    let mut diffs = Vec::new();
    let empty = Vec::new();
    for (i, step) in v.get("calls").and_then(|c| c.as_sequence()).unwrap_or(&empty).iter().enumerate() {
        let here = format!("{id} step {}", i + 1);
        if let Some(policy) = text(step, "reload") {
            engine = engine_for(id, policy);
            continue;
        }
        let now = Timestamp::parse_rfc3339(text(step, "at").expect("at")).expect("valid at");
        let name = text(step, "tool").expect("tool");
        let arguments: Option<serde_json::Map<String, serde_json::Value>> = text(step, "arguments")
            .map(|a| serde_json::from_str::<serde_json::Value>(a).expect("arguments JSON"))
            .and_then(|a| a.as_object().cloned());
        let decision = engine.decide(store.as_mut(), &ToolCall { name, arguments: arguments.as_ref() }, &CallContext::default(), now);
        if decision.is_allow() && text(step, "upstream") == Some("jsonrpc_error") {
            engine.rollback(store.as_mut(), &decision.reservations);
        }
        let expect = text(step, "expect").expect("expect");
        match (&decision.outcome, expect) {
            (Outcome::Allow, "allow") => {}
            (Outcome::Deny { message, rule, .. }, "deny") => {
                if let Some(want) = text(step, "text") {
                    let got = format!("{PREFIX}{message}");
                    if got != want {
                        diffs.push(format!("{here}: text {got:?}, want {want:?}"));
                    }
                }
                if let Some(event) = step.get("event") {
                    let want_rule = text(event, "rule");
                    if rule.as_deref() != want_rule {
                        diffs.push(format!("{here}: event rule {rule:?}, want {want_rule:?}"));
                    }
                }
            }
            (outcome, want) => diffs.push(format!("{here}: got {outcome:?}, want {want}")),
        }
        if let Some(after) = step.get("state_after").and_then(|s| s.as_mapping()) {
            for (k, want) in after {
                let key = CounterKey { key: k.as_str().unwrap_or("").to_string(), partition: None };
                let got = store.read(&key, now).ok();
                if got != want.as_i64() {
                    diffs.push(format!("{here}: {key} = {got:?}, want {want:?}"));
                }
            }
        }
    }
    diffs
}

#[test]
fn decision_vectors_match_intercept() {
    let mut ran = 0;
    let mut diffs = Vec::new();
    for v in vectors() {
        if text(&v, "kind") == Some("decision") {
            ran += 1;
            diffs.extend(run(&v));
        }
    }
    assert!(ran >= 25, "only {ran} decision vectors found");
    assert!(diffs.is_empty(), "{} differences:\n{}", diffs.len(), diffs.join("\n"));
}
