//! `gauntlet proxy`: the enforcing proxy in front of a real MCP server.

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub policy: std::path::PathBuf,
    /// Streamable HTTP upstream URL (instead of a child command after `--`).
    #[arg(long)]
    pub upstream: Option<String>,
    /// Serve Streamable HTTP on this address instead of stdio.
    #[arg(long)]
    pub listen: Option<String>,
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
    /// The upstream command and its arguments, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
}

pub fn run(args: Args) -> Exit {
    eprintln!("gauntlet proxy: not implemented yet ({args:?})");
    Exit::CouldNotRun
}
