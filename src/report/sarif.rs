//! SARIF 2.1.0 (`--format sarif`), for code-scanning dashboards: one result
//! per finding, located at the policy file and line that the finding's blame
//! names, with one rule per attack class (`gauntlet/<class>`). A finding that
//! fails the run (`--fail-on`, `--fail-on-proxy-findings`) is an error; one
//! that does not is a warning when critical or high and a note otherwise.
//! Each result carries its severity (`properties.severity`), and each rule
//! the `security-severity` score of its worst finding (9.5 critical, 8.0
//! high, 5.5 medium, 2.0 low), which code scanning ranks by. Pairs that could not run are tool execution
//! notifications, and the invocation is then unsuccessful. Validated against
//! the official SARIF 2.1.0 schema in the tests.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{location, verdict_label, Options, Report, Severity};
use crate::verify::{Outcome, Verdict};

/// A path as a relative URI reference: forward slashes, everything outside
/// RFC 3986's unreserved set and `/` percent-encoded.
pub fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The rule id of an attack class.
pub fn rule_id(class: &str) -> String {
    format!("gauntlet/{class}")
}

fn level(o: &Outcome, opts: &Options) -> &'static str {
    match o.severity {
        _ if opts.fails(o) => "error",
        Some(Severity::Critical | Severity::High) => "warning",
        _ => "note",
    }
}

/// GitHub code scanning's `security-severity` score for a severity.
fn score(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
    }
}

/// The one-line message of a finding.
pub fn message(o: &Outcome) -> String {
    let mut m = format!("{}: {} × {} ({})", verdict_label(o), o.scenario, o.tool, o.server);
    if o.verdict == Verdict::Breached {
        m.push_str(&format!(": expected {}, observed {} ({} of {} calls reached the server)", o.bound, o.observed, o.reached, o.attempted));
    }
    if let Some(n) = &o.note {
        m.push_str(&format!(". {n}"));
    }
    m
}

pub fn render(r: &Report, opts: &Options) -> String {
    let findings: Vec<&Outcome> = r.outcomes.iter().filter(|o| o.finding.is_some()).collect();
    let mut rules: BTreeMap<&str, Severity> = BTreeMap::new();
    for o in &findings {
        let worst = rules.entry(o.class.as_str()).or_insert(Severity::Low);
        *worst = (*worst).max(o.severity.unwrap_or(Severity::Low));
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, c)| (*c, i)).collect();
    let rule_objects: Vec<Value> = rules
        .iter()
        .map(|(class, worst)| {
            json!({
                "id": rule_id(class),
                "name": class,
                "shortDescription": {"text": format!("An attack of class `{class}` got past the policy")},
                "help": {"text": "Each result names the scenario, the tool, what reached the server against the bound, and a command that reproduces it."},
                "defaultConfiguration": {"level": "error"},
                "properties": {"tags": ["security", "mcp", "policy"], "security-severity": score(*worst)}
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|o| {
            let (file, line) = location(r, o);
            let mut props = json!({
                "scenario": o.scenario,
                "server": o.server,
                "tool": o.tool,
                "verdict": o.verdict,
                "finding": o.finding,
                "severity": o.severity,
                "attempted": o.attempted,
                "reached": o.reached,
                "bound": o.bound,
                "observed": o.observed,
                "seed": o.seed.to_string(),
            });
            if let Some(cmd) = &o.reproduce {
                props["reproduce"] = json!(cmd);
            }
            json!({
                "ruleId": rule_id(&o.class),
                "ruleIndex": index[o.class.as_str()],
                "kind": "fail",
                "level": level(o, opts),
                "message": {"text": message(o)},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": uri(&file)},
                    "region": {"startLine": line}
                }}],
                "partialFingerprints": {"gauntletOutcome/v1": format!("{}|{}|{}", o.scenario, o.server, o.tool)},
                "properties": props
            })
        })
        .collect();
    let notifications: Vec<Value> = r
        .outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Error)
        .map(|o| {
            json!({
                "level": "error",
                "message": {"text": format!("{} × {} could not be run: {}", o.scenario, o.tool, o.note.as_deref().unwrap_or("no reason recorded"))}
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "gauntlet",
                "version": r.tool_version,
                "informationUri": "https://github.com/policylayer/intercept",
                "rules": rule_objects
            }},
            "invocations": [{
                "executionSuccessful": notifications.is_empty(),
                "toolExecutionNotifications": notifications
            }],
            "results": results,
            "properties": {
                "policy": r.policy,
                "profile": r.profile,
                "seed": r.seed,
                "servers": r.servers,
                "summary": r.summary
            }
        }]
    });
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official schema, from the npm package scripts/install-peers.sh puts in .peers
    /// (`None` when it is missing and peers are optional: the integration test says so too).
    fn schema() -> Option<jsonschema::Validator> {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/.peers/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json");
        match std::fs::read_to_string(file) {
            Ok(text) => Some(jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()),
            Err(_) if std::env::var("GAUNTLET_REQUIRE_PEERS").as_deref() != Ok("1") => None,
            Err(e) => panic!("{file}: {e}; run `bash scripts/install-peers.sh`"),
        }
    }

    #[test]
    fn sarif_validates_against_the_official_schema_and_locates_findings() {
        let mut r = super::super::fixtures::report();
        r.policy = "policies/my policy.yaml".into();
        let text = render(&r, &Options::default());
        let v: Value = serde_json::from_str(&text).unwrap();
        if let Some(schema) = schema() {
            let errors: Vec<String> = schema.iter_errors(&v).map(|e| format!("{} at {}", e, e.instance_path)).collect();
            assert!(errors.is_empty(), "{errors:#?}");
        }
        let results = v["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 2, "one result per finding");
        assert_eq!(results[0]["ruleId"], "gauntlet/bulk-writes");
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[1]["level"], "warning", "a proxy finding warns unless --fail-on-proxy-findings");
        // A policy finding sits where its blame points; a proxy finding at the policy file.
        let loc = |i: usize| results[i]["locations"][0]["physicalLocation"].clone();
        assert_eq!((loc(0)["artifactLocation"]["uri"].as_str(), loc(0)["region"]["startLine"].as_u64()), (Some("examples/p.yaml"), Some(7)));
        assert_eq!((loc(1)["artifactLocation"]["uri"].as_str(), loc(1)["region"]["startLine"].as_u64()), (Some("policies/my%20policy.yaml"), Some(1)));
        assert_eq!(results[0]["properties"]["seed"], "9");
        let strict: Value = serde_json::from_str(&render(&r, &Options { fail_on_proxy: true, ..Options::default() })).unwrap();
        assert_eq!(strict["runs"][0]["results"][1]["level"], "error");
    }

    #[test]
    fn the_schema_rejects_what_it_should() {
        // The validator is not vacuous: a result without a message, or a bad level, fails.
        let Some(schema) = schema() else { return };
        let v: Value = serde_json::from_str(&render(&super::super::fixtures::report(), &Options::default())).unwrap();
        let mut broken = v.clone();
        broken["runs"][0]["results"][0].as_object_mut().unwrap().remove("message");
        assert!(!schema.is_valid(&broken));
        let mut bad_level = v;
        bad_level["runs"][0]["results"][0]["level"] = json!("fatal");
        assert!(!schema.is_valid(&bad_level));
    }
}
