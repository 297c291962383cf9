//! Verdicts: every applicable scenario × target tool, run through the
//! enforcing proxy on a virtual clock and judged on the server's ledger.
//!
//! For each pair: **held** (with attempted/reached/bound), **breached** (the
//! numbers, the shortest trace that still breaches, a reproduce command),
//! **over-blocking** (the benign twin was refused), or **not applicable**
//! (nothing to target, or the requirements ask nothing of that tool). A
//! breach is a *policy* finding unless the scenario's layer is `proxy` (no
//! policy can stop it on this proxy). This module never prints; `report` does.

pub mod blame;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod blackbox;
mod classes;
pub mod denial;
pub mod coverage;
pub mod destinations;
pub mod definitions;
pub mod faults;
pub mod inprocess;
pub mod measure;
pub mod play;
pub mod selfcheck;
pub mod setup;
pub mod severity;
pub mod shrink;
pub mod text;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::agent::{self, Action, Payload, Target, TraceStep};
use crate::mock::Surface;
use crate::clock::Timestamp;
use crate::engine::admission::{Admission, Answer, Prefer};
use crate::proxy::core::AuditResult;
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::{Egress, Requirements};
use crate::scenario::{Behaviour, Generator, Layer, Scenario, StateSetup, Step, Targets, Upstream};
pub use coverage::Coverage;
pub use text::Text;
use measure::{calls_of, uses_of, CheckResult};
use play::{play, Observation, Opening, System};

/// Where every run starts: a UTC day boundary, so `at: 59s` sits one second before a minute edge.
pub const START: Timestamp = Timestamp(1_772_409_600_000_000_000);

/// Replays allowed when shrinking one breach.
pub const SHRINK_BUDGET: usize = 96;

/// What the verifier needs from the system under test.
pub trait Bench: Sync {
    /// Every tool of every server in play.
    fn catalogue(&self) -> &[ToolInfo];
    /// The resources and prompts of the servers in play (see [`inprocess::surfaces_of`]).
    fn surfaces(&self, _reqs: &Requirements) -> Vec<ToolInfo> {
        Vec::new()
    }
    /// A fresh proxy + mock server for `server`, with a scenario's upstream overrides for `target`.
    fn start(&self, server: &str, upstream: Option<&Upstream>, target: &str) -> Result<Box<dyn System>, String>;
    /// Whether the policy names the tool (a tool entry or a hide entry).
    fn names(&self, tool: &str) -> bool;
    /// Whether `server` resolves tool names leniently (`GIT_STATUS` runs
    /// `git_status`): its mock file's `lenient_names`, which `mock record`
    /// probes; exact otherwise, as the MCP SDKs resolve names.
    fn resolves_names_leniently(&self, server: &str) -> bool;
    /// Whether the policy's `hide` list covers the tool.
    fn hides(&self, tool: &str) -> bool;
    /// The policy under test, for blaming findings on its lines.
    fn policy(&self) -> &crate::policy::model::Policy;
    /// Whether a plan can run here at all (a wall-clock system has a time
    /// budget); the error says what it would need. `faulted`: the run has
    /// faults timed against its calls.
    fn fits(&self, _actions: &[Action], _upstream: Option<&Upstream>, _faulted: bool) -> Result<(), String> {
        Ok(())
    }
    /// Whether a run here mostly waits on a real clock, so a scenario's
    /// attack and benign twin (each on fresh systems) are played at once.
    fn runs_on_the_wall_clock(&self) -> bool {
        false
    }
    /// Whether a session's `tools/list` can change how the system treats later
    /// calls (a proxy we did not write may pin what it listed). When it cannot,
    /// sessions open without one unless the verdict reads the list.
    fn listing_matters(&self) -> bool {
        true
    }
    /// Why one run's proxy state (counters) carries into the next, if it
    /// does: a benign twin refused then says nothing about over-blocking.
    fn state_carries_over(&self) -> Option<&str> {
        None
    }
    /// How proxy replicas keep counters when a scenario does not pin it (`verify --state`).
    fn state(&self) -> StateSetup {
        StateSetup::Local
    }
    /// What the policy admits (Intercept's semantics), when the policy is known.
    fn admission(&self) -> Option<&Admission> {
        None
    }
    /// Whether the policy decides requests on the surfaces beside tools (the
    /// embedded proxy under `strict`), so a breach there is the policy's.
    fn policy_gates_surfaces(&self) -> bool {
        false
    }
    /// Whether the policy under test is one gauntlet cannot read (a real
    /// proxy's own format): what it counts in a store is then unknown.
    fn policy_unknown(&self) -> bool {
        false
    }
}

/// How sessions open on `bench` when the verdict does (`reads_list`) or does not read the list.
fn opening(bench: &dyn Bench, reads_list: bool) -> Opening {
    if reads_list || bench.listing_matters() {
        Opening::HANDSHAKE_AND_LIST
    } else {
        Opening::HANDSHAKE
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Held,
    Breached,
    OverBlocking,
    NotApplicable,
    /// The policy's argument conditions refused every call the attack sent,
    /// so the limit it tests was never reached: not a hold (the reason says why).
    NotExercised,
    /// The proxy under test has no way to take part (gauntlet cannot fault
    /// it that way, or cannot express the class in its configuration) —
    /// unlike not applicable, where the requirements ask nothing.
    Unsupported,
    /// The scenario could not be run (a broken server file, an unusable template).
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::Breached => "breached",
            Verdict::OverBlocking => "over-blocking",
            Verdict::NotApplicable => "not applicable",
            Verdict::NotExercised => "not exercised",
            Verdict::Unsupported => "unsupported",
            Verdict::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// The policy could have stopped it.
    Policy,
    /// No policy can stop it on this proxy.
    Proxy,
}

/// The benign twin's numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TwinResult {
    pub tool: String,
    pub attempted: usize,
    pub reached: usize,
    /// The proxy's record of the first legitimate call it refused.
    #[serde(skip)]
    pub refused: Option<Box<crate::proxy::audit::AuditRecord>>,
    /// That call's arguments.
    #[serde(skip)]
    pub refused_arguments: Option<serde_json::Value>,
    /// The twin's plan up to and including that call.
    #[serde(skip)]
    pub trace: Vec<TraceStep>,
    /// The legitimate workload the twin followed, and where it came from.
    pub workload: Text,
}

/// The verdict for one scenario × tool.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub scenario: String,
    pub title: Text,
    pub class: Text,
    pub server: String,
    pub tool: String,
    pub verdict: Verdict,
    pub finding: Option<Finding>,
    /// How much harm the finding stands for (findings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<severity::Severity>,
    /// Tool calls the agent sent.
    pub attempted: usize,
    /// Calls of the tool the server recorded.
    pub reached: usize,
    pub bound: Text,
    pub observed: Text,
    pub note: Option<Text>,
    /// The shortest plan that still breaches (breaches only).
    pub trace: Vec<TraceStep>,
    /// Length of the plan before shrinking.
    pub trace_from: usize,
    /// As a string, so JSON consumers never round it.
    #[serde(serialize_with = "as_string")]
    pub seed: u64,
    pub reproduce: Option<Text>,
    /// This and the optional parts below are boxed: most outcomes of a large
    /// run lack them, and an outcome's size is what a large run keeps per tool.
    pub twin: Option<Box<TwinResult>>,
    /// The policy location responsible (policy findings and over-blocking).
    pub blame: Option<Box<blame::Blame>>,
    /// The first refusal of a tool call the agent received, as it received it.
    /// Shared: a class member's is its representative's.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "shared")]
    pub denial: Option<std::sync::Arc<denial::Denial>>,
    /// The check a breach failed, for remedies (`harden`).
    #[serde(skip)]
    pub check: Option<Box<measure::Check>>,
    /// What the attack's run looked like over virtual time (held and breached outcomes).
    #[serde(skip)]
    pub timeline: Option<Box<Timeline>>,
    /// Every distinct refusal text the agent received (arrival order aside,
    /// which a wall-clock run does not keep).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denial_texts: Vec<String>,
    /// The proxy replicas and state setup the run assumed (replica scenarios only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
    /// What the proxy did under the scenario's faults (fault scenarios only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behaviour: Option<faults::Behaviour>,
    /// The tool attacked in this one's place: same rules, counters, schema and
    /// requirements (see [`classes`]); its verdict is this one's, and its trace is kept there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_class_as: Option<String>,
}

/// The proxy setup a replica scenario ran against: its verdict holds for that setup only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Deployment {
    pub replicas: u32,
    pub state: StateSetup,
}

impl Deployment {
    /// The setup a scenario runs against on `bench`; `None` for one proxy.
    fn of(upstream: Option<&Upstream>, bench: &dyn Bench) -> Option<Deployment> {
        let up = upstream?;
        let replicas = up.replicas.filter(|n| *n > 1)?;
        Some(Deployment { replicas, state: up.state.unwrap_or_else(|| bench.state()) })
    }

    /// What the verdict assumed, in words.
    pub fn assumed(&self) -> String {
        match self.state {
            StateSetup::Local => format!("assumed {} proxy replicas, each with its own local state (`--state local`)", self.replicas),
            StateSetup::Shared => format!("assumed {} proxy replicas sharing one state store (`--state shared`)", self.replicas),
        }
    }
}

fn as_string<S: serde::Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(n)
}

/// A shared value as the value itself.
fn shared<T: Serialize, S: serde::Serializer>(v: &Option<std::sync::Arc<T>>, s: S) -> Result<S::Ok, S::Error> {
    v.as_deref().serialize(s)
}

/// One attack run as observed, for plots: when the agent sent each tool call
/// and when each call of the target tool reached the server, taken from the
/// run's plan and the server's ledger, never recomputed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// Virtual nanoseconds after the start at which each tool call was sent.
    pub sent: Vec<i64>,
    /// Virtual nanoseconds after the start at which each call reached the server (its ledger).
    pub reached: Vec<i64>,
    /// The rate bound judged, if the attack was judged on one.
    pub bound: Option<WindowBound>,
}

/// At most `count` calls in any `window` nanoseconds (calendar windows unless `sliding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowBound {
    pub count: u64,
    pub window: i64,
    pub sliding: bool,
}

impl Timeline {
    fn of(actions: &[Action], obs: &Observation, tool: &ToolInfo, checks: &[measure::Check]) -> Timeline {
        let bound = checks.iter().find_map(|c| match c {
            measure::Check::Rate { count, window, sliding, .. } => {
                Some(WindowBound { count: *count, window: window.nanos(), sliding: *sliding })
            }
            _ => None,
        });
        // A shared budget plots every tool it counts.
        let shared = checks.iter().find_map(|c| match c {
            measure::Check::Rate { shared, .. } if !shared.is_empty() => Some(shared.clone()),
            _ => None,
        });
        let counted = shared.unwrap_or_else(|| vec![tool.name.clone()]);
        let mut reached: Vec<i64> =
            counted.iter().flat_map(|t| measure::uses_of(&obs.ledger, tool.surface, t)).map(|e| e.time.0 - START.0).collect();
        reached.sort_unstable();
        Timeline { sent: actions.iter().filter(|a| a.tool_name().is_some()).map(|a| a.at).collect(), reached, bound }
    }
}

/// Run-wide settings.
#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    /// The command prefix that reproduces this run (`gauntlet verify POLICY --server …`).
    pub reproduce: String,
    pub threads: usize,
    /// The policy file as findings name it (`examples/x.yaml`).
    pub policy_file: String,
    /// Shrink breaching plans to the shortest that still breaches (every try is a replay).
    pub shrink: bool,
    /// Attack one tool per class and carry its verdict to the others (see [`classes`]).
    pub fold: bool,
}

/// A per-(scenario, tool) seed, stable under `--only`: the run seed mixed with both names.
pub fn seed_for(seed: u64, scenario: &str, tool: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scenario.bytes().chain([0u8]).chain(tool.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ seed
}

fn matches(t: &Targets, tool: &ToolInfo, blocked: bool, bench: &dyn Bench) -> bool {
    t.surface == tool.surface
        && (t.tools.is_empty() || t.tools.contains(&tool.name))
        && (t.risk.is_empty() || t.risk.contains(&tool.risk))
        && (!t.blocked_by_policy || blocked)
        && (!t.hidden_by_policy || bench.hides(&tool.name))
        && (!t.unlisted_by_policy || !bench.names(&tool.name))
        && tool.has_role_of(&t.roles)
}

/// A tool by its server and name: two servers in play may offer one name.
pub type ToolKey = (String, String);

fn key(t: &ToolInfo) -> ToolKey {
    (t.server.clone(), t.name.clone())
}

/// Which tools the policy refuses every call of. With the admission model:
/// exactly those it admits no call of (hidden, default-denied, a deny rule,
/// conditions no value meets) — a tool allowed under a condition is not
/// blocked; the model's unknowns count as not blocked, so their attacks run.
/// Without it (a black-box proxy whose policy gauntlet cannot read): one
/// well-formed, schema-valid call probed through the proxy, each on a fresh
/// system so no counter is shared, `threads` at a time.
pub fn probe_blocked(bench: &dyn Bench, reqs: &Requirements, seed: u64, threads: usize) -> Result<BTreeMap<ToolKey, bool>, String> {
    if let Some(admission) = bench.admission() {
        return Ok(bench
            .catalogue()
            .iter()
            .map(|tool| {
                let base = agent::generate::valid(&tool.input_schema, &mut seeded(seed, "probe", &tool.name), false);
                let base = base.as_object().cloned().unwrap_or_default();
                let blocked = matches!(admission.tool(&tool.name).admitted(&base, &Prefer::default()), Answer::No(_));
                (key(tool), blocked)
            })
            .collect());
    }
    let probe = |tool: &ToolInfo| -> Result<bool, String> {
        let steps = vec![Step { args: Generator::Valid, ..Default::default() }];
        let target = Target { destinations: destinations::plan(tool, reqs, None).destinations, ..Target::plain(tool) };
        let actions = agent::plan(&Behaviour { steps, random: None, list_on_open: None }, &target, seed_for(seed, "probe", &tool.name))?;
        let mut sys = bench.start(&tool.server, None, &tool.name)?;
        let obs = play(&mut *sys, &actions, START, opening(bench, false));
        if let Some(why) = obs.failure {
            return Err(format!("probing `{}` with one well-formed call failed: {why}", tool.name));
        }
        Ok(calls_of(&obs.ledger, &tool.name).count() == 0)
    };
    let catalogue = bench.catalogue();
    let blocked = parallel_map(catalogue, threads, &|tool| probe(tool))?;
    catalogue.iter().zip(blocked).map(|(tool, b)| Ok((key(tool), b?))).collect()
}

fn seeded(seed: u64, scenario: &str, tool: &str) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::seed_from_u64(seed_for(seed, scenario, tool))
}

/// `f` over `items` on `threads` workers; the results in the order of `items`.
fn parallel_map<T: Sync, R: Send>(items: &[T], threads: usize, f: &(dyn Fn(&T) -> R + Sync)) -> Result<Vec<R>, String> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                if let Ok(mut all) = results.lock() {
                    all.push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().map_err(|_| "a verifier thread panicked".to_string())?;
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

struct Job<'a> {
    scenario: &'a Scenario,
    tool: Option<&'a ToolInfo>,
    /// A job without a tool: the requirements ask nothing of the scenario's surface
    /// (else it has no targets). A flag, not the text: a large run holds every job.
    unasked: bool,
    /// The job of this tool's class representative, whose verdict this one carries.
    carries: Option<usize>,
}

/// What every job may look up about the tools in play, computed once.
struct Facts {
    blocked: BTreeMap<ToolKey, bool>,
    /// Per server, the tools a call may be refused for nothing, least guarded first (see [`decoy_for`]).
    decoys: BTreeMap<String, Vec<String>>,
    /// The resources and prompts in play.
    surfaces: Vec<ToolInfo>,
}

/// Why a scenario on a surface the requirements say nothing about tests nothing.
fn surface_unasked(surface: Surface) -> String {
    let key = match surface {
        Surface::Resource => "resources",
        _ => "prompts",
    };
    format!("the requirements ask nothing of {key}; to judge it, set `{key}:` in gauntlet.yaml, e.g. `{key}: {{denied: [\"…\"], rate: {{count: 30, window: 1m}}}}`")
}

/// Runs every scenario against every tool it targets. `tick` is called once per finished job.
pub fn run(
    bench: &dyn Bench,
    scenarios: &[Scenario],
    reqs: &Requirements,
    opts: &Options,
    on_total: &dyn Fn(usize),
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<Outcome>, String> {
    let blocked = probe_blocked(bench, reqs, opts.seed, opts.threads)?;
    let facts = Facts { decoys: decoys(bench.catalogue(), &blocked), blocked, surfaces: bench.surfaces(reqs) };
    let classes = if opts.fold { classes::keys(bench, reqs, &facts) } else { BTreeMap::new() };
    // Each scenario's targets first (`None`: the requirements ask nothing of its
    // surface), so that the job list, a job per scenario × tool held through the
    // whole run, is allocated once at its length: growing it by doubling left
    // the spare half, and shrinking it copied it.
    let targets: Vec<Option<Vec<&ToolInfo>>> = scenarios
        .iter()
        .map(|s| {
            let surface = s.targets.surface;
            if reqs.surface(surface).is_some_and(|r| r.is_empty()) {
                return None;
            }
            let items = if surface == Surface::Tool { bench.catalogue() } else { &facts.surfaces[..] };
            let egress = |t: &ToolInfo| s.targets.flow_egress && reqs.flow_over(t).is_some();
            Some(items.iter().filter(|t| matches(&s.targets, t, facts.blocked.get(&key(t)).copied().unwrap_or(false), bench) || egress(t)).collect())
        })
        .collect();
    let mut jobs = Vec::with_capacity(targets.iter().map(|t| t.as_ref().map_or(1, |t| t.len().max(1))).sum());
    for (s, targets) in scenarios.iter().zip(targets) {
        let Some(targets) = targets else {
            jobs.push(Job { scenario: s, tool: None, unasked: true, carries: None });
            continue;
        };
        if targets.is_empty() {
            jobs.push(Job { scenario: s, tool: None, unasked: false, carries: None });
        }
        // The first target of each class is its representative for this scenario.
        let mut representative: BTreeMap<usize, usize> = BTreeMap::new();
        for t in targets {
            let carries = classes.get(&key(t)).and_then(|&class| match representative.get(&class) {
                Some(&rep) => Some(rep),
                None => {
                    representative.insert(class, jobs.len());
                    None
                }
            });
            jobs.push(Job { scenario: s, tool: Some(t), unasked: false, carries });
        }
    }
    on_total(jobs.len());
    let attacked: Vec<usize> = (0..jobs.len()).filter(|&i| jobs[i].carries.is_none()).collect();
    let represents: std::collections::BTreeSet<usize> = jobs.iter().filter_map(|j| j.carries).collect();
    let judged = parallel_map(&attacked, opts.threads, &|&i| {
        let job = &jobs[i];
        let outcome = match job.tool {
            Some(tool) => {
                let seed = seed_for(opts.seed, &job.scenario.id, &tool.name);
                let judged = |seed| on_names_as_the_server_resolves_them(bench, job.scenario, judge(bench, job.scenario, tool, &facts, reqs, opts, seed));
                let mut o = judged(seed);
                // Members judged alone would each draw their own random calls: a hold
                // carried to them is first confirmed on a second draw.
                if represents.contains(&i) && job.scenario.agent.random.is_some() && o.verdict == Verdict::Held {
                    let second = confirming_seed(seed);
                    let again = judged(second);
                    o = match again.verdict {
                        Verdict::Held => {
                            let confirmed = format!("held again under a second seed ({second}), drawn before its verdict was carried to its class");
                            Outcome { note: Some(Text::from(o.note.map_or_else(|| confirmed.clone(), |n| format!("{n}; {confirmed}")))), ..o }
                        }
                        _ => again,
                    };
                }
                o.severity = severity::of(&o, tool.risk);
                o
            }
            None => not_applicable(
                job.scenario,
                "-",
                "-",
                match job.unasked {
                    true => surface_unasked(job.scenario.targets.surface),
                    false => format!("the scenario targets no {} on the servers in play", job.scenario.targets.surface),
                },
            ),
        };
        tick();
        outcome
    })?;
    // One outcome per job, in job order (a representative's comes before its members'),
    // built in place: a second vector of a large run's outcomes is what its peak memory would be.
    let mut judged = judged.into_iter();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(jobs.len());
    // Per representative (by job), its note as its members carry it: one text for all of them.
    let mut notes: BTreeMap<usize, Option<Text>> = BTreeMap::new();
    for job in &jobs {
        let outcome = match (job.carries.and_then(|rep| Some((rep, outcomes.get(rep)?))), job.tool) {
            (Some((i, rep)), Some(member)) => {
                tick();
                let note = notes.entry(i).or_insert_with(|| classes::carried_note(rep, rep.note.clone()));
                classes::carry(rep, note, member, bench, opts)
            }
            _ => judged.next().ok_or("a verifier job produced no outcome")?,
        };
        outcomes.push(outcome);
    }
    // Unstable (no buffer of half the outcomes): no two outcomes share a scenario, server and tool.
    outcomes.sort_unstable_by(|a, b| (&a.scenario, &a.server, &a.tool).cmp(&(&b.scenario, &b.server, &b.tool)));
    Ok(outcomes)
}

/// A scenario that needs a server resolving names leniently (its `upstream:
/// {lenient_names: true}`: the tool, resource and prompt name-variant
/// attacks) runs as if the server did; on a server that resolves names
/// exactly, which is the default and what the MCP SDKs do, its verdict only
/// says what would happen on a lenient one, so it becomes not applicable,
/// saying which.
fn on_names_as_the_server_resolves_them(bench: &dyn Bench, s: &Scenario, out: Outcome) -> Outcome {
    let needs_lenient = s.upstream.as_ref().and_then(|u| u.lenient_names) == Some(true);
    if !needs_lenient || bench.resolves_names_leniently(&out.server) || !matches!(out.verdict, Verdict::Held | Verdict::Breached) {
        return out;
    }
    // The head says why, the tail what a lenient server would change: a one-line view keeps both.
    let exact = format!(
        "`{}` resolves names exactly: a variant spelling reaches nothing there (its mock file does not set `lenient_names: true`; `gauntlet mock record` probes the real server)",
        out.server
    );
    let why = match out.verdict {
        Verdict::Breached => format!("{exact}; on a lenient server this gets through: {} (bound {})", out.observed, out.bound),
        _ => format!("{exact}; on a lenient server the policy holds too"),
    };
    not_applicable(s, &out.server, &out.tool, why)
}

fn base(s: &Scenario, server: &str, tool: &str, verdict: Verdict) -> Outcome {
    Outcome {
        scenario: s.id.clone(),
        title: Text::from(&s.title),
        class: Text::from(s.class.as_str()),
        server: server.to_string(),
        tool: tool.to_string(),
        verdict,
        finding: None,
        severity: None,
        attempted: 0,
        reached: 0,
        bound: Text::default(),
        observed: Text::default(),
        note: None,
        trace: Vec::new(),
        trace_from: 0,
        seed: 0,
        reproduce: None,
        twin: None,
        blame: None,
        denial: None,
        timeline: None,
        check: None,
        denial_texts: Vec::new(),
        deployment: None,
        behaviour: None,
        same_class_as: None,
    }
}

fn not_applicable(s: &Scenario, server: &str, tool: &str, why: String) -> Outcome {
    Outcome { note: Some(Text::from(why)), ..base(s, server, tool, Verdict::NotApplicable) }
}

fn error(s: &Scenario, tool: &ToolInfo, why: String) -> Outcome {
    Outcome { note: Some(Text::from(why)), ..base(s, &tool.server, &tool.name, Verdict::Error) }
}

fn unsupported(s: &Scenario, tool: &ToolInfo, why: String) -> Outcome {
    Outcome { note: Some(Text::from(why)), ..base(s, &tool.server, &tool.name, Verdict::Unsupported) }
}

/// Why a run could not be judged: the system failed, or a fault cannot be done to it.
enum Unplayed {
    Failed(String),
    Unsupported(String),
}

impl Unplayed {
    fn outcome(self, s: &Scenario, tool: &ToolInfo) -> Outcome {
        match self {
            Unplayed::Failed(why) => error(s, tool, why),
            Unplayed::Unsupported(why) => unsupported(s, tool, why),
        }
    }
}

/// Plays a run on a fresh system of `bench` with `play`, and once more when
/// it missed its plan's timing on a busy machine ([`Observation::timing_missed`]):
/// an error if it misses again, never a verdict on a run not played as planned.
fn on_time(
    bench: &dyn Bench,
    server: &str,
    upstream: Option<&Upstream>,
    target: &str,
    mut play: impl FnMut(&mut dyn System) -> Observation,
) -> Result<(Box<dyn System>, Observation), Unplayed> {
    let mut tries = 0;
    loop {
        tries += 1;
        let mut sys = bench.start(server, upstream, target).map_err(Unplayed::Failed)?;
        let obs = play(&mut *sys);
        return match (obs.failure.clone(), obs.unsupported.clone(), obs.timing_missed.clone()) {
            (Some(why), _, _) => Err(Unplayed::Failed(why)),
            (None, Some(why), _) => Err(Unplayed::Unsupported(why)),
            (None, None, Some(_)) if tries < 2 => continue,
            (None, None, Some(why)) => Err(Unplayed::Failed(format!("{why} (played twice)"))),
            (None, None, None) => Ok((sys, obs)),
        };
    }
}

/// The seed a randomized scenario's hold is confirmed with before members of
/// its class carry it: derived from the representative's own, so a run
/// replays it from the run seed.
pub fn confirming_seed(seed: u64) -> u64 {
    seed_for(seed, "confirm", "")
}

/// The outcome of `s` against `tool`, its agent's random draws seeded with `seed`.
fn judge(bench: &dyn Bench, s: &Scenario, tool: &ToolInfo, facts: &Facts, reqs: &Requirements, opts: &Options, seed: u64) -> Outcome {
    let req = reqs.for_item(tool);
    let places = destinations::plan(tool, reqs, bench.admission().map(|a| a.tool(&tool.name)));
    let schedule = faults::schedule(s, bench.policy(), &tool.name);
    // What reached while enforcement was blind comes first: it names the fault, not a policy line.
    // A policy gauntlet cannot read may count anything in the store it was
    // handed: a tool the requirement bounds is taken as governed (fail closed in doubt).
    let governed = match bench.policy_unknown() {
        true => faults::asks_bound(&req),
        false => faults::governed(&req, bench.policy(), &tool.name),
    };
    let mut checks = faults::checks(s, governed, reqs);
    checks.extend(measure::derive(&s.expect, &req, reqs, tool, &places));
    let source = flow_source(bench.catalogue(), tool, reqs);
    if s.expect.flow.is_some() {
        match flow_check(s, tool, reqs, source, &places) {
            Ok(Some(check)) => checks.push(check),
            Ok(None) => {}
            Err(why) => return not_applicable(s, &tool.server, &tool.name, why),
        }
    }
    if checks.is_empty() {
        let rate_only = s.expect.max_reached_per_window.is_some() || s.expect.max_executed_per_window.is_some();
        let why = if rate_only && req.rate.is_none() {
            format!(
                "no rate requirement for {risk} tools (the baseline sets none); to judge it, set one in gauntlet.yaml, e.g. `risk: {{{risk}: {{rate: {{count: 60, window: 1m}}}}}}`",
                risk = tool.risk
            )
        } else {
            format!("the requirements ask nothing of this {} {} that this attack could breach", tool.risk, tool.surface)
        };
        return not_applicable(s, &tool.server, &tool.name, why);
    }
    let target = Target {
        tool,
        decoy: decoy_for(facts, tool),
        per_call_cap: req.per_call_in(tool.role_of(amount_field(s))),
        per_window_cap: req.per_window_in(tool.role_of(amount_field(s))),
        admission: bench.admission().map(|a| a.tool(&tool.name)),
        prefer: Prefer::default(),
        legit: None,
        destinations: places.destinations,
        minor_unit: tool.role_of(amount_field(s)).map_or(1.0, |r| r.per_minor()),
        source,
    };
    let actions = match agent::plan(&s.agent, &target, seed) {
        Ok(a) => a,
        Err(why) => return not_applicable(s, &tool.server, &tool.name, why),
    };
    if let Err(why) = bench.fits(&actions, s.upstream.as_ref(), !schedule.is_empty()) {
        return not_applicable(s, &tool.server, &tool.name, why);
    }
    std::thread::scope(|scope| {
        // A wall-clock system spends a run waiting on the clock: the benign twin
        // (fresh proxies, nothing shared with the attack) is played alongside it.
        let mut alongside = s
            .twin
            .as_ref()
            .filter(|_| bench.runs_on_the_wall_clock())
            .map(|twin| scope.spawn(move || run_twin(bench, s, tool, twin, reqs, seed, facts)));
        let field = s.expect.amount_field.as_deref().unwrap_or("amount");
        let mut opening = opening(bench, checks.iter().any(|c| matches!(c, measure::Check::NeverListed { .. } | measure::Check::Pinned { .. })));
        opening.definitions = checks.iter().any(|c| matches!(c, measure::Check::Pinned { .. }));
        if s.agent.list_on_open == Some(false) {
            opening.list = false;
        }
        let replay_faulted = |upstream: Option<&Upstream>, acts: &[Action], schedule: &faults::Schedule| -> Result<Observation, Unplayed> {
            on_time(bench, &tool.server, upstream, &tool.name, |sys| play::play_faulted(sys, acts, schedule, START, opening)).map(|(_, obs)| obs)
        };
        let replay_on = |upstream: Option<&Upstream>, acts: &[Action]| replay_faulted(upstream, acts, &schedule);
        let replay = |acts: &[Action]| replay_on(s.upstream.as_ref(), acts);
        let deployment = Deployment::of(s.upstream.as_ref(), bench);
        let obs = match replay(&actions) {
            Ok(o) => o,
            Err(why) => return why.outcome(s, tool),
        };
        if let Some(measure::Check::Flow { sources, .. }) = checks.iter().find(|c| matches!(c, measure::Check::Flow { .. })) {
            if measure::first_read(&obs.ledger, sources).is_none() {
                let mut out = base(s, &tool.server, &tool.name, Verdict::NotExercised);
                out.attempted = sends(&actions, &checks);
                out.note = Some(Text::from(format!("no read of `{}` reached the server, so no flow was opened and nothing was tested", sources.join("`, `"))));
                return out;
            }
        }
        let results: Vec<CheckResult> = checks.iter().map(|c| measure::evaluate(c, &obs, tool, field)).collect();
        let mut out = base(s, &tool.server, &tool.name, Verdict::Held);
        out.seed = seed;
        out.attempted = sends(&actions, &checks);
        let timeline = Timeline::of(&actions, &obs, tool, &checks);
        // What reached the server of the tools the run counts (the target, or every tool of a shared budget).
        out.reached = timeline.reached.len();
        out.denial = obs.denials.first().cloned().map(std::sync::Arc::new);
        out.timeline = Some(Box::new(timeline));
        out.denial_texts = obs.denials.iter().map(|d| d.text.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        out.deployment = deployment;
        if let Some(failed) = results.iter().find(|r| !r.held) {
            let unfaulted = || replay_faulted(s.upstream.as_ref(), &actions, &faults::Schedule::default()).ok();
            if !schedule.is_empty() && !faults_caused(&failed.check, unfaulted, &checks, tool, field) {
                // One wording for all (no counts), so the terminal view folds them into one reason line.
                let why = "the same calls breach with no fault: the policy enforces nothing here for a fault to blind; the scenarios without faults report it";
                return not_applicable(s, &tool.server, &tool.name, why.to_string());
            }
            let still_breaches = |cand: &[Action]| {
                replay(cand).map(|o| !measure::evaluate(&failed.check, &o, tool, field).held).unwrap_or(false)
            };
            let shortest = if opts.shrink { shrink::shrink(actions.clone(), SHRINK_BUDGET, still_breaches) } else { actions.clone() };
            out.verdict = Verdict::Breached;
            let policy_layer = tool.surface == Surface::Tool || bench.policy_gates_surfaces();
            out.finding = Some(match s.layer {
                Layer::Policy if !failed.proxy_only && policy_layer => Finding::Policy,
                _ => Finding::Proxy,
            });
            out.bound = Text::from(failed.check.bound());
            out.observed = Text::from(failed.observed.as_str());
            out.note = failed.note.clone().map(Text::from);
            let method = tool.surface.method();
            if tool.surface != Surface::Tool && bench.policy_gates_surfaces() {
                out.note = Some(Text::from(format!("the policy's `{method}` entry let it through: under the strict profile that entry decides these requests")));
            } else if tool.surface != Surface::Tool {
                out.note = Some(Text::from(format!(
                    "no policy can stop this on Intercept: it forwards `{method}` unevaluated (semantics §2.1, G-4); gauntlet's `--profile strict` refuses it unless a `tools` entry named `{method}` admits it"
                )));
            }
            if !schedule.is_empty() {
                fault_breach(&mut out, s, &failed.check, &obs);
            }
            out.check = Some(Box::new(failed.check.clone()));
            out.trace = shortest.iter().map(Action::trace_step).collect();
            out.trace_from = actions.len();
            out.reproduce = Some(Text::from(format!("{} --only {} --seed {}", opts.reproduce, s.id, opts.seed)));
            if let Some(d) = deployment {
                out.bound = Text::from(format!("{}; {}", out.bound, d.assumed()));
                // Replicas counting apart: whether one store for all would have held tells
                // a deployment gap (only shared state stops it) from a loose policy.
                if d.state == StateSetup::Local {
                    let shared = Upstream { state: Some(StateSetup::Shared), ..s.upstream.clone().unwrap_or_default() };
                    let with_shared = replay_on(Some(&shared), &actions).ok().map(|o| measure::evaluate(&failed.check, &o, tool, field));
                    if let Some(r) = with_shared.filter(|r| r.held) {
                        out.finding = Some(Finding::Proxy);
                        out.note = Some(Text::from(format!(
                            "only state shared by the replicas stops this: with one store for all {} it held ({}); point them at one Redis (`--state-dsn`), then verify with `--state shared`",
                            d.replicas, r.observed
                        )));
                    }
                }
            }
            // Blame reads tool rules; a surface entry's note names it instead.
            if out.finding == Some(Finding::Policy) && tool.surface == Surface::Tool {
                let src = blame::Source { policy: bench.policy(), file: &opts.policy_file };
                out.blame = Some(Box::new(blame::breach(&src, tool, &failed.check, s.class == crate::scenario::model::AttackClass::ToolNameVariant)));
            }
            return out;
        }
        let schema_only = results.iter().all(|r| matches!(r.check, measure::Check::SchemaViolations { .. }));
        let sent = || actions.iter().filter_map(Action::arguments);
        let foreign_sent = |c: &measure::Check| match c {
            measure::Check::Destinations { checks, forbidden } => destinations::sends_foreign(checks, forbidden, sent()),
            measure::Check::SessionCalls { max } => actions.iter().filter(|a| a.tool_name() == Some(tool.name.as_str())).count() as u64 > *max,
            measure::Check::Flow { to: Some(checks), .. } => {
                destinations::sends_foreign(checks, &[], actions.iter().filter(|a| a.tool_name() == Some(tool.name.as_str())).filter_map(Action::arguments))
            }
            _ => true,
        };
        let vacuous = (schema_only && !measure::sends_schema_violation(tool, sent())) || !results.iter().all(|r| foreign_sent(&r.check));
        out.bound = Text::from(results.iter().map(|r| r.check.bound()).collect::<Vec<_>>().join("; "));
        out.observed = Text::from(results.iter().map(|r| r.observed.clone()).collect::<Vec<_>>().join("; "));
        if let Some(d) = deployment {
            out.bound = Text::from(format!("{}; {}", out.bound, d.assumed()));
        }
        if !schedule.is_empty() {
            // Every check held, `every call answered` among them: what it could not enforce, it refused.
            let behaviour = faults::Behaviour::FailsClosed;
            out.behaviour = Some(behaviour);
            out.note = Some(Text::from(format!("{} under {}: {}", behaviour.as_str(), faults::describe(s), out.observed)));
            out.observed = Text::from(format!("{}: {}", behaviour.as_str(), out.observed));
        }
        if let Some(twin) = &s.twin {
            let ran = match alongside.take() {
                    Some(handle) => handle.join().unwrap_or_else(|_| Err("the benign twin's run panicked".into())),
                    None => run_twin(bench, s, tool, twin, reqs, seed, facts),
                };
                match ran {
                Ok(TwinRun::Ran(t)) => {
                    if let (true, Some(why)) = (t.reached < t.attempted, bench.state_carries_over()) {
                        out.note = Some(Text::from(format!(
                            "the benign twin was refused ({} of {} calls of `{}` reached), not counted as over-blocking: {why}",
                            t.reached, t.attempted, t.tool
                        )));
                    } else if t.reached < t.attempted {
                        out.verdict = Verdict::OverBlocking;
                        out.finding = Some(Finding::Policy);
                        out.note = Some(Text::from(format!(
                            "the benign twin was refused: {} of {} legitimate calls of `{}` reached the server; legitimate workload {}",
                            t.reached, t.attempted, t.tool, t.workload
                        )));
                        out.trace = t.trace.clone();
                        out.trace_from = t.attempted;
                        out.reproduce = Some(Text::from(format!("{} --only {} --seed {}", opts.reproduce, s.id, opts.seed)));
                        if let Some(r) = &t.refused {
                            let src = blame::Source { policy: bench.policy(), file: &opts.policy_file };
                            out.blame = Some(Box::new(blame::refusal(&src, r, t.refused_arguments.as_ref())));
                        }
                    }
                    out.twin = Some(t);
                }
                Ok(TwinRun::None) => {
                    out.note = Some("no benign twin: the policy allows no matching tool on this server (refusing a tool outright is not over-blocking)".into())
                }
                Ok(TwinRun::OverBudget(why)) => return not_applicable(s, &tool.server, &tool.name, format!("its benign twin {why}")),
                Err(why) => return error(s, tool, why),
            }
        }
        if out.verdict == Verdict::Held {
            if let Some(why) = unexercised(bench, tool, &checks, &actions) {
                out.verdict = Verdict::NotExercised;
                out.note = Some(Text::from(why));
                return out;
            }
        }
        // Over-blocking stands even then: the twin measures the policy, not the attack.
        if vacuous && out.verdict == Verdict::Held {
            let why = if schema_only {
                "every call this attack sent is valid under the tool's inputSchema, so there was nothing to stop"
            } else {
                "every destination this attack sent is allowed by the requirements as the server reads it, so there was nothing to stop"
            };
            return not_applicable(s, &tool.server, &tool.name, why.into());
        }
        out
    })
}

/// Why a held limit says nothing, if it does not: the tool is not blocked
/// outright, the attack is judged on a limit (a rate, a spend per window),
/// and the policy's argument conditions refused every call it sent — the
/// limit was never reached. `None` when some call was admitted, or the model
/// cannot tell.
fn unexercised(bench: &dyn Bench, tool: &ToolInfo, checks: &[measure::Check], actions: &[Action]) -> Option<String> {
    let admission = bench.admission()?;
    // A flow is a limit too: it is only tested by sends the conditions admit.
    // A limiting flow is held by the very conditions that refuse foreign sends.
    let on_limit = checks.iter().any(|c| matches!(c, measure::Check::Rate { .. } | measure::Check::AmountPerWindow { .. } | measure::Check::Flow { to: None, .. }));
    let model = admission.tool(&tool.name);
    if !on_limit || model.gate.refuses_all().is_some() {
        return None;
    }
    let mut first: Option<String> = None;
    let mut sent = 0;
    for a in actions {
        let (Payload::Call { name, arguments } | Payload::Raw { name, arguments, .. }) = &a.payload else { continue };
        // A flow's read opens it; only the sends test it.
        if checks.iter().any(|c| matches!(c, measure::Check::Flow { sources, .. } if sources.contains(name))) {
            continue;
        }
        sent += 1;
        let called = admission.tool(name);
        if called.gate.refuses_all().is_some() {
            continue;
        }
        let args = arguments.as_object();
        match called.admits(args) {
            Ok(true) | Err(_) => return None,
            Ok(false) => {
                if first.is_none() {
                    let rules = called.rules;
                    first = (0..rules.args.len())
                        .find(|&i| matches!(rules.holds(i, args), Ok(false)))
                        .map(|i| format!("rule \"{}\": {}", rules.args[i].at.rule, rules.args[i].text));
                }
            }
        }
    }
    if sent == 0 {
        return None;
    }
    Some(format!(
        "not exercised: the policy's conditions refused all {sent} calls this attack sent{}, so the limit was never reached",
        first.map(|f| format!(" (first: {f})")).unwrap_or_default()
    ))
}

/// The argument a scenario's amount checks read.
fn amount_field(s: &Scenario) -> &str {
    s.expect.amount_field.as_deref().unwrap_or("amount")
}

/// ` (N calls never answered)` when the proxy left calls hanging.
fn stalled(obs: &Observation) -> String {
    match obs.unanswered {
        0 => String::new(),
        n => format!(" ({n} calls never answered)"),
    }
}

/// Whether the faults caused a breach of `failed`: calls reached while
/// enforcement was blind or were left unanswered, or the same calls hold
/// every other check with no fault (`unfaulted`).
fn faults_caused(failed: &measure::Check, unfaulted: impl FnOnce() -> Option<Observation>, checks: &[measure::Check], tool: &ToolInfo, field: &str) -> bool {
    if matches!(failed, measure::Check::Blind { .. } | measure::Check::Answered) {
        return true;
    }
    let Some(o) = unfaulted() else { return false };
    let judged = checks.iter().filter(|c| !matches!(c, measure::Check::Blind { .. } | measure::Check::Answered));
    judged.map(|c| measure::evaluate(c, &o, tool, field)).all(|r| r.held)
}

/// A breach the faults caused is the proxy's: names what it did (fails open, or stalls).
fn fault_breach(out: &mut Outcome, s: &Scenario, failed: &measure::Check, obs: &Observation) {
    let blind = matches!(failed, measure::Check::Blind { .. } | measure::Check::Answered);
    let behaviour = if obs.unanswered > 0 { faults::Behaviour::Stalls } else { faults::Behaviour::FailsOpen };
    out.finding = Some(Finding::Proxy);
    out.behaviour = Some(behaviour);
    let cause = if blind { String::new() } else { "; with no fault the same calls held".to_string() };
    // When the breach is the hanging calls, what was observed already counts them.
    let hanging = if matches!(failed, measure::Check::Answered) { String::new() } else { stalled(obs) };
    out.note = Some(Text::from(format!("{} under {}: {}{cause}{hanging}", behaviour.as_str(), faults::describe(s), out.observed)));
    out.observed = Text::from(format!("{}: {}", behaviour.as_str(), out.observed));
}

/// The allowed tool a case-variant trick names for the policy to evaluate. An
/// attacker picks the least guarded one: a read tool's rules rarely have
/// conditions the target's arguments would fail, so it is preferred.
fn decoy_for(facts: &Facts, tool: &ToolInfo) -> String {
    facts
        .decoys
        .get(&tool.server)
        .and_then(|names| names.iter().find(|n| **n != tool.name))
        .cloned()
        .unwrap_or_else(|| "gauntlet_decoy".to_string())
}

/// The calls an attack sent, a flow's opening read aside (the sends are what it judges).
fn sends(actions: &[Action], checks: &[measure::Check]) -> usize {
    let opens = |name: &str| checks.iter().any(|c| matches!(c, measure::Check::Flow { sources, .. } if sources.iter().any(|s| s == name)));
    actions.iter().filter(|a| a.tool_name().is_some_and(|n| !opens(n))).count()
}

/// The tool a flow scenario reads first (`{{private}}`): the first tool on
/// the target's server that opens a flow refusing the target.
fn flow_source<'a>(catalogue: &'a [ToolInfo], tool: &ToolInfo, reqs: &Requirements) -> Option<&'a ToolInfo> {
    let (flow, _) = reqs.flow_over(tool)?;
    catalogue.iter().find(|t| t.server == tool.server && flow.opened_by(t))
}

/// The flow check for `tool`: `None` where the scenario does not ask it
/// (`flow: requirement` and no flow refuses the tool); an error says why the
/// scenario cannot judge it.
fn flow_check(s: &Scenario, tool: &ToolInfo, reqs: &Requirements, source: Option<&ToolInfo>, places: &destinations::Plan) -> Result<Option<measure::Check>, String> {
    let Some((flow, egress)) = reqs.flow_over(tool) else {
        return match s.expect.flow {
            Some(crate::scenario::Switch::True) => Err("no flow in gauntlet.yaml refuses this tool (`flows:`)".into()),
            _ => Ok(None),
        };
    };
    if source.is_none() {
        return Err(format!(
            "no tool on `{}` opens the flow that refuses it: mark the reads of private data `private: true` in the server file, or name them in the flow's `after: {{tools: [...]}}`",
            tool.server
        ));
    }
    let to = match egress {
        Egress::Refused => None,
        Egress::Limited if places.checks.is_empty() => {
            return Err("the flow limits it to allowed destinations, and it has no destination field (`limit:` needs one; `refuse:` refuses it outright)".into())
        }
        Egress::Limited => Some(places.checks.clone()),
    };
    // A limited tool's allowed sends are its legitimate use: only a foreign destination tests the flow.
    let elsewhere = s.agent.steps.iter().any(|st| st.destination.is_some());
    if elsewhere != (egress == Egress::Limited) {
        return Err(match egress {
            Egress::Refused => "the flow refuses it outright; this attack tries a flow that only limits where sends go".into(),
            Egress::Limited => "the flow limits it to allowed destinations, and this attack sends to the allowed one; `flow-read-then-send-off-list` sends elsewhere".into(),
        });
    }
    let across = s.agent.steps.iter().any(|st| st.session != crate::scenario::Rotation::Same);
    if across && flow.scope == crate::scenario::requirements::FlowScope::Session {
        return Err("it reads in one session and sends in another, and the flow in gauntlet.yaml counts a read in its own session only (`scope: identity` asks it across an identity's sessions)".into());
    }
    Ok(source.map(|t| measure::Check::Flow { sources: vec![t.name.clone()], within: flow.within, to }))
}

/// Per server, the tools not blocked, by risk (least guarded first), then catalogue order.
fn decoys(catalogue: &[ToolInfo], blocked: &BTreeMap<ToolKey, bool>) -> BTreeMap<String, Vec<String>> {
    let mut allowed: Vec<&ToolInfo> =
        catalogue.iter().filter(|t| !blocked.get(&key(t)).copied().unwrap_or(true)).collect();
    allowed.sort_by_key(|t| t.risk);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in allowed {
        out.entry(t.server.clone()).or_default().push(t.name.clone());
    }
    out
}

fn run_twin(
    bench: &dyn Bench,
    s: &Scenario,
    tool: &ToolInfo,
    twin: &crate::scenario::Twin,
    reqs: &Requirements,
    seed: u64,
    facts: &Facts,
) -> Result<TwinRun, String> {
    // A tool the policy refuses even one well-formed call of (default deny, a deny rule) was
    // left out on purpose: refusing its legitimate workload is the policy's stated choice.
    let allowed = |c: &ToolInfo| !facts.blocked.get(&key(c)).copied().unwrap_or(false);
    // Beside tools, the legitimate workload goes to an item the requirements permit.
    let permitted = |c: &ToolInfo| c.surface == Surface::Tool || !reqs.for_item(c).is_denied();
    let twin_tool = match &twin.targets {
        None => Some(tool).filter(|t| allowed(t)),
        Some(t) => {
            let items = if t.surface == Surface::Tool { bench.catalogue() } else { &facts.surfaces[..] };
            items.iter().find(|c| c.server == tool.server && matches(t, c, false, bench) && allowed(c) && permitted(c))
        }
    };
    let Some(tt) = twin_tool else { return Ok(TwinRun::None) };
    let req = reqs.for_item(tt);
    if req.is_denied() {
        // A tool the requirements deny has no legitimate workload to refuse.
        return Ok(TwinRun::None);
    }
    let target = Target {
        tool: tt,
        decoy: decoy_for(facts, tt),
        per_call_cap: req.per_call_in(tt.role_of(amount_field(s))),
        per_window_cap: req.per_window_in(tt.role_of(amount_field(s))),
        admission: bench.admission().map(|a| a.tool(&tt.name)),
        prefer: Prefer { keep_presence: true, ..Prefer::default() },
        legit: Some(req.workload.as_ref().unwrap_or(&NO_WORKLOAD)),
        destinations: destinations::plan(tt, reqs, bench.admission().map(|a| a.tool(&tt.name))).destinations,
        minor_unit: tt.role_of(amount_field(s)).map_or(1.0, |r| r.per_minor()),
        source: flow_source(bench.catalogue(), tt, reqs),
    };
    let mut acts = agent::plan(&Behaviour { steps: twin.steps.clone(), random: None, list_on_open: None }, &target, seed ^ 0x7717)?;
    // Real clients send the required fields alone: unless the workload says
    // which optional fields legitimate calls send, the first leaves every
    // optional field out (a policy that refuses it over-blocks).
    let declared_fields = req.workload.as_ref().is_some_and(|w| w.optional.is_some());
    if !declared_fields {
        if let Some(Payload::Call { arguments, .. }) = acts.iter_mut().map(|a| &mut a.payload).find(|p| matches!(p, Payload::Call { .. })) {
            *arguments = agent::generate::required_only(&tt.input_schema, arguments);
        }
    }
    let (bounds, workload) = twin_pace(&req, bench.admission().map(|a| a.tool(&tt.name)));
    agent::pace(&mut acts, &bounds);
    // The legitimate workload runs against the server as filed: a definition
    // the attack changed, or a second server it brought, is no part of it.
    let upstream = s.upstream.as_ref().map(|u| Upstream { changes: Vec::new(), shadow: None, ..u.clone() });
    if let Err(why) = bench.fits(&acts, upstream.as_ref(), false) {
        return Ok(TwinRun::OverBudget(why));
    }
    let (sys, obs) = match on_time(bench, &tt.server, upstream.as_ref(), &tt.name, |sys| play(sys, &acts, START, opening(bench, false))) {
        Ok(run) => run,
        Err(Unplayed::Failed(why) | Unplayed::Unsupported(why)) => return Err(why),
    };
    // Calls and their audit records come in the same order: the n-th refusal is the n-th call's.
    let audit = sys.audit();
    let refused_at = audit.iter().position(|r| r.result != AuditResult::Allowed);
    let calls: Vec<&Action> = acts.iter().filter(|a| a.tool_name().is_some()).collect();
    let called: std::collections::BTreeSet<&str> = calls.iter().filter_map(|a| a.tool_name()).collect();
    let trace = match refused_at {
        Some(n) => calls.iter().take(n + 1).map(|a| a.trace_step()).collect(),
        None => Vec::new(),
    };
    let refused_arguments = refused_at.and_then(|n| calls.get(n)?.arguments().cloned());
    Ok(TwinRun::Ran(Box::new(TwinResult {
        tool: tt.name.clone(),
        attempted: acts.iter().filter(|a| a.tool_name().is_some()).count(),
        // Every legitimate call counts, a flow twin's read as much as its send.
        reached: called.iter().map(|name| uses_of(&obs.ledger, tt.surface, name).count()).sum(),
        refused: refused_at.map(|n| Box::new(audit[n].clone())),
        refused_arguments,
        trace,
        workload: Text::from(workload),
    })))
}

/// A twin with no declared workload: every field as the schema generates it.
static NO_WORKLOAD: crate::scenario::requirements::Workload =
    crate::scenario::requirements::Workload { rate: None, sizes: std::collections::BTreeMap::new(), optional: None };

/// The pace of a legitimate workload, and what it was assumed from: the
/// declared rate (never past the requirement's own bound), else the tighter
/// of the requirement and the policy's own limits on the tool.
fn twin_pace(req: &crate::scenario::requirements::Requirement, tool: Option<crate::engine::admission::Tool<'_>>) -> (Vec<(u64, i64)>, String) {
    let requirement = req.rate.map(|r| (r.count, r.window.nanos()));
    let per = |(count, window): (u64, i64)| format!("{count} per {}", crate::scenario::Duration(window));
    if let Some(rate) = req.workload.as_ref().and_then(|w| w.rate) {
        let declared = (rate.count, rate.window.nanos());
        let mut bounds = vec![declared];
        let mut said = format!("declared in gauntlet.yaml: {}", per(declared));
        if let Some(r) = requirement {
            // Faster than the requirement allows is not legitimate use.
            if (declared.0 as f64) / (declared.1 as f64) > (r.0 as f64) / (r.1 as f64) {
                bounds.push(r);
                said.push_str(&format!(", held to the requirement's {}", per(r)));
            }
        }
        return (bounds, said);
    }
    let mut bounds: Vec<(u64, i64)> = requirement.into_iter().collect();
    let mut parts: Vec<String> = requirement.map(|r| format!("the requirement's {}", per(r))).into_iter().collect();
    if let Some(t) = tool {
        for l in &t.rules.limits {
            if let Some(calls) = l.calls() {
                let b = (calls, l.window.length_secs() as i64 * 1_000_000_000);
                bounds.push(b);
                parts.push(format!("the policy's own limit {} ({})", crate::gofmt::quote::quote(&l.rule), per(b)));
            }
        }
    }
    let said = match parts.len() {
        0 => "the scenario's own (no rate declared or required)".to_string(),
        _ => format!("assumed, none declared: within {}", parts.join(" and ")),
    };
    (bounds, said)
}

/// What became of a scenario's benign twin.
enum TwinRun {
    /// Boxed: a run's trace makes this variant far larger than the others.
    Ran(Box<TwinResult>),
    /// No legitimate workload to run (the policy or the requirements refuse the tool outright).
    None,
    /// The twin's timeline does not fit the system's budget.
    OverBudget(String),
}

/// Counts for summaries and exit codes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: usize,
    pub held: usize,
    pub breached: usize,
    pub over_blocking: usize,
    pub not_applicable: usize,
    pub not_exercised: usize,
    pub unsupported: usize,
    pub errors: usize,
    pub policy_findings: usize,
    pub proxy_findings: usize,
    /// Policy and proxy findings per severity.
    pub severity: severity::Counts,
}

impl Summary {
    pub fn of(outcomes: &[Outcome]) -> Summary {
        let mut s = Summary { total: outcomes.len(), ..Default::default() };
        for o in outcomes {
            match o.verdict {
                Verdict::Held => s.held += 1,
                Verdict::Breached => s.breached += 1,
                Verdict::OverBlocking => s.over_blocking += 1,
                Verdict::NotApplicable => s.not_applicable += 1,
                Verdict::NotExercised => s.not_exercised += 1,
                Verdict::Unsupported => s.unsupported += 1,
                Verdict::Error => s.errors += 1,
            }
            match o.finding {
                Some(Finding::Policy) => s.policy_findings += 1,
                Some(Finding::Proxy) => s.proxy_findings += 1,
                None => {}
            }
            if let Some(sev) = o.severity {
                s.severity.add(sev);
            }
        }
        s
    }
}
