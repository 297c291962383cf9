//! Blame, `verify --suggest` and `gauntlet harden`, end to end on the
//! bundled servers and example policies: a hardened policy verifies with no
//! policy finding and no over-blocking; the combined suggestion diff, applied
//! as a user would apply it, takes every weak example to the same.

use std::path::PathBuf;
use std::process::Command;

use gauntlet::cli::verify::{build_report, Args};
use gauntlet::harden::{harden, suggest};
use gauntlet::profile::Profile;
use gauntlet::report::Report;
use gauntlet::scenario::requirements::Requirements;
use gauntlet::verify::{setup, Outcome, Verdict};

fn args(argv: &[&str]) -> Args {
    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        args: Args,
    }
    let mut all = vec!["verify"];
    all.extend_from_slice(argv);
    <Cmd as clap::Parser>::parse_from(all).args
}

fn report(argv: &[&str]) -> Report {
    build_report(&args(argv), false).unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

fn find<'a>(r: &'a Report, scenario: &str, tool: &str) -> &'a Outcome {
    r.outcomes.iter().find(|o| o.scenario == scenario && o.tool == tool).unwrap_or_else(|| panic!("no {scenario} × {tool}"))
}

fn run(argv: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(argv)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    (String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into(), out.status.code().unwrap_or(-1))
}

/// Applies a unified diff the way `patch` would, refusing any hunk whose context does not match.
fn apply_diff(original: &str, diff: &str) -> String {
    let old: Vec<&str> = original.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut at = 0usize;
    for line in diff.lines() {
        if line.starts_with("---") || line.starts_with("+++") {
            continue;
        }
        if let Some(h) = line.strip_prefix("@@ -") {
            let start: usize = h.split([',', ' ']).next().unwrap().parse().unwrap();
            while at + 1 < start {
                out.push(old[at].to_string());
                at += 1;
            }
        } else if let Some(l) = line.strip_prefix('+') {
            out.push(l.to_string());
        } else if let Some(l) = line.strip_prefix('-') {
            assert_eq!(old[at], l, "a removed line does not match the file");
            at += 1;
        } else if let Some(l) = line.strip_prefix(' ') {
            assert_eq!(old[at], l, "a context line does not match the file");
            out.push(l.to_string());
            at += 1;
        }
    }
    out.extend(old[at..].iter().map(|s| s.to_string()));
    out.join("\n") + "\n"
}

#[test]
fn findings_are_blamed_on_policy_lines_and_over_blocking_on_the_refusing_rule() {
    let only = ["--only", "spend-cap", "--only", "destructive-call", "--only", "injection-strings"];
    let r = report(&[&["examples/payments-weak.yaml"][..], &only[..]].concat());
    let file = "examples/payments-weak.yaml";
    let cap = find(&r, "spend-cap", "create_charge").blame.as_ref().expect("spend-cap is blamed");
    assert_eq!((cap.location.file.as_str(), cap.location.line, cap.rule.as_deref()), (file, 12, Some("cap")));
    let destructive = find(&r, "destructive-call", "delete_customer").blame.as_ref().expect("blamed");
    assert_eq!((destructive.location.line, destructive.rule.as_deref()), (20, None));
    assert!(destructive.reason.contains("not in `hide`"), "{}", destructive.reason);

    let over = find(&r, "injection-strings", "create_refund");
    assert_eq!(over.verdict, Verdict::OverBlocking);
    let b = over.blame.as_ref().expect("over-blocking is blamed");
    assert_eq!((b.location.line, b.rule.as_deref()), (17, Some("cap")));
    assert_eq!(b.denial.as_deref(), Some("Denied by rule \"cap\""));
    assert!(b.reason.contains("`args.amount`"), "{}", b.reason);
    assert!(!over.trace.is_empty() && format!("{:?}", over.trace.last().unwrap()).contains("create_refund"), "{:?}", over.trace);
    assert!(over.reproduce.as_deref().is_some_and(|c| c.contains("--only injection-strings")));

    // A name no rule covers is blamed on `default: allow`; every policy finding has a blame.
    let a = report(&["examples/aksjah-weak.yaml", "--only", "rug-pull", "--only", "type-confusion"]);
    let rug = find(&a, "rug-pull", "WizCommerce Open API_PostOrders").blame.as_ref().expect("blamed");
    assert_eq!(rug.location.line, 6);
    assert!(rug.reason.starts_with("`default: allow`"), "{}", rug.reason);
    assert!(a.outcomes.iter().filter(|o| suggest::is_bad(o)).all(|o| o.blame.is_some()));
    assert!(a.outcomes.iter().filter(|o| !suggest::is_bad(o)).all(|o| o.blame.is_none()));
}

#[test]
fn suggestions_applied_together_close_every_weak_example() {
    let mut weak: Vec<PathBuf> = std::fs::read_dir("examples")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-weak.yaml"))
        .collect();
    weak.sort();
    assert!(weak.len() >= 3, "{weak:?}");
    let dir = tempfile::tempdir().unwrap();
    for path in weak {
        let name = path.display().to_string();
        let r = report(&[&name, "--suggest"]);
        assert!(r.summary.policy_findings > 0, "{name}: a weak example with nothing to fix tests nothing");
        let s = r.suggestions.as_ref().expect("--suggest fills the suggestions");
        assert_eq!((s.after.policy_findings, s.after.over_blocking, s.created), (0, 0, 0), "{name}: {:?}", s.open);
        assert!(s.open.is_empty(), "{name}: {:?}", s.open);
        for item in &s.items {
            assert!(item.diff.starts_with(&format!("--- a/{name}\n+++ b/{name}\n")), "{}", item.diff);
        }
        // Apply the combined diff as shown, then verify the result from scratch.
        let original = std::fs::read_to_string(&path).unwrap();
        let patched = apply_diff(&original, &s.combined);
        assert_eq!(patched.lines().next(), original.lines().next(), "{name}: the leading comment is kept");
        let out = dir.path().join(path.file_name().unwrap());
        std::fs::write(&out, &patched).unwrap();
        gauntlet::policy::load_intercept(&patched).unwrap_or_else(|e| panic!("{name}: Intercept rejects the patched file: {e}"));
        let mut argv = vec![out.to_str().unwrap()];
        for s in &r.servers {
            argv.extend(["--server", s.as_str()]);
        }
        let after = report(&argv);
        assert_eq!((after.summary.policy_findings, after.summary.over_blocking, after.summary.errors), (0, 0, 0), "{name}");
        assert!(after.summary.held > 10, "{name}: too few held outcomes to mean anything");
    }
}

#[test]
fn every_bundled_server_hardens_to_a_policy_that_verifies_clean() {
    let servers = setup::bundled_servers().unwrap();
    assert!(servers.len() >= 3);
    let scenarios = setup::scenarios(&[], false, &[], false).unwrap();
    let reqs = Requirements::baseline();
    let dir = tempfile::tempdir().unwrap();
    let mut held = 0;
    for server in &servers {
        let one = std::slice::from_ref(server);
        let file = dir.path().join(format!("{}.yaml", server.name));
        let s = suggest::Setup {
            file: file.display().to_string(),
            servers: one,
            scenarios: &scenarios,
            reqs: &reqs,
            profile: Profile::Intercept,
            seed: 1,
            reproduce: "gauntlet verify".into(),
        };
        let hardened = match harden::harden(&s, &harden::skeleton(std::slice::from_ref(&server.name))).unwrap() {
            Ok(h) => h,
            Err(u) => {
                let open: Vec<(&str, &str)> = u.open.iter().map(|o| (o.scenario.as_str(), o.tool.as_str())).collect();
                panic!("{}: {open:?} {:?}", server.name, u.gaps)
            }
        };
        let policy = gauntlet::policy::load_intercept(&hardened.text).expect("Intercept accepts what harden writes");
        assert_eq!(policy.default, gauntlet::policy::model::DefaultAction::Deny);
        std::fs::write(&file, &hardened.text).unwrap();
        let r = report(&[file.to_str().unwrap(), "--server", &server.name]);
        assert_eq!((r.summary.policy_findings, r.summary.over_blocking, r.summary.errors), (0, 0, 0), "{}", server.name);
        // A server whose tools the requirements ask nothing of (one read-only query tool) holds nothing, rightly.
        held += r.summary.held;
    }
    assert!(held > 100, "only {held} held outcomes over every bundled server");
}

#[test]
fn harden_cli_writes_only_what_it_proved() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("payments.yaml");
    let out_s = out.to_str().unwrap();
    let (stdout, stderr, code) = run(&["harden", "examples/payments-weak.yaml", "-o", out_s]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("before (the input policy): 19 policy findings, 1 over-blocking"), "{stdout}");
    assert!(stdout.contains("0 policy findings, 0 over-blocking"), "{stdout}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("# Weak policy for the payments mock server"), "the input's comments are kept:\n{text}");
    assert_eq!(run(&["validate", "--dialect", "intercept", out_s]).2, 0);
    let (stdout, _, code) = run(&["verify", out_s, "--server", "mock-servers/payments.yaml"]);
    assert_eq!(code, 0, "{stdout}");

    // PolicyLayer's format cannot check arguments: refused, listed, nothing written
    // (proven against the one scenario that shows it, to keep this quick).
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    std::fs::copy("scenarios/type-confusion.yaml", scenarios.join("type-confusion.yaml")).unwrap();
    let json = dir.path().join("ezbiz.json");
    let (_, stderr, code) = run(&[
        "harden",
        "--server",
        "mock-servers/ezbiz.yaml",
        "--to",
        "policylayer",
        "--scenarios",
        scenarios.to_str().unwrap(),
        "--scenarios-only",
        "-o",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not written") && stderr.contains("policy.json has only call-count limits"), "{stderr}");
    assert!(!json.exists());

    let (_, stderr, code) = run(&["harden", "-o", out_s]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--server"), "{stderr}");
}
