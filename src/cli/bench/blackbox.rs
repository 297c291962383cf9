//! `gauntlet bench blackbox`: the attack database run black-box through
//! `gauntlet proxy` (a fresh process per session, as `verify
//! --proxy-command` runs it) on the bundled hardened Aksjah policy, with
//! `--compare-embedded`, several rounds.
//!
//! A black-box run waits on the wall clock, so what it costs is how much of
//! the database fits the time budget. Per round: the wall time of the run
//! and how many of the applicable outcomes were compared with the embedded
//! prediction (played to a verdict; the rest were over the budget or
//! errors), and the differences found. Baseline, measured in the same
//! rounds: the same database in process (embedded proxy, virtual clock);
//! with `--plain`, also the black-box run as it was before idle gaps were
//! squeezed (every plan as planned, each benign twin after its attack);
//! with `--clock-rate N`, also the run with the proxy on a clock N times as
//! fast (`verify --clock-rate`).
//! Targets: at least 90 % of the applicable outcomes compared within 15
//! minutes (medians), and no difference from the prediction in any round
//! (of the run with a faster clock too); each difference is named, per
//! round, on stderr as the round ends and in the JSON (`per_round[].differing`).
//! Prints one JSON object on stdout; exits 1 when a target is missed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use serde_json::{json, Value};

use super::targets::{round, Spread, Target};
use crate::cli::verify::{verified, Verified};
use crate::cli::Exit;
use crate::verify::blackbox::compare::{Difference, Tally};

/// The least share of the applicable outcomes compared (median).
const TARGET_COMPARED: f64 = 0.90;
/// The longest a run may take, in seconds (median).
const TARGET_SECS: f64 = 15.0 * 60.0;

/// The policy measured when none is given: the hardened Aksjah policy.
const BUNDLED_POLICY: &str = include_str!("../../../examples/aksjah-hardened.yaml");

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy (default: the bundled examples/aksjah-hardened.yaml).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The server the proxy stands in front of (a bundled name or a file).
    #[arg(long, default_value = "aksjah")]
    pub server: String,
    /// The proxy under test (default: this gauntlet's `proxy {policy}
    /// --state-dir {state_dir} -- {upstream}`); placeholders as `verify --proxy-command`.
    #[arg(long, value_name = "CMD")]
    pub proxy_command: Option<String>,
    /// The longest wall time one scenario × tool may take (as `verify --time-budget`).
    #[arg(long, value_name = "DURATION", default_value = "11m")]
    pub time_budget: String,
    /// Scenario × tool runs in flight at once (as `verify --jobs`).
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub jobs: usize,
    /// Only these scenarios (repeatable; default: the whole database).
    #[arg(long, value_name = "SCENARIO")]
    pub only: Vec<String>,
    /// Rounds.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Also run the black-box run with every plan played as planned and
    /// each benign twin after its attack, in the same rounds.
    #[arg(long)]
    pub plain: bool,
    /// Also run the black-box run with the proxy on a clock N times as fast
    /// (`verify --clock-rate N`), in the same rounds.
    #[arg(long, value_name = "N")]
    pub clock_rate: Option<u32>,
}

pub fn run(args: Args) -> Exit {
    super::targets::report(measure(&args))
}

/// `gauntlet verify`'s arguments, read as its command line reads them.
#[derive(Parser)]
struct VerifyLine {
    #[command(flatten)]
    args: crate::cli::verify::Args,
}

/// One verification with `words` after `gauntlet verify`: its wall time and result.
fn verify(words: &[String]) -> Result<(f64, Verified), String> {
    let line = VerifyLine::try_parse_from(std::iter::once("verify".to_string()).chain(words.iter().cloned()))
        .map_err(|e| format!("bench blackbox built a verify command line that does not parse: {e}"))?;
    let t = Instant::now();
    let done = verified(&line.args, false)?;
    Ok((t.elapsed().as_secs_f64(), done))
}

/// The black-box run of one round.
struct Measured {
    secs: f64,
    tally: Tally,
    /// Each outcome where the real proxy and the prediction parted ways, and how.
    differences: Vec<Difference>,
}

/// How a black-box run is timed.
enum Timing {
    /// Idle gaps squeezed, on the wall clock: what `verify` does.
    Squeezed,
    /// Every plan as planned (`--plain-timing`).
    Plain,
    /// Squeezed, the proxy on a clock this many times as fast (`--clock-rate`).
    Fast(u32),
}

impl Timing {
    fn label(&self) -> String {
        match self {
            Timing::Squeezed => "squeezed".into(),
            Timing::Plain => "plain timing".into(),
            Timing::Fast(rate) => format!("--clock-rate {rate}"),
        }
    }
}

fn black_box(common: &[String], command: &str, args: &Args, timing: Timing, nth: usize) -> Result<Measured, String> {
    let mut words = common.to_vec();
    words.extend(["--proxy-command".into(), command.into(), "--compare-embedded".into()]);
    words.extend(["--time-budget".into(), args.time_budget.clone(), "--jobs".into(), args.jobs.to_string()]);
    match timing {
        Timing::Squeezed => {}
        Timing::Plain => words.push("--plain-timing".into()),
        Timing::Fast(rate) => words.extend(["--clock-rate".into(), rate.to_string()]),
    }
    let (secs, done) = verify(&words)?;
    let differences = done.differences.unwrap_or_default();
    eprint!("{}", said(nth, &timing, &differences));
    Ok(Measured { secs, tally: Tally::of(&done.report.outcomes), differences })
}

/// The differences of one round's run on the terminal, each named, so a
/// missed 0-differences target says which outcomes missed it.
fn said(nth: usize, timing: &Timing, differences: &[Difference]) -> String {
    let mut out = format!("bench blackbox: round {nth} ({}): {} differences from the embedded prediction\n", timing.label(), differences.len());
    for d in differences {
        out.push_str(&format!("  {} × {} ({}): {}\n", d.scenario, d.tool, d.server, d.what.join("; ")));
    }
    out
}

/// One round's run in the JSON report: its figures and each difference by name.
fn round_json(m: &Measured) -> Value {
    json!({
        "secs": round(m.secs),
        "applicable": m.tally.applicable,
        "compared": m.tally.compared,
        "over_budget": m.tally.over_budget,
        "errors": m.tally.applicable - m.tally.compared - m.tally.over_budget,
        "differences": m.differences.len(),
        "differing": m.differences,
    })
}

fn share(t: &Tally) -> f64 {
    if t.applicable == 0 {
        return 0.0;
    }
    t.compared as f64 / t.applicable as f64
}

fn measure(args: &Args) -> Result<(Value, Vec<Target>), String> {
    if args.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    let work = tempfile::Builder::new().prefix("gauntlet-bench-blackbox-").tempdir().map_err(|e| format!("cannot create a work directory: {e}"))?;
    let policy = match &args.policy {
        Some(p) => p.clone(),
        None => {
            let p = work.path().join("aksjah-hardened.yaml");
            std::fs::write(&p, BUNDLED_POLICY).map_err(|e| format!("{}: {e}", p.display()))?;
            p
        }
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the gauntlet executable: {e}"))?;
    let command = args
        .proxy_command
        .clone()
        .unwrap_or_else(|| format!("{} proxy {{policy}} --state-dir {{state_dir}} -- {{upstream}}", crate::invocation::quote_path(&exe)));
    let mut common = vec![policy.display().to_string(), "--server".into(), args.server.clone()];
    for s in &args.only {
        common.extend(["--only".into(), s.clone()]);
    }
    let mut runs: Vec<Measured> = Vec::new();
    let mut plain_runs: Vec<Measured> = Vec::new();
    let mut fast_runs: Vec<Measured> = Vec::new();
    let mut in_process = Vec::new();
    for r in 0..args.rounds {
        eprintln!("bench blackbox: round {} of {}", r + 1, args.rounds);
        in_process.push(verify(&common)?.0);
        runs.push(black_box(&common, &command, args, Timing::Squeezed, r + 1)?);
        if args.plain {
            plain_runs.push(black_box(&common, &command, args, Timing::Plain, r + 1)?);
        }
        if let Some(rate) = args.clock_rate {
            fast_runs.push(black_box(&common, &command, args, Timing::Fast(rate), r + 1)?);
        }
    }
    let spread = |xs: Vec<f64>| Spread::of(xs).ok_or("no rounds were measured");
    let secs = spread(runs.iter().map(|m| m.secs).collect())?;
    let compared = spread(runs.iter().map(|m| share(&m.tally)).collect())?;
    let base = spread(in_process.clone())?;
    let ratio = spread(runs.iter().zip(&in_process).map(|(m, b)| m.secs / b.max(1e-9)).collect())?;
    let most_differences = runs.iter().chain(&fast_runs).map(|m| m.differences.len()).max().unwrap_or(0);
    let tallies = |ms: &[Measured]| -> Value { json!(ms.iter().map(round_json).collect::<Vec<_>>()) };
    let mut report = json!({
        "bench": "blackbox",
        "policy": args.policy.as_deref().map_or("examples/aksjah-hardened.yaml (bundled)".to_string(), |p: &Path| p.display().to_string()),
        "server": args.server,
        "proxy_command": command,
        "time_budget": args.time_budget,
        "jobs": args.jobs,
        "rounds": args.rounds,
        "blackbox_secs": secs.json(),
        "compared_share": compared.json(),
        "per_round": tallies(&runs),
        "baseline_in_process_secs": base.json(),
        "blackbox_over_in_process": ratio.json(),
    });
    if args.plain {
        let plain_secs = spread(plain_runs.iter().map(|m| m.secs).collect())?;
        let plain_share = spread(plain_runs.iter().map(|m| share(&m.tally)).collect())?;
        let speedup = spread(plain_runs.iter().zip(&runs).map(|(p, m)| p.secs / m.secs.max(1e-9)).collect())?;
        report["plain"] = json!({
            "secs": plain_secs.json(),
            "compared_share": plain_share.json(),
            "per_round": tallies(&plain_runs),
            "plain_over_squeezed_secs": speedup.json(),
        });
    }
    if let Some(rate) = args.clock_rate {
        let fast_secs = spread(fast_runs.iter().map(|m| m.secs).collect())?;
        let fast_share = spread(fast_runs.iter().map(|m| share(&m.tally)).collect())?;
        let speedup = spread(runs.iter().zip(&fast_runs).map(|(m, f)| m.secs / f.secs.max(1e-9)).collect())?;
        report["clock_rate"] = json!({
            "rate": rate,
            "secs": fast_secs.json(),
            "compared_share": fast_share.json(),
            "per_round": tallies(&fast_runs),
            "squeezed_over_fast_secs": speedup.json(),
        });
    }
    let targets = vec![
        Target::at_least(format!("≥ {:.0} % of the applicable outcomes compared (median)", TARGET_COMPARED * 100.0), compared.median, TARGET_COMPARED),
        Target::at_most(format!("the run within {:.0} minutes (median seconds)", TARGET_SECS / 60.0), secs.median, TARGET_SECS, false),
        Target::at_most("0 differences from the embedded prediction (most in a round)", most_differences as f64, 0.0, false),
    ];
    Ok((report, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn difference(scenario: &str, what: &[&str]) -> Difference {
        Difference { scenario: scenario.into(), server: "aksjah".into(), tool: "PostCustomers".into(), what: what.iter().map(|w| w.to_string()).collect() }
    }

    #[test]
    fn each_difference_of_a_round_is_named_on_the_terminal_and_in_the_json() {
        let differences = vec![
            difference("identity-switch", &["verdict: predicted held, real breached", "reached: predicted 15, real 24"]),
            difference("window-edge-burst", &["reached: predicted 30, real 29"]),
        ];
        let tally = Tally { applicable: 2, compared: 2, over_budget: 0 };
        let m = Measured { secs: 1.0, tally, differences: differences.clone() };
        let j = round_json(&m);
        assert_eq!(j["differences"], 2);
        assert_eq!(j["differing"][0]["scenario"], "identity-switch");
        assert_eq!(j["differing"][0]["tool"], "PostCustomers");
        assert_eq!(j["differing"][0]["what"][1], "reached: predicted 15, real 24");
        assert_eq!(j["differing"][1]["what"][0], "reached: predicted 30, real 29");
        let text = said(2, &Timing::Fast(10), &differences);
        assert_eq!(
            text,
            "bench blackbox: round 2 (--clock-rate 10): 2 differences from the embedded prediction\n  \
             identity-switch × PostCustomers (aksjah): verdict: predicted held, real breached; reached: predicted 15, real 24\n  \
             window-edge-burst × PostCustomers (aksjah): reached: predicted 30, real 29\n"
        );
        assert_eq!(said(1, &Timing::Squeezed, &[]), "bench blackbox: round 1 (squeezed): 0 differences from the embedded prediction\n");
    }
}
