//! `gauntlet scenario check`: the attack database checks itself. Every
//! scenario runs in process against deliberately vulnerable reference
//! configurations and secure ones; a scenario that cannot tell them apart
//! gives verdicts that mean nothing, so it fails the check.
//!
//! - **vulnerable**, on each reference server: an allow-all policy; its
//!   secure policy with `default: allow` (what no rule names goes through:
//!   the gap name tricks and unlisted tools aim at); its secure policy on a
//!   proxy that hides tools from `tools/list` but forwards their calls; and
//!   on a proxy that meets every fault the worst way
//!   ([`InProcessBench::failing_open`]). A scenario must breach at least
//!   one; a fault scenario must breach the failing-open one, so that its
//!   verdict turns on the fault and not on a missing rule.
//! - **secure**: each server's secure policy (written by `gauntlet harden`,
//!   `examples/references/`) under the `strict` profile, replicas sharing
//!   one store, the store failing closed, tool definitions pinned to the
//!   server's own file; and one of them with a tool left unnamed under
//!   `default: deny` (what unlisted-tool attacks need to be judged). A
//!   scenario must hold for at least one tool of one secure reference, and
//!   its benign twin must be refused on none.
//!
//! Breaches on a secure reference are shown, not failed: the scenario has
//! shown it can hold; what is left open there is a gap of that proxy (a
//! proxy finding) or of that reference policy, said with the tool.

use super::inprocess::{InProcessBench, NamedServer};
use super::{Finding, Options, Outcome, Verdict};
use crate::policy::model::{DefaultAction, Policy};
use crate::profile::Profile;
use crate::scenario::requirements::Requirements;
use crate::scenario::{Scenario, StateSetup};

/// A reference server: its hardened policy and its requirements (`None`: the baseline).
struct Server {
    /// How its references are named (the bundled server's name, or that and what sets it apart).
    name: &'static str,
    /// The bundled server.
    server: &'static str,
    /// Its secure policy, and the file it was read from (for errors).
    hardened: &'static str,
    file: &'static str,
    requirements: Option<&'static str>,
}

/// The servers the references run, their files built in so the check runs from an installed binary.
const SERVERS: &[Server] = &[
    Server {
        name: "aksjah",
        server: "aksjah",
        hardened: include_str!("../../examples/references/aksjah.yaml"),
        file: "examples/references/aksjah.yaml",
        requirements: Some(include_str!("../../examples/references/aksjah-gauntlet.yaml")),
    },
    Server {
        name: "payments",
        server: "payments",
        hardened: include_str!("../../examples/references/payments.yaml"),
        file: "examples/references/payments.yaml",
        requirements: None,
    },
    Server {
        name: "ezbiz",
        server: "ezbiz",
        hardened: include_str!("../../examples/references/ezbiz.yaml"),
        file: "examples/references/ezbiz.yaml",
        requirements: None,
    },
    Server {
        name: "banking",
        server: "banking",
        hardened: include_str!("../../examples/references/banking.yaml"),
        file: "examples/references/banking.yaml",
        requirements: None,
    },
    Server {
        name: "github",
        server: "github",
        hardened: include_str!("../../examples/references/github.yaml"),
        file: "examples/references/github.yaml",
        requirements: None,
    },
    Server {
        name: "workspace",
        server: "workspace",
        hardened: include_str!("../../examples/references/workspace.yaml"),
        file: "examples/references/workspace.yaml",
        requirements: Some(include_str!("../../examples/workspace/gauntlet.yaml")),
    },
    // A flow that limits rather than refuses is judged on its own (`flow-read-then-send-off-list`).
    Server {
        name: "workspace (limiting flow)",
        server: "workspace",
        hardened: include_str!("../../examples/references/workspace-limit.yaml"),
        file: "examples/references/workspace-limit.yaml",
        requirements: Some(include_str!("../../examples/references/workspace-limit-gauntlet.yaml")),
    },
];

const ALLOW_ALL: &str = "version: \"1\"\ndefault: allow\ntools: {}\n";

/// How one scenario fared.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioCheck {
    pub id: String,
    /// The first vulnerable reference it breached, with the tool (`None`: none).
    pub breaches: Option<String>,
    /// The first secure reference and tool it held on (`None`: none).
    pub holds: Option<String>,
    /// Where it breached a secure reference: `reference (tool)`, and whether a policy could close it.
    pub breached_secure: Vec<(String, Finding)>,
    /// Where its benign twin was refused on a secure reference: `reference (tool)`.
    pub twin_refused: Vec<String>,
    /// Whether it is a fault scenario (only a failing-open reference counts as its breach).
    pub faulted: bool,
}

impl ScenarioCheck {
    /// Whether the scenario tells a vulnerable proxy from a secure one.
    pub fn passes(&self) -> bool {
        self.problems().is_empty() && self.unchecked().is_none()
    }

    /// Why its secure side could not be checked, when no reference gauntlet
    /// builds can hold it: it breaches a vulnerable reference, and every
    /// secure reference it is judged on breaches it as a proxy finding (no
    /// policy closes it on gauntlet's proxy). Neither passed nor failed.
    pub fn unchecked(&self) -> Option<String> {
        let all_proxy = !self.breached_secure.is_empty() && self.breached_secure.iter().all(|(_, f)| *f == Finding::Proxy);
        (self.breaches.is_some() && self.holds.is_none() && self.twin_refused.is_empty() && all_proxy).then(|| {
            let at: Vec<&str> = self.breached_secure.iter().map(|(at, _)| at.as_str()).collect();
            format!("no secure reference in process: every one breaches it as a proxy finding, which no policy closes on gauntlet's proxy ({})", at.join(", "))
        })
    }

    /// What is wrong with it, in words (empty when it passes).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.breaches.is_none() {
            let which = match self.faulted {
                true => "no proxy failing open under its faults",
                false => "no deliberately vulnerable reference (allow-all, an open default, hidden from lists only, failing open)",
            };
            out.push(format!("breaches {which}: its verdicts cannot tell a vulnerable proxy from a secure one"));
        }
        if self.holds.is_none() && self.unchecked().is_none() {
            let why = match self.breached_secure.is_empty() {
                true => "judged on none (not applicable everywhere)".to_string(),
                false => format!("breached on {}", self.breached_secure.iter().map(|(at, f)| format!("{at} as a {} finding", finding_word(*f))).collect::<Vec<_>>().join(", ")),
            };
            out.push(format!("holds on no secure reference: {why}"));
        }
        if !self.twin_refused.is_empty() {
            out.push(format!("its benign twin is refused on a secure reference: {}", self.twin_refused.join(", ")));
        }
        out
    }
}

fn finding_word(f: Finding) -> &'static str {
    match f {
        Finding::Policy => "policy",
        Finding::Proxy => "proxy",
    }
}

/// One reference configuration: a server behind a policy, run one way.
struct Reference {
    name: String,
    bench: InProcessBench,
    reqs: Requirements,
    /// Meets faults the worst way: the only kind a fault scenario's breach counts on.
    fails_open: bool,
    /// Judges only scenarios that target tools the policy never names: its
    /// one unnamed tool is refused outright, which would hold any bound.
    only_unlisted: bool,
}

impl Reference {
    /// Whether this reference judges `s`: a fault scenario's breach counts
    /// on a failing-open reference only (on the vulnerable side).
    fn judges(&self, s: &Scenario, vulnerable: bool) -> bool {
        (!vulnerable || s.faults.is_empty() || self.fails_open) && (!self.only_unlisted || s.targets.unlisted_by_policy)
    }
}

fn load(text: &str, name: &str) -> Result<Policy, String> {
    crate::policy::load_str(text, name, None).map(|l| l.policy).map_err(|e| format!("the built-in reference policy `{name}` does not load: {e:?}"))
}

fn server(name: &str) -> Result<NamedServer, String> {
    match crate::mock::bundled::load(name) {
        Some(Ok(spec)) => Ok(NamedServer { name: name.to_string(), spec }),
        Some(Err(e)) => Err(format!("the bundled server `{name}` does not load: {e}")),
        None => Err(format!("no bundled server `{name}`")),
    }
}

/// The vulnerable references and the secure ones.
fn references() -> Result<(Vec<Reference>, Vec<Reference>), String> {
    let (mut vulnerable, mut secure) = (Vec::new(), Vec::new());
    for s in SERVERS {
        let reqs = match s.requirements {
            Some(text) => Requirements::over_baseline(text).map_err(|e| format!("the built-in requirements of `{}`: {e}", s.name))?,
            None => Requirements::baseline(),
        };
        let srv = server(s.server)?;
        let bench = |policy: Policy, profile| InProcessBench::new(policy, profile, vec![srv.clone()]);
        let hardened = load(s.hardened, s.file)?;
        let with_default = |default| Policy { default, ..hardened.clone() };
        let reference = |name: String, bench, fails_open| Reference { name, bench, reqs: reqs.clone(), fails_open, only_unlisted: false };
        vulnerable.push(reference(format!("{} allow-all", s.name), bench(load(ALLOW_ALL, "allow-all.yaml")?, Profile::Intercept), false));
        vulnerable.push(reference(format!("{} secure with default: allow", s.name), bench(with_default(DefaultAction::Allow), Profile::Intercept), false));
        vulnerable.push(reference(format!("{} secure, hidden from lists only", s.name), bench(hardened.clone(), Profile::Intercept).hiding_from_lists_only(), false));
        vulnerable.push(reference(format!("{} secure, failing open", s.name), bench(hardened.clone(), Profile::Intercept).failing_open(), true));
        // Strict, with the tool definitions pinned to the server's own file.
        let strict = |policy| bench(policy, Profile::Strict).with_state(StateSetup::Shared).with_pin(Some(super::definitions::approved(&srv.spec, &format!("{}.yaml", s.server))));
        secure.push(reference(format!("{} secure, strict", s.name), strict(hardened.clone()), false));
        // The first tool the policy names, unnamed: its calls fall to `default: deny`.
        if let Some(first) = hardened.tools.first().filter(|_| s.name == SERVERS[0].name) {
            let mut unnamed = with_default(DefaultAction::Deny);
            unnamed.tools.retain(|t| t.name != first.name);
            let name = format!("{} secure without `{}`, strict", s.name, first.name);
            secure.push(Reference { only_unlisted: true, ..reference(name, strict(unnamed), false) });
        }
    }
    Ok((vulnerable, secure))
}

/// Runs `scenarios` against every reference (`threads` at a time) and says how each fared.
pub fn check(scenarios: &[Scenario], threads: usize) -> Result<Vec<ScenarioCheck>, String> {
    let (vulnerable, secure) = references()?;
    let opts = Options { seed: 1, reproduce: String::new(), threads, policy_file: "reference".into(), shrink: false, fold: true };
    let run = |r: &Reference, these: &[Scenario]| -> Result<Vec<Outcome>, String> {
        match these {
            // Setting a bench up costs seconds on a large server: none for nothing.
            [] => Ok(Vec::new()),
            _ => super::run(&r.bench, these, &r.reqs, &opts, &|_| {}, &|| {}),
        }
    };
    // A vulnerable reference runs only the scenarios no earlier one has breached yet (and
    // that may count it): one breach is all the check needs from that side.
    let mut breached: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut vulnerable_runs = Vec::new();
    for r in &vulnerable {
        let these: Vec<Scenario> = scenarios.iter().filter(|s| !breached.contains(s.id.as_str()) && r.judges(s, true)).cloned().collect();
        let outcomes = run(r, &these)?;
        breached.extend(scenarios.iter().map(|s| s.id.as_str()).filter(|id| outcomes.iter().any(|o| o.scenario == *id && o.verdict == Verdict::Breached)));
        vulnerable_runs.push((r.name.clone(), outcomes));
    }
    let secure_runs = secure
        .iter()
        .map(|r| {
            let these: Vec<Scenario> = scenarios.iter().filter(|s| r.judges(s, false)).cloned().collect();
            Ok((r.name.clone(), run(r, &these)?))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let (vulnerable, secure) = (vulnerable_runs, secure_runs);
    let mut out = Vec::new();
    for s in scenarios {
        let mine = |os: &'_ [Outcome]| -> Vec<Outcome> { os.iter().filter(|o| o.scenario == s.id).cloned().collect() };
        let at = |name: &str, o: &Outcome| format!("{name} ({})", o.tool);
        let faulted = !s.faults.is_empty();
        // Each reference ran only the scenarios it judges (a fault scenario: failing open).
        let breaches = vulnerable.iter().find_map(|(name, os)| mine(os).iter().find(|o| o.verdict == Verdict::Breached).map(|o| at(name, o)));
        let (mut holds, mut breached_secure, mut twin_refused) = (None, Vec::new(), Vec::new());
        for (name, os) in &secure {
            for o in mine(os) {
                match o.verdict {
                    Verdict::Held => holds = holds.or_else(|| Some(at(name, &o))),
                    Verdict::Breached => breached_secure.push((at(name, &o), o.finding.unwrap_or(Finding::Policy))),
                    Verdict::OverBlocking => twin_refused.push(at(name, &o)),
                    _ => {}
                }
            }
        }
        out.push(ScenarioCheck { id: s.id.clone(), breaches, holds, breached_secure, twin_refused, faulted });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_references_load() {
        let (vulnerable, secure) = references().unwrap();
        assert_eq!(vulnerable.len(), 4 * SERVERS.len(), "allow-all, an open default, hidden from lists only and failing open on each server");
        assert_eq!(secure.len(), SERVERS.len() + 1, "strict on each server, and one with a tool unnamed");
        assert!(vulnerable.iter().filter(|r| r.fails_open).count() == SERVERS.len());
    }

    /// The proxy failing open leaves the calls waiting when the upstream dies
    /// hanging: the note counts them once (it said "3 calls never answered
    /// (3 calls never answered)").
    #[test]
    fn a_stall_is_counted_once_in_its_note() {
        let (vulnerable, _) = references().unwrap();
        let r = vulnerable.iter().find(|r| r.fails_open).unwrap();
        let scenarios = crate::verify::setup::scenarios(&[], false, &["upstream-die".to_string()], false).unwrap();
        let opts = Options { seed: 1, reproduce: String::new(), threads: 1, policy_file: "reference".into(), shrink: false, fold: true };
        let outcomes = super::super::run(&r.bench, &scenarios, &r.reqs, &opts, &|_| {}, &|| {}).unwrap();
        let stalled: Vec<&str> = outcomes.iter().filter_map(|o| o.note.as_deref()).filter(|n| n.starts_with("stalls")).collect();
        assert!(!stalled.is_empty(), "{outcomes:?}");
        for note in stalled {
            assert_eq!(note.matches("never answered").count(), 1, "{note}");
        }
    }

    #[test]
    fn a_scenario_fails_on_each_count() {
        let base = ScenarioCheck { id: "x".into(), breaches: Some("v".into()), holds: Some("s".into()), breached_secure: vec![], twin_refused: vec![], faulted: false };
        assert!(base.passes());
        assert!(!ScenarioCheck { breaches: None, ..base.clone() }.passes());
        assert!(ScenarioCheck { breached_secure: vec![("s (t)".into(), Finding::Proxy)], ..base.clone() }.passes(), "held elsewhere: the breach is the proxy's gap, shown");
        let open = ScenarioCheck { holds: None, breached_secure: vec![("s (t)".into(), Finding::Proxy)], ..base.clone() };
        assert!(!open.passes() && open.problems().is_empty() && open.unchecked().is_some(), "a proxy gap everywhere: unchecked, neither passed nor failed");
        assert!(!ScenarioCheck { breaches: None, ..open.clone() }.problems().is_empty(), "breaching nothing still fails");
        assert!(!ScenarioCheck { breached_secure: vec![("s (t)".into(), Finding::Policy)], ..open }.problems().is_empty(), "a policy finding on the secure reference fails");
        assert!(!ScenarioCheck { twin_refused: vec!["s (t)".into()], ..base.clone() }.passes());
        assert!(!ScenarioCheck { holds: None, ..base }.passes(), "not applicable everywhere is no hold");
    }
}
