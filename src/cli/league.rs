//! `gauntlet league`: the attack database through every proxy a league file
//! names, as one Markdown table (see `scripts/league.sh`, which installs the
//! peer proxies first).

use std::path::{Path, PathBuf};

use super::Exit;
use crate::report;
use crate::scenario::Risk;
use crate::verify::blackbox::league::{self, Setup};
use crate::verify::inprocess::NamedServer;
use crate::verify::setup;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The league file (server, and per proxy: command, policy, what it cannot express).
    pub file: PathBuf,
    /// Where the peer proxies were installed (`{peers}` in the league file).
    #[arg(long, default_value = ".peers/league")]
    pub peers: PathBuf,
    /// A directory of attack scenarios to add to the built-in database (repeatable).
    #[arg(long, value_name = "DIR")]
    pub scenarios: Vec<PathBuf>,
    /// Run only the `--scenarios` directories, not the built-in database.
    #[arg(long)]
    pub scenarios_only: bool,
    /// Run only the scenario with this id (repeatable).
    #[arg(long)]
    pub only: Vec<String>,
    /// Run only the proxies whose name contains this (repeatable).
    #[arg(long)]
    pub proxy: Vec<String>,
    /// Seed for every randomized behaviour (the same for every proxy, so rows compare).
    #[arg(long, default_value_t = super::verify::DEFAULT_SEED)]
    pub seed: u64,
    /// Write the Markdown table here instead of stdout.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> Exit {
    match league_table(&args) {
        Ok(table) => match &args.output {
            Some(path) => match std::fs::write(path, &table) {
                Ok(()) => {
                    eprintln!("gauntlet league: wrote {}", path.display());
                    Exit::Ok
                }
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    Exit::CouldNotRun
                }
            },
            None => {
                print!("{table}");
                Exit::Ok
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            Exit::CouldNotRun
        }
    }
}

fn league_table(args: &Args) -> Result<String, String> {
    let file = league::load(&args.file)?;
    let base = args.file.parent().unwrap_or(Path::new("."));
    let server_path = base.join(&file.server);
    let spec = crate::mock::ServerSpec::load(&server_path).map_err(|e| e.to_string())?;
    let name = server_path.file_stem().and_then(|s| s.to_str()).unwrap_or("server").to_string();
    let timing_tool = spec.tools.iter().find(|t| t.risk == Risk::Read).map(|t| t.name.clone());
    let scenarios = setup::scenarios(&args.scenarios, args.scenarios_only, &args.only, false)?;
    let gauntlet = std::env::current_exe().map_err(|e| format!("cannot find the gauntlet executable: {e}"))?;
    let peers = std::path::absolute(&args.peers).unwrap_or_else(|_| args.peers.clone());
    let setup = Setup {
        base,
        gauntlet: &gauntlet,
        peers: &peers,
        server: NamedServer { name: name.clone(), spec },
        scenarios: &scenarios,
        seed: args.seed,
        timing_tool,
    };
    let direct = league::direct_round_trip(&setup);
    eprintln!(
        "gauntlet league: {} scenarios, server `{name}`, direct round trip {}",
        scenarios.len(),
        direct.map(|d| format!("{:.3} ms", d.as_secs_f64() * 1e3)).unwrap_or("not measured".into())
    );
    let entries: Vec<_> = file.proxies.iter().filter(|e| args.proxy.is_empty() || args.proxy.iter().any(|p| e.name.contains(p.as_str()))).collect();
    eprintln!("gauntlet league: running {} proxies side by side", entries.len());
    let rows = league::run_all(&entries, &file, &setup, direct);
    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    Ok(report::league::render(&rows, &date, &name, &file.time_budget))
}
