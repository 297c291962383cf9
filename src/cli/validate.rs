//! `gauntlet validate`: check policy files (`validate policies/*.yaml`; with
//! no file, every policy `gauntlet.yaml` lists, as `gauntlet verify` does).
//!
//! Intercept files get exactly `intercept validate`'s stdout and exit code
//! (so CI logs read the same); stderr carries gauntlet's diagnostics, the
//! lines every command prints about the file ([`super::load`]), then
//! Intercept's closing count for validation errors. With several files each
//! one's output follows a `==> FILE <==` line, and the exit code is the worst
//! of them. `--deny-warnings` makes any warning (an unknown key such as
//! `rate_limt`) fail the file, so CI catches typos. The catalogue and
//! PolicyLayer forms get a summary; for the catalogue form it also says what
//! Intercept would do.

use super::load::{self, DialectFlag};
use super::Exit;
use crate::policy::{self, model::Dialect, InterceptError};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy files (Intercept YAML, catalogue YAML or PolicyLayer JSON);
    /// default: every policy `gauntlet.yaml` lists (here or in a directory above).
    #[arg(conflicts_with = "config")]
    pub policy: Vec<std::path::PathBuf>,
    /// The policy file, as `intercept validate -c FILE` takes it.
    #[arg(short = 'c', long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Any warning fails the file (exit 1), e.g. an unknown key such as `rate_limt`.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Read the files as this dialect instead of detecting it from their content.
    #[arg(long, value_enum)]
    pub dialect: Option<DialectFlag>,
    /// Also report the policy facts `gauntlet prove` finds (a rule that never
    /// fires, a condition on a field the schema lacks, an unanchored regex on
    /// a destination, a limit that never binds), as warnings with file:line.
    #[arg(long)]
    pub deep: bool,
    /// With `--deep`: a mock server whose tool schemas the facts read (repeatable;
    /// default: the bundled servers that share tools with the policy).
    #[arg(long, requires = "deep")]
    pub server: Vec<std::path::PathBuf>,
}

pub fn run(args: Args) -> Exit {
    let mut paths: Vec<std::path::PathBuf> = args.config.iter().cloned().chain(args.policy.iter().cloned()).collect();
    // Files gauntlet.yaml chose are named, even one.
    let chosen = paths.is_empty();
    if chosen {
        match listed() {
            Ok(listed) => paths = listed,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::CouldNotRun;
            }
        }
    }
    let mut worst = Exit::Ok;
    for (i, path) in paths.iter().enumerate() {
        if paths.len() > 1 || chosen {
            println!("{}==> {} <==", if i == 0 { "" } else { "\n" }, path.display());
        }
        let exit = one(path, &args);
        if exit.code() > worst.code() {
            worst = exit;
        }
    }
    worst
}

/// No file named: the policies `gauntlet.yaml` lists, as `gauntlet verify` takes them.
fn listed() -> Result<Vec<std::path::PathBuf>, String> {
    use crate::scenario::requirements::Requirements;
    let program = crate::invocation::program();
    let file = Requirements::find(std::path::Path::new(".")).ok_or_else(|| {
        format!("no policy given and no `gauntlet.yaml` here or above\n  help: `{program} validate POLICY…`, or `{program} init` to write a gauntlet.yaml listing your policies")
    })?;
    let policies = Requirements::load(&file)?.policies_from(&file);
    if policies.is_empty() {
        return Err(format!("no policy given and {} lists none\n  help: add them under `policies:`", file.display()));
    }
    Ok(policies)
}

fn one(path: &std::path::Path, args: &Args) -> Exit {
    let file = path.display().to_string();
    let text = match policy::read_file(path) {
        Ok(t) => t,
        Err(e) => {
            let intercept = e.read_as.as_ref().is_some_and(|r| r.dialect == Dialect::Intercept);
            if let (true, Some(InterceptError::Load(msg))) = (intercept, &e.intercept) {
                println!("Error: {msg}");
            }
            eprint!("{}", policy::report(Err(&e)));
            return load::exit_for(&e);
        }
    };
    let loaded = policy::load_str(&text, &file, args.dialect.map(Dialect::from));
    let dialect = match &loaded {
        Ok(l) => Some(l.policy.dialect),
        Err(e) => e.read_as.as_ref().map(|r| r.dialect),
    };
    let intercept_count = match dialect {
        Some(Dialect::Intercept) => {
            let (out, err, _) = intercept_output(&text);
            out.iter().for_each(|line| println!("{line}"));
            // A load error's stderr echo repeats the stdout line: the diagnostics below say it once.
            (err != out).then_some(err)
        }
        Some(d) => {
            if let Ok(l) = &loaded {
                summary(&text, &file, d, l);
            }
            None
        }
        None => None,
    };
    eprint!("{}", policy::report(loaded.as_ref()));
    intercept_count.iter().flatten().for_each(|line| eprintln!("{line}"));
    let facts = match (&loaded, args.deep) {
        (Ok(l), true) => match deep(l, &file, &args.server) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::CouldNotRun;
            }
        },
        _ => 0,
    };
    match loaded {
        Err(e) => load::exit_for(&e),
        Ok(l) if args.deny_warnings && l.warnings.len() + facts > 0 => {
            eprintln!("error: `{file}`: {} warning(s), and --deny-warnings makes them fail", l.warnings.len() + facts);
            Exit::CheckFailed
        }
        Ok(_) => Exit::Ok,
    }
}

/// `--deep`: the policy facts, one warning each on stderr; how many.
fn deep(loaded: &policy::LoadedPolicy, file: &str, servers: &[std::path::PathBuf]) -> Result<usize, String> {
    let servers = crate::verify::setup::servers_for(servers, &loaded.policy, true)?;
    let catalogue = crate::verify::inprocess::catalogue_of(&servers);
    let engine = crate::engine::Engine::new(std::sync::Arc::new(loaded.policy.clone()), crate::profile::Profile::Intercept);
    let facts = crate::prove::facts::of(engine.policy(), &engine, file, &catalogue);
    for f in &facts {
        eprintln!("{}:{}: warning: {} ({})", f.location.file, f.location.line, f.message, f.kind);
    }
    Ok(facts.len())
}

/// The lines `intercept validate` prints: (stdout lines, stderr lines, exit).
pub fn intercept_output(text: &str) -> (Vec<String>, Vec<String>, Exit) {
    match policy::load_intercept(text) {
        Ok(_) => (vec!["Policy file is valid.".into()], Vec::new(), Exit::Ok),
        Err(InterceptError::Load(msg)) => {
            (vec![format!("Error: {msg}")], vec![format!("Error: {msg}")], Exit::CheckFailed)
        }
        Err(InterceptError::Invalid(msgs)) => (
            msgs.iter().map(|m| format!("Error: {m}")).collect(),
            vec![format!("Error: policy validation failed with {} error(s)", msgs.len())],
            Exit::CheckFailed,
        ),
    }
}

/// Prints gauntlet's verdict on a catalogue or PolicyLayer file that loads.
fn summary(text: &str, file: &str, dialect: Dialect, loaded: &policy::LoadedPolicy) {
    let tools = loaded.policy.tools.len();
    let limits: usize = loaded.policy.tools.iter().flat_map(|t| &t.rules).filter(|r| r.state.is_some()).count();
    let denies: usize =
        loaded.policy.tools.iter().flat_map(|t| &t.rules).filter(|r| r.action == policy::model::Action::Deny).count();
    let default = match loaded.policy.default {
        policy::model::DefaultAction::Allow => "allow",
        policy::model::DefaultAction::Deny => "deny",
    };
    match dialect {
        Dialect::PolicyLayer => {
            println!("Policy file is valid.");
            println!("PolicyLayer policy.json: {tools} tool(s), {limits} limit(s), default {default}.");
        }
        _ => {
            println!("Policy file is valid as gauntlet's catalogue form.");
            println!("Catalogue policy: {tools} tool(s), {limits} rate limit(s), {denies} deny rule(s), default {default}.");
        }
    }
    if let Err(verdict) = &loaded.intercept_verdict {
        println!();
        println!("Intercept itself rejects this file; `intercept validate` would print:");
        let (out, err, _) = intercept_output(text);
        for line in out.iter().chain(err.iter().filter(|l| !out.contains(l))) {
            println!("  {line}");
        }
        println!("Why: {}", why(dialect, verdict));
        println!("To run it under Intercept: {} convert {} --to intercept", crate::invocation::program(), crate::invocation::quote(file));
    }
}

fn why(dialect: Dialect, verdict: &InterceptError) -> &'static str {
    match (dialect, verdict) {
        (Dialect::Catalogue, InterceptError::Load(_)) => {
            "Intercept reads `rate_limit` as a string such as \"30/minute\", so the `{max, window}` mapping cannot be loaded."
        }
        (Dialect::Catalogue, InterceptError::Invalid(_)) => {
            "Intercept has no `allow` action (rules are `evaluate` or `deny`), needs `version: \"1\"` and a name on every rule."
        }
        (_, InterceptError::Load(_)) => "the file is not in Intercept's YAML shape.",
        (_, InterceptError::Invalid(_)) => "the file loads but breaks Intercept's validation rules.",
    }
}
