//! The fuzz targets: each loader (a policy in each dialect, scenario, mock
//! server, requirements, trace) and one agent JSON-RPC line through the
//! proxy core. A target returns `Err` when an invariant beyond "no panic"
//! breaks.

use std::path::Path;
use std::sync::Arc;

use crate::clock::Timestamp;
use crate::engine::store::MemoryStore;
use crate::caller::CallContext;
use crate::engine::Engine;
use crate::mcp::stdio::LineEnds;
use crate::policy::model::Dialect;
use crate::profile::Profile;
use crate::proxy::core::{Output, ProxyCore, WireMode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    PolicyIntercept,
    PolicyCatalogue,
    PolicyPolicylayer,
    Scenario,
    Mock,
    Requirements,
    Trace,
    Proxy,
    /// A byte stream through the stdio line reader and the proxy, and through the SSE reader.
    Framing,
    /// Exercises the harness itself: `panic` panics, `broken` breaks.
    #[cfg(test)]
    SelfTest,
}

/// The policy the proxy target enforces: a limit, a deny, a condition, a hidden tool.
const PROXY_POLICY: &str = r#"version: "1"
hide: ["secret"]
tools:
  t:
    rules:
      - name: "two per hour"
        rate_limit: 2/hour
  pay:
    rules:
      - name: "cap"
        conditions:
          - path: args.amount
            op: lte
            value: 100
  delete_customer:
    rules:
      - name: "block"
        action: deny
"#;

impl Target {
    pub const ALL: &'static [Target] = &[
        Target::PolicyIntercept,
        Target::PolicyCatalogue,
        Target::PolicyPolicylayer,
        Target::Scenario,
        Target::Mock,
        Target::Requirements,
        Target::Trace,
        Target::Proxy,
        Target::Framing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::PolicyIntercept => "policy-intercept",
            Target::PolicyCatalogue => "policy-catalogue",
            Target::PolicyPolicylayer => "policy-policylayer",
            Target::Scenario => "scenario",
            Target::Mock => "mock",
            Target::Requirements => "requirements",
            Target::Trace => "trace",
            Target::Proxy => "proxy",
            Target::Framing => "framing",
            #[cfg(test)]
            Target::SelfTest => "self-test",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// Seeds for a run without a corpus directory (an installed binary).
    pub fn seeds(self) -> &'static [&'static str] {
        match self {
            Target::PolicyIntercept => &[PROXY_POLICY, "version: \"1\"\ntools: {}\n"],
            Target::PolicyCatalogue => &[
                "tools:\n  t:\n    rules:\n      - action: allow\n        rate_limit: {max: 30, window: 60}\n",
                "default: deny\ntools:\n  d:\n    rules:\n      - action: deny\n",
            ],
            Target::PolicyPolicylayer => &[
                r#"{"version": "1", "default": "allow", "tools": {"t": {"limits": [{"counter": "c", "window": "minute", "max": 5, "scope": "grant"}]}}}"#,
                r#"{"version": "1", "tools": {"x": {}}}"#,
            ],
            Target::Scenario => &[
                "id: burst\nrisk: write\nattack:\n  calls: 10\nexpect:\n  max_reached_per_window: {}\n",
                "id: x\n",
            ],
            Target::Mock => &[
                "name: m\nversion: \"1.0.0\"\ntools:\n  - name: t\n    description: d\n    risk: read\n    inputSchema: {type: object}\n",
                "name: m\n",
            ],
            Target::Requirements => &["risk:\n  write:\n    max_calls: 10\n", "schema_validation: false\n"],
            Target::Trace => &[
                r#"{"at": "2026-03-02T10:00:00Z", "tool": "t", "arguments": {"a": 1}}"#,
                r#"{"tool": "pay", "upstream": "error"}"#,
            ],
            Target::Proxy => &[
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{}}}"#,
                r#"[{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"pay","arguments":{"amount":5}}}]"#,
                r#"{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///etc/passwd"}}"#,
            ],
            Target::Framing => &[
                "{\"a\":\r{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_customer\"}}\r}\n",
                ": c\rdata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\r\n\r\nid: 2\rdata: x\n\n",
            ],
            #[cfg(test)]
            Target::SelfTest => &["fine", "panic"],
        }
    }

    /// Feeds one input; `Err` is a broken invariant.
    pub fn run(self, input: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(input);
        let policy = |dialect| -> Result<(), String> {
            if let Ok(loaded) = crate::policy::load_str(&text, "fuzz.yaml", Some(dialect)) {
                // A loaded policy must compile in either profile.
                let policy = Arc::new(loaded.policy);
                let _ = Engine::new(policy.clone(), Profile::Intercept);
                let _ = Engine::new(policy, Profile::Strict);
            }
            // Detection from the content: what loads detected loads the same when forced.
            if let Ok(detected) = crate::policy::load_str(&text, "fuzz.yaml", None) {
                let forced = crate::policy::load_str(&text, "fuzz.yaml", Some(detected.policy.dialect))
                    .map_err(|e| format!("loads as detected {} but not when forced: {e}", detected.policy.dialect.as_str()))?;
                if format!("{:?}", forced.policy) != format!("{:?}", detected.policy) {
                    return Err(format!("detected and forced {} differ", detected.policy.dialect.as_str()));
                }
            }
            Ok(())
        };
        let path = Path::new("fuzz.yaml");
        match self {
            Target::PolicyIntercept => policy(Dialect::Intercept),
            Target::PolicyCatalogue => policy(Dialect::Catalogue),
            Target::PolicyPolicylayer => policy(Dialect::PolicyLayer),
            Target::Scenario => {
                let _ = crate::scenario::parse(path, &text);
                let _ = crate::scenario::lint::lint_text(path, &text, &[]);
                Ok(())
            }
            Target::Mock => {
                let _ = crate::mock::ServerSpec::parse(&text, path);
                Ok(())
            }
            Target::Requirements => {
                let _ = crate::scenario::requirements::Requirements::parse(&text);
                Ok(())
            }
            Target::Trace => {
                let _ = crate::engine::replay::parse_trace(&text);
                trace_lines(input)
            }
            Target::Proxy => proxy_line(input),
            Target::Framing => framing(input),
            #[cfg(test)]
            Target::SelfTest => match input {
                b"panic" => panic!("self-test panic"),
                b"broken" => Err("self-test broken".into()),
                _ => Ok(()),
            },
        }
    }
}

/// Each line of a trace read the three ways `gauntlet replay` reads one (a
/// call built, a call read into a reused step, a line only checked) must give
/// the same call or the same error; a call's strings, written as an output
/// line, must come out as serde_json writes them.
fn trace_lines(input: &[u8]) -> Result<(), String> {
    use crate::engine::replay::{ReplayRecord, TraceReader, TraceStep};
    let (mut built, mut reused, mut checked) = (TraceReader::default(), TraceReader::default(), TraceReader::default());
    let mut step = TraceStep::default();
    for line in input.split(|&b| b == b'\n') {
        let call = built.next_line(line);
        let into = reused.next_into(line, &mut step);
        let check = checked.check_line(line);
        crate::engine::replay::agrees_with_serde(line)?;
        match (&call, &into) {
            (Ok(Some(call)), Ok(true)) if *call == step => {}
            (Ok(None), Ok(false)) => {}
            (Err(a), Err(b)) if a == b => {}
            _ => return Err(format!("next_line gave {call:?}, next_into {into:?} with {step:?}")),
        }
        if call.as_ref().err() != check.as_ref().err() {
            return Err(format!("next_line gave {call:?}, check_line {check:?}"));
        }
        if let Ok(Some(call)) = &call {
            let counters = [(call.tool.clone(), -1), (format!("{}@{}", call.tool, call.ctx.identity.as_deref().unwrap_or("")), i64::MIN)];
            let text = Some(call.tool.as_str()).filter(|t| t.len() % 2 == 0);
            let record = ReplayRecord {
                line: call.line,
                at: call.ctx.session.as_deref().unwrap_or(""),
                tool: &call.tool,
                decision: "deny",
                rule: text,
                culprit: call.ctx.identity.as_deref(),
                message: text,
                cause: None,
                counters: &counters,
            };
            let mut written = Vec::new();
            record.write_line(&mut written);
            let mut expected = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
            expected.push(b'\n');
            if written != expected {
                return Err(format!("{} written as {:?}, serde_json writes {:?}", call.tool, String::from_utf8_lossy(&written), String::from_utf8_lossy(&expected)));
            }
        }
    }
    Ok(())
}

/// One agent line through the core in every profile and wire mode, then the
/// same bytes as the upstream's answer. What the core writes to the agent
/// itself (denials, refusals, errors) must be valid UTF-8 JSON; what strict
/// forwards must be what it evaluated ([`strict_forward`]).
/// Strict forwards the agent's bytes unchanged, as one JSON value; in front of
/// a stdio child, one line to every known reader (no `\r` for the Python
/// SDK's universal newlines to split at, no `\n`).
fn strict_forward(line: &[u8], forwarded: &[u8], mode: WireMode) -> Result<(), String> {
    if forwarded != line {
        return Err(format!("strict forwarded other bytes than it evaluated: {forwarded:?}"));
    }
    if crate::proxy::rawjson::parse(forwarded).is_err() {
        return Err(format!("strict forwarded bytes that are not one JSON value: {forwarded:?}"));
    }
    let pieces = LineEnds::Universal.split(forwarded).count();
    if mode == WireMode::StdioChild && (pieces != 1 || forwarded.contains(&b'\n')) {
        return Err(format!("strict forwarded a stdio line that is not one line to a Python SDK server ({pieces} pieces at \\r, or a \\n): {forwarded:?}"));
    }
    Ok(())
}

/// A stdio stream: each line the reader frames holds no `\n`, and what the
/// strict core forwards of it is one line to a Python SDK server. The same
/// bytes as an SSE stream: read whole or in pieces, the same events, and each
/// event written back out reads back the same.
fn framing(input: &[u8]) -> Result<(), String> {
    use crate::mcp::http::{sse_event, SseParser};
    use crate::mcp::stdio::{Frame, LineReader};
    let policy = Arc::new(crate::policy::load_intercept(PROXY_POLICY).map_err(|e| e.to_string())?);
    let now = Timestamp::parse_rfc3339("2026-03-02T10:00:00Z").map_err(|e| e.to_string())?;
    let mut core = ProxyCore::new(Engine::new(policy, Profile::Strict), Box::new(MemoryStore::new()), WireMode::StdioChild);
    let mut lines = LineReader::with_max(std::io::BufReader::with_capacity(7, input), 1 << 16);
    while let Some(frame) = lines.next_frame_blocking().map_err(|e| e.to_string())? {
        let Frame::Line(line) = frame else { continue };
        if line.contains(&b'\n') {
            return Err(format!("the line reader framed a line holding a \\n: {line:?}"));
        }
        for out in core.from_agent(&line, &CallContext::default(), now) {
            if let Output::ToUpstream(bytes) = out {
                strict_forward(&line, &bytes, WireMode::StdioChild)?;
            }
        }
        // The same line from the upstream: what reaches the agent is one line to every reader.
        for out in core.from_upstream(&line, &CallContext::default(), now) {
            if let Output::ToAgent(bytes) = out {
                if let Some(at) = memchr::memchr2(b'\r', b'\n', &bytes) {
                    return Err(format!("strict sent the agent a message with a line end at byte {at}: {bytes:?}"));
                }
            }
        }
    }
    let whole = {
        let mut p = SseParser::default();
        let mut events = p.push(input);
        events.extend(p.finish());
        events
    };
    for cut in [input.len() / 3, input.len() / 2, input.len().saturating_sub(1)] {
        let mut p = SseParser::default();
        let mut events = p.push(&input[..cut]);
        events.extend(p.push(&input[cut..]));
        events.extend(p.finish());
        if events != whole {
            return Err(format!("SSE read whole gave {whole:?}, cut at {cut} {events:?}"));
        }
    }
    for event in &whole {
        let mut p = SseParser::default();
        let back = p.push(&sse_event(event.id.as_deref(), event.data.as_bytes()));
        if back.as_slice() != std::slice::from_ref(event) {
            return Err(format!("SSE event {event:?} written and read back as {back:?}"));
        }
    }
    Ok(())
}

fn proxy_line(line: &[u8]) -> Result<(), String> {
    let policy = Arc::new(crate::policy::load_intercept(PROXY_POLICY).map_err(|e| e.to_string())?);
    let now = Timestamp::parse_rfc3339("2026-03-02T10:00:00Z").map_err(|e| e.to_string())?;
    let ctx = CallContext::default();
    for profile in [Profile::Intercept, Profile::Strict] {
        for mode in [WireMode::StdioChild, WireMode::StdioBridge, WireMode::Http] {
            let mut core = ProxyCore::new(Engine::new(policy.clone(), profile), Box::new(MemoryStore::new()), mode);
            for out in core.from_agent(line, &ctx, now) {
                if let Output::ToUpstream(bytes) = &out {
                    if profile == Profile::Strict {
                        strict_forward(line, bytes, mode).map_err(|why| format!("{mode:?}: {why}"))?;
                        ungoverned_forward(bytes, &policy).map_err(|why| format!("{mode:?}: {why}"))?;
                    }
                }
                if let Output::ToAgent(bytes) = out {
                    let text = std::str::from_utf8(&bytes)
                        .map_err(|_| format!("{profile}/{mode:?}: the core wrote invalid UTF-8 to the agent: {bytes:?}"))?;
                    // Syntax only: an echoed id such as `1e400` is valid JSON
                    // that serde_json's number type cannot hold.
                    serde_json::from_str::<Box<serde_json::value::RawValue>>(text)
                        .map_err(|e| format!("{profile}/{mode:?}: the core wrote invalid JSON to the agent ({e}): {text}"))?;
                }
            }
            core.from_upstream(line, &ctx, now);
            core.upstream_gone();
        }
    }
    held_for_own_list(line, &policy, now, true)?;
    held_for_own_list(line, &policy, now, false)
}

/// Strict forwards no request on a surface beside tools that the policy
/// does not govern, as a server reads the method (an exact key; of repeated
/// keys the last, as Python's and JavaScript's JSON readers take it).
fn ungoverned_forward(forwarded: &[u8], policy: &crate::policy::model::Policy) -> Result<(), String> {
    let Ok(serde_json::Value::Object(message)) = serde_json::from_slice::<serde_json::Value>(forwarded) else { return Ok(()) };
    match message.get("method").and_then(|m| m.as_str()) {
        Some(m) if crate::proxy::decode::SURFACE_METHODS.contains(&m) && policy.tool(m).is_none() => {
            Err(format!("strict forwarded `{m}`, which the policy does not govern: {forwarded:?}"))
        }
        _ => Ok(()),
    }
}

/// An upstream message passed on as it came, but for `strict` turning each
/// bare `\r` into a space.
fn passed_on(sent: &[u8], came: &[u8]) -> bool {
    sent.len() == came.len() && sent.iter().zip(came).all(|(s, c)| s == c || (*c == b'\r' && *s == b' '))
}

/// The same line through a strict core that holds a call for its own list
/// (pinned, or only waiting for the tool's schema): as the agent's message,
/// as the answer to the proxy's own list for the held call, and as any
/// upstream message. What reaches the agent is UTF-8 JSON, or an upstream
/// message passed on as it came (the core forwards what it cannot parse
/// untouched, its bare `\r`s spaced); the answer to the proxy's own list
/// never reaches the agent; and the held call goes upstream only when that
/// answer lists its tool.
fn held_for_own_list(line: &[u8], policy: &Arc<crate::policy::model::Policy>, now: Timestamp, pin: bool) -> Result<(), String> {
    use crate::proxy::pin::Approved;
    let ctx = CallContext::default();
    let mut core = ProxyCore::new(Engine::new(policy.clone(), Profile::Strict), Box::new(MemoryStore::new()), WireMode::StdioChild);
    let name = if pin { "pinned" } else { "unlisted" };
    if pin {
        let approved = Approved::new("a.yaml", "s", [("t".to_string(), vec![serde_json::json!({"name": "t", "inputSchema": {"type": "object"}})])]);
        core.pin(Arc::new(approved));
    } else {
        core.unlisted_calls(crate::proxy::schemas::Unlisted::Ask);
    }
    let held = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}"#;
    let mut outs = core.from_agent(held, &ctx, now);
    outs.extend(core.from_agent(line, &ctx, now));
    let answer = [&br#"{"jsonrpc":"2.0","id":"gauntlet-pin-1","result":"#[..], line, b"}"].concat();
    let own = outs.iter().any(|o| matches!(o, Output::ToUpstream(b) if b.windows(14).any(|w| w == b"gauntlet-pin-1")));
    let answered = core.from_upstream(&answer, &ctx, now);
    let parsed = serde_json::from_slice::<serde_json::Value>(&answer).ok();
    if own && parsed.is_some() {
        if let Some(Output::ToAgent(leak)) = answered.iter().find(|o| matches!(o, Output::ToAgent(b) if passed_on(b, &answer))) {
            return Err(format!("{name}: the answer to the proxy's own list reached the agent: {}", String::from_utf8_lossy(leak)));
        }
    }
    let lists_t = parsed.as_ref().and_then(|v| v["result"]["tools"].as_array()).is_some_and(|tools| tools.iter().any(|t| t["name"] == "t"));
    if !lists_t && answered.iter().any(|o| matches!(o, Output::ToUpstream(b) if b.as_slice() == held)) {
        return Err(format!("{name}: the held call went upstream though the proxy's own list did not list its tool: {}", String::from_utf8_lossy(&answer)));
    }
    outs.extend(answered);
    outs.extend(core.from_upstream(line, &ctx, now));
    outs.extend(core.upstream_gone());
    for out in outs {
        if let Output::ToAgent(bytes) = out {
            if passed_on(&bytes, line) || passed_on(&bytes, &answer) {
                continue;
            }
            let text = std::str::from_utf8(&bytes).map_err(|_| format!("{name}: the core wrote invalid UTF-8 to the agent: {bytes:?}"))?;
            serde_json::from_str::<Box<serde_json::value::RawValue>>(text)
                .map_err(|e| format!("{name}: the core wrote invalid JSON to the agent ({e}): {text}"))?;
        }
    }
    Ok(())
}
