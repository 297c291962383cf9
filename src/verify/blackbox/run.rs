//! One black-box run: the wall-clock [`System`] behind a scenario × tool.
//!
//! Over stdio each agent session is one proxy process (a stdio proxy serves
//! one client), started at the session's first message; replicas with local
//! state are played by giving each replica its own `{state_dir}`, sessions
//! dealt out in turn. Over HTTP each agent
//! session is one MCP session at the proxy's URL, and the run's sessions share
//! one proxy process started from the command (or the one already listening). The mock server behind it writes
//! its ledger to a file; when the run settles, the ledgers are read back and
//! their wall times mapped onto the plan's virtual timeline, so the same
//! measurement judges both drivers.
//!
//! A run with faults does them to the processes it owns: `{state_dsn}`'s
//! Redis fails or hangs ([`super::store`]), the run's own copy of the policy
//! file (`{policy}`) is rewritten, the proxy processes are killed (the agent
//! reconnects to fresh ones over the same state), and the stdio mock
//! stalls or exits on cue, told when as it starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::http::HttpSession;
use super::process::{self, Inbox, ProxyProcess};
use super::store::Store;
use super::template::{self, Fill};
use super::timing::{self, ProxyClock, Squeeze};
use super::Shared;
use crate::agent::Action;
use crate::clock::Timestamp;
use crate::caller::CallContext;
use crate::mock::LedgerEntry;
use crate::verify::faults::{Inject, Schedule, Timed, Version};
use crate::scenario::Upstream;
use crate::verify::play::System;

/// Sessions kept open at once; older idle ones are closed (a plan with a
/// fresh session per call would otherwise hold a process per call).
const MAX_OPEN: usize = 8;

/// Proxy processes started ahead of the sessions that will use them, at most.
const MAX_SPARES: usize = 16;

/// An `initialize` answered later than this came from a proxy that was
/// still starting when its session opened.
const NOT_READY: Duration = Duration::from_millis(100);

/// How long a proxy may take to exit once its stdin is closed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How one agent session reaches the proxy.
enum Link {
    Stdio(ProxyProcess),
    Http(HttpSession),
}

impl Link {
    fn send(&mut self, line: &[u8]) -> Result<(), String> {
        match self {
            Link::Stdio(p) => p.send(line),
            Link::Http(h) => h.send(line),
        }
    }

    /// How its process ended (HTTP sessions share the run's proxy, checked apart).
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        match self {
            Link::Stdio(p) => p.exited(),
            Link::Http(_) => None,
        }
    }

    fn stop(&mut self) {
        if let Link::Stdio(p) = self {
            p.stop(EXIT_GRACE);
        }
    }
}

struct Session {
    key: String,
    link: Link,
    inbox: Arc<Inbox>,
    /// When its proxy process was started (a stdio session's).
    spawned: Option<Instant>,
}

/// A proxy started for a session that opens within the lead: when sessions
/// open closer together than a proxy takes to start (a fresh session per
/// call), starting each only as its handshake is sent would make every
/// call later than the one before, and the plan would drift out of the
/// windows the prediction counts in.
struct Spare {
    process: ProxyProcess,
    inbox: Arc<Inbox>,
    replica: usize,
    spawned: Instant,
}

pub struct Run {
    shared: Arc<Shared>,
    dir: PathBuf,
    /// `{state_dir}`: fresh per run, one per replica keeping its own state
    /// (else one, shared by the run's sessions).
    state_dirs: Vec<PathBuf>,
    /// Which replica (state directory) each session was dealt.
    replica_of: std::collections::HashMap<String, usize>,
    spec: PathBuf,
    /// The expanded policy, when the policy file is a template.
    policy: Option<PathBuf>,
    http_mock: Option<(ProxyProcess, String)>,
    /// `{port}`: a free loopback port for this run's listening proxy.
    port: Option<u16>,
    /// The proxy process this run started for its HTTP sessions.
    http_proxy: Option<ProxyProcess>,
    open: Vec<Session>,
    closed: usize,
    /// Ledger files and the offset this run's entries start at.
    ledgers: Vec<(PathBuf, u64)>,
    /// The second server of a shadowing scenario (`via: shadow` sessions), and its ledger files.
    shadow: Option<PathBuf>,
    shadow_ledgers: std::collections::HashSet<PathBuf>,
    start: Timestamp,
    /// Wall nanoseconds that play the virtual start.
    origin: Option<i64>,
    /// Virtual instants at which a session opens: its proxy is started that
    /// much earlier, so the handshake is done when its first call is due.
    opens: std::collections::HashSet<i64>,
    /// The wall instants the run's sessions open at, in order.
    open_walls: Vec<i64>,
    /// Proxies started for the next sessions, in the order they open.
    spares: std::collections::VecDeque<Spare>,
    spares_started: usize,
    /// The longest a session's proxy took in this run from being started to
    /// answering `initialize`, seen where it was not ready when its session
    /// opened: how far ahead proxies must be started while the machine is
    /// as busy as now.
    startup_seen: Duration,
    /// The requests sent after the handshake, by JSON-RPC id: when (on the
    /// plan's timeline) and with what params, to date the server's ledger
    /// lines by when the proxy was asked ([`LedgerEntry::sent`]).
    sent: std::collections::HashMap<String, (Timestamp, Value)>,
    ledger: Vec<LedgerEntry>,
    failure: Option<String>,
    /// How the run missed its plan's or a fault's timing ([`System::timing_missed`]).
    missed: Option<String>,
    /// `{state_dsn}`: one store per state directory.
    stores: Vec<Store>,
    /// The run's faults, when it has any (their wall times are known once it begins).
    faults: Vec<Timed>,
    /// What the stdio mock is told as it starts: when to stall, when to exit.
    mock_faults: Vec<String>,
    /// The earliest wall instant the stdio mock stalls or exits at, or the
    /// state store fails. A mock started after its cue never does (that is
    /// how a restarted upstream stays up), and a store that fails and comes
    /// back before the proxy takes its first call fails nothing the verdict
    /// could see, so the run's first proxy must be up before it.
    fault_cue: Option<i64>,
    /// A policy write left open (a writer mid-file), and what it wrote so far.
    half_open: Option<(std::fs::File, String)>,
    /// The scenario's overrides of the server (what the squeeze must keep).
    upstream: Option<Upstream>,
    /// How the plan's instants are played (set as it begins).
    squeeze: Squeeze,
    /// The clock the run's proxies read (set as it begins; `origin` and the
    /// squeeze are on it).
    clock: ProxyClock,
}

/// Whether a fault happens at a wall instant fixed as the run begins (the
/// mock's cue, the store gauntlet fails), which the run's first proxy must
/// be up before.
fn cued(f: &Timed) -> bool {
    matches!(f.what, Inject::UpstreamStall { .. } | Inject::UpstreamDie | Inject::StoreDown { .. })
}

pub fn wall_nanos() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

impl Run {
    /// A run whose sessions are dealt over `state_dirs` state directories (at least one).
    pub fn new(shared: Arc<Shared>, dir: PathBuf, spec: PathBuf, state_dirs: u32) -> Result<Run, String> {
        let state_dirs: Vec<PathBuf> = match state_dirs {
            0 | 1 => vec![dir.join("state")],
            n => (0..n).map(|r| dir.join(format!("state-replica-{r}"))).collect(),
        };
        for sub in state_dirs.iter().chain([&dir.join("home")]) {
            std::fs::create_dir_all(sub).map_err(|e| format!("{}: {e}", sub.display()))?;
        }
        let mut run = Run {
            shared,
            state_dirs,
            replica_of: Default::default(),
            dir,
            spec,
            policy: None,
            http_mock: None,
            port: None,
            http_proxy: None,
            open: Vec::new(),
            closed: 0,
            ledgers: Vec::new(),
            shadow: None,
            shadow_ledgers: Default::default(),
            start: Timestamp::default(),
            origin: None,
            opens: Default::default(),
            open_walls: Vec::new(),
            spares: Default::default(),
            spares_started: 0,
            startup_seen: Duration::ZERO,
            sent: Default::default(),
            ledger: Vec::new(),
            failure: None,
            missed: None,
            stores: Vec::new(),
            faults: Vec::new(),
            mock_faults: Vec::new(),
            fault_cue: None,
            half_open: None,
            upstream: None,
            squeeze: Squeeze::default(),
            clock: ProxyClock::default(),
        };
        if run.shared.needs_store {
            for r in 0..run.state_dirs.len() {
                let store = Store::start(&run.dir.join(format!("store-{r}")), free_port)?;
                run.stores.push(store);
            }
        }
        if run.shared.needs_port {
            run.port = Some(free_port()?);
        }
        if let Some(ledger) = run.shared.listening.clone() {
            let from = std::fs::metadata(&ledger).map(|m| m.len()).unwrap_or(0);
            run.ledgers.push((ledger, from));
        }
        if run.shared.needs_url {
            run.start_http_mock()?;
        }
        if let Some(text) = run.shared.policy_template.clone() {
            let name = run.shared.policy.as_deref().and_then(Path::file_name).unwrap_or("policy".as_ref());
            let path = run.dir.join(name);
            let upstream = run.upstream_words("template");
            let fill = run.fill(&upstream, 0);
            std::fs::write(&path, template::policy(&text, &fill)).map_err(|e| format!("{}: {e}", path.display()))?;
            run.policy = Some(path);
        }
        Ok(run)
    }

    /// The scenario's overrides of the server this run serves.
    pub fn with_upstream(mut self, upstream: Option<Upstream>) -> Run {
        self.upstream = upstream;
        self
    }

    /// Sessions named as shadow sessions talk to the second server in `spec`.
    pub fn with_shadow(mut self, spec: PathBuf) -> Run {
        self.shadow = Some(spec);
        self
    }

    /// The words that serve this run's mock over stdio, with a ledger file named after `tag`.
    fn upstream_words(&mut self, tag: &str) -> Vec<String> {
        let ledger = self.dir.join(format!("ledger-{tag}.jsonl"));
        let mut argv = super::mock_argv(&self.shared.gauntlet, &self.spec, &ledger);
        argv.extend(self.mock_faults.iter().cloned());
        self.ledgers.push((ledger, 0));
        self.unfaked(argv)
    }

    /// A command the proxy starts, kept off the fake clock the proxy may run on.
    fn unfaked(&self, argv: Vec<String>) -> Vec<String> {
        match self.shared.faketime {
            Some(_) => super::faketime::unfaked(argv),
            None => argv,
        }
    }

    /// The environment of a proxy process started now: the run's fake clock, if it runs on one.
    fn clock_env(&self) -> Vec<(String, String)> {
        match &self.shared.faketime {
            Some(f) if self.clock.rate() > 1 => f.env(&self.clock, wall_nanos()),
            _ => Vec::new(),
        }
    }

    /// The same for the second server.
    fn shadow_words(&mut self, spec: &Path, tag: &str) -> Vec<String> {
        let ledger = self.dir.join(format!("ledger-shadow-{tag}.jsonl"));
        let argv = super::mock_argv(&self.shared.gauntlet, spec, &ledger);
        self.shadow_ledgers.insert(ledger.clone());
        self.ledgers.push((ledger, 0));
        self.unfaked(argv)
    }

    /// The placeholders' values for a process of replica `replica`.
    fn fill<'a>(&'a self, upstream: &'a [String], replica: usize) -> Fill<'a> {
        Fill {
            policy: self.policy.as_deref().or(self.shared.policy.as_deref()),
            upstream,
            upstream_url: self.http_mock.as_ref().map(|(_, url)| url.as_str()),
            state_dir: &self.state_dirs[replica],
            port: self.port,
            state_dsn: self.stores.get(replica).map(Store::dsn),
        }
    }

    fn start_http_mock(&mut self) -> Result<(), String> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut argv = self.upstream_words("http");
        argv.extend(["--http".to_string(), addr.clone()]);
        let inbox = Arc::new(Inbox::default());
        let err = self.dir.join("mock-http.stderr");
        let mock = ProxyProcess::spawn(&argv, &self.dir.join("home"), &err, inbox)?;
        process::wait_listening(&addr, Duration::from_secs(10)).map_err(|e| format!("the HTTP mock server did not listen: {e}; {}", process::tail(&err, 5)))?;
        self.http_mock = Some((mock, format!("http://{addr}/mcp")));
        Ok(())
    }

    /// The proxy's URL for this run.
    fn url(&self) -> Option<String> {
        let url = self.shared.url.as_deref()?;
        Some(template::policy(url, &self.fill(&[], 0)))
    }

    /// Starts this run's listening proxy from the command (once), and waits
    /// until its URL accepts connections.
    fn start_http_proxy(&mut self, url: &str) -> Result<(), String> {
        if self.http_proxy.is_some() || self.shared.words.is_empty() {
            return Ok(());
        }
        let upstream = self.upstream_words("proxy");
        let argv = template::argv(&self.shared.words, &self.fill(&upstream, 0));
        let err = self.dir.join("proxy.stderr");
        let mut proxy = ProxyProcess::spawn_with(&argv, &self.dir.join("home"), &self.clock_env(), &err, Arc::new(Inbox::default()))?;
        let addr = authority(url)?;
        let waited = process::wait_listening(&addr, self.shared.init_timeout);
        // Another process's listener on the port answers too: the proxy must still be running.
        let why = match (proxy.exited(), waited) {
            (Some(status), _) => Some(format!("the proxy exited ({status}) before listening at {url}")),
            (None, Err(e)) => Some(format!("the proxy did not listen at {url}: {e}")),
            (None, Ok(())) => None,
        };
        if let Some(why) = why {
            return Err(format!("{why}; its stderr ends:\n{}", proxy.stderr_tail()));
        }
        self.http_proxy = Some(proxy);
        Ok(())
    }

    /// The stderr tail that explains a failure on `link`.
    fn tail_of(&self, link: &Link) -> String {
        match link {
            Link::Stdio(p) => p.stderr_tail(),
            Link::Http(_) => self.http_proxy.as_ref().map(ProxyProcess::stderr_tail).unwrap_or_else(|| "(the proxy was not started by gauntlet)".into()),
        }
    }

    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            self.failure = Some(why);
        }
    }

    fn sleep_until(&self, virt: Timestamp) {
        self.sleep_until_before(virt, Duration::ZERO);
    }

    /// Sleeps until `lead` before the wall instant that plays `virt`.
    fn sleep_until_before(&self, virt: Timestamp, lead: Duration) {
        let Some(planned) = self.planned(virt) else { return };
        let target = self.clock.wall(planned) - lead.as_nanos() as i64;
        let wait = target - wall_nanos();
        if wait > 0 {
            std::thread::sleep(Duration::from_nanos(wait as u64));
        }
    }

    fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut died = None;
        let http_exit = self.http_proxy.as_mut().and_then(ProxyProcess::exited);
        let shared = self.shared.clone();
        for s in &mut self.open {
            out.extend(s.inbox.take().into_iter().map(|m| shared.aliases.incoming(m)));
            if s.inbox.pending() > 0 {
                let gone = match &mut s.link {
                    Link::Stdio(p) => p.exited().map(|status| format!("the proxy exited ({status})")),
                    Link::Http(h) => h.broken().or(http_exit.map(|status| format!("the proxy exited ({status})"))),
                };
                if let Some(gone) = gone {
                    died = Some((gone, s.inbox.pending()));
                }
            }
        }
        let died = died.map(|(gone, n)| {
            let tail = self.open.iter().find(|s| s.inbox.pending() > 0).map(|s| self.tail_of(&s.link)).unwrap_or_default();
            format!("{gone} with {n} requests unanswered; its stderr ends:\n{tail}")
        });
        if let Some(why) = died.filter(|_| !self.faulted()) {
            self.fail(why);
        }
        out
    }

    fn session(&mut self, key: &str) -> Option<&mut Session> {
        if let Some(i) = self.open.iter().position(|s| s.key == key) {
            let s = self.open.remove(i);
            self.open.push(s);
            return self.open.last_mut();
        }
        if self.open.len() >= MAX_OPEN {
            if let Some(i) = self.open.iter().position(|s| s.inbox.pending() == 0) {
                self.open.remove(i).link.stop();
                self.closed += 1;
            }
        }
        if let Some(spare) = self.spare_for(key) {
            self.replica_of.insert(key.to_string(), spare.replica);
            self.open.push(Session { key: key.to_string(), link: Link::Stdio(spare.process), inbox: spare.inbox, spawned: Some(spare.spawned) });
            return self.open.last_mut();
        }
        let inbox = Arc::new(Inbox::default());
        let spawned = Instant::now();
        match self.link(key, inbox.clone()) {
            Ok(link) => {
                let spawned = matches!(link, Link::Stdio(_)).then_some(spawned);
                self.open.push(Session { key: key.to_string(), link, inbox, spawned });
                self.open.last_mut()
            }
            Err(e) => {
                self.fail(e);
                None
            }
        }
    }

    /// A new session's way to the proxy: its own process over stdio, or an
    /// HTTP session at the run's (started or listening) proxy.
    fn link(&mut self, key: &str, inbox: Arc<Inbox>) -> Result<Link, String> {
        if let Some(url) = self.url() {
            self.start_http_proxy(&url)?;
            let runtime = self.shared.runtime.as_ref().ok_or("no HTTP client runtime")?.handle().clone();
            return HttpSession::new(&url, self.shared.headers.clone(), runtime, inbox).map(Link::Http);
        }
        let n = self.open.len() + self.closed;
        let upstream = match self.shadow.clone().filter(|_| crate::verify::play::is_shadow_session(key)) {
            Some(spec) => self.shadow_words(&spec, &n.to_string()),
            None => self.upstream_words(&n.to_string()),
        };
        let next = self.replica_of.len() % self.state_dirs.len();
        let replica = *self.replica_of.entry(key.to_string()).or_insert(next);
        let argv = template::argv(&self.shared.words, &self.fill(&upstream, replica));
        let err = self.dir.join(format!("proxy-{n}.stderr"));
        ProxyProcess::spawn_with(&argv, &self.dir.join("home"), &self.clock_env(), &err, inbox).map(Link::Stdio)
    }

    /// Whether this run starts proxies ahead of their sessions: only where a
    /// proxy started early is the same as one started on time (one stdio
    /// process per session, on the wall clock, and no fault that a process
    /// started before it would see otherwise: a rewritten policy, a store
    /// down, a mock's cue), and only the server under test.
    fn starts_ahead(&self) -> bool {
        self.shared.url.is_none()
            && !self.shared.words.is_empty()
            && self.shadow.is_none()
            && self.faults.is_empty()
            && self.mock_faults.is_empty()
            && self.clock.rate() <= 1
            && self.open_walls.len() > 1
    }

    /// Starts proxies for the sessions that open within the lead from now,
    /// or within twice the longest start-up seen in this run, and half a
    /// second, when the machine got busier since the lead was measured.
    fn start_ahead(&mut self) {
        if !self.starts_ahead() {
            return;
        }
        let ahead = self.lead().max(self.startup_seen * 2 + Duration::from_millis(500));
        let horizon = wall_nanos() + ahead.as_nanos() as i64;
        let taken = self.open.len() + self.closed;
        let due = self.open_walls.iter().skip(taken).take_while(|&&w| w <= horizon).count().min(MAX_SPARES);
        while self.spares.len() < due {
            let tag = format!("ahead-{}", self.spares_started);
            let upstream = self.upstream_words(&tag);
            let replica = (self.replica_of.len() + self.spares.len()) % self.state_dirs.len();
            let argv = template::argv(&self.shared.words, &self.fill(&upstream, replica));
            let err = self.dir.join(format!("proxy-{tag}.stderr"));
            let inbox = Arc::new(Inbox::default());
            // A proxy that cannot start is started again on time, where its failure is reported.
            let Ok(process) = ProxyProcess::spawn_with(&argv, &self.dir.join("home"), &self.clock_env(), &err, inbox.clone()) else { break };
            self.spares_started += 1;
            self.spares.push_back(Spare { process, inbox, replica, spawned: Instant::now() });
        }
    }

    /// The proxy started ahead for a new session `key`, if it was dealt the replica the session gets.
    fn spare_for(&mut self, key: &str) -> Option<Spare> {
        let next = self.replica_of.len() % self.state_dirs.len();
        if crate::verify::play::is_shadow_session(key) || self.spares.front()?.replica != next {
            return None;
        }
        self.spares.pop_front()
    }

    fn read_ledgers(&mut self) {
        let origin = self.origin.unwrap_or(self.start.0);
        let mut entries = Vec::new();
        for (path, from) in &self.ledgers {
            let shadow = self.shadow_ledgers.contains(path);
            let Ok(bytes) = std::fs::read(path) else { continue };
            let text = String::from_utf8_lossy(bytes.get(*from as usize..).unwrap_or_default());
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                match entry(line, origin, &self.clock, self.start, &self.squeeze) {
                    Some(e) => entries.push(LedgerEntry { shadow, sent: sent_of(&self.sent, &e.raw), ..e }),
                    None => {
                        self.failure.get_or_insert(format!("{}: unreadable ledger line `{line}`", path.display()));
                    }
                }
            }
        }
        entries.sort_by_key(|e| e.time);
        self.ledger = entries;
    }
}

/// One ledger line of a mock process, its wall time moved onto the virtual
/// timeline (read on the proxy's clock, back through the squeeze the plan
/// was played with).
fn entry(line: &str, origin: i64, clock: &ProxyClock, start: Timestamp, squeeze: &Squeeze) -> Option<LedgerEntry> {
    let v: Value = serde_json::from_str(line).ok()?;
    let wall = Timestamp::parse_rfc3339(v.get("time")?.as_str()?).ok()?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
    Some(LedgerEntry {
        time: start.plus_nanos(squeeze.virtual_of(clock.proxy(wall.0) - origin)),
        session: text("session"),
        identity: text("identity"),
        method: text("method"),
        tool: text("tool"),
        arguments: v.get("arguments").filter(|a| !a.is_null()).cloned(),
        raw: text("raw").unwrap_or_default(),
        executed: v.get("executed").and_then(Value::as_bool).unwrap_or(false),
        revision: v.get("revision").and_then(Value::as_u64).and_then(|r| u32::try_from(r).ok()),
        shadow: v.get("shadow").and_then(Value::as_bool).unwrap_or(false),
        sent: None,
    })
}

/// How long a port handed out stays withheld from other runs: longer than
/// any proxy or store takes to bind it (the start-up timeout is 30 s).
const PORT_HELD: Duration = Duration::from_secs(120);

/// A free loopback port (bound, read, released: the proxy binds it next)
/// that no other run of this process was handed in the last [`PORT_HELD`].
/// The kernel may offer a released port again before the first proxy has
/// bound it; two runs given one port talk to one proxy (a CI run's benign
/// twin was refused by the rate limit its attack had spent, through the
/// attack's proxy), since waiting for the port to listen cannot tell whose
/// listener answers.
fn free_port() -> Result<u16, String> {
    static GIVEN: std::sync::Mutex<Vec<(u16, Instant)>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..64 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("cannot find a free loopback port: {e}"))?;
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        given.retain(|(_, at)| at.elapsed() < PORT_HELD);
        if given.iter().all(|(p, _)| *p != port) {
            given.push((port, Instant::now()));
            return Ok(port);
        }
    }
    Err("cannot find a loopback port that no other run was handed".into())
}

/// `host:port` of an `http://` URL (port 80 when none is written).
fn authority(url: &str) -> Result<String, String> {
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("--proxy-url `{url}`: {e}"))?;
    let host = uri.host().ok_or_else(|| format!("--proxy-url `{url}` names no host"))?;
    Ok(format!("{host}:{}", uri.port_u16().unwrap_or(80)))
}

/// The `method` of one message the agent sends (none for a batch or a non-request).
fn method_of(line: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(line).ok()?.get("method")?.as_str().map(String::from)
}

/// A request's JSON-RPC id and params, when it is one.
fn request_of(line: &[u8]) -> Option<(String, Value)> {
    let v: Value = serde_json::from_slice(line).ok()?;
    Some((v.get("id")?.to_string(), v.get("params").cloned().unwrap_or(Value::Null)))
}

/// When the request the server logged as `raw` was sent: matched by id, and
/// only where the params are the ones sent with it (a proxy that numbers
/// its upstream's requests anew must not date one call by another's).
fn sent_of(sent: &std::collections::HashMap<String, (Timestamp, Value)>, raw: &str) -> Option<Timestamp> {
    let (id, params) = request_of(raw.as_bytes())?;
    sent.get(&id).filter(|(_, p)| *p == params).map(|(at, _)| *at)
}

impl Run {
    /// Writes a version of the policy over the run's copy; `closed: false`
    /// leaves the writer open mid-file (a later whole version finishes it).
    fn write_policy(&mut self, version: &Version, closed: bool) -> Result<(), String> {
        use std::io::Write;
        let path = self.policy.clone().ok_or("no policy file to rewrite")?;
        let text = version.text()?;
        let err = |e: std::io::Error| format!("{}: {e}", path.display());
        if let Some((mut file, written)) = self.half_open.take() {
            if let Some(rest) = text.strip_prefix(written.as_str()).filter(|_| closed) {
                // The same writer finishes the file and closes it.
                return file.write_all(rest.as_bytes()).and_then(|()| file.flush()).map_err(err);
            }
        }
        let mut file = std::fs::File::create(&path).map_err(err)?;
        file.write_all(text.as_bytes()).and_then(|()| file.flush()).map_err(err)?;
        if !closed {
            self.half_open = Some((file, text));
        }
        Ok(())
    }

    /// Kills every proxy process of the run at once; the agent's next
    /// sessions start fresh ones over the same state.
    fn restart(&mut self) {
        self.spares.clear();
        for mut s in self.open.drain(..) {
            match &mut s.link {
                Link::Stdio(p) => p.kill(),
                Link::Http(_) => {}
            }
            self.closed += 1;
        }
        if let Some(mut proxy) = self.http_proxy.take() {
            proxy.kill();
        }
    }

    /// Whether calls may go unanswered or a proxy exit without failing the
    /// run: under faults the player counts what was never answered.
    fn faulted(&self) -> bool {
        !self.faults.is_empty()
    }

    /// The instant of the proxy's clock that plays `virt`, once the run began.
    fn planned(&self, virt: Timestamp) -> Option<i64> {
        Some(self.origin? + self.squeeze.played(virt.0 - self.start.0))
    }

    /// Notes a message planned for `now` going out so late that a proxy
    /// counting in calendar windows counts it in another window than the
    /// plan (a session whose proxy started late on a busy machine): the run
    /// is then not the plan the prediction played, and is played again.
    fn check_slip(&mut self, now: Timestamp, method: Option<&str>) {
        let Some(planned) = self.planned(now).filter(|_| self.missed.is_none()) else { return };
        let sent = self.clock.proxy(wall_nanos());
        if let Some(period) = timing::slipped(planned, sent, &self.shared.periods, self.clock.jitter()) {
            self.missed = Some(format!(
                "a `{}` message went out {} ms after its planned instant, across the edge of a {} window it was planned inside: \
                 the machine was too busy to keep the plan's timing, so nothing was judged; run it again on a quieter machine",
                method.unwrap_or("JSON-RPC"),
                (sent - planned) / 1_000_000 / self.clock.rate(),
                timing::human(Duration::from_nanos(period as u64)),
            ));
        }
    }

    /// How long before its first call a session's proxy is started. Twice
    /// as long, and a second more, when the mock or the store is cued: a busy
    /// machine that starts the first proxy late would otherwise start its
    /// mock after the cue, or fail the store before the proxy is up, and the
    /// fault would silently not happen.
    fn lead(&self) -> Duration {
        if self.faults.iter().any(cued) {
            self.shared.lead() * 2 + Duration::from_secs(1)
        } else {
            self.shared.lead()
        }
    }

    /// One request on session `key` and the time until its answer: for latency figures.
    pub fn round_trip(&mut self, key: &str, line: &[u8], timeout: Duration) -> Result<Duration, String> {
        let t = Instant::now();
        if self.session(key).is_none() {
            return Err(self.failure.clone().unwrap_or_default());
        }
        let line = self.shared.aliases.outgoing(line);
        let s = self.open.last_mut().ok_or("no session")?;
        s.link.send(&line)?;
        if !s.inbox.wait_until(t + timeout, |pending| pending.is_empty()) {
            let tail = self.open.last().map(|s| self.tail_of(&s.link)).unwrap_or_default();
            return Err(format!("no answer within {}s; its stderr ends:\n{tail}", timeout.as_secs()));
        }
        s.inbox.take();
        Ok(t.elapsed())
    }

    /// Ends every process of the run.
    pub fn stop(&mut self) {
        self.settle(self.start);
    }
}

impl System for Run {
    fn begin(&mut self, actions: &[Action], start: Timestamp) {
        self.start = start;
        let offsets: Vec<i64> = actions.iter().map(|a| a.at).collect();
        let mut seen = std::collections::HashSet::new();
        self.opens = actions.iter().filter(|a| seen.insert(a.session)).map(|a| start.plus_nanos(a.at).0).collect();
        let rate = self.shared.rate(actions, self.upstream.as_ref(), self.faulted());
        self.clock = ProxyClock::new(wall_nanos(), rate);
        self.squeeze = self.shared.squeeze(actions, self.upstream.as_ref(), self.faulted(), rate);
        // A run with faults stays on the wall clock (rate 1): the mock's cues below are wall instants.
        let earliest = self.clock.proxy(wall_nanos() + self.lead().as_nanos() as i64);
        let origin = timing::origin(&self.squeeze.offsets(&offsets), earliest, &self.shared.periods, self.clock.jitter());
        self.origin = Some(origin);
        self.fault_cue = self.faults.iter().filter(|f| cued(f)).map(|f| origin + f.at).min();
        let mut sessions = std::collections::HashSet::new();
        let firsts = actions.iter().filter(|a| !a.shadow && sessions.insert(a.session));
        self.open_walls = firsts.map(|a| self.clock.wall(origin + self.squeeze.played(a.at))).collect();
        let ms = |nanos: i64| (nanos / 1_000_000).to_string();
        for f in &self.faults {
            match f.what {
                Inject::UpstreamStall { until } => {
                    let args = ["--stall".to_string(), format!("{}..{}", ms(origin + f.at), ms(origin + (until.0 - start.0)))];
                    self.mock_faults.extend(args);
                }
                Inject::UpstreamDie => {
                    self.mock_faults.extend(["--die-at".to_string(), ms(origin + f.at)]);
                }
                _ => {}
            }
        }
    }

    fn expect_faults(&mut self, schedule: &Schedule) -> Result<(), String> {
        for f in &schedule.injects {
            match &f.what {
                Inject::StoreDown { .. } if self.stores.is_empty() => {
                    return Err("gauntlet fails only a state store it runs, and the proxy command names no {state_dsn}".into())
                }
                Inject::PolicyWrite { version, .. } => {
                    self.shared.rewritable.clone()?;
                    version.text()?;
                }
                Inject::UpstreamStall { .. } if self.http_mock.is_some() => {
                    return Err("gauntlet stalls only an upstream the proxy starts over stdio ({upstream}), not one it reaches at {upstream_url}".into())
                }
                _ => {}
            }
        }
        if schedule.injects.iter().any(|f| matches!(f.what, Inject::PolicyWrite { .. })) {
            // The proxy reads the run's own copy, which the faults rewrite.
            let original = self.shared.policy.clone().ok_or("no policy file to rewrite")?;
            let name = original.file_name().unwrap_or("policy".as_ref());
            let owned = self.dir.join("policy");
            std::fs::create_dir_all(&owned).map_err(|e| format!("{}: {e}", owned.display()))?;
            let copy = owned.join(name);
            std::fs::copy(&original, &copy).map_err(|e| format!("{}: {e}", copy.display()))?;
            self.policy = Some(copy);
        }
        self.faults = schedule.injects.clone();
        Ok(())
    }

    fn injects(&self) -> bool {
        true
    }

    fn inject(&mut self, what: &Inject, _now: Timestamp) -> Result<Vec<Vec<u8>>, String> {
        match what {
            Inject::StoreDown { hang: true } => self.stores.iter_mut().for_each(Store::hang),
            Inject::StoreDown { hang: false } => self.stores.iter_mut().try_for_each(Store::fail)?,
            Inject::StoreUp => self.stores.iter_mut().try_for_each(Store::recover)?,
            Inject::PolicyWrite { version, closed } => self.write_policy(version, *closed)?,
            Inject::Restart => self.restart(),
            // The stdio mock stalls and exits by itself (told as it started); one over HTTP is ended here.
            Inject::UpstreamStall { .. } => {}
            Inject::UpstreamDie => {
                if let Some((mock, _)) = &mut self.http_mock {
                    mock.kill();
                }
            }
        }
        Ok(self.drain())
    }

    fn send(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Vec<u8>> {
        if self.failure.is_some() || self.missed.is_some() {
            return Vec::new();
        }
        let method = method_of(line);
        let initialized = method.as_deref() == Some("notifications/initialized");
        if self.shared.skip_initialized && initialized {
            return self.drain();
        }
        let key = ctx.session.clone().unwrap_or_default();
        let init_timeout = self.shared.init_timeout;
        let initialize = method.as_deref() == Some("initialize");
        if !initialize && !initialized {
            // The handshake went out early; everything else leaves exactly on schedule.
            self.sleep_until(now);
            self.check_slip(now, method.as_deref());
        }
        // A new session starts with `initialize`: hold a start slot until it is answered.
        let opening = initialize && !self.open.iter().any(|s| s.key == key);
        let _slot = opening.then(|| process::STARTING.take());
        let asked = Instant::now();
        let faulted = self.faulted();
        let line = self.shared.aliases.outgoing(line);
        if !initialize && !initialized {
            if let Some((id, params)) = request_of(&line) {
                self.sent.insert(id, (now, params));
            }
        }
        let Some(s) = self.session(&key) else { return Vec::new() };
        let sent = s.link.send(&line);
        // A client waits for the handshake's answer before anything else.
        // Under faults a call the proxy can no longer take is left unanswered, and counted so.
        let sent = if !faulted || initialize { sent } else { Ok(()) };
        let answered = sent.is_ok() && (!initialize || s.inbox.wait_until(Instant::now() + init_timeout, |pending| pending.is_empty()));
        let exited = s.link.exited().or_else(|| self.http_proxy.as_mut().and_then(ProxyProcess::exited));
        if !answered {
            let why = match (sent, exited) {
                (Err(e), _) => e,
                (Ok(()), Some(status)) => format!("the proxy exited ({status}) before answering `initialize`"),
                (Ok(()), None) => format!("the proxy did not answer `initialize` within {}s", init_timeout.as_secs()),
            };
            let tail = self.open.last().map(|s| self.tail_of(&s.link)).unwrap_or_default();
            self.fail(format!("{why}; its stderr ends:\n{tail}"));
        }
        if let Some(spawned) = self.open.last().and_then(|s| s.spawned).filter(|_| answered && opening) {
            // Answered at once: it was up before its session opened, and says nothing of how long it took.
            if asked.elapsed() > NOT_READY {
                self.startup_seen = self.startup_seen.max(spawned.elapsed());
            }
        }
        let first = self.open.len() + self.closed == 1;
        if let Some(late) = self.fault_cue.filter(|_| answered && initialize && first).map(|cue| wall_nanos() - cue).filter(|&late| late >= 0) {
            self.missed = Some(format!(
                "the first proxy answered `initialize` {} ms after its first fault was due (the upstream to stall or exit, or the state store to fail): \
                 the machine was too busy to keep the fault's timing, so nothing was judged; run it again on a quieter machine",
                late / 1_000_000
            ));
        }
        self.drain()
    }

    fn advance_to(&mut self, now: Timestamp) -> Vec<Vec<u8>> {
        let lead = if self.opens.contains(&now.0) { self.lead() } else { Duration::ZERO };
        self.sleep_until_before(now, lead);
        self.start_ahead();
        self.drain()
    }

    fn settle(&mut self, last: Timestamp) -> Vec<Vec<u8>> {
        self.sleep_until(last);
        let deadline = Instant::now() + self.shared.settle;
        for s in &self.open {
            s.inbox.wait_until(deadline, |pending| pending.is_empty());
        }
        let mut out = self.drain();
        let unanswered: usize = self.open.iter().map(|s| s.inbox.pending()).sum();
        if unanswered > 0 && self.failure.is_none() && !self.faulted() {
            let tail = self.open.iter().find(|s| s.inbox.pending() > 0).map(|s| self.tail_of(&s.link)).unwrap_or_default();
            self.fail(format!(
                "the proxy left {unanswered} requests unanswered {}s after the last call; its stderr ends:\n{tail}",
                self.shared.settle.as_secs()
            ));
        }
        for mut spare in self.spares.drain(..) {
            spare.process.kill();
        }
        for s in &mut self.open {
            s.link.stop();
            out.extend(s.inbox.take());
        }
        if let Some(proxy) = &mut self.http_proxy {
            proxy.stop(EXIT_GRACE);
        }
        if let Some((mock, _)) = &mut self.http_mock {
            mock.stop(EXIT_GRACE);
        }
        self.read_ledgers();
        out
    }

    fn take_ledger(&mut self) -> Vec<LedgerEntry> {
        std::mem::take(&mut self.ledger)
    }

    fn failure(&self) -> Option<String> {
        self.failure.clone()
    }

    fn timing_missed(&self) -> Option<String> {
        self.missed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_runs_are_handed_one_port_even_when_the_kernel_offers_it_again() {
        // Each port is released at once, so the kernel is free to offer it again.
        let ports: Vec<u16> = (0..300).map(|_| free_port().unwrap()).collect();
        let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
    }

    #[test]
    fn a_logged_request_is_dated_by_when_it_was_sent_only_where_its_params_match() {
        let at = Timestamp::from_secs(9);
        let params = serde_json::json!({"name": "t", "arguments": {"a": 1}});
        let sent = std::collections::HashMap::from([("7".to_string(), (at, params))]);
        let raw = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"arguments":{"a":1},"name":"t"}}"#;
        assert_eq!(sent_of(&sent, raw), Some(at));
        // The same id on another call (a proxy numbering its upstream's requests anew): not dated.
        assert_eq!(sent_of(&sent, &raw.replace("\"a\":1", "\"a\":2")), None);
        assert_eq!(sent_of(&sent, &raw.replace("\"id\":7", "\"id\":8")), None);
        assert_eq!(sent_of(&sent, "not json"), None);
    }

    #[test]
    fn ledger_lines_move_onto_the_virtual_timeline() {
        let start = Timestamp::from_secs(1_772_409_600);
        let origin = Timestamp::parse_rfc3339("2026-11-26T10:00:00Z").unwrap().0;
        let line = r#"{"time":"2026-11-26T10:00:59.5Z","session":null,"identity":null,"method":"tools/call","tool":"t","arguments":{"a":1},"raw":"{}","executed":true}"#;
        let e = entry(line, origin, &ProxyClock::default(), start, &Squeeze::default()).unwrap();
        assert_eq!(e.time, start.plus_nanos(59_500_000_000));
        assert_eq!((e.tool.as_deref(), e.executed, e.arguments.clone()), (Some("t"), true, Some(serde_json::json!({"a": 1}))));
        assert!(entry("{}", origin, &ProxyClock::default(), start, &Squeeze::default()).is_none());
        // On a proxy clock ten times as fast, 5.95 s of wall time are the same 59.5 s of the plan.
        let line = line.replace("10:00:59.5Z", "10:00:05.95Z");
        let e = entry(&line, origin, &ProxyClock::new(origin, 10), start, &Squeeze::default()).unwrap();
        assert_eq!(e.time, start.plus_nanos(59_500_000_000));
    }
}
