//! Answers that used to be unknown, now decided: schemas with `anyOf`,
//! `oneOf`, `allOf` and local `$ref` (a union of branches, a shared
//! definition), amounts that Intercept counts truncated (proved under the
//! bound with the fractions accounted for, or refuted by a schedule the
//! engine replays), and the amount field found by its role, not its name.

use serde_json::json;

use super::tests::{engine, run};
use super::*;
use crate::mock::roles::{FieldRole, Unit};
use crate::mock::Risk;
use crate::verify::inprocess::catalogue_of;

fn tool(name: &str, risk: Risk, schema: serde_json::Value, roles: Vec<(String, FieldRole)>) -> ToolInfo {
    ToolInfo {
        server: "t".into(),
        name: name.into(),
        risk,
        input_schema: schema.into(),
        surface: crate::mock::Surface::Tool,
        roles,
        definition: serde_json::Value::Null,
        private: false,
    }
}

fn find<'a>(proofs: &'a [Proof], requirement: &str) -> &'a Proof {
    proofs.iter().find(|p| p.requirement == requirement).unwrap_or_else(|| panic!("no {requirement} proof in {proofs:#?}"))
}

/// The schema proof of `field` under a policy that keeps it with `conditions` (YAML flow list).
fn schema_proof(field_schema: serde_json::Value, defs: serde_json::Value, conditions: &str) -> Proof {
    let schema = json!({"type": "object", "properties": {"v": field_schema}, "required": ["v"], "$defs": defs});
    let policy = format!("version: \"1\"\ntools:\n  put:\n    rules:\n      - name: keep\n        conditions: {conditions}\n");
    let t = tool("put", Risk::Read, schema.clone(), Vec::new());
    let p = find(&run(&engine(&policy), &[t]), "schema").clone();
    if let Some(cex) = &p.counterexample {
        // The witness really breaks the field's schema (with its definitions beside it).
        let mut field = schema["properties"]["v"].clone();
        field["$defs"] = schema["$defs"].clone();
        let v = cex.calls[0].arguments.get("v").cloned().unwrap_or(serde_json::Value::Null);
        assert!(!jsonschema::validator_for(&field).unwrap().is_valid(&v), "{v} is valid against {field}");
        assert!(cex.allowed.iter().all(|a| *a), "replayed: {:?}", cex.allowed);
    }
    p
}

#[test]
fn any_of_is_broken_only_by_a_value_no_branch_admits() {
    let union = json!({"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "string", "pattern": "^[0-9]+$"}, {"type": "null"}]});
    // The empty string is in neither branch, and `[0-9]*` lets it through.
    let loose = schema_proof(union.clone(), json!({}), "[{path: args.v, op: regex, value: \"^(a|b|[0-9]*)$\"}]");
    assert_eq!(loose.status, Status::Refuted, "{}", loose.reason);
    assert!(loose.reason.contains("no branch of `anyOf`"), "{}", loose.reason);
    assert_eq!(loose.counterexample.as_ref().unwrap().calls[0].arguments["v"], "");
    // Exactly the strings of the union (null refused too, which the schema allows: not a violation).
    let exact = schema_proof(union, json!({}), "[{path: args.v, op: regex, value: \"^(a|b|[0-9]+)$\"}]");
    assert_eq!(exact.status, Status::Proved, "{}", exact.reason);
}

#[test]
fn one_of_is_also_broken_by_a_value_two_branches_admit() {
    let overlapping = json!({"oneOf": [{"type": "string", "maxLength": 5}, {"type": "string", "minLength": 3}]});
    let strings = schema_proof(overlapping.clone(), json!({}), "[{path: args.v, op: regex, value: \"^.*$\"}]");
    assert_eq!(strings.status, Status::Refuted, "{}", strings.reason);
    assert!(strings.reason.contains("both admit"), "{}", strings.reason);
    // Lengths 3 to 5 are in both branches; a policy admitting only the others meets it.
    let apart = schema_proof(overlapping, json!({}), "[{path: args.v, op: regex, value: \"^(?s)(.{0,2}|.{6,})$\"}]");
    assert_eq!(apart.status, Status::Proved, "{}", apart.reason);
}

#[test]
fn local_references_and_all_of_are_read_and_other_references_are_unknown_with_the_reason() {
    let defs = json!({"Name": {"type": "string", "maxLength": 5}, "Loop": {"$ref": "#/$defs/Loop"}});
    let loose = schema_proof(json!({"$ref": "#/$defs/Name"}), defs.clone(), "[{path: args.v, op: regex, value: \"^a\"}]");
    assert_eq!(loose.status, Status::Refuted, "{}", loose.reason);
    assert!(loose.reason.contains("longer than 5"), "{}", loose.reason);
    let capped = schema_proof(json!({"$ref": "#/$defs/Name"}), defs.clone(), "[{path: args.v, op: regex, value: \"^a.{0,4}$\"}]");
    assert_eq!(capped.status, Status::Proved, "{}", capped.reason);
    let both = schema_proof(json!({"allOf": [{"$ref": "#/$defs/Name"}, {"pattern": "^a"}]}), defs.clone(), "[{path: args.v, op: regex, value: \"^b.{0,4}$\"}]");
    assert_eq!(both.status, Status::Refuted, "{}", both.reason);
    assert!(both.reason.contains("pattern `^a`"), "{}", both.reason);
    let remote = schema_proof(json!({"$ref": "https://example.com/s.json"}), defs.clone(), "[{path: args.v, op: regex, value: \"^a.{0,4}$\"}]");
    assert_eq!(remote.status, Status::Unknown);
    assert!(remote.reason.contains("outside the tool's schema"), "{}", remote.reason);
    let cycle = schema_proof(json!({"$ref": "#/$defs/Loop"}), defs, "[{path: args.v, op: regex, value: \"^a.{0,4}$\"}]");
    assert_eq!(cycle.status, Status::Unknown);
    assert!(cycle.reason.contains("deeper than"), "{}", cycle.reason);
}

fn payments(policy: &str) -> Vec<Proof> {
    let catalogue = catalogue_of(&[crate::verify::setup::server(std::path::Path::new("payments")).unwrap()]);
    let charge: Vec<ToolInfo> = catalogue.into_iter().filter(|t| t.name == "create_charge").collect();
    run(&engine(policy), &charge)
}

#[test]
fn truncated_amounts_are_refuted_by_a_replayed_schedule_and_proved_once_the_limit_allows_for_them() {
    let hardened = std::fs::read_to_string(format!("{}/examples/payments-hardened.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert!(hardened.contains("value: 96397}"));
    let proved = find(&payments(&hardened), "amount-per-window").clone();
    assert_eq!(proved.status, Status::Proved, "{}", proved.reason);
    assert!(proved.reason.contains("whole part") && proved.reason.contains("under 199999"), "{}", proved.reason);

    // 100000 per calendar day holds what it counts, but 49999.99 counts 49999: past 200000 in a sliding day.
    let old = engine(&hardened.replace("value: 96397}", "value: 100000}"));
    let charge = payments(&hardened.replace("value: 96397}", "value: 100000}"));
    let refuted = find(&charge, "amount-per-window");
    assert_eq!(refuted.status, Status::Refuted, "{}", refuted.reason);
    assert!(refuted.reason.contains("at most 96397 per window"), "{}", refuted.reason);
    assert!(refuted.reason.starts_with("calls totalling 207132.95 pass within 1d"), "{}", refuted.reason);
    let cex = refuted.counterexample.as_ref().unwrap();
    // Replayed afresh, the engine allows what the prover says, and the allowed amounts pass the cap.
    let mut store = crate::engine::store::MemoryStore::new();
    let mut spent = Vec::new();
    for (c, said) in cex.calls.iter().zip(&cex.allowed) {
        let at = crate::clock::Timestamp::parse_rfc3339(&c.at).unwrap();
        let ctx = crate::caller::CallContext { identity: c.identity.clone(), session: c.session.clone() };
        let allowed = old.decide(&mut store, &crate::engine::ToolCall { name: &c.tool, arguments: Some(&c.arguments) }, &ctx, at).is_allow();
        assert_eq!(allowed, *said);
        if allowed {
            spent.push((at.0, c.arguments["amount"].as_f64().unwrap()));
        }
    }
    let total = crate::verify::measure::max_sliding_sum(&spent, 86_400 * 1_000_000_000);
    assert!(total > 200_000.0 && total < 207_205.0, "{total}");
    assert!(spent.iter().any(|(_, a)| a.fract() > 0.0), "whole amounts plus a fraction");
}

#[test]
fn the_amount_field_is_the_one_whose_role_is_amount() {
    let schema = json!({"type": "object", "properties": {"total": {"type": "number"}, "amount": {"type": "integer"}}, "required": ["total", "amount"]});
    let policy = "version: \"1\"\ntools:\n  pay:\n    rules:\n      - name: cap\n        conditions:\n          - {path: args.total, op: lte, value: 500}\n";
    let roles = vec![("total".to_string(), FieldRole::amount(Unit::Major, 2))];
    let proofs = run(&engine(policy), &[tool("pay", Risk::Financial, schema.clone(), roles)]);
    let per_call = find(&proofs, "amount-per-call");
    // 50000 cents is 500.00 in the field's own unit: `lte 500` meets it.
    assert!(per_call.statement.starts_with("`total` ≤500"), "{}", per_call.statement);
    assert_eq!(per_call.status, Status::Proved, "{}", per_call.reason);
    let window = find(&proofs, "amount-per-window");
    assert!(window.statement.starts_with("`total`"), "{}", window.statement);
    assert_eq!(window.status, Status::Refuted, "no limit on the total: {}", window.reason);
    // A field merely named `amount` with no amount role is not held to the caps.
    let unnamed = run(&engine(policy), &[tool("pay", Risk::Financial, schema, Vec::new())]);
    assert!(unnamed.iter().all(|p| !p.requirement.starts_with("amount")), "{unnamed:#?}");
}

#[test]
fn a_length_cap_losing_its_dollar_is_a_weaker_condition_with_a_long_witness() {
    let policy = |re: &str| format!("version: \"1\"\ntools:\n  put:\n    rules:\n      - name: size\n        conditions:\n          - {{path: args.v, op: regex, value: \"{re}\"}}\n");
    let (eo, en) = (engine(&policy("(?s)^.{0,1000}.{0,800}$")), engine(&policy("(?s)^.{0,1000}.{0,800}")));
    let side = |f: &'static str| ReplayCommand { policy: f.into(), strict: false };
    let old = diff::Side { engine: &eo, file: "old.yaml", replay: side("old.yaml") };
    let new = diff::Side { engine: &en, file: "new.yaml", replay: side("new.yaml") };
    let changes = diff::diff(&old, &new, &diff::tools(eo.policy(), en.policy(), &[]));
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!((changes[0].kind, changes[0].direction), ("condition", diff::Direction::Weaker));
    let v = changes[0].new.as_ref().unwrap().calls[0].arguments["v"].as_str().unwrap().chars().count();
    assert_eq!(v, 1801, "the shortest text past the cap");
}

/// Diffs two policy texts over their own tools.
fn diff_texts(old: &str, new: &str) -> Vec<diff::Change> {
    let (eo, en) = (engine(old), engine(new));
    let side = |f: &'static str| ReplayCommand { policy: f.into(), strict: false };
    let (o, n) = (diff::Side { engine: &eo, file: "old.yaml", replay: side("old.yaml") }, diff::Side { engine: &en, file: "new.yaml", replay: side("new.yaml") });
    diff::diff(&o, &n, &diff::tools(eo.policy(), en.policy(), &[]))
}

#[test]
fn a_condition_both_sides_hold_alike_is_not_undecided_however_large_its_automaton() {
    // Past the model's automaton budget: the 21st character from the end is an `a`.
    let huge = "          - {path: args.k, op: regex, value: \"^[a-z]*a[a-z]{20}$\"}\n";
    let policy = |moved: &str| format!("version: \"1\"\ntools:\n  same:\n    rules:\n      - name: key\n        conditions:\n{huge}  moved:\n    rules:\n{moved}");
    let rate = |n: u32| format!("      - {{name: rate, rate_limit: {n}/minute}}\n");
    let list = |v: &str| format!("      - name: key\n        conditions:\n{huge}          - {{path: args.v, op: in, value: [{v}]}}\n");
    // A value the regex admits is unknown to the model, so a diff that asked about it would say UNDECIDED.
    let e = engine(&policy(&rate(5)));
    let inside = e.admission().tool("same").admitted(&Map::new(), &Prefer::default());
    assert!(matches!(inside, Answer::Unknown(_)), "the regex must be past the budget for this test to mean anything: {inside:?}");
    // `same` is unchanged, `moved` raises its limit: one weaker rate, nothing undecided.
    let changes = diff_texts(&policy(&rate(5)), &policy(&rate(9)));
    let found: Vec<_> = changes.iter().map(|c| (c.tool.as_str(), c.kind, c.direction)).collect();
    assert_eq!(found, [("moved", "rate", diff::Direction::Weaker)], "{changes:#?}");
    // A list widened beside the same regex: the list is asked about (undecided, the regex being on the call), never the regex.
    let changes = diff_texts(&policy(&list("x")), &policy(&list("x, y")));
    assert!(!changes.is_empty() && changes.iter().all(|c| c.tool == "moved" && c.summary.contains("args.v")), "{changes:#?}");
}

#[test]
fn a_value_no_policy_refuses_beside_the_legitimate_ones_is_a_proxy_refutation_as_verify_blames_it() {
    // The field kept present (leaving it out is the policy's to refuse), nothing else.
    let present = engine("version: \"1\"\ntools:\n  put:\n    rules:\n      - name: present\n        conditions:\n          - {path: args.v, op: exists, value: true}\n");
    let schema_proof = |field: serde_json::Value| {
        let schema = json!({"type": "object", "properties": {"v": field}, "required": ["v"]});
        let p = find(&run(&present, &[tool("put", Risk::Read, schema.clone(), Vec::new())]), "schema").clone();
        let args = serde_json::Value::Object(p.counterexample.as_ref().expect("a counterexample").calls[0].arguments.clone());
        // `verify` blames a violation on the policy exactly when this says a policy could refuse it.
        let refusable = crate::verify::measure::PolicyPart::of(&schema).refusable(&schema, &args);
        (p, refusable)
    };
    // Nullable, and boolean-or-string: whatever breaks them, no condition refuses it and keeps the legitimate values.
    for field in [json!({"type": ["string", "null"], "maxLength": 3}), json!({"anyOf": [{"type": "string"}, {"type": "null"}]}), json!({"type": ["boolean", "string"]})] {
        let (p, refusable) = schema_proof(field.clone());
        assert_eq!((p.status, p.proxy, refusable), (Status::Refuted, true, false), "{field}: {p:#?}");
        assert!(p.reason.contains("a proxy matter"), "{}", p.reason);
    }
    // A plain string field: a number in it is the policy's to refuse (a `regex` condition does).
    let (p, refusable) = schema_proof(json!({"type": "string"}));
    assert_eq!((p.status, p.proxy, refusable), (Status::Refuted, false, true), "{p:#?}");
}

#[test]
fn an_amount_or_text_that_may_be_null_is_a_proxy_refutation_as_verify_blames_it() {
    use crate::verify::measure::{guardable_bytes, unboundable_amount};
    // A required field that may be `null` (a null keeps the old value): the policy can only keep it present.
    let nullable = |t: &str| json!({"anyOf": [{"type": t}, {"type": "null"}]});
    let (plain, maybe) = (json!({"type": "number"}), nullable("number"));
    let proofs_for = |amount: &serde_json::Value, note: &serde_json::Value| {
        let schema = json!({"type": "object", "properties": {"amount": amount, "note": note}, "required": ["amount", "note"]});
        let present = "version: \"1\"\ntools:\n  pay:\n    rules:\n      - name: present\n        conditions:\n          - {path: args.amount, op: neq, value: \"-\"}\n          - {path: args.note, op: neq, value: \"-\"}\n";
        let roles = vec![("amount".to_string(), FieldRole::amount(Unit::Major, 2))];
        (run(&engine(present), &[tool("pay", Risk::Financial, schema.clone(), roles)]), schema)
    };
    let (proofs, schema) = proofs_for(&maybe, &nullable("string"));
    for requirement in ["amount-per-call", "amount-per-window", "size"] {
        let p = find(&proofs, requirement);
        assert_eq!((p.status, p.proxy), (Status::Refuted, true), "{requirement}: {}", p.reason);
        assert!(p.reason.contains("a proxy matter"), "{}", p.reason);
        assert!(p.counterexample.as_ref().unwrap().allowed.iter().any(|a| *a), "replayed");
    }
    // The same one test `verify` blames its findings by.
    assert!(unboundable_amount(&schema, "amount").is_some_and(|why| why.contains("may be `null`")));
    let size = find(&proofs, "size").counterexample.as_ref().unwrap().calls[0].arguments.clone();
    assert!(guardable_bytes(&schema, &serde_json::Value::Object(size)) <= 65536);
    // Neither may be `null`: a condition bounds each, so the refutations are the policy's.
    let (proofs, schema) = proofs_for(&plain, &json!({"type": "string"}));
    for requirement in ["amount-per-call", "amount-per-window", "size"] {
        let p = find(&proofs, requirement);
        assert_eq!((p.status, p.proxy), (Status::Refuted, false), "{requirement}: {}", p.reason);
    }
    assert_eq!(unboundable_amount(&schema, "amount"), None);
}

/// The diff of two Intercept policies over their own tools.
fn diff_of(old: &str, new: &str) -> Vec<diff::Change> {
    let (eo, en) = (engine(old), engine(new));
    let side = |f: &'static str| ReplayCommand { policy: f.into(), strict: false };
    let o = diff::Side { engine: &eo, file: "old.yaml", replay: side("old.yaml") };
    let n = diff::Side { engine: &en, file: "new.yaml", replay: side("new.yaml") };
    diff::diff(&o, &n, &diff::tools(eo.policy(), en.policy(), &[]))
}

#[test]
fn a_raised_limit_no_call_can_show_is_said_not_passed_over() {
    // No call passes: `x` below 0 and above 0. The raised limit lets nothing more through, and the diff says why it was not compared.
    let policy = |n: u32| format!("version: \"1\"\ntools:\n  t:\n    rules:\n      - name: rate\n        rate_limit: {n}/minute\n      - name: none\n        conditions:\n          - {{path: args.x, op: lt, value: 0}}\n          - {{path: args.x, op: gt, value: 0}}\n");
    let changes = diff_of(&policy(5), &policy(10));
    let rate: Vec<&diff::Change> = changes.iter().filter(|c| c.kind == "rate").collect();
    assert_eq!(rate.len(), 1, "{changes:#?}");
    assert_eq!(rate[0].direction, diff::Direction::NotCompared);
    assert!(rate[0].summary.starts_with("not compared: in one 1m window OLD lets at most 5 through (rule `rate`), NEW lets at most 10"), "{}", rate[0].summary);
    assert!(rate[0].summary.contains("no call of the tool passes NEW's conditions"), "{}", rate[0].summary);
}

#[test]
fn a_raised_hourly_limit_behind_a_minute_limit_is_shown_by_calls_spread_over_the_hour() {
    // A burst at one instant stops at 15 on both sides; spread over the hour's minutes, OLD stops at 100 and NEW at 200.
    let policy = |n: u32| format!("version: \"1\"\ntools:\n  t:\n    rules:\n      - name: minute\n        rate_limit: 15/minute\n      - name: hour\n        rate_limit: {n}/hour\n");
    let changes = diff_of(&policy(100), &policy(200));
    let rate = changes.iter().find(|c| c.kind == "rate").unwrap_or_else(|| panic!("{changes:#?}"));
    assert_eq!(rate.direction, diff::Direction::Weaker, "{}", rate.summary);
    let allowed = |c: &Option<Counterexample>| c.as_ref().unwrap().allowed.iter().filter(|a| **a).count();
    assert_eq!((allowed(&rate.old), allowed(&rate.new)), (100, 200), "{}", rate.summary);
    assert!(rate.summary.contains("calls spread over 60 shorter windows"), "{}", rate.summary);
}

#[test]
fn a_fraction_in_an_integer_field_is_the_policys_exactly_when_a_list_of_its_whole_numbers_refuses_it() {
    use crate::verify::measure::PolicyPart;
    let refusable = |field: serde_json::Value, v: serde_json::Value| {
        let schema = json!({"type": "object", "properties": {"v": field}, "required": ["v"]});
        PolicyPart::of(&schema).refusable(&schema, &json!({"v": v}))
    };
    let open = json!({"type": "integer", "minimum": 1});
    let small = json!({"type": "integer", "minimum": 1, "maximum": 3});
    // An open range: no condition admits every whole number and refuses 1.5; prove and the shared check agree it is the proxy's.
    let p = schema_proof(open.clone(), json!({}), "[{path: args.v, op: gte, value: 1}]");
    assert_eq!((p.status, p.proxy), (Status::Refuted, true), "{}", p.reason);
    assert_eq!(p.counterexample.as_ref().unwrap().calls[0].arguments["v"], json!(1.5));
    assert!(!refusable(open.clone(), json!(1.5)));
    // Three whole numbers: `in [1, 2, 3]` refuses 1.5, so a policy with bounds only is refuted as the policy's, one with the list proved.
    let p = schema_proof(small.clone(), json!({}), "[{path: args.v, op: gte, value: 1}, {path: args.v, op: lte, value: 3}]");
    assert_eq!((p.status, p.proxy), (Status::Refuted, false), "{}", p.reason);
    assert!(refusable(small.clone(), json!(1.5)));
    // (The list alone admits the text "2", which `in` compares as 2: a bound refuses texts.)
    let p = schema_proof(small.clone(), json!({}), "[{path: args.v, op: in, value: [1, 2, 3]}, {path: args.v, op: gte, value: 1}]");
    assert_eq!(p.status, Status::Proved, "{}", p.reason);
    // `2.0` is the whole number 2 to both: the engine admits it by `in [1, 2, 3]` (the conformance vectors' coercion case), and no check calls it a violation.
    let e = engine("version: \"1\"\ntools:\n  put:\n    rules:\n      - name: keep\n        conditions: [{path: args.v, op: in, value: [1, 2, 3]}]\n");
    let two: serde_json::Map<String, serde_json::Value> = serde_json::from_str(r#"{"v": 2.0}"#).unwrap();
    assert_eq!(e.admission().tool("put").admits(Some(&two)), Ok(true));
    assert!(!refusable(small, json!(2.0)) && !refusable(open, json!(2.0)));
}
