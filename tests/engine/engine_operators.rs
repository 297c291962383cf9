//! Every operator and coercion of semantics §2.3/§2.4, one table row each:
//! a tool with a single condition is allowed iff the condition holds.

use crate::engine_support;

use engine_support::*;
use gauntlet::engine::store::MemoryStore;
use gauntlet::policy::model::Value;
use rstest::rstest;

/// True iff `{path: args.v, op, value}` holds for arguments `arguments`.
fn holds(op: &str, value: Value, arguments: Option<&str>) -> bool {
    let e = engine(allow_policy(vec![tool("t", vec![rule("r", vec![cond("args.v", op, value)])])]));
    let d = decide_at(&e, &mut MemoryStore::new(), "t", arguments, at("2026-03-02T10:00:00Z"));
    if let Some(text) = denial(&d) {
        assert_eq!(text, "Denied by rule \"r\"");
    }
    d.is_allow()
}

#[rstest]
#[case(Value::Int(50000), r#"{"v": 50000}"#, true)]
#[case(Value::Int(50000), r#"{"v": 50000.0}"#, true)]
#[case(Value::Int(50000), r#"{"v": 5e4}"#, true)]
#[case(Value::Int(50000), r#"{"v": "50000"}"#, true)]
#[case(Value::Int(50000), r#"{"v": "5e4"}"#, false)]
#[case(Value::Int(50000), r#"{"v": "50000.0"}"#, false)]
#[case(s("1000000"), r#"{"v": 1000000}"#, false)]
#[case(s("1000000"), r#"{"v": "1000000"}"#, true)]
#[case(s("999999"), r#"{"v": 999999}"#, true)]
#[case(Value::Bool(true), r#"{"v": true}"#, true)]
#[case(Value::Bool(true), r#"{"v": "true"}"#, true)]
#[case(Value::Bool(true), r#"{"v": 1}"#, false)]
#[case(Value::Bool(true), r#"{"v": "True"}"#, false)]
#[case(Value::Null, r#"{"v": null}"#, true)]
#[case(Value::Null, r#"{"v": "<nil>"}"#, true)]
#[case(Value::Null, r#"{}"#, false)]
#[case(s("[a b]"), r#"{"v": ["a", "b"]}"#, true)]
#[case(s("map[a:1]"), r#"{"v": {"a": 1}}"#, true)]
#[case(Value::Float(f64::NAN), r#"{"v": 1}"#, false)]
#[case(Value::Uint(u64::MAX), r#"{"v": 18446744073709551615}"#, false)]
#[case(Value::Uint(u64::MAX), r#"{"v": "18446744073709551615"}"#, true)]
#[case(Value::Time("2026-03-02 00:00:00 +0000 UTC".into()), r#"{"v": "2026-03-02 00:00:00 +0000 UTC"}"#, true)]
#[case(Value::Time("2026-03-02 00:00:00 +0000 UTC".into()), r#"{"v": "2026-03-02"}"#, false)]
fn eq(#[case] value: Value, #[case] arguments: &str, #[case] expected: bool) {
    assert_eq!(holds("eq", value, Some(arguments)), expected);
}

#[rstest]
#[case(s("main"), r#"{"v": "dev"}"#, true)]
#[case(s("main"), r#"{"v": "main"}"#, false)]
#[case(s("main"), r#"{"v": null}"#, true)]
#[case(s("main"), r#"{}"#, false)]
#[case(Value::Int(5), r#"{"v": "5"}"#, false)]
fn neq(#[case] value: Value, #[case] arguments: &str, #[case] expected: bool) {
    assert_eq!(holds("neq", value, Some(arguments)), expected);
}

#[rstest]
#[case(list(vec![s("usd"), s("eur")]), r#"{"v": "usd"}"#, true)]
#[case(list(vec![s("usd"), s("eur")]), r#"{"v": "USD"}"#, false)]
#[case(list(vec![s("usd"), s("eur")]), r#"{"v": ["usd"]}"#, false)]
#[case(list(vec![s("usd"), s("eur")]), r#"{}"#, false)]
#[case(list(vec![Value::Int(1), Value::Int(2), Value::Int(3)]), r#"{"v": 2.0}"#, true)]
#[case(list(vec![Value::Int(1), Value::Int(2), Value::Int(3)]), r#"{"v": "2"}"#, true)]
#[case(list(vec![Value::Int(1), Value::Int(2), Value::Int(3)]), r#"{"v": 4}"#, false)]
#[case(s("usd"), r#"{"v": "usd"}"#, false)]
fn in_list(#[case] value: Value, #[case] arguments: &str, #[case] expected: bool) {
    assert_eq!(holds("in", value, Some(arguments)), expected);
}

#[rstest]
#[case(r#"{"v": "admin"}"#, false)]
#[case(r#"{"v": "Admin"}"#, true)]
#[case(r#"{"v": ["admin"]}"#, true)]
#[case(r#"{"v": " admin"}"#, true)]
#[case(r#"{"v": null}"#, true)]
#[case(r#"{}"#, false)]
fn not_in(#[case] arguments: &str, #[case] expected: bool) {
    assert_eq!(holds("not_in", list(vec![s("admin"), s("root")]), Some(arguments)), expected);
}

#[rstest]
#[case("lt", Value::Int(5), r#"{"v": 4.999}"#, true)]
#[case("lt", Value::Int(5), r#"{"v": 5}"#, false)]
#[case("lte", Value::Int(5), r#"{"v": 5}"#, true)]
#[case("gt", Value::Int(5), r#"{"v": 5}"#, false)]
#[case("gte", Value::Int(5), r#"{"v": 5}"#, true)]
#[case("gt", Value::Float(-0.5), r#"{"v": 0}"#, true)]
#[case("lt", Value::Int(100), r#"{"v": "50"}"#, false)]
#[case("gt", Value::Int(0), r#"{"v": "50"}"#, false)]
#[case("lt", s("b"), r#"{"v": "a"}"#, false)]
#[case("lte", Value::Bool(true), r#"{"v": true}"#, false)]
#[case("lte", Value::Float(f64::NAN), r#"{"v": 1}"#, false)]
#[case("lt", Value::Float(f64::INFINITY), r#"{"v": 1e308}"#, true)]
#[case("lte", Value::Int(9007199254740992), r#"{"v": 9007199254740993}"#, true)]
#[case("lte", Value::Int(9007199254740992), r#"{"v": 9007199254740994}"#, false)]
#[case("lte", Value::Uint(u64::MAX), r#"{"v": 1}"#, false)]
#[case("lte", Value::Int(5), r#"{"v": null}"#, false)]
#[case("gte", Value::Int(0), r#"{}"#, false)]
fn ordering(#[case] op: &str, #[case] value: Value, #[case] arguments: &str, #[case] expected: bool) {
    assert_eq!(holds(op, value, Some(arguments)), expected);
}

#[rstest]
#[case("feat/", r#"{"v": "x-feat/y"}"#, true)]
#[case("^feat/", r#"{"v": "x-feat/y"}"#, false)]
#[case("@example\\.com$", r#"{"v": "u@example.com"}"#, true)]
#[case("a$", r#"{"v": "a\n"}"#, false)]
#[case("^a.b$", r#"{"v": "a\nb"}"#, false)]
#[case("^a.b$", r#"{"v": "aéb"}"#, true)]
#[case("(?i)^admin$", r#"{"v": "ADMIN"}"#, true)]
#[case("^admin$", r#"{"v": "ADMIN"}"#, false)]
#[case("1", r#"{"v": 1}"#, false)]
#[case("a", r#"{"v": ["a"]}"#, false)]
#[case("", r#"{}"#, false)]
fn regex(#[case] pattern: &str, #[case] arguments: &str, #[case] expected: bool) {
    assert_eq!(holds("regex", s(pattern), Some(arguments)), expected);
}

#[rstest]
#[case(s("world"), r#"{"v": "hello world"}"#, true)]
#[case(s("world"), r#"{"v": "hello World"}"#, false)]
#[case(s("world"), r#"{"v": ["hello", "world"]}"#, true)]
#[case(s("world"), r#"{"v": ["hello world"]}"#, false)]
#[case(s("world"), r#"{"v": {"world": 1}}"#, false)]
#[case(s(""), r#"{"v": "anything"}"#, true)]
#[case(Value::Int(2), r#"{"v": [1, 2]}"#, true)]
#[case(Value::Int(2), r#"{"v": ["1", "2"]}"#, true)]
#[case(Value::Int(2), r#"{"v": "123"}"#, false)]
#[case(Value::Int(2), r#"{"v": 2}"#, false)]
#[case(Value::Null, r#"{"v": [null]}"#, true)]
#[case(Value::Bool(true), r#"{"v": true}"#, false)]
fn contains(#[case] value: Value, #[case] arguments: &str, #[case] expected: bool) {
    assert_eq!(holds("contains", value, Some(arguments)), expected);
}

#[rstest]
#[case(true, Some(r#"{"v": ""}"#), true)]
#[case(true, Some(r#"{"v": false}"#), true)]
#[case(true, Some(r#"{"v": 0}"#), true)]
#[case(true, Some(r#"{"v": []}"#), true)]
#[case(true, Some(r#"{"v": null}"#), false)]
#[case(true, Some(r#"{}"#), false)]
#[case(true, None, false)]
#[case(false, Some(r#"{"v": null}"#), true)]
#[case(false, None, true)]
#[case(false, Some(r#"{"v": 1}"#), false)]
fn exists(#[case] wanted: bool, #[case] arguments: Option<&str>, #[case] expected: bool) {
    assert_eq!(holds("exists", Value::Bool(wanted), arguments), expected);
}

/// Path resolution (§2.3): objects only, exact keys, lists not indexable, dotted keys unreachable.
#[rstest]
#[case("args.recipient.email", r#"{"recipient": {"email": "u@example.com"}}"#, true)]
#[case("args.recipient.email", r#"{"recipient": "u@example.com"}"#, false)]
#[case("args.recipient.email", r#"{"Recipient": {"email": "u@example.com"}}"#, false)]
#[case("args.items.0", r#"{"items": ["u@example.com"]}"#, false)]
#[case("args.items.0", r#"{"items": {"0": "u@example.com"}}"#, true)]
#[case("args.a.b", r#"{"a.b": "u@example.com"}"#, false)]
#[case("args.a.b", r#"{"a": null}"#, false)]
fn path_resolution(#[case] path: &str, #[case] arguments: &str, #[case] expected: bool) {
    let e = engine(allow_policy(vec![tool(
        "t",
        vec![rule("r", vec![cond(path, "regex", s("@example\\.com$"))])],
    )]));
    let d = decide_at(&e, &mut MemoryStore::new(), "t", Some(arguments), at("2026-03-02T10:00:00Z"));
    assert_eq!(d.is_allow(), expected);
}

/// A counter compared by text renders as a decimal integer, not as a double.
#[test]
fn counter_eq_string_compares_decimal_text() {
    let p = allow_policy(vec![tool(
        "t",
        vec![stateful(
            rule("r", vec![cond("state.t.n", "eq", s("0"))]),
            state("t", "n", gauntlet::policy::model::Window::Hour),
        )],
    )]);
    let d = decide_at(&engine(p), &mut MemoryStore::new(), "t", None, at("2026-03-02T10:00:00Z"));
    assert!(d.is_allow());
}
