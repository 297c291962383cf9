//! Runs conformance vectors through the real path: Intercept policy loader →
//! engine → [`ProxyCore`], on a virtual clock, and compares every
//! expectation the vector states (and nothing it does not).
//!
//! Calls are built as the vector file's header says; upstream answers are
//! simulated and fed back through the core so commits and rollbacks happen
//! where they happen in production.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::format::{Expect, Step, StoreMode, Upstream, Vector, VectorKind, WireModeName};
use crate::clock::Timestamp;
use crate::engine::store::{FailClosedStore, FailOpenStore, MemoryStore, ReserveErrorStore};
use crate::caller::CallContext;
use crate::engine::{CounterKey, CounterStore, Engine};
use crate::gofmt::json::quote_str;
use crate::policy::model::Policy;
use crate::policy::{load_intercept, InterceptError};
use crate::profile::Profile;
use crate::proxy::core::{AuditRecord, AuditResult, Output, ProxyCore, WireMode};
use crate::proxy::rawjson::{self, Kind};

/// How one vector came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// The first expectation that did not hold.
    Fail(String),
    /// Under `--profile strict`, a vector that passes under `intercept` came
    /// out differently: one of Intercept's gaps (semantics §7) is closed.
    Differs(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorResult {
    pub id: String,
    pub verdict: Verdict,
}

/// Runs one vector under `profile`.
pub fn run_vector(v: &Vector, profile: Profile) -> VectorResult {
    let verdict = match check(v, profile) {
        Ok(()) => Verdict::Pass,
        // The vectors record Intercept; a strict-only difference is the hardening
        // at work (section E bypasses, G-9 amounts), not a failure.
        Err(why) if profile == Profile::Strict && check(v, Profile::Intercept).is_ok() => Verdict::Differs(why),
        Err(why) => Verdict::Fail(why),
    };
    VectorResult { id: v.id.clone(), verdict }
}

fn check(v: &Vector, profile: Profile) -> Result<(), String> {
    match v.kind {
        VectorKind::InvalidPolicy => invalid_policy(v),
        VectorKind::ValidPolicy | VectorKind::Decision | VectorKind::Wire => calls(v, profile),
        VectorKind::ToolsList => tools_list(v, profile),
    }
}

fn load(text: &str) -> Result<Policy, String> {
    load_intercept(text).map_err(|e| match e {
        InterceptError::Load(m) => format!("the policy does not load: {m}"),
        InterceptError::Invalid(ms) => format!("the policy is invalid: {}", ms.join("; ")),
    })
}

fn invalid_policy(v: &Vector) -> Result<(), String> {
    let got = match load_intercept(&v.policy) {
        Ok(_) => return Err("expected the policy to be rejected, got a valid policy".into()),
        Err(e) => e,
    };
    match (&v.errors, &v.load_error, &got) {
        (Some(want), _, InterceptError::Invalid(errs)) if want == errs => Ok(()),
        (None, Some(want), InterceptError::Load(msg)) if want == msg => Ok(()),
        (None, None, _) => Err("the vector states neither `errors` nor `load_error`".into()),
        (Some(want), _, _) => Err(format!("expected errors {want:?}, got {got:?}")),
        (None, Some(want), _) => Err(format!("expected load error {want:?}, got {got:?}")),
    }
}

fn store_for(mode: Option<StoreMode>) -> Box<dyn CounterStore> {
    match mode {
        None => Box::new(MemoryStore::new()),
        Some(StoreMode::FailClosed) => Box::new(FailClosedStore),
        Some(StoreMode::FailOpen) => Box::new(FailOpenStore),
        Some(StoreMode::ReserveError) => Box::new(ReserveErrorStore::default()),
    }
}

fn wire_mode(v: &Vector) -> WireMode {
    match v.wire_mode {
        None | Some(WireModeName::StdioChild) => WireMode::StdioChild,
        Some(WireModeName::StdioBridge) => WireMode::StdioBridge,
        Some(WireModeName::Http) => WireMode::Http,
    }
}

fn core_for(v: &Vector, profile: Profile) -> Result<ProxyCore, String> {
    let policy = load(&v.policy)?;
    Ok(ProxyCore::new(Engine::new(Arc::new(policy), profile), store_for(v.store_mode), wire_mode(v)))
}

/// The simulated upstream answer to request `k`.
fn answer(kind: Upstream, k: usize) -> Option<String> {
    match kind {
        Upstream::Ok => Some(format!(r#"{{"jsonrpc":"2.0","id":{k},"result":{{"content":[{{"type":"text","text":"ok"}}]}}}}"#)),
        Upstream::JsonrpcError => {
            Some(format!(r#"{{"jsonrpc":"2.0","id":{k},"error":{{"code":-32000,"message":"upstream failed"}}}}"#))
        }
        Upstream::IsError => Some(format!(
            r#"{{"jsonrpc":"2.0","id":{k},"result":{{"content":[{{"type":"text","text":"tool failed"}}],"isError":true}}}}"#
        )),
        Upstream::None | Upstream::Deferred => None,
    }
}

/// The line the harness sends for a `tool`/`arguments` step.
fn call_line(k: usize, tool: &str, arguments: Option<&str>) -> String {
    let mut params = format!("{{\"name\":{}", quote_str(tool));
    if let Some(args) = arguments {
        params.push_str(",\"arguments\":");
        params.push_str(args);
    }
    params.push('}');
    format!(r#"{{"jsonrpc":"2.0","id":{k},"method":"tools/call","params":{params}}}"#)
}

fn calls(v: &Vector, profile: Profile) -> Result<(), String> {
    let mut core = core_for(v, profile)?;
    let ctx = CallContext::default();
    let mut now = Timestamp::default();
    let mut deferred: BTreeMap<String, usize> = BTreeMap::new();
    for (index, step) in v.calls.iter().enumerate() {
        let k = index + 1;
        if let Some(at) = &step.at {
            now = Timestamp::parse_rfc3339(at).map_err(|e| format!("step {k}: {e}"))?;
        }
        if let Some(text) = &step.reload {
            let policy = load(text).map_err(|e| format!("step {k} (reload): {e}"))?;
            core.set_engine(Engine::new(Arc::new(policy), profile));
            continue;
        }
        if let Some(label) = &step.deliver {
            let call = deferred.remove(label).ok_or_else(|| format!("step {k}: no deferred call labelled `{label}`"))?;
            if let Some(reply) = answer(step.upstream.unwrap_or_default(), call) {
                core.from_upstream(reply.as_bytes(), &ctx, now);
            }
            check_state(&mut core, step, now).map_err(|e| format!("step {k}: {e}"))?;
            continue;
        }
        call_step(&mut core, step, k, &ctx, now, &mut deferred).map_err(|e| format!("step {k}: {e}"))?;
    }
    Ok(())
}

/// What the core did with one agent message, as the vectors name it.
#[derive(Debug)]
enum Observed {
    Allow,
    Passthrough,
    Deny { text: Option<String>, bytes: Vec<u8> },
    /// Anything else (strict refusals, odd output sets), described.
    Other(String),
}

impl Observed {
    fn describe(&self) -> String {
        match self {
            Observed::Allow => "allow".into(),
            Observed::Passthrough => "passthrough".into(),
            Observed::Deny { text: Some(t), .. } => format!("deny {t:?}"),
            Observed::Deny { text: None, bytes } => format!("deny with an unreadable answer {:?}", String::from_utf8_lossy(bytes)),
            Observed::Other(what) => what.clone(),
        }
    }
}

fn observe(sent: &[u8], outputs: &[Output]) -> (Observed, Option<AuditRecord>) {
    let mut upstream = Vec::new();
    let mut agent = Vec::new();
    let mut audit = None;
    for o in outputs {
        match o {
            Output::ToUpstream(b) => upstream.push(b.clone()),
            Output::ToAgent(b) => agent.push(b.clone()),
            Output::Audit(a) => audit = Some(a.clone()),
            // Vectors never turn traffic recording on, and their cores call the store inline.
            Output::Record(_) | Output::Decide(_) | Output::Rollback(_) => {}
        }
    }
    let result = audit.as_ref().map(|a| a.result);
    let observed = match (upstream.as_slice(), agent.as_slice(), result) {
        ([up], [], Some(AuditResult::Allowed)) if up == sent => Observed::Allow,
        ([up], [], None) if up == sent => Observed::Passthrough,
        ([], [answer], Some(AuditResult::Denied)) => Observed::Deny { text: denial_text(answer), bytes: answer.clone() },
        ([], [answer], Some(AuditResult::Refused)) => {
            Observed::Other(format!("refused with {}", String::from_utf8_lossy(answer)))
        }
        ([], [], Some(AuditResult::Refused)) => Observed::Other("refused silently".into()),
        _ => Observed::Other(format!(
            "unexpected outputs: {} to upstream, {} to agent, audit {:?}",
            upstream.len(),
            agent.len(),
            result
        )),
    };
    (observed, audit)
}

/// `result.content[0].text` of a denial.
fn denial_text(bytes: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    v.pointer("/result/content/0/text")?.as_str().map(str::to_string)
}

fn call_step(
    core: &mut ProxyCore,
    step: &Step,
    k: usize,
    ctx: &CallContext,
    now: Timestamp,
    deferred: &mut BTreeMap<String, usize>,
) -> Result<(), String> {
    let line = match (&step.raw, &step.tool) {
        (Some(raw), _) => raw.clone(),
        (None, Some(tool)) => call_line(k, tool, step.arguments.as_deref()),
        (None, None) => return Err("a step needs `tool`, `raw`, `reload` or `deliver`".into()),
    };
    let expect = step.expect.ok_or("a call step needs `expect`")?;
    let outputs = core.from_agent(line.as_bytes(), ctx, now);
    let (observed, audit) = observe(line.as_bytes(), &outputs);
    let matches = matches!(
        (&observed, expect),
        (Observed::Allow, Expect::Allow) | (Observed::Passthrough, Expect::Passthrough) | (Observed::Deny { .. }, Expect::Deny)
    );
    if !matches {
        return Err(format!("expected {}, got {}", expect.as_str(), observed.describe()));
    }
    if let Observed::Deny { text, bytes } = &observed {
        if let Some(want) = &step.text {
            if text.as_ref() != Some(want) {
                return Err(format!("expected text {want:?}, got {}", observed.describe()));
            }
        }
        if let Some(want) = &step.response {
            if bytes.as_slice() != want.as_bytes() {
                return Err(format!("expected response {want}, got {}", String::from_utf8_lossy(bytes)));
            }
        }
    }
    if let Some(want) = &step.event {
        let got = audit.as_ref().map(event_fields).unwrap_or_default();
        if &got != want {
            return Err(format!("expected event {want:?}, got {got:?}"));
        }
    }
    if matches!(observed, Observed::Allow | Observed::Passthrough) {
        match step.upstream.unwrap_or_default() {
            Upstream::Deferred => {
                let label = step.label.clone().ok_or("a deferred call needs a `label`")?;
                deferred.insert(label, k);
            }
            kind => {
                if let Some(reply) = answer(kind, k) {
                    core.from_upstream(reply.as_bytes(), ctx, now);
                }
            }
        }
    }
    check_state(core, step, now)
}

/// The Intercept-visible part of an audit record: its `tool_call` event.
fn event_fields(a: &AuditRecord) -> BTreeMap<String, String> {
    let mut e = BTreeMap::new();
    e.insert("type".to_string(), "tool_call".to_string());
    e.insert("tool".to_string(), a.tool.clone());
    let result = match a.result {
        AuditResult::Allowed => "allowed",
        AuditResult::Denied => "denied",
        AuditResult::Refused => "refused",
    };
    e.insert("result".to_string(), result.to_string());
    for (name, value) in [("rule", &a.rule), ("message", &a.message), ("args_hash", &a.args_hash)] {
        if let Some(v) = value {
            e.insert(name.to_string(), v.clone());
        }
    }
    e
}

fn check_state(core: &mut ProxyCore, step: &Step, now: Timestamp) -> Result<(), String> {
    let Some(want) = &step.state_after else {
        return Ok(());
    };
    for (key, value) in want {
        let ck = CounterKey { key: key.clone(), partition: None };
        match core.store_mut().read(&ck, now) {
            Ok(got) if got == *value => {}
            Ok(got) => return Err(format!("expected counter `{key}` = {value}, got {got}")),
            Err(e) => return Err(format!("expected counter `{key}` = {value}, the store failed: {}", e.0)),
        }
    }
    Ok(())
}

fn tools_list(v: &Vector, profile: Profile) -> Result<(), String> {
    let mut core = core_for(v, profile)?;
    let body = v.upstream_response.as_deref().ok_or("a tools_list vector needs `upstream_response`")?;
    let id = response_id(body).unwrap_or_else(|| "1".to_string());
    let ctx = CallContext::default();
    let now = Timestamp::default();
    let request = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#);
    let sent = core.from_agent(request.as_bytes(), &ctx, now);
    if sent != [Output::ToUpstream(request.clone().into_bytes())] {
        return Err(format!("expected the tools/list request to be forwarded, got {sent:?}"));
    }
    let got = match core.from_upstream(body.as_bytes(), &ctx, now).as_slice() {
        [Output::ToAgent(b)] => b.clone(),
        other => return Err(format!("expected one message to the agent, got {other:?}")),
    };
    let shown = String::from_utf8_lossy(&got).into_owned();
    if v.expect_unchanged && got != body.as_bytes() {
        return Err(format!("expected the response unchanged, got {shown}"));
    }
    if let Some(want) = &v.expect_body {
        if want.as_bytes() != got.as_slice() {
            return Err(format!("expected body {want}, got {shown}"));
        }
    }
    let page: serde_json::Value = serde_json::from_slice(&got).unwrap_or_default();
    if let Some(want) = &v.expect_tools {
        let names: Vec<String> = page
            .pointer("/result/tools")
            .and_then(|t| t.as_array())
            .map(|tools| tools.iter().map(tool_name).collect())
            .unwrap_or_default();
        if &names != want {
            return Err(format!("expected tools {want:?}, got {names:?}"));
        }
    }
    if let Some(want) = &v.expect_next_cursor {
        let cursor = page.pointer("/result/nextCursor").and_then(|c| c.as_str());
        if cursor != Some(want.as_str()) {
            return Err(format!("expected nextCursor {want:?}, got {cursor:?}"));
        }
    }
    Ok(())
}

/// The raw id of a response, to send the matching request.
fn response_id(body: &str) -> Option<String> {
    let node = rawjson::parse(body.as_bytes()).ok()?;
    let Kind::Object(members) = &node.kind else {
        return None;
    };
    let id = crate::proxy::decode::envelope(members).id?;
    Some(String::from_utf8_lossy(id.raw(body.as_bytes())).into_owned())
}

/// A tool entry's name as the vectors show it: Go `%v`, `<nil>` when absent.
fn tool_name(tool: &serde_json::Value) -> String {
    match tool.get("name") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => crate::gofmt::value::json(other),
        None => "<nil>".to_string(),
    }
}
