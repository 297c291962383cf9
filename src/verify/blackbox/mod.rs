//! Black-box mode: verify the proxy people actually run.
//!
//! The same scenarios, plans and ledger measurement as in-process, with a
//! second driver: the agent side talks MCP to a proxy process — over stdio to
//! one started from `--proxy-command`, or over Streamable HTTP at
//! `--proxy-url` (started per run from the command, or already listening) —
//! and that proxy talks to a gauntlet mock server process whose ledger
//! decides what got through. The proxy runs on
//! the wall clock, so each plan is lined up with the calendar
//! ([`timing`]) and a plan longer than the time budget is not run but marked
//! not applicable with what it would need.

pub mod aliases;
pub mod compare;
pub mod faketime;
pub mod http;
pub mod league;
pub mod process;
pub mod run;
pub mod store;
pub mod template;
pub mod timing;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::inprocess::{catalogue_of, spec_for, NamedServer};
use super::play::System;
use super::{Bench, START};
use crate::agent::{handshake, Action};
use crate::policy::model::Policy;
use crate::scenario::lint::ToolInfo;
use crate::scenario::{StateSetup, Upstream};

/// Marks a not-applicable outcome that was not run for want of wall time.
pub const OVER_BUDGET: &str = "needs ";

/// Why verdicts against a proxy gauntlet did not start are read with care.
pub const CARRIED_OVER: &str =
    "one proxy already listening serves every run, so its counters carry over from earlier runs (use --proxy-command for a fresh proxy per run)";

/// How a black-box run is set up.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `--proxy-command`, unexpanded: started per session (stdio) or per run (with a URL).
    pub command: Option<String>,
    /// `--proxy-url`, unexpanded: the proxy is spoken to over Streamable HTTP there.
    pub url: Option<String>,
    /// `--proxy-header`: sent with every request to the proxy's URL.
    pub headers: Vec<(String, String)>,
    /// `--mock-listen`: where the mock listens for a proxy gauntlet did not start.
    pub mock_listen: String,
    /// The policy the proxy enforces (any format the proxy reads), if given.
    pub policy: Option<PathBuf>,
    /// The longest wall time one scenario × tool run may take.
    pub budget: Duration,
    /// Leave out `notifications/initialized` (for proxies that hang on it).
    pub skip_initialized: bool,
    /// How long to wait for `initialize`, and for answers after the last call.
    pub timeout: Duration,
    /// How replicas keep state when a scenario does not say (`--state`).
    pub state: StateSetup,
    /// Names the proxy lists for the upstream's tools (listed → upstream), when it renames them.
    pub aliases: std::collections::BTreeMap<String, String>,
    /// Play every plan exactly as planned, its attack and benign twin one
    /// after the other (what black-box runs did before idle gaps were
    /// squeezed): `bench blackbox`'s baseline.
    pub plain: bool,
    /// `--clock-rate N`: run each proxy whose plan allows it on a clock N
    /// times as fast (libfaketime), and play its plan N times faster.
    pub clock_rate: Option<u32>,
}

/// Gaps up to this long are played as planned (plus the server's longest
/// answer latency): the answers due meanwhile, and what they commit or
/// refund, arrive before the next call, as on the virtual clock.
const KEEP: Duration = Duration::from_millis(200);

/// What every run of one bench shares.
pub struct Shared {
    /// The proxy command's words; empty when the proxy already listens.
    pub words: Vec<String>,
    /// The proxy's URL template, when it is spoken to over HTTP.
    pub url: Option<String>,
    pub headers: Arc<Vec<(String, String)>>,
    /// The proxy's own names for the upstream's tools ([`aliases`]).
    pub aliases: aliases::Aliases,
    /// Drives the HTTP sessions' requests.
    pub runtime: Option<tokio::runtime::Runtime>,
    /// The ledger of the one long-lived mock behind a proxy that already listens.
    pub listening: Option<PathBuf>,
    /// Some placeholder wants a free port per run.
    pub needs_port: bool,
    /// Some placeholder wants a Redis per run (`{state_dsn}`).
    pub needs_store: bool,
    /// Whether fault runs can rewrite the policy the proxy reads, or why not.
    pub rewritable: Result<(), String>,
    pub policy: Option<PathBuf>,
    pub policy_template: Option<String>,
    pub needs_url: bool,
    pub gauntlet: PathBuf,
    pub skip_initialized: bool,
    pub init_timeout: Duration,
    pub settle: Duration,
    /// Measured: starting a proxy and getting its `initialize` answer.
    pub startup: Duration,
    /// The calendar periods calls are lined up with ([`timing::periods`]).
    pub periods: Vec<i64>,
    /// Gaps up to this many nanoseconds are played as planned; longer idle
    /// gaps are squeezed ([`timing::Squeeze`]). `None`: every plan is played
    /// as it is (a policy gauntlet cannot read says nothing of the windows
    /// the proxy counts in, and may count in sliding ones; a proxy already
    /// listening carries counters from earlier runs into each window; or
    /// `plain`).
    pub keep: Option<i64>,
    /// [`Settings::plain`].
    pub plain: bool,
    /// The policy as gauntlet reads it, when it can: which calls count.
    pub model: Option<Arc<Policy>>,
    /// `--clock-rate`: how proxies are put on a faster clock.
    pub faketime: Option<faketime::Faketime>,
    /// Some tool of the servers answers after a latency.
    pub slow_server: bool,
}

impl Shared {
    /// How long before its first call a session's proxy is started: twice the
    /// measured start-up (the machine may be busier now), and half a second.
    pub fn lead(&self) -> Duration {
        self.startup * 2 + Duration::from_millis(500)
    }

    /// Whether the plan of a run may be played other than as planned:
    /// never when the run has faults (they are timed against the calls) or
    /// its server changes a definition at a time (`at:`).
    fn reshapes(&self, upstream: Option<&Upstream>, faulted: bool) -> bool {
        let timed_change = upstream.is_some_and(|u| u.changes.iter().chain(&u.shadow).any(|c| c.at.is_some()));
        self.keep.is_some() && !faulted && !timed_change
    }

    /// How fast the proxy's clock runs in a run: `--clock-rate` where the
    /// plan may be reshaped, every answer is prompt (a latency the mock
    /// plays on the wall clock would last N times longer on the proxy's),
    /// the agent uses one session (runs of a proxy process per call were
    /// measured to differ from the prediction on a faster clock), and every
    /// call can land clear of its windows' ends by the faster clock's
    /// jitter; else 1 (the wall clock).
    pub fn rate(&self, actions: &[Action], upstream: Option<&Upstream>, faulted: bool) -> u32 {
        let prompt = !self.slow_server && upstream.and_then(|u| u.latency_ms).unwrap_or(0) == 0;
        let one_session = actions.iter().map(|a| (a.shadow, a.session)).collect::<BTreeSet<_>>().len() <= 1;
        let Some(rate) = self.faketime.as_ref().map(faketime::Faketime::rate).filter(|_| prompt && one_session && self.reshapes(upstream, faulted)) else {
            return 1;
        };
        let played = self.squeeze(actions, upstream, faulted, rate).offsets(&actions.iter().map(|a| a.at).collect::<Vec<_>>());
        match timing::clear_of_edges(&played, &self.periods, timing::ProxyClock::new(0, rate).jitter()) {
            true => rate,
            false => 1,
        }
    }

    /// How a plan of `actions` is played, on the proxy's clock running
    /// `rate` times as fast: squeezed where nothing depends on its gaps
    /// (only where it may be reshaped, see [`Shared::rate`]). What a gap
    /// keeps is wall time (answers arriving, a proxy starting), so it is
    /// `rate` times longer on that clock.
    pub fn squeeze(&self, actions: &[Action], upstream: Option<&Upstream>, faulted: bool, rate: u32) -> timing::Squeeze {
        let Some(keep) = self.keep.filter(|_| self.reshapes(upstream, faulted)) else { return timing::Squeeze::default() };
        let rate = i64::from(rate.max(1));
        let keep = (keep + upstream.and_then(|u| u.latency_ms).map_or(0, |ms| ms as i64 * 1_000_000)) * rate;
        let offsets: Vec<i64> = actions.iter().map(|a| a.at).collect();
        let mut sessions = BTreeSet::new();
        let opens: Vec<bool> = actions.iter().map(|a| sessions.insert((a.shadow, a.session))).collect();
        // A raw line may call any tool, under any name: every window counts then.
        let raw = actions.iter().any(|a| matches!(a.payload, crate::agent::Payload::Raw { .. }));
        let lead = self.lead().as_nanos() as i64 * rate;
        let counting = match &self.model {
            Some(policy) if !raw => timing::counting(policy, actions.iter().filter_map(Action::tool_name)),
            _ => timing::Counting::Other,
        };
        match (&counting, &self.model) {
            (timing::Counting::Nothing, _) => timing::Squeeze::plan(&offsets, &opens, &[], keep, lead),
            (timing::Counting::RateLimits(caps), Some(policy)) => {
                let counted: Vec<bool> = actions.iter().map(|a| a.tool_name().is_some_and(|n| timing::counts(policy, n))).collect();
                timing::Squeeze::under_limits(&offsets, &opens, &counted, caps, keep, lead)
                    .unwrap_or_else(|| timing::Squeeze::plan(&offsets, &opens, &self.periods, keep, lead))
            }
            _ => timing::Squeeze::plan(&offsets, &opens, &self.periods, keep, lead),
        }
    }
}

pub struct BlackBoxBench {
    shared: Arc<Shared>,
    servers: Vec<NamedServer>,
    catalogue: Vec<ToolInfo>,
    /// The policy as gauntlet reads it, when it can: what it names and hides.
    policy: Option<Arc<Policy>>,
    /// Stands in for an unreadable policy where a policy must be shown (it names nothing).
    unknown: Policy,
    /// The readable policy under Intercept's semantics, for what it admits
    /// (the proxy under test is one of Intercept's kind).
    engine: Option<crate::engine::Engine>,
    /// Tools the proxy left out of `tools/list` (hidden), when the policy is unreadable here.
    unlisted: BTreeSet<String>,
    budget: Duration,
    /// The mock behind a proxy that already listens (kept for the bench's
    /// life), and the URL that proxy must use as its upstream.
    mock: Option<(std::sync::Mutex<process::ProxyProcess>, String)>,
    state: StateSetup,
    work: tempfile::TempDir,
    runs: AtomicUsize,
}

impl BlackBoxBench {
    /// Checks the command, then starts the proxy once (in front of the first
    /// server) to measure its start-up and see which tools it lists.
    pub fn new(settings: Settings, policy: Option<Policy>, servers: Vec<NamedServer>) -> Result<BlackBoxBench, String> {
        let words = match &settings.command {
            Some(c) => template::check(c, "proxy command")?,
            None => Vec::new(),
        };
        if settings.command.is_none() && settings.url.is_none() {
            return Err("black-box mode needs --proxy-command or --proxy-url".into());
        }
        if let Some(url) = &settings.url {
            template::check(url, "proxy URL")?;
            if settings.command.is_none() && template::wants_port(url) {
                return Err(format!("--proxy-url {url}: {{port}} is only filled in for a proxy gauntlet starts\n  help: add --proxy-command, or give the port the proxy listens on"));
            }
        }
        let policy_template = match &settings.policy {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("{}: cannot read the policy: {e}", p.display()))?;
                template::is_template(&text).then_some(text)
            }
            None => None,
        };
        let command = settings.command.clone().unwrap_or_default();
        let needs_url = template::wants_url(&command) || policy_template.as_deref().is_some_and(template::wants_url);
        let needs_port = [Some(command.as_str()), settings.url.as_deref(), policy_template.as_deref()]
            .into_iter()
            .flatten()
            .any(template::wants_port);
        let needs_store = [Some(command.as_str()), settings.url.as_deref(), policy_template.as_deref()]
            .into_iter()
            .flatten()
            .any(template::wants_store);
        let rewritable = if policy.is_none() {
            Err("gauntlet cannot read the policy, so it cannot write the versions a rewrite needs".to_string())
        } else if policy_template.is_some() {
            Err("the policy file is a template (it names the run's upstream, state or port), so gauntlet cannot write its versions".to_string())
        } else if !command.contains("{policy}") {
            Err("the proxy command does not name {policy}, so a file gauntlet rewrites would not be the one the proxy reads".to_string())
        } else {
            Ok(())
        };
        if command.contains("{policy}") && settings.policy.is_none() {
            return Err("the proxy command names {policy} but no policy was given\n  help: pass the policy file as the first argument".into());
        }
        let gauntlet = std::env::current_exe().map_err(|e| format!("cannot find the gauntlet executable: {e}"))?;
        let work = tempfile::Builder::new().prefix("gauntlet-blackbox-").tempdir().map_err(|e| format!("cannot create a work directory: {e}"))?;
        let runtime = match &settings.url {
            Some(_) => Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the HTTP client: {e}"))?,
            ),
            None => None,
        };
        let (mock, listening) = match (&settings.command, &settings.url) {
            (None, Some(_)) => {
                let (mock, ledger, url) = serve_mock(&servers, &gauntlet, work.path(), &settings.mock_listen)?;
                (Some((std::sync::Mutex::new(mock), url)), Some(ledger))
            }
            _ => (None, None),
        };
        let catalogue = catalogue_of(&servers);
        let model = policy.map(Arc::new);
        let faketime = match (settings.clock_rate, words.first()) {
            (None, _) => None,
            (Some(_), None) => return Err("--clock-rate needs --proxy-command: gauntlet can only start a proxy on a faster clock".into()),
            (Some(rate), Some(program)) => Some(faketime::Faketime::new(rate, program)?),
        };
        let keep = (model.is_some() && !settings.plain && listening.is_none()).then(|| (KEEP + longest_latency(&servers)).as_nanos() as i64);
        let mut bench = BlackBoxBench {
            shared: Arc::new(Shared {
                words,
                url: settings.url.clone(),
                headers: Arc::new(settings.headers.clone()),
                aliases: aliases::Aliases::new(&settings.aliases, servers.iter().map(|s| s.name.as_str()))?,
                runtime,
                listening,
                needs_port,
                needs_store,
                rewritable,
                policy: settings.policy.clone(),
                policy_template,
                needs_url,
                gauntlet,
                skip_initialized: settings.skip_initialized,
                init_timeout: settings.timeout,
                settle: settings.timeout,
                startup: Duration::ZERO,
                periods: timing::periods(model.as_deref()),
                plain: settings.plain,
                model: model.clone(),
                keep,
                faketime,
                slow_server: longest_latency(&servers) > Duration::ZERO,
            }),
            servers,
            catalogue,
            engine: model.clone().map(|p| crate::engine::Engine::new(p, crate::profile::Profile::Intercept)),
            policy: model,
            unknown: Policy::empty(crate::policy::model::Dialect::Intercept),
            unlisted: BTreeSet::new(),
            budget: settings.budget,
            mock,
            state: settings.state,
            work,
            runs: AtomicUsize::new(0),
        };
        bench.look()?;
        Ok(bench)
    }

    /// One session per server: `initialize` + `tools/list`, timed.
    fn look(&mut self) -> Result<(), String> {
        let mut startup = Duration::ZERO;
        let mut listed = BTreeSet::new();
        for server in self.servers.iter().map(|s| s.name.clone()).collect::<Vec<_>>() {
            let t = Instant::now();
            let mut run = self.run_for(&server, None, "")?;
            let ctx = super::play::context(0, 0);
            run.begin(&[], START);
            let mut got = Vec::new();
            for line in handshake(1, 2) {
                got.extend(run.send(line.as_bytes(), &ctx, START));
            }
            got.extend(run.settle(START));
            if let Some(why) = run.failure() {
                return Err(format!("the proxy failed its first session (initialize, tools/list): {why}"));
            }
            startup = startup.max(t.elapsed());
            for m in got {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&m) {
                    if let Some(tools) = v["result"]["tools"].as_array() {
                        listed.extend(tools.iter().filter_map(|t| t["name"].as_str().map(String::from)));
                    }
                }
            }
        }
        self.unlisted = self.catalogue.iter().map(|t| t.name.clone()).filter(|n| !listed.contains(n)).collect();
        if let Some(ledger) = &self.shared.listening {
            // A proxy whose upstream is not our mock would pass every attack
            // vacuously: nothing it forwards would reach the ledger.
            let heard = std::fs::metadata(ledger).map(|m| m.len() > 0).unwrap_or(false);
            if self.unlisted.len() == self.catalogue.len() && !heard {
                let url = self.mock.as_ref().map(|(_, url)| url.as_str()).unwrap_or_default();
                return Err(format!(
                    "the proxy at {} lists none of the mock's tools and never reached the mock\n  help: start the proxy with its upstream at {url} (the mock gauntlet serves; --mock-listen moves it)",
                    self.shared.url.as_deref().unwrap_or_default()
                ));
            }
        }
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.startup = startup;
        }
        Ok(())
    }

    /// A run against `server` with no scenario overrides (for timing and probing).
    pub fn plain_run(&self, server: &str) -> Result<run::Run, String> {
        self.run_for(server, None, "")
    }

    fn run_for(&self, server: &str, upstream: Option<&Upstream>, target: &str) -> Result<run::Run, String> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        let dir = self.work.path().join(format!("run-{n}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let spec_path = write_spec(&self.servers, server, upstream, target, &dir)?;
        // Replicas sharing state are what every run already is: sessions at one `{state_dir}`.
        let replicas = upstream.and_then(|u| u.replicas).unwrap_or(1);
        let local = upstream.and_then(|u| u.state).unwrap_or(self.state) == StateSetup::Local;
        let run = run::Run::new(self.shared.clone(), dir.clone(), spec_path, if local { replicas } else { 1 })?.with_upstream(upstream.cloned());
        match upstream.and_then(|u| u.shadow.as_ref()) {
            Some(hostile) => {
                let spec = super::definitions::shadow(&spec_for(&self.servers, server, None, target)?, target, hostile);
                let path = dir.join("shadow.json");
                let text = serde_json::to_string_pretty(&spec).map_err(|e| format!("cannot write the second server's file: {e}"))?;
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(run.with_shadow(path))
            }
            None => Ok(run),
        }
    }

    /// The measured start-up of one proxy session.
    pub fn startup(&self) -> Duration {
        self.shared.startup
    }

    /// Where the runs keep their files (kept only while the bench lives).
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }
}

impl Bench for BlackBoxBench {
    fn catalogue(&self) -> &[ToolInfo] {
        &self.catalogue
    }

    fn surfaces(&self, reqs: &crate::scenario::requirements::Requirements) -> Vec<ToolInfo> {
        super::inprocess::surfaces_of(self.servers.iter().map(|s| (s.name.as_str(), &s.spec)), reqs)
    }

    fn start(&self, server: &str, upstream: Option<&Upstream>, target: &str) -> Result<Box<dyn System>, String> {
        Ok(Box::new(self.run_for(server, upstream, target)?))
    }

    fn resolves_names_leniently(&self, server: &str) -> bool {
        self.servers.iter().any(|s| s.name == server && s.spec.behaviour.lenient_names)
    }

    fn names(&self, tool: &str) -> bool {
        match &self.policy {
            Some(p) => p.tool(tool).is_some() || self.hides(tool),
            // Unknown without a readable policy: count every tool as named, so
            // "a tool the policy never names" scenarios do not guess.
            None => true,
        }
    }

    fn hides(&self, tool: &str) -> bool {
        match &self.policy {
            Some(p) => p.hides(tool),
            None => self.unlisted.contains(tool),
        }
    }

    fn policy(&self) -> &Policy {
        self.policy.as_deref().unwrap_or(&self.unknown)
    }

    fn state(&self) -> StateSetup {
        self.state
    }

    fn admission(&self) -> Option<&crate::engine::admission::Admission> {
        self.engine.as_ref().map(|e| e.admission())
    }

    fn policy_unknown(&self) -> bool {
        self.policy.is_none()
    }

    fn state_carries_over(&self) -> Option<&str> {
        self.shared.listening.as_ref().map(|_| CARRIED_OVER)
    }

    fn runs_on_the_wall_clock(&self) -> bool {
        // One proxy already listening keeps its counters across runs: they cannot overlap.
        !self.shared.plain && self.shared.listening.is_none()
    }

    fn fits(&self, actions: &[Action], upstream: Option<&Upstream>, faulted: bool) -> Result<(), String> {
        if self.shared.listening.is_some() && upstream.is_some() {
            return Err(
                "needs its own variant of the mock server, and a proxy gauntlet did not start keeps one upstream; use --proxy-command to run it".into(),
            );
        }
        let replicas = upstream.and_then(|u| u.replicas).unwrap_or(1);
        let local = upstream.and_then(|u| u.state).unwrap_or(self.state) == StateSetup::Local;
        if self.shared.url.is_some() && upstream.is_some_and(|u| u.shadow.is_some()) {
            return Err("needs a second proxy in front of a second server, and over HTTP a run's sessions share one proxy; use a stdio --proxy-command".into());
        }
        if self.shared.url.is_some() && replicas > 1 && local {
            return Err(format!(
                "needs {replicas} proxy replicas each with its own state, and over HTTP a run's sessions share one proxy; use a stdio --proxy-command, or --state shared"
            ));
        }
        let rate = self.shared.rate(actions, upstream, faulted);
        let offsets = self.shared.squeeze(actions, upstream, faulted, rate).offsets(&actions.iter().map(|a| a.at).collect::<Vec<_>>());
        let sessions = actions.iter().map(|a| a.session).collect::<BTreeSet<_>>().len() as u32;
        // Over stdio each session starts its own proxy; over HTTP the run's sessions share one.
        let starts = if self.shared.url.is_some() { 1 } else { sessions.max(1) };
        let need = timing::worst_case(&offsets, &self.shared.periods, &timing::ProxyClock::new(0, rate)) + self.shared.startup * starts + self.shared.settle.min(Duration::from_secs(2));
        if need <= self.budget {
            return Ok(());
        }
        Err(format!(
            "{OVER_BUDGET}up to {} of wall time against a real proxy (budget {}); raise --time-budget",
            timing::human(need),
            timing::human(self.budget)
        ))
    }
}

/// The longest answer latency any tool of `servers` is filed with.
fn longest_latency(servers: &[NamedServer]) -> Duration {
    let ms = servers.iter().flat_map(|s| &s.spec.tools).map(|t| t.response.latency_ms).max().unwrap_or(0);
    Duration::from_millis(ms)
}

/// Serves the one server in play over Streamable HTTP at `addr` for a proxy
/// that already listens; returns the mock process and its ledger file.
fn serve_mock(servers: &[NamedServer], gauntlet: &Path, work: &Path, addr: &str) -> Result<(process::ProxyProcess, PathBuf, String), String> {
    let [server] = servers else {
        return Err(format!(
            "--proxy-url without --proxy-command drives one proxy in front of one mock server, and {} are in play\n  help: pass exactly one --server",
            servers.len()
        ));
    };
    let spec_path = write_spec(servers, &server.name, None, "", work)?;
    let ledger = work.join("ledger.jsonl");
    let mut argv = mock_argv(gauntlet, &spec_path, &ledger);
    argv.extend(["--http".to_string(), addr.to_string()]);
    let err = work.join("mock-http.stderr");
    std::fs::create_dir_all(work.join("home")).map_err(|e| format!("{}: {e}", work.display()))?;
    let mock = process::ProxyProcess::spawn(&argv, &work.join("home"), &err, Arc::new(process::Inbox::default()))?;
    process::wait_listening(addr, Duration::from_secs(10)).map_err(|e| format!("the mock server could not listen on {addr} (--mock-listen): {e}; {}", process::tail(&err, 5)))?;
    let url = format!("http://{addr}/mcp");
    eprintln!("gauntlet verify: the mock server `{}` listens at {url}: the proxy's upstream must be that URL", server.name);
    eprintln!("warning: {CARRIED_OVER}: a rate limit may read as held because an earlier run spent its quota");
    Ok((mock, ledger, url))
}

/// Writes `server`'s mock spec (with a scenario's overrides for `target`) as
/// `server.json` in `dir`, where a `gauntlet mock` process reads it.
fn write_spec(servers: &[NamedServer], server: &str, upstream: Option<&Upstream>, target: &str, dir: &Path) -> Result<PathBuf, String> {
    let spec = spec_for(servers, server, upstream, target)?;
    let path = dir.join("server.json");
    let text = serde_json::to_string_pretty(&spec).map_err(|e| format!("cannot write the mock server file: {e}"))?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The words that serve the mock in `spec` over stdio, appending its ledger to `ledger`.
pub fn mock_argv(gauntlet: &Path, spec: &Path, ledger: &Path) -> Vec<String> {
    [gauntlet, Path::new("mock"), spec, Path::new("--ledger"), ledger].iter().map(|p| p.display().to_string()).collect()
}
