//! `gauntlet bench verify`: the whole attack database against a 50-tool
//! policy and against a 20× larger one, run in process exactly as `gauntlet
//! verify` runs it, several rounds of each, alternating.
//!
//! The policy (Intercept YAML text: rate limits, argument conditions, a daily
//! spend counter, hidden destructive tools, default deny) and the matching
//! N-tool mock server (risk categories spread evenly over read, write,
//! execute, financial and destructive) are built in code. Targets: the
//! 50-tool run under 2 s (median), and the large run at most 20× the 50-tool
//! one (linear in the tool count). Baseline, measured in the same run: every
//! message the 50-tool verification sent, replayed straight into fresh mock
//! servers with no proxy and no judging, on as many threads. Prints one JSON
//! object on stdout; exits 1 when a target is missed.

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
use crate::scenario::Scenario;
use crate::verify::{self, setup, Bench, Options, Summary};
use super::targets::{round, Spread, Target};
use super::usage::cpu_secs;

const SERVER: &str = "bench";

/// The small run must finish within this many seconds (median of the rounds).
const TARGET_SMALL_SECS: f64 = 2.0;

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
    /// Tools of the small server (a multiple of 5: one per risk category).
    #[arg(long, default_value_t = 50)]
    pub tools: usize,
    /// The large server has `tools × scale` tools and must take at most `scale`× as long.
    #[arg(long, default_value_t = 20)]
    pub scale: usize,
    /// Rounds of each size, alternating small and large.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
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

/// One timed verification, from loading the policy to the last verdict: wall and CPU seconds.
fn timed(n: usize, args: &Args, scenarios: &[Scenario], opts: &Options) -> Result<(f64, f64, Vec<verify::Outcome>), String> {
    let (started, cpu) = (Instant::now(), cpu_secs());
    let bench = bench_for(n, args.profile)?;
    let outcomes = verify::run(&bench, scenarios, &Requirements::baseline(), opts, &|_| {}, &|| {})?;
    Ok((started.elapsed().as_secs_f64(), cpu_secs() - cpu, outcomes))
}

/// Wall and CPU seconds of every round of one size.
#[derive(Default)]
struct Rounds {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    outcomes: Vec<verify::Outcome>,
}

impl Rounds {
    fn run(&mut self, n: usize, args: &Args, scenarios: &[Scenario], opts: &Options) -> Result<(), String> {
        let (wall, cpu, outcomes) = timed(n, args, scenarios, opts)?;
        self.wall.push(wall);
        self.cpu.push(cpu);
        self.outcomes = outcomes;
        Ok(())
    }
}

/// What one size ran, for the report.
fn size_json(n: usize, wall: &Spread, cpu: &Spread, outcomes: &[verify::Outcome]) -> Value {
    let runs = outcomes.iter().filter(|o| o.tool != "-").count();
    json!({
        "tools": n,
        "runs": runs,
        "wall_secs": wall.json(),
        "cpu_secs": cpu.json(),
        "per_run_mean_ms": round(wall.median * 1e3 / runs.max(1) as f64),
        "verdicts": Summary::of(outcomes),
    })
}

/// Runs both sizes `rounds` times and the baseline; returns the JSON report and the judged targets.
pub fn measure(args: &Args) -> Result<(Value, Vec<Target>), String> {
    if args.tools == 0 || !args.tools.is_multiple_of(Risk::ALL.len()) {
        return Err(format!("--tools must be a positive multiple of {} (one tool per risk category)", Risk::ALL.len()));
    }
    let (small, large) = (args.tools, args.tools * args.scale.max(1));
    let scenarios = setup::scenarios(args.scenarios.as_slice(), args.scenarios.is_some(), &[], false)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .max(1);
    let opts = Options {
        seed: args.seed,
        reproduce: format!("{} bench verify --seed {}", crate::invocation::program(), args.seed),
        threads,
        policy_file: "bench-policy.yaml".into(),
        shrink: true,
    };

    // What the small verification sends, recorded once for the baseline.
    let sink = Arc::new(Mutex::new(Vec::new()));
    let recording = RecordingBench { inner: bench_for(small, args.profile)?, sink: sink.clone() };
    verify::run(&recording, &scenarios, &Requirements::baseline(), &opts, &|_| {}, &|| {})?;
    let RecordingBench { inner: replay_bench, sink: _ } = recording;
    let recordings = std::mem::take(&mut *sink.lock().map_err(|_| "a verifier thread panicked".to_string())?);

    let (mut small_runs, mut large_runs, mut baseline_secs) = (Rounds::default(), Rounds::default(), Vec::new());
    for _ in 0..args.rounds.max(1) {
        small_runs.run(small, args, &scenarios, &opts)?;
        baseline_secs.push(replay_direct(&replay_bench, &recordings, threads)?);
        large_runs.run(large, args, &scenarios, &opts)?;
    }
    let spread = |xs: &[f64]| Spread::of(xs.to_vec()).ok_or_else(|| "no round ran".to_string());
    let (small_wall, large_wall, baseline) = (spread(&small_runs.wall)?, spread(&large_runs.wall)?, spread(&baseline_secs)?);
    let (small_cpu, large_cpu) = (spread(&small_runs.cpu)?, spread(&large_runs.cpu)?);
    let scaling = large_wall.median / small_wall.median.max(1e-9);
    let per_round = |l: &[f64], s: &[f64]| Spread::of(l.iter().zip(s).map(|(l, s)| l / s.max(1e-9)).collect()).map(|s| s.json());
    let messages: usize = recordings.iter().map(|r| r.sent.len()).sum();
    let calls: usize = recordings.iter().flat_map(|r| r.sent.iter()).map(|(l, _, _)| count_calls(l)).sum();
    let report = json!({
        "bench": "verify",
        "scenarios": scenarios.len(),
        "threads": threads,
        "profile": args.profile.as_str(),
        "rounds": args.rounds.max(1),
        "small": size_json(small, &small_wall, &small_cpu, &small_runs.outcomes),
        "large": size_json(large, &large_wall, &large_cpu, &large_runs.outcomes),
        "scaling": {
            "what": format!("large/small time; linear in the tool count is {}", args.scale.max(1)),
            "wall_of_medians": round(scaling),
            "wall_per_round": per_round(&large_runs.wall, &small_runs.wall),
            "cpu_of_medians": round(large_cpu.median / small_cpu.median.max(1e-9)),
            "cpu_per_round": per_round(&large_runs.cpu, &small_runs.cpu),
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
        Target::at_most(
            format!("{large}-tool run ≤ {}× the {small}-tool run (medians)", args.scale.max(1)),
            scaling,
            args.scale.max(1) as f64,
            false,
        ),
    ];
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
    fn counts_calls_inside_batches() {
        assert_eq!(count_calls(br#"[{"method":"tools/call"},{"method":"tools/call"}]"#), 2);
        assert_eq!(count_calls(br#"{"method":"tools/list"}"#), 0);
    }
}
