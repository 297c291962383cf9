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
fn load_errors_are_said_once_per_stream() {
    let f = temp_policy("version: \"1\"\ntools: []\n");
    let path = f.path().to_str().unwrap();
    let (out, err, code) = run(&["validate", path]);
    // stdout is Intercept's exactly; stderr has gauntlet's positioned
    // diagnostic instead of Intercept's echo of the same line.
    let line = "Error: parsing config file: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!seq into map[string]config.ToolDef\n";
    assert_eq!((out.as_str(), code), (line, 1));
    assert!(err.starts_with(&format!("error: {path}:2:1: line 2: cannot unmarshal !!seq")), "{err}");
    assert_eq!(err.matches("cannot unmarshal").count(), 1, "{err}");
    // A YAML syntax error: it was printed three times (stdout, then twice on stderr).
    let f = temp_policy("version: \"1\"\ntools:\n  t:\n    rules:\n      - name: r\n       rate_limit: 5/hour\n");
    let (out, err, code) = run(&["validate", f.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let said = "did not find expected '-' indicator";
    assert_eq!((out.matches(said).count(), err.matches(said).count()), (1, 1), "{out}{err}");
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

/// Diagnostics about `path` on stderr: the lines that name it, and their help lines.
fn diagnostics(err: &str, path: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut keep = false;
    for line in err.lines() {
        if line.starts_with("  help:") {
            if keep {
                lines.push(line.to_string());
            }
            continue;
        }
        keep = line.contains(path) && (line.starts_with("warning: ") || line.starts_with("error: "));
        if keep {
            lines.push(line.to_string());
        }
    }
    lines
}

/// Every command that reads a policy says the same lines about the same bad
/// file and exits the same way: 1 for a file that is wrong, 2 for one that
/// cannot be read.
#[test]
fn every_command_reports_a_bad_policy_the_same_way() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = dir.path().join("trace.jsonl");
    std::fs::write(&trace, "{\"at\":\"2026-03-02T10:00:00Z\",\"tool\":\"create_charge\",\"arguments\":{}}\n").unwrap();
    let out = dir.path().join("out.yaml");
    let bad = [
        // A misspelt key (a warning with did-you-mean) that leaves a rule invalid.
        ("typo.yaml", "version: \"1\"\ntools:\n  create_charge:\n    rules:\n      - name: cap\n        rate_limt: \"5/hour\"\n"),
        ("syntax.yaml", "version: \"1\"\ntools:\n  create_charge:\n    rules:\n      - name: cap\n       rate_limit: 5/hour\n"),
        ("window.yaml", "version: \"1\"\ntools:\n  create_charge:\n    rules:\n      - name: cap\n        rate_limit: 5/fortnight\n"),
        ("catalogue.yaml", "tools:\n  create_charge:\n    rules:\n      - action: allow\n        rate_limit: {max: 0, window: 60}\n"),
        ("policy.json", "{\"version\": \"1\", \"tools\": {\"create_charge\": {\"limits\": [{\"counter\": \"c\", \"window\": \"fortnight\", \"max\": 5}]}}}"),
        ("mixed.yaml", "version: \"1\"\ntools:\n  a:\n    limits: []\n  b:\n    rules: []\n"),
        ("deep.yaml", &format!("version: \"1\"\nx: {}{}\n", "[".repeat(200), "]".repeat(200))),
    ];
    for (name, text) in bad {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let p = path.to_str().unwrap();
        let commands: [Vec<&str>; 6] = [
            vec!["validate", p],
            vec!["verify", p, "--server", "payments", "-q"],
            vec!["replay", p, trace.to_str().unwrap()],
            vec!["proxy", p, "--", "true"],
            vec!["harden", p, "--server", "payments", "-o", out.to_str().unwrap()],
            vec!["convert", p, "--to", "intercept"],
        ];
        let (_, err, code) = run(&commands[0]);
        let expected = diagnostics(&err, p);
        assert!(expected.iter().any(|l| l.starts_with("error: ")), "{name}: validate says nothing: {err}");
        assert_eq!(code, 1, "{name}: validate: {err}");
        for argv in &commands[1..] {
            let (_, err, code) = run(argv);
            assert_eq!(diagnostics(&err, p), expected, "{name}: `{}` says it differently:\n{err}", argv[0]);
            assert_eq!(code, 1, "{name}: `{}` exits differently:\n{err}", argv[0]);
        }
        assert!(!out.exists(), "{name}: harden wrote a policy from a file that does not load");
    }
    // The misspelt key: every command gives validate's did-you-mean, with file:line:col.
    let typo = dir.path().join("typo.yaml");
    let (_, err, _) = run(&["verify", typo.to_str().unwrap(), "--server", "payments"]);
    assert!(err.contains(&format!("warning: {}:6:9: unknown key `rate_limt`", typo.display())), "{err}");
    assert!(err.contains("did you mean `rate_limit`?"), "{err}");
    // A file that cannot be read: 2 from every command.
    let missing = dir.path().join("missing.yaml");
    let m = missing.to_str().unwrap();
    for argv in [
        vec!["validate", m],
        vec!["verify", m, "--server", "payments"],
        vec!["replay", m, trace.to_str().unwrap()],
        vec!["proxy", m, "--", "true"],
        vec!["convert", m, "--to", "intercept"],
    ] {
        let (_, err, code) = run(&argv);
        assert_eq!(code, 2, "`{}` on a missing file: {err}", argv[0]);
        assert!(err.contains("cannot read the policy file"), "`{}`: {err}", argv[0]);
    }
}

/// The dialect comes from what the file says, not from its name.
#[test]
fn dialect_is_detected_from_the_content() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    // Intercept turns `action: allow` + a rate limit string into `evaluate`:
    // this is an Intercept policy, not the catalogue form.
    let allow = write(
        "allow.yaml",
        "version: \"1\"\ntools:\n  create_charge:\n    rules:\n      - name: cap\n        action: allow\n        rate_limit: \"2/hour\"\n",
    );
    let (out, err, code) = run(&["validate", &allow]);
    assert_eq!((out.as_str(), code), ("Policy file is valid.\n", 0), "{err}");
    let trace = write("trace.jsonl", &"{\"at\":\"2026-03-02T10:00:00Z\",\"tool\":\"create_charge\",\"arguments\":{}}\n".repeat(3));
    let (out, err, code) = run(&["replay", &allow, &trace]);
    assert_eq!(code, 0, "{err}");
    let decisions: Vec<&str> = out.lines().map(|l| if l.contains("\"decision\":\"deny\"") { "deny" } else { "allow" }).collect();
    assert_eq!(decisions, ["allow", "allow", "deny"], "{out}");
    // Intercept YAML written as JSON is still Intercept's.
    let json = write("intercept.json", "{\"version\": \"1\", \"tools\": {\"create_charge\": {\"rules\": [{\"name\": \"cap\", \"rate_limit\": \"2/hour\"}]}}}");
    let (out, err, code) = run(&["validate", &json]);
    assert_eq!((out.as_str(), code), ("Policy file is valid.\n", 0), "{err}");
    let (out, _, code) = run(&["replay", &json, &trace]);
    assert_eq!((out.matches("\"decision\":\"deny\"").count(), code), (1, 0), "{out}");
    // PolicyLayer's policy.json is recognised by its `limits`, whatever its name.
    let pl = write("limits.yaml", &std::fs::read_to_string("examples/ezbiz-policy.json").unwrap());
    let (out, _, code) = run(&["validate", &pl]);
    assert!(out.starts_with("Policy file is valid.\nPolicyLayer policy.json:"), "{out}");
    assert_eq!(code, 0);
    // Two dialects in one file: an error that names both places, not a guess.
    let mixed = write("mixed.json", "{\"version\": \"1\", \"tools\": {\"a\": {\"limits\": []}, \"b\": {\"rules\": []}}}");
    let (_, err, code) = run(&["validate", &mixed]);
    assert_eq!(code, 1);
    assert!(err.contains("mixes two policy formats: `limits` at 1:34 (PolicyLayer's policy.json) and `rules` at 1:55"), "{err}");
    assert!(err.contains("--dialect"), "{err}");
    // `--dialect` overrides detection on every command that reads a policy.
    for argv in [
        vec!["validate", &json, "--dialect", "policylayer"],
        vec!["replay", &json, &trace, "--dialect", "policylayer"],
        vec!["verify", &json, "--server", "payments", "--dialect", "policylayer"],
        vec!["proxy", &json, "--dialect", "policylayer", "--", "true"],
    ] {
        let (_, err, code) = run(&argv);
        assert_eq!(code, 1, "`{}`: {err}", argv[0]);
        assert!(err.contains("unknown key `rules` in tool `create_charge`"), "`{}`: {err}", argv[0]);
        assert!(err.contains("does not load as PolicyLayer policy.json (1 error(s); forced with --dialect)"), "`{}`: {err}", argv[0]);
    }
}

/// A NUL byte once ended the policy where it stood: `validate` called the
/// file valid and `proxy --profile strict` enforced only the part before it
/// (the deny rule after it was gone). yaml.v3 refuses the file; so does
/// every command, with the place of the byte, and invalid UTF-8 alike
/// (exit 1: the file was read, and it is wrong).
#[test]
fn a_nul_byte_or_invalid_utf8_does_not_load_anywhere() {
    for (bytes, message, place) in [
        (&b"version: \"1\"\nx: \0\ntools:\n  delete_customer:\n    rules:\n      - name: n\n        action: deny\n"[..], "control characters are not allowed", ":2:4: "),
        (&b"version: \"1\"\ndescription: \"caf\xe9\"\ntools: {}\n"[..], "invalid trailing UTF-8 octet", ":2:18: "),
    ] {
        let f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        let path = f.path().to_str().unwrap();
        let (out, err, code) = run(&["validate", path]);
        assert_eq!((out.as_str(), code), (format!("Error: parsing config file: yaml: {message}\n").as_str(), 1), "{err}");
        assert!(err.starts_with(&format!("error: {path}{place}parsing config file: yaml: {message} (found ")), "{err}");
        let (_, err, code) = run(&["proxy", path, "--profile", "strict", "--", "true"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(&format!("{path}{place}")), "{err}");
    }
}

/// What yaml.v3 reads unlike a reader of the file (issue 19's residue) is
/// refused by every command, at its place: a byte-order mark after the start
/// (yaml.v3 skips one only at the start of a line and reads the rest of the
/// line one column further in, refusing the file or dropping part of it),
/// the line breaks only YAML sees (one line on screen, two to yaml.v3), a
/// second document (never enforced). Decoding errors yaml.v3 names no line
/// for (bad `!!binary`, a merge of a scalar, an unknown anchor) are placed
/// at their node instead of 1:1, and their text stays yaml.v3's.
#[test]
fn what_yaml_v3_reads_unlike_the_screen_is_refused_with_its_place() {
    const BOM: &str = "a byte-order mark (U+FEFF) is allowed only at the start of the file (found U+FEFF)";
    const BREAK: &str = "a line break only YAML sees (U+0085, U+2028 or U+2029) is not allowed";
    for (text, message, place) in [
        ("\u{feff}\u{feff}version: \"1\"\ndefault: deny\n", BOM, ":1:1: "),
        ("version: \"1\"\n\u{feff}default: deny\n", BOM, ":2:1: "),
        ("version: \"1\"\ndescription: \"a\u{feff}\"\n", BOM, ":2:16: "),
        ("version: \"1\"\ndescription: a\u{2028}default: allow\n", &format!("{BREAK} (found U+2028)"), ":2:15: "),
        ("version: \"1\"\ndefault: deny\u{85}\n", &format!("{BREAK} (found U+0085)"), ":2:14: "),
        ("version: \"1\"\ndefault: allow\n---\ndefault: deny\n", "found a second YAML document (Intercept reads only the first)", ":3:1: "),
        ("version: !!binary MQ=\n", "!!binary value contains invalid base64 data", ":1:10: "),
        ("version: \"1\"\nx: &m {rules: []}\ntools:\n  t: {<<: [*m, 5]}\n", "map merge requires map or sequence of maps as the value", ":4:16: "),
        ("version: \"1\"\ntools:\n  t: {<<: 5}\n", "map merge requires map or sequence of maps as the value", ":3:11: "),
        ("version: \"1\"\nx: *nope\n", "unknown anchor 'nope' referenced", ":2:4: "),
    ] {
        let f = temp_policy(text);
        let path = f.path().to_str().unwrap();
        let (out, err, code) = run(&["validate", path]);
        // yaml.v3's words on stdout (without gauntlet's `(found …)`), as `intercept validate` prints them.
        let words = message.split(" (found").next().unwrap();
        assert_eq!((out.as_str(), code), (format!("Error: parsing config file: yaml: {words}\n").as_str(), 1), "{text:?}: {err}");
        assert!(err.starts_with(&format!("error: {path}{place}parsing config file: yaml: {message}")), "{text:?}: {err}");
        let (_, err, code) = run(&["proxy", path, "--profile", "strict", "--", "true"]);
        assert_eq!(code, 1, "{text:?}: {err}");
        assert!(err.contains(&format!("{path}{place}")), "{text:?}: {err}");
    }
}
