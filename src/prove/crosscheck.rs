//! Proofs checked by sampling (the model itself is held to the conformance
//! vectors in `tests/engine/admission.rs`). A proof says no call breaks a requirement; here seeded random
//! calls (schema-valid ones, then fields replaced by the policy's own
//! operands and their near misses, other types, nulls, long texts, extreme
//! numbers) and random schedules go through the engine, and any the engine
//! allows must meet every requirement prove called proved. The seed is
//! printed; `PROVE_SEED=N` replays one.

use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value as Json};

use super::*;
use crate::caller::CallContext;
use crate::clock::Timestamp;
use crate::engine::store::MemoryStore;
use crate::engine::ToolCall;
use crate::gofmt::value::Value;
use crate::profile::Profile;
use crate::scenario::lint::ToolInfo;
use crate::verify::inprocess::catalogue_of;

fn seed() -> u64 {
    let seed = std::env::var("PROVE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261206);
    eprintln!("prove cross-check seed {seed} (PROVE_SEED={seed} replays it)");
    seed
}

/// The policy's operands as texts and numbers, with near misses.
fn pool(policy: &crate::policy::model::Policy) -> (Vec<String>, Vec<f64>) {
    let (mut texts, mut numbers) = (vec![String::new(), "x".to_string(), "a".repeat(70_000)], vec![-1e15, -1.0, 0.0, 0.5, 1.0, 1.99, 1e15]);
    fn walk(v: &Value, texts: &mut Vec<String>, numbers: &mut Vec<f64>) {
        match v {
            Value::Str(s) => {
                let bare = s.trim_start_matches('^').trim_end_matches('$').replace('\\', "");
                for t in [s.clone(), bare.clone(), format!("{bare}a"), format!("{bare}.evil.example"), format!("x{bare}"), bare.to_uppercase()] {
                    texts.push(t);
                }
                if let Ok(x) = s.parse::<f64>() {
                    numbers.extend([x, x + 1.0, x - 1.0, x + 0.5]);
                }
            }
            Value::Int(i) => numbers.extend([*i as f64, *i as f64 + 1.0, *i as f64 - 1.0, *i as f64 + 0.5]),
            Value::Float(x) => numbers.extend([*x, x + 1.0, x - 1.0]),
            Value::Seq(items) => items.iter().for_each(|i| walk(i, texts, numbers)),
            _ => {}
        }
    }
    for rule in policy.tools.iter().flat_map(|t| &t.rules) {
        for c in &rule.conditions {
            walk(&c.value, &mut texts, &mut numbers);
        }
    }
    (texts, numbers)
}

fn random_value(rng: &mut ChaCha8Rng, texts: &[String], numbers: &[f64]) -> Option<Json> {
    Some(match rng.gen_range(0..10) {
        0 => return None,
        1 => Json::Null,
        2 => Json::Bool(rng.gen()),
        3 | 4 => json!(numbers.choose(rng).copied().unwrap_or(0.0)),
        5 => json!([]),
        6 => json!({}),
        _ => Json::String(texts.choose(rng).cloned().unwrap_or_default()),
    })
}

fn random_call(tool: &ToolInfo, rng: &mut ChaCha8Rng, texts: &[String], numbers: &[f64]) -> Map<String, Json> {
    let edge = rng.gen();
    let mut args = crate::agent::generate::valid(&tool.input_schema, rng, edge).as_object().cloned().unwrap_or_default();
    let fields: Vec<String> = tool.input_schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
    for f in fields {
        if rng.gen_bool(0.4) {
            match random_value(rng, texts, numbers) {
                Some(v) => args.insert(f, v),
                None => args.remove(&f),
            };
        }
    }
    args
}

fn allowed(engine: &Engine, tool: &str, args: &Map<String, Json>) -> bool {
    engine.decide(&mut MemoryStore::new(), &ToolCall { name: tool, arguments: Some(args) }, &CallContext::default(), trace::START).is_allow()
}

/// Whether an allowed call meets a proved one-call requirement; `None`: not a one-call requirement.
fn meets(p: &Proof, tool: &ToolInfo, reqs: &Requirements, args: &Map<String, Json>) -> Option<bool> {
    let schema = &tool.input_schema;
    Some(match p.requirement {
        "denied" => false,
        "schema" => {
            let seen = crate::verify::measure::as_conditions_see(schema, &Json::Object(args.clone()));
            // What the statement promises of a list or object field: present and not null.
            let mut part = crate::verify::measure::required_part(schema);
            for f in single::required(tool).iter().filter(|f| single::is_composite(&schema["properties"][f.as_str()])) {
                part["properties"][f.as_str()] = json!({"not": {"type": "null"}});
            }
            jsonschema::validator_for(&part).map(|v| v.is_valid(&seen)).unwrap_or(true)
        }
        "size" => {
            let unions = crate::verify::measure::unguardable_unions(schema);
            let kept: Map<String, Json> = args
                .iter()
                .filter(|(k, _)| single::required(tool).contains(k) && !single::is_composite(&schema["properties"][k.as_str()]) && !unions.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            serde_json::to_string(&kept).map_or(0, |t| t.len()) as u64 <= reqs.max_argument_bytes
        }
        "amount-per-call" => {
            // The statement names the amount field: "`amount` ≤500 in every call".
            let field = p.statement.split('`').nth(1).unwrap_or_default();
            let cap = reqs.for_tool(&tool.name, tool.risk).max_amount_per_call.map_or(f64::INFINITY, |m| m.in_field(tool.role_of(field)));
            match args.get(field) {
                Some(Json::Number(n)) => n.as_f64().is_some_and(|x| x <= cap),
                Some(Json::String(s)) => s.trim().parse::<f64>().map_or(true, |x| x <= cap),
                _ => true,
            }
        }
        _ => return None,
    })
}

/// A random schedule of one admitted call's copies, from many callers, around window edges: the most any window saw.
fn schedule(engine: &Engine, tool: &str, args: &Map<String, Json>, rng: &mut ChaCha8Rng, bound: crate::scenario::requirements::RateBound) -> usize {
    let len = bound.window.nanos().max(1);
    let edge = trace::START.0 + 2 * 86_400 * 1_000_000_000;
    let mut times: Vec<i64> = (0..(bound.count as usize * 4).min(2_000)).map(|_| edge + rng.gen_range(-len..len)).collect();
    times.sort_unstable();
    let mut store = MemoryStore::new();
    let mut passed = Vec::new();
    for (n, t) in times.into_iter().enumerate() {
        let caller = CallContext { identity: Some(format!("c{}", n % 7)), session: Some(format!("s{n}")) };
        if engine.decide(&mut store, &ToolCall { name: tool, arguments: Some(args) }, &caller, Timestamp(t)).is_allow() {
            passed.push(t);
        }
    }
    if bound.calendar {
        crate::verify::measure::max_calendar(&passed, len)
    } else {
        crate::verify::measure::max_sliding(&passed, len)
    }
}

/// Policies with the servers they govern: the bundled hardened examples, the
/// real-server policies shared beside the repo that fit a bundled server, the repo's test policies.
fn cases() -> Vec<(String, String, Vec<crate::verify::inprocess::NamedServer>)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut out = Vec::new();
    for (file, server) in [("aksjah-hardened.yaml", "aksjah"), ("ezbiz-hardened.yaml", "ezbiz"), ("payments-hardened.yaml", "payments"), ("aksjah-weak.yaml", "aksjah")] {
        let path = format!("{root}/examples/{file}");
        out.push((path.clone(), std::fs::read_to_string(&path).unwrap(), vec![crate::verify::setup::server(std::path::Path::new(server)).unwrap()]));
    }
    for name in ["fetch", "git", "gitlab", "puppeteer", "redis", "sqlite", "time"] {
        let path = format!("{root}/tests/data/policies/{name}.yaml");
        let server = crate::verify::setup::server(std::path::Path::new(&format!("{root}/tests/data/servers/{name}.yaml"))).unwrap();
        out.push((path.clone(), std::fs::read_to_string(&path).unwrap(), vec![server]));
    }
    for name in ["github", "filesystem", "slack", "playwright", "memory", "brave-search", "postgres"] {
        let path = format!("{root}/../shared/intercept-policies/{name}.yaml");
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        out.push((path, text, vec![crate::verify::setup::server(std::path::Path::new(name)).unwrap()]));
    }
    out
}

#[test]
fn no_sampled_call_or_schedule_the_engine_allows_breaks_a_proved_requirement() {
    let mut rng = ChaCha8Rng::seed_from_u64(seed());
    let reqs = Requirements::baseline();
    let (mut proved, mut sampled, mut allowed_calls, mut schedules) = (0, 0, 0, 0);
    for (file, text, servers) in cases() {
        let policy = crate::policy::load_str(&text, &file, None).unwrap_or_else(|e| panic!("{file}: {e:?}")).policy;
        let (texts, numbers) = pool(&policy);
        let engine = Engine::new(Arc::new(policy), Profile::Intercept);
        let catalogue = catalogue_of(&servers);
        let s = Setup { engine: &engine, policy_file: &file, catalogue: &catalogue, reqs: &reqs, seed: 1, replay: ReplayCommand { policy: file.clone(), strict: false } };
        for p in prove(&s).into_iter().filter(|p| p.status == Status::Proved) {
            proved += 1;
            let tool = catalogue.iter().find(|t| t.name == p.tool).unwrap();
            if p.requirement == "rate" {
                let bound = reqs.for_tool(&tool.name, tool.risk).rate.unwrap();
                for _ in 0..200 {
                    let args = random_call(tool, &mut rng, &texts, &numbers);
                    if allowed(&engine, &tool.name, &args) {
                        let most = schedule(&engine, &tool.name, &args, &mut rng, bound);
                        schedules += 1;
                        assert!(most as u64 <= bound.count, "{file}: {} rate proved ({}) but {most} calls passed in one window: {args:?}", p.tool, p.reason);
                        break;
                    }
                }
                continue;
            }
            for _ in 0..300 {
                let args = random_call(tool, &mut rng, &texts, &numbers);
                sampled += 1;
                if !allowed(&engine, &tool.name, &args) {
                    continue;
                }
                allowed_calls += 1;
                if let Some(ok) = meets(&p, tool, &reqs, &args) {
                    assert!(ok, "{file}: {} {} proved ({}) but the engine allows {}", p.tool, p.requirement, p.reason, Json::Object(args));
                }
            }
        }
    }
    eprintln!("{proved} proofs, {sampled} sampled calls ({allowed_calls} allowed), {schedules} schedules");
    // A cross-check that checked nothing proves nothing.
    assert!(proved > 50 && allowed_calls > 2_000 && schedules > 10, "{proved} proofs, {allowed_calls} allowed calls, {schedules} schedules");
}
