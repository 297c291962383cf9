//! Faults on a run's schedule (`faults:` in a scenario): what the player
//! does to the system under test at each fault's time, the policy versions a
//! rewrite of the policy file writes, the checks of what reached the server
//! while enforcement was blind, and the name of what the proxy did then
//! (fails closed, fails open, stalls).
//!
//! A rewrite is a change of the policy's model (in process the engine loads
//! that model) and, for a proxy that reads a file, Intercept YAML written
//! from it (`policy::to_intercept`), the governing rules last, so a file cut
//! right after the target's `rules:` key still loads (the target named with
//! no rules): that cut is the half-written version. A policy
//! that does not convert without loss has no faithful file; those faults
//! are then unsupported for such a proxy, never judged on an approximation.

use std::sync::Arc;

use serde::Serialize;

use crate::caller::CallContext;
use crate::clock::Timestamp;
use crate::policy::model::{Action, Policy, Rule, Span, ToolPolicy, WILDCARD};
use crate::scenario::requirements::{FaultMode, Requirement, Requirements};
use crate::scenario::{Duration, FaultKind, Scenario};

use super::measure::Check;

/// How long a half-written policy file stays half written before its writer
/// finishes and closes it: far past Intercept's 100 ms reload debounce, under
/// the 2 s gauntlet's proxy waits for a file that is never closed.
pub const HALF_WRITE_PAUSE: i64 = 1_000_000_000;

/// How long a proxy may take to apply a policy written whole before calls
/// that still reach count against it (a file watcher's latency and debounce).
pub const RELOAD_GRACE: i64 = 3_000_000_000;

/// One thing the player does to the system under test.
#[derive(Clone, Debug, PartialEq)]
pub enum Inject {
    /// The state store fails (`hang`: it stops answering, and the proxy's own timeout decides).
    StoreDown { hang: bool },
    StoreUp,
    /// The policy file is written with `version`; `closed`: its writer closed it (a whole version).
    PolicyWrite { version: Version, closed: bool },
    /// The proxy is killed and started again over the same state; the agent reconnects.
    Restart,
    /// The upstream answers nothing before `until`.
    UpstreamStall { until: Timestamp },
    UpstreamDie,
}

impl Inject {
    /// In words, for errors and notes.
    pub fn describe(&self) -> &'static str {
        match self {
            Inject::StoreDown { hang: false } => "fail the state store",
            Inject::StoreDown { hang: true } => "hang the state store",
            Inject::StoreUp => "bring the state store back",
            Inject::PolicyWrite { .. } => "rewrite the policy file",
            Inject::Restart => "restart the proxy",
            Inject::UpstreamStall { .. } => "stall the upstream",
            Inject::UpstreamDie => "kill the upstream",
        }
    }
}

/// An [`Inject`] at virtual nanoseconds after the start.
#[derive(Clone, Debug, PartialEq)]
pub struct Timed {
    pub at: i64,
    pub what: Inject,
}

/// An interval in which calls arrive without an identity or a session.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Missing {
    from: i64,
    until: i64,
    kind: FaultKind,
}

/// Everything a run's faults do, in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    pub injects: Vec<Timed>,
    missing: Vec<Missing>,
}

impl Schedule {
    pub fn is_empty(&self) -> bool {
        self.injects.is_empty() && self.missing.is_empty()
    }

    /// The caller of an action at `at` (`ctx` as the player names it) after
    /// `generation` restarts (a new process makes new sessions), without
    /// the attributes a fault removes then.
    pub fn context(&self, at: i64, mut ctx: CallContext, generation: u32) -> CallContext {
        if generation > 0 {
            ctx.session = ctx.session.map(|s| format!("{s}-restart-{generation}"));
        }
        for m in self.missing.iter().filter(|m| (m.from..m.until).contains(&at)) {
            match m.kind {
                FaultKind::MissingIdentity => ctx.identity = None,
                _ => ctx.session = None,
            }
        }
        ctx
    }
}

/// One version of the policy file a rewrite writes: the policy it holds
/// (`None`: it does not load) and its file, whose text ([`Version::text`]) is
/// written only for a proxy that reads a file (in process the model is
/// enough, and a large policy's text is megabytes per run).
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    pub policy: Option<Arc<Policy>>,
    file: File,
}

/// What a version's file holds, as the text is written from it.
#[derive(Clone, Debug, PartialEq)]
enum File {
    /// The policy as Intercept YAML.
    Of(Arc<Policy>),
    /// That text cut right after this entry's `rules:` key, as a writer stopped there leaves it.
    Cut { whole: Arc<Policy>, entry: Option<String> },
    /// That text with a line after it that does not load.
    Broken(Arc<Policy>),
}

impl Version {
    /// The file's text, or why gauntlet cannot write this policy as a file without changing it.
    pub fn text(&self) -> Result<String, String> {
        match &self.file {
            File::Of(p) => text_of(p),
            File::Cut { whole, entry } => text_of(whole).map(|w| match entry.as_ref().and_then(|e| w.find(e.as_str()).map(|at| at + e.len())) {
                Some(end) => w[..end].to_string(),
                None => w,
            }),
            File::Broken(whole) => text_of(whole).map(|w| format!("{w}  \"gauntlet broken\": [\n")),
        }
    }
}

/// Whether `name`'s rules govern calls of `target`.
fn governs(name: &str, target: &str) -> bool {
    name == target || name == WILDCARD
}

/// The policy as it is, the rules governing `target` last.
fn whole(policy: &Policy, target: &str) -> Arc<Policy> {
    let mut whole = policy.clone();
    whole.tools.sort_by_key(|t| governs(&t.name, target));
    Arc::new(whole)
}

/// `whole` as a writer stopped right after the first governing entry's
/// `rules:` key leaves it: that entry names the tool with no rules, and what
/// follows it is missing.
fn half(whole: &Arc<Policy>, target: &str) -> Version {
    let mut half = Policy::clone(whole);
    if let Some(i) = half.tools.iter().position(|t| governs(&t.name, target)) {
        half.tools[i].rules.clear();
        half.tools.truncate(i + 1);
    }
    let entry = whole.tools.iter().find(|t| governs(&t.name, target)).map(|t| format!("  {}:\n    rules:\n", quoted(&t.name)));
    Version { policy: Some(Arc::new(half)), file: File::Cut { whole: whole.clone(), entry } }
}

/// `policy` with `target` denied outright.
fn tightened(policy: &Policy, target: &str) -> Version {
    let mut tightened = policy.clone();
    tightened.tools.retain(|t| t.name != target);
    tightened.tools.push(ToolPolicy {
        name: target.to_string(),
        rules: vec![Rule {
            name: "gauntlet tightened".into(),
            action: Action::Deny,
            conditions: Vec::new(),
            on_deny: "denied by the tightened policy".into(),
            state: None,
            rate_limit: None,
            span: Span::default(),
        }],
        span: Span::default(),
    });
    written(Arc::new(tightened))
}

/// `policy`, loading as itself.
fn written(policy: Arc<Policy>) -> Version {
    Version { policy: Some(policy.clone()), file: File::Of(policy) }
}

/// `whole`'s text with a line after it that does not load.
fn broken(whole: Arc<Policy>) -> Version {
    Version { policy: None, file: File::Broken(whole) }
}

/// `policy` as Intercept YAML, or why it cannot be written without changing it.
fn text_of(policy: &Policy) -> Result<String, String> {
    let converted = crate::policy::to_intercept::convert(policy);
    match converted.losses.first() {
        Some(loss) => Err(format!("gauntlet cannot write this policy as a file without changing it ({loss})")),
        None => Ok(converted.yaml),
    }
}

/// A tool name as `convert` writes a key.
fn quoted(name: &str) -> String {
    serde_json::to_string(name).unwrap_or_else(|_| format!("{name:?}"))
}

/// Whether a scenario's faults rewrite the policy file.
pub fn rewrites_policy(s: &Scenario) -> bool {
    s.faults.iter().any(|f| matches!(f.kind, FaultKind::PolicyTightened | FaultKind::PolicyBroken | FaultKind::PolicyHalfWritten))
}

/// The schedule of `s`'s faults against `target` (policy texts from `policy`).
pub fn schedule(s: &Scenario, policy: &Policy, target: &str) -> Schedule {
    // Only the versions these faults write, each built once (a large policy is megabytes a copy).
    let sorted = std::cell::OnceCell::new();
    let whole = || sorted.get_or_init(|| self::whole(policy, target)).clone();
    let (mut injects, mut missing) = (Vec::new(), Vec::new());
    for f in &s.faults {
        let at = f.at.nanos();
        let until = at.saturating_add(f.lasting.map_or(0, Duration::nanos));
        let mut at_ = |when: i64, what: Inject| injects.push(Timed { at: when, what });
        match f.kind {
            FaultKind::StoreError | FaultKind::StoreHang => {
                at_(at, Inject::StoreDown { hang: f.kind == FaultKind::StoreHang });
                at_(until, Inject::StoreUp);
            }
            FaultKind::PolicyTightened => at_(at, Inject::PolicyWrite { version: tightened(policy, target), closed: true }),
            FaultKind::PolicyBroken => at_(at, Inject::PolicyWrite { version: broken(whole()), closed: true }),
            FaultKind::PolicyHalfWritten => {
                at_(at, Inject::PolicyWrite { version: half(&whole(), target), closed: false });
                at_(at + HALF_WRITE_PAUSE, Inject::PolicyWrite { version: written(whole()), closed: true });
            }
            FaultKind::ProxyRestart => at_(at, Inject::Restart),
            FaultKind::UpstreamStall => at_(at, Inject::UpstreamStall { until: super::START.plus_nanos(until) }),
            FaultKind::UpstreamDie => at_(at, Inject::UpstreamDie),
            FaultKind::MissingIdentity | FaultKind::MissingSession => missing.push(Missing { from: at, until, kind: f.kind }),
        }
    }
    injects.sort_by_key(|t| t.at);
    Schedule { injects, missing }
}

/// Whether the requirement asks a bound that takes a counter (a rate or a spend over a window).
pub fn asks_bound(req: &Requirement) -> bool {
    req.rate.is_some() || req.max_amount_per_window.is_some()
}

/// Whether enforcement of `tool` depends on the state store: the requirement
/// asks a rate or a spend bound of it, and the policy keeps a counter for it.
pub fn governed(req: &Requirement, policy: &Policy, tool: &str) -> bool {
    let asks = asks_bound(req);
    let counted = [tool, WILDCARD].iter().filter_map(|t| policy.tool(t)).any(|t| t.rules.iter().any(|r| r.state.is_some()));
    asks && counted
}

/// The fault checks of `s` for a tool: every call answered, and with
/// `fail_closed` nothing reached while the store was down (governed tools,
/// unless `fault_mode: open`) and nothing after a policy denying it was in force.
pub fn checks(s: &Scenario, governed: bool, reqs: &Requirements) -> Vec<Check> {
    let mut out = Vec::new();
    for f in s.faults.iter().filter(|_| s.expect.fail_closed == Some(true)) {
        let at = f.at.nanos();
        match f.kind {
            FaultKind::StoreError | FaultKind::StoreHang if governed && reqs.fault_mode == FaultMode::Closed => {
                out.push(Check::Blind { from: at, until: at.saturating_add(f.lasting.map_or(0, Duration::nanos)), kind: f.kind })
            }
            FaultKind::PolicyTightened => out.push(Check::Blind { from: at + RELOAD_GRACE, until: i64::MAX, kind: f.kind }),
            _ => {}
        }
    }
    // Whatever fails, every call gets an answer (an error is one).
    if !s.faults.is_empty() {
        out.push(Check::Answered);
    }
    out
}

/// What the proxy did while something under it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// What it could not enforce, it refused.
    FailsClosed,
    /// Calls it could not enforce reached the server.
    FailsOpen,
    /// Requests were left without an answer.
    Stalls,
}

impl Behaviour {
    pub fn as_str(self) -> &'static str {
        match self {
            Behaviour::FailsClosed => "fails closed",
            Behaviour::FailsOpen => "fails open",
            Behaviour::Stalls => "stalls",
        }
    }
}

/// The faults of a scenario in words (`the state store failing from 10s for 20s`).
pub fn describe(s: &Scenario) -> String {
    s.faults
        .iter()
        .map(|f| match f.lasting {
            Some(d) => format!("{} at {} for {d}", f.kind.as_str(), f.at),
            None => format!("{} at {}", f.kind.as_str(), f.at),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::play;

    const POLICY: &str = "version: \"1\"\ndefault: allow\ntools:\n  create:\n    rules:\n      - name: limit\n        rate_limit: \"3/minute\"\n  read:\n    rules: []\n";

    fn policy() -> Policy {
        crate::policy::load_str(POLICY, "p.yaml", None).unwrap().policy
    }

    /// The versions a rewrite writes for one target.
    struct Versions {
        /// The policy as it is, the rules governing the target last.
        whole: Version,
        /// `whole` cut right after the target's `rules:` key (it loads: the target with no rules).
        half: Version,
        /// The target denied outright.
        tightened: Version,
        /// Text that does not load.
        broken: Version,
    }

    /// The versions of `policy` a rewrite writes for `target`.
    fn versions(policy: &Policy, target: &str) -> Versions {
        let whole = whole(policy, target);
        Versions {
            half: half(&whole, target),
            tightened: tightened(policy, target),
            broken: broken(whole.clone()),
            whole: written(whole),
        }
    }

    fn load(text: &str) -> Result<Policy, String> {
        crate::policy::load_str(text, "p.yaml", None).map(|l| l.policy).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn rewritten_files_load_as_their_models_say() {
        let v = versions(&policy(), "create");
        for (name, version) in [("whole", &v.whole), ("half", &v.half), ("tightened", &v.tightened)] {
            let text = version.text().unwrap();
            let model = version.policy.as_deref().unwrap();
            assert_eq!(&load(&text).unwrap(), model, "{name}: the file is the model: {text}");
        }
        let half = v.half.policy.clone().unwrap();
        assert!(half.tool("create").is_some_and(|t| t.rules.is_empty()) && half.tool("read").is_some(), "the half names the target with no rules");
        assert!(v.whole.text().unwrap().starts_with(v.half.text().unwrap().as_str()), "the half is a prefix of the whole file");
        assert_eq!(v.tightened.policy.unwrap().tool("create").unwrap().rules[0].action, Action::Deny);
        assert!(v.broken.policy.is_none() && load(&v.broken.text().unwrap()).is_err(), "broken must not load");
    }

    #[test]
    fn a_policy_with_no_tools_is_tightened_into_one() {
        let empty = load("version: \"1\"\ntools: {}\n").unwrap();
        let v = versions(&empty, "create");
        let text = v.tightened.text().unwrap();
        assert!(load(&text).unwrap().tool("create").is_some(), "{text}");
    }

    #[test]
    fn a_policy_intercept_cannot_hold_has_models_but_no_files() {
        // policy.json's per-grant limits have no Intercept form.
        let json = include_str!("../../examples/ezbiz-policy.json");
        let p = crate::policy::load_str(json, "ezbiz-policy.json", None).unwrap().policy;
        let v = versions(&p, "customer_persona");
        assert!(v.whole.policy.is_some());
        assert!(v.whole.text().unwrap_err().contains("without changing it"));
    }

    #[test]
    fn missing_attributes_and_restarts_change_the_caller() {
        let text = "id: f\ntitle: t\nclass: missing-key\ntargets: {risk: [write]}\nagent: {steps: [{calls: 1}]}\nfaults:\n  - {kind: missing-identity, at: 10s, for: 5s}\nexpect: {max_reached_per_window: {}}\n";
        let s = crate::scenario::parse(std::path::Path::new("f.yaml"), text).unwrap();
        let sched = schedule(&s, &policy(), "create");
        assert_eq!(sched.context(9_999_999_999, play::context(1, 1), 0).identity.as_deref(), Some("agent-1"));
        assert_eq!(sched.context(10_000_000_000, play::context(1, 1), 0).identity, None);
        assert_eq!(sched.context(15_000_000_000, play::context(1, 1), 0).identity.as_deref(), Some("agent-1"), "the interval is half-open");
        assert_eq!(sched.context(0, play::context(2, 1), 1).session.as_deref(), Some("session-2-restart-1"));
    }
}
