//! Every policy in Intercept's conformance vectors goes through
//! `load_intercept`: `valid_policy` and the policies of runnable vectors
//! must load; `invalid_policy` must fail with exactly the recorded text.

use gauntlet::policy::{load_intercept, InterceptError};

fn vectors() -> Vec<serde_yaml::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/intercept-vectors.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("vector file parses");
    doc["vectors"].as_sequence().expect("vectors list").clone()
}

fn field<'a>(v: &'a serde_yaml::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(|x| x.as_str())
}

#[test]
fn policy_vectors_match_intercept() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for v in vectors() {
        let id = field(&v, "id").unwrap_or("?").to_string();
        let kind = field(&v, "kind").unwrap_or("");
        let Some(policy) = field(&v, "policy") else { continue };
        let got = load_intercept(policy);
        match kind {
            "invalid_policy" => {
                let want = if let Some(errors) = v.get("errors").and_then(|e| e.as_sequence()) {
                    InterceptError::Invalid(errors.iter().map(|e| e.as_str().unwrap_or("").to_string()).collect())
                } else {
                    InterceptError::Load(field(&v, "load_error").expect("errors or load_error").to_string())
                };
                match got {
                    Err(e) if e == want => {}
                    other => failures.push(format!("{id}: want {want:?}, got {other:?}")),
                }
            }
            _ => {
                if let Err(e) = got {
                    failures.push(format!("{id} ({kind}): policy should load, got {e:?}"));
                }
            }
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{} of {checked} vectors differ:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 40, "only {checked} vectors with a policy were found");
}

#[test]
fn reload_policies_in_vectors_load_too() {
    for v in vectors() {
        let Some(calls) = v.get("calls").and_then(|c| c.as_sequence()) else { continue };
        for step in calls {
            if let Some(policy) = field(step, "reload") {
                let id = field(&v, "id").unwrap_or("?");
                assert!(load_intercept(policy).is_ok(), "{id}: reload policy rejected: {:?}", load_intercept(policy));
            }
        }
    }
}
