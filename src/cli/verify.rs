//! `gauntlet verify`: run the attack database against a policy.

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub policy: std::path::PathBuf,
    #[arg(long)]
    pub server: Vec<std::path::PathBuf>,
    #[arg(long, default_value = "scenarios")]
    pub scenarios: std::path::PathBuf,
    #[arg(long)]
    pub only: Vec<String>,
    #[arg(long)]
    pub profile: Option<crate::profile::Profile>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, default_value = "table", value_parser = ["table", "json", "junit", "markdown"])]
    pub format: String,
    #[arg(long)]
    pub snapshot: Option<std::path::PathBuf>,
    #[arg(long, requires = "snapshot")]
    pub accept: bool,
    #[arg(long)]
    pub fail_on_proxy_findings: bool,
}

pub fn run(args: Args) -> Exit {
    eprintln!("gauntlet verify: not implemented yet ({args:?})");
    Exit::CouldNotRun
}
