//! `gauntlet diff OLD NEW`: what changed in what two versions of a policy
//! admit (files, or `git:REV:path`), per tool and rule, each change with a
//! witness replayed through both. Exit 0 when NEW is nowhere weaker, 1 when
//! it is (unless `--allow-weaker`) or a policy does not load, 2 when it
//! cannot run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Exit;
use crate::engine::Engine;
use crate::invocation;
use crate::policy::LoadedPolicy;
use crate::profile::Profile;
use crate::prove::diff::{self, Change, Direction, Side};
use crate::prove::ReplayCommand;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The old policy: a file, or `git:REV:path` (e.g. `git:HEAD:policy.yaml`).
    pub old: String,
    /// The new policy: a file, or `git:REV:path`.
    pub new: String,
    /// A mock server whose tools to compare too (repeatable; the policies' own tools always are).
    #[arg(long)]
    pub server: Vec<PathBuf>,
    /// The proxy behaviour both are read under: `intercept` (default) or `strict`.
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// A weaker NEW does not fail the run.
    #[arg(long)]
    pub allow_weaker: bool,
    /// Output: `table` (default) or `json`.
    #[arg(long, value_enum, default_value = "table")]
    pub format: DiffFormat,
}

/// `gauntlet diff --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Table,
    Json,
}

/// A policy read from a file or a git revision; the temporary copy lives as long as this.
pub struct Loaded {
    pub policy: LoadedPolicy,
    pub shown: String,
    /// The path `gauntlet replay` can read it from.
    pub path: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// Reads `spec`: `git:REV:path` through `git show`, else a file.
pub fn load(spec: &str) -> Result<Loaded, Exit> {
    let Some(rest) = spec.strip_prefix("git:") else {
        let path = PathBuf::from(spec);
        let policy = super::load::policy(&path, None)?;
        return Ok(Loaded { policy, shown: spec.to_string(), path, _dir: None });
    };
    let Some((rev, file)) = rest.split_once(':') else {
        eprintln!("error: `{spec}`: expected git:REV:path, e.g. git:HEAD:policy.yaml");
        return Err(Exit::CouldNotRun);
    };
    let text = git_show(rev, file).map_err(|e| {
        eprintln!("error: {spec}: {e}");
        Exit::CouldNotRun
    })?;
    let dir = tempfile::tempdir().map_err(|e| {
        eprintln!("error: cannot make a temporary directory: {e}");
        Exit::CouldNotRun
    })?;
    let name = Path::new(file).file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "policy.yaml".into());
    let path = dir.path().join(name);
    std::fs::write(&path, text).map_err(|e| {
        eprintln!("error: {}: {e}", path.display());
        Exit::CouldNotRun
    })?;
    let policy = super::load::policy(&path, None)?;
    Ok(Loaded { policy, shown: spec.to_string(), path, _dir: Some(dir) })
}

/// A policy given as text (one a snapshot kept), written to a temporary
/// file named `name` so that `gauntlet replay` lines can point at it while it lives.
pub fn load_text(text: &str, name: &str, shown: String) -> Result<Loaded, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let path = dir.path().join(name);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    let policy = crate::policy::load_file(&path, None).map_err(|e| format!("{shown}: {e}"))?;
    Ok(Loaded { policy, shown, path, _dir: Some(dir) })
}

/// `git show REV:path`, with the path taken relative to the working directory as git reads `./path`.
pub fn git_show(rev: &str, file: &str) -> Result<String, String> {
    let object = if file.starts_with("./") || file.starts_with('/') { format!("{rev}:{file}") } else { format!("{rev}:./{file}") };
    let out = std::process::Command::new("git").args(["show", &object]).output().map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    String::from_utf8(out.stdout).map_err(|_| "the file at that revision is not UTF-8".to_string())
}

/// The semantic diff of two loaded policies.
pub fn changes(old: &Loaded, new: &Loaded, profile: Profile, catalogue: &[String]) -> Vec<Change> {
    let eo = Engine::new(Arc::new(old.policy.policy.clone()), profile);
    let en = Engine::new(Arc::new(new.policy.policy.clone()), profile);
    let strict = profile == Profile::Strict;
    let so = Side { engine: &eo, file: &old.shown, replay: ReplayCommand { policy: old.path.display().to_string(), strict } };
    let sn = Side { engine: &en, file: &new.shown, replay: ReplayCommand { policy: new.path.display().to_string(), strict } };
    let tools = diff::tools(eo.policy(), en.policy(), catalogue);
    diff::diff(&so, &sn, &tools)
}

/// The changes for people, grouped by tool.
pub fn render(old: &str, new: &str, changes: &[Change]) -> String {
    let mut out = format!("gauntlet diff {old} → {new}\n");
    if changes.is_empty() {
        out.push_str("no call changes between allowed and denied, and no rule refuses a call another refused before\n");
        return out;
    }
    let mut tool = "";
    for c in changes {
        if c.tool != tool {
            tool = &c.tool;
            out.push_str(&format!("\n{}\n", c.tool));
        }
        let label = match c.direction {
            Direction::Weaker => "WEAKER",
            Direction::Stronger => "stronger",
            Direction::Neutral => "same calls",
            Direction::Undecided => "UNDECIDED",
            Direction::NotCompared => "note",
        };
        let rule = c.rule.as_deref().map(|r| format!(" `{r}`")).unwrap_or_default();
        out.push_str(&format!("  {label:<10} {}{rule}: {}\n", c.kind, c.summary));
        out.push_str(&format!("             OLD {}:{}, NEW {}:{}\n", c.old_at.file, c.old_at.line, c.new_at.file, c.new_at.line));
        if let (Some(o), Some(n)) = (&c.old, &c.new) {
            let first = |x: &crate::prove::Counterexample| x.calls.first().map(|c| c.line()).unwrap_or_default();
            let allowed = |x: &crate::prove::Counterexample| x.allowed.iter().filter(|a| **a).count();
            if o.calls.len() == 1 {
                out.push_str(&format!("             witness: {}\n", first(n)));
            } else {
                out.push_str(&format!("             witness: {} × {}\n", n.calls.len(), first(n)));
            }
            out.push_str(&format!("             OLD allows {} of {}; NEW allows {} of {}\n", allowed(o), o.calls.len(), allowed(n), n.calls.len()));
        }
    }
    let weaker = changes.iter().filter(|c| c.direction == Direction::Weaker).count();
    let stronger = changes.iter().filter(|c| c.direction == Direction::Stronger).count();
    let undecided = changes.iter().filter(|c| c.direction == Direction::Undecided).count();
    if undecided > 0 {
        out.push_str(&format!("\n{undecided} place(s) undecided: NEW may be weaker there\n"));
    }
    out.push_str(&format!("\n{weaker} weaker, {stronger} stronger, {} other\n", changes.len() - weaker - stronger));
    out
}

pub fn run(args: Args) -> Exit {
    let old = match load(&args.old) {
        Ok(l) => l,
        Err(e) => return e,
    };
    let new = match load(&args.new) {
        Ok(l) => l,
        Err(e) => return e,
    };
    let servers = match crate::verify::setup::servers_for(&args.server, &new.policy.policy, true) {
        Ok(s) if !args.server.is_empty() => s,
        Ok(_) => Vec::new(),
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    };
    let catalogue: Vec<String> = crate::verify::inprocess::catalogue_of(&servers).into_iter().map(|t| t.name).collect();
    let changes = changes(&old, &new, args.profile.unwrap_or_default(), &catalogue);
    match args.format {
        DiffFormat::Table => print!("{}", render(&old.shown, &new.shown, &changes)),
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&serde_json::json!({"old": old.shown, "new": new.shown, "changes": changes})).unwrap_or_default()),
    }
    // An undecided place may be weaker: fail closed.
    let weaker = changes.iter().any(|c| matches!(c.direction, Direction::Weaker | Direction::Undecided));
    if weaker && !args.allow_weaker {
        eprintln!("NEW is weaker than OLD (see above)\n  help: if that is intended, pass --allow-weaker: `{} diff {} {} --allow-weaker`", invocation::program(), invocation::quote(&args.old), invocation::quote(&args.new));
        return Exit::CheckFailed;
    }
    Exit::Ok
}
