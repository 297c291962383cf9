//! Policy loading for the standalone proxy, and hot reload on file change.
//!
//! Only events that name the policy file count: the directory is watched (an
//! editor may replace the file by a rename), but a log or state file written
//! beside the policy neither triggers nor postpones a reload. When the policy
//! is a symbolic link, so do events on the links it goes through in its
//! directory ([`names_of`]: a Kubernetes ConfigMap swaps `..data`). A new version
//! is read only once it is complete ([`Settle`]): its writer closed it, or a
//! finished file was renamed onto its name, and nothing touched it for
//! [`DEBOUNCE`] since; a file written without being closed is read only after
//! [`OPEN_GRACE`] without a change. A version that changed while it was being
//! loaded is not applied (the next event loads it again), so what is enforced
//! is always one whole version. Only a file that loads and validates replaces
//! the engine; every reload and every refused one is logged with its reason.
//! Counters are untouched either way: they live in the store, not the engine.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::{RecursiveMode, Watcher};

use crate::engine::Engine;
use crate::policy::{model::Dialect, PolicyError};
use crate::profile::Profile;

/// Quiet time after a writer finished before the file is read.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// A file written but never closed is read after this long without a change.
pub const OPEN_GRACE: Duration = Duration::from_secs(2);

/// The policy file the proxy enforces, and how to read it again when it changes.
#[derive(Clone, Debug)]
pub struct Watched {
    pub path: PathBuf,
    /// `--dialect`, or `None` to detect it from the content (on every reload).
    pub dialect: Option<Dialect>,
    pub profile: Profile,
    /// The bytes the engine the proxy started with was loaded from, when
    /// the file held still while it loaded ([`load_initial`]).
    pub loaded: Option<Arc<[u8]>>,
}

/// [`load_engine`] for the engine the proxy starts with, noting the bytes
/// it was loaded from in `w`: the watch starts later, and a version written
/// in between (an operator tightening the policy as the proxy starts) must
/// not be taken for the one in force and never applied.
pub fn load_initial(w: &mut Watched) -> Result<Engine, PolicyError> {
    let before = std::fs::read(&w.path).ok();
    let engine = load_engine(w)?;
    let after = std::fs::read(&w.path).ok();
    w.loaded = before.filter(|b| after.as_ref() == Some(b)).map(Arc::from);
    Ok(engine)
}

/// Loads and validates the policy file into an engine, printing on stderr
/// what every command prints about the file (its warnings; its errors with
/// file:line:column).
pub fn load_engine(w: &Watched) -> Result<Engine, PolicyError> {
    let loaded = crate::policy::load_file(&w.path, w.dialect);
    eprint!("{}", crate::policy::report(loaded.as_ref()));
    loaded.map(|l| Engine::new(Arc::new(l.policy), w.profile))
}

/// What happened to the policy file, as far as reloading cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Its bytes changed, or it was created: a writer may be mid-file.
    Written,
    /// A writer closed it: what that writer wrote is all there.
    Closed,
    /// A file was renamed onto its name: complete as it arrives.
    Replaced,
    /// It was removed or renamed away.
    Removed,
}

impl Change {
    /// The change an event of `kind` makes to the file it names (`None`:
    /// reading it, or its metadata, which changes nothing to load).
    pub fn of(kind: &EventKind) -> Option<Change> {
        match kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(Change::Closed),
            EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => None,
            // `Both` repeats a `From` and a `To` already seen on their own.
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => None,
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) => Some(Change::Removed),
            EventKind::Modify(ModifyKind::Name(_)) => Some(Change::Replaced),
            EventKind::Remove(_) => Some(Change::Removed),
            _ => Some(Change::Written),
        }
    }
}

/// When to read the policy file again: a sans-IO clock of its changes,
/// driven with the instants the watcher thread passes.
#[derive(Debug, Default)]
pub struct Settle {
    state: Pending,
    /// The last change seen to the policy file.
    last: Option<Instant>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Pending {
    #[default]
    Nothing,
    /// Written, not closed yet: a writer may pause mid-file.
    Open,
    /// Closed or renamed into place.
    Complete,
    Gone,
}

/// What the watcher should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Read and load the file; `closed` says whether its writer finished.
    Load { closed: bool },
    /// The file is gone: say so, and keep the policy in force.
    Gone,
}

impl Settle {
    pub fn see(&mut self, change: Change, now: Instant) {
        self.state = match change {
            Change::Written => Pending::Open,
            Change::Closed | Change::Replaced => Pending::Complete,
            Change::Removed => Pending::Gone,
        };
        self.last = Some(now);
    }

    /// When [`Settle::due`] may next have something to do.
    pub fn deadline(&self) -> Option<Instant> {
        let wait = match self.state {
            Pending::Nothing => return None,
            Pending::Open => OPEN_GRACE,
            Pending::Complete | Pending::Gone => DEBOUNCE,
        };
        self.last.map(|last| last + wait)
    }

    /// What to do at `now`, once the file has settled.
    pub fn due(&mut self, now: Instant) -> Option<Due> {
        if self.deadline().is_none_or(|deadline| now < deadline) {
            return None;
        }
        let due = match std::mem::take(&mut self.state) {
            Pending::Open => Due::Load { closed: false },
            Pending::Complete => Due::Load { closed: true },
            Pending::Gone => Due::Gone,
            Pending::Nothing => return None,
        };
        Some(due)
    }
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
    let names = names_of(&path);
    // Some(true): the policy's own name; Some(false): a link it goes through.
    let touches = move |p: &Path| p.file_name().and_then(|n| names.iter().position(|m| m == n)).map(|at| at == 0);
    let mut reload = Reload {
        policy: Watched { path: path.clone(), ..policy.clone() },
        enforced: policy.loaded.as_deref().map(<[u8]>::to_vec),
        apply,
    };
    // Written since the engine in force was loaded (or while it loaded):
    // no event will say so now that the watch is on, so it is due as a write.
    let stale = std::fs::read(&path).ok().as_deref() != policy.loaded.as_deref();
    std::thread::spawn(move || {
        let mut settle = Settle::default();
        if stale {
            eprintln!("gauntlet proxy: the policy `{}` changed after the proxy loaded it at start; reading it again", path.display());
            settle.see(Change::Written, Instant::now());
        }
        loop {
            let event = match settle.deadline() {
                None => match rx.recv() {
                    Ok(event) => Some(event),
                    Err(_) => return,
                },
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(event) => Some(event),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                },
            };
            // Only the policy's own events count; a file written beside it is not a change to it.
            if let Some(Ok(event)) = event {
                let hit = event.paths.iter().filter_map(|p| touches(p)).max();
                if let (Some(own), Some(change)) = (hit, Change::of(&event.kind)) {
                    // A link the policy goes through was replaced (or touched in any
                    // way): the policy is read again, whole, once it settles.
                    settle.see(if own { change } else { Change::Replaced }, Instant::now());
                }
            }
            if let Some(due) = settle.due(Instant::now()) {
                reload.act(due);
            }
        }
    });
    Ok(Reloader { _watcher: watcher })
}

/// The names in the policy's directory whose events change the policy: its
/// own, and, when it is a symbolic link, each link in that directory its
/// target goes through. A Kubernetes ConfigMap volume mounts `policy.yaml` as
/// a link to `..data/policy.yaml` and publishes a version by renaming a new
/// link onto `..data` (then removing the old version's directory, which is
/// not a link and so not a change to the policy), so the policy's own name
/// never sees an event.
fn names_of(path: &Path) -> Vec<std::ffi::OsString> {
    let mut names: Vec<std::ffi::OsString> = path.file_name().map(|n| n.to_os_string()).into_iter().collect();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut link = path.to_path_buf();
    // A bounded walk: a link cycle fails to load anyway.
    for _ in 0..8 {
        let Ok(target) = std::fs::read_link(&link) else { break };
        let first = match target.components().next() {
            Some(std::path::Component::Normal(first)) if target.is_relative() => first.to_os_string(),
            _ => break,
        };
        link = dir.join(&first);
        let is_link = std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link || names.contains(&first) {
            break;
        }
        names.push(first);
    }
    names
}

/// The watcher thread's side of a reload: read, load, check, apply, log.
struct Reload<F> {
    policy: Watched,
    /// The bytes of the version in force (as read when it was loaded).
    enforced: Option<Vec<u8>>,
    apply: F,
}

impl<F: Fn(Engine)> Reload<F> {
    fn act(&mut self, due: Due) {
        let shown = self.policy.path.display().to_string();
        let closed = match due {
            Due::Gone => {
                eprintln!("gauntlet proxy: the policy `{shown}` was removed or renamed away; the previous policy stays in force");
                return;
            }
            Due::Load { closed } => closed,
        };
        let before = match std::fs::read(&self.policy.path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("gauntlet proxy: cannot read the changed policy `{shown}`: {e}; the previous policy stays in force");
                return;
            }
        };
        if self.enforced.as_deref() == Some(before.as_slice()) {
            eprintln!("gauntlet proxy: the policy `{shown}` was written with the content already in force; nothing to reload");
            return;
        }
        if !closed {
            eprintln!(
                "gauntlet proxy: the policy `{shown}` was written but not closed, and has not changed for {} s; loading it as it is",
                OPEN_GRACE.as_secs()
            );
        }
        let loaded = load_engine(&self.policy);
        // What was loaded must be the version read before: a writer that
        // started meanwhile will close the file again, and that loads it whole.
        if std::fs::read(&self.policy.path).ok().as_deref() != Some(before.as_slice()) {
            eprintln!("gauntlet proxy: the policy `{shown}` changed while it was being loaded; not applied, waiting for the writer to finish");
            return;
        }
        match loaded {
            Ok(engine) => {
                (self.apply)(engine);
                eprintln!("gauntlet proxy: reloaded policy `{shown}` ({} bytes)", before.len());
                self.enforced = Some(before);
            }
            Err(_) => eprintln!(
                "gauntlet proxy: rejected the changed policy `{shown}` ({} bytes; errors above); the previous policy stays in force",
                before.len()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(start: Instant, n: u64) -> Instant {
        start + Duration::from_millis(n)
    }

    #[test]
    fn a_closed_file_loads_once_quiet_for_the_debounce() {
        let t = Instant::now();
        let mut s = Settle::default();
        assert_eq!(s.deadline(), None);
        s.see(Change::Written, t);
        s.see(Change::Closed, ms(t, 5));
        assert_eq!(s.due(ms(t, 90)), None);
        assert_eq!(s.due(ms(t, 105)), Some(Due::Load { closed: true }));
        assert_eq!(s.due(ms(t, 500)), None, "once only");
    }

    #[test]
    fn a_writer_pausing_mid_file_is_waited_for_until_it_closes() {
        let t = Instant::now();
        let mut s = Settle::default();
        s.see(Change::Written, t);
        // A 400 ms pause with the file open: nothing is read.
        assert_eq!(s.due(ms(t, 400)), None);
        s.see(Change::Written, ms(t, 400));
        s.see(Change::Closed, ms(t, 401));
        assert_eq!(s.due(ms(t, 450)), None);
        assert_eq!(s.due(ms(t, 502)), Some(Due::Load { closed: true }));
    }

    #[test]
    fn a_file_never_closed_loads_after_the_grace_and_a_rename_after_the_debounce() {
        let t = Instant::now();
        let mut s = Settle::default();
        s.see(Change::Written, t);
        assert_eq!(s.due(t + OPEN_GRACE - Duration::from_millis(1)), None);
        assert_eq!(s.due(t + OPEN_GRACE), Some(Due::Load { closed: false }));
        s.see(Change::Replaced, ms(t, 3000));
        assert_eq!(s.due(ms(t, 3100)), Some(Due::Load { closed: true }));
        s.see(Change::Removed, ms(t, 4000));
        assert_eq!(s.due(ms(t, 4100)), Some(Due::Gone));
    }

    /// The proxy loads its policy, then starts the watch: a version written
    /// in between sends no event once the watch is on. It used to be taken
    /// for the version in force and never applied.
    #[test]
    fn a_version_written_between_the_first_load_and_the_watch_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        let allow = "version: \"1\"\ndefault: allow\ntools: {}\n";
        std::fs::write(&path, allow).unwrap();
        let mut policy = Watched { path: path.clone(), dialect: None, profile: Profile::Intercept, loaded: None };
        load_initial(&mut policy).unwrap();
        assert_eq!(policy.loaded.as_deref(), Some(allow.as_bytes()), "the file held still while it loaded");
        std::fs::write(&path, "version: \"1\"\ndefault: deny\ntools: {}\n").unwrap();
        let (tx, rx) = mpsc::channel();
        let _watch = watch(&policy, move |engine| tx.send(engine).unwrap()).unwrap();
        assert!(rx.recv_timeout(OPEN_GRACE * 5).is_ok(), "the version written before the watch was loaded");
        // Unchanged since it loaded: nothing to read again.
        let mut current = Watched { loaded: None, ..policy.clone() };
        load_initial(&mut current).unwrap();
        let (tx, rx) = mpsc::channel();
        let _watch = watch(&current, move |engine| tx.send(engine).unwrap()).unwrap();
        assert!(rx.recv_timeout(OPEN_GRACE + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_configmap_style_link_names_the_link_that_is_swapped() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("..2026_12_07_00_00_00.1")).unwrap();
        std::fs::write(d.join("..2026_12_07_00_00_00.1/policy.yaml"), "version: \"1\"\n").unwrap();
        std::os::unix::fs::symlink("..2026_12_07_00_00_00.1", d.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/policy.yaml", d.join("policy.yaml")).unwrap();
        std::fs::write(d.join("plain.yaml"), "version: \"1\"\n").unwrap();
        let names = |p: &str| names_of(&d.join(p)).into_iter().map(|n| n.into_string().unwrap()).collect::<Vec<_>>();
        assert_eq!(names("policy.yaml"), ["policy.yaml", "..data"], "the version's directory is not a link to watch");
        assert_eq!(names("plain.yaml"), ["plain.yaml"]);
    }

    #[test]
    fn events_are_read_as_changes_to_the_file() {
        use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind};
        let of = |kind| Change::of(&kind);
        assert_eq!(of(EventKind::Modify(ModifyKind::Data(DataChange::Any))), Some(Change::Written));
        assert_eq!(of(EventKind::Create(CreateKind::File)), Some(Change::Written));
        assert_eq!(of(EventKind::Access(AccessKind::Close(AccessMode::Write))), Some(Change::Closed));
        assert_eq!(of(EventKind::Access(AccessKind::Close(AccessMode::Read))), None, "our own reads");
        assert_eq!(of(EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any))), None, "touch, chmod");
        assert_eq!(of(EventKind::Modify(ModifyKind::Name(RenameMode::To))), Some(Change::Replaced));
        assert_eq!(of(EventKind::Modify(ModifyKind::Name(RenameMode::From))), Some(Change::Removed));
        assert_eq!(of(EventKind::Remove(RemoveKind::File)), Some(Change::Removed));
    }
}
