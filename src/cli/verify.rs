//! `gauntlet verify`: run the attack database against a policy.
//!
//! Exit 0: no policy finding (or, with `--snapshot`, no change from the
//! accepted verdicts); 1: a policy finding, a proxy finding with
//! `--fail-on-proxy-findings`, a snapshot change, or a policy that does not
//! load (as from every command, [`super::load`]); 2: could not run. The
//! report is printed before exiting, whatever the outcome.

use std::io::IsTerminal;
use std::path::Path;

use super::Exit;
use crate::invocation;
use crate::profile::Profile;
use crate::report::{self, snapshot, Report, Severity};
use crate::scenario::requirements::Requirements;
use crate::proxy::sqlite::FailMode;
use crate::scenario::StateSetup;
use crate::verify::blackbox::BlackBoxBench;
use crate::harden::suggest;
use crate::verify::inprocess::{catalogue_of, InProcessBench};
use crate::verify::{self, setup, Coverage, Options};

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The policy to verify (Intercept YAML, catalogue YAML or PolicyLayer JSON);
    /// default: each policy `gauntlet.yaml` lists. Optional with
    /// `--proxy-command`, where it may be in the proxy's own format.
    pub policy: Option<std::path::PathBuf>,
    /// The requirements file (default: `gauntlet.yaml` beside the policy or
    /// in a directory above it, up to the repository root).
    #[arg(long, value_name = "FILE")]
    pub requirements: Option<std::path::PathBuf>,
    /// A mock server to run against: a server file or a bundled server's name
    /// such as `aksjah` (repeatable); default: every bundled server whose
    /// tools the policy names.
    #[arg(long)]
    pub server: Vec<std::path::PathBuf>,
    /// A directory of attack scenarios to add to the built-in database
    /// (repeatable); a file with a built-in scenario's id replaces it.
    #[arg(long, value_name = "DIR")]
    pub scenarios: Vec<std::path::PathBuf>,
    /// Run only the `--scenarios` directories, not the built-in database.
    #[arg(long)]
    pub scenarios_only: bool,
    /// Run only the scenario with this id (repeatable).
    #[arg(long)]
    pub only: Vec<String>,
    /// The proxy behaviour to verify against: `intercept` (default) or `strict`.
    #[arg(long, value_enum)]
    pub profile: Option<crate::profile::Profile>,
    /// Seed for every randomized behaviour (default 1); every run prints it.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Report format on stdout: table, json, junit, markdown, sarif, github, html.
    #[arg(long, default_value = "table")]
    pub format: report::Format,
    /// Also write the report in FORMAT to PATH (repeatable), from this one run.
    #[arg(short = 'o', long = "output", value_name = "FORMAT=PATH")]
    pub outputs: Vec<Output>,
    /// Terminal report: list every outcome and each finding's shortest trace.
    #[arg(short, long, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Terminal report: only the summary line (the exit code says the rest).
    #[arg(short, long)]
    pub quiet: bool,
    /// Colour in the terminal report (auto: on a terminal, unless NO_COLOR is set).
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
    /// Compare the verdicts with this accepted baseline; any change fails the run.
    #[arg(long)]
    pub snapshot: Option<std::path::PathBuf>,
    /// Write this run's verdicts as the new baseline.
    #[arg(long, requires = "snapshot")]
    pub accept: bool,
    /// Proxy findings (gaps no policy can close on this proxy) fail the run too.
    #[arg(long)]
    pub fail_on_proxy_findings: bool,
    /// The least severe finding that fails the run (default: any policy finding).
    #[arg(long, value_enum, value_name = "SEVERITY", default_value = "low")]
    pub fail_on: Severity,
    /// How proxy replicas keep counters, for scenarios that spread calls over
    /// replicas: `local` (each its own, Intercept's default) or `shared` (one
    /// store for all, e.g. every replica at one Redis with `--state-dsn`).
    #[arg(long, value_enum, default_value = "local")]
    pub state: StateSetup,
    /// What a failing state store means to the embedded proxy, for the
    /// store-fault scenarios: `closed` (deny what a counter governs, the
    /// default) or `open` (allow it uncounted), as `gauntlet proxy
    /// --state-fail-mode` says. With `--compare-embedded`, give the proxy command the same.
    #[arg(long, default_value = "closed", value_parser = |s: &str| s.parse::<FailMode>())]
    pub state_fail_mode: FailMode,
    /// Accept a run that tests nothing (no tool shared by the policy and the
    /// servers, an empty database, every outcome not applicable) instead of exiting 2.
    #[arg(long)]
    pub allow_empty: bool,
    /// Attack every tool on its own, instead of one tool per class of tools
    /// with the same rules, counters, schema and requirements (whose verdict
    /// the others carry, marked `same class as TOOL`).
    #[arg(long)]
    pub no_fold: bool,
    /// Propose a patch (a unified diff of the policy file) for each policy
    /// finding, proven by re-running the database on a patched copy.
    #[arg(long)]
    pub suggest: bool,
    /// Read the policy as this dialect instead of detecting it from its content.
    #[arg(long, value_enum)]
    pub dialect: Option<super::load::DialectFlag>,
    /// Run again on every save of the policy, the requirements, the
    /// `--scenarios` directories or `--server` files, until interrupted.
    #[arg(long, conflicts_with_all = ["snapshot", "accept"])]
    pub watch: bool,
    /// The embedded proxy serves tools only as this server file defines them
    /// (as `gauntlet proxy --pin`; needs `--profile strict`).
    #[arg(long, value_name = "APPROVED.yaml")]
    pub pin: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub black_box: BlackBoxArgs,
}

/// Black-box mode: the proxy under test is a process, not the embedded core.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct BlackBoxArgs {
    /// Verify this proxy binary instead of the embedded core: the agent talks
    /// MCP over stdio to `CMD` (or over HTTP at --proxy-url), in which {policy},
    /// {upstream} (a command serving the scenario's mock over stdio),
    /// {upstream_url} (the same over HTTP), {state_dir} (fresh per run) and
    /// {port} (a free port per run) are filled in.
    #[arg(long, value_name = "CMD")]
    pub proxy_command: Option<String>,
    /// Talk to the proxy over Streamable HTTP at URL: one started per run from
    /// --proxy-command (URL may use {port}), or, alone, one already listening
    /// whose upstream is the mock gauntlet serves at --mock-listen.
    #[arg(long, value_name = "URL")]
    pub proxy_url: Option<String>,
    /// A header sent with every request to --proxy-url ("Name: Value"; repeatable), e.g. an API key.
    #[arg(long = "proxy-header", value_name = "HEADER")]
    pub proxy_headers: Vec<String>,
    /// Where the mock server listens for a proxy gauntlet did not start (--proxy-url alone).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_MOCK_LISTEN)]
    pub mock_listen: String,
    /// The longest wall time one scenario × tool may take against the proxy; longer ones are not applicable.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_BUDGET)]
    pub time_budget: String,
    /// Also run the embedded proxy on the same policy and list every outcome where the real proxy differs.
    #[arg(long)]
    pub compare_embedded: bool,
    /// Do not send `notifications/initialized` (for proxies that wait for an answer to it and hang).
    #[arg(long)]
    pub skip_initialized: bool,
    /// How long the proxy may take to answer `initialize`, and to answer everything after the last call.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_PROXY_TIMEOUT)]
    pub proxy_timeout: String,
    /// Scenario × tool runs in flight at once against the proxy (they mostly wait on the clock).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_JOBS)]
    pub jobs: usize,
    /// Play every plan exactly as planned, each attack and its benign twin one
    /// after the other (black-box timing before idle gaps were squeezed):
    /// `bench blackbox --plain`'s baseline.
    #[arg(long, hide = true)]
    pub plain_timing: bool,
    /// Run the proxy on a clock N times as fast (libfaketime preloaded; for
    /// proxies that read the clock through libc, not Go's) and play each
    /// plan N times faster, where no fault or answer latency is timed on the wall clock.
    #[arg(long, value_name = "N")]
    pub clock_rate: Option<u32>,
}

impl BlackBoxArgs {
    /// Whether a real proxy is under test (`--proxy-command` or `--proxy-url`).
    pub fn active(&self) -> bool {
        self.proxy_command.is_some() || self.proxy_url.is_some()
    }

    /// What the report and messages call the proxy under test.
    pub fn shown(&self) -> String {
        match (&self.proxy_command, &self.proxy_url) {
            (Some(c), Some(u)) => format!("{c} (at {u})"),
            (Some(c), None) => c.clone(),
            (None, Some(u)) => u.clone(),
            (None, None) => String::new(),
        }
    }

    /// A black-box option given (other than its default) without a proxy under test.
    fn stray(&self) -> Option<&'static str> {
        [
            (self.compare_embedded, "--compare-embedded"),
            (self.skip_initialized, "--skip-initialized"),
            (!self.proxy_headers.is_empty(), "--proxy-header"),
            (self.time_budget != DEFAULT_BUDGET, "--time-budget"),
            (self.proxy_timeout != DEFAULT_PROXY_TIMEOUT, "--proxy-timeout"),
            (self.mock_listen != DEFAULT_MOCK_LISTEN, "--mock-listen"),
            (self.jobs != DEFAULT_JOBS, "--jobs"),
            (self.plain_timing, "--plain-timing"),
            (self.clock_rate.is_some(), "--clock-rate"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

const DEFAULT_BUDGET: &str = "3m";
const DEFAULT_PROXY_TIMEOUT: &str = "30s";
const DEFAULT_MOCK_LISTEN: &str = "127.0.0.1:8790";
const DEFAULT_JOBS: usize = 16;

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// One `-o FORMAT=PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub format: report::Format,
    pub path: std::path::PathBuf,
}

impl std::str::FromStr for Output {
    type Err = String;

    fn from_str(s: &str) -> Result<Output, String> {
        let (format, path) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected FORMAT=PATH, e.g. sarif=report.sarif"))?;
        if path.is_empty() {
            return Err(format!("`{s}`: the path after `=` is empty"));
        }
        Ok(Output { format: format.parse()?, path: path.into() })
    }
}

/// The terminal style for stdout: verbosity from `-v`/`-q`, the terminal's
/// width (100 columns when stdout is not a terminal), colour per `--color`.
fn terminal_style(args: &Args) -> report::table::Style {
    use report::table::{Style, Verbosity};
    let tty = std::io::stdout().is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => tty && !no_color && std::env::var("TERM").map_or(true, |t| t != "dumb"),
    };
    let verbosity = if args.quiet {
        Verbosity::Quiet
    } else if args.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let width = if tty { terminal_width() } else { None }.unwrap_or(Style::default().width);
    Style { verbosity, width, color }
}

/// Columns of the terminal on stdout.
fn terminal_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills the winsize struct we pass and touches nothing else.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col >= 40).then_some(ws.ws_col as usize)
}

/// The seed used when `--seed` is not given: fixed, so CI runs and snapshots are stable.
pub const DEFAULT_SEED: u64 = 1;

fn could_not_run(msg: impl std::fmt::Display) -> Exit {
    eprintln!("error: {msg}");
    Exit::CouldNotRun
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false")) || std::env::var_os("TF_BUILD").is_some()
}

/// The command that reproduces this run, minus `--only`/`--seed`: the
/// program as the user invoked it, every argument shell-quoted.
fn reproduce_prefix(args: &Args, profile: Profile) -> String {
    let mut cmd = format!("{} verify", invocation::program());
    if let Some(p) = &args.policy {
        cmd.push_str(&format!(" {}", invocation::quote_path(p)));
    }
    if let Some(r) = &args.requirements {
        cmd.push_str(&format!(" --requirements {}", invocation::quote_path(r)));
    }
    for s in &args.server {
        cmd.push_str(&format!(" --server {}", invocation::quote_path(s)));
    }
    for d in &args.scenarios {
        cmd.push_str(&format!(" --scenarios {}", invocation::quote_path(d)));
    }
    if args.scenarios_only {
        cmd.push_str(" --scenarios-only");
    }
    if profile == Profile::Strict {
        cmd.push_str(" --profile strict");
    }
    if args.allow_empty {
        cmd.push_str(" --allow-empty");
    }
    if args.no_fold {
        cmd.push_str(" --no-fold");
    }
    if let Some(d) = args.dialect {
        cmd.push_str(&format!(" --dialect {}", crate::policy::model::Dialect::from(d).as_str()));
    }
    if args.state == StateSetup::Shared {
        cmd.push_str(" --state shared");
    }
    if args.state_fail_mode == FailMode::Open {
        cmd.push_str(" --state-fail-mode open");
    }
    if let Some(c) = &args.black_box.proxy_command {
        cmd.push_str(&format!(" --proxy-command {}", invocation::quote(c)));
    }
    if let Some(u) = &args.black_box.proxy_url {
        cmd.push_str(&format!(" --proxy-url {}", invocation::quote(u)));
    }
    for h in &args.black_box.proxy_headers {
        cmd.push_str(&format!(" --proxy-header {}", invocation::quote(h)));
    }
    cmd
}

/// Which proxy the verdicts are about.
enum Driver {
    Embedded(crate::policy::model::Policy),
    BlackBox { policy: Option<crate::policy::model::Policy> },
}

/// Why a run stopped before its report.
enum Stopped {
    /// The policy does not load; what is wrong is already on stderr.
    Policy(Exit),
    Other(String),
}

impl From<String> for Stopped {
    fn from(e: String) -> Stopped {
        Stopped::Other(e)
    }
}

/// With `--compare-embedded`, a proxy command that gives the proxy another
/// profile or state fail mode than the embedded proxy gets would make every
/// outcome those modes decide a difference that says nothing of the proxy:
/// refused before anything is played.
fn same_modes(args: &Args) -> Result<(), Stopped> {
    let Some(command) = &args.black_box.proxy_command else { return Ok(()) };
    let words = shlex::split(command).unwrap_or_default();
    let given = |flag: &str| {
        let inline = format!("{flag}=");
        words.iter().enumerate().find_map(|(i, w)| match w.strip_prefix(&inline) {
            Some(v) => Some(v.to_string()),
            None => (w == flag).then(|| words.get(i + 1).cloned()).flatten(),
        })
    };
    let profile = args.profile.unwrap_or_default();
    let checks = [
        ("--profile", given("--profile").filter(|v| v.parse::<Profile>().is_ok_and(|p| p != profile)), profile.as_str()),
        ("--state-fail-mode", given("--state-fail-mode").filter(|v| v.parse::<FailMode>().is_ok_and(|m| m != args.state_fail_mode)), args.state_fail_mode.as_str()),
    ];
    match checks.into_iter().find_map(|(flag, theirs, ours)| theirs.map(|t| (flag, t, ours))) {
        Some((flag, theirs, ours)) => Err(format!(
            "--compare-embedded: the proxy command runs with `{flag} {theirs}` and the embedded proxy would run with `{flag} {ours}`, so the prediction would be of another proxy\n  help: give verify `{flag} {theirs}` too"
        )
        .into()),
        None => Ok(()),
    }
}

/// Loads the policy the run needs: always for the embedded proxy; in black-box
/// mode only when gauntlet can read it (the proxy may use its own format), and
/// necessarily when the embedded prediction is asked for.
fn driver(args: &Args) -> Result<Driver, Stopped> {
    let load = |p: &Path| super::load::policy(p, args.dialect).map(|l| l.policy).map_err(Stopped::Policy);
    if let (false, Some(flag)) = (args.black_box.active(), args.black_box.stray()) {
        return Err(format!("{flag} is for black-box mode\n  help: add --proxy-command CMD or --proxy-url URL").into());
    }
    match (&args.policy, args.black_box.active()) {
        (Some(p), false) => Ok(Driver::Embedded(load(p)?)),
        (None, false) => Err("no policy given\n  help: gauntlet verify POLICY".to_string().into()),
        (None, true) if args.black_box.compare_embedded => {
            Err("--compare-embedded needs the policy file the embedded proxy should enforce".to_string().into())
        }
        (None, true) => Ok(Driver::BlackBox { policy: None }),
        (Some(p), true) if args.black_box.compare_embedded => {
            same_modes(args)?;
            Ok(Driver::BlackBox { policy: Some(load(p)?) })
        }
        (Some(p), true) => match crate::policy::load_file(p, args.dialect.map(Into::into)) {
            Ok(loaded) => {
                eprint!("{}", crate::policy::report(Ok(&loaded)));
                Ok(Driver::BlackBox { policy: Some(loaded.policy) })
            }
            Err(e) => {
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                eprintln!("note: gauntlet does not read {} as a policy ({first}); it is passed to the proxy as is", p.display());
                Ok(Driver::BlackBox { policy: None })
            }
        },
    }
}

fn duration_arg(flag: &str, text: &str) -> Result<std::time::Duration, String> {
    let d = crate::scenario::Duration::parse(text).map_err(|e| format!("{flag}: {e}"))?;
    Ok(std::time::Duration::from_nanos(d.nanos().max(0) as u64))
}

/// A finished run: the report, and in black-box mode with `--compare-embedded` the differences.
pub struct Verified {
    pub report: Report,
    pub differences: Option<Vec<verify::blackbox::compare::Difference>>,
}

/// Runs the whole verification and builds the report (no printing of the report itself).
pub fn build_report(args: &Args, show_progress: bool) -> Result<Report, String> {
    verified(args, show_progress).map(|v| v.report)
}

/// The same, with the black-box run's differences from the embedded prediction.
pub fn verified(args: &Args, show_progress: bool) -> Result<Verified, String> {
    verify_all(args, show_progress).map_err(|e| match e {
        Stopped::Policy(_) => "the policy does not load (see stderr)".to_string(),
        Stopped::Other(e) => e,
    })
}

fn verify_all(args: &Args, show_progress: bool) -> Result<Verified, Stopped> {
    let driver = driver(args)?;
    let empty = crate::policy::model::Policy::empty(crate::policy::model::Dialect::Intercept);
    let selecting = match &driver {
        Driver::Embedded(p) | Driver::BlackBox { policy: Some(p) } => p,
        Driver::BlackBox { policy: None } if args.server.is_empty() => {
            return Err("without a policy gauntlet can read, name the servers to run against\n  help: add --server NAME (a bundled server) or --server FILE".to_string().into())
        }
        Driver::BlackBox { policy: None } => &empty,
    };
    let (reqs, req_file) =
        Requirements::for_policy(args.policy.as_deref().unwrap_or(Path::new("./policy")), args.requirements.as_deref())?;
    let listed = match (&req_file, args.server.is_empty()) {
        (Some(f), true) => reqs.servers_from(f),
        _ => Vec::new(),
    };
    let explicit = if args.server.is_empty() { &listed } else { &args.server };
    let servers = setup::servers_for(explicit, selecting, args.allow_empty)?;
    let policy_tools = setup::policy_tools(selecting);
    let catalogue = catalogue_of(&servers);
    reqs.check_against(&catalogue, req_file.as_deref())?;
    if args.verbose {
        for line in inferred_roles(&servers) {
            eprintln!("{line}");
        }
    }
    let scenarios = setup::scenarios(&args.scenarios, args.scenarios_only, &args.only, args.allow_empty)?;
    let profile = args.profile.unwrap_or_default();
    let pin = args.pin.as_deref().map(|p| crate::verify::definitions::load_pin(p, profile)).transpose()?;
    let seed = args.seed.unwrap_or(DEFAULT_SEED);
    // Said once the run can start (an error before it has no seed to replay), unless the
    // table on stdout says it in its header: the terminal shows it once.
    if args.format != report::Format::Table || args.quiet {
        eprintln!("gauntlet verify: seed {seed} (replay with --seed {seed})");
    }
    let server_names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let policy_file = args.policy.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let mut opts = Options { seed, reproduce: reproduce_prefix(args, profile), threads, policy_file, shrink: true, fold: !args.no_fold };
    let bar = indicatif::ProgressBar::hidden();
    if show_progress {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} verifying {pos}/{len} scenario × tool {wide_bar}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    }
    let dialect = match &driver {
        Driver::Embedded(p) => Some(p.dialect),
        Driver::BlackBox { .. } => None,
    };
    let (outcomes, proxy, differences) = match driver {
        Driver::Embedded(policy) => {
            let bench = InProcessBench::new(policy, profile, servers.clone()).with_state(args.state).with_pin(pin).with_fail_mode(args.state_fail_mode);
            (verify::run(&bench, &scenarios, &reqs, &opts, &|n| bar.set_length(n as u64), &|| bar.inc(1))?, None, None)
        }
        Driver::BlackBox { policy } => {
            let bb = &args.black_box;
            let command = bb.shown();
            let headers = bb
                .proxy_headers
                .iter()
                .map(|h| crate::mcp::http::split_header(h).ok_or_else(|| format!("`--proxy-header {h}` is not a header\n  help: write it as \"Name: value\"")))
                .collect::<Result<Vec<_>, String>>()?;
            let settings = verify::blackbox::Settings {
                command: bb.proxy_command.clone(),
                url: bb.proxy_url.clone(),
                headers,
                mock_listen: bb.mock_listen.clone(),
                policy: args.policy.clone(),
                budget: duration_arg("--time-budget", &bb.time_budget)?,
                skip_initialized: bb.skip_initialized,
                timeout: duration_arg("--proxy-timeout", &bb.proxy_timeout)?,
                state: args.state,
                aliases: Default::default(),
                plain: bb.plain_timing,
                clock_rate: bb.clock_rate,
            };
            let started = std::time::Instant::now();
            let bench = BlackBoxBench::new(settings, policy.clone(), servers.clone())?;
            eprintln!(
                "gauntlet verify: black-box `{command}` (start-up {:.2}s; runs in {})",
                bench.startup().as_secs_f64(),
                bench.work_dir().display()
            );
            // Every replay costs wall time here: breaches keep their whole plan as the trace.
            opts.shrink = false;
            // One proxy already listening serves every run: runs cannot overlap.
            opts.threads = if bb.proxy_command.is_none() { 1 } else { bb.jobs.max(1) };
            let mut real = verify::run(&bench, &scenarios, &reqs, &opts, &|n| bar.set_length(n as u64), &|| bar.inc(1))?;
            if policy.is_none() {
                // Blame points into a policy; gauntlet could not read this one.
                real.iter_mut().for_each(|o| o.blame = None);
            }
            eprintln!("gauntlet verify: black-box run took {:.1}s", started.elapsed().as_secs_f64());
            let differences = match (bb.compare_embedded, policy) {
                (true, Some(policy)) => {
                    let embedded = InProcessBench::new(policy, profile, servers.clone()).with_state(args.state).with_pin(pin).with_fail_mode(args.state_fail_mode);
                    opts.threads = threads;
                    let predicted = verify::run(&embedded, &scenarios, &reqs, &opts, &|_| {}, &|| {})?;
                    Some(verify::blackbox::compare::differences(&real, &predicted))
                }
                _ => None,
            };
            (real, Some(command), differences)
        }
    };
    bar.finish_and_clear();
    let requirements = match req_file {
        Some(f) => format!("built-in baseline + {}", f.display()),
        None => report::BASELINE.to_string(),
    };
    let policy_shown = args.policy.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(the proxy's own)".into());
    let coverage = Coverage::of(&policy_tools, &catalogue, scenarios.len(), &outcomes);
    let mut report = Report::new(&policy_shown, profile.as_str(), seed, server_names, scenarios.len(), requirements, outcomes)
        .with_coverage(coverage);
    report.proxy = proxy;
    if args.suggest {
        let Some(dialect) = dialect else {
            return Err("--suggest proves patches with the embedded proxy; drop --proxy-command/--proxy-url to use it".to_string().into());
        };
        report.suggestions = Some(suggestions(args, dialect, &servers, &scenarios, &reqs, &opts, &report.outcomes, show_progress)?);
    }
    Ok(Verified { report, differences })
}

/// For `-v`: the field roles gauntlet guessed for servers whose files write
/// none, one line per tool, with the reasons, so a person can check them.
fn inferred_roles(servers: &[crate::verify::inprocess::NamedServer]) -> Vec<String> {
    let mut out = Vec::new();
    for s in servers {
        let tools: Vec<String> = s
            .spec
            .tools
            .iter()
            .filter_map(|t| {
                let roles = t.field_roles();
                if !roles.inferred || roles.fields.is_empty() {
                    return None;
                }
                let fields: Vec<String> = roles
                    .fields
                    .iter()
                    .map(|(p, r, why)| format!("`{p}` {} ({})", r.describe(), why.as_deref().unwrap_or("")))
                    .collect();
                Some(format!("  {}: {}", t.name, fields.join("; ")))
            })
            .collect();
        if !tools.is_empty() {
            out.push(format!("field roles inferred for `{}` (its file writes no `roles:`; write them there to correct one):", s.name));
            out.extend(tools);
        }
    }
    out
}

/// `--suggest`: proven patches for the policy findings of this run.
#[allow(clippy::too_many_arguments)]
fn suggestions(
    args: &Args,
    dialect: crate::policy::model::Dialect,
    servers: &[crate::verify::inprocess::NamedServer],
    scenarios: &[crate::scenario::Scenario],
    reqs: &Requirements,
    opts: &Options,
    outcomes: &[verify::Outcome],
    show_progress: bool,
) -> Result<suggest::Suggestions, String> {
    let path = args.policy.as_deref().unwrap_or(Path::new("policy"));
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let s = suggest::Setup {
        file: opts.policy_file.clone(),
        dialect,
        servers,
        scenarios,
        reqs,
        profile: args.profile.unwrap_or_default(),
        seed: opts.seed,
        reproduce: opts.reproduce.clone(),
    };
    if show_progress {
        eprintln!("gauntlet verify: proving suggestions (re-running the database on a patched copy)");
    }
    suggest::suggest(&s, &text, outcomes)
}

pub fn run(args: Args) -> Exit {
    if args.watch {
        return super::watch::run(watched(&args), || run_all(&args));
    }
    run_all(&args)
}

/// What a run of `args` reads from disk: what `--watch` watches.
fn watched(args: &Args) -> super::watch::Inputs {
    let mut files: Vec<std::path::PathBuf> = args.policy.iter().cloned().collect();
    let requirements = args
        .requirements
        .clone()
        .or_else(|| Requirements::find(args.policy.as_deref().and_then(Path::parent).unwrap_or(Path::new("."))));
    if let Some(r) = requirements {
        if args.policy.is_none() {
            files.extend(Requirements::load(&r).map(|l| l.policies_from(&r)).unwrap_or_default());
        }
        files.push(r);
    }
    files.extend(args.server.iter().filter(|s| s.is_file()).cloned());
    super::watch::Inputs { files, dirs: args.scenarios.clone() }
}

fn run_all(args: &Args) -> Exit {
    let args = args.clone();
    if args.policy.is_some() || args.black_box.active() {
        return run_one(&args);
    }
    // No policy named: verify each one `gauntlet.yaml` lists.
    let Some(file) = args.requirements.clone().or_else(|| Requirements::find(Path::new("."))) else {
        return could_not_run(format!(
            "no policy given and no `gauntlet.yaml` here or above\n  help: `{program} verify POLICY`, or `{program} init` to write a gauntlet.yaml listing your policies",
            program = invocation::program()
        ));
    };
    let policies = match Requirements::load(&file) {
        Ok(r) => r.policies_from(&file),
        Err(e) => return could_not_run(e),
    };
    if policies.is_empty() {
        return could_not_run(format!("no policy given and {} lists none\n  help: add them under `policies:`", file.display()));
    }
    let single_file = args.snapshot.is_some()
        || !args.outputs.is_empty()
        || matches!(args.format, report::Format::Json | report::Format::Junit);
    if policies.len() > 1 && single_file {
        return could_not_run(format!(
            "{} lists {} policies, and a JSON or JUnit report, `-o` file or snapshot holds one\n  help: verify one policy at a time, e.g. `{} verify {} --format json`",
            file.display(),
            policies.len(),
            invocation::program(),
            invocation::quote_path(&policies[0])
        ));
    }
    let mut worst = Exit::Ok;
    for p in policies {
        let one = Args { policy: Some(p), requirements: Some(file.clone()), ..args.clone() };
        let exit = run_one(&one);
        if exit.code() > worst.code() {
            worst = exit;
        }
    }
    worst
}

fn run_one(args: &Args) -> Exit {
    let seed = args.seed.unwrap_or(DEFAULT_SEED);
    let Verified { report, differences } = match verify_all(args, std::io::stderr().is_terminal()) {
        Ok(v) => v,
        Err(Stopped::Policy(exit)) => return exit,
        Err(Stopped::Other(e)) => return could_not_run(e),
    };
    let mut opts = report::Options {
        style: report::table::Style::default(),
        fail_on_proxy: args.fail_on_proxy_findings,
        fail_on: args.fail_on,
        full_report: full_report_pointer(args),
    };
    let mut written = Ok(());
    for out in &args.outputs {
        let text = report::render(out.format, &report, &opts);
        if let Err(e) = std::fs::write(&out.path, text) {
            written = Err(format!("{}: cannot write the {} report: {e}", out.path.display(), out.format.as_str()));
        }
    }
    opts.style = terminal_style(args);
    print!("{}", report::render(args.format, &report, &opts));
    if let Err(e) = written {
        return could_not_run(e);
    }
    if let Some(diffs) = &differences {
        let section = report::compare::render(diffs);
        if args.format == report::Format::Table {
            print!("{section}");
        } else {
            eprint!("{section}");
        }
        if !diffs.is_empty() {
            return Exit::CheckFailed;
        }
    }
    if report.summary.errors > 0 {
        return could_not_run(format!("{} scenario × tool pairs could not be run (see the report)", report.summary.errors));
    }
    if report.summary.total == report.summary.not_applicable && !args.allow_empty {
        return could_not_run(format!(
            "every outcome is not applicable: the run tested nothing ({} scenarios, servers: {})\n  help: check the servers and the requirements (the notes above say why each was skipped), or pass `--allow-empty` to accept",
            report.scenarios,
            if report.servers.is_empty() { "none".to_string() } else { report.servers.join(", ") }
        ));
    }
    if let Some(path) = &args.snapshot {
        let mut cmd = reproduce_prefix(args, args.profile.unwrap_or_default());
        if seed != DEFAULT_SEED {
            cmd.push_str(&format!(" --seed {seed}"));
        }
        let policy = args.policy.as_deref().and_then(|p| std::fs::read_to_string(p).ok().map(|text| (p, text)));
        let semantic = Semantic { policy: policy.as_ref().map(|(p, t)| (*p, t.as_str())), profile: args.profile.unwrap_or_default() };
        return check_snapshot(path, &report, args.accept, &args.only, &cmd, &semantic);
    }
    if report.outcomes.iter().any(|o| opts.fails(o)) {
        Exit::CheckFailed
    } else {
        Exit::Ok
    }
}

/// Where the complete report of this run is (a JSON or HTML file written
/// alongside), or how to get one, for formats that must trim.
fn full_report_pointer(args: &Args) -> Option<String> {
    let full = [report::Format::Html, report::Format::Json];
    match args.outputs.iter().find(|o| full.contains(&o.format)) {
        Some(o) => Some(format!("`{}`", o.path.display())),
        None => Some(format!("`{} --format json`", reproduce_prefix(args, args.profile.unwrap_or_default()))),
    }
}

/// The policy a run verified (its file and text), for the snapshot to keep and to diff against.
struct Semantic<'a> {
    policy: Option<(&'a Path, &'a str)>,
    profile: crate::profile::Profile,
}

impl Semantic<'_> {
    /// The snapshot text with the policy kept at its end.
    fn kept(&self, text: &str) -> String {
        match self.policy {
            Some((_, policy)) => snapshot::with_policy(text, policy),
            None => text.to_string(),
        }
    }

    /// `gauntlet diff` of the policy the snapshot kept against this run's, for every call;
    /// `Ok(None)` when they are the same text, `Err` with a note when there is none to compare.
    fn diff(&self, accepted: &str, snapshot: &Path, report: &Report) -> Result<Option<String>, String> {
        let Some((file, text)) = self.policy else { return Ok(None) };
        let Some(old) = snapshot::kept_policy(accepted) else {
            return Err(format!(
                "semantic diff: snapshot {} keeps no policy (accepted before snapshots kept theirs), so only the sampled verdicts above compare; accept it again to keep this one\n",
                snapshot.display()
            ));
        };
        if old == text {
            return Ok(None);
        }
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "policy.yaml".into());
        let old = super::diff::load_text(&old, &name, format!("{} (accepted)", snapshot.display()))
            .map_err(|e| format!("semantic diff: the policy snapshot {} keeps does not load: {e}\n", snapshot.display()))?;
        let new = super::diff::load_text(text, &name, file.display().to_string()).map_err(|e| format!("semantic diff: {e}\n"))?;
        let mut tools: Vec<String> = report.outcomes.iter().map(|o| o.tool.clone()).filter(|t| t != "-").collect();
        tools.sort();
        tools.dedup();
        let changes = super::diff::changes(&old, &new, self.profile, &tools);
        Ok(Some(format!(
            "semantic diff (every call, not a sample: `gauntlet diff`) of the policy the snapshot was accepted with against this one:\n{}",
            super::diff::render(&old.shown, &new.shown, &changes)
        )))
    }
}

/// With a snapshot the accepted verdicts are the baseline: only changes fail the
/// run. Verdicts taken with another seed or profile are not compared, and an
/// `--only` run compares (and accepts) only the scenarios it ran. The snapshot
/// keeps the policy it was accepted with; when this run's policy differs, the
/// semantic diff of the two is shown beside the verdicts' diff.
fn check_snapshot(path: &Path, report: &Report, accept: bool, only: &[String], cmd: &str, semantic: &Semantic<'_>) -> Exit {
    let current = semantic.kept(&snapshot::render(report));
    let shown = invocation::quote_path(path);
    let existing = std::fs::read_to_string(path).ok();
    let write = |text: &str, why: &str| -> Exit {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return could_not_run(format!("{}: cannot create the directory: {e}", dir.display()));
            }
        }
        match std::fs::write(path, text) {
            Ok(()) => {
                eprintln!("snapshot {}: {why}", path.display());
                Exit::Ok
            }
            Err(e) => could_not_run(format!("{}: cannot write the snapshot: {e}", path.display())),
        }
    };
    let Some(text) = existing else {
        if accept {
            return write(&current, "accepted");
        }
        if in_ci() {
            eprintln!("snapshot {} does not exist; CI never writes snapshots", path.display());
            eprintln!("  help: run `{cmd} --snapshot {shown} --accept` locally and commit the file");
            return Exit::CheckFailed;
        }
        return write(&current, "created (review and commit it)");
    };
    if accept {
        if only.is_empty() {
            return write(&current, "accepted");
        }
        return match snapshot::merge(&text, &current, only) {
            Ok(merged) => write(&semantic.kept(&merged), &format!("accepted for {} (other scenarios kept)", only.join(", "))),
            Err(e) => could_not_run(format!("{}: {e}", path.display())),
        };
    }
    if let Some(was) = snapshot::Header::parse(&text) {
        if let Some(why) = snapshot::mismatch(&was, &snapshot::Header::of(report)) {
            eprintln!("snapshot {} was accepted with {why}: verdicts from different runs are not compared", path.display());
            eprintln!(
                "  help: rerun with `--seed {} --profile {}`, or make this run the baseline with `{cmd} --snapshot {shown} --accept`",
                was.seed, was.profile
            );
            return Exit::CheckFailed;
        }
    }
    let mut accepted = match snapshot::parse(&text) {
        Ok(m) => m,
        Err(e) => return could_not_run(format!("{}: {e}", path.display())),
    };
    snapshot::restrict(&mut accepted, only);
    let now = match snapshot::parse(&current) {
        Ok(m) => m,
        Err(e) => return could_not_run(format!("internal snapshot error: {e}")),
    };
    let changes = snapshot::diff(&accepted, &now);
    let scope = if only.is_empty() { String::new() } else { format!(" (compared: {})", only.join(", ")) };
    let semantic = semantic.diff(&text, path, report);
    if changes.is_empty() {
        eprintln!("snapshot {}: no change from the accepted verdicts{scope}", path.display());
        if let Ok(Some(s)) = semantic {
            // The sample did not move, but the policy did: what it changes for every call.
            eprint!("{s}");
        }
        return Exit::Ok;
    }
    eprintln!("snapshot {} differs from this run{scope}:\n{}", path.display(), snapshot::render_diff(&changes));
    if let Ok(Some(s)) | Err(s) = semantic {
        eprint!("{s}");
    }
    let only_args: String = only.iter().map(|id| format!(" --only {}", invocation::quote(id))).collect();
    eprintln!("  help: if the change is intended, accept it with `{cmd}{only_args} --snapshot {shown} --accept`");
    Exit::CheckFailed
}
