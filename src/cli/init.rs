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
    /// A policy to verify, relative to DIR (repeatable); it must exist.
    #[arg(long)]
    pub policy: Vec<PathBuf>,
    /// A mock server to verify against: a file relative to DIR or a bundled name (repeatable).
    #[arg(long)]
    pub server: Vec<PathBuf>,
    /// Where CI installs gauntlet from: a git URL, `#REV` to pin a commit or tag
    /// (default: where this binary was installed from, when `cargo install --git` recorded it).
    #[arg(long, value_name = "GIT_URL[#REV]")]
    pub install_from: Option<String>,
    /// Learn where destination fields' values may go from these traces of
    /// legitimate calls (`gauntlet replay` traces, `gauntlet proxy --record`
    /// files, mock ledgers); needs `--server`.
    #[arg(long = "from-trace", value_name = "TRACE.jsonl", num_args = 1.., requires = "server")]
    pub from_trace: Vec<PathBuf>,
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

/// The commented `gauntlet.yaml` text; `tools` replaces the example `tools:` section.
pub fn config_text(policies: &[PathBuf], servers: &[PathBuf], tools: Option<&str>) -> String {
    let text = CONFIG_TEMPLATE
        .replace("{policies}", &list("policies", policies, "policies/github.yaml"))
        .replace("{servers}", &list("servers", servers, "mock-servers/my-server.yaml"));
    match tools {
        Some(learned) => {
            let start = text.find(TOOLS_EXAMPLE_START).unwrap_or(0);
            let end = text.find(TOOLS_EXAMPLE_END).unwrap_or(start);
            format!("{}{learned}\n{}", &text[..start], &text[end..])
        }
        None => text,
    }
}

/// The example `tools:` section of the template, which learned requirements replace.
const TOOLS_EXAMPLE_START: &str = "tools: {}\n";
const TOOLS_EXAMPLE_END: &str = "# Where every destination field of every tool may point";

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
# execute, financial, destructive, credential) and per tool. Written out here as the
# built-in baseline; a key left out inherits it, and a tool's own entry
# overrides its risk class's. Windows: 30s, 1m, 1h, 1d. A rate bound holds
# in any sliding window of that length unless `calendar: true`.
risk:
  write: {rate: {count: 30, window: 1m}}       # at most 30 calls in any minute
  execute: {rate: {count: 10, window: 1m, calendar: true}}   # 10 per calendar minute, as hosted limits count
  destructive: {denied: true}                 # denied or hidden: no call may reach it
  credential: {denied: true}                  # password and key changes are a person's
  financial:
    rate: {count: 10, window: 1m}
    max_amount_per_call: 50000                # minor units (cents); {amount: 500, unit: major} in currency units
    max_amount_per_window: {amount: 200000, window: 1d}
tools: {}
#  create_charge: {max_amount_per_call: 100}   # one tool, stricter than its class
#  send_email:                                 # where its values may go
#    fields:
#      to: {domains: [acme.com], each: true}
#      cc: {domains: [acme.com], each: true, optional: true}
#    forbidden: [bcc]

# Where every destination field of every tool may point (recipients, URLs,
# paths, accounts): `gauntlet init --from-trace` learns these from your traffic.
#roles:
#  destination: {domains: [acme.com], schemes: [https], hosts: [api.acme.com], roots: [/srv/share]}

# No call whose arguments violate the tool's inputSchema may reach the server.
schema_validation: true
# No call whose serialized arguments exceed this many bytes may reach the server.
max_argument_bytes: 65536
"#;

/// Where CI gets gauntlet from: a git repository (and the revision to pin), or
/// nothing known (the job then reads `GAUNTLET_GIT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Git { url: String, rev: Option<String> },
    Unknown,
}

impl Source {
    /// `URL` or `URL#REV`, as `--install-from` takes it.
    pub fn parse(arg: &str) -> Source {
        match arg.split_once('#') {
            Some((url, rev)) if !rev.is_empty() => Source::Git { url: url.to_string(), rev: Some(rev.to_string()) },
            _ => Source::Git { url: arg.trim_end_matches('#').to_string(), rev: None },
        }
    }

    /// Where `cargo install` recorded this binary came from (`.crates.toml` in
    /// its install root, a line like `"gauntlet 0.1.0 (git+URL?tag=v1#SHA)"`),
    /// when that is a git repository CI can fetch.
    pub fn of_this_binary() -> Source {
        let exe = std::env::current_exe().ok();
        let root = exe.as_deref().and_then(Path::parent).and_then(Path::parent);
        let text = root.and_then(|r| std::fs::read_to_string(r.join(".crates.toml")).ok()).unwrap_or_default();
        Source::from_crates_toml(&text)
    }

    fn from_crates_toml(text: &str) -> Source {
        let recorded = text.lines().filter_map(|l| l.trim().strip_prefix("\"gauntlet ")).find_map(|l| l.split_once("(git+")).map(|(_, rest)| rest);
        let Some(rest) = recorded else { return Source::Unknown };
        let source = rest.split(')').next().unwrap_or_default();
        let (url, rev) = source.split_once('#').unwrap_or((source, ""));
        let url = url.split('?').next().unwrap_or(url);
        Source::Git { url: url.to_string(), rev: (!rev.is_empty()).then(|| rev.to_string()) }
    }

    /// The shell lines that install gauntlet (a block under `run: |`).
    fn install(&self) -> String {
        match self {
            Source::Git { url, rev: Some(rev) } => format!("cargo install --locked --git {} --rev {} gauntlet", invocation::quote(url), invocation::quote(rev)),
            Source::Git { url, rev: None } => format!("cargo install --locked --git {} gauntlet", invocation::quote(url)),
            Source::Unknown => "test -n \"$GAUNTLET_GIT\" || { echo 'set GAUNTLET_GIT: the git repository CI installs gauntlet from (see the comment above this step)'; exit 2; }\ncargo install --locked --git \"$GAUNTLET_GIT\" gauntlet".into(),
        }
    }
}

/// The CI job: GitHub Actions, with the commands any other CI runs.
pub fn ci_text(source: &Source) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let (comment, env) = match source {
        Source::Git { .. } => ("      # gauntlet itself; skipped when this version is on PATH already.\n".to_string(), String::new()),
        Source::Unknown => (
            "      # gauntlet itself; skipped when this version is on PATH already. The gauntlet\n      # that wrote this job was installed from a local path, which CI cannot fetch:\n      # set GAUNTLET_GIT (on GitHub, a repository variable) to the git URL of\n      # gauntlet, or write this job again with `gauntlet init --install-from URL#REV`.\n"
                .to_string(),
            "env: {GAUNTLET_GIT: \"${{ vars.GAUNTLET_GIT }}\"}\n        ".to_string(),
        ),
    };
    let install: String = source.install().lines().map(|l| format!("            {l}\n")).collect();
    let install = format!("          gauntlet --version 2>/dev/null | grep -qx 'gauntlet {version}' || {{\n{install}          }}\n");
    format!(
        r#"# A CI job for gauntlet: copy it into .github/workflows/ (GitHub Actions).
# On any other CI, the job is the commands under `run:`, run from the
# repository's root. Exit 0: every policy holds; 1: a policy finding (see
# the report); 2: the run could not happen or tested nothing.
name: gauntlet
on: [push, pull_request]
jobs:
  verify:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
{comment}      - {env}run: |
{install}      # Every policy gauntlet.yaml lists: a typo in a key (e.g. rate_limt) fails the job.
      - run: gauntlet validate --deny-warnings
      # The same policies, against their servers and requirements.
      - run: gauntlet verify
"#
    )
}

fn write_new(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("{} already exists; gauntlet init never overwrites a file\n  help: edit it, or remove it and run init again", path.display()),
        _ => format!("{}: cannot write: {e}", path.display()),
    })?;
    f.write_all(text.as_bytes()).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// What is wrong with the `--policy` and `--server` arguments, each on its line.
fn check_args(args: &Args) -> Vec<String> {
    let mut wrong = Vec::new();
    for p in &args.policy {
        let at = args.dir.join(p);
        if !at.is_file() {
            let why = if at.exists() { "is not a file" } else { "does not exist" };
            wrong.push(format!("--policy {}: {} {why} (a policy is named relative to {})", p.display(), at.display(), args.dir.display()));
        }
    }
    for s in &args.server {
        let as_file = args.dir.join(s);
        let arg = if as_file.is_file() { as_file } else { s.clone() };
        if let Err(e) = crate::mock::bundled::resolve(&arg) {
            wrong.push(format!("--server {}: {e}", s.display()));
        }
    }
    wrong
}

/// `--from-trace`: the learned `tools:` section, and what the traces could not teach (for stderr).
fn learn(args: &Args) -> Result<(String, Vec<String>), String> {
    let servers = args
        .server
        .iter()
        .map(|s| {
            let in_dir = args.dir.join(s);
            crate::verify::setup::server(if in_dir.is_file() { &in_dir } else { s })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let catalogue = crate::verify::inprocess::catalogue_of(&servers);
    let mut learner = crate::scenario::learn::Learner::new(&catalogue);
    let mut audit_only = Vec::new();
    for trace in &args.from_trace {
        let shown = trace.display().to_string();
        let mut bad = Vec::new();
        let kinds = super::replay::each_line(trace, |reader, line| {
            match line.and_then(|l| reader.next_line(l)) {
                Ok(Some(step)) => learner.add(&step.tool, step.at, step.arguments.as_ref()),
                Ok(None) => {}
                Err(e) => bad.push(format!("{shown}:{}:{}: {}", e.line, e.column.unwrap_or(1), e.message)),
            }
            Ok(())
        })
        .map_err(|e| format!("{shown}: {e}"))?;
        if !bad.is_empty() {
            return Err(format!("{}\n  help: a trace holds `gauntlet replay` lines, `gauntlet proxy --record` lines or a mock's ledger", bad.join("\n")));
        }
        if kinds.audit && !kinds.trace && !kinds.ledger {
            audit_only.push(shown);
        }
    }
    let mut notes = Vec::new();
    if learner.without_arguments > 0 {
        notes.push(format!(
            "{} recorded without their arguments{} (an audit log keeps only a hash): nothing was learned from them; record traffic with `gauntlet proxy --record FILE`",
            crate::wording::count(learner.without_arguments, "call"),
            if audit_only.is_empty() { String::new() } else { format!(" in {}", audit_only.join(", ")) }
        ));
    }
    for (tool, n) in &learner.unknown {
        notes.push(format!("`{tool}` ({}) is on no server given with --server: not learned", crate::wording::count(*n, "call")));
    }
    let learned = learner.finish();
    if learned.is_empty() {
        notes.push("the traces set no destination field of any tool on the servers: the `tools:` section is empty".into());
    }
    let sources = args.from_trace.iter().map(|t| t.display().to_string()).collect::<Vec<_>>().join(", ");
    Ok((learned.yaml(&sources), notes))
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
    let wrong = check_args(&args);
    if !wrong.is_empty() {
        for w in wrong {
            eprintln!("error: {w}");
        }
        eprintln!("  help: nothing was written; fix the arguments and run init again");
        return Exit::CouldNotRun;
    }
    let learned = if args.from_trace.is_empty() {
        None
    } else {
        match learn(&args) {
            Ok((tools, notes)) => {
                for n in notes {
                    eprintln!("note: {n}");
                }
                Some(tools)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::CouldNotRun;
            }
        }
    };
    let source = args.install_from.as_deref().map_or_else(Source::of_this_binary, Source::parse);
    if let Err(e) = std::fs::create_dir_all(&args.dir)
        .map_err(|e| format!("{}: cannot create the directory: {e}", args.dir.display()))
        .and_then(|()| write_new(&config, &config_text(&args.policy, &args.server, learned.as_deref())))
        .and_then(|()| write_new(&ci, &ci_text(&source)))
    {
        eprintln!("error: {e}");
        return Exit::CouldNotRun;
    }
    println!("wrote {} and {}", config.display(), ci.display());
    let program = invocation::program();
    let cd = if args.dir == Path::new(".") { String::new() } else { format!("cd {} && ", invocation::quote_path(&args.dir)) };
    if args.policy.is_empty() {
        println!("next: list your policies under `policies:` in {}, then `{cd}{program} verify`", config.display());
    } else {
        let n = crate::wording::count(args.policy.len(), "policy");
        println!("next: `{cd}{program} verify` checks the {n} it lists");
    }
    match &source {
        Source::Git { .. } => println!("CI: copy {} into .github/workflows/ (or run its `run:` lines on your CI)", ci.display()),
        Source::Unknown => {
            let text = format!(
                "CI: copy {} into .github/workflows/ and set GAUNTLET_GIT to the git URL CI installs gauntlet from (this one came from a local path), or run init again with --install-from URL#REV",
                ci.display()
            );
            println!("{}", crate::wording::wrap(&text, 100, 0, 2).join("\n  "));
        }
    }
    Exit::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::requirements::{Requirements, SCHEMA};

    #[test]
    fn the_written_file_is_the_baseline_spelled_out_and_schema_valid() {
        let text = config_text(&["policies/a.yaml".into()], &[], None);
        let r = Requirements::parse(&text).unwrap();
        assert_eq!(Requirements { policies: vec![], ..r.clone() }, Requirements::baseline());
        assert_eq!(r.policies, [PathBuf::from("policies/a.yaml")]);
        let doc: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&doc), "{text}");
        let empty = Requirements::parse(&config_text(&[], &[], None)).unwrap();
        assert_eq!(empty, Requirements::baseline());
        for source in [Source::Unknown, Source::parse("https://example.org/g.git#v1")] {
            assert!(serde_yaml::from_str::<serde_yaml::Value>(&ci_text(&source)).is_ok(), "{}", ci_text(&source));
        }
    }

    #[test]
    fn the_install_source_is_what_cargo_recorded_or_what_was_given() {
        let git = "[v1]\n\"gauntlet 0.1.0 (git+https://example.org/gauntlet.git?tag=v0.1.0#0123abc)\" = [\"gauntlet\"]\n";
        assert_eq!(
            Source::from_crates_toml(git),
            Source::Git { url: "https://example.org/gauntlet.git".into(), rev: Some("0123abc".into()) }
        );
        let path = "[v1]\n\"gauntlet 0.1.0 (path+file:///home/me/gauntlet)\" = [\"gauntlet\"]\n";
        assert_eq!(Source::from_crates_toml(path), Source::Unknown);
        assert_eq!(Source::parse("https://x/g#main"), Source::Git { url: "https://x/g".into(), rev: Some("main".into()) });
        let job = ci_text(&Source::parse("https://x/g#main"));
        assert!(job.contains("cargo install --locked --git https://x/g --rev main gauntlet"), "{job}");
        assert!(!job.contains("URL"), "{job}");
        assert!(ci_text(&Source::Unknown).contains("GAUNTLET_GIT"));
    }
}
