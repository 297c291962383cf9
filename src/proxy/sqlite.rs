//! Counters that survive a restart: a [`CounterStore`] in one SQLite file.
//!
//! Killing and restarting the proxy is an attacker's cheapest way to reset a
//! limit, so the standalone proxy keeps its counters on disk by default
//! (semantics §2.8). One table, one row per counter; every reservation runs
//! in an immediate transaction so two proxies sharing the file cannot both
//! take the last unit of a limit. This module does not decide what a failure
//! means: see [`FailOpen`] for `--state-fail-mode open`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Timestamp;
use crate::engine::{CounterKey, CounterStore, StoreError};
use crate::policy::model::Window;

/// The file name inside `--state-dir`.
pub const STATE_FILE: &str = "gauntlet-state.sqlite";

/// How long a writer waits for another process holding the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The start (Unix seconds) of the window of `length_secs` containing `now`:
/// the engine's rule, applied to a length read back from the file.
fn window_start(now: Timestamp, length_secs: u64) -> i64 {
    crate::engine::window::window_start(Window::Seconds(length_secs), now).secs()
}

/// Where counters live when `--state-dir` is not given:
/// `$XDG_STATE_HOME/gauntlet`, else `~/.gauntlet/state`.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("gauntlet"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".gauntlet").join("state"))
}

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// A decision's immediate transaction is open ([`CounterStore::begin_decision`]):
    /// reservations run inside it instead of opening their own.
    in_decision: bool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish()
    }
}

fn store_err(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("{context}: {e}"))
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/gauntlet-state.sqlite`, creating `dir` too.
    pub fn open_in_dir(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| store_err(&format!("cannot create state directory `{}`", dir.display()), e))?;
        SqliteStore::open(&dir.join(STATE_FILE))
    }

    /// Opens (creating if needed) the state file at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let context = format!("cannot open state file `{}`", path.display());
        let conn = Connection::open(path).map_err(|e| store_err(&context, e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| store_err(&context, e))?;
        // WAL lets readers of one proxy proceed while another writes; if the
        // file system refuses WAL the default journal still works.
        let _ = conn.pragma_update(None, "journal_mode", "WAL");
        // In WAL mode NORMAL survives a crash of the proxy (the threat here:
        // a restart to reset limits) without an fsync on every reservation.
        let _ = conn.pragma_update(None, "synchronous", "NORMAL");
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS counters (
                key          TEXT    NOT NULL,
                scoped       INTEGER NOT NULL,
                partition    TEXT    NOT NULL,
                value        INTEGER NOT NULL,
                window_start INTEGER NOT NULL,
                window_secs  INTEGER NOT NULL,
                PRIMARY KEY (key, scoped, partition)
            )",
        )
        .map_err(|e| store_err(&context, e))?;
        Ok(SqliteStore { conn, path: path.to_path_buf(), in_decision: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `None` and `Some("")` are different partitions, so the partition is
/// stored as a (scoped, text) pair rather than a nullable column, which a
/// primary key would not keep unique.
fn partition_cols(key: &CounterKey) -> (i64, &str) {
    match &key.partition {
        None => (0, ""),
        Some(p) => (1, p.as_str()),
    }
}

/// (value, window_start, window_secs) of a stored counter.
type Row = (i64, i64, i64);

fn load(conn: &Connection, key: &CounterKey) -> rusqlite::Result<Option<Row>> {
    let (scoped, partition) = partition_cols(key);
    // Cached statements: preparing SQL on every call costs more than running it.
    conn.prepare_cached(
        "SELECT value, window_start, window_secs FROM counters WHERE key = ?1 AND scoped = ?2 AND partition = ?3",
    )?
    .query_row(params![key.key, scoped, partition], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .optional()
}

impl CounterStore for SqliteStore {
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError> {
        let row = load(&self.conn, key).map_err(|e| store_err("state read failed", e))?;
        Ok(match row {
            Some((value, start, secs)) if start == window_start(now, secs.max(1) as u64) => value,
            _ => 0,
        })
    }

    fn reserve(
        &mut self,
        key: &CounterKey,
        amount: i64,
        limit: i64,
        window: Window,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let fail = |e| store_err("state reservation failed", e);
        if self.in_decision {
            return reserve_in_transaction(&self.conn, key, amount, limit, window, now).map_err(fail);
        }
        begin(&self.conn).map_err(fail)?;
        let taken = reserve_in_transaction(&self.conn, key, amount, limit, window, now)
            .and_then(|taken| run_cached(&self.conn, "COMMIT").map(|()| taken));
        if taken.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        taken.map_err(fail)
    }

    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError> {
        let (scoped, partition) = partition_cols(key);
        // max(0, value - amount) in one statement: atomic without a transaction.
        self.conn
            .prepare_cached(
                "UPDATE counters SET value = MAX(0, value - ?4) WHERE key = ?1 AND scoped = ?2 AND partition = ?3",
            )
            .and_then(|mut stmt| stmt.execute(params![key.key, scoped, partition, amount]))
            .map_err(|e| store_err("state rollback failed", e))?;
        Ok(())
    }

    fn entries(&self) -> Vec<(CounterKey, i64)> {
        let Ok(mut stmt) = self
            .conn
            .prepare("SELECT key, scoped, partition, value FROM counters ORDER BY key, scoped, partition")
        else {
            return Vec::new();
        };
        let rows = stmt.query_map([], |r| {
            let scoped: i64 = r.get(1)?;
            let partition: String = r.get(2)?;
            Ok((
                CounterKey { key: r.get(0)?, partition: (scoped != 0).then_some(partition) },
                r.get::<_, i64>(3)?,
            ))
        });
        match rows {
            Ok(rows) => rows.filter_map(Result::ok).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn begin_decision(&mut self) {
        // If BEGIN fails, each operation runs (and fails) on its own, as without a unit.
        self.in_decision = begin(&self.conn).is_ok();
    }

    fn end_decision(&mut self) -> Result<(), StoreError> {
        if !std::mem::take(&mut self.in_decision) {
            return Ok(());
        }
        run_cached(&self.conn, "COMMIT").map_err(|e| {
            let _ = self.conn.execute_batch("ROLLBACK");
            store_err("state reservation failed", e)
        })
    }
}

/// Opens an immediate transaction. One still open from a decision that never
/// ended (a panic mid-way) is rolled back first: left open, it would hold the
/// file's write lock for good.
fn begin(conn: &Connection) -> rusqlite::Result<()> {
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK")?;
    }
    // Cached statements rather than rusqlite's `Transaction`, which parses
    // BEGIN and COMMIT afresh on every call, in the path of every call.
    run_cached(conn, "BEGIN IMMEDIATE")
}

/// Runs a statement without parameters through the statement cache.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// [`CounterStore::reserve`] inside the caller's immediate transaction.
fn reserve_in_transaction(
    conn: &Connection,
    key: &CounterKey,
    amount: i64,
    limit: i64,
    window: Window,
    now: Timestamp,
) -> rusqlite::Result<Option<i64>> {
    let secs = window.length_secs();
    let start = window_start(now, secs);
    let current = match load(conn, key)? {
        Some((value, stored_start, _)) if stored_start == start => value,
        _ => 0,
    };
    let next = current.saturating_add(amount);
    if next > limit {
        return Ok(None);
    }
    let (scoped, partition) = partition_cols(key);
    conn.prepare_cached(
        "INSERT INTO counters (key, scoped, partition, value, window_start, window_secs)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (key, scoped, partition) DO UPDATE SET
            value = excluded.value, window_start = excluded.window_start, window_secs = excluded.window_secs",
    )?
    .execute(params![key.key, scoped, partition, next, start, secs as i64])?;
    Ok(Some(next))
}

/// What a store failure means, chosen with `--state-fail-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Errors reach the engine: reads deny with the rule's message, reservations deny as internal errors.
    #[default]
    Closed,
    /// Errors are swallowed: reads give 0, reservations succeed uncounted, rollbacks are ignored.
    Open,
}

impl FailMode {
    /// The word `--state-fail-mode` takes for it.
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Closed => "closed",
            FailMode::Open => "open",
        }
    }
}

impl std::str::FromStr for FailMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "closed" => Ok(FailMode::Closed),
            "open" => Ok(FailMode::Open),
            other => Err(format!("unknown state fail mode `{other}`: expected `open` or `closed`")),
        }
    }
}

/// Wraps any store with Intercept's fail-open behaviour (semantics §2.9):
/// every call that passes the argument rules is allowed while the store fails.
pub struct FailOpen {
    inner: Box<dyn CounterStore>,
}

impl FailOpen {
    pub fn new(inner: Box<dyn CounterStore>) -> FailOpen {
        FailOpen { inner }
    }
}

impl CounterStore for FailOpen {
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError> {
        Ok(self.inner.read(key, now).unwrap_or(0))
    }

    fn reserve(
        &mut self,
        key: &CounterKey,
        amount: i64,
        limit: i64,
        window: Window,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        // Taken without counting, read back as 0 like every failed read here.
        Ok(self.inner.reserve(key, amount, limit, window, now).unwrap_or(Some(0)))
    }

    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError> {
        let _ = self.inner.rollback(key, amount);
        Ok(())
    }

    fn entries(&self) -> Vec<(CounterKey, i64)> {
        self.inner.entries()
    }

    fn begin_decision(&mut self) {
        self.inner.begin_decision();
    }

    fn end_decision(&mut self) -> Result<(), StoreError> {
        let _ = self.inner.end_decision();
        Ok(())
    }
}

/// Applies a fail mode to a store.
pub fn with_fail_mode(store: Box<dyn CounterStore>, mode: FailMode) -> Box<dyn CounterStore> {
    match mode {
        FailMode::Closed => store,
        FailMode::Open => Box::new(FailOpen::new(store)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::FailClosedStore;

    fn key(k: &str, p: Option<&str>) -> CounterKey {
        CounterKey { key: k.into(), partition: p.map(String::from) }
    }

    const T0: i64 = 1_772_449_200; // 2026-03-02T11:00:00Z, a minute boundary

    #[test]
    fn restart_keeps_counters() {
        let dir = tempfile::tempdir().unwrap();
        let now = Timestamp::from_secs(T0 + 5);
        {
            let mut s = SqliteStore::open_in_dir(dir.path()).unwrap();
            assert_eq!(s.reserve(&key("t.c", None), 2, 3, Window::Minute, now), Ok(Some(2)));
        }
        let mut s = SqliteStore::open_in_dir(dir.path()).unwrap();
        assert_eq!(s.read(&key("t.c", None), now).unwrap(), 2);
        assert_eq!(s.reserve(&key("t.c", None), 2, 3, Window::Minute, now), Ok(None));
        assert_eq!(s.reserve(&key("t.c", None), 1, 3, Window::Minute, now), Ok(Some(3)));
        assert_eq!(s.entries(), vec![(key("t.c", None), 3)]);
    }

    #[test]
    fn window_rollover_resets_reads_and_reservations() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_in_dir(dir.path()).unwrap();
        let k = key("t.c", None);
        assert_eq!(s.reserve(&k, 5, 5, Window::Minute, Timestamp::from_secs(T0 + 59)), Ok(Some(5)));
        assert_eq!(s.read(&k, Timestamp::from_secs(T0 + 59)).unwrap(), 5);
        assert_eq!(s.reserve(&k, 1, 5, Window::Minute, Timestamp::from_secs(T0 + 59)), Ok(None));
        assert_eq!(s.read(&k, Timestamp::from_secs(T0 + 60)).unwrap(), 0);
        assert_eq!(s.reserve(&k, 1, 5, Window::Minute, Timestamp::from_secs(T0 + 60)), Ok(Some(1)));
        assert_eq!(s.read(&k, Timestamp::from_secs(T0 + 60)).unwrap(), 1);
        // A read uses the STORED window length: an hour-long counter is still current a minute later.
        let h = key("t.h", None);
        assert_eq!(s.reserve(&h, 1, 9, Window::Hour, Timestamp::from_secs(T0)), Ok(Some(1)));
        assert_eq!(s.read(&h, Timestamp::from_secs(T0 + 61)).unwrap(), 1);
        assert_eq!(s.read(&h, Timestamp::from_secs(T0 + 3600)).unwrap(), 0);
    }

    #[test]
    fn rollback_floors_at_zero_and_ignores_windows() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_in_dir(dir.path()).unwrap();
        let k = key("t.c", None);
        s.rollback(&k, 1).unwrap();
        assert!(s.entries().is_empty(), "rollback of an absent key creates nothing");
        assert_eq!(s.reserve(&k, 2, 5, Window::Minute, Timestamp::from_secs(T0)), Ok(Some(2)));
        s.rollback(&k, 5).unwrap();
        assert_eq!(s.entries(), vec![(k.clone(), 0)]);
        s.rollback(&k, -3).unwrap();
        assert_eq!(s.read(&k, Timestamp::from_secs(T0)).unwrap(), 3);
    }

    #[test]
    fn partitions_are_separate_counters() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_in_dir(dir.path()).unwrap();
        let now = Timestamp::from_secs(T0);
        assert_eq!(s.reserve(&key("t.c", Some("alice")), 1, 1, Window::Day, now), Ok(Some(1)));
        assert_eq!(s.reserve(&key("t.c", Some("bob")), 1, 1, Window::Day, now), Ok(Some(1)));
        assert_eq!(s.reserve(&key("t.c", Some("")), 1, 1, Window::Day, now), Ok(Some(1)));
        assert_eq!(s.reserve(&key("t.c", None), 1, 1, Window::Day, now), Ok(Some(1)));
        assert_eq!(s.reserve(&key("t.c", Some("alice")), 1, 1, Window::Day, now), Ok(None));
        assert_eq!(s.entries().len(), 4);
    }

    #[test]
    fn concurrent_opens_of_one_file_never_overshoot_a_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        SqliteStore::open(&path).unwrap();
        let now = Timestamp::from_secs(T0);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut s = SqliteStore::open(&path).unwrap();
                    (0..25)
                        .filter(|_| s.reserve(&key("t.c", None), 1, 30, Window::Hour, now).unwrap().is_some())
                        .count()
                })
            })
            .collect();
        let granted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(granted, 30);
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.read(&key("t.c", None), now).unwrap(), 30);
    }

    #[test]
    fn a_decision_unit_commits_once_and_an_abandoned_one_is_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_in_dir(dir.path()).unwrap();
        let mut other = SqliteStore::open_in_dir(dir.path()).unwrap();
        let (k, now) = (key("t.c", None), Timestamp::from_secs(T0));
        s.begin_decision();
        assert_eq!(s.read(&k, now), Ok(0));
        assert_eq!(s.reserve(&k, 2, 5, Window::Minute, now), Ok(Some(2)));
        assert_eq!(s.reserve(&k, 4, 5, Window::Minute, now), Ok(None));
        assert!(!s.conn.is_autocommit(), "one transaction for the whole decision");
        assert_eq!(other.read(&k, now), Ok(0), "not visible before the unit ends");
        s.end_decision().unwrap();
        assert_eq!(other.read(&k, now), Ok(2));
        assert_eq!(s.end_decision(), Ok(()), "ending twice is harmless");

        // A decision that never ended: the next one drops what it did instead of failing.
        s.begin_decision();
        assert_eq!(s.reserve(&k, 1, 5, Window::Minute, now), Ok(Some(3)));
        s.begin_decision();
        assert_eq!(s.reserve(&k, 1, 5, Window::Minute, now), Ok(Some(3)));
        s.end_decision().unwrap();
        assert_eq!(other.read(&k, now), Ok(3));
        assert_eq!(s.reserve(&k, 1, 5, Window::Minute, now), Ok(Some(4)), "outside a unit, a reservation commits itself");
        assert_eq!(other.read(&k, now), Ok(4));
    }

    #[test]
    fn fail_modes() {
        let k = key("t.c", None);
        let now = Timestamp::from_secs(T0);
        let mut closed = with_fail_mode(Box::new(FailClosedStore), FailMode::Closed);
        assert!(closed.read(&k, now).is_err());
        assert!(closed.reserve(&k, 1, 1, Window::Minute, now).is_err());
        let mut open = with_fail_mode(Box::new(FailClosedStore), FailMode::Open);
        assert_eq!(open.read(&k, now), Ok(0));
        assert_eq!(open.reserve(&k, 1, 1, Window::Minute, now), Ok(Some(0)));
        assert_eq!(open.rollback(&k, 1), Ok(()));
        assert_eq!("open".parse::<FailMode>(), Ok(FailMode::Open));
        assert!("shut".parse::<FailMode>().unwrap_err().contains("`shut`"));
    }
}
