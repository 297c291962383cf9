//! Counters shared by every proxy pointed at one Redis (`--state-dsn`).
//!
//! Replicas behind a load balancer each keeping their own counters let an
//! agent multiply every limit by the number of replicas; one Redis holds one
//! count for all of them. The layout is Intercept's, so gauntlet and
//! Intercept proxies can share counters: one hash per counter at
//! `PREFIX + KEY` (`PREFIX + KEY + "@" + PARTITION` for grant and session
//! scopes) with fields `v` (value), `ws` (window start, RFC 3339 UTC) and `wd`
//! (window length in nanoseconds), expiring after twice the window.
//!
//! Reservation and rollback are Lua scripts, so check-and-increment is one
//! atomic step however many proxies race for the last unit. Errors are
//! returned as they are; what they mean is the fail mode's business
//! ([`super::sqlite::with_fail_mode`]). A lost connection is re-opened on the
//! next operation, at most every [`RETRY`] so a dead server costs no waiting.

use std::time::{Duration, Instant};

use ::redis::{Client, Connection, Script};

use crate::clock::{Timestamp, NANOS_PER_SEC};
use crate::engine::window::window_start;
use crate::engine::{CounterKey, CounterStore, StoreError};
use crate::policy::model::Window;

/// Connecting, and each command, give up after this long.
const TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed connection, operations fail at once for this long.
const RETRY: Duration = Duration::from_millis(200);

/// KEYS[1] the counter; ARGV amount, limit, window start, window length (ns), expiry (ms).
/// A stored window start other than this one counts as 0. Returns the stored
/// value once reserved (as a read would return it), nil if refused.
const RESERVE: &str = r"
local current = 0
if redis.call('HGET', KEYS[1], 'ws') == ARGV[3] then
  current = tonumber(redis.call('HGET', KEYS[1], 'v')) or 0
end
local next = current + tonumber(ARGV[1])
if next > tonumber(ARGV[2]) then
  return false
end
redis.call('HSET', KEYS[1], 'v', next, 'ws', ARGV[3], 'wd', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return redis.call('HGET', KEYS[1], 'v')
";

/// KEYS[1] the counter; ARGV amount. value := max(0, value - amount) if the
/// counter exists, whatever its window.
const ROLLBACK: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local value = (tonumber(redis.call('HGET', KEYS[1], 'v')) or 0) - tonumber(ARGV[1])
if value < 0 then
  value = 0
end
redis.call('HSET', KEYS[1], 'v', value)
return 1
";

pub struct RedisStore {
    client: Client,
    dsn: String,
    conn: Option<Connection>,
    /// When the last connection attempt failed.
    failed_at: Option<Instant>,
    reserve: Script,
    rollback: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("dsn", &self.dsn).finish()
    }
}

fn store_err(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("{context}: {e}"))
}

/// The Redis key of a counter (without the `--state-prefix`, which wraps the store).
pub fn redis_key(key: &CounterKey) -> String {
    match &key.partition {
        None => key.key.clone(),
        Some(p) => format!("{}@{}", key.key, p),
    }
}

impl RedisStore {
    /// Connects to `dsn` (`redis://[:PASSWORD@]HOST[:PORT][/DB]`) and checks
    /// the server answers, as Intercept does at start-up whatever the fail mode.
    pub fn connect(dsn: &str) -> Result<RedisStore, StoreError> {
        let client = Client::open(dsn).map_err(|e| store_err(&format!("invalid Redis DSN `{dsn}`"), e))?;
        let mut store = RedisStore {
            client,
            dsn: dsn.to_string(),
            conn: None,
            failed_at: None,
            reserve: Script::new(RESERVE),
            rollback: Script::new(ROLLBACK),
        };
        store
            .with_conn(|conn| ::redis::cmd("PING").query::<String>(conn))
            .map_err(|e| store_err(&format!("cannot reach Redis at `{dsn}`"), &e.0))?;
        Ok(store)
    }

    fn open_connection(&self) -> ::redis::RedisResult<Connection> {
        let conn = self.client.get_connection_with_timeout(TIMEOUT)?;
        conn.set_read_timeout(Some(TIMEOUT))?;
        conn.set_write_timeout(Some(TIMEOUT))?;
        Ok(conn)
    }

    /// Runs `f` on the connection, (re)connecting first if needed; any error
    /// drops the connection so the next operation starts afresh.
    fn with_conn<T>(&mut self, f: impl FnOnce(&mut Connection) -> ::redis::RedisResult<T>) -> Result<T, StoreError> {
        if self.conn.is_none() {
            if self.failed_at.is_some_and(|t| t.elapsed() < RETRY) {
                return Err(StoreError("Redis unreachable (retrying shortly)".into()));
            }
            match self.open_connection() {
                Ok(conn) => {
                    self.conn = Some(conn);
                    self.failed_at = None;
                }
                Err(e) => {
                    self.failed_at = Some(Instant::now());
                    return Err(store_err("Redis unreachable", e));
                }
            }
        }
        let conn = self.conn.as_mut().ok_or_else(|| StoreError("no Redis connection".into()))?;
        f(conn).map_err(|e| {
            self.conn = None;
            store_err("Redis error", e)
        })
    }
}

/// A stored number: Lua writes integers as integers, but a value beyond
/// 2^53 may come back in exponent form.
fn parse_value(text: &str) -> i64 {
    text.parse::<i64>().unwrap_or_else(|_| text.parse::<f64>().map(|f| f as i64).unwrap_or(0))
}

impl CounterStore for RedisStore {
    fn read(&mut self, key: &CounterKey, now: Timestamp) -> Result<i64, StoreError> {
        let k = redis_key(key);
        let (value, start, length): (Option<String>, Option<String>, Option<String>) =
            self.with_conn(|conn| ::redis::cmd("HMGET").arg(&k).arg("v").arg("ws").arg("wd").query(conn))?;
        let (Some(value), Some(start), Some(length)) = (value, start, length) else { return Ok(0) };
        let secs = (parse_value(&length) / NANOS_PER_SEC).max(1) as u64;
        let current = window_start(Window::Seconds(secs), now);
        Ok(match Timestamp::parse_rfc3339(&start) {
            Ok(stored) if stored == current => parse_value(&value),
            _ => 0,
        })
    }

    fn reserve(&mut self, key: &CounterKey, amount: i64, limit: i64, window: Window, now: Timestamp) -> Result<Option<i64>, StoreError> {
        let k = redis_key(key);
        let secs = window.length_secs().max(1);
        let start = window_start(window, now).to_rfc3339();
        let length_ns = (secs as i64).saturating_mul(NANOS_PER_SEC);
        let expiry_ms = (secs as i64).saturating_mul(2000);
        let script = self.reserve.clone();
        let stored: Option<String> = self.with_conn(|conn| {
            script.key(&k).arg(amount).arg(limit).arg(&start).arg(length_ns).arg(expiry_ms).invoke(conn)
        })?;
        Ok(stored.as_deref().map(parse_value))
    }

    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), StoreError> {
        let k = redis_key(key);
        let script = self.rollback.clone();
        self.with_conn(|conn| script.key(&k).arg(amount).invoke::<i64>(conn)).map(|_| ())
    }

    /// Every counter in the database (an operator's view: it scans all keys).
    fn entries(&self) -> Vec<(CounterKey, i64)> {
        let Ok(mut conn) = self.open_connection() else { return Vec::new() };
        let keys: Vec<String> = match ::redis::cmd("KEYS").arg("*").query(&mut conn) {
            Ok(keys) => keys,
            Err(_) => return Vec::new(),
        };
        let mut out: Vec<(CounterKey, i64)> = keys
            .into_iter()
            .filter_map(|k| {
                let value: Option<String> = ::redis::cmd("HGET").arg(&k).arg("v").query(&mut conn).ok()?;
                let key = match k.split_once('@') {
                    Some((key, partition)) => CounterKey { key: key.into(), partition: Some(partition.into()) },
                    None => CounterKey { key: k, partition: None },
                };
                Some((key, parse_value(&value?)))
            })
            .collect();
        out.sort();
        out
    }
}
