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

/// What the counters that decide a plan's calls are.
#[derive(Clone, Debug, PartialEq)]
pub enum Counting {
    /// No rule of a called tool (or of `*`) counts or reads a counter: no
    /// window bears on the run.
    Nothing,
    /// Only rate limits count: per window period (ns), the fewest calls any
    /// of them lets through.
    RateLimits(Vec<(i64, u64)>),
    /// A state counter, or a condition reading one: its sums and reads are
    /// not calls to count.
    Other,
}

/// The rules that decide a call of tool `name`: its own and those of `*`.
fn rules_of<'p>(policy: &'p Policy, name: &str) -> impl Iterator<Item = &'p crate::policy::model::Rule> {
    let own = policy.tool(name).map(|t| &t.rules[..]).unwrap_or_default();
    let wildcard = policy.tool(crate::policy::model::WILDCARD).map(|t| &t.rules[..]).unwrap_or_default();
    own.iter().chain(wildcard)
}

fn reads_counter(r: &crate::policy::model::Rule) -> bool {
    r.conditions.iter().any(|c| matches!(c.path, crate::policy::model::Path::State(_)))
}

/// Whether a call of tool `name` may read or move a counter.
pub fn counts(policy: &Policy, name: &str) -> bool {
    rules_of(policy, name).any(|r| r.state.is_some() || r.rate_limit.is_some() || reads_counter(r))
}

/// How the calls of `names` are counted (see [`Counting`]).
pub fn counting<'a>(policy: &Policy, names: impl IntoIterator<Item = &'a str>) -> Counting {
    let mut caps: Vec<(i64, u64)> = Vec::new();
    for name in names {
        for r in rules_of(policy, name) {
            // A rate limit is desugared into a counter and a condition reading it: it counts calls.
            match (&r.rate_limit, &r.state) {
                (Some(l), _) => {
                    let period = i64::try_from(l.window.length_secs()).unwrap_or(i64::MAX / NANOS_PER_SEC).max(1) * NANOS_PER_SEC;
                    let max = u64::try_from(l.max).unwrap_or(0);
                    match caps.iter_mut().find(|(p, _)| *p == period) {
                        Some((_, cap)) => *cap = (*cap).min(max),
                        None => caps.push((period, max)),
                    }
                }
                (None, Some(_)) => return Counting::Other,
                (None, None) if reads_counter(r) => return Counting::Other,
                (None, None) => {}
            }
        }
    }
    match caps.is_empty() {
        true => Counting::Nothing,
        false => Counting::RateLimits(caps),
    }
}

/// How late (wall nanoseconds) a call may go out after its scheduled
/// instant and still count in the same window.
const JITTER: i64 = 50_000_000;

/// How long (wall nanoseconds) a proxy process may take from being started
/// to starting its fake clock (libfaketime does as the process loads).
/// That clock starts its speed-up there, so a late start leaves the proxy's
/// clock behind the one gauntlet plays on, by `rate - 1` times the delay.
const START_LAG: i64 = 100_000_000;

/// The clock a proxy reads, as a function of the wall clock: the wall clock
/// itself, or one running `rate` times as fast from `anchor` (a wall
/// instant, where both read the same), as libfaketime makes a proxy see
/// under `--clock-rate`. Every instant of a plan is computed on the proxy's
/// clock and slept for on the wall clock.
///
/// A proxy on a faster clock is set [`ProxyClock::ahead`] of it, so that
/// however late it starts its clock (up to [`START_LAG`]) it is never
/// behind: a call played on a window's first instant lands in that window.
/// It may then be up to that far ahead, which [`ProxyClock::jitter`] adds
/// to how late a call may land at a window's end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProxyClock {
    anchor: i64,
    rate: i64,
}

impl Default for ProxyClock {
    fn default() -> ProxyClock {
        ProxyClock { anchor: 0, rate: 1 }
    }
}

impl ProxyClock {
    /// A clock running `rate` (at least 1) times as fast as the wall clock from the wall instant `anchor`.
    pub fn new(anchor: i64, rate: u32) -> ProxyClock {
        ProxyClock { anchor, rate: i64::from(rate.max(1)) }
    }

    pub fn rate(&self) -> i64 {
        self.rate
    }

    /// What the proxy's clock reads at the wall instant `wall`.
    pub fn proxy(&self, wall: i64) -> i64 {
        self.anchor + (wall - self.anchor) * self.rate
    }

    /// The wall instant at which the proxy's clock reads `proxy`.
    pub fn wall(&self, proxy: i64) -> i64 {
        self.anchor + (proxy - self.anchor).div_euclid(self.rate)
    }

    /// How far ahead of this clock a proxy's clock is set (0 on the wall clock).
    pub fn ahead(&self) -> i64 {
        START_LAG * (self.rate - 1)
    }

    /// How late a call may land, on the proxy's clock: the wall's lateness,
    /// that much faster, and how far ahead the proxy's clock may be.
    pub fn jitter(&self) -> i64 {
        JITTER * self.rate + self.ahead()
    }
}

/// The allowed offsets of `origin` within each period, for calls at `offsets`
/// (nanoseconds after the virtual start): `origin mod P` must stay below the
/// returned bound so no call crosses an edge of `P` that it does not cross in
/// the plan, even `jitter` late.
fn slack(offsets: &[i64], periods: &[i64], jitter: i64) -> Vec<i64> {
    periods
        .iter()
        .map(|&p| {
            let latest = offsets.iter().map(|o| o.rem_euclid(p)).max().unwrap_or(0);
            // A call scheduled right at an edge's last instant leaves no slack: start exactly on the edge.
            (p - latest - jitter).max(1)
        })
        .collect()
}

/// Whether a plan's calls at `offsets` can be lined up with the calendar so
/// that each lands at least `jitter` before the end of its window of every
/// period (else [`origin`] starts right on an edge, and only a clock no
/// later than planned keeps them in their windows).
pub fn clear_of_edges(offsets: &[i64], periods: &[i64], jitter: i64) -> bool {
    periods.iter().all(|&p| offsets.iter().map(|o| o.rem_euclid(p)).max().unwrap_or(0) + jitter < p)
}

/// The period (nanoseconds) of the first window edge a call planned for the
/// proxy-clock instant `planned` but sent at `sent` lands across, if any:
/// a proxy counting in calendar windows then counts it in another window
/// than the plan did, and the run's verdict is not the plan's. Up to
/// `jitter` more may pass before the proxy reads its clock; that margin is
/// held against a call only where the plan itself kept it.
pub fn slipped(planned: i64, sent: i64, periods: &[i64], jitter: i64) -> Option<i64> {
    let window = |t: i64, p: i64| t.div_euclid(p);
    periods.iter().copied().find(|&p| {
        let kept_margin = window(planned + jitter, p) == window(planned, p);
        window(sent, p) != window(planned, p) || (kept_margin && window(sent + jitter, p) != window(planned, p))
    })
}

/// The earliest instant of the proxy's clock (ns since the epoch) that can
/// play the virtual start, given that the first call may not go out before
/// `earliest_first` on that clock and may go out up to `jitter` late
/// ([`ProxyClock::jitter`]; `periods`: see [`periods`]).
pub fn origin(offsets: &[i64], earliest_first: i64, periods: &[i64], jitter: i64) -> i64 {
    let first = offsets.iter().copied().min().unwrap_or(0);
    let bounds = slack(offsets, periods, jitter);
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
/// the wait to line up with the calendar, then the plan itself, both on the
/// proxy's clock and so `clock`'s rate times shorter on the wall.
pub fn worst_case(offsets: &[i64], periods: &[i64], clock: &ProxyClock) -> Duration {
    let first = offsets.iter().copied().min().unwrap_or(0);
    let last = offsets.iter().copied().max().unwrap_or(0);
    let wait = periods.iter().zip(slack(offsets, periods, clock.jitter())).map(|(p, bound)| p - bound.min(*p)).max().unwrap_or(0);
    Duration::from_nanos(((wait + last - first) / clock.rate).max(0) as u64)
}

/// A plan played with its idle gaps shrunk wherever no verdict can depend
/// on them. A proxy counting in fixed calendar windows decides each call on
/// the calls before it and which of them share its windows, never on how far
/// apart they are: so two calls that share every window in the plan are
/// played close together (still in one window), and two that do not are
/// played across the next edge of the largest period they straddle (not
/// one further, so no more windows apart than in the plan). What a gap
/// still carries is kept: a gap up to `keep` (the replies due meanwhile
/// arrive first, a refund among them) and the lead before a session's first
/// action (its proxy starts meanwhile) are played as planned.
///
/// Each call keeps at most its planned position inside every window
/// (residue), so lining the result up with the calendar ([`origin`]) never
/// waits longer than for the plan itself, and the played span is never
/// longer than the plan's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Squeeze {
    /// (virtual offset, played offset) of each distinct instant of the plan,
    /// in order; empty: played as planned.
    points: Vec<(i64, i64)>,
}

impl Squeeze {
    /// `offsets` (sorted, as a plan is played) with `opens[i]` set where a
    /// session's first action is; `periods` as [`periods`]. Windows must
    /// nest (each period a multiple of the one below, as minute, hour and
    /// day do); otherwise the plan is played as it is.
    pub fn plan(offsets: &[i64], opens: &[bool], periods: &[i64], keep: i64, lead: i64) -> Squeeze {
        let mut sorted = periods.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let nested = sorted.windows(2).all(|w| w[0] > 0 && w[1] % w[0] == 0) && sorted.first().is_none_or(|&p| p > 0);
        if !nested || offsets.windows(2).any(|w| w[0] > w[1]) || offsets.len() < 2 {
            return Squeeze::default();
        }
        let mut points: Vec<(i64, i64)> = vec![(offsets[0], offsets[0])];
        for (i, &v) in offsets.iter().enumerate().skip(1) {
            let (pv, pc) = *points.last().unwrap_or(&(v, v));
            let gap = v - pv;
            let opening = opens.get(i).copied().unwrap_or(false);
            if gap == 0 && !opening {
                continue;
            }
            // The shortest the gap may become.
            let floor = gap.min(if opening { keep.max(lead) } else { keep }.max(1));
            // The largest period whose edge lies between the two calls in the plan.
            let straddled = sorted.iter().rev().find(|&&p| pv.div_euclid(p) != v.div_euclid(p));
            let c = match straddled {
                None => pc + floor,
                Some(&p) => (pc + floor).max(pc - pc.rem_euclid(p) + p),
            };
            if (v, c) != (pv, pc) {
                points.push((v, c));
            }
        }
        if points.iter().all(|(v, c)| v == c) {
            return Squeeze::default();
        }
        Squeeze { points }
    }

    /// A plan whose calls no rate limit can refuse: every window of each
    /// period in `caps` holds fewer counted calls (`counted[i]`) than its
    /// cap, in the plan and as played. Then no window bears on any decision,
    /// and calls are played close together, a window of the period ending
    /// (the next call going to the next one) only once it holds one call
    /// fewer than the cap. `None` when some window of the plan holds more
    /// (the limit may bind: the windows must be kept, see [`Squeeze::plan`]).
    pub fn under_limits(offsets: &[i64], opens: &[bool], counted: &[bool], caps: &[(i64, u64)], keep: i64, lead: i64) -> Option<Squeeze> {
        if offsets.windows(2).any(|w| w[0] > w[1]) || caps.iter().any(|&(p, _)| p <= 0) {
            return None;
        }
        // Fewer than the cap: a proxy whose limit lets one call fewer through than it says still refuses none.
        let room = |cap: u64| cap.saturating_sub(1) as usize;
        let counted_at = |i: usize| counted.get(i).copied().unwrap_or(true);
        for &(p, cap) in caps {
            let mut windows: std::collections::HashMap<i64, usize> = Default::default();
            for (_, &o) in offsets.iter().enumerate().filter(|&(i, _)| counted_at(i)) {
                let n = windows.entry(o.div_euclid(p)).or_default();
                *n += 1;
                if *n > room(cap) {
                    return None;
                }
            }
        }
        let mut points: Vec<(i64, i64)> = Vec::new();
        let mut played_counted: Vec<i64> = Vec::new();
        let mut i = 0;
        while let Some(&v) = offsets.get(i) {
            // Calls at one instant are played together: they go where the window has room for all of them.
            let n = offsets[i..].iter().take_while(|&&o| o == v).count();
            let group = (i..i + n).filter(|&j| counted_at(j)).count();
            let opening = (i..i + n).any(|j| opens.get(j).copied().unwrap_or(false));
            let mut c = match points.last() {
                None => v,
                Some(&(pv, pc)) => pc + (v - pv).min(if opening { keep.max(lead) } else { keep }.max(1)),
            };
            if group > 0 {
                let full = |c: i64, p: i64, cap: u64| played_counted.iter().rev().take_while(|&&x| x.div_euclid(p) == c.div_euclid(p)).count() + group > room(cap);
                // Past every window without room; a fresh window of the largest period has room, so this ends.
                while let Some(&(p, _)) = caps.iter().filter(|&&(p, cap)| full(c, p, cap)).max_by_key(|&&(p, _)| p) {
                    c = c - c.rem_euclid(p) + p;
                }
                played_counted.extend(std::iter::repeat_n(c, group));
            }
            points.push((v, c));
            i += n;
        }
        if points.iter().all(|(v, c)| v == c) {
            return Some(Squeeze::default());
        }
        Some(Squeeze { points })
    }

    /// Whether the plan is played as it is.
    pub fn is_identity(&self) -> bool {
        self.points.is_empty()
    }

    /// When (offset) the instant `virt` of the plan is played.
    pub fn played(&self, virt: i64) -> i64 {
        let i = self.points.partition_point(|&(v, _)| v <= virt);
        match (i.checked_sub(1).map(|i| self.points[i]), self.points.get(i)) {
            (None, _) => virt,
            (Some((v, c)), next) => c + (virt - v).min(next.map_or(i64::MAX, |&(_, nc)| nc - c)),
        }
    }

    /// The instant of the plan that the played offset `played` stands for
    /// (a ledger entry's wall time read back onto the plan's timeline): the
    /// time since the last planned instant before it, never past the next.
    pub fn virtual_of(&self, played: i64) -> i64 {
        let i = self.points.partition_point(|&(_, c)| c <= played);
        match (i.checked_sub(1).map(|i| self.points[i]), self.points.get(i)) {
            (None, _) => played,
            (Some((v, c)), next) => v + (played - c).min(next.map_or(i64::MAX, |&(nv, _)| nv - v - 1).max(0)),
        }
    }

    /// The played offsets of a plan's `offsets`.
    pub fn offsets(&self, offsets: &[i64]) -> Vec<i64> {
        offsets.iter().map(|&o| self.played(o)).collect()
    }
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
    fn a_late_call_slips_only_when_it_lands_across_an_edge_its_plan_did_not_cross() {
        let minute = 60 * S;
        let periods = [minute, 3600 * S];
        let jitter = 50_000_000;
        let planned = 1_000_000 * minute + 30 * S;
        // 20 s late, still inside its minute: the proxy counts it where the plan did.
        assert_eq!(slipped(planned, planned + 20 * S, &periods, jitter), None);
        // Half a minute late: in the next minute.
        assert_eq!(slipped(planned, planned + 30 * S, &periods, jitter), Some(minute));
        // Sent 10 ms before the edge: read by the proxy within the jitter, so maybe after it.
        assert_eq!(slipped(planned, planned + 30 * S - 10_000_000, &periods, jitter), Some(minute));
        // A plan that put the call within the jitter of the edge is not held to the margin it never had.
        let at_edge = 1_000_001 * minute - 10_000_000;
        assert_eq!(slipped(at_edge, at_edge, &periods, jitter), None);
        assert_eq!(slipped(at_edge, at_edge + 20_000_000, &periods, jitter), Some(minute));
        // No counter, no window to slip out of.
        assert_eq!(slipped(planned, planned + 3600 * S, &[], jitter), None);
    }

    #[test]
    fn a_burst_at_the_start_runs_at_once_when_the_minute_has_room() {
        // 10 s into a minute: a burst lasting 1 s fits before the edge.
        let now = 1_000_000 * 60 * S + 10 * S;
        let offsets: Vec<i64> = (0..100).map(|i| i * 10_000_000).collect();
        assert_eq!(origin(&offsets, now, &PERIODS, JITTER), now);
    }

    #[test]
    fn a_burst_that_would_cross_a_minute_edge_waits_for_the_next_minute() {
        let now = 1_000_000 * 60 * S + 59 * S + 500_000_000;
        let offsets = [0, S];
        let o = origin(&offsets, now, &PERIODS, JITTER);
        assert_eq!(o.rem_euclid(60 * S), 0, "the run starts on the minute");
        assert!(o >= now && o - now < S);
    }

    #[test]
    fn calls_one_second_before_an_edge_land_one_second_before_a_real_edge() {
        let now = 1_000_000 * 60 * S + 17 * S;
        let offsets = [59 * S, 59 * S + 900_000_000, 60 * S, 60 * S + 900_000_000];
        let o = origin(&offsets, now, &PERIODS, JITTER);
        assert_eq!(minute_offset(o, 59 * S), 59 * S);
        assert_eq!(minute_offset(o, 60 * S), 0);
        // The idle minute before the first call is skipped: the first call goes out within a minute.
        assert!(o + 59 * S - now <= 60 * S);
    }

    #[test]
    fn an_hour_edge_plan_needs_up_to_an_hour() {
        let offsets = [3599 * S, 3600 * S];
        assert!(worst_case(&offsets, &PERIODS, &ProxyClock::default()) >= Duration::from_secs(3599));
        let now = 1_000_000 * 3600 * S + 120 * S;
        let o = origin(&offsets, now, &PERIODS, JITTER);
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
        assert!(worst_case(&offsets, &periods(Some(&minute)), &ProxyClock::default()) <= Duration::from_secs(61), "the hour edge does not matter to it");
        let now = 1_000_000 * 3600 * S + 120 * S + 7 * S;
        let o = origin(&offsets, now, &[60 * S], JITTER);
        assert_eq!(minute_offset(o, 3599 * S), 59 * S, "the minute edge is still kept");
        assert!(o + 3599 * S - now <= 60 * S);
        assert_eq!(origin(&offsets, now, &[], JITTER), now - 3599 * S, "with no window, the first call goes out at once");
    }

    const MS: i64 = 1_000_000;

    /// Each call's decision by the engine on a virtual clock, the run's first call at `origin + offsets[0]`.
    fn decisions(policy: &str, offsets: &[i64], origin: i64) -> Vec<bool> {
        let policy = crate::policy::load_str(policy, "p.yaml", None).unwrap().policy;
        let engine = crate::engine::Engine::new(std::sync::Arc::new(policy), crate::profile::Profile::Intercept);
        let mut store = crate::engine::store::MemoryStore::new();
        let call = crate::engine::ToolCall { name: "create", arguments: None };
        let ctx = crate::caller::CallContext::default();
        offsets.iter().map(|&o| engine.decide(&mut store, &call, &ctx, crate::clock::Timestamp(origin + o)).is_allow()).collect()
    }

    const PER_MINUTE_AND_HOUR: &str =
        "version: \"1\"\ntools:\n  create:\n    rules:\n      - {name: m, rate_limit: 3/minute}\n      - {name: h, rate_limit: 7/hour}\n";

    /// Bursts either side of a minute edge, then idle minutes inside one counted hour.
    fn plan() -> Vec<i64> {
        let mut offsets = vec![0, 10 * S, 20 * S, 30 * S, 50 * S, 59 * S + 900 * MS, 60 * S + 100 * MS, 61 * S, 62 * S, 63 * S];
        offsets.extend([600 * S, 601 * S, 900 * S, 2000 * S, 2001 * S, 3000 * S]);
        offsets
    }

    #[test]
    fn a_squeezed_plan_gets_the_same_decisions_in_far_less_time() {
        let plan = plan();
        let periods = periods(Some(&crate::policy::load_str(PER_MINUTE_AND_HOUR, "p.yaml", None).unwrap().policy));
        assert_eq!(periods, [60 * S, 3600 * S]);
        let squeeze = Squeeze::plan(&plan, &[true], &periods, 200 * MS, 0);
        let played = squeeze.offsets(&plan);
        // Planned on the virtual clock from a day boundary; played from wherever the calendar lets it start.
        let now = 20_000 * 86_400 * S + 7 * 3600 * S + 23 * 60 * S + 41 * S + 123 * MS;
        let start = origin(&played, now, &periods, JITTER);
        let want = decisions(PER_MINUTE_AND_HOUR, &plan, 0);
        assert_eq!(decisions(PER_MINUTE_AND_HOUR, &played, start), want);
        assert!(want.contains(&false) && want.contains(&true), "the plan tests both limits: {want:?}");
        assert!(worst_case(&played, &periods, &ProxyClock::default()) < worst_case(&plan, &periods, &ProxyClock::default()) / 4);
        // Without squeezing it would wait for the calendar the same way: the idle minutes are what went.
        assert_eq!(decisions(PER_MINUTE_AND_HOUR, &plan, origin(&plan, now, &periods, JITTER)), want);
    }

    #[test]
    fn a_proxy_clock_ten_times_as_fast_gets_the_same_decisions_in_a_tenth_of_the_wall_time() {
        let plan = plan();
        let periods = [60 * S, 3600 * S];
        let now = 20_000 * 86_400 * S + 7 * 3600 * S + 23 * 60 * S + 41 * S + 123 * MS;
        let clock = ProxyClock::new(now, 10);
        assert_eq!((clock.proxy(now), clock.proxy(now + S), clock.wall(now + 10 * S)), (now, now + 10 * S, now + S));
        // Gaps are kept and squeezed on the proxy's clock: 200 ms of wall time is 2 s there.
        let squeeze = Squeeze::plan(&plan, &[true], &periods, 200 * MS * clock.rate(), 0);
        let played = squeeze.offsets(&plan);
        let start = origin(&played, clock.proxy(now), &periods, clock.jitter());
        let want = decisions(PER_MINUTE_AND_HOUR, &plan, 0);
        assert_eq!(decisions(PER_MINUTE_AND_HOUR, &played, start), want, "what the proxy decides on its own clock");
        // However far ahead the proxy's clock is set (its start-up lag unknown), and with every call 50 ms late on the wall.
        for ahead in [0, clock.ahead() / 2, clock.ahead()] {
            assert_eq!(decisions(PER_MINUTE_AND_HOUR, &played, start + ahead + JITTER * clock.rate()), want, "{ahead} ns ahead");
        }
        let walls: Vec<i64> = played.iter().map(|&o| clock.wall(start + o)).collect();
        assert!(walls[0] >= now);
        for (w, p) in walls.windows(2).zip(plan.windows(2)) {
            // A gap the plan has at 2 s or more leaves the answers their 200 ms of wall time.
            assert!(p[1] - p[0] < 2 * S || w[1] - w[0] >= 200 * MS - 1, "{w:?} for {p:?}");
        }
        let slow = worst_case(&Squeeze::plan(&plan, &[true], &periods, 200 * MS, 0).offsets(&plan), &periods, &ProxyClock::default());
        let fast = worst_case(&played, &periods, &clock);
        assert!(fast * 8 < slow, "{fast:?} against {slow:?}");
        // Played on the wall clock as if the proxy's ran at its rate 1, the proxy sees other windows.
        let unscaled = origin(&played, now, &periods, JITTER);
        let seen: Vec<i64> = played.iter().map(|&o| clock.proxy(unscaled + o) - start).collect();
        assert_ne!(decisions(PER_MINUTE_AND_HOUR, &seen, start), want);
    }

    #[test]
    fn calls_that_straddle_a_counted_edge_are_never_brought_together() {
        let plan = plan();
        let periods = [60 * S, 3600 * S];
        let played = Squeeze::plan(&plan, &[], &periods, 200 * MS, 0).offsets(&plan);
        for (i, pair) in plan.windows(2).enumerate() {
            for p in periods {
                let apart = |a: i64, b: i64| a.div_euclid(p) != b.div_euclid(p);
                assert_eq!(apart(played[i], played[i + 1]), apart(pair[0], pair[1]), "calls {i} and {} in {p} ns windows", i + 1);
            }
        }
        // The burst 100 ms either side of a minute edge is played across one, not 200 ms apart.
        assert!(played[6] - played[5] >= 100 * MS && played[6].rem_euclid(60 * S) < played[5].rem_euclid(60 * S));
        // Squeezed as if nothing were counted, the calls across edges share windows and the decisions change:
        // the windows are what the squeeze keeps.
        let blind = Squeeze::plan(&plan, &[], &[], 200 * MS, 0).offsets(&plan);
        assert_ne!(decisions(PER_MINUTE_AND_HOUR, &blind, 0), decisions(PER_MINUTE_AND_HOUR, &plan, 0));
    }

    #[test]
    fn short_gaps_and_session_leads_are_played_as_planned() {
        let offsets = [0, 150 * MS, 10 * S, 20 * S, 30 * S];
        let opens = [true, false, false, true, false];
        let played = Squeeze::plan(&offsets, &opens, &[], 200 * MS, 3 * S).offsets(&offsets);
        assert_eq!(played, [0, 150 * MS, 350 * MS, 3 * S + 350 * MS, 3 * S + 550 * MS]);
        assert!(Squeeze::plan(&[0, 100 * MS, 200 * MS], &[], &[], 200 * MS, 0).is_identity(), "nothing to squeeze");
        assert!(Squeeze::plan(&[0, 100 * S], &[], &[60 * S, 90 * S], 0, 0).is_identity(), "windows that do not nest: played as planned");
    }

    #[test]
    fn ledger_times_read_back_onto_the_plan() {
        let plan = plan();
        let squeeze = Squeeze::plan(&plan, &[], &[60 * S], 200 * MS, 0);
        for &v in &plan {
            assert_eq!(squeeze.virtual_of(squeeze.played(v)), v);
            // An entry 5 ms after its call is 5 ms after it in the plan too.
            assert_eq!(squeeze.virtual_of(squeeze.played(v) + 5 * MS), v + 5 * MS);
        }
        let mut last = i64::MIN;
        for t in (-S..squeeze.played(3000 * S) + S).step_by(37 * MS as usize) {
            let v = squeeze.virtual_of(t);
            assert!(v >= last, "monotone at {t}");
            last = v;
        }
    }

    const PER_MINUTE: &str = "version: \"1\"\ntools:\n  create:\n    rules:\n      - {name: m, rate_limit: 3/minute}\n  read:\n    rules: []\n";

    #[test]
    fn calls_no_limit_can_refuse_are_played_together_a_window_short_of_its_cap() {
        let policy = crate::policy::load_str(PER_MINUTE, "p.yaml", None).unwrap().policy;
        let caps = match counting(&policy, ["create", "read"]) {
            Counting::RateLimits(caps) => caps,
            other => panic!("{other:?}"),
        };
        assert_eq!(caps, [(60 * S, 3)]);
        assert_eq!(counting(&policy, ["read"]), Counting::Nothing);
        // One call a minute for eight minutes, and reads between them that count for nothing.
        let plan: Vec<i64> = (0..8).flat_map(|m| [m * 60 * S, m * 60 * S + 30 * S]).collect();
        let counted: Vec<bool> = (0..16).map(|i| i % 2 == 0).collect();
        let squeeze = Squeeze::under_limits(&plan, &[], &counted, &caps, 200 * MS, 0).unwrap();
        let played = squeeze.offsets(&plan);
        // Two counted calls a minute (one fewer than the cap): four minutes instead of eight.
        let creates: Vec<i64> = played.iter().step_by(2).copied().collect();
        assert_eq!(creates, [0, 400 * MS, 60 * S, 60 * S + 400 * MS, 120 * S, 120 * S + 400 * MS, 180 * S, 180 * S + 400 * MS]);
        let now = 20_000 * 86_400 * S + 5 * 60 * S + 59 * S;
        let start = origin(&played, now, &[60 * S], JITTER);
        assert_eq!(decisions(PER_MINUTE, &creates, start), vec![true; 8]);
        assert_eq!(decisions(PER_MINUTE, &plan.iter().step_by(2).copied().collect::<Vec<_>>(), 0), vec![true; 8]);
    }

    #[test]
    fn a_limit_that_may_bind_keeps_its_windows() {
        // Three calls in one minute reach a cap of 3: the plan is not squeezed past its windows.
        let plan = [0, 10 * S, 20 * S, 600 * S];
        assert_eq!(Squeeze::under_limits(&plan, &[], &[true; 4], &[(60 * S, 3)], 200 * MS, 0), None);
        let kept = Squeeze::plan(&plan, &[], &[60 * S], 200 * MS, 0).offsets(&plan);
        assert_eq!(kept, [0, 200 * MS, 400 * MS, 60 * S]);
        assert_eq!(decisions(PER_MINUTE, &kept, 0), decisions(PER_MINUTE, &plan, 0));
        // Calls at one instant stay together, in a window with room for all of them.
        let burst = [0, 0, 65 * S, 65 * S];
        let played = Squeeze::under_limits(&burst, &[], &[true; 4], &[(60 * S, 4)], 200 * MS, 0).unwrap().offsets(&burst);
        assert_eq!(played, [0, 0, 60 * S, 60 * S]);
    }

    #[test]
    fn worst_case_of_a_short_burst_is_seconds() {
        let offsets: Vec<i64> = (0..50).map(|i| i * 1_000_000).collect();
        assert!(worst_case(&offsets, &PERIODS, &ProxyClock::default()) < Duration::from_secs(2));
        assert_eq!(human(Duration::from_secs(600)), "10m 0s");
        assert_eq!(human(Duration::from_secs(3700)), "1h 1m");
    }
}
