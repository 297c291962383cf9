//! The league: the whole attack database through several proxies, each with
//! a policy that states the same intent, side by side.
//!
//! A league file names the server and, per proxy, the command (the
//! black-box placeholders, plus `{gauntlet}` for this executable and
//! `{peers}` for where the peers were installed), the policy, and the attack
//! classes the proxy cannot express at all: those are shown as such, never
//! counted as breached.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{BlackBoxBench, Settings};
use crate::agent::handshake;
use crate::scenario::requirements::Requirements;
use crate::scenario::Scenario;
use crate::verify::inprocess::NamedServer;
use crate::verify::{self, Options, Outcome, Verdict};

/// One `league.yaml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeagueFile {
    /// The mock server every proxy fronts (relative to the league file).
    pub server: PathBuf,
    /// Per scenario × tool, as `--time-budget`.
    #[serde(default = "default_budget")]
    pub time_budget: String,
    pub proxies: Vec<Entry>,
}

fn default_budget() -> String {
    "2m".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub name: String,
    pub version: String,
    /// The command that starts the proxy (black-box placeholders, `{gauntlet}`, `{peers}`).
    pub command: String,
    /// For a proxy that listens: its URL (`{port}` is a free port per run).
    #[serde(default)]
    pub url: Option<String>,
    /// Headers sent with every request to `url` ("Name: Value").
    #[serde(default)]
    pub headers: Vec<String>,
    /// The proxy's policy, in its own format (relative to the league file, or under `{peers}`).
    #[serde(default)]
    pub policy: Option<String>,
    /// The policy is in a format gauntlet reads (Intercept's YAML): only then
    /// does gauntlet know what it names and hides, and write the versions
    /// the policy fault scenarios swap in. Another proxy's file is never
    /// read as one, even when it happens to parse (agentbelay's does).
    #[serde(default)]
    pub gauntlet_reads_policy: bool,
    #[serde(default)]
    pub skip_initialized: bool,
    /// This proxy's own time budget per scenario × tool (a slow starter needs more than the league's).
    #[serde(default)]
    pub time_budget: Option<String>,
    /// How long to wait for it to start and answer `initialize` (default 30s).
    #[serde(default)]
    pub start_timeout: Option<String>,
    /// Attack classes this proxy has no way to express, with the reason.
    #[serde(default)]
    pub cannot: BTreeMap<String, String>,
    /// The names the proxy lists for the upstream's tools, when it renames
    /// them (listed name → upstream name; see `blackbox::aliases`).
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// Verdict counts of one attack class for one proxy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub held: usize,
    pub breached: usize,
    /// The benign twin was refused (the policy is tighter than the legitimate workload).
    pub over_blocking: usize,
    pub errors: usize,
    /// Not played (over budget, or nothing to target).
    pub not_applicable: usize,
    pub not_exercised: usize,
    /// Outcomes this proxy could not take part in (a fault gauntlet cannot do to it).
    pub unsupported: usize,
}

/// One proxy's row.
#[derive(Clone, Debug)]
pub struct Row {
    pub entry: Entry,
    /// `Err` when the proxy could not be run at all.
    pub classes: Result<BTreeMap<String, Tally>, String>,
    /// Mean round trip per call through the proxy, and of the server alone.
    pub latency: Option<(Duration, Duration)>,
    pub refusal_shapes: Vec<String>,
    /// Per fault scenario, what the proxy did (`fails open`, `unsupported`, ...).
    pub faults: BTreeMap<String, BTreeSet<&'static str>>,
    pub wall: Duration,
}

/// Reads a league file.
pub fn load(path: &Path) -> Result<LeagueFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| {
        let at = e.location().map(|l| format!("{}:{}", l.line(), l.column())).unwrap_or_else(|| "1:1".into());
        format!("{}:{at}: {e}", path.display())
    })
}

/// Fills `{gauntlet}` and `{peers}`, the league's own placeholders.
pub fn expand(text: &str, gauntlet: &Path, peers: &Path) -> String {
    text.replace("{gauntlet}", &gauntlet.display().to_string()).replace("{peers}", &peers.display().to_string())
}

fn tally(outcomes: &[Outcome]) -> BTreeMap<String, Tally> {
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for o in outcomes {
        let t = out.entry(o.class.to_string()).or_default();
        match o.verdict {
            Verdict::Held => t.held += 1,
            Verdict::Breached => t.breached += 1,
            Verdict::OverBlocking => t.over_blocking += 1,
            Verdict::Error => t.errors += 1,
            Verdict::NotApplicable => t.not_applicable += 1,
            Verdict::NotExercised => t.not_exercised += 1,
            Verdict::Unsupported => t.unsupported += 1,
        }
    }
    out
}

/// What each fault scenario found the proxy doing, over its tools: the
/// behaviour a verdict names, or why none was named.
fn fault_behaviours(scenarios: &[Scenario], outcomes: &[Outcome]) -> BTreeMap<String, BTreeSet<&'static str>> {
    let faulted: BTreeSet<&str> = scenarios.iter().filter(|s| !s.faults.is_empty()).map(|s| s.id.as_str()).collect();
    let mut out: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| faulted.contains(o.scenario.as_str())) {
        let what = match (o.behaviour, o.verdict) {
            (Some(b), _) => b.as_str(),
            (None, Verdict::Unsupported) => "unsupported",
            (None, Verdict::Error) => "error",
            (None, Verdict::NotApplicable | Verdict::NotExercised) => "not applicable",
            (None, Verdict::OverBlocking) => "over-blocking",
            (None, Verdict::Held | Verdict::Breached) => continue,
        };
        out.entry(o.scenario.clone()).or_default().insert(what);
    }
    out
}

/// Mean round trip of `n` sequential calls of `tool`, after a handshake.
fn mean_round_trip(bench: &BlackBoxBench, server: &str, tool: &str, n: u32) -> Result<Duration, String> {
    let mut run = bench.plain_run(server)?;
    let timeout = Duration::from_secs(10);
    for line in handshake(1, 2) {
        run.round_trip("timing", line.as_bytes(), timeout)?;
    }
    let mut total = Duration::ZERO;
    for i in 0..(n + 10) {
        let call = serde_json::json!({"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call", "params": {"name": tool, "arguments": {}}});
        let took = run.round_trip("timing", call.to_string().as_bytes(), timeout)?;
        if i >= 10 {
            total += took;
        }
    }
    run.stop();
    Ok(total / n)
}

/// Everything one league run needs besides the file.
pub struct Setup<'a> {
    pub base: &'a Path,
    pub gauntlet: &'a Path,
    pub peers: &'a Path,
    pub server: NamedServer,
    pub scenarios: &'a [Scenario],
    pub seed: u64,
    /// A read tool of the server, for latency.
    pub timing_tool: Option<String>,
}

/// Runs the database through every entry at once (they mostly wait on the
/// clock), then times each proxy alone, so the latency figures do not
/// compete with the runs; `direct` is the server's own round trip.
pub fn run_all(entries: &[&Entry], file: &LeagueFile, setup: &Setup<'_>, direct: Option<Duration>) -> Vec<Row> {
    let benches: Vec<(Row, Option<BlackBoxBench>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = entries.iter().map(|e| scope.spawn(move || run_one(e, file, setup))).collect();
        handles.into_iter().zip(entries).map(|(h, e)| h.join().unwrap_or_else(|_| (failed(e, "the run panicked".into()), None))).collect()
    });
    benches
        .into_iter()
        .map(|(mut row, bench)| {
            if let (Some(bench), Some(tool), Some(direct)) = (bench, &setup.timing_tool, direct) {
                row.latency = mean_round_trip(&bench, &setup.server.name, tool, 200).ok().map(|t| (t, direct));
            }
            row
        })
        .collect()
}

fn failed(entry: &Entry, why: String) -> Row {
    Row { entry: entry.clone(), classes: Err(why), latency: None, refusal_shapes: Vec::new(), faults: BTreeMap::new(), wall: Duration::ZERO }
}

/// Runs the database through one proxy; the bench is kept for timing.
fn run_one(entry: &Entry, file: &LeagueFile, setup: &Setup<'_>) -> (Row, Option<BlackBoxBench>) {
    let started = std::time::Instant::now();
    let policy = entry.policy.as_ref().map(|p| {
        let p = expand(p, setup.gauntlet, setup.peers);
        let path = PathBuf::from(&p);
        if path.is_absolute() { path } else { setup.base.join(path) }
    });
    let wall = |text: &str, what: &str| {
        crate::scenario::Duration::parse(text)
            .map(|d| Duration::from_nanos(d.nanos().max(0) as u64))
            .map_err(|e| format!("{what} `{text}`: {e}"))
    };
    let budget = match wall(entry.time_budget.as_deref().unwrap_or(&file.time_budget), "time_budget") {
        Ok(b) => b,
        Err(e) => return (failed(entry, e), None),
    };
    // Python peers take seconds to start on a loaded 2-core machine.
    let timeout = match entry.start_timeout.as_deref().map(|t| wall(t, "start_timeout")).transpose() {
        Ok(t) => t.unwrap_or(Duration::from_secs(30)),
        Err(e) => return (failed(entry, e), None),
    };
    let headers = match entry.headers.iter().map(|h| crate::mcp::http::split_header(h).ok_or(h)).collect::<Result<Vec<_>, _>>() {
        Ok(h) => h,
        Err(h) => return (failed(entry, format!("`{h}` is not a header (write it as \"Name: value\")")), None),
    };
    let settings = Settings {
        command: Some(expand(&entry.command, setup.gauntlet, setup.peers)),
        url: entry.url.clone(),
        headers,
        policy: policy.clone(),
        budget,
        skip_initialized: entry.skip_initialized,
        aliases: entry.aliases.clone(),
        timeout,
        ..Settings::default()
    };
    // The league judges what each proxy does, not what gauntlet thinks of its policy format.
    let readable = policy.as_ref().filter(|_| entry.gauntlet_reads_policy).map(|p| crate::policy::load_file(p, None));
    let readable = match readable.transpose() {
        Ok(p) => p.map(|l| l.policy),
        Err(e) => return (failed(entry, format!("{}: {}", policy.unwrap_or_default().display(), e.to_string().lines().next().unwrap_or_default())), None),
    };
    let bench = match BlackBoxBench::new(settings, readable, vec![setup.server.clone()]) {
        Ok(b) => b,
        Err(e) => {
            let mut row = failed(entry, e.lines().next().unwrap_or_default().to_string());
            row.wall = started.elapsed();
            return (row, None);
        }
    };
    let mut row = failed(entry, String::new());
    let policy_file = policy.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let opts = Options { seed: setup.seed, reproduce: String::new(), threads: 12, policy_file, shrink: false, fold: true };
    match verify::run(&bench, setup.scenarios, &Requirements::baseline(), &opts, &|_| {}, &|| {}) {
        Ok(outcomes) => {
            row.refusal_shapes = crate::verify::denial::refusal_shapes(&outcomes).into_keys().collect();
            row.classes = Ok(tally(&outcomes));
            row.faults = fault_behaviours(setup.scenarios, &outcomes);
            // The table counts; what got through, and how much, is said here.
            for o in outcomes.iter().filter(|o| o.verdict == Verdict::Breached) {
                let how = o.behaviour.map(|b| format!(", {}", b.as_str())).unwrap_or_default();
                eprintln!("gauntlet league: {}: {} × {} breached{how}: {} (bound {})", entry.name, o.scenario, o.tool, o.observed, o.bound);
            }
        }
        Err(e) => row.classes = Err(e.lines().next().unwrap_or_default().to_string()),
    }
    row.wall = started.elapsed();
    eprintln!("gauntlet league: {} done in {:.0}s", entry.name, row.wall.as_secs_f64());
    (row, Some(bench))
}

/// The server's own round trip, measured through `{upstream}` with no proxy.
pub fn direct_round_trip(setup: &Setup<'_>) -> Option<Duration> {
    let tool = setup.timing_tool.as_ref()?;
    let settings = Settings {
        command: Some("{upstream}".into()),
        budget: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
        ..Settings::default()
    };
    let bench = BlackBoxBench::new(settings, None, vec![setup.server.clone()]).ok()?;
    mean_round_trip(&bench, &setup.server.name, tool, 200).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn league_files_are_strict_and_placeholders_expand() {
        let f: LeagueFile = serde_yaml::from_str(
            "server: toy.yaml\nproxies:\n  - {name: p, version: '1', command: '{gauntlet} proxy {policy} -- {upstream}', cannot: {bulk-writes: no rate limit}}\n",
        )
        .unwrap();
        assert_eq!(f.time_budget, "2m");
        assert_eq!(expand(&f.proxies[0].command, Path::new("/bin/g"), Path::new("/p")), "/bin/g proxy {policy} -- {upstream}");
        assert!(serde_yaml::from_str::<LeagueFile>("server: x\nproxies: []\ntypo: 1\n").is_err());
        // The shipped league reads, the Rust peer over HTTP with its key.
        let shipped: LeagueFile = serde_yaml::from_str(include_str!("../../../examples/league/league.yaml")).unwrap();
        // Only gauntlet's own rows have their policy read: a peer's file never stands for what it enforces.
        let read: Vec<_> = shipped.proxies.iter().filter(|p| p.gauntlet_reads_policy).map(|p| p.name.as_str()).collect();
        assert_eq!(read, ["gauntlet proxy (intercept profile)", "gauntlet proxy (strict profile)"]);
        let rust = shipped.proxies.iter().find(|p| p.name == "mcp-guard (Rust)").unwrap();
        assert_eq!(rust.url.as_deref(), Some("http://127.0.0.1:{port}/mcp"));
        assert!(rust.headers[0].starts_with("Authorization: Bearer "));
        // ContextForge, once per rate-limiter fail mode: driven by the names it
        // lists, and its rate limiter keys on one of those names (a key it
        // never sees would limit nothing); the two rows differ in fail_mode only.
        let plugins = |file: &str| -> serde_yaml::Value {
            let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/league").join(file)).unwrap();
            serde_yaml::from_str::<serde_yaml::Value>(&text).unwrap()["plugins"][0]["config"].clone()
        };
        let mut configs = Vec::new();
        for mode in ["open", "closed"] {
            let cf = shipped.proxies.iter().find(|p| p.name == format!("ContextForge (fail_mode {mode})")).unwrap();
            assert_eq!(cf.aliases.get("toy-create-item").map(String::as_str), Some("create_item"));
            let mut config = plugins(cf.policy.as_deref().unwrap());
            assert_eq!(config["fail_mode"].as_str(), Some(mode), "{}", cf.name);
            let by_tool = config["by_tool"].as_mapping().unwrap();
            assert!(by_tool.keys().all(|k| cf.aliases.contains_key(k.as_str().unwrap())), "{by_tool:?}");
            assert!(cf.command.contains("--expose list_items,create_item") && !cf.command.contains("delete_all"));
            let token = cf.headers[0].strip_prefix("Authorization: Bearer ").unwrap();
            assert!(cf.command.ends_with(&format!("--token {token}")), "the launcher registers with the token the agent sends");
            for t in [&cf.start_timeout, &cf.time_budget] {
                assert!(crate::scenario::Duration::parse(t.as_deref().unwrap()).is_ok());
            }
            config.as_mapping_mut().unwrap().remove("fail_mode");
            configs.push((config, cf.command.clone(), cf.url.clone(), cf.aliases.clone()));
        }
        assert_eq!(configs[0], configs[1], "the two ContextForge rows differ in fail_mode only");
    }

    fn outcome(scenario: &str, verdict: Verdict, behaviour: Option<crate::verify::faults::Behaviour>) -> Outcome {
        let mut o = crate::verify::fixtures::outcome(scenario, "t", verdict, None, 0);
        o.behaviour = behaviour;
        o
    }

    #[test]
    fn fault_scenarios_are_summed_up_by_what_the_proxy_did() {
        use crate::verify::faults::Behaviour;
        let scenarios: Vec<Scenario> = crate::scenario::builtin().unwrap().into_iter().map(|l| l.scenario).collect();
        let outcomes = [
            outcome("store-outage", Verdict::Breached, Some(Behaviour::FailsOpen)),
            outcome("store-outage", Verdict::Held, Some(Behaviour::FailsClosed)),
            outcome("upstream-stall", Verdict::Unsupported, None),
            outcome("proxy-restart", Verdict::NotApplicable, None),
            // Not a fault scenario: no entry.
            outcome("bulk-write-burst", Verdict::Breached, None),
        ];
        let got = fault_behaviours(&scenarios, &outcomes);
        assert_eq!(got.keys().map(String::as_str).collect::<Vec<_>>(), ["proxy-restart", "store-outage", "upstream-stall"]);
        assert_eq!(got["store-outage"].iter().copied().collect::<Vec<_>>(), ["fails closed", "fails open"]);
        assert_eq!(got["upstream-stall"].iter().copied().collect::<Vec<_>>(), ["unsupported"]);
        assert_eq!(got["proxy-restart"].iter().copied().collect::<Vec<_>>(), ["not applicable"]);
    }
}
