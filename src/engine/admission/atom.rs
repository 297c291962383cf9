//! One condition read backwards: the set of argument values it is true on,
//! split by what the value is (absent, null, bool, number, string,
//! composite), with Intercept's semantics (§2.3–§2.4) exactly as
//! `conditions.rs` decides them:
//!
//! - every operator but `exists` is false on a missing path; `exists` is
//!   true on a present non-null value;
//! - `eq`/`in` compare doubles when both sides have a numeric view, else Go
//!   `%v` texts — so the string `"5"` equals the operand `5`, `null` equals
//!   only an operand whose text is `<nil>`, a number equals a text operand
//!   only when its `%v` is that text;
//! - `lt`/`lte`/`gt`/`gte` hold on numbers only (strings never coerce);
//! - `regex` holds on strings only; `contains` on a string needs a string
//!   operand, on an array any element equal to it;
//! - arrays and objects compare by their `%v` text: the model does not
//!   enumerate them, it asks the engine's own evaluation about candidates.

use serde_json::Value as Json;

use crate::gofmt;
use crate::policy::model::Op;

use super::super::compile::{CCond, Operand};
use super::super::conditions::{eval, Actual};
use super::numbers::NumSet;
use super::strings::{Lang, Patterns, StrSet};

/// Arrays and objects: everything, nothing, or what the engine says of one condition.
#[derive(Clone, Debug)]
enum Composite {
    All,
    None,
    /// The condition (index into the model's condition list), possibly negated.
    Engine { negated: bool },
}

/// The values one condition holds on.
#[derive(Clone, Debug)]
pub struct Atom {
    pub absent: bool,
    pub null: bool,
    /// `[false, true]`.
    pub bools: [bool; 2],
    pub numbers: NumSet,
    pub strings: StrSet,
    arrays: Composite,
    objects: Composite,
}

/// The kinds of value a path can hold, in the order a witness search tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Absent,
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    pub fn of(v: Option<&Json>) -> Kind {
        match v {
            None => Kind::Absent,
            Some(Json::Null) => Kind::Null,
            Some(Json::Bool(_)) => Kind::Bool,
            Some(Json::Number(_)) => Kind::Number,
            Some(Json::String(_)) => Kind::String,
            Some(Json::Array(_)) => Kind::Array,
            Some(Json::Object(_)) => Kind::Object,
        }
    }
}

impl Atom {
    fn nothing_present(absent: bool) -> Atom {
        Atom {
            absent,
            null: false,
            bools: [false, false],
            numbers: NumSet::none(),
            strings: StrSet::Empty,
            arrays: Composite::None,
            objects: Composite::None,
        }
    }

    /// Every value of the kinds listed, nothing else (a requirement's set, not a condition's).
    pub fn of_kinds(kinds: &[Kind]) -> Atom {
        let has = |k: Kind| kinds.contains(&k);
        let all = |k: Kind| if has(k) { Composite::All } else { Composite::None };
        Atom {
            absent: has(Kind::Absent),
            null: has(Kind::Null),
            bools: [has(Kind::Bool); 2],
            numbers: if has(Kind::Number) { NumSet::all() } else { NumSet::none() },
            strings: if has(Kind::String) { StrSet::All } else { StrSet::Empty },
            arrays: all(Kind::Array),
            objects: all(Kind::Object),
        }
    }

    /// Only these numbers among numbers.
    pub fn with_numbers(self, numbers: NumSet) -> Atom {
        Atom { numbers, ..self }
    }

    /// Only these strings among strings.
    pub fn with_strings(self, strings: StrSet) -> Atom {
        Atom { strings, ..self }
    }

    /// Only these booleans (`[false, true]`) among booleans.
    pub fn with_bools(self, bools: [bool; 2]) -> Atom {
        Atom { bools, ..self }
    }

    /// `increment_from`: the path must hold a number the profile turns into an amount.
    pub fn number_in(numbers: NumSet) -> Atom {
        Atom { numbers, ..Atom::nothing_present(false) }
    }

    /// The set of values `cond` is true on.
    pub(crate) fn of(cond: &CCond, patterns: &mut Patterns) -> Atom {
        match cond.op {
            Op::Exists => {
                let present = cond.exists == Some(true);
                let absent = cond.exists == Some(false);
                Atom {
                    absent,
                    null: absent,
                    bools: [present; 2],
                    numbers: if present { NumSet::all() } else { NumSet::none() },
                    strings: if present { StrSet::All } else { StrSet::Empty },
                    arrays: if present { Composite::All } else { Composite::None },
                    objects: if present { Composite::All } else { Composite::None },
                }
            }
            Op::Eq => equal_to(std::slice::from_ref(&cond.operand), patterns),
            Op::Neq => equal_to(std::slice::from_ref(&cond.operand), patterns).present_complement(),
            Op::In => match &cond.list {
                Some(items) => equal_to(items, patterns),
                None => Atom::nothing_present(false),
            },
            Op::NotIn => match &cond.list {
                Some(items) => equal_to(items, patterns).present_complement(),
                None => Atom::nothing_present(false).present_complement(),
            },
            Op::Lt | Op::Lte | Op::Gt | Op::Gte => {
                let numbers = match cond.operand.num {
                    Some(b) => match cond.op {
                        Op::Lt => NumSet::below(b, false),
                        Op::Lte => NumSet::below(b, true),
                        Op::Gt => NumSet::above(b, false),
                        _ => NumSet::above(b, true),
                    },
                    None => NumSet::none(),
                };
                Atom { numbers, ..Atom::nothing_present(false) }
            }
            Op::Regex => {
                let strings = match &cond.regex {
                    Some(re) => StrSet::Lang(Lang { dfa: patterns.get(re.as_str()), negated: false }),
                    None => StrSet::Empty,
                };
                Atom { strings, ..Atom::nothing_present(false) }
            }
            Op::Contains => {
                let strings = match &cond.string {
                    Some(needle) => StrSet::Lang(Lang { dfa: patterns.containing(needle), negated: false }),
                    None => StrSet::Empty,
                };
                // An array contains the operand when an element equals it.
                Atom { strings, arrays: Composite::Engine { negated: false }, ..Atom::nothing_present(false) }
            }
        }
    }

    /// The values the condition is false on: the complement over every value, absent included.
    pub fn complement(&self) -> Atom {
        Atom {
            absent: !self.absent,
            null: !self.null,
            bools: [!self.bools[0], !self.bools[1]],
            numbers: self.numbers.complement(),
            strings: self.strings.complement(),
            arrays: self.arrays.complement(),
            objects: self.objects.complement(),
        }
    }

    /// `neq`/`not_in`: the complement among present values (absent stays false).
    fn present_complement(&self) -> Atom {
        Atom { absent: false, ..self.complement() }
    }

    /// Whether the condition holds on `v` (`None`: absent), decided by the
    /// sets; composite values ask the engine about `cond`.
    pub(crate) fn holds(&self, v: Option<&Json>, cond: Option<&CCond>) -> Result<bool, super::Unknown> {
        Ok(match v {
            None => self.absent,
            Some(Json::Null) => self.null,
            Some(Json::Bool(b)) => self.bools[*b as usize],
            Some(Json::Number(n)) => n.as_f64().is_some_and(|x| self.numbers.contains(x)),
            Some(Json::String(s)) => self.strings.contains(s)?,
            Some(composite) => match (if composite.is_array() { &self.arrays } else { &self.objects }, cond) {
                (Composite::All, _) => true,
                (Composite::None, _) => false,
                (Composite::Engine { negated }, Some(c)) => eval(c, Actual::Json(composite), &mut String::new()) != *negated,
                (Composite::Engine { .. }, None) => false,
            },
        })
    }

    /// Whether every array (or object) is in the set, whatever it holds.
    pub fn every_composite(&self, array: bool) -> bool {
        matches!(if array { &self.arrays } else { &self.objects }, Composite::All)
    }

    /// Whether the value is in the set (a requirement's set: composites are all or nothing).
    pub fn contains(&self, v: Option<&Json>) -> Result<bool, super::Unknown> {
        self.holds(v, None)
    }

    /// Whether any value of `kind` might hold (exact for scalars; composites are tried on candidates).
    pub fn may_hold(&self, kind: Kind) -> bool {
        match kind {
            Kind::Absent => self.absent,
            Kind::Null => self.null,
            Kind::Bool => self.bools[0] || self.bools[1],
            Kind::Number => !self.numbers.is_empty(),
            Kind::String => !matches!(self.strings, StrSet::Empty),
            Kind::Array => !matches!(self.arrays, Composite::None),
            Kind::Object => !matches!(self.objects, Composite::None),
        }
    }
}

/// `eq` against any of `operands`: per kind, the values equal to one of them.
fn equal_to(operands: &[Operand], patterns: &mut Patterns) -> Atom {
    let mut numbers = NumSet::none();
    let mut texts: Vec<&str> = Vec::new();
    for op in operands {
        match op.num {
            Some(b) => numbers = numbers.union(&NumSet::point(b)),
            // A number equals a text operand when its `%v` is that text.
            None => {
                if let Ok(x) = op.text.parse::<f64>() {
                    if x.is_finite() && gofmt::value::float(x) == op.text {
                        numbers = numbers.union(&NumSet::point(x));
                    }
                }
            }
        }
        texts.push(&op.text);
    }
    let strings = if texts.is_empty() { StrSet::Empty } else { StrSet::Lang(Lang { dfa: patterns.exact(texts.iter().copied()), negated: false }) };
    Atom {
        absent: false,
        null: texts.contains(&"<nil>"),
        bools: [texts.contains(&"false"), texts.contains(&"true")],
        numbers,
        strings,
        // An array's `%v` text starts with `[`, an object's with `map[`: only
        // such an operand text can equal one, and then the engine decides.
        arrays: if texts.iter().any(|t| t.starts_with('[')) { Composite::Engine { negated: false } } else { Composite::None },
        objects: if texts.iter().any(|t| t.starts_with("map[")) { Composite::Engine { negated: false } } else { Composite::None },
    }
}

impl Composite {
    fn complement(&self) -> Composite {
        match self {
            Composite::All => Composite::None,
            Composite::None => Composite::All,
            Composite::Engine { negated } => Composite::Engine { negated: !negated },
        }
    }
}
