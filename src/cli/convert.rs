//! `gauntlet convert`: rewrite a policy in another dialect.
//!
//! Refuses (exit 1) when the result would not mean the same thing, saying
//! exactly what is lost and why; `--lossy` writes the closest stricter
//! equivalent anyway.

use super::Exit;
use crate::policy;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy to rewrite: catalogue YAML or PolicyLayer JSON (any dialect gauntlet reads).
    pub policy: std::path::PathBuf,
    /// Target dialect.
    #[arg(long, value_parser = ["intercept"])]
    pub to: String,
    /// Write here instead of standard output.
    #[arg(long, short)]
    pub output: Option<std::path::PathBuf>,
    /// Write the closest equivalent even when something cannot be expressed.
    #[arg(long)]
    pub lossy: bool,
    /// Read the source as this dialect instead of detecting it from its content.
    #[arg(long, value_enum)]
    pub dialect: Option<super::load::DialectFlag>,
}

pub fn run(args: Args) -> Exit {
    let loaded = match super::load::policy(&args.policy, args.dialect) {
        Ok(l) => l,
        Err(exit) => return exit,
    };
    let converted = policy::to_intercept::convert(&loaded.policy);
    for loss in &converted.losses {
        eprintln!("{}: cannot be expressed in Intercept: {loss}", args.policy.display());
    }
    if !converted.losses.is_empty() && !args.lossy {
        eprintln!(
            "error: not converted: {} thing(s) above have no Intercept equivalent\n  help: pass `--lossy` to write the closest stricter equivalent anyway",
            converted.losses.len()
        );
        return Exit::CheckFailed;
    }
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &converted.yaml) {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                return Exit::CouldNotRun;
            }
        }
        None => print!("{}", converted.yaml),
    }
    Exit::Ok
}
