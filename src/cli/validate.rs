//! `gauntlet validate`: check policy files (`validate policies/*.yaml`).
//!
//! Intercept files get exactly `intercept validate`'s output and exit code
//! (so CI logs read the same), plus gauntlet's warnings on stderr; with
//! several files each one's output follows a `==> FILE <==` line, and the
//! exit code is the worst of them. `--deny-warnings` makes any warning (an
//! unknown key such as `rate_limt`) fail the file, so CI catches typos. The
//! catalogue and PolicyLayer forms get gauntlet's own file:line:column
//! messages; for the catalogue form it also says what Intercept would do.

use super::Exit;
use crate::policy::{self, model::Dialect, InterceptError};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The policy files (Intercept YAML, catalogue YAML or PolicyLayer JSON).
    #[arg(required_unless_present = "config", conflicts_with = "config")]
    pub policy: Vec<std::path::PathBuf>,
    /// The policy file, as `intercept validate -c FILE` takes it.
    #[arg(short = 'c', long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Any warning fails the file (exit 1), e.g. an unknown key such as `rate_limt`.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Force a dialect instead of detecting it.
    #[arg(long, value_parser = ["intercept", "catalogue", "policylayer"])]
    pub dialect: Option<String>,
}

pub fn parse_dialect(s: Option<&str>) -> Option<Dialect> {
    match s? {
        "intercept" => Some(Dialect::Intercept),
        "catalogue" => Some(Dialect::Catalogue),
        "policylayer" => Some(Dialect::PolicyLayer),
        _ => None,
    }
}

pub fn run(args: Args) -> Exit {
    let paths: Vec<std::path::PathBuf> = args.config.iter().cloned().chain(args.policy.iter().cloned()).collect();
    let mut worst = Exit::Ok;
    for (i, path) in paths.iter().enumerate() {
        if paths.len() > 1 {
            println!("{}==> {} <==", if i == 0 { "" } else { "\n" }, path.display());
        }
        let exit = one(path, &args);
        if exit.code() > worst.code() {
            worst = exit;
        }
    }
    worst
}

fn one(path: &std::path::Path, args: &Args) -> Exit {
    let file = path.display().to_string();
    let limit = |e: &crate::limits::LimitError| {
        eprintln!("error: {}", policy::Diagnostic::over_limit(&file, e));
        Exit::CheckFailed
    };
    let text = match crate::limits::read_to_string(path) {
        Ok(t) => t,
        Err(crate::limits::ReadError::Limit(e)) => return limit(&e),
        Err(e) => {
            eprintln!("error: cannot read `{file}`: {e}");
            return Exit::CouldNotRun;
        }
    };
    if let Err(e) = crate::limits::check(&text) {
        return limit(&e);
    }
    let dialect = parse_dialect(args.dialect.as_deref()).unwrap_or_else(|| policy::detect::detect(&text, &file));
    let (exit, warnings) = match dialect {
        Dialect::Intercept => intercept(&text, &file),
        Dialect::Catalogue | Dialect::PolicyLayer => other(&text, &file, dialect),
    };
    if args.deny_warnings && warnings > 0 && exit == Exit::Ok {
        eprintln!("error: `{file}`: {warnings} warning(s), and --deny-warnings makes them fail");
        return Exit::CheckFailed;
    }
    exit
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

/// Prints Intercept's lines and gauntlet's warnings; returns the exit and the warning count.
fn intercept(text: &str, file: &str) -> (Exit, usize) {
    let (out, err, exit) = intercept_output(text);
    for line in out {
        println!("{line}");
    }
    let warnings = policy::intercept_warnings(text, file);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if let Err(e) = policy::yaml::parse(text) {
        eprintln!("error: {file}:{}:{}: invalid YAML: {}", e.line, e.column, e.message);
    }
    for line in err {
        eprintln!("{line}");
    }
    (exit, warnings.len())
}

/// Prints gauntlet's verdict on a catalogue or PolicyLayer file; returns the exit and the warning count.
fn other(text: &str, file: &str, dialect: Dialect) -> (Exit, usize) {
    let loaded = match policy::load_str(text, file, Some(dialect)) {
        Ok(l) => l,
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("error: {d}");
            }
            eprintln!("error: `{file}` is not a valid {} policy ({} error(s))", dialect.as_str(), e.diagnostics.len());
            return (Exit::CheckFailed, 0);
        }
    };
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
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    (Exit::Ok, loaded.warnings.len())
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
