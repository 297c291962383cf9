//! Blame, `verify --suggest` and `gauntlet harden`, end to end on the
//! bundled servers and example policies: a hardened policy verifies with no
//! policy finding and no over-blocking; the combined suggestion diff, applied
//! as a user would apply it, takes every weak example to the same.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use gauntlet::cli::verify::{build_report, Args};
use gauntlet::harden::{harden, suggest};
use gauntlet::policy::model::Dialect;
use gauntlet::profile::Profile;
use gauntlet::report::Report;
use gauntlet::scenario::requirements::Requirements;
use gauntlet::scenario::Scenario;
use gauntlet::verify::inprocess::NamedServer;
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

/// A per-minute limit against an hourly bound: the slow drip adds up over
/// the hour (no window edge needed), and `--suggest` writes an hourly limit
/// beside the user's per-minute one, proven by its re-run.
#[test]
fn an_hourly_bound_is_blamed_on_the_sum_and_remedied_by_an_hourly_limit() {
    let dir = tempfile::tempdir().unwrap();
    let req = dir.path().join("gauntlet.yaml");
    std::fs::write(&req, "risk:\n  write: {rate: {count: 100, window: 1h}}\n").unwrap();
    let req = req.to_str().unwrap();
    let (out, err, code) = run(&[
        "verify", "examples/aksjah-intercept.yaml", "--server", "aksjah", "--only", "bulk-write-sustained", "--requirements", req, "--suggest",
        "--format", "json",
    ]);
    assert_eq!(code, 1, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let blamed = json["outcomes"].as_array().unwrap().iter().find(|o| o["tool"] == "WizCommerce Open API_PostCustomers").expect("PostCustomers");
    let reason = blamed["blame"]["reason"].as_str().unwrap();
    assert!(reason.contains("allows 30 per calendar minute, which adds up to 1800 per 1h"), "{reason}");
    assert!(!reason.contains("edge"), "a slow drip is not a window-edge burst: {reason}");
    let patches = serde_json::to_string(&json["suggestions"]).unwrap();
    assert!(patches.contains("+        rate_limit: 50/hour"), "{patches}");
    assert!(!patches.contains("1/minute") && !patches.contains("-        rate_limit: 30/minute"), "the per-minute limit stays: {patches}");
    let after = &json["suggestions"]["after"];
    assert_eq!((after["policy_findings"].as_u64(), after["over_blocking"].as_u64()), (Some(0), Some(0)), "{patches}");
}

/// A spend requirement on amounts in currency units: `--suggest` proposes what
/// `harden` writes for it (a daily cap on the calls and the spend counter that
/// leaves room for what the cap lets through uncounted), not a counter alone
/// that `prove` refutes. The starting policy is the hardened banking reference
/// with its two daily rules taken out.
#[test]
fn suggest_proposes_the_daily_call_cap_harden_writes() {
    let hardened = std::fs::read_to_string("examples/references/banking.yaml").unwrap();
    let mut lines: Vec<&str> = Vec::new();
    let mut daily: Vec<String> = Vec::new();
    let mut skipping = false;
    for l in hardened.lines() {
        let trimmed = l.trim_start();
        if trimmed.starts_with("- name: ") || !l.starts_with("      ") {
            skipping = trimmed == "- name: \"rate per day\"" || trimmed == "- name: \"spend per day\"";
        }
        if skipping {
            // What harden wrote on that line, without its comment.
            daily.push(l.split("  #").next().unwrap().to_string());
        } else {
            lines.push(l);
        }
    }
    assert!(daily.iter().any(|l| l.contains("rate_limit: ")) && daily.iter().any(|l| l.contains("spend_per_day, op: lte")), "{daily:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("banking-no-day.yaml");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (out, err, code) = run(&["verify", file.to_str().unwrap(), "--server", "banking", "--only", "spend-split", "--suggest", "--format", "json"]);
    assert_eq!(code, 1, "the daily rules gone, spend-split breaches: {err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let patches = json["suggestions"]["combined"].as_str().unwrap();
    for l in &daily {
        assert!(patches.lines().any(|p| p.strip_prefix('+').is_some_and(|p| p.split("  #").next() == Some(l))), "`--suggest` lacks harden's `{}`:\n{patches}", l.trim());
    }
    let after = &json["suggestions"]["after"];
    assert_eq!((after["policy_findings"].as_u64(), after["over_blocking"].as_u64()), (Some(0), Some(0)), "{patches}");
}

/// Weak example policies in every dialect: Intercept and catalogue YAML (`*-weak.yaml`), PolicyLayer JSON (`*-weak.json`).
fn weak_examples() -> Vec<PathBuf> {
    let mut weak: Vec<PathBuf> = std::fs::read_dir("examples")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-weak.yaml") || p.to_string_lossy().ends_with("-weak.json"))
        .collect();
    weak.sort();
    weak
}

#[test]
fn suggestions_applied_together_close_every_weak_example() {
    let weak = weak_examples();
    let dialects: Vec<Dialect> = weak
        .iter()
        .map(|p| gauntlet::policy::load_file(p, None).unwrap_or_else(|e| panic!("{}: {e}", p.display())).policy.dialect)
        .collect();
    for d in [Dialect::Intercept, Dialect::Catalogue, Dialect::PolicyLayer] {
        assert!(dialects.contains(&d), "no weak example in {d:?}: {weak:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    for (path, dialect) in weak.iter().zip(dialects) {
        let name = path.display().to_string();
        let r = report(&[&name, "--suggest"]);
        assert!(r.summary.policy_findings > 0, "{name}: a weak example with nothing to fix tests nothing");
        let s = r.suggestions.as_ref().expect("--suggest fills the suggestions");
        assert_eq!(s.dialect, dialect.as_str(), "{name}: patches are in the file's own dialect");
        assert!(s.open.is_empty(), "{name}: {:?}", s.open);
        assert_eq!((s.after.over_blocking, s.created), (0, 0), "{name}");
        // What is left is exactly what the dialect cannot say, each shown in Intercept YAML.
        let named: BTreeSet<&str> = s.inexpressible.iter().flat_map(|x| x.closes.iter().map(String::as_str)).collect();
        assert_eq!(s.after.policy_findings, named.len(), "{name}: {named:?}");
        match dialect {
            Dialect::Intercept => assert!(s.inexpressible.is_empty() && s.intercept_check.is_none(), "{name}"),
            _ => {
                assert!(!s.inexpressible.is_empty(), "{name}: the weak examples use what this dialect cannot say");
                let check = s.intercept_check.as_ref().expect("the Intercept equivalents are re-run");
                assert_eq!((check.after.policy_findings, check.after.over_blocking), (0, 0), "{name}");
                assert_eq!((check.left, check.named), (named.len(), named.len()), "{name}");
                // The command shown writes the form the diffs are against (`--lossy` when converting loses something).
                let argv: Vec<&str> = check.convert.split(' ').skip(1).collect();
                let (_, stderr, code) = run(&argv);
                assert_eq!(code, 0, "{name}: `{}`: {stderr}", check.convert);
                let written = std::fs::read_to_string(&check.file).unwrap();
                std::fs::remove_file(&check.file).unwrap();
                for x in &s.inexpressible {
                    apply_diff(&written, &x.intercept);
                }
                for x in &s.inexpressible {
                    assert!(x.intercept.starts_with(&format!("--- a/{}\n", check.file)), "{}", x.intercept);
                    assert!(x.why.contains("has no"), "{name}: {}", x.why);
                }
            }
        }
        for item in &s.items {
            assert!(item.diff.starts_with(&format!("--- a/{name}\n+++ b/{name}\n")), "{}", item.diff);
        }
        // Apply the combined diff as shown, then verify the result from scratch.
        let original = std::fs::read_to_string(path).unwrap();
        let patched = apply_diff(&original, &s.combined);
        assert_eq!(patched.lines().next(), original.lines().next(), "{name}: the first line (a comment, or the JSON's brace) is kept");
        let out = dir.path().join(path.file_name().unwrap());
        std::fs::write(&out, &patched).unwrap();
        let reloaded = gauntlet::policy::load_file(&out, None).unwrap_or_else(|e| panic!("{name}: the patched file does not load: {e}"));
        assert_eq!(reloaded.policy.dialect, dialect, "{name}: still in its own dialect");
        if dialect == Dialect::Intercept {
            gauntlet::policy::load_intercept(&patched).unwrap_or_else(|e| panic!("{name}: Intercept rejects the patched file: {e}"));
        }
        let mut argv = vec![out.to_str().unwrap()];
        for s in &r.servers {
            argv.extend(["--server", s.as_str()]);
        }
        let after = report(&argv);
        assert_eq!((after.summary.policy_findings, after.summary.over_blocking, after.summary.errors), (named.len(), 0, 0), "{name}");
        let left: BTreeSet<String> =
            after.outcomes.iter().filter(|o| suggest::is_bad(o)).map(|o| format!("{} × {}", o.scenario, o.tool)).collect();
        assert_eq!(left, named.iter().map(|n| n.to_string()).collect(), "{name}");
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
    let mut examples = 0;
    for server in &servers {
        let file = dir.path().join(format!("{}.yaml", server.name));
        let s = intercept_setup(file.display().to_string(), server, &scenarios, &reqs);
        let hardened = harden::harden(&s, &harden::skeleton(std::slice::from_ref(&server.name))).unwrap();
        let open: Vec<(&str, &str)> = hardened.open.iter().map(|o| (o.scenario.as_str(), o.tool.as_str())).collect();
        assert!(hardened.meets(), "{}: {open:?} {:?}", server.name, hardened.gaps);
        let policy = gauntlet::policy::load_intercept(&hardened.text).expect("Intercept accepts what harden writes");
        assert_eq!(policy.default, gauntlet::policy::model::DefaultAction::Deny);
        // The shipped hardened examples are what harden writes today, so they cannot go stale:
        // aksjah's and ezbiz's from the server alone; payments' keeps a currency allowlist
        // (usd, eur) that is the user's knowledge, not the schema's, so harden of it adds nothing.
        let example = format!("examples/{}-hardened.yaml", server.name);
        if let Ok(shipped) = std::fs::read_to_string(&example) {
            examples += 1;
            let (written, command) = if server.name == "payments" {
                (harden::harden(&s, &shipped).unwrap().text, format!("gauntlet harden {example} --server {0} -o {example}", server.name))
            } else {
                (hardened.text.clone(), format!("gauntlet harden --server {} -o {example}", server.name))
            };
            assert!(
                shipped == written,
                "{example} is not what `{command}` writes today: regenerate it and review the diff\n{}",
                gauntlet::harden::patch::diff(&example, &shipped, &written)
            );
        }
        std::fs::write(&file, &hardened.text).unwrap();
        let r = report(&[file.to_str().unwrap(), "--server", &server.name]);
        assert_eq!((r.summary.policy_findings, r.summary.over_blocking, r.summary.errors), (0, 0, 0), "{}", server.name);
        proves_all_but_proxy_matters(&server.name, &policy, &s.catalogue(), &reqs);
        // A server whose tools the requirements ask nothing of (one read-only query tool) holds nothing, rightly.
        held += r.summary.held;
    }
    assert!(held > 100, "only {held} held outcomes over every bundled server");
    assert_eq!(examples, 3, "the aksjah, ezbiz and payments examples were compared");
}

/// `gauntlet prove` of what harden wrote refutes no single-call requirement
/// a policy can keep: every refutation is a proxy matter. (Banking's daily
/// totals were refuted: its amounts are euros with cents, and each call's
/// fraction of a euro, uncounted by Intercept, added up past the cap until
/// harden capped the calls a day.)
fn proves_all_but_proxy_matters(server: &str, policy: &gauntlet::policy::model::Policy, catalogue: &[gauntlet::scenario::lint::ToolInfo], reqs: &Requirements) {
    use gauntlet::prove::{prove, ReplayCommand, Setup, Status};
    let engine = gauntlet::engine::Engine::new(std::sync::Arc::new(policy.clone()), Profile::Intercept);
    let s = Setup { engine: &engine, policy_file: "p.yaml", catalogue, reqs, seed: 1, replay: ReplayCommand { policy: "p.yaml".into(), strict: false } };
    let proofs = prove(&s);
    let policy_refuted: Vec<String> =
        proofs.iter().filter(|p| p.status == Status::Refuted && !p.proxy).map(|p| format!("{} {}: {}", p.tool, p.requirement, p.reason)).collect();
    assert_eq!(policy_refuted, Vec::<String>::new(), "{server}");
    assert!(proofs.iter().all(|p| p.status != Status::Unknown || !p.reason.is_empty()), "{server}");
    if server == "banking" {
        for tool in ["send_money", "schedule_transaction"] {
            let daily = proofs.iter().find(|p| p.tool == tool && p.requirement == "amount-per-window").unwrap();
            assert_eq!(daily.status, Status::Proved, "{tool}: {}", daily.reason);
            assert!(daily.reason.contains("rule `rate per day` admits 100 calls per window"), "{tool}: {}", daily.reason);
        }
    }
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
    // The input's comments and description are kept, marked as the input's: they describe the weak policy.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("# Written by `gauntlet harden` from examples/payments-weak.yaml"), "{text}");
    assert!(lines[2].starts_with("# Weak policy for the payments mock server"), "the input's comments are kept:\n{text}");
    assert!(text.contains("\ndescription: \"hardened by gauntlet from examples/payments-weak.yaml; the input's description: payments: weak\"\n"), "{text}");
    assert_eq!(run(&["validate", "--dialect", "intercept", out_s]).2, 0);
    let (stdout, _, code) = run(&["verify", out_s, "--server", "mock-servers/payments.yaml"]);
    assert_eq!(code, 0, "{stdout}");

    // PolicyLayer's format cannot check arguments: the strongest policy.json is built,
    // proven and written, and each requirement × tool it cannot meet is named
    // (proven against a few scenarios, to keep this quick).
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    for s in ["type-confusion", "window-edge-exec", "identity-switch", "unlisted-tool", "destructive-call"] {
        std::fs::copy(format!("scenarios/{s}.yaml"), scenarios.join(format!("{s}.yaml"))).unwrap();
    }
    let pl = |out: &std::path::Path, server: &str| {
        run(&[
            "harden",
            "--server",
            server,
            "--to",
            "policylayer",
            "--scenarios",
            scenarios.to_str().unwrap(),
            "--scenarios-only",
            "-o",
            out.to_str().unwrap(),
        ])
    };
    let json = dir.path().join("ezbiz.json");
    let (stdout, stderr, code) = pl(&json, "mock-servers/ezbiz.yaml");
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("the strongest policy gauntlet could build"), "{stdout}");
    assert!(stdout.contains("requirements policy.json cannot express (requirement × tool)"), "{stdout}");
    assert!(
        stdout.contains("≤0 schema-violating (`schema_validation`) × customer_persona: policy.json has no argument conditions"),
        "{stdout}"
    );
    // Only what the format lacks is left: no rate or default-deny finding is listed.
    assert!(!stdout.contains("BREACHED"), "{stdout}");
    let strongest = gauntlet::policy::load_file(&json, None).expect("the strongest policy.json is written").policy;
    assert_eq!(strongest.default, gauntlet::policy::model::DefaultAction::Deny);

    // With that requirement relaxed in the gauntlet.yaml beside the output, the same run writes
    // a policy.json that verifies clean, per-call limits counted for every caller.
    let relaxed = dir.path().join("relaxed");
    std::fs::create_dir(&relaxed).unwrap();
    std::fs::write(relaxed.join("gauntlet.yaml"), "schema_validation: false\n").unwrap();
    let json = relaxed.join("ezbiz.json");
    let (stdout, stderr, code) = pl(&json, "mock-servers/ezbiz.yaml");
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let written = gauntlet::policy::load_file(&json, None).unwrap().policy;
    assert_eq!((written.dialect, written.default), (Dialect::PolicyLayer, gauntlet::policy::model::DefaultAction::Deny));
    let persona = written.tool("customer_persona").expect("execute tools stay listed");
    let state = persona.rules[0].state.as_ref().expect("with a limit");
    assert_eq!((state.window, state.scope), (gauntlet::policy::model::Window::Minute, gauntlet::policy::model::CounterScope::Shared));
    let (stdout, _, code) = run(&[
        "verify",
        json.to_str().unwrap(),
        "--server",
        "mock-servers/ezbiz.yaml",
        "--scenarios",
        scenarios.to_str().unwrap(),
        "--scenarios-only",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("0 policy findings"), "{stdout}");

    let (_, stderr, code) = run(&["harden", "-o", out_s]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--server"), "{stderr}");
}

/// How these tests run harden: Intercept YAML for one server, the intercept profile, seed 1.
fn intercept_setup<'a>(file: String, server: &'a NamedServer, scenarios: &'a [Scenario], reqs: &'a Requirements) -> suggest::Setup<'a> {
    suggest::Setup {
        file,
        dialect: Dialect::Intercept,
        servers: std::slice::from_ref(server),
        scenarios,
        reqs,
        profile: Profile::Intercept,
        seed: 1,
        reproduce: "gauntlet verify".into(),
    }
}

/// `harden` of `policy` for one server under `reqs` (a gauntlet.yaml's text, laid over the baseline).
fn harden_with(server: &str, policy: &str, reqs: &str) -> harden::Hardened {
    let scenarios = setup::scenarios(&[], false, &[], false).unwrap();
    let server = setup::server(std::path::Path::new(server)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gauntlet.yaml"), reqs).unwrap();
    let reqs = Requirements::load(&dir.path().join("gauntlet.yaml")).unwrap();
    let s = intercept_setup("hardened.yaml".into(), &server, &scenarios, &reqs);
    harden::harden(&s, &std::fs::read_to_string(policy).unwrap()).unwrap()
}

/// A tool the user's policy allowed and the requirements deny is hidden
/// with its reason on the `hide` line and in the list of what was taken,
/// with the gauntlet.yaml edit that keeps it; that edit does keep it.
/// (On the workspace server `delete_message` was hidden without a word.)
#[test]
fn a_hidden_tool_the_policy_allowed_is_said_and_can_be_kept() {
    let h = harden_with("workspace", "examples/workspace/allow-all.yaml", "servers: [workspace]\n");
    assert!(h.meets());
    let line = h.text.lines().find(|l| l.trim_start().starts_with("- \"delete_message\"")).unwrap_or_else(|| panic!("{}", h.text));
    assert!(
        line.ends_with("# the built-in requirement denies destructive tools, though your policy allowed it; to keep it, set `tools: {delete_message: {denied: false}}` in gauntlet.yaml"),
        "{line}"
    );
    let taken: Vec<_> = h.edits.iter().filter_map(|e| e.taken()).collect();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].0, "`delete_message`");
    assert!(taken[0].1.starts_with("hidden: the built-in requirement denies destructive tools"), "{}", taken[0].1);
    // No rule harden wrote is empty: each has a condition, a limit or a counter.
    let policy = gauntlet::policy::load_intercept(&h.text).unwrap();
    assert!(policy.tools.iter().flat_map(|t| &t.rules).all(|r| r.action == gauntlet::policy::model::Action::Deny || !r.conditions.is_empty()), "{}", h.text);

    let kept = harden_with("workspace", "examples/workspace/allow-all.yaml", "tools:\n  delete_message: {denied: false}\n");
    assert!(!gauntlet::policy::load_intercept(&kept.text).unwrap().hides("delete_message"), "{}", kept.text);
}

/// The fetch user's `max_length` cap refuses every plain fetch, so harden
/// removes it; declared as a field legitimate calls send, it is kept.
#[test]
fn a_cap_on_an_optional_field_is_kept_when_the_workload_sends_it() {
    let declared = harden_with("tests/data/servers/fetch.yaml", "tests/data/policies/fetch.yaml", "tools:\n  fetch:\n    workload: {optional: [max_length]}\n");
    assert!(declared.meets(), "{}", declared.text);
    assert!(declared.text.contains("- {path: args.max_length, op: lte, value: 20000}"), "{}", declared.text);
    assert!(declared.edits.iter().all(|e| e.taken().is_none()), "{}", declared.text);
}

/// The careful-user policies for seven real servers (issue 20): `harden`
/// writes a policy for each that verifies with no policy finding and no
/// over-blocking (a plain fetch passes), sizes free text from the workload and
/// the byte budget (a 1,500-character commit message passes, where the user
/// capped it at 1,000), leaves a browser 10 actions a
/// minute, keeps the user's limits where they meet the requirement, and says
/// on each line it wrote where the number came from.
#[test]
fn harden_writes_a_clean_policy_for_each_real_server() {
    let scenarios = setup::scenarios(&[], false, &[], false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in ["fetch", "time", "git", "redis", "sqlite", "puppeteer", "gitlab"] {
        let server = setup::server(std::path::Path::new(&format!("tests/data/servers/{name}.yaml"))).unwrap();
        // git's team declared its workload: 4 branches and 6 commits a minute, 1,500-character messages.
        let reqs = match name {
            "git" => Requirements::load(std::path::Path::new("tests/data/requirements/git.yaml")).unwrap(),
            _ => Requirements::baseline(),
        };
        let file = dir.path().join(format!("{name}.yaml"));
        let s = intercept_setup(file.display().to_string(), &server, &scenarios, &reqs);
        let input = std::fs::read_to_string(format!("tests/data/policies/{name}.yaml")).unwrap();
        let hardened = harden::harden(&s, &input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let open: Vec<(&str, &str)> = hardened.open.iter().map(|o| (o.scenario.as_str(), o.tool.as_str())).collect();
        assert!(hardened.meets(), "{name}: open {open:?}, gaps {:?}", hardened.gaps);
        let summary = gauntlet::verify::Summary::of(&hardened.outcomes);
        assert_eq!((summary.policy_findings, summary.over_blocking, summary.errors), (0, 0, 0), "{name}");
        assert!(summary.held > 0, "{name}: nothing held");
        let text = &hardened.text;
        let policy = gauntlet::policy::load_intercept(text).unwrap_or_else(|e| panic!("{name}: Intercept refuses it: {e}\n{text}"));
        // Each line harden added or changed that carries a number says where it came from.
        for line in text.lines().filter(|l| !input.lines().any(|i| i == *l)) {
            if line.contains("rate_limit:") || line.contains("op: regex, value: \"(?s)^.{") {
                assert!(line.contains("  # "), "{name}: no reason written beside `{line}`");
            }
        }
        // The blanket 1,000-character cap is gone: no written cap is that short without a schema saying so.
        assert!(!text.contains("\"(?s)^.{0,1000}$\""), "{name}: a blanket 1000-character cap\n{text}");
        let engine = gauntlet::engine::Engine::new(std::sync::Arc::new(policy.clone()), Profile::Intercept);
        let admits = |tool: &str, args: serde_json::Value| {
            let serde_json::Value::Object(m) = args else { unreachable!() };
            engine.admission().tool(tool).admits(Some(&m)).unwrap_or_else(|e| panic!("{name}: {e:?}"))
        };
        match name {
            "git" => {
                // `repo_path`'s allowlist is the user's own `"*"` rule (`eq /srv/app`), which every call
                // passes: no tool gets a second check of it (harden wrote `in ["/srv/app"]` on four).
                let checks: Vec<&str> = text.lines().filter(|l| l.contains("path: args.repo_path")).map(str::trim).collect();
                assert_eq!(checks, ["- {path: args.repo_path, op: eq, value: \"/srv/app\"}"], "{text}");
                // The team's 1,500-character messages pass the written cap (the user's was 1,000).
                let commit = serde_json::json!({"repo_path": "/srv/app", "message": "m".repeat(1500)});
                assert!(admits("git_commit", commit), "a 1,500-character commit message passes:\n{text}");
                std::fs::write(&file, text).unwrap();
                let r = report(&[file.to_str().unwrap(), "--server", "tests/data/servers/git.yaml", "--requirements", "tests/data/requirements/git.yaml"]);
                assert_eq!((r.summary.policy_findings, r.summary.over_blocking), (0, 0), "verify agrees on git");
                // Judged, not skipped: git_commit's twins followed the declared workload (its
                // 1,500-character messages, as `real_servers::` shows on the user's policy), all of it reached.
                let twins: Vec<_> = r.outcomes.iter().filter_map(|o| o.twin.as_ref()).filter(|t| t.tool == "git_commit").collect();
                assert!(!twins.is_empty(), "git_commit has benign twins");
                for t in twins {
                    assert!(t.attempted > 0 && t.reached == t.attempted, "{t:?}");
                    assert!(t.workload.contains("declared in gauntlet.yaml"), "{}", t.workload);
                }
            }
            "fetch" => {
                assert!(admits("fetch", serde_json::json!({"url": "https://example.com/"})), "a plain fetch passes:\n{text}");
                // The cap that refused it is gone, and the file says so where it was, with both ways to keep a bound.
                let left = text.lines().find(|l| l.trim_start().starts_with("# removed `args.max_length lte 20000` of rule `page size cap`"));
                let left = left.unwrap_or_else(|| panic!("no trace of the removed cap:\n{text}"));
                assert!(left.contains("`tools: {fetch: {workload: {optional: [max_length]}}}`") && left.contains("default (5000)"), "{left}");
                let taken: Vec<_> = hardened.edits.iter().filter_map(|e| e.taken()).collect();
                assert_eq!(taken.len(), 1, "{taken:?}");
                assert!(text.contains("where `url` may go (assumed: a stand-in value; no allowlist in gauntlet.yaml)"), "{text}");
            }
            "puppeteer" => {
                let click = policy.tool("puppeteer_click").unwrap();
                let limits: Vec<i64> = click.rules.iter().filter_map(|r| r.rate_limit.as_ref().map(|l| l.max)).collect();
                assert_eq!(limits, [10], "a browser keeps 10 clicks a minute (the execute requirement per calendar minute)");
                assert!(text.contains("hide: [puppeteer_evaluate]"), "{text}");
                // Nothing is written for a hidden tool.
                assert!(policy.tool("puppeteer_evaluate").is_none(), "{text}");
            }
            "redis" => {
                // The user's `^app:` prefix stays where it decides a required field.
                assert!(!admits("set", serde_json::json!({"key": "other:1", "value": "v"})), "{text}");
                assert!(admits("set", serde_json::json!({"key": "app:1", "value": "v"})), "{text}");
            }
            _ => {}
        }
    }
}

/// Under `--profile strict` a resource read or prompt get is refused unless
/// an entry named by its method governs it, so a hardened policy without
/// such entries refused every resource and prompt (19 over-blocking on the
/// workspace requirements). harden writes the gates: exactly the listed items
/// the requirements permit, the surface's rate, and no list entry where
/// something is hidden; the side doors hold under strict with nothing
/// over-blocked, and stay proxy findings under Intercept, which ignores them.
#[test]
fn a_hardened_policy_gates_resources_and_prompts_under_strict() {
    let reqs = "examples/workspace/gauntlet.yaml";
    let h = harden_with("workspace", "examples/workspace/allow-all.yaml", &std::fs::read_to_string(reqs).unwrap());
    assert!(h.meets(), "{}", h.text);
    let policy = gauntlet::policy::load_intercept(&h.text).unwrap();
    let read = policy.tool("resources/read").unwrap_or_else(|| panic!("{}", h.text));
    let listed = &read.rules[0].conditions[0];
    // The denied `/etc` files and the hidden mailbox are not on the list: only the agent's own notes.
    assert_eq!(listed.value, gauntlet::policy::model::Value::Seq(vec![gauntlet::policy::model::Value::Str("file:///home/agent/notes.md".into())]));
    assert_eq!(read.rules[1].rate_limit.as_ref().map(|r| r.max), Some(15), "≤30 per sliding minute is 15 per calendar minute");
    assert!(policy.tool("prompts/get").is_some());
    // Something is hidden on both surfaces, and a list answer is not filtered: both lists stay refused.
    assert!(policy.tool("resources/list").is_none() && policy.tool("prompts/list").is_none(), "{}", h.text);
    assert!(h.gaps.iter().any(|g| g.starts_with("`resources/list`: no entry")), "{:?}", h.gaps);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("workspace.yaml");
    std::fs::write(&file, &h.text).unwrap();
    let f = file.to_str().unwrap();
    let side_doors = |r: &Report| -> Vec<Outcome> {
        r.outcomes.iter().filter(|o| o.scenario.starts_with("resource-") || o.scenario.starts_with("prompt-")).cloned().collect()
    };
    let strict = report(&[f, "--server", "workspace", "--requirements", reqs, "--profile", "strict"]);
    assert_eq!((strict.summary.policy_findings, strict.summary.over_blocking, strict.summary.errors), (0, 0, 0));
    let doors = side_doors(&strict);
    assert_eq!(doors.iter().filter(|o| o.verdict == Verdict::Held).count(), 19, "{doors:#?}");
    assert!(doors.iter().all(|o| matches!(o.verdict, Verdict::Held | Verdict::NotApplicable)), "{doors:#?}");
    // The one resource the agent may read was read, up to the limit.
    assert_eq!(find(&strict, "resource-read-rate", "file:///home/agent/notes.md").reached, 15);
    let intercept = report(&[f, "--server", "workspace", "--requirements", reqs]);
    let breached: Vec<_> = side_doors(&intercept).into_iter().filter(|o| o.verdict == Verdict::Breached).collect();
    assert!(!breached.is_empty() && breached.iter().all(|o| o.finding == Some(gauntlet::verify::Finding::Proxy)), "{breached:#?}");

    // With no `resources:` or `prompts:` asked, every listed item and both lists are admitted.
    let everything = harden_with("everything", "examples/everything-policy.yaml", "servers: [everything]\n");
    let policy = gauntlet::policy::load_intercept(&everything.text).unwrap();
    for m in ["resources/read", "resources/list", "prompts/get", "prompts/list"] {
        assert!(policy.tool(m).is_some(), "{m}:\n{}", everything.text);
    }
    let file = dir.path().join("everything.yaml");
    std::fs::write(&file, &everything.text).unwrap();
    let r = report(&[file.to_str().unwrap(), "--server", "everything", "--profile", "strict"]);
    assert_eq!((r.summary.policy_findings, r.summary.over_blocking, r.summary.errors), (0, 0, 0));
    let engine = gauntlet::engine::Engine::new(std::sync::Arc::new(policy), Profile::Strict);
    let admits = |uri: &str| {
        let args = serde_json::json!({"uri": uri});
        engine.admission().tool("resources/read").admits(args.as_object()).unwrap()
    };
    assert!(admits("demo://resource/static/document/features.md"));
    assert!(!admits("DEMO://resource/static/document/features.md") && !admits("demo://resource/static/document/./features.md"));
}
