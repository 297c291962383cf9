//! Requirements about one call: the tool is denied; each required field
//! keeps its schema's type, enum, bounds, length and pattern; the required
//! fields stay within the size bound; the amount stays under its cap.
//!
//! Each is asked as "is there an admitted call whose value at this path
//! lies in the requirement's complement?" — the tool's conditions as
//! query terms plus one free set — and answered by the model's exact sets.
//! An empty answer is the proof; a witness is checked against the schema
//! (or the bound) and replayed through the engine before it is a refutation.

use serde_json::{json, Map, Value as Json};

use super::trace::{Call, START};
use super::{Context, Proof, Status};
use crate::engine::admission::{solve, Answer, Atom, Kind, Lang, NumSet, Patterns, Prefer, Product, StrSet, Term};
use crate::scenario::lint::ToolInfo;

/// The top-level fields whose role is `amount` (the server file's `roles:`,
/// or what loading inferred), in order: what the amount requirements hold to
/// their caps. Members below the top level are beyond any condition's reach
/// (see `BEYOND`).
pub fn amount_fields(tool: &ToolInfo) -> Vec<String> {
    tool.fields_with(crate::mock::roles::Role::Amount)
        .map(|(path, _)| path)
        .filter(|path| !path.contains(['.', '[']) && tool.input_schema["properties"].get(*path).is_some())
        .map(str::to_string)
        .collect()
}

pub(super) fn required(tool: &ToolInfo) -> Vec<String> {
    tool.input_schema["required"].as_array().into_iter().flatten().filter_map(Json::as_str).map(str::to_string).collect()
}

/// `denied`: no call of the tool passes the policy.
pub fn denied(ctx: &Context<'_>) -> Proof {
    let statement = format!("no call of `{}` passes", ctx.tool.name);
    if let Some(why) = ctx.model.gate.refuses_all() {
        return ctx.proof("denied", statement, Status::Proved, why, ctx.entry());
    }
    match ctx.admitted() {
        Ok(args) => refute(ctx, "denied", statement, args, "the policy allows this call".into(), ctx.entry()),
        Err((status, why)) => ctx.proof("denied", statement, status, why, ctx.entry()),
    }
}

/// A refutation by one call, replayed: refuted when the engine allows it, unknown otherwise.
fn refute(ctx: &Context<'_>, requirement: &'static str, statement: String, args: Map<String, Json>, why: String, at: crate::verify::blame::PolicyLocation) -> Proof {
    let cex = ctx.replayed(vec![Call::new(START, &ctx.tool.name, args)]);
    if cex.allowed.iter().all(|a| *a) {
        let mut p = ctx.proof(requirement, statement, Status::Refuted, why, at);
        p.counterexample = Some(cex);
        p
    } else {
        let why = format!("the model's counterexample was refused by the engine ({why}); the model and the engine disagree");
        ctx.proof(requirement, statement, Status::Unknown, why, at)
    }
}

/// JSON Schema keywords that constrain a value and that the proof does not read (an answer with one is unknown).
const UNMODELED: &[&str] = &[
    "not", "if", "then", "else", "multipleOf", "$dynamicRef", "dependentRequired", "dependentSchemas", "dependencies",
];

/// The keywords that combine schemas, read by [`reading`]; [`violations`] reads what is beside them.
const COMBINATORS: &[&str] = &["anyOf", "oneOf", "allOf", "$ref"];

/// One way to break a field's schema: the values in every set listed (one query term each).
pub(super) type Violation = (String, Vec<Atom>);

/// What prove reads of a field's schema: the ways to break it, and whether
/// the field may hold a list or object (then only "present and not null" is
/// checked, see `BEYOND`).
struct Reading {
    violations: Vec<Violation>,
    composite: bool,
}

/// The most branch combinations one `anyOf`/`oneOf` may expand to before the answer is unknown.
const MAX_COMBINATIONS: usize = 4096;
/// `$ref` chains deeper than this are read as a cycle.
const MAX_REF_DEPTH: usize = 32;

/// Whether `v` is null by the violation sets (each a single set).
fn null_violates(violations: &[Violation]) -> bool {
    violations.iter().any(|(_, atoms)| atoms.iter().all(|a| a.null) && !atoms.is_empty())
}

/// The schema at a local JSON pointer (`#/$defs/Name`, `#/definitions/Name`) of the tool's schema.
fn resolve<'a>(root: &'a Json, reference: &str) -> Result<&'a Json, String> {
    let Some(pointer) = reference.strip_prefix('#') else {
        return Err(format!("the field's schema refers to `{reference}`, outside the tool's schema (prove reads local `#/…` references only)"));
    };
    let pointer = pointer.replace("%25", "%");
    root.pointer(&pointer).ok_or_else(|| format!("the field's schema refers to `{reference}`, which the tool's schema does not define"))
}

/// The ways a field's schema is broken, with `anyOf`, `oneOf`, `allOf` and
/// local `$ref` read exactly: `allOf` (and a `$ref` beside other keywords) is
/// broken by breaking any part; `anyOf` by breaking every branch (each
/// combination of one way per branch, intersected); `oneOf` by that or by a
/// value two branches both admit.
fn reading(p: &Json, root: &Json, patterns: &mut Patterns, depth: usize) -> Result<Reading, String> {
    if depth > MAX_REF_DEPTH {
        return Err(format!("the field's schema nests `$ref` deeper than {MAX_REF_DEPTH} (a cycle?), which prove does not expand"));
    }
    let Some(schema) = p.as_object() else {
        return Ok(Reading { violations: violations(p, patterns)?.into_iter().map(|(w, a)| (w, vec![a])).collect(), composite: false });
    };
    let beside: serde_json::Map<String, Json> = schema.iter().filter(|(k, _)| !COMBINATORS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    // Parts that all must hold: what is beside the combinators (when it says anything), each `allOf` branch, the `$ref` target.
    let mut parts: Vec<Reading> = Vec::new();
    let says_something = ["type", "enum", "const"].iter().any(|k| beside.contains_key(*k));
    if says_something || schema.keys().all(|k| !COMBINATORS.contains(&k.as_str())) {
        let plain = violations(&Json::Object(beside.clone()), patterns)?;
        let composite = is_composite(&Json::Object(beside));
        parts.push(Reading { violations: plain.into_iter().map(|(w, a)| (w, vec![a])).collect(), composite });
    }
    if let Some(r) = schema.get("$ref") {
        let target = resolve(root, r.as_str().unwrap_or_default())?;
        parts.push(reading(target, root, patterns, depth + 1)?);
    }
    for b in schema.get("allOf").and_then(Json::as_array).into_iter().flatten() {
        parts.push(reading(b, root, patterns, depth + 1)?);
    }
    for (key, exclusive) in [("anyOf", false), ("oneOf", true)] {
        if let Some(branches) = schema.get(key).and_then(Json::as_array) {
            let read = branches.iter().map(|b| reading(b, root, patterns, depth + 1)).collect::<Result<Vec<_>, _>>()?;
            parts.push(union(key, read, exclusive)?);
        }
    }
    if parts.is_empty() {
        return Ok(Reading { violations: vec![absent()], composite: true });
    }
    let composite = parts.iter().any(|r| r.composite);
    if composite && !parts.iter().all(|r| r.composite) {
        return Err("the field's schema requires a list or object in one part and a scalar in another, which prove does not intersect".into());
    }
    let mut out = vec![absent()];
    if composite {
        if parts.iter().any(|r| null_violates(&r.violations)) {
            out.push(("null where the schema wants a list or object".into(), vec![Atom::of_kinds(&[Kind::Null])]));
        }
        return Ok(Reading { violations: out, composite: true });
    }
    out.extend(parts.into_iter().flat_map(|r| r.violations.into_iter().filter(|(w, _)| w != ABSENT)));
    Ok(Reading { violations: out, composite: false })
}

const ABSENT: &str = "the field left out";

fn absent() -> Violation {
    (ABSENT.to_string(), vec![Atom::of_kinds(&[Kind::Absent])])
}

/// `anyOf` (or `oneOf` when `exclusive`) of the branches read.
fn union(key: &str, branches: Vec<Reading>, exclusive: bool) -> Result<Reading, String> {
    if branches.iter().any(|b| b.composite) {
        // A list or object branch: the field is checked present, and not null unless a branch admits it.
        let mut v = vec![absent()];
        if branches.iter().all(|b| null_violates(&b.violations)) {
            v.push(("null where the schema wants a list or object".into(), vec![Atom::of_kinds(&[Kind::Null])]));
        }
        return Ok(Reading { violations: v, composite: true });
    }
    // Leaving the field out breaks every branch; the other ways combine.
    let ways: Vec<Vec<&Violation>> = branches.iter().map(|b| b.violations.iter().filter(|(w, _)| w != ABSENT).collect()).collect();
    let combinations = ways.iter().try_fold(1usize, |n, w| n.checked_mul(w.len().max(1))).unwrap_or(usize::MAX);
    if combinations > MAX_COMBINATIONS {
        return Err(format!("the field's `{key}` expands to more than {MAX_COMBINATIONS} combinations of its branches' constraints, which prove does not enumerate"));
    }
    let mut out = vec![absent()];
    if ways.iter().all(|w| !w.is_empty()) {
        let mut combos: Vec<(Vec<String>, Vec<Atom>)> = vec![(Vec::new(), Vec::new())];
        for w in &ways {
            combos = combos
                .into_iter()
                .flat_map(|(whats, atoms)| {
                    w.iter().map(move |(what, set)| {
                        let mut whats = whats.clone();
                        whats.push(what.clone());
                        let mut atoms = atoms.clone();
                        atoms.extend(set.iter().cloned());
                        (whats, atoms)
                    })
                })
                .collect();
        }
        out.extend(combos.into_iter().map(|(whats, atoms)| (format!("a value no branch of `{key}` admits ({})", whats.join("; ")), atoms)));
    }
    if exclusive {
        // Two branches admitting one value: the complement of each branch's ways, for both.
        for (i, a) in ways.iter().enumerate() {
            for (j, b) in ways.iter().enumerate().skip(i + 1) {
                let mut atoms = vec![Atom::of_kinds(&[Kind::Absent]).complement()];
                for (_, set) in a.iter().chain(b.iter()) {
                    match set.as_slice() {
                        [one] => atoms.push(one.complement()),
                        _ => return Err(format!("the field's `{key}` nests a union inside a branch, which prove does not complement")),
                    }
                }
                out.push((format!("a value branches {} and {} of `{key}` both admit", i + 1, j + 1), atoms));
            }
        }
    }
    Ok(Reading { violations: out, composite: false })
}

fn kind_of(name: &str) -> Option<Kind> {
    Some(match name {
        "string" => Kind::String,
        "number" | "integer" => Kind::Number,
        "boolean" => Kind::Bool,
        "null" => Kind::Null,
        "array" => Kind::Array,
        "object" => Kind::Object,
        _ => return None,
    })
}

/// The sets of values that break a required field's schema (beside any combinator), each with what it breaks.
fn violations(p: &Json, patterns: &mut Patterns) -> Result<Vec<(String, Atom)>, String> {
    let mut out = vec![(ABSENT.to_string(), Atom::of_kinds(&[Kind::Absent]))];
    let Some(schema) = p.as_object() else { return Ok(out) };
    // Keywords outside the vocabulary are annotations to a validator; these constrain values and are not modeled.
    if let Some(k) = schema.keys().find(|k| UNMODELED.contains(&k.as_str())) {
        return Err(format!("the field's schema uses `{k}`, which prove does not model"));
    }
    let types: Option<Vec<&str>> = match &schema.get("type") {
        Some(Json::String(t)) => Some(vec![t.as_str()]),
        Some(Json::Array(ts)) => Some(ts.iter().filter_map(Json::as_str).collect()),
        _ => None,
    };
    let listed: Option<Vec<Json>> = schema.get("const").map(|c| vec![c.clone()]).or_else(|| schema.get("enum").and_then(Json::as_array).cloned());
    // What Intercept's conditions cannot tell from the value itself: the text of a boolean or a non-string enum value.
    let mut texts: Vec<String> = listed.iter().flatten().filter(|v| !v.is_string()).map(Json::to_string).collect();
    if types.as_ref().is_some_and(|t| t.contains(&"boolean")) {
        texts.extend(["true".to_string(), "false".to_string()]);
    }
    let allowed: Vec<Kind> = match &types {
        Some(t) => t.iter().filter_map(|n| kind_of(n)).collect(),
        None => vec![Kind::Null, Kind::Bool, Kind::Number, Kind::String, Kind::Array, Kind::Object],
    };
    // A list or object field: a condition true on every list (or object) is true on all but
    // finitely many strings and numbers, so no policy keeps its type; it can keep it present and not null.
    // A schema naming no type constrains only the values its keywords apply to (a `pattern` only strings).
    let composite = listed.is_none() && types.is_some() && (allowed.contains(&Kind::Array) || allowed.contains(&Kind::Object));
    if composite {
        if !allowed.contains(&Kind::Null) {
            out.push(("null where the schema wants a list or object".into(), Atom::of_kinds(&[Kind::Null])));
        }
        return Ok(out);
    }
    for kind in [Kind::Null, Kind::Bool, Kind::Number, Kind::Array, Kind::Object] {
        if !allowed.contains(&kind) {
            out.push((format!("a {} where the schema wants {}", kind_name(kind), types.as_ref().map(|t| t.join(" or ")).unwrap_or_default()), Atom::of_kinds(&[kind])));
        }
    }
    let strings_allowed = allowed.contains(&Kind::String);
    if let Some(values) = &listed {
        let strings: Vec<String> = values.iter().filter_map(|v| v.as_str().map(str::to_string)).chain(texts.iter().cloned()).collect();
        let dfa = patterns.exact(strings.iter().map(String::as_str));
        let numbers = values.iter().filter_map(Json::as_f64).fold(NumSet::none(), |s, x| s.union(&NumSet::point(x)));
        let bools = [!values.contains(&json!(false)), !values.contains(&json!(true))];
        let other = Atom::of_kinds(&[Kind::Null, Kind::Bool, Kind::Number, Kind::String])
            .with_strings(StrSet::Lang(Lang { dfa, negated: true }))
            .with_numbers(numbers.complement())
            .with_bools(bools);
        let mut other = other;
        other.null = !values.contains(&Json::Null);
        out.push(("a value outside the schema's `enum`".into(), other));
    } else if !strings_allowed {
        let set = if texts.is_empty() {
            StrSet::All
        } else {
            StrSet::Lang(Lang { dfa: patterns.exact(texts.iter().map(String::as_str)), negated: true })
        };
        out.push((format!("a string where the schema wants {}", types.as_ref().map(|t| t.join(" or ")).unwrap_or_default()), Atom::of_kinds(&[Kind::String]).with_strings(set)));
    }
    if allowed.contains(&Kind::Number) {
        let bound = |key: &str| schema.get(key).and_then(Json::as_f64);
        let mut inside = NumSet::all();
        if let Some(b) = bound("minimum") {
            inside = inside.intersect(&NumSet::above(b, true));
        }
        if let Some(b) = bound("exclusiveMinimum") {
            inside = inside.intersect(&NumSet::above(b, false));
        }
        if let Some(b) = bound("maximum") {
            inside = inside.intersect(&NumSet::below(b, true));
        }
        if let Some(b) = bound("exclusiveMaximum") {
            inside = inside.intersect(&NumSet::below(b, false));
        }
        if inside != NumSet::all() {
            out.push(("a number outside the schema's bounds".into(), Atom::of_kinds(&[Kind::Number]).with_numbers(inside.complement())));
        }
    }
    if strings_allowed {
        let count = |key: &str| schema.get(key).and_then(Json::as_u64);
        if let Some(max) = count("maxLength") {
            let dfa = patterns.get(&format!(r"\A(?s:.){{{}}}", max + 1));
            out.push((format!("a string longer than {max} characters"), Atom::of_kinds(&[Kind::String]).with_strings(StrSet::Lang(Lang { dfa, negated: false }))));
        }
        if let Some(min) = count("minLength").filter(|m| *m > 0) {
            let dfa = patterns.get(&format!(r"\A(?s:.){{0,{}}}\z", min - 1));
            out.push((format!("a string shorter than {min} characters"), Atom::of_kinds(&[Kind::String]).with_strings(StrSet::Lang(Lang { dfa, negated: false }))));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Json::as_str) {
            if regex::Regex::new(pattern).is_err() {
                return Err(format!("the schema's pattern `{pattern}` is not one prove can read"));
            }
            let dfa = patterns.get(pattern);
            out.push((format!("a string outside the pattern `{pattern}`"), Atom::of_kinds(&[Kind::String]).with_strings(StrSet::Lang(Lang { dfa, negated: true }))));
        }
    }
    Ok(out)
}

/// Whether a field's schema is a list or an object (see `BEYOND`).
pub(super) fn is_composite(p: &Json) -> bool {
    let t = &p["type"];
    p.get("enum").is_none() && p.get("const").is_none() && (t == "array" || t == "object" || t.as_array().is_some_and(|ts| ts.iter().any(|x| x == "array" || x == "object")))
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Absent => "missing field",
        Kind::Null => "null",
        Kind::Bool => "boolean",
        Kind::Number => "number",
        Kind::String => "string",
        Kind::Array => "list",
        Kind::Object => "object",
    }
}

/// `schema`: no admitted call breaks a required field's own schema.
pub fn schema(ctx: &Context<'_>) -> Proof {
    let statement = "every required field keeps its type, enum, bounds, length and pattern (a list or object: present and not null)".to_string();
    if let Some(why) = ctx.model.gate.refuses_all() {
        return ctx.proof("schema", statement, Status::Proved, why, ctx.entry());
    }
    let schema = &ctx.tool.input_schema;
    let mut patterns = Patterns::default();
    let mut unknown: Vec<String> = Vec::new();
    let terms = ctx.model.rules.terms();
    let mut proxy: Option<Proof> = None;
    let part = crate::verify::measure::PolicyPart::of(schema);
    for field in required(ctx.tool) {
        let property = &schema["properties"][&field];
        let mut sets = match reading(property, schema, &mut patterns, 0) {
            Ok(r) => r.violations,
            // What prove cannot read of the field's schema is unknown; a call leaving it out still breaks it.
            Err(why) => {
                unknown.push(format!("`{field}`: {why}"));
                vec![absent()]
            }
        };
        if let Some(x) = fraction_admitted(ctx, &field) {
            sets.push((format!("{NOT_WHOLE} where the schema wants an integer"), vec![Atom::of_kinds(&[Kind::Number]).with_numbers(NumSet::point(x))]));
        }
        let guard = field_guard(property, schema);
        for (what, atoms) in sets {
            let mut query = terms.clone();
            query.extend(atoms.into_iter().map(|set| Term::set(vec![field.clone()], set, what.clone())));
            match solve(&query, &ctx.base, &Prefer::default()) {
                Answer::Yes(args) => {
                    let seen = crate::verify::measure::as_conditions_see(schema, &Json::Object(args.clone()));
                    let value = seen.get(&field).cloned();
                    if value.is_some() && guard.as_ref().is_some_and(|g| value.as_ref().is_some_and(|v| g.is_valid(v))) {
                        unknown.push(format!("`{field}`: the model's witness for {what} is valid against the schema"));
                        continue;
                    }
                    let why = format!("`{field}`: {what} passes the policy");
                    let at = location_of(ctx, &field);
                    let refusable = part.refusable(schema, &Json::Object(args.clone()));
                    let p = refute(ctx, "schema", statement.clone(), args, why, at);
                    let matter = if !refusable {
                        // As `verify` blames a schema violation: the proxy's schema validation, not the policy.
                        Some(if what.starts_with(NOT_WHOLE) { unlistable(&field) } else { unguardable(schema, &field) })
                    } else {
                        None
                    };
                    if let Some(matter) = matter.filter(|_| p.status == Status::Refuted) {
                        // A refutation the policy could close, in another field, comes first.
                        proxy.get_or_insert(p.proxy_matter(&matter));
                        continue;
                    }
                    return p;
                }
                Answer::No(_) => {}
                Answer::Unknown(why) => unknown.push(format!("`{field}`: {why}")),
            }
        }
    }
    if let Some(p) = proxy {
        return p;
    }
    if let Some(why) = ctx.model.gate.refuses_all().or_else(|| terms_refuse(ctx)) {
        return ctx.proof("schema", statement, Status::Proved, why, ctx.entry());
    }
    match unknown.is_empty() {
        true => {
            let n = required(ctx.tool).len();
            let why = if n == 0 { "the tool has no required fields".to_string() } else { format!("the conditions admit no value outside the schema in any of its {n} required fields") };
            ctx.proof("schema", statement, Status::Proved, why, ctx.entry())
        }
        false => ctx.proof("schema", statement, Status::Unknown, unknown.join("; "), ctx.entry()),
    }
}

const NOT_WHOLE: &str = "a number that is not whole";

/// Why no Intercept policy refuses a value of `field` outside its schema while admitting its legitimate values.
fn unguardable(schema: &Json, field: &str) -> String {
    use crate::verify::measure::{nullable_fields, unguardable_unions};
    if nullable_fields(schema).iter().any(|f| f == field) {
        format!("`{field}` may be `null`, and no condition is true for `null` and the field's type alone (`regex`, the numeric operators and `exists: true` refuse `null`; `exists: false`, `neq` and `not_in` admit every type)")
    } else if unguardable_unions(schema).iter().any(|f| f == field) {
        format!("`{field}` admits both booleans and strings, and every condition true for all booleans (`exists`, `neq`, `not_in`) is also true for other types, and conditions only AND")
    } else {
        format!("no Intercept condition refuses this value of `{field}` while admitting every value its schema allows")
    }
}

/// Why no Intercept policy refuses a fraction in the integer field `field` (see [`crate::verify::measure::listable_wholes`]).
fn unlistable(field: &str) -> String {
    let most = crate::verify::measure::MAX_LISTED_WHOLES;
    format!("no Intercept condition tells a whole number from a fraction, and only an `in` list of `{field}`'s whole numbers would, which takes a range its schema bounds on both sides, at most {most} long")
}

/// A validator of one field's schema, with the tool schema's `$defs` and
/// `definitions` beside it so its local references resolve.
fn field_guard(property: &Json, root: &Json) -> Option<jsonschema::Validator> {
    let mut schema = property.as_object().cloned().unwrap_or_default();
    for key in ["$defs", "definitions"] {
        if let Some(defs) = root.get(key) {
            schema.entry(key.to_string()).or_insert_with(|| defs.clone());
        }
    }
    jsonschema::validator_for(&Json::Object(schema)).ok()
}

/// For a field the schema types `integer` only: a number that is not whole
/// which the conditions on the field admit (sets of numbers are intervals,
/// so any interval wider than a point holds one).
fn fraction_admitted(ctx: &Context<'_>, field: &str) -> Option<f64> {
    if !crate::verify::measure::integer_only(&ctx.tool.input_schema["properties"][field]) {
        return None;
    }
    let path = vec![field.to_string()];
    let set = ctx.model.rules.atoms_at(&path).iter().fold(NumSet::all(), |s, a| s.intersect(&a.numbers));
    set.0.iter().find_map(|i| {
        let (lo, hi) = (i.lo.at, i.hi.at);
        if lo >= hi {
            return None;
        }
        let half = if lo.is_finite() { lo.floor() + 0.5 } else if hi.is_finite() { hi.floor() - 0.5 } else { 0.5 };
        let half = if half <= lo { half + 1.0 } else { half };
        [half, lo + (hi - lo) / 2.0, lo + (hi - lo) / 4.0].into_iter().find(|x| x.is_finite() && x.fract() != 0.0 && *x > lo && *x < hi)
    })
}

/// Why no call passes at all, when the conditions exclude each other.
fn terms_refuse(ctx: &Context<'_>) -> Option<String> {
    match ctx.admitted() {
        Err((Status::Proved, why)) => Some(why),
        _ => None,
    }
}

/// The first rule with a condition on `field`, else the tool's entry.
fn location_of(ctx: &Context<'_>, field: &str) -> crate::verify::blame::PolicyLocation {
    match ctx.model.rules.args.iter().find(|c| c.path.len() == 1 && c.path[0] == field) {
        Some(c) => ctx.rule(&c.at.rule),
        None => ctx.entry(),
    }
}

/// The most bytes one field's value can serialize to under the conditions on it; `None`: unbounded.
fn field_bytes(atoms: &[&Atom]) -> Result<Option<usize>, String> {
    if atoms.is_empty() {
        return Ok(None);
    }
    let may = |k: Kind| atoms.iter().all(|a| a.may_hold(k));
    if may(Kind::Array) || may(Kind::Object) {
        return Ok(None);
    }
    let mut most = 0usize;
    if may(Kind::Number) {
        most = most.max(24);
    }
    if may(Kind::Bool) || may(Kind::Null) {
        most = most.max(5);
    }
    if may(Kind::String) {
        let sets: Vec<StrSet> = atoms.iter().map(|a| a.strings.clone()).collect();
        if let Some(p) = Product::explore(&sets).map_err(|u| u.0)? {
            if p.shortest().is_some() {
                // Escaped JSON: at most six bytes per character (`\u001f`), and the quotes.
                match p.most_chars() {
                    Some(n) => most = most.max(6 * n + 2),
                    None => return Ok(None),
                }
            }
        }
    }
    Ok(Some(most))
}

/// A long value the conditions on `field` admit, for a size counterexample.
fn long_value(atoms: &[&Atom], over: usize) -> Result<Option<Json>, String> {
    if atoms.is_empty() {
        return Ok(Some(Json::String("a".repeat(over + 1))));
    }
    let sets: Vec<StrSet> = atoms.iter().map(|a| a.strings.clone()).collect();
    if let Some(p) = Product::explore(&sets).map_err(|u| u.0)? {
        if let Some(s) = p.near_length(over + 1) {
            return Ok(Some(Json::String(s)));
        }
    }
    Ok(None)
}

/// `size`: the required fields of an admitted call total at most `max` bytes.
pub fn size(ctx: &Context<'_>, max: u64) -> Proof {
    let statement = format!("the required fields of a call total ≤{max} bytes");
    let admitted = match ctx.admitted() {
        Ok(a) => a,
        Err((status, why)) => return ctx.proof("size", statement, status, why, ctx.entry()),
    };
    let unions = crate::verify::measure::unguardable_unions(&ctx.tool.input_schema);
    let fields: Vec<String> =
        required(ctx.tool).into_iter().filter(|f| !is_composite(&ctx.tool.input_schema["properties"][f]) && !unions.contains(f)).collect();
    let mut total = 2usize;
    let mut unbounded: Vec<String> = Vec::new();
    for f in &fields {
        let path = vec![f.clone()];
        let atoms = ctx.model.rules.atoms_at(&path);
        match field_bytes(&atoms) {
            Ok(Some(n)) => total += f.len() + 4 + n,
            Ok(None) => unbounded.push(f.clone()),
            Err(why) => return ctx.proof("size", statement, Status::Unknown, format!("`{f}`: {why}"), ctx.entry()),
        }
    }
    if unbounded.is_empty() && total as u64 <= max {
        let why = format!("the conditions bound every required field: at most {total} bytes together");
        return ctx.proof("size", statement, Status::Proved, why, ctx.entry());
    }
    // A field a policy can bound first: a refutation it could close comes before one only the proxy can.
    let schema = &ctx.tool.input_schema;
    let beyond: Vec<String> = crate::verify::measure::nullable_fields(schema);
    unbounded.sort_by_key(|f| beyond.contains(f));
    for f in &unbounded {
        let path = vec![f.clone()];
        let atoms = ctx.model.rules.atoms_at(&path);
        let value = match long_value(&atoms, max as usize) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(why) => return ctx.proof("size", statement, Status::Unknown, format!("`{f}`: {why}"), ctx.entry()),
        };
        let mut args = admitted.clone();
        args.insert(f.clone(), value);
        if ctx.model.admits(Some(&args)) == Ok(true) && serde_json::to_string(&args).map_or(0, |t| t.len()) as u64 > max {
            let why = format!("no condition bounds the length of `{f}`");
            let at = location_of(ctx, f);
            return size_refuted(ctx, statement, args, why, at, max);
        }
    }
    if unbounded.is_empty() {
        // The longest values, spelled in the character JSON escapes most (`\u0001`, six bytes) where the conditions admit it.
        let mut args = admitted.clone();
        for f in &fields {
            let path = vec![f.clone()];
            let atoms = ctx.model.rules.atoms_at(&path);
            let sets: Vec<StrSet> = atoms.iter().map(|a| a.strings.clone()).collect();
            let Ok(Some(p)) = Product::explore(&sets) else { continue };
            let Some(longest) = p.longest() else { continue };
            let escaped = Json::String("\u{1}".repeat(longest.chars().count()));
            let plain = Json::String(longest);
            let pick = if atoms.iter().all(|a| a.contains(Some(&escaped)) == Ok(true)) { escaped } else { plain };
            args.insert(f.clone(), pick);
        }
        let bytes = serde_json::to_string(&args).map_or(0, |t| t.len()) as u64;
        if bytes > max && ctx.model.admits(Some(&args)) == Ok(true) {
            let why = format!("the required fields' longest admitted values, as control characters JSON escapes in six bytes, total {bytes} bytes");
            return size_refuted(ctx, statement, args, why, ctx.entry(), max);
        }
    }
    let why = if unbounded.is_empty() {
        format!("the conditions bound the required fields to {total} bytes, over the bound, and prove found no call that long")
    } else {
        format!("no bound found on {}, and no counterexample", unbounded.join(", "))
    };
    ctx.proof("size", statement, Status::Unknown, why, ctx.entry())
}

/// A size refutation, a proxy matter exactly when `verify` would blame the
/// same call on the proxy: the bytes a policy can bound stay within `max`.
fn size_refuted(ctx: &Context<'_>, statement: String, args: Map<String, Json>, why: String, at: crate::verify::blame::PolicyLocation, max: u64) -> Proof {
    let guardable = crate::verify::measure::guardable_bytes(&ctx.tool.input_schema, &Json::Object(args.clone()));
    let p = refute(ctx, "size", statement, args, why, at);
    match guardable <= max {
        true => p.proxy_matter(crate::verify::measure::BYTES_BEYOND),
        false => p,
    }
}

/// `amount-per-call`: no admitted call carries an amount above `cap`.
pub fn amount_per_call(ctx: &Context<'_>, field: &str, cap: f64) -> Proof {
    let statement = format!("`{field}` ≤{} in every call", crate::verify::measure::num(cap));
    if let Some(why) = ctx.model.gate.refuses_all() {
        return ctx.proof("amount-per-call", statement, Status::Proved, why, ctx.entry());
    }
    let cap_text = crate::verify::measure::num(cap);
    let over = Atom::of_kinds(&[Kind::Number]).with_numbers(NumSet::above(cap, false));
    let mut query = ctx.model.rules.terms();
    query.push(Term::set(vec![field.to_string()], over, format!("{field} above {cap_text}")));
    match solve(&query, &ctx.base, &Prefer::default()) {
        Answer::Yes(args) => {
            let why = format!("an amount of {} passes the policy", args.get(field).map(Json::to_string).unwrap_or_default());
            return refute(ctx, "amount-per-call", statement, args, why, location_of(ctx, field));
        }
        Answer::No(_) => {}
        Answer::Unknown(why) => return ctx.proof("amount-per-call", statement, Status::Unknown, why, ctx.entry()),
    }
    // A lenient server reads a numeric string as the amount too: the conditions must refuse strings
    // outright, or admit only strings that read as no number over the cap.
    let mut query = ctx.model.rules.terms();
    query.push(Term::set(vec![field.to_string()], Atom::of_kinds(&[Kind::String]), format!("{field} is a string")));
    match solve(&query, &ctx.base, &Prefer::default()) {
        Answer::No(_) => {
            let why = format!("the conditions admit no number above {cap_text} and no string in `{field}`");
            ctx.proof("amount-per-call", statement, Status::Proved, why, location_of(ctx, field))
        }
        Answer::Yes(args) => {
            let read = args.get(field).and_then(Json::as_str).and_then(|t| t.trim().parse::<f64>().ok());
            if read.is_some_and(|x| x > cap) {
                let why = format!("the amount {} passes the policy as a string", args[field]);
                return refute(ctx, "amount-per-call", statement, args, why, location_of(ctx, field));
            }
            let why = format!("the conditions admit strings in `{field}` (e.g. {}); prove does not read which of them a server takes for a number over the cap", args.get(field).map(Json::to_string).unwrap_or_default());
            ctx.proof("amount-per-call", statement, Status::Unknown, why, location_of(ctx, field))
        }
        Answer::Unknown(why) => ctx.proof("amount-per-call", statement, Status::Unknown, why, ctx.entry()),
    }
}
