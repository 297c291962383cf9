//! The authoring and verification CLIs as a user runs them: `gauntlet
//! scenario new/lint/list` and `gauntlet verify` with `--only`, snapshots,
//! report formats and the could-not-run exits.

use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

fn gauntlet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CI")
        .env_remove("TF_BUILD")
        .output()
        .expect("the gauntlet binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// A temp dir holding the skeleton scenario `my-attack`.
fn with_skeleton() -> TempDir {
    let dir = TempDir::new().unwrap();
    let o = gauntlet(&["scenario", "new", "my-attack", "--dir", path(dir.path())]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("my-attack.yaml"), "{}", stdout(&o));
    dir
}

#[test]
fn new_skeleton_lints_clean() {
    let dir = with_skeleton();
    let o = gauntlet(&["scenario", "lint", path(dir.path())]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), format!("{}: every scenario is valid\n", dir.path().display()));
    let again = gauntlet(&["scenario", "new", "my-attack", "--dir", path(dir.path())]);
    assert_eq!(code(&again), 2, "overwrote an existing scenario");
}

#[test]
fn broken_scenarios_are_positioned_and_fail_the_lint() {
    let dir = with_skeleton();
    let skeleton = std::fs::read_to_string(dir.path().join("my-attack.yaml")).unwrap();
    let variant = |id: &str, from: &str, to: &str| {
        assert!(skeleton.contains(from), "the skeleton no longer contains `{from}`");
        let text = skeleton.replace("id: my-attack", &format!("id: {id}")).replacen(from, to, 1);
        std::fs::write(dir.path().join(format!("{id}.yaml")), text).unwrap();
    };
    variant("bad-key", "  steps:", "  stepz:");
    variant("bad-target", "risk: [write]  ", "tools: [\"no_such_tool\"]");
    variant("bad-duration", "over: 1m", "over: 5 minutes");
    let o = gauntlet(&["scenario", "lint", path(dir.path())]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let d = dir.path().display();
    let expected = format!(
        "{d}/bad-duration.yaml:16:7: agent.steps[0]: invalid duration unit ` minutes` in `5 minutes`: use ms, s, m, h or d\n\
         {d}/bad-key.yaml:14:3: agent: unknown field `stepz`, expected `steps` or `random`\n  \
         help: see scenarios/scenario.schema.json for the keys each section accepts\n\
         {d}/bad-target.yaml:12:3: target tool `no_such_tool` is not a tool of any mock server\n  \
         help: check the spelling against `mock-servers/*.yaml`, or target by `risk:` instead\n\
         3 problem(s)\n"
    );
    assert_eq!(stdout(&o), expected);
}

#[test]
fn list_shows_every_scenario_of_the_database() {
    let o = gauntlet(&["scenario", "list"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            ids.push(p.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(ids.len() >= 30, "the database shrank to {}", ids.len());
    for id in &ids {
        assert!(out.lines().any(|l| l.split_whitespace().next() == Some(id)), "`{id}` missing from:\n{out}");
    }
    assert!(out.ends_with(&format!("{} scenarios\n", ids.len())), "{out}");
}

#[test]
fn only_runs_just_the_new_scenario() {
    let dir = with_skeleton();
    let o = gauntlet(&[
        "verify",
        "examples/aksjah-hardened.yaml",
        "--only",
        "my-attack",
        "--scenarios",
        path(dir.path()),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
    let outcomes = v["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 2, "one outcome per aksjah write tool");
    for o in outcomes {
        assert_eq!(o["scenario"], "my-attack");
        assert_eq!(o["verdict"], "held");
        // 15 per calendar minute: the 100 calls over one minute are cut to 15.
        assert_eq!((o["attempted"].as_u64(), o["reached"].as_u64()), (Some(100), Some(15)));
    }
    let unknown = gauntlet(&["verify", "examples/aksjah-hardened.yaml", "--only", "nope", "--scenarios", path(dir.path())]);
    assert_eq!(code(&unknown), 2);
    assert!(stderr(&unknown).contains("no scenario `nope`"), "{}", stderr(&unknown));
}

#[test]
fn snapshot_names_the_weaker_outcome_and_accept_makes_it_the_baseline() {
    let dir = TempDir::new().unwrap();
    let hardened = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aksjah-hardened.yaml")).unwrap();
    assert!(hardened.contains("rate_limit: 15/minute"));
    let loose = dir.path().join("loose.yaml");
    std::fs::write(&loose, hardened.replace("rate_limit: 15/minute", "rate_limit: 200/minute")).unwrap();
    let snap = dir.path().join("snaps/aksjah.snap");
    let run = |policy: &str, accept: bool| {
        let mut a = vec!["verify", policy, "--only", "bulk-write-burst", "--snapshot", path(&snap)];
        if accept {
            a.push("--accept");
        }
        gauntlet(&a)
    };
    let first = run("examples/aksjah-hardened.yaml", true);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(snap.is_file());
    let weaker = run(path(&loose), false);
    assert_eq!(code(&weaker), 1, "{}", stderr(&weaker));
    let err = stderr(&weaker);
    assert!(err.contains("WEAKER (more got through):"), "{err}");
    assert!(err.contains("  bulk-write-burst × WizCommerce Open API_PostCustomers (aksjah)\n    was: held, reached 15 of 200"), "{err}");
    assert!(err.contains("    now: breached (policy), reached 200 of 200"), "{err}");
    assert!(!err.contains("STRONGER"), "{err}");
    let accepted = run(path(&loose), true);
    assert_eq!(code(&accepted), 0, "{}", stderr(&accepted));
    let again = run(path(&loose), false);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(stderr(&again).contains("no change from the accepted verdicts"), "{}", stderr(&again));
}

/// The weak policy fails the run; every machine format is still written, and parses.
#[test]
fn machine_formats_are_written_even_when_the_run_fails() {
    let base = ["verify", "examples/aksjah-weak.yaml", "--only", "bulk-write-burst", "--only", "destructive-call", "--format"];
    let run = |format: &str| {
        let mut a = base.to_vec();
        a.push(format);
        let o = gauntlet(&a);
        assert_eq!(code(&o), 1, "{format}: {}", stderr(&o));
        stdout(&o)
    };

    let v: serde_json::Value = serde_json::from_str(&run("json")).expect("the JSON report parses");
    let outcomes = v["outcomes"].as_array().unwrap();
    let breached = outcomes.iter().filter(|o| o["verdict"] == "breached").count();
    assert!(breached >= 3, "{v}");
    assert_eq!(v["summary"]["total"].as_u64(), Some(outcomes.len() as u64));
    assert_eq!(v["summary"]["breached"].as_u64(), Some(breached as u64));

    let xml = run("junit");
    assert!(xml.starts_with("<?xml"), "{xml}");
    let attr = |tag: &str, name: &str| -> u64 {
        let start = xml.find(&format!("<{tag} ")).unwrap_or_else(|| panic!("no <{tag}>"));
        let rest = &xml[start..];
        let at = rest.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("no {name} on <{tag}>")) + name.len() + 3;
        rest[at..rest[at..].find('"').unwrap() + at].parse().unwrap()
    };
    assert_eq!(attr("testsuites", "tests"), outcomes.len() as u64);
    assert_eq!(attr("testsuites", "failures"), breached as u64);
    assert_eq!(xml.matches("<testcase ").count(), outcomes.len());
    assert_eq!(xml.matches("<failure ").count(), breached);
    assert_eq!(xml.matches("<testsuite ").count(), xml.matches("</testsuite>").count());

    let md = run("markdown");
    assert!(md.starts_with("### gauntlet verify `examples/aksjah-weak.yaml`"), "{md}");
    let rows = md.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(rows, outcomes.len(), "{md}");
    assert!(md.matches("BREACHED").count() >= breached, "{md}");
}

/// Runs `args`, expects exit 2, no report, and `expected` on stderr.
fn could_not_run(args: &[&str], expected: &str) {
    let o = gauntlet(args);
    assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    assert!(stderr(&o).contains(expected), "{args:?}: expected `{expected}` in:\n{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{args:?}: a report was printed for a run that could not start");
}

#[test]
fn could_not_run_is_exit_2_with_a_clear_message() {
    let dir = TempDir::new().unwrap();
    could_not_run(
        &["verify", "examples/no-such-policy.yaml"],
        "examples/no-such-policy.yaml: cannot read the policy file",
    );

    let no_dir = dir.path().join("absent");
    could_not_run(
        &["verify", "examples/aksjah-hardened.yaml", "--scenarios", path(&no_dir)],
        &format!("error: {}:1:1: cannot read scenario directory", no_dir.display()),
    );

    let broken_db = dir.path().join("db");
    std::fs::create_dir(&broken_db).unwrap();
    std::fs::write(broken_db.join("x.yaml"), "id: x\ntitle: t\nclass: bulk-writes\nbogus: 1\n").unwrap();
    could_not_run(
        &["verify", "examples/aksjah-hardened.yaml", "--scenarios", path(&broken_db)],
        &format!("{}/x.yaml:4:1: unknown field `bogus`", broken_db.display()),
    );

    let server = dir.path().join("server.yaml");
    std::fs::write(&server, "name: x\n").unwrap();
    could_not_run(
        &["verify", "examples/aksjah-hardened.yaml", "--server", path(&server)],
        &format!("error: {}:1:1: missing field `version`", server.display()),
    );
}

/// One run writes every `-o FORMAT=PATH`; stdout keeps its own format and verbosity.
#[test]
fn one_run_writes_many_reports_and_quiet_prints_only_the_summary() {
    let dir = TempDir::new().unwrap();
    let file = |name: &str| dir.path().join(name);
    let o = gauntlet(&[
        "verify",
        "examples/aksjah-weak.yaml",
        "--only",
        "bulk-write-burst",
        "-q",
        "-o",
        &format!("json={}", path(&file("r.json"))),
        "-o",
        &format!("junit={}", path(&file("r.xml"))),
        "--output",
        &format!("table={}", path(&file("r.txt"))),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("2 outcomes: "), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file("r.json")).unwrap()).unwrap();
    assert_eq!(v["outcomes"].as_array().map(Vec::len), Some(2));
    assert!(std::fs::read_to_string(file("r.xml")).unwrap().starts_with("<?xml"));
    // A file gets the normal view, without colour, whatever stdout got.
    let table = std::fs::read_to_string(file("r.txt")).unwrap();
    assert!(table.contains("Policy findings (") && !table.contains('\x1b'), "{table}");

    let bad = gauntlet(&["verify", "examples/aksjah-weak.yaml", "-o", "pdf=x.pdf"]);
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("unknown report format `pdf`"), "{}", stderr(&bad));
}

/// Colour only on request when piped; `--color always` wins over NO_COLOR; commands are shell-quoted.
#[test]
fn colour_and_quoted_commands() {
    let dir = TempDir::new().unwrap();
    let spaced = dir.path().join("my policy.yaml");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aksjah-weak.yaml"), &spaced).unwrap();
    let run = |extra: &[&str], no_color: bool| {
        let mut a = vec!["verify", path(&spaced), "--only", "bulk-write-burst"];
        a.extend_from_slice(extra);
        let mut c = Command::new(env!("CARGO_BIN_EXE_gauntlet"));
        c.args(&a).current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("CI");
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        stdout(&c.output().unwrap())
    };
    let piped = run(&[], false);
    assert!(!piped.contains('\x1b'), "{piped}");
    assert!(piped.contains(&format!("Reproduce: gauntlet verify '{}' --only SCENARIO --seed 1", spaced.display())), "{piped}");
    assert!(piped.lines().all(|l| l.chars().count() <= 100), "{piped}");
    assert!(run(&["--color", "always"], true).contains("\x1b["));
    assert!(!run(&["--color", "never"], false).contains('\x1b'));
}
