//! Go's `%v` rendering of the values Intercept compares as text (semantics
//! Appendix A): doubles (`strconv.FormatFloat(x, 'g', -1, 64)`), decoded JSON
//! values and YAML policy operands.
//!
//! The `eq`/`in`/`contains` operators fall back to comparing these texts, so
//! every byte matters: `1000000` renders `1e+06` and therefore is not equal to
//! the string `"1000000"`. This module only renders; it never parses.

use std::fmt::Write;

/// A value as Go holds it after yaml.v3 (or `encoding/json`) decoded it into
/// `any`: what a policy operand is, and what `%v` renders.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above i64::MAX that still fits u64: yaml.v3 keeps it unsigned,
    /// and it has no numeric view in Intercept's operators.
    Uint(u64),
    Float(f64),
    Str(String),
    /// An unquoted date/timestamp; holds Go's text form (`2026-03-02 00:00:00 +0000 UTC`).
    Time(String),
    Seq(Vec<Value>),
    /// Keys in source order, already rendered as text.
    Map(Vec<(String, Value)>),
}

/// `%v` of a float64: shortest round-trip digits; exponent form when the
/// decimal exponent is < −4 or ≥ 6 (`1e+06`, `1e-05`), plain otherwise.
pub fn float(x: f64) -> String {
    let mut out = String::new();
    write_float(&mut out, x);
    out
}

/// Appends `%v` of a float64 to `out` (see [`float`]).
pub fn write_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    // Rust's `{:e}` already yields the shortest round-trip digits (`1.2345675e6`);
    // only the layout differs from Go's.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if negative {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exp.unsigned_abs());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
}

/// `%v` of a value decoded by Go's `encoding/json` into `any`: strings raw,
/// numbers as float64, `<nil>`, `[a b]`, `map[k:v]` with sorted keys.
pub fn json(v: &serde_json::Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

/// Appends `%v` of a decoded JSON value to `out` (see [`json`]).
pub fn write_json(out: &mut String, v: &serde_json::Value) {
    match v {
        serde_json::Value::Null => out.push_str("<nil>"),
        serde_json::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        serde_json::Value::Number(n) => write_float(out, n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => out.push_str(s),
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push_str("map[");
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_json(out, v);
            }
            out.push(']');
        }
    }
}

/// `%v` of a policy operand as yaml.v3 decoded it: ints and unsigned ints in
/// decimal, floats as [`float`], times in Go's time text, maps with sorted keys.
pub fn model(v: &Value) -> String {
    let mut out = String::new();
    write_model(&mut out, v);
    out
}

/// Appends `%v` of a policy operand to `out` (see [`model`]).
pub fn write_model(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Uint(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) | Value::Time(s) => out.push_str(s),
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_model(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let mut sorted: Vec<&(String, Value)> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push_str("map[");
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_model(out, v);
            }
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case(1000000.0, "1e+06")]
    #[case(1234567.5, "1.2345675e+06")]
    #[case(1e20, "1e+20")]
    #[case(1e100, "1e+100")]
    #[case(0.00001, "1e-05")]
    #[case(50000.0, "50000")]
    #[case(999999.0, "999999")]
    #[case(123456.7, "123456.7")]
    #[case(0.0001, "0.0001")]
    #[case(0.00012, "0.00012")]
    #[case(0.0, "0")]
    #[case(-0.0, "-0")]
    #[case(-2.5, "-2.5")]
    #[case(1.5, "1.5")]
    #[case(100.0, "100")]
    #[case(-1000000.0, "-1e+06")]
    #[case(9007199254740993.0, "9.007199254740992e+15")]
    #[case(1e-7, "1e-07")]
    #[case(5e-324, "5e-324")]
    #[case(1.7976931348623157e308, "1.7976931348623157e+308")]
    #[case(f64::INFINITY, "+Inf")]
    #[case(f64::NEG_INFINITY, "-Inf")]
    #[case(f64::NAN, "NaN")]
    fn float_matches_go(#[case] x: f64, #[case] expected: &str) {
        assert_eq!(float(x), expected);
    }

    #[rstest]
    #[case(json!("hello"), "hello")]
    #[case(json!(null), "<nil>")]
    #[case(json!(true), "true")]
    #[case(json!(false), "false")]
    #[case(json!(1000000), "1e+06")]
    #[case(json!(50000.0), "50000")]
    #[case(json!(["a", "b"]), "[a b]")]
    #[case(json!(["admin"]), "[admin]")]
    #[case(json!([]), "[]")]
    #[case(json!({}), "map[]")]
    #[case(json!({"b": 2, "a": [1, "x"]}), "map[a:[1 x] b:2]")]
    #[case(json!({"world": 1}), "map[world:1]")]
    #[case(json!([null, {"k": null}]), "[<nil> map[k:<nil>]]")]
    fn json_matches_go(#[case] v: serde_json::Value, #[case] expected: &str) {
        assert_eq!(json(&v), expected);
    }

    #[rstest]
    #[case(Value::Null, "<nil>")]
    #[case(Value::Bool(true), "true")]
    #[case(Value::Int(-5), "-5")]
    #[case(Value::Int(1000000), "1000000")]
    #[case(Value::Uint(18446744073709551615), "18446744073709551615")]
    #[case(Value::Float(1e20), "1e+20")]
    #[case(Value::Float(5.0), "5")]
    #[case(Value::Float(f64::INFINITY), "+Inf")]
    #[case(Value::Str("1e400".into()), "1e400")]
    #[case(Value::Time("2026-03-02 00:00:00 +0000 UTC".into()), "2026-03-02 00:00:00 +0000 UTC")]
    #[case(Value::Seq(vec![Value::Str("usd".into()), Value::Int(2)]), "[usd 2]")]
    #[case(
        Value::Map(vec![("z".into(), Value::Int(1)), ("a".into(), Value::Seq(vec![]))]),
        "map[a:[] z:1]"
    )]
    fn model_matches_go(#[case] v: Value, #[case] expected: &str) {
        assert_eq!(model(&v), expected);
    }
}
