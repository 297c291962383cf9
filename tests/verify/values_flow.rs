//! Where values may go, end to end on the bundled banking and workspace
//! servers: an allow-all policy has a critical destination finding on every
//! destination field; `init --from-trace` on a trace of legitimate calls,
//! then `harden`, writes a policy that refuses every attack of a trace
//! written by hand (`tests/data/values/attacks.jsonl`: foreign IBANs and
//! mailboxes, confusions, a split transfer, a password change) and still
//! allows every legitimate call.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

fn gauntlet(dir: &Path, argv: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_gauntlet")).args(argv).current_dir(dir).output().unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned(), out.status.code().unwrap_or(-1))
}

fn data(name: &str) -> String {
    format!("{}/tests/data/values/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A directory with both servers, as a user's repository holds them.
fn repo() -> TempDir {
    let dir = TempDir::new().unwrap();
    for s in ["banking", "workspace"] {
        std::fs::copy(format!("{}/mock-servers/{s}.yaml", env!("CARGO_MANIFEST_DIR")), dir.path().join(format!("{s}.yaml"))).unwrap();
    }
    dir
}

const SERVERS: [&str; 4] = ["--server", "banking.yaml", "--server", "workspace.yaml"];

/// Each line's decision under `policy`, by the trace's session.
fn decisions(dir: &Path, policy: &str, trace: &str) -> BTreeMap<String, Vec<String>> {
    let (out, err, _) = gauntlet(dir, &["replay", policy, trace]);
    let lines: Vec<Value> = std::fs::read_to_string(trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let results: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{err}"))).collect();
    assert_eq!(lines.len(), results.len(), "{out}\n{err}");
    let mut by = BTreeMap::<String, Vec<String>>::new();
    for (l, r) in lines.iter().zip(&results) {
        by.entry(l["session"].as_str().unwrap().to_string()).or_default().push(format!("{} {}", l["tool"], r["decision"]));
    }
    by
}

#[test]
fn allow_all_has_a_critical_finding_on_every_destination_field() {
    let dir = repo();
    std::fs::write(dir.path().join("allow.yaml"), "version: \"1\"\ndefault: allow\ntools: {}\n").unwrap();
    let mut argv = vec!["verify", "allow.yaml", "--only", "destination-off-list", "--format", "json"];
    argv.extend(SERVERS);
    let (out, err, code) = gauntlet(dir.path(), &argv);
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut critical: Vec<&str> = v["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["verdict"] == "breached" && o["severity"] == "critical")
        .map(|o| o["tool"].as_str().unwrap())
        .collect();
    critical.sort_unstable();
    // Every tool with a destination field the baseline does not deny.
    assert_eq!(critical, ["post_message", "schedule_transaction", "send_email", "send_money", "update_scheduled_transaction"], "{out}");
}

#[test]
fn learned_requirements_harden_to_a_policy_that_stops_the_attacks_and_keeps_the_trace() {
    let dir = repo();
    let legit = data("legitimate.jsonl");
    let mut argv = vec!["init", "--from-trace", &legit];
    argv.extend(SERVERS);
    let (_, err, code) = gauntlet(dir.path(), &argv);
    assert_eq!(code, 0, "{err}");
    let learned = std::fs::read_to_string(dir.path().join("gauntlet.yaml")).unwrap();
    for line in [
        "      recipient: {values: [DE89370400440532013000, GB29NWBK60161331926819]}",
        "      to: {domains: [acme.com]}",
        // Euros, as the server writes them: 98.70 is a payment, and the cap is no cents baseline.
        "    max_amount_per_call: {amount: 98.7, unit: major}",
    ] {
        assert!(learned.contains(line), "{line}\n{learned}");
    }
    let mut argv = vec!["harden", "-o", "policy.yaml"];
    argv.extend(SERVERS);
    let (out, err, code) = gauntlet(dir.path(), &argv);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("after (policy.yaml): 0 policy findings, 0 over-blocking"), "{out}");
    assert!(!err.contains("has no allowlist"), "every destination field the trace used has its list: {err}");

    for (session, calls) in decisions(dir.path(), "policy.yaml", &legit) {
        assert!(calls.iter().all(|c| c.ends_with("\"allow\"")), "legitimate {session}: {calls:?}");
    }
    for (session, calls) in decisions(dir.path(), "policy.yaml", &data("attacks.jsonl")) {
        assert!(calls.iter().all(|c| c.ends_with("\"deny\"")), "attack {session}: {calls:?}");
    }
    // Without the learned lists, harden says it wrote stand-ins.
    let bare = repo();
    let mut argv = vec!["harden", "-o", "policy.yaml"];
    argv.extend(SERVERS);
    let (_, err, code) = gauntlet(bare.path(), &argv);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: `send_email.to` has no allowlist in gauntlet.yaml"), "{err}");
}
