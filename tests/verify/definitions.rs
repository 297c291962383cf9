//! Definition integrity (issue 23): the seven definition-change scenarios on
//! the workspace server, whose requirements pin its tools. Under any policy
//! they breach as proxy findings (no policy compares definitions); the
//! strict proxy pinned to the server file holds them, in process and as a
//! real `gauntlet proxy --pin` process whose run matches the prediction.

use std::process::Command;

use gauntlet::cli::verify::{build_report, Args};
use gauntlet::report::Report;
use gauntlet::verify::{Finding, Verdict};

const SCENARIOS: [&str; 7] = [
    "definition-call-before-list",
    "definition-destructive-hint-flipped",
    "definition-loosened-schema",
    "definition-new-argument",
    "definition-poisoned-description",
    "definition-removed-readded",
    "definition-shadowed",
];

const POLICY: &str = "examples/workspace/allow-all.yaml";
const REQUIREMENTS: &str = "examples/workspace/gauntlet.yaml";

fn report(extra: &[&str]) -> Report {
    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        args: Args,
    }
    let mut argv: Vec<String> = ["verify", POLICY, "--seed", "1", "--requirements", REQUIREMENTS].map(String::from).to_vec();
    for s in SCENARIOS {
        argv.extend(["--only".to_string(), s.to_string()]);
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    build_report(&<Cmd as clap::Parser>::parse_from(argv).args, false).unwrap()
}

#[test]
fn definition_changes_are_proxy_findings_under_intercept_and_held_by_the_pinned_strict_proxy() {
    let open = report(&[]);
    assert_eq!(open.outcomes.len(), 13, "every write tool, and the destructive one for the flipped hint");
    for o in &open.outcomes {
        assert_eq!((o.verdict, o.finding), (Verdict::Breached, Some(Finding::Proxy)), "{} × {}: {}", o.scenario, o.tool, o.observed);
        assert!(o.note.as_deref().unwrap_or_default().contains("--pin APPROVED.yaml"), "{:?}", o.note);
    }
    let poisoned = open.outcomes.iter().find(|o| o.scenario == "definition-poisoned-description" && o.tool == "send_email").unwrap();
    assert_eq!(
        poisoned.observed,
        "the agent was shown 1 of 2 definitions not as filed (`description` differs); 3 calls ran a definition not as filed"
    );
    let before_list = open.outcomes.iter().find(|o| o.scenario == "definition-call-before-list" && o.tool == "send_email").unwrap();
    assert!(before_list.observed.starts_with("the agent was shown no definition; 3 calls ran"), "{}", before_list.observed);

    let pinned = report(&["--profile", "strict", "--pin", "mock-servers/workspace.yaml"]);
    assert_eq!(pinned.outcomes.len(), 13);
    for o in &pinned.outcomes {
        assert_eq!(o.verdict, Verdict::Held, "{} × {}: {}", o.scenario, o.tool, o.observed);
    }
    // What ran before the change still ran: the pin refuses only what changed.
    let poisoned = pinned.outcomes.iter().find(|o| o.scenario == "definition-poisoned-description" && o.tool == "send_email").unwrap();
    assert_eq!((poisoned.reached, poisoned.attempted), (2, 5));
}

#[test]
fn pin_without_the_strict_profile_is_refused_before_anything_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["verify", POLICY, "--pin", "mock-servers/workspace.yaml", "--only", SCENARIOS[0]])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --profile strict"));
}

#[test]
fn a_pinned_gauntlet_proxy_process_holds_them_as_predicted() {
    let bin = env!("CARGO_BIN_EXE_gauntlet");
    let command = format!("{bin} proxy {{policy}} --profile strict --pin mock-servers/workspace.yaml --state-dir {{state_dir}} -- {{upstream}}");
    let mut args = vec!["verify", POLICY, "--requirements", REQUIREMENTS, "--profile", "strict", "--pin", "mock-servers/workspace.yaml"];
    for s in ["definition-call-before-list", "definition-poisoned-description", "definition-shadowed"] {
        args.extend(["--only", s]);
    }
    args.extend(["--proxy-command", &command, "--compare-embedded", "--format", "json"]);
    let out = Command::new(bin).args(&args).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("embedded vs real: 0 differences"), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let outcomes = report["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 6, "{stdout}");
    for o in outcomes {
        assert_eq!(o["verdict"], "held", "{o}");
    }
    assert!(outcomes.iter().any(|o| o["denial"]["code"] == -32001 || o["denial"].to_string().contains("not served as approved")), "{stdout}");
}
