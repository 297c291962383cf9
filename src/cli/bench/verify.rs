//! `gauntlet bench verify`: the whole attack database against a 50-tool
//! policy and against a 20× larger one, run exactly as `gauntlet verify`
//! runs it in process, several rounds of each, alternating, each run in a
//! process of its own (`bench verify-run`) so its peak memory is its own.
//!
//! The policy (Intercept YAML text: rate limits, argument conditions, a daily
//! spend counter, hidden destructive tools, default deny) and the matching
//! N-tool mock server (risk categories spread evenly over read, write,
//! execute, financial and destructive) are built in code. Targets: the
//! 50-tool run under 2 s and the 1000-tool run within 10 s (medians), and
//! the large run's peak memory at most 1.2× the small one's (flat in the
//! tool count: tools of one class are attacked once, see
//! `verify::classes`). Baseline, measured in the same run: every message
//! the 50-tool verification sent, replayed straight into fresh mock servers
//! with no proxy and no judging, on as many threads; with `--unfolded`, the
//! large run with every tool attacked on its own, in the same rounds. Prints
//! one JSON object on stdout; exits 1 when a target is missed.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

use crate::cli::Exit;
use crate::clock::Timestamp;
use crate::caller::CallContext;
use crate::mock::{LedgerEntry, Risk, ServerSpec, ToolSpec};
use crate::profile::Profile;
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::Requirements;
use crate::scenario::Upstream;
use crate::verify::inprocess::{InProcessBench, NamedServer};
use crate::verify::play::System;
use crate::verify::{self, setup, Bench, Options, Summary};
use super::targets::{round, Spread, Target};
use super::usage::cpu_secs;

const SERVER: &str = "bench";

/// The small run must finish within this many seconds (median of the rounds).
const TARGET_SMALL_SECS: f64 = 2.0;

/// The large run must finish within this many seconds (median of the rounds).
const TARGET_LARGE_SECS: f64 = 10.0;

/// The large run's peak memory may be at most this multiple of the small run's: flat in the tool count.
const TARGET_MEMORY: f64 = 1.2;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A directory of scenarios to run instead of the built-in database.
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// Seed for every randomized behaviour of the runs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: the machine's parallelism, as `verify` uses).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The proxy behaviour the runs verify against.
    #[arg(long, value_enum, default_value_t = Profile::Intercept)]
    pub profile: Profile,
    #[command(flatten)]
    pub sizes: Sizes,
    /// Also run the large server with every tool attacked on its own (`verify
    /// --no-fold`) in each round, and compare.
    #[arg(long)]
    pub unfolded: bool,
}

/// The two sizes `bench verify` and `bench prove` compare, and how often.
#[derive(clap::Args, Debug)]
pub struct Sizes {
    /// Tools of the small server and policy: a multiple of 5, the risk
    /// classes the generated tools are spread over (credential is not one).
    #[arg(long, default_value_t = 50)]
    pub tools: usize,
    /// The large one has `tools × scale` tools and must take at most `scale`× as long.
    #[arg(long, default_value_t = 20)]
    pub scale: usize,
    /// Rounds of each measure, alternating small and large.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

impl Sizes {
    /// The small and the large tool count, or why `--tools` is refused.
    pub fn counts(&self) -> Result<(usize, usize), String> {
        if self.tools == 0 || !self.tools.is_multiple_of(CLASSES.len()) {
            return Err(format!("--tools must be a positive multiple of {} (one tool per risk class the bench spreads over)", CLASSES.len()));
        }
        Ok((self.tools, self.tools * self.scale.max(1)))
    }
}

pub fn run(args: Args) -> Exit {
    super::targets::report(measure(&args))
}

/// The five classes the bench's workload has always spread over (its figures compare across builds).
const CLASSES: [Risk; 5] = [Risk::Read, Risk::Write, Risk::Execute, Risk::Financial, Risk::Destructive];

pub fn risk_of(i: usize) -> Risk {
    CLASSES[i % CLASSES.len()]
}

pub fn tool_name(i: usize) -> String {
    format!("{}_{i:02}", risk_of(i).as_str())
}

fn schema(risk: Risk) -> Value {
    let (props, required) = match risk {
        Risk::Read => (
            json!({"query": {"type": "string", "maxLength": 200}, "limit": {"type": "integer", "minimum": 1, "maximum": 100}}),
            json!(["query"]),
        ),
        Risk::Write => (
            json!({"title": {"type": "string", "minLength": 1, "maxLength": 200}, "body": {"type": "string", "maxLength": 1000}}),
            json!(["title", "body"]),
        ),
        Risk::Execute => (
            json!({"command": {"type": "string", "enum": ["build", "test", "lint"]}, "timeout": {"type": "integer", "minimum": 1, "maximum": 600}}),
            json!(["command", "timeout"]),
        ),
        Risk::Financial => (
            json!({"amount": {"type": "integer", "minimum": 1, "maximum": 50000}, "currency": {"type": "string", "enum": ["usd", "eur"]}}),
            json!(["amount", "currency"]),
        ),
        Risk::Destructive | Risk::Credential => (json!({"id": {"type": "string", "minLength": 1}}), json!(["id"])),
    };
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

/// The `n`-tool mock server.
pub fn server_spec(n: usize) -> ServerSpec {
    let tools = (0..n)
        .map(|i| ToolSpec {
            name: tool_name(i),
            title: None,
            description: Some(format!("Bench tool {i} ({}).", risk_of(i).as_str())),
            input_schema: schema(risk_of(i)).into(),
            output_schema: None,
            annotations: None,
            execution: None,
            icons: None,
            meta: None,
            risk: risk_of(i),
            roles: None,
            stand_in: true,
            private: false,
            response: Default::default(),
            order: Vec::new(),
        })
        .collect();
    ServerSpec {
        name: SERVER.into(),
        version: "1.0.0".into(),
        title: None,
        instructions: None,
        tools,
        resources: Vec::new(),
        resource_templates: Vec::new(),
        prompts: Vec::new(),
        behaviour: Default::default(),
        recorded: None,
    }
}

/// The policy for the `n`-tool server as Intercept YAML text (parsed like any policy file).
pub fn policy_yaml(n: usize) -> String {
    let mut y = format!("version: \"1\"\ndescription: \"bench: {n} tools\"\ndefault: deny\nhide:\n");
    for i in (0..n).filter(|i| risk_of(*i) == Risk::Destructive) {
        y.push_str(&format!("  - {}\n", tool_name(i)));
    }
    y.push_str("tools:\n");
    for i in 0..n {
        let name = tool_name(i);
        y.push_str(&format!("  {name}:\n    rules:"));
        let rules = match risk_of(i) {
            Risk::Read => " []\n".to_string(),
            Risk::Write => "\n      - {name: rate, rate_limit: 15/minute}\n      - name: arguments\n        conditions:\n          - {path: args.title, op: regex, value: \"^.{1,200}$\"}\n          - {path: args.body, op: regex, value: \"^(?s).{0,1000}$\"}\n".to_string(),
            Risk::Execute => "\n      - {name: rate, rate_limit: 5/minute}\n      - name: arguments\n        conditions:\n          - {path: args.command, op: in, value: [build, test, lint]}\n          - {path: args.timeout, op: gte, value: 1}\n          - {path: args.timeout, op: lte, value: 600}\n".to_string(),
            Risk::Financial => format!(
                "\n      - {{name: rate, rate_limit: 5/minute}}\n      - name: amount\n        conditions:\n          - {{path: args.amount, op: gte, value: 1}}\n          - {{path: args.amount, op: lte, value: 50000}}\n          - {{path: args.currency, op: in, value: [usd, eur]}}\n      - name: daily spend\n        conditions:\n          - {{path: state.{name}.daily_spend, op: lte, value: 200000}}\n        state: {{counter: daily_spend, window: day, increment_from: args.amount}}\n"
            ),
            Risk::Destructive | Risk::Credential => "\n      - {name: never, action: deny}\n".to_string(),
        };
        y.push_str(&rules);
    }
    y
}

/// What one run of the system under test was sent, for the baseline replay: the server
/// is rebuilt from its name and overrides then, so building it is timed in both phases.
struct Recording {
    server: String,
    upstream: Option<Upstream>,
    target: String,
    sent: Vec<(Vec<u8>, CallContext, Timestamp)>,
}

/// The in-process bench, recording every message each fresh system receives.
struct RecordingBench {
    inner: InProcessBench,
    sink: Arc<Mutex<Vec<Recording>>>,
}

struct Recorder {
    system: Box<dyn System>,
    recording: Option<Recording>,
    sink: Arc<Mutex<Vec<Recording>>>,
}

impl System for Recorder {
    fn send(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Vec<u8>> {
        if let Some(r) = &mut self.recording {
            r.sent.push((line.to_vec(), ctx.clone(), now));
        }
        self.system.send(line, ctx, now)
    }

    fn advance_to(&mut self, now: Timestamp) -> Vec<Vec<u8>> {
        self.system.advance_to(now)
    }

    fn take_ledger(&mut self) -> Vec<LedgerEntry> {
        self.system.take_ledger()
    }

    fn audit(&self) -> &[crate::proxy::audit::AuditRecord] {
        self.system.audit()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let (Some(r), Ok(mut sink)) = (self.recording.take(), self.sink.lock()) {
            sink.push(r);
        }
    }
}

impl Bench for RecordingBench {
    fn catalogue(&self) -> &[ToolInfo] {
        self.inner.catalogue()
    }

    fn start(&self, server: &str, upstream: Option<&Upstream>, target: &str) -> Result<Box<dyn System>, String> {
        let system = self.inner.start(server, upstream, target)?;
        let recording = Recording {
            server: server.to_string(),
            upstream: upstream.cloned(),
            target: target.to_string(),
            sent: Vec::new(),
        };
        Ok(Box::new(Recorder { system, recording: Some(recording), sink: self.sink.clone() }))
    }

    fn names(&self, tool: &str) -> bool {
        self.inner.names(tool)
    }

    fn resolves_names_leniently(&self, server: &str) -> bool {
        self.inner.resolves_names_leniently(server)
    }

    fn hides(&self, tool: &str) -> bool {
        self.inner.hides(tool)
    }

    fn policy(&self) -> &crate::policy::model::Policy {
        self.inner.policy()
    }

    fn listing_matters(&self) -> bool {
        self.inner.listing_matters()
    }

    fn admission(&self) -> Option<&crate::engine::admission::Admission> {
        self.inner.admission()
    }
}

/// Replays every recording into a fresh mock server, `threads` at a time; returns wall seconds.
fn replay_direct(bench: &InProcessBench, recordings: &[Recording], threads: usize) -> Result<f64, String> {
    let started = Instant::now();
    let chunk = recordings.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = recordings
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<(), String> {
                    for r in part {
                        let mut server = bench.server_for(&r.server, r.upstream.as_ref(), &r.target)?;
                        for (line, ctx, now) in &r.sent {
                            server.handle(line, ctx, *now);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().map_err(|_| "a baseline thread panicked".to_string())?)
    })?;
    Ok(started.elapsed().as_secs_f64())
}

fn count_calls(line: &[u8]) -> usize {
    String::from_utf8_lossy(line).matches("\"tools/call\"").count()
}

/// The system under test for an `n`-tool server.
fn bench_for(n: usize, profile: Profile) -> Result<InProcessBench, String> {
    let policy = crate::policy::load_str(&policy_yaml(n), "bench-policy.yaml", None)
        .map_err(|e| format!("the generated bench policy does not load: {e}"))?
        .policy;
    let servers = vec![NamedServer { name: SERVER.into(), spec: server_spec(n) }];
    Ok(InProcessBench::new(policy, profile, servers))
}

/// `gauntlet bench verify-run` (hidden): one verification of the generated
/// `--tools` server in this process, timed from loading the policy to the
/// last verdict; prints one JSON object. `bench verify` runs it as a child
/// so that each run's peak memory is its own.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A directory of scenarios to run instead of the built-in database.
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// Seed for every randomized behaviour of the run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// The proxy behaviour the run verifies against.
    #[arg(long, value_enum, default_value_t = Profile::Intercept)]
    pub profile: Profile,
    /// Tools of the generated server (a multiple of 5, as in `bench verify`).
    #[arg(long)]
    pub tools: usize,
    /// Attack every tool on its own (no classes).
    #[arg(long)]
    pub no_fold: bool,
}

pub fn run_one(args: RunArgs) -> Exit {
    match one(&args) {
        Ok(v) => {
            println!("{v}");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::CouldNotRun
        }
    }
}

fn options(seed: u64, threads: usize, fold: bool) -> Options {
    Options {
        seed,
        reproduce: format!("{} bench verify --seed {seed}", crate::invocation::program()),
        threads,
        policy_file: "bench-policy.yaml".into(),
        shrink: true,
        fold,
    }
}

fn one(args: &RunArgs) -> Result<Value, String> {
    let scenarios = setup::scenarios(args.scenarios.as_slice(), args.scenarios.is_some(), &[], false)?;
    let opts = options(args.seed, args.threads.max(1), !args.no_fold);
    let (started, cpu) = (Instant::now(), cpu_secs());
    let bench = bench_for(args.tools, args.profile)?;
    let outcomes = verify::run(&bench, &scenarios, &Requirements::baseline(), &opts, &|_| {}, &|| {})?;
    let (wall, cpu) = (started.elapsed().as_secs_f64(), cpu_secs() - cpu);
    let runs = outcomes.iter().filter(|o| o.tool != "-").count();
    let attacked = outcomes.iter().filter(|o| o.tool != "-" && o.same_class_as.is_none()).count();
    Ok(json!({"wall_secs": wall, "cpu_secs": cpu, "runs": runs, "attacked": attacked, "verdicts": Summary::of(&outcomes), "peak_rss_bytes": own_peak_rss()}))
}

/// This process's peak resident memory in bytes (Linux `VmHWM`). What
/// `wait4` reports for a child is no use here: Linux keeps the high-water
/// mark of the memory map a child had before `exec` (the parent's, at the
/// fork), so every child of a parent that ran the 50-tool verification
/// itself read at least the parent's peak.
fn own_peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim();
    kib.parse::<u64>().ok().map(|k| k * 1024)
}

/// One verification in a child process: what it reported, and its peak memory (MiB).
fn child(n: usize, args: &Args, threads: usize, fold: bool) -> Result<(Value, f64), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the gauntlet binary: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "verify-run", "--tools", &n.to_string(), "--seed", &args.seed.to_string()])
        .args(["--threads", &threads.to_string(), "--profile", args.profile.as_str()]);
    if let Some(dir) = &args.scenarios {
        cmd.arg("--scenarios").arg(dir);
    }
    if !fold {
        cmd.arg("--no-fold");
    }
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start gauntlet bench verify-run: {e}"))?;
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut out).map_err(|e| format!("cannot read gauntlet bench verify-run: {e}"))?;
    }
    let used = super::usage::wait(child)?;
    if !used.success {
        return Err(format!("gauntlet bench verify-run --tools {n} failed"));
    }
    let report: Value = serde_json::from_str(out.trim()).map_err(|e| format!("gauntlet bench verify-run printed no report ({e}): {out}"))?;
    let peak = report["peak_rss_bytes"].as_u64().ok_or("gauntlet bench verify-run could not read its own peak memory (/proc/self/status)")?;
    Ok((report, peak as f64 / (1024.0 * 1024.0)))
}

/// Every round of one size (or of the large size unfolded).
#[derive(Default)]
struct Rounds {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    peak_mib: Vec<f64>,
    /// The last round's report (runs, verdicts).
    last: Value,
}

impl Rounds {
    fn run(&mut self, n: usize, args: &Args, threads: usize, fold: bool) -> Result<(), String> {
        let (report, peak) = child(n, args, threads, fold)?;
        let secs = |k: &str| report[k].as_f64().ok_or_else(|| format!("gauntlet bench verify-run printed no {k}"));
        self.wall.push(secs("wall_secs")?);
        self.cpu.push(secs("cpu_secs")?);
        self.peak_mib.push(peak);
        self.last = report;
        Ok(())
    }

    fn spread(&self, xs: &[f64]) -> Result<Spread, String> {
        Spread::of(xs.to_vec()).ok_or_else(|| "no round ran".to_string())
    }

    /// What one size ran, for the report.
    fn json(&self, n: usize) -> Result<Value, String> {
        let wall = self.spread(&self.wall)?;
        let runs = self.last["runs"].as_u64().unwrap_or(0);
        Ok(json!({
            "tools": n,
            "runs": runs,
            "attacked": self.last["attacked"],
            "wall_secs": wall.json(),
            "cpu_secs": self.spread(&self.cpu)?.json(),
            "peak_rss_mib": self.spread(&self.peak_mib)?.json(),
            "per_run_mean_ms": round(wall.median * 1e3 / runs.max(1) as f64),
            "verdicts": self.last["verdicts"],
        }))
    }
}

/// Per round, `a[i] / b[i]`.
fn per_round(a: &[f64], b: &[f64]) -> Option<Spread> {
    Spread::of(a.iter().zip(b).map(|(a, b)| a / b.max(1e-9)).collect())
}

/// Runs both sizes `rounds` times (each in its own process) and the baseline; returns the JSON report and the judged targets.
pub fn measure(args: &Args) -> Result<(Value, Vec<Target>), String> {
    let (small, large) = args.sizes.counts()?;
    let scenarios = setup::scenarios(args.scenarios.as_slice(), args.scenarios.is_some(), &[], false)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .max(1);
    let opts = options(args.seed, threads, true);

    // What the small verification sends, recorded once for the baseline.
    let sink = Arc::new(Mutex::new(Vec::new()));
    let recording = RecordingBench { inner: bench_for(small, args.profile)?, sink: sink.clone() };
    verify::run(&recording, &scenarios, &Requirements::baseline(), &opts, &|_| {}, &|| {})?;
    let RecordingBench { inner: replay_bench, sink: _ } = recording;
    let recordings = std::mem::take(&mut *sink.lock().map_err(|_| "a verifier thread panicked".to_string())?);

    let (mut small_runs, mut large_runs, mut unfolded, mut baseline_secs) =
        (Rounds::default(), Rounds::default(), Rounds::default(), Vec::new());
    for _ in 0..args.sizes.rounds.max(1) {
        small_runs.run(small, args, threads, true)?;
        baseline_secs.push(replay_direct(&replay_bench, &recordings, threads)?);
        large_runs.run(large, args, threads, true)?;
        if args.unfolded {
            unfolded.run(large, args, threads, false)?;
        }
    }
    let (small_wall, large_wall) = (small_runs.spread(&small_runs.wall)?, large_runs.spread(&large_runs.wall)?);
    let baseline = Spread::of(baseline_secs).ok_or_else(|| "no round ran".to_string())?;
    let (small_peak, large_peak) = (small_runs.spread(&small_runs.peak_mib)?, large_runs.spread(&large_runs.peak_mib)?);
    let memory = large_peak.median / small_peak.median.max(1e-9);
    let messages: usize = recordings.iter().map(|r| r.sent.len()).sum();
    let calls: usize = recordings.iter().flat_map(|r| r.sent.iter()).map(|(l, _, _)| count_calls(l)).sum();
    let mut report = json!({
        "bench": "verify",
        "scenarios": scenarios.len(),
        "threads": threads,
        "profile": args.profile.as_str(),
        "rounds": args.sizes.rounds.max(1),
        "small": small_runs.json(small)?,
        "large": large_runs.json(large)?,
        "scaling": {
            "what": format!("large/small, each round in its own processes; the tool count grows {}×", args.sizes.scale.max(1)),
            "wall_of_medians": round(large_wall.median / small_wall.median.max(1e-9)),
            "wall_per_round": per_round(&large_runs.wall, &small_runs.wall).map(|s| s.json()),
            "cpu_per_round": per_round(&large_runs.cpu, &small_runs.cpu).map(|s| s.json()),
            "peak_rss_of_medians": round(memory),
            "peak_rss_per_round": per_round(&large_runs.peak_mib, &small_runs.peak_mib).map(|s| s.json()),
        },
        "baseline": {
            "what": "the small run's messages sent straight into fresh mock servers: no proxy, no planning, no judging",
            "systems_started": recordings.len(),
            "messages_sent": messages,
            "calls_sent": calls,
            "wall_secs": baseline.json(),
        },
        "small_to_baseline": round(small_wall.median / baseline.median.max(1e-9)),
        "scenario_dir": args.scenarios.as_ref().map_or_else(|| "built-in".to_string(), |d| d.display().to_string()),
    });
    let targets = vec![
        Target::at_most(format!("{small}-tool run < {TARGET_SMALL_SECS} s (median)"), small_wall.median, TARGET_SMALL_SECS, true),
        Target::at_most(format!("{large}-tool run ≤ {TARGET_LARGE_SECS} s wall (median)"), large_wall.median, TARGET_LARGE_SECS, false),
        Target::at_most(
            format!("{large}-tool run's peak memory ≤ {TARGET_MEMORY}× the {small}-tool run's (medians)"),
            memory,
            TARGET_MEMORY,
            false,
        ),
    ];
    if args.unfolded {
        let same = unfolded.last["verdicts"] == large_runs.last["verdicts"];
        report["unfolded"] = json!({
            "what": format!("the {large}-tool run with every tool attacked on its own (`--no-fold`), in the same rounds"),
            "run": unfolded.json(large)?,
            "folded_to_unfolded_wall_per_round": per_round(&large_runs.wall, &unfolded.wall).map(|s| s.json()),
            "folded_to_unfolded_cpu_per_round": per_round(&large_runs.cpu, &unfolded.cpu).map(|s| s.json()),
            "folded_to_unfolded_peak_rss_per_round": per_round(&large_runs.peak_mib, &unfolded.peak_mib).map(|s| s.json()),
            "same_verdict_counts": same,
        });
    }
    Ok((report, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_policy_names_every_tool_and_hides_destructive_ones() {
        let loaded = crate::policy::load_str(&policy_yaml(50), "bench.yaml", None).unwrap();
        let spec = server_spec(50);
        assert_eq!(spec.tools.len(), 50);
        for t in &spec.tools {
            assert!(loaded.policy.tool(&t.name).is_some(), "{} not in the policy", t.name);
            assert_eq!(loaded.policy.hide.contains(&t.name), t.risk == Risk::Destructive, "{}", t.name);
        }
        let per_risk = |r: Risk| spec.tools.iter().filter(|t| t.risk == r).count();
        assert!(CLASSES.iter().all(|r| per_risk(*r) == 10));
    }

    #[test]
    fn a_run_reads_its_own_peak_memory() {
        let peak = own_peak_rss().expect("VmHWM in /proc/self/status");
        assert!(peak > 1024 * 1024, "{peak} bytes");
    }

    #[test]
    fn counts_calls_inside_batches() {
        assert_eq!(count_calls(br#"[{"method":"tools/call"},{"method":"tools/call"}]"#), 2);
        assert_eq!(count_calls(br#"{"method":"tools/list"}"#), 0);
    }
}
