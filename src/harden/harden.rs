//! `gauntlet harden`: a whole policy that meets the requirements in force,
//! written only once a run of the database proves it.
//!
//! It starts from the user's policy text (or a `default: deny` skeleton for
//! the servers alone), adds for every tool what [`super::needs`] derives
//! (rate limits sized for calendar windows, argument conditions from the
//! inputSchema, spend caps, `hide` for denied tools) and `default: deny`
//! with an entry for each tool the input allowed, then lets the proof loop
//! of [`super::suggest`] settle it. Nothing the input allowed is removed
//! unless the requirements forbid it; existing rules are only tightened,
//! except where one refuses legitimate calls (a condition on an optional
//! field, a cap under a declared size, a limit under a declared rate), which
//! is loosened with the reason said. It always returns the strongest policy
//! it could build; what that policy does not meet is named per requirement,
//! with the edit that would meet it. In a dialect without argument
//! conditions or spend counters (policy.json) that includes each
//! requirement × tool the dialect cannot express. In Intercept YAML it also
//! writes the entries the strict profile gates resources and prompts by
//! ([`super::surfaces`]). A daily call cap that keeps a spend counter's
//! uncounted fractions under the cap is tried first; a tool whose cap
//! leaves findings or refuses legitimate calls gets its counter alone.

use std::collections::BTreeSet;

use super::needs::{self, Aspects};
use super::patch::{self, Construct, Edit};
use super::surfaces;
use super::suggest::{self, default_deny_edits, is_bad, Key, Setup};
use crate::policy::model::{DefaultAction, Dialect};
use crate::verify::destinations::Origin;
use crate::verify::measure::Check;
use crate::verify::Outcome;

/// The policy `harden` wrote, and what it could not meet.
pub struct Hardened {
    pub text: String,
    pub outcomes: Vec<Outcome>,
    pub edits: Vec<Edit>,
    pub runs: usize,
    /// Destination fields no requirement gave an allowlist, so the policy
    /// admits only an assumed legitimate value: `tool.field`, what it admits,
    /// and whether that is the input policy's own value or a stand-in.
    pub assumed: Vec<(String, String, Origin)>,
    /// Policy findings and over-blocking verdicts of the final run that nothing below names.
    pub open: Vec<Outcome>,
    /// Edits the proof loop needed that could not be written into the file, and why.
    pub unwritable: Vec<String>,
    /// What no condition can say or a declared workload asks past a
    /// requirement, each with the edit that would settle it (in gauntlet.yaml
    /// or by hand). The proof run decides whether one leaves a finding open.
    pub gaps: Vec<String>,
    /// Requirement × tool the dialect cannot express, with the findings each leaves.
    pub unmet: Vec<Unmet>,
}

impl Hardened {
    /// Whether the written policy meets the requirements: its proof run shows
    /// 0 policy findings and 0 over-blocking, and every edit it needed was written.
    pub fn meets(&self) -> bool {
        self.open.is_empty() && self.unwritable.is_empty() && self.unmet.is_empty()
    }
}

/// A requirement the output dialect cannot express for one tool.
pub struct Unmet {
    /// The requirement, as the bound it sets and its `gauntlet.yaml` key.
    pub requirement: String,
    pub tool: String,
    /// Why the dialect cannot express it.
    pub why: String,
    /// The findings it leaves open (scenario names).
    pub findings: Vec<String>,
}

/// The starting point without an input policy: deny by default, nothing listed yet.
pub fn skeleton(servers: &[String]) -> String {
    format!(
        "# Written by `gauntlet harden` for: {}.\n# Verified against the attack database before it was written.\nversion: \"1\"\ndescription: \"hardened by gauntlet\"\ndefault: deny\ntools:\n",
        servers.join(", ")
    )
}

/// [`skeleton`] in `dialect` (policy.json has no comments).
pub fn skeleton_in(dialect: Dialect, servers: &[String]) -> String {
    match dialect {
        Dialect::PolicyLayer => "{\n  \"version\": \"1\",\n  \"default\": \"deny\",\n  \"tools\": {}\n}\n".to_string(),
        _ => skeleton(servers),
    }
}

/// The first line harden writes above a policy it changed.
const MARK: &str = "# Written by `gauntlet harden`";

/// `hardened` (Intercept YAML harden wrote from the user's `base`) with the
/// user's words marked as the input's where harden changed the policy: a
/// header line says what harden did and that the comments under it describe
/// `input`, and `description` names it and keeps the user's text in quotes.
/// A policy harden left as it was keeps its words as written; one that harden
/// already marked is not marked twice.
pub fn mark_input(base: &str, hardened: &str, input: &str) -> String {
    if base == hardened {
        return hardened.to_string();
    }
    let mut out = String::new();
    if !hardened.starts_with(MARK) {
        let commented = hardened.lines().next().is_some_and(|l| l.starts_with('#'));
        out.push_str(&format!("{MARK} from {input}, and verified against the attack database before it was written"));
        out.push_str(if commented { ";\n# the comments below, up to `version:`, are the input's and describe it before hardening.\n" } else { ".\n" });
    }
    for line in hardened.split_inclusive('\n') {
        out.push_str(&relabelled_description(line, input).unwrap_or_else(|| line.to_string()));
    }
    out
}

/// A top-level one-line `description:` that does not yet say harden wrote
/// the policy, rewritten to say so with the input's text kept.
fn relabelled_description(line: &str, input: &str) -> Option<String> {
    let value = line.strip_prefix("description:")?;
    let Ok(serde_yaml::Value::String(text)) = serde_yaml::from_str::<serde_yaml::Value>(value) else { return None };
    if text.starts_with("hardened by gauntlet") || value.trim_start().starts_with(['|', '>']) {
        return None;
    }
    let marked = format!("hardened by gauntlet from {input}; the input's description: {text}");
    let end = if line.ends_with('\n') { "\n" } else { "" };
    Some(format!("description: {}{end}", serde_json::to_string(&marked).ok()?))
}

/// The requirement a finding's check measures, and what the rule it needs is made of;
/// `None` for checks every dialect can meet (call counts, denial).
fn requirement(check: &Check) -> Option<(String, Construct)> {
    let (key, construct) = match check {
        Check::SchemaViolations { .. } => ("schema_validation", Construct::Conditions),
        Check::ArgumentBytes { .. } => ("max_argument_bytes", Construct::Conditions),
        Check::AmountPerCall { .. } => ("max_amount_per_call", Construct::Conditions),
        Check::AmountPerWindow { .. } => ("max_amount_per_window", Construct::SpendCounter),
        // Part of every spend scenario, not a key of its own.
        Check::PositiveWhole { .. } => return Some((check.bound(), Construct::Conditions)),
        Check::Destinations { .. } => return Some((check.bound(), Construct::Conditions)),
        Check::Flow { to: Some(_), .. } => return Some((check.bound(), Construct::Conditions)),
        Check::Flow { .. } => ("flows", Construct::FlowCounter),
        Check::Rate { .. } | Check::NeverReached { .. } | Check::NeverListed { .. } | Check::Pinned { .. } | Check::SessionCalls { .. } | Check::Blind { .. } | Check::Answered => return None,
    };
    Some((format!("{} (`{key}`)", check.bound()), construct))
}

/// Hardens `base` (a policy text in the setup's dialect) for the servers of
/// `setup`: always the strongest policy it can build, with what it could
/// not meet said per requirement.
pub fn harden(setup: &Setup<'_>, base: &str) -> Result<Hardened, String> {
    let policy = suggest::load(setup.dialect, base, &setup.file).map_err(|e| format!("the starting policy: {e}"))?;
    let (capped, caps) = attempt(setup, base, &policy, &BTreeSet::new())?;
    // A daily call cap closes what a spend counter's truncation leaves open,
    // but it takes room from the counter; where a tool's cap refuses
    // legitimate use (or leaves findings on it), that tool's counter is
    // written alone instead, and `gauntlet prove` shows the gap it leaves.
    let troubled: BTreeSet<String> = caps.into_iter().filter(|t| capped.outcomes.iter().any(|o| is_bad(o) && touches(o, t))).collect();
    if troubled.is_empty() {
        return Ok(capped);
    }
    let (mut plain, _) = attempt(setup, base, &policy, &troubled)?;
    let bad = |h: &Hardened| h.outcomes.iter().filter(|o| is_bad(o)).count();
    if bad(&plain) >= bad(&capped) {
        return Ok(capped);
    }
    plain.runs += capped.runs;
    for tool in troubled {
        plain.gaps.push(format!(
            "`{tool}`: a daily cap on its calls, which keeps what Intercept's spend counter does not count (each amount's fraction of a unit) under max_amount_per_window, left findings or refused legitimate calls, so the counter stands alone; `gauntlet prove` shows what the fractions add"
        ));
    }
    Ok(plain)
}

/// Whether outcome `o` is about `tool`, or its benign twin was refused on it.
fn touches(o: &Outcome, tool: &str) -> bool {
    o.tool == tool || o.twin.as_ref().and_then(|t| t.refused.as_ref()).is_some_and(|r| r.tool == tool)
}

/// One try of [`harden`], with no daily call cap on the tools `no_cap`
/// names; and the tools it proposed one for.
fn attempt(setup: &Setup<'_>, base: &str, policy: &crate::policy::model::Policy, no_cap: &BTreeSet<String>) -> Result<(Hardened, Vec<String>), String> {
    let policy = policy.clone();
    let catalogue = setup.catalogue();
    // Where no allowlist is declared, a destination's legitimate value is one
    // the starting policy already admits (its own `eq`/`in`), never a stand-in
    // that contradicts it and leaves the tool admitting nothing.
    let admits = crate::engine::Engine::new(std::sync::Arc::new(policy.clone()), setup.profile);
    let mut gaps = Vec::new();
    let mut assumed = Vec::new();
    let mut edits = default_deny_edits(&policy, &catalogue, setup.reqs);
    if policy.default == DefaultAction::Deny && policy.tools.is_empty() {
        // The skeleton: every tool the requirements permit gets an entry.
        for t in &catalogue {
            if !setup.reqs.for_tool(&t.name, t.risk).is_denied() {
                edits.push(Edit::AddTool(t.name.clone()));
            }
        }
    }
    for t in &catalogue {
        let req = setup.reqs.for_tool(&t.name, t.risk);
        let places = crate::verify::destinations::plan(t, setup.reqs, Some(admits.admission().tool(&t.name)));
        let destinations = if req.is_denied() || needs::refuses_every_call(&policy, &t.name) {
            Vec::new()
        } else {
            for c in places.checks.iter().filter(|c| c.origin.declared().is_none() && c.inexpressible().is_none()) {
                assumed.push((format!("{}.{}", t.name, c.path), c.allow.describe(c.kind), c.origin.clone()));
            }
            needs::destination_edits(policy.tool(&t.name), t, &places.checks, &places.forbidden, &mut gaps)
        };
        let mut flows = Vec::new();
        if let Some(flow) = setup.reqs.flow_refusing(t).filter(|_| !req.is_denied()) {
            let sources: Vec<String> = catalogue.iter().filter(|s| s.server == t.server && flow.opened_by(s)).map(|s| s.name.clone()).collect();
            if !sources.is_empty() {
                flows = needs::flow_edits(&policy, &sources, &t.name);
            }
        }
        for e in needs::edits_for(&policy, t, setup.reqs, Aspects { call_cap: !no_cap.contains(&t.name), ..Aspects::ALL }, &mut gaps).into_iter().chain(destinations).chain(flows) {
            if !edits.contains(&e) {
                edits.push(e);
            }
        }
    }
    // The strict profile's gates for resources and prompts: only Intercept YAML names an entry by a method.
    if setup.dialect == Dialect::Intercept {
        for e in surfaces::surface_edits(&policy, setup.servers, setup.reqs, &mut gaps) {
            if !edits.contains(&e) {
                edits.push(e);
            }
        }
    }
    let caps: Vec<String> = edits.iter().filter(|e| needs::is_call_cap(e)).filter_map(|e| e.tool().map(str::to_string)).collect();
    // What the dialect cannot write shows up below as the findings it leaves.
    let (edits, _) = suggest::translate(setup.dialect, edits);
    // Everything counts as already open, so the loop tightens instead of backing off.
    let every: BTreeSet<Key> = setup
        .scenarios
        .iter()
        .flat_map(|s| catalogue.iter().map(move |t| (s.id.clone(), t.server.clone(), t.name.clone())))
        .collect();
    let c = suggest::converge(setup, base, edits, &every, &BTreeSet::new(), no_cap)?;
    let mut open = Vec::new();
    let mut unmet: Vec<Unmet> = Vec::new();
    for o in c.outcomes.iter().filter(|o| is_bad(o)) {
        let lacking = o.check.as_deref().and_then(requirement).and_then(|(r, c)| patch::lacks(setup.dialect, c).map(|why| (r, why)));
        let Some((requirement, why)) = lacking else {
            open.push(o.clone());
            continue;
        };
        match unmet.iter_mut().find(|u| u.requirement == requirement && u.tool == o.tool) {
            Some(u) => u.findings.push(o.scenario.clone()),
            None => unmet.push(Unmet { requirement, tool: o.tool.clone(), why, findings: vec![o.scenario.clone()] }),
        }
    }
    gaps.extend(c.gaps);
    let mut seen = BTreeSet::new();
    gaps.retain(|g| seen.insert(g.clone()));
    let unwritable = c.unwritable;
    Ok((Hardened { text: c.text, outcomes: c.outcomes, edits: c.edits, runs: c.runs, open, unwritable, gaps, unmet, assumed }, caps))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: &str = "# Weak policy: the default is allow.\nversion: \"1\"\ndescription: \"payments: weak\"\ndefault: allow\ntools: {}\n";

    /// The input's header and description described the weak policy in the
    /// hardened one's file: both are now marked as the input's, kept word for word.
    #[test]
    fn the_inputs_words_are_marked_as_the_inputs() {
        let hardened = INPUT.replace("default: allow", "default: deny");
        let marked = mark_input(INPUT, &hardened, "weak.yaml");
        let lines: Vec<&str> = marked.lines().collect();
        assert_eq!(lines[0], "# Written by `gauntlet harden` from weak.yaml, and verified against the attack database before it was written;");
        assert_eq!(lines[1], "# the comments below, up to `version:`, are the input's and describe it before hardening.");
        assert_eq!(lines[2], "# Weak policy: the default is allow.");
        assert_eq!(lines[4], r#"description: "hardened by gauntlet from weak.yaml; the input's description: payments: weak""#);
        let policy = crate::policy::load_intercept(&marked).expect("still a policy Intercept loads");
        assert_eq!(policy.description, "hardened by gauntlet from weak.yaml; the input's description: payments: weak");
        // Marked once: hardening the output again (and changing it) does not stack the words.
        let again = mark_input(&marked, &marked.replace("tools: {}", "tools: {a: {rules: []}}"), "weak.yaml");
        assert_eq!(again.matches(MARK).count(), 1);
        assert_eq!(again.matches("hardened by gauntlet from").count(), 1);
        // Unchanged by harden, the input's words still describe it.
        assert_eq!(mark_input(INPUT, INPUT, "weak.yaml"), INPUT);
        // No header comment: one line, nothing said about comments.
        let bare = "version: \"1\"\ndefault: allow\n";
        let marked = mark_input(bare, &bare.replace("allow", "deny"), "w.yaml");
        assert!(marked.starts_with("# Written by `gauntlet harden` from w.yaml, and verified against the attack database before it was written.\nversion:"), "{marked}");
    }
}
