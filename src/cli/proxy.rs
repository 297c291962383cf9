//! `gauntlet proxy`: the enforcing proxy in front of a real MCP server.
//!
//! Wiring only: load the policy, open the counter store, pick the transport
//! (a child process after `--`, or a Streamable HTTP `--upstream`), start
//! hot reload, and hand over to the adapter in `crate::proxy`.

use std::path::PathBuf;

use super::Exit;
use crate::engine::{CallContext, CounterStore};
use crate::profile::Profile;
use crate::proxy::auditlog::AuditLog;
use crate::proxy::core::{ProxyCore, WireMode};
use crate::proxy::sqlite::{default_state_dir, with_fail_mode, FailMode, SqliteStore};
use crate::proxy::stdio::DEFAULT_MAX_LINE;
use crate::proxy::{child, grants, http, reload};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy to enforce (watched for changes unless --no-reload).
    pub policy: std::path::PathBuf,
    /// Streamable HTTP upstream URL (instead of a child command after `--`).
    #[arg(long)]
    pub upstream: Option<String>,
    /// Serve Streamable HTTP on this address instead of stdio.
    #[arg(long)]
    pub listen: Option<String>,
    /// `intercept` (default): Intercept's behaviour; `strict`: the hardened one.
    #[arg(long)]
    pub profile: Option<crate::profile::Profile>,
    /// Identity for grant-scoped counters over stdio.
    #[arg(long)]
    pub identity: Option<String>,
    /// Bearer token → grant name map for the HTTP front.
    #[arg(long)]
    pub grants: Option<std::path::PathBuf>,
    /// Where counters persist (SQLite).
    #[arg(long)]
    pub state_dir: Option<std::path::PathBuf>,
    #[arg(long, default_value = "closed", value_parser = ["open", "closed"])]
    pub state_fail_mode: String,
    /// Audit records (JSONL) go here.
    #[arg(long)]
    pub audit: Option<std::path::PathBuf>,
    /// Longest agent message accepted, in bytes; longer lines are answered with an error.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE)]
    pub max_line_bytes: usize,
    /// Do not watch the policy file for changes.
    #[arg(long)]
    pub no_reload: bool,
    /// The upstream command and its arguments, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
}

fn fail(message: &str, help: &str) -> Exit {
    eprintln!("error: {message}");
    eprintln!("  help: {help}");
    Exit::CouldNotRun
}

fn open_store(args: &Args) -> Result<Box<dyn CounterStore>, Exit> {
    let mode: FailMode = args.state_fail_mode.parse().map_err(|e: String| fail(&e, "use `open` or `closed`"))?;
    let dir: PathBuf = match args.state_dir.clone().or_else(default_state_dir) {
        Some(dir) => dir,
        None => return Err(fail("no place to keep counters: neither HOME nor XDG_STATE_HOME is set", "pass `--state-dir DIR`")),
    };
    let store = SqliteStore::open_in_dir(&dir)
        .map_err(|e| fail(&e.0, "pass a writable `--state-dir DIR`"))?;
    Ok(with_fail_mode(Box::new(store), mode))
}

pub fn run(args: Args) -> Exit {
    let profile = args.profile.unwrap_or(Profile::Intercept);
    let engine = match reload::load_engine(&args.policy, profile) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("error: the proxy refuses to start with an invalid policy");
            return Exit::CouldNotRun;
        }
    };
    let store = match open_store(&args) {
        Ok(store) => store,
        Err(exit) => return exit,
    };
    let audit = match AuditLog::open(args.audit.as_deref()) {
        Ok(audit) => audit,
        Err(e) => {
            let shown = args.audit.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
            return fail(&format!("cannot open the audit file `{shown}`: {e}"), "pass a writable `--audit FILE`");
        }
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
        (None, false) => run_child(&args, ProxyCore::new(engine, store, WireMode::StdioChild), audit, profile),
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
            let mode = if args.listen.is_some() { WireMode::Http } else { WireMode::StdioBridge };
            let config = http::HttpConfig {
                upstream: url.clone(),
                listen: args.listen.clone(),
                grants,
                identity: args.identity.clone(),
                max_line: args.max_line_bytes,
                policy: (!args.no_reload).then(|| (args.policy.clone(), profile)),
            };
            match http::run(config, ProxyCore::new(engine, store, mode), audit) {
                Ok(()) => Exit::Ok,
                Err(e) => fail(&e, "check `--upstream` and `--listen`"),
            }
        }
    }
}

fn run_child(args: &Args, core: ProxyCore, audit: AuditLog, profile: Profile) -> Exit {
    let config = child::ChildConfig {
        command: args.command.clone(),
        ctx: CallContext { identity: args.identity.clone(), session: Some(grants::new_session_id()) },
        max_line: args.max_line_bytes,
    };
    let (child_process, pump) = match child::spawn(&config, core, audit) {
        Ok(spawned) => spawned,
        Err(e) => return fail(&e.to_string(), "check the command after `--`"),
    };
    let _reloader = if args.no_reload {
        None
    } else {
        let target = pump.clone();
        reload::watch_or_warn(&args.policy, profile, move |engine| target.lock().core.set_engine(engine))
    };
    match child::serve(child_process, pump, &config) {
        // The child's status is ours; `Exit` only covers our own outcomes.
        Ok(code) => std::process::exit(code),
        Err(e) => fail(&format!("lost the upstream: {e}"), "check that the command is an MCP server speaking stdio"),
    }
}
