//! `gauntlet proxy` in front of the real reference server
//! `@modelcontextprotocol/server-everything`, driven by the real Python `mcp`
//! SDK client (tests/interop/proxy_client.py): over stdio (child process),
//! through the stdio→HTTP bridge, and through the HTTP front.
//!
//! Peers come from `.peers/` (scripts/install-peers.sh). Missing peers skip
//! these tests with a notice, or fail them when GAUNTLET_REQUIRE_PEERS=1.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use crate::proxy_support::{free_port, missing_peer, root, Background};

const POLICY: &str = "examples/everything-policy.yaml";
const HIDDEN_DENIAL: &str = "[INTERCEPT POLICY DENIED] Tool \"get-env\" is hidden by policy";
const RATE_DENIAL: &str = "[INTERCEPT POLICY DENIED] Rate limit of 3 per hour reached. Try again later.";

struct Peers {
    python: PathBuf,
    everything: PathBuf,
}

fn peers() -> Option<Peers> {
    let python = root().join(".peers/venv/bin/python");
    let everything = root().join(".peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    if python.exists() && everything.exists() {
        return Some(Peers { python, everything });
    }
    let msg = "the MCP peers are not installed in .peers/ (run scripts/install-peers.sh)";
    missing_peer(msg)
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port} after 20 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_everything_http(p: &Peers) -> (Background, String) {
    let port = free_port();
    let child = Command::new("node")
        .arg(&p.everything)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs server-everything");
    let guard = Background(child);
    wait_for_port(port);
    (guard, format!("http://127.0.0.1:{port}/mcp"))
}

fn proxy_args(state: &std::path::Path) -> Vec<String> {
    vec![
        env!("CARGO_BIN_EXE_gauntlet").into(),
        "proxy".into(),
        root().join(POLICY).display().to_string(),
        "--state-dir".into(),
        state.display().to_string(),
    ]
}

/// Runs the Python SDK client against `target`; returns its JSON summary.
fn client(p: &Peers, target: Value, calls: Value) -> Value {
    let out = Command::new(&p.python)
        .arg(root().join("tests/interop/proxy_client.py"))
        .arg(target.to_string())
        .arg(calls.to_string())
        .output()
        .expect("the venv's python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("client output is not JSON ({e}): {stdout}"))
}

fn tools(summary: &Value) -> Vec<String> {
    summary["tools"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect()
}

fn call(summary: &Value, i: usize) -> &Value {
    &summary["calls"][i]
}

fn text(summary: &Value, i: usize) -> &str {
    call(summary, i)["content"][0]["text"].as_str().unwrap_or("")
}

fn sum(a: i64, b: i64) -> Value {
    json!(["get-sum", {"a": a, "b": b}])
}

/// The calls every transport runs: two allowed calls to compare with the
/// server's own answers, the hidden tool, then get-sum past its limit.
fn scripted_calls() -> Value {
    json!([["echo", {"message": "hello through the proxy"}], sum(2, 3), ["get-env", {}], sum(1, 1), sum(1, 2), sum(1, 3)])
}

/// What the server answers without a proxy in between.
fn direct(p: &Peers) -> Value {
    let target = json!({"command": ["node", p.everything.display().to_string(), "stdio"]});
    client(p, target, json!([["echo", {"message": "hello through the proxy"}], sum(2, 3)]))
}

fn assert_enforced(proxied: &Value, direct: &Value) {
    let listed = tools(proxied);
    assert!(tools(direct).contains(&"get-env".to_string()), "the server itself lists get-env: {direct}");
    assert!(!listed.contains(&"get-env".to_string()), "hidden tool listed: {listed:?}");
    assert!(listed.contains(&"echo".to_string()) && listed.contains(&"get-sum".to_string()), "{listed:?}");
    let missing: Vec<String> = tools(direct).into_iter().filter(|t| t != "get-env" && !listed.contains(t)).collect();
    assert!(missing.is_empty(), "only get-env may be filtered, also missing: {missing:?}");
    // Allowed calls: the server's own result, unchanged.
    assert_eq!(call(proxied, 0), call(direct, 0));
    assert_eq!(call(proxied, 1), call(direct, 1));
    assert_eq!(text(direct, 1), "The sum of 2 and 3 is 5.");
    // The hidden tool is refused when called anyway.
    assert_eq!(call(proxied, 2)["isError"], true);
    assert_eq!(text(proxied, 2), HIDDEN_DENIAL);
    // get-sum: calls 2 and 3 of the hour pass, the 4th is refused.
    assert_eq!(text(proxied, 3), "The sum of 1 and 1 is 2.");
    assert_eq!(text(proxied, 4), "The sum of 1 and 2 is 3.");
    assert_eq!(call(proxied, 5)["isError"], true);
    assert_eq!(text(proxied, 5), RATE_DENIAL);
}

#[test]
fn stdio_child_enforces_the_policy_and_passes_results_unchanged() {
    let Some(p) = peers() else { return };
    let state = tempfile::tempdir().unwrap();
    let mut command = proxy_args(state.path());
    command.extend(["--".into(), "node".into(), p.everything.display().to_string(), "stdio".into()]);
    let proxied = client(&p, json!({"command": command}), scripted_calls());
    assert_enforced(&proxied, &direct(&p));
}

#[test]
fn counters_survive_a_proxy_restart() {
    let Some(p) = peers() else { return };
    let state = tempfile::tempdir().unwrap();
    let mut command = proxy_args(state.path());
    command.extend(["--".into(), "node".into(), p.everything.display().to_string(), "stdio".into()]);
    let first = client(&p, json!({"command": command}), json!([sum(1, 1), sum(1, 2)]));
    assert_eq!(text(&first, 0), "The sum of 1 and 1 is 2.");
    assert_eq!(text(&first, 1), "The sum of 1 and 2 is 3.");
    assert!(state.path().join("gauntlet-state.sqlite").exists());
    let second = client(&p, json!({"command": command}), json!([sum(2, 2), sum(2, 3)]));
    assert_eq!(text(&second, 0), "The sum of 2 and 2 is 4.");
    assert_eq!(text(&second, 1), RATE_DENIAL, "the restart must not reset the limit");
}

#[test]
fn stdio_bridge_to_a_streamable_http_upstream() {
    let Some(p) = peers() else { return };
    let (_server, url) = start_everything_http(&p);
    let state = tempfile::tempdir().unwrap();
    let mut command = proxy_args(state.path());
    command.extend(["--upstream".into(), url]);
    let proxied = client(&p, json!({"command": command}), scripted_calls());
    assert_enforced(&proxied, &direct(&p));
}

fn start_front(p: &Peers, state: &std::path::Path, extra: &[&str]) -> (Background, Background, u16) {
    let (server, url) = start_everything_http(p);
    let port = free_port();
    let args = proxy_args(state);
    let child = Command::new(&args[0])
        .args(&args[1..])
        .args(["--upstream", &url, "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gauntlet proxy starts");
    let front = Background(child);
    wait_for_port(port);
    (server, front, port)
}

#[test]
fn http_front_enforces_the_policy() {
    let Some(p) = peers() else { return };
    let state = tempfile::tempdir().unwrap();
    let (_server, _front, port) = start_front(&p, state.path(), &[]);
    let proxied = client(&p, json!({"url": format!("http://127.0.0.1:{port}/mcp")}), scripted_calls());
    assert_enforced(&proxied, &direct(&p));
}

/// One raw HTTP/1.1 POST; returns the status line and the body.
fn raw_post(port: u16, headers: &[&str], body: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n", body.len());
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.lines().next().unwrap_or("").to_string();
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn http_front_refuses_foreign_origins_and_unknown_tokens() {
    let Some(p) = peers() else { return };
    let state = tempfile::tempdir().unwrap();
    let grants = state.path().join("grants.yaml");
    std::fs::write(&grants, "tokens:\n  \"tok-alice\": alice\n").unwrap();
    let (_server, _front, port) = start_front(&p, state.path(), &["--grants", grants.to_str().unwrap()]);
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;

    let (status, _) = raw_post(port, &["Authorization: Bearer tok-alice", "Origin: http://evil.example"], init);
    assert!(status.contains(" 403 "), "{status}");
    let (status, body) = raw_post(port, &["Authorization: Bearer tok-mallory"], init);
    assert!(status.contains(" 401 "), "{status}");
    assert!(body.contains("unknown bearer token"), "{body}");
    let (status, _) = raw_post(port, &[], init);
    assert!(status.contains(" 401 "), "{status}");
    let (status, body) = raw_post(port, &["Authorization: Bearer tok-alice", "Origin: http://localhost:6274"], init);
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("\"protocolVersion\":\"2025-06-18\""), "{body}");
}

/// Issue 19, against the real reader: a server built on the Python SDK
/// (tests/interop/ledger_server.py) behind `gauntlet proxy` processes. One
/// line holds a denied call between two bare `\r`s inside an object with no
/// method; the SDK's stdio reader ends lines at `\r`, so under `intercept`
/// (Intercept's own framing) the denied call runs, and under `strict` the
/// line is refused and nothing but the allowed call reaches the server.
#[test]
fn a_call_smuggled_between_carriage_returns_runs_on_a_python_sdk_server_only_under_intercept() {
    let Some(p) = peers() else { return };
    for profile in ["intercept", "strict"] {
        let lines = [
            INITIALIZE.to_string(),
            INITIALIZED.to_string(),
            "{\"a\":\r{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_customer\",\"arguments\":{\"customer\":\"c1\"}}}\r}".to_string(),
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_customers","arguments":{}}}"#.to_string(),
        ];
        let policy = "version: \"1\"\ntools:\n  delete_customer:\n    rules:\n      - name: never delete\n        action: deny\n";
        let (answers, ran) = through_ledger_server(&p, profile, policy, &lines, 3);
        match profile {
            "intercept" => assert_eq!(ran, ["delete_customer", "list_customers"], "the SDK reads three lines and runs the middle one"),
            _ => {
                assert_eq!(ran, ["list_customers"], "strict: the denied call never reaches the server");
                let refusal = answers.iter().find(|a| a["error"]["code"] == -32600).unwrap_or_else(|| panic!("{answers:?}"));
                assert!(refusal["error"]["message"].as_str().unwrap().contains("carriage return"), "{refusal}");
            }
        }
    }
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Sends `lines` through `gauntlet proxy POLICY --profile PROFILE` to the
/// Python SDK server of tests/interop/ledger_server.py; returns every answer
/// up to the one with id `last` (the server answers in order, so every line
/// before it was read) and the tools that ran, from the server's ledger.
fn through_ledger_server(p: &Peers, profile: &str, policy: &str, lines: &[String], last: i64) -> (Vec<Value>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let policy_file = dir.path().join("policy.yaml");
    std::fs::write(&policy_file, policy).unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    let mut proxy = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["proxy", &policy_file.display().to_string(), "--profile", profile, "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--")
        .arg(&p.python)
        .arg(root().join("tests/interop/ledger_server.py"))
        .arg(&ledger)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = proxy.stdin.take().unwrap();
    for line in lines {
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    stdin.flush().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = proxy.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut answers = Vec::new();
    while !answers.iter().any(|a: &Value| a["id"] == last) {
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{profile}: no answer to id {last} in 30 s: {answers:?}"));
        answers.push(serde_json::from_str(&line).unwrap_or(Value::Null));
    }
    drop(stdin);
    let _ = proxy.wait();
    let ran = std::fs::read_to_string(&ledger)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["tool"].as_str().unwrap().to_string())
        .collect();
    (answers, ran)
}

/// Issue 24 against a real server: the Python SDK server's tools, called by
/// a client that never lists. The SDK runs a call with a field its tool
/// never declared (pydantic drops it), so under `intercept` an undeclared
/// `cascade` reaches `delete_customer`; under `strict` the proxy asks the
/// server for its list itself before judging the first call, refuses the
/// undeclared field, the wrongly typed one and a tool the server does not
/// have, and lets the well-formed call run. The agent never sees the
/// proxy's own list.
#[test]
fn strict_checks_a_python_sdk_servers_schemas_for_a_client_that_never_lists() {
    let Some(p) = peers() else { return };
    let call = |id: i64, tool: &str, arguments: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}).to_string()
    };
    let lines = [
        INITIALIZE.to_string(),
        INITIALIZED.to_string(),
        call(2, "delete_customer", json!({"customer": "c1", "cascade": true})),
        call(3, "delete_customer", json!({"customer": 5})),
        call(4, "no_such_tool", json!({})),
        call(5, "list_customers", json!({})),
    ];
    let policy = "version: \"1\"\ndefault: allow\ntools: {}\n";
    let (_, ran) = through_ledger_server(&p, "intercept", policy, &lines, 5);
    assert_eq!(ran, ["delete_customer", "list_customers"], "the SDK runs the call with the undeclared field");
    let (answers, ran) = through_ledger_server(&p, "strict", policy, &lines, 5);
    assert_eq!(ran, ["list_customers"], "strict: only the well-formed call runs: {answers:?}");
    let error = |id: i64| {
        let a = answers.iter().find(|a| a["id"] == id).unwrap_or_else(|| panic!("no answer to {id}: {answers:?}"));
        (a["error"]["code"].as_i64(), a["error"]["message"].as_str().unwrap_or_default().to_string())
    };
    let (code, message) = error(2);
    assert_eq!(code, Some(-32602));
    assert!(message.contains("field `cascade` is not declared in its inputSchema"), "{message}");
    let (code, message) = error(3);
    assert_eq!(code, Some(-32602));
    assert!(message.contains("field `customer` does not match its inputSchema"), "{message}");
    let (code, message) = error(4);
    assert_eq!(code, Some(-32602));
    assert!(message.contains("the upstream's tools/list does not list it"), "{message}");
    assert!(answers.iter().all(|a| !a.to_string().contains("gauntlet-pin-")), "the proxy's own list is not the agent's: {answers:?}");
}

/// Governs one surface beside tools for the strict profile: reads of one
/// document. Intercept never evaluates the entry.
const SURFACE_POLICY: &str = r#"version: "1"
default: allow
tools:
  "resources/read":
    rules:
      - name: "features only"
        conditions:
          - {path: args.uri, op: regex, value: "^demo://resource/static/document/features\\.md$"}
        on_deny: "Only the features document may be read"
"#;

/// Resources and prompts are side doors (semantics G-4). Under `intercept`
/// the real Python SDK client reads and gets whatever the real server
/// offers; under `strict` every surface the policy does not govern answers
/// the SDK with a JSON-RPC error it raises, and the governed read is decided
/// by its entry: the allowed document arrives unchanged, another is denied.
#[test]
fn strict_gates_resources_and_prompts_for_the_python_sdk_client() {
    let Some(p) = peers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("surfaces.yaml");
    std::fs::write(&policy, SURFACE_POLICY).unwrap();
    let features = "demo://resource/static/document/features.md";
    let startup = "demo://resource/static/document/startup.md";
    let ops = json!([
        ["resources/list", {}],
        ["resources/read", {"uri": features}],
        ["resources/read", {"uri": startup}],
        ["prompts/list", {}],
        ["prompts/get", {"name": "simple-prompt"}],
    ]);
    let run = |profile: &str| {
        let state = dir.path().join(profile);
        let mut command = vec![env!("CARGO_BIN_EXE_gauntlet").to_string(), "proxy".into(), policy.display().to_string()];
        command.extend(["--profile".into(), profile.into(), "--state-dir".into(), state.display().to_string()]);
        command.extend(["--".into(), "node".into(), p.everything.display().to_string(), "stdio".into()]);
        client(&p, json!({ "command": command }), ops.clone())
    };
    let open = run("intercept");
    for i in 0..5 {
        assert!(call(&open, i).get("result").is_some(), "intercept forwards {}: {open}", call(&open, i));
    }
    let listed = call(&open, 0)["result"]["resources"].as_array().unwrap();
    assert!(listed.iter().any(|r| r["uri"] == startup), "{open}");
    let gated = run("strict");
    // The governed read of the allowed document: the server's own answer.
    assert_eq!(call(&gated, 1), call(&open, 1));
    assert_eq!(call(&gated, 1)["result"]["contents"][0]["uri"], features);
    assert_eq!(
        call(&gated, 2)["error"],
        json!({"code": -32001, "message": "[INTERCEPT POLICY DENIED] Only the features document may be read"})
    );
    for (i, method) in [(0, "resources/list"), (3, "prompts/list"), (4, "prompts/get")] {
        let e = &call(&gated, i)["error"];
        assert_eq!(e["code"], -32601, "{method}: {gated}");
        let text = e["message"].as_str().unwrap();
        assert!(text.starts_with(&format!("`{method}` is refused under the strict profile")), "{text}");
    }
    // Tools are untouched: the same list through both.
    assert_eq!(tools(&gated), tools(&open));
}
