//! `gauntlet conformance`: run a conformance vector file.

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub vectors: std::path::PathBuf,
    #[arg(long, default_value = "intercept")]
    pub profile: crate::profile::Profile,
    /// Run only vectors whose id contains this text.
    #[arg(long)]
    pub only: Option<String>,
}

pub fn run(args: Args) -> Exit {
    eprintln!("gauntlet conformance: not implemented yet ({args:?})");
    Exit::CouldNotRun
}
