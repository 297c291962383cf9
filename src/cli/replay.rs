//! `gauntlet replay POLICY TRACE.jsonl [--profile P]`: replays a recorded
//! trace of calls through a policy on virtual time and prints one JSON
//! decision per call. The trace and output formats are documented in
//! [`crate::engine::replay`]. Counters start empty and live only for the run.
//!
//! The trace is read once, as a stream, so memory stays the same whatever
//! its length. Each call is decided as its line is read, and the decisions
//! wait in [`Held`] until the whole trace has read cleanly: the first
//! megabyte in memory, the rest in an unnamed temporary file (in `$TMPDIR`,
//! else `/tmp`; it is as large as the output and vanishes with the process).
//! Only then do they go to stdout. From the first bad line on, lines are
//! only checked, so every bad line is reported, and the decisions made so
//! far are dropped with the counters.
//!
//! When the decisions cannot be held (no temporary file can be made or
//! written, e.g. a full or read-only `$TMPDIR`), the rest of the trace is
//! only checked, and a trace that read cleanly is replayed again from the
//! start, straight to stdout, with fresh counters. A warning says so.
//!
//! Exit codes: 0 when the trace was replayed (whatever the decisions); 1 when
//! the policy does not load (as from every command, [`super::load`]); 2 when
//! the policy file or the trace cannot be read or the trace has a bad line,
//! with every problem on stderr as `file:line[:column]: what is wrong`.
//! Nothing is printed on stdout then.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use super::Exit;
use crate::engine::replay::{Kinds, Replayer, TraceError, TraceReader, TraceStep};
use crate::engine::Engine;
use crate::limits::{self, MAX_DOCUMENT_BYTES};
use crate::policy::model::Policy;
use crate::profile::Profile;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy file (Intercept YAML, catalogue YAML or PolicyLayer JSON).
    pub policy: std::path::PathBuf,
    /// The trace: JSONL, one call per line (or a mock's ledger, or the proxy's audit log).
    pub trace: std::path::PathBuf,
    /// `intercept` (default) or `strict`.
    #[arg(long, value_enum)]
    pub profile: Option<crate::profile::Profile>,
    /// Read the policy as this dialect instead of detecting it from its content.
    #[arg(long, value_enum)]
    pub dialect: Option<super::load::DialectFlag>,
}

/// How many bytes of decisions are held in memory before they go to the
/// temporary file (and then how many are written to it at once).
const HELD_IN_MEMORY: usize = 1 << 20;

/// Why a pass over the trace stopped.
pub(crate) enum Stop {
    /// The file could not be read.
    Io(String),
    /// The callback refused to go on (an output error).
    Refused(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Io(e) | Stop::Refused(e) => f.write_str(e),
        }
    }
}

/// Calls `each` with every line of `path` (without its newline), read as a
/// stream, and the reader that counts them. A line longer than the input
/// limit is reported as an error and skipped, never held.
pub(crate) fn each_line(
    path: &Path,
    mut each: impl FnMut(&mut TraceReader, Result<&[u8], TraceError>) -> Result<(), String>,
) -> Result<Kinds, Stop> {
    let io = |e: std::io::Error| Stop::Io(format!("cannot read the trace: {e}"));
    let mut input = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
    let mut reader = TraceReader::default();
    let mut buf = Vec::new();
    loop {
        // A line whole in the read buffer is read there, without a copy.
        let available = input.fill_buf().map_err(io)?;
        if let Some(end) = memchr::memchr(b'\n', available) {
            let text = &available[..end];
            each(&mut reader, Ok(text.strip_suffix(b"\r").unwrap_or(text))).map_err(Stop::Refused)?;
            input.consume(end + 1);
            continue;
        }
        buf.clear();
        let n = (&mut input).take(MAX_DOCUMENT_BYTES as u64 + 1).read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            return Ok(reader.kinds());
        }
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let line = match limits::check_size(text) {
            Ok(()) => Ok(text),
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
        each(&mut reader, line).map_err(Stop::Refused)?;
    }
}

/// Decisions waiting for the trace to read cleanly: in memory up to
/// [`HELD_IN_MEMORY`] bytes, then in an unnamed temporary file.
#[derive(Default)]
struct Held {
    /// The newest decisions (all of them while no file was needed).
    memory: Vec<u8>,
    file: Option<File>,
}

impl Held {
    /// Moves the decisions in memory to the file once there are enough of them.
    fn spill_when_full(&mut self) -> std::io::Result<()> {
        if self.memory.len() < HELD_IN_MEMORY {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(tempfile::tempfile()?),
        };
        file.write_all(&self.memory)?;
        self.memory.clear();
        Ok(())
    }

    /// Writes every held decision, in order, to `out`.
    fn copy_to(mut self, out: &mut impl Write) -> std::io::Result<()> {
        if let Some(mut file) = self.file.take() {
            file.rewind()?;
            std::io::copy(&mut file, out)?;
        }
        out.write_all(&self.memory)?;
        out.flush()
    }
}

/// Prints a bad line as `file:line[:column]: what is wrong`.
fn report(trace_name: &str, e: &TraceError) {
    match e.column {
        Some(col) => eprintln!("{trace_name}:{}:{col}: {}", e.line, e.message),
        None => eprintln!("{trace_name}:{}: {}", e.line, e.message),
    }
}

pub fn run(args: Args) -> Exit {
    let loaded = match super::load::policy(&args.policy, args.dialect) {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let trace_name = args.trace.display().to_string();
    let policy = Arc::new(loaded.policy);
    let profile = args.profile.unwrap_or_default();
    let cannot_write = |e: std::io::Error| {
        eprintln!("gauntlet replay: cannot write the output: {e}");
        Exit::CouldNotRun
    };

    // Decide while reading; from the first bad line (or a failure to hold
    // the decisions) on, only check.
    let mut replayer = Replayer::new(Engine::new(Arc::clone(&policy), profile));
    let mut step = TraceStep::default();
    let mut held = Held::default();
    let mut unheld: Option<std::io::Error> = None;
    let mut bad = 0usize;
    let read = each_line(&args.trace, |reader, line| {
        let deciding = bad == 0 && unheld.is_none();
        let outcome = line.and_then(|text| match deciding {
            true => reader.next_into(text, &mut step),
            false => reader.check_line(text).map(|()| false),
        });
        match outcome {
            Ok(true) => {
                replayer.replay(&step, &mut held.memory);
                if let Err(e) = held.spill_when_full() {
                    unheld = Some(e);
                }
            }
            Ok(false) => {}
            Err(e) => {
                bad += 1;
                report(&trace_name, &e);
            }
        }
        Ok(())
    });
    drop(replayer);
    let kinds = match read {
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
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let Some(e) = unheld else {
        return held.copy_to(&mut out).map_or_else(cannot_write, |()| Exit::Ok);
    };
    drop(held);
    eprintln!("warning: gauntlet replay: cannot hold the decisions in a temporary file ({e}): replaying the trace a second time, straight to stdout");
    eprintln!("  help: point TMPDIR at a directory with room for the output to replay it in one pass");
    replay_again(&args.trace, &trace_name, policy, profile, &mut out)
}

/// Replays a trace that read cleanly from its start, with fresh counters,
/// writing each decision to `out` as it is made.
fn replay_again(trace: &Path, trace_name: &str, policy: Arc<Policy>, profile: Profile, out: &mut impl Write) -> Exit {
    let mut replayer = Replayer::new(Engine::new(policy, profile));
    let mut step = TraceStep::default();
    let mut pending = Vec::with_capacity(1 << 16);
    let replayed = each_line(trace, |reader, line| {
        match line.and_then(|text| reader.next_into(text, &mut step)) {
            Ok(true) => replayer.replay(&step, &mut pending),
            Ok(false) => {}
            Err(e) => return Err(format!("line {}: the trace changed while it was replayed: {}", e.line, e.message)),
        }
        if pending.len() >= 1 << 16 {
            out.write_all(&pending).map_err(|e| format!("gauntlet replay: cannot write the output: {e}"))?;
            pending.clear();
        }
        Ok(())
    });
    if let Err(Stop::Io(e) | Stop::Refused(e)) = replayed {
        eprintln!("{trace_name}: {e}");
        return Exit::CouldNotRun;
    }
    if let Err(e) = out.write_all(&pending).and_then(|()| out.flush()) {
        eprintln!("gauntlet replay: cannot write the output: {e}");
        return Exit::CouldNotRun;
    }
    Exit::Ok
}
