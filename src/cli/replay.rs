//! `gauntlet replay POLICY TRACE.jsonl [--profile P]`: replays a recorded
//! trace of calls through a policy on virtual time and prints one JSON
//! decision per call. The trace and output formats are documented in
//! [`crate::engine::replay`]. Counters start empty and live only for the run.
//!
//! Exit codes: 0 when the trace was replayed (whatever the decisions); 2 when
//! the policy or the trace cannot be read, with every problem on stderr as
//! `file:line[:column]: what is wrong`. Nothing is printed on stdout then.

use std::io::Write;
use std::sync::Arc;

use super::Exit;
use crate::engine::replay::{parse_trace, replay_step};
use crate::engine::store::MemoryStore;
use crate::engine::Engine;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy file (Intercept YAML, catalogue YAML or PolicyLayer JSON).
    pub policy: std::path::PathBuf,
    /// The trace: JSONL, one call per line.
    pub trace: std::path::PathBuf,
    /// `intercept` (default) or `strict`.
    #[arg(long)]
    pub profile: Option<crate::profile::Profile>,
}

pub fn run(args: Args) -> Exit {
    let loaded = match crate::policy::load_file(&args.policy, None) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e}");
            return Exit::CouldNotRun;
        }
    };
    let trace_name = args.trace.display().to_string();
    let text = match crate::limits::read_to_string(&args.trace) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{trace_name}: cannot read the trace: {e}");
            return Exit::CouldNotRun;
        }
    };
    let steps = match parse_trace(&text) {
        Ok(steps) => steps,
        Err(errors) => {
            for e in errors {
                match e.column {
                    Some(col) => eprintln!("{trace_name}:{}:{col}: {}", e.line, e.message),
                    None => eprintln!("{trace_name}:{}: {}", e.line, e.message),
                }
            }
            eprintln!("help: each line must be a JSON object like {{\"at\":\"2026-03-02T10:00:00Z\",\"tool\":\"create_charge\",\"arguments\":{{}}}}");
            return Exit::CouldNotRun;
        }
    };
    let engine = Engine::new(Arc::new(loaded.policy), args.profile.unwrap_or_default());
    let mut store = MemoryStore::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for step in &steps {
        let record = replay_step(&engine, &mut store, step);
        let written = serde_json::to_string(&record)
            .map_err(std::io::Error::other)
            .and_then(|line| writeln!(out, "{line}"));
        if let Err(e) = written {
            eprintln!("gauntlet replay: cannot write the output: {e}");
            return Exit::CouldNotRun;
        }
    }
    if let Err(e) = out.flush() {
        eprintln!("gauntlet replay: cannot write the output: {e}");
        return Exit::CouldNotRun;
    }
    Exit::Ok
}
