//! Real MCP clients nobody here wrote (the Python `mcp` SDK and the MCP
//! Inspector CLI, installed by scripts/install-peers.sh into .peers/) against
//! `gauntlet mock` as a child process, over stdio and Streamable HTTP. Each
//! test also reads the ledger file to see the call reached the server.
//!
//! Without .peers the tests print a notice and pass, unless
//! GAUNTLET_REQUIRE_PEERS=1, where they fail.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The path of a peer under .peers, or `None` (after a notice) when peers are optional and missing.
fn peer(relative: &str) -> Option<PathBuf> {
    let path = root().join(".peers").join(relative);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("GAUNTLET_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "peer `{}` is missing; run `bash scripts/install-peers.sh`",
            path.display()
        );
    }
    eprintln!(
        "skipping: peer `{}` is missing (run `bash scripts/install-peers.sh`)",
        path.display()
    );
    None
}

fn ledger_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each ledger line is JSON"))
        .collect()
}

fn executed_calls<'a>(ledger: &'a [Value], tool: &str) -> Vec<&'a Value> {
    ledger
        .iter()
        .filter(|e| e["executed"] == true && e["tool"] == tool)
        .collect()
}

fn run_py(python: &Path, args: &[&str]) -> Value {
    let out = Command::new(python)
        .arg(root().join("tests/interop/py_client.py"))
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed: {}\nstderr: {}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("python client printed non-JSON ({e}): {stdout}"))
}

/// The Aksjah catalogue as a client sees it.
fn assert_aksjah_tools(listed: &Value) {
    let tools = listed["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "WizCommerce Open API_PostCustomers",
            "WizCommerce Open API_GetCustomers",
            "WizCommerce Open API_DeleteCustomer",
            "WizCommerce Open API_PostOrders",
            "WizCommerce Open API_GetProducts"
        ]
    );
    let props = |i: usize| {
        tools[i]["inputSchema"]["properties"]
            .as_object()
            .map_or(0, |p| p.len())
    };
    assert_eq!(props(0), 46, "PostCustomers keeps all 46 properties");
    assert_eq!(props(1), 10);
    assert_eq!(tools[0]["description"], "List Attributes");
    assert_eq!(
        tools[0]["inputSchema"]["properties"]["credit_limit"]["type"],
        "number"
    );
}

struct HttpMock {
    child: Child,
    url: String,
}

impl HttpMock {
    fn start(server_file: &str, ledger: &Path) -> HttpMock {
        let mut child = Command::new(BIN)
            .args(["mock", server_file, "--http", "127.0.0.1:0", "--ledger"])
            .arg(ledger)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gauntlet mock starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("mock prints its address")
                .expect("stderr readable");
            if let Some(i) = line.find("http://") {
                break line[i..].trim().to_string();
            }
        };
        HttpMock { child, url }
    }
}

impl Drop for HttpMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn python_sdk_over_stdio_legacy_handshake() {
    let Some(python) = peer("venv/bin/python") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    let cmd = json!([
        BIN,
        "mock",
        root().join("mock-servers/aksjah.yaml"),
        "--ledger",
        ledger
    ])
    .to_string();
    let args = json!({"name": "Acme Retail", "email": "ops@acme.example", "credit_limit": 5000});
    let out = run_py(
        &python,
        &[
            "stdio",
            &cmd,
            "legacy",
            "WizCommerce Open API_PostCustomers",
            &args.to_string(),
        ],
    );
    assert_eq!(out["protocol_version"], "2025-11-25");
    assert_eq!(out["server_name"], "aksjah");
    assert_aksjah_tools(&out);
    assert_eq!(out["call"]["is_error"], false);
    assert_eq!(
        out["call"]["text"][0],
        "Customer Acme Retail saved (id cus_mock_0001)"
    );
    let ledger = ledger_lines(&ledger);
    let calls = executed_calls(&ledger, "WizCommerce Open API_PostCustomers");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["arguments"], args);
    assert_eq!(ledger[0]["method"], "initialize");
}

#[test]
fn python_sdk_over_stdio_auto_mode_goes_stateless() {
    let Some(python) = peer("venv/bin/python") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    let cmd = json!([
        BIN,
        "mock",
        root().join("mock-servers/aksjah.yaml"),
        "--ledger",
        ledger
    ])
    .to_string();
    let out = run_py(
        &python,
        &[
            "stdio",
            &cmd,
            "auto",
            "WizCommerce Open API_GetCustomers",
            r#"{"page":2}"#,
        ],
    );
    assert_eq!(out["protocol_version"], "2026-07-28");
    assert_aksjah_tools(&out);
    let ledger = ledger_lines(&ledger);
    assert_eq!(ledger[0]["method"], "server/discover");
    assert!(ledger.iter().all(|e| e["method"] != "initialize"));
    assert_eq!(
        executed_calls(&ledger, "WizCommerce Open API_GetCustomers")[0]["arguments"],
        json!({"page": 2})
    );
}

#[test]
fn python_sdk_over_streamable_http_both_eras() {
    let Some(python) = peer("venv/bin/python") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    let mock = HttpMock::start("mock-servers/aksjah.yaml", &ledger);
    for (mode, version) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let args = json!({"customer_id": format!("cus_{mode}")});
        let out = run_py(
            &python,
            &[
                "http",
                &mock.url,
                mode,
                "WizCommerce Open API_DeleteCustomer",
                &args.to_string(),
            ],
        );
        assert_eq!(out["protocol_version"], version, "mode {mode}");
        assert_aksjah_tools(&out);
        assert_eq!(
            out["call"]["text"][0],
            format!("Customer cus_{mode} deleted")
        );
    }
    let ledger = ledger_lines(&ledger);
    let calls = executed_calls(&ledger, "WizCommerce Open API_DeleteCustomer");
    assert_eq!(calls.len(), 2);
    // The handshake-era call ran inside an HTTP session; the stateless one had none.
    assert!(calls[0]["session"].as_str().is_some_and(|s| s.len() == 32));
    assert_eq!(calls[1]["session"], Value::Null);
}

fn inspector(inspector: &Path, target: &[&str], method_args: &[&str]) -> Value {
    let out = Command::new(inspector)
        .arg("--cli")
        .args(target)
        .args(method_args)
        .current_dir(root())
        .output()
        .expect("inspector runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "inspector failed: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("inspector printed non-JSON ({e}): {stdout}"))
}

const EZBIZ_TOOLS: [&str; 8] = [
    "analyze_competitors",
    "local_market_analysis",
    "industry_research",
    "swot_analysis",
    "market_trends",
    "pricing_analysis",
    "business_plan_section",
    "customer_persona",
];

#[test]
fn inspector_cli_lists_ezbiz_and_calls_customer_persona_over_stdio_and_http() {
    let Some(cli) = peer("node_modules/.bin/mcp-inspector") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    let ledger_s = ledger.to_string_lossy().to_string();
    let stdio = [
        BIN,
        "mock",
        "mock-servers/ezbiz.yaml",
        "--ledger",
        ledger_s.as_str(),
    ];

    let listed = inspector(&cli, &stdio, &["--method", "tools/list"]);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, EZBIZ_TOOLS);
    let persona = &listed["tools"][7];
    assert!(persona["description"]
        .as_str()
        .unwrap()
        .starts_with("🔒 [Pro] Build detailed customer personas"));

    let call = [
        "--method",
        "tools/call",
        "--tool-name",
        "customer_persona",
        "--tool-arg",
        "business=Bakery",
        "target_market=families",
    ];
    let result = inspector(&cli, &stdio, &call);
    assert_eq!(
        result["content"][0]["text"],
        "Persona built for Bakery (families)."
    );

    let http_ledger = dir.path().join("http.jsonl");
    let mock = HttpMock::start("mock-servers/ezbiz.yaml", &http_ledger);
    let result = inspector(&cli, &[mock.url.as_str()], &call);
    assert_eq!(
        result["content"][0]["text"],
        "Persona built for Bakery (families)."
    );

    for file in [&ledger, &http_ledger] {
        let entries = ledger_lines(file);
        let calls = executed_calls(&entries, "customer_persona");
        assert_eq!(calls.len(), 1, "{}", file.display());
        assert_eq!(
            calls[0]["arguments"],
            json!({"business": "Bakery", "target_market": "families"})
        );
    }
}
