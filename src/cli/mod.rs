//! The command line: one file per subcommand; `main.rs` only dispatches here.

pub mod bench;
pub mod conformance;
pub mod convert;
pub mod exit;
pub mod league;
pub mod load;
pub mod fuzz;
pub mod harden;
pub mod init;
pub mod mock;
pub mod proxy;
pub mod replay;
pub mod scenario;
pub mod validate;
pub mod verify;

use clap::{Parser, Subcommand};

pub use exit::Exit;

#[derive(Parser, Debug)]
#[command(name = "gauntlet", version, about = "Attack-pattern testbench and policy verifier for MCP policy proxies")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a policy file; Intercept's exact messages for Intercept files.
    Validate(validate::Args),
    /// Rewrite a policy in another dialect (or say what cannot be expressed).
    Convert(convert::Args),
    /// Run a conformance vector file against the engine and proxy core.
    Conformance(conformance::Args),
    /// Replay a recorded trace of calls through a policy: one JSON decision per line.
    Replay(replay::Args),
    /// Serve a declarative mock MCP server over stdio or Streamable HTTP.
    Mock(mock::Args),
    /// Run the enforcing proxy in front of a real MCP server.
    Proxy(Box<proxy::Args>),
    /// Run the attack database against a policy and report verdicts.
    Verify(verify::Args),
    /// Write a policy that meets the requirements, proven before it is written.
    Harden(harden::Args),
    /// Set up a repository: a commented gauntlet.yaml and a CI job.
    Init(init::Args),
    /// Author, lint and list attack scenarios.
    Scenario(scenario::Args),
    /// Benchmarks that print JSON figures.
    Bench(bench::Args),
    /// Run the attack database through several proxies and print a league table.
    League(league::Args),
    /// Seeded mutation fuzzing of the loaders and the proxy core (for developers).
    #[command(hide = true)]
    Fuzz(fuzz::Args),
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> i32 {
    if let Some(argv0) = std::env::args_os().next() {
        crate::invocation::set_program(&argv0.to_string_lossy());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { Exit::CouldNotRun.code() } else { Exit::Ok.code() };
            let _ = e.print();
            return code;
        }
    };
    let exit = match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Conformance(a) => conformance::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Mock(a) => mock::run(a),
        Command::Proxy(a) => proxy::run(*a),
        Command::Verify(a) => verify::run(a),
        Command::Harden(a) => harden::run(a),
        Command::Init(a) => init::run(a),
        Command::Scenario(a) => scenario::run(a),
        Command::Bench(a) => bench::run(a),
        Command::League(a) => league::run(a),
        Command::Fuzz(a) => fuzz::run(a),
    };
    exit.code()
}
