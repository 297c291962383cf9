//! `gauntlet bench proxy`: calls per second and per-call latency of
//! `gauntlet proxy` in front of `gauntlet mock` (stdio child), against the
//! same mock driven directly and behind a bare line relay, all measured in
//! the same run.
//!
//! Latency: one call in flight, each `tools/call` written and its answer
//! awaited (the unloaded round trip). Throughput: the same calls pipelined
//! (a writer thread sends them all while the answers are read), the rate a
//! busy agent can sustain; the proxy is one more stage of that pipeline.
//! The bare relay ([`super::relay`]) copies lines and nothing else: what it
//! adds is the extra hop itself, which every stdio proxy pays, and what the
//! proxy adds beyond it is the proxy's own work. `--baseline` adds another
//! build's proxy as a fourth side, for an A/B of two builds in one run.
//! The policy evaluates every call and reserves a counter in the SQLite
//! store (a limit too high to trip), so the figure includes what a real
//! deployment pays. Memory: the proxy's peak RSS (VmHWM) after pipelined
//! backlogs of 2,000, 20,000 and 100,000 calls, each in a fresh process,
//! every round. CPU: each side's process is reaped when its session ends,
//! so the proxy's CPU seconds (with the mock it reaped) less the direct
//! mock's is what the proxy added per call, a figure that stays comparable
//! when other work shares the machine. Every figure is the spread over the
//! rounds (each ratio taken within its round); output: one JSON object on
//! stdout with each target met or not, exit 1 when one is missed.

use std::io::{BufRead, BufReader, Write};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::targets::{round, Spread, Target};
use super::usage;
use crate::cli::Exit;

const INIT: &[u8] = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#;
const INITIALIZED: &[u8] = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

const POLICY: &str = r#"version: "1"
default: allow
tools:
  list_customers:
    rules:
      - name: bench limit
        rate_limit: 1000000000/minute
"#;

/// Ids of the pipelined phase start here, past every id of the latency phase.
const FIRST_PIPELINED_ID: u64 = 1 << 40;

/// Added p99 latency and throughput ratio the proxy should meet (issue 4).
const TARGET_RATIO: f64 = 0.8;
const TARGET_ADDED_P99_US: f64 = 100.0;
/// "No worse than today" (issue 10): pipelined throughput 0.88× direct, +44 µs
/// per call, as measured the day the issue was written. Absolute figures from
/// another day are only the fallback: with `--baseline` (a build of that day)
/// "today" is measured in the same run, as a ratio, and these are reported
/// for reference instead of judged (that build itself adds twice the 44 µs on
/// a busier day).
const TODAY_RATIO: f64 = 0.88;
const TODAY_ADDED_P50_US: f64 = 44.0;
/// Against `--baseline`: how much worse than the other build a median may be.
const BASELINE_TOLERANCE: f64 = 0.10;
/// Peak RSS of the proxy over 20,000 pipelined calls (issue 10: Intercept's 19 MB).
const TARGET_RSS_MIB: f64 = 20.0;
/// "Flat": the largest backlog may cost at most this much more than the smallest.
const TARGET_RSS_GROWTH: f64 = 1.25;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Measured calls per side (after a warm-up of a tenth as many).
    #[arg(long, default_value_t = 20_000)]
    pub calls: u64,
    /// The mock server to drive: a bundled server's name or a server file.
    #[arg(long, default_value = "payments")]
    pub server: PathBuf,
    /// The tool to call (with empty arguments).
    #[arg(long, default_value = "list_customers")]
    pub tool: String,
    /// Alternating direct/proxy rounds; every figure is the spread over them.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Another gauntlet binary (an earlier build) whose proxy is measured as
    /// a fourth side in the same rounds: an A/B of two builds. It then
    /// stands for "today" in the no-worse-than targets, in place of the
    /// absolute figures an issue measured on another day.
    #[arg(long, value_name = "GAUNTLET")]
    pub baseline: Option<PathBuf>,
}

struct Session {
    /// `None` once reaped by [`Session::finish`].
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: String,
}

impl Session {
    fn start(mut command: Command) -> Result<Session, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut s = Session { child: Some(child), stdin, stdout, line: String::new() };
        s.round_trip(INIT, "\"id\":0")?;
        s.write(INITIALIZED)?;
        Ok(s)
    }

    fn write(&mut self, msg: &[u8]) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("no stdin")?;
        stdin
            .write_all(msg)
            .and_then(|_| stdin.write_all(b"\n"))
            .and_then(|_| stdin.flush())
            .map_err(|e| format!("the server went away: {e}"))
    }

    /// Sends one message and reads lines until the one carrying `needle`.
    fn round_trip(&mut self, msg: &[u8], needle: &str) -> Result<(), String> {
        self.write(msg)?;
        loop {
            self.line.clear();
            match self.stdout.read_line(&mut self.line) {
                Ok(0) => return Err("the server closed its output".into()),
                Ok(_) if self.line.contains(needle) => return Ok(()),
                Ok(_) => continue,
                Err(e) => return Err(format!("cannot read the server's output: {e}")),
            }
        }
    }

    /// Closes the input and reaps the process: its CPU seconds, with any child it reaped.
    fn finish(mut self) -> Result<f64, String> {
        drop(self.stdin.take());
        let child = self.child.take().ok_or("the process was already reaped")?;
        let used = usage::wait(child)?;
        Ok(used.cpu_secs)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Per-call latencies of `calls` sequential calls after a warm-up.
    fn measure(&mut self, tool: &str, calls: u64) -> Result<(Vec<Duration>, Duration), String> {
        let messages: Vec<(Vec<u8>, String)> = (1..=calls + calls / 10)
            .map(|id| (call_message(tool, id), format!("\"id\":{id},")))
            .collect();
        let (warm, measured) = messages.split_at((calls / 10) as usize);
        for (msg, needle) in warm {
            self.round_trip(msg, needle)?;
        }
        let mut latencies = Vec::with_capacity(measured.len());
        let started = Instant::now();
        for (msg, needle) in measured {
            let t = Instant::now();
            self.round_trip(msg, needle)?;
            latencies.push(t.elapsed());
        }
        Ok((latencies, started.elapsed()))
    }
}

fn call_message(tool: &str, id: u64) -> Vec<u8> {
    let msg = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {}}});
    msg.to_string().into_bytes()
}

/// Peak resident memory (VmHWM) of a process, in MiB; None off Linux.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// Pipelined backlogs whose peak RSS shows whether memory stays flat as the
/// backlog grows (the proxy reads ahead only as far as its in-flight window).
const BACKLOGS: [u64; 3] = [2_000, 20_000, 100_000];

/// Peak RSS of a fresh process after `calls` pipelined calls.
fn backlog_rss(command: Command, tool: &str, calls: u64) -> Result<f64, String> {
    let mut session = Session::start(command)?;
    pipeline(&mut session, tool, calls)?;
    peak_rss_mib(session.pid()).ok_or_else(|| "cannot read the peak RSS (/proc/PID/status)".into())
}

/// Calls/s with every call pipelined: a writer thread sends them all while
/// this thread counts the answers.
fn pipeline(session: &mut Session, tool: &str, calls: u64) -> Result<f64, String> {
    let mut stdin = session.stdin.take().ok_or("no stdin")?;
    let tool = tool.to_string();
    let started = Instant::now();
    let writer = std::thread::spawn(move || -> std::io::Result<ChildStdin> {
        let mut out = std::io::BufWriter::new(&mut stdin);
        for id in FIRST_PIPELINED_ID..FIRST_PIPELINED_ID + calls {
            out.write_all(&call_message(&tool, id))?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        drop(out);
        Ok(stdin)
    });
    let mut answered = 0u64;
    while answered < calls {
        session.line.clear();
        match session.stdout.read_line(&mut session.line) {
            Ok(0) => return Err("the server closed its output".into()),
            Ok(_) if session.line.contains("\"id\":") => answered += 1,
            Ok(_) => continue,
            Err(e) => return Err(format!("cannot read the server's output: {e}")),
        }
    }
    let elapsed = started.elapsed();
    session.stdin = Some(writer.join().map_err(|_| "the writer thread failed".to_string())?.map_err(|e| e.to_string())?);
    Ok(calls as f64 / elapsed.as_secs_f64().max(1e-9))
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

struct Figures {
    /// Pipelined.
    calls_per_sec: f64,
    /// One call in flight.
    sequential_calls_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    /// CPU seconds of the process (and the children it reaped) over the whole session.
    cpu_secs: f64,
}

/// Latency first (one call in flight), then pipelined throughput, on one session.
fn measure_side(command: Command, tool: &str, calls: u64) -> Result<Figures, String> {
    let mut session = Session::start(command)?;
    let (mut latencies, total) = session.measure(tool, calls)?;
    latencies.sort();
    let sequential = latencies.len() as f64 / total.as_secs_f64().max(1e-9);
    let calls_per_sec = pipeline(&mut session, tool, calls)?;
    Ok(Figures {
        calls_per_sec,
        sequential_calls_per_sec: sequential,
        p50_us: percentile_us(&latencies, 0.50),
        p99_us: percentile_us(&latencies, 0.99),
        cpu_secs: session.finish()?,
    })
}

/// One round's figures, each side on its own session, measured in turn.
struct Round {
    direct: Figures,
    relay: Figures,
    proxy: Figures,
    /// `--baseline`'s proxy.
    baseline: Option<Figures>,
}

/// The spread of one figure over the rounds; `f` picks it from one round.
fn spread_of(rounds: &[Round], f: impl Fn(&Round) -> f64) -> Spread {
    Spread::of(rounds.iter().map(f).collect()).unwrap_or(Spread { median: 0.0, min: 0.0, max: 0.0, rounds: Vec::new() })
}

fn side_json(rounds: &[Round], side: impl Fn(&Round) -> Option<&Figures>) -> Value {
    let figures: Vec<&Figures> = rounds.iter().filter_map(side).collect();
    if figures.is_empty() {
        return Value::Null;
    }
    let of = |f: fn(&Figures) -> f64| Spread::of(figures.iter().map(|x| f(x)).collect()).map(|s| s.json());
    json!({
        "calls_per_sec": of(|f| f.calls_per_sec),
        "sequential_calls_per_sec": of(|f| f.sequential_calls_per_sec),
        "p50_us": of(|f| f.p50_us),
        "p99_us": of(|f| f.p99_us),
        "cpu_secs": of(|f| f.cpu_secs),
    })
}

/// The command line of a proxy (`exe proxy …`) in front of the mock, with its own state.
fn proxy_command(exe: &Path, policy: &Path, state: PathBuf, audit: PathBuf, mock: &[&OsStr]) -> Command {
    let mut c = Command::new(exe);
    c.arg("proxy").arg(policy).arg("--state-dir").arg(state).arg("--no-reload").arg("--audit").arg(audit).arg("--").args(mock);
    c
}

fn bench(args: &Args) -> Result<(Value, Vec<Target>), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the gauntlet binary: {e}"))?;
    // Checked here so a bad --server is one clear error, not two failed sides.
    crate::mock::bundled::resolve(&args.server).map_err(|e| e.to_string())?;
    if let Some(baseline) = &args.baseline {
        if !baseline.is_file() {
            return Err(format!("--baseline `{}` is not a file: pass the path of another gauntlet binary", baseline.display()));
        }
    }
    let dir = tempfile_dir()?;
    let policy = dir.join("bench-policy.yaml");
    std::fs::write(&policy, POLICY).map_err(|e| format!("cannot write `{}`: {e}", policy.display()))?;

    let mock: [&OsStr; 3] = [exe.as_os_str(), OsStr::new("mock"), args.server.as_os_str()];
    let direct_cmd = || {
        let mut c = Command::new(&exe);
        c.args(&mock[1..]);
        c
    };
    let relay_cmd = || {
        let mut c = Command::new(&exe);
        c.args(["bench", "relay", "--"]).args(mock);
        c
    };
    let proxy_cmd = |exe: &Path, name: String| proxy_command(exe, &policy, dir.join(format!("state-{name}")), dir.join("audit.jsonl"), &mock);
    let rounds = args.rounds.max(1);
    let mut sides: Vec<Round> = Vec::new();
    let mut outcome = Ok(());
    for round in 0..rounds {
        let measured = (|| {
            Ok::<_, String>(Round {
                direct: measure_side(direct_cmd(), &args.tool, args.calls)?,
                relay: measure_side(relay_cmd(), &args.tool, args.calls)?,
                proxy: measure_side(proxy_cmd(&exe, format!("{round}")), &args.tool, args.calls)?,
                baseline: match &args.baseline {
                    Some(other) => Some(measure_side(proxy_cmd(other, format!("baseline-{round}")), &args.tool, args.calls)?),
                    None => None,
                },
            })
        })();
        match measured {
            Ok(r) => sides.push(r),
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    // Memory: a fresh proxy per backlog and round, so each peak is that backlog's own.
    let mut rss: Vec<Vec<f64>> = vec![Vec::new(); BACKLOGS.len()];
    if outcome.is_ok() {
        'rounds: for round in 0..rounds {
            for (i, &backlog) in BACKLOGS.iter().enumerate() {
                match backlog_rss(proxy_cmd(&exe, format!("rss-{round}-{i}")), &args.tool, backlog) {
                    Ok(mib) => rss[i].push(mib),
                    Err(e) => {
                        outcome = Err(e);
                        break 'rounds;
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    outcome?;
    if sides.is_empty() {
        return Err("no round completed".into());
    }
    let rss_spread: Vec<Spread> = rss.iter().map(|v| Spread::of(v.clone())).collect::<Option<_>>().ok_or("no memory round completed")?;
    let (rss_2k, rss_20k, rss_100k) = (&rss_spread[0], &rss_spread[1], &rss_spread[2]);
    let growth = rss_100k.median / rss_2k.median.max(1e-9);
    let memory: serde_json::Map<String, Value> = BACKLOGS.iter().zip(&rss_spread).map(|(b, s)| (b.to_string(), s.json())).collect();

    let ratio = spread_of(&sides, |r| r.proxy.calls_per_sec / r.direct.calls_per_sec.max(1e-9));
    let relay_ratio = spread_of(&sides, |r| r.relay.calls_per_sec / r.direct.calls_per_sec.max(1e-9));
    let added_p50 = spread_of(&sides, |r| r.proxy.p50_us - r.direct.p50_us);
    let added_p99 = spread_of(&sides, |r| r.proxy.p99_us - r.direct.p99_us);
    let relay_p50 = spread_of(&sides, |r| r.relay.p50_us - r.direct.p50_us);
    let own_p50 = spread_of(&sides, |r| r.proxy.p50_us - r.relay.p50_us);
    // Both sides answered the same calls: the warm-up, the timed sequential ones and the pipelined ones.
    let per_session = (args.calls + args.calls / 10 + args.calls) as f64;
    let added_cpu_us = spread_of(&sides, |r| (r.proxy.cpu_secs - r.direct.cpu_secs) / per_session * 1e6);
    let mut report = json!({
        "bench": "proxy",
        "calls": args.calls,
        "rounds": rounds,
        "tool": args.tool,
        "direct": side_json(&sides, |r| Some(&r.direct)),
        "relay": side_json(&sides, |r| Some(&r.relay)),
        "proxy": side_json(&sides, |r| Some(&r.proxy)),
        "throughput_ratio": ratio.json(),
        "relay_throughput_ratio": relay_ratio.json(),
        "added_p50_us": added_p50.json(),
        "added_p99_us": added_p99.json(),
        "relay_added_p50_us": relay_p50.json(),
        "proxy_over_relay_p50_us": own_p50.json(),
        "added_cpu_us_per_call": added_cpu_us.json(),
        "proxy_peak_rss_mib_by_backlog": memory,
        "rss_growth_largest_over_smallest": round(growth),
    });
    let mut targets = vec![
        Target::at_least(format!("pipelined throughput ≥ {TARGET_RATIO}× direct (median of per-round ratios)"), ratio.median, TARGET_RATIO),
        Target::at_most(format!("added p99 latency < {TARGET_ADDED_P99_US} µs (median)"), added_p99.median, TARGET_ADDED_P99_US, true),
        Target::at_most(format!("peak RSS ≤ {TARGET_RSS_MIB} MiB at 20,000 pipelined calls (every round)"), rss_20k.max, TARGET_RSS_MIB, false),
        Target::at_most(format!("flat: peak RSS at 100,000 calls ≤ {TARGET_RSS_GROWTH}× that at 2,000 (medians)"), growth, TARGET_RSS_GROWTH, false),
    ];
    let mut against_baseline = None;
    if let Some(baseline) = &args.baseline {
        // Every round measured the baseline when it was given (a failed side ends the run).
        fn b(r: &Round) -> &Figures {
            r.baseline.as_ref().unwrap_or(&r.proxy)
        }
        let b_ratio = spread_of(&sides, |r| b(r).calls_per_sec / r.direct.calls_per_sec.max(1e-9));
        let b_p50 = spread_of(&sides, |r| b(r).p50_us - r.direct.p50_us);
        // Per round, this build's figure over the baseline's: both measured minutes apart.
        let vs_ratio = spread_of(&sides, |r| r.proxy.calls_per_sec / b(r).calls_per_sec.max(1e-9));
        let vs_p50 = spread_of(&sides, |r| r.proxy.p50_us / b(r).p50_us.max(1e-9));
        report["baseline"] = json!({
            "binary": baseline.display().to_string(),
            "proxy": side_json(&sides, |r| r.baseline.as_ref()),
            "throughput_ratio": b_ratio.json(),
            "added_p50_us": b_p50.json(),
            "throughput_this_over_baseline": vs_ratio.json(),
            "p50_this_over_baseline": vs_p50.json(),
            "p50_this_minus_baseline_us": spread_of(&sides, |r| r.proxy.p50_us - b(r).p50_us).json(),
            // The same calls on both sides: the steadiest of the three when the machine is shared.
            "cpu_this_over_baseline": spread_of(&sides, |r| r.proxy.cpu_secs / b(r).cpu_secs.max(1e-9)).json(),
            "issue_day_figures": {
                "throughput_ratio": TODAY_RATIO,
                "added_p50_us": TODAY_ADDED_P50_US,
                "judged": false,
                "why": "measured on another day; with --baseline, \"no worse than today\" is this build against that day's build, in this run",
            },
        });
        against_baseline = Some((vs_ratio.median, vs_p50.median));
    }
    targets.extend(today_targets(ratio.median, added_p50.median, against_baseline));
    Ok((report, targets))
}

/// "No worse than today": against the other build measured in this run
/// (`against_baseline`: this build's throughput and p50 over that build's,
/// medians of per-round ratios) when there is one, else against the figures
/// the issue measured on its own day.
fn today_targets(ratio: f64, added_p50_us: f64, against_baseline: Option<(f64, f64)>) -> Vec<Target> {
    match against_baseline {
        None => vec![
            Target::at_least(format!("no worse than today: throughput ≥ {TODAY_RATIO}× direct (median)"), ratio, TODAY_RATIO),
            Target::at_most(
                format!("no worse than today: added p50 latency ≤ {TODAY_ADDED_P50_US} µs (median)"),
                added_p50_us,
                TODAY_ADDED_P50_US,
                false,
            ),
        ],
        Some((vs_ratio, vs_p50)) => {
            let pct = (BASELINE_TOLERANCE * 100.0).round();
            vec![
                Target::at_least(
                    format!("no worse than --baseline: throughput ≥ {}× the baseline build's (median of per-round ratios)", 1.0 - BASELINE_TOLERANCE),
                    vs_ratio,
                    1.0 - BASELINE_TOLERANCE,
                ),
                Target::at_most(
                    format!("no worse than --baseline: p50 latency at most {pct} % above the baseline build's (median of per-round ratios)"),
                    vs_p50,
                    1.0 + BASELINE_TOLERANCE,
                    false,
                ),
            ]
        }
    }
}

/// A fresh private directory for the policy, state and audit of one run.
fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("gauntlet-bench-proxy-{}", crate::proxy::grants::new_session_id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    Ok(dir)
}

pub fn run(args: Args) -> Exit {
    match bench(&args) {
        Ok((report, targets)) => super::targets::finish(report, &targets),
        Err(e) => {
            eprintln!("error: {e}");
            Exit::CouldNotRun
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baseline_build_stands_for_today_in_place_of_the_issue_figures() {
        let alone = today_targets(0.95, 60.0, None);
        assert_eq!(alone.iter().map(|t| t.met).collect::<Vec<_>>(), [true, false], "+60 µs is over the issue's 44");
        let ab = today_targets(0.95, 60.0, Some((0.97, 0.92)));
        assert!(ab.iter().all(|t| t.met && t.target.contains("--baseline")), "{ab:?}");
        let worse = today_targets(0.95, 30.0, Some((0.85, 1.15)));
        assert_eq!(worse.iter().map(|t| t.met).collect::<Vec<_>>(), [false, false]);
    }
}
