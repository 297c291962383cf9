//! `gauntlet bench replay`: `gauntlet replay` as users run it (a child
//! process reading a trace file and writing one decision per call), on a
//! generated trace and on one `scale`× longer, several rounds, alternating.
//!
//! The policy is `bench verify`'s 50-tool policy (rate limits, regex and
//! range conditions, a daily spend counter, hidden tools, default deny); the
//! trace cycles through its tools with arguments that fit their schemas, one
//! call per virtual millisecond, identities and sessions in rotation.
//! Targets: at least 1 M calls per CPU-second of the replay process on the
//! long trace (median; a replay runs on one core, and CPU time stays
//! comparable when other work loads the machine), and peak memory of the
//! long run at most 1.25× the short one's (constant in trace length).
//! Baseline, measured in the same run: this process reading the long trace
//! and scanning each line's JSON, deciding nothing. Prints one JSON object on
//! stdout; exits 1 when a target is missed.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{json, Value};

use super::targets::{round, Spread, Target};
use super::usage::{self, ChildUsage};
use super::verify::{policy_yaml, risk_of, tool_name};
use crate::cli::Exit;
use crate::clock::Timestamp;
use crate::mock::Risk;

/// The long trace must replay at least this many calls per CPU-second (median).
const TARGET_CALLS_PER_CPU_SEC: f64 = 1e6;
/// The long run's peak memory may be at most this multiple of the short run's.
const TARGET_MEMORY_RATIO: f64 = 1.25;
/// Tools of the generated policy.
const TOOLS: usize = 50;
/// What the policy lets an execute tool run.
const COMMANDS: [&str; 3] = ["build", "test", "lint"];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Calls in the short trace.
    #[arg(long, default_value_t = 100_000)]
    pub calls: usize,
    /// The long trace has `calls × scale` calls.
    #[arg(long, default_value_t = 10)]
    pub scale: usize,
    /// Rounds of each length, alternating short and long.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

pub fn run(args: Args) -> Exit {
    super::targets::report(measure(&args))
}

/// The arguments of call `k` to tool `i`, within the tool's schema.
fn arguments(i: usize, k: usize) -> Value {
    match risk_of(i) {
        Risk::Read => json!({"query": format!("q{k}"), "limit": 10}),
        Risk::Write => json!({"title": format!("note {k}"), "body": "text"}),
        Risk::Execute => json!({"command": COMMANDS[k % COMMANDS.len()], "timeout": 60}),
        Risk::Financial => json!({"amount": 100 + k % 500, "currency": "usd"}),
        Risk::Destructive | Risk::Credential => json!({"id": format!("x{k}")}),
    }
}

/// Writes a trace of `calls` calls to `path`.
fn write_trace(path: &Path, calls: usize) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot write the trace {}: {e}", path.display());
    let mut out = BufWriter::with_capacity(1 << 16, File::create(path).map_err(io)?);
    let start = Timestamp::from_secs(1_772_445_600);
    for k in 0..calls {
        let i = k % TOOLS;
        let line = json!({
            "at": start.plus_nanos(k as i64 * 1_000_000).to_rfc3339(),
            "identity": format!("agent-{}", k % 7),
            "session": format!("session-{}", k % 13),
            "tool": tool_name(i),
            "arguments": arguments(i, k),
        });
        writeln!(out, "{line}").map_err(io)?;
    }
    out.flush().map_err(io)
}

/// One `gauntlet replay` run: wall seconds and the child's own use.
fn replay(policy: &Path, trace: &Path) -> Result<(f64, ChildUsage), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the gauntlet binary: {e}"))?;
    let started = Instant::now();
    let child = Command::new(exe)
        .arg("replay")
        .arg(policy)
        .arg(trace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start gauntlet replay: {e}"))?;
    let used = usage::wait(child)?;
    let wall = started.elapsed().as_secs_f64();
    if !used.success {
        return Err(format!("gauntlet replay {} {} failed", policy.display(), trace.display()));
    }
    Ok((wall, used))
}

/// Reads `trace` line by line and scans each line's JSON; returns wall seconds.
fn scan(trace: &Path) -> Result<f64, String> {
    let io = |e: std::io::Error| format!("cannot read the trace {}: {e}", trace.display());
    let started = Instant::now();
    let mut input = BufReader::with_capacity(1 << 16, File::open(trace).map_err(io)?);
    let mut line = Vec::new();
    while input.read_until(b'\n', &mut line).map_err(io)? > 0 {
        serde_json::from_slice::<serde::de::IgnoredAny>(&line).map_err(|e| format!("the generated trace does not parse: {e}"))?;
        line.clear();
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Wall, CPU and peak memory of every round of one trace length.
#[derive(Default)]
struct Rounds {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    peak_mb: Vec<f64>,
}

impl Rounds {
    fn run(&mut self, policy: &Path, trace: &Path) -> Result<(), String> {
        let (wall, used) = replay(policy, trace)?;
        self.wall.push(wall);
        self.cpu.push(used.cpu_secs);
        self.peak_mb.push(used.peak_rss as f64 / 1e6);
        Ok(())
    }

    /// The spreads of wall, CPU, memory and calls per CPU-second.
    fn spreads(&self, calls: usize) -> Result<[Spread; 4], String> {
        let spread = |xs: Vec<f64>| Spread::of(xs).ok_or_else(|| "no round ran".to_string());
        let rate = self.cpu.iter().map(|c| calls as f64 / c.max(1e-9)).collect();
        Ok([spread(self.wall.clone())?, spread(self.cpu.clone())?, spread(self.peak_mb.clone())?, spread(rate)?])
    }
}

fn size_json(calls: usize, [wall, cpu, peak, rate]: &[Spread; 4]) -> Value {
    json!({
        "calls": calls,
        "wall_secs": wall.json(),
        "cpu_secs": cpu.json(),
        "calls_per_cpu_sec": rate.json(),
        "calls_per_wall_sec": round(calls as f64 / wall.median.max(1e-9)),
        "peak_rss_mb": peak.json(),
    })
}

/// Runs both lengths `rounds` times and the baseline; returns the JSON report and the judged targets.
pub fn measure(args: &Args) -> Result<(Value, Vec<Target>), String> {
    if args.calls == 0 {
        return Err("--calls must be positive".into());
    }
    let (short, long) = (args.calls, args.calls * args.scale.max(1));
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a scratch directory: {e}"))?;
    let policy = dir.path().join("bench-policy.yaml");
    std::fs::write(&policy, policy_yaml(TOOLS)).map_err(|e| format!("cannot write {}: {e}", policy.display()))?;
    let (short_trace, long_trace) = (dir.path().join("short.jsonl"), dir.path().join("long.jsonl"));
    write_trace(&short_trace, short)?;
    write_trace(&long_trace, long)?;

    let (mut short_runs, mut long_runs, mut baseline) = (Rounds::default(), Rounds::default(), Vec::new());
    for _ in 0..args.rounds.max(1) {
        short_runs.run(&policy, &short_trace)?;
        baseline.push(scan(&long_trace)?);
        long_runs.run(&policy, &long_trace)?;
    }
    let (short_s, long_s) = (short_runs.spreads(short)?, long_runs.spreads(long)?);
    let baseline = Spread::of(baseline).ok_or_else(|| "no round ran".to_string())?;
    let memory_ratio = long_s[2].median / short_s[2].median.max(1e-9);
    let report = json!({
        "bench": "replay",
        "tools": TOOLS,
        "rounds": args.rounds.max(1),
        "trace_bytes": std::fs::metadata(&long_trace).map(|m| m.len()).unwrap_or(0),
        "short": size_json(short, &short_s),
        "long": size_json(long, &long_s),
        "memory_long_to_short": round(memory_ratio),
        "baseline": {
            "what": "the long trace read line by line and each line's JSON scanned, in this process: no policy, no decisions, no output",
            "wall_secs": baseline.json(),
            "calls_per_wall_sec": round(long as f64 / baseline.median.max(1e-9)),
        },
        "long_to_baseline_wall": round(long_s[0].median / baseline.median.max(1e-9)),
    });
    let targets = vec![
        Target::at_least(format!("{long}-call replay ≥ 1 M calls per CPU-second (median)"), long_s[3].median, TARGET_CALLS_PER_CPU_SEC),
        Target::at_most(
            format!("peak memory of {long} calls ≤ {TARGET_MEMORY_RATIO}× that of {short} (medians)"),
            memory_ratio,
            TARGET_MEMORY_RATIO,
            false,
        ),
    ];
    Ok((report, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_trace_replays_through_the_generated_policy() {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.jsonl");
        write_trace(&trace, 120).unwrap();
        let policy = crate::policy::load_str(&policy_yaml(TOOLS), "bench.yaml", None).unwrap().policy;
        let engine = crate::engine::Engine::new(std::sync::Arc::new(policy), crate::profile::Profile::Intercept);
        let mut replayer = crate::engine::replay::Replayer::new(engine);
        let mut reader = crate::engine::replay::TraceReader::default();
        let mut out = Vec::new();
        for line in std::fs::read_to_string(&trace).unwrap().lines() {
            let step = reader.next_line(line.as_bytes()).unwrap().expect("every line is a call");
            replayer.replay(&step, &mut out);
        }
        let mut decisions = std::collections::BTreeMap::<String, usize>::new();
        for line in String::from_utf8(out).unwrap().lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            *decisions.entry(record["decision"].as_str().unwrap().to_string()).or_default() += 1;
        }
        assert_eq!(decisions.values().sum::<usize>(), 120);
        // Allowed calls and denials (hidden tools, rate limits) both occur.
        assert!(decisions.get("allow").is_some_and(|n| *n > 0) && decisions.get("deny").is_some_and(|n| *n > 0), "{decisions:?}");
    }
}
