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
use crate::profile::Profile;

const DEBOUNCE: Duration = Duration::from_millis(100);

/// Loads and validates a policy file into an engine; the error text names
/// file:line:column for every problem, one per line.
pub fn load_engine(path: &Path, profile: Profile) -> Result<Engine, String> {
    let loaded = crate::policy::load_file(path, None).map_err(|e| e.to_string())?;
    for warning in &loaded.warnings {
        eprintln!("gauntlet proxy: warning: {warning}");
    }
    Ok(Engine::new(Arc::new(loaded.policy), profile))
}

/// Keeps the watch alive; dropping it stops reloading.
pub struct Reloader {
    _watcher: notify::RecommendedWatcher,
}

/// [`watch`], or a warning and no reloading when the file cannot be watched:
/// the proxy still serves with the policy it started with.
pub fn watch_or_warn<F>(path: &Path, profile: Profile, apply: F) -> Option<Reloader>
where
    F: Fn(Engine) + Send + 'static,
{
    watch(path, profile, apply)
        .map_err(|e| eprintln!("gauntlet proxy: warning: hot reload is off: {e}"))
        .ok()
}

/// Watches `path`; calls `apply` with each new engine that loads cleanly.
pub fn watch<F>(path: &Path, profile: Profile, apply: F) -> Result<Reloader, String>
where
    F: Fn(Engine) + Send + 'static,
{
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
            match load_engine(&path, profile) {
                Ok(engine) => {
                    apply(engine);
                    eprintln!("gauntlet proxy: reloaded policy `{}`", path.display());
                }
                Err(e) => {
                    eprintln!("gauntlet proxy: rejected the changed policy `{}`; the previous policy stays in force:", path.display());
                    eprintln!("{e}");
                }
            }
        }
    });
    Ok(Reloader { _watcher: watcher })
}
