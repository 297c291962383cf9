//! `gauntlet bench proxy`.

use crate::cli::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(args: Args) -> Exit {
    eprintln!("gauntlet bench proxy: not implemented yet ({args:?})");
    Exit::CouldNotRun
}
