//! `gauntlet validate` and `gauntlet convert` as a user runs them: exact
//! Intercept output and exit codes for Intercept files, gauntlet's own for
//! the other dialects.

use std::process::Command;

fn run(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_gauntlet")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("runs");
    (String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into(), out.status.code().unwrap_or(-1))
}

fn temp_policy(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new().suffix(".yaml").tempfile().expect("temp file");
    std::fs::write(f.path(), text).expect("write");
    f
}

#[test]
fn validate_takes_intercepts_dash_c() {
    for flag in ["-c", "--config"] {
        let (out, _, code) = run(&["validate", flag, "examples/stripe.yaml"]);
        assert_eq!((out.as_str(), code), ("Policy file is valid.\n", 0));
    }
    let f = temp_policy("version: \"2\"\ntools: {}\n");
    let (out, err, code) = run(&["validate", "-c", f.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.starts_with("Error: version must be"), "{out}");
    assert!(err.contains("policy validation failed with"), "{err}");
    let (_, err, code) = run(&["validate"]);
    assert_eq!(code, 2, "no policy at all is a usage error: {err}");
}

#[test]
fn valid_intercept_file_prints_intercepts_line() {
    let (out, err, code) = run(&["validate", "examples/stripe.yaml"]);
    assert_eq!((out.as_str(), err.as_str(), code), ("Policy file is valid.\n", "", 0));
}

#[test]
fn validation_errors_go_to_stdout_and_the_count_to_stderr() {
    let f = temp_policy("version: \"2\"\ndefualt: deny\ntools:\n  t:\n    rules:\n      - name: r\n");
    let (out, err, code) = run(&["validate", f.path().to_str().unwrap()]);
    assert_eq!(
        out,
        "Error: version must be \"1\", got \"2\"\nError: tools.t.rules[0]: evaluate rules must have at least one condition\n"
    );
    assert!(err.ends_with("Error: policy validation failed with 2 error(s)\n"), "{err}");
    assert!(err.contains(":2:1: unknown key `defualt` is ignored by Intercept"), "{err}");
    assert_eq!(code, 1);
}

#[test]
fn load_errors_go_to_both_streams() {
    let f = temp_policy("version: \"1\"\ntools: []\n");
    let (out, err, code) = run(&["validate", f.path().to_str().unwrap()]);
    let line = "Error: parsing config file: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!seq into map[string]config.ToolDef\n";
    assert_eq!((out.as_str(), err.as_str(), code), (line, line, 1));
}

#[test]
fn catalogue_is_valid_but_intercept_rejection_is_quoted() {
    let (out, _, code) = run(&["validate", "examples/aksjah-catalogue.yaml"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Policy file is valid as gauntlet's catalogue form.\n"), "{out}");
    assert!(out.contains("line 6: cannot unmarshal !!map into string"), "{out}");
    let (_, _, forced) = run(&["validate", "examples/aksjah-catalogue.yaml", "--dialect", "intercept"]);
    assert_eq!(forced, 1);
}

#[test]
fn unreadable_file_cannot_run() {
    let (_, err, code) = run(&["validate", "examples/does-not-exist.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn convert_refuses_grant_scope_unless_lossy() {
    let (out, err, code) = run(&["convert", "examples/ezbiz-policy.json", "--to", "intercept"]);
    assert_eq!((out.as_str(), code), ("", 1));
    assert!(err.contains("`scope: grant`"), "{err}");
    let (out, _, code) = run(&["convert", "examples/ezbiz-policy.json", "--to", "intercept", "--lossy"]);
    assert_eq!(code, 0);
    let p = gauntlet::policy::load_intercept(&out).expect("lossy output loads in Intercept");
    assert_eq!(p.default, gauntlet::policy::model::DefaultAction::Deny);
    assert_eq!(p.tool("customer_persona").map(|t| t.rules.len()), Some(1));
}

#[test]
fn validate_takes_many_files_and_deny_warnings_fails_a_typo() {
    let typo = temp_policy(
        "version: \"1\"\ndescription: x\ntools:\n  create_issue:\n    rules:\n      - name: cap\n        rate_limt: 5/minute\n        conditions:\n          - {path: args.title, op: exists, value: true}\n",
    );
    let typo_path = typo.path().to_str().unwrap();
    // Intercept loads it (the key is ignored), so plain validate passes, with a warning.
    let (out, err, code) = run(&["validate", "examples/stripe.yaml", typo_path]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("==> examples/stripe.yaml <==\nPolicy file is valid.\n\n==> {typo_path} <==\nPolicy file is valid.\n"));
    assert!(err.contains("unknown key `rate_limt`") && err.contains("did you mean `rate_limit`"), "{err}");
    let (_, err, code) = run(&["validate", "--deny-warnings", "examples/stripe.yaml", typo_path]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1 warning(s), and --deny-warnings makes them fail"), "{err}");
    // One file keeps Intercept's exact output; the worst exit of many wins.
    let (out, _, code) = run(&["validate", "--deny-warnings", "examples/stripe.yaml"]);
    assert_eq!((out.as_str(), code), ("Policy file is valid.\n", 0));
    let (_, _, code) = run(&["validate", "examples/stripe.yaml", "no-such-file.yaml"]);
    assert_eq!(code, 2);
}
