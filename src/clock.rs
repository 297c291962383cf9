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
        if let Some(t) = Timestamp::parse_utc(text.as_bytes()) {
            return Ok(t);
        }
        let dt = chrono::DateTime::parse_from_rfc3339(text.trim())
            .map_err(|e| format!("invalid RFC 3339 time `{text}`: {e}"))?;
        dt.timestamp_nanos_opt()
            .map(Timestamp)
            .ok_or_else(|| format!("time `{text}` is out of range"))
    }

    /// The common form, `YYYY-MM-DDTHH:MM:SS[.F]Z` with at most nine digits
    /// of fraction and a valid date and time in range, read without chrono
    /// (`gauntlet replay` reads one per call). `None` for anything else, which
    /// chrono then reads or rejects in its words.
    fn parse_utc(text: &[u8]) -> Option<Timestamp> {
        let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b'T', h0, h1, b':', i0, i1, b':', s0, s1, rest @ ..] = text else {
            return None;
        };
        let number = |digits: &[u8]| {
            digits.iter().try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
        };
        let (year, month, day) = (number(&[*y0, *y1, *y2, *y3])?, number(&[*m0, *m1])?, number(&[*d0, *d1])?);
        let (hour, minute, second) = (number(&[*h0, *h1])?, number(&[*i0, *i1])?, number(&[*s0, *s1])?);
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let nanos = match rest {
            [b'Z'] => 0,
            [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
                number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
            }
            _ => return None,
        };
        let secs = days_from_civil(i64::from(year), month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        secs.checked_mul(NANOS_PER_SEC)?.checked_add(i64::from(nanos)).map(Timestamp)
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
        let mut out = String::with_capacity(30);
        self.write_rfc3339(&mut out);
        out
    }

    /// Appends [`Timestamp::to_rfc3339`]'s text to `out`.
    pub fn write_rfc3339(self, out: &mut String) {
        // Written digit by digit: `gauntlet replay` writes one per call. Every i64
        // instant falls in the years 1677–2262, so the year has four digits, no sign.
        let secs = self.secs();
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let of_day = secs.rem_euclid(86_400) as u32;
        let mut text = *b"0000-00-00T00:00:00";
        put_digits(&mut text[0..4], year as u32);
        put_digits(&mut text[5..7], month);
        put_digits(&mut text[8..10], day);
        put_digits(&mut text[11..13], of_day / 3600);
        put_digits(&mut text[14..16], of_day / 60 % 60);
        put_digits(&mut text[17..19], of_day % 60);
        out.push_str(std::str::from_utf8(&text).unwrap_or_default());
        self.write_fraction(out);
    }

    /// Turns `text`, the [`Timestamp::to_rfc3339`] of `previous`, into this
    /// instant's. Only the fraction is rewritten when both fall in the same
    /// second (`gauntlet replay` writes one time per call, in order).
    pub fn rewrite_rfc3339(self, previous: Timestamp, text: &mut String) {
        // `YYYY-MM-DDTHH:MM:SS`, then the fraction and `Z`.
        const SECONDS_END: usize = 19;
        if previous.secs() == self.secs() && text.len() > SECONDS_END {
            text.truncate(SECONDS_END);
            self.write_fraction(text);
        } else {
            text.clear();
            self.write_rfc3339(text);
        }
    }

    /// Appends the fraction of the second (trimmed of trailing zeros, none
    /// when zero) and the `Z`.
    fn write_fraction(self, out: &mut String) {
        let nanos = self.0.rem_euclid(NANOS_PER_SEC) as u32;
        let mut text = *b".000000000Z";
        let end = if nanos == 0 {
            0
        } else {
            put_digits(&mut text[1..10], nanos);
            // Trailing zeros are trimmed; a digit is not zero.
            text[..10].iter().rposition(|&d| d != b'0').map_or(10, |i| i + 1)
        };
        text[end] = b'Z';
        out.push_str(std::str::from_utf8(&text[..=end]).unwrap_or_default());
    }
}

/// Writes `value` into `digits` as exactly that many decimal digits
/// (leading zeros; higher digits dropped).
fn put_digits(digits: &mut [u8], mut value: u32) {
    for d in digits.iter_mut().rev() {
        *d = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// Days in `month` (1–12) of a proleptic Gregorian `year`.
pub(crate) fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day since 1970-01-01: the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = ((month_from_march + 2) % 12 + 1) as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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

    /// What `parse_rfc3339` returned before it read the common form itself.
    fn chrono_parse(text: &str) -> Result<Timestamp, String> {
        let dt = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|e| format!("invalid RFC 3339 time `{text}`: {e}"))?;
        dt.timestamp_nanos_opt().map(Timestamp).ok_or_else(|| format!("time `{text}` is out of range"))
    }

    #[test]
    fn times_are_read_and_written_as_chrono_does_across_the_range() {
        // A fixed-seed walk over the whole i64 range and the years near now.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        // `rewritten` holds the text of `held`.
        let mut held = Timestamp(0);
        let mut rewritten = held.to_rfc3339();
        for k in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let nanos = if k % 2 == 0 { x as i64 } else { 1_700_000_000_000_000_000 + (x % (100 * 365 * 86_400_000_000_000)) as i64 };
            let nanos = if k % 3 == 0 { nanos - nanos % 1_000_000 } else { nanos };
            let t = Timestamp(nanos);
            let dt = chrono::DateTime::from_timestamp(t.secs(), nanos.rem_euclid(NANOS_PER_SEC) as u32).unwrap();
            let frac = format!("{:09}", nanos.rem_euclid(NANOS_PER_SEC));
            let frac = frac.trim_end_matches('0');
            let dot = if frac.is_empty() { "" } else { "." };
            let text = t.to_rfc3339();
            assert_eq!(text, format!("{}{dot}{frac}Z", dt.format("%Y-%m-%dT%H:%M:%S")), "{nanos}");
            assert_eq!(Timestamp::parse_rfc3339(&text), Ok(t), "{text}");
            assert_eq!(chrono_parse(&text), Ok(t), "{text}");
            // Rewritten from the text of the time before, and then to a time near it.
            t.rewrite_rfc3339(held, &mut rewritten);
            assert_eq!(rewritten, text, "{nanos} after {held:?}");
            let near = t.plus_nanos((x % 3_000_000_000) as i64 - 1_000_000_000);
            near.rewrite_rfc3339(t, &mut rewritten);
            assert_eq!(rewritten, near.to_rfc3339(), "{near:?} after {nanos}");
            held = near;
        }
    }

    #[test]
    fn odd_times_are_read_as_chrono_reads_them() {
        let texts = [
            "2026-03-02T10:00:00Z", "2026-03-02T10:00:00.5Z", "2026-03-02T10:00:00.500Z", "2026-03-02T10:00:00.000000001Z",
            "2026-03-02T10:00:00.123456789Z", "2026-03-02T10:00:00.1234567891Z", "2026-03-02T10:00:00.Z", "2026-03-02T10:00:00z",
            "2026-03-02t10:00:00Z", "2026-03-02 10:00:00Z", " 2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z ", "2026-03-02T10:00:00+00:00",
            "2026-03-02T10:00:00-01:30", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z",
            "2026-01-01T23:60:00Z", "2016-12-31T23:59:60Z", "2016-12-31T23:59:60.5Z", "0000-01-01T00:00:00Z", "1677-09-21T00:12:43.145224192Z",
            "1677-09-21T00:12:43.145224191Z", "2262-04-11T23:47:16.854775807Z", "2262-04-11T23:47:16.854775808Z", "9999-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z", "2026-03-0xT10:00:00Z", "+2026-03-02T10:00:00Z", "2026-03-02T10:00:00",
            "", "yesterday", "2026-03-02T10:00:00.-5Z", "2026-03-02T1:00:00Z",
        ];
        for text in texts {
            assert_eq!(Timestamp::parse_rfc3339(text), chrono_parse(text), "{text:?}");
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
