//! The denominators of a run: how much of the policy its verdicts speak for.
//!
//! A verdict table alone cannot say what it left out. Coverage names the
//! policy's tools that no outcome exercised, the ones on no server in play
//! (nothing here says whether the policy holds for them), and how many
//! scenarios applied at all, so a report that tested little says so.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Outcome, Verdict};
use crate::scenario::lint::ToolInfo;

/// One server in play: its tools, and how many of them the policy names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerCoverage {
    pub name: String,
    pub tools: usize,
    pub named_by_policy: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// The tools the policy names (tool entries and hide entries), sorted.
    pub policy_tools: Vec<String>,
    /// Policy tools that at least one held, breached or over-blocking outcome judged.
    pub exercised: Vec<String>,
    /// Policy tools on no server in play: the run says nothing about them.
    pub absent: Vec<String>,
    pub servers: Vec<ServerCoverage>,
    /// Scenarios run.
    pub scenarios: usize,
    /// Scenarios with at least one held, breached or over-blocking outcome.
    pub applicable_scenarios: usize,
}

/// What no scenario judges, named on every coverage line so no report reads as more than it is.
pub const NOT_TESTED: &str = "not tested: content (what text fields say)";

fn judged(o: &Outcome) -> bool {
    matches!(o.verdict, Verdict::Held | Verdict::Breached | Verdict::OverBlocking)
}

impl Coverage {
    /// The coverage of `outcomes`, for a policy naming `policy_tools`, over the tools of `catalogue`.
    pub fn of(policy_tools: &BTreeSet<String>, catalogue: &[ToolInfo], scenarios: usize, outcomes: &[Outcome]) -> Coverage {
        let on_servers: BTreeSet<&str> = catalogue.iter().map(|t| t.name.as_str()).collect();
        let judged_tools: BTreeSet<&str> = outcomes.iter().filter(|o| judged(o)).map(|o| o.tool.as_str()).collect();
        let mut servers: Vec<ServerCoverage> = Vec::new();
        for t in catalogue {
            let named = usize::from(policy_tools.contains(&t.name));
            match servers.iter_mut().find(|s| s.name == t.server) {
                Some(s) => {
                    s.tools += 1;
                    s.named_by_policy += named;
                }
                None => servers.push(ServerCoverage { name: t.server.clone(), tools: 1, named_by_policy: named }),
            }
        }
        let applicable: BTreeSet<&str> = outcomes.iter().filter(|o| judged(o)).map(|o| o.scenario.as_str()).collect();
        Coverage {
            policy_tools: policy_tools.iter().cloned().collect(),
            exercised: policy_tools.iter().filter(|t| judged_tools.contains(t.as_str())).cloned().collect(),
            absent: policy_tools.iter().filter(|t| !on_servers.contains(t.as_str())).cloned().collect(),
            servers,
            scenarios,
            applicable_scenarios: applicable.len(),
        }
    }

    /// One sentence every report format prints: the denominators.
    pub fn line(&self) -> String {
        self.line_naming(usize::MAX)
    }

    /// [`Coverage::line`] naming at most `names` of the tools on no server
    /// in play, and how many more there are.
    pub fn line_naming(&self, names: usize) -> String {
        let scenarios = format!("{} of {} applicable; {NOT_TESTED}", self.applicable_scenarios, crate::wording::count(self.scenarios, "scenario"));
        if self.policy_tools.is_empty() {
            return format!("coverage: the policy names no tool (its rules apply to every tool alike); {scenarios}");
        }
        let absent = if self.absent.is_empty() {
            "every policy tool is on a server in play".to_string()
        } else {
            let shown = self.absent.iter().take(names).map(String::as_str).collect::<Vec<_>>().join(", ");
            let more = self.absent.len().saturating_sub(names);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            format!("on no server in play: {shown}{more}")
        };
        format!(
            "coverage: {} of {} exercised ({absent}); {scenarios}",
            self.exercised.len(),
            crate::wording::count(self.policy_tools.len(), "policy tool"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::fixtures::outcome;
    use crate::scenario::model::Risk;

    fn tool(server: &str, name: &str) -> ToolInfo {
        ToolInfo { server: server.into(), name: name.into(), risk: Risk::Write, input_schema: serde_json::json!({"type": "object"}).into(), surface: Default::default(), roles: Vec::new(), definition: serde_json::Value::Null, private: false }
    }

    #[test]
    fn names_the_policy_tools_no_server_has_and_counts_only_judged_outcomes() {
        let policy: BTreeSet<String> = ["create", "delete_repo", "list"].map(String::from).into();
        let catalogue = [tool("gh", "create"), tool("gh", "list"), tool("gh", "push")];
        let outcomes = [
            outcome("bulk-write-burst", "create", Verdict::Held, None, 30),
            outcome("extra-fields", "list", Verdict::NotApplicable, None, 0),
            outcome("spend-split", "-", Verdict::NotApplicable, None, 0),
        ];
        let c = Coverage::of(&policy, &catalogue, 3, &outcomes);
        assert_eq!(c.exercised, ["create"]);
        assert_eq!(c.absent, ["delete_repo"]);
        assert_eq!(c.servers, [ServerCoverage { name: "gh".into(), tools: 3, named_by_policy: 2 }]);
        assert_eq!(c.applicable_scenarios, 1);
        assert_eq!(
            c.line(),
            "coverage: 1 of 3 policy tools exercised (on no server in play: delete_repo); 1 of 3 scenarios applicable; not tested: content (what text fields say)"
        );
        let one = Coverage::of(&["create".to_string()].into(), &catalogue, 1, &outcomes);
        assert_eq!(one.line(), format!("coverage: 1 of 1 policy tool exercised (every policy tool is on a server in play); 1 of 1 scenario applicable; {NOT_TESTED}"));
        let many: BTreeSet<String> = (0..20).map(|i| format!("gitlab_tool_{i:02}")).collect();
        let cut = Coverage::of(&many, &catalogue, 3, &outcomes).line_naming(2);
        assert!(cut.contains("on no server in play: gitlab_tool_00, gitlab_tool_01 and 18 more)"), "{cut}");
        let none = Coverage::of(&BTreeSet::new(), &catalogue, 3, &outcomes);
        assert_eq!(none.line(), format!("coverage: the policy names no tool (its rules apply to every tool alike); 1 of 3 scenarios applicable; {NOT_TESTED}"));
    }
}
