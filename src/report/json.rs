//! The JSON report (`--format json`), described by the JSON Schema in
//! `src/report/json.schema.json` ([`SCHEMA`]): seeds are strings (64-bit
//! seeds lose precision as JavaScript numbers), traces are arrays of
//! structured steps (time, session, identity, method, tool, arguments).

use super::Report;

/// The JSON Schema (2020-12) of this report.
pub const SCHEMA: &str = include_str!("json.schema.json");

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
        assert_eq!(v["outcomes"][1]["seed"], "9");
        assert_eq!(v["outcomes"][1]["trace"][0]["method"], "tools/call");
        assert_eq!(v["outcomes"][1]["trace"][0]["at_seconds"], 0.0);
    }

    #[test]
    fn json_report_matches_its_schema() {
        let schema = jsonschema::validator_for(&serde_json::from_str(SCHEMA).unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&render(&super::super::fixtures::report())).unwrap();
        let errors: Vec<String> = schema.iter_errors(&v).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let mut numeric_seed = v.clone();
        numeric_seed["outcomes"][0]["seed"] = serde_json::json!(7738544770470753050u64);
        assert!(!schema.is_valid(&numeric_seed), "a numeric seed must not pass");
    }
}
