//! The model against the engine: whatever the model says of a call — admitted,
//! refused at a condition — `decide` must say the same. Random policies and
//! calls come from a seed (printed on failure; `ADMISSION_SEED=N` replays one).

use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value as Json};

use super::*;
use crate::clock::Timestamp;
use crate::engine::store::MemoryStore;
use crate::engine::{CallContext, DenyCause, Engine, Outcome, ToolCall};

fn engine(yaml: &str) -> Engine {
    let policy = crate::policy::load_intercept(yaml).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"));
    Engine::new(Arc::new(policy), Profile::Intercept)
}

fn decide(e: &Engine, tool: &str, args: Option<&Map<String, Json>>) -> Outcome {
    let call = ToolCall { name: tool, arguments: args };
    e.decide(&mut MemoryStore::new(), &call, &CallContext::default(), Timestamp(1_772_409_600_000_000_000)).outcome
}

fn obj(v: Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap_or_default()
}

const FETCH: &str = r#"
version: "1"
tools:
  fetch:
    rules:
      - name: size cap
        conditions:
          - {path: args.max_length, op: lte, value: 20000}
      - name: https only
        conditions:
          - {path: args.url, op: regex, value: "^https://"}
"#;

#[test]
fn an_optional_field_under_a_condition_refuses_the_plain_call() {
    let e = engine(FETCH);
    let tool = e.admission().tool("fetch");
    let plain = obj(json!({"url": "https://example.com"}));
    assert_eq!(tool.admits(Some(&plain)), Ok(false), "a condition on an absent field is false");
    assert!(!decide(&e, "fetch", Some(&plain)).eq(&Outcome::Allow));
    let Answer::Yes(admitted) = tool.admitted(&plain, &Prefer::default()) else { panic!("fetch admits calls") };
    assert!(admitted.contains_key("max_length"), "{admitted:?}");
    assert_eq!(admitted["url"], json!("https://example.com"), "a value already admitted is kept");
    assert!(admitted["max_length"].as_f64().is_some_and(|x| x <= 20000.0), "{admitted:?}");
    assert_eq!(decide(&e, "fetch", Some(&admitted)), Outcome::Allow);
    let refusals = tool.rules.refusals(&admitted);
    let cap = tool.rules.args.iter().position(|c| c.text == "args.max_length lte 20000").unwrap();
    let at_cap: Vec<&Refusal> = refusals.iter().filter(|r| r.condition == cap).collect();
    assert!(at_cap.iter().any(|r| r.how == "absent" && !r.arguments.contains_key("max_length")), "{at_cap:?}");
    assert!(at_cap.iter().any(|r| r.how == "just outside" && r.arguments["max_length"] == json!(20001)), "{at_cap:?}");
    let url = tool.rules.args.iter().position(|c| c.path == ["url"]).unwrap();
    let at_url: Vec<&Refusal> = refusals.iter().filter(|r| r.condition == url).collect();
    assert!(at_url.iter().any(|r| r.how == "shortest outside" && r.arguments.get("url").and_then(Json::as_str).is_some_and(|u| !u.starts_with("https://"))), "{at_url:?}");
}

#[test]
fn a_deny_rule_hidden_tool_and_default_deny_refuse_every_call() {
    let e = engine(
        r#"
version: "1"
default: deny
hide: [secret]
tools:
  drop:
    rules:
      - {name: never, action: deny}
  ok: {rules: []}
"#,
    );
    let a = e.admission();
    assert_eq!(a.tool("secret").gate, Gate::Hidden);
    assert_eq!(a.tool("other").gate, Gate::DefaultDeny);
    assert_eq!(a.tool("drop").gate, Gate::DenyRule("never"));
    assert!(matches!(a.tool("drop").admitted(&Map::new(), &Prefer::default()), Answer::No(_)));
    assert!(matches!(a.tool("ok").admitted(&Map::new(), &Prefer::default()), Answer::Yes(_)));
}

#[test]
fn contradictory_conditions_admit_nothing_and_say_why() {
    let e = engine(
        r#"
version: "1"
tools:
  branch:
    rules:
      - name: not main
        conditions:
          - {path: args.name, op: not_in, value: [main]}
          - {path: args.name, op: eq, value: main}
"#,
    );
    match e.admission().tool("branch").admitted(&obj(json!({"name": "feature"})), &Prefer::default()) {
        Answer::No(why) => assert!(why.contains("args.name"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn text_comparison_and_numeric_views_follow_the_engine() {
    // `eq 5` admits the number 5 and the string "5" (its %v text), not "5.0".
    let e = engine(
        r#"
version: "1"
tools:
  t:
    rules:
      - name: five
        conditions:
          - {path: args.n, op: eq, value: 5}
"#,
    );
    let r = e.admission().tool("t");
    for (v, want) in [(json!(5), true), (json!(5.0), true), (json!("5"), true), (json!("5.0"), false), (json!(null), false)] {
        let args = obj(json!({ "n": v }));
        assert_eq!(r.admits(Some(&args)), Ok(want), "{v}");
        assert_eq!(decide(&e, "t", Some(&args)) == Outcome::Allow, want, "{v}");
    }
}

#[test]
fn a_length_regex_yields_a_long_admitted_text_and_one_past_its_longest() {
    let e = engine(
        r#"
version: "1"
tools:
  commit:
    rules:
      - name: message size
        conditions:
          - {path: args.message, op: regex, value: "^[\\s\\S]{1,40}$"}
"#,
    );
    let tool = e.admission().tool("commit");
    let prefer = Prefer { lengths: [("message".to_string(), 30)].into(), ..Prefer::default() };
    let Answer::Yes(a) = tool.admitted(&obj(json!({"message": "x"})), &prefer) else { panic!() };
    assert_eq!(a["message"].as_str().unwrap().chars().count(), 30, "{a:?}");
    let long = tool.rules.refusals(&a).into_iter().find(|r| r.how == "one past the longest").expect("a refusal one past 40");
    assert_eq!(long.arguments["message"].as_str().unwrap().chars().count(), 41);
    assert!(matches!(decide(&e, "commit", Some(&long.arguments)), Outcome::Deny { .. }));
}

// ---- properties over random policies and calls ----

const PATHS: [&str; 3] = ["a", "b", "n.z"];
const REGEXES: [&str; 9] = [
    "^app:",
    "^https://",
    "^.{1,5}$",
    r"^(INSERT|UPDATE)\b",
    "(?i)^main$",
    r"\d+",
    "^[a-z]+$",
    "^$",
    r"^[^/]+\.(com|org)$",
];

fn operand(rng: &mut ChaCha8Rng) -> String {
    let pool = [
        "5", "5.5", "-1", "0", "20000", "1e6", "\"5\"", "\"main\"", "\"app:x\"", "\"\"", "true", "false", "null",
        "\"<nil>\"", "\"https://a.com\"", "\"1e+06\"",
    ];
    pool.choose(rng).unwrap().to_string()
}

fn condition(rng: &mut ChaCha8Rng) -> String {
    let path = PATHS.choose(rng).unwrap();
    let op = *["eq", "neq", "in", "not_in", "lt", "lte", "gt", "gte", "regex", "contains", "exists"].choose(rng).unwrap();
    let numeric = ["5", "5.5", "-1", "0", "20000", "1e6"];
    let value = match op {
        "lt" | "lte" | "gt" | "gte" => numeric.choose(rng).unwrap().to_string(),
        "in" | "not_in" => format!("[{}, {}]", operand(rng), operand(rng)),
        "regex" => serde_json::to_string(REGEXES.choose(rng).unwrap()).unwrap(),
        "exists" => ["true", "false"].choose(rng).unwrap().to_string(),
        "contains" => ["\"a\"", "\"main\"", "5", "\":\""].choose(rng).unwrap().to_string(),
        _ => operand(rng),
    };
    format!("          - {{path: args.{path}, op: {op}, value: {value}}}\n")
}

fn random_policy(rng: &mut ChaCha8Rng) -> String {
    let mut yaml = String::from("version: \"1\"\ntools:\n  t:\n    rules:\n");
    for r in 0..rng.gen_range(1..=2) {
        yaml.push_str(&format!("      - name: r{r}\n        conditions:\n"));
        for _ in 0..rng.gen_range(1..=3) {
            yaml.push_str(&condition(rng));
        }
    }
    yaml
}

fn value(rng: &mut ChaCha8Rng) -> Option<Json> {
    let pool = [
        json!(5), json!(5.5), json!(-1), json!(0), json!(20000), json!(20001), json!(1000000), json!("5"), json!("main"),
        json!("Main"), json!("app:x"), json!(""), json!("https://a.com"), json!("http://a.com"), json!("INSERT INTO t"),
        json!("UPDATEx"), json!("abc"), json!("x.org"), json!("1e+06"), json!("<nil>"), json!(true), json!(false),
        json!(null), json!(["main"]), json!([5]), json!({}), json!({"z": 5}),
    ];
    if rng.gen_bool(0.2) {
        None
    } else {
        Some(pool.choose(rng).unwrap().clone())
    }
}

fn random_args(rng: &mut ChaCha8Rng) -> Map<String, Json> {
    let mut m = Map::new();
    for p in ["a", "b"] {
        if let Some(v) = value(rng) {
            m.insert(p.into(), v);
        }
    }
    match rng.gen_range(0..3) {
        0 => {}
        1 => {
            m.insert("n".into(), json!({}));
            if let Some(v) = value(rng) {
                m["n"]["z"] = v;
            }
        }
        _ => {
            m.insert("n".into(), value(rng).unwrap_or(json!(1)));
        }
    }
    m
}

fn seeds() -> Vec<u64> {
    match std::env::var("ADMISSION_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(s) => vec![s],
        None => (0..400).collect(),
    }
}

#[test]
fn the_model_decides_every_random_call_as_the_engine_does() {
    for seed in seeds() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let yaml = random_policy(&mut rng);
        let e = engine(&yaml);
        let tool = e.admission().tool("t");
        for _ in 0..40 {
            let args = random_args(&mut rng);
            let engine_allows = decide(&e, "t", Some(&args)) == Outcome::Allow;
            match tool.admits(Some(&args)) {
                Ok(model) => assert_eq!(model, engine_allows, "seed {seed}: {args:?}\n{yaml}"),
                Err(Unknown(why)) => panic!("seed {seed}: unknown ({why})\n{yaml}"),
            }
        }
    }
}

#[test]
fn every_witness_is_decided_by_the_engine_as_the_model_says() {
    let (mut admitted, mut none, mut refused) = (0, 0, 0);
    for seed in seeds() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let yaml = random_policy(&mut rng);
        let e = engine(&yaml);
        let tool = e.admission().tool("t");
        let base = random_args(&mut rng);
        match tool.admitted(&base, &Prefer::default()) {
            Answer::Yes(args) => {
                admitted += 1;
                assert_eq!(decide(&e, "t", Some(&args)), Outcome::Allow, "seed {seed}: {args:?}\n{yaml}");
                for r in tool.rules.refusals(&args) {
                    refused += 1;
                    let culprit = &tool.rules.args[r.condition].at.rule;
                    match decide(&e, "t", Some(&r.arguments)) {
                        Outcome::Deny { cause: DenyCause::Rule, culprit: Some(c), .. } => {
                            // The refusing condition's rule, or an earlier one it shares a path with? No: only it fails.
                            assert_eq!(&c, culprit, "seed {seed}: {r:?}\n{yaml}")
                        }
                        other => panic!("seed {seed}: refusal {r:?} was {other:?}\n{yaml}"),
                    }
                }
            }
            Answer::No(why) => {
                none += 1;
                // Nothing admitted: no random call may pass either.
                for _ in 0..40 {
                    let args = random_args(&mut rng);
                    assert_ne!(decide(&e, "t", Some(&args)), Outcome::Allow, "seed {seed}: said none ({why}) but {args:?} passes\n{yaml}");
                }
            }
            Answer::Unknown(why) => panic!("seed {seed}: unknown ({why})\n{yaml}"),
        }
    }
    // The generator must reach both sides, or the test proves little.
    assert!(admitted > 50 && none > 20 && refused > 100, "admitted {admitted}, none {none}, refusals {refused}");
}

/// A length cap past RE2's repeat limit is a run of `.{0,1000}` pieces; its
/// DFA would be past the budget, so the model counts characters instead.
#[test]
fn a_long_length_cap_is_counted_not_determinized() {
    let pieces = ".{0,1000}".repeat(10);
    let yaml = format!(
        "version: \"1\"\ntools:\n  t:\n    rules:\n      - name: one\n        conditions:\n          - {{path: args.repo, op: eq, value: \"/srv/app\"}}\n      - name: cap\n        conditions:\n          - {{path: args.m, op: regex, value: \"(?s)^{pieces}$\"}}\n          - {{path: args.n, op: regex, value: \"^[\\\\s\\\\S]{{2,3}}$\"}}\n"
    );
    let e = engine(&yaml);
    let tool = e.admission().tool("t");
    let base = obj(json!({"repo": "x", "m": "hello", "n": "a"}));
    let Answer::Yes(admitted) = tool.admitted(&base, &Prefer::default()) else { panic!("the cap admits calls") };
    assert_eq!(admitted["m"], json!("hello"), "{admitted:?}");
    assert_eq!(decide(&e, "t", Some(&admitted)), Outcome::Allow, "{admitted:?}");
    let long = Prefer { lengths: [("m".to_string(), 10_000)].into(), ..Prefer::default() };
    let Answer::Yes(at_cap) = tool.admitted(&obj(json!({"repo": "/srv/app", "n": "ab"})), &long) else { panic!("admits 10000") };
    assert_eq!(at_cap["m"].as_str().map(|s| s.chars().count()), Some(10_000));
    assert_eq!(decide(&e, "t", Some(&at_cap)), Outcome::Allow);
    let cap = tool.rules.args.iter().position(|c| c.path == ["m"]).unwrap();
    let refusals = tool.rules.refusals(&admitted);
    let past: Vec<&Refusal> = refusals.iter().filter(|r| r.condition == cap && r.how == "one past the longest").collect();
    assert_eq!(past.len(), 1, "one character past the cap");
    assert_eq!(past[0].arguments["m"].as_str().map(|s| s.chars().count()), Some(10_001));
    assert!(!decide(&e, "t", Some(&past[0].arguments)).eq(&Outcome::Allow));
    // Multi-byte characters count once, as the engine counts them.
    let wide = obj(json!({"repo": "/srv/app", "m": "é".repeat(10_000), "n": "日本"}));
    assert_eq!(tool.admits(Some(&wide)), Ok(true));
    assert_eq!(decide(&e, "t", Some(&wide)), Outcome::Allow);
}
