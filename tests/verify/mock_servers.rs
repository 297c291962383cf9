//! The shipped server files load and say what the catalogue says, and a bad
//! server file stops `gauntlet mock` with file:line:column and help.

use std::path::Path;
use std::process::Command;

use gauntlet::mock::{Risk, ServerSpec};

fn load(name: &str) -> ServerSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mock-servers")
        .join(name);
    ServerSpec::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn risks(spec: &ServerSpec) -> Vec<(&str, Risk, bool)> {
    spec.tools
        .iter()
        .map(|t| (t.name.as_str(), t.risk, t.stand_in))
        .collect()
}

#[test]
fn aksjah_has_the_catalogue_tools_and_marked_stand_ins() {
    let s = load("aksjah.yaml");
    assert_eq!(
        risks(&s),
        [
            ("WizCommerce Open API_PostCustomers", Risk::Write, false),
            ("WizCommerce Open API_GetCustomers", Risk::Read, false),
            (
                "WizCommerce Open API_DeleteCustomer",
                Risk::Destructive,
                true
            ),
            ("WizCommerce Open API_PostOrders", Risk::Write, true),
            ("WizCommerce Open API_GetProducts", Risk::Read, true),
        ]
    );
    let props = |i: usize| {
        s.tools[i].input_schema["properties"]
            .as_object()
            .map_or(0, |p| p.len())
    };
    assert_eq!((props(0), props(1)), (46, 10));
    assert_eq!(s.tools[0].description.as_deref(), Some("List Attributes"));
}

#[test]
fn ezbiz_has_eight_tools_and_the_seed_description() {
    let s = load("ezbiz.yaml");
    let reads = s.tools.iter().filter(|t| t.risk == Risk::Read).count();
    assert_eq!((s.tools.len(), reads), (8, 6));
    let persona = s.tool("customer_persona").expect("customer_persona");
    assert_eq!(persona.risk, Risk::Execute);
    assert_eq!(
        persona.description.as_deref().unwrap_or_default(),
        "\u{1F512} [Pro] Build detailed customer personas with demographics, psychographics, buying behavior, and pain points. Uses real market data to create actionable buyer profiles."
    );
    assert_eq!(
        s.tool("business_plan_section").map(|t| t.risk),
        Some(Risk::Write)
    );
}

#[test]
fn payments_is_stripe_shaped() {
    let s = load("payments.yaml");
    assert_eq!(
        risks(&s),
        [
            ("create_charge", Risk::Financial, false),
            ("create_refund", Risk::Financial, false),
            ("list_customers", Risk::Read, false),
            ("delete_customer", Risk::Destructive, false),
        ]
    );
    let charge = &s.tools[0].input_schema;
    assert_eq!(charge["properties"]["amount"]["type"], "integer");
    assert_eq!(
        charge["required"],
        serde_json::json!(["amount", "currency", "customer"])
    );
}

#[test]
fn a_bad_server_file_names_the_place_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "name: x\nversion: '1'\ntools:\n  - name: a\n    description: d\n    inputSchema: {type: object}\n    risk: exec\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .arg("mock")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:7:11:", file.display())), "{err}");
    assert!(
        err.contains("help: `risk` is one of read, write, execute, financial, destructive"),
        "{err}"
    );
}

// --- recordings of real servers -------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `gauntlet mock record -o OUT [extra…]`; returns (exit code, stderr).
fn record(out: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(BIN)
        .args(["mock", "record", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `mock record` reads annotations before names (issue 20), on the seven real
/// servers recorded as test data (`tests/data/servers/`): each recording's
/// `risk:` line is what the recorder writes for that tool today; a tool its
/// server calls neither read-only nor destructive is a write whatever its
/// name says (mcp-server-git's `git_checkout` had been classed financial from
/// the word "checkout", and its recording corrected by hand); and fetch, whose
/// server says `openWorldHint: true`, reaches the outside world through its
/// `url`, a destination.
#[test]
fn real_recordings_are_classed_by_their_annotations_first() {
    use gauntlet::mock::classify;
    use gauntlet::mock::roles::Role;
    let mut annotated_writes = 0;
    for name in ["fetch", "time", "git", "redis", "sqlite", "puppeteer", "gitlab"] {
        let text = std::fs::read_to_string(repo().join(format!("tests/data/servers/{name}.yaml"))).unwrap();
        let doc: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        for tool in doc["tools"].as_array().unwrap() {
            let n = tool["name"].as_str().unwrap();
            let annotations = tool.get("annotations");
            let c = classify::tool(n, tool["description"].as_str(), annotations, &tool["inputSchema"]);
            let line = format!("    risk: {}  # {}", c.risk, c.reason);
            let after = text.split(&format!(" name: \"{n}\"\n")).nth(1).unwrap_or_else(|| panic!("{name}: no `{n}`"));
            let recorded = after.lines().find(|l| l.starts_with("    risk: ")).unwrap();
            assert_eq!(recorded, line, "{name}: `{n}` is recorded as the recorder classes it now");
            let hint = |k: &str| annotations.and_then(|a| a.get(k)).and_then(serde_json::Value::as_bool);
            if hint("readOnlyHint") == Some(false) && hint("destructiveHint") == Some(false) {
                annotated_writes += 1;
                assert_eq!(c.risk, Risk::Write, "{name}: `{n}`: {}", c.reason);
                assert!(c.reason.starts_with("annotations: readOnlyHint false, destructiveHint false"), "{}", c.reason);
            }
            if n == "fetch" {
                assert!(classify::open_world(annotations), "fetch says openWorldHint: true");
                let url = c.roles.iter().find(|r| r.path == "url").expect("url has a role");
                assert_eq!(url.role.role, Role::Destination, "{}", url.reason);
            }
        }
    }
    assert!(annotated_writes >= 4, "git's add, commit, create_branch and checkout are annotated writes");
    // Without its annotations, the word `checkout` alone still makes no payment (no amount field).
    let (risk, why) = classify::risk::classify("git_checkout", Some("Switches branches"), None, &[]);
    assert_eq!(risk, Risk::Write, "{why}");
}

/// On a timeout, `mock record` shows the server's last stderr lines: the real
/// `@modelcontextprotocol/server-redis`, pointed at a port nothing listens on,
/// retries its connection and never answers `initialize`.
#[test]
fn a_record_timeout_shows_the_real_servers_last_stderr_lines() {
    let server = repo().join(".peers/node_modules/@modelcontextprotocol/server-redis/dist/index.js");
    if !server.exists() {
        assert_ne!(std::env::var("GAUNTLET_REQUIRE_PEERS").as_deref(), Ok("1"), "{} is not installed", server.display());
        eprintln!("skipping: {} is not installed (run scripts/install-peers.sh)", server.display());
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("redis.yaml");
    let url = format!("redis://127.0.0.1:{port}");
    let (code, err) = record(&out, &["--timeout", "3", "--", "node", server.to_str().unwrap(), &url]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("did not finish answering within 3s"), "{err}");
    let tail = err.split("its last stderr lines:").nth(1).unwrap_or_else(|| panic!("no stderr lines shown: {err}"));
    assert!(tail.contains("ECONNREFUSED") && tail.contains(&url), "{err}");
    assert!(!out.exists(), "nothing written");
}

/// The bundled files recorded from a real package (`recorded.package`), by stem.
fn recorded_files() -> Vec<(String, ServerSpec)> {
    let mut out: Vec<(String, ServerSpec)> = std::fs::read_dir(repo().join("mock-servers"))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let stem = p.file_stem()?.to_str()?.to_string();
            let spec = ServerSpec::load(&p).ok()?;
            spec.recorded.as_ref()?.package.as_ref()?;
            Some((stem, spec))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every shipped server file, bundled or test data, opens each tool with its
/// `name`, as `mock record` writes it: a reader finds the tool before its schema.
#[test]
fn every_shipped_server_file_names_each_tool_first() {
    let mut checked = 0;
    for dir in ["mock-servers", "tests/data/servers"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut in_tools = false;
            for (i, line) in text.lines().enumerate() {
                if !line.starts_with([' ', '#']) && !line.is_empty() {
                    in_tools = line == "tools:";
                } else if in_tools && line.starts_with("  - ") {
                    assert!(line.starts_with("  - name: "), "{}:{}: a tool opens with `{line}`, not its name", path.display(), i + 1);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} tools found: the files moved?");
}

/// The command that runs `package` from .peers instead of `npx -y package`,
/// or `None` (after a notice) when peers are optional and missing.
fn local_command(command: &[String], package: &str) -> Option<Vec<String>> {
    let at = command
        .windows(3)
        .position(|w| w[0] == "npx" && w[1] == "-y" && w[2] == package)
        .unwrap_or_else(|| panic!("the recorded command {command:?} does not run `npx -y {package}`"));
    let (name, version) = package.rsplit_once('@').unwrap();
    let peers = repo().join(".peers/node_modules");
    let manifest = peers.join(name).join("package.json");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        assert!(
            std::env::var("GAUNTLET_REQUIRE_PEERS").as_deref() != Ok("1"),
            "peer `{package}` is missing; run `bash scripts/install-peers.sh`"
        );
        eprintln!("skipping {package}: not installed (run `bash scripts/install-peers.sh`)");
        return None;
    };
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        manifest["version"], version,
        "{name} in .peers is not the pinned version; run `bash scripts/install-peers.sh`"
    );
    // The executable npx would run: the only bin, or the one named like the package.
    let bin = match &manifest["bin"] {
        serde_json::Value::String(_) => name.rsplit('/').next().unwrap().to_string(),
        serde_json::Value::Object(m) if m.len() == 1 => m.keys().next().unwrap().clone(),
        serde_json::Value::Object(m) => m
            .keys()
            .find(|k| Some(k.as_str()) == name.rsplit('/').next())
            .unwrap_or_else(|| panic!("{name} has several executables: {m:?}"))
            .clone(),
        other => panic!("{name} has no executable: {other}"),
    };
    let mut local = command[..at].to_vec();
    local.push(peers.join(".bin").join(bin).display().to_string());
    local.extend_from_slice(&command[at + 3..]);
    Some(local)
}

/// A recording can never drift from what it claims to be: each bundled
/// recording, re-recorded now from the pinned package, is the same file
/// (only the command differs: .peers instead of npx).
#[test]
fn bundled_recordings_match_their_pinned_packages() {
    let files = recorded_files();
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    assert!(files.len() >= 6, "at least six real servers are bundled: {names:?}");
    let dir = tempfile::tempdir().unwrap();
    let threads: Vec<_> = files
        .into_iter()
        .map(|(stem, spec)| {
            let out = dir.path().join(format!("{stem}.yaml"));
            std::thread::spawn(move || {
                let prov = spec.recorded.clone().unwrap();
                let package = prov.package.clone().unwrap();
                let command = prov.command.clone().expect("a stdio recording");
                let local = local_command(&command, &package)?;
                let mut args = vec!["--package", package.as_str(), "--"];
                args.extend(local.iter().map(String::as_str));
                let (code, err) = record(&out, &args);
                assert_eq!(code, Some(0), "re-recording {stem} failed: {err}");
                let bundled_path = repo().join("mock-servers").join(format!("{stem}.yaml"));
                let bundled = std::fs::read_to_string(&bundled_path).unwrap();
                let command_line = |text: &str| text.lines().find(|l| l.starts_with("  command: ")).unwrap().to_string();
                let fresh = std::fs::read_to_string(&out)
                    .unwrap()
                    .replace(&command_line(&std::fs::read_to_string(&out).unwrap()), &command_line(&bundled));
                if fresh != bundled {
                    let diff = similar::TextDiff::from_lines(&bundled, &fresh);
                    panic!(
                        "mock-servers/{stem}.yaml differs from {package} as it lists its tools today \
                         (re-record with scripts/record-mocks.sh):\n{}",
                        diff.unified_diff().context_radius(2).header("bundled", "re-recorded")
                    );
                }
                Some(spec.tools.len())
            })
        })
        .collect();
    let counts: Vec<Option<usize>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    eprintln!("re-recorded {names:?}: tool counts {counts:?}");
}

/// Served back by `gauntlet mock`, a recording lists byte for byte what the
/// real server listed, and recording the mock gives the same file.
#[test]
fn a_recording_round_trips_through_the_mock() {
    let dir = tempfile::tempdir().unwrap();
    // filesystem: tools only; everything: resources, templates and prompts too.
    for name in ["filesystem", "everything"] {
        let bundled = repo().join(format!("mock-servers/{name}.yaml"));
        let out = dir.path().join(format!("{name}-again.yaml"));
        let prov = ServerSpec::load(&bundled).unwrap().recorded.unwrap();
        let bundled_arg = bundled.display().to_string();
        let args = ["--package", prov.package.as_deref().unwrap(), "--", BIN, "mock", bundled_arg.as_str()];
        let (code, err) = record(&out, &args);
        assert_eq!(code, Some(0), "{err}");
        // The command differs; so do the notes on prompts the mock answered where the real server needed arguments.
        let strip = |t: String| t.lines().filter(|l| !l.starts_with("  command: ")).collect::<Vec<_>>().join("\n");
        assert_eq!(strip(std::fs::read_to_string(&out).unwrap()), strip(std::fs::read_to_string(&bundled).unwrap()), "{name}");
    }
}

/// `mock record` probes how the server resolves tool names (issue 22): the
/// real mcp-server-git answers a variant spelling as an unknown name, so its
/// file says `lenient_names: false`; a bundled mock written as lenient is
/// found lenient; `--no-probe` calls nothing and writes the SDK default.
#[test]
fn recording_probes_whether_the_server_resolves_names_leniently() {
    let dir = tempfile::tempdir().unwrap();
    let behaviour = |out: &Path| {
        let text = std::fs::read_to_string(out).unwrap();
        let line = text.lines().skip_while(|l| *l != "behaviour:").nth(1).map(str::to_string);
        line.unwrap_or_else(|| panic!("no behaviour: in {text}"))
    };
    let out = dir.path().join("aksjah.yaml");
    let (code, err) = record(&out, &["--", BIN, "mock", "aksjah"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("tool names: resolved leniently"), "{err}");
    assert!(behaviour(&out).starts_with("  lenient_names: true  # probed: `"), "{}", behaviour(&out));
    let (code, err) = record(&out, &["--no-probe", "--", BIN, "mock", "aksjah"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(behaviour(&out), "  lenient_names: false  # not probed (--no-probe): exact, as the MCP SDKs resolve names");
    // A bundled recording of a real server is served exactly, and found so.
    let (code, err) = record(&out, &["--", BIN, "mock", "github"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(behaviour(&out).starts_with("  lenient_names: false  # probed: `"), "{}", behaviour(&out));

    let git = repo().join(".peers/venv/bin/mcp-server-git");
    if !git.exists() {
        assert!(std::env::var("GAUNTLET_REQUIRE_PEERS").as_deref() != Ok("1"), "mcp-server-git is missing; run `bash scripts/install-peers.sh`");
        eprintln!("skipping mcp-server-git: not installed (run `bash scripts/install-peers.sh`)");
        return;
    }
    let repository = dir.path().join("repo");
    assert!(Command::new("git").args(["init", "-q"]).arg(&repository).status().unwrap().success());
    let out = dir.path().join("git.yaml");
    let (code, err) = record(&out, &["--", git.to_str().unwrap(), "--repository", repository.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("tool names: exact (probed: `GIT_"), "{err}");
    assert!(behaviour(&out).starts_with("  lenient_names: false  # probed: `GIT_"), "{}", behaviour(&out));
}

/// Sends `lines` to a stdio MCP server and returns the raw `result` (or
/// `error`) text of each answer, by id, once every id in `ids` is answered.
fn stdio_answers(argv: &[String], lines: &[String], ids: &[u64]) -> std::collections::BTreeMap<u64, String> {
    use std::io::{BufRead, Write};
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for l in lines {
        writeln!(stdin, "{l}").unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut out = std::collections::BTreeMap::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while ids.iter().any(|id| !out.contains_key(id)) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = rx.recv_timeout(left) else { break };
        #[derive(serde::Deserialize)]
        struct Answer<'a> {
            id: Option<u64>,
            #[serde(borrow)]
            result: Option<&'a serde_json::value::RawValue>,
            #[serde(borrow)]
            error: Option<&'a serde_json::value::RawValue>,
        }
        if let Ok(a) = serde_json::from_str::<Answer>(&line) {
            if let (Some(id), Some(body)) = (a.id, a.result.or(a.error)) {
                out.insert(id, body.get().to_string());
            }
        }
    }
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    out
}

/// The resources, templates and prompts of a recording are listed, read and
/// got through `gauntlet mock` byte for byte as the real server answers them.
#[test]
fn a_recordings_resources_and_prompts_are_served_as_the_real_server_serves_them() {
    let spec = ServerSpec::load(&repo().join("mock-servers/everything.yaml")).unwrap();
    let prov = spec.recorded.clone().unwrap();
    let Some(real) = local_command(prov.command.as_deref().unwrap(), prov.package.as_deref().unwrap()) else { return };
    assert!(spec.resources.len() >= 7 && spec.resource_templates.len() == 2 && spec.prompts.len() == 4, "the recording keeps every surface");
    let doc = &spec.resources[0].uri;
    let lines: Vec<String> = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#.to_string(),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":2,"method":"resources/list"}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":3,"method":"resources/templates/list"}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":4,"method":"prompts/list"}"#.to_string(),
        format!(r#"{{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{{"uri":"{doc}"}}}}"#),
        r#"{"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{"name":"simple-prompt"}}"#.to_string(),
    ]
    .into();
    let ids = [2, 3, 4, 5, 6];
    let mock = [BIN.to_string(), "mock".into(), repo().join("mock-servers/everything.yaml").display().to_string()];
    let from_real = stdio_answers(&real, &lines, &ids);
    let from_mock = stdio_answers(&mock, &lines, &ids);
    assert!(ids.iter().all(|id| from_real.contains_key(id)), "the real server answered {from_real:?}");
    for id in ids {
        assert_eq!(from_mock.get(&id), from_real.get(&id), "answer {id}");
    }
}

#[test]
fn a_server_that_cannot_be_recorded_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.yaml");
    std::fs::write(&out, "previous contents\n").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--", "/nonexistent/mcp-server"], "could not start `/nonexistent/mcp-server`"),
        (&["--", "sh", "-c", "echo 'no such directory' >&2; exit 3"], "closed its output before answering `initialize`"),
        (&["--", "sh", "-c", "echo 'Server listening on port 3000'; sleep 5"], "not a JSON-RPC message"),
        (&["--timeout", "0.5", "--", "sleep", "5"], "did not finish answering within 500ms"),
    ];
    for (args, expected) in cases {
        let (code, err) = record(&out, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous contents\n");
    }
    let (_, err) = record(&out, &["--", "sh", "-c", "echo 'no such directory' >&2; exit 3"]);
    assert!(err.contains("no such directory"), "the server's stderr is shown: {err}");
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
}

/// A server of the stateless era only: `initialize` does not exist for it.
struct StatelessOnly(gauntlet::mock::MockServer);

impl gauntlet::mcp::MessageHandler for StatelessOnly {
    fn handle(
        &mut self,
        msg: &[u8],
        ctx: &gauntlet::caller::CallContext,
        now: gauntlet::clock::Timestamp,
    ) -> Vec<gauntlet::mcp::Reply> {
        let m = gauntlet::mcp::Message::parse(msg);
        if m.method() == Some("initialize") {
            let err = gauntlet::mcp::RpcError::method_not_found("initialize");
            return vec![gauntlet::mcp::Reply::now(gauntlet::mcp::jsonrpc::error_response(m.id(), &err))];
        }
        self.0.handle(msg, ctx, now)
    }
}

/// Over Streamable HTTP, in both eras and across `nextCursor` pages, a
/// recording keeps the same tools as over stdio.
#[test]
fn http_recordings_of_both_eras_keep_the_same_tools() {
    use gauntlet::mcp::client::Endpoint;
    use gauntlet::mcp::http::HttpServer;
    use std::sync::{Arc, Mutex};

    let mut spec = ServerSpec::load(&repo().join("mock-servers/filesystem.yaml")).unwrap();
    spec.behaviour.page_size = Some(3);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let clock: Arc<dyn gauntlet::clock::Clock> = Arc::new(gauntlet::clock::SystemClock);
    let addr = "127.0.0.1:0".parse().unwrap();
    let handshake = Arc::new(Mutex::new(gauntlet::mock::MockServer::from_spec(spec.clone())));
    let stateless = Arc::new(Mutex::new(StatelessOnly(gauntlet::mock::MockServer::from_spec(spec.clone()))));
    let (a, b) = rt.block_on(async {
        let a = HttpServer::bind(addr, handshake, clock.clone()).await.unwrap();
        let b = HttpServer::bind(addr, stateless, clock).await.unwrap();
        (a, b)
    });
    let urls = [a.local_addr().unwrap(), b.local_addr().unwrap()].map(|s| format!("http://{s}/mcp"));
    rt.spawn(a.run());
    rt.spawn(b.run());
    for (url, protocol) in urls.iter().zip(["2025-11-25", "2026-07-28"]) {
        let endpoint = Endpoint::Http { url: url.clone(), headers: vec![("X-Test".into(), "1".into())] };
        let got = rt
            .block_on(gauntlet::mock::record::record(&endpoint, None, std::time::Duration::from_secs(10), true))
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let prov = got.spec.recorded.as_ref().unwrap();
        assert_eq!((prov.protocol.as_str(), prov.url.as_deref()), (protocol, Some(url.as_str())));
        assert_eq!(got.spec.tools, spec.tools, "{protocol}");
        assert_eq!(got.spec.tools.len(), 14);
    }
}

/// An `inputSchema` that is not a JSON Schema (`type: integr`, `minimum:
/// "one"`) is refused at load with its position, and `gauntlet mock` exits 2
/// instead of serving a server every argument check would skip.
#[test]
fn an_invalid_input_schema_is_refused_with_its_position() {
    let server = |schema: &str| {
        format!(
            "name: bad\nversion: \"1.0.0\"\ntools:\n  - name: ok\n    description: fine\n    risk: read\n    inputSchema: {{type: object}}\n  - name: add\n    description: adds\n    risk: write\n    inputSchema:\n      type: object\n      properties:\n        count:\n{schema}"
        )
    };
    for (schema, at, pointer) in [
        ("          type: integr\n", "15:17", "/properties/count/type"),
        ("          type: integer\n          minimum: \"one\"\n", "16:20", "/properties/count/minimum"),
    ] {
        let text = server(schema);
        let err = ServerSpec::parse(&text, Path::new("bad.yaml")).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("bad.yaml:{at}: tool `add` has an `inputSchema` that is not a valid JSON Schema at `{pointer}`: ")),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.yaml");
        std::fs::write(&file, &text).unwrap();
        let out = Command::new(BIN).arg("mock").arg(&file).stdin(std::process::Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("bad.yaml:{at}: tool `add`")), "{stderr}");
    }
}

/// A real server over real Streamable HTTP (Brave's, which also speaks
/// stdio): recorded with `--upstream`, it lists the same tools as the bundled
/// recording made over stdio.
#[test]
fn a_real_http_server_records_the_same_tools_as_over_stdio() {
    let bin = repo().join(".peers/node_modules/.bin/brave-search-mcp-server");
    if !bin.exists() {
        assert!(
            std::env::var("GAUNTLET_REQUIRE_PEERS").as_deref() != Ok("1"),
            "peer `{}` is missing; run `bash scripts/install-peers.sh`",
            bin.display()
        );
        eprintln!("skipping: {} is missing (run `bash scripts/install-peers.sh`)", bin.display());
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(&bin)
        .args(["--transport", "http", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env("BRAVE_API_KEY", "dummy")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed().as_secs() < 60, "the Brave server did not listen on {port}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("brave.yaml");
    let url = format!("http://127.0.0.1:{port}/mcp");
    let (code, err) = record(&out, &["--upstream", &url, "--header", "X-Client: gauntlet-test"]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, Some(0), "{err}");
    let tools = |path: &Path| {
        let text = std::fs::read_to_string(path).unwrap();
        text[text.find("\ntools:\n").unwrap()..].to_string()
    };
    assert_eq!(tools(&out), tools(&repo().join("mock-servers/brave-search.yaml")));
    let spec = ServerSpec::load(&out).unwrap();
    assert_eq!(spec.recorded.unwrap().url.as_deref(), Some(url.as_str()));
}

/// Scenarios enough to reach every kind of target (each risk class, all
/// tools, tools the policy blocks, hides or does not list) at a few calls each.
const TARGET_KINDS: [&str; 8] = [
    "destructive-call",
    "rug-pull",
    "window-edge-exec",
    "spend-cap",
    "extra-fields",
    "hidden-tool-call",
    "tool-name-case",
    "unlisted-tool",
];

/// Each of Intercept's published policies whose server is bundled (same
/// name), verified with no `--server`, is verified against that server alone
/// and judges only tools that exist on it.
#[test]
fn intercept_policies_get_verdicts_on_their_own_servers_tools() {
    let policies_dir = repo().join("../shared/intercept-policies");
    let mut policies: Vec<_> = std::fs::read_dir(&policies_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", policies_dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| p.file_stem().and_then(|s| s.to_str()).is_some_and(|s| repo().join(format!("mock-servers/{s}.yaml")).exists()))
        .collect();
    policies.sort();
    let servers: std::collections::BTreeMap<String, ServerSpec> = std::fs::read_dir(repo().join("mock-servers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| (p.file_stem().unwrap().to_str().unwrap().to_string(), ServerSpec::load(&p).unwrap()))
        .collect();
    let threads: Vec<_> = policies
        .chunks(policies.len().div_ceil(4))
        .map(|chunk| {
            let chunk = chunk.to_vec();
            std::thread::spawn(move || {
                chunk
                    .into_iter()
                    .map(|p| {
                        // `--allow-empty`: a policy of a server not bundled runs on none, and says so.
                        let mut args =
                            vec!["verify".to_string(), p.display().to_string(), "--format".into(), "json".into(), "--allow-empty".into()];
                        for id in TARGET_KINDS {
                            args.extend(["--only".to_string(), id.to_string()]);
                        }
                        let o = Command::new(BIN).args(&args).output().unwrap();
                        (p, o)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut own = Vec::new();
    for (policy, o) in threads.into_iter().flat_map(|t| t.join().unwrap()) {
        let stem = policy.file_stem().unwrap().to_str().unwrap().to_string();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(2), "{stem}: {err}");
        let report: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{stem}: no JSON report ({e}): {err}"));
        let outcomes = report["outcomes"].as_array().unwrap();
        for outcome in outcomes {
            let (server, tool) = (outcome["server"].as_str().unwrap(), outcome["tool"].as_str().unwrap());
            if (server, tool) == ("-", "-") {
                // A scenario with nothing to aim at on these servers.
                assert_eq!(outcome["verdict"], "not-applicable", "{stem}: {outcome}");
                continue;
            }
            let spec = servers.get(server).unwrap_or_else(|| panic!("{stem}: an outcome names server `{server}`"));
            assert!(spec.tool(tool).is_some(), "{stem}: an outcome names `{tool}`, which `{server}` lacks: {outcome}");
        }
        let text = std::fs::read_to_string(&policy).unwrap();
        let named: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let shares = |spec: &ServerSpec| {
            named["tools"].as_mapping().is_some_and(|m| m.keys().any(|k| k.as_str().is_some_and(|k| spec.tool(k).is_some())))
        };
        if servers.get(&stem).is_some_and(shares) {
            assert_eq!(report["servers"], serde_json::json!([stem]), "{stem} is verified against its own server only");
            own.push(stem);
        }
    }
    // notion.yaml is for Notion's hosted server (`notion-*` tools), not the npm package bundled.
    assert_eq!(own, ["brave-search", "filesystem", "github", "memory", "playwright", "postgres", "slack"]);
}

/// What serde cannot check (unique names, an object `inputSchema`,
/// `fail_every: 0`, `page_size: 0`) is refused at the place it is written;
/// these once named only the file.
#[test]
fn semantic_problems_in_a_server_file_carry_their_position() {
    let tool = |name: &str, extra: &str| format!("  - name: {name}\n    description: d\n    risk: read\n    inputSchema: {{type: object}}\n{extra}");
    for (text, at, what) in [
        (format!("name: m\nversion: \"1\"\ntools:\n{}{}", tool("a", ""), tool("a", "")), "8:11", "tool `a` is defined twice"),
        (format!("name: m\nversion: \"1\"\ntools:\n{}  - name: s\n    description: d\n    risk: read\n    inputSchema: {{type: string}}\n", tool("a", "")), "11:18", "tool `s` has an `inputSchema` that is not `type: object`"),
        (format!("name: m\nversion: \"1\"\ntools:\n{}", tool("a", "    response:\n      fail_every: 0\n")), "9:19", "tool `a` has `fail_every: 0`"),
        (format!("name: m\nversion: \"1\"\ntools:\n{}behaviour:\n  page_size: 0\n", tool("a", "")), "9:14", "`page_size` is 0"),
    ] {
        let err = ServerSpec::parse(&text, Path::new("m.yaml")).unwrap_err().to_string();
        assert!(err.starts_with(&format!("m.yaml:{at}: {what}")), "{err}\n{text}");
    }
}
