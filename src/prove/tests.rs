//! Proofs against the engine: an allow-all policy is refuted on every
//! requirement of every bundled server, each counterexample read back by
//! `gauntlet replay`'s own trace reader and allowed by a fresh engine; the
//! bundled hardened policies prove everything (or say why not); a loosened
//! limit or regex is refuted, with the rule's line.

use std::sync::Arc;

use super::*;
use crate::engine::replay::TraceReader;
use crate::engine::store::MemoryStore;
use crate::caller::CallContext;
use crate::engine::ToolCall;
use crate::profile::Profile;
use crate::verify::inprocess::catalogue_of;

pub(super) fn engine(text: &str) -> Engine {
    Engine::new(Arc::new(crate::policy::load_intercept(text).unwrap()), Profile::Intercept)
}

/// Proves `engine`'s policy against the baseline requirements (shared with `tests_exact`).
pub(super) fn run(engine: &Engine, catalogue: &[ToolInfo]) -> Vec<Proof> {
    let reqs = Requirements::baseline();
    let s = Setup {
        engine,
        policy_file: "p.yaml",
        catalogue,
        reqs: &reqs,
        seed: 1,
        replay: ReplayCommand { policy: "p.yaml".into(), strict: false },
    };
    prove(&s)
}

/// Reads the counterexample as `gauntlet replay` does and decides it afresh.
fn replays(engine: &Engine, cex: &Counterexample) -> Vec<bool> {
    let mut reader = TraceReader::default();
    let mut store = MemoryStore::new();
    cex.calls
        .iter()
        .map(|c| {
            let step = reader.next_line(c.line().as_bytes()).expect("a trace line replay reads").expect("a call");
            let ctx = CallContext { identity: step.ctx.identity.clone(), session: step.ctx.session.clone() };
            engine.decide(&mut store, &ToolCall { name: &step.tool, arguments: step.arguments.as_ref() }, &ctx, step.at).is_allow()
        })
        .collect()
}

#[test]
fn an_allow_all_policy_is_refuted_on_every_bundled_server_and_replay_confirms_each() {
    let allow_all = engine("version: \"1\"\n");
    let servers = crate::verify::setup::bundled_servers().unwrap();
    let mut refuted = 0;
    for server in servers {
        let catalogue = catalogue_of(std::slice::from_ref(&server));
        for p in run(&allow_all, &catalogue) {
            let tool = catalogue.iter().find(|t| t.name == p.tool).unwrap();
            let required: Vec<&str> = tool.input_schema["required"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
            // Schema and size speak of required fields: a tool without any has nothing to break.
            if p.status == Status::Proved && p.requirement == "schema" && required.is_empty() {
                continue;
            }
            // Lists, objects and bool/string unions have no size a policy can bound.
            let unions = crate::verify::measure::unguardable_unions(&tool.input_schema);
            let beyond = |f: &&str| single::is_composite(&tool.input_schema["properties"][*f]) || unions.iter().any(|u| u == f);
            if p.status == Status::Proved && p.requirement == "size" && required.iter().all(beyond) {
                continue;
            }
            assert_eq!(p.status, Status::Refuted, "{} {} {}: {}", server.name, p.tool, p.requirement, p.reason);
            let cex = p.counterexample.as_ref().expect("a refutation carries its counterexample");
            assert_eq!(replays(&allow_all, cex), cex.allowed, "{} {}: replay decides as the prover did", p.tool, p.requirement);
            assert!(cex.replay.contains(" replay p.yaml /dev/stdin"), "{}", cex.replay);
            refuted += 1;
        }
    }
    assert!(refuted > 100, "{refuted} refutations");
}

#[test]
fn under_strict_the_proxys_schema_check_holds_what_the_policy_leaves_open_and_nothing_else() {
    let text = "version: \"1\"\n";
    let intercept = engine(text);
    let strict = Engine::new(Arc::new(crate::policy::load_intercept(text).unwrap()), Profile::Strict);
    let mut held = 0;
    for server in crate::verify::setup::bundled_servers().unwrap() {
        let catalogue = catalogue_of(std::slice::from_ref(&server));
        for (open, closed) in run(&intercept, &catalogue).into_iter().zip(run(&strict, &catalogue)) {
            assert_eq!((&open.tool, open.requirement), (&closed.tool, closed.requirement));
            if open.requirement != "schema" {
                // Size, amounts, rates and denials are the policy's alone, strict or not.
                assert_eq!(open.status, closed.status, "{} {}: {}", open.tool, open.requirement, closed.reason);
                continue;
            }
            match open.status {
                Status::Refuted => {
                    assert_eq!(closed.status, Status::Proved, "{} {}: {}", server.name, closed.tool, closed.reason);
                    assert!(closed.reason.contains("held by `--profile strict`, not by the policy") && closed.reason.contains("inputSchema"), "{}", closed.reason);
                    assert!(closed.counterexample.is_none() && !closed.proxy);
                    held += 1;
                }
                Status::Unknown => {
                    assert_eq!(closed.status, Status::Proved, "{} {}: {}", server.name, closed.tool, closed.reason);
                    assert!(closed.reason.contains("held by `--profile strict` whatever the policy admits"), "{}", closed.reason);
                }
                Status::Proved => assert_eq!(closed.status, Status::Proved, "{} {}: {}", server.name, closed.tool, closed.reason),
            }
        }
    }
    assert!(held > 50, "{held} schema requirements held by strict alone");
}

#[test]
fn the_bundled_hardened_policies_prove_every_requirement_or_say_why_not() {
    for (file, server) in [("aksjah-hardened.yaml", "aksjah"), ("ezbiz-hardened.yaml", "ezbiz"), ("payments-hardened.yaml", "payments")] {
        let text = std::fs::read_to_string(format!("{}/examples/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let e = engine(&text);
        let catalogue = catalogue_of(&[crate::verify::setup::server(std::path::Path::new(server)).unwrap()]);
        let proofs = run(&e, &catalogue);
        assert!(!proofs.is_empty());
        for p in &proofs {
            // Only what no Intercept policy closes may be refuted (the refunds' optional amount).
            assert!(p.status != Status::Refuted || p.proxy, "{file}: {} {}: {}", p.tool, p.requirement, p.reason);
            if p.status == Status::Unknown {
                assert!(!p.reason.is_empty());
            }
        }
        assert!(proofs.iter().any(|p| p.requirement == "rate" && p.status == Status::Proved), "{file}");
    }
}

const FETCH: &str = r#"version: "1"
default: deny
tools:
  send:
    rules:
      - name: rate
        rate_limit: 20/minute
      - name: where
        conditions:
          - {path: args.url, op: regex, value: "^https://api\\.example\\.com"}
"#;

fn send_tool() -> ToolInfo {
    ToolInfo {
        server: "t".into(),
        name: "send".into(),
        risk: crate::mock::Risk::Write,
        input_schema: serde_json::json!({"type": "object", "properties": {"url": {"type": "string", "maxLength": 100}}, "required": ["url"]}).into(),
        surface: crate::mock::Surface::Tool,
        roles: Vec::new(),
        definition: serde_json::Value::Null,
        private: false,
    }
}

#[test]
fn a_loose_limit_is_refuted_by_a_burst_at_a_window_edge_and_a_tight_one_proved() {
    let loose = engine(FETCH);
    let proofs = run(&loose, &[send_tool()]);
    let rate = proofs.iter().find(|p| p.requirement == "rate").unwrap();
    assert_eq!(rate.status, Status::Refuted, "{}", rate.reason);
    assert_eq!(rate.location.line, 6, "blamed on the rate rule");
    let cex = rate.counterexample.as_ref().unwrap();
    let allowed = cex.allowed.iter().filter(|a| **a).count();
    assert_eq!(allowed, 31, "20 before the minute edge, 11 after it are enough");
    let tight = engine(&FETCH.replace("20/minute", "15/minute"));
    let rate = run(&tight, &[send_tool()]).into_iter().find(|p| p.requirement == "rate").unwrap();
    assert_eq!(rate.status, Status::Proved, "{}", rate.reason);
    assert!(rate.reason.contains("at most 30"), "{}", rate.reason);
    // The regex caps nothing: a URL of 101 characters passes, so the schema's maxLength is refuted.
    let schema = run(&tight, &[send_tool()]).into_iter().find(|p| p.requirement == "schema").unwrap();
    assert_eq!(schema.status, Status::Refuted, "{}", schema.reason);
    let url = schema.counterexample.unwrap().calls[0].arguments["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("https://api.example.com") && url.chars().count() > 100, "{url}");
}

#[test]
fn facts_name_shadowed_rules_unknown_fields_unanchored_destinations_and_idle_limits() {
    let text = r#"version: "1"
tools:
  send:
    rules:
      - name: block
        action: deny
      - name: after
        conditions:
          - {path: args.url, op: exists, value: true}
  post:
    rules:
      - name: where
        conditions:
          - {path: args.url, op: regex, value: "^https://api\\.example\\.com"}
          - {path: args.colour, op: eq, value: "red"}
      - name: both
        conditions:
          - {path: args.n, op: lt, value: 1}
          - {path: args.n, op: gt, value: 2}
      - name: counted
        state: {counter: c, window: minute}
        conditions:
          - {path: state.post.c, op: gte, value: 0}
"#;
    let e = engine(text);
    let post = ToolInfo { name: "post".into(), ..send_tool() };
    let facts = facts::of(e.policy(), &e, "p.yaml", &[post]);
    let kinds: Vec<(&str, u32)> = facts.iter().map(|f| (f.kind, f.location.line)).collect();
    assert!(kinds.contains(&("never-fires", 7)), "{facts:#?}");
    assert!(kinds.contains(&("unanchored-destination", 14)), "{facts:#?}");
    assert!(kinds.contains(&("unknown-field", 15)), "{facts:#?}");
    assert!(kinds.contains(&("refuses-all", 16)), "{facts:#?}");
    assert!(kinds.contains(&("never-binds", 20)), "{facts:#?}");
    let anchored = engine(&text.replace(r"^https://api\\.example\\.com", r"^https://api\\.example\\.com/[a-z]*$"));
    assert!(!facts::of(anchored.policy(), &anchored, "p.yaml", &[]).iter().any(|f| f.kind == "unanchored-destination"));
    // A scheme check pins no destination: `^https://` is not flagged (the translated pattern must not hide the prefix).
    let scheme = engine(&text.replace(r"^https://api\\.example\\.com", "^https://"));
    assert!(!facts::of(scheme.policy(), &scheme, "p.yaml", &[]).iter().any(|f| f.kind == "unanchored-destination"), "{:#?}", facts::of(scheme.policy(), &scheme, "p.yaml", &[]));
    let f = facts.iter().find(|f| f.kind == "unanchored-destination").unwrap();
    assert!(f.message.contains("it admits `https://api.example.com.evil.example`"), "{}", f.message);
}

fn aksjah_diff(new_text: &str) -> Vec<diff::Change> {
    let old_text = std::fs::read_to_string(format!("{}/examples/aksjah-hardened.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let (eo, en) = (engine(&old_text), engine(new_text));
    let side = |e: &'static str| ReplayCommand { policy: e.into(), strict: false };
    let old = diff::Side { engine: &eo, file: "old.yaml", replay: side("old.yaml") };
    let new = diff::Side { engine: &en, file: "new.yaml", replay: side("new.yaml") };
    let tools = diff::tools(eo.policy(), en.policy(), &[]);
    diff::diff(&old, &new, &tools)
}

fn hardened_aksjah() -> String {
    std::fs::read_to_string(format!("{}/examples/aksjah-hardened.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn diff_reports_exactly_a_loosened_regex_a_raised_limit_and_an_unhidden_tool_each_with_a_witness() {
    let old = hardened_aksjah();
    let cap = r#"{path: args.name, op: regex, value: "(?s)^.{0,1000}.{0,1000}.{0,1000}.{0,1000}.{0,1000}.{0,400}$"}"#;
    assert!(old.contains(cap), "{old}");
    let new = old
        .replacen(cap, &cap.replace("400}$", "400}"), 1)
        .replacen("rate_limit: 15/minute", "rate_limit: 25/minute", 1)
        .replace("hide:\n  - \"WizCommerce Open API_DeleteCustomer\"  # the built-in requirement denies destructive tools\n", "");
    assert_ne!(new, old);
    let changes = aksjah_diff(&new);
    let got: Vec<(&str, &str, diff::Direction)> = changes.iter().map(|c| (c.tool.as_str(), c.kind, c.direction)).collect();
    assert_eq!(
        got,
        vec![
            ("WizCommerce Open API_DeleteCustomer", "visibility", diff::Direction::Weaker),
            ("WizCommerce Open API_PostCustomers", "condition", diff::Direction::Weaker),
            ("WizCommerce Open API_PostCustomers", "rate", diff::Direction::Weaker),
        ],
        "{changes:#?}"
    );
    // Each witness as the engines decided it: the loosened regex lets a name OLD refused through; 25 calls pass a minute, not 15.
    let regex = &changes[1];
    assert_eq!((regex.old.as_ref().unwrap().allowed[0], regex.new.as_ref().unwrap().allowed[0]), (false, true));
    assert_eq!(regex.old_at.line, 13, "blamed on the rule that refused it");
    let rate = &changes[2];
    let passed = |c: &Option<Counterexample>| c.as_ref().unwrap().allowed.iter().filter(|a| **a).count();
    assert_eq!((passed(&rate.old), passed(&rate.new)), (15, 25));
}

#[test]
fn diff_shows_nothing_for_a_rename_and_says_what_a_moved_rule_changes() {
    let old = hardened_aksjah();
    assert!(aksjah_diff(&old.replace("- name: \"arguments\"", "- name: \"argument schema\"")).is_empty());
    let rate = "      - name: \"rate per minute\"\n        rate_limit: 15/minute  # 15/minute: the built-in requirement for write tools is ≤30 per sliding 1m, which a calendar minute keeps at 15\n";
    let orders = "      - name: \"arguments\"\n        on_deny: \"Arguments do not match the approved schema.\"\n        conditions:\n          - {path: args.customer_id";
    let moved = old.replacen(&format!("{rate}{orders}"), orders, 1);
    let items = "          - {path: args.items, op: exists, value: true}  # present, as the inputSchema requires\n";
    let moved = moved.replacen(items, &format!("{items}{rate}"), 1);
    assert_ne!(moved, old);
    let changes = aksjah_diff(&moved);
    // The engine checks argument conditions before it reserves against a limit, so the move changes no decision.
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!((changes[0].kind, changes[0].direction, changes[0].tool.as_str()), ("rule-order", diff::Direction::Neutral, "WizCommerce Open API_PostOrders"));
    assert!(changes[0].summary.contains("changes nothing"), "{}", changes[0].summary);
}

#[test]
fn diff_finds_which_rule_refuses_when_two_argument_rules_swap() {
    let old = "version: \"1\"\ntools:\n  t:\n    rules:\n      - name: a\n        conditions:\n          - {path: args.x, op: eq, value: 1}\n      - name: b\n        conditions:\n          - {path: args.y, op: eq, value: 2}\n";
    let new = "version: \"1\"\ntools:\n  t:\n    rules:\n      - name: b\n        conditions:\n          - {path: args.y, op: eq, value: 2}\n      - name: a\n        conditions:\n          - {path: args.x, op: eq, value: 1}\n";
    let (eo, en) = (engine(old), engine(new));
    let r = || ReplayCommand { policy: "p.yaml".into(), strict: false };
    let changes = diff::diff(&diff::Side { engine: &eo, file: "old.yaml", replay: r() }, &diff::Side { engine: &en, file: "new.yaml", replay: r() }, &["t".to_string()]);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].kind, "rule-order");
    assert!(changes[0].summary.contains("refused by `a` in OLD and by `b` in NEW"), "{}", changes[0].summary);
}
