//! Questions across conditions, answered with a call: "a call on which these
//! conditions hold and those fail". A [`Term`] is one condition of some
//! policy's rules (possibly negated) or a free set of values on a path (a
//! requirement's: "longer than 200 characters", "above 50000"); [`solve`]
//! finds arguments on which every term holds, path by path, by the atoms'
//! exact sets, and checks the whole call against every term before it
//! answers. Terms may come from two policies (a semantic diff asks for a
//! call one admits and the other refuses) and from requirements (a proof
//! asks for an admitted call that breaks one).

use serde_json::{Map, Value as Json};

use super::super::compile::CCond;
use super::atom::{Atom, Kind};
use super::numbers::NumSet;
use super::strings::{Product, StrSet};
use super::{number, set_path, Answer, Prefer, Rules, Unknown};

/// One constraint of a query.
#[derive(Clone, Debug)]
pub struct Term<'a> {
    pub path: Vec<String>,
    /// `args.amount lte 50000`, or `not (…)` when negated.
    pub text: String,
    atom: Atom,
    cond: Option<&'a CCond>,
    test: Test<'a>,
}

#[derive(Clone, Debug)]
enum Test<'a> {
    /// Condition `index` of `rules` holds (or, `negated`, fails).
    Rule { rules: &'a Rules, index: usize, negated: bool },
    /// The value lies in the term's atom.
    Set,
}

impl<'a> Term<'a> {
    pub(super) fn rule(rules: &'a Rules, index: usize, negated: bool) -> Term<'a> {
        let c = &rules.args[index];
        let atom = if negated { c.atom.complement() } else { c.atom.clone() };
        let text = if negated { format!("not ({})", c.text) } else { c.text.clone() };
        Term { path: c.path.clone(), text, atom, cond: rules.cond(index), test: Test::Rule { rules, index, negated } }
    }

    /// The value at `path` lies in `set`.
    pub fn set(path: Vec<String>, set: Atom, text: String) -> Term<'a> {
        Term { path, text, atom: set, cond: None, test: Test::Set }
    }

    /// Whether the term holds on these arguments.
    pub fn holds(&self, args: Option<&Map<String, Json>>) -> Result<bool, Unknown> {
        match &self.test {
            Test::Rule { rules, index, negated } => Ok(rules.holds(*index, args)? != *negated),
            Test::Set => self.atom.holds(super::super::conditions::resolve_args(args, &self.path), None),
        }
    }
}

/// Arguments on which every term holds, changed from `base` only where a
/// term refuses it; `No` with the reason when the terms exclude each other.
pub fn solve(terms: &[Term<'_>], base: &Map<String, Json>, prefer: &Prefer) -> Answer<Map<String, Json>> {
    let mut out = base.clone();
    let kept = |path: &[String]| {
        (prefer.keep_presence && super::super::conditions::resolve_args(Some(base), path).is_none())
            || (path.len() == 1 && prefer.keep_fields.contains(&path[0]))
    };
    let mut paths: Vec<&Vec<String>> = Vec::new();
    for t in terms {
        if !paths.contains(&&t.path) {
            paths.push(&t.path);
        }
    }
    for path in paths {
        let members: Vec<&Term<'_>> = terms.iter().filter(|t| t.path == *path).collect();
        let current = super::super::conditions::resolve_args(Some(base), path);
        if kept(path) {
            continue;
        }
        match value_for(&members, current, path.last().and_then(|k| prefer.lengths.get(k)).copied(), prefer.keep_presence) {
            Answer::Yes(v) => set_path(&mut out, path, v),
            Answer::No(why) => {
                let texts: Vec<&str> = members.iter().map(|t| t.text.as_str()).collect();
                return Answer::No(format!("no value of args.{} satisfies {} ({why})", path.join("."), texts.join(" and ")));
            }
            Answer::Unknown(why) => return Answer::Unknown(why),
        }
    }
    // Nested paths may interact (a condition on `a` and one on `a.b`): check the whole call.
    for t in terms.iter().filter(|t| !kept(&t.path)) {
        match t.holds(Some(&out)) {
            Ok(true) => {}
            Ok(false) => {
                return Answer::Unknown(format!("conditions on nested paths of args.{} are not modeled together", t.path.join(".")))
            }
            Err(Unknown(why)) => return Answer::Unknown(why),
        }
    }
    Answer::Yes(out)
}

/// A value (`None`: absent) every term holds on, `current` kept when it does.
fn value_for(terms: &[&Term<'_>], current: Option<&Json>, length: Option<usize>, keep_presence: bool) -> Answer<Option<Json>> {
    let holds_all = |v: Option<&Json>| -> Result<bool, Unknown> {
        for t in terms {
            if !t.atom.holds(v, t.cond)? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    let wanted_length = length.filter(|_| matches!(current, None | Some(Json::String(_))));
    match holds_all(current) {
        Ok(true) if wanted_length.is_none() || current.is_none() => return Answer::Yes(current.cloned()),
        Ok(_) => {}
        Err(Unknown(why)) => return Answer::Unknown(why),
    }
    let first = Kind::of(current);
    let order = [first, Kind::String, Kind::Number, Kind::Bool, Kind::Absent, Kind::Null, Kind::Array, Kind::Object];
    let mut unknown: Option<String> = None;
    for (n, kind) in order.into_iter().enumerate() {
        if (n > 0 && kind == first) || (keep_presence && kind == Kind::Absent) {
            continue;
        }
        if !terms.iter().all(|t| t.atom.may_hold(kind)) {
            continue;
        }
        match of_kind(kind, terms, current, wanted_length) {
            Ok(Some(v)) => match holds_all(v.as_ref()) {
                Ok(true) => return Answer::Yes(v),
                Ok(false) => unknown.get_or_insert(format!("the model's {kind:?} witness failed its own check")),
                Err(Unknown(why)) => unknown.get_or_insert(why),
            },
            Ok(None) => continue,
            Err(Unknown(why)) => unknown.get_or_insert(why),
        };
    }
    match unknown {
        Some(why) => Answer::Unknown(why),
        None => Answer::No("the conditions exclude each other".into()),
    }
}

/// A value of `kind` every term holds on: `Ok(None)` when there is none.
fn of_kind(kind: Kind, terms: &[&Term<'_>], current: Option<&Json>, length: Option<usize>) -> Result<Option<Option<Json>>, Unknown> {
    Ok(match kind {
        Kind::Absent => Some(None),
        Kind::Null => Some(Some(Json::Null)),
        Kind::Bool => {
            let ok = |b: usize| terms.iter().all(|t| t.atom.bools[b]);
            let prefer = current.and_then(Json::as_bool).unwrap_or(true) as usize;
            [prefer, 1 - prefer].into_iter().find(|&b| ok(b)).map(|b| Some(Json::Bool(b == 1)))
        }
        Kind::Number => {
            let set = terms.iter().fold(NumSet::all(), |s, t| s.intersect(&t.atom.numbers));
            let near = current.and_then(Json::as_f64).unwrap_or(1.0);
            set.witness(near).map(|x| Some(number(x)))
        }
        Kind::String => {
            let sets: Vec<StrSet> = terms.iter().map(|t| t.atom.strings.clone()).collect();
            let Some(product) = Product::explore(&sets)? else { return Ok(None) };
            let target = length.or_else(|| current.and_then(Json::as_str).map(|s| s.len())).unwrap_or(5).max(1);
            product.near_length(target).map(|s| Some(Json::String(s)))
        }
        Kind::Array | Kind::Object => {
            let candidates: Vec<Json> = if kind == Kind::Array {
                // An array holding every operand meets each `contains`; one
                // holding a single operand, each `eq`; the empty one, the rest.
                let elements: Vec<Json> = terms
                    .iter()
                    .filter_map(|t| t.cond)
                    .map(|c| c.operand.num.map(number).unwrap_or_else(|| Json::String(c.operand.text.clone())))
                    .collect();
                let mut c = vec![Json::Array(Vec::new()), Json::Array(elements.clone())];
                c.extend(elements.into_iter().map(|e| Json::Array(vec![e])));
                c.extend([Json::Array(vec![Json::Null]), Json::Array(vec![Json::Object(Map::new())])]);
                c
            } else {
                vec![Json::Object(Map::new()), serde_json::json!({"": null})]
            };
            for c in candidates {
                let mut all = true;
                for t in terms {
                    if !t.atom.holds(Some(&c), t.cond)? {
                        all = false;
                        break;
                    }
                }
                if all {
                    return Ok(Some(Some(c)));
                }
            }
            return Err(Unknown(format!("{kind:?} values are compared by their `%v` text; the model tries candidates only")));
        }
    })
}
