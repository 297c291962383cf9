//! Blame: which place in the policy file let a breach through, or refused a
//! benign twin, and why, in one sentence.
//!
//! A breach is blamed on the rule that should have bounded it but is too
//! loose (its `file:line`), or, when there is none, on the tool's entry
//! ("no rule for …") or on the `tools:` / `default:` key where one belongs.
//! An over-blocking verdict is blamed on the rule whose denial refused the
//! twin, with the denial message.

use serde::Serialize;
use serde_json::Value;

use super::measure::{num, Check};
use crate::policy::model::{Action, DefaultAction, Op, Path, Policy, Rule, Span, ToolPolicy, Window, WILDCARD};
use crate::scenario::Duration;
use crate::proxy::audit::AuditRecord;
use crate::scenario::lint::ToolInfo;

/// A line of the policy file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyLocation {
    pub file: String,
    pub line: u32,
}

/// The policy location responsible for a finding, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blame {
    pub location: PolicyLocation,
    /// The rule (by name) that allowed or refused the traffic; `None` when a rule is missing.
    pub rule: Option<String>,
    /// One sentence.
    pub reason: String,
    /// The denial message that refused a benign call (over-blocking only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial: Option<String>,
}

/// What a blame is computed from: the policy as loaded and the file it came from.
pub struct Source<'a> {
    pub policy: &'a Policy,
    pub file: &'a str,
}

impl<'a> Source<'a> {
    fn at(&self, span: Option<Span>) -> PolicyLocation {
        PolicyLocation { file: self.file.to_string(), line: span.map(|s| s.line).unwrap_or(1).max(1) }
    }

    fn blame(&self, span: Option<Span>, rule: Option<&str>, reason: String) -> Blame {
        Blame { location: self.at(span), rule: rule.map(str::to_string), reason, denial: None }
    }

    /// "No rule for tool X", pointing where an entry belongs (the `tools:` key).
    /// The `"*"` entry, whose rules decide every other tool's calls too.
    fn wildcard(&self, tool: &str) -> Option<&'a ToolPolicy> {
        self.policy.tool(WILDCARD).filter(|_| tool != WILDCARD)
    }

    fn no_entry(&self, tool: &str, what: &str) -> Blame {
        let how = match self.policy.default {
            DefaultAction::Allow => "`default: allow` forwards it",
            DefaultAction::Deny => "it is refused by `default: deny`",
        };
        self.blame(
            self.policy.keys.tools.or(self.policy.keys.default),
            None,
            format!("no rule for tool `{tool}`: {how} with {what}; its entry belongs under `tools:`"),
        )
    }
}

/// Conditions of the entry's rules on `args.<field>`.
fn conditions_on<'p>(entry: &'p ToolPolicy, field: &str) -> impl Iterator<Item = (&'p Rule, &'p crate::policy::model::Condition)> + 'p {
    let field = field.to_string();
    entry.rules.iter().filter(|r| r.action == Action::Evaluate).flat_map(move |r| {
        let field = field.clone();
        r.conditions.iter().filter(move |c| c.path == Path::Args(vec![field.clone()])).map(move |c| (r, c))
    })
}

/// Whether a condition refuses values of the wrong JSON type (semantics: a
/// numeric operator fails on a non-number, `regex` on a non-string, `in` on a
/// value outside its list).
pub fn checks_type(op: Op) -> bool {
    matches!(op, Op::Lt | Op::Lte | Op::Gt | Op::Gte | Op::Regex | Op::In | Op::Eq)
}

/// The required properties of a tool's inputSchema a condition can guard,
/// in schema order: those that may be `null` (`anyOf: [T, null]`) are left
/// out, since every condition refuses `null` or admits other types too
/// ([`crate::verify::measure::nullable_fields`]).
pub fn required_fields(tool: &ToolInfo) -> Vec<String> {
    let nullable = crate::verify::measure::nullable_fields(&tool.input_schema);
    tool.input_schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).filter(|k| !nullable.iter().any(|n| n == k)).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The rule that counts calls of the tool (a `rate_limit`, or a fixed-increment counter).
fn rate_rule(entry: &ToolPolicy) -> Option<&Rule> {
    entry.rules.iter().find(|r| r.rate_limit.is_some() || r.state.as_ref().is_some_and(|s| s.increment_from.is_none()))
}

/// Why a calendar limit of `max` per `rule` let more than `count` per
/// `window` through: a shorter calendar window adds up over the
/// requirement's (a per-minute limit against an hourly bound lets 60 times
/// its limit through every hour); only a window as long as the
/// requirement's, judged sliding, is passed by a burst around its edge.
fn rate_reason(max: u64, rule: Window, count: u64, window: Duration, sliding: bool) -> String {
    let limit = format!("{max} per calendar {rule}");
    let rule_ns = rule.length_secs() as u128 * 1_000_000_000;
    let req_ns = window.nanos().max(1) as u128;
    let over_window = max as u128 * req_ns / rule_ns;
    if rule_ns < req_ns && over_window > count as u128 {
        return format!("{limit}, which adds up to {over_window} per {window}");
    }
    if rule_ns <= req_ns && sliding {
        // At most ceil(W/w) + 1 calendar windows touch a sliding W.
        let touched = req_ns.div_ceil(rule_ns) + 1;
        let windows = match rule.intercept_word() {
            Some(w) => format!("{touched} calendar {w}s"),
            None => format!("{touched} calendar windows of {rule}"),
        };
        return format!("{limit}, and a sliding {window} spans {windows}, so a burst around their edges gets up to {} through", max as u128 * touched);
    }
    limit
}

/// Blame for a breach of `check` on `tool`; `renamed`: the attack also
/// called the tool under another name (a tool-name-variant scenario).
pub fn breach(src: &Source<'_>, tool: &ToolInfo, check: &Check, renamed: bool) -> Blame {
    let policy = src.policy;
    let entry = policy.tool(&tool.name);
    match check {
        Check::Rate { count, window, sliding, shared, .. } => {
            let bound = format!("≤{count} per {window}{}", if *sliding { " sliding" } else { "" });
            if !shared.is_empty() {
                // One budget over several tools: only a counter they share holds it.
                let reason = format!(
                    "the requirement is {bound} across {} together, and the policy does not count them against one budget (a rule on `\"*\"` counts every tool's calls together)",
                    crate::verify::measure::names(shared)
                );
                let rule = entry.and_then(rate_rule);
                return match (rule, entry) {
                    (Some(rule), _) => src.blame(Some(rule.span), Some(&rule.name), reason),
                    (None, Some(e)) => src.blame(Some(e.span), None, reason),
                    (None, None) => src.no_entry(&tool.name, &format!("no counter, so nothing holds {} to {bound} together", crate::verify::measure::names(shared))),
                };
            }
            // The tool's own limit, else a `"*"` one: it counts this tool's calls too, and decides.
            let own = entry.and_then(rate_rule);
            let rule = own.or_else(|| src.wildcard(&tool.name).and_then(rate_rule));
            match (rule, entry) {
                (Some(rule), _) => {
                    let on = if own.is_none() { " on `\"*\"`" } else { "" };
                    let reason = match &rule.rate_limit {
                        Some(rl) => rate_reason(rl.max.max(0) as u64, rl.window, *count, *window, *sliding),
                        None => "more calls".to_string(),
                    };
                    // A limit keyed on the tool's name, no looser than the requirement on its own:
                    // what got past it is the calls it never counted, those under the other name.
                    let tight = rule.rate_limit.as_ref().is_some_and(|rl| rl.max.max(0) as u64 <= *count && rl.window.length_secs() as u128 * 1_000_000_000 >= window.nanos().max(1) as u128);
                    if renamed && own.is_some() && tight {
                        return src.blame(
                            Some(rule.span),
                            Some(&rule.name),
                            format!(
                                "rule `{}` counts the calls named `{}` only: the same tool called under its other name reaches the server uncounted, so both names together get past the requirement {bound}",
                                rule.name, tool.name
                            ),
                        );
                    }
                    src.blame(
                        Some(rule.span),
                        Some(&rule.name),
                        format!("rule `{}`{on} allows {reason}, but the requirement is {bound}", rule.name),
                    )
                }
                (None, Some(e)) => src.blame(
                    Some(e.span),
                    None,
                    format!("tool `{}` has no rate limit, so nothing holds it to {bound}", tool.name),
                ),
                (None, None) => src.no_entry(&tool.name, &format!("no rate limit, so nothing holds it to {bound}")),
            }
        }
        Check::SchemaViolations { .. } | Check::ArgumentBytes { .. } => {
            let required = required_fields(tool);
            let what = if matches!(check, Check::ArgumentBytes { .. }) { "bounds the length of" } else { "checks the type of" };
            // The tool's own rules and the `"*"` rules both decide its calls.
            let wildcard = src.wildcard(&tool.name);
            let deciding: Vec<&ToolPolicy> = entry.into_iter().chain(wildcard).collect();
            let checked = |f: &String| deciding.iter().any(|e| conditions_on(e, f).any(|(_, c)| checks_type(c.op)));
            let unguarded: Vec<String> = required.iter().filter(|f| !checked(f)).map(|f| format!("`args.{f}`")).collect();
            let Some(e) = entry else {
                return match wildcard {
                    Some(_) if !unguarded.is_empty() => src.no_entry(
                        &tool.name,
                        &format!("only the `\"*\"` rules, none of which {what} {}", unguarded.join(", ")),
                    ),
                    Some(w) => src.blame(
                        Some(w.span),
                        None,
                        format!("the `\"*\"` rules let values of `{}` through that the inputSchema rejects", tool.name),
                    ),
                    None => src.no_entry(&tool.name, "no condition on its arguments"),
                };
            };
            if unguarded.is_empty() {
                // Every required field is checked: the rest is whatever those checks let through.
                let first = required.first().and_then(|f| deciding.iter().find_map(|e| conditions_on(e, f).next()));
                return match first {
                    Some((rule, c)) => src.blame(
                        Some(c.span),
                        Some(&rule.name),
                        format!("rule `{}` lets values through that the inputSchema rejects", rule.name),
                    ),
                    None => src.blame(Some(e.span), None, format!("tool `{}` has no condition on its arguments", tool.name)),
                };
            }
            src.blame(
                Some(e.span),
                None,
                format!("no condition of tool `{}` {what} {} (required by its inputSchema)", tool.name, unguarded.join(", ")),
            )
        }
        Check::Destinations { checks, forbidden } => {
            let Some(e) = entry else {
                return src.no_entry(&tool.name, "no condition on where its values go");
            };
            if let Some(f) = forbidden.iter().find(|f| !conditions_on(e, f).any(|(_, c)| c.op == Op::Exists)) {
                return src.blame(Some(e.span), None, format!("no condition of tool `{}` keeps out `args.{f}`, which the requirements forbid", tool.name));
            }
            let guardable = checks.iter().find(|c| c.inexpressible().is_none()).or(checks.first());
            let Some(c) = guardable else {
                return src.blame(Some(e.span), None, format!("tool `{}` lets forbidden fields through", tool.name));
            };
            match conditions_on(e, &c.path).next() {
                Some((rule, cond)) => src.blame(
                    Some(cond.span),
                    Some(&rule.name),
                    format!(
                        "rule `{}`'s condition on `args.{}` admits destinations outside {} as the server reads them",
                        rule.name,
                        c.path,
                        c.allow.describe(c.kind)
                    ),
                ),
                None => src.blame(
                    Some(e.span),
                    None,
                    format!("no condition of tool `{}` keeps `args.{}` to {}", tool.name, c.path, c.allow.describe(c.kind)),
                ),
            }
        }
        Check::NeverReached { tool: reached } | Check::NeverListed { tool: reached } => {
            let listed = matches!(check, Check::NeverListed { .. });
            let verb = if listed { "listed" } else { "forwarded" };
            let hidden = policy.hides(reached);
            if hidden && policy.default == DefaultAction::Allow {
                return src.blame(
                    policy.keys.default.or(policy.keys.tools),
                    None,
                    format!("`{reached}` is hidden, but `default: allow` forwards the variants of its name the server still resolves to it"),
                );
            }
            if let Some(e) = policy.tool(reached).filter(|_| !hidden) {
                return src.blame(
                    Some(e.span),
                    None,
                    format!(
                        "tool `{reached}` has an entry and is not in `hide`, so it is {verb}; the requirements deny {} tools",
                        tool.risk
                    ),
                );
            }
            if listed {
                return src.blame(
                    policy.keys.hide.or(policy.keys.tools),
                    None,
                    format!("`{reached}` is not in `hide`, so `tools/list` shows it; the requirements deny {} tools", tool.risk),
                );
            }
            let why = if reached == &tool.name {
                format!("the requirements deny {} tools", tool.risk)
            } else {
                format!("no rule names `{reached}` (a variant of `{}` or a tool added later)", tool.name)
            };
            match policy.default {
                DefaultAction::Allow => src.blame(
                    policy.keys.default.or(policy.keys.tools),
                    None,
                    format!(
                        "{} lets `{reached}` through: {why}",
                        if policy.keys.default.is_some() { "`default: allow`" } else { "the missing `default:` (allow)" }
                    ),
                ),
                DefaultAction::Deny => src.blame(policy.keys.default, None, format!("`{reached}` reached the server although {why}")),
            }
        }
        Check::AmountPerCall { cap } => amount_blame(src, tool, entry, &format!("a single call at ≤{}", num(*cap)), |c| {
            matches!(c.op, Op::Lte | Op::Lt)
        }),
        Check::PositiveWhole { .. } => amount_blame(src, tool, entry, "amounts to whole numbers ≥ 1", |c| matches!(c.op, Op::Gte | Op::Gt)),
        // The proxy's behaviour under a fault, not a line of the policy.
        Check::Answered => src.blame(None, None, "calls were left without an answer: the proxy's handling of a failing upstream, not a policy line".into()),
        Check::Blind { kind, .. } => src.blame(
            None,
            None,
            format!("calls of `{}` reached {}: the proxy's fail mode (`--state-fail-mode`) decides that, not a policy line", tool.name, kind.while_words()),
        ),
        Check::AmountPerWindow { cap, window } => {
            let spend = entry.and_then(|e| {
                e.rules.iter().find(|r| r.state.as_ref().is_some_and(|s| s.increment_from.is_some()))
            });
            match (entry, spend) {
                (_, Some(rule)) => src.blame(
                    Some(rule.span),
                    Some(&rule.name),
                    format!(
                        "rule `{}` counts spend per calendar window, which lets more than {} through within a sliding {window}",
                        rule.name,
                        num(*cap)
                    ),
                ),
                (Some(e), None) => src.blame(
                    Some(e.span),
                    None,
                    format!("tool `{}` has no spend counter, so nothing caps its total at ≤{} per {window}", tool.name, num(*cap)),
                ),
                (None, None) => src.no_entry(&tool.name, &format!("no spend counter capping it at ≤{} per {window}", num(*cap))),
            }
        }
        Check::Flow { to: Some(checks), .. } => breach(src, tool, &Check::Destinations { checks: checks.clone(), forbidden: Vec::new() }, renamed),
        Check::Flow { sources, .. } => {
            let reason = format!(
                "nothing refuses `{}` after a private read: no condition of its rules reads a counter of {} (`state.{}.private_reads lte 0`)",
                tool.name,
                crate::verify::measure::names(sources),
                sources.first().map(String::as_str).unwrap_or_default()
            );
            match entry {
                Some(e) => src.blame(Some(e.span), None, reason),
                None => src.no_entry(&tool.name, "no rule, so nothing refuses it after a private read"),
            }
        }
        // A proxy finding, blamed on no line: no rule compares definitions.
        Check::SessionCalls { max } => match entry {
            Some(e) => src.blame(Some(e.span), None, format!("no counter of tool `{}` caps its calls at {max} (per session; nearest: `state.{}.session_calls lte {max}`, window day)", tool.name, tool.name)),
            None => src.no_entry(&tool.name, &format!("no rule, so nothing caps its calls at {max} per session")),
        },
        Check::Pinned { .. } => src.blame(None, None, format!("no rule of any policy can pin the definition of `{}`", tool.name)),
    }
}

fn amount_blame(
    src: &Source<'_>,
    tool: &ToolInfo,
    entry: Option<&ToolPolicy>,
    what: &str,
    bounds: impl Fn(&crate::policy::model::Condition) -> bool,
) -> Blame {
    let Some(e) = entry else {
        return src.no_entry(&tool.name, &format!("no condition holding {what}"));
    };
    match conditions_on(e, "amount").find(|(_, c)| bounds(c)) {
        Some((rule, c)) => src.blame(
            Some(c.span),
            Some(&rule.name),
            format!("rule `{}` checks `args.amount {}`, which does not hold {what}", rule.name, c.op.as_str()),
        ),
        None => src.blame(Some(e.span), None, format!("no condition of tool `{}` holds {what}", tool.name)),
    }
}

/// Blame for a benign call the policy refused, from the proxy's audit record of it.
pub fn refusal(src: &Source<'_>, refused: &AuditRecord, arguments: Option<&Value>) -> Blame {
    let policy = src.policy;
    let message = refused.message.clone().unwrap_or_default();
    let tool = &refused.tool;
    let mut b = match refused.rule.as_deref() {
        Some("(hidden)") => src.blame(policy.keys.hide, None, format!("`hide` refuses every call of `{tool}`")),
        Some("(default deny)") => {
            src.blame(policy.keys.default, None, format!("`default: deny` refuses `{tool}`, which has no entry"))
        }
        named => {
            // A rule-phase denial names its rule; a limit denial is found by its message.
            let rules = [policy.tool(tool), policy.tool("*")];
            let rule = rules.iter().flatten().flat_map(|e| e.rules.iter()).find(|r| match named {
                Some(n) => r.name == n,
                None => r.state.is_some() && (r.on_deny == message || r.on_deny.is_empty()),
            });
            // A condition on a field the legitimate call left out fails whatever its operator.
            let absent = |c: &&crate::policy::model::Condition| match (&c.path, arguments) {
                (Path::Args(p), Some(args)) => {
                    p.iter().try_fold(args, |v, k| v.get(k)).is_none() && c.op != Op::Exists
                }
                _ => false,
            };
            match rule {
                Some(r) => match r.conditions.iter().find(absent) {
                    Some(c) => src.blame(
                        Some(c.span),
                        Some(&r.name),
                        format!(
                            "rule `{}` requires `{}`, which a legitimate call of `{tool}` leaves out (the field is optional)",
                            r.name,
                            path_text(&c.path)
                        ),
                    ),
                    None => src.blame(
                        Some(r.span),
                        Some(&r.name),
                        format!("rule `{}` refused a legitimate call of `{tool}`", r.name),
                    ),
                },
                None => src.blame(
                    policy.tool(tool).map(|e| e.span),
                    named,
                    format!("the policy refused a legitimate call of `{tool}`"),
                ),
            }
        }
    };
    b.denial = Some(message);
    b
}

fn path_text(p: &Path) -> String {
    match p {
        Path::Args(parts) => format!("args.{}", parts.join(".")),
        Path::State(k) => format!("state.{k}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Duration;

    /// A `"*"` rule decides every tool's calls too: a field it checks is not
    /// blamed as unchecked, and its limit is the one blamed when the tool has none.
    #[test]
    fn a_wildcard_rule_is_blamed_where_it_decides() {
        let text = "version: \"1\"\ntools:\n  \"*\":\n    rules:\n      - name: one repository\n        conditions:\n          - {path: args.repo_path, op: eq, value: /srv/app}\n      - name: overall rate\n        rate_limit: 100/minute\n  git_checkout:\n    rules:\n      - name: never main\n        conditions:\n          - {path: args.branch_name, op: not_in, value: [main]}\n";
        let policy = crate::policy::load_intercept(text).unwrap();
        let src = Source { policy: &policy, file: "git.yaml" };
        let tool = |name: &str| ToolInfo {
            server: "git".into(),
            name: name.into(),
            risk: crate::scenario::Risk::Write,
            input_schema: serde_json::json!({"type": "object", "required": ["repo_path", "branch_name"]}).into(),
            surface: Default::default(),
            roles: Vec::new(),
            definition: serde_json::Value::Null,
            private: false,
        };
        let types = breach(&src, &tool("git_checkout"), &Check::SchemaViolations { max: 0 }, false);
        assert!(types.reason.contains("`args.branch_name`") && !types.reason.contains("repo_path"), "{}", types.reason);
        // A tool with no entry of its own is decided by the `"*"` rules alone.
        let status = breach(&src, &tool("git_status"), &Check::SchemaViolations { max: 0 }, false);
        assert!(status.reason.contains("only the `\"*\"` rules") && !status.reason.contains("repo_path"), "{}", status.reason);
        let rate = Check::Rate { count: 30, window: Duration::from_secs(60), sliding: true, executed_only: false, shared: vec![] };
        let b = breach(&src, &tool("git_checkout"), &rate, false);
        assert_eq!(b.rule.as_deref(), Some("overall rate"), "{b:?}");
        assert!(b.reason.contains("on `\"*\"` allows 100 per calendar minute"), "{}", b.reason);
        assert_eq!(b.location.line, 8);
    }

    /// A per-minute limit against an hourly bound adds up over the hour (a
    /// slow drip gets through, no edge needed); the calendar edge is blamed
    /// only where it is the cause: a window as long as the sliding requirement's.
    #[test]
    fn a_shorter_window_adds_up_and_only_an_equal_one_is_passed_at_its_edge() {
        let text = "version: \"1\"\ntools:\n  create:\n    rules:\n      - name: per minute\n        rate_limit: 30/minute\n";
        let policy = crate::policy::load_intercept(text).unwrap();
        let src = Source { policy: &policy, file: "p.yaml" };
        let tool = ToolInfo {
            server: "s".into(),
            name: "create".into(),
            risk: crate::scenario::Risk::Write,
            input_schema: serde_json::json!({"type": "object"}).into(),
            surface: Default::default(),
            roles: Vec::new(),
            definition: serde_json::Value::Null,
            private: false,
        };
        let reason = |count, secs, sliding| {
            let check = Check::Rate { count, window: Duration::from_secs(secs), sliding, executed_only: false, shared: vec![] };
            breach(&src, &tool, &check, false).reason
        };
        let hourly = reason(100, 3600, true);
        assert!(hourly.contains("30 per calendar minute, which adds up to 1800 per 1h, but the requirement is ≤100 per 1h sliding"), "{hourly}");
        assert!(!hourly.contains("edge"), "{hourly}");
        assert_eq!(reason(100, 3600, false), hourly.replace(" sliding", ""), "a calendar hour adds up the same");
        let same = reason(20, 60, true);
        assert!(same.contains("a sliding 1m spans 2 calendar minutes, so a burst around their edges gets up to 60 through"), "{same}");
        let calendar = reason(20, 60, false);
        assert!(calendar.ends_with("allows 30 per calendar minute, but the requirement is ≤20 per 1m"), "{calendar}");
        // 90 s: 45 on average, under the bound; three calendar minutes around two edges let 90 through.
        let ninety = reason(50, 90, true);
        assert!(ninety.contains("spans 3 calendar minutes, so a burst around their edges gets up to 90 through"), "{ninety}");

        // tool-second-name: half the calls under the tool's other name. A limit as tight as the
        // requirement is not passed at a minute edge there but by the calls it never counted.
        let renamed = |count, secs| {
            let check = Check::Rate { count, window: Duration::from_secs(secs), sliding: true, executed_only: false, shared: vec![] };
            breach(&src, &tool, &check, true).reason
        };
        let second = renamed(30, 60);
        assert_eq!(
            second,
            "rule `per minute` counts the calls named `create` only: the same tool called under its other name reaches the server uncounted, so both names together get past the requirement ≤30 per 1m sliding"
        );
        assert!(!second.contains("calendar"), "{second}");
        // A limit looser than the requirement on its own is blamed for being loose.
        assert_eq!(renamed(20, 60), same);
        assert_eq!(renamed(100, 3600), hourly);
    }
}
