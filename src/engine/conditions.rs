//! The eleven condition operators with Intercept's coercions (semantics
//! §2.3 path resolution, §2.4 operators).
//!
//! Numbers compare as doubles when both sides have a numeric view; `eq`,
//! `in` and `contains` otherwise compare Go `%v` texts; ordering operators
//! never coerce strings. A missing path makes every operator but `exists`
//! false. This module does not read counters: the caller resolves `state.`
//! paths and hands in an [`Actual`].

use serde_json::{Map, Value as Json};

use crate::gofmt;
use crate::policy::model::Op;

use super::compile::{CCond, Operand};

/// What a condition's path resolved to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Actual<'a> {
    /// Absent key, non-object intermediate, no arguments, or a counter read error.
    Missing,
    Json(&'a Json),
    Counter(i64),
}

/// §2.3: descend through JSON objects only, by exact key.
pub(crate) fn resolve_args<'a>(args: Option<&'a Map<String, Json>>, path: &[String]) -> Option<&'a Json> {
    let (last, parents) = path.split_last()?;
    let mut map = args?;
    for segment in parents {
        map = map.get(segment)?.as_object()?;
    }
    map.get(last)
}

/// Evaluates one condition against its resolved actual value. `scratch` is
/// reused for `%v` renderings so comparisons do not allocate per call.
pub(crate) fn eval(cond: &CCond, actual: Actual<'_>, scratch: &mut String) -> bool {
    if cond.op == Op::Exists {
        let present = match actual {
            Actual::Missing | Actual::Json(Json::Null) => false,
            Actual::Json(_) | Actual::Counter(_) => true,
        };
        return cond.exists == Some(present);
    }
    if matches!(actual, Actual::Missing) {
        return false;
    }
    match cond.op {
        Op::Eq => eq(actual, &cond.operand, scratch),
        Op::Neq => !eq(actual, &cond.operand, scratch),
        Op::In => in_list(actual, cond.list.as_deref(), scratch),
        Op::NotIn => !in_list(actual, cond.list.as_deref(), scratch),
        Op::Lt | Op::Lte | Op::Gt | Op::Gte => match (numeric(actual), cond.operand.num) {
            (Some(a), Some(b)) => match cond.op {
                Op::Lt => a < b,
                Op::Lte => a <= b,
                Op::Gt => a > b,
                _ => a >= b,
            },
            _ => false,
        },
        Op::Regex => match (actual, &cond.regex) {
            (Actual::Json(Json::String(s)), Some(re)) => match cond.length {
                Some((min, max)) => {
                    let n = s.chars().count() as u64;
                    n >= min && max.is_none_or(|m| n <= m)
                }
                None => re.is_match(s),
            },
            _ => false,
        },
        Op::Contains => match actual {
            Actual::Json(Json::String(s)) => cond.string.as_deref().is_some_and(|needle| s.contains(needle)),
            Actual::Json(Json::Array(items)) => {
                items.iter().any(|item| eq(Actual::Json(item), &cond.operand, scratch))
            }
            _ => false,
        },
        Op::Exists => false,
    }
}

fn numeric(actual: Actual<'_>) -> Option<f64> {
    match actual {
        Actual::Json(Json::Number(n)) => n.as_f64(),
        Actual::Counter(c) => Some(c as f64),
        _ => None,
    }
}

fn eq(actual: Actual<'_>, operand: &Operand, scratch: &mut String) -> bool {
    if let (Some(a), Some(b)) = (numeric(actual), operand.num) {
        return a == b;
    }
    let text: &str = match actual {
        Actual::Missing => return false,
        Actual::Json(Json::String(s)) => s,
        Actual::Json(Json::Bool(true)) => "true",
        Actual::Json(Json::Bool(false)) => "false",
        Actual::Json(Json::Null) => "<nil>",
        Actual::Json(other) => {
            scratch.clear();
            gofmt::value::write_json(scratch, other);
            scratch
        }
        Actual::Counter(c) => {
            scratch.clear();
            use std::fmt::Write;
            let _ = write!(scratch, "{c}");
            scratch
        }
    };
    text == operand.text
}

fn in_list(actual: Actual<'_>, list: Option<&[Operand]>, scratch: &mut String) -> bool {
    list.is_some_and(|items| items.iter().any(|item| eq(actual, item, scratch)))
}
