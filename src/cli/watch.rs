//! `gauntlet verify --watch`: run, then run again on every save of what the
//! run read — the policy (or every policy `gauntlet.yaml` lists), the
//! requirements file, the `--scenarios` directories and `--server` files —
//! until interrupted. Directories are watched, not files, since editors save
//! by renaming a new file onto the old one; only events that name a watched
//! file (or a scenario file in a watched directory) count, and a burst of
//! them runs once, when the files have settled (the proxy's hot reload rule,
//! [`crate::proxy::reload::Settle`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use notify::{RecursiveMode, Watcher};

use super::Exit;
use crate::proxy::reload::{Change, Settle};

/// What one run read, to watch for the next.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Files whose every save re-runs.
    pub files: Vec<PathBuf>,
    /// Directories whose scenario files (`*.yaml`) re-run on any change.
    pub dirs: Vec<PathBuf>,
}

impl Inputs {
    fn absolute(self) -> Inputs {
        let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
        Inputs { files: self.files.into_iter().map(abs).collect(), dirs: self.dirs.into_iter().map(abs).collect() }
    }

    fn counts(&self, p: &Path) -> bool {
        let scenario_file = p.extension().is_some_and(|e| e == "yaml" || e == "yml");
        self.files.iter().any(|f| f == p) || (scenario_file && p.parent().is_some_and(|d| self.dirs.iter().any(|w| w == d)))
    }

    /// The directories to watch: each file's own, and the scenario directories.
    fn watched_dirs(&self) -> BTreeSet<PathBuf> {
        let parents = self.files.iter().filter_map(|f| f.parent().map(Path::to_path_buf));
        parents.chain(self.dirs.iter().cloned()).collect()
    }
}

/// Runs `once`, then again after every settled change to what `inputs` names.
/// Returns only when the files cannot be watched (exit 2).
pub fn run(inputs: Inputs, mut once: impl FnMut() -> Exit) -> Exit {
    let inputs = inputs.absolute();
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = match notify::recommended_watcher(tx) {
        Ok(w) => w,
        Err(e) => return could_not_watch(format!("cannot watch files: {e}")),
    };
    for dir in inputs.watched_dirs() {
        if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
            return could_not_watch(format!("cannot watch `{}`: {e}", dir.display()));
        }
    }
    let shown: Vec<String> = inputs.files.iter().chain(&inputs.dirs).map(|p| shown_path(p)).collect();
    loop {
        let exit = once();
        eprintln!("gauntlet verify --watch: exit {} — watching {}; every save runs again (Ctrl-C stops)", exit.code(), shown.join(", "));
        let Some(changed) = next_change(&rx, &inputs) else {
            return could_not_watch("the file watcher stopped".into());
        };
        eprintln!("\ngauntlet verify --watch: {} changed; running again", shown_path(&changed));
    }
}

/// Blocks until a counted change has settled; the file it was about.
fn next_change(rx: &mpsc::Receiver<notify::Result<notify::Event>>, inputs: &Inputs) -> Option<PathBuf> {
    let mut settle = Settle::default();
    let mut last: Option<PathBuf> = None;
    loop {
        let event = match settle.deadline() {
            None => Some(rx.recv().ok()?),
            Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(event) => Some(event),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            },
        };
        if let Some(Ok(event)) = event {
            if let (Some(change), Some(p)) = (Change::of(&event.kind), event.paths.iter().find(|p| inputs.counts(p))) {
                settle.see(change, Instant::now());
                last = Some(p.clone());
            }
        }
        if settle.due(Instant::now()).is_some() {
            return last;
        }
    }
}

/// `p` relative to the working directory when it is below it.
fn shown_path(p: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    cwd.and_then(|c| p.strip_prefix(c).ok().map(|r| r.display().to_string())).unwrap_or_else(|| p.display().to_string())
}

fn could_not_watch(msg: String) -> Exit {
    eprintln!("error: {msg}");
    Exit::CouldNotRun
}
