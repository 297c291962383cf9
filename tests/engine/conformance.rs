//! The shared Intercept conformance vectors, through the library runner and
//! through the `gauntlet conformance` binary.

use std::path::PathBuf;
use std::process::Command;

use gauntlet::conformance::{run_file, run_text, Verdict};
use gauntlet::profile::Profile;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/intercept-vectors.yaml")
}

fn gauntlet(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gauntlet")).args(args).output().expect("run gauntlet");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn all_fifty_vectors_pass_under_intercept() {
    let summary = run_file(&vectors(), Profile::Intercept, None).expect("vector file runs");
    let failures: Vec<String> = summary.lines().into_iter().filter(|l| !l.starts_with("PASS ")).collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!((summary.passed(), summary.failed(), summary.results.len()), (50, 0, 50));
    assert_eq!(summary.closing_line(), "50 passed, 0 failed");
}

#[test]
fn binary_prints_one_line_per_vector_and_the_tally() {
    let path = vectors();
    let (code, stdout, _) = gauntlet(&["conformance", path.to_str().unwrap()]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(lines.len(), 51);
    assert_eq!(lines[0], "PASS invalid-version-missing");
    assert_eq!(lines.last().copied(), Some("50 passed, 0 failed"));
}

#[test]
fn strict_profile_closes_the_wire_bypasses_without_failing() {
    let path = vectors();
    let (code, stdout, _) = gauntlet(&["conformance", path.to_str().unwrap(), "--profile", "strict"]);
    assert_eq!(code, 0, "{stdout}");
    for id in [
        "wire-batch-array-not-evaluated-stdio",
        "wire-envelope-type-error-fails-open",
        "wire-exact-duplicates-and-escapes",
        "wire-denial-envelope-and-ids",
        "wire-other-methods-not-evaluated",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with(&format!("DIFFERS (strict) {id}: "))), "{id} should differ:\n{stdout}");
    }
    let differing = stdout.lines().filter(|l| l.starts_with("DIFFERS")).count();
    let passed = stdout.lines().filter(|l| l.starts_with("PASS")).count();
    assert_eq!(stdout.lines().last(), Some(format!("{passed} passed, 0 failed, {differing} differ under strict").as_str()));
    assert_eq!(passed + differing, 50);
}

#[test]
fn only_filters_by_id_substring() {
    let path = vectors();
    let (code, stdout, _) = gauntlet(&["conformance", path.to_str().unwrap(), "--only", "tools-list"]);
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().filter(|l| l.starts_with("PASS tools-list-")).count(), 4);
    assert_eq!(stdout.lines().last(), Some("4 passed, 0 failed"));
}

const WRONG: &str = r#"
vectors:
  - id: wrong-expectation
    kind: decision
    policy: |
      version: "1"
      tools:
        t:
          rules:
            - name: "one"
              rate_limit: 1/hour
    calls:
      - {at: "2026-03-02T10:00:00Z", tool: t, expect: allow}
      - {at: "2026-03-02T10:00:01Z", tool: t, expect: allow}
"#;

#[test]
fn a_wrong_expectation_fails_with_exit_1_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.yaml");
    std::fs::write(&file, WRONG).unwrap();
    let (code, stdout, _) = gauntlet(&["conformance", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "FAIL wrong-expectation: step 2: expected allow, got deny \"[INTERCEPT POLICY DENIED] Rate limit of 1 per hour reached. Try again later.\"\n0 passed, 1 failed\n"
    );
}

#[test]
fn an_unparsable_file_exits_2_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "vectors:\n  - id: x\n    kind: decision\n    expext: allow\n").unwrap();
    let (code, stdout, stderr) = gauntlet(&["conformance", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains(&format!("{}:4:", file.display())), "{stderr}");
    assert!(stderr.contains("expext"), "{stderr}");
    let (code, _, stderr) = gauntlet(&["conformance", "/nonexistent/vectors.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read the vector file"), "{stderr}");
}

#[test]
fn deferred_answers_commit_or_roll_back_when_delivered() {
    let text = r#"
vectors:
  - id: deferred
    kind: decision
    policy: |
      version: "1"
      tools:
        t:
          rules:
            - name: "two"
              rate_limit: 2/hour
    calls:
      - {at: "2026-03-02T10:00:00Z", tool: t, upstream: deferred, label: a, expect: allow, state_after: {t._rate_hour: 1}}
      - {at: "2026-03-02T10:00:01Z", tool: t, upstream: deferred, label: b, expect: allow, state_after: {t._rate_hour: 2}}
      - {at: "2026-03-02T10:00:02Z", tool: t, expect: deny, text: "[INTERCEPT POLICY DENIED] Rate limit of 2 per hour reached. Try again later."}
      - {deliver: a, upstream: jsonrpc_error, state_after: {t._rate_hour: 1}}
      - {deliver: b, state_after: {t._rate_hour: 1}}
      - {at: "2026-03-02T10:00:03Z", tool: t, expect: allow, state_after: {t._rate_hour: 2}}
"#;
    let summary = run_text(text, "inline", Profile::Intercept, None).unwrap();
    assert_eq!(summary.results[0].verdict, Verdict::Pass);
    let broken = text.replace("{deliver: b, state_after: {t._rate_hour: 1}}", "{deliver: b, state_after: {t._rate_hour: 0}}");
    let summary = run_text(&broken, "inline", Profile::Intercept, None).unwrap();
    assert_eq!(
        summary.results[0].verdict,
        Verdict::Fail("step 5: expected counter `t._rate_hour` = 0, got 1".into())
    );
}

/// gauntlet's own loader vectors (merge keys, BOM, the reader, the "*"
/// tool): every one passes, under both profiles (loading does not depend on
/// the profile); strict words one denial its own way (G-9's explained
/// `increment_from` refusal instead of "Internal policy error").
#[test]
fn repo_loader_vectors_pass() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/loader-vectors.yaml");
    for profile in [Profile::Intercept, Profile::Strict] {
        let summary = run_file(&path, profile, None).expect("vector file runs");
        let worded = "DIFFERS (strict) star-tool-takes-stateful-star-rules-twice: step 2: expected text \"[INTERCEPT POLICY DENIED] Internal policy error\", got deny \"[INTERCEPT POLICY DENIED] increment_from value for rule \\\"spend\\\" is missing or not a number\"";
        let failures: Vec<String> =
            summary.lines().into_iter().filter(|l| !l.starts_with("PASS ") && !(profile == Profile::Strict && l == worded)).collect();
        assert!(failures.is_empty(), "{profile}: {failures:#?}");
        assert!(summary.passed() >= 9, "{}", summary.closing_line());
    }
    let (code, stdout, _) = gauntlet(&["conformance", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.lines().any(|l| l == "PASS merge-key-applies-to-a-tool"), "{stdout}");
}

/// A merge key is not an unknown key: `validate` warns only about the
/// anchor holder Intercept ignores, and a BOM is not part of the first key.
#[test]
fn validate_applies_merge_keys_and_skips_a_bom() {
    let dir = tempfile::tempdir().unwrap();
    let merge = dir.path().join("merge.yaml");
    std::fs::write(&merge, "version: \"1\"\nx: &deny {rules: [{name: n, action: deny}]}\ntools:\n  delete_customer: {<<: *deny}\n").unwrap();
    let (code, stdout, stderr) = gauntlet(&["validate", merge.to_str().unwrap()]);
    assert_eq!((code, stdout.as_str()), (0, "Policy file is valid.\n"));
    assert!(!stderr.contains("<<"), "{stderr}");
    let bom = dir.path().join("bom.yaml");
    std::fs::write(&bom, "\u{feff}version: \"1\"\ntools: {}\n").unwrap();
    let (code, stdout, stderr) = gauntlet(&["validate", bom.to_str().unwrap()]);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "Policy file is valid.\n", ""));
}
