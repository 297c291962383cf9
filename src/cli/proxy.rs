//! `gauntlet proxy`: the enforcing proxy in front of a real MCP server.
//!
//! Wiring only: load the policy, open the counter store, pick the transport
//! (a child process after `--`, or a Streamable HTTP `--upstream`), start
//! hot reload, and hand over to the adapter in `crate::proxy`.

use std::path::PathBuf;

use super::Exit;
use crate::caller::CallContext;
use crate::mcp::http::serve;
use crate::profile::Profile;
use crate::proxy::auditlog::AuditLog;
use crate::proxy::core::{ProxyCore, WireMode};
use crate::proxy::schemas::Unlisted;
use crate::proxy::decider::{StoreCalls, DEFAULT_STATE_TIMEOUT};
use crate::proxy::sqlite::FailMode;
use crate::proxy::stdio::DEFAULT_MAX_LINE;
use crate::proxy::{child, grants, http, log, reload, state};

/// How the proxy talks to the agent and the upstream (Intercept's `--transport`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// stdio to the agent; the upstream is a command after `--` or `--upstream URL` (the default).
    Stdio,
    /// Streamable HTTP to the agent on `--bind`:`--port`, in front of `--upstream URL`.
    Http,
    /// Intercept's legacy HTTP+SSE upstream mode: not supported (refused with a message).
    Sse,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy to enforce (watched for changes unless --no-reload); or `-c FILE`.
    #[arg(required_unless_present = "config", conflicts_with = "config")]
    pub policy: Option<PathBuf>,
    /// The policy to enforce, as Intercept spells it (`intercept -c policy.yaml -- CMD`).
    #[arg(short = 'c', long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Streamable HTTP upstream URL (instead of a child command after `--`).
    #[arg(long)]
    pub upstream: Option<String>,
    /// A header sent with every upstream request, `"Name: Value"` (repeatable; needs --upstream).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// `stdio` (default) or `http` (serve Streamable HTTP on --bind/--port in front of --upstream).
    #[arg(long, value_enum)]
    pub transport: Option<Transport>,
    /// Address the HTTP front listens on (with `--transport http`).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// Port the HTTP front listens on (with `--transport http`; 0 picks a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Serve Streamable HTTP on this address instead of stdio (same as `--transport http --bind A --port P`).
    #[arg(long, conflicts_with_all = ["transport", "port"])]
    pub listen: Option<String>,
    /// `intercept` (default): Intercept's behaviour; `strict`: the hardened one.
    #[arg(long, value_enum)]
    pub profile: Option<crate::profile::Profile>,
    /// Serve tools only as this server file defines them: a tool whose
    /// definition differs (or comes from another server) is hidden and its
    /// calls refused. Needs `--profile strict`; stdio only.
    #[arg(long, value_name = "APPROVED.yaml")]
    pub pin: Option<PathBuf>,
    /// Identity for grant-scoped counters over stdio.
    #[arg(long)]
    pub identity: Option<String>,
    /// Bearer token → grant name map for the HTTP front.
    #[arg(long)]
    pub grants: Option<PathBuf>,
    /// Where counters persist (SQLite).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Share counters through Redis instead: `redis://[:PASSWORD@]HOST[:PORT][/DB]`.
    #[arg(long, conflicts_with = "state_dir", value_name = "DSN")]
    pub state_dsn: Option<String>,
    /// Prepended to every counter key, e.g. `stripe-prod:` (proxies with the same prefix share counters).
    #[arg(long, default_value = "")]
    pub state_prefix: String,
    /// What a failing state store means: `closed` (deny) or `open` (allow uncounted).
    #[arg(long, default_value = "closed", value_parser = ["open", "closed"])]
    pub state_fail_mode: String,
    /// A call whose counters the state store has not read and reserved within this long is decided as if the store had failed (`--state-fail-mode`); other calls never wait for the store (default 1s).
    #[arg(long, value_name = "DURATION", value_parser = parse_front_duration)]
    pub state_timeout: Option<std::time::Duration>,
    /// How much the proxy writes on stderr: `debug` adds every decision, `warn`/`error` drop the notices and denial lines.
    #[arg(long, value_enum, default_value = "info")]
    pub log_level: log::Level,
    /// Audit records (JSONL) go here.
    #[arg(long)]
    pub audit: Option<PathBuf>,
    /// Record every evaluated call (arguments and upstream answer included) here, as a `gauntlet replay` trace.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Longest agent message accepted, in bytes; longer lines are answered with an error.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE)]
    pub max_line_bytes: usize,
    /// Do not watch the policy file for changes.
    #[arg(long)]
    pub no_reload: bool,
    /// Read the policy (and each reload of it) as this dialect instead of detecting it from its content.
    #[arg(long, value_enum)]
    pub dialect: Option<super::load::DialectFlag>,
    /// HTTP front: also answer requests whose Host header names HOST (repeatable); loopback names and the listen address always are.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Answer a request the upstream has not answered after this long with a JSON-RPC error
    /// (`30s`, `2m`, `off`; default `off` under `intercept`, `120s` under `strict`).
    #[arg(long, value_name = "DURATION", value_parser = parse_call_timeout)]
    pub call_timeout: Option<CallTimeout>,
    /// HTTP front: a client must finish sending its request headers within this long, or it is disconnected (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_front_duration)]
    pub header_timeout: Option<std::time::Duration>,
    /// HTTP front: a request's body must arrive whole within this long of its headers, or the connection is closed (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_front_duration)]
    pub body_timeout: Option<std::time::Duration>,
    /// HTTP front: a connection with no request in progress for this long is closed (default 120s).
    #[arg(long, value_name = "DURATION", value_parser = parse_front_duration)]
    pub idle_timeout: Option<std::time::Duration>,
    /// HTTP front: the most connections open at once (default 256); at the cap one is closed to admit a new client (the longest-idle, else the slowest body, else the longest busy).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// The upstream command and its arguments, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// `--call-timeout`: a duration, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallTimeout(pub Option<std::time::Duration>);

/// The default under `strict`: long enough for slow tools, short enough that a hung upstream is noticed.
pub const STRICT_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

fn parse_call_timeout(text: &str) -> Result<CallTimeout, String> {
    if text == "off" {
        return Ok(CallTimeout(None));
    }
    let d = crate::scenario::duration::Duration::parse(text)?;
    if d.nanos() <= 0 {
        return Err("a call timeout must be longer than zero (or `off`)".into());
    }
    Ok(CallTimeout(Some(std::time::Duration::from_nanos(d.nanos().unsigned_abs()))))
}

fn parse_front_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = crate::scenario::duration::Duration::parse(text)?;
    if d.nanos() <= 0 {
        return Err("must be longer than zero".into());
    }
    Ok(std::time::Duration::from_nanos(d.nanos().unsigned_abs()))
}

impl Args {
    /// The HTTP front's connection limits: the flags, else the defaults.
    fn front_limits(&self) -> serve::Limits {
        let default = serve::Limits::default();
        serve::Limits {
            max_connections: self.max_connections.map_or(default.max_connections, |n| n as usize),
            header_read: self.header_timeout.unwrap_or(default.header_read),
            body_read: self.body_timeout.unwrap_or(default.body_read),
            idle: self.idle_timeout.unwrap_or(default.idle),
        }
    }

    /// `--call-timeout`, or the profile's default.
    fn call_timeout(&self, profile: Profile) -> Option<std::time::Duration> {
        match (self.call_timeout, profile) {
            (Some(CallTimeout(t)), _) => t,
            (None, Profile::Strict) => Some(STRICT_CALL_TIMEOUT),
            (None, Profile::Intercept) => None,
        }
    }

    /// The policy file, from the positional argument or `-c/--config`.
    fn policy_path(&self) -> PathBuf {
        self.policy.clone().or_else(|| self.config.clone()).unwrap_or_default()
    }
}

fn fail(message: &str, help: &str) -> Exit {
    eprintln!("error: {message}");
    eprintln!("  help: {help}");
    Exit::CouldNotRun
}

/// `"Name: Value"` as Intercept parses it: split at the first colon, both sides trimmed.
fn parse_header(raw: &str) -> Result<(String, String), Exit> {
    crate::mcp::http::split_header(raw).ok_or_else(|| fail(&format!("invalid header `{raw}`"), "write it as `--header \"Name: Value\"`"))
}

/// Where the HTTP front listens, if it is the agent's transport. Refuses the
/// combinations Intercept refuses, with the same reasons.
fn front_address(args: &Args) -> Result<Option<String>, Exit> {
    let http = matches!(args.transport, Some(Transport::Http));
    if args.transport == Some(Transport::Sse) {
        return Err(fail(
            "`--transport sse` (a legacy HTTP+SSE upstream) is not supported by gauntlet proxy",
            "use `--transport http` with a Streamable HTTP upstream, or `--upstream URL` alone for a stdio bridge",
        ));
    }
    if !http && (args.port.is_some() || args.bind != "127.0.0.1") {
        return Err(fail("--bind and --port require --transport http", "add `--transport http --upstream URL`"));
    }
    if !args.headers.is_empty() && args.upstream.is_none() {
        return Err(fail("--header requires --upstream", "headers are sent to an HTTP upstream only"));
    }
    if http && args.upstream.is_none() {
        return Err(fail("--transport http requires --upstream URL", "pass `--upstream http://HOST:PORT/mcp`"));
    }
    let front_flag = [
        (args.header_timeout.is_some(), "--header-timeout"),
        (args.body_timeout.is_some(), "--body-timeout"),
        (args.idle_timeout.is_some(), "--idle-timeout"),
        (args.max_connections.is_some(), "--max-connections"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag));
    if let (Some(flag), false) = (front_flag, http || args.listen.is_some()) {
        return Err(fail(&format!("{flag} is for the HTTP front"), "add `--transport http` (or `--listen ADDR`) with `--upstream URL`"));
    }
    if args.listen.is_some() && args.upstream.is_none() {
        // An HTTP front forwards to an HTTP upstream only; a child command would be served over stdio.
        return Err(fail("--listen requires --upstream URL", "pass `--upstream http://HOST:PORT/mcp` for the server the HTTP front forwards to"));
    }
    if http && !args.command.is_empty() {
        return Err(fail(
            "an upstream command (after --) cannot be used with --transport http",
            "use `--upstream URL` for the server the HTTP front forwards to",
        ));
    }
    Ok(if http {
        Some(format!("{}:{}", args.bind, args.port.unwrap_or(0)))
    } else {
        args.listen.clone()
    })
}

fn open_store(args: &Args) -> Result<StoreCalls, Exit> {
    let fail_mode: FailMode = args.state_fail_mode.parse().map_err(|e: String| fail(&e, "use `open` or `closed`"))?;
    let config = state::StateConfig {
        dir: args.state_dir.clone(),
        dsn: args.state_dsn.clone(),
        prefix: args.state_prefix.clone(),
        fail_mode,
    };
    let store = state::open(&config).map_err(|e| fail(&e.message, e.help))?;
    Ok(StoreCalls { store, timeout: args.state_timeout.unwrap_or(DEFAULT_STATE_TIMEOUT), fail_mode })
}

/// Turns transparent huge pages off for this process and the upstream it
/// starts (called from a constructor in `main.rs`, before the allocator's
/// first page). mimalloc asks for huge pages on its arenas, and each 2 MiB
/// page it touches is then resident whole: a proxy holds a few hundred
/// kilobytes of live data, so that nearly doubled its memory (17 → 10 MiB idle).
pub fn keep_pages_small() {
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's memory map.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

pub fn run(args: Args) -> Exit {
    log::set_level(args.log_level);
    let front = match front_address(&args) {
        Ok(front) => front,
        Err(exit) => return exit,
    };
    let headers = match args.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>() {
        Ok(headers) => headers,
        Err(exit) => return exit,
    };
    let profile = args.profile.unwrap_or(Profile::Intercept);
    let pin = match args.pin.as_deref().map(|p| crate::verify::definitions::load_pin(p, profile)).transpose() {
        Ok(pin) => pin.map(std::sync::Arc::new),
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    };
    if pin.is_some() && front.is_some() {
        return fail(
            "--pin is for a stdio agent side",
            "run the pinned proxy over stdio (`-- CMD` or `--upstream URL` without `--listen`/`--transport http`)",
        );
    }
    if let (Some(p), true) = (&pin, log::enabled(log::Level::Info)) {
        eprintln!("gauntlet proxy: tools pinned to `{}` ({} tools of `{}`): any other definition is hidden and its calls refused", p.file, p.len(), p.server);
    }
    let mut policy = reload::Watched { path: args.policy_path(), dialect: args.dialect.map(Into::into), profile, loaded: None };
    let engine = match reload::load_initial(&mut policy) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("error: the proxy refuses to start with an invalid policy");
            return super::load::exit_for(&e);
        }
    };
    if log::enabled(log::Level::Info) {
        // One paragraph wrapped at 100 columns (it was one line of about 480).
        let text = format!("gauntlet proxy: profile `{profile}`: {}", profile.lets_through());
        eprintln!("{}", crate::wording::wrap(&text, 100, 0, 2).join("\n  "));
    }
    let calls = match open_store(&args) {
        Ok(calls) => calls,
        Err(exit) => return exit,
    };
    let audit = match AuditLog::open(args.audit.as_deref()) {
        Ok(audit) => audit,
        Err(e) => {
            let shown = args.audit.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
            return fail(&format!("cannot open the audit file `{shown}`: {e}"), "pass a writable `--audit FILE`");
        }
    };
    let audit = match &args.record {
        None => audit,
        Some(path) => match audit.with_traffic(path) {
            Ok(audit) => audit,
            Err(e) => {
                return fail(&format!("cannot open the recording `{}`: {e}", path.display()), "pass a writable `--record FILE`")
            }
        },
    };
    let core = |mode| {
        let mut core = ProxyCore::deciding_outside(engine, mode);
        if args.record.is_some() {
            core.record_traffic();
        }
        if let Some(p) = &pin {
            core.pin(p.clone());
        }
        // Strict checks every call against its tool's listed inputSchema: a
        // call of a tool not listed yet waits for the proxy's own list.
        core.unlisted_calls(Unlisted::Ask);
        core
    };
    match (&args.upstream, args.command.is_empty()) {
        (Some(_), false) => fail(
            "both `--upstream` and a command after `--` were given",
            "use one upstream: `gauntlet proxy POLICY -- CMD ARGS…` or `gauntlet proxy POLICY --upstream URL`",
        ),
        (None, true) => fail(
            "no upstream",
            "put the server's command after `--` (`gauntlet proxy POLICY -- CMD ARGS…`) or pass `--upstream URL`",
        ),
        (None, false) => run_child(&args, &policy, core(WireMode::StdioChild), audit, calls, profile),
        (Some(url), true) => {
            let grants = match &args.grants {
                None => None,
                Some(path) => match grants::Grants::load(path) {
                    Ok(g) => Some(g),
                    Err(e) => {
                        eprintln!("{e}");
                        return Exit::CouldNotRun;
                    }
                },
            };
            let mode = if front.is_some() { WireMode::Http } else { WireMode::StdioBridge };
            let config = http::HttpConfig {
                upstream: url.clone(),
                headers,
                listen: front,
                grants,
                identity: args.identity.clone(),
                max_line: args.max_line_bytes,
                call_timeout: args.call_timeout(profile),
                allowed_hosts: args.allow_hosts.clone(),
                policy: (!args.no_reload).then(|| policy.clone()),
                limits: args.front_limits(),
            };
            match http::run(config, core(mode), audit, calls) {
                Ok(()) => Exit::Ok,
                Err(e) => fail(&e, "check `--upstream` and `--listen`"),
            }
        }
    }
}

fn run_child(args: &Args, policy: &reload::Watched, core: ProxyCore, audit: AuditLog, calls: StoreCalls, profile: Profile) -> Exit {
    let config = child::ChildConfig {
        command: args.command.clone(),
        ctx: CallContext { identity: args.identity.clone(), session: Some(grants::new_session_id()) },
        max_line: args.max_line_bytes,
        call_timeout: args.call_timeout(profile),
    };
    // Watched before the first message is read, so none is decided under a version replaced meanwhile.
    let reloader = if args.no_reload { None } else { reload::watch_or_warn(policy) };
    let (child_process, pump) = match child::spawn(&config, core, audit, calls) {
        Ok((child, pump)) => (child, pump.with_reload(reloader)),
        Err(e) => return fail(&e.to_string(), "check the command after `--`"),
    };
    let recording = pump.clone();
    let served = child::serve(child_process, pump, &config);
    recording.finish_recording();
    match served {
        // The child's status is ours; `Exit` only covers our own outcomes.
        Ok(code) => std::process::exit(code),
        Err(e) => fail(&format!("lost the upstream: {e}"), "check that the command is an MCP server speaking stdio"),
    }
}
