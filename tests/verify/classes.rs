//! Tool classes: `verify` attacks one tool per class of tools with the same
//! rules, counters, schema and requirements, and carries its verdict to the
//! others. Folding must change nothing but the work done: every verdict with
//! folding equals the verdict of the same tool attacked on its own.

use std::collections::BTreeMap;

use gauntlet::cli::verify::{build_report, Args};
use gauntlet::report::Report;

/// Parsed as the command line would be, so new flags keep their defaults here.
fn args(policy: &str, server: &str, extra: &[&str]) -> Args {
    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        args: Args,
    }
    let mut argv = vec!["verify", policy, "--server", server, "--seed", "1", "--allow-empty"];
    argv.extend_from_slice(extra);
    <Cmd as clap::Parser>::parse_from(argv).args
}

fn run(policy: &str, server: &str, extra: &[&str]) -> Report {
    build_report(&args(policy, server, extra), false).unwrap_or_else(|e| panic!("{policy} on {server}: {e}"))
}

/// Per scenario × tool: the verdict, the finding and its severity.
fn verdicts(r: &Report) -> BTreeMap<(String, String), String> {
    r.outcomes
        .iter()
        .map(|o| ((o.scenario.clone(), o.tool.clone()), format!("{:?} {:?} {:?}", o.verdict, o.finding, o.severity)))
        .collect()
}

/// Every outcome that differs between the two runs, one line each.
fn differences(folded: &Report, alone: &Report) -> Vec<String> {
    let (f, a) = (verdicts(folded), verdicts(alone));
    let keys: std::collections::BTreeSet<_> = f.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter(|k| f.get(*k) != a.get(*k))
        .map(|k| format!("{} × {}: folded {:?}, alone {:?}", k.0, k.1, f.get(k), a.get(k)))
        .collect()
}

const SERVER: &str = r#"name: classes
version: 1.0.0
tools:
"#;

/// A write tool with the bench's schema.
fn write_tool(name: &str) -> String {
    format!(
        "  - name: {name}\n    description: Writes a note.\n    risk: write\n    inputSchema: {{type: object, required: [title], properties: {{title: {{type: string, maxLength: 200}}}}, additionalProperties: false}}\n"
    )
}

/// The rules of a write tool: a rate limit and a condition on the title (`cap` characters).
fn write_rules(name: &str, rate: &str, cap: u32) -> String {
    format!(
        "  {name}:\n    rules:\n      - {{name: rate, rate_limit: {rate}}}\n      - name: title\n        conditions:\n          - {{path: args.title, op: regex, value: \"^.{{1,{cap}}}$\"}}\n"
    )
}

#[test]
fn a_class_is_attacked_once_and_a_tool_one_condition_apart_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["note_a", "note_b", "note_c", "note_d"];
    let server: String = SERVER.to_string() + &names.iter().map(|n| write_tool(n)).collect::<String>();
    // note_a and note_b: a loose limit (breached); note_c: the same as note_a
    // but a tight limit (held); note_d: the same as note_a but one condition apart.
    let policy = format!(
        "version: \"1\"\ndefault: deny\ntools:\n{}{}{}{}",
        write_rules("note_a", "100/minute", 200),
        write_rules("note_b", "100/minute", 200),
        write_rules("note_c", "15/minute", 200),
        write_rules("note_d", "100/minute", 150),
    );
    std::fs::write(dir.path().join("server.yaml"), server).unwrap();
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    let (p, s) = (dir.path().join("policy.yaml"), dir.path().join("server.yaml"));
    let (p, s) = (p.to_str().unwrap(), s.to_str().unwrap());
    let only = ["--only", "bulk-write-burst"];
    let folded = run(p, s, &only);
    let alone = run(p, s, &[&only[..], &["--no-fold"]].concat());
    let of = |r: &Report, tool: &str| r.outcomes.iter().find(|o| o.tool == tool).cloned().unwrap_or_else(|| panic!("no outcome for {tool}"));

    let (a, b, c, d) = (of(&folded, "note_a"), of(&folded, "note_b"), of(&folded, "note_c"), of(&folded, "note_d"));
    assert_eq!(a.same_class_as, None, "the first of a class is attacked itself");
    assert_eq!(b.same_class_as.as_deref(), Some("note_a"), "{b:?}");
    assert!(b.note.as_deref().is_some_and(|n| n.contains("same class as `note_a`")), "{:?}", b.note);
    assert_eq!(c.same_class_as, None, "another limit is another class");
    assert_eq!(d.same_class_as, None, "one condition apart is another class");
    // The verdict carried is the representative's, and its blame is at the member's own line.
    assert_eq!(a.verdict, gauntlet::verify::Verdict::Breached);
    assert_eq!((b.verdict, b.attempted, b.reached), (a.verdict, a.attempted, a.reached));
    assert_eq!(c.verdict, gauntlet::verify::Verdict::Held);
    let line = |o: &gauntlet::verify::Outcome| o.blame.as_ref().map(|b| b.location.line).unwrap_or(0);
    assert!(line(&b) > line(&a), "note_b's blame {} is not after note_a's {}", line(&b), line(&a));
    assert!(b.trace.is_empty() && !a.trace.is_empty(), "the trace stays with the representative");

    assert!(alone.outcomes.iter().all(|o| o.same_class_as.is_none()));
    assert_eq!(differences(&folded, &alone), Vec::<String>::new());
}

/// One scenario of each kind whose verdict could hang on which tool is
/// attacked: limits, schema mutations, name variants, the decoy of a wire
/// trick, destinations, flows, definitions, faults, unlisted tools (the
/// whole database on every server takes minutes in a debug build).
const KINDS: [&str; 12] = [
    "bulk-write-burst",
    "runaway-exec-loop",
    "spend-split",
    "malformed-arguments",
    "injection-strings",
    "tool-name-case",
    "wire-case-variant-keys",
    "destination-off-list",
    "flow-read-then-send",
    "definition-shadowed",
    "store-outage",
    "unlisted-tool",
];

/// Every bundled server under a policy that lets every tool through (so
/// every tool of one risk and schema shares a class): folding on and off
/// give the same verdicts.
#[test]
fn bundled_servers_get_the_same_verdicts_folded_and_alone() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("allow.yaml");
    std::fs::write(&policy, "version: \"1\"\ndescription: every tool allowed, no limits\ntools: {}\n").unwrap();
    let policy = policy.to_str().unwrap();
    let only: Vec<&str> = KINDS.iter().flat_map(|k| ["--only", k]).collect();
    let mut folded_any = 0;
    for server in gauntlet::mock::bundled::names() {
        let folded = run(policy, server, &only);
        let alone = run(policy, server, &[&only[..], &["--no-fold"]].concat());
        folded_any += folded.outcomes.iter().filter(|o| o.same_class_as.is_some()).count();
        assert_eq!(differences(&folded, &alone), Vec::<String>::new(), "{server}");
    }
    assert!(folded_any > 0, "no tool was folded on any bundled server: the test compared nothing");
}

/// A randomized scenario's hold is drawn twice before it is carried: members
/// attacked alone would each draw their own calls (issue 20). The second
/// seed is derived from the representative's, named in the note, and the
/// members carry it; a run without classes draws once per tool.
#[test]
fn a_randomized_hold_is_confirmed_with_a_second_seed_before_it_is_carried() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["note_a", "note_b", "note_c"];
    let server: String = SERVER.to_string() + &names.iter().map(|n| write_tool(n)).collect::<String>();
    let policy = format!("version: \"1\"\ndefault: deny\ntools:\n{}", names.iter().map(|n| write_rules(n, "15/minute", 200)).collect::<String>());
    std::fs::write(dir.path().join("server.yaml"), server).unwrap();
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    let (p, s) = (dir.path().join("policy.yaml"), dir.path().join("server.yaml"));
    let (p, s) = (p.to_str().unwrap(), s.to_str().unwrap());
    let only = ["--only", "multi-agent-pingpong"];
    let folded = run(p, s, &only);
    let of = |r: &Report, tool: &str| r.outcomes.iter().find(|o| o.tool == tool).cloned().unwrap_or_else(|| panic!("no outcome for {tool}"));
    let (a, b) = (of(&folded, "note_a"), of(&folded, "note_b"));
    assert_eq!((a.verdict, b.verdict), (gauntlet::verify::Verdict::Held, gauntlet::verify::Verdict::Held), "{:?}", a.observed);
    let second = gauntlet::verify::confirming_seed(a.seed);
    assert_ne!(second, a.seed);
    let said = format!("held again under a second seed ({second})");
    assert!(a.note.as_deref().is_some_and(|n| n.contains(&said)), "{:?}", a.note);
    assert!(b.note.as_deref().is_some_and(|n| n.contains(&said) && n.contains("same class as `note_a`")), "{:?}", b.note);
    let alone = run(p, s, &[&only[..], &["--no-fold"]].concat());
    assert!(alone.outcomes.iter().all(|o| !o.note.as_deref().unwrap_or("").contains("second seed")), "nothing is carried, so nothing is confirmed");
    assert_eq!(differences(&folded, &alone), Vec::<String>::new());
}
