//! Proofs instead of samples: for every tool of the servers in play and
//! every requirement in force that is about single calls (denied tools,
//! required arguments' types and bounds, argument size, amounts per call,
//! and the per-window bound of the rate and amount limits), the answer is
//! **proved** (no call, argument value or time breaks it), **refuted**
//! (a counterexample: calls with arguments and times that the engine
//! allows and the requirement forbids, replayed before it is shown), or
//! **unknown** with the reason.
//!
//! The questions are asked of the engine's admission model
//! ([`crate::engine::admission`]): exact sets per argument path, automata
//! for strings, intervals for numbers, the limits' window arithmetic. A
//! proof is an empty set or a bound at or under the requirement's; a
//! refutation is a witness replayed through the engine. Whatever the
//! model cannot decide is unknown, never proved.
//!
//! Parts: [`single`] (one-call requirements), [`rate`] (window bounds and
//! burst schedules), [`strict`] (what the strict profile's schema check
//! holds), [`trace`] (counterexamples and their replay command),
//! [`facts`] (what is true of a policy whatever the requirements), [`diff`]
//! (what one policy admits that another refuses).

pub mod diff;
pub mod facts;
pub mod rate;
pub mod single;
pub mod strict;
#[cfg(test)]
mod crosscheck;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_exact;
pub mod trace;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::engine::admission::{Answer, Prefer, Tool};
use crate::engine::Engine;
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::{AmountWindow, Requirements};
use crate::verify::blame::PolicyLocation;
pub use trace::{Call, Counterexample, ReplayCommand};

/// A proof's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Proved,
    Refuted,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Proved => "proved",
            Status::Refuted => "refuted",
            Status::Unknown => "unknown",
        }
    }
}

/// One requirement on one tool, answered.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proof {
    pub server: String,
    pub tool: String,
    /// The requirement's kind: `denied`, `rate`, `schema`, `size`, `amount-per-call`, `amount-per-window`.
    pub requirement: &'static str,
    /// What must hold, in words (`≤30 calls per 1m sliding`).
    pub statement: String,
    pub status: Status,
    /// Why it holds, how the counterexample breaks it, or why it is unknown.
    pub reason: String,
    /// The policy line responsible (the rule that bounds it, or the tool's entry).
    pub location: PolicyLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Counterexample>,
    /// A refutation no Intercept policy can close (a proxy matter, as `verify`'s proxy findings).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub proxy: bool,
}

impl Proof {
    /// Marks a refutation as one no policy closes, and says why.
    fn proxy_matter(mut self, why: &str) -> Proof {
        if self.status == Status::Refuted {
            self.proxy = true;
            self.reason.push_str(&format!(" (a proxy matter: {why})"));
        }
        self
    }
}

/// What a prover needs: the engine (its model and its decisions), the
/// policy file as reports name it, the tools in play and the requirements.
pub struct Setup<'a> {
    pub engine: &'a Engine,
    pub policy_file: &'a str,
    pub catalogue: &'a [ToolInfo],
    pub reqs: &'a Requirements,
    pub seed: u64,
    pub replay: ReplayCommand,
}

/// The tally of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: usize,
    pub proved: usize,
    pub refuted: usize,
    pub unknown: usize,
    pub facts: usize,
}

/// Everything one `gauntlet prove` run found.
#[derive(Clone, Debug, Serialize)]
pub struct ProofReport {
    pub schema_version: u32,
    pub tool_version: String,
    pub policy: String,
    pub profile: String,
    pub servers: Vec<String>,
    pub requirements: String,
    pub summary: Summary,
    pub proofs: Vec<Proof>,
    pub facts: Vec<facts::Fact>,
    /// What no Intercept policy can bound, so no proof covers it.
    pub beyond: Vec<String>,
}

impl ProofReport {
    pub fn new(policy: &str, profile: &str, servers: Vec<String>, requirements: String, proofs: Vec<Proof>, facts: Vec<facts::Fact>) -> ProofReport {
        let count = |s: Status| proofs.iter().filter(|p| p.status == s).count();
        let summary = Summary {
            total: proofs.len(),
            proved: count(Status::Proved),
            refuted: count(Status::Refuted),
            unknown: count(Status::Unknown),
            facts: facts.len(),
        };
        ProofReport {
            schema_version: 1,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            policy: policy.to_string(),
            profile: profile.to_string(),
            servers,
            requirements,
            summary,
            proofs,
            facts,
            beyond: BEYOND.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Said once per report: where the proofs stop because Intercept's conditions do.
pub const BEYOND: &[&str] = &[
    "optional and undeclared fields: a condition on a missing field is false, so no rule bounds a field without requiring it (schema, size and amounts are proved over required fields)",
    "the JSON type and size of a required list or object field: a condition true on every list is true on all but finitely many strings and numbers, so a policy can only keep such a field present and not null (which prove checks)",
    "array elements and members of objects below the top level: prove checks each required field's own type and bounds",
    "calls the server answers with a JSON-RPC error give their reservation back (a proxy matter, tested by `verify`)",
];

/// Proves every single-call requirement on every tool in play.
pub fn prove(s: &Setup<'_>) -> Vec<Proof> {
    let mut out = Vec::new();
    for tool in s.catalogue.iter().filter(|t| t.surface == crate::mock::Surface::Tool) {
        let req = s.reqs.for_tool(&tool.name, tool.risk);
        let model = s.engine.admission().tool(&tool.name);
        let ctx = Context { s, tool, model, base: base_call(s, tool) };
        if req.is_denied() {
            out.push(single::denied(&ctx));
            continue;
        }
        if s.reqs.schema_validation {
            out.push(strict::schema(&ctx, single::schema(&ctx)));
        }
        out.push(single::size(&ctx, s.reqs.max_argument_bytes));
        let amounts = single::amount_fields(tool);
        // Caps in the unit each amount field is written in (its role's unit; minor units by default).
        // An optional or nullable amount: as `verify` blames the same call, on the proxy.
        let amount = |p: Proof, f: &str| match crate::verify::measure::unboundable_amount(&tool.input_schema, f) {
            Some(why) => p.proxy_matter(&why),
            None => p,
        };
        if let Some(m) = req.max_amount_per_call {
            for f in &amounts {
                out.push(amount(single::amount_per_call(&ctx, f, m.in_field(tool.role_of(f))), f));
            }
        }
        if let Some(bound) = req.rate {
            out.push(rate::calls(&ctx, bound));
        }
        if let Some(w) = req.max_amount_per_window {
            for f in &amounts {
                let w = AmountWindow { amount: w.money().in_field(tool.role_of(f)), ..w };
                out.push(amount(rate::amounts(&ctx, f, w), f));
            }
        }
    }
    out
}

/// One tool under proof.
pub struct Context<'a> {
    pub s: &'a Setup<'a>,
    pub tool: &'a ToolInfo,
    pub model: Tool<'a>,
    /// A schema-valid call to start witnesses from (readable values).
    pub base: Map<String, Json>,
}

impl Context<'_> {
    /// A proof about this tool.
    pub fn proof(&self, requirement: &'static str, statement: String, status: Status, reason: String, location: PolicyLocation) -> Proof {
        Proof {
            server: self.tool.server.clone(),
            tool: self.tool.name.clone(),
            requirement,
            statement,
            status,
            reason,
            location,
            counterexample: None,
            proxy: false,
        }
    }

    /// A call the policy admits, if any: `Err` with the proof's status and reason otherwise.
    pub fn admitted(&self) -> Result<Map<String, Json>, (Status, String)> {
        match self.model.admitted(&self.base, &Prefer::default()) {
            Answer::Yes(args) => Ok(args),
            Answer::No(why) => Err((Status::Proved, format!("no call of the tool passes: {why}"))),
            Answer::Unknown(why) => Err((Status::Unknown, why)),
        }
    }

    /// Replays `calls`; a refutation stands only when the engine allowed what it must.
    pub fn replayed(&self, calls: Vec<Call>) -> Counterexample {
        trace::replay(self.s.engine, calls, &self.s.replay)
    }

    /// Where the tool's rules are written (its entry, else the `default:`/`tools:` key).
    pub fn entry(&self) -> PolicyLocation {
        locate::tool(self.s.engine.policy(), self.s.policy_file, &self.tool.name)
    }

    /// Where a rule of the compiled policy is written.
    pub fn rule(&self, name: &str) -> PolicyLocation {
        locate::rule(self.s.engine.policy(), self.s.policy_file, &self.tool.name, name)
    }
}

fn base_call(s: &Setup<'_>, tool: &ToolInfo) -> Map<String, Json> {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(crate::verify::seed_for(s.seed, "prove", &tool.name));
    crate::agent::generate::valid(&tool.input_schema, &mut rng, false).as_object().cloned().unwrap_or_default()
}

/// Policy lines, for pointing at.
pub mod locate {
    use crate::policy::model::{Policy, WILDCARD};
    use crate::verify::blame::PolicyLocation;

    fn at(file: &str, line: Option<u32>) -> PolicyLocation {
        PolicyLocation { file: file.to_string(), line: line.unwrap_or(1).max(1) }
    }

    /// The tool's entry, else the `"*"` entry, else `default:` or `tools:`.
    pub fn tool(policy: &Policy, file: &str, tool: &str) -> PolicyLocation {
        if policy.hides(tool) {
            return at(file, policy.keys.hide.map(|s| s.line));
        }
        let entry = policy.tool(tool).or_else(|| policy.tool(WILDCARD));
        at(file, entry.map(|t| t.span.line).or(policy.keys.default.map(|s| s.line)).or(policy.keys.tools.map(|s| s.line)))
    }

    /// The rule named `name` among the tool's rules, then the `"*"` rules.
    pub fn rule(policy: &Policy, file: &str, tool: &str, name: &str) -> PolicyLocation {
        let found = [tool, WILDCARD]
            .iter()
            .filter_map(|t| policy.tool(t))
            .flat_map(|t| t.rules.iter())
            .find(|r| r.name == name)
            .map(|r| r.span.line);
        match found {
            Some(line) => at(file, Some(line)),
            None => self::tool(policy, file, tool),
        }
    }
}
