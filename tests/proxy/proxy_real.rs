//! What `gauntlet harden` writes, in front of the real servers it was written
//! for (issue 20): the careful-user policies of `tests/data/policies/`
//! hardened by the `gauntlet` binary, then `gauntlet proxy` running them
//! before the real `mcp-server-git` and `mcp-server-fetch`, driven by the
//! official Python `mcp` SDK client (tests/interop/proxy_client.py). A real
//! 1,500-character commit message reaches the repository and a plain
//! `fetch(url)` returns the page; the users' own policies refuse both.
//!
//! Peers come from `.peers/` (scripts/install-peers.sh). Missing peers skip
//! these tests with a notice, or fail them when GAUNTLET_REQUIRE_PEERS=1.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use crate::proxy_support::{missing_peer, root, Background};

const DENIED: &str = "[INTERCEPT POLICY DENIED]";

/// The venv's Python and a server installed beside it, or `None` (skip).
fn peer(server: &str) -> Option<(PathBuf, PathBuf)> {
    let bin = root().join(".peers/venv/bin");
    let (python, server) = (bin.join("python"), bin.join(server));
    if python.exists() && server.exists() {
        return Some((python, server));
    }
    let msg = format!("{} is not installed in .peers/ (run scripts/install-peers.sh)", server.display());
    missing_peer(&msg)
}

/// `gauntlet harden POLICY --server SERVER -o DIR/hardened.yaml`, with
/// `requirements` as the `gauntlet.yaml` beside the output; it must prove
/// what it wrote (exit 0: 0 policy findings, 0 over-blocking).
fn harden(dir: &Path, policy: &Path, server: &str, requirements: &str) -> PathBuf {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("gauntlet.yaml"), requirements).unwrap();
    let hardened = out.join("hardened.yaml");
    let run = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .arg("harden")
        .arg(policy)
        .args(["--server", &root().join(server).display().to_string(), "-o"])
        .arg(&hardened)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "harden:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("0 policy findings, 0 over-blocking"), "{stdout}");
    hardened
}

/// The Python SDK client through `gauntlet proxy POLICY -- upstream…`; its JSON summary.
fn through_proxy(python: &Path, policy: &Path, upstream: &[String], calls: Value) -> Value {
    let state = tempfile::tempdir().unwrap();
    let mut command = vec![
        env!("CARGO_BIN_EXE_gauntlet").to_string(),
        "proxy".into(),
        policy.display().to_string(),
        "--state-dir".into(),
        state.path().display().to_string(),
        "--".into(),
    ];
    command.extend_from_slice(upstream);
    let out = Command::new(python)
        .arg(root().join("tests/interop/proxy_client.py"))
        .arg(json!({ "command": command }).to_string())
        .arg(calls.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "client failed ({}):\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("client output is not JSON ({e}): {stdout}"))
}

fn answer(summary: &Value, i: usize) -> (bool, String) {
    let call = &summary["calls"][i];
    (call["isError"] == true, call["content"][0]["text"].as_str().unwrap_or_default().to_string())
}

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(repo).args(args).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into()
}

/// A real commit message with a body: 1,500 characters, as the team's
/// `gauntlet.yaml` declares (`tests/data/requirements/git.yaml`).
fn long_message() -> String {
    let mut m = String::from("Fetch: stop refusing plain calls\n\n");
    let line = "The page size cap sat on an optional field, so every call without it was refused.\n";
    while m.chars().count() + line.len() <= 1500 {
        m.push_str(line);
    }
    while m.chars().count() < 1500 {
        m.push('.');
    }
    m
}

#[test]
fn hardened_git_policy_lets_a_real_long_commit_message_through() {
    let Some((python, server)) = peer("mcp-server-git") else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["config", "user.name", "Gauntlet Test"]);
    git(&repo, &["config", "user.email", "test@example.com"]);
    std::fs::write(repo.join("notes.txt"), "release notes\n").unwrap();
    // The user's policy, for this repository instead of /srv/app.
    let user = std::fs::read_to_string(root().join("tests/data/policies/git.yaml")).unwrap();
    assert!(user.contains("\"/srv/app\""), "the policy names its repository");
    let policy = dir.path().join("git.yaml");
    std::fs::write(&policy, user.replace("/srv/app", &repo.display().to_string())).unwrap();
    let workload = std::fs::read_to_string(root().join("tests/data/requirements/git.yaml")).unwrap();
    let hardened = harden(dir.path(), &policy, "tests/data/servers/git.yaml", &workload);

    let message = long_message();
    assert_eq!(message.chars().count(), 1500);
    let r = repo.display().to_string();
    let upstream = vec![server.display().to_string(), "--repository".into(), r.clone()];
    let calls = json!([["git_add", {"repo_path": r, "files": ["notes.txt"]}], ["git_commit", {"repo_path": r, "message": message}]]);
    // The user's own policy caps messages at 1,000 characters: refused before the server.
    let refused = through_proxy(&python, &policy, &upstream, calls.clone());
    let (is_error, text) = answer(&refused, 1);
    assert!(is_error && text.starts_with(DENIED), "the user's policy refuses it: {refused}");
    assert!(git(&repo, &["rev-list", "--all"]).trim().is_empty(), "nothing was committed");

    let passed = through_proxy(&python, &hardened, &upstream, calls);
    for i in 0..2 {
        let (is_error, text) = answer(&passed, i);
        assert!(!is_error && !text.contains(DENIED), "call {i} through the hardened policy: {passed}");
    }
    let committed = git(&repo, &["log", "-1", "--format=%B"]);
    assert_eq!(committed.trim_end(), message.trim_end(), "the server committed the whole message");
}

#[test]
fn hardened_fetch_policy_lets_a_plain_fetch_through() {
    let Some((python, server)) = peer("mcp-server-fetch") else { return };
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("site.pem");
    let mut site = Command::new(&python)
        .arg(root().join("tests/interop/https_site.py"))
        .arg(&cert)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(site.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let _site = Background(site);
    let port: u16 = port.trim().parse().unwrap_or_else(|_| panic!("the site printed no port: {port:?}"));
    // The user's https-only fetch policy, with the site the team fetches from declared.
    let allowlist = "tools:\n  fetch:\n    fields:\n      url: {schemes: [https], hosts: [localhost]}\n";
    let policy = root().join("tests/data/policies/fetch.yaml");
    let hardened = harden(dir.path(), &policy, "tests/data/servers/fetch.yaml", allowlist);

    // The fetch server reads the site's certificate from SSL_CERT_FILE, and is
    // told that a loopback address is fine (it refuses private ones by default).
    // Its PATH is the venv's alone: with `node` on it, readabilipy runs
    // `npm install` from inside the first fetch (its JavaScript extractor's
    // dependencies are not part of the wheel) and, when that fails or is
    // slow, the call ends in "Error executing tool fetch" — a CI failure of
    // 2026-12-07. Without `node` it extracts the page in Python, offline.
    let venv_bin = python.parent().expect("the venv's bin directory");
    let upstream = vec![
        "env".to_string(),
        format!("PATH={}", venv_bin.display()),
        format!("SSL_CERT_FILE={}", cert.display()),
        server.display().to_string(),
        "--allow-private-ips".into(),
    ];
    let calls = json!([["fetch", {"url": format!("https://localhost:{port}/notes")}]]);
    // `max_length lte 20000` is false on a call that leaves max_length out.
    let refused = through_proxy(&python, &policy, &upstream, calls.clone());
    let (is_error, text) = answer(&refused, 0);
    assert!(is_error && text.contains("max_length must be at most 20000."), "the user's policy refuses it: {refused}");

    let passed = through_proxy(&python, &hardened, &upstream, calls);
    let (is_error, text) = answer(&passed, 0);
    assert!(!is_error && text.contains("Version 2 ships the fetch fix."), "the page, through the hardened policy: {passed}");
}
