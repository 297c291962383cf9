//! The authoring and verification CLIs as a user runs them: `gauntlet
//! scenario new/lint/list` and `gauntlet verify` with `--only`, snapshots,
//! report formats and the could-not-run exits.

use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

fn gauntlet(args: &[&str]) -> Output {
    gauntlet_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Runs the built binary in `dir`, as a user would run the installed one.
fn gauntlet_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("TF_BUILD")
        .output()
        .expect("the gauntlet binary runs")
}

/// The repository file `rel`, as an absolute path.
fn repo(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel).display().to_string()
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

/// `scenario new` in an empty directory, as a user with only the installed binary runs it:
/// the schema the skeleton names is written beside it, and the printed command runs it.
#[test]
fn scenario_new_works_from_an_empty_directory_with_only_the_binary() {
    let dir = TempDir::new().unwrap();
    let here = dir.path();
    std::fs::copy(repo("examples/aksjah-hardened.yaml"), here.join("policy.yaml")).unwrap();
    let o = gauntlet_in(here, &["scenario", "new", "bulk-refunds", "--dir", "attacks"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let text = std::fs::read_to_string(here.join("attacks/bulk-refunds.yaml")).unwrap();
    let named = text.lines().next().and_then(|l| l.strip_prefix("# yaml-language-server: $schema=")).expect("a schema line");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(here.join("attacks").join(named)).unwrap()).unwrap();
    assert_eq!(schema["$schema"].as_str().map(|s| s.contains("json-schema.org")), Some(true));
    let written = std::fs::read_to_string(here.join("attacks").join(named)).unwrap();
    assert_eq!(stdout(&gauntlet_in(here, &["scenario", "schema"])), written, "`scenario schema` prints what `new` wrote");
    // The printed command and the one in the file's header both run the new scenario.
    assert!(out.lines().all(|l| l.chars().count() <= 100), "wider than 100 columns:\n{out}");
    let printed = out.lines().filter_map(|l| l.strip_prefix("  ")).find(|c| c.contains(" verify ")).expect("a run command").to_string();
    let in_file = text.lines().nth(2).and_then(|l| l.strip_prefix("#   ")).expect("the header's run command").to_string();
    assert_eq!(printed, in_file);
    assert!(printed.contains("--scenarios attacks --only bulk-refunds"), "{printed}");
    let argv: Vec<String> = shlex::split(&printed.replace("POLICY", "policy.yaml")).unwrap();
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let o = gauntlet_in(here, &[&args[..], &["--format", "json"]].concat());
    assert_eq!(code(&o), 0, "{printed}: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["outcomes"].as_array().unwrap().iter().all(|o| o["scenario"] == "bulk-refunds"), "{v}");
}

/// A scenario for a recorded server: lint fails against the bundled servers and passes
/// with `--server FILE`, as `verify --server FILE` runs it.
#[test]
fn lint_checks_targets_against_the_server_given() {
    let dir = TempDir::new().unwrap();
    let server = dir.path().join("git.yaml");
    std::fs::write(
        &server,
        "name: git\nversion: \"1\"\ntools:\n  - name: git_reset\n    description: reset\n    inputSchema: {type: object}\n    risk: destructive\n",
    )
    .unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    std::fs::write(
        db.join("no-reset.yaml"),
        "id: no-reset\ntitle: No reset\nclass: destructive-call\ntargets: {tools: [git_reset]}\nagent:\n  steps:\n    - calls: 1\nexpect:\n  never_reached: true\n",
    )
    .unwrap();
    let o = gauntlet(&["scenario", "lint", path(&db)]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("`git_reset` is not a tool of any server in play"), "{}", stdout(&o));
    let o = gauntlet(&["scenario", "lint", path(&db), "--server", path(&server)]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("every scenario is valid (targets checked against git)"), "{}", stdout(&o));
    // An empty directory is not "every scenario is valid".
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = gauntlet(&["scenario", "lint", path(&empty)]);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(stderr(&o).contains("holds no scenario file"), "{}", stderr(&o));
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
         {d}/bad-key.yaml:14:3: agent: unknown field `stepz`, expected one of `steps`, `random`, `list_on_open`\n  \
         help: `gauntlet scenario schema` prints the keys each section accepts\n\
         {d}/bad-target.yaml:12:3: target tool `no_such_tool` is not a tool of any server in play\n  \
         help: lint against the server it is for with `--server FILE` (or NAME), or target by `risk:` instead\n\
         3 problems in 3 files\n"
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
    assert!(md.starts_with("### ❌ gauntlet verify `examples/aksjah-weak.yaml`"), "{md}");
    // One findings row per breach, one held row per held outcome (in <details>).
    // Each findings row leads with its severity.
    let severities = ["| critical |", "| high |", "| medium |", "| low |"];
    let finding_rows = md.lines().filter(|l| severities.iter().any(|s| l.starts_with(s)) && l.contains("| BREACHED")).count();
    assert_eq!(finding_rows, breached, "{md}");
    let held = outcomes.iter().filter(|o| o["verdict"] == "held").count();
    assert_eq!(md.lines().filter(|l| l.contains("| `aksjah:")).count(), breached + held, "{md}");
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

    // A prediction of another proxy than the command runs is refused, naming the flag to add.
    could_not_run(
        &["verify", "examples/aksjah-hardened.yaml", "--proxy-command", "gauntlet proxy {policy} --state-fail-mode open -- {upstream}", "--compare-embedded"],
        "the proxy command runs with `--state-fail-mode open` and the embedded proxy would run with `--state-fail-mode closed`",
    );
    could_not_run(
        &["verify", "examples/aksjah-hardened.yaml", "--proxy-command", "gauntlet proxy {policy} --profile=strict -- {upstream}", "--compare-embedded"],
        "help: give verify `--profile strict` too",
    );

    // Typos get the name they were meant to be.
    could_not_run(&["verify", "examples/aksjah-weak.yaml", "--only", "bulk-write-brust"], "did you mean `bulk-write-burst`?");
    could_not_run(&["verify", "examples/aksjah-weak.yaml", "--server", "githb"], "did you mean `github`?");
    let o = gauntlet_in(dir.path(), &["verify", &repo("examples/aksjah-weak.yaml"), "--server", "severr"]);
    assert!(stderr(&o).contains("did you mean `server.yaml`?"), "a server file here: {}", stderr(&o));
    // The seed is said by runs that start, not before every error.
    for argv in [&["verify", "examples/no-such-policy.yaml"][..], &["verify", "examples/aksjah-weak.yaml", "--only", "nope"][..]] {
        let o = gauntlet(argv);
        assert_eq!(code(&o), 2);
        assert!(!stderr(&o).contains("seed"), "{argv:?}: {}", stderr(&o));
    }
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
    // The summary lines only (README: `-q` prints only the summary); coverage is the table's.
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.starts_with("findings by severity: 0 critical, 2 high, 0 medium, 0 low\n2 outcomes: "), "{out}");
    assert!(!out.contains("coverage"), "{out}");
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
    let program = gauntlet::invocation::quote(env!("CARGO_BIN_EXE_gauntlet"));
    // The binary's path makes the command long enough to wrap at 100 columns.
    let unwrapped = piped.replace("\n  ", " ");
    assert!(unwrapped.contains(&format!("Reproduce: {program} verify '{}' --only SCENARIO --seed 1", spaced.display())), "{piped}");
    assert!(piped.lines().all(|l| l.chars().count() <= 100), "{piped}");
    assert!(run(&["--color", "always"], true).contains("\x1b["));
    assert!(!run(&["--color", "never"], false).contains('\x1b'));
}

/// The ids of `scenarios/*.yaml` in the source tree: what the binary must carry.
fn source_scenario_ids() -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(repo("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn the_binary_carries_its_database_and_servers_into_an_empty_directory() {
    let dir = TempDir::new().unwrap();
    let here = dir.path();
    std::fs::copy(repo("examples/aksjah-hardened.yaml"), here.join("policy.yaml")).unwrap();

    // verify with no flags: the built-in database and the bundled server the policy names.
    let o = gauntlet_in(here, &["verify", "policy.yaml", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
    assert_eq!(v["servers"], serde_json::json!(["aksjah"]));
    assert_eq!(v["scenarios"].as_u64(), Some(source_scenario_ids().len() as u64));
    assert!(v["summary"]["held"].as_u64().unwrap() > 10, "{v}");

    // scenario list: every source scenario, each marked built-in; a local directory adds to it.
    let o = gauntlet_in(here, &["scenario", "list"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let listed: Vec<(&str, bool)> = out
        .lines()
        .skip(1)
        .filter(|l| !l.ends_with(" scenarios"))
        .map(|l| (l.split_whitespace().next().unwrap(), l.split_whitespace().nth(3) == Some("built-in")))
        .collect();
    assert_eq!(listed.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>(), source_scenario_ids(), "{out}");
    assert!(listed.iter().all(|(_, b)| *b), "{out}");
    let o = gauntlet_in(here, &["scenario", "new", "my-attack"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = gauntlet_in(here, &["scenario", "list", "scenarios"]);
    let mine = stdout(&o).lines().find(|l| l.starts_with("my-attack ")).map(str::to_string);
    assert!(mine.as_deref().is_some_and(|l| l.contains("scenarios/my-attack.yaml")), "{}", stdout(&o));
    assert!(stdout(&o).ends_with(&format!("{} scenarios\n", source_scenario_ids().len() + 1)), "{}", stdout(&o));

    // mock NAME: a bundled server answers MCP on stdio.
    let mut child = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["mock", "payments"])
        .current_dir(here)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
        writeln!(stdin, "{init}").unwrap();
        writeln!(stdin, r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#).unwrap();
        writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list"}}"#).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let listed = stdout(&o).lines().find(|l| l.contains(r#""id":2"#)).map(str::to_string).unwrap_or_default();
    assert!(listed.contains("create_charge"), "{}", stdout(&o));

    // A path that does not exist is not mistaken for a bundled name, and the reverse.
    let o = gauntlet_in(here, &["mock", "mock-servers/payments.yaml"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("cannot read the server file"), "{}", stderr(&o));
    let o = gauntlet_in(here, &["verify", "policy.yaml", "--server", "paymnts"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no bundled server of that name"), "{}", stderr(&o));
    assert!(stderr(&o).contains("bundled servers: aksjah, "), "{}", stderr(&o));
}

#[test]
fn printed_commands_name_the_binary_as_invoked() {
    let dir = TempDir::new().unwrap();
    let spaced = dir.path().join("my policies");
    std::fs::create_dir(&spaced).unwrap();
    std::fs::copy(repo("examples/aksjah-weak.yaml"), spaced.join("weak.yaml")).unwrap();
    let o = gauntlet_in(dir.path(), &["verify", "my policies/weak.yaml", "--server", "aksjah", "--only", "bulk-write-burst", "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
    let cmd = v["outcomes"][0]["reproduce"].as_str().unwrap_or_default().to_string();
    let expected = format!("{} verify 'my policies/weak.yaml' --server aksjah --only bulk-write-burst --seed 1", gauntlet::invocation::quote(env!("CARGO_BIN_EXE_gauntlet")));
    assert_eq!(cmd, expected);
}

/// Runs `args` in the repository, expects exit 2 with `expected` on stderr.
fn vacuous(args: &[&str], expected: &str) -> Output {
    let o = gauntlet(args);
    assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    assert!(stderr(&o).contains(expected), "{args:?}: expected `{expected}` in:\n{}", stderr(&o));
    o
}

#[test]
fn a_run_that_tests_nothing_is_exit_2_unless_allowed() {
    let dir = TempDir::new().unwrap();
    // A policy for some other server against the payments server: no shared tool, so no
    // verdicts on `create_charge`; and no bundled server has its tool either.
    let github = dir.path().join("github.yaml");
    std::fs::write(
        &github,
        "version: \"1\"\ndescription: widgets\ntools:\n  create_widget:\n    rules:\n      - name: cap\n        rate_limit: 5/minute\n",
    )
    .unwrap();
    let o = vacuous(&["verify", path(&github), "--server", "payments"], "the policy and the server share no tool");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert!(stderr(&o).contains("`payments` (4 tools)"), "{}", stderr(&o));
    vacuous(&["verify", path(&github)], "it names no tool of any bundled mock server (aksjah, ");
    let o = gauntlet(&["verify", path(&github), "--server", "payments", "--allow-empty", "--only", "negative-amount", "--format", "json"]);
    assert_ne!(code(&o), 2, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
    assert_eq!(v["servers"], serde_json::json!(["payments"]));

    // An empty or mistyped --scenarios directory adds nothing: said, not silent, with the
    // built-in database too; with --scenarios-only the database is then empty.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for only in [&[][..], &["--scenarios-only"][..]] {
        let argv = [&["verify", "examples/aksjah-hardened.yaml", "--scenarios", path(&empty)][..], only].concat();
        let o = vacuous(&argv, "holds no scenario file (*.yaml), so it adds nothing");
        assert!(stdout(&o).is_empty());
        assert!(!stderr(&o).contains("seed"), "no seed before a run that did not start: {}", stderr(&o));
    }
    let o = gauntlet(&["verify", "examples/aksjah-hardened.yaml", "--scenarios", path(&empty), "--scenarios-only", "--allow-empty"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: `--scenarios"), "{}", stderr(&o));
    assert!(stdout(&o).contains("0 outcomes"), "{}", stdout(&o));

    // Every outcome not applicable: the report is printed, then exit 2.
    let only_na = ["verify", "examples/aksjah-weak.yaml", "--only", "extra-fields", "--only", "spend-split"];
    let o = vacuous(&only_na, "every outcome is not applicable");
    assert!(stdout(&o).contains("not applicable"), "{}", stdout(&o));
    let o = gauntlet(&[&only_na[..], &["--allow-empty"]].concat());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// The default terminal report stays within its line budget on the biggest bundled server
/// (github, 26 tools) under a policy that stops nothing, with the scenarios that list every
/// tool: over a hundred findings, and what does not fit is counted for `-v`.
#[test]
fn the_default_report_is_bounded_on_the_biggest_bundled_server() {
    let dir = TempDir::new().unwrap();
    let policy = dir.path().join("allow-all.yaml");
    std::fs::write(&policy, "version: \"1\"\ndefault: allow\ntools: {}\n").unwrap();
    let mut argv = vec!["verify", path(&policy), "--server", "github", "--allow-empty"];
    for id in ["bulk-write-burst", "malformed-arguments", "missing-required-fields", "type-confusion", "extra-fields", "rug-pull", "oversized-payload"] {
        argv.extend(["--only", id]);
    }
    let run = gauntlet(&argv);
    assert_eq!(code(&run), 1, "{}", stderr(&run));
    let text = stdout(&run);
    let findings: usize = regex::Regex::new(r"(\d+) policy\s+findings").unwrap().captures(&text).expect("a summary")[1].parse().unwrap();
    assert!(findings > 100, "too small a run to test the bound: {text}");
    assert!(text.lines().count() <= gauntlet::report::table::BUDGET, "{} lines:\n{text}", text.lines().count());
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    assert!(text.contains(" more places (-v lists each)"), "{text}");
}

/// The banking server's three payment tools take amounts in currency units and
/// are held to the baseline's converted caps: one warning names them all, and
/// stderr too stays within 100 columns (it was three 300-column lines).
#[test]
fn tools_held_to_the_same_converted_caps_share_one_warning_within_the_width() {
    let dir = TempDir::new().unwrap();
    let policy = dir.path().join("allow-all.yaml");
    std::fs::write(&policy, "version: \"1\"\ntools: {}\n").unwrap();
    let run = gauntlet(&["verify", path(&policy), "--server", "banking", "--only", "spend-cap"]);
    let err = stderr(&run);
    assert_eq!(err.matches("warning: ").count(), 1, "{err}");
    let warning = err.split("warning: ").nth(1).unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
    for tool in ["send_money", "schedule_transaction", "update_scheduled_transaction"] {
        assert!(warning.contains(&format!("`{tool}`")), "{tool} is not named: {err}");
    }
    assert!(warning.contains("take `amount` in currency units") && warning.contains("500.00 per call, 2000.00 per 1d"), "{err}");
    assert!(err.lines().all(|l| l.chars().count() <= 100), "{err}");
}

/// The weakest policy there is (`tools: {}`: allow everything) with an explicit `--server`
/// is what must breach, not a run refused as testing nothing; a `"*"`-only policy too. The
/// vacuity guard is for a policy written for another server.
#[test]
fn the_weakest_policy_verifies_against_a_named_server() {
    let dir = TempDir::new().unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "version: \"1\"\ntools: {}\n").unwrap();
    let star = dir.path().join("star.yaml");
    std::fs::write(&star, "version: \"1\"\ntools:\n  \"*\":\n    rules:\n      - name: all\n        rate_limit: 1000/minute\n").unwrap();
    for policy in [&empty, &star] {
        let o = gauntlet(&["verify", path(policy), "--server", "aksjah", "--only", "bulk-write-burst", "--only", "destructive-call"]);
        assert_eq!(code(&o), 1, "{}: {}", policy.display(), stderr(&o));
        let text = stdout(&o);
        assert!(text.contains("coverage: the policy names no tool (its rules apply to every tool alike)"), "{text}");
        assert!(text.contains("destructive-call") && text.contains("bulk-write-burst"), "{text}");
    }
    // Without `--server` there is nothing to choose by: a clear exit 2 saying what to add.
    let o = vacuous(&["verify", path(&empty)], "the policy names no tool, so no server can be chosen for it");
    assert!(stderr(&o).contains("help: name the server to verify it against: `--server NAME`"), "{}", stderr(&o));
    // A policy for another server still fails closed, and says how to get a server file.
    let other = dir.path().join("other.yaml");
    std::fs::write(&other, "version: \"1\"\ntools:\n  create_widget:\n    rules:\n      - name: cap\n        rate_limit: 5/minute\n").unwrap();
    let o = vacuous(&["verify", path(&other), "--server", "aksjah"], "the policy and the server share no tool");
    assert!(stderr(&o).contains("mock record -o FILE -- CMD"), "{}", stderr(&o));
}

/// Every bundled server, under the weakest policy (so every scenario that applies finds
/// something): the default terminal view keeps to 100 columns and to its line budget, and
/// no two lines cut with `…` read alike.
#[test]
fn the_default_view_fits_100_columns_and_its_budget_on_every_bundled_server() {
    let dir = TempDir::new().unwrap();
    let policy = dir.path().join("allow-all.yaml");
    std::fs::write(&policy, "version: \"1\"\ntools: {}\n").unwrap();
    // One scenario of each kind of row: findings on every tool, proxy findings, blame on the
    // default, not-applicable reasons (the whole database is minutes per server in a debug build).
    let only = [
        "extra-fields", "missing-required-fields", "destructive-call", "rug-pull", "wire-batch", "wire-type-error",
        "wire-case-variant-keys", "tool-name-case", "read-retry-loop", "spend-cap", "hidden-tool-call",
        "runaway-exec-burst", "negative-amount", "type-confusion", "injection-strings",
    ];
    let servers: Vec<String> = std::fs::read_dir(repo("mock-servers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(servers.len() >= 13, "{servers:?}");
    let check = |server: &String| {
        let mut argv = vec!["verify", path(&policy), "--server", server.as_str()];
        for id in only {
            argv.extend(["--only", id]);
        }
        let o = gauntlet(&argv);
        assert!(code(&o) < 2, "{server}: {}", stderr(&o));
        let text = stdout(&o);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= gauntlet::report::table::BUDGET, "{server}: {} lines:\n{text}", lines.len());
        let wide: Vec<&&str> = lines.iter().filter(|l| l.chars().count() > 100).collect();
        assert!(wide.is_empty(), "{server}: wider than 100 columns: {wide:#?}");
        let mut seen = std::collections::BTreeSet::new();
        assert!(lines.iter().filter(|l| l.contains('…')).all(|l| seen.insert(*l)), "{server}: a cut line twice:\n{text}");
    };
    // Two at a time: the machine has two cores.
    let (a, b) = servers.split_at(servers.len() / 2);
    std::thread::scope(|scope| {
        scope.spawn(|| a.iter().for_each(check));
        b.iter().for_each(check);
    });
}

/// `${{ EXPR }}` in a workflow text, filled in from `values` (unknown expressions fail the test).
fn expand(text: &str, values: &std::collections::BTreeMap<String, String>) -> String {
    let expr = regex::Regex::new(r"\$\{\{\s*(.+?)\s*\}\}").unwrap();
    expr.replace_all(text, |c: &regex::Captures| values.get(&c[1]).unwrap_or_else(|| panic!("no value for `{}` in {text}", &c[1])).clone())
        .into_owned()
}

/// Runs one workflow `run:` script as GitHub's bash shell does, in `dir`, with the
/// built gauntlet first on PATH; returns the output.
fn run_step(dir: &Path, script: &str, env: &[(&str, &str)]) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_gauntlet")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .envs(env.iter().copied())
        .env_remove("CI")
        .output()
        .expect("bash runs")
}

/// A temp git repository holding `policies/p.yaml` (a copy of `example`).
fn repository_with(example: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    let git = Command::new("git").args(["init", "-q"]).current_dir(dir.path()).output().expect("git runs");
    assert!(git.status.success(), "{}", String::from_utf8_lossy(&git.stderr));
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::copy(repo(example), dir.path().join("policies/p.yaml")).unwrap();
    dir
}

/// `gauntlet init`, then every `run:` line of the CI job it wrote, in a fresh git repository:
/// the job installs nothing when this gauntlet is on PATH, validates the policies init was
/// given, and verifies them; a policy init was not given is refused before anything is written.
#[test]
fn init_then_its_ci_job_runs_in_a_git_repository() {
    let dir = repository_with("examples/aksjah-hardened.yaml");
    let here = dir.path();
    let o = gauntlet_in(here, &["init", "--policy", "nope.yaml"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--policy nope.yaml:") && stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(!here.join("gauntlet.yaml").exists(), "nothing is written for a refused call");
    let o = gauntlet_in(here, &["init", "--policy", "policies/p.yaml", "--server", "aksjah", "--server", "githb"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("did you mean `github`?"), "{}", stderr(&o));

    let o = gauntlet_in(here, &["init", "--policy", "policies/p.yaml", "--server", "aksjah"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains("list your policies"), "init was given them: {out}");
    assert!(out.contains("verify` checks the 1 policy it lists"), "{out}");
    let job = std::fs::read_to_string(here.join("gauntlet.ci.yml")).unwrap();
    assert!(!regex::Regex::new(r"\bURL\b").unwrap().is_match(&job.lines().filter(|l| l.contains("run:")).collect::<String>()), "{job}");
    let doc: serde_yaml::Value = serde_yaml::from_str(&job).unwrap();
    let steps = doc["jobs"]["verify"]["steps"].as_sequence().expect("steps").clone();
    let values = [("vars.GAUNTLET_GIT".to_string(), String::new())].into_iter().collect();
    let mut ran = 0;
    for step in &steps {
        let Some(script) = step["run"].as_str() else { continue };
        let o = run_step(here, &expand(script, &values), &[]);
        assert_eq!(code(&o), 0, "`{script}`:\n{}{}", stdout(&o), stderr(&o));
        if script.contains("validate") {
            assert!(stdout(&o).contains("policies/p.yaml"), "validates the policy init was given: {}", stdout(&o));
        }
        if script.contains("gauntlet verify") {
            assert!(stdout(&o).contains("gauntlet verify policies/p.yaml: profile intercept"), "{}", stdout(&o));
        }
        ran += 1;
    }
    assert_eq!(ran, 3, "install, validate, verify: {job}");
    // A typo in the policy fails the job's validate line.
    std::fs::write(here.join("policies/p.yaml"), std::fs::read_to_string(here.join("policies/p.yaml")).unwrap().replacen("rate_limit:", "rate_limt:", 1)).unwrap();
    let validate = steps.iter().filter_map(|s| s["run"].as_str()).find(|r| r.contains("validate")).unwrap();
    assert_eq!(code(&run_step(here, validate, &[])), 1);
}

/// The GitHub Action's `run:` steps, run locally in order as the runner would (the
/// upload step is GitHub's own action: the test checks the file it would upload).
#[test]
fn the_github_action_validates_verifies_annotates_and_writes_sarif() {
    let action: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(repo("action.yml")).unwrap()).unwrap();
    let steps = action["runs"]["steps"].as_sequence().expect("composite steps").clone();
    for (example, expected) in [("examples/aksjah-weak.yaml", "1"), ("examples/aksjah-hardened.yaml", "0")] {
        let dir = repository_with(example);
        let here = dir.path();
        let output = here.join("github-output");
        std::fs::write(&output, "").unwrap();
        let mut values: std::collections::BTreeMap<String, String> = [
            ("inputs.policy", "policies/p.yaml"),
            ("inputs.args", "--server aksjah --only bulk-write-burst --only destructive-call"),
            ("inputs.sarif", "out/gauntlet.sarif"),
            ("inputs.upload-sarif", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        std::fs::create_dir(here.join("out")).unwrap();
        let env = [("GITHUB_ACTION_PATH", env!("CARGO_MANIFEST_DIR")), ("GITHUB_OUTPUT", path(&output))];
        let mut uploaded = false;
        for step in &steps {
            let name = step["name"].as_str().unwrap_or("?");
            if let Some(uses) = step["uses"].as_str() {
                assert!(uses.starts_with("github/codeql-action/upload-sarif@"), "{uses}");
                let file = here.join(expand(step["with"]["sarif_file"].as_str().unwrap(), &values));
                let sarif: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
                assert_eq!(sarif["version"], "2.1.0");
                uploaded = true;
                continue;
            }
            let script = expand(step["run"].as_str().expect("a run step"), &values);
            let o = run_step(here, &script, &env);
            if name == "Fail on findings" {
                assert_eq!(code(&o).to_string(), expected, "{example}");
                continue;
            }
            assert_eq!(code(&o), 0, "{name}: {}{}", stdout(&o), stderr(&o));
            if step["id"].as_str() == Some("verify") {
                let recorded = std::fs::read_to_string(&output).unwrap();
                let exit = recorded.lines().find_map(|l| l.strip_prefix("exit=")).expect("the step records its exit").to_string();
                assert_eq!(exit, expected, "{example}: {}", stderr(&o));
                values.insert("steps.verify.outputs.exit".into(), exit);
                if expected == "1" {
                    assert!(stdout(&o).contains("::error file=policies/p.yaml,line="), "{}", stdout(&o));
                }
                assert!(stdout(&o).contains("::notice title=gauntlet verify::"), "{}", stdout(&o));
            }
        }
        assert!(uploaded, "the SARIF upload step is there");
    }
}

/// `verify --watch` runs again on each save of the policy and of a scenario file, and says so;
/// the test waits for each run's summary line, not for a fixed time.
#[test]
fn watch_runs_again_on_every_save_of_the_policy_or_a_scenario() {
    use std::io::BufRead;
    let dir = TempDir::new().unwrap();
    let policy = dir.path().join("p.yaml");
    std::fs::copy(repo("examples/aksjah-hardened.yaml"), &policy).unwrap();
    let scenarios = dir.path().join("mine");
    std::fs::create_dir(&scenarios).unwrap();
    let burst = std::fs::read_to_string(repo("scenarios/bulk-write-burst.yaml")).unwrap();
    std::fs::write(scenarios.join("bulk-write-burst.yaml"), &burst).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["verify", path(&policy), "--server", "aksjah", "--scenarios", path(&scenarios), "--only", "bulk-write-burst", "-q", "--watch"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || std::io::BufReader::new(out).lines().map_while(Result::ok).for_each(|l| drop(tx.send(l))));
    let (etx, erx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || std::io::BufReader::new(err).lines().map_while(Result::ok).for_each(|l| drop(etx.send(l))));
    // `-q` prints the summary lines only.
    let summary = |what: &str| -> String {
        loop {
            let line = rx.recv_timeout(std::time::Duration::from_secs(120)).unwrap_or_else(|_| panic!("no run after {what}"));
            if line.contains(" outcome") {
                return line;
            }
        }
    };
    let watching = || loop {
        let l = erx.recv_timeout(std::time::Duration::from_secs(120)).expect("the watch says what it watches");
        if l.starts_with("gauntlet verify --watch: exit") {
            return l;
        }
    };
    let first = summary("start");
    assert!(first.contains("0 policy findings"), "{first}");
    let w = watching();
    assert!(w.contains("p.yaml") && w.contains("mine"), "{w}");
    // Loosen the write limit: the burst now gets through.
    let loose = std::fs::read_to_string(&policy).unwrap().replace("rate_limit: 15/minute", "rate_limit: 1000/minute");
    assert_ne!(loose, std::fs::read_to_string(&policy).unwrap(), "the policy has the limit this test loosens");
    std::fs::write(&policy, loose).unwrap();
    let second = summary("saving the policy");
    assert!(!second.contains(" 0 policy findings"), "{second}");
    watching();
    // Edit the scenario: 20 calls stay under any 30-a-minute requirement... and the policy's.
    std::fs::write(scenarios.join("bulk-write-burst.yaml"), burst.replace("calls: 200", "calls: 20")).unwrap();
    let third = summary("saving the scenario");
    assert!(third.contains("0 policy findings"), "{third}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// One budget over two tools: `max_reached_per_window.tools` counts their calls together,
/// so limits per tool (each within the bound) breach it and one shared limit holds it.
#[test]
fn an_expectation_spanning_two_tools_counts_them_against_one_budget() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    let (a, b) = ("WizCommerce Open API_PostCustomers", "WizCommerce Open API_PostOrders");
    let scenario = format!(
        "id: shared-write-budget\ntitle: Two write tools share one budget\nclass: bulk-writes\ntargets: {{tools: [\"{a}\"]}}\nagent:\n  steps:\n    - {{calls: 25, over: 50s}}\n    - {{calls: 25, over: 50s, tool: \"{b}\"}}\nexpect:\n  max_reached_per_window: {{count: 30, window: 1m, tools: [\"{{{{name}}}}\", \"{b}\"]}}\n"
    );
    std::fs::write(db.join("shared-write-budget.yaml"), &scenario).unwrap();
    let lint = gauntlet(&["scenario", "lint", path(&db)]);
    assert_eq!(code(&lint), 0, "{}{}", stdout(&lint), stderr(&lint));
    let apart = dir.path().join("apart.yaml");
    std::fs::write(&apart, format!("version: \"1\"\ntools:\n  \"{a}\":\n    rules:\n      - name: a\n        rate_limit: 25/minute\n  \"{b}\":\n    rules:\n      - name: b\n        rate_limit: 25/minute\n")).unwrap();
    let together = dir.path().join("together.yaml");
    std::fs::write(&together, format!("version: \"1\"\ntools:\n  \"*\":\n    rules:\n      - name: writes\n        rate_limit: 30/minute\n  \"{a}\": {{rules: []}}\n")).unwrap();
    let run = |policy: &Path| -> serde_json::Value {
        let o = gauntlet(&["verify", path(policy), "--server", "aksjah", "--scenarios", path(&db), "--scenarios-only", "--format", "json"]);
        assert!(code(&o) < 2, "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["outcomes"][0].clone()
    };
    let o = run(&apart);
    assert_eq!(o["verdict"], "breached", "{o}");
    assert_eq!(o["bound"], format!("≤30 reached per 1m sliding across `{a}`, `{b}`"));
    assert_eq!(o["observed"], "50 in 1m", "{o}");
    assert!(o["blame"]["reason"].as_str().unwrap().contains("together"), "{o}");
    let o = run(&together);
    assert_eq!(o["verdict"], "held", "{o}");
    assert_eq!(o["reached"], 30, "{o}");
}

/// Headless Chromium, or `None` (after a notice) when it is missing and peers are optional.
fn chromium() -> Option<&'static str> {
    for name in ["chromium", "chromium-browser"] {
        if Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Some(name);
        }
    }
    if std::env::var("GAUNTLET_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("chromium is missing; run `bash scripts/install-peers.sh` (apt-get install -y chromium)");
    }
    eprintln!("skipping the browser check: chromium is missing (run `bash scripts/install-peers.sh`)");
    None
}

/// The official SARIF 2.1.0 JSON Schema, from the npm package scripts/install-peers.sh
/// puts in .peers, or `None` (after a notice) when it is missing and peers are optional.
fn sarif_schema() -> Option<jsonschema::Validator> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json");
    let Ok(text) = std::fs::read_to_string(&file) else {
        if std::env::var("GAUNTLET_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{} is missing; run `bash scripts/install-peers.sh`", file.display());
        }
        eprintln!("skipping the SARIF schema check: {} is missing (run `bash scripts/install-peers.sh`)", file.display());
        return None;
    };
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the SARIF schema is JSON");
    assert_eq!(schema["title"], "Static Analysis Results Format (SARIF) Version 2.1.0-rtm.5 JSON Schema");
    Some(jsonschema::validator_for(&schema).expect("the SARIF schema compiles"))
}

/// Runs headless Chromium on a fresh profile, with nothing that talks to the network.
fn headless(browser: &str, profile: &Path, args: &[&str]) -> Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

/// `-o sarif=… -o html=… -o junit=…` from one run: the SARIF validates against the
/// official 2.1.0 schema (from its npm package), the JUnit parses, and the HTML renders in a real browser with
/// every outcome present and one drawn timeline per held or breached outcome.
#[test]
fn sarif_html_and_junit_from_one_run() {
    let dir = TempDir::new().unwrap();
    let file = |name: &str| dir.path().join(name);
    let mut argv = vec!["verify", "examples/aksjah-weak.yaml", "-q", "--suggest"];
    for id in ["bulk-write-burst", "window-edge-burst", "rollback-abuse", "destructive-call", "extra-fields"] {
        argv.extend(["--only", id]);
    }
    let outs: Vec<String> = ["sarif=r.sarif", "html=r.html", "junit=r.xml", "json=r.json"]
        .iter()
        .map(|o| {
            let (f, p) = o.split_once('=').unwrap();
            format!("{f}={}", path(&file(p)))
        })
        .collect();
    for o in &outs {
        argv.extend(["-o", o.as_str()]);
    }
    let run = gauntlet(&argv);
    assert_eq!(code(&run), 1, "{}", stderr(&run));
    let read = |name: &str| std::fs::read_to_string(file(name)).unwrap();
    let report: serde_json::Value = serde_json::from_str(&read("r.json")).unwrap();
    let outcomes = report["outcomes"].as_array().unwrap();

    let sarif: serde_json::Value = serde_json::from_str(&read("r.sarif")).unwrap();
    if let Some(schema) = sarif_schema() {
        let errors: Vec<String> = schema.iter_errors(&sarif).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "SARIF does not validate: {errors:#?}");
    }
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let findings = outcomes.iter().filter(|o| !o["finding"].is_null()).count();
    assert_eq!(results.len(), findings);
    for r in results {
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "examples/aksjah-weak.yaml", "{r}");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    // Policy findings are located at their blame, not at line 1.
    assert!(results.iter().any(|r| r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64() > Some(1)), "{sarif}");

    let xml = read("r.xml");
    assert!(xml.starts_with("<?xml") && xml.matches("<testcase ").count() == outcomes.len(), "{xml}");

    let html = read("r.html");
    for banned in ["<script", "<link", "src=", "href=\"http"] {
        assert!(!html.contains(banned), "the HTML report is not self-contained: {banned}");
    }
    let Some(browser) = chromium() else { return };
    let url = format!("file://{}", path(&file("r.html")));
    let dom = headless(browser, &file("profile"), &["--dump-dom", &url]);
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", stderr(&dom));
    let dom = stdout(&dom);
    for o in outcomes {
        let key = format!("data-key=\"{}|{}|{}\"", o["scenario"].as_str().unwrap(), o["server"].as_str().unwrap(), o["tool"].as_str().unwrap());
        assert!(dom.contains(&key.replace('&', "&amp;")), "{key} is not in the rendered DOM");
    }
    let plotted = outcomes.iter().filter(|o| o["verdict"] == "held" || o["verdict"] == "breached").count();
    assert!(plotted >= 4, "too few held/breached outcomes to mean anything");
    assert_eq!(dom.matches("<svg class=\"timeline\"").count(), plotted, "one plot per held or breached outcome");
    // Drawn: every plot has both step lines with points, and the bound's window.
    let lines = regex::Regex::new(r#"<polyline class="(sent|reached)" points="[0-9., ]{20,}""#).unwrap();
    assert_eq!(lines.find_iter(&dom).count(), 2 * plotted, "plots without data");
    assert!(dom.contains("class=\"window\""), "no sliding window drawn");
    // Every policy finding's card shows its proven patch (an escaped unified diff) and what it
    // was checked against; a proxy finding says why no policy closes it.
    let card = |o: &serde_json::Value| {
        let key = format!("data-key=\"{}|{}|{}\"", o["scenario"].as_str().unwrap(), o["server"].as_str().unwrap(), o["tool"].as_str().unwrap());
        let start = dom.find(&key.replace('&', "&amp;")).unwrap();
        dom[start..start + dom[start..].find("</div>\n").unwrap()].to_string()
    };
    let policy: Vec<&serde_json::Value> = outcomes.iter().filter(|o| o["finding"] == "policy").collect();
    assert!(policy.len() >= 3, "too few policy findings to mean anything");
    for o in policy {
        let c = card(o);
        assert!(c.contains("<div class=\"suggestion\"><p>Suggestion: <b>"), "no suggestion on {c}");
        assert!(c.contains("<span class=\"file\">+++ b/examples/aksjah-weak.yaml</span>") && c.contains("<span class=\"add\">+"), "no diff on {c}");
        assert!(c.contains("<p class=\"checked\">Checked: all "), "not said what it was checked against: {c}");
    }
    for o in outcomes.iter().filter(|o| o["finding"] == "proxy") {
        let c = card(o);
        assert!(c.contains("<p class=\"suggestion none\">No suggestion: ") && c.contains("no policy can"), "{c}");
    }
    let png = file("r.png");
    let shot = headless(browser, &file("profile2"), &["--window-size=1200,2400", &format!("--screenshot={}", path(&png)), &url]);
    assert!(shot.status.success(), "chromium --screenshot failed: {}", stderr(&shot));
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000, "{} bytes", bytes.len());
    if let Ok(keep) = std::env::var("GAUNTLET_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}

#[test]
fn init_sets_up_a_repository_that_verify_then_uses() {
    let dir = TempDir::new().unwrap();
    let here = dir.path();
    std::fs::create_dir(here.join("policies")).unwrap();
    std::fs::copy(repo("examples/aksjah-hardened.yaml"), here.join("policies/p.yaml")).unwrap();
    let o = gauntlet_in(here, &["init", "--policy", "policies/p.yaml", "--server", "aksjah"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(here.join("gauntlet.yaml").is_file() && here.join("gauntlet.ci.yml").is_file());
    assert!(stdout(&o).contains("GAUNTLET_GIT") && stdout(&o).lines().all(|l| l.chars().count() <= 100), "{}", stdout(&o));
    let again = gauntlet_in(here, &["init"]);
    assert_eq!(code(&again), 2);
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));

    // No argument: the policies gauntlet.yaml lists, on its servers, with its requirements.
    let o = gauntlet_in(here, &["verify"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("\ncoverage: 5 of 5 policy tools exercised"), "{}", stdout(&o));

    // The file is found from the policy's directory upwards; the report names it.
    let sub = here.join("policies");
    let o = gauntlet_in(&sub, &["verify", "p.yaml", "--format", "json", "--only", "bulk-write-burst"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
    assert!(v["requirements"].as_str().is_some_and(|r| r.ends_with("gauntlet.yaml")), "{}", v["requirements"]);
    assert_eq!(v["servers"], serde_json::json!(["aksjah"]));
    assert_eq!(v["coverage"]["policy_tools"].as_array().map(Vec::len), Some(5));

    // --requirements overrides it: 5 writes a minute is stricter than the policy's 15.
    std::fs::write(here.join("strict.yaml"), "risk:\n  write: {rate: {count: 5, window: 1m}}\n").unwrap();
    let o = gauntlet_in(here, &["verify", "policies/p.yaml", "--requirements", "strict.yaml", "--only", "bulk-write-burst", "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
    assert_eq!(v["outcomes"][0]["bound"], "≤5 reached per 1m sliding");
    assert!(v["outcomes"][0]["reproduce"].as_str().is_some_and(|r| r.contains("--requirements strict.yaml")), "{v}");

    // A typo in gauntlet.yaml is a positioned error, never silently ignored.
    std::fs::write(here.join("gauntlet.yaml"), "policies: [policies/p.yaml]\nrisk:\n  write: {rate_limt: 5}\n").unwrap();
    let o = gauntlet_in(here, &["verify"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("gauntlet.yaml:3:"), "{}", stderr(&o));
}

/// `--fail-on` sets the least severe finding that fails the run: two high
/// findings fail at `high` (and at the default) and pass at `critical`.
#[test]
fn fail_on_sets_the_exit_threshold_by_severity() {
    let run = |extra: &[&str]| {
        let mut a = vec!["verify", "examples/aksjah-weak.yaml", "--only", "bulk-write-burst", "-q"];
        a.extend_from_slice(extra);
        let o = gauntlet(&a);
        assert!(stdout(&o).starts_with("findings by severity: 0 critical, 2 high,"), "{}", stdout(&o));
        code(&o)
    };
    assert_eq!(run(&[]), 1);
    assert_eq!(run(&["--fail-on", "high"]), 1);
    assert_eq!(run(&["--fail-on", "critical"]), 0);
    let bad = gauntlet(&["verify", "examples/aksjah-weak.yaml", "--fail-on", "severe"]);
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
}

/// The terminal showed the seed twice (a stderr line, then the table's
/// header): the table says it alone; with another format, or `-q`, whose
/// stdout carries no header, the stderr line says it.
#[test]
fn verify_says_its_seed_once_on_the_terminal() {
    let args = ["verify", "examples/aksjah-hardened.yaml", "--only", "bulk-write-burst", "--seed", "7"];
    let table = gauntlet(&args);
    let said = format!("{}{}", stdout(&table), stderr(&table));
    assert_eq!(said.matches("seed 7").count(), 1, "{said}");
    assert!(stdout(&table).starts_with("gauntlet verify examples/aksjah-hardened.yaml: profile intercept, seed 7"), "{said}");
    for extra in [&["--format", "json"][..], &["-q"][..]] {
        let o = gauntlet(&[&args[..], extra].concat());
        assert!(stderr(&o).starts_with("gauntlet verify: seed 7 (replay with --seed 7)"), "{extra:?}: {}", stderr(&o));
    }
}
