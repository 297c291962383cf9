//! Facts about a policy that hold whatever the requirements say, each at
//! its line: a rule that never fires (an earlier rule always decides first,
//! or its conditions hold on every call that reaches it), a rule whose
//! conditions exclude each other (it refuses every call), a condition on a
//! field the tool's schema does not have, a regex on a destination field
//! that is not anchored at both ends, and a limit that can never bind. All
//! are read off the admission model; `validate --deep` and `prove` print them.

use regex_syntax::hir::Look;
use serde::Serialize;

use crate::engine::admission::rates::{window_nanos, windows_touched, Span};
use crate::engine::admission::{solve, Answer, Gate, Prefer, Rules};
use crate::engine::Engine;
use crate::policy::model::{Action, Op, Path, Policy, Rule, WILDCARD};
use crate::scenario::lint::ToolInfo;
use crate::verify::blame::PolicyLocation;

/// One fact, with the line it is about.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fact {
    /// `never-fires`, `refuses-all`, `unknown-field`, `unanchored-destination`, `never-binds`.
    pub kind: &'static str,
    pub location: PolicyLocation,
    pub message: String,
}

/// Field names that hold a destination (where a value goes): a regex on
/// one must pin the whole value, or a foreign destination that contains an
/// allowed one passes.
const DESTINATIONS: &[&str] = &[
    "url", "uri", "href", "link", "endpoint", "webhook", "callback", "redirect", "email", "to", "cc", "bcc", "recipient",
    "recipients", "destination", "target", "host", "hostname", "domain", "path", "file", "filename", "directory", "dir",
    "iban", "account", "channel", "repo", "repository", "owner",
];

/// Whether a field (the last segment of a path) names a destination.
pub fn is_destination(field: &str) -> bool {
    let f = field.to_ascii_lowercase();
    DESTINATIONS.iter().any(|d| f == *d || f.ends_with(&format!("_{d}")) || f.starts_with(&format!("{d}_")))
}

/// Every fact about `policy` (compiled into `engine`), with the catalogue's schemas where tools are in play.
pub fn of(policy: &Policy, engine: &Engine, file: &str, catalogue: &[ToolInfo]) -> Vec<Fact> {
    let mut out = Vec::new();
    let at = |line: u32| PolicyLocation { file: file.to_string(), line: line.max(1) };
    let model = engine.admission();
    for entry in &policy.tools {
        // The "*" rules as an unlisted tool sees them; a listed tool's own rules in its plan.
        let name = if entry.name == WILDCARD { unlisted_name(policy) } else { entry.name.clone() };
        let tool = model.tool(&name);
        if entry.name != WILDCARD {
            if let Gate::Hidden = tool.gate {
                continue;
            }
        }
        let own = entry.rules.len();
        order(&mut out, &at, &entry.rules, tool.rules, own);
        if let Some(info) = catalogue.iter().find(|t| t.name == entry.name) {
            unknown_fields(&mut out, &at, entry.rules.iter(), info);
        }
        for rule in &entry.rules {
            unanchored(&mut out, &at, rule);
        }
        never_binds(&mut out, &at, entry.rules.as_slice(), tool.rules);
    }
    out.sort_by(|a, b| a.location.line.cmp(&b.location.line).then(a.kind.cmp(b.kind)));
    out.dedup();
    out
}

/// A tool name no policy entry has, to ask about the `"*"` rules alone.
fn unlisted_name(policy: &Policy) -> String {
    let mut name = "unlisted_tool".to_string();
    while policy.tool(&name).is_some() {
        name.push('_');
    }
    name
}

/// Rules after one that always refuses never fire; a rule whose conditions
/// exclude each other refuses all; one whose conditions hold wherever the
/// earlier rules let a call through never fires.
fn order(out: &mut Vec<Fact>, at: &dyn Fn(u32) -> PolicyLocation, rules: &[Rule], model: &Rules, own: usize) {
    let mut decider: Option<&Rule> = None;
    let mut seen = 0usize;
    for rule in rules.iter().take(own) {
        if let Some(d) = decider {
            out.push(Fact {
                kind: "never-fires",
                location: at(rule.span.line),
                message: format!("rule `{}` never fires: rule `{}` (line {}) refuses every call first", rule.name, d.name, d.span.line),
            });
            continue;
        }
        if rule.action == Action::Deny {
            decider = Some(rule);
            continue;
        }
        let mine: Vec<usize> = model.args.iter().enumerate().filter(|(_, c)| c.at.rule == rule.name && c.at.condition.is_some()).map(|(i, _)| i).collect();
        let earlier: Vec<usize> = (0..seen).collect();
        seen += mine.len();
        if mine.is_empty() || rule.state.is_some() {
            continue;
        }
        // All of this rule's conditions and every earlier one together.
        let mut terms: Vec<_> = earlier.iter().chain(&mine).map(|&i| model.term(i, false)).collect();
        if let Answer::No(why) = solve(&terms, &Default::default(), &Prefer::default()) {
            let alone: Vec<_> = mine.iter().map(|&i| model.term(i, false)).collect();
            let itself = matches!(solve(&alone, &Default::default(), &Prefer::default()), Answer::No(_));
            out.push(Fact {
                kind: "refuses-all",
                location: at(rule.span.line),
                message: format!(
                    "rule `{}` refuses every call{}: {why}",
                    rule.name,
                    if itself { "" } else { " that passes the rules before it" }
                ),
            });
            decider = Some(rule);
            continue;
        }
        // Never fires: no call passing the earlier rules fails one of its conditions.
        let fires = mine.iter().any(|&i| {
            terms = earlier.iter().map(|&k| model.term(k, false)).collect();
            terms.push(model.term(i, true));
            !matches!(solve(&terms, &Default::default(), &Prefer::default()), Answer::No(_))
        });
        if !fires {
            out.push(Fact {
                kind: "never-fires",
                location: at(rule.span.line),
                message: format!("rule `{}` never fires: every call that passes the rules before it meets its conditions", rule.name),
            });
        }
    }
}

/// Conditions on `args.` paths the tool's inputSchema does not declare.
fn unknown_fields<'a>(out: &mut Vec<Fact>, at: &dyn Fn(u32) -> PolicyLocation, rules: impl Iterator<Item = &'a Rule>, tool: &ToolInfo) {
    for rule in rules {
        for c in &rule.conditions {
            let Path::Args(segments) = &c.path else { continue };
            let mut schema: &serde_json::Value = &tool.input_schema;
            for (depth, seg) in segments.iter().enumerate() {
                let props = &schema["properties"];
                if !props.is_object() {
                    break;
                }
                if props.get(seg).is_none() {
                    let field = segments[..=depth].join(".");
                    let effect = if c.op == Op::Exists && c.value == crate::policy::model::Value::Bool(false) {
                        "it holds on every call that follows the schema"
                    } else {
                        "it is false on every call that follows the schema, so the rule refuses them all"
                    };
                    out.push(Fact {
                        kind: "unknown-field",
                        location: at(c.span.line),
                        message: format!("rule `{}` reads `args.{field}`, which `{}`'s schema does not have: {effect}", rule.name, tool.name),
                    });
                    break;
                }
                schema = &props[seg];
            }
        }
    }
}

/// A regex on a destination field that a foreign value can meet around an allowed one.
fn unanchored(out: &mut Vec<Fact>, at: &dyn Fn(u32) -> PolicyLocation, rule: &Rule) {
    for c in &rule.conditions {
        let (Path::Args(segments), Op::Regex, Some(re)) = (&c.path, c.op, &c.regex) else { continue };
        if !segments.last().is_some_and(|f| is_destination(f)) {
            continue;
        }
        let pattern = match &c.value {
            crate::policy::model::Value::Str(s) => s.clone(),
            _ => continue,
        };
        // Anchors as the parsed pattern has them (flags, groups and all): `\A`/`^` must begin every match, `\z`/`$` end it.
        let Ok(hir) = regex_automata::util::syntax::parse(re.0.as_str()) else { continue };
        let props = hir.properties();
        let start = props.look_set_prefix().contains(Look::Start);
        let end = props.look_set_suffix().contains(Look::End);
        let sample = sample_of(&pattern, &re.0);
        // Anchored at the start, a pattern that pins no more than a scheme (`^https://`) is a scheme check, not an allowlist.
        let pins_more_than_scheme = sample.split_once("://").map_or(!sample.is_empty(), |(_, rest)| !rest.is_empty());
        if (start && end) || (start && !pins_more_than_scheme) {
            continue;
        }
        let foreign = match (start, end) {
            (true, false) => format!("{sample}.evil.example"),
            (false, true) => format!("evil.example/{sample}"),
            _ => format!("evil.example/?{sample}"),
        };
        let admits = re.0.is_match(&foreign);
        let which = match (start, end) {
            (true, false) => "at its end",
            (false, true) => "at its start",
            _ => "at either end",
        };
        let example = if admits { format!(": it admits `{foreign}`") } else { String::new() };
        out.push(Fact {
            kind: "unanchored-destination",
            location: at(c.span.line),
            message: format!("rule `{}`: the regex `{pattern}` on destination field `args.{}` is not anchored {which}{example}", rule.name, segments.join(".")),
        });
    }
}

/// A short text the regex matches (the literal prefix of the pattern as the
/// policy wrote it, not as translated; or a plain guess).
fn sample_of(pattern: &str, re: &regex::Regex) -> String {
    let text = pattern.trim_start_matches('^').trim_start_matches("\\A");
    let literal: String = {
        let mut s = String::new();
        let mut chars = text.chars();
        while let Some(ch) = chars.next() {
            match ch {
                '\\' => match chars.next() {
                    Some(n) if !n.is_ascii_alphanumeric() => s.push(n),
                    _ => break,
                },
                c if "[](){}|*+?$^.".contains(c) => break,
                c => s.push(c),
            }
        }
        s
    };
    if re.is_match(&literal) {
        literal
    } else {
        "example".into()
    }
}

/// Limits that never bind: a state block with no `lt`/`lte` on its own
/// counter (it never counts), a non-positive increment, or a limit looser
/// than another limit on the same calls within its own window.
fn never_binds(out: &mut Vec<Fact>, at: &dyn Fn(u32) -> PolicyLocation, rules: &[Rule], model: &Rules) {
    for rule in rules {
        let Some(state) = &rule.state else { continue };
        let limit = model.limits.iter().find(|l| l.rule == rule.name);
        let Some(limit) = limit else {
            out.push(Fact {
                kind: "never-binds",
                location: at(rule.span.line),
                message: format!("rule `{}` keeps counter `{}` but has no `lt`/`lte` condition on it: the counter never counts, so no limit binds", rule.name, state.key),
            });
            continue;
        };
        if state.increment_from.is_none() && state.increment <= 0 {
            out.push(Fact {
                kind: "never-binds",
                location: at(rule.span.line),
                message: format!("rule `{}` adds {} per call: its counter never grows, so its limit never binds", rule.name, state.increment),
            });
            continue;
        }
        let Some(mine) = limit.calls() else { continue };
        let len = window_nanos(limit);
        for other in model.limits.iter().filter(|l| l.rule != rule.name && l.key != limit.key) {
            let Some(theirs) = other.calls() else { continue };
            let most = theirs.saturating_mul(windows_touched(Span { len, sliding: false }, window_nanos(other)));
            if most < mine {
                out.push(Fact {
                    kind: "never-binds",
                    location: at(rule.span.line),
                    message: format!(
                        "rule `{}` ({mine} per {}) never binds: rule `{}` lets at most {most} through in any of its windows",
                        rule.name, limit.window, other.rule
                    ),
                });
                break;
            }
        }
    }
}
