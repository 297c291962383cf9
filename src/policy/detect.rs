//! Which dialect a policy file is written in, read from its content
//! (overridable with `--dialect`). The file name decides only what the
//! content leaves open: a file that does not parse, or one that names no
//! rules and no limits (`.json` → PolicyLayer, anything else → Intercept).
//!
//! - `tools.<name>.limits` → PolicyLayer's `policy.json`;
//! - a rule with a `rate_limit` mapping or a `reason` → the catalogue form;
//! - a rule with `action: allow` → Intercept when Intercept itself accepts
//!   the file (it turns `allow` + `rate_limit: "5/hour"` into `evaluate`),
//!   else the catalogue form, unless the file also uses Intercept-only keys;
//! - any other `tools.<name>.rules` → Intercept.
//!
//! Keys of two dialects in one file (`limits` beside `rules`, a `rate_limit`
//! mapping beside `conditions`) are an error naming both places, not a guess.

use super::model::Dialect;
use crate::yaml::{self, Kind, Node};
use super::Diagnostic;

/// The dialect a file is read as, and why (said when it does not load).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    pub dialect: Dialect,
    pub why: String,
}

impl Detection {
    pub fn forced(dialect: Dialect) -> Detection {
        Detection { dialect, why: "forced with --dialect".into() }
    }

    /// When the content says nothing: `.json` → PolicyLayer, else Intercept.
    pub fn by_name(source_name: &str, why: &str) -> Detection {
        let json = source_name.to_ascii_lowercase().ends_with(".json");
        let dialect = if json { Dialect::PolicyLayer } else { Dialect::Intercept };
        Detection { dialect, why: format!("{why}, so the file name decides") }
    }
}

/// A key that only one dialect has, and where it is.
#[derive(Clone, Debug)]
struct Seen {
    what: &'static str,
    line: u32,
    column: u32,
}

impl Seen {
    fn at(what: &'static str, n: &Node) -> Seen {
        Seen { what, line: n.line, column: n.column }
    }

    fn shown(&self) -> String {
        format!("{} at {}:{}", self.what, self.line, self.column)
    }
}

/// What the content says, the first place of each kind.
#[derive(Default)]
struct Signals {
    /// `tools.<name>.limits` (PolicyLayer).
    limits: Option<Seen>,
    /// `tools.<name>.rules` (Intercept or the catalogue form).
    rules: Option<Seen>,
    /// A `rate_limit` mapping or a `reason` (catalogue only).
    catalogue: Option<Seen>,
    /// `action: allow` (catalogue, or Intercept when it desugars a rate limit).
    allow: Option<Seen>,
    /// `conditions`, `state`, `on_deny`, `action: evaluate`, top-level `hide` (Intercept only).
    intercept: Option<Seen>,
}

pub fn detect(text: &str, source_name: &str) -> Result<Detection, Diagnostic> {
    let by_name = |why: &str| Detection::by_name(source_name, why);
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return Ok(by_name("the file is empty")),
        Err(_) => return Ok(by_name("the file does not parse")),
    };
    let s = signals(&root);
    let mixed = |a: &Seen, b: &Seen, first: &str, second: &str| {
        let (a, b) = if (a.line, a.column) <= (b.line, b.column) { (a, b) } else { (b, a) };
        Diagnostic::new(
            source_name,
            b.line,
            b.column,
            format!("this file mixes two policy formats: {} ({first}) and {} ({second})", a.shown(), b.shown()),
        )
        .with_help("a file holds one format: fix the file, or choose one with `--dialect intercept|catalogue|policylayer`")
    };
    if let Some(limits) = &s.limits {
        if let Some(other) = s.rules.as_ref().or(s.intercept.as_ref()) {
            return Err(mixed(limits, other, "PolicyLayer's policy.json", "Intercept's YAML or the catalogue form"));
        }
        return Ok(Detection { dialect: Dialect::PolicyLayer, why: format!("detected from {}", limits.shown()) });
    }
    if let Some(cat) = &s.catalogue {
        if let Some(int) = &s.intercept {
            return Err(mixed(cat, int, "the catalogue form", "Intercept's YAML"));
        }
        return Ok(Detection { dialect: Dialect::Catalogue, why: format!("detected from {}", cat.shown()) });
    }
    if let Some(allow) = &s.allow {
        if s.intercept.is_none() && super::intercept::load(text).is_err() {
            return Ok(Detection {
                dialect: Dialect::Catalogue,
                why: format!("detected from {}, which Intercept does not accept here", allow.shown()),
            });
        }
    }
    match s.rules.as_ref().or(s.intercept.as_ref()) {
        Some(seen) => Ok(Detection { dialect: Dialect::Intercept, why: format!("detected from {}", seen.shown()) }),
        None => Ok(by_name("the file names no rules and no limits")),
    }
}

/// A mapping's entries as yaml.v3 sees them: explicit keys, then those of
/// `<<` merges (the decoder gives explicit keys precedence).
fn entries(n: &Node) -> Vec<(&Node, &Node)> {
    let Kind::Map(map) = &n.kind else { return Vec::new() };
    let mut out: Vec<(&Node, &Node)> = map.iter().filter(|(k, _)| key(k) != Some("<<")).map(|(k, v)| (k, v)).collect();
    for (_, v) in map.iter().filter(|(k, _)| key(k) == Some("<<")) {
        match &v.kind {
            Kind::Map(_) => out.extend(entries(v)),
            Kind::Seq(items) => items.iter().for_each(|i| out.extend(entries(i))),
            Kind::Scalar { .. } => {}
        }
    }
    out
}

fn key(n: &Node) -> Option<&str> {
    match &n.kind {
        Kind::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

fn scalar(n: &Node) -> Option<&str> {
    key(n)
}

fn signals(root: &Node) -> Signals {
    let mut s = Signals::default();
    let note = |slot: &mut Option<Seen>, seen: Seen| {
        slot.get_or_insert(seen);
    };
    for (k, v) in entries(root) {
        match key(k) {
            Some("hide") => note(&mut s.intercept, Seen::at("`hide`", k)),
            Some("tools") => {
                for (_, tool) in entries(v) {
                    for (tk, tv) in entries(tool) {
                        match key(tk) {
                            Some("limits") => note(&mut s.limits, Seen::at("`limits`", tk)),
                            Some("rules") => {
                                note(&mut s.rules, Seen::at("`rules`", tk));
                                if let Kind::Seq(rules) = &tv.kind {
                                    rules.iter().for_each(|r| rule_signals(r, &mut s));
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    s
}

fn rule_signals(rule: &Node, s: &mut Signals) {
    for (k, v) in entries(rule) {
        let seen = match (key(k), &v.kind) {
            (Some("rate_limit"), Kind::Map(_)) => (&mut s.catalogue, Seen::at("a `rate_limit` mapping", k)),
            (Some("reason"), _) => (&mut s.catalogue, Seen::at("`reason`", k)),
            (Some(w @ ("conditions" | "state" | "on_deny")), _) => (
                &mut s.intercept,
                Seen::at(
                    match w {
                        "conditions" => "`conditions`",
                        "state" => "`state`",
                        _ => "`on_deny`",
                    },
                    k,
                ),
            ),
            (Some("action"), _) => match scalar(v) {
                Some("allow") => (&mut s.allow, Seen::at("`action: allow`", k)),
                Some("evaluate") => (&mut s.intercept, Seen::at("`action: evaluate`", k)),
                _ => continue,
            },
            _ => continue,
        };
        seen.0.get_or_insert(seen.1);
    }
}
