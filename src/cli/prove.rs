//! `gauntlet prove POLICY [--server S…] [--requirements F]`: every
//! single-call requirement on every tool in play, proved, refuted with a
//! replayed counterexample, or unknown with the reason; then the policy's
//! facts. Exit 0 when every requirement is proved (unknowns too with
//! `--allow-unknown`), 1 when any is refuted or unknown (or the policy does
//! not load), 2 when it cannot run.

use std::sync::Arc;

use super::verify::Output;
use super::Exit;
use crate::engine::Engine;
use crate::prove::{self, ProofReport, ReplayCommand, Setup, Status};
use crate::report::{self, proof};
use crate::scenario::requirements::Requirements;
use crate::verify::inprocess::catalogue_of;
use crate::verify::setup;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The policy to prove (Intercept YAML, catalogue YAML or PolicyLayer JSON).
    pub policy: std::path::PathBuf,
    /// A mock server whose tools are in play: a server file or a bundled
    /// server's name (repeatable); default: `servers:` of gauntlet.yaml, else
    /// every bundled server whose tools the policy names.
    #[arg(long)]
    pub server: Vec<std::path::PathBuf>,
    /// The requirements file (default: `gauntlet.yaml` beside the policy or above it).
    #[arg(long, value_name = "FILE")]
    pub requirements: Option<std::path::PathBuf>,
    /// The proxy behaviour to prove under: `intercept` (default) or `strict`.
    #[arg(long, value_enum)]
    pub profile: Option<crate::profile::Profile>,
    /// Unknown answers do not fail the run (refutations still do).
    #[arg(long)]
    pub allow_unknown: bool,
    /// Report format on stdout: table, json, junit, markdown, sarif, github, html.
    #[arg(long, default_value = "table")]
    pub format: report::Format,
    /// Also write the report in FORMAT to PATH (repeatable), from this one run.
    #[arg(short = 'o', long = "output", value_name = "FORMAT=PATH")]
    pub outputs: Vec<Output>,
    /// Seed for the readable values witnesses start from (default 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Read the policy as this dialect instead of detecting it from its content.
    #[arg(long, value_enum)]
    pub dialect: Option<super::load::DialectFlag>,
}

/// Builds the whole report (no printing); `Err(exit)` when it cannot.
pub fn build(args: &Args) -> Result<ProofReport, Exit> {
    let fail = |e: String| {
        eprintln!("error: {e}");
        Exit::CouldNotRun
    };
    let loaded = super::load::policy(&args.policy, args.dialect)?;
    let (reqs, req_file) = Requirements::for_policy(&args.policy, args.requirements.as_deref()).map_err(fail)?;
    let listed = match (&req_file, args.server.is_empty()) {
        (Some(f), true) => reqs.servers_from(f),
        _ => Vec::new(),
    };
    let explicit = if args.server.is_empty() { &listed } else { &args.server };
    let servers = setup::servers_for(explicit, &loaded.policy, false).map_err(fail)?;
    let catalogue = catalogue_of(&servers);
    reqs.check_against(&catalogue, req_file.as_deref()).map_err(fail)?;
    let profile = args.profile.unwrap_or_default();
    let engine = Engine::new(Arc::new(loaded.policy), profile);
    let file = args.policy.display().to_string();
    let s = Setup {
        engine: &engine,
        policy_file: &file,
        catalogue: &catalogue,
        reqs: &reqs,
        seed: args.seed.unwrap_or(super::verify::DEFAULT_SEED),
        replay: ReplayCommand { policy: file.clone(), strict: profile == crate::profile::Profile::Strict },
    };
    let proofs = prove::prove(&s);
    let facts = prove::facts::of(engine.policy(), &engine, &file, &catalogue);
    let requirements = match req_file {
        Some(f) => format!("built-in baseline + {}", f.display()),
        None => report::BASELINE.to_string(),
    };
    let names = servers.iter().map(|s| s.name.clone()).collect();
    Ok(ProofReport::new(&file, profile.as_str(), names, requirements, proofs, facts))
}

pub fn run(args: Args) -> Exit {
    let report = match build(&args) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    for out in &args.outputs {
        if let Err(e) = std::fs::write(&out.path, proof::render(out.format, &report)) {
            eprintln!("error: {}: cannot write the {} report: {e}", out.path.display(), out.format.as_str());
            return Exit::CouldNotRun;
        }
    }
    print!("{}", proof::render(args.format, &report));
    exit_for(&report, args.allow_unknown)
}

/// 1 when a requirement is refuted, or unknown without `--allow-unknown`.
pub fn exit_for(report: &ProofReport, allow_unknown: bool) -> Exit {
    let failing = report.proofs.iter().any(|p| p.status == Status::Refuted || (p.status == Status::Unknown && !allow_unknown));
    if failing {
        Exit::CheckFailed
    } else {
        Exit::Ok
    }
}
