//! The decision pipeline (semantics §2.2 and §6), in Intercept's order:
//! hide → default deny → rules (conditions read counters before this call's
//! increment) → reservations (increment, limit, atomic reserve; earlier
//! reservations rolled back on any refusal or error).
//!
//! It never forwards anything and never commits: an allowed decision holds
//! its reservations, and the caller rolls them back if the upstream answers
//! with a JSON-RPC `error`.

use std::borrow::Cow;

use serde_json::Value as Json;

use crate::clock::Timestamp;
use crate::gofmt;
use crate::policy::model::CounterScope;
use crate::profile::Profile;

use super::compile::{CPath, Compiled, CounterSlot, Plan};
use super::conditions::{eval, resolve_args, Actual};
use super::strict::{self, IncrementError};
use crate::caller::CallContext;
use super::{CounterKey, CounterStore, Decision, DenyCause, Outcome, Reservation, ToolCall};

/// The partition used for grant- and session-scoped counters when the
/// caller has no identity or no session.
pub const ANONYMOUS_PARTITION: &str = "anonymous";

pub(crate) fn decide(
    c: &Compiled,
    profile: Profile,
    store: &mut dyn CounterStore,
    call: &ToolCall<'_>,
    ctx: &CallContext,
    now: Timestamp,
) -> Decision {
    let plan = match route(c, call.name) {
        Route::Hidden => {
            let message = format!("Tool {} is hidden by policy", gofmt::quote::quote(call.name));
            return denied(message, Some("(hidden)".into()), None, DenyCause::Hidden, Vec::new());
        }
        Route::NotPermitted => {
            let message = format!("Tool {} is not permitted by policy", gofmt::quote::quote(call.name));
            return denied(message, Some("(default deny)".into()), None, DenyCause::DefaultDeny, Vec::new());
        }
        Route::Rules(plan) => plan,
    };
    if !plan.reserves {
        return evaluate(c, profile, store, plan, call, ctx, now);
    }
    store.begin_decision();
    let decision = evaluate(c, profile, store, plan, call, ctx, now);
    match store.end_decision() {
        Ok(()) => decision,
        // What it reserved was not kept: allowing now would let the call through uncounted.
        Err(_) if decision.is_allow() => {
            denied("Internal policy error".into(), None, None, DenyCause::Internal, decision.counters)
        }
        Err(_) => decision,
    }
}

/// Where a call to a tool goes before any rule is read.
enum Route<'c> {
    Hidden,
    NotPermitted,
    Rules(&'c Plan),
}

fn route<'c>(c: &'c Compiled, name: &str) -> Route<'c> {
    if c.hidden.hides(name) {
        return Route::Hidden;
    }
    match c.tools.get(name) {
        Some(plan) => Route::Rules(plan),
        None if c.default_deny => Route::NotPermitted,
        None => Route::Rules(&c.unlisted),
    }
}

/// Whether deciding a call to `name` may call the store.
pub(crate) fn calls_store(c: &Compiled, name: &str) -> bool {
    matches!(route(c, name), Route::Rules(plan) if plan.counts)
}

/// The rules and reservations of one listed (or unlisted) tool.
fn evaluate(
    c: &Compiled,
    profile: Profile,
    store: &mut dyn CounterStore,
    plan: &Plan,
    call: &ToolCall<'_>,
    ctx: &CallContext,
    now: Timestamp,
) -> Decision {
    let mut touched = Touched::default();
    let mut scratch = String::new();
    for &ri in &plan.rules {
        let rule = &c.rules[ri];
        let passes = !rule.deny_action
            && rule.conditions.iter().all(|cond| {
                let actual = match &cond.path {
                    CPath::Args(path) => match resolve_args(call.arguments, path) {
                        Some(v) => Actual::Json(v),
                        None => Actual::Missing,
                    },
                    CPath::State(slot) => {
                        // §2.9: a read error makes the path missing.
                        let read = store.read(&key_for(&c.counters[*slot], ctx), now).ok();
                        touched.saw(*slot, read);
                        match read {
                            Some(v) => Actual::Counter(v),
                            None => Actual::Missing,
                        }
                    }
                };
                eval(cond, actual, &mut scratch)
            });
        if !passes {
            let counters = snapshot(c, store, ctx, now, &touched);
            return denied(
                rule.rule_message.clone(),
                Some(rule.name.clone()),
                Some(rule.name.clone()),
                DenyCause::Rule,
                counters,
            );
        }
    }

    let mut reservations: Vec<Reservation> = Vec::new();
    for &ri in &plan.stateful {
        let rule = &c.rules[ri];
        let Some(state) = &rule.state else { continue };
        let amount = match &state.increment_from {
            None => Ok(state.increment),
            Some(path) => match resolve_args(call.arguments, path) {
                Some(Json::Number(n)) => strict::increment(profile, n.as_f64().unwrap_or(f64::NAN)),
                _ => Err(IncrementError::NotANumber),
            },
        };
        let amount = match amount {
            Ok(a) => a,
            Err(e) => {
                let message = e.message(profile, &rule.name);
                return refuse(c, store, ctx, now, touched, reservations, message, rule.name.clone(), DenyCause::Internal);
            }
        };
        let Some(limit) = state.limit else { continue };
        let key = key_for(&c.counters[state.slot], ctx);
        match store.reserve(&key, amount, limit, state.window, now) {
            Ok(Some(value)) => {
                touched.saw(state.slot, Some(value));
                reservations.push(Reservation { key: key.into_owned(), amount });
            }
            Ok(None) => {
                // A refusal changes nothing: what the conditions read still stands.
                touched.mark(state.slot);
                let message = rule.limit_message.clone();
                return refuse(c, store, ctx, now, touched, reservations, message, rule.name.clone(), DenyCause::Limit);
            }
            Err(_) => {
                touched.saw(state.slot, None);
                let message = "Internal policy error".to_string();
                return refuse(c, store, ctx, now, touched, reservations, message, rule.name.clone(), DenyCause::Internal);
            }
        }
    }
    let counters = snapshot(c, store, ctx, now, &touched);
    Decision { outcome: Outcome::Allow, reservations, counters }
}

/// The store key of `slot` for this caller: shared keys are pre-built,
/// partitioned ones carry the identity or session.
fn key_for<'c>(slot: &'c CounterSlot, ctx: &CallContext) -> Cow<'c, CounterKey> {
    let partition = match slot.scope {
        CounterScope::Shared => return Cow::Borrowed(&slot.shared),
        CounterScope::Grant => ctx.identity.as_deref(),
        CounterScope::Session => ctx.session.as_deref(),
    };
    Cow::Owned(CounterKey {
        key: slot.shared.key.clone(),
        partition: Some(partition.unwrap_or(ANONYMOUS_PARTITION).to_string()),
    })
}

/// The counters a decision read or reserved, in the order first touched,
/// each with the value the store last reported for it: the snapshot reuses
/// those instead of asking the store again, which for SQLite or Redis is a
/// second round trip per call.
#[derive(Default)]
struct Touched(Vec<(usize, Option<i64>)>);

impl Touched {
    /// `value`: what a read returned, or the value a reservation left; `None`
    /// when the store failed and the snapshot must ask again.
    fn saw(&mut self, slot: usize, value: Option<i64>) {
        match self.0.iter_mut().find(|(s, _)| *s == slot) {
            Some(entry) => entry.1 = value,
            None => self.0.push((slot, value)),
        }
    }

    /// Touched without learning its value.
    fn mark(&mut self, slot: usize) {
        if !self.0.iter().any(|(s, _)| *s == slot) {
            self.0.push((slot, None));
        }
    }
}

/// Every counter this decision read or reserved, as a condition would read
/// it now: the value last seen by this decision, else a fresh read.
fn snapshot(
    c: &Compiled,
    store: &mut dyn CounterStore,
    ctx: &CallContext,
    now: Timestamp,
    touched: &Touched,
) -> Vec<(CounterKey, i64)> {
    let mut out = Vec::with_capacity(touched.0.len());
    for &(slot, seen) in &touched.0 {
        let key = key_for(&c.counters[slot], ctx);
        if let Some(v) = seen.or_else(|| store.read(&key, now).ok()) {
            out.push((key.into_owned(), v));
        }
    }
    out
}

/// A reservation-phase denial: undo what this call reserved so far, then deny
/// without an event-log rule name (as Intercept logs it).
#[allow(clippy::too_many_arguments)]
fn refuse(
    c: &Compiled,
    store: &mut dyn CounterStore,
    ctx: &CallContext,
    now: Timestamp,
    mut touched: Touched,
    reservations: Vec<Reservation>,
    message: String,
    culprit: String,
    cause: DenyCause,
) -> Decision {
    for r in &reservations {
        let _ = store.rollback(&r.key, r.amount);
    }
    if !reservations.is_empty() {
        // Rolled back: what this decision saw is stale, so read every counter again.
        touched.0.iter_mut().for_each(|(_, seen)| *seen = None);
    }
    let counters = snapshot(c, store, ctx, now, &touched);
    denied(message, None, Some(culprit), cause, counters)
}

fn denied(
    message: String,
    rule: Option<String>,
    culprit: Option<String>,
    cause: DenyCause,
    counters: Vec<(CounterKey, i64)>,
) -> Decision {
    Decision { outcome: Outcome::Deny { message, rule, culprit, cause }, reservations: Vec::new(), counters }
}
