//! `gauntlet proxy --state-dsn redis://…`: counters shared through a real
//! `redis-server` (Debian's package; started here on a free loopback port
//! with no persistence, stopped when the test ends). The store keeps the
//! SQLite store's semantics; several proxies, stdio and HTTP, hold one limit
//! together under concurrent clients; Redis going away mid-run follows
//! `--state-fail-mode`. Without redis-server these tests are skipped with a
//! notice, or fail when GAUNTLET_REQUIRE_PEERS=1 (scripts/test.sh installs it).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gauntlet::clock::Timestamp;
use gauntlet::engine::{CounterKey, CounterStore};
use gauntlet::policy::model::Window;
use gauntlet::proxy::redis::RedisStore;
use gauntlet::proxy::sqlite::FailMode;
use gauntlet::proxy::state::{self, StateConfig};

use crate::proxy_support;
use proxy_support::{free_port, redis_server_installed, Proc};

const GAUNTLET: &str = env!("CARGO_BIN_EXE_gauntlet");
const WAIT: Duration = Duration::from_secs(20);
const INIT: &str = r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

fn payments() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mock-servers/payments.yaml")
}

fn policy(dir: &Path, limit: &str) -> PathBuf {
    let path = dir.join("policy.yaml");
    let text = format!(
        "version: \"1\"\ndefault: allow\ntools:\n  list_customers:\n    rules:\n      - name: shared limit\n        rate_limit: {limit}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A `redis-server` of our own: loopback only, no RDB or AOF files.
struct Redis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Redis {
    /// None (with a notice) when redis-server is not installed and not required.
    fn start() -> Option<Redis> {
        if !redis_server_installed() {
            return None;
        }
        let mut redis = Redis { child: None, port: free_port(), dir: tempfile::tempdir().unwrap() };
        redis.restart();
        Some(redis)
    }

    /// (Re)starts the server on its port and waits until it answers PING.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while !self.answers_ping() {
            assert!(Instant::now() < deadline, "redis-server did not answer on port {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let mut reply = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends the server a signal (`STOP`: it hangs with its socket open; `CONT`: it goes on).
    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("redis-server runs").id().to_string();
        let status = Command::new("kill").args([&format!("-{name}"), &pid]).status().unwrap();
        assert!(status.success(), "kill -{name} {pid}");
    }

    fn dsn(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn client(&self) -> redis::Connection {
        redis::Client::open(self.dsn()).unwrap().get_connection().unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A stdio proxy shared by many client threads: lines are written under a
/// lock and answers are handed to whoever waits for their id.
struct StdioProxy {
    proc: Proc,
    stdin: Mutex<Option<ChildStdin>>,
    waiting: Arc<Mutex<HashMap<String, Sender<String>>>>,
}

fn call_msg(id: &str, tool: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":"{id}","method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#)
}

impl StdioProxy {
    fn start(flags: &[&str], ledger: &Path) -> StdioProxy {
        let mut proc = Proc::spawn(
            Command::new(GAUNTLET)
                .arg("proxy")
                .args(flags)
                .args(["--no-reload", "--"])
                .arg(GAUNTLET)
                .arg("mock")
                .arg(payments())
                .arg("--ledger")
                .arg(ledger)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        );
        let stdout = proc.child.stdout.take().unwrap();
        let waiting: Arc<Mutex<HashMap<String, Sender<String>>>> = Arc::default();
        let route = waiting.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let id = serde_json::from_str::<serde_json::Value>(&line).ok().and_then(|v| v["id"].as_str().map(String::from));
                if let Some(tx) = id.and_then(|id| route.lock().unwrap().remove(&id)) {
                    let _ = tx.send(line);
                }
            }
        });
        let stdin = proc.child.stdin.take();
        let p = StdioProxy { proc, stdin: Mutex::new(stdin), waiting };
        assert!(p.request("init", INIT).contains("serverInfo"));
        p.send(INITIALIZED);
        p
    }

    fn send(&self, line: &str) {
        let mut stdin = self.stdin.lock().unwrap();
        let w = stdin.as_mut().unwrap();
        w.write_all(line.as_bytes()).unwrap();
        w.write_all(b"\n").unwrap();
        w.flush().unwrap();
    }

    fn request(&self, id: &str, line: &str) -> String {
        let (tx, rx) = mpsc::channel();
        self.waiting.lock().unwrap().insert(id.to_string(), tx);
        self.send(line);
        rx.recv_timeout(WAIT).unwrap_or_else(|_| panic!("no answer to {id}; stderr:\n{}", self.proc.stderr()))
    }

    /// Sends a call without waiting; its answer comes on the receiver.
    fn send_call(&self, id: &str, tool: &str) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel();
        self.waiting.lock().unwrap().insert(id.to_string(), tx);
        self.send(&call_msg(id, tool));
        rx
    }

    fn call(&self, id: &str, tool: &str) -> String {
        self.request(id, &call_msg(id, tool))
    }

    /// Closes the proxy's input and waits for it (and its mock) to exit.
    fn finish(mut self) {
        drop(self.stdin.lock().unwrap().take());
        let deadline = Instant::now() + WAIT;
        while self.proc.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the proxy did not exit after EOF");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One POST to the HTTP front; returns the body's JSON-RPC text and the session header.
fn post(addr: &str, session: Option<&str>, body: &str) -> (String, Option<String>) {
    let mut stream = TcpStream::connect(addr).expect("the front accepts");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut req = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-06-18\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(s) = session {
        req.push_str(&format!("Mcp-Session-Id: {s}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let session = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("mcp-session-id"))
        .map(|(_, v)| v.trim().to_string());
    // Event-stream bodies carry the message on a `data:` line; JSON bodies are the message.
    let message = body.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim).unwrap_or(body).to_string();
    (message, session)
}

/// Seconds into the current UTC minute.
fn seconds_into_minute() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() % 60
}

/// A per-minute count must not straddle a minute boundary: if less than
/// `need` seconds are left in this minute, wait for the next one.
fn wait_for_room_in_this_minute(need: u64) {
    let into = seconds_into_minute();
    if into + need >= 60 {
        std::thread::sleep(Duration::from_secs(60 - into) + Duration::from_millis(200));
    }
}

fn executed_calls(ledger: &Path) -> usize {
    std::fs::read_to_string(ledger)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["method"] == "tools/call" && e["executed"] == true)
        .count()
}

fn is_denial(answer: &str) -> bool {
    answer.contains("[INTERCEPT POLICY DENIED]")
}

#[test]
fn redis_store_keeps_the_store_semantics_and_intercepts_layout() {
    let Some(redis) = Redis::start() else { return };
    let mut s = RedisStore::connect(&redis.dsn()).unwrap();
    let key = CounterKey { key: "t.c".into(), partition: None };
    let t0 = Timestamp::parse_rfc3339("2026-03-02T11:00:05Z").unwrap();
    assert_eq!(s.reserve(&key, 2, 3, Window::Minute, t0), Ok(Some(2)));
    assert_eq!(s.reserve(&key, 2, 3, Window::Minute, t0), Ok(None), "2 + 2 > 3 is refused");
    assert_eq!(s.read(&key, t0).unwrap(), 2, "a refusal changes nothing");
    assert_eq!(s.reserve(&key, 1, 3, Window::Minute, t0), Ok(Some(3)), "the value after, as a read sees it");

    // Intercept's layout: one hash, window start as RFC 3339, length in ns, expiry of two windows.
    let mut raw = redis.client();
    let fields: HashMap<String, String> = redis::cmd("HGETALL").arg("t.c").query(&mut raw).unwrap();
    let want: HashMap<String, String> =
        [("v", "3"), ("ws", "2026-03-02T11:00:00Z"), ("wd", "60000000000")].map(|(k, v)| (k.into(), v.into())).into();
    assert_eq!(fields, want);
    let ttl: i64 = redis::cmd("PTTL").arg("t.c").query(&mut raw).unwrap();
    assert!((119_000..=120_000).contains(&ttl), "expires after two windows: {ttl} ms");

    // The next window reads 0 and reserves afresh; rollback floors at 0 and ignores windows.
    let t1 = Timestamp::parse_rfc3339("2026-03-02T11:01:00Z").unwrap();
    assert_eq!(s.read(&key, t1).unwrap(), 0);
    assert_eq!(s.reserve(&key, 3, 3, Window::Minute, t1), Ok(Some(3)));
    s.rollback(&key, 5).unwrap();
    assert_eq!(s.read(&key, t1).unwrap(), 0);
    s.rollback(&key, -2).unwrap();
    assert_eq!(s.read(&key, t1).unwrap(), 2);
    s.rollback(&CounterKey { key: "absent".into(), partition: None }, 1).unwrap();
    let exists: i64 = redis::cmd("EXISTS").arg("absent").query(&mut raw).unwrap();
    assert_eq!(exists, 0, "a rollback creates nothing");

    // Partitions and prefixes are separate counters; the engine never sees the prefix.
    let alice = CounterKey { key: "t.c".into(), partition: Some("alice".into()) };
    assert_eq!(s.reserve(&alice, 3, 3, Window::Hour, t1), Ok(Some(3)));
    let config = StateConfig { dsn: Some(redis.dsn()), prefix: "prod:".into(), ..Default::default() };
    let mut prod = state::open(&config).unwrap();
    assert_eq!(prod.reserve(&key, 3, 3, Window::Minute, t1), Ok(Some(3)));
    assert_eq!(prod.read(&key, t1).unwrap(), 3);
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut raw).unwrap();
    keys.sort();
    assert_eq!(keys, ["prod:t.c", "t.c", "t.c@alice"]);

    // Racing reservations from several connections never overshoot.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let dsn = redis.dsn();
            std::thread::spawn(move || {
                let mut s = RedisStore::connect(&dsn).unwrap();
                let k = CounterKey { key: "race".into(), partition: None };
                (0..25).filter(|_| s.reserve(&k, 1, 30, Window::Hour, t0).unwrap().is_some()).count()
            })
        })
        .collect();
    assert_eq!(handles.into_iter().map(|h| h.join().unwrap()).sum::<usize>(), 30);

    // Fail modes over a stopped server: closed errors, open allows uncounted.
    let mut closed = state::open(&StateConfig { dsn: Some(redis.dsn()), ..Default::default() }).unwrap();
    let mut open = state::open(&StateConfig { dsn: Some(redis.dsn()), fail_mode: FailMode::Open, ..Default::default() }).unwrap();
    let mut redis = redis;
    redis.stop();
    assert!(closed.read(&key, t1).is_err());
    assert!(closed.reserve(&key, 1, 3, Window::Minute, t1).is_err());
    assert_eq!(open.read(&key, t1), Ok(0));
    assert_eq!(open.reserve(&key, 100, 3, Window::Minute, t1), Ok(Some(0)));
    let refused = state::open(&StateConfig { dsn: Some(redis.dsn()), ..Default::default() }).err().unwrap();
    assert!(refused.message.contains("cannot reach Redis at `redis://127.0.0.1:"), "{}", refused.message);
}

/// The issue's acceptance test: two stdio proxies and one HTTP front, all at
/// one Redis with one prefix, against 50 concurrent clients, allow exactly
/// 30 calls of a `30/minute` limit between them.
#[test]
fn three_proxies_sharing_one_redis_hold_30_per_minute_exactly_against_50_clients() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path(), "30/minute");
    let p = policy.to_str().unwrap();
    let dsn = redis.dsn();
    let shared = ["-c", p, "--state-dsn", &dsn, "--state-prefix", "shop:"];

    let ledgers: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("ledger-{i}.jsonl"))).collect();
    let stdio: Vec<StdioProxy> = ledgers[..2].iter().map(|l| StdioProxy::start(&shared, l)).collect();
    let mock = Proc::spawn(
        Command::new(GAUNTLET)
            .arg("mock")
            .arg(payments())
            .args(["--http", "127.0.0.1:0", "--ledger"])
            .arg(&ledgers[2])
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    let upstream = format!("http://{}/mcp", mock.address_after("serving Streamable HTTP on http://"));
    let front = Proc::spawn(
        Command::new(GAUNTLET)
            .arg("proxy")
            .args(shared)
            .args(["--no-reload", "--transport", "http", "--port", "0", "--upstream", &upstream])
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    let addr = front.address_after("listening on http://");
    let (init, session) = post(&addr, None, INIT);
    assert!(init.contains("serverInfo"), "{init}");
    let session = session.expect("a session");
    post(&addr, Some(&session), INITIALIZED);

    wait_for_room_in_this_minute(15);
    let stdio = Arc::new(stdio);
    let clients = 50;
    let calls_each = 4;
    let answers: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                let (stdio, addr, session) = (stdio.clone(), addr.clone(), session.clone());
                scope.spawn(move || {
                    (0..calls_each)
                        .map(|n| {
                            let id = format!("c{client}-{n}");
                            match client % 3 {
                                2 => post(&addr, Some(&session), &call_msg(&id, "list_customers")).0,
                                which => stdio[which].call(&id, "list_customers"),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers.len(), clients * calls_each);
    let allowed: Vec<&String> = answers.iter().filter(|a| !is_denial(a)).collect();
    assert!(allowed.iter().all(|a| a.contains("cus_mock_1")), "allowed calls are the server's answers: {allowed:?}");
    let denials = answers.iter().filter(|a| a.contains("Rate limit of 30 per minute reached. Try again later.")).count();
    assert_eq!((allowed.len(), denials), (30, 170), "exactly the limit passes across the three proxies");

    let value: String = redis::cmd("HGET").arg("shop:list_customers._rate_minute").arg("v").query(&mut redis.client()).unwrap();
    assert_eq!(value, "30");
    // Every proxy took part, and the servers themselves ran exactly 30 calls.
    for proxy in Arc::into_inner(stdio).unwrap() {
        proxy.finish();
    }
    drop(front);
    drop(mock);
    let ran: Vec<usize> = ledgers.iter().map(|l| executed_calls(l)).collect();
    assert_eq!(ran.iter().sum::<usize>(), 30, "per server: {ran:?}");
}

/// Redis stopping mid-run: `open` keeps serving every call uncounted,
/// `closed` denies the counted ones (and only those); when Redis is back,
/// the proxies reconnect on their own.
#[test]
fn redis_stopping_mid_run_follows_the_fail_mode() {
    let Some(mut redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path(), "2/minute");
    let p = policy.to_str().unwrap();
    let dsn = redis.dsn();
    let open = StdioProxy::start(&["-c", p, "--state-dsn", &dsn, "--state-prefix", "open:", "--state-fail-mode", "open"], &dir.path().join("open.jsonl"));
    let closed = StdioProxy::start(&["-c", p, "--state-dsn", &dsn, "--state-prefix", "closed:"], &dir.path().join("closed.jsonl"));

    wait_for_room_in_this_minute(10);
    for (name, proxy) in [("open", &open), ("closed", &closed)] {
        assert!(!is_denial(&proxy.call(&format!("{name}-1"), "list_customers")));
        assert!(!is_denial(&proxy.call(&format!("{name}-2"), "list_customers")));
        let third = proxy.call(&format!("{name}-3"), "list_customers");
        assert!(third.contains("Rate limit of 2 per minute reached"), "{name}: the limit holds while Redis is up: {third}");
    }

    redis.stop();
    for n in 0..3 {
        let answer = open.call(&format!("open-down-{n}"), "list_customers");
        assert!(answer.contains("cus_mock_1") && !is_denial(&answer), "fail open allows: {answer}");
        let answer = closed.call(&format!("closed-down-{n}"), "list_customers");
        assert!(is_denial(&answer), "fail closed denies: {answer}");
    }
    let uncounted = closed.call("closed-other", "delete_customer");
    assert!(uncounted.contains("\"result\"") && !is_denial(&uncounted), "a call no counter governs is unaffected: {uncounted}");

    redis.restart();
    std::thread::sleep(Duration::from_millis(300));
    let back = closed.call("closed-back", "list_customers");
    assert!(!is_denial(&back), "the proxy reconnects once Redis is back (empty: no persistence): {back}");
    open.finish();
    closed.finish();
}

/// A SIGSTOPped Redis (issue 19: every call took 6 s, counted or not): a
/// call no counter governs is answered at once, a counted one within
/// `--state-timeout` by the fail mode, and the stalled decision never counts.
/// Redis's own command timeout (2 s) is above the 1 s state timeout, so the
/// answer is the decider's, not the store's.
#[test]
fn a_stopped_redis_delays_only_the_calls_it_counts_and_follows_the_fail_mode() {
    let Some(redis) = Redis::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path(), "100/minute");
    let p = policy.to_str().unwrap();
    let dsn = redis.dsn();
    let mut raw = redis.client();
    for mode in ["closed", "open"] {
        let prefix = format!("{mode}:");
        let flags = ["-c", p, "--state-dsn", &dsn, "--state-prefix", &prefix, "--state-fail-mode", mode, "--state-timeout", "1s"];
        let proxy = StdioProxy::start(&flags, &dir.path().join(format!("{mode}.jsonl")));
        wait_for_room_in_this_minute(20);
        assert!(!is_denial(&proxy.call(&format!("{mode}-before"), "list_customers")), "{mode}: Redis is up");

        redis.signal("STOP");
        let counted = proxy.send_call(&format!("{mode}-counted"), "list_customers");
        let uncounted = proxy.send_call(&format!("{mode}-uncounted"), "delete_customer");
        let answer = uncounted.recv_timeout(WAIT).expect("the uncounted call is answered");
        assert!(answer.contains("\"result\"") && !is_denial(&answer), "{mode}: a call no counter governs runs: {answer}");
        assert!(counted.try_recv().is_err(), "{mode}: the counted call sent first is still waiting for the store");
        let answer = counted.recv_timeout(WAIT).expect("the counted call is answered while Redis is stopped");
        match mode {
            "closed" => assert!(
                is_denial(&answer) && answer.contains("counter store did not answer within 1s") && answer.contains("--state-fail-mode closed"),
                "closed: refused, saying why: {answer}"
            ),
            _ => assert!(answer.contains("cus_mock_1") && !is_denial(&answer), "open: allowed: {answer}"),
        }
        redis.signal("CONT");

        // Redis back: counting resumes, and the stalled call was never counted.
        let deadline = Instant::now() + WAIT;
        let mut allowed_after = 0;
        for n in 0.. {
            let key: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut raw).unwrap();
            let value: i64 = key.first().and_then(|k| redis::cmd("HGET").arg(k).arg("v").query(&mut raw).ok()).unwrap_or(0);
            assert!(value <= 1 + allowed_after, "{mode}: the stalled call was counted: {value} after {allowed_after} allowed");
            if value == 2 {
                break;
            }
            assert!(Instant::now() < deadline, "{mode}: counting never resumed ({value})");
            let after = proxy.call(&format!("{mode}-after-{n}"), "list_customers");
            assert!(mode == "closed" || !is_denial(&after), "open never denies: {after}");
            allowed_after += i64::from(!is_denial(&after));
            std::thread::sleep(Duration::from_millis(100));
        }
        proxy.finish();
    }
}

/// A proxy refuses to start when the Redis it is given does not answer,
/// whatever the fail mode (as Intercept does).
#[test]
fn an_unreachable_redis_at_start_up_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path(), "2/minute");
    let dsn = format!("redis://127.0.0.1:{}/0", free_port());
    for mode in ["open", "closed"] {
        let out = Command::new(GAUNTLET)
            .args(["proxy", "-c", policy.to_str().unwrap(), "--state-dsn", &dsn, "--state-fail-mode", mode, "--", "cat"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("cannot reach Redis at") && stderr.contains("--state-dsn"), "{stderr}");
    }
}
