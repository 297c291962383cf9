//! Rate-window bounds: how many calls (or how much amount) a tool's limits
//! let through in any window of a given length, sliding or calendar.
//!
//! Intercept's windows are fixed and UTC-aligned (§2.8): a limit of N per
//! window of length L admits N in each window, so an interval touches some
//! number of those windows and admits at most N times that many. A sliding
//! interval of W nanoseconds touches at most ⌈(W−1)/L⌉+1 windows (a burst
//! of 2N around one edge when W = L); a calendar interval (aligned to
//! multiples of W since the epoch) touches a number that depends on how W
//! and L line up, computed over one period of their alignment. Several
//! limits each give a bound; the smallest holds. Limits on partitioned
//! counters (per identity or session) bound nothing here, since a caller
//! may open a new session; an amount limit bounds calls only when each
//! call counts at least 1 (the strict profile's whole, positive amounts).
//! These are upper bounds: a proof uses them, and a refutation is a
//! schedule replayed through the engine, never this arithmetic.

use super::{Limit, Rules};
use crate::policy::model::CounterScope;
use crate::profile::Profile;

const NANOS: i64 = 1_000_000_000;

/// A requirement's window: `len` nanoseconds, sliding or calendar-aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub len: i64,
    pub sliding: bool,
}

/// Most windows of `window` nanoseconds that one interval of `span` touches.
pub fn windows_touched(span: Span, window: i64) -> u64 {
    let (w, l) = (span.len.max(1), window.max(1));
    let sliding = ((w - 1 + l - 1) / l + 1) as u64;
    if span.sliding {
        return sliding;
    }
    // Aligned intervals [kW, kW+W): the pattern repeats every L/gcd(W, L) intervals.
    let period = l / gcd(w, l);
    if period > 100_000 {
        return sliding;
    }
    (0..period)
        .map(|k| {
            let (start, end) = ((k as i128) * w as i128, (k as i128) * w as i128 + w as i128 - 1);
            (end / l as i128 - start / l as i128 + 1) as u64
        })
        .max()
        .unwrap_or(sliding)
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

/// One limit's share of a bound, for people: `15 per minute × 2 windows`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bound {
    pub rule: String,
    pub per_window: u64,
    pub windows: u64,
}

impl Bound {
    pub fn total(&self) -> u64 {
        self.per_window.saturating_mul(self.windows)
    }
}

/// The length of a limit's window in nanoseconds.
pub fn window_nanos(limit: &Limit) -> i64 {
    (limit.window.length_secs().max(1) as i64).saturating_mul(NANOS)
}

impl Rules {
    /// Whether a limit's counter is one for every caller (not per identity or session).
    fn shared(&self, limit: &Limit) -> bool {
        self.compiled.counters.iter().find(|c| c.shared.key == limit.key).is_none_or(|c| c.scope == CounterScope::Shared)
    }

    /// The tightest bound the limits give on calls in any interval of `span`;
    /// `None` when no limit bounds the number of calls.
    pub fn call_bound(&self, span: Span) -> Option<Bound> {
        self.limits
            .iter()
            .filter(|l| self.shared(l))
            .filter_map(|l| {
                let per_window = match (l.increment, self.profile) {
                    (Some(_), _) => l.calls()?,
                    // Strict: every amount is whole and positive, so each call counts at least 1.
                    (None, Profile::Strict) => l.limit.max(0) as u64,
                    (None, Profile::Intercept) => return None,
                };
                Some(Bound { rule: l.rule.clone(), per_window, windows: windows_touched(span, window_nanos(l)) })
            })
            .min_by_key(Bound::total)
    }

    /// The tightest bound the limits counting `path` give on the amount in
    /// any interval of `span`, when every amount the conditions admit is
    /// counted at least in full (`counted_in_full`, the caller's proof);
    /// `None` when no such limit exists.
    pub fn amount_bound(&self, span: Span, path: &[String], counted_in_full: bool) -> Option<Bound> {
        if !counted_in_full && self.profile == Profile::Intercept {
            return None;
        }
        self.limits
            .iter()
            .filter(|l| self.shared(l) && l.increment.is_none() && self.increment_path(&l.rule).is_some_and(|p| p == path))
            .map(|l| Bound { rule: l.rule.clone(), per_window: l.limit.max(0) as u64, windows: windows_touched(span, window_nanos(l)) })
            .min_by_key(Bound::total)
    }

    /// The argument path a rule's `increment_from` reads.
    fn increment_path(&self, rule: &str) -> Option<&[String]> {
        self.args.iter().find(|c| c.at.condition.is_none() && c.at.rule == rule).map(|c| c.path.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60 * NANOS;

    #[test]
    fn sliding_intervals_touch_one_window_more_than_they_span() {
        assert_eq!(windows_touched(Span { len: MIN, sliding: true }, MIN), 2);
        assert_eq!(windows_touched(Span { len: 1, sliding: true }, MIN), 1);
        assert_eq!(windows_touched(Span { len: 2 * MIN, sliding: true }, MIN), 3);
        assert_eq!(windows_touched(Span { len: MIN, sliding: true }, 3600 * NANOS), 2);
    }

    #[test]
    fn calendar_intervals_follow_their_alignment() {
        assert_eq!(windows_touched(Span { len: MIN, sliding: false }, MIN), 1);
        assert_eq!(windows_touched(Span { len: 3600 * NANOS, sliding: false }, MIN), 60);
        assert_eq!(windows_touched(Span { len: MIN, sliding: false }, 3600 * NANOS), 1);
        // 90 s calendar windows against minutes: [0,90) touches 2, [90,180) touches 2 (1:30–3:00).
        assert_eq!(windows_touched(Span { len: 90 * NANOS, sliding: false }, MIN), 2);
        assert_eq!(windows_touched(Span { len: 90 * NANOS, sliding: false }, 100 * NANOS), 2);
    }
}
