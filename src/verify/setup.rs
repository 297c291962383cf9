//! Choosing what to run: the mock servers in play (explicit `--server`
//! files, or every server in `mock-servers/` whose tools the policy names)
//! and the scenario selection (`--only`).

use std::path::{Path, PathBuf};

use super::inprocess::NamedServer;
use crate::mock::ServerSpec;
use crate::policy::model::Policy;
use crate::scenario::{self, Scenario};

/// The default directory of mock server files.
pub const SERVER_DIR: &str = "mock-servers";

fn named(path: &Path) -> Result<NamedServer, String> {
    let spec = ServerSpec::load(path).map_err(|e| e.to_string())?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or(&spec.name).to_string();
    Ok(NamedServer { name, spec })
}

/// Every server file in `dir`, sorted by name.
pub fn all_servers(dir: &Path) -> Result<Vec<NamedServer>, String> {
    let paths = scenario::yaml_files(dir)
        .map_err(|e| format!("{}: cannot read the mock server directory: {e}", dir.display()))?;
    paths.iter().map(|p| named(p)).collect()
}

/// The servers in play for `policy`.
pub fn servers_for(explicit: &[PathBuf], policy: &Policy, dir: &Path) -> Result<Vec<NamedServer>, String> {
    if !explicit.is_empty() {
        return explicit.iter().map(|p| named(p)).collect();
    }
    let chosen: Vec<NamedServer> = all_servers(dir)?
        .into_iter()
        .filter(|s| s.spec.tools.iter().any(|t| policy.tool(&t.name).is_some() || policy.hide.contains(&t.name)))
        .collect();
    if chosen.is_empty() {
        return Err(format!(
            "the policy names no tool of any mock server in `{}`\n  help: pass the server the policy is for with `--server mock-servers/NAME.yaml`",
            dir.display()
        ));
    }
    Ok(chosen)
}

/// The scenarios of `dir`, narrowed to `only` (every id must exist).
pub fn scenarios(dir: &Path, only: &[String]) -> Result<Vec<Scenario>, String> {
    let loaded = scenario::load_dir(dir)
        .map_err(|errs| errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))?;
    let all: Vec<Scenario> = loaded.into_iter().map(|l| l.scenario).collect();
    if only.is_empty() {
        return Ok(all);
    }
    for id in only {
        if !all.iter().any(|s| &s.id == id) {
            return Err(format!(
                "no scenario `{id}` in `{}`\n  help: `gauntlet scenario list {}` shows the ids",
                dir.display(),
                dir.display()
            ));
        }
    }
    Ok(all.into_iter().filter(|s| only.contains(&s.id)).collect())
}
