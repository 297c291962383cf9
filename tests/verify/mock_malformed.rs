//! `gauntlet mock` over stdio fed hostile lines: each gets the proper
//! JSON-RPC error (or, for a notification, silence), and the server keeps
//! answering afterwards.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

/// Runs the mock with `lines` on stdin; returns its exit code and stdout messages.
fn session(version: &str, lines: &[Vec<u8>]) -> (i32, Vec<Value>) {
    let mut child = Command::new(BIN)
        .args(["mock", "mock-servers/payments.yaml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("gauntlet mock starts");
    let mut stdin = child.stdin.take().expect("stdin piped");
    let init = format!(
        r#"{{"jsonrpc":"2.0","id":"init","method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"t","version":"0"}}}}}}"#
    );
    let mut input = vec![
        init.into_bytes(),
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec(),
    ];
    input.extend(lines.iter().cloned());
    let writer = std::thread::spawn(move || {
        for line in input {
            stdin
                .write_all(&line)
                .and_then(|_| stdin.write_all(b"\n"))
                .expect("mock reads stdin");
        }
    });
    let out = child.wait_with_output().expect("mock exits at EOF");
    writer.join().expect("writer thread");
    let messages = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"))
        })
        .collect();
    (out.status.code().unwrap_or(-1), messages)
}

fn error_of(m: &Value) -> (Value, i64) {
    (
        m["id"].clone(),
        m["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("not an error: {m}")),
    )
}

#[test]
fn hostile_lines_get_exact_errors_and_the_server_keeps_answering() {
    let mut huge = br#"{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"create_charge","arguments":{"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 5 * 1024 * 1024));
    huge.extend_from_slice(br#""}}}"#);
    let lines = vec![
        b"this is not json".to_vec(),
        br#"{"jsonrpc":"2.0","id":2,"method":5}"#.to_vec(),
        br#"[{"jsonrpc":"2.0","id":10,"method":"ping"},{"jsonrpc":"2.0","id":11,"method":"ping"}]"#.to_vec(),
        huge,
        br#"{"jsonrpc":"2.0","id":3,"method":"no/such/method"}"#.to_vec(),
        br#"{"jsonrpc":"2.0","method":"notifications/no_such_thing"}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":"4","method":"tools/call","params":{"name":"create_charge","arguments":{"amount":500,"currency":"usd","customer":"cus_1"}}}"#.to_vec(),
    ];
    let (code, out) = session("2025-06-18", &lines);
    assert_eq!(code, 0, "the mock exits cleanly at EOF");
    assert_eq!(
        out.len(),
        7,
        "one answer per request, none for the notification: {out:?}"
    );
    assert_eq!(out[0]["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(error_of(&out[1]), (Value::Null, -32700));
    assert_eq!(error_of(&out[2]), (Value::from(2), -32600));
    // 2025-06-18 removed batches: the whole batch is refused, no element runs.
    assert_eq!(error_of(&out[3]), (Value::Null, -32600));
    // The 5 MiB line is over the 4 MiB limit: refused without being parsed.
    assert_eq!(error_of(&out[4]), (Value::Null, -32600));
    assert!(out[4]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("line limit"));
    assert_eq!(error_of(&out[5]), (Value::from(3), -32601));
    assert_eq!(out[6]["id"], "4");
    assert_eq!(
        out[6]["result"]["content"][0]["text"],
        "Charged 500 usd to cus_1 (ch_mock)"
    );
}

#[test]
fn a_batch_is_answered_when_2025_03_26_was_negotiated() {
    let batch = br#"[{"jsonrpc":"2.0","id":10,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"list_customers"}}]"#;
    let (code, out) = session("2025-03-26", &[batch.to_vec()]);
    assert_eq!(code, 0);
    assert_eq!(out.len(), 2);
    let answers = out[1].as_array().expect("a batch answer is an array");
    let ids: Vec<&Value> = answers.iter().map(|a| &a["id"]).collect();
    assert_eq!(ids, [&Value::from(10), &Value::from(11)]);
    assert!(answers[1]["result"]["content"].is_array());
}

#[test]
fn server_discover_on_the_handshake_path_is_method_not_found_not_silence() {
    let (_, out) = session(
        "2025-11-25",
        &[br#"{"jsonrpc":"2.0","id":5,"method":"server/discover"}"#.to_vec()],
    );
    assert_eq!(error_of(&out[1]), (Value::from(5), -32601));
}
