//! `gauntlet bench <target>`: benchmarks that print one JSON object with
//! figures and ratios against a baseline measured in the same run.

pub mod blackbox;
pub mod engine;
pub mod prove;
pub mod proxy;
pub mod relay;
pub mod replay;
pub mod targets;
pub mod usage;
pub mod verify;

use super::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub target: Target,
}

#[derive(clap::Subcommand, Debug)]
pub enum Target {
    /// Decisions per second vs. the cost of parsing the same messages.
    Engine(engine::Args),
    /// `gauntlet proxy` in front of `gauntlet mock` vs. the mock driven directly.
    Proxy(proxy::Args),
    /// The full attack database against a 50-tool and a 1000-tool policy.
    Verify(verify::Args),
    /// `prove` of a 50-tool and a 1000-tool policy, `diff` of two github policies.
    Prove(prove::Args),
    /// `gauntlet replay` on a trace and a 10× longer one: calls per CPU-second, memory.
    Replay(replay::Args),
    /// The attack database black-box through `gauntlet proxy`: outcomes compared and wall time.
    Blackbox(blackbox::Args),
    /// A bare stdio line relay: `bench proxy`'s same-run measure of the hop itself.
    #[command(hide = true)]
    Relay(relay::Args),
    /// One verification of a generated server: `bench verify`'s measure of one run in its own process.
    #[command(hide = true)]
    VerifyRun(verify::RunArgs),
}

pub fn run(args: Args) -> Exit {
    match args.target {
        Target::Engine(a) => engine::run(a),
        Target::Proxy(a) => proxy::run(a),
        Target::Verify(a) => verify::run(a),
        Target::Prove(a) => prove::run(a),
        Target::Replay(a) => replay::run(a),
        Target::Blackbox(a) => blackbox::run(a),
        Target::Relay(a) => relay::run(a),
        Target::VerifyRun(a) => verify::run_one(a),
    }
}
