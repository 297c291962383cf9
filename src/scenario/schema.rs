//! The scenario JSON Schema shipped at `scenarios/scenario.schema.json`, for
//! editor completion and for `gauntlet scenario lint`.
//!
//! The Rust types stay the authority; a test keeps the schema's property
//! names equal to theirs so the two cannot drift apart silently.

use std::sync::OnceLock;

/// The schema text as shipped.
pub const SCHEMA: &str = include_str!("../../scenarios/scenario.schema.json");

fn compiled() -> Option<&'static jsonschema::Validator> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).ok()?;
        jsonschema::validator_for(&schema).ok()
    })
    .as_ref()
}

/// Schema violations of a scenario document (already parsed from YAML), as
/// `(instance path, message)` pairs. Empty when valid.
pub fn violations(doc: &serde_json::Value) -> Vec<(String, String)> {
    match compiled() {
        Some(v) => v.iter_errors(doc).map(|e| (e.instance_path.to_string(), e.to_string())).collect(),
        None => vec![(String::new(), "the shipped scenario schema does not compile".to_string())],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::scenario::model::*;

    fn schema() -> serde_json::Value {
        serde_json::from_str(SCHEMA).unwrap()
    }

    fn schema_keys(node: &serde_json::Value) -> BTreeSet<String> {
        node["properties"].as_object().unwrap().keys().cloned().collect()
    }

    fn rust_keys<T: serde::Serialize>(value: &T) -> BTreeSet<String> {
        serde_json::to_value(value).unwrap().as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn schema_property_names_match_the_rust_types() {
        let s = schema();
        let step = Step::default();
        let scenario = Scenario {
            id: "x".into(),
            title: "x".into(),
            class: AttackClass::BulkWrites,
            layer: Layer::Policy,
            references: vec![],
            description: String::new(),
            targets: Targets::default(),
            agent: Behaviour::default(),
            upstream: None,
            twin: None,
            faults: vec![],
            expect: Expect::default(),
        };
        let fault = Fault { kind: FaultKind::StoreError, at: Default::default(), lasting: Some(Default::default()) };
        let random = RandomBehaviour {
            calls: 1,
            at: Default::default(),
            over: Default::default(),
            generators: vec![],
            sessions: 1,
            identities: 1,
            name_variants: vec![],
        };
        let twin = Twin { targets: None, steps: vec![] };
        assert_eq!(schema_keys(&s), rust_keys(&scenario));
        assert_eq!(schema_keys(&s["properties"]["agent"]), rust_keys(&Behaviour::default()));
        assert_eq!(schema_keys(&s["properties"]["twin"]), rust_keys(&twin));
        assert_eq!(schema_keys(&s["properties"]["upstream"]), rust_keys(&Upstream::default()));
        assert_eq!(schema_keys(&s["properties"]["expect"]), rust_keys(&Expect::default()));
        assert_eq!(schema_keys(&s["properties"]["expect"]["properties"]["max_amount_per_window"]), rust_keys(&AmountWindowExpect::default()));
        assert_eq!(schema_keys(&s["$defs"]["targets"]), rust_keys(&Targets::default()));
        assert_eq!(schema_keys(&s["$defs"]["step"]), rust_keys(&step));
        assert_eq!(schema_keys(&s["$defs"]["random"]), rust_keys(&random));
        assert_eq!(schema_keys(&s["$defs"]["rate"]), rust_keys(&RateExpect::default()));
        assert_eq!(schema_keys(&s["properties"]["faults"]["items"]), rust_keys(&fault));
    }

    #[test]
    fn schema_enums_match_the_rust_enums() {
        let s = schema();
        let names = |node: &serde_json::Value| -> BTreeSet<String> {
            node["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
        };
        let classes: BTreeSet<String> = names(&s["properties"]["class"]);
        for c in &classes {
            let parsed: AttackClass = serde_json::from_value(serde_json::json!(c)).unwrap();
            assert_eq!(parsed.as_str(), c);
        }
        let gens = names(&s["$defs"]["generator"]);
        for g in &gens {
            let parsed: Generator = serde_json::from_value(serde_json::json!(g)).unwrap();
            assert_eq!(parsed.as_str(), g);
        }
        let risks = names(&s["$defs"]["risk"]);
        assert_eq!(risks, Risk::ALL.iter().map(|r| r.as_str().to_string()).collect());
    }

    #[test]
    fn schema_rejects_unknown_keys_and_accepts_a_valid_document() {
        let ok = serde_json::json!({"id": "a", "title": "t", "class": "bulk-writes", "targets": {"risk": ["write"]},
            "agent": {"steps": [{"calls": 3, "over": "1m"}]}, "expect": {"max_reached_per_window": {}}});
        assert!(violations(&ok).is_empty(), "{:?}", violations(&ok));
        let mut bad = ok.clone();
        bad["agent"]["steps"][0]["cals"] = serde_json::json!(3);
        let v = violations(&bad);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, "/agent/steps/0");
    }
}
