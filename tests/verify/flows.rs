//! Data flows (issue 23): read private data, then send it out. On the
//! workspace server, whose requirements refuse writes after a read of a tool
//! marked `private`, an allow-all policy breaches each flow scenario; `gauntlet
//! harden` writes Intercept's form of the flow (a counter on each private
//! read, a condition on it in each egress rule), which holds read-then-send in
//! one session and across two, keeps the benign twin (send first, read after),
//! and cannot hold a read before midnight UTC against a send after it: a
//! proxy finding with that reason. A flow that only limits the egress to
//! allowed destinations (`limit:`) is judged by `flow-read-then-send-off-list`
//! and held by the field's allowlist, which harden writes as it stands.

use std::process::Command;

use gauntlet::cli::verify::{build_report, Args};
use gauntlet::report::Report;
use gauntlet::verify::{Finding, Outcome, Verdict};

const SCENARIOS: [&str; 3] = ["flow-read-then-send", "flow-read-then-send-sessions", "flow-read-then-send-past-midnight"];

fn report(policy: &str, requirements: &str) -> Report {
    report_of(policy, requirements, &SCENARIOS)
}

fn report_of(policy: &str, requirements: &str, scenarios: &[&str]) -> Report {
    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        args: Args,
    }
    let mut argv: Vec<String> =
        ["verify", policy, "--seed", "1", "--server", "mock-servers/workspace.yaml", "--requirements", requirements].map(String::from).to_vec();
    for s in scenarios {
        argv.extend(["--only".to_string(), s.to_string()]);
    }
    build_report(&<Cmd as clap::Parser>::parse_from(argv).args, false).unwrap()
}

/// `gauntlet harden` of the allow-all policy into `dir` (whose gauntlet.yaml
/// it reads): the written file and its text, after a clean proof run.
fn harden_into(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let out = dir.join("hardened.yaml");
    let h = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["harden", "examples/workspace/allow-all.yaml", "--server", "mock-servers/workspace.yaml", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(h.status.code(), Some(0), "{}", String::from_utf8_lossy(&h.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    (out, text)
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
    let (out, text) = harden_into(dir.path());
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

/// After the read, `send_email` may still send, to acme.com only.
const LIMITING: &str = "servers: [workspace]\ntools:\n  send_email:\n    fields:\n      to: {domains: [acme.com], each: true}\nflows:\n  - after: {private: true}\n    limit: {tools: [send_email]}\n";

#[test]
fn a_limiting_flow_lets_allowed_sends_out_and_refuses_foreign_ones() {
    let dir = tempfile::tempdir().unwrap();
    let reqs = dir.path().join("gauntlet.yaml");
    std::fs::write(&reqs, LIMITING).unwrap();
    let every: Vec<&str> = SCENARIOS.iter().copied().chain(["flow-read-then-send-off-list"]).collect();
    let r = report_of("examples/workspace/allow-all.yaml", reqs.to_str().unwrap(), &every);
    let o = find(&r, "flow-read-then-send-off-list");
    assert_eq!((o.verdict, o.finding), (Verdict::Breached, Some(Finding::Policy)), "{}", o.observed);
    assert!(o.observed.contains("with a foreign destination reached the server after the private read (`to` = "), "{}", o.observed);
    assert!(o.bound.contains("sent only to allowed destinations (`to` domains acme.com"), "{}", o.bound);
    assert!(o.blame.as_ref().unwrap().reason.contains("keeps `args.to` to domains acme.com"), "{:?}", o.blame);
    // Sends to the allowed destination are what a limiting flow keeps: the scenarios that send them judge nothing here.
    for id in SCENARIOS {
        let o = find(&r, id);
        assert_eq!(o.verdict, Verdict::NotApplicable, "{id}");
        assert!(o.note.as_deref().unwrap().contains("limits it to allowed destinations"), "{:?}", o.note);
    }
    // `post_message` is in no flow.
    assert!(!r.outcomes.iter().any(|o| o.tool == "post_message" && o.verdict == Verdict::Breached));

    let (out, text) = harden_into(dir.path());
    assert!(!text.contains("private_reads"), "a limiting flow needs no counter: the allowlist holds before the read too\n{text}");
    let r = report_of(out.to_str().unwrap(), reqs.to_str().unwrap(), &["flow-read-then-send-off-list"]);
    let o = find(&r, "flow-read-then-send-off-list");
    assert_eq!(o.verdict, Verdict::Held, "{}", o.observed);
    assert!(o.observed.starts_with("0 calls after the private read"), "{}", o.observed);
    let twin = o.twin.as_ref().expect("the benign twin ran");
    assert_eq!((twin.reached, twin.attempted), (3, 3), "the read, then two sends to acme.com: all reach");
}

#[test]
fn a_refusing_flow_is_not_judged_by_the_off_list_scenario() {
    let r = report_of("examples/workspace/allow-all.yaml", "examples/workspace/gauntlet.yaml", &["flow-read-then-send-off-list"]);
    let o = find(&r, "flow-read-then-send-off-list");
    assert_eq!(o.verdict, Verdict::NotApplicable);
    assert!(o.note.as_deref().unwrap().contains("refuses it outright"), "{:?}", o.note);
}

/// `max_calls_per_session`: 40 slow calls in one session pass an allow-all
/// policy; harden writes Intercept's nearest form (a `day` counter of the
/// tool's calls, shared by every session, which the note says) and holds it.
#[test]
fn a_cap_on_calls_per_session_is_judged_and_hardened_as_a_day_counter() {
    let dir = tempfile::tempdir().unwrap();
    let reqs = dir.path().join("gauntlet.yaml");
    std::fs::write(&reqs, "servers: [workspace]\ntools:\n  send_email: {max_calls_per_session: 5}\n").unwrap();
    let r = report_of("examples/workspace/allow-all.yaml", reqs.to_str().unwrap(), &["session-call-cap"]);
    let o = find(&r, "session-call-cap");
    assert_eq!((o.verdict, o.finding), (Verdict::Breached, Some(Finding::Policy)), "{}", o.observed);
    assert_eq!(o.observed, "40 calls reached the server in one session");
    assert_eq!(o.bound, "≤5 calls per session");
    assert!(o.note.as_deref().unwrap().contains("Intercept has no per-session counter"), "{:?}", o.note);
    // Tools the requirement does not cap are not judged.
    let other = r.outcomes.iter().find(|o| o.tool == "post_message").unwrap();
    assert_eq!(other.verdict, Verdict::NotApplicable);

    let (out, text) = harden_into(dir.path());
    assert!(text.contains("{path: state.send_email.session_calls, op: lte, value: 5}"), "{text}");
    assert!(text.contains("state: {counter: session_calls, window: day}  # max_calls_per_session 5, as a calendar day"), "{text}");
    let r = report_of(out.to_str().unwrap(), reqs.to_str().unwrap(), &["session-call-cap"]);
    let o = find(&r, "session-call-cap");
    assert_eq!(o.verdict, Verdict::Held, "{}", o.observed);
    assert_eq!(o.observed, "5 calls reached the server in one session");
    let twin = o.twin.as_ref().expect("the benign twin ran");
    assert_eq!((twin.reached, twin.attempted), (4, 4), "two calls in each of two sessions");
}

/// A read that reaches the outside world: private notes, and a fetch whose
/// server marks it `openWorldHint: true` (the URL it is given is where data goes).
const RESEARCH: &str = r#"name: research
version: 1.0.0
tools:
  - name: read_notes
    description: Read the user's private notes.
    risk: read
    private: true
    annotations: {readOnlyHint: true, openWorldHint: false}
    inputSchema:
      type: object
      additionalProperties: false
      properties:
        limit: {type: integer, minimum: 1, maximum: 50}
  - name: fetch
    description: Fetches a URL from the internet.
    risk: read
    annotations: {readOnlyHint: true, openWorldHint: true}
    inputSchema:
      type: object
      required: [url]
      additionalProperties: false
      properties:
        url: {type: string, format: uri, maxLength: 2000}
  - name: search_docs
    description: Search the company's documentation.
    risk: read
    annotations: {readOnlyHint: true, openWorldHint: false}
    inputSchema:
      type: object
      required: [query]
      additionalProperties: false
      properties:
        query: {type: string, maxLength: 200}
"#;

const RESEARCH_OPEN: &str = "version: \"1\"\ndefault: allow\ntools:\n  read_notes: {rules: []}\n  fetch: {rules: []}\n  search_docs: {rules: []}\n";

/// `flow-read-then-send` on the research server under `flows`, with `policy`.
fn research(dir: &std::path::Path, flows: &str, policy: &std::path::Path) -> Report {
    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        args: Args,
    }
    let (server, reqs) = (dir.join("research.yaml"), dir.join("gauntlet.yaml"));
    std::fs::write(&server, RESEARCH).unwrap();
    std::fs::write(&reqs, format!("flows:\n{flows}")).unwrap();
    let argv = ["verify", policy.to_str().unwrap(), "--seed", "1", "--server", server.to_str().unwrap(), "--requirements", reqs.to_str().unwrap()];
    let argv = argv.into_iter().chain(["--only", "flow-read-then-send"]);
    build_report(&<Cmd as clap::Parser>::parse_from(argv).args, false).unwrap()
}

/// issue 20: a tool that reaches the outside world is egress, whatever its
/// risk class. A flow naming `open_world: true` refuses the fetch after a
/// private read; the flow scenario targets it (it targeted write tools
/// only, so a fetch was never judged), an allow-all policy lets the
/// secret out through it, and harden's flow rule holds it.
#[test]
fn a_fetch_that_reaches_the_outside_world_is_egress_when_the_flow_says_open_world() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open.yaml");
    std::fs::write(&open, RESEARCH_OPEN).unwrap();
    let flow = "  - after: {private: true}\n    refuse: {risk: [write], open_world: true}\n";
    let r = research(dir.path(), flow, &open);
    let o = r.outcomes.iter().find(|o| o.tool == "fetch").expect("the fetch is a target of flow-read-then-send");
    assert_eq!((o.verdict, o.finding), (Verdict::Breached, Some(Finding::Policy)), "{}", o.observed);
    assert_eq!(o.observed, "2 calls reached the server after the private read");
    assert!(!r.outcomes.iter().any(|o| o.tool == "search_docs"), "a read that stays inside is no egress: {:?}", r.outcomes);

    // Written with writes only, the flow leaves the fetch alone, and nothing judges it.
    let r = research(dir.path(), "  - after: {private: true}\n    refuse: {risk: [write]}\n", &open);
    assert!(!r.outcomes.iter().any(|o| o.tool == "fetch"), "{:?}", r.outcomes);

    let out = dir.path().join("hardened.yaml");
    std::fs::write(dir.path().join("gauntlet.yaml"), format!("flows:\n{flow}")).unwrap();
    let h = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["harden", open.to_str().unwrap(), "--server", dir.path().join("research.yaml").to_str().unwrap(), "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("{path: state.read_notes.private_reads, op: lte, value: 0}"), "{}\n{text}", String::from_utf8_lossy(&h.stderr));
    let r = research(dir.path(), flow, &out);
    let o = r.outcomes.iter().find(|o| o.tool == "fetch").unwrap();
    assert_eq!(o.verdict, Verdict::Held, "{}", o.observed);
    let twin = o.twin.as_ref().expect("the benign twin ran");
    assert_eq!((twin.reached, twin.attempted), (2, 2), "fetch first, read after: both reach");
}
