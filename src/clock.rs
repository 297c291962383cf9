//! Time as the core sees it: a UTC instant passed in by the caller.
//!
//! The engine and the proxy core never read the system clock themselves; the
//! drivers hand them `now`. Tests and the testbench use [`VirtualClock`], the
//! standalone proxy uses [`SystemClock`].

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

/// Nanoseconds since the Unix epoch, UTC. Leap seconds do not exist here,
/// exactly as in Go's and Intercept's calendar arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

pub const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Timestamp {
    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs * NANOS_PER_SEC)
    }

    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms * 1_000_000)
    }

    /// Parses RFC 3339 (`2026-03-02T10:59:59Z`, `…+01:00`, fractional seconds allowed).
    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        let dt = chrono::DateTime::parse_from_rfc3339(text.trim())
            .map_err(|e| format!("invalid RFC 3339 time `{text}`: {e}"))?;
        dt.timestamp_nanos_opt()
            .map(Timestamp)
            .ok_or_else(|| format!("time `{text}` is out of range"))
    }

    pub fn secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    pub fn plus_nanos(self, nanos: i64) -> Self {
        Timestamp(self.0.saturating_add(nanos))
    }

    pub fn plus_secs_f64(self, secs: f64) -> Self {
        self.plus_nanos((secs * NANOS_PER_SEC as f64) as i64)
    }

    /// RFC 3339 in UTC with fractional seconds trimmed of trailing zeros (Go's RFC3339Nano).
    pub fn to_rfc3339(self) -> String {
        use chrono::{Datelike, Timelike};
        let nanos = self.0.rem_euclid(NANOS_PER_SEC);
        let dt = chrono::DateTime::from_timestamp(self.secs(), nanos as u32).unwrap_or_default();
        // Written digit by digit: `gauntlet replay` writes one per call. Every i64
        // instant falls in the years 1677–2262, so the year has four digits, no sign.
        let mut out = String::with_capacity(30);
        let fields = [(dt.year().unsigned_abs(), 4, '-'), (dt.month(), 2, '-'), (dt.day(), 2, 'T'), (dt.hour(), 2, ':'), (dt.minute(), 2, ':')];
        for (value, width, after) in fields {
            push_digits(&mut out, value, width);
            out.push(after);
        }
        push_digits(&mut out, dt.second(), 2);
        if nanos != 0 {
            out.push('.');
            let mut digits = 9;
            let mut frac = nanos as u32;
            while frac.is_multiple_of(10) {
                frac /= 10;
                digits -= 1;
            }
            push_digits(&mut out, frac, digits);
        }
        out.push('Z');
        out
    }
}

/// Appends `value` as exactly `width` decimal digits (leading zeros; higher digits dropped).
fn push_digits(out: &mut String, value: u32, width: u32) {
    for k in (0..width).rev() {
        out.push(char::from(b'0' + (value / 10u32.pow(k) % 10) as u8));
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Where drivers get `now` from.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The wall clock, for the standalone proxy and mock servers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_nanos() as i64)
    }
}

/// A clock that only moves when told to: a `day` window costs nothing to test.
#[derive(Debug, Default)]
pub struct VirtualClock(AtomicI64);

impl VirtualClock {
    pub fn new(start: Timestamp) -> Self {
        VirtualClock(AtomicI64::new(start.0))
    }

    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }

    pub fn advance_nanos(&self, nanos: i64) {
        self.0.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_written_as_chrono_formats_it() {
        for nanos in [0, 1, 1_000_000, 123_456_789, 999_999_999, -1, -1_500_000_000, 1_772_445_600_000_000_000, i64::MAX, i64::MIN] {
            let t = Timestamp(nanos);
            let dt = chrono::DateTime::from_timestamp(t.secs(), nanos.rem_euclid(NANOS_PER_SEC) as u32).unwrap();
            let frac = format!("{:09}", nanos.rem_euclid(NANOS_PER_SEC));
            let frac = frac.trim_end_matches('0');
            let dot = if frac.is_empty() { "" } else { "." };
            assert_eq!(t.to_rfc3339(), format!("{}{dot}{frac}Z", dt.format("%Y-%m-%dT%H:%M:%S")), "{nanos}");
        }
    }

    #[test]
    fn rfc3339_round_trip_trims_fraction() {
        let t = Timestamp::parse_rfc3339("2026-03-02T10:59:59.250Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-02T10:59:59.25Z");
        let t = Timestamp::parse_rfc3339("2026-03-02T11:00:00+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-02T10:00:00Z");
    }

    #[test]
    fn virtual_clock_moves_only_when_told() {
        let c = VirtualClock::new(Timestamp::from_secs(100));
        assert_eq!(c.now(), Timestamp::from_secs(100));
        c.advance_nanos(NANOS_PER_SEC);
        assert_eq!(c.now(), Timestamp::from_secs(101));
    }
}
