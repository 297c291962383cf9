//! `gauntlet replay` end to end: the Stripe example trace, the strict
//! profile's refusal of a negative charge, and bad trace lines (exit 2 with
//! `file:line` on stderr, nothing on stdout).

use std::process::Command;

fn replay(trace: &str, extra: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .arg("replay")
        .arg(format!("{root}/examples/stripe.yaml"))
        .arg(trace)
        .args(extra)
        .output()
        .expect("gauntlet runs");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    (out.status.code().unwrap_or(-1), lines, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn example_trace() -> String {
    format!("{}/examples/stripe-trace.jsonl", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn stripe_trace_replays_with_intercept_decisions() {
    let (code, lines, stderr) = replay(&example_trace(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines.len(), 13);
    let decisions: Vec<&str> = lines.iter().map(|l| l["decision"].as_str().unwrap_or("")).collect();
    assert_eq!(
        decisions,
        ["allow", "deny", "deny", "deny", "deny", "allow", "allow", "deny", "allow", "allow", "allow", "allow", "allow"]
    );
    assert_eq!(lines[1]["message"], "Single charge cannot exceed $500.00");
    assert_eq!(lines[1]["rule"], "max single charge");
    assert_eq!(lines[4]["message"], "Customer deletion is not permitted via AI agents");
    // G-9: the negative charge the upstream refused with isError drives the budget negative.
    assert_eq!(lines[5]["counters"]["create_charge.daily_spend"], -850000);
    // A JSON-RPC error answer rolls the refund's reservation back.
    assert_eq!(lines[6]["counters"]["create_refund._rate_day"], 0);
    assert_eq!(lines[8]["counters"]["create_refund._rate_day"], 1);
    // A line without `at` reuses the previous line's time.
    assert_eq!(lines[10]["at"], lines[9]["at"]);
    // 49999.99 truncates to 49999; the next day starts a fresh budget.
    assert_eq!(lines[11]["counters"]["create_charge.daily_spend"], -800001);
    assert_eq!(lines[12]["counters"]["create_charge.daily_spend"], 50000);
}

#[test]
fn strict_profile_refuses_the_negative_charge() {
    let (code, lines, _) = replay(&example_trace(), &["--profile", "strict"]);
    assert_eq!(code, 0);
    assert_eq!(lines[5]["decision"], "deny");
    assert_eq!(lines[5]["cause"], "internal");
    assert_eq!(lines[5]["culprit"], "daily spend cap");
    assert_eq!(lines[5]["counters"]["create_charge.daily_spend"], 50000);
}

#[test]
fn bad_trace_lines_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, "{\"tool\":\"create_charge\"}\n{\"tol\":\"x\"}\n\n{\"tool\":\"x\",\"at\":\"noon\"}\n[1]\n").expect("write");
    let (code, lines, stderr) = replay(path.to_str().expect("utf-8 path"), &[]);
    assert_eq!(code, 2);
    assert!(lines.is_empty());
    let name = path.display().to_string();
    assert!(stderr.contains(&format!("{name}:2:")), "{stderr}");
    assert!(stderr.contains("unknown field `tol`"), "{stderr}");
    assert!(stderr.contains(&format!("{name}:4: `at`: invalid RFC 3339 time `noon`")), "{stderr}");
    assert!(stderr.contains(&format!("{name}:5:")), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn missing_trace_file_exits_2() {
    let (code, lines, stderr) = replay("/nonexistent/trace.jsonl", &[]);
    assert_eq!(code, 2);
    assert!(lines.is_empty());
    assert!(stderr.contains("/nonexistent/trace.jsonl: cannot read the trace"), "{stderr}");
}

/// `calls` calls to the Stripe policy's tools, one per second: enough of them
/// and the decisions outgrow memory and wait in a temporary file.
fn long_trace(calls: usize) -> String {
    let mut text = String::new();
    for k in 0..calls {
        let (h, m, s) = (k / 3600 % 24, k / 60 % 60, k % 60);
        let tool = ["create_charge", "create_refund", "list_customers"][k % 3];
        text.push_str(&format!(
            "{{\"at\":\"2026-03-02T{h:02}:{m:02}:{s:02}Z\",\"identity\":\"agent-{}\",\"tool\":\"{tool}\",\"arguments\":{{\"amount\":{},\"currency\":\"usd\"}}}}\n",
            k % 5,
            100 + k % 900
        ));
    }
    text
}

fn replay_with(trace: &std::path::Path, tmpdir: Option<&str>) -> (i32, Vec<u8>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gauntlet"));
    cmd.arg("replay").arg(format!("{}/examples/stripe.yaml", env!("CARGO_MANIFEST_DIR"))).arg(trace);
    if let Some(dir) = tmpdir {
        cmd.env("TMPDIR", dir);
    }
    let out = cmd.output().expect("gauntlet runs");
    (out.status.code().unwrap_or(-1), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_bad_line_late_in_a_long_trace_leaves_stdout_empty_and_every_bad_line_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("late.jsonl");
    let mut text = long_trace(12_000);
    // Line 3 and the last two lines are bad: by then megabytes of decisions were made.
    text = text.replacen("\"identity\":\"agent-2\"", "\"identity\":2", 1);
    text.push_str("{\"tool\":\"create_charge\",\"at\":\"noon\"}\n{\"tool\":\"create_charge\",\"amount\":5}\n");
    std::fs::write(&path, text).expect("write");
    let (code, stdout, stderr) = replay_with(&path, None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{} bytes on stdout", stdout.len());
    let name = path.display();
    for wanted in [format!("{name}:3:"), format!("{name}:12001: `at`: invalid RFC 3339 time `noon`"), format!("{name}:12002:")] {
        assert!(stderr.contains(&wanted), "{wanted} not in {stderr}");
    }
    assert!(stderr.contains("unknown field `amount`"), "{stderr}");
}

#[test]
fn a_long_trace_replays_whole_and_the_same_when_no_temporary_file_can_be_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long.jsonl");
    std::fs::write(&path, long_trace(12_000)).expect("write");
    let (code, stdout, stderr) = replay_with(&path, None);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.len() > 2 << 20, "only {} bytes: the decisions never outgrew memory", stdout.len());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&stdout).lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(lines.iter().map(|l| l["line"].as_u64().unwrap_or(0)).collect::<Vec<_>>(), (1..=12_000).collect::<Vec<u64>>());
    assert!(lines.iter().any(|l| l["decision"] == "deny") && lines.iter().any(|l| l["decision"] == "allow"));
    assert!(!stderr.contains("warning"), "{stderr}");

    // A missing TMPDIR: the trace is replayed a second time, straight to stdout, with fresh counters.
    let (code, again, stderr) = replay_with(&path, Some("/nonexistent/tmp"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("cannot hold the decisions in a temporary file"), "{stderr}");
    assert!(again == stdout, "the output differs when the trace is replayed twice");
}
