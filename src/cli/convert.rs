//! `gauntlet convert`: rewrite a policy in another dialect.

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    pub policy: std::path::PathBuf,
    /// Target dialect.
    #[arg(long, value_parser = ["intercept"])]
    pub to: String,
    /// Write here instead of standard output.
    #[arg(long, short)]
    pub output: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> Exit {
    eprintln!("gauntlet convert: not implemented yet ({args:?})");
    Exit::CouldNotRun
}
