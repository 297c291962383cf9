//! `gauntlet scenario`: author, lint and list attack scenarios.

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: ScenarioCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ScenarioCommand {
    /// Write a commented skeleton scenario.
    New { name: String, #[arg(long, default_value = "scenarios")] dir: std::path::PathBuf },
    /// Check every scenario file.
    Lint { dir: Option<std::path::PathBuf> },
    /// Show the database.
    List { dir: Option<std::path::PathBuf> },
}

pub fn run(args: Args) -> Exit {
    eprintln!("gauntlet scenario: not implemented yet ({args:?})");
    Exit::CouldNotRun
}
