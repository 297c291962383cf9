//! The policy front end through its public API: Intercept's load errors and
//! leniencies, the catalogue and PolicyLayer dialects, conversion to
//! Intercept YAML (round trip), the example files, and never panicking.

use gauntlet::policy::model::{Action, CounterScope, Dialect, Op, Path, Policy, Value, Window};
use gauntlet::policy::{self, load_intercept, load_str, to_intercept, InterceptError};
use rstest::rstest;

fn load_error(text: &str) -> String {
    match load_intercept(text) {
        Err(InterceptError::Load(m)) => m,
        other => panic!("expected a load error, got {other:?}"),
    }
}

#[rstest]
#[case("version: \"1\"\nhide: a\n", "line 2: cannot unmarshal !!str `a` into []string")]
#[case(
    "version: \"1\"\ntools:\n  t:\n    rules:\n      - name: r\n        conditions: [{path: args.x, op: eq, value: 1}]\n        state: {counter: c, window: day, increment: \"3\"}\n",
    "line 7: cannot unmarshal !!str `3` into int"
)]
#[case("version: \"1\"\ntools:\n  t: 5\n", "line 3: cannot unmarshal !!int `5` into config.ToolDef")]
#[case("version: \"1\"\ntools:\n  t:\n    rules: x\n", "line 4: cannot unmarshal !!str `x` into []config.Rule")]
#[case("version: [1]\n", "line 1: cannot unmarshal !!seq into string")]
#[case("- a\n", "line 1: cannot unmarshal !!seq into config.Config")]
#[case("version: \"1\"\ndescription: x\nversion: \"1\"\n", "line 3: mapping key \"version\" already defined at line 1")]
fn load_errors_use_yaml_v3_text(#[case] text: &str, #[case] line: &str) {
    assert_eq!(load_error(text), format!("parsing config file: yaml: unmarshal errors:\n  {line}"));
}

#[test]
fn several_type_errors_are_listed_in_document_order() {
    let text = "version: \"1\"\nhide: a\ntools: []\n";
    assert_eq!(
        load_error(text),
        "parsing config file: yaml: unmarshal errors:\n  line 2: cannot unmarshal !!str `a` into []string\n  line 3: cannot unmarshal !!seq into map[string]config.ToolDef"
    );
}

#[test]
fn leniencies_match_intercept() {
    let text = "version: 1\ndefualt: deny\nhide: [1, true, ~]\ntools:\n  read_file:\n  t:\n    rules:\n      - ~\n      - name: r\n        conditions:\n          - ~\n          - {path: args.n, op: lte, value: 010}\n        state: {counter: c, window: hour, increment: 2.9}\n";
    let p = load_intercept(text).expect("Intercept accepts this file");
    assert_eq!(p.version, "1");
    assert_eq!(p.default, gauntlet::policy::model::DefaultAction::Allow, "misspelt key is ignored");
    assert_eq!(p.hide, vec!["1".to_string(), "true".to_string()]);
    assert!(p.tool("read_file").is_some_and(|t| t.rules.is_empty()));
    let rule = &p.tool("t").expect("tool t").rules[0];
    assert_eq!(rule.conditions.len(), 1, "the null condition is dropped");
    assert_eq!(rule.conditions[0].value, Value::Int(8));
    let state = rule.state.as_ref().expect("state");
    assert_eq!((state.increment, state.key.as_str()), (2, "t.c"));
}

#[test]
fn shorthand_lowers_like_intercept_desugars_it() {
    let p = load_intercept("version: \"1\"\ntools:\n  \"*\":\n    rules:\n      - name: g\n        rate_limit: 60/minute\n").unwrap();
    let rule = &p.tools[0].rules[0];
    assert_eq!(rule.action, Action::Evaluate);
    assert_eq!(rule.on_deny, "Rate limit of 60 per minute reached. Try again later.");
    assert_eq!(rule.conditions[0].path, Path::State("_global._rate_minute".into()));
    assert_eq!(rule.conditions[0].op, Op::Lte);
    assert_eq!(rule.state.as_ref().map(|s| s.key.as_str()), Some("_global._rate_minute"));
    assert_eq!(rule.rate_limit.as_ref().map(|r| (r.max, r.window)), Some((60, Window::Minute)));
}

#[test]
fn dotted_tool_names_cannot_rate_limit() {
    let err = load_intercept("version: \"1\"\ntools:\n  db.query:\n    rules:\n      - name: r\n        rate_limit: 5/hour\n").unwrap_err();
    assert_eq!(
        err,
        InterceptError::Invalid(vec![
            "tools.db.query.rules[0]: condition references state.db.query._rate_hour but no matching state block found".into()
        ])
    );
}

#[test]
fn regex_errors_use_go_text() {
    let text = "version: \"1\"\ntools:\n  t:\n    rules:\n      - name: r\n        conditions:\n          - {path: args.b, op: regex, value: \"(?=x)\"}\n          - {path: args.b, op: regex, value: 5}\n";
    assert_eq!(
        load_intercept(text).unwrap_err(),
        InterceptError::Invalid(vec![
            "tools.t.rules[0].conditions[0]: invalid regex \"(?=x)\": error parsing regexp: invalid or unsupported Perl syntax: `(?=`".into(),
            "tools.t.rules[0].conditions[1]: regex value must be a string".into(),
        ])
    );
}

#[test]
fn catalogue_lowers_to_a_counted_rule_and_keeps_intercepts_verdict() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/aksjah-catalogue.yaml")).unwrap();
    let loaded = load_str(&text, "aksjah-catalogue.yaml", None).expect("catalogue loads");
    assert_eq!(loaded.policy.dialect, Dialect::Catalogue);
    let rule = &loaded.policy.tool("WizCommerce Open API_PostCustomers").expect("tool").rules[0];
    let state = rule.state.as_ref().expect("state");
    assert_eq!((state.key.as_str(), state.window), ("WizCommerce Open API_PostCustomers._rate_minute", Window::Minute));
    assert_eq!(rule.conditions[0].path, Path::State(state.key.clone()));
    assert_eq!(rule.conditions[0].value, Value::Int(30));
    assert_eq!(
        loaded.intercept_verdict,
        Err(InterceptError::Load(
            "parsing config file: yaml: unmarshal errors:\n  line 6: cannot unmarshal !!map into string".into()
        ))
    );
    let odd = "tools:\n  t:\n    rules:\n      - action: allow\n        rate_limit: {max: 5, window: 90}\n";
    let loaded = load_str(odd, "odd.yaml", None).unwrap();
    assert_eq!(loaded.policy.tools[0].rules[0].state.as_ref().map(|s| s.window), Some(Window::Seconds(90)));
}

#[rstest]
#[case("{\"version\": \"1\", \"tools\": {\"a\": {\"limits\": [{\"counter\": \"c\", \"window\": \"week\", \"max\": 1, \"scope\": \"grant\"}]}}}", 1, "`window` must be")]
#[case("{\"version\": \"1\",\n \"tools\": {\"a\": {\"limitz\": []}}}", 2, "unknown key `limitz`")]
#[case("{\"version\": \"1\",\n \"tools\": {\"a\": {}, \"a\": {}}}", 2, "duplicate key `a`")]
#[case("{\"tools\": {\"a\": {\"limits\": [{\"counter\": \"c\", \"window\": \"day\", \"max\": 0, \"scope\": \"global\"}]}}}", 1, "`max` must be at least 1")]
#[case("{\"tools\": {\"a\": {\"limits\": [\n]\n", 3, "invalid JSON")]
fn policylayer_errors_point_at_the_problem(#[case] text: &str, #[case] line: u32, #[case] needle: &str) {
    let err = load_str(text, "policy.json", None).unwrap_err();
    let d = &err.diagnostics[0];
    assert!(d.message.contains(needle), "{d}");
    assert_eq!(d.line, line, "{d}");
    assert!(err.to_string().starts_with(&format!("policy.json:{line}:")), "{err}");
}

#[test]
fn policylayer_shares_counters_by_name_and_keeps_scope() {
    let text = r#"{"version": "1", "default": "deny", "tools": {
        "a": {"limits": [{"counter": "shared", "window": "hour", "max": 5, "scope": "session"}]},
        "b": {"limits": [{"counter": "shared", "window": "hour", "max": 5, "scope": "session"}]},
        "c": {}}}"#;
    let p = load_str(text, "policy.json", None).unwrap().policy;
    let key = |t: &str| p.tool(t).unwrap().rules[0].state.clone().unwrap();
    assert_eq!(key("a").key, key("b").key);
    assert_eq!(key("a").scope, CounterScope::Session);
    assert!(p.tool("c").unwrap().rules.is_empty());
    let converted = to_intercept::convert(&p);
    assert_eq!(converted.losses.len(), 3, "{:?}", converted.losses);
    assert!(converted.losses[0].contains("shared by tools `a`, `b`"), "{:?}", converted.losses);
}

type RuleShape = (Action, Vec<(Op, Value)>, String, Option<(Window, i64)>);

/// Structure that must survive conversion: names of counters differ by design.
fn shape(p: &Policy) -> Vec<(String, Vec<RuleShape>)> {
    p.tools
        .iter()
        .map(|t| {
            let rules = t
                .rules
                .iter()
                .map(|r| {
                    (
                        r.action,
                        r.conditions.iter().map(|c| (c.op, c.value.clone())).collect(),
                        r.on_deny.clone(),
                        r.state.as_ref().map(|s| (s.window, s.increment)),
                    )
                })
                .collect();
            (t.name.clone(), rules)
        })
        .collect()
}

#[rstest]
#[case("examples/stripe.yaml")]
#[case("examples/aksjah-intercept.yaml")]
#[case("examples/ezbiz-intercept.yaml")]
#[case("examples/aksjah-catalogue.yaml")]
fn conversion_round_trips_through_intercepts_loader(#[case] file: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let original = policy::load_file(&path, None).expect("example loads").policy;
    let converted = to_intercept::convert(&original);
    assert!(converted.losses.is_empty(), "{:?}", converted.losses);
    let back = load_intercept(&converted.yaml).unwrap_or_else(|e| panic!("{e}\n{}", converted.yaml));
    assert_eq!(shape(&back), shape(&original));
    assert_eq!((back.default, &back.hide), (original.default, &original.hide));
}

#[test]
fn lossy_conversion_still_loads_in_intercept() {
    let text = "tools:\n  t:\n    rules:\n      - action: allow\n        rate_limit: {max: 5, window: 90}\n";
    let p = load_str(text, "c.yaml", None).unwrap().policy;
    let converted = to_intercept::convert(&p);
    assert_eq!(converted.losses.len(), 1);
    assert!(converted.losses[0].contains("90-second window"), "{:?}", converted.losses);
    let back = load_intercept(&converted.yaml).expect("closest equivalent loads");
    assert_eq!(back.tools[0].rules[0].state.as_ref().map(|s| s.window), Some(Window::Hour));
}

#[test]
fn every_owned_example_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let owned = [
        ("aksjah-catalogue.yaml", Dialect::Catalogue),
        ("ezbiz-policy.json", Dialect::PolicyLayer),
        ("aksjah-intercept.yaml", Dialect::Intercept),
        ("ezbiz-intercept.yaml", Dialect::Intercept),
        ("stripe.yaml", Dialect::Intercept),
    ];
    for (name, dialect) in owned {
        let loaded = policy::load_file(&dir.join(name), None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(loaded.policy.dialect, dialect, "{name}");
        if dialect == Dialect::PolicyLayer {
            // Intercept reads JSON as YAML, accepts it and silently drops `limits`.
            assert!(loaded.intercept_verdict.is_ok(), "{name}");
            assert_eq!(loaded.warnings.len(), 1, "{name}: {:?}", loaded.warnings);
            assert!(loaded.warnings[0].message.contains("ignore `limits`"), "{:?}", loaded.warnings);
        } else {
            assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
            assert_eq!(loaded.intercept_verdict.is_ok(), dialect == Dialect::Intercept, "{name}");
        }
    }
}

/// Every policy shipped in examples/, whoever wrote it: it loads, and an
/// Intercept-format one is one Intercept itself accepts, with no warning.
#[test]
fn every_policy_in_examples_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "yaml" | "yml" | "json") {
            continue;
        }
        let loaded = policy::load_file(&path, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if loaded.policy.dialect == Dialect::Intercept {
            assert!(loaded.intercept_verdict.is_ok(), "{}: {:?}", path.display(), loaded.intercept_verdict.err());
            assert!(loaded.warnings.is_empty(), "{}: {:?}", path.display(), loaded.warnings);
        }
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} example policies found");
}

fn mutate(seed: &[u8], salt: u64) -> Vec<u8> {
    let mut out = seed.to_vec();
    let mut x = salt.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let alphabet = b"{}[]:,-'\"!&*#|>%@` \n\t0.1e+~xyz\\";
    for _ in 0..(1 + salt % 6) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let pos = (x >> 33) as usize % (out.len() + 1);
        let c = alphabet[(x >> 13) as usize % alphabet.len()];
        match x % 3 {
            0 if pos < out.len() => out[pos] = c,
            1 if pos < out.len() => {
                out.remove(pos);
            }
            _ => out.insert(pos, c),
        }
    }
    out
}

#[test]
fn loaders_never_panic_on_mutated_policies() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let seeds: Vec<Vec<u8>> = ["stripe.yaml", "aksjah-catalogue.yaml", "ezbiz-policy.json", "ezbiz-intercept.yaml"]
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();
    let mut loaded_ok = 0;
    for salt in 0..3000u64 {
        let seed = &seeds[salt as usize % seeds.len()];
        let bytes = mutate(seed, salt);
        let text = String::from_utf8_lossy(&bytes);
        let _ = load_intercept(&text);
        for (name, dialect) in [("p.yaml", Dialect::Catalogue), ("p.json", Dialect::PolicyLayer)] {
            if load_str(&text, name, Some(dialect)).is_ok() {
                loaded_ok += 1;
            }
        }
        if let Ok(l) = load_str(&text, "p.yaml", None) {
            let _ = to_intercept::convert(&l.policy);
        }
    }
    assert!(loaded_ok > 0, "mutations should leave some files loadable");
}

#[quickcheck_macros::quickcheck]
fn loaders_never_panic_on_arbitrary_text(text: String) -> bool {
    let _ = load_intercept(&text);
    let _ = load_str(&text, "q.yaml", Some(Dialect::Catalogue));
    let _ = load_str(&text, "q.json", None);
    true
}

/// Texts that cross each input limit, small enough that the old loaders
/// accepted them quickly, each with where the limit is crossed.
fn over_limit_texts() -> Vec<(&'static str, String, (usize, usize))> {
    let deep = format!("x: {}{}\n", "[".repeat(300), "]".repeat(300));
    let blob = format!("a: &a \"{}\"\nb: [{}]\n", "y".repeat(1 << 18), vec!["*a"; 33].join(", "));
    let mut nodes = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (name, prev) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d")] {
        nodes.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{prev}"); 10].join(", ")));
    }
    let size = format!("a: \"{}\"\n", "z".repeat(gauntlet::limits::MAX_DOCUMENT_BYTES));
    vec![
        ("nesting depth exceeds the limit of 128 levels", deep, (1, 131)),
        ("alias expansion exceeds the limit of 8 MiB of text", blob, (2, 133)),
        ("alias expansion exceeds the limit of 100000 nodes", nodes, (5, 36)),
        ("document size exceeds the limit of 8 MiB", size, (1, gauntlet::limits::MAX_DOCUMENT_BYTES + 1)),
    ]
}

/// Every loader refuses each limit with the same message at the same place.
#[test]
fn limits_are_the_same_in_every_loader() {
    use gauntlet::mock::spec::ServerSpec;
    use gauntlet::scenario::requirements::Requirements;
    let p = std::path::Path::new("f.yaml");
    for (what, text, (line, col)) in over_limit_texts() {
        let at = format!("{line}:{col}: {what}");
        let policy = load_str(&text, "f.yaml", None).unwrap_err().to_string();
        let intercept = load_str(&text, "f.yaml", Some(Dialect::Intercept)).unwrap_err().to_string();
        let scenario = gauntlet::scenario::parse(p, &text).unwrap_err().to_string();
        let lint = gauntlet::scenario::lint::lint_text(p, &text, &[]).iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n");
        let mock = ServerSpec::parse(&text, p).unwrap_err().to_string();
        let requirements = Requirements::parse(&text).unwrap_err();
        // A vector file's size limit is its own (see below).
        let vectors = match what.contains("size") {
            true => format!("f.yaml:{at}"),
            false => gauntlet::conformance::parse(&text, "f.yaml").unwrap_err().to_string(),
        };
        for (loader, got) in [
            ("policy", &policy),
            ("intercept", &intercept),
            ("scenario", &scenario),
            ("lint", &lint),
            ("mock", &mock),
            ("vectors", &vectors),
        ] {
            assert!(got.starts_with(&format!("f.yaml:{at}")), "{loader}: {got}");
        }
        assert!(requirements.starts_with(&at), "requirements: {requirements}");
        // The trace is JSON lines: the same limit in the same words.
        let json = text.replace("&a ", "").replace("*a", "1");
        if what.contains("depth") || what.contains("size") {
            let errs = gauntlet::engine::replay::parse_trace(&json).unwrap_err();
            assert!(errs[0].message.starts_with(what), "trace: {}", errs[0].message);
        }
    }
}

/// A bomb of small nodes that the old loader expanded to 2.4 GB: refused at
/// once, at the alias that crosses the limit.
#[test]
fn an_alias_bomb_is_refused_before_it_is_expanded() {
    let mut text = format!("version: \"1\"\nx:\n  a: &a \"{}\"\n", "a".repeat(9000));
    for (name, prev) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d"), ("f", "e")] {
        text.push_str(&format!("  {name}: &{name} [{}]\n", vec![format!("*{prev}"); 10].join(", ")));
    }
    text.push_str("tools: {}\n");
    let err = load_str(&text, "bomb.yaml", None).unwrap_err();
    assert_eq!(err.diagnostics.len(), 1);
    assert_eq!(
        err.diagnostics[0].to_string(),
        "bomb.yaml:6:42: alias expansion exceeds the limit of 8 MiB of text (anchors referenced too often: an alias bomb?)\n  help: write the repeated parts out, or reference each anchor fewer times"
    );
}

/// Every character yaml.v3's reader refuses (a NUL once cut a policy short
/// and the rules after it were silently dropped) is an error with its place
/// in every loader that reads YAML; an escape inside quotes is content.
#[test]
fn refused_characters_are_errors_with_their_place_in_every_loader() {
    use gauntlet::mock::spec::ServerSpec;
    use gauntlet::scenario::requirements::Requirements;
    let p = std::path::Path::new("f.yaml");
    for bad in ["\0", "\x01", "\x1b", "\x7f", "\u{80}", "\u{86}", "\u{9f}", "\u{fffe}", "\u{ffff}"] {
        let text = format!("version: \"1\"\nx: a{bad}\ntools:\n  t:\n    rules:\n      - name: n\n        action: deny\n");
        let at = "f.yaml:2:5: ";
        let policy = load_str(&text, "f.yaml", None).unwrap_err().to_string();
        assert!(policy.starts_with(&format!("{at}parsing config file: yaml: control characters are not allowed (found U+")), "{bad:?}: {policy}");
        let catalogue = load_str(&text, "f.yaml", Some(Dialect::Catalogue)).unwrap_err().to_string();
        assert!(catalogue.starts_with(&format!("{at}invalid YAML: control characters are not allowed")), "{bad:?}: {catalogue}");
        assert_eq!(
            load_intercept(&text).unwrap_err().to_string(),
            "parsing config file: yaml: control characters are not allowed",
            "{bad:?}"
        );
        let scenario = gauntlet::scenario::parse(p, &text).unwrap_err().to_string();
        let lint = gauntlet::scenario::lint::lint_text(p, &text, &[]).iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n");
        let mock = ServerSpec::parse(&text, p).unwrap_err().to_string();
        let vectors = gauntlet::conformance::parse(&text, "f.yaml").unwrap_err().to_string();
        for (loader, got) in [("scenario", &scenario), ("lint", &lint), ("mock", &mock), ("vectors", &vectors)] {
            assert!(got.starts_with(&format!("{at}control characters are not allowed")), "{bad:?} {loader}: {got}");
        }
        let requirements = Requirements::parse(&text).unwrap_err();
        assert!(requirements.starts_with("2:5: control characters are not allowed"), "{bad:?}: {requirements}");
        let grants = gauntlet::proxy::grants::Grants::parse(&text).unwrap_err();
        assert_eq!((grants.0, grants.1), (Some(2), Some(5)), "{bad:?}: {}", grants.2);
    }
    let escaped = "version: \"1\"\ntools:\n  t:\n    rules:\n      - name: \"a\\0b\"\n        action: deny\n";
    assert!(load_str(escaped, "f.yaml", None).is_ok());
}

/// A conformance vector file has its own size limit: 2,000 vectors with
/// whole policies (over the 8 MiB of every other input) load; past 64 MiB
/// the file is refused at the place it crosses the limit.
#[test]
fn a_vector_file_of_thousands_of_vectors_loads() {
    let description = "d".repeat(4500);
    let mut text = String::from("vectors:\n");
    for i in 0..2000 {
        text.push_str(&format!(
            "- id: v{i}\n  kind: valid_policy\n  policy: |\n    version: \"1\"\n    description: {description}\n    tools: {{t{i}: {{rules: [{{name: n, rate_limit: 5/hour}}]}}}}\n"
        ));
    }
    assert!(text.len() > gauntlet::limits::MAX_DOCUMENT_BYTES, "{} bytes", text.len());
    let file = gauntlet::conformance::parse(&text, "big.yaml").expect("a 2,000-vector file loads");
    assert_eq!(file.vectors.len(), 2000);
    let huge = format!("vectors: []\n# {}\n", "x".repeat(gauntlet::limits::MAX_VECTOR_FILE_BYTES));
    let err = gauntlet::conformance::parse(&huge, "huge.yaml").unwrap_err().to_string();
    assert!(err.starts_with("huge.yaml:2:"), "{err}");
    assert!(err.contains("document size exceeds the limit of 64 MiB"), "{err}");
}
