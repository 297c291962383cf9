//! `gauntlet scenario`: author, lint and list attack scenarios.

use std::path::{Path, PathBuf};

use super::Exit;
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
    New { name: String, #[arg(long, default_value = "scenarios")] dir: std::path::PathBuf },
    /// Check every scenario file.
    Lint { dir: Option<std::path::PathBuf> },
    /// Show the database.
    List { dir: Option<std::path::PathBuf> },
}

fn default_dir(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| PathBuf::from("scenarios"))
}

pub fn run(args: Args) -> Exit {
    match args.command {
        ScenarioCommand::New { name, dir } => new(&name, &dir),
        ScenarioCommand::Lint { dir } => lint_cmd(&default_dir(dir)),
        ScenarioCommand::List { dir } => list(&default_dir(dir)),
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
    println!("next: edit it, then `gauntlet scenario lint {}` and `gauntlet verify POLICY --only {name}`", dir.display());
    Exit::Ok
}

fn lint_cmd(dir: &Path) -> Exit {
    let servers = match setup::all_servers(Path::new(setup::SERVER_DIR)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    };
    let catalogue = catalogue_of(&servers);
    let problems = match lint::lint_dir(dir, &catalogue) {
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
        println!("{}: every scenario is valid", dir.display());
        Exit::Ok
    } else {
        println!("{} problem(s)", problems.len());
        Exit::CheckFailed
    }
}

fn list(dir: &Path) -> Exit {
    let loaded = match scenario::load_dir(dir) {
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
    println!("{:<w$}  {:<c$}  {:<6}  TITLE", "ID", "CLASS", "LAYER");
    for l in &loaded {
        let s = &l.scenario;
        let layer = match s.layer {
            scenario::Layer::Policy => "policy",
            scenario::Layer::Proxy => "proxy",
        };
        println!("{:<w$}  {:<c$}  {:<6}  {}", s.id, s.class.as_str(), layer, s.title);
    }
    println!("{} scenarios", loaded.len());
    Exit::Ok
}
