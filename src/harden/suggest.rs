//! `verify --suggest`: a concrete patch for each policy finding, proven.
//!
//! Each finding's check says what the policy lacks (a rate limit, argument
//! conditions, a spend cap, `hide`, `default: deny`); [`super::needs`] turns
//! that into edits of the user's own file. Every edit is applied to a copy,
//! the database re-runs in-process, and the set converges: an edit behind a
//! new over-blocking verdict or a new finding is dropped (or, for a tool
//! `default: deny` now refuses, completed with an entry for it), a finding
//! still open gets the next remedy. What is shown closed was closed in that
//! final run.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::needs::{self, Aspects};
use super::patch::{self, Edit, NewCondition, Note};
use crate::policy::model::{Action, Condition, DefaultAction, Dialect, Path, Policy, WILDCARD};
use serde_json::Value;
use crate::profile::Profile;
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::Requirements;
use crate::scenario::Scenario;
use crate::verify::inprocess::{catalogue_of, InProcessBench, NamedServer};
use crate::verify::measure::Check;
use crate::verify::{self, Finding, Options, Outcome, Summary, Verdict};

/// Rounds of apply → re-run → adjust before giving up on a set of edits.
pub const ROUNDS: usize = 5;

/// Everything a re-run needs besides the policy text.
pub struct Setup<'a> {
    /// The policy file as reports name it.
    pub file: String,
    /// The dialect its text is in, and every patch is written in.
    pub dialect: Dialect,
    pub servers: &'a [NamedServer],
    pub scenarios: &'a [Scenario],
    pub reqs: &'a Requirements,
    pub profile: Profile,
    pub seed: u64,
    pub reproduce: String,
}

/// A finding's identity across runs: scenario, server, tool.
pub type Key = (String, String, String);

pub fn key(o: &Outcome) -> Key {
    (o.scenario.clone(), o.server.clone(), o.tool.clone())
}

/// A policy finding or an over-blocking verdict: what suggestions must close.
pub fn is_bad(o: &Outcome) -> bool {
    o.finding == Some(Finding::Policy)
}

impl Setup<'_> {
    pub fn catalogue(&self) -> Vec<ToolInfo> {
        catalogue_of(self.servers)
    }

    /// Loads the policy text (in the setup's dialect) and runs the database against it in-process.
    pub fn verify(&self, text: &str, profile: Profile) -> Result<(Policy, Vec<Outcome>), String> {
        self.verify_in(self.dialect, text, profile)
    }

    /// [`Self::verify`] for a text in another dialect.
    pub fn verify_in(&self, dialect: Dialect, text: &str, profile: Profile) -> Result<(Policy, Vec<Outcome>), String> {
        let policy = load(dialect, text, &self.file)?;
        let outcomes = self.verify_policy(policy.clone(), profile)?;
        Ok((policy, outcomes))
    }

    /// Runs the database against a policy in-process.
    pub fn verify_policy(&self, policy: Policy, profile: Profile) -> Result<Vec<Outcome>, String> {
        let bench = InProcessBench::new(policy, profile, self.servers.to_vec());
        let opts = Options {
            seed: self.seed,
            reproduce: self.reproduce.clone(),
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            policy_file: self.file.clone(),
            shrink: true,
            fold: true,
        };
        verify::run(&bench, self.scenarios, self.reqs, &opts, &|_| {}, &|| {})
    }
}

/// Loads a (patched) policy text in `dialect`: for Intercept, only what Intercept itself accepts.
pub fn load(dialect: Dialect, text: &str, file: &str) -> Result<Policy, String> {
    let loaded = match dialect {
        Dialect::Intercept => crate::policy::load_intercept(text).map_err(|e| e.to_string()),
        _ => crate::policy::load_str(text, file, Some(dialect)).map(|l| l.policy).map_err(|e| e.to_string()),
    };
    loaded.map_err(|e| format!("the patched policy does not load: {e}"))
}

/// Derived edits as `dialect` writes them, and those it cannot write, each with why.
pub fn translate(dialect: Dialect, edits: impl IntoIterator<Item = Edit>) -> (Vec<Edit>, Vec<(Edit, String)>) {
    let (mut ok, mut no) = (Vec::new(), Vec::new());
    for e in edits {
        match patch::in_dialect(dialect, &e) {
            Ok(written) => {
                for w in written {
                    if !ok.contains(&w) {
                        ok.push(w);
                    }
                }
            }
            Err(why) => no.push((e, why)),
        }
    }
    (ok, no)
}

/// `default: deny`, and an entry for every tool it would otherwise start refusing.
pub fn default_deny_edits(policy: &Policy, catalogue: &[ToolInfo], reqs: &Requirements) -> Vec<Edit> {
    if policy.default == DefaultAction::Deny {
        return Vec::new();
    }
    let mut out = vec![Edit::DefaultDeny];
    for t in catalogue {
        if policy.tool(&t.name).is_none() && !policy.hides(&t.name) && !reqs.for_tool(&t.name, t.risk).is_denied() {
            out.push(Edit::AddTool(t.name.clone()));
        }
    }
    out
}

/// The edits that address one finding of `o` in `policy`; `gaps` collects why some cannot be derived.
/// A spend finding gets what `harden` writes for it, the daily call cap included
/// ([`needs::Aspects::call_cap`]), except on the tools `no_cap` names.
pub fn edits_for_finding(
    policy: &Policy,
    catalogue: &[ToolInfo],
    reqs: &Requirements,
    o: &Outcome,
    no_cap: &BTreeSet<String>,
    gaps: &mut Vec<String>,
) -> Vec<Edit> {
    let Some(tool) = catalogue.iter().find(|t| t.server == o.server && t.name == o.tool) else { return Vec::new() };
    let req = reqs.for_tool(&tool.name, tool.risk);
    if o.verdict == Verdict::OverBlocking {
        return loosen(policy, catalogue, reqs, o, gaps);
    }
    let Some(check) = o.check.as_deref() else { return Vec::new() };
    let aspects = match check {
        Check::Rate { .. } => Aspects { rate: true, ..Default::default() },
        Check::SchemaViolations { .. } | Check::ArgumentBytes { .. } => Aspects { arguments: true, ..Default::default() },
        Check::AmountPerCall { .. } | Check::AmountPerWindow { .. } | Check::PositiveWhole { .. } => {
            Aspects { spend: true, call_cap: !no_cap.contains(&tool.name), ..Default::default() }
        }
        Check::NeverListed { .. } => Aspects { hide: true, ..Default::default() },
        Check::Destinations { checks, forbidden } => return needs::destination_edits(policy.tool(&tool.name), tool, checks, forbidden, gaps),
        // No rule pins a definition: a proxy finding, with no edit.
        Check::Pinned { .. } => return Vec::new(),
        // A limiting flow's allowlist is the field's own, which holds before the read too: its destination edits.
        Check::Flow { to: Some(checks), .. } => return needs::destination_edits(policy.tool(&tool.name), tool, checks, &[], gaps),
        Check::Flow { sources, .. } => return needs::flow_edits(policy, sources, &tool.name),
        Check::NeverReached { tool: reached } if reached == &tool.name && req.is_denied() && !policy.hides(reached) => {
            Aspects { hide: true, ..Default::default() }
        }
        // A proxy setting (its fail mode), not a policy edit.
        Check::Blind { .. } | Check::Answered => return Vec::new(),
        Check::SessionCalls { max } => return needs::session_cap_edit(policy, &tool.name, *max),
        // A name no rule covers (a variant, a tool added later, an unlisted tool): default deny.
        Check::NeverReached { .. } => return default_deny_edits(policy, catalogue, reqs),
    };
    let mut edits = needs::edits_for(policy, tool, reqs, aspects, gaps);
    // policy.json refuses a tool only by leaving it out of `tools` under `default: deny`.
    if policy.dialect == Dialect::PolicyLayer && edits.iter().any(|e| matches!(e, Edit::Hide(..))) {
        edits.extend(default_deny_edits(policy, catalogue, reqs));
    }
    edits
}

/// For an over-blocking verdict, the change to the rule that refused the
/// benign call: a condition on a field the call legitimately leaves out is
/// removed (Intercept cannot say "absent, or …"); a length cap under a
/// declared size is widened; a limit under a declared rate is raised.
fn loosen(policy: &Policy, catalogue: &[ToolInfo], reqs: &Requirements, o: &Outcome, gaps: &mut Vec<String>) -> Vec<Edit> {
    let Some(twin) = o.twin.as_ref() else { return Vec::new() };
    let Some(refused) = twin.refused.as_ref() else { return Vec::new() };
    let Some(called) = catalogue.iter().find(|t| t.server == o.server && t.name == refused.tool) else { return Vec::new() };
    // A rate or spend limit refused it: the rate edits size limits to a declared workload.
    let by_limit = o.blame.as_ref().and_then(|b| b.rule.as_deref()).is_some_and(|name| {
        [policy.tool(&refused.tool), policy.tool(crate::policy::model::WILDCARD)]
            .into_iter()
            .flatten()
            .flat_map(|e| &e.rules)
            .any(|r| r.name == name && r.state.is_some())
    });
    if by_limit {
        let rate = Aspects { rate: true, ..Default::default() };
        return needs::edits_for(policy, called, reqs, rate, gaps);
    }
    let (Some(args), Some(rule_name)) = (twin.refused_arguments.as_ref(), refused.rule.as_deref()) else { return Vec::new() };
    // The rule is the tool's own or a `"*"` one; the edit goes where it is written.
    let found = [refused.tool.as_str(), crate::policy::model::WILDCARD].into_iter().find_map(|owner| {
        let entry = policy.tool(owner)?;
        let (ri, rule) = entry.rules.iter().enumerate().find(|(_, r)| r.name == rule_name)?;
        Some((owner, ri, rule))
    });
    let Some((owner, ri, rule)) = found else { return Vec::new() };
    let value_at = |p: &[String]| p.iter().try_fold(args, |v, k| v.get(k));
    for (ci, c) in rule.conditions.iter().enumerate() {
        let Path::Args(p) = &c.path else { continue };
        match value_at(p) {
            None if c.op != crate::policy::model::Op::Exists => {
                let (field, test) = (p.join("."), format!("{} {}", c.op.as_str(), crate::gofmt::value::model(&c.value)));
                // Both ways to keep a bound there, for the user to choose: Intercept has no "absent, or …".
                let default = called.input_schema["properties"][&p[0]].get("default").filter(|_| p.len() == 1);
                let forbid = match default {
                    Some(d) => format!("or forbid the field (`exists: false`), so the server uses its inputSchema default ({d})"),
                    None => "or forbid the field (`exists: false`)".to_string(),
                };
                return vec![Edit::RemoveCondition {
                    tool: owner.to_string(),
                    rule: ri,
                    condition: ci,
                    note: Note::new(format!(
                        "removed `args.{field} {test}` of rule `{}`: it refused every call that leaves `{field}` out (an Intercept condition is false on a missing field), and Intercept cannot say \"absent, or {test}\"; \
                         to keep it, declare that legitimate calls send `{field}` (`tools: {{{}: {{workload: {{optional: [{field}]}}}}}}` in gauntlet.yaml), {forbid}",
                        rule.name, refused.tool,
                    )),
                }];
            }
            Some(Value::String(text)) if c.op == crate::policy::model::Op::Regex && p.len() == 1 => {
                let crate::policy::model::Value::Str(pattern) = &c.value else { continue };
                let len = text.chars().count() as u64;
                let (cap, why) = needs::text_cap(policy, called, reqs, &p[0], gaps);
                if cap < len {
                    continue;
                }
                if let Some((old, widened)) = needs::widen_length_cap(pattern, cap) {
                    return vec![Edit::SetCondition {
                        tool: owner.to_string(),
                        rule: ri,
                        condition: ci,
                        value: Value::String(widened),
                        note: Note::new(format!("{why} (rule `{}` capped `{}` at {old}, under the {len} a legitimate call sends)", rule.name, p[0])),
                    }];
                }
            }
            _ => {}
        }
    }
    Vec::new()
}

/// Where a set of edits ended up after the proof loop.
pub struct Converged {
    pub edits: Vec<Edit>,
    pub text: String,
    pub policy: Policy,
    pub outcomes: Vec<Outcome>,
    /// Edits that could not be written into this file, and why.
    pub unwritable: Vec<String>,
    /// Requirements the loop found no edit for, each with what would meet it.
    pub gaps: Vec<String>,
    /// Runs of the database this took.
    pub runs: usize,
}

/// Adds edits not already there; a rule added to the same tool under the same
/// name absorbs the new conditions instead (one `arguments` rule per tool).
fn push_new(edits: &mut Vec<Edit>, more: impl IntoIterator<Item = Edit>) -> bool {
    let mut changed = false;
    for e in more {
        if let Some(Edit::AddRule { rule: have, .. }) = edits.iter_mut().find(|x| x.same_place(&e)) {
            if let Edit::AddRule { rule, .. } = &e {
                for c in &rule.conditions {
                    if !have.conditions.contains(c) {
                        have.conditions.push(c.clone());
                        changed = true;
                    }
                }
            }
            continue;
        }
        if !edits.contains(&e) {
            edits.push(e);
            changed = true;
        }
    }
    changed
}

/// Applies what can be applied, recording what cannot.
fn apply_each(dialect: Dialect, base: &str, edits: &mut Vec<Edit>, unwritable: &mut Vec<String>) -> String {
    let mut text = base.to_string();
    let mut kept = Vec::new();
    for e in edits.drain(..) {
        let parsed = |t: String| match dialect {
            Dialect::Intercept => crate::policy::intercept::load_raw(&t).map(|_| t).map_err(|(m, _)| m),
            _ => load(dialect, &t, "policy").map(|_| t),
        };
        match patch::apply_all(dialect, &text, [&e]).and_then(parsed) {
            Ok(t) => {
                text = t;
                kept.push(e);
            }
            Err(why) => unwritable.push(why),
        }
    }
    *edits = kept;
    text
}

/// Applies `edits` to `base`, re-runs, and adjusts until nothing changes.
/// `old` holds the findings of `base`: a finding outside it is new.
/// Findings in `out_of_reach` have remedies only outside the dialect: left alone.
/// The tools `no_cap` names get no daily call cap ([`edits_for_finding`]).
pub fn converge(
    setup: &Setup<'_>,
    base: &str,
    mut edits: Vec<Edit>,
    old: &BTreeSet<Key>,
    out_of_reach: &BTreeSet<Key>,
    no_cap: &BTreeSet<String>,
) -> Result<Converged, String> {
    let catalogue = setup.catalogue();
    let original = load(setup.dialect, base, &setup.file)?;
    let mut unwritable = Vec::new();
    let mut gaps = Vec::new();
    let mut runs = 0;
    let mut dropped: Vec<Edit> = Vec::new();
    // What the loop derives, as the file's dialect writes it (what it cannot write is not pursued here).
    let written = |more: Vec<Edit>| translate(setup.dialect, more).0;
    // An edit that lowers a limit of the user's file (not one raising it to a declared workload).
    let lowers = |e: &Edit| match e {
        Edit::SetRateLimit { tool, rule, limit, .. } => original
            .tool(tool)
            .and_then(|t| t.rules.get(*rule))
            .and_then(|r| r.rate_limit.as_ref())
            .is_none_or(|rl| (limit.max as i64) < rl.max),
        _ => true,
    };
    loop {
        prune(&mut edits, &original);
        let text = apply_each(setup.dialect, base, &mut edits, &mut unwritable);
        let ordered = patch::apply_all(setup.dialect, base, &edits).unwrap_or(text);
        let (policy, outcomes) = setup.verify(&ordered, setup.profile)?;
        runs += 1;
        let mut changed = false;
        // Edits this round adds: a remedy another finding already brought in is judged by the next run.
        let before_round = edits.clone();
        if runs < ROUNDS {
            for o in outcomes.iter().filter(|o| is_bad(o) && !out_of_reach.contains(&key(o))) {
                let tool = o.tool.as_str();
                if o.verdict == Verdict::OverBlocking {
                    let refused = o.twin.as_ref().and_then(|t| t.refused.as_ref());
                    let refused_by = refused.and_then(|r| r.rule.clone());
                    // The twin may call another tool than the outcome's.
                    let tool = refused.map(|r| r.tool.as_str()).unwrap_or(tool);
                    let culprits: Vec<Edit> = edits
                        .iter()
                        .filter(|e| lowers(e))
                        .filter(|e| match (e, refused_by.as_deref()) {
                            (Edit::AddRule { tool: t, rule }, Some(name)) => t == tool && rule.name == name,
                            (Edit::Hide(t, _), Some("(hidden)")) | (Edit::Deny(t), Some("deny")) => t == tool,
                            (Edit::SetRateLimit { tool: t, .. } | Edit::AddRule { tool: t, .. }, None) => t == tool,
                            _ => false,
                        })
                        .cloned()
                        .collect();
                    if refused_by.as_deref() == Some("(default deny)") {
                        changed |= push_new(&mut edits, [Edit::AddTool(tool.to_string())]);
                    }
                    for c in culprits {
                        edits.retain(|e| e != &c);
                        dropped.push(c);
                        changed = true;
                    }
                    if !old.contains(&key(o)) || !changed {
                        let more: Vec<Edit> = written(edits_for_finding(&policy, &catalogue, setup.reqs, o, no_cap, &mut gaps))
                            .into_iter()
                            .filter(|e| !dropped.contains(e))
                            .collect();
                        changed |= push_new(&mut edits, more);
                    }
                } else if old.contains(&key(o)) {
                    // Still open: derive again from the patched policy, then reach for default deny.
                    let mut more = edits_for_finding(&policy, &catalogue, setup.reqs, o, no_cap, &mut gaps);
                    more.extend(default_deny_edits(&policy, &catalogue, setup.reqs));
                    let mut more = written(more);
                    more.retain(|e| !dropped.contains(e));
                    changed |= push_new(&mut edits, more);
                } else {
                    // A finding the edits created: its own remedy first (hiding a tool
                    // exposes its name variants to `default: allow`), else the edits on that tool go.
                    let mut more = written(edits_for_finding(&policy, &catalogue, setup.reqs, o, no_cap, &mut gaps));
                    more.retain(|e| !dropped.contains(e));
                    let added_now = !more.is_empty() && more.iter().all(|e| edits.contains(e) && !before_round.contains(e));
                    if push_new(&mut edits, more) {
                        changed = true;
                        continue;
                    }
                    // Two findings one edit created (a hidden tool's case and Unicode variants under
                    // `default: allow`) share one remedy: the second must not undo the edit it repairs.
                    if added_now {
                        continue;
                    }
                    let before = edits.len();
                    let gone: Vec<Edit> = edits.iter().filter(|e| e.tool() == Some(tool)).cloned().collect();
                    edits.retain(|e| e.tool() != Some(tool));
                    dropped.extend(gone);
                    changed |= edits.len() != before;
                }
            }
        }
        if !changed {
            return Ok(Converged { edits, text: ordered, policy, outcomes, unwritable, gaps, runs });
        }
    }
}

/// Drops the edits that would add to or change the rules of a tool another
/// edit hides or denies outright: nothing goes after a rule that always denies.
fn prune(edits: &mut Vec<Edit>, original: &Policy) {
    let refused: BTreeSet<String> =
        edits.iter().filter_map(|e| match e { Edit::Hide(t, _) | Edit::Deny(t) => Some(t.clone()), _ => None }).collect();
    edits.retain(|e| match e {
        Edit::AddRule { tool, .. } | Edit::SetRateLimit { tool, .. } | Edit::SetCondition { tool, .. } => !refused.contains(tool),
        _ => true,
    });
    drop_implied(edits, original);
}

/// Takes out of the rules the edits add each condition that a condition
/// every call of the tool already passes implies (in the policy, or added
/// earlier), and a rule left with nothing to check or count: the same
/// check written twice says nothing more (git's `"*"` rule `repo_path eq
/// /srv/app` and a destination rule `repo_path in [/srv/app]` on every tool).
fn drop_implied(edits: &mut Vec<Edit>, original: &Policy) {
    // A condition another edit removes or rewrites implies nothing any more.
    let changed: Vec<(String, usize, usize)> = edits
        .iter()
        .filter_map(|e| match e {
            Edit::RemoveCondition { tool, rule, condition, .. } | Edit::SetCondition { tool, rule, condition, .. } => Some((tool.clone(), *rule, *condition)),
            _ => None,
        })
        .collect();
    let mut added: Vec<(String, NewCondition)> = Vec::new();
    edits.retain_mut(|e| {
        let Edit::AddRule { tool, rule } = e else { return true };
        let standing = standing_conditions(original, tool, &changed);
        rule.conditions.retain(|c| {
            let implied = standing.iter().any(|by| needs::implies(by, c)) || added.iter().any(|(t, a)| t == tool && a == c);
            if !implied {
                added.push((tool.clone(), c.clone()));
            }
            !implied
        });
        !rule.conditions.is_empty() || rule.rate_limit.is_some() || rule.state.is_some()
    });
}

/// The argument conditions every call of `tool` must pass in `policy` (its
/// own rules' and the `"*"` rules', each evaluated rule must pass), but those
/// `changed` names as (entry, rule, condition).
fn standing_conditions<'p>(policy: &'p Policy, tool: &str, changed: &[(String, usize, usize)]) -> Vec<&'p Condition> {
    let entries = [tool, WILDCARD].into_iter().filter(|e| *e == tool || tool != WILDCARD);
    let mut out = Vec::new();
    for entry in entries {
        let Some(p) = policy.tool(entry) else { continue };
        for (i, r) in p.rules.iter().enumerate().filter(|(_, r)| r.action == Action::Evaluate) {
            for (j, c) in r.conditions.iter().enumerate() {
                if matches!(c.path, Path::Args(_)) && !changed.iter().any(|(t, ri, ci)| t == entry && *ri == i && *ci == j) {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// One proven edit, as a patch against the user's file.
#[derive(Clone, Debug, Serialize)]
pub struct Suggestion {
    #[serde(skip)]
    pub edit: Edit,
    /// What the edit does, in a few words.
    pub what: String,
    /// A unified diff of this edit alone against the user's file.
    pub diff: String,
    /// The findings it addresses that the final run shows closed (`scenario × tool`).
    pub closes: Vec<String>,
}

/// A finding no suggestion closes, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Open {
    pub finding: String,
    pub why: String,
}

/// A remedy the policy's dialect has no way to write, shown in Intercept YAML instead.
#[derive(Clone, Debug, Serialize)]
pub struct Inexpressible {
    /// What the edit does, in a few words.
    pub what: String,
    /// Why the dialect cannot say it.
    pub why: String,
    /// The edit as a unified diff against the policy's Intercept form (`gauntlet convert`'s output).
    pub intercept: String,
    /// The findings it would close (`scenario × tool`): they stay open in this dialect.
    pub closes: Vec<String>,
}

/// The Intercept form the inexpressible remedies are shown against, and what it verifies to with them.
#[derive(Clone, Debug, Serialize)]
pub struct InterceptCheck {
    /// Where `gauntlet convert --to intercept` would write the policy's Intercept form.
    pub file: String,
    /// The command that writes it.
    pub convert: String,
    /// The suggestions above and these remedies, all in Intercept YAML, re-run.
    pub after: Summary,
    /// Policy findings and over-blocking left in the policy's own dialect with the suggestions applied…
    pub left: usize,
    /// …and how many of them these remedies address.
    pub named: usize,
}

/// What `--suggest` found and proved.
#[derive(Clone, Debug, Serialize)]
pub struct Suggestions {
    /// The dialect every patch is written in (`intercept`, `catalogue`, `policylayer`).
    pub dialect: String,
    pub items: Vec<Suggestion>,
    /// All suggestions together, as one diff.
    pub combined: String,
    /// Remedies the dialect cannot express, with their Intercept equivalent.
    pub inexpressible: Vec<Inexpressible>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intercept_check: Option<InterceptCheck>,
    pub open: Vec<Open>,
    /// Per proxy finding: why no policy closes it, and what a profile or proxy change does.
    pub proxy: Vec<Open>,
    pub before: Summary,
    pub after: Summary,
    /// Findings (policy or over-blocking) the suggestions would create: always 0 when shown.
    pub created: usize,
    pub runs: usize,
    pub scenarios: usize,
    pub tools: usize,
}

impl Suggestions {
    /// What the proof was, in one sentence (`None` when no suggestion is shown).
    pub fn checked(&self) -> Option<String> {
        (!self.items.is_empty()).then(|| {
            use crate::wording::count;
            let applied = match self.items.len() {
                1 => "the suggestion applied".to_string(),
                n => format!("all {n} suggestions applied together"),
            };
            format!(
                "Checked: {applied} to a copy, {} × {} re-run ({}): {} → {} policy findings, {} → {} over-blocking, {} new findings.",
                count(self.scenarios, "scenario"),
                count(self.tools, "tool"),
                count(self.runs, "run"),
                self.before.policy_findings,
                self.after.policy_findings,
                self.before.over_blocking,
                self.after.over_blocking,
                self.created
            )
        })
    }

    /// The suggestions that close the finding `scenario × tool`.
    pub fn closing<'a>(&'a self, o: &'a Outcome) -> impl Iterator<Item = &'a Suggestion> + 'a {
        let me = label(o);
        self.items.iter().filter(move |s| s.closes.contains(&me))
    }

    /// Why no suggestion closes the finding `scenario × tool`, when that is known.
    pub fn why_open(&self, o: &Outcome) -> Option<String> {
        let me = label(o);
        if let Some(x) = self.inexpressible.iter().find(|x| x.closes.contains(&me)) {
            return Some(format!("{} would close it, but {}", x.what, x.why));
        }
        self.open.iter().chain(&self.proxy).find(|x| x.finding == me).map(|x| x.why.clone())
    }
}

fn label(o: &Outcome) -> String {
    format!("{} × {}", o.scenario, o.tool)
}

/// Remedies the dialect cannot write, merged by place (one `arguments` rule per tool), with the findings each addresses.
#[derive(Default)]
struct Unwritten(Vec<(Edit, String, Vec<Key>)>);

impl Unwritten {
    fn add(&mut self, edit: Edit, why: String, k: &Key) {
        match self.0.iter_mut().find(|(e, _, _)| e.same_place(&edit)) {
            Some((have, _, keys)) => {
                if let (Edit::AddRule { rule: into, .. }, Edit::AddRule { rule, .. }) = (have, &edit) {
                    for c in &rule.conditions {
                        if !into.conditions.contains(c) {
                            into.conditions.push(c.clone());
                        }
                    }
                }
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
            None => self.0.push((edit, why, vec![k.clone()])),
        }
    }

    fn keys(&self) -> BTreeSet<Key> {
        self.0.iter().flat_map(|(_, _, ks)| ks.iter().cloned()).collect()
    }
}

/// Where `gauntlet convert FILE --to intercept` output would sit beside the file.
fn intercept_file(file: &str) -> String {
    std::path::Path::new(file).with_extension("intercept.yaml").display().to_string()
}

/// Suggests proven patches for the policy findings of `outcomes`, a run of `text`.
pub fn suggest(setup: &Setup<'_>, text: &str, outcomes: &[Outcome]) -> Result<Suggestions, String> {
    let policy = load(setup.dialect, text, &setup.file)?;
    let catalogue = setup.catalogue();
    let bad: Vec<&Outcome> = outcomes.iter().filter(|o| is_bad(o)).collect();
    let old: BTreeSet<Key> = bad.iter().map(|o| key(o)).collect();
    let mut gaps = Vec::new();
    let mut per_finding: BTreeMap<Key, Vec<Edit>> = BTreeMap::new();
    let mut edits = Vec::new();
    let mut unwritten = Unwritten::default();
    let mut out_of_reach = BTreeSet::new();
    // Every tool may get the daily call cap harden writes: the re-run drops one that refuses legitimate calls.
    let no_cap = &BTreeSet::new();
    for o in &bad {
        let (mine, cannot) = translate(setup.dialect, edits_for_finding(&policy, &catalogue, setup.reqs, o, no_cap, &mut gaps));
        push_new(&mut edits, mine.iter().cloned());
        if mine.is_empty() && !cannot.is_empty() {
            out_of_reach.insert(key(o));
        }
        for (e, why) in cannot {
            unwritten.add(e, why, &key(o));
        }
        let mine = mine.into_iter().filter(|e| !matches!(e, Edit::AddTool(_))).collect();
        per_finding.insert(key(o), mine);
    }
    let c = if edits.is_empty() {
        Converged {
            edits: Vec::new(),
            text: text.to_string(),
            policy: policy.clone(),
            outcomes: outcomes.to_vec(),
            unwritable: Vec::new(),
            gaps: Vec::new(),
            runs: 0,
        }
    } else {
        converge(setup, text, edits, &old, &out_of_reach, no_cap)?
    };
    let mut c = c;
    // An entry another edit already creates needs no suggestion of its own.
    let creates = |t: &str, e: &Edit| matches!(e, Edit::AddRule { tool, .. } | Edit::Deny(tool) if tool == t);
    let all = c.edits.clone();
    c.edits.retain(|e| !matches!(e, Edit::AddTool(t) if all.iter().any(|x| creates(t, x))));
    let after: BTreeMap<Key, &Outcome> = c.outcomes.iter().map(|o| (key(o), o)).collect();
    let closed = |k: &Key| after.get(k).is_none_or(|o| !is_bad(o));
    let created = c.outcomes.iter().filter(|o| is_bad(o) && !old.contains(&key(o))).count();
    let elsewhere = unwritten.keys();
    let mut open = Vec::new();
    for o in &bad {
        if closed(&key(o)) || elsewhere.contains(&key(o)) {
            continue;
        }
        let why = match (per_finding.get(&key(o)).map(Vec::is_empty), gaps.iter().find(|g| g.contains(&format!("`{}`", o.tool)))) {
            (_, Some(g)) => g.clone(),
            (Some(true), None) => "gauntlet has no remedy for it; change the rule it blames by hand".into(),
            _ => format!(
                "the suggested edits did not close it in the re-run ({})",
                after.get(&key(o)).map(|a| a.observed.clone()).unwrap_or_default()
            ),
        };
        open.push(Open { finding: label(o), why });
    }
    for u in &c.unwritable {
        open.push(Open { finding: "(edit)".into(), why: u.clone() });
    }
    let items: Vec<Suggestion> = if created > 0 {
        Vec::new()
    } else {
        c.edits
            .iter()
            .map(|e| {
                let alone = patch::apply_all(setup.dialect, text, [e]).unwrap_or_else(|_| text.to_string());
                let closes = bad
                    .iter()
                    .filter(|o| closed(&key(o)) && per_finding.get(&key(o)).is_some_and(|es| es.iter().any(|x| x.same_place(e))))
                    .map(|o| label(o))
                    .collect();
                let what = patch::describe_in(setup.dialect, e);
                Suggestion { edit: e.clone(), what, diff: patch::diff(&setup.file, text, &alone), closes }
            })
            .collect()
    };
    let combined = if items.is_empty() { String::new() } else { patch::diff(&setup.file, text, &c.text) };
    let (inexpressible, intercept_check) = in_intercept(setup, &policy, &c.policy, &unwritten, &bad, &c.outcomes)?;
    let proxy = proxy_notes(setup, &c.text, &c.outcomes)?;
    Ok(Suggestions {
        dialect: setup.dialect.as_str().to_string(),
        items,
        combined,
        inexpressible,
        intercept_check,
        open,
        proxy,
        before: Summary::of(outcomes),
        after: Summary::of(&c.outcomes),
        created,
        runs: c.runs,
        scenarios: setup.scenarios.len(),
        tools: catalogue.len(),
    })
}

/// The remedies the dialect cannot write, as Intercept YAML against the
/// policy's converted form, and a run of the patched policy converted with
/// them applied too.
fn in_intercept(
    setup: &Setup<'_>,
    original: &Policy,
    patched: &Policy,
    unwritten: &Unwritten,
    bad: &[&Outcome],
    after: &[Outcome],
) -> Result<(Vec<Inexpressible>, Option<InterceptCheck>), String> {
    if unwritten.0.is_empty() {
        return Ok((Vec::new(), None));
    }
    let file = intercept_file(&setup.file);
    let conversion = crate::policy::to_intercept::convert(original);
    // `convert` refuses a lossy conversion (per-grant counters, odd windows) unless told.
    let lossy = if conversion.losses.is_empty() { "" } else { " --lossy" };
    let converted = conversion.yaml;
    let items = unwritten
        .0
        .iter()
        .map(|(e, why, keys)| {
            let alone = patch::apply_all(Dialect::Intercept, &converted, [e]).unwrap_or_else(|_| converted.clone());
            Inexpressible {
                what: e.describe(),
                why: why.clone(),
                intercept: patch::diff(&file, &converted, &alone),
                closes: bad.iter().filter(|o| keys.contains(&key(o))).map(|o| label(o)).collect(),
            }
        })
        .collect();
    let base = crate::policy::to_intercept::convert(patched).yaml;
    let all = patch::apply_all(Dialect::Intercept, &base, unwritten.0.iter().map(|(e, _, _)| e))?;
    let (_, outcomes) = setup.verify_in(Dialect::Intercept, &all, setup.profile)?;
    let convert = format!(
        "{} convert {} --to intercept{lossy} -o {}",
        crate::invocation::program(),
        crate::invocation::quote_path(std::path::Path::new(&setup.file)),
        crate::invocation::quote_path(std::path::Path::new(&file))
    );
    let keys = unwritten.keys();
    let left: Vec<&Outcome> = after.iter().filter(|o| is_bad(o)).collect();
    let named = left.iter().filter(|o| keys.contains(&key(o))).count();
    Ok((items, Some(InterceptCheck { file, convert, after: Summary::of(&outcomes), left: left.len(), named })))
}

/// Why each proxy finding is out of a policy's reach, and whether `--profile strict` closes it (checked by a run).
fn proxy_notes(setup: &Setup<'_>, text: &str, outcomes: &[Outcome]) -> Result<Vec<Open>, String> {
    let proxy: Vec<&Outcome> = outcomes.iter().filter(|o| o.finding == Some(Finding::Proxy)).collect();
    if proxy.is_empty() {
        return Ok(Vec::new());
    }
    let strict: BTreeMap<Key, Outcome> = if setup.profile == Profile::Strict {
        BTreeMap::new()
    } else {
        setup.verify(text, Profile::Strict)?.1.into_iter().map(|o| (key(&o), o)).collect()
    };
    Ok(proxy
        .iter()
        .map(|o| {
            let reason = o.note.clone().unwrap_or_else(|| {
                "the attack works on the wire or in the proxy's own bookkeeping, below anything a rule can see".into()
            });
            let profile = match strict.get(&key(o)) {
                Some(s) if s.finding.is_none() => {
                    "`--profile strict` closes it (re-run with the strict profile: no finding)".to_string()
                }
                Some(_) => "`--profile strict` does not close it either: it needs a change in the proxy itself".to_string(),
                None => "it needs a change in the proxy itself".to_string(),
            };
            Open { finding: label(o), why: format!("no policy can close it: {reason}; {profile}") }
        })
        .collect())
}

/// `a × t, b × t, c × u` as `a, b × t; c × u`.
pub fn grouped(findings: &[String]) -> String {
    let mut by_tool: Vec<(&str, Vec<&str>)> = Vec::new();
    for f in findings {
        let (scenario, tool) = f.split_once(" × ").unwrap_or((f, ""));
        match by_tool.iter_mut().find(|(t, _)| *t == tool) {
            Some((_, ss)) => ss.push(scenario),
            None => by_tool.push((tool, vec![scenario])),
        }
    }
    by_tool.iter().map(|(t, ss)| format!("{} × {t}", ss.join(", "))).collect::<Vec<_>>().join("; ")
}

/// The name the reports give the policy's dialect.
pub fn dialect_shown(d: &str) -> &'static str {
    match d {
        "catalogue" => patch::dialect_name(Dialect::Catalogue),
        "policylayer" => patch::dialect_name(Dialect::PolicyLayer),
        _ => patch::dialect_name(Dialect::Intercept),
    }
}

/// The line that introduces the remedies the dialect cannot write.
pub fn inexpressible_heading(s: &Suggestions, check: &InterceptCheck) -> String {
    format!(
        "Not expressible in {} ({}): each as Intercept YAML, a diff against the policy's Intercept form (`{}`)",
        dialect_shown(&s.dialect),
        s.inexpressible.len(),
        check.convert
    )
}

/// What the Intercept equivalents were checked against.
pub fn intercept_line(s: &Suggestions, check: &InterceptCheck) -> String {
    format!(
        "Checked in Intercept YAML: the {} suggestion(s) above and these {} applied together to the policy's Intercept form, re-run: {} policy findings, {} over-blocking. Left in {}: {} finding(s), {} of them named above.",
        s.items.len(),
        s.inexpressible.len(),
        check.after.policy_findings,
        check.after.over_blocking,
        dialect_shown(&s.dialect),
        check.left,
        check.named
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harden::patch::NewRule;

    fn cond(path: &str, op: &'static str, value: Value) -> NewCondition {
        NewCondition { path: path.into(), op, value, note: Note::default() }
    }

    fn rule(name: &str, conditions: Vec<NewCondition>) -> Edit {
        Edit::AddRule { tool: "git_add".into(), rule: NewRule { name: name.into(), rate_limit: None, on_deny: None, conditions, state: None, note: Note::default() } }
    }

    /// git's `"*"` rule pins `repo_path`; harden wrote the same pin again on
    /// every tool (`in ["/srv/app"]`). A condition implied by one every call
    /// passes is dropped, and so is a rule left with nothing to check; one
    /// that narrows the set, or whose implying condition is being removed, stays.
    #[test]
    fn a_condition_the_policy_already_implies_is_not_written_again() {
        let policy = crate::policy::load_intercept(
            "version: \"1\"\ntools:\n  \"*\":\n    rules:\n      - name: one repo\n        conditions:\n          - {path: args.repo_path, op: eq, value: \"/srv/app\"}\n  git_add:\n    rules:\n      - name: files\n        conditions:\n          - {path: args.files, op: in, value: [a, b]}\n",
        )
        .unwrap();
        let pin = cond("args.repo_path", "in", serde_json::json!(["/srv/app"]));
        let typed = cond("args.repo_path", "regex", Value::from("^/srv/[a-z]+$"));
        let present = cond("args.files", "exists", Value::Bool(true));
        let narrower = cond("args.files", "in", serde_json::json!(["a"]));
        let mut edits = vec![rule("destinations", vec![pin.clone()]), rule("arguments", vec![typed, present, narrower.clone(), narrower.clone()])];
        prune(&mut edits, &policy);
        // The destination rule had nothing else: gone. Of the argument rule only the narrower list stays, once.
        assert_eq!(edits, vec![rule("arguments", vec![narrower])]);
        // The `"*"` condition is being removed by another edit: it implies nothing, the pin is written.
        let removal = Edit::RemoveCondition { tool: "*".into(), rule: 0, condition: 0, note: Note::default() };
        let mut edits = vec![removal.clone(), rule("destinations", vec![pin.clone()])];
        prune(&mut edits, &policy);
        assert_eq!(edits, vec![removal, rule("destinations", vec![pin])]);
    }
}
