//! `gauntlet validate`: check a policy file.

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy file (Intercept YAML, catalogue YAML or PolicyLayer JSON).
    pub policy: std::path::PathBuf,
    /// Force a dialect instead of detecting it.
    #[arg(long, value_parser = ["intercept", "catalogue", "policylayer"])]
    pub dialect: Option<String>,
}

pub fn run(args: Args) -> Exit {
    eprintln!("gauntlet validate: not implemented yet ({args:?})");
    Exit::CouldNotRun
}
