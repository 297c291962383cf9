//! `gauntlet init`: set up a user's repository for verification in CI.
//!
//! Writes a commented `gauntlet.yaml` (the requirements, written out as the
//! built-in baseline so every default is visible, and which policies and
//! servers `gauntlet verify` checks) and `gauntlet.ci.yml`, a CI job to copy
//! into the repository's CI configuration. Never overwrites a file.

use std::path::{Path, PathBuf};

use super::Exit;
use crate::invocation;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to set up (default: the current one).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// A policy to verify, relative to DIR (repeatable).
    #[arg(long)]
    pub policy: Vec<PathBuf>,
    /// A mock server to verify against: a file relative to DIR or a bundled name (repeatable).
    #[arg(long)]
    pub server: Vec<PathBuf>,
}

/// The file names `init` writes.
pub const CONFIG: &str = "gauntlet.yaml";
pub const CI_SNIPPET: &str = "gauntlet.ci.yml";

fn list(key: &str, items: &[PathBuf], example: &str) -> String {
    if items.is_empty() {
        return format!("{key}: []\n#  - {example}\n");
    }
    let mut s = format!("{key}:\n");
    for i in items {
        s.push_str(&format!("  - {}\n", serde_json::Value::String(i.display().to_string())));
    }
    s
}

/// The commented `gauntlet.yaml` text.
pub fn config_text(policies: &[PathBuf], servers: &[PathBuf]) -> String {
    CONFIG_TEMPLATE
        .replace("{policies}", &list("policies", policies, "policies/github.yaml"))
        .replace("{servers}", &list("servers", servers, "mock-servers/my-server.yaml"))
}

const CONFIG_TEMPLATE: &str = r#"# gauntlet.yaml: what `gauntlet verify` checks in this repository.
# `gauntlet verify` with no policy argument verifies every policy listed
# here; `gauntlet verify POLICY` uses this file when it sits beside the
# policy or in a directory above it (or pass `--requirements FILE`).
# Keys and values: gauntlet.schema.json in gauntlet's repository, and the
# README section "Requirements: gauntlet.yaml".

# The policies to verify, relative to this file.
{policies}
# The mock servers to verify them against: server files (relative to this
# file; `gauntlet mock record` writes one from your real server) or bundled
# names (aksjah, github, filesystem, ...). Empty: every bundled server whose
# tools the policy names.
{servers}
# What every policy must guarantee, by risk class of the tool (read, write,
# execute, financial, destructive) and per tool. Written out here as the
# built-in baseline; a key left out inherits it, and a tool's own entry
# overrides its risk class's. Windows: 30s, 1m, 1h, 1d. A rate bound holds
# in any sliding window of that length unless `calendar: true`.
risk:
  write: {rate: {count: 30, window: 1m}}       # at most 30 calls in any minute
  execute: {rate: {count: 10, window: 1m}}
  destructive: {denied: true}                 # denied or hidden: no call may reach it
  financial:
    rate: {count: 10, window: 1m}
    max_amount_per_call: 50000
    max_amount_per_window: {amount: 200000, window: 1d}
tools: {}
#  create_charge: {max_amount_per_call: 100}   # one tool, stricter than its class

# No call whose arguments violate the tool's inputSchema may reach the server.
schema_validation: true
# No call whose serialized arguments exceed this many bytes may reach the server.
max_argument_bytes: 65536
"#;

/// The CI job: GitHub Actions, with the commands any other CI runs.
pub fn ci_text() -> String {
    CI_TEMPLATE.to_string()
}

const CI_TEMPLATE: &str = r#"# A CI job for gauntlet: copy it into .github/workflows/ (GitHub Actions).
# On any other CI, the job is the commands under `run:`.
# Exit 0: every policy holds; 1: a policy finding (see the report);
# 2: the run could not happen or tested nothing.
name: gauntlet
on: [push, pull_request]
jobs:
  verify:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      # URL: wherever you get gauntlet from; pin a tag or revision with --tag/--rev.
      - run: cargo install --locked --git URL gauntlet
      # Your policy files: a typo in a key (e.g. rate_limt) fails the job.
      - run: gauntlet validate --deny-warnings policies/*.yaml
      # Every policy gauntlet.yaml lists, against its servers and requirements.
      - run: gauntlet verify
"#;

fn write_new(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("{} already exists; gauntlet init never overwrites a file\n  help: edit it, or remove it and run init again", path.display()),
        _ => format!("{}: cannot write: {e}", path.display()),
    })?;
    f.write_all(text.as_bytes()).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

pub fn run(args: Args) -> Exit {
    let config = args.dir.join(CONFIG);
    let ci = args.dir.join(CI_SNIPPET);
    for p in [&config, &ci] {
        if p.exists() {
            eprintln!("error: {} already exists; gauntlet init never overwrites a file\n  help: edit it, or remove it and run init again", p.display());
            return Exit::CouldNotRun;
        }
    }
    if let Err(e) = std::fs::create_dir_all(&args.dir)
        .map_err(|e| format!("{}: cannot create the directory: {e}", args.dir.display()))
        .and_then(|()| write_new(&config, &config_text(&args.policy, &args.server)))
        .and_then(|()| write_new(&ci, &ci_text()))
    {
        eprintln!("error: {e}");
        return Exit::CouldNotRun;
    }
    println!("wrote {} and {}", config.display(), ci.display());
    let program = invocation::program();
    println!("next: list your policies in {}, then `{program} verify` (and copy {} into your CI)", config.display(), ci.display());
    Exit::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::requirements::{Requirements, SCHEMA};

    #[test]
    fn the_written_file_is_the_baseline_spelled_out_and_schema_valid() {
        let text = config_text(&["policies/a.yaml".into()], &[]);
        let r = Requirements::parse(&text).unwrap();
        assert_eq!(Requirements { policies: vec![], ..r.clone() }, Requirements::baseline());
        assert_eq!(r.policies, [PathBuf::from("policies/a.yaml")]);
        let doc: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&doc), "{text}");
        let empty = Requirements::parse(&config_text(&[], &[])).unwrap();
        assert_eq!(empty, Requirements::baseline());
        assert!(serde_yaml::from_str::<serde_yaml::Value>(&ci_text()).is_ok());
    }
}
