//! `gauntlet replay POLICY TRACE.jsonl [--profile P]`: replays a recorded
//! trace of calls through a policy on virtual time and prints one JSON
//! decision per call. The trace and output formats are documented in
//! [`crate::engine::replay`]. Counters start empty and live only for the run.
//!
//! The trace is read twice as a stream, so memory stays the same whatever
//! its length: a first pass reports every bad line, and only a trace that
//! read cleanly is replayed in the second.
//!
//! Exit codes: 0 when the trace was replayed (whatever the decisions); 1 when
//! the policy does not load (as from every command, [`super::load`]); 2 when
//! the policy file or the trace cannot be read or the trace has a bad line,
//! with every problem on stderr as `file:line[:column]: what is wrong`.
//! Nothing is printed on stdout then.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use super::Exit;
use crate::engine::replay::{replay_step, Kinds, TraceError, TraceReader};
use crate::limits::{self, MAX_DOCUMENT_BYTES};
use crate::engine::store::MemoryStore;
use crate::engine::Engine;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy file (Intercept YAML, catalogue YAML or PolicyLayer JSON).
    pub policy: std::path::PathBuf,
    /// The trace: JSONL, one call per line (or a mock's ledger, or the proxy's audit log).
    pub trace: std::path::PathBuf,
    /// `intercept` (default) or `strict`.
    #[arg(long)]
    pub profile: Option<crate::profile::Profile>,
    /// Read the policy as this dialect instead of detecting it from its content.
    #[arg(long, value_enum)]
    pub dialect: Option<super::load::DialectFlag>,
}

/// Why a pass over the trace stopped.
enum Stop {
    /// The file could not be read.
    Io(String),
    /// The callback refused to go on (an output error).
    Refused(String),
}

/// Calls `each` with every line's outcome, reading `path` as a stream. A
/// line longer than the input limit is reported and skipped, never held.
fn each_line<T>(
    path: &Path,
    read: impl Fn(&mut TraceReader, &[u8]) -> Result<T, TraceError>,
    mut each: impl FnMut(Result<T, TraceError>) -> Result<(), String>,
) -> Result<Kinds, Stop> {
    let io = |e: std::io::Error| Stop::Io(format!("cannot read the trace: {e}"));
    let mut input = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
    let mut reader = TraceReader::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut input).take(MAX_DOCUMENT_BYTES as u64 + 1).read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            return Ok(reader.kinds());
        }
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let outcome = match limits::check_size(text) {
            Ok(()) => read(&mut reader, text),
            Err(limit) => {
                while !buf.ends_with(b"\n") {
                    buf.clear();
                    if (&mut input).take(1 << 16).read_until(b'\n', &mut buf).map_err(io)? == 0 {
                        break;
                    }
                }
                Err(TraceError { line: reader.skip(), column: Some(limit.column as usize), message: limit.to_string() })
            }
        };
        each(outcome).map_err(Stop::Refused)?;
    }
}

pub fn run(args: Args) -> Exit {
    let loaded = match super::load::policy(&args.policy, args.dialect) {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let trace_name = args.trace.display().to_string();
    // Pass 1: every bad line is reported before any decision is written.
    let mut bad = 0usize;
    let checked = each_line(&args.trace, TraceReader::check_line, |outcome| {
        if let Err(e) = outcome {
            bad += 1;
            match e.column {
                Some(col) => eprintln!("{trace_name}:{}:{col}: {}", e.line, e.message),
                None => eprintln!("{trace_name}:{}: {}", e.line, e.message),
            }
        }
        Ok(())
    });
    let kinds = match checked {
        Ok(kinds) => kinds,
        Err(Stop::Io(e) | Stop::Refused(e)) => {
            eprintln!("{trace_name}: {e}");
            return Exit::CouldNotRun;
        }
    };
    if bad > 0 {
        eprintln!("help: each line must be a JSON object like {{\"at\":\"2026-03-02T10:00:00Z\",\"tool\":\"create_charge\",\"arguments\":{{}}}}, a mock server's ledger entry or a `gauntlet proxy --audit` record");
        return Exit::CouldNotRun;
    }
    if kinds.audit {
        eprintln!("warning: {trace_name}: audit records carry only a hash of the arguments, so argument conditions see calls without arguments and the upstream's answers are taken as `ok`");
        eprintln!("  help: record replayable traffic with `gauntlet proxy --record FILE`");
    }
    // Pass 2: decide and write, one line at a time.
    let engine = Engine::new(Arc::new(loaded.policy), args.profile.unwrap_or_default());
    let mut store = MemoryStore::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let replayed = each_line(&args.trace, TraceReader::next_line, |outcome| {
        let step = match outcome {
            Ok(Some(step)) => step,
            Ok(None) => return Ok(()),
            Err(e) => return Err(format!("line {}: the trace changed while it was replayed: {}", e.line, e.message)),
        };
        let record = replay_step(&engine, &mut store, &step);
        serde_json::to_writer(&mut out, &record)
            .map_err(std::io::Error::other)
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|e| format!("gauntlet replay: cannot write the output: {e}"))
    });
    if let Err(Stop::Io(e) | Stop::Refused(e)) = replayed {
        eprintln!("{trace_name}: {e}");
        return Exit::CouldNotRun;
    }
    if let Err(e) = out.flush() {
        eprintln!("gauntlet replay: cannot write the output: {e}");
        return Exit::CouldNotRun;
    }
    Exit::Ok
}
