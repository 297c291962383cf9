//! The JSON report (`--format json`).
//!
//! Shape (schema_version 1): `{schema_version, tool_version, policy, profile,
//! seed (string), servers[], scenarios, requirements, summary {total, held,
//! breached, over_blocking, not_applicable, errors, policy_findings,
//! proxy_findings}, outcomes[] {scenario, title, class, server, tool, verdict
//! (held|breached|over-blocking|not-applicable|error), finding
//! (policy|proxy|null), attempted, reached, bound, observed, note, trace[],
//! trace_from, seed, reproduce, twin {tool, attempted, reached}}}`.

use super::Report;

pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_report_has_documented_fields() {
        let v: serde_json::Value = serde_json::from_str(&render(&super::super::fixtures::report())).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["seed"], "1");
        assert_eq!(v["summary"]["breached"], 2);
        assert_eq!(v["summary"]["policy_findings"], 1);
        assert_eq!(v["outcomes"][1]["verdict"], "breached");
        assert_eq!(v["outcomes"][1]["finding"], "policy");
        assert_eq!(v["outcomes"][3]["verdict"], "not-applicable");
        assert_eq!(v["outcomes"][0]["twin"]["reached"], 5);
    }
}
