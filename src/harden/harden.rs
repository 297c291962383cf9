//! `gauntlet harden`: a whole policy that meets the requirements in force,
//! written only once a run of the database proves it.
//!
//! It starts from the user's policy text (or a `default: deny` skeleton for
//! the servers alone), adds for every tool what [`super::needs`] derives
//! (rate limits sized for calendar windows, argument conditions from the
//! inputSchema, spend caps, `hide` for denied tools) and `default: deny`
//! with an entry for each tool the input allowed, then lets the proof loop
//! of [`super::suggest`] settle it. Nothing the input allowed is removed
//! unless the requirements forbid it; existing rules are only tightened.

use std::collections::BTreeSet;

use super::needs::{self, Aspects};
use super::patch::Edit;
use super::suggest::{self, default_deny_edits, is_bad, Key, Setup};
use crate::policy::model::DefaultAction;
use crate::verify::Outcome;

/// A policy `harden` proved.
pub struct Hardened {
    pub text: String,
    pub outcomes: Vec<Outcome>,
    pub edits: Vec<Edit>,
    pub runs: usize,
}

/// Why `harden` refuses to write: what is still open after the proof loop.
pub struct Unsatisfied {
    /// Policy findings and over-blocking verdicts of the best attempt.
    pub open: Vec<Outcome>,
    /// Requirements no Intercept rule can express for these tools, and edits that could not be written.
    pub gaps: Vec<String>,
}

/// The starting point without an input policy: deny by default, nothing listed yet.
pub fn skeleton(servers: &[String]) -> String {
    format!(
        "# Written by `gauntlet harden` for: {}.\n# Verified against the attack database before it was written.\nversion: \"1\"\ndescription: \"hardened by gauntlet\"\ndefault: deny\ntools:\n",
        servers.join(", ")
    )
}

/// Hardens `base` (Intercept YAML) for the servers of `setup`.
pub fn harden(setup: &Setup<'_>, base: &str) -> Result<Result<Hardened, Unsatisfied>, String> {
    let policy = crate::policy::load_intercept(base).map_err(|e| format!("the starting policy does not load: {e}"))?;
    let catalogue = setup.catalogue();
    let mut gaps = Vec::new();
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
        for e in needs::edits_for(&policy, t, &req, Aspects::ALL, &mut gaps) {
            if !edits.contains(&e) {
                edits.push(e);
            }
        }
    }
    // Everything counts as already open, so the loop tightens instead of backing off.
    let every: BTreeSet<Key> = setup
        .scenarios
        .iter()
        .flat_map(|s| catalogue.iter().map(move |t| (s.id.clone(), t.server.clone(), t.name.clone())))
        .collect();
    let c = suggest::converge(setup, base, edits, &every)?;
    let open: Vec<Outcome> = c.outcomes.iter().filter(|o| is_bad(o)).cloned().collect();
    if open.is_empty() && c.unwritable.is_empty() {
        return Ok(Ok(Hardened { text: c.text, outcomes: c.outcomes, edits: c.edits, runs: c.runs }));
    }
    gaps.extend(c.unwritable);
    Ok(Err(Unsatisfied { open, gaps }))
}
