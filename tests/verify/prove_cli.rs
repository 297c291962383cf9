//! `gauntlet prove` and `gauntlet validate --deep` as a user runs them, from
//! an empty directory: exit codes (0 all proved, 1 refuted or unknown,
//! `--allow-unknown`, 2 cannot run), every report format through `-o`, a
//! counterexample whose printed command `gauntlet replay` confirms, and the
//! policy facts at their lines.

use std::path::Path;
use std::process::{Command, Output};

fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p).display().to_string()
}

fn gauntlet(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet")).args(args).current_dir(dir).env_remove("CI").output().expect("the binary runs")
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[test]
fn a_hardened_policy_proves_and_exits_0_and_every_format_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let policy = repo("examples/aksjah-hardened.yaml");
    let outs: Vec<String> = ["json", "junit", "markdown", "sarif", "github", "html"].iter().map(|f| format!("{f}={}", dir.path().join(format!("r.{f}")).display())).collect();
    let mut args = vec!["prove", policy.as_str(), "--server", "aksjah"];
    for o in &outs {
        args.extend(["-o", o.as_str()]);
    }
    let out = gauntlet(dir.path(), &args);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("11 requirements: 11 proved, 0 refuted, 0 unknown"), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(json["summary"]["proved"], 11);
    let sarif: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(std::fs::read_to_string(dir.path().join("r.junit")).unwrap().contains("tests=\"11\" failures=\"0\""));
    assert!(std::fs::read_to_string(dir.path().join("r.html")).unwrap().starts_with("<!DOCTYPE html>"));
    assert!(std::fs::read_to_string(dir.path().join("r.github")).unwrap().contains("::notice title=gauntlet prove::"));
}

#[test]
fn an_allow_all_policy_is_refuted_with_a_counterexample_replay_confirms() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("open.yaml"), "version: \"1\"\n").unwrap();
    let out = gauntlet(dir.path(), &["prove", "open.yaml", "--server", "payments", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let denied = report["proofs"].as_array().unwrap().iter().find(|p| p["requirement"] == "denied").expect("delete_customer must be denied");
    assert_eq!(denied["status"], "refuted");
    let cex = &denied["counterexample"];
    // The trace as printed, read back by `gauntlet replay`: the engine allows the call.
    let trace: String = cex["calls"].as_array().unwrap().iter().map(|c| format!("{c}\n")).collect();
    std::fs::write(dir.path().join("t.jsonl"), trace).unwrap();
    let replay = gauntlet(dir.path(), &["replay", "open.yaml", "t.jsonl"]);
    assert_eq!(replay.status.code(), Some(0), "{}", text(&replay.stderr));
    assert!(text(&replay.stdout).contains("\"decision\":\"allow\""), "{}", text(&replay.stdout));
    assert!(cex["replay"].as_str().unwrap().contains(" replay open.yaml /dev/stdin"), "{cex}");
}

#[test]
fn every_format_carries_each_counterexamples_replay_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("open.yaml"), "version: \"1\"\n").unwrap();
    let formats = ["json", "junit", "markdown", "sarif", "github", "html"];
    let mut args = vec!["prove".to_string(), "open.yaml".into(), "--server".into(), "payments".into()];
    for f in formats {
        args.extend(["-o".into(), format!("{f}=r.{f}")]);
    }
    let out = gauntlet(dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let commands: Vec<&str> = report["proofs"].as_array().unwrap().iter().filter_map(|p| p["counterexample"]["replay"].as_str()).collect();
    assert!(commands.len() >= 2, "an allow-all policy is refuted with counterexamples: {report}");
    // The terminal view: one `replay:` line per counterexample.
    assert_eq!(text(&out.stdout).matches("\n         replay: ").count(), commands.len(), "{}", text(&out.stdout));
    for f in formats {
        let written = std::fs::read_to_string(dir.path().join(format!("r.{f}"))).unwrap();
        assert!(written.matches(" replay open.yaml /dev/stdin").count() >= commands.len(), "{f} lacks a replay command:\n{written}");
    }
    // Markdown holds each command verbatim (in a fenced block: nothing escaped, so it pastes as is).
    let markdown = std::fs::read_to_string(dir.path().join("r.markdown")).unwrap();
    for c in &commands {
        assert!(markdown.contains(&format!("\n{c}\n")), "markdown lacks `{c}`:\n{markdown}");
    }
}

#[test]
fn unknowns_fail_unless_allowed_and_a_missing_policy_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    // A field whose schema says `not`: prove does not model it, so its schema proof is unknown.
    let server = "name: s\nversion: \"1\"\ntools:\n  - name: lookup\n    risk: read\n    inputSchema:\n      type: object\n      properties:\n        q: {type: string, not: {const: x}}\n      required: [q]\n";
    std::fs::write(dir.path().join("s.yaml"), server).unwrap();
    std::fs::write(dir.path().join("p.yaml"), "version: \"1\"\ndefault: deny\ntools:\n  lookup:\n    rules:\n      - name: q\n        conditions:\n          - {path: args.q, op: regex, value: \"^[a-z]{1,20}$\"}\n").unwrap();
    let out = gauntlet(dir.path(), &["prove", "p.yaml", "--server", "s.yaml"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("unknown  s · lookup · schema"), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("uses `not`, which prove does not model"), "{stdout}");
    assert_eq!(out.status.code(), Some(1));
    let allowed = gauntlet(dir.path(), &["prove", "p.yaml", "--server", "s.yaml", "--allow-unknown"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stdout));
    let missing = gauntlet(dir.path(), &["prove", "nope.yaml", "--server", "payments"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
}

#[test]
fn validate_deep_reports_each_fact_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "version: \"1\"\ntools:\n  fetch:\n    rules:\n      - name: block\n        action: deny\n      - name: where\n        conditions:\n          - {path: args.url, op: regex, value: \"^https://api\\\\.example\\\\.com\"}\n";
    std::fs::write(dir.path().join("p.yaml"), policy).unwrap();
    let plain = gauntlet(dir.path(), &["validate", "p.yaml"]);
    assert_eq!(plain.status.code(), Some(0));
    assert!(!text(&plain.stderr).contains("never fires"));
    let deep = gauntlet(dir.path(), &["validate", "p.yaml", "--deep", "--server", &repo("tests/data/servers/fetch.yaml")]);
    let stderr = text(&deep.stderr);
    assert_eq!(deep.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("p.yaml:7: warning: rule `where` never fires"), "{stderr}");
    assert!(stderr.contains("p.yaml:9: warning: rule `where`: the regex `^https://api\\.example\\.com` on destination field `args.url` is not anchored at its end"), "{stderr}");
    let strict = gauntlet(dir.path(), &["validate", "p.yaml", "--deep", "--deny-warnings", "--server", &repo("tests/data/servers/fetch.yaml")]);
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict.stderr));
}

#[test]
fn diff_of_a_git_revision_against_the_working_file_fails_when_weaker_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let o = Command::new("git").args(args).current_dir(dir.path()).output().expect("git runs");
        assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
    };
    let old = "version: \"1\"\ntools:\n  send:\n    rules:\n      - name: where\n        conditions:\n          - {path: args.to, op: in, value: [\"a@example.com\"]}\n";
    std::fs::write(dir.path().join("p.yaml"), old).unwrap();
    git(&["init", "-q"]);
    git(&["add", "p.yaml"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "p"]);
    std::fs::write(dir.path().join("p.yaml"), old.replace("[\"a@example.com\"]", "[\"a@example.com\", \"b@example.com\"]")).unwrap();
    let out = gauntlet(dir.path(), &["diff", "git:HEAD:p.yaml", "p.yaml"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("WEAKER     condition `where`"), "{stdout}");
    assert!(stdout.contains("\"to\":\"b@example.com\""), "the witness is the address added: {stdout}");
    assert_eq!(gauntlet(dir.path(), &["diff", "git:HEAD:p.yaml", "p.yaml", "--allow-weaker"]).status.code(), Some(0));
    // The reverse is stronger only: exit 0.
    let back = gauntlet(dir.path(), &["diff", "p.yaml", "git:HEAD:p.yaml"]);
    assert_eq!(back.status.code(), Some(0), "{}", text(&back.stdout));
    assert!(text(&back.stdout).contains("0 weaker, 1 stronger"), "{}", text(&back.stdout));
    assert_eq!(gauntlet(dir.path(), &["diff", "git:NOPE:p.yaml", "p.yaml"]).status.code(), Some(2));
}

#[test]
fn a_snapshot_keeps_its_policy_and_shows_the_semantic_diff_beside_the_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let hardened = std::fs::read_to_string(repo("examples/aksjah-hardened.yaml")).unwrap();
    std::fs::write(dir.path().join("p.yaml"), &hardened).unwrap();
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "p.yaml", "--server", "aksjah", "--only", "bulk-write-burst", "--snapshot", "s.snap"];
        args.extend(extra);
        gauntlet(dir.path(), &args)
    };
    let accepted = verify(&["--accept"]);
    assert_eq!(accepted.status.code(), Some(0), "{}", text(&accepted.stderr));
    let snap = std::fs::read_to_string(dir.path().join("s.snap")).unwrap();
    assert!(snap.contains("\n#> tools:\n"), "the snapshot keeps the policy: {snap}");

    // A loosened regex no scenario run here probes: the verdicts stay, the semantic diff names it.
    let cap = ".{0,400}$\"";
    assert!(hardened.contains(cap), "{hardened}");
    std::fs::write(dir.path().join("p.yaml"), hardened.replacen(cap, ".{0,400}\"", 1)).unwrap();
    let regex = verify(&[]);
    let stderr = text(&regex.stderr);
    assert_eq!(regex.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("no change from the accepted verdicts"), "{stderr}");
    assert!(stderr.contains("semantic diff (every call"), "{stderr}");
    assert!(stderr.contains("WEAKER     condition `arguments`"), "{stderr}");
    assert!(stderr.contains("1 weaker, 0 stronger"), "{stderr}");

    // A raised limit: the burst's verdict moves, and the semantic diff shows the window beside it.
    std::fs::write(dir.path().join("p.yaml"), hardened.replacen("rate_limit: 15/minute", "rate_limit: 25/minute", 1)).unwrap();
    let rate = verify(&[]);
    let stderr = text(&rate.stderr);
    assert_eq!(rate.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("differs from this run"), "{stderr}");
    assert!(stderr.contains("WEAKER     rate `rate per minute`: in one 1m window OLD lets 15 calls through"), "{stderr}");
    assert!(stderr.find("differs from this run") < stderr.find("semantic diff"), "the sampled diff first: {stderr}");

    // A snapshot kept before snapshots kept their policy: said, and the verdicts still compare.
    let old: String = snap.lines().take_while(|l| !l.starts_with("# the policy these verdicts")).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("s.snap"), old).unwrap();
    let stderr = text(&verify(&[]).stderr);
    assert!(stderr.contains("keeps no policy"), "{stderr}");
}

#[test]
fn diff_says_a_raised_limit_was_not_compared_when_no_call_passes_and_does_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    let policy = |n: u32| format!("version: \"1\"\ntools:\n  t:\n    rules:\n      - name: rate\n        rate_limit: {n}/minute\n      - name: none\n        conditions:\n          - {{path: args.x, op: lt, value: 0}}\n          - {{path: args.x, op: gt, value: 0}}\n");
    std::fs::write(dir.path().join("old.yaml"), policy(5)).unwrap();
    std::fs::write(dir.path().join("new.yaml"), policy(10)).unwrap();
    let out = gauntlet(dir.path(), &["diff", "old.yaml", "new.yaml"]);
    let stdout = text(&out.stdout);
    // Nothing gets through NEW, so it is not weaker; the raised limit is still named, with why it was not compared.
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let line = stdout.lines().find(|l| l.contains("not compared: ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.trim_start().starts_with("note       rate `rate`: not compared: in one 1m window OLD lets at most 5"), "{line}");
    assert!(line.contains("no call of the tool passes NEW's conditions"), "{line}");
    let json = gauntlet(dir.path(), &["diff", "old.yaml", "new.yaml", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["changes"][0]["direction"], "not-compared", "{v}");
}
