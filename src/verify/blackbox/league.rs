//! The league: the whole attack database through several proxies, each with
//! a policy that states the same intent, side by side.
//!
//! A league file names the server and, per proxy, the command (the
//! black-box placeholders, plus `{gauntlet}` for this executable and
//! `{peers}` for where the peers were installed), the policy, and the attack
//! classes the proxy cannot express at all: those are shown as such, never
//! counted as breached.

use std::collections::BTreeMap;
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
    #[serde(default)]
    pub skip_initialized: bool,
    /// Attack classes this proxy has no way to express, with the reason.
    #[serde(default)]
    pub cannot: BTreeMap<String, String>,
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
        let t = out.entry(o.class.clone()).or_default();
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
    Row { entry: entry.clone(), classes: Err(why), latency: None, refusal_shapes: Vec::new(), wall: Duration::ZERO }
}

/// Runs the database through one proxy; the bench is kept for timing.
fn run_one(entry: &Entry, file: &LeagueFile, setup: &Setup<'_>) -> (Row, Option<BlackBoxBench>) {
    let started = std::time::Instant::now();
    let policy = entry.policy.as_ref().map(|p| {
        let p = expand(p, setup.gauntlet, setup.peers);
        let path = PathBuf::from(&p);
        if path.is_absolute() { path } else { setup.base.join(path) }
    });
    let budget = crate::scenario::Duration::parse(&file.time_budget)
        .map(|d| Duration::from_nanos(d.nanos().max(0) as u64))
        .unwrap_or(Duration::from_secs(120));
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
        // Python peers take seconds to start on a loaded 2-core machine.
        timeout: Duration::from_secs(30),
        ..Settings::default()
    };
    // The league judges what each proxy does, not what gauntlet thinks of its policy format.
    let readable = policy.as_ref().and_then(|p| crate::policy::load_file(p, None).ok()).map(|l| l.policy);
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
        let rust = shipped.proxies.iter().find(|p| p.name == "mcp-guard (Rust)").unwrap();
        assert_eq!(rust.url.as_deref(), Some("http://127.0.0.1:{port}/mcp"));
        assert!(rust.headers[0].starts_with("Authorization: Bearer "));
    }
}
