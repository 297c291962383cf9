//! `gauntlet bench engine`: decisions per second against the cost of merely
//! parsing the same JSON-RPC messages, measured in the same run.
//!
//! The policy is built in code: 50 tools, each with an amount cap, a currency
//! allow-list and a per-tool `900/minute` rate limit; every fifth tool also
//! has a daily spend counter fed by `increment_from: args.amount`; a `"*"`
//! rule adds a shared `50000/minute` limit. Calls are drawn (seeded) from a
//! pool of 4096 distinct `tools/call` lines, one call per virtual
//! millisecond, so both phases see the same messages without holding a
//! million parsed values in memory. Phase (a) parses the lines with
//! `serde_json` into `serde_json::Value`; phase (b) runs `Engine::decide`
//! on the calls extracted beforehand (extraction is not timed). Both phases
//! run `--rounds` times, timed in wall and in this thread's CPU seconds (what
//! stays comparable on a shared machine). Output: one JSON object on stdout
//! with the spread of every figure and each target met or not; exit 1 when
//! one is missed.

use std::sync::Arc;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::targets::{Spread, Target};
use super::usage::thread_cpu_secs;
use crate::cli::Exit;
use crate::clock::{Timestamp, NANOS_PER_SEC};
use crate::engine::store::MemoryStore;
use crate::caller::CallContext;
use crate::engine::{Engine, ToolCall};
use crate::policy::model::{
    Action, Condition, CounterScope, DefaultAction, Dialect, Op, Path, Policy, RateLimit, Rule, Span, StateDef,
    ToolPolicy, Value, Window,
};
use crate::profile::Profile;

const TOOLS: usize = 50;
const POOL: usize = 4096;

/// Decisions per CPU second of one core (median of the rounds).
const TARGET_DECISIONS_PER_CPU_SEC: f64 = 1_000_000.0;
/// Engine time over the time merely parsing the same lines takes (median, CPU).
const TARGET_ENGINE_TO_PARSE: f64 = 1.0;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of decisions (and of messages parsed for the baseline).
    #[arg(long, default_value_t = 1_000_000)]
    pub calls: u64,
    /// Seed for the generated calls.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Profile the engine runs with.
    #[arg(long, value_enum, default_value_t = Profile::Intercept)]
    pub profile: Profile,
    /// Rounds of both phases; every figure is the spread over them.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

pub fn run(args: Args) -> Exit {
    let (report, targets) = measure(args.calls, args.seed, args.profile, args.rounds);
    super::targets::finish(report, &targets)
}

/// Wall and CPU seconds of one phase.
#[derive(Clone, Copy, Debug)]
struct Timed {
    wall: f64,
    cpu: f64,
}

fn timed(f: impl FnOnce()) -> Timed {
    let (started, cpu) = (Instant::now(), thread_cpu_secs());
    f();
    Timed { wall: started.elapsed().as_secs_f64(), cpu: thread_cpu_secs() - cpu }
}

/// Runs both phases `rounds` times (alternating) and returns the JSON report and the judged targets.
pub fn measure(calls: u64, seed: u64, profile: Profile, rounds: usize) -> (serde_json::Value, Vec<Target>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let lines: Vec<String> = (0..POOL).map(|i| line(i, &mut rng)).collect();
    let picks: Vec<u16> = (0..calls).map(|_| rng.gen_range(0..POOL as u16)).collect();
    let messages: Vec<serde_json::Value> =
        lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let extracted: Vec<(&str, Option<&serde_json::Map<String, serde_json::Value>>)> = messages
        .iter()
        .map(|m| {
            let params = &m["params"];
            (params["name"].as_str().unwrap_or(""), params["arguments"].as_object())
        })
        .collect();
    let engine = Engine::new(Arc::new(policy()), profile);
    let ctx = CallContext::default();
    let start_time = Timestamp::from_secs(1_772_445_600);

    let (mut parse, mut decide) = (Vec::new(), Vec::new());
    let (mut parsed_ok, mut allowed, mut denied) = (0u64, 0u64, 0u64);
    for _ in 0..rounds.max(1) {
        parsed_ok = 0;
        parse.push(timed(|| {
            for &p in &picks {
                if serde_json::from_str::<serde_json::Value>(&lines[p as usize]).is_ok() {
                    parsed_ok += 1;
                }
            }
        }));
        // A fresh store per round: every round makes the same decisions.
        let mut store = MemoryStore::new();
        (allowed, denied) = (0, 0);
        decide.push(timed(|| {
            for (i, &p) in picks.iter().enumerate() {
                let (name, arguments) = extracted[p as usize];
                let now = start_time.plus_nanos(i as i64 * (NANOS_PER_SEC / 1000));
                if engine.decide(&mut store, &ToolCall { name, arguments }, &ctx, now).is_allow() {
                    allowed += 1;
                } else {
                    denied += 1;
                }
            }
        }));
    }

    let per_sec = |secs: f64| if secs > 0.0 { calls as f64 / secs } else { 0.0 };
    let spread = |xs: Vec<f64>| Spread::of(xs).unwrap_or(Spread { median: 0.0, min: 0.0, max: 0.0, rounds: Vec::new() });
    let rate = |phase: &[Timed], cpu: bool| spread(phase.iter().map(|t| per_sec(if cpu { t.cpu } else { t.wall })).collect());
    let ratio = |cpu: bool| {
        let of = |t: &Timed| if cpu { t.cpu } else { t.wall };
        spread(decide.iter().zip(&parse).map(|(d, p)| if of(p) > 0.0 { of(d) / of(p) } else { 0.0 }).collect())
    };
    let (decisions_cpu, ratio_cpu) = (rate(&decide, true), ratio(true));
    let report = json!({
        "bench": "engine",
        "calls": calls,
        "seed": seed,
        "profile": profile.as_str(),
        "rounds": rounds.max(1),
        "decisions_per_sec": rate(&decide, false).json(),
        "decisions_per_cpu_sec": decisions_cpu.json(),
        "parse_per_sec": rate(&parse, false).json(),
        "parse_per_cpu_sec": rate(&parse, true).json(),
        "engine_to_parse_ratio": ratio(false).json(),
        "engine_to_parse_cpu_ratio": ratio_cpu.json(),
        "parsed": parsed_ok,
        "allowed": allowed,
        "denied": denied,
    });
    let targets = vec![
        Target::at_least("≥ 1,000,000 decisions per CPU second on one core (median)", decisions_cpu.median, TARGET_DECISIONS_PER_CPU_SEC),
        Target::at_most("engine time ≤ parse time (CPU, median of per-round ratios)", ratio_cpu.median, TARGET_ENGINE_TO_PARSE, false),
    ];
    (report, targets)
}

fn line(id: usize, rng: &mut ChaCha8Rng) -> String {
    let tool = rng.gen_range(0..TOOLS);
    let amount = rng.gen_range(1..60_000);
    let currency = ["usd", "eur", "usd", "gbp"][rng.gen_range(0..4)];
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"tool_{tool:02}","arguments":{{"amount":{amount},"currency":"{currency}","note":"bench call {id}"}}}}}}"#
    )
}

fn condition(path: Path, op: Op, value: Value) -> Condition {
    Condition { path, op, value, regex: None, span: Span::default() }
}

fn rule(name: &str, conditions: Vec<Condition>, on_deny: &str) -> Rule {
    Rule {
        name: name.to_string(),
        action: Action::Evaluate,
        conditions,
        on_deny: on_deny.to_string(),
        state: None,
        rate_limit: None,
        span: Span::default(),
    }
}

fn counter(scope: &str, counter: &str, window: Window) -> StateDef {
    StateDef {
        key: format!("{scope}.{counter}"),
        counter: counter.to_string(),
        window,
        increment: 1,
        increment_from: None,
        scope: CounterScope::Shared,
    }
}

fn rate_limit(scope: &str, max: i64, window: Window) -> Rule {
    let state = counter(scope, &format!("_rate_{window}"), window);
    let check = condition(Path::State(state.key.clone()), Op::Lte, Value::Int(max));
    Rule {
        state: Some(state),
        rate_limit: Some(RateLimit { max, window }),
        ..rule(&format!("{scope} rate"), vec![check], "")
    }
}

/// The 50-tool benchmark policy described in the module doc.
pub fn policy() -> Policy {
    let mut tools: Vec<ToolPolicy> = (0..TOOLS)
        .map(|k| {
            let name = format!("tool_{k:02}");
            let amount = Path::Args(vec!["amount".into()]);
            let currency = Path::Args(vec!["currency".into()]);
            let mut rules = vec![
                rule("max amount", vec![condition(amount, Op::Lte, Value::Int(50_000))], "Amount too large"),
                rule(
                    "currencies",
                    vec![condition(currency, Op::In, Value::Seq(vec![Value::Str("usd".into()), Value::Str("eur".into())]))],
                    "",
                ),
                rate_limit(&name, 900, Window::Minute),
            ];
            if k % 5 == 0 {
                let mut spend = counter(&name, "spend", Window::Day);
                spend.increment_from = Some(vec!["amount".into()]);
                let check = condition(Path::State(spend.key.clone()), Op::Lte, Value::Int(2_000_000_000));
                rules.push(Rule { state: Some(spend), ..rule("daily spend", vec![check], "Daily spend cap reached") });
            }
            ToolPolicy { name, rules, span: Span::default() }
        })
        .collect();
    tools.push(ToolPolicy { name: "*".into(), rules: vec![rate_limit("_global", 50_000, Window::Minute)], span: Span::default() });
    Policy {
        dialect: Dialect::Intercept,
        version: "1".into(),
        description: "gauntlet bench engine: 50 tools".into(),
        default: DefaultAction::Deny,
        hide: vec!["tool_49".into()],
        tools,
        keys: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run_counts_every_call_and_is_deterministic() {
        let (a, targets) = measure(2000, 7, Profile::Intercept, 2);
        let (b, _) = measure(2000, 7, Profile::Intercept, 1);
        assert_eq!(a["decisions_per_cpu_sec"]["rounds"].as_array().map(Vec::len), Some(2));
        assert_eq!(targets.len(), 2);
        assert_eq!(a["parsed"], 2000);
        assert_eq!(a["allowed"].as_u64().unwrap() + a["denied"].as_u64().unwrap(), 2000);
        assert_eq!((a["allowed"].clone(), a["denied"].clone()), (b["allowed"].clone(), b["denied"].clone()));
        assert!(a["allowed"].as_u64().unwrap() > 0 && a["denied"].as_u64().unwrap() > 0);
    }
}
