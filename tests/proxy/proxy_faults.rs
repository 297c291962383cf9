//! The fault scenarios black-box against `gauntlet proxy` as a process:
//! gauntlet starts a Redis for each run (`{state_dsn}`) and fails or hangs
//! it, rewrites its own copy of the policy (`{policy}`), kills and restarts
//! the proxy, and has the mock behind it stall or exit, on each scenario's
//! schedule. In both state fail modes the verdicts must be the embedded
//! proxy's, outcome for outcome (`--compare-embedded`: 0 differences), and
//! under `open` the store faults must show the proxy failing open. Needs
//! redis-server (scripts/install-peers.sh); skipped with a notice without
//! it unless GAUNTLET_REQUIRE_PEERS=1.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::fault_scenarios;
use crate::proxy_support::redis_server_installed;

/// The fault scenarios through `gauntlet proxy --state-fail-mode MODE`, compared with the embedded proxy in the same mode.
fn black_box(mode: &str) -> (Value, String) {
    let bin = env!("CARGO_BIN_EXE_gauntlet");
    let cmd = format!("{bin} proxy {{policy}} --state-dsn {{state_dsn}} --state-fail-mode {mode} -- {{upstream}}");
    let mut args = vec!["verify", "examples/aksjah-hardened.yaml", "--server", "aksjah", "--format", "json", "--compare-embedded"];
    let faults = fault_scenarios::ids();
    for f in &faults {
        args.extend(["--only", f.as_str()]);
    }
    // Both modes run at once beside the rest of this binary on 2 cores: 16 runs in flight each (the
    // default) kept dozens of proxies, mocks and stores busy at once, and a closed-mode proxy once
    // waited past its 1 s --state-timeout for a store nothing had failed.
    args.extend(["--state-fail-mode", mode, "--proxy-command", &cmd, "--time-budget", "5m", "--jobs", "6"]);
    let out = Command::new(bin).args(&args).current_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).output().expect("the gauntlet binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    (report, stderr)
}

#[test]
fn every_fault_scenario_runs_black_box_in_both_fail_modes_as_the_embedded_proxy_predicts() {
    if !redis_server_installed() {
        return;
    }
    let runs: Vec<_> = ["closed", "open"].map(|mode| std::thread::spawn(move || (mode, black_box(mode)))).into_iter().collect();
    for run in runs {
        let (mode, (report, stderr)) = run.join().unwrap();
        let outcomes = report["outcomes"].as_array().unwrap();
        let summary = &report["summary"];
        let unjudged: Vec<_> = outcomes.iter().filter(|o| o["verdict"] == "error" || o["verdict"] == "unsupported").collect();
        assert_eq!((summary["unsupported"].as_u64(), summary["errors"].as_u64()), (Some(0), Some(0)), "{mode}: every fault was done and judged: {unjudged:#?}\n{stderr}");
        assert!(stderr.contains("embedded vs real: 0 differences"), "{mode}: {stderr}");
        for f in &fault_scenarios::ids() {
            let played: Vec<_> = outcomes.iter().filter(|o| o["scenario"] == *f).collect();
            assert_eq!(played.len(), 2, "{mode}: {f} plays on both governed aksjah write tools");
            for o in played {
                assert!(o["verdict"] == "held" || o["verdict"] == "breached", "{mode}: {f} was judged on the ledger: {o}");
            }
        }
        for o in outcomes.iter().filter(|o| o["scenario"] == "store-outage" || o["scenario"] == "store-hang") {
            let (verdict, behaviour) = match mode {
                "closed" => ("held", "fails-closed"),
                _ => ("breached", "fails-open"),
            };
            assert_eq!((o["verdict"].as_str(), o["behaviour"].as_str()), (Some(verdict), Some(behaviour)), "{mode}: {o}");
        }
    }
}

/// A mock started after its exit cue stays up (that is how an upstream the
/// proxy restarts stays up), and a store that fails and comes back before
/// the proxy takes its first call fails nothing, so on a machine too slow to
/// start the first proxy before the fault the fault would silently not
/// happen and the run be judged as if it had (ContextForge's rate limiter,
/// which lets calls through while its Redis is down, once read "fails
/// closed" under load that way). It must be an error instead. Every proxy
/// start after the first (gauntlet's start-up measurement) is delayed past
/// any lead and past the fault (`upstream-die` at 1.25 s, `store-outage` at 10 s).
#[test]
fn a_fault_cue_missed_by_a_slow_start_is_an_error_not_a_verdict() {
    let bin = env!("CARGO_BIN_EXE_gauntlet");
    // The delays stay past the fault however far a loaded machine stretches
    // the lead (twice the measured start-up, and a second more).
    let mut cases = vec![("upstream-die", "", 25)];
    if redis_server_installed() {
        cases.push(("store-outage", " --state-dsn {state_dsn} --state-fail-mode open", 40));
    }
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(scenario, state, delay)| {
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let starts = dir.path().join("starts");
                let wrapper = dir.path().join("slow-after-first.sh");
                // mkdir is atomic: only the first start makes the directory (a counter
                // file read while another start rewrites it reads empty, and skipped the delay).
                let script = format!("mkdir \"$STARTS\" 2>/dev/null || sleep {delay}\nexec \"$@\"\n");
                std::fs::write(&wrapper, script).unwrap();
                let cmd = format!("sh {} {bin} proxy {{policy}}{state} -- {{upstream}}", wrapper.display());
                let args = ["verify", "examples/aksjah-hardened.yaml", "--server", "aksjah", "--format", "json", "--only", scenario, "--proxy-command", &cmd, "--time-budget", "5m", "--proxy-timeout", "2m"];
                let out = Command::new(bin).args(args).env("STARTS", &starts).current_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).output().expect("the gauntlet binary runs");
                (scenario, out)
            })
        })
        .collect();
    for run in runs {
        let (scenario, out) = run.join().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{scenario}: not JSON ({e}): {stderr}"));
        let attacks: Vec<_> = report["outcomes"].as_array().unwrap().iter().filter(|o| o["scenario"] == scenario && o["verdict"] != "not applicable").collect();
        assert!(!attacks.is_empty(), "{scenario}: {stderr}");
        for o in attacks {
            assert_eq!(o["verdict"], "error", "{scenario}: a missed fault is never judged: {o}");
            assert!(o.to_string().contains("too busy to keep the fault's timing"), "{scenario}: the error says why: {o}");
        }
    }
}

/// `missing-identity` opens a fresh session, so a fresh proxy process, for
/// each of its calls, 0.67 s apart. A proxy that takes longer than that to
/// start must still be given each call on time: its processes are started
/// ahead, so their start-ups overlap. A proxy started only as each
/// session's handshake is sent made every call later than the one before
/// (half a minute by the last, here), the calls spread over the next
/// minute's window, and more got through than the embedded proxy, playing
/// the plan as written, predicted. Here each start after gauntlet's
/// start-up measurement is 5 s slower than that measurement, as on a
/// machine that got busy after it (the fault scenarios' test, run beside
/// the rest of this binary, once saw 27 calls through where 15 were
/// predicted that way): how far ahead proxies are started follows the
/// start-ups seen in the run, not only the measurement.
#[test]
fn sessions_opening_faster_than_a_proxy_starts_keep_the_plans_timing() {
    let bin = env!("CARGO_BIN_EXE_gauntlet");
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("slow.sh");
    std::fs::write(&wrapper, "mkdir \"$STARTS\" 2>/dev/null || sleep 5\nexec \"$@\"\n").unwrap();
    let cmd = format!("sh {} {bin} proxy {{policy}} -- {{upstream}}", wrapper.display());
    let args = ["verify", "examples/aksjah-hardened.yaml", "--server", "aksjah", "--only", "missing-identity", "--compare-embedded", "--proxy-command", &cmd, "--time-budget", "5m"];
    let starts = dir.path().join("starts");
    let out = Command::new(bin).args(args).env("STARTS", &starts).current_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).output().expect("the gauntlet binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 outcomes: 2 held"), "both governed write tools: {stdout}\n{stderr}");
    assert!(stdout.contains("embedded vs real: 0 differences"), "{stdout}\n{stderr}");
}
