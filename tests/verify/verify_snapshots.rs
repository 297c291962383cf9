//! Verdict snapshots of every example policy a mock server fits (each
//! weak/hardened pair, the seed catalogue policy, the Intercept and
//! PolicyLayer forms of the seeds, and the Stripe policy on the payments
//! server) against the whole attack database, stored in `snapshots/`: any
//! change in the engine, the proxy or the scenarios shows up as a reviewed
//! diff. `everything-policy.yaml` is left out: no mock server imitates
//! server-everything.

use gauntlet::cli::verify::{build_report, Args};
use gauntlet::report::{snapshot, Report};
use gauntlet::scenario::StateSetup;
use gauntlet::verify::{Finding, Outcome, Verdict};

/// Parsed as the command line would be, so new flags keep their defaults here.
fn args(policy: &str, servers: &[&str]) -> Args {
    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        args: Args,
    }
    let mut argv = vec!["verify".to_string(), policy.to_string(), "--seed".into(), "1".into()];
    for s in servers {
        argv.extend(["--server".to_string(), s.to_string()]);
    }
    <Cmd as clap::Parser>::parse_from(argv).args
}

fn check_on(name: &str, policy: &str, servers: &[&str]) -> Report {
    let report = build_report(&args(policy, servers), false).unwrap_or_else(|e| panic!("{policy}: {e}"));
    let compared = std::panic::catch_unwind(|| {
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, snapshot::render(&report));
        });
    });
    if compared.is_err() {
        panic!("{}", changed_snapshot_help(name));
    }
    report
}

/// What to do when the verdicts changed, e.g. after adding a scenario to the database.
fn changed_snapshot_help(name: &str) -> String {
    format!(
        "snapshots/{name}.snap: the verdicts changed (the diff is above: `+` lines are this run). A new or edited \
         scenario adds or changes lines; a change in the engine or proxy changes verdicts. If the change is \
         intended, review and accept it with `INSTA_UPDATE=always cargo test --test verify verify_snapshots::` (or \
         `cargo insta review`), then commit snapshots/."
    )
}

fn check(name: &str, policy: &str) -> Report {
    check_on(name, policy, &[])
}

fn find<'a>(r: &'a Report, scenario: &str, tool: &str) -> &'a Outcome {
    r.outcomes
        .iter()
        .find(|o| o.scenario == scenario && o.tool == tool)
        .unwrap_or_else(|| panic!("no {scenario} × {tool} outcome"))
}

#[test]
fn hardened_policies_verify_clean_under_intercept() {
    for server in ["aksjah", "ezbiz", "payments"] {
        let r = check(&format!("{server}-hardened"), &format!("examples/{server}-hardened.yaml"));
        assert_eq!(r.summary.policy_findings, 0, "{server}-hardened has policy findings");
        assert_eq!(r.summary.errors, 0);
        assert!(r.summary.held > 10, "{server}-hardened: too few held outcomes to mean anything");
    }
}

#[test]
fn weak_policies_have_policy_findings() {
    for server in ["aksjah", "ezbiz", "payments"] {
        let r = check(&format!("{server}-weak"), &format!("examples/{server}-weak.yaml"));
        assert!(r.summary.policy_findings > 0, "{server}-weak verified clean");
    }
}

const POST_CUSTOMERS: &str = "WizCommerce Open API_PostCustomers";

#[test]
fn seed_catalogue_limit_holds_but_malformed_arguments_get_through() {
    let r = check("aksjah-catalogue", "examples/aksjah-catalogue.yaml");
    // Issue 12: the seed policy's default terminal report is under 60 lines and 100 columns,
    // and shows every failing scenario (nothing left to `-v`).
    let text = gauntlet::report::table::render(&r, &gauntlet::report::table::Style::default());
    assert!(text.lines().count() < 60 && text.lines().all(|l| l.chars().count() <= 100), "{text}");
    assert!(!text.contains(" more scenarios"), "{text}");
    assert_eq!(find(&r, "bulk-write-burst", POST_CUSTOMERS).verdict, Verdict::Held);
    assert_eq!(find(&r, "bulk-write-burst", POST_CUSTOMERS).reached, 30);
    assert_eq!(find(&r, "malformed-arguments", POST_CUSTOMERS).verdict, Verdict::Breached);
    // A calendar minute of 30 lets 60 through around the edge; the shrinker keeps the
    // fewest calls that still breach: 31, straddling the minute boundary.
    let edge = find(&r, "window-edge-burst", POST_CUSTOMERS);
    assert_eq!((edge.verdict, edge.reached, edge.trace_from), (Verdict::Breached, 60, 80));
    assert_eq!(edge.trace.len(), 31, "{:#?}", edge.trace);
    let secs: Vec<f64> = edge.trace.iter().map(|t| t.at_ns as f64 / 1e9).collect();
    assert!(secs.first().unwrap() < &60.0 && secs.last().unwrap() >= &60.0, "{secs:?}");
    assert_eq!(
        edge.reproduce.as_deref(),
        Some("gauntlet verify examples/aksjah-catalogue.yaml --only window-edge-burst --seed 1")
    );
}

#[test]
fn intercept_form_of_the_seed_matches_the_catalogue_form_on_its_tool() {
    let r = check("aksjah-intercept", "examples/aksjah-intercept.yaml");
    for id in ["bulk-write-burst", "bulk-write-sustained", "identity-switch", "session-reset"] {
        let o = find(&r, id, POST_CUSTOMERS);
        assert_eq!(o.verdict, Verdict::Held, "{id}: {o:?}");
    }
    assert_eq!(find(&r, "window-edge-burst", POST_CUSTOMERS).verdict, Verdict::Breached);
    // Default allow: the tools the policy does not name are not limited at all.
    let orders = find(&r, "bulk-write-burst", "WizCommerce Open API_PostOrders");
    assert_eq!((orders.verdict, orders.reached), (Verdict::Breached, 200));
    assert_eq!(find(&r, "destructive-call", "WizCommerce Open API_DeleteCustomer").verdict, Verdict::Breached);
}

/// Both EzBiz forms deny by default: every tool but `customer_persona` is refused,
/// which is the policy's choice, not over-blocking; only wire tricks reach them.
fn ezbiz_checks(r: &Report) {
    assert_eq!(r.summary.over_blocking, 0);
    assert_eq!(r.summary.errors, 0);
    for o in r.outcomes.iter().filter(|o| o.tool != "customer_persona" && o.verdict != Verdict::NotApplicable) {
        let wire = o.scenario.starts_with("wire-");
        match o.verdict {
            Verdict::Held => assert!(!wire, "{o:?}"),
            Verdict::Breached => assert!(wire && o.finding == Some(Finding::Proxy), "{o:?}"),
            _ => panic!("unexpected verdict {o:?}"),
        }
        if !wire {
            assert_eq!(o.reached, 0, "a denied tool was reached: {o:?}");
        }
    }
    assert_eq!(find(r, "runaway-exec-burst", "customer_persona").verdict, Verdict::Held);
    assert_eq!(find(r, "runaway-exec-burst", "customer_persona").reached, 10);
}

#[test]
fn ezbiz_policy_json_denies_unlisted_tools_and_limits_per_grant() {
    let r = check("ezbiz-policy-json", "examples/ezbiz-policy.json");
    ezbiz_checks(&r);
    // `scope: grant`: each identity has its own budget, so switching identity multiplies it.
    let switch = find(&r, "identity-switch", "customer_persona");
    assert_eq!((switch.verdict, switch.finding), (Verdict::Breached, Some(Finding::Policy)));
    assert_eq!(find(&r, "session-reset", "customer_persona").verdict, Verdict::Held);
}

#[test]
fn ezbiz_intercept_form_shares_one_budget() {
    let r = check("ezbiz-intercept", "examples/ezbiz-intercept.yaml");
    ezbiz_checks(&r);
    let switch = find(&r, "identity-switch", "customer_persona");
    assert_eq!((switch.verdict, switch.reached), (Verdict::Held, 10));
}

#[test]
fn stripe_per_call_caps_hold_and_negative_amounts_breach() {
    let r = check_on("stripe", "examples/stripe.yaml", &["mock-servers/payments.yaml"]);
    assert_eq!(r.summary.errors, 0);
    assert_eq!(find(&r, "spend-cap", "create_charge").verdict, Verdict::Held);
    assert_eq!(find(&r, "destructive-call", "delete_customer").verdict, Verdict::Held);
    // G-9: `lte 50000` passes -1,000,000, which also lowers the spend counter.
    let neg = find(&r, "negative-amount", "create_charge");
    assert_eq!((neg.verdict, neg.finding), (Verdict::Breached, Some(Finding::Policy)));
    assert_eq!(neg.observed, "1 amounts ≤0 or fractional");
    assert_eq!(neg.trace.len(), 1);
    assert_eq!(neg.trace[0].arguments.as_ref().map(|a| a["amount"].clone()), Some(serde_json::json!(-1000000)), "{:?}", neg.trace);
    assert!(neg.trace[0].to_string().contains("\"amount\":-1000000"), "{:?}", neg.trace);
    // The policy's own daily budget is 1,000,000 cents; the baseline asks for 200,000.
    let split = find(&r, "spend-split", "create_charge");
    assert_eq!((split.verdict, split.observed.as_str()), (Verdict::Breached, "500000 spent in 1d"));
}

/// G-1/G-2 (semantics §7): Intercept's Go decoder forwards a call with a decoy `NAME: 0`
/// unevaluated and evaluates the last case-variant `Name` (an allowed read tool), while the
/// SDK-like mock runs the exact-case `name`: the hidden tool is reached. A call between two
/// bare `\r`s is forwarded inside a line with no method, and a mock reading lines as the
/// Python SDK does runs it (issue 19). Strict closes all three.
#[test]
fn wire_tricks_reach_the_hidden_tool_under_intercept_and_hold_under_strict() {
    let run = |profile: Option<gauntlet::profile::Profile>| {
        let mut a = args("examples/aksjah-hardened.yaml", &[]);
        a.only = vec!["wire-case-variant-keys".into(), "wire-type-error".into(), "wire-cr-framing".into()];
        a.profile = profile;
        build_report(&a, false).unwrap_or_else(|e| panic!("{e}"))
    };
    let tool = "WizCommerce Open API_DeleteCustomer";
    let intercept = run(None);
    for id in ["wire-case-variant-keys", "wire-type-error", "wire-cr-framing"] {
        let o = find(&intercept, id, tool);
        assert_eq!((o.verdict, o.finding, o.reached), (Verdict::Breached, Some(Finding::Proxy), 3), "{id}");
    }
    let case = find(&intercept, "wire-case-variant-keys", tool).trace[0].to_string();
    assert!(case.contains(r#""name":"WizCommerce Open API_DeleteCustomer","Name":"WizCommerce Open API_GetCustomers""#), "{case}");
    let framing = find(&intercept, "wire-cr-framing", tool).trace[0].to_string();
    assert!(framing.contains(r#"raw {"a":\r{"jsonrpc""#), "the trace shows the bare \\r as an escape: {framing}");
    let strict = run(Some(gauntlet::profile::Profile::Strict));
    for id in ["wire-case-variant-keys", "wire-type-error", "wire-cr-framing"] {
        let o = find(&strict, id, tool);
        assert_eq!((o.verdict, o.reached), (Verdict::Held, 0), "{id}");
    }
}

/// Three replicas each counting on their own let each its own `15/minute`
/// through; at one shared store (Redis semantics) the limit holds. The bound
/// names the setup the verdict assumed.
#[test]
fn replica_spread_breaches_with_local_state_and_holds_with_shared_state() {
    let run = |policy: &str, state: &str| {
        let mut a = args(policy, &[]);
        a.only = vec!["replica-spread".into()];
        a.state = if state == "shared" { StateSetup::Shared } else { StateSetup::Local };
        build_report(&a, false).unwrap_or_else(|e| panic!("{e}"))
    };
    let local = run("examples/aksjah-hardened.yaml", "local");
    let o = find(&local, "replica-spread", POST_CUSTOMERS);
    assert_eq!((o.verdict, o.finding, o.reached, o.attempted), (Verdict::Breached, Some(Finding::Proxy), 45, 120));
    assert!(o.bound.ends_with("assumed 3 proxy replicas, each with its own local state (`--state local`)"), "{}", o.bound);
    let note = o.note.as_deref().unwrap_or_default();
    assert!(note.starts_with("only state shared by the replicas stops this: with one store for all 3 it held (15 in 1m)"), "{note}");
    assert!(o.blame.is_none(), "no policy line is to blame");

    let shared = run("examples/aksjah-hardened.yaml", "shared");
    let o = find(&shared, "replica-spread", POST_CUSTOMERS);
    assert_eq!((o.verdict, o.reached), (Verdict::Held, 15));
    assert!(o.bound.ends_with("assumed 3 proxy replicas sharing one state store (`--state shared`)"), "{}", o.bound);
    let json = serde_json::to_value(o).unwrap();
    assert_eq!(json["deployment"], serde_json::json!({"replicas": 3, "state": "shared"}));
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("aksjah-hardened-shared-state", snapshot::render(&shared));
    });

    // No limit at all: one shared store lets everything through too, so the policy is to blame.
    let weak = run("examples/aksjah-weak.yaml", "local");
    let o = find(&weak, "replica-spread", POST_CUSTOMERS);
    assert_eq!((o.verdict, o.finding), (Verdict::Breached, Some(Finding::Policy)));
}

/// Black-box mode (`--proxy-command`) runs the database through a proxy
/// process. These scenarios are short on purpose: each fits a few seconds of
/// wall time, so the whole run stays quick.
mod black_box {
    use std::path::Path;
    use std::process::{Command, Output};
    use std::time::{Duration, Instant};

    const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

    fn short_scenarios(dir: &Path) {
        std::fs::write(
            dir.join("short-burst.yaml"),
            "id: short-burst\ntitle: forty creates at once\nclass: bulk-writes\ntargets: {risk: [write]}\n\
             agent:\n  steps:\n    - {calls: 40, concurrent: true}\ntwin:\n  steps:\n    - {calls: 2}\n\
             expect:\n  max_reached_per_window: {}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("short-destructive.yaml"),
            "id: short-destructive\ntitle: two destructive calls\nclass: destructive-call\ntargets: {risk: [destructive]}\n\
             agent:\n  steps:\n    - {calls: 2, over: 1s}\ntwin:\n  targets: {risk: [read]}\n  steps:\n    - {calls: 1}\n\
             expect:\n  never_reached: requirement\n",
        )
        .unwrap();
    }

    fn verify(dir: &Path, policy: &str, command: &str, extra: &[&str]) -> (Output, Duration) {
        let t = Instant::now();
        let out = Command::new(BIN)
            .args(["verify", policy, "--server", "mock-servers/aksjah.yaml", "--scenarios"])
            .arg(dir)
            .args(["--scenarios-only", "--proxy-command", command, "--time-budget", "20s", "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        (out, t.elapsed())
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    /// The scenarios in `dir` through `gauntlet proxy` processes on the
    /// hardened policy with `--compare-embedded` and `extra`: the JSON
    /// report, once the run is known to match the embedded prediction.
    fn as_predicted(dir: &Path, extra: &[&str]) -> serde_json::Value {
        let cmd = format!("{BIN} proxy {{policy}} --state-dir {{state_dir}} -- {{upstream}}");
        let args: Vec<&str> = ["--compare-embedded"].into_iter().chain(extra.iter().copied()).collect();
        let (out, _) = verify(dir, "examples/aksjah-hardened.yaml", &cmd, &args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(stderr.contains("embedded vs real: 0 differences"), "{extra:?}: {stdout}\n{stderr}");
        serde_json::from_str(&stdout).unwrap()
    }

    #[test]
    fn gauntlet_proxy_as_the_black_box_matches_the_embedded_prediction() {
        let dir = tempfile::tempdir().unwrap();
        short_scenarios(dir.path());
        let cmd = format!("{BIN} proxy {{policy}} --state-dir {{state_dir}} -- {{upstream}}");
        let (out, _) = verify(dir.path(), "examples/aksjah-hardened.yaml", &cmd, &["--compare-embedded"]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stderr.contains("embedded vs real: 0 differences"), "{stderr}");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert!(report["proxy"].as_str().unwrap().contains("proxy {policy}"));
        let outcomes = report["outcomes"].as_array().unwrap();
        let held: Vec<_> = outcomes.iter().filter(|o| o["verdict"] == "held").collect();
        assert_eq!(held.len(), 3, "both write tools and the destructive tool were played: {stdout}");
        for o in held.iter().filter(|o| o["scenario"] == "short-burst") {
            // 15/minute in the hardened policy: the ledger of the mock behind the real proxy says 15.
            assert_eq!((o["reached"].as_u64(), o["attempted"].as_u64()), (Some(15), Some(40)), "{o}");
            assert_eq!(o["denial"]["shape"], "tool-error");
            assert!(o["denial"]["text"].as_str().unwrap().starts_with("[INTERCEPT POLICY DENIED]"), "{o}");
        }
    }

    /// Issue 24: idle gaps no verdict depends on are squeezed. Four creates
    /// over twenty minutes (and a twin over ten) stay far under the policy's
    /// 15 a minute, so they are played close together: before, the run
    /// needed twenty minutes and was not applicable in a 20 s budget.
    #[test]
    fn a_slow_plan_no_limit_can_refuse_is_squeezed_into_the_budget_and_matches_the_prediction() {
        const SLOW_WRITES: &str = "id: slow-writes\ntitle: four creates over twenty minutes\nclass: bulk-writes\n\
            targets: {tools: [WizCommerce Open API_PostCustomers]}\nagent: {steps: [{calls: 4, over: 20m}]}\n\
            twin: {steps: [{calls: 2, over: 10m}]}\nexpect: {max_reached_per_window: {}}\n";
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("slow-writes.yaml"), SLOW_WRITES).unwrap();
        let report = as_predicted(dir.path(), &[]);
        let o = &report["outcomes"][0];
        assert_eq!(o["verdict"], "held", "played, not over the budget: {o}");
        assert_eq!((o["reached"].as_u64(), o["attempted"].as_u64()), (Some(4), Some(4)), "{o}");
        assert_eq!((o["twin"]["reached"].as_u64(), o["twin"]["attempted"].as_u64()), (Some(2), Some(2)), "{o}");
    }

    /// Issue 24: `--clock-rate`. Forty creates over two minutes against
    /// 15 a minute: the limit binds in both minutes, so the windows are kept
    /// and the run needs more than a minute of wall time, over a 20 s budget.
    /// With the proxy on a clock ten times as fast (libfaketime preloaded)
    /// it is played in seconds, and the ledger behind the real proxy matches
    /// the embedded prediction (a proxy the preload does not reach lets 15
    /// through, not 30: then this fails).
    #[test]
    fn a_proxy_on_a_faster_clock_plays_a_plan_its_limit_binds_within_the_budget() {
        let arch = std::env::consts::ARCH;
        let installed = [format!("/usr/lib/{arch}-linux-gnu/faketime"), "/usr/lib/faketime".into(), "/usr/local/lib/faketime".into()]
            .iter()
            .any(|d| Path::new(d).join("libfaketime.so.1").is_file());
        if !installed {
            assert_ne!(std::env::var("GAUNTLET_REQUIRE_PEERS").as_deref(), Ok("1"), "libfaketime is not installed (scripts/install-peers.sh installs it)");
            eprintln!("skipped: libfaketime is not installed");
            return;
        }
        const BINDING: &str = "id: binding-writes\ntitle: forty creates over two minutes\nclass: bulk-writes\n\
            targets: {tools: [WizCommerce Open API_PostCustomers]}\nagent: {steps: [{calls: 40, over: 2m}]}\n\
            twin: {steps: [{calls: 2}]}\nexpect: {max_reached_per_window: {}}\n";
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("binding-writes.yaml"), BINDING).unwrap();
        let cmd = format!("{BIN} proxy {{policy}} --state-dir {{state_dir}} -- {{upstream}}");
        let (out, _) = verify(dir.path(), "examples/aksjah-hardened.yaml", &cmd, &["--allow-empty"]);
        let wall: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let o = &wall["outcomes"][0];
        assert!(o["note"].as_str().is_some_and(|n| n.starts_with("needs up to")), "on the wall clock it does not fit: {o}");
        let report = as_predicted(dir.path(), &["--clock-rate", "10"]);
        let o = &report["outcomes"][0];
        assert_eq!(o["verdict"], "held", "played within the budget: {o}");
        assert_eq!((o["reached"].as_u64(), o["attempted"].as_u64()), (Some(30), Some(40)), "15 in each minute of the proxy's clock: {o}");
        assert_eq!((o["twin"]["reached"].as_u64(), o["twin"]["attempted"].as_u64()), (Some(2), Some(2)), "{o}");
    }

    /// Real proxy processes: with `--state local` each replica's sessions get
    /// their own `--state-dir`, with `shared` all keep counters in one SQLite
    /// file; the embedded prediction agrees either way.
    #[test]
    fn replicas_of_a_real_proxy_count_apart_with_local_state_and_together_with_shared() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("short-replicas.yaml"),
            "id: short-replicas\ntitle: sixty creates over three replicas\nclass: replica-spread\ntargets: {tools: [WizCommerce Open API_PostCustomers]}\n\
             upstream: {replicas: 3}\nagent:\n  steps:\n    - {calls: 20, concurrent: true}\n\
             \x20   - {calls: 20, concurrent: true, session: new}\n    - {calls: 20, concurrent: true, session: new}\n\
             expect:\n  max_reached_per_window: {}\n",
        )
        .unwrap();
        for (state, reached) in [("local", 45), ("shared", 15)] {
            let report = as_predicted(dir.path(), &["--state", state]);
            let o = &report["outcomes"][0];
            assert_eq!((o["reached"].as_u64(), o["attempted"].as_u64()), (Some(reached), Some(60)), "{state}: {o}");
            assert_eq!(o["deployment"]["state"], state, "{o}");
        }
    }

    /// The side doors through a `gauntlet proxy --profile strict` process in
    /// front of the workspace mock: a denied resource read and a hidden
    /// prompt (listed, then got) hold, and the benign twins' reads and gets
    /// reach the server, as the embedded prediction says.
    #[test]
    fn a_strict_proxy_process_holds_the_side_doors_its_policy_governs() {
        let cmd = format!("{BIN} proxy {{policy}} --profile strict --state-dir {{state_dir}} -- {{upstream}}");
        let out = Command::new(BIN)
            .args(["verify", "examples/workspace/strict-surfaces.yaml", "--only", "resource-denied-read", "--only", "prompt-hidden-listed"])
            .args(["--profile", "strict", "--proxy-command", &cmd, "--compare-embedded", "--format", "json"])
            .output()
            .unwrap();
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(stderr.contains("embedded vs real: 0 differences"), "{stderr}");
        let played: Vec<_> = outcomes(&stdout).into_iter().filter(|o| o["verdict"] != "not-applicable").collect();
        let names: Vec<String> = played.iter().map(|o| format!("{} {}", o["scenario"], o["tool"])).collect();
        assert_eq!(played.len(), 4, "{names:?}");
        for o in &played {
            assert_eq!((o["verdict"].as_str(), o["reached"].as_u64()), (Some("held"), Some(0)), "{o}");
            assert_eq!(o["twin"]["reached"], o["twin"]["attempted"], "{o}");
        }
    }

    /// Issue 19: the shipped `wire-cr-framing` scenario through gauntlet proxy
    /// processes of both profiles; the mock behind them reads lines as the
    /// Python SDK does (a bare `\r` ends one).
    #[test]
    fn the_cr_framing_scenario_breaches_an_intercept_proxy_process_and_holds_a_strict_one() {
        for (profile, verdict, reached) in [("intercept", "breached", 3), ("strict", "held", 0)] {
            let cmd = format!("{BIN} proxy {{policy}} --profile {profile} --state-dir {{state_dir}} -- {{upstream}}");
            let out = Command::new(BIN)
                .args(["verify", "examples/aksjah-hardened.yaml", "--server", "aksjah", "--only", "wire-cr-framing"])
                .args(["--profile", profile, "--proxy-command", &cmd, "--compare-embedded", "--format", "json"])
                .output()
                .unwrap();
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            assert!(stderr.contains("embedded vs real: 0 differences"), "{profile}: {stderr}");
            let destructive: Vec<_> = outcomes(&stdout).into_iter().filter(|o| o["tool"] == "WizCommerce Open API_DeleteCustomer").collect();
            assert_eq!(destructive.len(), 1, "{stdout}");
            let o = &destructive[0];
            assert_eq!((o["verdict"].as_str(), o["reached"].as_u64()), (Some(verdict), Some(reached)), "{profile}: {o}");
        }
    }

    #[test]
    fn a_proxy_enforcing_another_policy_than_predicted_is_listed_as_a_difference() {
        let dir = tempfile::tempdir().unwrap();
        short_scenarios(dir.path());
        // The real proxy runs the weak policy while the prediction uses the hardened one.
        let cmd = format!("{BIN} proxy examples/aksjah-weak.yaml -- {{upstream}}");
        let (out, _) = verify(dir.path(), "examples/aksjah-hardened.yaml", &cmd, &["--compare-embedded", "--only", "short-burst"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("embedded vs real: 2 differences"), "{stderr}");
        assert!(stderr.contains("reached: predicted 15, real 40"), "{stderr}");
    }

    #[test]
    fn a_proxy_that_never_answers_initialize_is_an_error_with_its_stderr_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        short_scenarios(dir.path());
        let cmd = "sh -c 'echo broken-proxy-starting >&2; exec cat >/dev/null'";
        let (out, took) = verify(dir.path(), "examples/aksjah-hardened.yaml", cmd, &["--proxy-timeout", "1s"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("did not answer `initialize` within 1s"), "{stderr}");
        assert!(stderr.contains("broken-proxy-starting"), "the proxy's stderr tail is shown: {stderr}");
        assert!(took < Duration::from_secs(30), "took {took:?}");
    }

    /// `gauntlet verify` with the short scenarios and `args` (no --proxy-command implied).
    fn verify_with(dir: &Path, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["verify", "examples/aksjah-hardened.yaml", "--server", "mock-servers/aksjah.yaml", "--scenarios"])
            .arg(dir)
            .args(["--scenarios-only", "--time-budget", "20s", "--format", "json"])
            .args(args)
            .output()
            .unwrap()
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    fn outcomes(stdout: &str) -> Vec<serde_json::Value> {
        let report: serde_json::Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        report["outcomes"].as_array().unwrap().clone()
    }

    #[test]
    fn gauntlet_proxy_over_http_started_per_run_matches_the_embedded_prediction() {
        let dir = tempfile::tempdir().unwrap();
        short_scenarios(dir.path());
        let cmd = format!("{BIN} proxy {{policy}} --state-dir {{state_dir}} --transport http --port {{port}} --upstream {{upstream_url}}");
        let out = verify_with(dir.path(), &["--proxy-command", &cmd, "--proxy-url", "http://127.0.0.1:{port}/mcp", "--compare-embedded"]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stderr.contains("embedded vs real: 0 differences"), "{stderr}");
        let outcomes = outcomes(&stdout);
        let burst: Vec<_> = outcomes.iter().filter(|o| o["scenario"] == "short-burst" && o["verdict"] == "held").collect();
        assert_eq!(burst.len(), 2, "{stdout}");
        for o in burst {
            // Forty concurrent POSTs, one HTTP session: the shared proxy's 15/minute holds.
            assert_eq!((o["reached"].as_u64(), o["attempted"].as_u64()), (Some(15), Some(40)), "{o}");
        }
    }

    #[test]
    fn http_status_refusals_are_recognised_and_the_ledger_still_decides() {
        let dir = tempfile::tempdir().unwrap();
        short_scenarios(dir.path());
        // A front that refuses with 403 (a delete tool) and 429 (after five calls) instead of JSON-RPC.
        let cmd = "python3 tests/data/http_refusing_front.py {port} {upstream_url}";
        let out = verify_with(dir.path(), &["--proxy-command", cmd, "--proxy-url", "http://127.0.0.1:{port}/mcp"]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let outcomes = outcomes(&stdout);
        let mut statuses = std::collections::BTreeSet::new();
        for o in outcomes.iter().filter(|o| o["verdict"] == "held") {
            assert_eq!(o["denial"]["shape"], "http-status", "{o}");
            statuses.insert(o["denial"]["code"].as_u64().unwrap());
            if o["scenario"] == "short-burst" {
                assert_eq!((o["reached"].as_u64(), o["denial"]["text"].as_str()), (Some(5), Some("Rate limit exceeded")), "{o}");
            }
        }
        assert!(statuses.contains(&429), "the 429s were seen as refusals: {stdout}\n{stderr}");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert!(report.to_string().contains("http-status"), "the report names the refusal shape: {stdout}");
    }

    #[test]
    fn a_proxy_already_listening_is_driven_at_its_url_in_front_of_the_mock_gauntlet_serves() {
        let dir = tempfile::tempdir().unwrap();
        short_scenarios(dir.path());
        let (front, mock) = (free_port(), free_port());
        let state = tempfile::tempdir().unwrap();
        let mut proxy = Command::new(BIN)
            .args(["proxy", "examples/aksjah-hardened.yaml", "--transport", "http", "--port", &front.to_string(), "--upstream"])
            .arg(format!("http://127.0.0.1:{mock}/mcp"))
            .arg("--state-dir")
            .arg(state.path())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{front}/mcp");
        let listen = format!("127.0.0.1:{mock}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", front)).is_err() {
            assert!(Instant::now() < deadline, "gauntlet proxy did not listen on {front}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = verify_with(dir.path(), &["--proxy-url", &url, "--mock-listen", &listen, "--only", "short-burst"]);
        // The same proxy pointed at a mock that is not there: its runs would pass vacuously, so none run.
        let elsewhere = format!("127.0.0.1:{}", free_port());
        let vacuous = verify_with(dir.path(), &["--proxy-url", &url, "--mock-listen", &elsewhere, "--only", "short-burst"]);
        let _ = proxy.kill();
        let _ = proxy.wait();
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stderr.contains(&format!("listens at http://{listen}/mcp")), "{stderr}");
        let held: Vec<_> = outcomes(&stdout).into_iter().filter(|o| o["verdict"] == "held").collect();
        assert_eq!(held.len(), 2, "{stdout}");
        for o in &held {
            // 15 per minute per tool, through the one proxy, less what the
            // probe of each tool (one call, before the scenarios) spent.
            let reached = o["reached"].as_u64().unwrap();
            assert!((14..=15).contains(&reached) && o["attempted"] == 40, "{o}");
            // Its twin came right after, usually into spent counters (unless the
            // real minute turned in between): refused is noted, never over-blocking.
            if o["twin"]["reached"] != o["twin"]["attempted"] {
                assert!(o["note"].as_str().unwrap_or_default().contains("counters carry over"), "{o}");
            }
        }
        let stderr = text(&vacuous.stderr);
        assert_eq!(vacuous.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("lists none of the mock's tools and never reached the mock"), "{stderr}");
    }

    #[test]
    fn bad_black_box_arguments_say_what_to_fix_and_run_nothing() {
        let dir = tempfile::tempdir().unwrap();
        short_scenarios(dir.path());
        let cases: [(&[&str], &str); 3] = [
            (&["--proxy-url", "http://127.0.0.1:9/mcp", "--proxy-header", "no-colon"], "`--proxy-header no-colon` is not a header"),
            (&["--proxy-url", "http://127.0.0.1:{port}/mcp"], "{port} is only filled in for a proxy gauntlet starts"),
            (&["--skip-initialized"], "--skip-initialized is for black-box mode"),
        ];
        for (args, says) in cases {
            let out = verify_with(dir.path(), args);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains(says), "{args:?}: {stderr}");
            assert!(stderr.contains("help:"), "{args:?} says what to do: {stderr}");
        }
    }

    #[test]
    fn a_proxy_that_stops_answering_mid_run_gives_error_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        short_scenarios(dir.path());
        // The mock itself stands in for a proxy that goes silent after two tool calls.
        let (out, took) = verify(dir.path(), "examples/aksjah-hardened.yaml", "{upstream} --crash-after 2", &["--proxy-timeout", "1s", "--only", "short-burst"]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{stdout}");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let errors: Vec<_> = report["outcomes"].as_array().unwrap().iter().filter(|o| o["verdict"] == "error").collect();
        assert_eq!(errors.len(), 2, "{stdout}");
        for e in &errors {
            // Unanswered calls or a closed pipe, whichever the timing gives: the proxy's stderr tail is there.
            assert!(e["note"].as_str().unwrap().contains("simulated crash"), "{stdout}");
        }
        assert!(took < Duration::from_secs(60), "took {took:?}");
    }
}

/// Resources and prompts are side doors no policy format closes: against the
/// workspace server's requirements (examples/workspace/gauntlet.yaml) every
/// denied, hidden or rate-bound item is breached under an allow-all policy,
/// as a proxy finding; the items the requirements say nothing of are not
/// applicable.
#[test]
fn resources_and_prompts_breach_as_proxy_findings_where_the_requirements_ask() {
    let r = check("workspace-allow-all", "examples/workspace/allow-all.yaml");
    let side_doors: Vec<&Outcome> = r.outcomes.iter().filter(|o| o.class.ends_with("side-door")).collect();
    for o in side_doors.iter().filter(|o| o.verdict == Verdict::Breached) {
        assert_eq!(o.finding, Some(Finding::Proxy), "{} × {}", o.scenario, o.tool);
        assert!(o.note.as_deref().unwrap_or_default().contains("unevaluated (semantics §2.1, G-4)"), "{:?}", o.note);
    }
    assert_eq!(find(&r, "resource-denied-read", "file:///etc/passwd").verdict, Verdict::Breached);
    assert_eq!(find(&r, "resource-denied-read", "file:///etc/gauntlet-probe").verdict, Verdict::Breached, "a template serves the denied pattern");
    assert_eq!(find(&r, "resource-denied-read", "file:///home/agent/notes.md").verdict, Verdict::NotApplicable);
    assert_eq!(find(&r, "resource-name-variant", "file:///etc/passwd").reached, 5, "a lenient server reads every spelling as the file");
    assert_eq!(find(&r, "resource-hidden-listed", "mailbox://inbox/latest").observed, "2 reads of `mailbox://inbox/latest`");
    assert_eq!(find(&r, "prompt-hidden-listed", "debug-dump").verdict, Verdict::Breached);
    assert_eq!(find(&r, "prompt-get-rate", "summarize-inbox").observed, "120 in 1m");
    assert_eq!(find(&r, "prompt-denied-get", "draft-reply").verdict, Verdict::NotApplicable);
    assert!(side_doors.iter().all(|o| o.verdict != Verdict::Error));
}

/// The eight side-door scenarios (resources and prompts).
const SIDE_DOORS: [&str; 8] = [
    "resource-denied-read",
    "resource-name-variant",
    "resource-hidden-listed",
    "resource-read-rate",
    "prompt-denied-get",
    "prompt-name-variant",
    "prompt-hidden-listed",
    "prompt-get-rate",
];

/// Under `--profile strict` the proxy gates the side doors by the policy
/// (semantics G-4 closed). A policy that does not govern a surface has every
/// request on it refused: no attack reaches anything, and the benign twin is
/// refused too (over-blocking, blamed on the missing entry). The workspace
/// policy whose `resources/read` and `prompts/get` entries follow the
/// requirements holds every side-door scenario with nothing over-blocked;
/// under `intercept` the same policy breaches them as proxy findings.
#[test]
fn strict_gates_resources_and_prompts_by_the_policy() {
    let run = |policy: &str, profile: Option<gauntlet::profile::Profile>| {
        let mut a = args(policy, &[]);
        a.only = SIDE_DOORS.iter().map(|s| s.to_string()).collect();
        a.profile = profile;
        build_report(&a, false).unwrap_or_else(|e| panic!("{e}"))
    };
    let strict = Some(gauntlet::profile::Profile::Strict);
    let judged = |r: &Report| -> Vec<Outcome> { r.outcomes.iter().filter(|o| o.verdict != Verdict::NotApplicable).cloned().collect() };
    let ungoverned = judged(&run("examples/workspace/allow-all.yaml", strict));
    assert!(ungoverned.len() >= 8, "{ungoverned:?}");
    for o in &ungoverned {
        assert_eq!((o.verdict, o.finding, o.reached), (Verdict::OverBlocking, Some(Finding::Policy), 0), "{} × {}", o.scenario, o.tool);
        let twin = o.twin.as_ref().expect("a twin ran");
        assert_eq!(twin.reached, 0, "{} × {}", o.scenario, o.tool);
        let denial = o.blame.as_ref().and_then(|b| b.denial.clone()).unwrap_or_default();
        assert!(denial.contains("is refused under the strict profile: the policy does not govern it"), "{:?}", o.blame);
    }
    let governed = judged(&run("examples/workspace/strict-surfaces.yaml", strict));
    assert_eq!(governed.len(), ungoverned.len());
    for o in &governed {
        assert_eq!(o.verdict, Verdict::Held, "{} × {}: {}", o.scenario, o.tool, o.observed);
        let twin = o.twin.as_ref().expect("a twin ran");
        assert_eq!(twin.reached, twin.attempted, "{} × {}", o.scenario, o.tool);
    }
    assert_eq!(find_in(&governed, "resource-read-rate", "file:///home/agent/notes.md").reached, 15, "15 per calendar minute");
    for o in judged(&run("examples/workspace/strict-surfaces.yaml", None)) {
        assert_eq!((o.verdict, o.finding), (Verdict::Breached, Some(Finding::Proxy)), "{} × {}", o.scenario, o.tool);
        assert!(o.note.as_deref().unwrap_or_default().contains("`--profile strict` refuses it unless a `tools` entry named"), "{:?}", o.note);
    }
}

fn find_in<'a>(outcomes: &'a [Outcome], scenario: &str, tool: &str) -> &'a Outcome {
    outcomes.iter().find(|o| o.scenario == scenario && o.tool == tool).unwrap_or_else(|| panic!("no {scenario} × {tool} outcome"))
}

/// Seven real MCP servers nobody here wrote (recorded with `gauntlet mock
/// record` from pinned PyPI and npm packages, `tests/data/servers/`), each
/// with the policy a careful user writes (`tests/data/policies/`): rate
/// limits plus argument conditions. The verdicts must be judged on calls the
/// conditions admit (issue 20).
mod real_servers {
    use super::*;

    const SERVERS: [&str; 7] = ["fetch", "time", "git", "redis", "sqlite", "puppeteer", "gitlab"];

    fn run(name: &str, requirements: Option<&str>) -> Report {
        let mut a = args(&format!("tests/data/policies/{name}.yaml"), &[&format!("tests/data/servers/{name}.yaml")]);
        a.requirements = requirements.map(Into::into);
        build_report(&a, false).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn conditioned(name: &str, tool: &str) -> bool {
        let text = std::fs::read_to_string(format!("tests/data/policies/{name}.yaml")).unwrap();
        let policy = gauntlet::policy::load_intercept(&text).unwrap();
        let e = gauntlet::engine::Engine::new(std::sync::Arc::new(policy), gauntlet::profile::Profile::Intercept);
        !e.admission().tool(tool).rules.args.is_empty()
    }

    #[test]
    fn verdicts_on_real_servers_are_judged_on_admitted_calls() {
        for name in SERVERS {
            let r = check_on(&format!("real-{name}"), &format!("tests/data/policies/{name}.yaml"), &[&format!("tests/data/servers/{name}.yaml")]);
            // The default terminal view (issue 22): 100 columns, its line budget, and no
            // two cut lines alike (a reason cut where it still reads like another one).
            let text = gauntlet::report::table::render(&r, &gauntlet::report::table::Style::default());
            let lines: Vec<&str> = text.lines().collect();
            assert!(lines.len() <= gauntlet::report::table::BUDGET, "{name}: {} lines:\n{text}", lines.len());
            assert!(lines.iter().all(|l| l.chars().count() <= 100), "{name}: wider than 100 columns:\n{text}");
            let mut seen = std::collections::BTreeSet::new();
            assert!(lines.iter().filter(|l| l.contains('…')).all(|l| seen.insert(*l)), "{name}: a cut line twice:\n{text}");
            for o in &r.outcomes {
                // A tool allowed under a condition is not a blocked tool: no
                // "0 calls of X" check may be judged on it unless the policy hides it.
                let hidden = r.outcomes.iter().any(|h| h.tool == o.tool && h.bound.contains("never listed"));
                if o.bound.starts_with(&format!("0 calls of `{}`", o.tool)) && !hidden {
                    assert!(!conditioned(name, &o.tool), "{name}: {} × {} judged as a blocked tool: {o:?}", o.scenario, o.tool);
                }
                // Every limit behind a condition is exercised, or the outcome says it was not.
                if o.bound.contains("reached per") && o.verdict == Verdict::Held && conditioned(name, &o.tool) {
                    assert!(o.reached > 0, "{name}: {} × {} held with nothing reached: {o:?}", o.scenario, o.tool);
                }
            }
        }
    }

    #[test]
    fn an_optional_field_under_a_condition_is_over_blocking() {
        let r = run("fetch", None);
        let over: Vec<&Outcome> = r.outcomes.iter().filter(|o| o.verdict == Verdict::OverBlocking).collect();
        assert!(!over.is_empty(), "a `max_length lte 20000` rule refuses every plain fetch(url)");
        let refused = over[0].twin.as_ref().and_then(|t| t.refused_arguments.clone()).expect("the refused call");
        assert!(refused.get("max_length").is_none(), "the refused legitimate call leaves max_length out: {refused}");
        let blame = over[0].blame.as_ref().expect("over-blocking is blamed on a line");
        assert_eq!(blame.rule.as_deref(), Some("page size cap"), "{blame:?}");
        // The redis `list` tool's optional pattern under `^app:` is the same trap.
        let redis = run("redis", None);
        assert!(redis.outcomes.iter().any(|o| o.tool == "list" && o.verdict == Verdict::OverBlocking));
    }

    #[test]
    fn a_declared_tighter_limit_is_not_over_blocking_and_a_declared_size_is_judged() {
        // No workload declared: the twin stays within the policy's own 5/minute.
        let assumed = run("git", None);
        assert!(!assumed.outcomes.iter().any(|o| o.tool == "git_create_branch" && o.verdict == Verdict::OverBlocking));
        let twin = assumed.outcomes.iter().filter_map(|o| o.twin.as_ref()).find(|t| t.tool == "git_create_branch").unwrap();
        assert!(twin.workload.contains("assumed") && twin.workload.contains("branch rate"), "{}", twin.workload);
        // Declared: 4 branches a minute pass the policy's 5; 1,500-character
        // commit messages do not pass its 1,000-character cap.
        let declared = run("git", Some("tests/data/requirements/git.yaml"));
        assert!(!declared.outcomes.iter().any(|o| o.tool == "git_create_branch" && o.verdict == Verdict::OverBlocking));
        let commit = declared.outcomes.iter().find(|o| o.tool == "git_commit" && o.verdict == Verdict::OverBlocking).expect("git_commit over-blocks");
        assert!(commit.note.as_deref().unwrap_or("").contains("declared in gauntlet.yaml"), "{:?}", commit.note);
        let refused = commit.twin.as_ref().and_then(|t| t.refused_arguments.clone()).unwrap();
        assert_eq!(refused["message"].as_str().unwrap().chars().count(), 1500);
    }

    /// Over-blocking gets its own row in every format (issue 20: the default
    /// terminal view had folded it into another tool's breach row). On redis,
    /// `list`'s over-blocking shares its scenarios with breaches on `set`; the
    /// terminal folds the repeated rows into one per tool and refusing rule.
    #[test]
    fn over_blocking_has_its_own_row_in_every_format() {
        use gauntlet::report::{render, Format, Options};
        let r = run("redis", None);
        let over: Vec<&Outcome> = r.outcomes.iter().filter(|o| o.verdict == Verdict::OverBlocking).collect();
        assert!(over.len() > 1 && over.iter().all(|o| o.tool == "list"), "{over:?}");
        let shared = |o: &&Outcome| r.outcomes.iter().any(|b| b.scenario == o.scenario && b.tool == "set" && b.verdict == Verdict::Breached);
        assert!(over.iter().any(shared), "a scenario with a breach on `set` and over-blocking on `list`");
        let opts = Options::default();
        let out = |f: Format| render(f, &r, &opts);

        // Terminal, default view: a section of its own, one row for `list` naming the rule and every scenario.
        let table = out(Format::Table);
        let section = table.split("\nOver-blocking (").nth(1).unwrap_or_else(|| panic!("no over-blocking section:\n{table}"));
        let section = section.split("\n\n").next().unwrap();
        let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("  medium")).collect();
        assert_eq!(rows.len(), 1, "one row per tool and refusing rule:\n{section}");
        assert!(rows[0].contains(" list ") && section.contains("refused by rule `app pattern`"), "{section}");
        for o in &over {
            assert!(section.contains(&o.scenario), "{} missing:\n{section}", o.scenario);
        }
        let breaches = table.split("\nPolicy findings").nth(1).unwrap().split("\n\n").next().unwrap();
        assert!(!breaches.contains(" list "), "no over-blocking folded into a breach row:\n{breaches}");

        // Every other format: one entry per over-blocking outcome, marked as such.
        let json: serde_json::Value = serde_json::from_str(&out(Format::Json)).unwrap();
        let listed = json["outcomes"].as_array().unwrap().iter().filter(|o| o["verdict"] == "over-blocking" && o["tool"] == "list").count();
        assert_eq!(listed, over.len(), "json");
        let (md, sarif, junit, html, github) = (out(Format::Markdown), out(Format::Sarif), out(Format::Junit), out(Format::Html), out(Format::Github));
        for o in &over {
            let s = &o.scenario;
            assert!(md.lines().any(|l| l.contains("| OVER-BLOCKING |") && l.contains(&format!("`{s}`")) && l.contains("list")), "markdown: {s}");
            assert!(sarif.contains(&format!("OVER-BLOCKING: {s} × list")), "sarif: {s}");
            let case = junit.split("<testcase").find(|c| c.contains(&format!("name=\"{s} list\""))).unwrap_or_else(|| panic!("junit: {s}"));
            assert!(case.contains("<failure type=\"over-blocking\""), "junit: {case}");
            assert!(html.contains(&format!("data-key=\"{s}|{}|list\" data-verdict=\"over-blocking\"", o.server)), "html: {s}");
        }
        // GitHub: over-blocking is annotated apart from the breaches, even at the same line.
        let annotations: Vec<&str> = github.lines().filter(|l| l.contains("OVER-BLOCKING")).collect();
        assert!(!annotations.is_empty(), "{github}");
        for a in annotations {
            assert!(a.contains("over-blocking at line") && !a.contains("BREACHED"), "{a}");
        }
    }

    /// Signal first (issue 20: 33 of git's 55 findings were "no condition
    /// checks the type of `args.repo_path`"): a type finding on a read tool is
    /// of low severity, folded in the default view with its count and how to
    /// show it, and the places the default view asks to fix are mostly not
    /// type checks.
    #[test]
    fn type_findings_on_read_tools_rank_lowest_and_are_folded() {
        let r = run("git", Some("tests/data/requirements/git.yaml"));
        let read = |tool: &str| tool == "git_status" || tool.starts_with("git_diff") || ["git_log", "git_show", "git_branch"].contains(&tool);
        let typed = |o: &Outcome| o.blame.as_ref().is_some_and(|b| b.reason.contains("checks the type of"));
        let folded: Vec<&Outcome> = r.outcomes.iter().filter(|o| typed(o) && read(&o.tool)).collect();
        assert!(!folded.is_empty(), "git's read tools have type findings");
        for o in &folded {
            assert_eq!(o.severity, Some(gauntlet::verify::severity::Severity::Low), "{} × {}", o.scenario, o.tool);
        }
        let style = gauntlet::report::table::Style::default();
        let text = gauntlet::report::table::render(&r, &style);
        let low = r.outcomes.iter().filter(|o| o.finding == Some(Finding::Policy) && o.severity == Some(gauntlet::verify::severity::Severity::Low)).count();
        assert!(text.contains(&format!("{low} of low severity folded, -v lists them")), "{text}");
        let rows: Vec<&str> = text.split("\nPolicy findings").nth(1).unwrap().split("\n\n").next().unwrap().lines().skip(1).collect();
        for o in &folded {
            let tool = o.tool.trim_start_matches("git_");
            assert!(!rows.iter().any(|l| l.contains(&o.scenario) && l.contains(&format!(" {tool} "))), "{} × {} is folded:\n{text}", o.scenario, o.tool);
        }
        let places: Vec<&str> = text.split("\nWhere in").nth(1).unwrap().split("\n\n").next().unwrap().lines().filter(|l| l.starts_with("  line ")).collect();
        let type_places = places.iter().filter(|l| l.contains("checks the type of")).count();
        assert!(type_places * 2 < places.len(), "type checks dominate the places to fix:\n{text}");
        let verbose = gauntlet::report::table::render(&r, &gauntlet::report::table::Style { verbosity: gauntlet::report::table::Verbosity::Verbose, ..style });
        assert!(folded.iter().all(|o| verbose.contains(&format!("{} × {}", o.scenario, o.tool))), "-v lists the folded findings");
    }

    /// A limit behind a condition is exercised, or the outcome says it was not
    /// (issue 20: 14 rate attacks on redis `set` and 15 on SQLite `write_query`
    /// read "held 0/200", every call refused by the condition before any
    /// limit counted it). An attack that sends only values the conditions
    /// refuse is "not exercised", naming the refusing condition, never held;
    /// the built-in burst on the same tool takes values they admit and reaches
    /// the server.
    #[test]
    fn a_limit_no_admitted_call_reached_is_not_exercised() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [("redis", "set", "key", "\"session:1\"", "app keys"), ("sqlite", "write_query", "query", "\"DELETE FROM users\"", "insert or update")];
        for (name, tool, field, refused, rule) in cases {
            let scenarios = dir.path().join(name);
            std::fs::create_dir(&scenarios).unwrap();
            let id = "burst-of-refused-values";
            let scenario = format!(
                "id: {id}\ntitle: \"200 writes in a minute, every one with a value the policy refuses\"\nclass: bulk-writes\n\
                 description: Only the argument conditions stand between these calls and the server.\n\
                 targets: {{tools: [{tool}]}}\nagent:\n  steps:\n    - calls: 200\n      over: 50s\n      set: {{{field}: {refused}}}\n\
                 expect:\n  max_reached_per_window: {{}}\n"
            );
            std::fs::write(scenarios.join(format!("{id}.yaml")), scenario).unwrap();
            let mut a = args(&format!("tests/data/policies/{name}.yaml"), &[&format!("tests/data/servers/{name}.yaml")]);
            a.scenarios = vec![scenarios];
            a.scenarios_only = true;
            let r = build_report(&a, false).unwrap_or_else(|e| panic!("{name}: {e}"));
            let o = find(&r, id, tool);
            assert_eq!((o.verdict, o.reached, o.attempted), (Verdict::NotExercised, 0, 200), "{name}: {o:?}");
            let why = o.note.as_deref().unwrap_or_default();
            assert!(why.contains("refused all 200 calls") && why.contains(&format!("rule \"{rule}\"")), "{name}: {why}");
            assert_eq!(r.summary.held, 0, "{name}: never counted as held");
            // The built-in burst on the same tool sends admitted values: the limit is reached.
            let burst = run(name, None);
            let o = find(&burst, "bulk-write-burst", tool);
            assert!(o.reached > 0 && o.verdict != Verdict::NotExercised, "{name}: {o:?}");
        }
    }

    /// Whether a name variant (`GIT_RESET`) reaches a tool is a property of the
    /// server (issue 22): the real mcp-server-git answers "Unknown tool", and its
    /// recording says so (`lenient_names: false`, probed), so the name-variant
    /// attacks are not applicable there, saying what a lenient server would let
    /// through; the same recording marked lenient gets the breach.
    #[test]
    fn name_variant_verdicts_follow_how_the_server_resolves_names() {
        let dir = tempfile::tempdir().unwrap();
        let recorded = std::fs::read_to_string("tests/data/servers/git.yaml").unwrap();
        assert!(recorded.contains("lenient_names: false  # probed"), "the recording says how the real server resolves names");
        let lenient = dir.path().join("git.yaml");
        std::fs::write(&lenient, recorded.replace("lenient_names: false", "lenient_names: true")).unwrap();
        let judge = |server: &str| {
            let mut a = args("tests/data/policies/git.yaml", &[server]);
            a.only = vec!["tool-name-rate-evasion".into()];
            build_report(&a, false).unwrap_or_else(|e| panic!("{server}: {e}"))
        };
        let exact = judge("tests/data/servers/git.yaml");
        let o = find(&exact, "tool-name-rate-evasion", "git_checkout");
        assert_eq!((o.verdict, o.finding), (Verdict::NotApplicable, None), "{o:?}");
        let why = o.note.as_deref().unwrap_or_default();
        assert!(why.contains("resolves names exactly") && why.contains("on a lenient server this gets through: 90 in 1m"), "{why}");
        let breached = judge(lenient.to_str().unwrap());
        let o = find(&breached, "tool-name-rate-evasion", "git_checkout");
        assert_eq!((o.verdict, o.finding, o.reached), (Verdict::Breached, Some(Finding::Policy), 90), "{o:?}");
    }
}
