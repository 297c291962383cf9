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
    /// Write a commented skeleton scenario.
    New {
        /// The scenario's id, in kebab-case (`bulk-refunds`); the file is DIR/NAME.yaml.
        name: String,
        /// The directory to write it in (created if missing).
        #[arg(long, default_value = "scenarios")]
        dir: std::path::PathBuf,
    },
    /// Check every scenario file of DIR (default: the built-in database).
    Lint {
        /// The scenario directory to check (default: the built-in database).
        dir: Option<std::path::PathBuf>,
    },
    /// Show the database: the built-in scenarios plus DIR's, and where each came from.
    List {
        /// A scenario directory to add to the built-in database.
        dir: Option<std::path::PathBuf>,
        /// Show only DIR's scenarios, not the built-in database.
        #[arg(long, requires = "dir")]
        scenarios_only: bool,
    },
}

pub fn run(args: Args) -> Exit {
    match args.command {
        ScenarioCommand::New { name, dir } => new(&name, &dir),
        ScenarioCommand::Lint { dir } => lint_cmd(dir.as_deref()),
        ScenarioCommand::List { dir, scenarios_only } => list(dir.as_slice(), scenarios_only),
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
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, skeleton::skeleton(name))) {
        eprintln!("error: {}: cannot write: {e}", path.display());
        return Exit::CouldNotRun;
    }
    println!("wrote {}", path.display());
    let (program, dir) = (invocation::program(), invocation::quote_path(dir));
    println!("next: edit it, then `{program} scenario lint {dir}` and `{program} verify POLICY --scenarios {dir} --only {name}`");
    Exit::Ok
}

fn lint_cmd(dir: Option<&Path>) -> Exit {
    let servers = match setup::bundled_servers() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    };
    let catalogue = catalogue_of(&servers);
    let (problems, shown) = match dir {
        Some(d) => (lint::lint_dir(d, &catalogue), d.display().to_string()),
        None => (Ok(lint::lint_builtin(&catalogue)), "the built-in database".to_string()),
    };
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
    if problems.is_empty() {
        println!("{shown}: every scenario is valid");
        Exit::Ok
    } else {
        println!("{} problem(s)", problems.len());
        Exit::CheckFailed
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
    println!("{} scenarios", loaded.len());
    Exit::Ok
}
