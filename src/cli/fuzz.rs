//! `gauntlet fuzz TARGET --seed N --seconds S` (hidden): the seeded mutation
//! fuzzer over one target. Prints its seed first and, on a failure, the
//! iteration, the reason, where the input was written and the command that
//! replays it; exit 1 on a failure, 0 otherwise.

use std::path::PathBuf;
use std::time::Duration;

use super::Exit;
use crate::fuzz::{self, Budget, Target};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// policy-intercept, policy-catalogue, policy-policylayer, scenario, mock,
    /// requirements, trace, proxy, or `all`.
    pub target: String,
    /// Seed of the mutation stream (default: from the clock, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this many seconds (per target).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Stop after this many inputs (replays a run exactly).
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Corpus root: inputs are read from CORPUS/TARGET/ (built-in seeds when absent).
    #[arg(long, default_value = "fuzz/corpus")]
    pub corpus: PathBuf,
    /// One input taking longer than this many milliseconds is a failure.
    #[arg(long, default_value_t = 2000)]
    pub slow_ms: u64,
    /// Where a failing input is written.
    #[arg(long, default_value = "fuzz/artifacts")]
    pub artifacts: PathBuf,
}

pub fn run(args: Args) -> Exit {
    let targets: Vec<Target> = if args.target == "all" {
        Target::ALL.to_vec()
    } else {
        match Target::from_name(&args.target) {
            Some(t) => vec![t],
            None => {
                let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
                eprintln!("error: unknown fuzz target `{}`; one of: {}, all", args.target, names.join(", "));
                return Exit::CouldNotRun;
            }
        }
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    println!("seed: {seed}");
    // The harness reports panics itself; the default hook would print each one twice.
    std::panic::set_hook(Box::new(|_| {}));
    let budget = Budget {
        iterations: args.iterations,
        time: Some(Duration::from_secs_f64(args.seconds.max(0.0))),
        slow: Duration::from_millis(args.slow_ms),
    };
    for target in targets {
        let corpus = fuzz::corpus(target, Some(&args.corpus));
        let run = fuzz::run(target, &corpus, seed, budget);
        let Some(finding) = run.finding else {
            println!("{}: {} inputs, no failure", target.name(), run.iterations);
            continue;
        };
        let _ = std::fs::create_dir_all(&args.artifacts);
        let file = args.artifacts.join(format!("{}-seed{seed}-iter{}", target.name(), finding.iteration));
        let written = std::fs::write(&file, &finding.input).is_ok();
        println!("{}: FAILED at input {}: {}", target.name(), finding.iteration, finding.failure);
        if written {
            println!("input written to {}", file.display());
        }
        println!(
            "replay: gauntlet fuzz {} --seed {seed} --iterations {} --corpus {}",
            target.name(),
            finding.iteration + 1,
            args.corpus.display()
        );
        return Exit::CheckFailed;
    }
    Exit::Ok
}
