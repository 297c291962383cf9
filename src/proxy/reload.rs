//! Policy loading for the standalone proxy, and hot reload on file change.
//!
//! A changed file is re-read after ~100 ms of quiet (editors write in bursts
//! and often replace the file by a rename, so the parent directory is
//! watched). Only a file that loads and validates replaces the engine; an
//! invalid one is reported on stderr and the old policy stays in force.
//! Counters are untouched either way: they live in the store, not the engine.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::engine::Engine;
use crate::policy::{model::Dialect, PolicyError};
use crate::profile::Profile;

const DEBOUNCE: Duration = Duration::from_millis(100);

/// The policy file the proxy enforces, and how to read it again when it changes.
#[derive(Clone, Debug)]
pub struct Watched {
    pub path: PathBuf,
    /// `--dialect`, or `None` to detect it from the content (on every reload).
    pub dialect: Option<Dialect>,
    pub profile: Profile,
}

/// Loads and validates the policy file into an engine, printing on stderr
/// what every command prints about the file (its warnings; its errors with
/// file:line:column).
pub fn load_engine(w: &Watched) -> Result<Engine, PolicyError> {
    let loaded = crate::policy::load_file(&w.path, w.dialect);
    eprint!("{}", crate::policy::report(loaded.as_ref()));
    loaded.map(|l| Engine::new(Arc::new(l.policy), w.profile))
}

/// Keeps the watch alive; dropping it stops reloading.
pub struct Reloader {
    _watcher: notify::RecommendedWatcher,
}

/// [`watch`], or a warning and no reloading when the file cannot be watched:
/// the proxy still serves with the policy it started with.
pub fn watch_or_warn<F>(policy: &Watched, apply: F) -> Option<Reloader>
where
    F: Fn(Engine) + Send + 'static,
{
    watch(policy, apply)
        .map_err(|e| eprintln!("gauntlet proxy: warning: hot reload is off: {e}"))
        .ok()
}

/// Watches `path`; calls `apply` with each new engine that loads cleanly.
pub fn watch<F>(policy: &Watched, apply: F) -> Result<Reloader, String>
where
    F: Fn(Engine) + Send + 'static,
{
    let path = &policy.path;
    let path = std::path::absolute(path).map_err(|e| format!("cannot resolve `{}`: {e}", path.display()))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx).map_err(|e| format!("cannot watch policy files: {e}"))?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch `{}`: {e}", dir.display()))?;
    let name = path.file_name().map(|n| n.to_os_string());
    let concerns_policy = move |event: &notify::Result<notify::Event>| match event {
        Ok(ev) => !ev.kind.is_access() && ev.paths.iter().any(|p| p.file_name().map(|n| n.to_os_string()) == name),
        Err(_) => false,
    };
    let policy = Watched { path: path.clone(), ..policy.clone() };
    std::thread::spawn(move || {
        while let Ok(event) = rx.recv() {
            if !concerns_policy(&event) {
                continue;
            }
            // Debounce: wait until the directory has been quiet for a moment.
            loop {
                match rx.recv_timeout(DEBOUNCE) {
                    Ok(_) => continue,
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            match load_engine(&policy) {
                Ok(engine) => {
                    apply(engine);
                    eprintln!("gauntlet proxy: reloaded policy `{}`", path.display());
                }
                Err(_) => eprintln!(
                    "gauntlet proxy: rejected the changed policy `{}` (errors above); the previous policy stays in force",
                    path.display()
                ),
            }
        }
    });
    Ok(Reloader { _watcher: watcher })
}
