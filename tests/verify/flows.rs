//! Data flows (issue 23): read private data, then send it out. On the
//! workspace server, whose requirements refuse writes after a read of a tool
//! marked `private`, an allow-all policy breaches each flow scenario; `gauntlet
//! harden` writes Intercept's form of the flow (a counter on each private
//! read, a condition on it in each egress rule), which holds read-then-send in
//! one session and across two, keeps the benign twin (send first, read after),
//! and cannot hold a read before midnight UTC against a send after it: a
//! proxy finding with that reason.

use std::process::Command;

use gauntlet::cli::verify::{build_report, Args};
use gauntlet::report::Report;
use gauntlet::verify::{Finding, Outcome, Verdict};

const SCENARIOS: [&str; 3] = ["flow-read-then-send", "flow-read-then-send-sessions", "flow-read-then-send-past-midnight"];

fn report(policy: &str, requirements: &str) -> Report {
    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        args: Args,
    }
    let mut argv: Vec<String> =
        ["verify", policy, "--seed", "1", "--server", "mock-servers/workspace.yaml", "--requirements", requirements].map(String::from).to_vec();
    for s in SCENARIOS {
        argv.extend(["--only".to_string(), s.to_string()]);
    }
    build_report(&<Cmd as clap::Parser>::parse_from(argv).args, false).unwrap()
}

fn find<'a>(r: &'a Report, scenario: &str) -> &'a Outcome {
    r.outcomes.iter().find(|o| o.scenario == scenario && o.tool == "send_email").unwrap_or_else(|| panic!("no {scenario} × send_email"))
}

#[test]
fn an_allow_all_policy_lets_private_data_out_and_is_blamed_for_it() {
    let r = report("examples/workspace/allow-all.yaml", "examples/workspace/gauntlet.yaml");
    for id in ["flow-read-then-send", "flow-read-then-send-sessions"] {
        let o = find(&r, id);
        assert_eq!((o.verdict, o.finding), (Verdict::Breached, Some(Finding::Policy)), "{id}: {}", o.observed);
        assert_eq!(o.observed, "2 calls reached the server after the private read");
        assert_eq!((o.reached, o.attempted), (2, 2), "the sends; the read that opened the flow is not one");
        assert!(o.blame.as_ref().unwrap().reason.contains("state.read_inbox.private_reads lte 0"), "{:?}", o.blame);
        // The shortest trace is the read, then one send.
        assert_eq!(o.trace.len(), 2);
        assert_eq!(o.trace[0].tool.as_deref(), Some("read_inbox"), "{:?}", o.trace);
    }
    let midnight = find(&r, "flow-read-then-send-past-midnight");
    assert_eq!((midnight.verdict, midnight.finding), (Verdict::Breached, Some(Finding::Proxy)));
    assert!(midnight.note.as_deref().unwrap().contains("per calendar day"), "{:?}", midnight.note);
}

#[test]
fn the_cross_session_scenario_asks_for_an_identity_scope() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("examples/workspace/gauntlet.yaml").unwrap().replace("scope: identity", "scope: session");
    let reqs = dir.path().join("gauntlet.yaml");
    std::fs::write(&reqs, text).unwrap();
    let r = report("examples/workspace/allow-all.yaml", reqs.to_str().unwrap());
    let o = find(&r, "flow-read-then-send-sessions");
    assert_eq!(o.verdict, Verdict::NotApplicable);
    assert!(o.note.as_deref().unwrap().contains("`scope: identity`"), "{:?}", o.note);
    assert_eq!(find(&r, "flow-read-then-send").verdict, Verdict::Breached);
}

#[test]
fn harden_writes_the_intercept_form_of_the_flow_and_proves_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("examples/workspace/gauntlet.yaml", dir.path().join("gauntlet.yaml")).unwrap();
    let out = dir.path().join("hardened.yaml");
    let o = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["harden", "examples/workspace/allow-all.yaml", "--server", "mock-servers/workspace.yaml", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("state: {counter: private_reads, window: day}"), "{text}");
    assert!(text.contains("{path: state.read_inbox.private_reads, op: lte, value: 0}"), "{text}");
    assert!(text.contains("{path: state.get_user_profile.private_reads, op: lte, value: 0}"), "{text}");
    let r = report(out.to_str().unwrap(), dir.path().join("gauntlet.yaml").to_str().unwrap());
    for id in ["flow-read-then-send", "flow-read-then-send-sessions"] {
        let o = find(&r, id);
        assert_eq!(o.verdict, Verdict::Held, "{id}: {}", o.observed);
        assert_eq!(o.observed, "0 calls reached the server after the private read");
        let twin = o.twin.as_ref().expect("the benign twin ran");
        assert_eq!((twin.reached, twin.attempted), (2, 2), "send first, read after: both reach");
    }
    let midnight = find(&r, "flow-read-then-send-past-midnight");
    assert_eq!((midnight.verdict, midnight.finding), (Verdict::Breached, Some(Finding::Proxy)), "{}", midnight.observed);
}
