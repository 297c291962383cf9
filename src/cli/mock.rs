//! `gauntlet mock`: serve a declarative mock MCP server.

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The server file, e.g. mock-servers/aksjah.yaml.
    pub server: std::path::PathBuf,
    /// Serve Streamable HTTP on this address instead of stdio.
    #[arg(long)]
    pub http: Option<String>,
    /// Append every message that reaches the server to this JSONL file.
    #[arg(long)]
    pub ledger: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> Exit {
    eprintln!("gauntlet mock: not implemented yet ({args:?})");
    Exit::CouldNotRun
}
