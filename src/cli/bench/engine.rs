//! `gauntlet bench engine`.

use crate::cli::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(args: Args) -> Exit {
    eprintln!("gauntlet bench engine: not implemented yet ({args:?})");
    Exit::CouldNotRun
}
