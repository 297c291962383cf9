//! The one typed policy model every dialect lowers into, and the only thing
//! the engine ever sees.
//!
//! A `Policy` is always valid: the front ends (Intercept YAML, catalogue
//! YAML, PolicyLayer JSON) parse, normalise and validate before they build
//! one. Every item remembers where in the source file it came from, so later
//! checks (the verifier, the linter) can point at it.

use std::fmt;

/// Policy operands are Go values (yaml.v3 decodes them into `any`).
pub use crate::gofmt::value::Value;

/// A position in a policy source file (1-based line and column). Equality of
/// model items ignores it, so tests can compare structure.
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    pub line: u32,
    pub column: u32,
}

impl PartialEq for Span {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Which file format a policy was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PolicyLayer Intercept's YAML (`version: "1"`, named rules, conditions, state).
    Intercept,
    /// The catalogue form (`- action: allow` with `rate_limit: {max, window}` in seconds).
    Catalogue,
    /// PolicyLayer's hosted `policy.json` (`tools.<name>.limits[]`).
    PolicyLayer,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Intercept => "intercept",
            Dialect::Catalogue => "catalogue",
            Dialect::PolicyLayer => "policylayer",
        }
    }

    /// As a sentence names it.
    pub fn title(self) -> &'static str {
        match self {
            Dialect::Intercept => "Intercept YAML",
            Dialect::Catalogue => "the catalogue form",
            Dialect::PolicyLayer => "PolicyLayer policy.json",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Allow,
    Deny,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub dialect: Dialect,
    pub version: String,
    pub description: String,
    pub default: DefaultAction,
    /// Exact tool names to hide; `"*"` hides every tool.
    pub hide: Vec<String>,
    /// Tools in file order. The key `"*"` holds the wildcard rules.
    pub tools: Vec<ToolPolicy>,
    /// Where the top-level keys sit in the source file, for pointing at them.
    pub keys: TopKeys,
}

/// Positions of a policy file's top-level keys (`None`: the file has no such key).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopKeys {
    pub default: Option<Span>,
    pub hide: Option<Span>,
    pub tools: Option<Span>,
}

/// The `"*"` key: rules for every tool, or, in `hide`, every tool hidden.
pub const WILDCARD: &str = "*";

impl Policy {
    /// A policy with no tools that allows everything: what a file with
    /// nothing in it means, and where the dialect readers start.
    pub fn empty(dialect: Dialect) -> Policy {
        Policy {
            dialect,
            version: String::new(),
            description: String::new(),
            default: DefaultAction::Allow,
            hide: Vec::new(),
            tools: Vec::new(),
            keys: TopKeys::default(),
        }
    }

    pub fn tool(&self, name: &str) -> Option<&ToolPolicy> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Whether `hide` hides tool `name` (named exactly, or `"*"`). The engine
    /// answers the same from an index ([`crate::engine::Hidden`]).
    pub fn hides(&self, name: &str) -> bool {
        self.hide.iter().any(|h| h == name || h == WILDCARD)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ToolPolicy {
    pub name: String,
    pub rules: Vec<Rule>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Evaluate,
    Deny,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub action: Action,
    /// ANDed, evaluated in order, short-circuit.
    pub conditions: Vec<Condition>,
    /// Empty = the generated message (semantics §3).
    pub on_deny: String,
    pub state: Option<StateDef>,
    /// Set when this rule came from a `rate_limit` shorthand (`N/window`, or
    /// the catalogue's `{max, window}`): kept for messages, `convert` and reports.
    pub rate_limit: Option<RateLimit>,
    pub span: Span,
}

/// A rate limit as the author wrote it, before desugaring.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimit {
    pub max: i64,
    pub window: Window,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub path: Path,
    pub op: Op,
    /// The operand, resolved as yaml.v3 would (semantics §1.1), or from JSON.
    pub value: Value,
    /// Compiled pattern when `op` is `Regex` (Go RE2 semantics translated to the `regex` crate).
    pub regex: Option<Regex>,
    pub span: Span,
}

/// A compiled regular expression that compares by its source text; every
/// condition with the same pattern shares one (see [`crate::policy::regex::Cache`]).
#[derive(Clone, Debug)]
pub struct Regex(pub std::sync::Arc<regex::Regex>);

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Path {
    /// `args.a.b` → `["a", "b"]`: descends through JSON objects only.
    Args(Vec<String>),
    /// `state.<key>` → the counter key text after `state.`, used verbatim.
    State(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Neq,
    In,
    NotIn,
    Lt,
    Lte,
    Gt,
    Gte,
    Regex,
    Contains,
    Exists,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            "in" => Op::In,
            "not_in" => Op::NotIn,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "regex" => Op::Regex,
            "contains" => Op::Contains,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Neq => "neq",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Regex => "regex",
            Op::Contains => "contains",
            Op::Exists => "exists",
        }
    }
}

/// A counter window. Intercept's are calendar-aligned UTC minute/hour/day;
/// the catalogue and PolicyLayer forms may give any length in seconds, which
/// is aligned to multiples of that length since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Window {
    Minute,
    Hour,
    Day,
    Seconds(u64),
}

impl Window {
    pub fn length_secs(self) -> u64 {
        match self {
            Window::Minute => 60,
            Window::Hour => 3600,
            Window::Day => 86_400,
            Window::Seconds(n) => n,
        }
    }

    /// The word Intercept uses (`minute`, `hour`, `day`), if there is one.
    pub fn intercept_word(self) -> Option<&'static str> {
        match self {
            Window::Minute => Some("minute"),
            Window::Hour => Some("hour"),
            Window::Day => Some("day"),
            Window::Seconds(_) => None,
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.intercept_word() {
            Some(w) => f.write_str(w),
            None => write!(f, "{}s", self.length_secs()),
        }
    }
}

/// Whose calls share one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CounterScope {
    /// One counter for everything passing through the proxy (Intercept; PolicyLayer `global`).
    Shared,
    /// One counter per identity (PolicyLayer `scope: grant`).
    Grant,
    /// One counter per MCP session.
    Session,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StateDef {
    /// The store key this rule owns, computed by the front end: Intercept's
    /// `T.C` (or `_global.C` for the `"*"` tool); conditions on
    /// `Path::State(k)` read the counter whose `key == k`.
    pub key: String,
    pub counter: String,
    pub window: Window,
    /// Fixed increment (default 1; may be negative, as in Intercept).
    pub increment: i64,
    /// `increment_from: args.a.b` → `["a", "b"]`.
    pub increment_from: Option<Vec<String>>,
    pub scope: CounterScope,
}

