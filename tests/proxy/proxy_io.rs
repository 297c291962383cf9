//! `gauntlet proxy -- gauntlet mock …` as processes: malformed agent input
//! never kills the proxy, denials are exact bytes on stdout, the child's exit
//! status and signals pass through, audit lines go to `--audit`, and hot
//! reload swaps valid policies and rejects invalid ones; `--record`, the
//! audit log and the mock's ledger replay to the decisions the proxy made.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use crate::proxy_support;
use proxy_support::{payments, slow_server, THREE_AN_HOUR};

const GAUNTLET: &str = env!("CARGO_BIN_EXE_gauntlet");
const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;

const POLICY: &str = r#"version: "1"
default: allow
tools:
  delete_customer:
    rules:
      - name: no deletes
        action: deny
"#;

struct Proxy {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Proxy {
    fn start(dir: &Path, policy: &Path, extra: &[&str], upstream: &[&str]) -> Proxy {
        let mut args: Vec<OsString> = vec![policy.into(), "--state-dir".into(), dir.join("state").into()];
        args.extend(extra.iter().map(OsString::from));
        args.push("--".into());
        args.extend(upstream.iter().map(OsString::from));
        Proxy::launch(&args)
    }

    /// `gauntlet proxy ARGS…` with stdin and stdout piped to the test.
    fn launch(args: &[OsString]) -> Proxy {
        let mut child = Command::new(GAUNTLET)
            .arg("proxy")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gauntlet proxy starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Proxy { child, stdin, lines }
    }

    fn mock(dir: &Path, policy: &Path, extra: &[&str]) -> Proxy {
        let mock = payments();
        Proxy::start(dir, policy, extra, &[GAUNTLET, "mock", mock.to_str().unwrap()])
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// The next line whose `id` is `id` (JSON text), skipping others.
    fn expect_id(&self, id: &str) -> String {
        self.expect_containing(&format!("\"id\":{id}"))
    }

    /// The next line containing `needle`, skipping others.
    fn expect_containing(&self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no line containing `{needle}` within 20 s"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn call(&mut self, id: u32, tool: &str) -> String {
        let msg = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#);
        self.send(msg.as_bytes());
        self.expect_id(&id.to_string())
    }

    /// Closes our side and returns the proxy's exit code and stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn write_policy(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("policy.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The proxy says at start-up which profile runs and what it lets through, and how to get
/// `strict`; under `strict` a refused decoy is logged with the tool it would have run.
#[test]
fn the_profile_is_said_at_start_up_and_a_refused_decoy_names_its_tool() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), "version: \"1\"\nhide: [delete_customer]\ntools: {}\n");
    let decoy = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_customer","NAME":"list_customers","arguments":{}}}"#;
    let mut p = Proxy::mock(dir.path(), &policy, &[]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    let (_, stderr) = p.finish();
    // One paragraph: its first line and the indented lines under it, none past 100 columns (it was one line of about 480).
    let lines: Vec<&str> = stderr.lines().collect();
    let para = 1 + lines[1..].iter().take_while(|l| l.starts_with("  ")).count();
    assert!(para > 2 && lines[..para].iter().all(|l| l.chars().count() <= 100), "{stderr}");
    let first = lines[..para].iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
    assert!(first.starts_with("gauntlet proxy: profile `intercept`: Intercept's own behaviour, its gaps included"), "{stderr}");
    assert!(first.contains("can reach a hidden or denied tool") && first.contains("`--profile strict` closes these gaps"), "{stderr}");

    let mut p = Proxy::mock(dir.path(), &policy, &["--profile", "strict"]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    p.send(decoy);
    let refused = p.expect_id("7");
    assert!(refused.contains("-32602"), "{refused}");
    let (_, stderr) = p.finish();
    assert!(stderr.starts_with("gauntlet proxy: profile `strict`: Intercept's decisions on well-formed calls, every gap closed"), "{stderr}");
    assert!(stderr.contains("gauntlet proxy: refused `delete_customer`: invalid params: member `name` appears 2 times"), "{stderr}");
    assert!(!stderr.contains("refused ``"), "{stderr}");
}

#[test]
fn malformed_agent_input_never_kills_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let mut p = Proxy::mock(dir.path(), &policy, &["--max-line-bytes", "1048576"]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    p.send(b"this is not json");
    p.send(br#"[{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","id":3,"method":"ping"}]"#);
    p.send(br#"{"jsonrpc":"2.0","id":4,"method":"no/such/method"}"#);
    p.send(br#"{"jsonrpc":"2.0","id":5}"#);
    p.send(b"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\xfe\"}}");
    p.send(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_customers","NAME":0}}"#);
    let mut huge = br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_customers","arguments":{"q":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 2 << 20));
    huge.extend_from_slice(br#""}}}"#);
    p.send(&huge);
    // The over-long line is answered by the proxy itself and never forwarded.
    let refused = p.expect_containing("exceeds the proxy's limit");
    assert_eq!(
        refused,
        format!(r#"{{"error":{{"code":-32600,"message":"message of {} bytes exceeds the proxy's limit of 1048576 bytes"}},"id":null,"jsonrpc":"2.0"}}"#, huge.len())
    );
    // After all of that, a normal call still goes through, and a denial is still exact.
    let answer = p.call(99, "list_customers");
    assert!(answer.contains("cus_mock_1"), "{answer}");
    let denial = p.call(100, "delete_customer");
    assert_eq!(
        denial,
        r#"{"jsonrpc":"2.0","id":100,"result":{"content":[{"type":"text","text":"[INTERCEPT POLICY DENIED] Denied by rule \"no deletes\""}],"isError":true}}"#
    );
    let (code, stderr) = p.finish();
    assert_eq!(code, Some(0), "the mock exits 0 on EOF and the proxy reports its status; stderr: {stderr}");
}

#[test]
fn exit_status_is_the_childs() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let p = Proxy::start(dir.path(), &policy, &[], &["sh", "-c", "exit 7"]);
    assert_eq!(p.finish().0, Some(7));
}

#[test]
fn sigterm_is_forwarded_and_the_status_is_128_plus_signal() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    // The proxy catches signals before it starts its child: once the child
    // runs, SIGTERM is the proxy's to forward (a fixed sleep raced a slow start).
    let pidfile = dir.path().join("child.pid");
    let script = format!("echo $$ > '{}'; exec sleep 30", pidfile.display());
    let p = Proxy::start(dir.path(), &policy, &[], &["sh", "-c", &script]);
    read_pid(&pidfile);
    let started = std::time::Instant::now();
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(p.child.id() as i32, libc::SIGTERM);
    }
    let (code, stderr) = p.finish();
    assert_eq!(code, Some(128 + libc::SIGTERM), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "the child was not signalled: the proxy waited for `sleep 30`");
}

#[test]
fn audit_records_go_to_the_audit_file_never_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let audit = dir.path().join("audit.jsonl");
    let mut p = Proxy::mock(dir.path(), &policy, &["--audit", audit.to_str().unwrap()]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    p.call(2, "list_customers");
    p.call(3, "delete_customer");
    p.finish();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!((lines[0]["tool"].as_str(), lines[0]["result"].as_str()), (Some("list_customers"), Some("allowed")));
    assert_eq!((lines[1]["tool"].as_str(), lines[1]["result"].as_str()), (Some("delete_customer"), Some("denied")));
    assert_eq!(lines[1]["rule"], "no deletes");
    assert_eq!(lines[0]["session"], lines[1]["session"], "one session per stdio process");
}

/// Polls until `tool` gets an answer containing `want` (reload is asynchronous).
fn wait_for_answer(p: &mut Proxy, next_id: &mut u32, tool: &str, want: &str) -> String {
    for _ in 0..50 {
        *next_id += 1;
        let answer = p.call(*next_id, tool);
        if answer.contains(want) {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("`{tool}` never answered with `{want}`");
}

#[test]
fn hot_reload_applies_valid_policies_and_keeps_the_old_one_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let mut p = Proxy::mock(dir.path(), &policy, &[]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    let mut id = 1;
    assert!(p.call(2, "list_customers").contains("cus_mock_1"));
    // Give the watcher a moment to be in place before the first change.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&policy, POLICY.replace("delete_customer", "list_customers")).unwrap();
    wait_for_answer(&mut p, &mut id, "list_customers", "Denied by rule");
    std::fs::write(&policy, "version: \"2\"\ntools: {}\n").unwrap();
    std::thread::sleep(Duration::from_millis(800));
    id += 1;
    let still = p.call(id, "list_customers");
    assert!(still.contains("Denied by rule \\\"no deletes\\\""), "an invalid file must leave the old policy in force: {still}");
    let (_, stderr) = p.finish();
    assert!(stderr.contains("reloaded policy"), "{stderr}");
    assert!(stderr.contains("rejected the changed policy"), "{stderr}");
    assert!(stderr.contains("version must be"), "the validation message is shown: {stderr}");
}

/// Under load the proxy's watcher thread ran seconds late, and calls sent
/// 10 s after a tightened policy was written and closed reached the server
/// (`policy-tightened` failed open). A call sent once the writer closed the
/// file is now decided under it: here each is sent at once, well inside
/// the 100 ms the watcher waits for the file to settle, which the old proxy
/// decided under the previous version every time. A call while a writer
/// pauses mid-file is still decided under the version in force.
#[test]
fn a_call_sent_as_soon_as_the_policy_is_written_is_decided_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let mut p = Proxy::mock(dir.path(), &policy, &[]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    let tightened = POLICY.replace("delete_customer", "list_customers");
    let mut id = 1;
    for round in 0..3 {
        id += 1;
        assert!(p.call(id, "list_customers").contains("cus_mock_1"), "round {round}: the first policy is in force");
        std::fs::write(&policy, &tightened).unwrap();
        id += 1;
        let answer = p.call(id, "list_customers");
        assert!(answer.contains("Denied by rule"), "round {round}: a call after the tightened policy was closed was let through: {answer}");
        let mut file = std::fs::File::create(&policy).unwrap();
        file.write_all(POLICY.as_bytes()).unwrap();
        file.flush().unwrap();
        id += 1;
        let answer = p.call(id, "list_customers");
        assert!(answer.contains("Denied by rule"), "round {round}: mid-write, the tightened policy stays in force: {answer}");
        drop(file);
    }
    id += 1;
    assert!(p.call(id, "list_customers").contains("cus_mock_1"), "the first policy, closed again, is in force");
    let (_, stderr) = p.finish();
    assert_eq!(stderr.matches("reloaded policy").count(), 6, "{stderr}");
}

/// Issue 19: the reload waited for 100 ms without any event in the policy's
/// directory, so a log written beside the policy postponed a tightened policy
/// for as long as it was written. Only the policy's own events count now.
#[test]
fn writes_beside_the_policy_do_not_postpone_its_reload() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let mut p = Proxy::mock(dir.path(), &policy, &[]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    std::thread::sleep(Duration::from_millis(300));
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let beside = dir.path().join("audit.jsonl");
    let writing = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut writes = 0;
        while !writing.load(Ordering::SeqCst) {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&beside).unwrap();
            writeln!(f, "{{\"n\":{writes}}}").unwrap();
            writes += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        writes
    });
    std::thread::sleep(Duration::from_millis(100));
    std::fs::write(&policy, POLICY.replace("delete_customer", "list_customers")).unwrap();
    let mut id = 1;
    // The writer beside it is still going: this is the reload happening during it.
    wait_for_answer(&mut p, &mut id, "list_customers", "Denied by rule");
    stop.store(true, Ordering::SeqCst);
    let writes = writer.join().unwrap();
    let (_, stderr) = p.finish();
    assert_eq!(stderr.matches("reloaded policy").count(), 1, "{writes} writes beside: {stderr}");
}

/// Issue 19: a Kubernetes ConfigMap volume publishes a version by renaming a
/// new `..data` link into place; the policy's own name (a link to
/// `..data/policy.yaml`) never sees an event, so a tightened policy was
/// never loaded. The swap is done here as the kubelet does it.
#[test]
fn a_configmap_style_link_swap_reloads_the_policy() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (v1, v2) = ("..2026_12_07_00_00_00.1", "..2026_12_07_00_01_00.2");
    std::fs::create_dir(d.join(v1)).unwrap();
    write_policy(&d.join(v1), POLICY);
    symlink(v1, d.join("..data")).unwrap();
    symlink("..data/policy.yaml", d.join("policy.yaml")).unwrap();
    let mut p = Proxy::mock(d, &d.join("policy.yaml"), &[]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    assert!(p.call(2, "list_customers").contains("cus_mock_1"));
    std::thread::sleep(Duration::from_millis(300));
    std::fs::create_dir(d.join(v2)).unwrap();
    write_policy(&d.join(v2), &POLICY.replace("delete_customer", "list_customers"));
    symlink(v2, d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    std::fs::remove_dir_all(d.join(v1)).unwrap();
    let mut id = 2;
    wait_for_answer(&mut p, &mut id, "list_customers", "Denied by rule");
    let (_, stderr) = p.finish();
    assert_eq!(stderr.matches("reloaded policy").count(), 1, "{stderr}");
    assert!(!stderr.contains("removed"), "the old version's directory going away is not the policy going away: {stderr}");
}

/// Issue 19: a writer pausing mid-file had its first half loaded and
/// enforced. Here the first half is itself a valid policy, one that allows
/// `delete_customer`; during the pause the policy in force must stay the old
/// one, and only the whole new file is ever loaded.
#[test]
fn a_writer_pausing_mid_file_never_gets_its_first_half_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let mut p = Proxy::mock(dir.path(), &policy, &[]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    std::thread::sleep(Duration::from_millis(300));
    let half = "version: \"1\"\ndefault: allow\ntools:\n  list_customers:\n    rules:\n      - name: no lists\n        action: deny\n";
    let rest = "  delete_customer:\n    rules:\n      - name: no deletes\n        action: deny\n";
    let mut file = std::fs::File::create(&policy).unwrap();
    file.write_all(half.as_bytes()).unwrap();
    file.flush().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let during = p.call(2, "delete_customer");
    assert!(during.contains("Denied by rule"), "mid-write, the half that allows deletes is in force: {during}");
    std::thread::sleep(Duration::from_millis(100));
    file.write_all(rest.as_bytes()).unwrap();
    drop(file);
    let mut id = 2;
    wait_for_answer(&mut p, &mut id, "list_customers", "Denied by rule");
    id += 1;
    assert!(p.call(id, "delete_customer").contains("Denied by rule"));
    let (_, stderr) = p.finish();
    let whole = format!("reloaded policy `{}` ({} bytes)", policy.display(), half.len() + rest.len());
    assert_eq!(stderr.matches("reloaded policy").count(), 1, "{stderr}");
    assert!(stderr.contains(&whole), "{stderr}");
}

/// Issue 19: an upstream that closed its stdout but kept running was not
/// noticed: requests went unanswered (no `--call-timeout` under
/// `intercept`), and the proxy stayed up after the agent hung up.
#[test]
fn an_upstream_that_closes_its_stdout_but_keeps_running_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    // Answers the first request, closes its stdout, and lives on (ignoring stdin's end too).
    let script = r#"read line; echo '{"jsonrpc":"2.0","id":1,"result":{}}'; exec 1>&-; trap '' HUP; while :; do sleep 1; done"#;
    let mut p = Proxy::start(dir.path(), &policy, &[], &["sh", "-c", script]);
    p.send(INIT.as_bytes());
    assert!(p.expect_id("1").contains("result"));
    let started = std::time::Instant::now();
    let answer = p.call(2, "list_customers");
    assert!(answer.contains("-32603") && answer.contains("closed its output"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
    let hung_up = std::time::Instant::now();
    let (code, stderr) = p.finish();
    assert!(hung_up.elapsed() < Duration::from_secs(10), "the proxy took {:?} to exit after the agent hung up", hung_up.elapsed());
    assert_eq!(code, Some(128 + 15), "the upstream was stopped with SIGTERM: {stderr}");
    assert!(stderr.contains("closed its stdout but is still running"), "{stderr}");
}

/// Issue 19: an upstream answer over the 64 MiB line limit was dropped and
/// its request never answered.
#[test]
fn an_answer_too_large_to_pass_on_is_answered_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let script = r#"
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    pad = "x" * (65 << 20) if msg["id"] == 2 else ""
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"pad": pad}}, separators=(",", ":")) + "\n")
    sys.stdout.flush()
"#;
    let mut p = Proxy::start(dir.path(), &policy, &[], &["python3", "-c", script]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    let answer = p.call(2, "list_customers");
    assert!(answer.contains("-32603") && answer.contains("over the proxy's limit"), "{}", &answer[..answer.len().min(300)]);
    assert!(answer.len() < 1000, "the answer is the error, not the oversized line");
    assert!(p.call(3, "list_customers").contains("\"result\""), "the session goes on");
    p.finish();
}

#[test]
fn a_flood_through_a_blocking_upstream_does_not_deadlock() {
    // `cat` blocks writing to us while we write to it: the proxy must keep
    // draining the upstream while its write to the upstream is blocked.
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let mut p = Proxy::start(dir.path(), &policy, &[], &["cat"]);
    let pad = "x".repeat(16 * 1024);
    let count = 1500;
    let mut stdin = p.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for id in 0..count {
            let line = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping","params":{{"pad":"{pad}"}}}}"#);
            stdin.write_all(line.as_bytes()).unwrap();
            stdin.write_all(b"\n").unwrap();
        }
        stdin
    });
    for _ in 0..count {
        let line = p.lines.recv_timeout(Duration::from_secs(20)).expect("the proxy stalled");
        assert!(line.contains("\"method\":\"ping\""));
    }
    drop(writer.join().unwrap());
    assert_eq!(p.finish().0, Some(0));
}

/// Intercept's command line, word for word: `-c FILE`, its state and log
/// flags, and the server after `--`.
#[test]
fn intercepts_command_line_runs_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let mock = payments();
    let args: Vec<OsString> = vec![
        "-c".into(),
        policy.clone().into(),
        "--state-dir".into(),
        dir.path().join("state").into(),
        "--state-prefix".into(),
        "prod:".into(),
        "--state-fail-mode".into(),
        "closed".into(),
        "--log-level".into(),
        "debug".into(),
        "--".into(),
        GAUNTLET.into(),
        "mock".into(),
        mock.into(),
    ];
    let mut p = Proxy::launch(&args);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    assert!(p.call(2, "list_customers").contains("cus_mock_1"));
    assert_eq!(
        p.call(3, "delete_customer"),
        r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"[INTERCEPT POLICY DENIED] Denied by rule \"no deletes\""}],"isError":true}}"#
    );
    let (code, stderr) = p.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("allowed `list_customers`"), "debug logs allowed calls: {stderr}");
    assert!(stderr.contains("denied `delete_customer`"), "{stderr}");

    // `--log-level error` keeps stderr free of notices and denial lines.
    let args: Vec<OsString> = vec!["--config".into(), policy.into(), "--log-level".into(), "error".into(), "--state-dir".into(), dir.path().join("state").into(), "--".into(), GAUNTLET.into(), "mock".into(), payments().into()];
    let mut p = Proxy::launch(&args);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    assert!(p.call(2, "delete_customer").contains("POLICY DENIED"));
    let (code, stderr) = p.finish();
    assert_eq!(code, Some(0));
    assert!(!stderr.contains("gauntlet proxy:"), "nothing below error level: {stderr}");
}

/// Flag combinations Intercept refuses are refused before anything starts,
/// with a reason; the policy is required in one of its two spellings.
#[test]
fn intercept_flag_misuse_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let p = policy.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(GAUNTLET).arg("proxy").args(args).stdin(Stdio::null()).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let cases: &[(&[&str], &str)] = &[
        (&["-c", p, "--port", "8080", "--", "cat"], "--bind and --port require --transport http"),
        (&["-c", p, "--header", "X-Key: 1", "--", "cat"], "--header requires --upstream"),
        (&["-c", p, "--transport", "http", "--", "cat"], "--transport http requires --upstream URL"),
        (&["-c", p, "--transport", "http", "--upstream", "http://127.0.0.1:9/mcp", "--", "cat"], "cannot be used with --transport http"),
        (&["-c", p, "--transport", "sse", "--upstream", "http://127.0.0.1:9/sse"], "legacy HTTP+SSE upstream) is not supported"),
        (&["-c", p, "--upstream", "http://127.0.0.1:9/mcp", "--header", "no colon"], "invalid header `no colon`"),
        (&["-c", p, "--state-dir", "x", "--state-dsn", "redis://127.0.0.1:9", "--", "cat"], "cannot be used with"),
        (&[p, "-c", p, "--", "cat"], "cannot be used with"),
        (&["--", "cat"], "required"),
    ];
    for (args, want) in cases {
        let (code, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?} should say `{want}`: {stderr}");
    }
}

/// Sends `pairs` calls to `slow`, each followed at once by `no/such` with the same id
/// (G-18), and returns how many calls the server answered with its result.
fn id_reuse_pairs(profile: &str, pairs: u32) -> (usize, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), THREE_AN_HOUR);
    let server = slow_server();
    let mut p = Proxy::start(dir.path(), &policy, &["--profile", profile], &[GAUNTLET, "mock", server.to_str().unwrap()]);
    p.send(INIT.as_bytes());
    p.expect_id("1");
    let mut lines = Vec::new();
    for id in 10..10 + pairs {
        let call = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"slow","arguments":{{}}}}}}"#);
        let decoy = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"no/such"}}"#);
        p.send(format!("{call}\n{decoy}").as_bytes());
        // Both answers (the decoy's error and the call's result or denial) before the next pair.
        let mut got = 0;
        while got < 2 {
            let line = p.lines.recv_timeout(Duration::from_secs(20)).expect("an answer");
            if line.contains(&format!("\"id\":{id}")) {
                got += 1;
                lines.push(line);
            }
        }
    }
    let executed = lines.iter().filter(|l| l.contains("\"done\"")).count();
    assert_eq!(p.finish().0, Some(0));
    (executed, lines)
}

#[test]
fn id_reuse_refunds_quota_under_intercept_and_not_under_strict() {
    let (executed, _) = id_reuse_pairs("intercept", 6);
    assert_eq!(executed, 6, "intercept reproduces G-18: every call executes against 3/hour");
    let (executed, lines) = id_reuse_pairs("strict", 6);
    assert_eq!(executed, 3, "strict holds 3/hour: {lines:#?}");
    // Each decoy that came while its id's call was being decided or run is
    // refused; after a denial the id is free again, so a decoy read after the
    // denial is the server's to answer (which comes first is the threads' race).
    for id in 10..16 {
        let of_id: Vec<&String> = lines.iter().filter(|l| l.contains(&format!("\"id\":{id},"))).collect();
        if of_id.iter().any(|l| l.contains("\"done\"")) {
            assert!(of_id.iter().any(|l| l.contains("already in use")), "the decoy of executed call {id} was refused: {lines:#?}");
        }
    }
}

/// Pipelines `calls` tool calls (ids 0…) into the proxy from a thread of their own.
fn flood(p: &mut Proxy, calls: u32) {
    let mut stdin = p.stdin.take().unwrap();
    std::thread::spawn(move || {
        for id in 0..calls {
            let line = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"list_customers","arguments":{{}}}}}}"#);
            if stdin.write_all(line.as_bytes()).and_then(|_| stdin.write_all(b"\n")).is_err() {
                break;
            }
        }
    });
}

/// Backpressure: an upstream that reads but does not answer gets at most
/// the proxy's in-flight window of requests (1024); the rest of a pipelined
/// flood waits in the agent's pipe, not in the proxy's memory.
#[test]
fn a_pipelined_flood_is_held_back_at_the_in_flight_window() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let received = dir.path().join("received.jsonl");
    // Reads everything it is sent and answers nothing.
    let script = format!("cat > '{}'", received.display());
    let mut p = Proxy::start(dir.path(), &policy, &[], &["sh", "-c", &script]);
    flood(&mut p, 5000);
    let forwarded = || std::fs::read(&received).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
    // Wait for the window to fill, however slowly this machine starts processes.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while forwarded() < 1024 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(forwarded(), 1024, "the window did not fill, or more than it reached the upstream");
    // Well inside the proxy's 2 s stall allowance, after which it reads on by design.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(forwarded(), 1024, "requests past the in-flight window reached the upstream");
    let _ = p.child.kill();
    let _ = p.child.wait();
}

/// Once the window is full, answers that leave most of it still in flight
/// do not let the agent side read on (waking it per answer cost a pipelined
/// flood two context switches per call); answers that bring it below three
/// quarters of the window do.
#[test]
fn a_full_window_reopens_below_three_quarters_not_per_answer() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let (first, rest, go) = (dir.path().join("first"), dir.path().join("rest"), dir.path().join("go"));
    // Takes the first 1024 requests, answers 100 (924 left in flight), then,
    // once told, 200 more (724 left), keeping whatever else arrives in `rest`
    // (a background job's stdin is /dev/null unless redirected explicitly).
    let answer = r#"echo "{\"jsonrpc\":\"2.0\",\"id\":$i,\"result\":{\"content\":[]}}"; i=$((i+1))"#;
    let script = format!(
        "head -n 1024 > '{first}'; exec 3<&0; cat <&3 > '{rest}' & i=0; while [ $i -lt 100 ]; do {answer}; done; \
         while [ ! -e '{go}' ]; do sleep 0.05; done; while [ $i -lt 300 ]; do {answer}; done; wait",
        first = first.display(),
        rest = rest.display(),
        go = go.display(),
    );
    let mut p = Proxy::start(dir.path(), &policy, &[], &["sh", "-c", &script]);
    flood(&mut p, 5000);
    let lines_in = |path: &Path| std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
    let answers = |p: &Proxy, n: usize| {
        for k in 0..n {
            p.lines.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("answer {k} of {n} never came"));
        }
    };
    answers(&p, 100);
    assert_eq!(lines_in(&first), 1024);
    // Well inside the 2 s the proxy waits for progress before it reads on anyway.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines_in(&rest), 0, "the agent side read on with 924 of 1024 requests in flight");
    std::fs::write(&go, "").unwrap();
    answers(&p, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while lines_in(&rest) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(lines_in(&rest) > 0, "the agent side never read on with 724 requests in flight");
    let _ = p.child.kill();
    let _ = p.child.wait();
}

fn signal(p: &Proxy, sig: i32) {
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(p.child.id() as i32, sig);
    }
}

/// True once no process has this pid (it was killed and reaped).
fn gone_within(pid: i32, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        // SAFETY: signal 0 only checks whether the process exists.
        if unsafe { libc::kill(pid, 0) } != 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn read_pid(path: &Path) -> i32 {
    for _ in 0..250 {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the upstream never wrote {}", path.display());
}

#[test]
fn signals_end_the_proxy_within_seconds_and_take_the_upstreams_group_along() {
    for (script, sig) in [
        // The child exits at once; a grandchild keeps its stdout open for 30 s.
        ("sleep 30 & echo $! > {pid}; exit 0", libc::SIGTERM),
        ("sleep 30 & echo $! > {pid}; exit 0", libc::SIGINT),
        // The whole group ignores SIGTERM.
        ("trap '' TERM; sleep 30 & echo $! > {pid}; wait", libc::SIGTERM),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let policy = write_policy(dir.path(), POLICY);
        let pidfile = dir.path().join("grandchild.pid");
        let script = script.replace("{pid}", pidfile.to_str().unwrap());
        let p = Proxy::start(dir.path(), &policy, &[], &["sh", "-c", &script]);
        let grandchild = read_pid(&pidfile);
        let started = std::time::Instant::now();
        signal(&p, sig);
        let (code, stderr) = p.finish();
        let took = started.elapsed();
        // Nominally at most 3.5 s (GRACE, then TERM and KILL steps); the bound
        // leaves room for a loaded machine and is still far below `sleep 30`.
        assert!(took < Duration::from_secs(10), "`{script}`: the proxy took {took:?} to exit after signal {sig}; stderr: {stderr}");
        assert!(code.is_some(), "{stderr}");
        assert!(gone_within(grandchild, Duration::from_secs(5)), "`{script}`: the upstream's `sleep 30` was left running");
    }
}

#[test]
fn requests_in_flight_get_an_error_when_the_upstream_exits() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    // Reads two requests, answers neither, exits.
    let mut p = Proxy::start(dir.path(), &policy, &[], &["sh", "-c", "read a; read b; exit 3"]);
    p.send(br#"{"jsonrpc":"2.0","id":"x","method":"ping"}"#);
    p.send(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_customers","arguments":{}}}"#);
    let first = p.expect_containing(r#""id":"x""#);
    let second = p.expect_containing(r#""id":7"#);
    for answer in [&first, &second] {
        assert!(answer.contains("-32603") && answer.contains("the upstream exited before answering"), "{answer}");
    }
    assert_eq!(p.finish().0, Some(3));
    // The same inside a batch, which `intercept` forwards to a child as it is.
    let mut p = Proxy::start(dir.path(), &policy, &[], &["sh", "-c", "read a; exit 3"]);
    p.send(br#"[{"jsonrpc":"2.0","id":"y","method":"ping"},{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_customers","arguments":{}}}]"#);
    for id in [r#""id":"y""#, r#""id":8"#] {
        let answer = p.expect_containing(id);
        assert!(answer.contains("-32603") && answer.contains("the upstream exited before answering"), "{answer}");
    }
    assert_eq!(p.finish().0, Some(3));
}

#[test]
fn call_timeout_answers_a_hung_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    // Reads everything, answers nothing.
    let mut p = Proxy::start(dir.path(), &policy, &["--call-timeout", "300ms"], &["sh", "-c", "cat > /dev/null"]);
    let sent = std::time::Instant::now();
    p.send(br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"list_customers","arguments":{}}}"#);
    let answer = p.expect_containing(r#""id":5"#);
    assert!(answer.contains("-32603") && answer.contains("did not answer within 300 ms"), "{answer}");
    assert!(sent.elapsed() < Duration::from_secs(5), "{:?}", sent.elapsed());
    let (code, stderr) = p.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("--call-timeout"), "the timeout is logged: {stderr}");
}

fn replay_lines(policy: &Path, trace: &Path) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let out = Command::new(GAUNTLET).arg("replay").arg(policy).arg(trace).output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (out.status.code(), lines, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn recorded_traffic_ledger_and_audit_replay_to_the_decisions_the_proxy_made() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), POLICY);
    let (audit, record, ledger) = (dir.path().join("audit.jsonl"), dir.path().join("traffic.jsonl"), dir.path().join("ledger.jsonl"));
    let mock = payments();
    let mut p = Proxy::start(
        dir.path(),
        &policy,
        &["--audit", audit.to_str().unwrap(), "--record", record.to_str().unwrap()],
        &[GAUNTLET, "mock", mock.to_str().unwrap(), "--ledger", ledger.to_str().unwrap()],
    );
    p.send(INIT.as_bytes());
    p.expect_id("1");
    p.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    p.send(br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_customers","arguments":{"limit":3}}}"#);
    p.expect_id("2");
    p.call(3, "delete_customer");
    p.call(4, "no_such_tool");
    p.send(br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"list_customers","arguments":{},"extra":1}}"#);
    p.expect_id("5");
    let (code, stderr) = p.finish();
    assert_eq!(code, Some(0), "{stderr}");

    let recorded: Vec<serde_json::Value> =
        std::fs::read_to_string(&record).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let shape: Vec<(&str, Option<&str>)> =
        recorded.iter().map(|l| (l["tool"].as_str().unwrap(), l["upstream"].as_str())).collect();
    assert_eq!(
        shape,
        [("list_customers", Some("ok")), ("delete_customer", None), ("no_such_tool", Some("is_error")), ("list_customers", Some("jsonrpc_error"))],
        "{recorded:?}"
    );
    // The arguments as the policy saw them (numbers as doubles, as in Intercept).
    assert_eq!(recorded[0]["arguments"]["limit"].as_f64(), Some(3.0));
    assert!(recorded[0]["session"].is_string() && recorded[0]["at"].is_string());

    let decisions = |lines: &[serde_json::Value]| -> Vec<(String, String)> {
        lines.iter().map(|l| (l["tool"].as_str().unwrap().to_string(), l["decision"].as_str().unwrap().to_string())).collect()
    };
    let proxy_made: Vec<(String, String)> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|a| (a["tool"].as_str().unwrap().to_string(), a["result"].as_str().unwrap().replace("allowed", "allow").replace("denied", "deny")))
        .collect();
    let (code, from_record, stderr) = replay_lines(&policy, &record);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(decisions(&from_record), proxy_made);
    let (code, from_audit, stderr) = replay_lines(&policy, &audit);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(decisions(&from_audit), proxy_made);
    assert!(stderr.contains("only a hash of the arguments"), "{stderr}");
    // The ledger holds what reached the server: the three forwarded calls, nothing denied.
    let (code, from_ledger, stderr) = replay_lines(&policy, &ledger);
    assert_eq!(code, Some(0), "{stderr}");
    let forwarded: Vec<(String, String)> = proxy_made.into_iter().filter(|(_, d)| d == "allow").collect();
    assert_eq!(decisions(&from_ledger), forwarded);
}

/// `bench proxy`'s bare relay (the same-run measure of the extra hop) passes
/// every byte both ways, pipelined, and ends when the agent hangs up.
#[test]
fn the_bench_relay_passes_lines_through_unchanged() {
    let mut relay = Command::new(GAUNTLET)
        .args(["bench", "relay", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let sent: String = (0..2000).map(|i| format!("{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"ping\"}}\n")).collect();
    let mut stdin = relay.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(sent.as_bytes()).map(|_| sent));
    let out = relay.wait_with_output().unwrap();
    let sent = writer.join().unwrap().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), sent);
}

/// A server whose `zip` takes a required `path` and an optional bounded `count`.
const ARCHIVE: &str = r#"name: archive
version: "1"
tools:
  - name: zip
    description: compresses a file
    inputSchema:
      type: object
      required: [path]
      properties:
        path: {type: string}
        count: {type: integer, minimum: 1, maximum: 10}
    risk: write
"#;

/// Under `strict` a call's arguments must fit the `inputSchema` the upstream
/// listed: a malformed optional field and a field the schema never declares
/// are refused with `-32602` and never reach the server (Intercept's
/// conditions cannot guard either); the same call with the optional field
/// left out goes through. Under `intercept` all three reach it.
#[test]
fn strict_holds_optional_and_undeclared_fields_to_the_listed_schema() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), "version: \"1\"\ndefault: allow\ntools: {}\n");
    let server = dir.path().join("archive.yaml");
    std::fs::write(&server, ARCHIVE).unwrap();
    for profile in ["strict", "intercept"] {
        let ledger = dir.path().join(format!("ledger-{profile}.jsonl"));
        let mut p = Proxy::start(
            dir.path(),
            &policy,
            &["--profile", profile],
            &[GAUNTLET, "mock", server.to_str().unwrap(), "--ledger", ledger.to_str().unwrap()],
        );
        p.send(INIT.as_bytes());
        p.expect_id("1");
        p.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        p.send(br#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
        p.expect_id("2");
        p.send(br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"zip","arguments":{"path":"a.txt","count":"1e9"}}}"#);
        let malformed = p.expect_id("3");
        p.send(br#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"zip","arguments":{"path":"a.txt","gauntlet_unexpected":"x"}}}"#);
        let undeclared = p.expect_id("4");
        p.send(br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"zip","arguments":{"path":"a.txt"}}}"#);
        let benign = p.expect_id("5");
        let (code, stderr) = p.finish();
        assert_eq!(code, Some(0), "{stderr}");
        let reached: Vec<serde_json::Value> = std::fs::read_to_string(&ledger)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|e| e["method"] == "tools/call")
            .map(|e| e["arguments"].clone())
            .collect();
        assert!(benign.contains("\"result\"") && !benign.contains("\"error\""), "{profile}: {benign}");
        if profile == "intercept" {
            assert_eq!(reached.len(), 3, "{reached:?}");
            continue;
        }
        assert!(malformed.contains("-32602") && malformed.contains("field `count` does not match its inputSchema"), "{malformed}");
        assert!(undeclared.contains("-32602") && undeclared.contains("field `gauntlet_unexpected` is not declared in its inputSchema"), "{undeclared}");
        assert_eq!(reached, [serde_json::json!({"path": "a.txt"})], "only the benign call reaches the server");
        assert!(stderr.contains("gauntlet proxy: refused `zip`: invalid params: tool \"zip\" refused: field `count`"), "{stderr}");
    }
}

/// Issue 24 (a proxy that validates against a cached schema passes calls made
/// before anything was cached): an agent that never lists. Each call of a
/// tool the strict proxy has no schema for waits for the proxy's own
/// `tools/list` and is judged against it, so the undeclared and the
/// malformed field are refused, a tool the server does not list is refused,
/// and only the well-formed call reaches the server. Before, all three calls
/// of `zip` reached it unchecked.
#[test]
fn strict_checks_calls_sent_before_any_list_against_a_list_it_asks_for_itself() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), "version: \"1\"\ndefault: allow\ntools: {}\n");
    let server = dir.path().join("archive.yaml");
    std::fs::write(&server, ARCHIVE).unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    let mut p = Proxy::start(
        dir.path(),
        &policy,
        &["--profile", "strict"],
        &[GAUNTLET, "mock", server.to_str().unwrap(), "--ledger", ledger.to_str().unwrap()],
    );
    p.send(INIT.as_bytes());
    p.expect_id("1");
    p.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    p.send(br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"zip","arguments":{"path":"a.txt","gauntlet_unexpected":"x"}}}"#);
    let undeclared = p.expect_id("2");
    p.send(br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"zip","arguments":{"path":"a.txt","count":"1e9"}}}"#);
    let malformed = p.expect_id("3");
    p.send(br#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"unzip","arguments":{"path":"a.txt"}}}"#);
    let unlisted = p.expect_id("4");
    p.send(br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"zip","arguments":{"path":"a.txt"}}}"#);
    let benign = p.expect_id("5");
    let (code, stderr) = p.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(undeclared.contains("-32602") && undeclared.contains("field `gauntlet_unexpected` is not declared in its inputSchema"), "{undeclared}");
    assert!(malformed.contains("-32602") && malformed.contains("field `count` does not match its inputSchema"), "{malformed}");
    assert!(unlisted.contains("-32602") && unlisted.contains("the upstream's tools/list does not list it"), "{unlisted}");
    assert!(benign.contains("\"result\"") && !benign.contains("\"error\""), "{benign}");
    let entries: Vec<serde_json::Value> =
        std::fs::read_to_string(&ledger).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let reached: Vec<&serde_json::Value> = entries.iter().filter(|e| e["method"] == "tools/call").map(|e| &e["arguments"]).collect();
    assert_eq!(reached, [&serde_json::json!({"path": "a.txt"})], "only the well-formed call reaches the server");
    // One list for `zip` (its schema is known after it), one for `unzip`.
    let lists = entries.iter().filter(|e| e["method"] == "tools/list").count();
    assert_eq!(lists, 2, "{entries:?}");
}
