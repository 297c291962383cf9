//! Mapping a plan's virtual timeline onto the wall clock a real proxy reads.
//!
//! A black-box proxy counts in calendar windows of its own clock, so a plan
//! that puts 40 calls one second before a minute edge must run one second
//! before a real minute edge. Every run starts on a UTC day boundary in
//! virtual time; here we pick the wall instant `origin` that plays that
//! boundary's role. Idle time before the first call is skipped, but only as
//! far as it leaves every call on the same side of every minute, hour and day
//! edge as in the virtual plan: that is the one gap a verdict cannot depend on.
//! Only the edges of the windows the proxy counts in matter: with a policy
//! gauntlet reads, those of its counters (a policy limiting per minute never
//! waits for an hour or day edge); without one, minute, hour and day.

use std::time::Duration;

use crate::clock::NANOS_PER_SEC;
use crate::policy::model::Policy;

/// Calendar periods a proxy may count in when gauntlet cannot read its policy: minute, hour, day.
const PERIODS: [i64; 3] = [60 * NANOS_PER_SEC, 3600 * NANOS_PER_SEC, 86_400 * NANOS_PER_SEC];

/// The calendar periods (nanoseconds) whose edges a run must keep calls on
/// the same side of: the windows of `policy`'s counters, or every period a
/// proxy may count in when the policy is unknown.
pub fn periods(policy: Option<&Policy>) -> Vec<i64> {
    let Some(policy) = policy else { return PERIODS.to_vec() };
    let mut out: Vec<i64> = policy
        .tools
        .iter()
        .flat_map(|t| &t.rules)
        .filter_map(|r| r.state.as_ref().map(|s| s.window).or(r.rate_limit.as_ref().map(|l| l.window)))
        .map(|w| i64::try_from(w.length_secs()).unwrap_or(i64::MAX / NANOS_PER_SEC).max(1) * NANOS_PER_SEC)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// How late a call may go out after its scheduled instant and still count in the same window.
const JITTER: i64 = 50_000_000;

/// The allowed offsets of `origin` within each period, for calls at `offsets`
/// (nanoseconds after the virtual start): `origin mod P` must stay below the
/// returned bound so no call crosses an edge of `P` that it does not cross in
/// the plan.
fn slack(offsets: &[i64], periods: &[i64]) -> Vec<i64> {
    periods
        .iter()
        .map(|&p| {
            let latest = offsets.iter().map(|o| o.rem_euclid(p)).max().unwrap_or(0);
            // A call scheduled right at an edge's last instant leaves no slack: start exactly on the edge.
            (p - latest - JITTER).max(1)
        })
        .collect()
}

/// The earliest wall instant (ns since the epoch) that can play the virtual
/// start, given that the first call may not go out before `earliest_first`
/// (`periods`: see [`periods`]).
pub fn origin(offsets: &[i64], earliest_first: i64, periods: &[i64]) -> i64 {
    let first = offsets.iter().copied().min().unwrap_or(0);
    let bounds = slack(offsets, periods);
    let mut origin = earliest_first - first;
    loop {
        let mut moved = false;
        for (p, &bound) in periods.iter().zip(&bounds) {
            let r = origin.rem_euclid(*p);
            if r >= bound {
                origin += p - r;
                moved = true;
            }
        }
        if !moved {
            return origin;
        }
    }
}

/// The longest wall time a run of these calls can take, whenever it starts:
/// the wait to line up with the calendar, then the plan itself.
pub fn worst_case(offsets: &[i64], periods: &[i64]) -> Duration {
    let first = offsets.iter().copied().min().unwrap_or(0);
    let last = offsets.iter().copied().max().unwrap_or(0);
    let wait = periods.iter().zip(slack(offsets, periods)).map(|(p, bound)| p - bound.min(*p)).max().unwrap_or(0);
    Duration::from_nanos((wait + last - first).max(0) as u64)
}

/// `1h 2m 3s`-style, for the not-applicable reasons people read.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = NANOS_PER_SEC;

    fn minute_offset(origin: i64, offset: i64) -> i64 {
        (origin + offset).rem_euclid(60 * S)
    }

    #[test]
    fn a_burst_at_the_start_runs_at_once_when_the_minute_has_room() {
        // 10 s into a minute: a burst lasting 1 s fits before the edge.
        let now = 1_000_000 * 60 * S + 10 * S;
        let offsets: Vec<i64> = (0..100).map(|i| i * 10_000_000).collect();
        assert_eq!(origin(&offsets, now, &PERIODS), now);
    }

    #[test]
    fn a_burst_that_would_cross_a_minute_edge_waits_for_the_next_minute() {
        let now = 1_000_000 * 60 * S + 59 * S + 500_000_000;
        let offsets = [0, S];
        let o = origin(&offsets, now, &PERIODS);
        assert_eq!(o.rem_euclid(60 * S), 0, "the run starts on the minute");
        assert!(o >= now && o - now < S);
    }

    #[test]
    fn calls_one_second_before_an_edge_land_one_second_before_a_real_edge() {
        let now = 1_000_000 * 60 * S + 17 * S;
        let offsets = [59 * S, 59 * S + 900_000_000, 60 * S, 60 * S + 900_000_000];
        let o = origin(&offsets, now, &PERIODS);
        assert_eq!(minute_offset(o, 59 * S), 59 * S);
        assert_eq!(minute_offset(o, 60 * S), 0);
        // The idle minute before the first call is skipped: the first call goes out within a minute.
        assert!(o + 59 * S - now <= 60 * S);
    }

    #[test]
    fn an_hour_edge_plan_needs_up_to_an_hour() {
        let offsets = [3599 * S, 3600 * S];
        assert!(worst_case(&offsets, &PERIODS) >= Duration::from_secs(3599));
        let now = 1_000_000 * 3600 * S + 120 * S;
        let o = origin(&offsets, now, &PERIODS);
        assert_eq!((o + 3600 * S).rem_euclid(3600 * S), 0, "the second call opens an hour");
    }

    #[test]
    fn a_policy_counting_per_minute_never_waits_for_an_hour_edge() {
        let p = |text: &str| crate::policy::load_str(text, "p.yaml", None).unwrap().policy;
        let minute = p("version: \"1\"\ntools:\n  create:\n    rules:\n      - name: r\n        rate_limit: 3/minute\n");
        assert_eq!(periods(Some(&minute)), [60 * S]);
        assert_eq!(periods(None), PERIODS);
        assert!(periods(Some(&p("version: \"1\"\ntools: {}\n"))).is_empty(), "no counter, no edge to line up with");
        let offsets = [3599 * S, 3600 * S];
        assert!(worst_case(&offsets, &periods(Some(&minute))) <= Duration::from_secs(61), "the hour edge does not matter to it");
        let now = 1_000_000 * 3600 * S + 120 * S + 7 * S;
        let o = origin(&offsets, now, &[60 * S]);
        assert_eq!(minute_offset(o, 3599 * S), 59 * S, "the minute edge is still kept");
        assert!(o + 3599 * S - now <= 60 * S);
        assert_eq!(origin(&offsets, now, &[]), now - 3599 * S, "with no window, the first call goes out at once");
    }

    #[test]
    fn worst_case_of_a_short_burst_is_seconds() {
        let offsets: Vec<i64> = (0..50).map(|i| i * 1_000_000).collect();
        assert!(worst_case(&offsets, &PERIODS) < Duration::from_secs(2));
        assert_eq!(human(Duration::from_secs(600)), "10m 0s");
        assert_eq!(human(Duration::from_secs(3700)), "1h 1m");
    }
}
