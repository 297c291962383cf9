//! `gauntlet scenario check`: the attack database checks itself against
//! deliberately vulnerable and secure reference configurations (built into
//! the binary, so it runs from an empty directory), and catches a scenario
//! that cannot tell them apart, each way one can fail.

use std::path::Path;
use std::process::{Command, Output};

fn check(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_gauntlet")).args(["scenario", "check"]).args(args).current_dir(dir).output().expect("the gauntlet binary runs");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned(), out.status.code().unwrap_or(-1))
}

fn copy(name: &str, to: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
    std::fs::copy(&src, to.join(name)).unwrap();
}

/// Its expectation names a tool no server has: no proxy, however open, can breach it.
const TOOTHLESS: &str = "id: toothless\ntitle: A check nothing can fail\nclass: bulk-writes\ntargets: {risk: [write]}\nagent:\n  steps:\n    - {calls: 50, over: 10s}\nexpect:\n  never_reached_tools: [no_such_tool_anywhere]\n";

/// One write an hour is a bound no secure policy keeps (they allow a human's
/// pace): it breaches every secure reference as a policy finding, holding nowhere.
const HOLDS_NOWHERE: &str = "id: holds-nowhere\ntitle: A bound no secure policy keeps\nclass: bulk-writes\ntargets: {risk: [write]}\nagent:\n  steps:\n    - {calls: 50, over: 10s}\nexpect:\n  max_reached_per_window: {count: 1, window: 1h}\n";

/// Its "benign" twin sends 64 KiB strings, which every secure policy refuses.
/// (A twin that is merely fast is paced to the requirement's rate by verify, so it is no test.)
const REFUSED_TWIN: &str = "id: refused-twin\ntitle: A twin no secure proxy lets through\nclass: bulk-writes\ntargets: {risk: [write]}\nagent:\n  steps:\n    - {calls: 200, over: 50s}\ntwin:\n  steps:\n    - {calls: 3, over: 1m, args: oversized}\nexpect:\n  max_reached_per_window: {}\n";

#[test]
fn the_built_in_database_and_a_users_directory_pass_the_check() {
    let dir = tempfile::tempdir().unwrap();
    // A user's scenario beside the built-in ones (`--scenarios`, as verify takes it).
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    let burst = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bulk-write-burst.yaml")).unwrap();
    std::fs::write(dir.path().join("mine/my-burst.yaml"), burst.replacen("id: bulk-write-burst", "id: my-burst", 1)).unwrap();
    let (out, err, code) = check(dir.path(), &["--scenarios", "mine"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    let summary = lines.last().copied().unwrap_or_default();
    let built_in = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "yaml")).count();
    assert!(summary.starts_with(&format!("the built-in database and mine: {} checked, ", built_in + 1)) && summary.contains(" passed, 0 failed, "), "{summary}");
    for line in &lines[..lines.len() - 1] {
        // Passing: breached somewhere vulnerable and held somewhere secure, both named.
        // Open: breached, and every secure reference breaches it as a proxy finding (said where).
        let ok = line.starts_with("ok ") && line.contains(" breaches ") && line.contains("; holds on ");
        let open = line.starts_with("open ") && line.contains(" breaches ") && line.contains("as a proxy finding");
        assert!(ok || open, "{line}");
    }
    assert!(lines.iter().any(|l| l.starts_with("ok    my-burst ")), "{out}");
    // A fault scenario passes by breaching a proxy that fails open, never an allow-all policy.
    for faulted in [" store-outage ", " upstream-die "] {
        let line = lines.iter().find(|l| l.contains(faulted)).unwrap();
        assert!(line.starts_with("ok ") && line.contains("failing open"), "{line}");
    }
    // A limiting flow is judged on the reference whose requirements have one.
    let off_list = lines.iter().find(|l| l.contains(" flow-read-then-send-off-list ")).unwrap();
    assert!(off_list.starts_with("ok ") && off_list.contains("holds on workspace (limiting flow) secure, strict"), "{off_list}");
}

#[test]
fn catches_each_kind_of_deliberately_broken_scenario_in_a_users_directory() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("my-scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    for f in ["bulk-write-burst.yaml", "proxy-restart.yaml"] {
        copy(f, &scenarios);
    }
    for (name, text) in [("toothless", TOOTHLESS), ("holds-nowhere", HOLDS_NOWHERE), ("refused-twin", REFUSED_TWIN)] {
        std::fs::write(scenarios.join(format!("{name}.yaml")), text).unwrap();
    }
    let (out, err, code) = check(dir.path(), &["my-scenarios"]);
    assert_eq!(code, 1, "a failing scenario fails the check: {out}\n{err}");
    let fails = |id: &str, why: &str| out.lines().any(|l| l.starts_with(&format!("FAIL  {id} ")) && l.contains(why));
    assert!(fails("toothless", "breaches no deliberately vulnerable reference"), "{out}");
    assert!(fails("holds-nowhere", "holds on no secure reference: breached on ") && fails("holds-nowhere", "as a policy finding"), "{out}");
    assert!(fails("refused-twin", "its benign twin is refused on a secure reference"), "{out}");
    // Each broken one fails for its own reason only.
    assert!(!fails("toothless", "holds on no") && !fails("toothless", "twin"), "{out}");
    assert!(!fails("holds-nowhere", "breaches no") && !fails("holds-nowhere", "twin"), "{out}");
    assert!(!fails("refused-twin", "breaches no") && !fails("refused-twin", "holds on no"), "{out}");
    for sound in ["bulk-write-burst", "proxy-restart"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("ok    {sound} "))), "{sound} passes: {out}");
    }
    assert_eq!(out.lines().last(), Some("my-scenarios: 5 checked, 2 passed, 3 failed, 0 open"), "{out}");
}

#[test]
fn an_open_scenario_fails_only_under_strict_open() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("open");
    std::fs::create_dir(&scenarios).unwrap();
    // Intercept's counters are calendar windows: no reference policy closes this on gauntlet's proxy.
    copy("flow-read-then-send-past-midnight.yaml", &scenarios);
    let (out, err, code) = check(dir.path(), &["open", "--strict-open"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.lines().any(|l| l.starts_with("open  flow-read-then-send-past-midnight ") && l.contains("as a proxy finding")), "{out}");
    assert!(out.contains("--strict-open: the 1 open scenario(s) fail the check\nopen: 1 checked, 0 passed, 0 failed, 1 open\n"), "{out}");
}
