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

use super::single::AMOUNT;
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

/// The admitted call with `amount` in `set`, if any.
fn with_amount(ctx: &Context<'_>, set: NumSet, near: f64) -> Option<Map<String, Json>> {
    let mut base = ctx.base.clone();
    base.insert(AMOUNT.into(), serde_json::Number::from_f64(near).map(Json::Number).unwrap_or(Json::Null));
    let mut query = ctx.model.rules.terms();
    query.push(Term::set(vec![AMOUNT.into()], Atom::of_kinds(&[Kind::Number]).with_numbers(set), "amount".into()));
    match solve(&query, &base, &Prefer::default()) {
        Answer::Yes(a) => Some(a),
        _ => None,
    }
}

fn amount(a: &Map<String, Json>) -> f64 {
    a.get(AMOUNT).and_then(Json::as_f64).unwrap_or(0.0)
}

/// Whether every amount the conditions admit is counted in full: whole and not negative.
fn counted_in_full(ctx: &Context<'_>) -> bool {
    if ctx.model.rules.profile() == Profile::Strict {
        return true;
    }
    let path = vec![AMOUNT.to_string()];
    let set = ctx.model.rules.atoms_at(&path).iter().fold(NumSet::all(), |s, a| s.intersect(&a.numbers));
    set.0.iter().all(|i| i.lo.at == i.hi.at && i.lo.at >= 0.0 && i.lo.at.fract() == 0.0)
}

/// `amount-per-window`: the amounts of the calls in any sliding window of `w.window` total at most `w.amount`.
pub fn amounts(ctx: &Context<'_>, w: AmountWindow) -> Proof {
    let span = Span { len: w.window.nanos().max(1), sliding: true };
    let statement = format!("`{AMOUNT}` totals ≤{} per {} sliding", num(w.amount), w.window);
    let admitted = match ctx.admitted() {
        Ok(a) => a,
        Err((status, why)) => return ctx.proof("amount-per-window", statement, status, why, ctx.entry()),
    };
    let path = vec![AMOUNT.to_string()];
    let per_call = ctx.model.rules.atoms_at(&path).iter().fold(NumSet::all(), |s, a| s.intersect(&a.numbers));
    let largest = per_call.0.last().map(|i| i.hi.at).filter(|x| x.is_finite());
    let by_calls = largest.zip(ctx.model.rules.call_bound(span)).map(|(c, b)| (c * b.total() as f64, b));
    let by_amount = ctx.model.rules.amount_bound(span, &path, counted_in_full(ctx));
    if let Some(b) = by_amount.as_ref().filter(|b| b.total() as f64 <= w.amount) {
        return ctx.proof("amount-per-window", statement, Status::Proved, explain(b, "of amount", span), ctx.rule(&b.rule));
    }
    if let Some((total, b)) = by_calls.as_ref().filter(|(t, _)| *t <= w.amount) {
        let why = format!("every amount is at most {}, and {}: at most {}", num(largest.unwrap_or(0.0)), explain(b, "calls", span), num(*total));
        return ctx.proof("amount-per-window", statement, Status::Proved, why, ctx.rule(&b.rule));
    }
    // Counterexamples: the largest amounts; a negative one first; amounts under 1.
    let most = with_amount(ctx, NumSet::above(0.0, false), 1e15).unwrap_or(admitted);
    let mut strategies: Vec<Vec<Map<String, Json>>> = vec![vec![most.clone()]];
    if let Some(negative) = with_amount(ctx, NumSet::below(0.0, false), -1e15) {
        strategies.push(vec![negative, most.clone()]);
    }
    if let Some(small) = with_amount(ctx, NumSet::above(0.0, false).intersect(&NumSet::below(1.0, false)), 0.99) {
        if w.amount / amount(&small) < MAX_CALLS as f64 {
            strategies.push(vec![small]);
        }
    }
    let mut best = 0.0f64;
    for variants in strategies {
        let cex = burst(ctx, span, &variants, amount, w.amount);
        let spent: Vec<(i64, f64)> = cex
            .allowed_calls()
            .filter_map(|c| Timestamp::parse_rfc3339(&c.at).ok().map(|t| (t.0, c.arguments.get(AMOUNT).and_then(Json::as_f64).unwrap_or(0.0).max(0.0))))
            .collect();
        let total = crate::verify::measure::max_sliding_sum(&spent, span.len);
        best = best.max(total);
        if total > w.amount {
            let why = format!("calls totalling {} pass within {}", num(total), w.window);
            let at = by_amount.as_ref().or(by_calls.as_ref().map(|(_, b)| b)).map(|b| ctx.rule(&b.rule)).unwrap_or_else(|| ctx.entry());
            let mut p = ctx.proof("amount-per-window", statement, Status::Refuted, why, at);
            p.counterexample = Some(cex);
            return p;
        }
    }
    let truncated = if counted_in_full(ctx) {
        String::new()
    } else {
        " (the conditions admit fractional amounts, which Intercept counts truncated — 1.99 counts 1 —, so the amounts a limit lets through can sum to more than it, by under 1 per call; prove does not bound that sum)".to_string()
    };
    let why = format!("no bound at or under the cap was found, and the bursts prove built passed at most {}{truncated}", num(best));
    ctx.proof("amount-per-window", statement, Status::Unknown, why, ctx.entry())
}
