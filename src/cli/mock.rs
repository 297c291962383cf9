//! `gauntlet mock`: serve a declarative mock MCP server over stdio (default)
//! or Streamable HTTP, optionally appending its ledger to a JSONL file.
//! Logs go to stderr only: stdout belongs to the protocol.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::Exit;
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::caller::CallContext;
use crate::mcp::http::HttpServer;
use crate::mcp::stdio::{self, Ended, LineEnds};
use crate::mcp::MessageHandler;
use crate::mock::outage::{Outage, Stalled};
use crate::mock::recording::Recording;

/// The mock as served: its recording, answers held back while stalled.
type Faulted = Stalled<Recording>;
use crate::mock::{bundled, DuplicateKeys, MockServer, ServerSpec};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// The server: a file such as `mock-servers/mine.yaml`, or a bundled server's name such as `aksjah`.
    #[arg(required = true)]
    pub server: Option<std::path::PathBuf>,
    /// Serve Streamable HTTP on this address (e.g. 127.0.0.1:8931) instead of stdio.
    #[arg(long)]
    pub http: Option<String>,
    /// Append every message that reaches the server to this JSONL file.
    #[arg(long)]
    pub ledger: Option<std::path::PathBuf>,
    /// Look tools up ignoring case and surrounding whitespace.
    #[arg(long)]
    pub lenient_names: bool,
    /// Ignore unknown members of `tools/call` params instead of rejecting them.
    #[arg(long)]
    pub ignore_unknown_params: bool,
    /// Which of two duplicate JSON keys the server believes.
    #[arg(long, value_parser = ["first", "last"])]
    pub duplicate_keys: Option<String>,
    /// Die (answer nothing more) after this many tool calls.
    #[arg(long, value_name = "N")]
    pub crash_after: Option<u64>,
    /// Never answer calls of this tool (repeatable).
    #[arg(long, value_name = "TOOL")]
    pub hang_on: Vec<String>,
    /// Serve `tools/list` in pages of this size.
    #[arg(long, value_name = "N")]
    pub page_size: Option<usize>,
    /// Where a stdio line ends: `lf`, or `universal` (also at a bare `\r`, as the Python SDK's server reads).
    #[arg(long, value_enum, value_name = "ENDS")]
    pub line_ends: Option<LineEnds>,
    /// Hold back every answer due in FROM..UNTIL (Unix milliseconds) until
    /// UNTIL: black-box fault runs stall the upstream with it.
    #[arg(long, value_name = "FROM..UNTIL", hide = true)]
    pub stall: Option<String>,
    /// Exit at this instant (Unix milliseconds) when started before it:
    /// black-box fault runs kill the upstream with it.
    #[arg(long, value_name = "MS", hide = true)]
    pub die_at: Option<i64>,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Write a mock server file from a real MCP server's own `tools/list`.
    Record(RecordArgs),
}

pub fn run(args: Args) -> Exit {
    if let Some(Action::Record(r)) = args.action {
        return record(r);
    }
    let Some(path) = args.server.clone() else {
        eprintln!("error: name the server, e.g. `{} mock aksjah` or a server file", crate::invocation::program());
        return Exit::CouldNotRun;
    };
    let mut spec = match bundled::resolve(&path) {
        Ok((_, s)) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    };
    apply_overrides(&mut spec, &args);
    if spec.behaviour.page_size == Some(0) {
        eprintln!("error: `--page-size 0` is not a page size\n  help: use 1 or more");
        return Exit::CouldNotRun;
    }
    let stall = match args.stall.as_deref().map(Outage::parse_stall).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --stall {e}");
            return Exit::CouldNotRun;
        }
    };
    let outage = Outage { stall, die_at: args.die_at.map(Timestamp::from_millis) };
    let recording = match Recording::new(MockServer::from_spec(spec), args.ledger.as_deref()) {
        Ok(r) => Arc::new(Mutex::new(Stalled { inner: r, outage })),
        Err(e) => {
            let shown = args
                .ledger
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            eprintln!("error: cannot open the ledger file `{shown}`: {e}\n  help: check that its directory exists and is writable");
            return Exit::CouldNotRun;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::CouldNotRun;
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if let Some(at) = outage.die_at {
        die_at(at, clock.now());
    }
    match args.http {
        Some(addr) => runtime.block_on(serve_http(&addr, recording, clock)),
        None => runtime.block_on(serve_stdio(recording, clock)),
    }
}

fn apply_overrides(spec: &mut ServerSpec, args: &Args) {
    let b = &mut spec.behaviour;
    b.lenient_names |= args.lenient_names;
    b.ignore_unknown_params |= args.ignore_unknown_params;
    match args.duplicate_keys.as_deref() {
        Some("first") => b.duplicate_keys = DuplicateKeys::First,
        Some("last") => b.duplicate_keys = DuplicateKeys::Last,
        _ => {}
    }
    if args.crash_after.is_some() {
        b.crash_after = args.crash_after;
    }
    b.hang_on.extend(args.hang_on.iter().cloned());
    if args.page_size.is_some() {
        b.page_size = args.page_size;
    }
    if let Some(ends) = args.line_ends {
        b.line_ends = ends;
    }
}

/// Ends the process at `at`, as a crash would (nothing more is answered),
/// unless it started at or after it.
fn die_at(at: Timestamp, now: Timestamp) {
    let wait = u64::try_from(at.0 - now.0).unwrap_or(0);
    if wait == 0 {
        eprintln!("gauntlet mock: started after its --die-at cue; staying up");
        return;
    }
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_nanos(wait));
        eprintln!("gauntlet mock: exiting on cue (--die-at)");
        std::process::exit(1);
    });
}

async fn serve_stdio(recording: Arc<Mutex<Faulted>>, clock: Arc<dyn Clock>) -> Exit {
    let name = recording
        .lock()
        .map(|r| r.inner.server().spec().name.clone())
        .unwrap_or_default();
    eprintln!("gauntlet mock: serving `{name}` on stdio");
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    match stdio::serve(
        stdin,
        tokio::io::stdout(),
        recording,
        clock,
        CallContext::default(),
    )
    .await
    {
        Ok(Ended::Eof) => Exit::Ok,
        Ok(Ended::HandlerDead) => {
            eprintln!("gauntlet mock: simulated crash (crash_after reached)");
            Exit::CouldNotRun
        }
        Err(e) => {
            eprintln!("error: stdio failed: {e}");
            Exit::CouldNotRun
        }
    }
}

async fn serve_http(addr: &str, recording: Arc<Mutex<Faulted>>, clock: Arc<dyn Clock>) -> Exit {
    let Ok(sock) = addr.parse::<SocketAddr>() else {
        eprintln!("error: `--http {addr}` is not an address\n  help: write it as IP:PORT, e.g. 127.0.0.1:8931");
        return Exit::CouldNotRun;
    };
    let server = match HttpServer::bind(sock, recording.clone(), clock).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot listen on `{addr}`: {e}\n  help: pick a free port, or port 0 for any");
            return Exit::CouldNotRun;
        }
    };
    let shown = server
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| addr.to_string());
    eprintln!("gauntlet mock: serving Streamable HTTP on http://{shown}/mcp");
    // A simulated crash ends the process, as a real crash would.
    let watch = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            if recording.lock().map(|r| r.is_dead()).unwrap_or(true) {
                return;
            }
        }
    };
    tokio::select! {
        r = server.run() => match r {
            Ok(()) => Exit::Ok,
            Err(e) => {
                eprintln!("error: HTTP server failed: {e}");
                Exit::CouldNotRun
            }
        },
        () = watch => {
            eprintln!("gauntlet mock: simulated crash (crash_after reached)");
            Exit::CouldNotRun
        }
    }
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  gauntlet mock record -o mock-servers/fs.yaml -- npx -y @modelcontextprotocol/server-filesystem /tmp/x\n  gauntlet mock record -o remote.yaml --upstream http://127.0.0.1:8931/mcp --header 'Authorization: Bearer T'")]
pub struct RecordArgs {
    /// The mock server file to write (replaced only when the recording succeeds).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: std::path::PathBuf,
    /// Record a Streamable HTTP server at this URL instead of starting a command.
    #[arg(long, value_name = "URL", conflicts_with = "command")]
    pub upstream: Option<String>,
    /// An HTTP header for `--upstream`, as "Name: value" (repeatable).
    #[arg(long = "header", value_name = "K: V", requires = "upstream")]
    pub headers: Vec<String>,
    /// Give up when the server has not finished answering after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,
    /// The package and exact version the server came from, written as provenance
    /// (e.g. @modelcontextprotocol/server-memory@2026.8.31).
    #[arg(long, value_name = "NAME@VERSION")]
    pub package: Option<String>,
    /// Do not probe whether the server resolves tool names leniently (two
    /// `tools/call`s with empty arguments); the file then says names are exact.
    #[arg(long)]
    pub no_probe: bool,
    /// The command that starts a stdio server, after `--`.
    #[arg(last = true, value_name = "CMD ARGS")]
    pub command: Vec<String>,
}

fn record(args: RecordArgs) -> Exit {
    use crate::mcp::client::Endpoint;
    use crate::mock::record;

    let endpoint = match (&args.upstream, args.command.is_empty()) {
        (Some(url), true) => {
            let mut headers = Vec::new();
            for h in &args.headers {
                match crate::mcp::http::split_header(h) {
                    Some(pair) => headers.push(pair),
                    None => {
                        eprintln!("error: `--header {h}` is not a header\n  help: write it as \"Name: value\"");
                        return Exit::CouldNotRun;
                    }
                }
            }
            Endpoint::Http { url: url.clone(), headers }
        }
        (None, false) => Endpoint::Command(args.command.clone()),
        _ => {
            eprintln!("error: name the server to record\n  help: `gauntlet mock record -o FILE -- CMD ARGS…` for a stdio server, or `--upstream URL` for Streamable HTTP");
            return Exit::CouldNotRun;
        }
    };
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        eprintln!("error: `--timeout {}` is not a number of seconds\n  help: use a positive number, e.g. 30", args.timeout);
        return Exit::CouldNotRun;
    }
    let timeout = std::time::Duration::from_secs_f64(args.timeout);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::CouldNotRun;
        }
    };
    let recording = match runtime.block_on(record::record(&endpoint, args.package.clone(), timeout, !args.no_probe)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not record the server: {e}");
            eprintln!("  help: {}", record_help(&e));
            eprintln!("  nothing was written to {}", args.output.display());
            return Exit::CouldNotRun;
        }
    };
    if let Err(e) = record::write(&recording, &args.output) {
        eprintln!("error: {e}");
        return Exit::CouldNotRun;
    }
    let spec = &recording.spec;
    let mut counts = std::collections::BTreeMap::new();
    for t in &spec.tools {
        *counts.entry(t.risk).or_insert(0usize) += 1;
    }
    let split: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    let others: String = [(spec.resources.len(), "resource"), (spec.resource_templates.len(), "resource template"), (spec.prompts.len(), "prompt")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("; {}", crate::wording::count(*n, what)))
        .collect();
    eprintln!(
        "recorded {} {} ({}: {}{others}) to {}",
        spec.name,
        spec.version,
        crate::wording::count(spec.tools.len(), "tool"),
        split.join(", "),
        args.output.display()
    );
    eprintln!("  tool names: {} ({})", if spec.behaviour.lenient_names { "resolved leniently" } else { "exact" }, recording.names.note());
    eprintln!("  check each `risk:` and the reason beside it before relying on the file");
    Exit::Ok
}

fn record_help(e: &crate::mock::record::RecordError) -> &'static str {
    use crate::mcp::client::ClientError;
    use crate::mock::record::RecordError;
    match e {
        RecordError::Client(ClientError::Start { .. }) => "check the command after `--`: is it installed and on PATH?",
        RecordError::Client(ClientError::Closed { .. }) => "the server exited; run the command by hand to see why (missing arguments or environment?)",
        RecordError::Timeout { .. } => "a server that downloads or builds on first start may need a longer `--timeout`",
        RecordError::Client(ClientError::Http(_) | ClientError::Status { .. }) => "check the URL (e.g. http://127.0.0.1:8931/mcp) and any `--header` the server needs",
        _ => "the server does not speak MCP as expected; is this the right command or URL?",
    }
}
