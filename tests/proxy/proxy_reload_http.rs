//! Hot reload in the two HTTP-upstream modes of `gauntlet proxy`, as
//! processes in front of `gauntlet mock --http`: the stdio bridge swaps a
//! valid policy in and keeps it when the next file is invalid, the HTTP
//! front keeps its rate-limit counters across a reload, and both decide a
//! call sent right after the policy was replaced under the new one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::proxy_support;
use proxy_support::{payments, slow_server, Proc, THREE_AN_HOUR, WAIT};

const GAUNTLET: &str = env!("CARGO_BIN_EXE_gauntlet");
const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

const ALLOW: &str = r#"version: "1"
default: allow
tools:
  list_customers:
    rules:
      - name: listing is fine
        rate_limit: 1000/hour
"#;

const DENY: &str = r#"version: "1"
default: allow
tools:
  list_customers:
    rules:
      - name: no listing
        action: deny
"#;

const INVALID: &str = "version: \"2\"\ntools: {}\n";

const TWO_AN_HOUR: &str = r#"version: "1"
default: allow
tools:
  list_customers:
    rules:
      - name: two an hour
        rate_limit: 2/hour
"#;

/// The same rule, plus changes that do not touch `list_customers`; the
/// `delete_customer` rule makes the reload observable.
const TWO_AN_HOUR_EDITED: &str = r#"version: "1"
description: edited while running
default: allow
tools:
  list_customers:
    rules:
      - name: two an hour
        rate_limit: 2/hour
  delete_customer:
    rules:
      - name: no deletes
        action: deny
"#;

fn call_msg(id: u32, tool: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#)
}

fn denial(id: u32, text: &str) -> String {
    let text = serde_json::to_string(&format!("[INTERCEPT POLICY DENIED] {text}")).unwrap();
    format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":{text}}}],"isError":true}}}}"#)
}

/// `gauntlet mock payments --http 127.0.0.1:0` and its `http://ADDR/mcp` URL.
fn mock_upstream() -> (Proc, String) {
    mock_upstream_of(&payments())
}

/// `gauntlet mock SERVER --http 127.0.0.1:0` and its `http://ADDR/mcp` URL.
fn mock_upstream_of(server: &Path) -> (Proc, String) {
    let mock = Proc::spawn(
        Command::new(GAUNTLET)
            .arg("mock")
            .arg(server)
            .args(["--http", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    let addr = mock.address_after("serving Streamable HTTP on http://");
    (mock, format!("http://{addr}/mcp"))
}

/// The policy lives in a directory of its own: the watcher sees the whole directory.
fn write_policy(dir: &Path, text: &str) -> PathBuf {
    let policy_dir = dir.join("policy");
    std::fs::create_dir_all(&policy_dir).unwrap();
    let path = policy_dir.join("policy.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Replaces the policy as editors do: write a temporary file, rename it over.
fn replace_policy(path: &Path, text: &str) {
    let tmp = path.with_file_name(".policy.yaml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

// ---------------------------------------------------------------- the stdio bridge

struct Bridge {
    proc: Proc,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Bridge {
    fn start(dir: &Path, policy: &Path, upstream: &str) -> Bridge {
        Bridge::start_with(dir, policy, upstream, &[])
    }

    fn start_with(dir: &Path, policy: &Path, upstream: &str, extra: &[&str]) -> Bridge {
        let mut proc = Proc::spawn(
            Command::new(GAUNTLET)
                .arg("proxy")
                .arg(policy)
                .args(["--upstream", upstream])
                .args(extra)
                .arg("--state-dir")
                .arg(dir.join("state"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        );
        let stdout = proc.child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = proc.child.stdin.take().unwrap();
        Bridge { proc, stdin, lines }
    }

    fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next line answering `id`, skipping others (server notifications).
    fn expect_id(&self, id: u32) -> String {
        let needle = format!("\"id\":{id},");
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!("no answer to id {id} within {WAIT:?}; proxy stderr:\n{}", self.proc.stderr())
            });
            if line.contains(&needle) {
                return line;
            }
        }
    }

    fn call(&mut self, id: u32, tool: &str) -> String {
        self.send(&call_msg(id, tool));
        self.expect_id(id)
    }
}

#[test]
fn bridge_reloads_a_valid_policy_and_keeps_it_when_the_next_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), ALLOW);
    let (_mock, upstream) = mock_upstream();
    let mut p = Bridge::start(dir.path(), &policy, &upstream);
    p.send(INIT);
    let init = p.expect_id(1);
    assert!(init.contains("\"serverInfo\""), "{init}");
    p.send(INITIALIZED);
    let allowed = p.call(2, "list_customers");
    assert!(allowed.contains("cus_mock_1") && !allowed.contains("isError\":true"), "{allowed}");

    // Give the watcher a moment to be in place before the first change.
    std::thread::sleep(Duration::from_millis(300));
    replace_policy(&policy, DENY);
    let mut id = 2;
    let deadline = Instant::now() + Duration::from_secs(5);
    let denied = loop {
        id += 1;
        let answer = p.call(id, "list_customers");
        if answer.contains("[INTERCEPT POLICY DENIED]") {
            break answer;
        }
        assert!(answer.contains("cus_mock_1"), "before the reload the call is still served: {answer}");
        assert!(Instant::now() < deadline, "the denying policy was not picked up within 5 s; stderr:\n{}", p.proc.stderr());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(denied, denial(id, "Denied by rule \"no listing\""));
    p.proc.wait_stderr("reloaded policy");

    replace_policy(&policy, INVALID);
    p.proc.wait_stderr("rejected the changed policy");
    // Calls keep being denied by the previous (deny) policy.
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        id += 1;
        assert_eq!(p.call(id, "list_customers"), denial(id, "Denied by rule \"no listing\""), "an invalid file must leave the old policy in force");
        std::thread::sleep(Duration::from_millis(100));
    }
    let stderr = p.proc.stderr();
    assert!(stderr.contains("version must be"), "the validation message is shown: {stderr}");
    assert_eq!(stderr.matches("reloaded policy").count(), 1, "only the valid file was applied: {stderr}");
}

// ---------------------------------------------------------------- the HTTP front

/// One HTTP/1.1 exchange over a fresh connection.
struct HttpAnswer {
    status: u16,
    session: Option<String>,
    /// The JSON-RPC messages of the body (a JSON body, or SSE `data:` lines).
    messages: Vec<String>,
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
    out
}

fn post(addr: &str, session: Option<&str>, version: Option<&str>, body: &str) -> HttpAnswer {
    let mut extra = Vec::new();
    if let Some(s) = session {
        extra.push(format!("Mcp-Session-Id: {s}"));
    }
    if let Some(v) = version {
        extra.push(format!("MCP-Protocol-Version: {v}"));
    }
    post_as(addr, addr, &extra, body)
}

/// A POST with this `Host` header and extra header lines.
fn post_as(addr: &str, host: &str, extra: &[String], body: &str) -> HttpAnswer {
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    let mut stream = TcpStream::connect_timeout(&sock, Duration::from_secs(5)).expect("the proxy accepts");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    let mut req = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for line in extra {
        req.push_str(line);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("the proxy answers and closes within the timeout");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut head_lines = head.split("\r\n");
    let status = head_lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = head_lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut body = raw[split + 4..].to_vec();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let messages = if header("content-type").is_some_and(|v| v.starts_with("text/event-stream")) {
        text.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect()
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        vec![text]
    };
    HttpAnswer { status, session: header("mcp-session-id"), messages }
}

struct Front {
    proc: Proc,
    addr: String,
    session: String,
    version: String,
}

impl Front {
    fn start(dir: &Path, policy: &Path, upstream: &str) -> Front {
        Front::start_with(dir, policy, upstream, &[])
    }

    fn listen(dir: &Path, policy: &Path, upstream: &str, extra: &[&str]) -> (Proc, String) {
        let proc = Proc::spawn(
            Command::new(GAUNTLET)
                .arg("proxy")
                .arg(policy)
                .args(["--upstream", upstream, "--listen", "127.0.0.1:0"])
                .arg("--state-dir")
                .arg(dir.join("state"))
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
        );
        let addr = proc.address_after("listening on http://");
        (proc, addr)
    }

    fn start_with(dir: &Path, policy: &Path, upstream: &str, extra: &[&str]) -> Front {
        let (proc, addr) = Front::listen(dir, policy, upstream, extra);
        let init = post(&addr, None, None, INIT);
        assert_eq!(init.status, 200, "{:?}", init.messages);
        let session = init.session.expect("initialize returns an Mcp-Session-Id");
        assert_eq!(init.messages.len(), 1, "{:?}", init.messages);
        let result: serde_json::Value = serde_json::from_str(&init.messages[0]).unwrap();
        let version = result["result"]["protocolVersion"].as_str().expect("a negotiated version").to_string();
        let done = post(&addr, Some(&session), Some(&version), INITIALIZED);
        assert_eq!(done.status, 202, "a notification is accepted: {:?}", done.messages);
        Front { proc, addr, session, version }
    }

    /// The single answer to one tools/call.
    fn call(&self, id: u32, tool: &str) -> String {
        let answer = post(&self.addr, Some(&self.session), Some(&self.version), &call_msg(id, tool));
        assert_eq!(answer.status, 200, "{:?}; stderr:\n{}", answer.messages, self.proc.stderr());
        assert_eq!(answer.messages.len(), 1, "{:?}", answer.messages);
        answer.messages.into_iter().next().unwrap()
    }
}

/// Compact JSON, so that answers compare regardless of the upstream's spacing.
fn compact(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text).map(|v| v.to_string()).unwrap_or_else(|_| text.to_string())
}

#[test]
fn http_front_keeps_rate_limit_counters_across_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), TWO_AN_HOUR);
    let (_mock, upstream) = mock_upstream();
    let p = Front::start(dir.path(), &policy, &upstream);

    let first = p.call(2, "list_customers");
    assert!(first.contains("cus_mock_1") && !first.contains("INTERCEPT POLICY DENIED"), "{first}");

    std::thread::sleep(Duration::from_millis(300));
    replace_policy(&policy, TWO_AN_HOUR_EDITED);
    p.proc.wait_stderr("reloaded policy");
    // The new policy is in force: its new rule denies, on a tool the limit does not count.
    assert_eq!(compact(&p.call(3, "delete_customer")), compact(&denial(3, "Denied by rule \"no deletes\"")));

    let second = p.call(4, "list_customers");
    assert!(second.contains("cus_mock_1") && !second.contains("INTERCEPT POLICY DENIED"), "the 2nd call is within the limit: {second}");
    let third = p.call(5, "list_customers");
    assert_eq!(
        compact(&third),
        compact(&denial(5, "Rate limit of 2 per hour reached. Try again later.")),
        "the count from before the reload still applies"
    );
    assert!(!p.proc.stderr().contains("rejected"), "{}", p.proc.stderr());
}

/// A call sent as soon as the policy is replaced (renamed over, as editors
/// save, or written in place) is decided under it in both HTTP modes, inside
/// the 100 ms the watcher waits for the file to settle: the proxy reads the
/// policy's pending events before deciding (a busy machine ran the watcher
/// thread seconds late, and calls in between were let through).
#[test]
fn both_http_modes_decide_a_call_sent_as_soon_as_the_policy_is_replaced_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), ALLOW);
    let (_mock, upstream) = mock_upstream();
    let front = Front::start(dir.path(), &policy, &upstream);
    let mut bridge = Bridge::start(dir.path(), &policy, &upstream);
    bridge.send(INIT);
    bridge.expect_id(1);
    bridge.send(INITIALIZED);
    let mut id = 1;
    for round in 0..2 {
        for (text, denied) in [(DENY, true), (ALLOW, false)] {
            match round {
                0 => replace_policy(&policy, text),
                _ => std::fs::write(&policy, text).unwrap(),
            }
            id += 1;
            let answers = [("front", front.call(id, "list_customers")), ("bridge", bridge.call(id, "list_customers"))];
            for (mode, answer) in answers {
                assert_eq!(answer.contains("Denied by rule"), denied, "{mode}, round {round}, the policy just written denies: {denied}: {answer}");
            }
        }
    }
}

// ---------------------------------------------------------------- Intercept's flags

/// A Streamable HTTP upstream that answers every request with an empty
/// result for its id, and keeps the head of each request it got.
fn header_recorder() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line.to_ascii_lowercase());
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen.lock().unwrap().push(head);
            let id = serde_json::from_slice::<serde_json::Value>(&body).ok().and_then(|v| v.get("id").cloned());
            let answer = match id {
                Some(id) => serde_json::json!({"jsonrpc": "2.0", "id": id, "result": {}}).to_string(),
                None => String::new(),
            };
            let status = if answer.is_empty() { "202 Accepted" } else { "200 OK" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, heads)
}

/// `--header` reaches the upstream in both HTTP modes, once;
/// `--transport http --port 0` serves the front on loopback.
#[test]
fn intercept_headers_reach_the_upstream_from_the_bridge_and_the_front() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), ALLOW);
    let (upstream, heads) = header_recorder();
    let flags = ["--upstream", &upstream, "--header", "X-Api-Key: secret-1", "--header", "X-Tenant:acme"];

    let mut bridge = Proc::spawn(
        Command::new(GAUNTLET)
            .arg("proxy")
            .arg("-c")
            .arg(&policy)
            .args(flags)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    );
    let mut stdin = bridge.child.stdin.take().unwrap();
    writeln!(stdin, "{INIT}").unwrap();
    let mut line = String::new();
    BufReader::new(bridge.child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("\"id\":1"), "{line}");
    let head = heads.lock().unwrap().pop().expect("the bridge posted upstream");
    assert!(head.contains("x-api-key: secret-1\r\n") && head.contains("x-tenant: acme\r\n"), "{head}");
    drop(stdin);
    drop(bridge);

    let front = Proc::spawn(
        Command::new(GAUNTLET)
            .arg("proxy")
            .args(["-c", policy.to_str().unwrap(), "--transport", "http", "--port", "0"])
            .args(flags)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    let addr = front.address_after("listening on http://");
    assert!(addr.starts_with("127.0.0.1:"), "--bind defaults to loopback: {addr}");
    let answer = post(&addr, None, None, INIT);
    assert_eq!((answer.status, answer.messages.len()), (200, 1), "{:?}", answer.messages);
    let head = heads.lock().unwrap().pop().expect("the front posted upstream");
    assert!(head.contains("x-api-key: secret-1\r\n") && head.contains("x-tenant: acme\r\n"), "{head}");
    assert_eq!(head.matches("x-api-key").count(), 1, "{head}");
}

// ---------------------------------------------------------------- faults and exposure

/// A Streamable HTTP upstream that accepts connections and never answers.
fn hung_upstream() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    url
}

/// An address nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/mcp")
}

/// Waits for a process to exit; its exit code.
fn exit_code_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "the proxy did not exit within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_bridge_exits_non_zero_when_its_upstream_was_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), ALLOW);
    let mut p = Bridge::start(dir.path(), &policy, &closed_port_url());
    p.send(INIT);
    let answer = p.expect_id(1);
    assert!(answer.contains("-32603") && answer.contains("unreachable"), "{answer}");
    // Each request inside a batch gets its own error too.
    p.send(&format!("[{},{}]", call_msg(2, "list_customers"), call_msg(3, "list_customers")));
    for id in [2, 3] {
        let answer = p.expect_id(id);
        assert!(answer.contains("-32603") && answer.contains("unreachable"), "{answer}");
    }
    let Bridge { mut proc, stdin, .. } = p;
    drop(stdin);
    let code = exit_code_within(&mut proc.child, WAIT);
    assert!(code.is_some_and(|c| c != 0), "exit code {code:?}; stderr:\n{}", proc.stderr());
    assert!(proc.stderr().contains("was unreachable"), "{}", proc.stderr());
}

#[test]
fn call_timeout_answers_requests_to_a_hung_upstream_over_the_bridge_and_the_front() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), ALLOW);
    let upstream = hung_upstream();
    let mut bridge = Bridge::start_with(dir.path(), &policy, &upstream, &["--call-timeout", "500ms"]);
    let sent = Instant::now();
    bridge.send(INIT);
    let answer = bridge.expect_id(1);
    assert!(answer.contains("-32603") && answer.contains("did not answer within 500 ms"), "{answer}");
    assert!(sent.elapsed() < Duration::from_secs(5));

    // Strict turns the timeout on by itself; here it is shortened to keep the test fast.
    let (front, addr) = Front::listen(dir.path(), &policy, &upstream, &["--profile", "strict", "--call-timeout", "500ms"]);
    let sent = Instant::now();
    let answer = post(&addr, None, None, INIT);
    assert_eq!(answer.status, 504, "{:?}; stderr:\n{}", answer.messages, front.stderr());
    assert!(answer.messages[0].contains(r#""id":1"#) && answer.messages[0].contains("did not answer within 500 ms"), "{:?}", answer.messages);
    assert!(sent.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_http_front_checks_host_and_reads_origin_as_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), ALLOW);
    let (_mock, upstream) = mock_upstream();
    let (_front, addr) = Front::listen(dir.path(), &policy, &upstream, &["--allow-host", "mcp.internal"]);
    let port = addr.rsplit(':').next().unwrap();
    let status = |host: &str, origin: Option<&str>| {
        let extra: Vec<String> = origin.map(|o| format!("Origin: {o}")).into_iter().collect();
        post_as(&addr, host, &extra, INIT).status
    };
    // DNS rebinding: a page on evil.com whose name now resolves to 127.0.0.1 sends no Origin.
    assert_eq!(status("evil.com", None), 403);
    assert_eq!(status(&format!("evil.com:{port}"), None), 403);
    assert_eq!(status(&format!("EVIL.com:{port}"), None), 403);
    assert_eq!(status(&format!("localhost:{port}"), None), 200);
    assert_eq!(status(&format!("LOCALHOST:{port}"), None), 200);
    assert_eq!(status(&addr, None), 200);
    assert_eq!(status("mcp.internal", None), 200, "an --allow-host name is answered");
    for origin in ["http://127.0.0.1:1@evil.com", "evil://localhost", "http://evil.com", "null"] {
        assert_eq!(status(&addr, Some(origin)), 403, "Origin {origin}");
    }
    for origin in ["http://LOCALHOST", "http://localhost:5173", "https://127.0.0.1"] {
        assert_eq!(status(&addr, Some(origin)), 200, "Origin {origin}");
    }
}

#[test]
fn a_thousand_idle_connections_do_not_starve_a_real_client() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), ALLOW);
    let (_mock, upstream) = mock_upstream();
    // The proxy runs with 1,024 descriptors, a common default.
    let mut cmd = Command::new(GAUNTLET);
    cmd.arg("proxy")
        .arg(&policy)
        .args(["--upstream", &upstream, "--listen", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: 1024, rlim_max: 1024 };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let front = Proc::spawn(&mut cmd);
    let addr = front.address_after("listening on http://");
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    let idle: Vec<TcpStream> = (0..1100).map(|_| TcpStream::connect_timeout(&sock, Duration::from_secs(5)).expect("connect")).collect();
    // Half of them start a request and never finish its headers.
    for mut s in idle.iter().step_by(2) {
        let _ = s.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    }
    let started = Instant::now();
    let answer = post(&addr, None, None, INIT);
    assert_eq!(answer.status, 200, "{:?}; stderr:\n{}", answer.messages, front.stderr());
    assert!(started.elapsed() < Duration::from_secs(5), "the real client waited {:?}", started.elapsed());
    front.wait_stderr("connections open (the limit)");
    drop(idle);
}

/// Issue 19: 256 connections that send their headers and then one byte of
/// the body now and then held every place (each had a request in progress),
/// so every new client was refused. At the cap the slowest body now gives way.
#[test]
fn slow_bodies_on_every_connection_do_not_lock_a_real_client_out() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), ALLOW);
    let (_mock, upstream) = mock_upstream();
    let (front, addr) = Front::listen(dir.path(), &policy, &upstream, &[]);
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    let head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{";
    let slow: Vec<TcpStream> = (0..256)
        .map(|_| {
            let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(5)).expect("connect");
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        let started = Instant::now();
        let answer = post(&addr, None, None, INIT);
        assert_eq!(answer.status, 200, "{:?}; stderr:\n{}", answer.messages, front.stderr());
        assert!(started.elapsed() < Duration::from_secs(5), "the real client waited {:?}", started.elapsed());
    }
    front.wait_stderr("closed the one sending its request body the longest");
    drop(slow);
}

/// Reads until the server closes the connection; how long that took, or
/// `None` if it was still open after `within`.
fn closed_after(mut s: &TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 512];
    while started.elapsed() < within {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

/// `--header-timeout`, `--body-timeout`, `--idle-timeout` and
/// `--max-connections` set the front's limits (defaults 10 s, 30 s, 120 s,
/// 256), and only the front's.
#[test]
fn the_fronts_connection_limits_are_flags() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), ALLOW);
    let (_mock, upstream) = mock_upstream();
    let limits = ["--header-timeout", "300ms", "--idle-timeout", "700ms", "--max-connections", "3", "--body-timeout", "400ms"];
    let (front, addr) = Front::listen(dir.path(), &policy, &upstream, &limits);
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    let mut unfinished = TcpStream::connect(sock).unwrap();
    unfinished.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    // A keep-alive connection that finished one request and then says nothing.
    let mut kept = TcpStream::connect(sock).unwrap();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{INIT}",
        INIT.len()
    );
    kept.write_all(request.as_bytes()).unwrap();
    let took = closed_after(&unfinished, Duration::from_secs(5)).expect("unfinished headers are cut off");
    assert!(took < Duration::from_secs(3), "header timeout 300ms, closed after {took:?}");
    let mut slow_body = TcpStream::connect(sock).unwrap();
    slow_body.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{").unwrap();
    let took = closed_after(&slow_body, Duration::from_secs(5)).expect("a body that does not arrive is cut off");
    assert!(took < Duration::from_secs(3), "body timeout 400ms, closed after {took:?}");
    let took = closed_after(&kept, Duration::from_secs(6)).expect("an idle keep-alive connection is closed");
    assert!(took < Duration::from_secs(5), "idle timeout 700ms, closed after {took:?}");
    // Four connections against a cap of three: the longest-idle is closed, and the log says so.
    let _open: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(sock).unwrap()).collect();
    front.wait_stderr("3 connections open (the limit)");
    assert_eq!(post(&addr, None, None, INIT).status, 200, "a real client still gets in");
    // Without the HTTP front they mean nothing, so they are refused.
    for flag in limits.chunks(2) {
        let out = Command::new(GAUNTLET).arg("proxy").arg(&policy).args(flag).args(["--", "true"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("is for the HTTP front"), "{flag:?}");
    }
}

/// Over the HTTP front: a slow call, and while it runs an unknown method with
/// the same id in the same session, whose error arrives first (G-18); the
/// number of calls the server executed.
fn id_reuse_over_http(profile: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), THREE_AN_HOUR);
    let server = slow_server();
    let (_mock, upstream) = mock_upstream_of(&server);
    let p = Front::start_with(dir.path(), &policy, &upstream, &["--profile", profile]);
    let mut executed = 0;
    for id in 10..16u32 {
        let (addr, session, version) = (p.addr.clone(), p.session.clone(), p.version.clone());
        let call = std::thread::spawn(move || post(&addr, Some(&session), Some(&version), &call_msg(id, "slow")));
        std::thread::sleep(Duration::from_millis(100));
        let decoy = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"no/such"}}"#);
        let refused = post(&p.addr, Some(&p.session), Some(&p.version), &decoy);
        assert!(refused.messages.iter().any(|m| m.contains("\"error\"")), "{:?}", refused.messages);
        let answer = call.join().unwrap();
        if answer.messages.iter().any(|m| m.contains("\"done\"")) {
            executed += 1;
        }
    }
    executed
}

#[test]
fn id_reuse_refunds_quota_over_the_http_front_under_intercept_only() {
    assert_eq!(id_reuse_over_http("intercept"), 6, "intercept reproduces G-18 over HTTP: 6 of 6 against 3/hour");
    assert_eq!(id_reuse_over_http("strict"), 3, "strict holds 3/hour over HTTP");
}


/// Issue 24 over the HTTP front: an agent that never lists. Each POST whose
/// call names a tool the strict proxy has no schema for asks the upstream for
/// its tool list itself (on that POST's behalf, in the agent's session) and
/// is judged against it: an undeclared field and an unlisted tool are
/// refused with -32602, a well-formed call is answered by the server.
#[test]
fn strict_over_the_http_front_checks_a_call_sent_before_any_list() {
    const SERVER: &str = "name: archive\nversion: \"1\"\ntools:\n  - name: zip\n    description: compresses a file\n    inputSchema: {type: object, required: [path], properties: {path: {type: string}}}\n    risk: write\n";
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), "version: \"1\"\ndefault: allow\ntools: {}\n");
    let server = dir.path().join("archive.yaml");
    std::fs::write(&server, SERVER).unwrap();
    let (_mock, upstream) = mock_upstream_of(&server);
    let p = Front::start_with(dir.path(), &policy, &upstream, &["--profile", "strict"]);
    let call = |id: u32, tool: &str, arguments: &str| {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#);
        post(&p.addr, Some(&p.session), Some(&p.version), &body).messages.join("\n")
    };
    let undeclared = call(2, "zip", r#"{"path":"a","gauntlet_unexpected":1}"#);
    assert!(undeclared.contains("-32602") && undeclared.contains("field `gauntlet_unexpected` is not declared in its inputSchema"), "{undeclared}");
    let unlisted = call(3, "unzip", "{}");
    assert!(unlisted.contains("-32602") && unlisted.contains("the upstream's tools/list does not list it"), "{unlisted}");
    let benign = call(4, "zip", r#"{"path":"a"}"#);
    assert!(benign.contains("zip ok") && !benign.contains("error"), "{benign}");
    assert!(!format!("{undeclared}{unlisted}{benign}").contains("gauntlet-pin-"), "the proxy's own lists are not the agent's");
}
