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
//!
//! A watcher thread alone fails open on a busy machine: it ran seconds late,
//! and calls sent after a tightened policy was closed were decided under the
//! old one. So the transports also read the directory's inotify queue
//! themselves before each agent message ([`Reloader::catch_up`]): a version
//! whose writer has finished is loaded then, before the message is decided
//! (it waits for a load already under way); one still being written is not.

use std::ffi::OsString;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use inotify::{EventMask, Inotify, WatchMask};
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};

use super::core::ProxyCore;
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

    /// The same for an inotify event's mask (the proxy's own watch).
    pub fn of_mask(mask: EventMask) -> Option<Change> {
        if mask.contains(EventMask::CLOSE_WRITE) {
            Some(Change::Closed)
        } else if mask.intersects(EventMask::MOVED_FROM | EventMask::DELETE) {
            Some(Change::Removed)
        } else if mask.contains(EventMask::MOVED_TO) {
            Some(Change::Replaced)
        } else if mask.intersects(EventMask::MODIFY | EventMask::CREATE) {
            Some(Change::Written)
        } else {
            None
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

    /// What a call about to be decided needs done first: a version whose
    /// writer finished is read now, without waiting out [`DEBOUNCE`] (the
    /// call would be decided under the version it replaced). A file still
    /// open for writing or removed changes nothing for the call: the
    /// version in force stays until the file settles.
    pub fn due_before_call(&mut self) -> Option<Due> {
        if self.state != Pending::Complete {
            return None;
        }
        self.state = Pending::Nothing;
        Some(Due::Load { closed: true })
    }
}

/// How long the watcher thread waits, at most, before it checks whether
/// the proxy still holds the watch (no change is pending then).
const IDLE: Duration = Duration::from_secs(1);

/// A caller's catch-up loads at most this many versions in a row: a writer
/// closing the file again as fast as it loads must not hold a call forever.
const CATCH_UP_LOADS: usize = 4;

/// The watch on the policy file, shared by the watcher thread and the
/// transports. The transports pull what it applied ([`Reloader::apply_to`])
/// and, before each agent message, have it read the kernel's queue of
/// changes themselves ([`Reloader::catch_up`]): a watcher thread that a busy
/// machine runs late then delays a call, never decides it under a version
/// already replaced on disk. Dropping the last handle stops the thread.
pub struct Reloader {
    inner: Arc<Inner>,
}

struct Inner {
    /// Locked while the queue is read and while a version loads: a caller
    /// catching up waits here for a load already under way.
    watch: Mutex<Watch>,
    /// The number of the last version applied (0: the one the proxy started
    /// with), read without a lock on every message.
    version: AtomicU64,
    /// That version's engine.
    applied: Mutex<Option<(u64, Engine)>>,
    stopped: AtomicBool,
}

/// The inotify queue of the policy's directory and what it has said so far.
struct Watch {
    inotify: Inotify,
    buffer: Vec<u8>,
    /// See [`names_of`]: the first is the policy's own.
    names: Vec<OsString>,
    settle: Settle,
    reload: Reload,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watch {
    /// Takes every event the kernel has queued (never waits): once a
    /// writer's `close` or `rename` has returned, its event is in the queue.
    fn read_queue(&mut self, now: Instant) {
        let Watch { inotify, buffer, names, settle, .. } = self;
        loop {
            let events = match inotify.read_events(buffer) {
                Ok(events) => events,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    eprintln!("gauntlet proxy: warning: cannot read the policy's file events: {e}");
                    return;
                }
            };
            for event in events {
                if event.mask.contains(EventMask::Q_OVERFLOW) {
                    // Events were lost: the policy may have changed, complete or not.
                    settle.see(Change::Written, now);
                    continue;
                }
                // Only the policy's own events count; a file written beside it is not a change to it.
                let own = event.name.and_then(|n| names.iter().position(|m| m.as_os_str() == n)).map(|at| at == 0);
                if let (Some(own), Some(change)) = (own, Change::of_mask(event.mask)) {
                    // A link the policy goes through was replaced (or touched in any
                    // way): the policy is read again, whole, once it settles.
                    settle.see(if own { change } else { Change::Replaced }, now);
                }
            }
        }
    }
}

impl Inner {
    fn watch(&self) -> MutexGuard<'_, Watch> {
        relock(&self.watch)
    }

    fn publish(&self, engine: Engine) {
        let mut applied = relock(&self.applied);
        let version = self.version.load(Ordering::Acquire) + 1;
        *applied = Some((version, engine));
        self.version.store(version, Ordering::Release);
    }

    /// Loads what `due` says and publishes it if it applies.
    fn act(&self, watch: &mut Watch, due: Due) {
        if let Some(engine) = watch.reload.act(due) {
            self.publish(engine);
        }
    }
}

impl Reloader {
    /// Before an agent message is decided: reads the changes queued for the
    /// policy file and loads, now, a version whose writer has finished
    /// (closed it, or renamed it into place), without waiting out
    /// [`DEBOUNCE`]; a load the watcher thread has under way is waited for.
    /// A file still open for writing, or removed, leaves the version in force.
    pub fn catch_up(&self) {
        let mut watch = self.inner.watch();
        for _ in 0..CATCH_UP_LOADS {
            watch.read_queue(Instant::now());
            let Some(due) = watch.settle.due_before_call() else { return };
            self.inner.act(&mut watch, due);
        }
    }

    /// The version applied after `version`, with its number, if there is one.
    pub fn newer_than(&self, version: u64) -> Option<(u64, Engine)> {
        if self.inner.version.load(Ordering::Acquire) <= version {
            return None;
        }
        relock(&self.inner.applied).clone().filter(|(v, _)| *v > version)
    }

    /// Gives `core` the last version applied, if it does not have it yet.
    pub fn apply_to(&self, core: &mut ProxyCore) {
        if let Some((version, engine)) = self.newer_than(core.engine_version()) {
            core.set_engine_version(version, engine);
        }
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        self.inner.stopped.store(true, Ordering::Relaxed);
    }
}

/// [`watch`], or a warning and no reloading when the file cannot be watched:
/// the proxy still serves with the policy it started with.
pub fn watch_or_warn(policy: &Watched) -> Option<Arc<Reloader>> {
    watch(policy).map_err(|e| eprintln!("gauntlet proxy: warning: hot reload is off: {e}")).ok().map(Arc::new)
}

/// Watches the policy file; the watcher thread loads each version once it
/// has settled ([`Settle`]).
pub fn watch(policy: &Watched) -> Result<Reloader, String> {
    start(policy, true)
}

/// [`watch`]; without the watcher thread (`thread: false`), only callers
/// catching up load anything: a watcher thread that never gets to run.
fn start(policy: &Watched, thread: bool) -> Result<Reloader, String> {
    let path = &policy.path;
    let path = std::path::absolute(path).map_err(|e| format!("cannot resolve `{}`: {e}", path.display()))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let inotify = Inotify::init().map_err(|e| format!("cannot watch policy files: {e}"))?;
    let mask = WatchMask::MODIFY | WatchMask::CLOSE_WRITE | WatchMask::CREATE | WatchMask::DELETE | WatchMask::MOVED_FROM | WatchMask::MOVED_TO;
    inotify.watches().add(&dir, mask).map_err(|e| format!("cannot watch `{}`: {e}", dir.display()))?;
    let mut settle = Settle::default();
    // Written since the engine in force was loaded (or while it loaded):
    // no event will say so now that the watch is on, so it is due as a write.
    if std::fs::read(&path).ok().as_deref() != policy.loaded.as_deref() {
        eprintln!("gauntlet proxy: the policy `{}` changed after the proxy loaded it at start; reading it again", path.display());
        settle.see(Change::Written, Instant::now());
    }
    let reload = Reload { enforced: policy.loaded.as_deref().map(<[u8]>::to_vec), policy: Watched { path: path.clone(), ..policy.clone() } };
    let watch = Watch { inotify, buffer: vec![0; 4096], names: names_of(&path), settle, reload };
    let inner = Arc::new(Inner { watch: Mutex::new(watch), version: AtomicU64::new(0), applied: Mutex::new(None), stopped: AtomicBool::new(false) });
    if thread {
        let watcher = inner.clone();
        std::thread::spawn(move || run_watcher(&watcher));
    }
    Ok(Reloader { inner })
}

/// The watcher thread: waits for events or for the next settle deadline,
/// and loads each version once it has settled.
fn run_watcher(inner: &Inner) {
    let fd = inner.watch().inotify.as_raw_fd();
    while !inner.stopped.load(Ordering::Relaxed) {
        let deadline = inner.watch().settle.deadline();
        let wait = deadline.map_or(IDLE, |at| at.saturating_duration_since(Instant::now()).min(IDLE));
        let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // Rounded up, so a deadline is never polled for as 0 ms over and over.
        let ms = wait.as_micros().div_ceil(1000) as libc::c_int;
        // SAFETY: one valid pollfd; the descriptor lives as long as `inner`.
        unsafe { libc::poll(&mut poll, 1, ms) };
        let mut watch = inner.watch();
        let now = Instant::now();
        watch.read_queue(now);
        if let Some(due) = watch.settle.due(now) {
            inner.act(&mut watch, due);
        }
    }
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

/// One reload: read, load, check, log; the engine to apply, if it applies.
struct Reload {
    policy: Watched,
    /// The bytes of the version in force (as read when it was loaded).
    enforced: Option<Vec<u8>>,
}

impl Reload {
    fn act(&mut self, due: Due) -> Option<Engine> {
        let shown = self.policy.path.display().to_string();
        let closed = match due {
            Due::Gone => {
                eprintln!("gauntlet proxy: the policy `{shown}` was removed or renamed away; the previous policy stays in force");
                return None;
            }
            Due::Load { closed } => closed,
        };
        let before = match std::fs::read(&self.policy.path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("gauntlet proxy: cannot read the changed policy `{shown}`: {e}; the previous policy stays in force");
                return None;
            }
        };
        if self.enforced.as_deref() == Some(before.as_slice()) {
            eprintln!("gauntlet proxy: the policy `{shown}` was written with the content already in force; nothing to reload");
            return None;
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
            return None;
        }
        match loaded {
            Ok(engine) => {
                eprintln!("gauntlet proxy: reloaded policy `{shown}` ({} bytes)", before.len());
                self.enforced = Some(before);
                Some(engine)
            }
            Err(_) => {
                eprintln!(
                    "gauntlet proxy: rejected the changed policy `{shown}` ({} bytes; errors above); the previous policy stays in force",
                    before.len()
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::DefaultAction;

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
        let watch = watch(&policy).unwrap();
        assert_eq!(applied_within(&watch, OPEN_GRACE * 5), Some(DefaultAction::Deny), "the version written before the watch was loaded");
        // Unchanged since it loaded: nothing to read again.
        let mut current = Watched { loaded: None, ..policy.clone() };
        load_initial(&mut current).unwrap();
        let watch = super::watch(&current).unwrap();
        assert_eq!(applied_within(&watch, OPEN_GRACE + Duration::from_secs(1)), None);
    }

    /// The default of the first version the watch applies within `wait`.
    fn applied_within(watch: &Reloader, wait: Duration) -> Option<DefaultAction> {
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if let Some((_, engine)) = watch.newer_than(0) {
                return Some(engine.policy().default);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The default of the version in force after a caller caught up.
    fn in_force(watch: &Reloader, version: &mut u64, start: DefaultAction) -> DefaultAction {
        watch.catch_up();
        if let Some((v, _)) = watch.newer_than(*version) {
            *version = v;
        }
        relock(&watch.inner.applied).as_ref().map_or(start, |(_, engine)| engine.policy().default)
    }

    #[test]
    fn a_call_reads_a_finished_version_at_once_and_a_file_still_being_written_not_at_all() {
        let t = Instant::now();
        let mut s = Settle::default();
        assert_eq!(s.due_before_call(), None);
        s.see(Change::Written, t);
        assert_eq!(s.due_before_call(), None, "mid-write: the version in force decides");
        s.see(Change::Closed, ms(t, 1));
        assert_eq!(s.due_before_call(), Some(Due::Load { closed: true }), "no debounce for a call");
        assert_eq!(s.due(ms(t, 500)), None, "loaded once, by the call");
        s.see(Change::Replaced, ms(t, 600));
        assert_eq!(s.due_before_call(), Some(Due::Load { closed: true }));
        s.see(Change::Removed, ms(t, 700));
        assert_eq!(s.due_before_call(), None, "gone: the previous policy stays");
        assert_eq!(s.due(ms(t, 800)), Some(Due::Gone), "and the watcher says so");
    }

    /// Under load the watcher thread ran seconds late, and calls the agent
    /// sent after a tightened policy was written and closed were decided,
    /// and let through, under the old one (`policy-tightened` fails open).
    /// Here the watcher thread never runs at all: a caller catching up must
    /// still decide under each version written whole, never under half a
    /// file, and keep the old one when the new one is invalid.
    #[test]
    fn a_call_after_the_writer_closed_the_policy_sees_it_however_late_the_watcher_runs() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, "version: \"1\"\ndefault: allow\ntools: {}\n").unwrap();
        let mut policy = Watched { path: path.clone(), dialect: None, profile: Profile::Intercept, loaded: None };
        load_initial(&mut policy).unwrap();
        let watch = start(&policy, false).unwrap();
        let mut version = 0;
        let allow = DefaultAction::Allow;
        assert_eq!(in_force(&watch, &mut version, allow), DefaultAction::Allow);
        std::fs::write(&path, "version: \"1\"\ndefault: deny\ntools: {}\n").unwrap();
        assert_eq!(in_force(&watch, &mut version, allow), DefaultAction::Deny, "written and closed: in force for the next call");
        assert_eq!(version, 1);
        // Half a file (itself a valid policy) while its writer pauses: not applied.
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(b"version: \"1\"\ndefault: allow\n").unwrap();
        file.flush().unwrap();
        assert_eq!(in_force(&watch, &mut version, allow), DefaultAction::Deny, "mid-write, the version in force stays");
        file.write_all(b"tools: {}\n").unwrap();
        drop(file);
        assert_eq!(in_force(&watch, &mut version, allow), DefaultAction::Allow, "closed: the whole version is in force");
        assert_eq!(version, 2);
        std::fs::write(&path, "version: \"2\"\ntools: {}\n").unwrap();
        assert_eq!(in_force(&watch, &mut version, allow), DefaultAction::Allow, "an invalid version leaves the old in force");
        assert_eq!(version, 2);
        // Renamed into place, as editors save.
        std::fs::write(dir.path().join("policy.yaml.tmp"), "version: \"1\"\ndefault: deny\ntools: {}\n").unwrap();
        std::fs::rename(dir.path().join("policy.yaml.tmp"), &path).unwrap();
        assert_eq!(in_force(&watch, &mut version, allow), DefaultAction::Deny, "renamed into place: in force for the next call");
        assert_eq!(version, 3);
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
        let of = Change::of_mask;
        assert_eq!(of(EventMask::MODIFY), Some(Change::Written));
        assert_eq!(of(EventMask::CREATE), Some(Change::Written));
        assert_eq!(of(EventMask::CLOSE_WRITE), Some(Change::Closed));
        assert_eq!(of(EventMask::MOVED_TO), Some(Change::Replaced));
        assert_eq!(of(EventMask::MOVED_FROM), Some(Change::Removed));
        assert_eq!(of(EventMask::DELETE), Some(Change::Removed));
        assert_eq!(of(EventMask::ATTRIB), None, "touch, chmod");
    }
}
