//! Counters end to end through `Engine::decide`: the worked example of §2.5,
//! windows on virtual time, limits (§2.6), increments (§2.7), rollback,
//! store failures (§2.9), messages (§3), partitions and the strict profile.
//! Expectations mirror sections B, D, H and I of the conformance vectors.

use crate::engine_support;

use engine_support::*;
use gauntlet::engine::store::{FailClosedStore, FailOpenStore, MemoryStore, ReserveErrorStore};
use gauntlet::caller::CallContext;
use gauntlet::engine::{CounterKey, CounterStore, DenyCause, Outcome, ToolCall};
use gauntlet::policy::model::{CounterScope, DefaultAction, Value, Window};

fn read(store: &mut dyn CounterStore, key: &str, now: &str) -> i64 {
    store.read(&shared(key), at(now)).expect("readable store")
}

fn cause(d: &gauntlet::engine::Decision) -> Option<(DenyCause, Option<&str>, Option<&str>)> {
    match &d.outcome {
        Outcome::Allow => None,
        Outcome::Deny { cause, rule, culprit, .. } => Some((*cause, rule.as_deref(), culprit.as_deref())),
    }
}

#[test]
fn worked_example_five_per_hour_allows_exactly_five_of_ten() {
    let e = engine(allow_policy(vec![tool("create_issue", vec![rate("create_issue", "hourly issue limit", 5, Window::Hour)])]));
    let mut store = MemoryStore::new();
    let mut allowed = 0;
    for minute in 0..10 {
        let d = decide_at(&e, &mut store, "create_issue", None, at(&format!("2026-03-02T10:0{minute}:00Z")));
        if d.is_allow() {
            allowed += 1;
        } else {
            assert_eq!(denial(&d), Some("Rate limit of 5 per hour reached. Try again later."));
            assert_eq!(cause(&d), Some((DenyCause::Limit, None, Some("hourly issue limit"))));
        }
    }
    assert_eq!(allowed, 5);
    assert_eq!(read(&mut store, "create_issue._rate_hour", "2026-03-02T10:59:59.999Z"), 5);
}

#[test]
fn worked_example_with_lt_five_allows_four() {
    let st = state("t", "n", Window::Hour);
    let r = on_deny(stateful(rule("lt five", vec![cond("state.t.n", "lt", Value::Int(5))]), st), "max 4");
    let e = engine(allow_policy(vec![tool("t", vec![r])]));
    let mut store = MemoryStore::new();
    let verdicts: Vec<bool> =
        (0..10).map(|_| decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:00Z")).is_allow()).collect();
    assert_eq!(verdicts.iter().filter(|v| **v).count(), 4);
    assert_eq!(verdicts[..4], [true; 4]);
    let d = decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:00Z"));
    assert_eq!(denial(&d), Some("max 4"));
}

#[test]
fn day_window_rolls_at_midnight_utc_across_the_year() {
    let e = engine(allow_policy(vec![tool("t", vec![rate("t", "daily", 2, Window::Day)])]));
    let mut store = MemoryStore::new();
    assert!(decide_at(&e, &mut store, "t", None, at("2026-12-31T00:00:00Z")).is_allow());
    assert!(decide_at(&e, &mut store, "t", None, at("2026-12-31T23:59:59Z")).is_allow());
    let d = decide_at(&e, &mut store, "t", None, at("2026-12-31T23:59:59.5Z"));
    assert_eq!(denial(&d), Some("Rate limit of 2 per day reached. Try again later."));
    assert!(decide_at(&e, &mut store, "t", None, at("2027-01-01T00:00:00Z")).is_allow());
    assert_eq!(read(&mut store, "t._rate_day", "2027-01-01T00:00:00Z"), 1);
}

#[test]
fn hour_edge_separates_10_59_59_from_11_00_00_and_allows_a_2n_burst() {
    let e = engine(allow_policy(vec![tool("t", vec![rate("t", "hourly", 3, Window::Hour)])]));
    let mut store = MemoryStore::new();
    let before: usize = (0..5)
        .filter(|_| decide_at(&e, &mut store, "t", None, at("2026-03-02T10:59:59Z")).is_allow())
        .count();
    let after: usize = (0..5)
        .filter(|_| decide_at(&e, &mut store, "t", None, at("2026-03-02T11:00:00Z")).is_allow())
        .count();
    assert_eq!((before, after), (3, 3));
    assert_eq!(read(&mut store, "t._rate_hour", "2026-03-02T11:00:00Z"), 3);
}

#[test]
fn minute_window_stale_counter_reads_zero() {
    let e = engine(allow_policy(vec![tool("t", vec![rate("t", "per minute", 1, Window::Minute)])]));
    let mut store = MemoryStore::new();
    let d = decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:59.999Z"));
    assert_eq!(d.counters, vec![(shared("t._rate_minute"), 1)]);
    assert!(decide_at(&e, &mut store, "t", None, at("2026-03-02T10:01:00Z")).is_allow());
    assert!(!decide_at(&e, &mut store, "t", None, at("2026-03-02T10:01:59.999Z")).is_allow());
    assert!(decide_at(&e, &mut store, "t", None, at("2026-03-02T10:05:00Z")).is_allow());
}

#[test]
fn conditions_without_own_lt_lte_never_count() {
    let p = allow_policy(vec![tool(
        "t",
        vec![
            stateful(rule("gte", vec![cond("state.t.n", "gte", Value::Int(0))]), state("t", "n", Window::Hour)),
            stateful(rule("eq", vec![cond("state.t.m", "eq", Value::Int(0))]), state("t", "m", Window::Hour)),
        ],
    )]);
    let e = engine(p);
    let mut store = MemoryStore::new();
    for _ in 0..3 {
        assert!(decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:00Z")).is_allow());
    }
    assert!(store.entries().is_empty());
}

#[test]
fn zero_limit_refuses_in_reservation_and_negative_limit_in_engine() {
    let p = allow_policy(vec![
        tool("zero", vec![stateful(rule("zero", vec![cond("state.zero.n", "lte", Value::Int(0))]), state("zero", "n", Window::Hour))]),
        tool("neg", vec![stateful(rule("neg", vec![cond("state.neg.n", "lte", Value::Int(-1))]), state("neg", "n", Window::Hour))]),
    ]);
    let e = engine(p);
    let mut store = MemoryStore::new();
    let d = decide_at(&e, &mut store, "zero", None, at("2026-03-02T10:00:00Z"));
    assert_eq!(denial(&d), Some("Rate limit exceeded for zero"));
    assert_eq!(cause(&d), Some((DenyCause::Limit, None, Some("zero"))));
    let d = decide_at(&e, &mut store, "neg", None, at("2026-03-02T10:00:00Z"));
    assert_eq!(denial(&d), Some("Denied by rule \"neg\""));
    assert_eq!(cause(&d), Some((DenyCause::Rule, Some("neg"), Some("neg"))));
}

#[test]
fn fixed_increments_two_zero_and_negative() {
    let mut two = state("two", "n", Window::Hour);
    two.increment = 2;
    let mut minus = state("minus", "n", Window::Hour);
    minus.increment = -1;
    let p = allow_policy(vec![
        tool("two", vec![stateful(rule("by two", vec![cond("state.two.n", "lte", Value::Int(5))]), two)]),
        tool("minus", vec![stateful(rule("negative", vec![cond("state.minus.n", "lte", Value::Int(0))]), minus)]),
    ]);
    let e = engine(p);
    let mut store = MemoryStore::new();
    let now = "2026-03-02T10:00:00Z";
    assert!(decide_at(&e, &mut store, "two", None, at(now)).is_allow());
    assert!(decide_at(&e, &mut store, "two", None, at(now)).is_allow());
    assert_eq!(denial(&decide_at(&e, &mut store, "two", None, at(now))), Some("Rate limit exceeded for by two"));
    assert_eq!(read(&mut store, "two.n", now), 4);
    for _ in 0..3 {
        assert!(decide_at(&e, &mut store, "minus", None, at(now)).is_allow());
    }
    assert_eq!(read(&mut store, "minus.n", now), -3);
}

fn spend_policy() -> gauntlet::policy::model::Policy {
    let mut st = state("charge", "spend", Window::Day);
    st.increment_from = Some(vec!["amount".into()]);
    let r = stateful(rule("daily spend", vec![cond("state.charge.spend", "lte", Value::Int(1000))]), st);
    allow_policy(vec![tool("charge", vec![on_deny(r, "Daily spend cap reached")])])
}

#[test]
fn increment_from_spend_cap() {
    let e = engine(spend_policy());
    let mut store = MemoryStore::new();
    let steps = [
        ("2026-03-02T10:00:00Z", 600, true, 600),
        ("2026-03-02T10:00:01Z", 300, true, 900),
        ("2026-03-02T10:00:02Z", 200, false, 900),
        ("2026-03-02T10:00:03Z", 100, true, 1000),
        ("2026-03-02T10:00:04Z", 0, true, 1000),
        ("2026-03-02T10:00:05Z", 1, false, 1000),
        ("2026-03-03T00:00:00Z", 1000, true, 1000),
    ];
    for (now, amount, allowed, after) in steps {
        let d = decide_at(&e, &mut store, "charge", Some(&format!(r#"{{"amount": {amount}}}"#)), at(now));
        assert_eq!(d.is_allow(), allowed, "amount {amount} at {now}");
        if !allowed {
            assert_eq!(denial(&d), Some("Daily spend cap reached"));
        }
        assert_eq!(read(&mut store, "charge.spend", now), after);
    }
}

#[test]
fn increment_from_truncates_and_converts_like_go() {
    let e = engine(spend_policy());
    let now = "2026-03-02T10:00:00Z";
    for (amount, expected) in [("99.9", 99), ("0.5", 0), ("-2.7", -2), ("-900000", -900000)] {
        let mut store = MemoryStore::new();
        let d = decide_at(&e, &mut store, "charge", Some(&format!(r#"{{"amount": {amount}}}"#)), at(now));
        assert_eq!(d.reservations.first().map(|r| r.amount), Some(expected), "amount {amount}");
    }
    let mut store = MemoryStore::new();
    let d = decide_at(&e, &mut store, "charge", Some(r#"{"amount": 1e19}"#), at(now));
    assert_eq!(d.reservations.first().map(|r| r.amount), Some(i64::MIN));
    assert_eq!(read(&mut store, "charge.spend", now), i64::MIN);
}

#[test]
fn increment_from_bad_values_are_internal_errors() {
    let e = engine(spend_policy());
    let mut store = MemoryStore::new();
    for arguments in [Some(r#"{"other": 5}"#), Some(r#"{"amount": "500"}"#), Some(r#"{"amount": null}"#), Some(r#"{"amount": true}"#), None] {
        let d = decide_at(&e, &mut store, "charge", arguments, at("2026-03-02T10:00:00Z"));
        assert_eq!(denial(&d), Some("Internal policy error"), "{arguments:?}");
        assert_eq!(cause(&d), Some((DenyCause::Internal, None, Some("daily spend"))));
    }
    assert_eq!(read(&mut store, "charge.spend", "2026-03-02T10:00:00Z"), 0);
}

#[test]
fn rollback_returns_reservations_and_floors_at_zero() {
    let e = engine(allow_policy(vec![tool("t", vec![rate("t", "two per hour", 2, Window::Hour)])]));
    let mut store = MemoryStore::new();
    let d = decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:00Z"));
    assert_eq!(d.reservations.len(), 1);
    e.rollback(&mut store, &d.reservations);
    assert_eq!(read(&mut store, "t._rate_hour", "2026-03-02T10:00:00Z"), 0);
    assert!(decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:01Z")).is_allow());
    assert!(decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:02Z")).is_allow());
    assert!(!decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:03Z")).is_allow());
}

#[test]
fn two_windows_on_one_tool_roll_back_the_earlier_reservation() {
    let e = engine(allow_policy(vec![tool(
        "t",
        vec![rate("t", "hour", 3, Window::Hour), rate("t", "minute", 2, Window::Minute)],
    )]));
    let mut store = MemoryStore::new();
    assert!(decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:00Z")).is_allow());
    assert!(decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:10Z")).is_allow());
    let d = decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:20Z"));
    assert_eq!(denial(&d), Some("Rate limit of 2 per minute reached. Try again later."));
    assert_eq!(d.counters, vec![(shared("t._rate_hour"), 2), (shared("t._rate_minute"), 2)]);
    let d = decide_at(&e, &mut store, "t", None, at("2026-03-02T10:01:00Z"));
    assert!(d.is_allow());
    assert_eq!(d.counters, vec![(shared("t._rate_hour"), 3), (shared("t._rate_minute"), 1)]);
    let d = decide_at(&e, &mut store, "t", None, at("2026-03-02T10:02:00Z"));
    assert_eq!(denial(&d), Some("Rate limit of 3 per hour reached. Try again later."));
    assert_eq!(read(&mut store, "t._rate_minute", "2026-03-02T10:02:00Z"), 0);
}

#[test]
fn wildcard_counter_is_shared_by_every_tool() {
    let e = engine(allow_policy(vec![tool("*", vec![rate("*", "global rate limit", 3, Window::Minute)])]));
    let mut store = MemoryStore::new();
    for (i, name) in ["tool_x", "tool_y", "tool_z"].iter().enumerate() {
        assert!(decide_at(&e, &mut store, name, None, at(&format!("2026-03-02T10:00:0{i}Z"))).is_allow());
    }
    assert_eq!(read(&mut store, "_global._rate_minute", "2026-03-02T10:00:03Z"), 3);
    assert!(!decide_at(&e, &mut store, "tool_w", None, at("2026-03-02T10:00:03Z")).is_allow());
}

#[test]
fn lowered_limit_denies_in_engine_phase_with_rule_name() {
    let mut store = MemoryStore::new();
    let five = engine(allow_policy(vec![tool("t", vec![rate("t", "hourly", 5, Window::Hour)])]));
    for _ in 0..4 {
        assert!(decide_at(&five, &mut store, "t", None, at("2026-03-02T10:00:00Z")).is_allow());
    }
    let three = engine(allow_policy(vec![tool("t", vec![rate("t", "hourly", 3, Window::Hour)])]));
    let d = decide_at(&three, &mut store, "t", None, at("2026-03-02T10:00:04Z"));
    assert_eq!(denial(&d), Some("Rate limit of 3 per hour reached. Try again later."));
    assert_eq!(cause(&d), Some((DenyCause::Rule, Some("hourly"), Some("hourly"))));
}

#[test]
fn default_deny_hide_and_wildcard_order() {
    let safe = on_deny(rule("safe flag", vec![cond("args.safe", "eq", Value::Bool(true))]), "global denied");
    let p = policy(
        DefaultAction::Deny,
        &["secret", "Other "],
        vec![
            tool("read_file", vec![]),
            tool("secret", vec![]),
            tool("create_issue", vec![rate("create_issue", "hourly issue limit", 1, Window::Hour)]),
            tool("*", vec![safe]),
        ],
    );
    let e = engine(p);
    let mut store = MemoryStore::new();
    let now = at("2026-03-02T10:00:00Z");
    let safe_args = Some(r#"{"safe": true}"#);
    assert!(decide_at(&e, &mut store, "read_file", safe_args, now).is_allow());
    assert_eq!(denial(&decide_at(&e, &mut store, "read_file", Some(r#"{"safe": false}"#), now)), Some("global denied"));
    let d = decide_at(&e, &mut store, "unlisted_tool", safe_args, now);
    assert_eq!(denial(&d), Some("Tool \"unlisted_tool\" is not permitted by policy"));
    assert_eq!(cause(&d), Some((DenyCause::DefaultDeny, Some("(default deny)"), None)));
    assert_eq!(denial(&decide_at(&e, &mut store, "Read_File", safe_args, now)), Some("Tool \"Read_File\" is not permitted by policy"));
    assert_eq!(denial(&decide_at(&e, &mut store, "*", None, now)), Some("global denied"));
    assert!(decide_at(&e, &mut store, "*", safe_args, now).is_allow());
    let d = decide_at(&e, &mut store, "secret", safe_args, now);
    assert_eq!(denial(&d), Some("Tool \"secret\" is hidden by policy"));
    assert_eq!(cause(&d), Some((DenyCause::Hidden, Some("(hidden)"), None)));
    assert_eq!(denial(&decide_at(&e, &mut store, "Other", None, now)), Some("Tool \"Other\" is not permitted by policy"));
    assert_eq!(denial(&decide_at(&e, &mut store, "Other ", None, now)), Some("Tool \"Other \" is hidden by policy"));
    assert!(decide_at(&e, &mut store, "create_issue", safe_args, now).is_allow());
    let d = decide_at(&e, &mut store, "create_issue", safe_args, at("2026-03-02T10:00:01Z"));
    assert_eq!(denial(&d), Some("Rate limit of 1 per hour reached. Try again later."));
}

#[test]
fn hide_star_hides_everything_and_names_are_go_quoted() {
    let e = engine(policy(DefaultAction::Allow, &["*"], vec![]));
    let d = decide_at(&e, &mut MemoryStore::new(), "we\"ird\t\u{200b}é", None, at("2026-03-02T10:00:00Z"));
    assert_eq!(denial(&d), Some("Tool \"we\\\"ird\\t\\u200bé\" is hidden by policy"));
}

#[test]
fn deny_action_messages() {
    let e = engine(allow_policy(vec![
        tool("rm_rf", vec![deny_rule("never", "This tool is forbidden")]),
        tool("drop", vec![deny_rule("say \"no\"", "")]),
        tool("ws", vec![deny_rule("whitespace message", " ")]),
    ]));
    let mut store = MemoryStore::new();
    let now = at("2026-03-02T10:00:00Z");
    assert_eq!(denial(&decide_at(&e, &mut store, "rm_rf", None, now)), Some("This tool is forbidden"));
    assert_eq!(denial(&decide_at(&e, &mut store, "drop", None, now)), Some("Denied by rule \"say \\\"no\\\"\""));
    assert_eq!(denial(&decide_at(&e, &mut store, "ws", None, now)), Some(" "));
}

fn backend_policy() -> gauntlet::policy::model::Policy {
    allow_policy(vec![
        tool("create_issue", vec![rate("create_issue", "hourly issue limit", 5, Window::Hour)]),
        tool("manual", vec![stateful(rule("manual cap", vec![cond("state.manual.n", "lte", Value::Int(5))]), state("manual", "n", Window::Hour))]),
        tool("absent_ok", vec![stateful(rule("exists false", vec![cond("state.absent_ok.n", "exists", Value::Bool(false))]), state("absent_ok", "n", Window::Hour))]),
        tool("read_file", vec![rule("tmp only", vec![cond("args.path", "regex", s("^/tmp/"))])]),
    ])
}

#[test]
fn fail_closed_store_denies_in_engine_phase() {
    let e = engine(backend_policy());
    let mut store = FailClosedStore;
    let now = at("2026-03-02T10:00:00Z");
    let d = decide_at(&e, &mut store, "create_issue", None, now);
    assert_eq!(denial(&d), Some("Rate limit of 5 per hour reached. Try again later."));
    assert_eq!(cause(&d), Some((DenyCause::Rule, Some("hourly issue limit"), Some("hourly issue limit"))));
    assert_eq!(denial(&decide_at(&e, &mut store, "manual", None, now)), Some("Denied by rule \"manual cap\""));
    assert!(decide_at(&e, &mut store, "absent_ok", None, now).is_allow());
    assert!(decide_at(&e, &mut store, "read_file", Some(r#"{"path": "/tmp/x"}"#), now).is_allow());
}

#[test]
fn reserve_error_store_is_an_internal_error() {
    let e = engine(backend_policy());
    let d = decide_at(&e, &mut ReserveErrorStore::default(), "create_issue", None, at("2026-03-02T10:00:00Z"));
    assert_eq!(denial(&d), Some("Internal policy error"));
    assert_eq!(cause(&d), Some((DenyCause::Internal, None, Some("hourly issue limit"))));
}

#[test]
fn fail_open_store_allows_without_counting() {
    let e = engine(backend_policy());
    let mut store = FailOpenStore;
    for _ in 0..20 {
        assert!(decide_at(&e, &mut store, "create_issue", None, at("2026-03-02T10:00:00Z")).is_allow());
    }
}

fn stripe_policy() -> gauntlet::policy::model::Policy {
    let mut spend = state("create_charge", "daily_spend", Window::Day);
    spend.increment_from = Some(vec!["amount".into()]);
    allow_policy(vec![
        tool(
            "create_charge",
            vec![
                on_deny(rule("max single charge", vec![cond("args.amount", "lte", Value::Int(50000))]), "Single charge cannot exceed $500.00"),
                on_deny(
                    stateful(rule("daily spend cap", vec![cond("state.create_charge.daily_spend", "lte", Value::Int(1000000))]), spend),
                    "Daily spending cap of $10,000.00 reached",
                ),
                on_deny(rule("allowed currencies", vec![cond("args.currency", "in", list(vec![s("usd"), s("eur")]))]), "Only USD and EUR charges are permitted"),
            ],
        ),
        tool(
            "create_refund",
            vec![
                on_deny(rule("refund limit", vec![cond("args.amount", "lte", Value::Int(10000))]), "Refunds over $100.00 require manual processing"),
                on_deny(
                    stateful(rule("daily refund count", vec![cond("state.create_refund.daily_count", "lte", Value::Int(10))]), state("create_refund", "daily_count", Window::Day)),
                    "Daily refund limit (10) reached",
                ),
            ],
        ),
        tool("delete_customer", vec![deny_rule("block destructive action", "Customer deletion is not permitted via AI agents")]),
        tool(
            "*",
            vec![on_deny(
                stateful(rule("global rate limit", vec![cond("state._global.calls_per_minute", "lte", Value::Int(60))]), state("*", "calls_per_minute", Window::Minute)),
                "Rate limit: maximum 60 tool calls per minute",
            )],
        ),
    ])
}

#[test]
fn stripe_example_end_to_end() {
    let e = engine(stripe_policy());
    let mut store = MemoryStore::new();
    let d = decide_at(&e, &mut store, "create_charge", Some(r#"{"amount": 50000, "currency": "usd"}"#), at("2026-03-02T09:00:00Z"));
    assert!(d.is_allow());
    assert_eq!(d.counters, vec![(shared("create_charge.daily_spend"), 50000), (shared("_global.calls_per_minute"), 1)]);
    let d = decide_at(&e, &mut store, "create_charge", Some(r#"{"amount": 50001, "currency": "usd"}"#), at("2026-03-02T09:00:01Z"));
    assert_eq!(denial(&d), Some("Single charge cannot exceed $500.00"));
    let d = decide_at(&e, &mut store, "create_charge", Some(r#"{"amount": 100, "currency": "gbp"}"#), at("2026-03-02T09:00:02Z"));
    assert_eq!(denial(&d), Some("Only USD and EUR charges are permitted"));
    let d = decide_at(&e, &mut store, "delete_customer", Some(r#"{"id": "cus_1"}"#), at("2026-03-02T09:00:03Z"));
    assert_eq!(denial(&d), Some("Customer deletion is not permitted via AI agents"));
    // G-9: a negative charge the upstream rejects with isError is never rolled back.
    let d = decide_at(&e, &mut store, "create_charge", Some(r#"{"amount": -900000, "currency": "usd"}"#), at("2026-03-02T09:00:04Z"));
    assert!(d.is_allow());
    assert_eq!(read(&mut store, "create_charge.daily_spend", "2026-03-02T09:00:04Z"), -850000);
    assert_eq!(read(&mut store, "_global.calls_per_minute", "2026-03-02T09:00:04Z"), 2);
    let d = decide_at(&e, &mut store, "create_refund", Some(r#"{"amount": 500}"#), at("2026-03-02T09:00:05Z"));
    assert!(d.is_allow());
    e.rollback(&mut store, &d.reservations);
    assert_eq!(read(&mut store, "create_refund.daily_count", "2026-03-02T09:00:05Z"), 0);
    assert_eq!(read(&mut store, "_global.calls_per_minute", "2026-03-02T09:00:05Z"), 2);
    assert!(decide_at(&e, &mut store, "list_customers", None, at("2026-03-02T09:00:06Z")).is_allow());
    assert_eq!(read(&mut store, "_global.calls_per_minute", "2026-03-02T09:00:06Z"), 3);
}

#[test]
fn strict_profile_rejects_negative_and_fractional_amounts() {
    let e = strict_engine(stripe_policy());
    let mut store = MemoryStore::new();
    let now = at("2026-03-02T09:00:04Z");
    let d = decide_at(&e, &mut store, "create_charge", Some(r#"{"amount": -900000, "currency": "usd"}"#), now);
    assert_eq!(
        denial(&d),
        Some("increment_from value -900000 for rule \"daily spend cap\" rejected: must be a non-negative integer")
    );
    assert_eq!(cause(&d), Some((DenyCause::Internal, None, Some("daily spend cap"))));
    let d = decide_at(&e, &mut store, "create_charge", Some(r#"{"amount": 0.9, "currency": "usd"}"#), now);
    assert!(!d.is_allow());
    // The spend rule is refused before the wildcard counter is reached: nothing is kept.
    assert!(store.entries().iter().all(|(_, v)| *v == 0));
    let d = decide_at(&e, &mut store, "create_charge", Some(r#"{"amount": 500, "currency": "usd"}"#), now);
    assert!(d.is_allow());
    assert_eq!(read(&mut store, "create_charge.daily_spend", "2026-03-02T09:00:04Z"), 500);
}

#[test]
fn infinite_limit_refuses_everything_in_intercept_and_nothing_in_strict() {
    let r = || stateful(rule("inf", vec![cond("state.t.n", "lte", Value::Float(f64::INFINITY))]), state("t", "n", Window::Hour));
    let now = at("2026-03-02T10:00:00Z");
    let d = decide_at(&engine(allow_policy(vec![tool("t", vec![r()])])), &mut MemoryStore::new(), "t", None, now);
    assert_eq!(denial(&d), Some("Rate limit exceeded for inf"));
    let d = decide_at(&strict_engine(allow_policy(vec![tool("t", vec![r()])])), &mut MemoryStore::new(), "t", None, now);
    assert!(d.is_allow());
}

#[test]
fn grant_and_session_scopes_partition_counters() {
    let mut grant = state("t", "n", Window::Hour);
    grant.scope = CounterScope::Grant;
    let mut session = state("u", "n", Window::Hour);
    session.scope = CounterScope::Session;
    let e = engine(allow_policy(vec![
        tool("t", vec![stateful(rule("per grant", vec![cond("state.t.n", "lte", Value::Int(1))]), grant)]),
        tool("u", vec![stateful(rule("per session", vec![cond("state.u.n", "lte", Value::Int(1))]), session)]),
    ]));
    let mut store = MemoryStore::new();
    let now = at("2026-03-02T10:00:00Z");
    let ctx = |identity: Option<&str>, session: Option<&str>| CallContext {
        identity: identity.map(String::from),
        session: session.map(String::from),
    };
    let call = |name| ToolCall { name, arguments: None };
    assert!(e.decide(&mut store, &call("t"), &ctx(Some("alice"), None), now).is_allow());
    assert!(!e.decide(&mut store, &call("t"), &ctx(Some("alice"), Some("s2")), now).is_allow());
    assert!(e.decide(&mut store, &call("t"), &ctx(Some("bob"), None), now).is_allow());
    assert!(e.decide(&mut store, &call("t"), &ctx(None, None), now).is_allow());
    assert!(e.decide(&mut store, &call("u"), &ctx(Some("alice"), Some("s1")), now).is_allow());
    assert!(!e.decide(&mut store, &call("u"), &ctx(Some("bob"), Some("s1")), now).is_allow());
    assert!(e.decide(&mut store, &call("u"), &ctx(Some("alice"), Some("s2")), now).is_allow());
    let partition = |key: &str, p: &str| CounterKey { key: key.into(), partition: Some(p.into()) };
    assert_eq!(
        store.entries(),
        vec![
            (partition("t.n", "alice"), 1),
            (partition("t.n", "anonymous"), 1),
            (partition("t.n", "bob"), 1),
            (partition("u.n", "s1"), 1),
            (partition("u.n", "s2"), 1),
        ]
    );
}

/// Counts what the engine asks of a store.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    reads: usize,
    reserves: usize,
    /// Units begun and ended (`begin_decision`, `end_decision`).
    units: (usize, usize),
    /// `end_decision` fails, as a COMMIT that cannot be written.
    fail_end: bool,
}

impl CounterStore for Counting {
    fn read(&mut self, key: &CounterKey, now: gauntlet::clock::Timestamp) -> Result<i64, gauntlet::engine::StoreError> {
        self.reads += 1;
        self.inner.read(key, now)
    }
    fn reserve(
        &mut self,
        key: &CounterKey,
        amount: i64,
        limit: i64,
        window: Window,
        now: gauntlet::clock::Timestamp,
    ) -> Result<Option<i64>, gauntlet::engine::StoreError> {
        self.reserves += 1;
        self.inner.reserve(key, amount, limit, window, now)
    }
    fn rollback(&mut self, key: &CounterKey, amount: i64) -> Result<(), gauntlet::engine::StoreError> {
        self.inner.rollback(key, amount)
    }
    fn entries(&self) -> Vec<(CounterKey, i64)> {
        self.inner.entries()
    }
    fn begin_decision(&mut self) {
        self.units.0 += 1;
    }
    fn end_decision(&mut self) -> Result<(), gauntlet::engine::StoreError> {
        self.units.1 += 1;
        match self.fail_end {
            true => Err(gauntlet::engine::StoreError("disk full".into())),
            false => Ok(()),
        }
    }
}

/// Each store operation is a round trip for SQLite and Redis: the snapshot
/// of counters a decision reports reuses what the decision already read or
/// reserved, and reads again only what a rollback made stale.
#[test]
fn the_counter_snapshot_reuses_what_the_decision_saw() {
    let e = engine(allow_policy(vec![tool(
        "t",
        vec![rate("t", "hour", 3, Window::Hour), rate("t", "minute", 2, Window::Minute)],
    )]));
    let mut store = Counting::default();
    let d = decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:00Z"));
    assert!(d.is_allow());
    assert_eq!(d.counters, vec![(shared("t._rate_hour"), 1), (shared("t._rate_minute"), 1)]);
    assert_eq!((store.reads, store.reserves), (2, 2), "one read per condition, one per reservation, none after");

    decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:10Z"));
    let (reads, reserves) = (store.reads, store.reserves);
    let d = decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:20Z"));
    assert_eq!(cause(&d).map(|c| c.0), Some(DenyCause::Limit));
    assert_eq!(d.counters, vec![(shared("t._rate_hour"), 2), (shared("t._rate_minute"), 2)], "the hour's reservation rolled back");
    assert_eq!((store.reads - reads, store.reserves - reserves), (4, 2), "after a rollback every counter is read again");

    // A refusal with nothing to roll back reports what the condition read.
    let e = engine(allow_policy(vec![tool("t", vec![rate("t", "once", 1, Window::Hour)])]));
    let mut store = Counting::default();
    assert!(decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:00Z")).is_allow());
    let d = decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:01Z"));
    assert_eq!(cause(&d).map(|c| c.0), Some(DenyCause::Limit));
    assert_eq!(d.counters, vec![(shared("t._rate_hour"), 1)]);
    assert_eq!((store.reads, store.reserves), (2, 2));
}

/// Only a decision that may reserve runs as one unit of the store, each
/// begun unit is ended, and an allowed call whose unit could not be kept is
/// denied (it would otherwise pass uncounted).
#[test]
fn decisions_that_reserve_run_as_one_unit_of_the_store() {
    let free = rule("free", vec![cond("args.n", "lt", Value::Int(5))]);
    let e = engine(allow_policy(vec![tool("t", vec![rate("t", "two", 2, Window::Hour)]), tool("u", vec![free])]));
    let mut store = Counting::default();
    assert!(decide_at(&e, &mut store, "u", Some(r#"{"n":1}"#), at("2026-03-02T10:00:00Z")).is_allow());
    assert!(decide_at(&e, &mut store, "unlisted", None, at("2026-03-02T10:00:00Z")).is_allow());
    assert_eq!(store.units, (0, 0), "nothing to reserve, no unit");
    assert!(decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:00Z")).is_allow());
    assert!(decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:01Z")).is_allow());
    assert!(!decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:02Z")).is_allow());
    assert_eq!(store.units, (3, 3));

    let mut store = Counting { fail_end: true, ..Counting::default() };
    let d = decide_at(&e, &mut store, "t", None, at("2026-03-02T10:00:00Z"));
    assert_eq!(denial(&d), Some("Internal policy error"));
    assert_eq!(cause(&d).map(|c| c.0), Some(DenyCause::Internal));
    assert!(d.reservations.is_empty(), "nothing for the proxy to roll back: the unit was not kept");
}
