//! Opens the proxy's counter store from its flags: SQLite in `--state-dir`
//! (the default) or Redis at `--state-dsn`, every key behind
//! `--state-prefix`, failures as `--state-fail-mode` says (semantics §2.8, §2.9).

use std::path::PathBuf;

use crate::clock::Timestamp;
use crate::engine::{CounterKey, CounterStore, StoreError};
use crate::policy::model::Window;

use super::redis::RedisStore;
use super::sqlite::{default_state_dir, with_fail_mode, FailMode, SqliteStore};

/// Where and how counters are kept.
#[derive(Clone, Debug, Default)]
pub struct StateConfig {
    /// SQLite directory; `None` means the default one.
    pub dir: Option<PathBuf>,
    /// A Redis DSN: counters shared with every proxy using it (instead of SQLite).
    pub dsn: Option<String>,
    /// Prepended to every stored key, so proxies with one prefix share counters and others do not.
    pub prefix: String,
    pub fail_mode: FailMode,
}

/// Why a store could not be opened, with what to do about it.
#[derive(Debug, PartialEq, Eq)]
pub struct OpenError {
    pub message: String,
    pub help: &'static str,
}

pub fn open(config: &StateConfig) -> Result<Box<dyn CounterStore>, OpenError> {
    if let Some(dsn) = &config.dsn {
        let store = RedisStore::connect(dsn)
            .map_err(|e| OpenError { message: e.0, help: "check `--state-dsn` (redis://HOST:PORT/DB) and that Redis is running" })?;
        return Ok(with_fail_mode(with_prefix(Box::new(store), &config.prefix), config.fail_mode));
    }
    let dir = config.dir.clone().or_else(default_state_dir).ok_or_else(|| OpenError {
        message: "no place to keep counters: neither HOME nor XDG_STATE_HOME is set".into(),
        help: "pass `--state-dir DIR`",
    })?;
    let store = SqliteStore::open_in_dir(&dir)
        .map_err(|e| OpenError { message: e.0, help: "pass a writable `--state-dir DIR`" })?;
    Ok(with_fail_mode(with_prefix(Box::new(store), &config.prefix), config.fail_mode))
}

/// Wraps a store so every key it stores starts with `prefix` (none when empty).
pub fn with_prefix(store: Box<dyn CounterStore>, prefix: &str) -> Box<dyn CounterStore> {
    if prefix.is_empty() {
        store
    } else {
        Box::new(Prefixed { prefix: prefix.to_string(), inner: store })
    }
}

/// Intercept's `--state-prefix`: the stored key is prefix + key; the engine,
/// audits and `state.` conditions keep seeing the key without it.
struct Prefixed {
    prefix: String,
    inner: Box<dyn CounterStore>,
}

impl Prefixed {
    fn key(&self, key: &CounterKey) -> CounterKey {
        CounterKey { key: format!("{}{}", self.prefix, key.key), partition: key.partition.clone() }
    }
}

impl CounterStore for Prefixed {
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError> {
        let key = self.key(key);
        self.inner.read(&key, now)
    }

    fn reserve(&mut self, key: &CounterKey, amount: i64, limit: i64, window: Window, now: Timestamp) -> Result<Option<i64>, StoreError> {
        let key = self.key(key);
        self.inner.reserve(&key, amount, limit, window, now)
    }

    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError> {
        let key = self.key(key);
        self.inner.rollback(&key, amount)
    }

    /// Only this prefix's counters, without the prefix.
    fn entries(&self) -> Vec<(CounterKey, i64)> {
        self.inner
            .entries()
            .into_iter()
            .filter_map(|(k, v)| {
                let key = k.key.strip_prefix(&self.prefix)?.to_string();
                Some((CounterKey { key, partition: k.partition }, v))
            })
            .collect()
    }

    fn begin_decision(&mut self) {
        self.inner.begin_decision();
    }

    fn end_decision(&mut self) -> Result<(), StoreError> {
        self.inner.end_decision()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> CounterKey {
        CounterKey { key: k.into(), partition: None }
    }

    #[test]
    fn prefixes_separate_counters_in_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let now = Timestamp::from_secs(1_772_449_200);
        let config = |prefix: &str| StateConfig { dir: Some(dir.path().into()), prefix: prefix.into(), ..Default::default() };
        let mut prod = open(&config("prod:")).unwrap();
        let mut prod_again = open(&config("prod:")).unwrap();
        let mut staging = open(&config("staging:")).unwrap();
        assert_eq!(prod.reserve(&key("t.c"), 2, 2, Window::Hour, now), Ok(Some(2)));
        assert_eq!(prod_again.reserve(&key("t.c"), 1, 2, Window::Hour, now), Ok(None), "one prefix, one counter");
        assert_eq!(staging.reserve(&key("t.c"), 2, 2, Window::Hour, now), Ok(Some(2)), "another prefix, another counter");
        assert_eq!(prod.entries(), vec![(key("t.c"), 2)]);
        let raw = SqliteStore::open_in_dir(dir.path()).unwrap();
        let stored: Vec<String> = raw.entries().into_iter().map(|(k, _)| k.key).collect();
        assert_eq!(stored, ["prod:t.c", "staging:t.c"]);
    }
}
