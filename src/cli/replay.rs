//! `gauntlet replay`: replay a trace of calls through a policy.

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub policy: std::path::PathBuf,
    pub trace: std::path::PathBuf,
    #[arg(long)]
    pub profile: Option<crate::profile::Profile>,
}

pub fn run(args: Args) -> Exit {
    eprintln!("gauntlet replay: not implemented yet ({args:?})");
    Exit::CouldNotRun
}
