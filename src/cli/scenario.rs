//! `gauntlet scenario`: author, lint and list attack scenarios.

use std::path::{Path, PathBuf};

use super::Exit;
use crate::invocation;
use crate::scenario::{self, lint, skeleton};
use crate::verify::inprocess::catalogue_of;
use crate::verify::setup;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: ScenarioCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ScenarioCommand {
    /// Write a commented skeleton scenario, and the JSON Schema beside it for the editor.
    New {
        /// The scenario's id, in kebab-case (`bulk-refunds`); the file is DIR/NAME.yaml.
        name: String,
        /// The directory to write it in (created if missing).
        #[arg(long, default_value = "scenarios")]
        dir: std::path::PathBuf,
    },
    /// Check every scenario file of DIR (default: the built-in database): every problem of each file.
    Lint {
        /// The scenario directory to check (default: the built-in database).
        dir: Option<std::path::PathBuf>,
        /// Check targets against this server instead of the bundled ones: a server
        /// file or a bundled name, as `verify --server` takes it (repeatable).
        #[arg(long)]
        server: Vec<std::path::PathBuf>,
    },
    /// Run every scenario of DIR (default: the built-in database) against
    /// deliberately vulnerable reference configurations and secure ones;
    /// fail any that breaches no vulnerable one, holds on no secure one, or
    /// whose benign twin a secure one refuses.
    Check {
        /// Check this directory's scenarios only.
        #[arg(conflicts_with = "scenarios")]
        dir: Option<std::path::PathBuf>,
        /// Add a directory's scenarios to the built-in database, as `verify --scenarios` does (repeatable).
        #[arg(long)]
        scenarios: Vec<std::path::PathBuf>,
        /// Fail on open scenarios too (a gap every secure reference leaves as a proxy finding).
        #[arg(long)]
        strict_open: bool,
    },
    /// Show the database: the built-in scenarios plus DIR's, and where each came from.
    List {
        /// A scenario directory to add to the built-in database.
        dir: Option<std::path::PathBuf>,
        /// Show only DIR's scenarios, not the built-in database.
        #[arg(long, requires = "dir")]
        scenarios_only: bool,
    },
    /// Print the scenario file's JSON Schema (what `scenario new` writes beside a scenario).
    Schema,
}

pub fn run(args: Args) -> Exit {
    match args.command {
        ScenarioCommand::New { name, dir } => new(&name, &dir),
        ScenarioCommand::Lint { dir, server } => lint_cmd(dir.as_deref(), &server),
        ScenarioCommand::Check { dir, scenarios, strict_open } => check(dir.as_deref(), &scenarios, strict_open),
        ScenarioCommand::List { dir, scenarios_only } => list(dir.as_slice(), scenarios_only),
        ScenarioCommand::Schema => {
            print!("{}", scenario::schema::SCHEMA);
            Exit::Ok
        }
    }
}

fn new(name: &str, dir: &Path) -> Exit {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        eprintln!("error: scenario name `{name}` is not kebab-case\n  help: use lowercase letters, digits and `-`, e.g. `bulk-refunds`");
        return Exit::CouldNotRun;
    }
    let path = dir.join(format!("{name}.yaml"));
    if path.exists() {
        eprintln!("error: {} already exists\n  help: pick another name or edit the file", path.display());
        return Exit::CouldNotRun;
    }
    let run = run_command(name, dir);
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, skeleton::skeleton(name, &run))) {
        eprintln!("error: {}: cannot write: {e}", path.display());
        return Exit::CouldNotRun;
    }
    println!("wrote {}", path.display());
    // The skeleton's `$schema=scenario.schema.json` is resolved beside it: write it there.
    let schema = dir.join(skeleton::SCHEMA_FILE);
    let current = std::fs::read_to_string(&schema).ok();
    if current.as_deref() != Some(scenario::schema::SCHEMA) {
        if let Err(e) = std::fs::write(&schema, scenario::schema::SCHEMA) {
            eprintln!("error: {}: cannot write: {e}", schema.display());
            return Exit::CouldNotRun;
        }
        let what = if current.is_some() { "updated" } else { "wrote" };
        println!("{what} {} (the JSON Schema your editor checks it against)", schema.display());
    }
    let program = invocation::program();
    // One command per line, so each fits the terminal and can be copied whole.
    println!("next: edit it, then check it and run it:");
    println!("  {program} scenario lint {}", invocation::quote_path(dir));
    println!("  {run}");
    Exit::Ok
}

/// The command that runs scenario `name` of `dir`: on the policies `gauntlet.yaml`
/// lists when there is one here, else on POLICY (the user's).
fn run_command(name: &str, dir: &Path) -> String {
    use crate::scenario::requirements::Requirements;
    let program = invocation::program();
    let listed = Requirements::find(Path::new(".")).and_then(|f| Requirements::load(&f).ok()).is_some_and(|r| !r.policies.is_empty());
    let policy = if listed { "" } else { " POLICY" };
    format!("{program} verify{policy} --scenarios {} --only {name}", invocation::quote_path(dir))
}

fn lint_cmd(dir: Option<&Path>, server: &[PathBuf]) -> Exit {
    let servers = if server.is_empty() {
        setup::bundled_servers()
    } else {
        server.iter().map(|s| setup::server(s)).collect::<Result<Vec<_>, _>>()
    };
    let servers = match servers {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    };
    let catalogue = catalogue_of(&servers);
    let problems = match dir {
        Some(d) if crate::scenario::yaml_files(d).is_ok_and(|f| f.is_empty()) => {
            eprintln!("error: {} holds no scenario file (*.yaml): nothing to lint\n  help: check the path, or write one with `{} scenario new NAME --dir {}`", d.display(), invocation::program(), invocation::quote_path(d));
            return Exit::CouldNotRun;
        }
        Some(d) => lint::lint_dir(d, &catalogue),
        None => Ok(lint::lint_builtin(&catalogue)),
    };
    let shown = dir.map_or("the built-in database".to_string(), |d| d.display().to_string());
    let problems = match problems {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    };
    for p in &problems {
        println!("{p}");
    }
    let against = if server.is_empty() { String::new() } else { format!(" (targets checked against {})", servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")) };
    if problems.is_empty() {
        println!("{shown}: every scenario is valid{against}");
        Exit::Ok
    } else {
        let files = problems.iter().map(|p| &p.path).collect::<std::collections::BTreeSet<_>>().len();
        println!("{} in {}{against}", crate::wording::count(problems.len(), "problem"), crate::wording::count(files, "file"));
        Exit::CheckFailed
    }
}

fn check(dir: Option<&Path>, added: &[PathBuf], strict_open: bool) -> Exit {
    let (dirs, only_given) = match dir {
        Some(d) => (vec![d.to_path_buf()], true),
        None => (added.to_vec(), false),
    };
    let checked = setup::scenarios(&dirs, only_given, &[], false)
        .and_then(|scenarios| crate::verify::selfcheck::check(&scenarios, std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)));
    let results = match checked {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    };
    let w = results.iter().map(|r| r.id.len()).max().unwrap_or(2);
    for r in &results {
        match (r.problems().as_slice(), r.unchecked()) {
            ([], Some(why)) => println!("open  {:<w$}  breaches {}; {why}", r.id, r.breaches.as_deref().unwrap_or("-")),
            ([], None) => {
                let open = match r.breached_secure.len() {
                    0 => String::new(),
                    n => format!("; breached on {n} other secure reference × tool"),
                };
                println!("ok    {:<w$}  breaches {}; holds on {}{open}", r.id, r.breaches.as_deref().unwrap_or("-"), r.holds.as_deref().unwrap_or("-"))
            }
            (problems, _) => problems.iter().for_each(|p| println!("FAIL  {:<w$}  {p}", r.id)),
        }
    }
    let failed = results.iter().filter(|r| !r.problems().is_empty()).count();
    let unchecked = results.iter().filter(|r| r.problems().is_empty() && r.unchecked().is_some()).count();
    let shown = match (dir, added) {
        (Some(d), _) => d.display().to_string(),
        (None, []) => "the built-in database".into(),
        (None, more) => format!("the built-in database and {}", more.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")),
    };
    if strict_open && unchecked > 0 {
        println!("--strict-open: the {unchecked} open scenario(s) fail the check");
    }
    // Open: breached where vulnerable, and left open by every secure reference as a proxy finding.
    println!("{shown}: {} checked, {} passed, {failed} failed, {unchecked} open", results.len(), results.len() - failed - unchecked);
    match failed + if strict_open { unchecked } else { 0 } {
        0 => Exit::Ok,
        _ => Exit::CheckFailed,
    }
}

fn list(dirs: &[PathBuf], only_given: bool) -> Exit {
    let loaded = match scenario::database(dirs, !only_given) {
        Ok(l) => l,
        Err(errs) => {
            for e in errs {
                eprintln!("{e}");
            }
            return Exit::CouldNotRun;
        }
    };
    let w = loaded.iter().map(|l| l.scenario.id.len()).max().unwrap_or(2).max(2);
    let c = loaded.iter().map(|l| l.scenario.class.as_str().len()).max().unwrap_or(5).max(5);
    let sources: Vec<String> = loaded.iter().map(scenario::Loaded::source).collect();
    let o = sources.iter().map(String::len).max().unwrap_or(6).max(6);
    println!("{:<w$}  {:<c$}  {:<6}  {:<o$}  TITLE", "ID", "CLASS", "LAYER", "SOURCE");
    for (l, source) in loaded.iter().zip(&sources) {
        let s = &l.scenario;
        let layer = match s.layer {
            scenario::Layer::Policy => "policy",
            scenario::Layer::Proxy => "proxy",
        };
        println!("{:<w$}  {:<c$}  {:<6}  {:<o$}  {}", s.id, s.class.as_str(), layer, source, s.title);
    }
    println!("{}", crate::wording::count(loaded.len(), "scenario"));
    Exit::Ok
}
