//! Choosing what to run: the mock servers in play (the `--server` files and
//! bundled names, or every bundled server whose tools the policy names) and
//! the scenario selection (built-in database, `--scenarios` directories,
//! `--only`). A run that would test nothing is refused here, before it starts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::inprocess::NamedServer;
use crate::mock::{bundled, ServerSpec};
use crate::policy::model::{Policy, WILDCARD};
use crate::scenario::{self, Scenario};

/// The tool names a policy mentions: its tool entries and hide entries,
/// without the wildcard and the entries named by a surface method
/// (`resources/read`, …), which govern no tool (the strict profile's gate).
pub fn policy_tools(policy: &Policy) -> BTreeSet<String> {
    let tool = |n: &&str| *n != WILDCARD && !crate::proxy::decode::SURFACE_METHODS.contains(n);
    policy.tools.iter().map(|t| t.name.as_str()).chain(policy.hide.iter().map(String::as_str)).filter(tool).map(str::to_string).collect()
}

/// Whether the policy has rules or a hide entry for every tool (the `"*"` key).
fn governs_every_tool(policy: &Policy) -> bool {
    policy.tool(WILDCARD).is_some() || policy.hide.iter().any(|h| h == WILDCARD)
}

/// How many of `spec`'s tools the policy names.
fn shared(policy: &BTreeSet<String>, spec: &ServerSpec) -> usize {
    spec.tools.iter().filter(|t| policy.contains(&t.name)).count()
}

/// Every bundled server, sorted by name.
pub fn bundled_servers() -> Result<Vec<NamedServer>, String> {
    Ok(bundled::all().map_err(|e| e.to_string())?.into_iter().map(|(name, spec)| NamedServer { name, spec }).collect())
}

/// One `--server` argument: a server file, or a bundled server's name.
pub fn server(arg: &Path) -> Result<NamedServer, String> {
    bundled::resolve(arg).map(|(name, spec)| NamedServer { name, spec }).map_err(|e| e.to_string())
}

/// The servers in play for `policy`: the `explicit` ones, or else every
/// bundled server that shares a tool with it. An explicit server must share
/// a tool with a policy that names tools (else the policy was written for
/// another server); a policy that names none (`tools: {}`, only `"*"`)
/// governs every tool alike, so any server verifies it. With `allow_empty`,
/// sharing nothing is accepted (the run then tests little or nothing, and
/// says so).
pub fn servers_for(explicit: &[PathBuf], policy: &Policy, allow_empty: bool) -> Result<Vec<NamedServer>, String> {
    let named = policy_tools(policy);
    let bundled = bundled_servers()?;
    let fitting: Vec<&str> = bundled.iter().filter(|s| shared(&named, &s.spec) > 0).map(|s| s.name.as_str()).collect();
    let suggestion = if fitting.is_empty() {
        format!(
            "pass your server's mock file with `--server FILE` (`{} mock record -o FILE -- CMD…` writes one from your real server's own tool list)",
            crate::invocation::program()
        )
    } else {
        format!("bundled servers that share tools with it: {}", fitting.join(", "))
    };
    if !explicit.is_empty() {
        let servers = explicit.iter().map(|p| server(p)).collect::<Result<Vec<_>, _>>()?;
        let strangers: Vec<String> = servers
            .iter()
            .zip(explicit)
            .filter(|(s, _)| shared(&named, &s.spec) == 0)
            .map(|(s, arg)| format!("`{}` ({})", arg.display(), crate::wording::count(s.spec.tools.len(), "tool")))
            .collect();
        if !strangers.is_empty() && !allow_empty && !named.is_empty() && !governs_every_tool(policy) {
            return Err(format!(
                "the policy and the server share no tool: the policy names none of the tools of {}, so every verdict would judge tools it never mentions\n  help: {suggestion}, or pass `--allow-empty` to run anyway",
                strangers.join(", ")
            ));
        }
        return Ok(servers);
    }
    if named.is_empty() && !allow_empty {
        return Err(format!(
            "the policy names no tool, so no server can be chosen for it: its rules (if any) apply to every tool alike\n  help: name the server to verify it against: `--server NAME` (a bundled server: {}) or `--server FILE` (`{} mock record -o FILE -- CMD…` writes one from your real server)",
            bundled.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
            crate::invocation::program()
        ));
    }
    if fitting.is_empty() && !allow_empty {
        return Err(format!(
            "the policy and the servers share no tool: it names no tool of any bundled mock server ({})\n  help: {suggestion}, or pass `--allow-empty` to run anyway",
            bundled.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(bundled.into_iter().filter(|s| shared(&named, &s.spec) > 0).collect())
}

/// The database (built-in unless `only_given`, plus `dirs`), narrowed to
/// `only` (every id must exist). An empty database, or a `dirs` entry with no
/// scenario file (a mistyped path adds nothing), is an error unless
/// `allow_empty`, which turns the latter into a warning on stderr.
pub fn scenarios(dirs: &[PathBuf], only_given: bool, only: &[String], allow_empty: bool) -> Result<Vec<Scenario>, String> {
    for dir in dirs {
        if scenario::yaml_files(dir).is_ok_and(|f| f.is_empty()) {
            let what = format!("`--scenarios {}` holds no scenario file (*.yaml), so it adds nothing", dir.display());
            if !allow_empty {
                return Err(format!("{what}\n  help: check the path, or write one with `{} scenario new NAME --dir {}`", crate::invocation::program(), crate::invocation::quote_path(dir)));
            }
            eprintln!("warning: {what}");
        }
    }
    let loaded = scenario::database(dirs, !only_given)
        .map_err(|errs| errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))?;
    let all: Vec<Scenario> = loaded.into_iter().map(|l| l.scenario).collect();
    let shown = dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
    if all.is_empty() && !allow_empty {
        return Err(format!(
            "the attack database is empty: no scenario in {}\n  help: check the `--scenarios` path, drop `--scenarios-only` to use the built-in database, or pass `--allow-empty` to run anyway",
            if shown.is_empty() { "the run".to_string() } else { shown }
        ));
    }
    if only.is_empty() {
        return Ok(all);
    }
    for id in only {
        if !all.iter().any(|s| &s.id == id) {
            let list = dirs.iter().map(|d| format!(" {}", crate::invocation::quote_path(d))).collect::<String>();
            let typo = crate::wording::closest(id, all.iter().map(|s| s.id.as_str())).map(|m| format!("did you mean `{m}`? "));
            return Err(format!(
                "no scenario `{id}` in the database\n  help: {}`{} scenario list{list}` shows the ids",
                typo.unwrap_or_default(),
                crate::invocation::program()
            ));
        }
    }
    Ok(all.into_iter().filter(|s| only.contains(&s.id)).collect())
}
