//! Requirements over a window: at most N calls, or at most an amount, in
//! any window of a given length (sliding) or in each calendar window.
//!
//! A proof is the limits' bound ([`crate::engine::admission::rates`]) at or
//! under the requirement's. A refutation is a burst: calls at the start of
//! the interval that touches the most limit windows and at each window edge
//! inside it, as many at each instant as the engine allows, each from a new
//! caller (so a counter kept per identity or session never fills), replayed
//! and measured as `verify` measures a ledger. Amounts try the largest
//! admitted amount, a negative amount first (it lowers the counter), and
//! amounts under 1 (Intercept truncates them to 0).

use serde_json::{Map, Value as Json};

use super::trace::{Call, START};
use super::{Context, Proof, Status};
use crate::caller::CallContext;
use crate::clock::Timestamp;
use crate::engine::admission::rates::{window_nanos, Bound, Span};
use crate::engine::admission::{solve, Answer, Atom, Kind, NumSet, Prefer, Term};
use crate::engine::store::MemoryStore;
use crate::engine::ToolCall;
use crate::profile::Profile;
use crate::scenario::requirements::{AmountWindow, RateBound};
use crate::verify::measure::{max_calendar, max_sliding, num};

/// The most calls one counterexample may hold.
const MAX_CALLS: usize = 20_000;

fn explain(b: &Bound, unit: &str, span: Span) -> String {
    let kind = if span.sliding { "any sliding" } else { "one calendar" };
    format!(
        "rule `{}` admits {} {unit} per window, and {kind} interval touches at most {} of its windows: at most {}",
        b.rule,
        b.per_window,
        b.windows,
        b.total()
    )
}

/// `rate`: at most `bound.count` calls in any window of `bound.window`.
pub fn calls(ctx: &Context<'_>, bound: RateBound) -> Proof {
    let span = Span { len: bound.window.nanos().max(1), sliding: !bound.calendar };
    let statement = format!("≤{} calls per {} {}", bound.count, bound.window, if span.sliding { "sliding" } else { "calendar" });
    let args = match ctx.admitted() {
        Ok(a) => a,
        Err((status, why)) => return ctx.proof("rate", statement, status, why, ctx.entry()),
    };
    let upper = ctx.model.rules.call_bound(span);
    if let Some(b) = upper.as_ref().filter(|b| b.total() <= bound.count) {
        return ctx.proof("rate", statement, Status::Proved, explain(b, "calls", span), ctx.rule(&b.rule));
    }
    let cex = burst(ctx, span, &[args], |_| 1.0, bound.count as f64);
    let times = allowed_times(&cex);
    let measured = if span.sliding { max_sliding(&times, span.len) } else { max_calendar(&times, span.len) };
    let at = upper.as_ref().map(|b| ctx.rule(&b.rule)).unwrap_or_else(|| ctx.entry());
    if measured as u64 > bound.count {
        let why = match &upper {
            Some(b) => format!("{measured} calls pass within {}: {}", bound.window, explain(b, "calls", span)),
            None => format!("{measured} calls pass within {}: no limit bounds the calls of this tool", bound.window),
        };
        let mut p = ctx.proof("rate", statement, Status::Refuted, why, at);
        p.counterexample = Some(cex);
        return p;
    }
    let why = format!(
        "the limits bound it to {}, and the burst prove built passed only {measured}",
        upper.map(|b| b.total().to_string()).unwrap_or_else(|| "nothing".into())
    );
    ctx.proof("rate", statement, Status::Unknown, why, at)
}

/// Times (nanoseconds) of the calls the engine allowed.
fn allowed_times(cex: &super::Counterexample) -> Vec<i64> {
    let mut t: Vec<i64> = cex.allowed_calls().filter_map(|c| Timestamp::parse_rfc3339(&c.at).ok()).map(|t| t.0).collect();
    t.sort_unstable();
    t
}

/// The instants of a burst: the interval's start, then every limit window's edge inside it.
fn instants(ctx: &Context<'_>, span: Span) -> Vec<Timestamp> {
    // Two days in: a UTC day edge, so every minute, hour and day window starts there too.
    let edge = START.0 + 2 * 86_400 * 1_000_000_000;
    let t0 = if span.sliding { edge - 1 } else { edge - edge.rem_euclid(span.len) };
    let mut out = vec![t0];
    for l in &ctx.model.rules.limits {
        let w = window_nanos(l);
        let mut b = t0 - t0.rem_euclid(w) + w;
        while b < t0 + span.len && out.len() < MAX_CALLS {
            out.push(b);
            b += w;
        }
    }
    out.sort_unstable();
    out.dedup();
    out.into_iter().map(Timestamp).collect()
}

/// Calls at each instant until the engine refuses one, cycling through
/// `variants` (one call's arguments each), until the allowed calls' `weight`
/// sums past `target`; then replayed as a trace.
fn burst(ctx: &Context<'_>, span: Span, variants: &[Map<String, Json>], weight: impl Fn(&Map<String, Json>) -> f64, target: f64) -> super::Counterexample {
    let engine = ctx.s.engine;
    let mut store = MemoryStore::new();
    let mut calls: Vec<Call> = Vec::new();
    let mut sum = 0.0;
    'outer: for at in instants(ctx, span) {
        loop {
            if calls.len() >= MAX_CALLS || sum > target {
                break 'outer;
            }
            let n = calls.len();
            let args = &variants[n.min(variants.len() - 1)];
            let call = Call::new(at, &ctx.tool.name, args.clone()).from_caller(n + 1);
            let caller = CallContext { identity: call.identity.clone(), session: call.session.clone() };
            let allowed = engine.decide(&mut store, &ToolCall { name: &call.tool, arguments: Some(args) }, &caller, at).is_allow();
            calls.push(call);
            if !allowed {
                break;
            }
            sum += weight(args).max(0.0);
        }
    }
    ctx.replayed(calls)
}

/// The admitted call with `field` in `set`, if any.
fn with_amount(ctx: &Context<'_>, field: &str, set: NumSet, near: f64) -> Option<Map<String, Json>> {
    let mut base = ctx.base.clone();
    base.insert(field.into(), serde_json::Number::from_f64(near).map(Json::Number).unwrap_or(Json::Null));
    let mut query = ctx.model.rules.terms();
    query.push(Term::set(vec![field.into()], Atom::of_kinds(&[Kind::Number]).with_numbers(set), "amount".into()));
    match solve(&query, &base, &Prefer::default()) {
        Answer::Yes(a) => Some(a),
        _ => None,
    }
}

fn amount(a: &Map<String, Json>, field: &str) -> f64 {
    a.get(field).and_then(Json::as_f64).unwrap_or(0.0)
}

/// The numbers the conditions admit in `field`.
fn admitted_amounts(ctx: &Context<'_>, field: &str) -> NumSet {
    let path = vec![field.to_string()];
    ctx.model.rules.atoms_at(&path).iter().fold(NumSet::all(), |s, a| s.intersect(&a.numbers))
}

/// Whether every amount the conditions admit is counted in full: whole and not negative.
fn counted_in_full(ctx: &Context<'_>, field: &str) -> bool {
    if ctx.model.rules.profile() == Profile::Strict {
        return true;
    }
    admitted_amounts(ctx, field).0.iter().all(|i| i.lo.at == i.hi.at && i.lo.at >= 0.0 && i.lo.at.fract() == 0.0)
}

/// The fraction a counterexample adds to a whole amount, counted as the
/// whole: 0.99 (sent as 98.99), or 0.999… with as many nines as it takes for
/// `calls` such fractions to carry the total past `cap` from `counted`.
fn fraction(counted: f64, calls: u64, cap: f64) -> f64 {
    let needed = (cap - counted) / calls.max(1) as f64;
    (2..=12).map(|d| 1.0 - 10f64.powi(-d)).find(|f| *f > needed).unwrap_or(0.99)
}

/// What Intercept's truncation lets through: a counter counts an amount's
/// whole part (98.70 counts 98), so when no admitted amount lowers the
/// counter (none at or under −1), the amounts in an interval total under
/// the counted bound plus 1 for each call, and the calls are bounded by a
/// limit on calls, or by the counted bound itself when every amount counts
/// at least 1.
struct Truncated {
    counted: Bound,
    calls: u64,
    /// Where the bound on calls comes from, for the reason.
    calls_from: String,
    /// Whether the calls are bounded by the counted amount itself (every amount counts at least 1).
    counted_calls: bool,
}

impl Truncated {
    /// Every total is strictly under this.
    fn under(&self) -> f64 {
        self.counted.total() as f64 + self.calls as f64
    }

    /// The largest limit per window on the counter that keeps the total at or under `cap`, with these calls.
    fn keeps(&self, cap: f64, counted_calls: bool) -> u64 {
        let windows = self.counted.windows.max(1) as f64;
        let per = if counted_calls { cap / (2.0 * windows) } else { (cap - self.calls as f64) / windows };
        per.max(0.0).floor() as u64
    }

    fn explain(&self, span: Span) -> String {
        format!(
            "Intercept counts each amount's whole part (98.70 counts 98): {}; and {}, each adding under 1 uncounted: under {}",
            explain(&self.counted, "counted", span),
            self.calls_from,
            num(self.under())
        )
    }
}

fn truncated(ctx: &Context<'_>, span: Span, field: &str, admitted: &NumSet) -> Result<Truncated, String> {
    let path = vec![field.to_string()];
    let lowest = admitted.0.first().map(|i| i.lo).ok_or("the conditions admit no number")?;
    if lowest.at < -1.0 || (lowest.at == -1.0 && lowest.closed) {
        return Err(format!("the conditions admit amounts down to {}, which lower the counter", num(lowest.at)));
    }
    let counted = ctx.model.rules.amount_bound(span, &path, true).ok_or("no shared limit counts this amount")?;
    let calls = match ctx.model.rules.call_bound(span) {
        // Every amount counting at least 1, the counted bound bounds the calls too.
        Some(b) if lowest.at >= 1.0 && counted.total() < b.total() => {
            (counted.total(), format!("every amount counts at least 1, so at most {} calls pass", counted.total()), true)
        }
        Some(b) => (b.total(), explain(&b, "calls", span), false),
        None if lowest.at >= 1.0 => (counted.total(), format!("every amount counts at least 1, so at most {} calls pass", counted.total()), true),
        None => return Err("amounts under 1 count 0 and no limit bounds the calls, so their number is unbounded".into()),
    };
    Ok(Truncated { counted, calls: calls.0, calls_from: calls.1, counted_calls: calls.2 })
}

/// `amount-per-window`: the amounts of the calls in any sliding window of `w.window` total at most `w.amount`.
pub fn amounts(ctx: &Context<'_>, field: &str, w: AmountWindow) -> Proof {
    let span = Span { len: w.window.nanos().max(1), sliding: true };
    let statement = format!("`{field}` totals ≤{} per {} sliding", num(w.amount), w.window);
    let admitted = match ctx.admitted() {
        Ok(a) => a,
        Err((status, why)) => return ctx.proof("amount-per-window", statement, status, why, ctx.entry()),
    };
    let path = vec![field.to_string()];
    let per_call = admitted_amounts(ctx, field);
    let largest = per_call.0.last().map(|i| i.hi.at).filter(|x| x.is_finite());
    let by_calls = largest.zip(ctx.model.rules.call_bound(span)).map(|(c, b)| (c * b.total() as f64, b));
    let in_full = counted_in_full(ctx, field);
    let by_amount = ctx.model.rules.amount_bound(span, &path, in_full);
    if let Some(b) = by_amount.as_ref().filter(|b| b.total() as f64 <= w.amount) {
        return ctx.proof("amount-per-window", statement, Status::Proved, explain(b, "of amount", span), ctx.rule(&b.rule));
    }
    if let Some((total, b)) = by_calls.as_ref().filter(|(t, _)| *t <= w.amount) {
        let why = format!("every amount is at most {}, and {}: at most {}", num(largest.unwrap_or(0.0)), explain(b, "calls", span), num(*total));
        return ctx.proof("amount-per-window", statement, Status::Proved, why, ctx.rule(&b.rule));
    }
    let trunc = (!in_full).then(|| truncated(ctx, span, field, &per_call));
    if let Some(Ok(t)) = trunc.as_ref().filter(|t| t.as_ref().is_ok_and(|t| t.under() <= w.amount)) {
        return ctx.proof("amount-per-window", statement, Status::Proved, t.explain(span), ctx.rule(&t.counted.rule));
    }
    // Counterexamples: the largest amounts; a negative one first; amounts under 1; whole amounts plus 0.99 filling the counter.
    let most = with_amount(ctx, field, NumSet::above(0.0, false), 1e15).unwrap_or(admitted);
    let mut strategies: Vec<Vec<Map<String, Json>>> = vec![vec![most.clone()]];
    if let Some(negative) = with_amount(ctx, field, NumSet::below(0.0, false), -1e15) {
        strategies.push(vec![negative, most.clone()]);
    }
    if let Some(small) = with_amount(ctx, field, NumSet::above(0.0, false).intersect(&NumSet::below(1.0, false)), 0.99) {
        if w.amount / amount(&small, field) < MAX_CALLS as f64 {
            strategies.push(vec![small]);
        }
    }
    let mut best = 0.0f64;
    // Built one at a time, in order, and only until one refutes: the schedule
    // that fills each window runs thousands of calls, needless once a burst broke the cap.
    let bursts = strategies.into_iter().map(|v| Some(burst(ctx, span, &v, |a| amount(a, field), w.amount)));
    let filled = std::iter::once_with(|| {
        let t = trunc.as_ref()?.as_ref().ok()?;
        let frac = fraction(t.counted.total() as f64, t.calls, w.amount);
        fill(ctx, field, span, &per_call, &most, &t.counted.rule, frac)
    });
    for cex in bursts.chain(filled).flatten() {
        let spent: Vec<(i64, f64)> = cex
            .allowed_calls()
            .filter_map(|c| Timestamp::parse_rfc3339(&c.at).ok().map(|t| (t.0, c.arguments.get(field).and_then(Json::as_f64).unwrap_or(0.0).max(0.0))))
            .collect();
        let total = crate::verify::measure::max_sliding_sum(&spent, span.len);
        best = best.max(total);
        if total > w.amount {
            // Shown to a millionth: a sum of cents carries float noise (207132.94999993296).
            let mut why = format!("calls totalling {} pass within {}", num((total * 1e6).round() / 1e6), w.window);
            if let Some(Ok(t)) = &trunc {
                why.push_str(&format!(
                    " (the limit holds what it counts, but {}; a limit of at most {} per window on `{}` keeps the cap)",
                    t.explain(span),
                    t.keeps(w.amount, t.counted_calls),
                    t.counted.rule
                ));
            }
            let at = by_amount.as_ref().or(by_calls.as_ref().map(|(_, b)| b)).or(trunc.as_ref().and_then(|t| t.as_ref().ok()).map(|t| &t.counted)).map(|b| ctx.rule(&b.rule)).unwrap_or_else(|| ctx.entry());
            let mut p = ctx.proof("amount-per-window", statement, Status::Refuted, why, at);
            p.counterexample = Some(cex);
            return p;
        }
    }
    let why = match &trunc {
        Some(Ok(t)) => format!(
            "{}, over the cap of {}; the schedules prove built passed at most {}, so whether a schedule reaches past the cap is not settled",
            t.explain(span),
            num(w.amount),
            num(best)
        ),
        Some(Err(e)) => format!("the conditions admit fractional amounts, which Intercept counts truncated (98.70 counts 98), and {e}; the schedules prove built passed at most {}", num(best)),
        None => format!("no bound at or under the cap was found, and the bursts prove built passed at most {}", num(best)),
    };
    ctx.proof("amount-per-window", statement, Status::Unknown, why, ctx.entry())
}

/// The schedule truncation allows at its most: the instants of the burst,
/// as many calls at each as the engine admits, every amount a whole number
/// plus `frac` (counted as the whole). A first run of the smallest such
/// amounts finds how many calls each window of the counting limit `rule`
/// holds; the second fills each window's counter: every call as large as
/// the room left allows while keeping 1 whole unit for each call still to
/// come in that window (the largest the engine admits, found on a copy of
/// the store, when the room is less than reckoned). Each call from a new
/// caller; replayed as a trace.
fn fill(ctx: &Context<'_>, field: &str, span: Span, per_call: &NumSet, base: &Map<String, Json>, rule: &str, frac: f64) -> Option<super::Counterexample> {
    let limit = ctx.model.rules.limits.iter().find(|l| l.rule == rule)?;
    let window = window_nanos(limit);
    let with = |whole: f64| -> Option<Map<String, Json>> {
        let x = whole + frac;
        per_call.contains(x).then(|| {
            let mut a = base.clone();
            a.insert(field.into(), serde_json::Number::from_f64(x).map(Json::Number).unwrap_or(Json::Null));
            a
        })
    };
    let lo = per_call.0.first()?.lo.at.max(0.0).ceil().max(1.0);
    let hi = (per_call.0.last()?.hi.at - frac).floor().min(1e15);
    let small = [lo, lo + 1.0].into_iter().find(|w| with(*w).is_some())?;
    let engine = ctx.s.engine;
    let decide = |store: &mut MemoryStore, args: &Map<String, Json>, n: usize, at: Timestamp| {
        let call = Call::new(at, &ctx.tool.name, args.clone()).from_caller(n + 1);
        let caller = CallContext { identity: call.identity.clone(), session: call.session.clone() };
        let allowed = engine.decide(store, &ToolCall { name: &call.tool, arguments: Some(args) }, &caller, at).is_allow();
        (call, allowed)
    };
    // The largest whole amount (plus the fraction) the engine admits now, on a copy of the store.
    let largest = |store: &MemoryStore, n: usize, at: Timestamp| -> Option<f64> {
        let admits = |w: f64| with(w).is_some_and(|a| decide(&mut store.clone(), &a, n, at).1);
        let (mut ok, mut bad) = (small, hi + 1.0);
        if !admits(ok) {
            return None;
        }
        while bad - ok > 1.0 {
            let mid = ((ok + bad) / 2.0).floor();
            if admits(mid) {
                ok = mid;
            } else {
                bad = mid;
            }
        }
        Some(ok)
    };
    let times = instants(ctx, span);
    // Run 1: the smallest amounts, counting the calls each window admits.
    let mut slots: std::collections::HashMap<i64, u64> = Default::default();
    let mut store = MemoryStore::new();
    let small_args = with(small)?;
    let mut n = 0;
    'dry: for at in &times {
        while n < MAX_CALLS {
            let allowed = decide(&mut store, &small_args, n, *at).1;
            n += 1;
            if !allowed {
                continue 'dry;
            }
            *slots.entry(at.0.div_euclid(window)).or_default() += 1;
        }
    }
    // Run 2: fill each window's counter, keeping a whole unit per call still to come.
    let mut store = MemoryStore::new();
    let mut calls: Vec<Call> = Vec::new();
    let mut counted: std::collections::HashMap<i64, f64> = Default::default();
    for at in &times {
        let w = at.0.div_euclid(window);
        while calls.len() < MAX_CALLS {
            let n = calls.len();
            let left = slots.get(&w).copied().unwrap_or(1).saturating_sub(1);
            let room = limit.limit as f64 - counted.get(&w).copied().unwrap_or(0.0);
            let want = (room - left as f64 * small).floor().clamp(small, hi);
            let mut args = with(want)?;
            if want > small && !decide(&mut store.clone(), &args, n, *at).1 {
                if let Some(most) = largest(&store, n, *at) {
                    args = with(most)?;
                }
            }
            let (call, allowed) = decide(&mut store, &args, n, *at);
            calls.push(call);
            if !allowed {
                break;
            }
            *counted.entry(w).or_default() += amount(&args, field).trunc();
            if let Some(s) = slots.get_mut(&w) {
                *s = s.saturating_sub(1);
            }
        }
    }
    Some(ctx.replayed(calls))
}
