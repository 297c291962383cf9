//! `gauntlet harden`: write a policy that meets the requirements, proven
//! by a run of the attack database before it is written.
//!
//! It always writes the strongest policy it could build. Exit 0: it meets
//! the requirements (0 policy findings, 0 over-blocking); 1: it does not
//! (each unmet requirement is listed with the edit that would meet it);
//! 2: could not run.

use std::path::PathBuf;

use super::Exit;
use crate::harden::harden::{self as hardening, Hardened};
use crate::harden::{patch, suggest};
use crate::policy::model::{Dialect, Policy};
use crate::profile::Profile;
use crate::report::blame_line;
use crate::scenario::requirements::Requirements;
use crate::verify::destinations::Origin;
use crate::verify::{setup, Summary};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy to start from (any dialect); without it, a policy is written from the servers alone.
    pub policy: Option<PathBuf>,
    /// A mock server to harden for: a server file or a bundled server's name
    /// (repeatable); default with a policy: every bundled server whose tools it names.
    #[arg(long)]
    pub server: Vec<PathBuf>,
    /// Where to write the hardened policy. Requirements come from a
    /// `gauntlet.yaml` in its directory (as `verify` will read them there).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Output dialect: Intercept YAML (default) or PolicyLayer's policy.json.
    #[arg(long, default_value = "intercept", value_parser = ["intercept", "policylayer"])]
    pub to: String,
    /// A directory of attack scenarios to add to the built-in database the policy is proven against (repeatable).
    #[arg(long, value_name = "DIR")]
    pub scenarios: Vec<PathBuf>,
    /// Prove it against the `--scenarios` directories only, not the built-in database.
    #[arg(long)]
    pub scenarios_only: bool,
    /// The proxy behaviour to prove it under: `intercept` (default) or `strict`.
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// Seed for every randomized behaviour (default 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Read the starting policy as this dialect instead of detecting it from its content.
    #[arg(long, value_enum)]
    pub dialect: Option<super::load::DialectFlag>,
}

fn could_not_run(msg: impl std::fmt::Display) -> Exit {
    eprintln!("error: {msg}");
    Exit::CouldNotRun
}

fn counts(s: &Summary) -> String {
    format!("{} policy findings, {} over-blocking, {} proxy findings", s.policy_findings, s.over_blocking, s.proxy_findings)
}

pub fn run(args: Args) -> Exit {
    match harden(&args) {
        Ok(exit) => exit,
        Err(e) => could_not_run(e),
    }
}

fn harden(args: &Args) -> Result<Exit, String> {
    let seed = args.seed.unwrap_or(super::verify::DEFAULT_SEED);
    let profile = args.profile.unwrap_or_default();
    let loaded = match &args.policy {
        Some(p) => match super::load::policy(p, args.dialect) {
            Ok(loaded) => Some(loaded),
            Err(exit) => return Ok(exit),
        },
        None => None,
    };
    let servers = match &loaded {
        // Explicit servers need not share a tool with the policy yet: harden adds their entries.
        Some(l) => setup::servers_for(&args.server, &l.policy, !args.server.is_empty())?,
        None if args.server.is_empty() => {
            return Err(format!(
                "without a policy, harden needs the servers to write one for\n  help: `{} harden --server NAME -o policy.yaml` (a bundled server's name or a server file)",
                crate::invocation::program()
            ))
        }
        None => args.server.iter().map(|p| setup::server(p)).collect::<Result<Vec<_>, _>>()?,
    };
    let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
    let (reqs, req_file) = Requirements::for_policy(&args.output, None)?;
    reqs.check_against(&crate::verify::inprocess::catalogue_of(&servers), req_file.as_deref())?;
    let scenarios = setup::scenarios(&args.scenarios, args.scenarios_only, &[], false)?;
    let out_name = args.output.display().to_string();
    let dialect = if args.to == "policylayer" { Dialect::PolicyLayer } else { Dialect::Intercept };
    // The text harden edits: the user's file itself when it is in the output dialect,
    // else its form in that dialect, else a skeleton.
    let base = match (&args.policy, &loaded) {
        (Some(p), Some(l)) if l.policy.dialect == dialect => {
            std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?
        }
        (Some(p), Some(l)) => {
            let (text, losses) = match dialect {
                Dialect::PolicyLayer => crate::policy::policylayer::write(&l.policy),
                _ => {
                    let c = crate::policy::to_intercept::convert(&l.policy);
                    (c.yaml, c.losses)
                }
            };
            for loss in &losses {
                eprintln!("note: {}: {loss}", p.display());
            }
            text
        }
        _ => hardening::skeleton_in(dialect, &names),
    };
    let setup = suggest::Setup {
        file: out_name.clone(),
        dialect,
        servers: &servers,
        scenarios: &scenarios,
        reqs: &reqs,
        profile,
        seed,
        reproduce: format!("{} verify {}", crate::invocation::program(), crate::invocation::quote_path(&args.output)),
    };
    eprintln!(
        "gauntlet harden: seed {seed}; servers {}; requirements: built-in baseline{}",
        names.join(", "),
        req_file.map(|f| format!(" + {}", f.display())).unwrap_or_default()
    );
    let input = loaded.map(|l| l.policy).unwrap_or_else(|| Policy::empty(Dialect::Intercept));
    let before = Summary::of(&setup.verify_policy(input.clone(), profile)?);
    let what = if args.policy.is_some() { "the input policy" } else { "no policy (everything allowed)" };
    println!("before ({what}): {}", counts(&before));
    let hardened = hardening::harden(&setup, &base)?;
    let after = Summary::of(&hardened.outcomes);
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create the directory: {e}", dir.display()))?;
    }
    // Comments and a description written for the input would describe the output as the input.
    let text = match &args.policy {
        Some(p) if dialect == Dialect::Intercept => hardening::mark_input(&base, &hardened.text, &p.display().to_string()),
        _ => hardened.text.clone(),
    };
    std::fs::write(&args.output, &text).map_err(|e| format!("{out_name}: cannot write: {e}"))?;
    println!("after ({out_name}): {}", counts(&after));
    for (field, admits, origin) in &hardened.assumed {
        let (tool, path) = field.split_once('.').unwrap_or((field, ""));
        let (what, effect) = match origin {
            Origin::Policy => ("the value your policy's own conditions admit", "other values stay refused"),
            _ => ("a stand-in value", "your legitimate calls will be refused"),
        };
        eprintln!(
            "warning: `{field}` has no allowlist in gauntlet.yaml, so {out_name} admits only {what} ({admits}): \
             {effect}; learn the list with `gauntlet init --from-trace TRACE.jsonl --server …`, \
             or write `tools: {{{tool}: {{fields: {{{path}: …}}}}}}`"
        );
    }
    if args.policy.is_some() && input.dialect == dialect {
        print!("{}", patch::diff(&out_name, &base, &text));
    }
    numbers(&hardened);
    taken(&hardened);
    let proven = format!(
        "{} × {} ({})",
        crate::wording::count(scenarios.len(), "scenario"),
        crate::wording::count(setup.catalogue().len(), "tool"),
        crate::wording::count(hardened.runs, "run")
    );
    if hardened.meets() {
        println!("wrote {out_name}: verified against {proven}: 0 policy findings, 0 over-blocking");
        notes(&hardened.gaps);
        return Ok(Exit::Ok);
    }
    println!("wrote {out_name}: the strongest policy gauntlet could build, verified against {proven}: {}", counts(&after));
    let exit = unmet(&hardened, dialect);
    notes(&hardened.gaps);
    Ok(exit)
}

/// What no condition could say, or a declared workload asks past a requirement.
fn notes(gaps: &[String]) {
    if gaps.is_empty() {
        return;
    }
    println!("Notes ({}): what the policy cannot say; the proof run above shows whether a finding is left", gaps.len());
    for g in gaps {
        println!("  {g}");
    }
}

/// Where each number harden wrote came from, one line per reason.
fn numbers(h: &Hardened) {
    let mut by_reason: Vec<(String, Vec<String>)> = Vec::new();
    for (place, why) in h.edits.iter().flat_map(|e| e.notes()) {
        match by_reason.iter_mut().find(|(w, _)| *w == why) {
            Some((_, places)) => places.push(place),
            None => by_reason.push((why, vec![place])),
        }
    }
    if by_reason.is_empty() {
        return;
    }
    println!("Where each number comes from:");
    for (why, places) in by_reason {
        println!("  {}: {why}", places.join(", "));
    }
}

/// What harden hid or removed of the starting policy, each with its reason:
/// a tool the requirements deny, a condition that refused legitimate calls.
fn taken(h: &Hardened) {
    let taken: Vec<(String, String)> = h.edits.iter().filter_map(|e| e.taken()).collect();
    if taken.is_empty() {
        return;
    }
    println!("Hidden or removed ({}), and why:", taken.len());
    for (place, why) in taken {
        println!("  {place}: {why}");
    }
}

/// What the written policy does not meet, each with the edit that would meet it.
fn unmet(h: &Hardened, dialect: Dialect) -> Exit {
    println!("Not met ({}): each with the edit that meets it", h.unwritable.len() + h.unmet.len() + blamed(&h.open).len());
    for u in &h.unwritable {
        println!("  {u}");
    }
    // One line per place in the policy, not one per scenario that ran into it.
    for (line, outcomes) in blamed(&h.open) {
        let first = outcomes[0];
        let names: Vec<String> = outcomes.iter().map(|o| format!("{} × {}", o.scenario, o.tool)).collect();
        println!(
            "  {} ({} {}): {line}; change it by hand",
            crate::report::verdict_label(first),
            outcomes.len(),
            if outcomes.len() == 1 { "finding".to_string() } else { format!("findings: {}", crate::harden::suggest::grouped(&names)) }
        );
    }
    if !h.unmet.is_empty() {
        println!("  requirements {} cannot express (requirement × tool):", patch::dialect_name(dialect));
        for m in &h.unmet {
            println!("    {} × {}: {} (open: {})", m.requirement, m.tool, m.why, m.findings.join(", "));
        }
        println!(
            "  help: Intercept YAML (the default `--to intercept`) expresses them; or relax them in the gauntlet.yaml beside the output to accept this {}",
            patch::dialect_name(dialect)
        );
    }
    Exit::CheckFailed
}

/// Open findings grouped by the sentence that blames them.
fn blamed(open: &[crate::verify::Outcome]) -> Vec<(String, Vec<&crate::verify::Outcome>)> {
    let mut out: Vec<(String, Vec<&crate::verify::Outcome>)> = Vec::new();
    for o in open {
        let line = blame_line(o).unwrap_or_else(|| o.observed.to_string());
        match out.iter_mut().find(|(l, _)| *l == line) {
            Some((_, os)) => os.push(o),
            None => out.push((line, vec![o])),
        }
    }
    out
}
