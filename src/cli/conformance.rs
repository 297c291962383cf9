//! `gauntlet conformance`: run a conformance vector file through the policy
//! loader, the engine and the proxy core; one line per vector, then a tally.

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The vector file (format documented at the top of the shared intercept-vectors.yaml).
    pub vectors: std::path::PathBuf,
    /// `intercept` expects every vector to pass; under `strict` the bypass vectors are reported as differing.
    #[arg(long, value_enum, default_value = "intercept")]
    pub profile: crate::profile::Profile,
    /// Run only vectors whose id contains this text.
    #[arg(long)]
    pub only: Option<String>,
}

pub fn run(args: Args) -> Exit {
    let summary = match crate::conformance::run_file(&args.vectors, args.profile, args.only.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    };
    for line in summary.lines() {
        println!("{line}");
    }
    println!("{}", summary.closing_line());
    if summary.failed() == 0 {
        Exit::Ok
    } else {
        Exit::CheckFailed
    }
}
